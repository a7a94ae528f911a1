"""Reviewer sessions: the server-side row behind the cookie, with its CSRF token.

A new random token at every login; the row is keyed by the token's sha256,
so a copy of the table cannot be replayed as a cookie. A session ends at
logout, when the reviewer's password changes, when the reviewer is disabled,
after `idle` without use and at `absolute` after the login, whichever comes
first. A session started by the password of an account with a second factor
is `second_factor_pending` and lives at most `PENDING_LIFETIME`;
`review.second_factor` replaces it with a full one. A reviewer sees their
own live sessions (`live_sessions`) and ends the others
(`end_other_sessions`). `last_seen_at` is written at most once a minute, so
the idle limit is exact to within that minute.

Like `review.auth`, every function takes the caller's session and an aware
`now` and never commits.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlmodel import Session, col, select

from review.security import record_security_event
from workqueue import Reviewer, ReviewSession

if TYPE_CHECKING:
    from review.auth import AuthPolicy

__all__ = [
    "PENDING_LIFETIME",
    "TOUCH_INTERVAL",
    "SessionInfo",
    "check_csrf",
    "check_now",
    "end_all_sessions",
    "end_other_sessions",
    "end_session",
    "live_sessions",
    "load_session",
    "start_session",
]

TOUCH_INTERVAL = dt.timedelta(minutes=1)
# Between the password and the code: long enough to open the app, too short to keep.
PENDING_LIFETIME = dt.timedelta(minutes=10)

_ADDRESS_LENGTH = 45  # the longest textual IPv6 address
_USER_AGENT_LENGTH = 200


@dataclass(frozen=True)
class SessionInfo:
    token: str  # the cookie's value; only its sha256 is stored
    csrf_token: str
    reviewer: Reviewer
    expires_at: dt.datetime  # the absolute end; the idle limit may end it sooner
    session_id: str = ""  # the row's key (the token's sha256), to tell this session in a list
    second_factor_pending: bool = False  # password given, code not yet: opens the code page only


def check_now(now: dt.datetime) -> None:
    if now.tzinfo is None:
        raise ValueError(f"naive datetime {now!r}: pass an aware UTC time")


def _token_id(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def start_session(
    session: Session,
    reviewer: Reviewer,
    *,
    now: dt.datetime,
    policy: AuthPolicy,
    address: str | None,
    user_agent: str | None,
    second_factor_pending: bool = False,
) -> SessionInfo:
    """A new session with a fresh token (never reused across logins) and CSRF token.

    `second_factor_pending`: the password was right but a code is still owed;
    such a session opens only the code page and ends after PENDING_LIFETIME.
    """
    check_now(now)
    if reviewer.id is None:
        session.flush()
    assert reviewer.id is not None
    token = secrets.token_urlsafe(32)
    lifetime = min(policy.absolute, PENDING_LIFETIME) if second_factor_pending else policy.absolute
    row = ReviewSession(
        id=_token_id(token),
        reviewer_id=reviewer.id,
        created_at=now,
        last_seen_at=now,
        expires_at=now + lifetime,
        csrf_token=secrets.token_urlsafe(32),
        client_address=address[:_ADDRESS_LENGTH] if address else None,
        user_agent=user_agent[:_USER_AGENT_LENGTH] if user_agent else None,
        second_factor_pending=second_factor_pending,
    )
    session.add(row)
    if not second_factor_pending:  # a login is done only once its second factor is
        record_security_event(
            session,
            "security.login_succeeded",
            actor=reviewer.email,
            subject=reviewer.email,
            detail=f"från {address}" if address else "",
            now=now,
        )
    return _info(token, row, reviewer)


def _info(token: str, row: ReviewSession, reviewer: Reviewer) -> SessionInfo:
    return SessionInfo(
        token=token,
        csrf_token=row.csrf_token,
        reviewer=reviewer,
        expires_at=row.expires_at,
        session_id=row.id,
        second_factor_pending=row.second_factor_pending,
    )


def load_session(
    session: Session, token: str | None, *, now: dt.datetime, policy: AuthPolicy
) -> SessionInfo | None:
    """The live session for a cookie's token; None if unknown, ended, expired or disabled.

    A session still waiting for its second factor is returned too, marked
    `second_factor_pending`: the caller decides what it may open.
    """
    check_now(now)
    if not token:
        return None
    row = session.get(ReviewSession, _token_id(token))
    if row is None or row.ended_at is not None:
        return None
    if now >= row.expires_at or now - row.last_seen_at >= policy.idle:
        return None
    reviewer = session.get(Reviewer, row.reviewer_id)
    if reviewer is None or not reviewer.active:
        return None
    if now - row.last_seen_at >= TOUCH_INTERVAL:
        row.last_seen_at = now
        session.add(row)
    return _info(token, row, reviewer)


def end_session(session: Session, token: str, now: dt.datetime) -> None:
    """Logout: the token no longer opens anything, whatever the browser keeps."""
    check_now(now)
    row = session.get(ReviewSession, _token_id(token))
    if row is not None and row.ended_at is None:
        row.ended_at = now
        session.add(row)


def end_all_sessions(session: Session, reviewer_id: int, now: dt.datetime) -> int:
    """End every session of the reviewer that could still be used; how many there were."""
    check_now(now)
    result = session.exec(
        sa.update(ReviewSession)
        .where(
            col(ReviewSession.reviewer_id) == reviewer_id,
            col(ReviewSession.ended_at).is_(None),
            col(ReviewSession.expires_at) > now,
        )
        .values(ended_at=now)
    )
    return int(result.rowcount)


def _live(reviewer_id: int, now: dt.datetime, policy: AuthPolicy) -> list[sa.ColumnElement[bool]]:
    return [
        col(ReviewSession.reviewer_id) == reviewer_id,
        col(ReviewSession.ended_at).is_(None),
        col(ReviewSession.expires_at) > now,
        col(ReviewSession.last_seen_at) > now - policy.idle,
    ]


def live_sessions(
    session: Session, reviewer_id: int, *, now: dt.datetime, policy: AuthPolicy
) -> list[ReviewSession]:
    """The reviewer's sessions that could still be used, newest first."""
    check_now(now)
    return list(
        session.exec(
            select(ReviewSession)
            .where(*_live(reviewer_id, now, policy))
            .order_by(col(ReviewSession.created_at).desc(), col(ReviewSession.id))
        ).all()
    )


def end_other_sessions(
    session: Session,
    reviewer_id: int,
    keep_session_id: str,
    now: dt.datetime,
    *,
    only: str | None = None,
) -> int:
    """End the reviewer's sessions but `keep_session_id` (or just `only`); how many ended.

    Scoped to the reviewer, so a session id from someone else's list ends nothing.
    """
    check_now(now)
    conditions = [
        col(ReviewSession.reviewer_id) == reviewer_id,
        col(ReviewSession.ended_at).is_(None),
        col(ReviewSession.id) != keep_session_id,
    ]
    if only is not None:
        conditions.append(col(ReviewSession.id) == only)
    result = session.exec(sa.update(ReviewSession).where(*conditions).values(ended_at=now))
    return int(result.rowcount)


def check_csrf(info: SessionInfo, submitted: str | None) -> bool:
    """Whether a form's CSRF field matches the session's token (in constant time)."""
    if not submitted:
        return False
    return hmac.compare_digest(info.csrf_token.encode(), submitted.encode("utf-8", "surrogatepass"))
