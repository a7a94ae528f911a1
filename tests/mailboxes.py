"""A user of its own on the test Dovecot, for each test that reads a mailbox."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from devkit.localmail.dovecot import LocalDovecot, StoredMessage

from intake.mail import ImapConfig, Security


@dataclass(frozen=True)
class MailboxUser:
    dovecot: LocalDovecot
    username: str
    password: str

    def config(self, security: Security = "imaps", **changes: Any) -> ImapConfig:
        """How to reach this mailbox; keyword arguments replace ImapConfig fields."""
        return replace(
            self.dovecot.config(self.username, self.password, security=security), **changes
        )

    def deliver(self, raw: bytes, folder: str = "INBOX") -> None:
        self.dovecot.deliver(self.username, raw, folder)

    def messages(self, folder: str = "INBOX") -> list[bytes]:
        return self.dovecot.folder_messages(self.username, folder)

    def stored(self, folder: str = "INBOX") -> list[StoredMessage]:
        return self.dovecot.stored_messages(self.username, folder)
