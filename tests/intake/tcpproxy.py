"""A small TCP proxy that can cut its connections, for "the line dropped" tests.

It forwards bytes both ways between its clients and one target, in one
thread with a selector. `cut_after(n)` lets `n` more bytes through from the
server (counted over all connections) and then closes every connection;
`cut_now()` closes them at once. New connections after a cut are forwarded
normally again, so a client can reconnect through the same proxy.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading
from types import TracebackType
from typing import Self

HOST = "127.0.0.1"
CHUNK = 16384


class TcpProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self._listener = socket.create_server((HOST, 0))
        self._listener.setblocking(False)
        self.host = HOST
        self.port: int = self._listener.getsockname()[1]
        self._selector = selectors.DefaultSelector()
        self._peers: dict[socket.socket, socket.socket] = {}
        self._upstream: set[socket.socket] = set()  # the sockets towards the target
        self._lock = threading.Lock()
        self._budget: int | None = None  # server bytes left before the cut
        self._cut_pending = False
        self.cuts = 0
        self.forwarded_from_server = 0
        self._running = True
        self._wake_r, self._wake_w = socket.socketpair()
        self._selector.register(self._listener, selectors.EVENT_READ)
        self._selector.register(self._wake_r, selectors.EVENT_READ)
        self._thread = threading.Thread(target=self._loop, name="tcpproxy", daemon=True)
        self._thread.start()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def cut_after(self, server_bytes: int) -> None:
        """Drop every connection once `server_bytes` more bytes came from the server."""
        with self._lock:
            self._budget = server_bytes
        self._wake_w.send(b"x")

    def cut_now(self) -> None:
        with self._lock:
            self._cut_pending = True
        self._wake_w.send(b"x")

    def close(self) -> None:
        if not self._running:
            return
        self._running = False
        self._wake_w.send(b"x")
        self._thread.join(5)
        for sock in [self._listener, self._wake_r, self._wake_w, *self._peers]:
            with contextlib.suppress(OSError):
                sock.close()
        self._selector.close()

    # -- the loop ---------------------------------------------------------------------

    def _loop(self) -> None:
        while self._running:
            for key, _ in self._selector.select(timeout=0.5):
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                if sock is self._wake_r:
                    with contextlib.suppress(BlockingIOError):
                        self._wake_r.recv(64)
                elif sock is self._listener:
                    self._accept()
                elif sock in self._peers:
                    self._forward(sock)
            with self._lock:
                cut, self._cut_pending = self._cut_pending, False
            if cut:
                self._cut_all()

    def _accept(self) -> None:
        try:
            client, _ = self._listener.accept()
        except BlockingIOError:
            return
        try:
            server = socket.create_connection(self.target, timeout=5)
        except OSError:
            client.close()
            return
        for sock in (client, server):
            sock.setblocking(False)
            self._selector.register(sock, selectors.EVENT_READ)
        self._peers[client], self._peers[server] = server, client
        self._upstream.add(server)

    def _forward(self, sock: socket.socket) -> None:
        other = self._peers[sock]
        try:
            data = sock.recv(CHUNK)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._close_pair(sock)
            return
        cut = False
        if sock in self._upstream:
            with self._lock:
                if self._budget is not None:
                    if len(data) >= self._budget:
                        data, cut = data[: self._budget], True
                        self._budget = None
                    else:
                        self._budget -= len(data)
            self.forwarded_from_server += len(data)
        try:
            other.setblocking(True)
            other.sendall(data)
            other.setblocking(False)
        except OSError:
            self._close_pair(sock)
            return
        if cut:
            self._cut_all()

    def _cut_all(self) -> None:
        self.cuts += 1
        for sock in list(self._peers):
            self._close_pair(sock)

    def _close_pair(self, sock: socket.socket) -> None:
        other = self._peers.pop(sock, None)
        for item in (sock, other):
            if item is None:
                continue
            self._peers.pop(item, None)
            self._upstream.discard(item)
            with contextlib.suppress(KeyError, ValueError):
                self._selector.unregister(item)
            with contextlib.suppress(OSError):
                item.close()
