"""Sliding-window rate limits kept in the database, so every web process shares them.

The public pages count downloads and lookups per address and per
organisationsnummer (`render.ratelimit.RateLimiter` is the interface they
use). Counted in one process's memory, N workers or two machines would allow
N times the limit; here every process counts in the same two tables:

* `rate_limit_keys`: one row per key seen in the last window. A hit first
  upserts its keys' rows, which takes their row locks on PostgreSQL and the
  write lock on SQLite, so concurrent hits on one key are serialised and the
  count that follows is exact;
* `rate_limit_hits`: one row per allowed hit, with its time. The window is
  exact (the hits themselves, not buckets): a client that keeps to the limit
  is never refused, and a refused hit is not recorded, so refusals do not
  extend the wait.

A key holds at most `limit` hit rows; expired rows of a key go when it is hit,
and a sweep at most once per window per process removes idle keys.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Engine
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Field, Session, col, select

from registry import UTCDateTime, utcnow
from workqueue.models import QueueModel

KEY_LENGTH = 200


class RateLimitKey(QueueModel, table=True):
    __tablename__ = "rate_limit_keys"

    key: str = Field(primary_key=True, max_length=KEY_LENGTH)
    touched_at: dt.datetime = Field(sa_type=UTCDateTime, index=True)  # the last hit


class RateLimitHit(QueueModel, table=True):
    __tablename__ = "rate_limit_hits"
    __table_args__ = (sa.Index("ix_rate_limit_hits_key_at", "key", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=KEY_LENGTH)
    at: dt.datetime = Field(sa_type=UTCDateTime)


def _stored_key(key: str) -> str:
    # Keys are built by the caller from a client address or a number, but never trusted to fit.
    if len(key) <= KEY_LENGTH:
        return key
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def _upsert_key(session: Session, key: str, now: dt.datetime) -> None:
    table: Any = sa.inspect(RateLimitKey).local_table
    dialect = session.get_bind().dialect.name
    insert: Any = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    statement = insert.values(key=key, touched_at=now).on_conflict_do_update(
        index_elements=[table.c.key], set_={"touched_at": now}
    )
    session.execute(statement)


class DatabaseLimiter:
    """`limit` hits per key in any `window_seconds`, counted in the database."""

    def __init__(
        self,
        engine: Engine,
        limit: int,
        window_seconds: float,
        *,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        if limit < 1 or window_seconds <= 0:
            raise ValueError("limit and window must be positive")
        self.engine = engine
        self.limit = limit
        self.window = dt.timedelta(seconds=window_seconds)
        self._clock = clock
        self._sweep_lock = threading.Lock()
        self._last_sweep: dt.datetime | None = None

    def hit(self, keys: Sequence[str]) -> float:
        """Count one request against every key; 0.0 if allowed, else seconds to wait.

        All keys or none: a request refused on one key is counted on none of them.
        """
        now = self._clock()
        cutoff = now - self.window
        # Sorted, so two requests lock shared keys in the same order and never deadlock.
        names = sorted({_stored_key(k) for k in keys})
        wait = 0.0
        with Session(self.engine) as session:
            for name in names:
                _upsert_key(session, name, now)
            for name in names:
                session.execute(
                    sa.delete(RateLimitHit).where(
                        col(RateLimitHit.key) == name, col(RateLimitHit.at) <= cutoff
                    )
                )
                count, oldest = session.execute(
                    select(sa.func.count(), sa.func.min(col(RateLimitHit.at))).where(
                        col(RateLimitHit.key) == name
                    )
                ).one()
                if count >= self.limit and oldest is not None:
                    wait = max(wait, (oldest + self.window - now).total_seconds(), 0.001)
            if not wait:
                session.add_all(RateLimitHit(key=name, at=now) for name in names)
            session.commit()
        self._sweep(now)
        return wait

    def _sweep(self, now: dt.datetime) -> None:
        """Forget keys idle for a whole window, at most once per window in this process."""
        with self._sweep_lock:
            if self._last_sweep is not None and now - self._last_sweep < self.window:
                return
            self._last_sweep = now
        cutoff = now - self.window
        with Session(self.engine) as session:
            session.execute(sa.delete(RateLimitHit).where(col(RateLimitHit.at) <= cutoff))
            session.execute(sa.delete(RateLimitKey).where(col(RateLimitKey.touched_at) <= cutoff))
            session.commit()
