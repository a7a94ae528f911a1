"""Reviewer accounts, passwords, sessions and login throttling.

Owns everything that decides who may use the reviewer pages: argon2id
password hashes, the password policy, creating and disabling reviewers,
`authenticate` with its per-account and per-address throttle, and the
server-side sessions behind the cookie (with their CSRF token). The tables
are `workqueue.reviewers`; the pages and the cookie itself are the web layer's.

Every function takes the caller's session and an aware `now` and never
commits, so the caller decides the transaction and tests can move time. One
consequence to respect: `authenticate` records a failed login *and then*
raises `LoginRefused`, so the caller must commit after catching it too,
otherwise the failure is rolled back and guessing is never slowed.

Password hashes: argon2id with m=46 MiB, t=1, p=1 (the first of OWASP's
recommended argon2id settings). On the 2-core machine this was written on,
one hash or check takes about 70 ms, inside the 50-100 ms aimed for: slow
for an attacker holding a copy of the table, unnoticeable at a login. A hash
made with other parameters still verifies and is replaced at the next
successful login (`needs_rehash`). Passwords are NFC-normalised first, so
the same password typed on a different keyboard or system still matches.

Password policy (`check_password`): 12 to 256 characters, at least two kinds
of character (lower-case letters, upper-case letters, digits, anything else
such as spaces or punctuation) and at least 5 different characters. A long
passphrase of ordinary words passes; "aaaaaaaaaaa1" does not.

Throttling: failures are counted per key, `account:<email>` and
`address:<ip>`. The first `free_failures` cost nothing; the one that reaches
the limit blocks the key for `first_block`, and each further failure doubles
the block up to `max_block`, so guessing is slowed to a few tries an hour and
nobody is locked out for good. A blocked key refuses at once, without
checking the password (so a right password during a block is refused too,
and a blocked attempt does not lengthen the block). Counts are forgotten once
`failure_window` has passed since the later of the first failure and the end
of the last block. Success clears the account's count but not the address's,
so one valid account cannot be used to keep guessing at others from the
same address.

Sessions: a new random token at every login; the row is keyed by the
token's sha256, so a copy of the table cannot be replayed as a cookie. A
session ends at logout, when the reviewer's password changes, when the
reviewer is disabled, after `idle` without use and at `absolute` after the
login, whichever comes first. `last_seen_at` is written at most once a
minute, so the idle limit is exact to within that minute.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import math
import os
import secrets
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

import sqlalchemy as sa
from argon2 import PasswordHasher, Type
from argon2.exceptions import VerificationError
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from forms import InvalidValue, parse_email
from review.errors import ReviewError
from workqueue import LoginThrottle, Reviewer, ReviewerRole, ReviewSession

# argon2id, OWASP's first recommended setting: 46 MiB, one pass, one lane.
HASH_TIME_COST = 1
HASH_MEMORY_KIB = 47104
HASH_PARALLELISM = 1

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 256
MIN_DISTINCT_CHARACTERS = 5
MIN_CHARACTER_CLASSES = 2

TOUCH_INTERVAL = dt.timedelta(minutes=1)

_EMAIL_KEY_LENGTH = 254  # the column's limit; nobody's address is longer
_ADDRESS_LENGTH = 45  # the longest textual IPv6 address
_USER_AGENT_LENGTH = 200

_hasher = PasswordHasher(
    time_cost=HASH_TIME_COST,
    memory_cost=HASH_MEMORY_KIB,
    parallelism=HASH_PARALLELISM,
    type=Type.ID,
)


class AuthError(ReviewError):
    """A reviewer account or login problem; the message can be shown to the reviewer."""

    exit_code = os.EX_DATAERR


class LoginRefused(AuthError):  # noqa: N818
    """Wrong e-mail, wrong password or a disabled account: deliberately one message."""

    def __init__(self) -> None:
        super().__init__("Fel e-postadress eller lösenord.")


class LoginThrottled(AuthError):  # noqa: N818
    """Too many failed logins for this account or address; try again after `retry_after`."""

    def __init__(self, retry_after: dt.timedelta) -> None:
        minutes = max(1, math.ceil(retry_after.total_seconds() / 60))
        unit = "minut" if minutes == 1 else "minuter"
        super().__init__(f"För många misslyckade inloggningar. Försök igen om {minutes} {unit}.")
        self.retry_after = retry_after


class WeakPassword(AuthError):  # noqa: N818
    """The password does not meet the policy (see the module docstring)."""


class ReviewerNotFound(AuthError):  # noqa: N818
    """No reviewer with that e-mail address or id."""

    exit_code = os.EX_NOINPUT


@dataclass(frozen=True)
class AuthPolicy:
    idle: dt.timedelta = dt.timedelta(minutes=30)
    absolute: dt.timedelta = dt.timedelta(hours=10)
    free_failures: int = 5  # per key before any block
    first_block: dt.timedelta = dt.timedelta(seconds=30)
    # Blocks double per further failure, capped: guessing is slowed, nobody is locked out.
    max_block: dt.timedelta = dt.timedelta(minutes=15)
    failure_window: dt.timedelta = dt.timedelta(hours=1)  # older failures are forgotten

    def block_after(self, failures: int) -> dt.timedelta | None:
        """How long a key is blocked after its `failures`-th failure (None: not at all)."""
        if failures < self.free_failures:
            return None
        doublings = failures - self.free_failures
        # timedelta overflows at a large enough factor; the cap is reached long before.
        if doublings >= 64 or self.first_block * (1 << doublings) >= self.max_block:
            return self.max_block
        return self.first_block * (1 << doublings)


@dataclass(frozen=True)
class SessionInfo:
    token: str  # the cookie's value; only its sha256 is stored
    csrf_token: str
    reviewer: Reviewer
    expires_at: dt.datetime  # the absolute end; the idle limit may end it sooner


# Passwords


def _normalized(password: str) -> str:
    return unicodedata.normalize("NFC", password)


def hash_password(password: str) -> str:
    """An argon2id PHC string (`$argon2id$v=19$m=...,t=...,p=...$salt$hash`)."""
    return _hasher.hash(_normalized(password))


def verify_password(stored: str, password: str) -> bool:
    """Whether `password` matches; False (never an exception) for a malformed hash."""
    try:
        return _hasher.verify(stored, _normalized(password))
    except (VerificationError, ValueError):  # InvalidHashError, or a hash that is not ASCII
        return False


def needs_rehash(stored: str) -> bool:
    """Whether `stored` was made with other parameters (or is not a valid hash at all)."""
    try:
        return _hasher.check_needs_rehash(stored)
    except ValueError:  # InvalidHashError, or a hash that is not ASCII
        return True


@cache
def _dummy_hash() -> str:
    # Checked against when the e-mail is unknown, so such a login costs as long as a real one.
    return hash_password(secrets.token_urlsafe(16))


def _character_classes(password: str) -> int:
    kinds = {
        "lower" if c.islower() else "upper" if c.isupper() else "digit" if c.isdigit() else "other"
        for c in password
    }
    return len(kinds)


def check_password(password: str) -> None:
    """Raise WeakPassword with a Swedish message if the policy is not met."""
    password = _normalized(password)
    try:
        password.encode("utf-8")
    except UnicodeEncodeError as exc:  # lone surrogates, e.g. from undecodable stdin
        raise WeakPassword("Lösenordet innehåller tecken som inte går att använda.") from exc
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPassword(f"Lösenordet måste ha minst {MIN_PASSWORD_LENGTH} tecken.")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise WeakPassword(f"Lösenordet får ha högst {MAX_PASSWORD_LENGTH} tecken.")
    if _character_classes(password) < MIN_CHARACTER_CLASSES:
        raise WeakPassword(
            "Lösenordet måste blanda minst två sorters tecken: små bokstäver, stora "
            "bokstäver, siffror eller andra tecken (till exempel mellanslag)."
        )
    if len(set(password)) < MIN_DISTINCT_CHARACTERS:
        raise WeakPassword(
            f"Lösenordet måste innehålla minst {MIN_DISTINCT_CHARACTERS} olika tecken."
        )


# Accounts


def _normalized_email(email: str) -> str:
    return email.strip().lower()


def find_reviewer(session: Session, email: str) -> Reviewer | None:
    return session.exec(
        select(Reviewer).where(col(Reviewer.email) == _normalized_email(email))
    ).first()


def get_reviewer(session: Session, email: str) -> Reviewer:
    """The reviewer with this e-mail address, or ReviewerNotFound."""
    reviewer = find_reviewer(session, email)
    if reviewer is None:
        raise ReviewerNotFound(f"Det finns ingen granskare med e-postadressen {email.strip()}.")
    return reviewer


def create_reviewer(
    session: Session,
    *,
    email: str,
    name: str,
    role: ReviewerRole,
    password: str,
    now: dt.datetime,
) -> Reviewer:
    """A new active reviewer; the e-mail address (lower-cased) is the login name."""
    try:
        address = parse_email(email).lower()
    except InvalidValue as exc:
        raise AuthError(exc.message) from exc
    name = name.strip()
    if not name:
        raise AuthError("Ange granskarens namn.")
    if len(name) > 200:
        raise AuthError("Namnet får ha högst 200 tecken.")
    check_password(password)
    if find_reviewer(session, address) is not None:
        raise AuthError(f"Det finns redan en granskare med e-postadressen {address}.")
    reviewer = Reviewer(
        email=address,
        name=name,
        role=role,
        password_hash=hash_password(password),
        active=True,
        created_at=now,
        password_changed_at=now,
    )
    try:
        # A savepoint, so losing a race with another insert leaves the caller's work intact.
        with session.begin_nested():
            session.add(reviewer)
    except IntegrityError as exc:
        raise AuthError(f"Det finns redan en granskare med e-postadressen {address}.") from exc
    return reviewer


def set_password(session: Session, reviewer: Reviewer, password: str, now: dt.datetime) -> None:
    """A new password; every session of the reviewer ends and the account's throttle clears."""
    check_password(password)
    reviewer.password_hash = hash_password(password)
    reviewer.password_changed_at = now
    session.add(reviewer)
    if reviewer.id is None:
        session.flush()
    assert reviewer.id is not None
    end_all_sessions(session, reviewer.id, now)
    _clear(session, _account_key(reviewer.email))


