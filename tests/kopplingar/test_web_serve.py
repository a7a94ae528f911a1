"""`kopplingar web serve --workers 2`: two processes built from the environment answer."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from kopplingar.serving import free_port
from tests.kopplingar.child import CLI, clean_env, kopplingar


@pytest.mark.slow
def test_two_workers_serve_the_pages(tmp_path: Path) -> None:
    env = clean_env(tmp_path / "data")
    assert kopplingar("db", "upgrade", env=env, cwd=tmp_path).returncode == 0
    port = free_port()
    server = subprocess.Popen(
        [*CLI, "web", "serve", "--port", str(port), "--workers", "2"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except httpx.TransportError:
                assert server.poll() is None, server.stdout.read() if server.stdout else ""
                assert time.monotonic() < deadline, "the workers never answered"
                time.sleep(0.2)
        assert health.status_code == 200
        login = httpx.get(f"http://127.0.0.1:{port}/granskning/", timeout=5)
        assert login.status_code == 303
        assert login.headers["location"].endswith("/granskning/logga-in")
    finally:
        server.send_signal(signal.SIGTERM)
        output, _ = server.communicate(timeout=60)
    assert server.returncode == 0, output
    assert output.count("Started server process") == 2, output
