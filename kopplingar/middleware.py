"""What wraps every request of the web app: security headers, body limits, the client address.

* `SecurityHeaders` is a pure ASGI middleware put outside everything
  Starlette adds (`kopplingar.app.KopplingarApp`), so every response has the
  headers, the 404, 405, 413, 422, 429 and 500 pages included.
* `BodyLimit` refuses a request body larger than its route allows with 413:
  at once when `Content-Length` says so (the body is never read), and while
  streaming a chunked body, as soon as the count passes the limit. A body
  that trickles in is given `body_seconds` in all, then refused with 408.
* `client_address` is the address rate limits and login throttling count:
  the peer, or, when the peer is one of the trusted proxies, the rightmost
  `X-Forwarded-For` hop that is not a trusted proxy (hops to its left are
  whatever the client wrote).
"""

from __future__ import annotations

import asyncio
import html
import ipaddress
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def error_html(title: str, message: str) -> bytes:
    """A small Swedish page for the errors the app itself answers (413, 408, 400, 500)."""
    return (
        '<!doctype html>\n<html lang="sv">\n<head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title></head>\n"
        f"<body><h1>{html.escape(title)}</h1><p>{html.escape(message)}</p></body>\n</html>\n"
    ).encode()


class SecurityHeaders:
    """Adds `headers` (and HSTS over https) to every response that does not set them itself."""

    def __init__(self, app: ASGIApp, headers: Mapping[str, str], *, hsts: str) -> None:
        self.app = app
        self.headers = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
        self.hsts = (b"strict-transport-security", hsts.encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        wanted = [*self.headers, self.hsts] if scope.get("scheme") == "https" else self.headers

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers.extend((n, v) for n, v in wanted if n not in present)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class _BodyTooLarge(Exception):  # noqa: N818 - a signal from receive() to the middleware
    pass


class _BodyTooSlow(Exception):  # noqa: N818
    pass


@dataclass(frozen=True)
class BodyLimits:
    """Bytes of body allowed per path: the first matching prefix, else `default`."""

    default: int
    prefixes: Sequence[tuple[str, int]] = ()

    def for_path(self, path: str) -> int:
        for prefix, limit in self.prefixes:
            if path.startswith(prefix):
                return limit
        return self.default


class BodyLimit:
    """413 for a body over its route's limit, 408 for one slower than `body_seconds`."""

    def __init__(
        self,
        app: ASGIApp,
        limits: BodyLimits,
        *,
        body_seconds: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app = app
        self.limits = limits
        self.body_seconds = body_seconds
        self._clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limits.for_path(scope["path"])
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _refuse(send, 413)
            return
        received = 0
        finished = False
        deadline = self._clock() + self.body_seconds
        started = False

        async def limited_receive() -> Message:
            nonlocal received, finished
            if finished:
                return await receive()  # after the body: only the disconnect is left to wait for
            try:
                message = await asyncio.wait_for(receive(), max(0.0, deadline - self._clock()))
            except TimeoutError:
                raise _BodyTooSlow from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _BodyTooLarge
                finished = not message.get("more_body", False)
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, watched_send)
        except (_BodyTooLarge, _BodyTooSlow) as exc:
            if started:
                raise
            await _refuse(send, 413 if isinstance(exc, _BodyTooLarge) else 408)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # h11 refuses a bad one before we get here
    return None


_REFUSALS = {
    413: ("Förfrågan är för stor", "Det som skickades var större än sidan tar emot."),
    408: ("Förfrågan tog för lång tid", "Det som skickades kom för långsamt. Försök igen."),
}


async def _refuse(send: Send, status: int) -> None:
    body = error_html(*_REFUSALS[status])
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/html; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"cache-control", b"no-store"),
                # The rest of the body is never read, so the connection cannot be reused.
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _ip(text: str) -> IPAddress | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # [v6]:port
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # v4:port
        text = text.split(":", 1)[0]
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def client_address(
    peer: str | None, forwarded_for: Sequence[str], trusted: Sequence[IPNetwork]
) -> str:
    """The client: the peer, or the rightmost forwarded hop that is not a trusted proxy."""
    if peer is None:
        return "unknown"
    peer_ip = _ip(peer)

    def is_trusted(ip: IPAddress) -> bool:
        return any(ip.version == net.version and ip in net for net in trusted)

    if peer_ip is None or not is_trusted(peer_ip):
        return peer
    hops = [hop for value in forwarded_for for hop in value.split(",") if hop.strip()]
    nearest = peer_ip
    for hop in reversed(hops):
        ip = _ip(hop)
        if ip is None:
            break  # garbage a trusted proxy passed on: the proxy that did is all we know
        if not is_trusted(ip):
            return str(ip)
        nearest = ip
    # Every hop is a trusted proxy (a client inside the proxy network), or a hop was garbage.
    return str(nearest)


def client_key_function(trusted: Sequence[IPNetwork]) -> Callable[[Request], str]:
    networks = tuple(trusted)

    def client_key(request: Request) -> str:
        peer = request.client.host if request.client else None
        return client_address(peer, request.headers.getlist("x-forwarded-for"), networks)

    return client_key