def set_active(session: Session, reviewer_id: int, active: bool, now: dt.datetime) -> Reviewer:
    """Enable or disable a reviewer; disabling ends every session at once."""
    reviewer = session.get(Reviewer, reviewer_id)
    if reviewer is None:
        raise ReviewerNotFound(f"Det finns ingen granskare med id {reviewer_id}.")
    reviewer.active = active
    session.add(reviewer)
    if not active:
        end_all_sessions(session, reviewer_id, now)
    return reviewer


def last_logins(session: Session) -> dict[int, dt.datetime]:
    """Each reviewer's latest login (the start of their newest session)."""
    rows = session.exec(
        select(col(ReviewSession.reviewer_id), sa.func.max(col(ReviewSession.created_at))).group_by(
            col(ReviewSession.reviewer_id)
        )
    )
    return {reviewer_id: at for reviewer_id, at in rows if at is not None}


# Throttling


def _account_key(email: str) -> str:
    return f"account:{_normalized_email(email)[:_EMAIL_KEY_LENGTH]}"


def _address_key(address: str) -> str:
    return f"address:{address.strip()[:_ADDRESS_LENGTH]}"


def _keys(email: str, address: str | None) -> list[str]:
    keys = [_account_key(email)]
    if address and address.strip():
        keys.append(_address_key(address))
    return keys


