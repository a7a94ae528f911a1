"""A local SMTP server (aiosmtpd) on a loopback port, for tests and benchmarks.

It speaks STARTTLS (or TLS from the start, as on port 465) with a
certificate from `make_certificate`, so clients verify it like a real relay,
optionally asks for a login, keeps every message it accepts in memory and can
be told to refuse a recipient (or everything) with a 4xx or 5xx reply.
`start` after `stop` listens on the same port again, so "the server was down
for a while" can be played out.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
import time
import weakref
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from devkit.localmail.certs import make_certificate
from kopplingar.serving import free_port
from workqueue import SmtpConfig

HOST = "127.0.0.1"
ALL = "all"  # refuse(ALL, ...) refuses every recipient

_REPLIES = {
    421: "421 4.3.2 Service not available, closing channel",
    450: "450 4.2.1 Mailbox busy, try again later",
    451: "451 4.3.0 Local error, try again later",
    452: "452 4.2.2 Insufficient storage",
    550: "550 5.1.1 Mailbox unavailable",
    552: "552 5.3.4 Message too big",
    553: "553 5.1.3 Mailbox name not allowed",
    554: "554 5.7.1 Transaction failed",
}


@dataclass(frozen=True)
class Received:
    """One accepted message with its envelope (which may differ from its headers)."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    message: EmailMessage


class _Handler:
    """aiosmtpd's hooks; runs in the server's thread, hands messages over under a lock."""

    def __init__(self) -> None:
        self.lock = threading.Condition()
        self.received: list[Received] = []
        self.refusals: dict[str, int] = {}

    async def handle_RCPT(  # noqa: N802 - the name aiosmtpd calls
        self, _server: Any, _session: Any, envelope: Any, address: str, _options: list[str]
    ) -> str:
        with self.lock:
            code = self.refusals.get(address.lower(), self.refusals.get(ALL))
        if code is not None:
            return _REPLIES.get(code, f"{code} Refused by the test server")
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:  # noqa: N802
        # Line ends as a mail store keeps them (LF), so bodies compare with Python text.
        raw = bytes(envelope.content).replace(b"\r\n", b"\n")
        message = BytesParser(policy=policy.default).parsebytes(raw)
        received = Received(
            mail_from=str(envelope.mail_from),
            rcpt_tos=tuple(envelope.rcpt_tos),
            message=message,
        )
        with self.lock:
            self.received.append(received)
            self.lock.notify_all()
        return "250 Message accepted for delivery"


class _Controller(Controller):
    """Remembers its connections, so `stop` can hang up on clients still connected."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.connections: weakref.WeakSet[Any] = weakref.WeakSet()

    def factory(self) -> Any:
        smtpd = super().factory()  # type: ignore[no-untyped-call]
        self.connections.add(smtpd)
        return smtpd

    async def _hang_up(self) -> None:
        # Abort, not close: a TLS close waits for the client, and a server going
        # down does not wait. After STARTTLS the socket is the original transport.
        for smtpd in list(self.connections):
            for transport in (smtpd.transport, getattr(smtpd, "_original_transport", None)):
                if transport is not None and not transport.is_closing():
                    transport.abort()
        for _ in range(3):
            await asyncio.sleep(0)  # let connection_lost run and close the sockets

    def stop(self, no_assert: bool = False) -> None:
        # Without this a client still connected leaves an unclosed transport behind
        # (a ResourceWarning, which the tests turn into an error).
        if self._thread is not None and self.loop.is_running():
            asyncio.run_coroutine_threadsafe(self._hang_up(), self.loop).result(timeout=5)
        super().stop(no_assert=no_assert)


class LocalSmtp:
    """An SMTP server on 127.0.0.1 with a throwaway certificate under `root / "certs"`."""

    def __init__(
        self,
        root: Path,
        *,
        require_starttls: bool = True,
        implicit_tls: bool = False,
        credentials: tuple[str, str] | None = None,
    ) -> None:
        self.root = root
        self.host = HOST
        self.port = 0
        self.require_starttls = require_starttls
        self.implicit_tls = implicit_tls  # TLS from the first byte (smtps) instead of STARTTLS
        self.credentials = credentials
        certificate = make_certificate(root / "certs")
        self.ca_file = certificate.ca_file
        self._tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._tls.load_cert_chain(certificate.cert_file, certificate.key_file)
        self._handler = _Handler()
        self._controller: _Controller | None = None

    def _authenticate(
        self, _server: Any, _session: Any, _envelope: Any, _mechanism: str, auth_data: Any
    ) -> AuthResult:
        ok = (
            self.credentials is not None
            and isinstance(auth_data, LoginPassword)
            and (auth_data.login.decode(), auth_data.password.decode()) == self.credentials
        )
        return AuthResult(success=ok, handled=False)

    def start(self) -> None:
        if self._controller is not None:
            return
        tries = 1 if self.port else 5  # a fresh port may be taken between probe and bind
        for attempt in range(tries):
            port = self.port or free_port()
            controller = _Controller(
                self._handler,
                hostname=HOST,
                port=port,
                server_hostname="localhost",  # else aiosmtpd asks DNS for the FQDN
                ready_timeout=10.0,
                ssl_context=self._tls if self.implicit_tls else None,
                tls_context=None if self.implicit_tls else self._tls,
                require_starttls=self.require_starttls and not self.implicit_tls,
                auth_required=self.credentials is not None,
                auth_require_tls=True,
                authenticator=self._authenticate if self.credentials else None,
            )
            try:
                controller.start()
            except OSError:
                if attempt + 1 == tries:
                    raise
                continue
            self._controller, self.port = controller, port
            return

    def stop(self) -> None:
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._controller is not None

    def config(self, *, timeout: float = 10.0) -> SmtpConfig:
        """How `SmtpSender` reaches this server: TLS verified against `ca_file`."""
        username, password = self.credentials if self.credentials else (None, None)
        return SmtpConfig(
            host=self.host,
            port=self.port,
            security="smtps" if self.implicit_tls else "starttls",
            username=username,
            password=password,
            ca_file=self.ca_file,
            timeout=timeout,
            local_hostname="localhost",
        )

    @property
    def received(self) -> list[Received]:
        with self._handler.lock:
            return list(self._handler.received)

    @property
    def messages(self) -> list[EmailMessage]:
        """The messages accepted so far, oldest first (a copy)."""
        return [r.message for r in self.received]

    def wait_for(self, count: int, timeout: float = 10.0) -> list[EmailMessage]:
        """The messages once there are at least `count`; TimeoutError after `timeout` s."""
        deadline = time.monotonic() + timeout
        with self._handler.lock:
            while len(self._handler.received) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(
                        f"{len(self._handler.received)} of {count} messages after {timeout} s"
                    )
                self._handler.lock.wait(left)
            return [r.message for r in self._handler.received]

    def clear(self) -> None:
        """Forget the messages received so far (refusals stay)."""
        with self._handler.lock:
            self._handler.received.clear()

    def refuse(self, recipient_or_all: str, code: int = 550) -> None:
        """Answer RCPT TO for this address (or `ALL`) with `code` from now on."""
        if not 400 <= code < 600:
            raise ValueError(f"refuse with a 4xx or 5xx code, not {code}")
        with self._handler.lock:
            self._handler.refusals[recipient_or_all.lower()] = code

    def accept_all(self) -> None:
        """Lift every refusal."""
        with self._handler.lock:
            self._handler.refusals.clear()
