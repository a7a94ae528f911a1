"""The login throttle across `kopplingar web serve --workers 2`: one count, honoured by both.

Which worker answered is read from the kernel, not guessed: each test
browser keeps one keep-alive connection, and /proc tells which worker
process holds the server side of it. Failures are spread over both workers,
neither of which sees enough on its own to block; the block that follows is
then honoured by each of them.
"""

from __future__ import annotations

import re
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from kopplingar.serving import free_port
from tests.kopplingar.child import CLI, clean_env, kopplingar

EMAIL = "tva.arbetare@kopplingar.se"
PASSWORD = "Delad räknare i databasen 2026"
WRONG = "Fel lösenord 1234"
_HIDDEN = r'<input type="hidden" name="{}" value="([^"]*)">'


def _children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(entry.name))
    return out


def _socket_inode(server_port: int, client_port: int) -> str | None:
    """The inode of the server's end of the connection from `client_port`."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local, remote, inode = fields[1], fields[2], fields[9]
            if int(local.rsplit(":", 1)[1], 16) == server_port and (
                int(remote.rsplit(":", 1)[1], 16) == client_port
            ):
                return inode
    return None


def _worker_of(workers: list[int], server_port: int, response: httpx.Response) -> int:
    """The worker process that holds the connection `response` came over."""
    client_port = response.extensions["network_stream"].get_extra_info("client_addr")[1]
    inode = _socket_inode(server_port, client_port)
    assert inode is not None, "the connection is not open"
    for pid in workers:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                if str(fd.readlink()) == f"socket:[{inode}]":
                    return pid
            except OSError:
                continue
    raise AssertionError(f"no worker holds the connection from port {client_port}")


@pytest.fixture
def two_workers(tmp_path: Path, db_url: str) -> Iterator[tuple[str, int, list[int]]]:
    """Two workers over one database (SQLite and PostgreSQL), with one reviewer."""
    env = clean_env(tmp_path / "data")
    env["KOPPLINGAR_DATABASE_URL"] = db_url
    assert kopplingar("db", "upgrade", env=env, cwd=tmp_path).returncode == 0
    added = kopplingar(
        "users", "add", "--email", EMAIL, "--name", "Två Arbetare", "--password-stdin",
        env=env, cwd=tmp_path, stdin=PASSWORD + "\n",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    port = free_port()
    server = subprocess.Popen(
        [*CLI, "web", "serve", "--port", str(port), "--workers", "2"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            workers = [pid for pid in _children(server.pid) if Path(f"/proc/{pid}/fd").exists()]
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200 and len(workers) >= 2:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None, server.stdout.read() if server.stdout else ""
            assert time.monotonic() < deadline, "the workers never answered"
            time.sleep(0.2)
        yield base, port, workers
    finally:
        server.send_signal(signal.SIGTERM)
        output, _ = server.communicate(timeout=60)
    assert output.count("Started server process") == 2, output


def _login(client: httpx.Client, password: str) -> httpx.Response:
    page = client.get("/granskning/logga-in")
    token = re.search(_HIDDEN.format("login_token"), page.text)
    assert token, page.text[:300]
    return client.post(
        "/granskning/logga-in",
        data={"login_token": token.group(1), "next": "", "email": EMAIL, "password": password},
    )


@pytest.mark.slow
def test_failures_on_two_workers_add_up_and_both_honour_the_block(
    two_workers: tuple[str, int, list[int]],
) -> None:
    base, port, workers = two_workers
    browsers: dict[int, httpx.Client] = {}
    opened = []
    try:
        # Open connections until each worker holds one.
        for _ in range(40):
            client = httpx.Client(base_url=base, timeout=10, follow_redirects=False)
            opened.append(client)
            pid = _worker_of(workers, port, client.get("/healthz"))
            browsers.setdefault(pid, client)
            if len(browsers) == 2:
                break
        assert len(browsers) == 2, "every connection went to one worker"
        first, second = browsers.values()
        # Five failures (the limit), three on one worker and two on the other.
        answered = []
        for client in (first, second, first, second, first):
            response = _login(client, WRONG)
            assert response.status_code == 403, response.text[:300]
            answered.append(_worker_of(workers, port, response))
        assert len(set(answered)) == 2
        # Neither worker saw five on its own, yet each refuses the right password now.
        for client in (first, second):
            blocked = _login(client, PASSWORD)
            assert blocked.status_code == 429, blocked.text[:300]
            assert "För många misslyckade inloggningar" in blocked.text
        assert {_worker_of(workers, port, c.get("/healthz")) for c in (first, second)} == set(
            browsers
        )
    finally:
        for client in opened:
            client.close()
