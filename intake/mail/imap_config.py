"""What an IMAP mailbox is reached with, and the checks that refuse what cannot work.

`ImapConfig` is the whole of it: server, login (a password or a command that
prints an XOAUTH2 token), TLS, timeouts and the folder. `check` names every
problem at once, as a `MailboxConfigError` (exit 78), before anything
connects: plain text is only possible towards a loopback address and only
when asked for, so a password never crosses the network unencrypted.
The password stays out of `repr`.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import quote

from intake.mail.types import MailboxConfigError

Security = Literal["imaps", "starttls", "plain"]
SECURITIES: tuple[Security, ...] = ("imaps", "starttls", "plain")


def is_loopback(host: str) -> bool:
    """True for a loopback IP literal or `localhost` (never a name that merely resolves there)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class ImapConfig:
    host: str
    port: int
    username: str
    security: Security = "imaps"
    password: str | None = field(default=None, repr=False)
    token_command: tuple[str, ...] | None = None  # XOAUTH2: prints an access token
    ca_file: Path | None = None  # an extra CA to trust besides the system's
    allow_plain_on_loopback: bool = False
    connect_timeout: float = 15.0
    read_timeout: float = 120.0
    folder: str = "INBOX"

    @property
    def account(self) -> str:
        """`imap://user@host:port`, the mailbox's key in the database."""
        host = f"[{self.host}]" if ":" in self.host else self.host.lower()
        return f"imap://{quote(self.username, safe='')}@{host}:{self.port}"

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"

    def check(self) -> None:
        """Raise `MailboxConfigError` naming everything that cannot work."""
        problems: list[str] = []
        if not self.host:
            problems.append("no IMAP host")
        if not 0 < self.port < 65536:
            problems.append(f"port {self.port} is not a TCP port")
        if not self.username:
            problems.append("no IMAP username")
        if self.security not in SECURITIES:
            problems.append(f"security {self.security!r} is not one of {', '.join(SECURITIES)}")
        if self.security == "plain":
            if not is_loopback(self.host):
                problems.append(
                    f"plain-text IMAP to {self.host} would send the password unencrypted; "
                    "use imaps or starttls (plain text is only possible to a loopback address)"
                )
            elif not self.allow_plain_on_loopback:
                problems.append(
                    "plain-text IMAP is refused unless allowed explicitly for a loopback address"
                )
        if self.password is not None and self.token_command is not None:
            problems.append("both a password and a token command: choose one")
        if self.password is None and self.token_command is None:
            problems.append("neither a password nor a token command")
        if self.password == "":
            problems.append("the password is empty")
        if self.token_command is not None and not (self.token_command and self.token_command[0]):
            problems.append("the token command is empty")
        if self.ca_file is not None and not self.ca_file.is_file():
            problems.append(f"CA file {self.ca_file} does not exist")
        if self.connect_timeout <= 0 or self.read_timeout <= 0:
            problems.append("timeouts must be positive")
        if not self.folder:
            problems.append("no folder")
        if problems:
            raise MailboxConfigError(f"IMAP {self.where}: " + "; ".join(problems))
