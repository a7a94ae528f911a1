"""What every mail source shares: `MailSource`, `MessageMeta` and the mailbox errors.

`intake.mail.imap.ImapMailbox` and `intake.mail.folder.FolderMailbox` are the
two sources; the pass (`intake.mail.mailbox`) and the watcher only ever see
a `MailSource`. The errors are the mailbox's, whichever part raises them,
each with the exit code the command line turns it into:

* `MailboxUnavailable` (exit 75, try again later): no connection, a timeout,
  a dropped connection, a server that says "try later". The caller
  reconnects. `MessageGone` is the special case of a UID that is no longer
  there.
* `MailboxBusy` (exit 75): another run holds the mailbox (`intake.mail.lock`).
* `MailboxAuthFailed` (exit 77): the server refused the login.
* `MailboxConfigError` (exit 78): the configuration cannot work (plain text to
  a remote host, an untrusted certificate, a missing folder, ...).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from intake.errors import IntakeError

__all__ = [
    "MailSource",
    "MailboxAuthFailed",
    "MailboxBusy",
    "MailboxConfigError",
    "MailboxError",
    "MailboxUnavailable",
    "MessageGone",
    "MessageMeta",
]


class MailboxError(IntakeError):
    """Root of the mailbox errors; as such: try again later."""

    exit_code = os.EX_TEMPFAIL


# The names read as the state of the mailbox, like `InputRejected` next door.
class MailboxUnavailable(MailboxError):  # noqa: N818
    """Cannot connect, a timeout, the connection dropped: reconnect and carry on."""


class MessageGone(MailboxUnavailable):
    """The UID is not in the folder (any more): another client moved or expunged it.

    A subclass of `MailboxUnavailable` because the cure is the same: list the
    folder again.
    """


class MailboxBusy(MailboxError):  # noqa: N818 - reads as what the operator sees
    """Another run holds this mailbox; exit 75 so cron simply tries again next time."""


class MailboxAuthFailed(MailboxError):  # noqa: N818
    """The server refused the login (password or access token)."""

    exit_code = os.EX_NOPERM


class MailboxConfigError(MailboxError):
    """The configuration cannot work as it is; retrying will not help."""

    exit_code = os.EX_CONFIG


@dataclass(frozen=True)
class MessageMeta:
    """What a source tells about a message before it is fetched."""

    uid: int
    size: int  # RFC822.SIZE: bytes as the server sends them (CRLF line ends)
    parts: int  # leaf parts (a message/rfc822 counts by what is inside it)
    depth: int  # nesting: 0 for a single-part message, +1 per multipart or message/rfc822


class MailSource(Protocol):
    """A mailbox folder: `intake.mail.imap.ImapMailbox` or `intake.mail.folder.FolderMailbox`."""

    account: str
    folder: str

    def open(self) -> None: ...
    def close(self) -> None: ...
    def reconnect(self) -> None: ...
    def uidvalidity(self) -> int: ...
    def uids(self) -> list[int]: ...
    def meta(self, uids: Sequence[int]) -> dict[int, MessageMeta]: ...
    def fetch(self, uid: int) -> bytes: ...
    def fetch_header(self, uid: int) -> bytes: ...
    def ensure_folder(self, name: str) -> None: ...
    def move(self, uid: int, folder: str) -> None: ...
    def take_back(self, folder: str, sha256: str, size: int, to_folder: str) -> bool: ...
    def wait_for_mail(self, seconds: float) -> bool: ...