def _forgotten(row: LoginThrottle, now: dt.datetime, policy: AuthPolicy) -> bool:
    last = max(row.first_failure_at, row.blocked_until or row.first_failure_at)
    return now - last >= policy.failure_window


def _blocked_for(
    session: Session, keys: Iterable[str], now: dt.datetime, policy: AuthPolicy
) -> dt.timedelta | None:
    waits = []
    for key in keys:
        row = session.get(LoginThrottle, key)
        if row is None or _forgotten(row, now, policy):
            continue
        if row.blocked_until is not None and row.blocked_until > now:
            waits.append(row.blocked_until - now)
    return max(waits) if waits else None


def _count_failure(session: Session, key: str, now: dt.datetime, policy: AuthPolicy) -> None:
    # populate_existing: the check before may have loaded a row another login has since changed.
    row = session.get(LoginThrottle, key, with_for_update=True, populate_existing=True)
    if row is None:
        row = LoginThrottle(key=key, failures=0, first_failure_at=now)
        try:
            # Two failures at once for a new key: the loser re-reads the winner's row.
            with session.begin_nested():
                session.add(row)
        except IntegrityError:
            row = session.get(LoginThrottle, key, with_for_update=True, populate_existing=True)
            assert row is not None
    elif _forgotten(row, now, policy):
        row.failures = 0
        row.first_failure_at = now
        row.blocked_until = None
    row.failures += 1
    block = policy.block_after(row.failures)
    if block is not None:
        row.blocked_until = now + block
    session.add(row)


