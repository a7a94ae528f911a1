"""Login throttling in the database, and the device cookies that keep it from locking people out.

Owns the throttle keys, their race-safe counters and the known devices
(OWASP's "slow down online guessing with device cookies"). `review.auth`
decides when to check and count; this module knows how.

Keys. Every attempt counts against `address:<ip>`. What else it counts
against depends on the browser: a browser holding a valid device cookie for
the account (`LoginDevice`, issued at a successful login) counts against
`device:<id>` only, any other against `account:<email>`. So a stranger who
exhausts an account from a hundred addresses blocks the account for unknown
browsers only: its owner, from the browser they logged in with before, is
neither blocked nor slowed by it. A device with `device_untrust_after`
failures stops being trusted (a stolen cookie buys a few guesses, not a way
around the account's throttle), and so does every device of an account
whose password changes.

Counting is one UPDATE ... SET failures = CASE ... failures + 1 per key (an
INSERT in a savepoint for a new key), so two workers counting at once never
lose a failure: the database serialises the UPDATEs (PostgreSQL's row lock,
SQLite's single writer), and nothing is read in Python and written back.

The device cookie holds up to `MAX_DEVICE_TOKENS` random tokens joined by
".", one per account that logged in from the browser; the table keeps only
their sha256, so a copy of it cannot be replayed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from collections.abc import Iterable
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from registry import UTCDateTime
from workqueue import LoginDevice, LoginThrottle, Reviewer

if TYPE_CHECKING:
    from review.auth import AuthPolicy

MAX_DEVICE_TOKENS = 5
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{43}$")  # secrets.token_urlsafe(32)
_EMAIL_KEY_LENGTH = 254  # the column's limit; nobody's address is longer
_ADDRESS_LENGTH = 45  # the longest textual IPv6 address


def account_key(email: str) -> str:
    return f"account:{email.strip().lower()[:_EMAIL_KEY_LENGTH]}"


def address_key(address: str) -> str:
    return f"address:{address.strip()[:_ADDRESS_LENGTH]}"


def device_key(device: LoginDevice) -> str:
    return f"device:{device.id}"


def _token_id(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def device_tokens(cookie: str | None) -> list[str]:
    """The well-formed tokens of a device cookie, newest first; junk is dropped."""
    if not cookie:
        return []
    return [t for t in cookie.split(".")[:MAX_DEVICE_TOKENS] if _TOKEN.match(t)]


def _live(reviewer: Reviewer, now: dt.datetime) -> list[sa.ColumnElement[bool]]:
    return [
        col(LoginDevice.reviewer_id) == reviewer.id,
        col(LoginDevice.revoked_at).is_(None),
        col(LoginDevice.expires_at) > now,
        # A password change ends trust in every browser that knew the old one.
        col(LoginDevice.created_at) >= reviewer.password_changed_at,
    ]


def known_device(
    session: Session, reviewer: Reviewer | None, cookie: str | None, now: dt.datetime
) -> tuple[str, LoginDevice] | None:
    """The cookie's token and device row that are valid for this reviewer, if any."""
    tokens = device_tokens(cookie)
    if reviewer is None or reviewer.id is None or not tokens:
        return None
    by_id = {_token_id(t): t for t in tokens}
    row = session.exec(
        select(LoginDevice).where(col(LoginDevice.id).in_(list(by_id)), *_live(reviewer, now))
    ).first()
    return (by_id[row.id], row) if row is not None else None


def trust_device(
    session: Session,
    reviewer: Reviewer,
    cookie: str | None,
    *,
    now: dt.datetime,
    policy: AuthPolicy,
) -> str:
    """After a successful login: the device cookie's new value (a device row added if new)."""
    assert reviewer.id is not None
    tokens = device_tokens(cookie)
    found = known_device(session, reviewer, cookie, now)
    if found is not None:
        token, row = found
        row.last_used_at = now
        session.add(row)
    else:
        token = secrets.token_urlsafe(32)
        session.add(
            LoginDevice(
                id=_token_id(token),
                reviewer_id=reviewer.id,
                created_at=now,
                last_used_at=now,
                expires_at=now + policy.device_lifetime,
            )
        )
    return ".".join([token, *(t for t in tokens if t != token)][:MAX_DEVICE_TOKENS])


