"""Sending mail over SMTP: the one module that talks to the mail server (smtplib).

`SmtpSender` keeps one connection for a batch, opened at the first `send`
(an empty outbox never connects) and opened again after the server dropped
it. TLS is always verified, against `ca_file` or the system's trust store;
there is no switch that turns verification off. Unencrypted SMTP is only
for a loopback relay and only when the configuration says so.

What goes wrong is sorted for the caller by what it should do next:
`SmtpUnavailable` (cannot connect, TLS, timeouts, 4xx: try again later),
`SmtpRejected` (5xx for this message or recipient: trying again will not
help) and `SmtpConfigError` (wrong settings or credentials: a person must
act). All are `SmtpError`, exit code 75 (EX_TEMPFAIL) except the last (78).
"""

from __future__ import annotations

import ipaddress
import os
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from types import TracebackType
from typing import Literal, Self

from workqueue.errors import QueueError

_ERROR_TEXT = 300


class SmtpError(QueueError):
    """Mail could not be sent."""

    exit_code = os.EX_TEMPFAIL
    permanent: bool = False

    def __init__(self, message: str, *, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class SmtpUnavailable(SmtpError):  # noqa: N818
    """The server cannot be reached or says "later" (4xx); the message may go through later."""


class SmtpRejected(SmtpError):  # noqa: N818
    """The server refused this message or its recipient for good (5xx)."""

    permanent = True


class SmtpConfigError(SmtpError):
    """The SMTP settings are unsafe or wrong (including refused credentials)."""

    exit_code = os.EX_CONFIG


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    security: Literal["starttls", "smtps", "plain"] = "starttls"
    username: str | None = None
    password: str | None = None
    ca_file: Path | None = None  # None: the system's trust store; verification is always on
    allow_plain_on_loopback: bool = False
    timeout: float = 30.0
    local_hostname: str | None = None  # the EHLO name; None asks the system (may do DNS)

    def check(self) -> None:
        """Raise `SmtpConfigError` naming what is wrong; nothing is contacted."""
        if not self.host or any(ch.isspace() or ord(ch) < 32 for ch in self.host):
            raise SmtpConfigError(f"SMTP host {self.host!r} is not a host name")
        if not 0 < self.port < 65536:
            raise SmtpConfigError(f"SMTP port {self.port} is out of range")
        if self.security not in ("starttls", "smtps", "plain"):
            raise SmtpConfigError(
                f"SMTP security {self.security!r} is not one of starttls, smtps, plain"
            )
        if self.security == "plain" and not (
            self.allow_plain_on_loopback and _is_loopback(self.host)
        ):
            raise SmtpConfigError(
                f"unencrypted SMTP to {self.host} refused: plain is only allowed to a "
                "loopback relay (127.0.0.1, ::1, localhost) and only when explicitly allowed"
            )
        if (self.username is None) != (self.password is None):
            raise SmtpConfigError("SMTP username and password go together: set both or neither")
        if not all(v is None or v.isascii() for v in (self.username, self.password)):
            # smtplib sends AUTH PLAIN/LOGIN as ASCII and would fail on the first login.
            raise SmtpConfigError("SMTP username and password must be ASCII")
        if self.ca_file is not None and not self.ca_file.is_file():
            raise SmtpConfigError(f"SMTP CA file {self.ca_file} does not exist")
        if not self.timeout > 0:
            raise SmtpConfigError(f"SMTP timeout {self.timeout} must be positive")

    def tls_context(self) -> ssl.SSLContext:
        try:
            return ssl.create_default_context(
                cafile=str(self.ca_file) if self.ca_file is not None else None
            )
        except (OSError, ssl.SSLError) as exc:
            raise SmtpConfigError(f"SMTP CA file {self.ca_file} cannot be used: {exc}") from exc


def _reply_text(code: int, text: bytes | str) -> str:
    message = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    return f"{code} {' '.join(message.split())}"[:_ERROR_TEXT]


def _by_code(what: str, code: int, text: bytes | str) -> SmtpError:
    reply = _reply_text(code, text)
    if 400 <= code < 500:
        return SmtpUnavailable(f"{what}: {reply}", code=code)
    return SmtpRejected(f"{what}: {reply}", code=code)


class SmtpSender:
    """Sends messages over one connection; use it as a context manager for a batch."""

    def __init__(self, config: SmtpConfig) -> None:
        config.check()
        self.config = config
        self._smtp: smtplib.SMTP | None = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def where(self) -> str:
        return f"{self.config.host}:{self.config.port}"

    def close(self) -> None:
        """Say QUIT and close; never raises (the batch's outcome is already recorded)."""
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            pass
        finally:
            smtp.close()

    def _connect(self) -> smtplib.SMTP:
        cfg = self.config
        smtp: smtplib.SMTP | None = None
        try:
            if cfg.security == "smtps":
                smtp = smtplib.SMTP_SSL(
                    cfg.host,
                    cfg.port,
                    local_hostname=cfg.local_hostname,
                    timeout=cfg.timeout,
                    context=cfg.tls_context(),
                )
            else:
                smtp = smtplib.SMTP(
                    cfg.host, cfg.port, local_hostname=cfg.local_hostname, timeout=cfg.timeout
                )
            smtp.ehlo()
            if cfg.security == "starttls":
                if not smtp.has_extn("starttls"):
                    # Possibly a man in the middle stripping it: never fall back to clear text.
                    raise SmtpUnavailable(f"SMTP server {self.where} does not offer STARTTLS")
                smtp.starttls(context=cfg.tls_context())
                smtp.ehlo()
            if cfg.username is not None and cfg.password is not None:
                smtp.login(cfg.username, cfg.password)
        except SmtpError:
            self._discard(smtp)
            raise
        except smtplib.SMTPAuthenticationError as exc:
            self._discard(smtp)
            raise SmtpConfigError(
                f"SMTP server {self.where} refused the credentials of {cfg.username!r}: "
                + _reply_text(exc.smtp_code, exc.smtp_error)
            ) from exc
        except smtplib.SMTPNotSupportedError as exc:
            self._discard(smtp)
            raise SmtpConfigError(
                f"SMTP server {self.where} does not support login: {exc}"
            ) from exc
        except smtplib.SMTPResponseException as exc:
            # Even a 5xx here is about the server, not about a message: try again later.
            self._discard(smtp)
            raise SmtpUnavailable(
                f"SMTP server {self.where} refused the session: "
                + _reply_text(exc.smtp_code, exc.smtp_error),
                code=exc.smtp_code,
            ) from exc
        except (smtplib.SMTPException, OSError) as exc:  # ssl.SSLError and timeouts included
            self._discard(smtp)
            raise SmtpUnavailable(
                f"cannot talk to SMTP server {self.where}: {type(exc).__name__}: {exc}"[
                    :_ERROR_TEXT
                ]
            ) from exc
        return smtp

    @staticmethod
    def _discard(smtp: smtplib.SMTP | None) -> None:
        if smtp is not None:
            smtp.close()

    def send(self, message: EmailMessage) -> None:
        """Send `message` to its To/Cc/Bcc recipients, from its From address."""
        if self._smtp is None:
            self._smtp = self._connect()
        smtp = self._smtp
        try:
            refused = smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()))
            raise _by_code("recipient refused", code, text) from exc
        except smtplib.SMTPSenderRefused as exc:
            raise _by_code(f"sender {exc.sender} refused", exc.smtp_code, exc.smtp_error) from exc
        except smtplib.SMTPServerDisconnected as exc:
            self.close()
            raise SmtpUnavailable(f"SMTP server {self.where} hung up: {exc}") from exc
        except smtplib.SMTPResponseException as exc:  # SMTPDataError and the like
            if exc.smtp_code == 421:  # the server is closing the connection
                self.close()
            raise _by_code("message refused", exc.smtp_code, exc.smtp_error) from exc
        except (smtplib.SMTPException, OSError) as exc:
            self.close()
            raise SmtpUnavailable(
                f"sending through {self.where} failed: {type(exc).__name__}: {exc}"[:_ERROR_TEXT]
            ) from exc
        if refused:
            # Only some recipients refused; ours carry one recipient, so this is that one.
            code, text = next(iter(refused.values()))
            raise _by_code("recipient refused", code, text)
