"""One run per mailbox at a time: the lock that makes overlapping cron runs safe.

Two pollers working on one mailbox folder would both fetch the same new
message before either has recorded it. The lock is taken before anything is
fetched and held for the whole pass.

* PostgreSQL: a session-level advisory lock on a connection of its own. It
  works across machines that share the database, and the server drops it the
  moment the holder's connection goes, so a poller killed with SIGKILL never
  leaves a stale lock behind.
* SQLite: `flock` on a file next to the data, which the kernel releases when
  the holder dies. The database is a local file, so the lock only needs to be
  local too.

`mailbox_lock` never waits: a second run finds the mailbox busy (`MailboxBusy`,
exit 75) and says so.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import Engine

from intake.mail.types import MailboxBusy


def _key(name: str) -> int:
    # pg advisory locks take a signed 64-bit key.
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


@contextmanager
def mailbox_lock(engine: Engine, name: str, *, lock_dir: Path) -> Iterator[None]:
    """Hold the lock for mailbox `name` (account and folder) or raise `MailboxBusy`."""
    if engine.dialect.name == "postgresql":
        with _pg_lock(engine, name):
            yield
    else:
        with _file_lock(lock_dir, name):
            yield


@contextmanager
def _pg_lock(engine: Engine, name: str) -> Iterator[None]:
    key = _key(name)
    with engine.connect() as conn:
        got = conn.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar()
        conn.commit()
        if not got:
            raise MailboxBusy(f"another run is reading {name}; nothing done this time")
        try:
            yield
        finally:
            try:
                conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                conn.commit()
            except sa.exc.DBAPIError:
                # The connection is gone, and with it the lock.
                pass


@contextmanager
def _file_lock(lock_dir: Path, name: str) -> Iterator[None]:
    lock_dir.mkdir(parents=True, exist_ok=True)
    path = lock_dir / f"mailbox-{hashlib.sha256(name.encode()).hexdigest()[:16]}.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise MailboxBusy(f"another run is reading {name}; nothing done this time") from exc
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()} {name}\n".encode())
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