def revoke_device(session: Session, device: LoginDevice, now: dt.datetime) -> None:
    device.revoked_at = now
    session.add(device)
    clear(session, device_key(device))


def revoke_devices(session: Session, reviewer_id: int, now: dt.datetime) -> int:
    """No browser of this reviewer is known any more; how many were."""
    result = session.exec(
        sa.update(LoginDevice)
        .where(col(LoginDevice.reviewer_id) == reviewer_id, col(LoginDevice.revoked_at).is_(None))
        .values(revoked_at=now)
    )
    return int(result.rowcount)


# Counting


def _cutoff(now: dt.datetime, policy: AuthPolicy) -> dt.datetime:
    return now - policy.failure_window


def blocked_for(session: Session, keys: Iterable[str], now: dt.datetime) -> dt.timedelta | None:
    """How much longer the most blocked of `keys` is blocked; None when none is."""
    # A column, not entities: another worker may have changed a row this session holds.
    # (A block still running is never forgotten: it ends after the window starts.)
    untils = session.exec(
        select(col(LoginThrottle.blocked_until)).where(col(LoginThrottle.key).in_(list(keys)))
    ).all()
    waits = [until - now for until in untils if until is not None and until > now]
    return max(waits) if waits else None


def _increment(session: Session, key: str, now: dt.datetime, policy: AuthPolicy) -> int | None:
    cutoff = sa.literal(_cutoff(now, policy), UTCDateTime())
    first = col(LoginThrottle.first_failure_at)
    until = col(LoginThrottle.blocked_until)
    # Forgotten: the window has passed since the later of the first failure and the block's end.
    forgotten = sa.and_(first <= cutoff, sa.or_(until.is_(None), until <= cutoff))
    statement = (
        sa.update(LoginThrottle)
        .where(col(LoginThrottle.key) == key)
        .values(
            failures=sa.case((forgotten, 1), else_=col(LoginThrottle.failures) + 1),
            first_failure_at=sa.case((forgotten, sa.literal(now, UTCDateTime())), else_=first),
            blocked_until=sa.case((forgotten, sa.null()), else_=until),
        )
        .returning(col(LoginThrottle.failures))
        .execution_options(synchronize_session=False)
    )
    found = session.execute(statement).scalar_one_or_none()
    return int(found) if found is not None else None


def count_failure(
    session: Session, key: str, now: dt.datetime, policy: AuthPolicy
) -> tuple[int, dt.timedelta | None]:
    """One more failure for `key`: the count now, and the block it starts (None: none)."""
    failures = _increment(session, key, now, policy)
    if failures is None:
        try:
            # Two first failures at once: the loser's insert fails and it counts on the row.
            with session.begin_nested():
                session.execute(
                    sa.insert(LoginThrottle).values(
                        key=key, failures=1, first_failure_at=now, blocked_until=None
                    )
                )
            failures = 1
        except IntegrityError:
            failures = _increment(session, key, now, policy)
            assert failures is not None
    block = policy.block_after(failures)
    if block is not None:
        # The row is this transaction's until it commits, so no other count slips in between.
        session.execute(
            sa.update(LoginThrottle)
            .where(col(LoginThrottle.key) == key)
            .values(blocked_until=now + block)
            .execution_options(synchronize_session=False)
        )
    return failures, block


def clear(session: Session, key: str) -> None:
    session.execute(
        sa.delete(LoginThrottle)
        .where(col(LoginThrottle.key) == key)
        .execution_options(synchronize_session=False)
    )
