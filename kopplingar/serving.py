"""Running the web app under uvicorn: the server options every entry point uses.

`server_options` is what `kopplingar web serve` and `serve_in_thread` both
give uvicorn, so the tests run the server production runs: the h11
protocol with a cap on the request line and headers, a short keep-alive,
a cap on concurrent connections per process, and proxy headers believed only
from the configured trusted proxies (off when there are none; uvicorn's own
default would trust loopback). Slow headers and slow bodies before the app
sees the request are the reverse proxy's to time out (docs/production.md);
a body that trickles in is cut off by `kopplingar.middleware.BodyLimit`.

`serve_in_thread` is used by the benchmarks and the browser tests, which
need a real HTTP server (a real socket, uvicorn's real request handling)
rather than an in-process test client.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import uvicorn
from fastapi import FastAPI

from kopplingar.settings import IPNetwork

KEEP_ALIVE_SECONDS = 5
MAX_HEADER_BYTES = 16 * 1024  # request line and headers together
MAX_CONNECTIONS = 200  # per process; uvicorn answers 503 beyond
# A worker starts a fresh interpreter and imports the app; on a busy host that took more than
# uvicorn's default 5 s, and the worker was killed and restarted over and over.
WORKER_HEALTHCHECK_SECONDS = 30


def server_options(trusted_proxies: Sequence[IPNetwork]) -> dict[str, Any]:
    """uvicorn's keyword arguments for our limits and our proxies."""
    return {
        "http": "h11",
        "h11_max_incomplete_event_size": MAX_HEADER_BYTES,
        "timeout_keep_alive": KEEP_ALIVE_SECONDS,
        "limit_concurrency": MAX_CONNECTIONS,
        "timeout_worker_healthcheck": WORKER_HEALTHCHECK_SECONDS,
        "proxy_headers": bool(trusted_proxies),
        "forwarded_allow_ips": [str(net) for net in trusted_proxies] or None,
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve_in_thread(
    app: FastAPI, *, trusted_proxies: Sequence[IPNetwork] = (), start_timeout: float = 20.0
) -> Iterator[str]:
    """Serve `app` on 127.0.0.1 until the block ends; yields the base URL."""
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="error", **server_options(trusted_proxies)
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="kopplingar-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + start_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the web server did not start on port {port}")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
