"""`kopplingar web serve --workers 2`: the download and lookup limit is one for both workers."""

from __future__ import annotations

import re
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from kopplingar.serving import free_port
from tests.kopplingar.child import CLI, clean_env, kopplingar

LIMIT = 4
REQUESTS = 40


@pytest.mark.slow
def test_hits_spread_over_two_workers_are_refused_at_the_limit(tmp_path: Path) -> None:
    env = clean_env(tmp_path / "data")
    env["KOPPLINGAR_DOWNLOAD_LIMIT"] = str(LIMIT)
    assert kopplingar("db", "upgrade", env=env, cwd=tmp_path).returncode == 0
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "server.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            [*CLI, "web", "serve", "--port", str(port), "--workers", "2"],
            env=env,
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )
    try:
        deadline = time.monotonic() + 90
        while log.read_text().count("Application startup complete") < 2:
            assert server.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)

        def download(_n: int) -> int:
            # A connection of its own each time, so the kernel hands them to either worker.
            return httpx.get(f"{base}/blankett/bortkoppling/blank.pdf", timeout=30).status_code

        with ThreadPoolExecutor(max_workers=4) as pool:
            statuses = list(pool.map(download, range(REQUESTS)))
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
    output = log.read_text()
    assert server.returncode == 0, output
    assert "died" not in output, output
    assert len(set(re.findall(r"Started server process \[(\d+)\]", output))) == 2, output
    # Counted per process, as before, this was up to 2 x LIMIT.
    assert statuses.count(200) == LIMIT, statuses
    assert statuses.count(429) == REQUESTS - LIMIT, statuses
