"""A local folder as the mailbox: a Maildir, or a directory of `.eml` files.

The demo and the tests read sample mail without a mail server, and an
operator can feed in messages saved from any mail program. The folder plays
the IMAP mailbox's part in `intake.mail.mailbox`: every message gets a stable UID
(from its file name, so it survives other files coming and going), and
"moving" a message puts it in a sub-folder (`Processed/`, `Quarantine/`; in a
Maildir the `.Processed` Maildir++ folder), never deletes it.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from pathlib import Path

from intake.mail.types import MailboxUnavailable, MessageMeta

# A folder has no UIDVALIDITY; UIDs come from names, so one value fits all.
FOLDER_UIDVALIDITY = 1


def _uid(key: str) -> int:
    # 48 bits: fits the BIGINT column with room, and collisions need ~16M files.
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:6], "big")


class FolderMailbox:
    """Messages in `root`: Maildir (`new/`, `cur/`) or plain `*.eml` files."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.account = f"folder:{self.root}"
        self.folder = "INBOX"
        self._files: dict[int, Path] = {}

    @property
    def is_maildir(self) -> bool:
        return (self.root / "cur").is_dir() and (self.root / "new").is_dir()

    def open(self) -> None:
        if not self.root.is_dir():
            raise MailboxUnavailable(f"mail folder {self.root} does not exist")
        self._scan()

    def close(self) -> None:
        self._files = {}

    def reconnect(self) -> None:
        self.open()

    def __enter__(self) -> FolderMailbox:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _message_files(self) -> list[Path]:
        if self.is_maildir:
            found = [p for d in ("new", "cur") for p in (self.root / d).iterdir() if p.is_file()]
        else:
            found = [p for p in self.root.iterdir() if p.is_file() and p.suffix == ".eml"]
        return sorted(found)

    @staticmethod
    def _key(path: Path) -> str:
        # Maildir flags after ":2," change when a mail program reads the message.
        return path.name.split(":2,")[0]

    def _scan(self) -> None:
        self._files = {_uid(self._key(p)): p for p in self._message_files()}

    def uidvalidity(self) -> int:
        return FOLDER_UIDVALIDITY

    def uids(self) -> list[int]:
        """In file-name order (Maildir names start with the delivery time)."""
        self._scan()
        return list(self._files)

    def key(self, uid: int) -> str:
        return self._key(self._path(uid))

    def _path(self, uid: int) -> Path:
        try:
            return self._files[uid]
        except KeyError as exc:
            raise MailboxUnavailable(f"message {uid} is no longer in {self.root}") from exc

    def meta(self, uids: Sequence[int]) -> dict[int, MessageMeta]:
        # No BODYSTRUCTURE here: the parts and depth caps are checked by the
        # message reader's own linear pre-scan instead.
        return {uid: MessageMeta(uid, self._path(uid).stat().st_size, 0, 0) for uid in uids}

    def fetch(self, uid: int) -> bytes:
        try:
            return self._path(uid).read_bytes()
        except OSError as exc:
            raise MailboxUnavailable(f"cannot read {self._path(uid)}: {exc}") from exc

    def fetch_header(self, uid: int) -> bytes:
        with self._path(uid).open("rb") as fh:
            head = fh.read(256 * 1024)
        end = head.find(b"\r\n\r\n")
        end = head.find(b"\n\n") if end < 0 else end
        return head if end < 0 else head[: end + 2]

    def _target_dir(self, folder: str) -> Path:
        if "/" in folder or folder.startswith("."):
            raise MailboxUnavailable(f"not a folder name: {folder!r}")
        if self.is_maildir:
            target = self.root / f".{folder}"
            for sub in ("cur", "new", "tmp"):
                (target / sub).mkdir(parents=True, exist_ok=True)
            return target / "cur"
        target = self.root / folder
        target.mkdir(exist_ok=True)
        return target

    def ensure_folder(self, name: str) -> None:
        self._target_dir(name)

    def move(self, uid: int, folder: str) -> None:
        source = self._path(uid)
        target = self._target_dir(folder) / source.name
        if target.exists():
            # Same name already there (moved before, then copied back): keep both.
            target = target.with_name(f"{target.stem}-{uid}{target.suffix}")
        source.replace(target)
        del self._files[uid]

    def take_back(self, folder: str, sha256: str, size: int, to_folder: str) -> bool:
        """Move the message with these bytes from `folder` to `to_folder`; False if not there."""
        here = self._target_dir(folder)
        places = [here, here.parent / "new"] if self.is_maildir else [here]
        for path in sorted(p for d in places if d.is_dir() for p in d.iterdir() if p.is_file()):
            try:
                found = (
                    path.stat().st_size == size
                    and hashlib.sha256(path.read_bytes()).hexdigest() == sha256
                )
            except OSError as exc:
                raise MailboxUnavailable(f"cannot read {path}: {exc}") from exc
            if found:
                target = self._target_dir(to_folder) / path.name
                if target.exists():
                    target = target.with_name(f"{target.stem}-{sha256[:12]}{target.suffix}")
                path.replace(target)
                return True
        return False

    def folder_files(self, folder: str) -> list[Path]:
        """The messages now in `folder` (for people and tests)."""
        target = self._target_dir(folder)
        return sorted(p for p in target.iterdir() if p.is_file())

    def wait_for_mail(self, seconds: float) -> bool:
        # No push for a folder: the watcher's periodic pass is the fallback.
        time.sleep(seconds)
        return False
