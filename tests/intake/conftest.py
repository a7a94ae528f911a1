"""Mailbox fixtures: one real Dovecot for the session, an empty mailbox per test.

`dovecot` is Debian's Dovecot started under the session's temporary
directory on free loopback ports (IMAPS, and IMAP with STARTTLS), with
XOAUTH2 checked against a local introspection endpoint. `mailbox_user` adds a
user of its own to it, so every test starts with an empty INBOX and nothing
a test does is seen by another.
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import pytest

from intake.imap import ImapConfig, Security
from kopplingar.localmail.dovecot import LocalDovecot, StoredMessage

_users = itertools.count(1)


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


@pytest.fixture(scope="session")
def dovecot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalDovecot]:
    server = LocalDovecot(tmp_path_factory.mktemp("dovecot"))
    server.enable_xoauth2()
    with server:
        yield server


@pytest.fixture
def mailbox_user(dovecot: LocalDovecot) -> MailboxUser:
    user = MailboxUser(dovecot, f"user{next(_users)}", secrets.token_urlsafe(12))
    dovecot.add_user(user.username, user.password)
    return user