def _clear(session: Session, key: str) -> None:
    session.exec(sa.delete(LoginThrottle).where(col(LoginThrottle.key) == key))


def _check_now(now: dt.datetime) -> None:
    if now.tzinfo is None:
        raise ValueError(f"naive datetime {now!r}: pass an aware UTC time")


def authenticate(
    session: Session,
    *,
    email: str,
    password: str,
    address: str | None,
    now: dt.datetime,
    policy: AuthPolicy,
) -> Reviewer:
    """The active reviewer with this e-mail and password, or LoginRefused / LoginThrottled.

    A failure is recorded in `session` before LoginRefused is raised: commit
    after catching it, or the failure does not count.
    """
    _check_now(now)
    keys = _keys(email, address)
    wait = _blocked_for(session, keys, now, policy)
    if wait is not None:
        raise LoginThrottled(wait)
    reviewer = find_reviewer(session, email)
    stored = reviewer.password_hash if reviewer is not None else _dummy_hash()
    matches = verify_password(stored, password)
    if reviewer is None or not matches or not reviewer.active:
        for key in keys:
            _count_failure(session, key, now, policy)
        raise LoginRefused()
    _clear(session, keys[0])
    if needs_rehash(reviewer.password_hash):
        reviewer.password_hash = hash_password(password)
        session.add(reviewer)
    return reviewer


# Sessions


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
) -> SessionInfo:
    """A new session with a fresh token (never reused across logins) and CSRF token."""
    _check_now(now)
    if reviewer.id is None:
        session.flush()
    assert reviewer.id is not None
    token = secrets.token_urlsafe(32)
    row = ReviewSession(
        id=_token_id(token),
        reviewer_id=reviewer.id,
        created_at=now,
        last_seen_at=now,
        expires_at=now + policy.absolute,
        csrf_token=secrets.token_urlsafe(32),
        client_address=address[:_ADDRESS_LENGTH] if address else None,
        user_agent=user_agent[:_USER_AGENT_LENGTH] if user_agent else None,
    )
    session.add(row)
    return SessionInfo(
        token=token, csrf_token=row.csrf_token, reviewer=reviewer, expires_at=row.expires_at
    )


def load_session(
    session: Session, token: str | None, *, now: dt.datetime, policy: AuthPolicy
) -> SessionInfo | None:
    """The live session for a cookie's token; None if unknown, ended, expired or disabled."""
    _check_now(now)
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
    return SessionInfo(
        token=token, csrf_token=row.csrf_token, reviewer=reviewer, expires_at=row.expires_at
    )


def end_session(session: Session, token: str, now: dt.datetime) -> None:
    """Logout: the token no longer opens anything, whatever the browser keeps."""
    _check_now(now)
    row = session.get(ReviewSession, _token_id(token))
    if row is not None and row.ended_at is None:
        row.ended_at = now
        session.add(row)


def end_all_sessions(session: Session, reviewer_id: int, now: dt.datetime) -> int:
    """End every session of the reviewer that could still be used; how many there were."""
    _check_now(now)
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


def check_csrf(info: SessionInfo, submitted: str | None) -> bool:
    """Whether a form's CSRF field matches the session's token (in constant time)."""
    if not submitted:
        return False
    return hmac.compare_digest(info.csrf_token.encode(), submitted.encode("utf-8", "surrogatepass"))
