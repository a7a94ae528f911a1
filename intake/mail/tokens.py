"""XOAUTH2 access tokens for the IMAP login, from a command the operator configures.

The command (an OAuth helper, a script around the provider's token endpoint)
is run without a shell and without input. A token is kept until shortly
before it expires; `intake.mail.imap.ImapMailbox` asks for a fresh one once
when the server refuses it. A command that fails or prints no usable token is
a `MailboxAuthFailed` or a `MailboxConfigError`, one that hangs a
`MailboxUnavailable`.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from intake.mail.types import MailboxAuthFailed, MailboxConfigError, MailboxUnavailable

TOKEN_LIFETIME = 50 * 60.0  # a bare token printed by the token command
TOKEN_MARGIN = 60.0  # fetch a new token this long before the old one expires
_STDERR_TAIL = 500


class TokenProvider:
    """XOAUTH2 access tokens from a configured command, kept until shortly before expiry.

    The command prints either the bare token (assumed valid for 50 minutes)
    or JSON with `access_token` and `expires_in` (seconds), as OAuth token
    endpoints and most helper tools do.
    """

    def __init__(
        self,
        command: Sequence[str],
        *,
        clock: Callable[[], float] = time.monotonic,
        timeout: float = 30.0,
    ) -> None:
        if not command or not command[0]:
            raise MailboxConfigError("the token command is empty")
        self.command = tuple(command)
        self.clock = clock
        self.timeout = timeout
        self._token: str | None = None
        self._expires_at = 0.0

    def token(self) -> str:
        now = self.clock()
        if self._token is None or now >= self._expires_at - TOKEN_MARGIN:
            self._token, lifetime = self._run()
            self._expires_at = now + lifetime
        return self._token

    def invalidate(self) -> None:
        self._token = None

    def _run(self) -> tuple[str, float]:
        name = Path(self.command[0]).name
        try:
            done = subprocess.run(
                self.command,
                capture_output=True,
                stdin=subprocess.DEVNULL,
                timeout=self.timeout,
                check=False,
            )
        except FileNotFoundError as exc:
            raise MailboxConfigError(f"token command {self.command[0]} not found") from exc
        except PermissionError as exc:
            raise MailboxConfigError(f"token command {self.command[0]} is not executable") from exc
        except subprocess.TimeoutExpired as exc:
            raise MailboxUnavailable(
                f"token command {name} gave no token within {self.timeout:g} s"
            ) from exc
        if done.returncode != 0:
            stderr = done.stderr.decode("utf-8", "replace").strip()[-_STDERR_TAIL:]
            raise MailboxAuthFailed(
                f"token command {name} failed with exit code {done.returncode}"
                + (f": {stderr}" if stderr else "")
            )
        return _parse_token_output(done.stdout, name)


def _parse_token_output(stdout: bytes, name: str) -> tuple[str, float]:
    # The output is a secret: error messages describe it, never quote it.
    text = stdout.decode("utf-8", "replace").strip()
    lifetime = TOKEN_LIFETIME
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise MailboxConfigError(f"token command {name} printed JSON that is broken") from exc
        token = data.get("access_token") if isinstance(data, dict) else None
        if not isinstance(token, str):
            raise MailboxConfigError(f"token command {name} printed JSON without access_token")
        expires = data.get("expires_in")
        if expires is not None:
            try:
                lifetime = float(expires)
            except (TypeError, ValueError) as exc:
                raise MailboxConfigError(
                    f"token command {name} printed an expires_in that is not a number"
                ) from exc
        text = token.strip()
    if not text:
        raise MailboxAuthFailed(f"token command {name} printed no token")
    if any(ch.isspace() for ch in text) or not text.isprintable() or not text.isascii():
        raise MailboxConfigError(
            f"token command {name} printed more than one bare token (spaces or several lines)"
        )
    return text, lifetime
