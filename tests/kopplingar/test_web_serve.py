"""`kopplingar web serve --workers 2`: two processes built from the environment answer."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from kopplingar.serving import free_port


@pytest.mark.slow
def test_two_workers_serve_the_pages(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KOPPLINGAR_")}
    env.pop("DATABASE_URL", None)
    env["KOPPLINGAR_DATA_DIR"] = str(tmp_path / "data")
    cli = [sys.executable, "-m", "kopplingar.cli"]
    subprocess.run([*cli, "db", "upgrade"], env=env, cwd=tmp_path, check=True, capture_output=True)
    port = free_port()
    server = subprocess.Popen(
        [*cli, "web", "serve", "--port", str(port), "--workers", "2"],
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
