"""Reviewer accounts, passwords, sessions and login throttling.

Owns everything that decides who may use the reviewer pages: argon2id
password hashes, creating and disabling reviewers, changing one's own password,
and `authenticate` with its per-account and per-address throttle. The tables
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

Password policy: `review.passwords.check_password` (re-exported here), at
least 12 characters, no composition rules, refused when common, guessable or
containing the user's name. A password an admin sets (a new reviewer, a
reset) is marked `must_change_password`: the pages let the reviewer do
nothing but choose their own (`change_own_password`), which ends their
other sessions.

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

Sessions (a new token at every login, idle and absolute limits, the
second-factor step, one's own list) are `review.sessions`, re-exported here.
"""

from __future__ import annotations

import datetime as dt
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
from review import throttle

# AuthError and the policy live elsewhere; re-exported, so callers keep importing them from here.
from review.errors import AuthError as AuthError
from review.passwords import MAX_PASSWORD_LENGTH as MAX_PASSWORD_LENGTH
from review.passwords import MIN_PASSWORD_LENGTH as MIN_PASSWORD_LENGTH
from review.passwords import WeakPassword as WeakPassword
from review.passwords import check_password as check_password
from review.passwords import normalized
from review.security import record_security_event
from review.sessions import PENDING_LIFETIME as PENDING_LIFETIME
from review.sessions import TOUCH_INTERVAL as TOUCH_INTERVAL
from review.sessions import SessionInfo as SessionInfo
from review.sessions import check_csrf as check_csrf
from review.sessions import check_now as _check_now
from review.sessions import end_all_sessions as end_all_sessions
from review.sessions import end_other_sessions as end_other_sessions
from review.sessions import end_session as end_session
from review.sessions import live_sessions as live_sessions
from review.sessions import load_session as load_session
from review.sessions import start_session as start_session
from workqueue import LoginDevice, Reviewer, ReviewerRole, ReviewSession

# argon2id, OWASP's first recommended setting: 46 MiB, one pass, one lane.
HASH_TIME_COST = 1
HASH_MEMORY_KIB = 47104
HASH_PARALLELISM = 1

_hasher = PasswordHasher(
    time_cost=HASH_TIME_COST,
    memory_cost=HASH_MEMORY_KIB,
    parallelism=HASH_PARALLELISM,
    type=Type.ID,
)


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
    device_lifetime: dt.timedelta = dt.timedelta(days=365)  # a device cookie's life
    device_untrust_after: int = 10  # failures with one device cookie before it is not trusted

    def __post_init__(self) -> None:
        if self.first_block <= dt.timedelta(0) or self.max_block < self.first_block:
            raise ValueError("blocks need 0 < first_block <= max_block")
        if self.free_failures < 1 or self.device_untrust_after < 1:
            raise ValueError("free_failures and device_untrust_after must be at least 1")

    def block_after(self, failures: int) -> dt.timedelta | None:
        """How long a key is blocked after its `failures`-th failure (None: not at all)."""
        if failures < self.free_failures:
            return None
        doublings = failures - self.free_failures
        # Compared as integers first: first_block * 2**n overflows timedelta from n = 42 on
        # (at 30 s), which once turned the 47th wrong password into a 500 that counted nothing.
        if doublings >= (self.max_block // self.first_block).bit_length():
            return self.max_block
        return min(self.first_block * (1 << doublings), self.max_block)


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
    must_change_password: bool = False,
) -> Reviewer:
    """A new active reviewer; the e-mail address (lower-cased) is the login name.

    `must_change_password`: the password was chosen by someone else (an admin),
    so the reviewer must replace it at their first login.
    """
    try:
        address = parse_email(email).lower()
    except InvalidValue as exc:
        raise AuthError(exc.message) from exc
    name = name.strip()
    if not name:
        raise AuthError("Ange granskarens namn.")
    if len(name) > 200:
        raise AuthError("Namnet får ha högst 200 tecken.")
    check_password(password, email=address, name=name)
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
        must_change_password=must_change_password,
    )
    try:
        # A savepoint, so losing a race with another insert leaves the caller's work intact.
        with session.begin_nested():
            session.add(reviewer)
    except IntegrityError as exc:
        raise AuthError(f"Det finns redan en granskare med e-postadressen {address}.") from exc
    return reviewer


def set_password(
    session: Session,
    reviewer: Reviewer,
    password: str,
    now: dt.datetime,
    *,
    must_change: bool = False,
) -> None:
    """A new password; every session of the reviewer ends and the account's throttle clears.

    `must_change`: someone else chose it (an admin's reset), so the reviewer
    must replace it at their next login.
    """
    check_password(password, email=reviewer.email, name=reviewer.name)
    reviewer.password_hash = hash_password(password)
    reviewer.password_changed_at = now
    reviewer.must_change_password = must_change
    session.add(reviewer)
    if reviewer.id is None:
        session.flush()
    assert reviewer.id is not None
    end_all_sessions(session, reviewer.id, now)
    _clear(session, _account_key(reviewer.email))
    throttle.revoke_devices(session, reviewer.id, now)


class PasswordChangeRefused(AuthError):  # noqa: N818
    """The current password was wrong, or the new one was typed differently twice."""


def change_own_password(
    session: Session,
    reviewer: Reviewer,
    *,
    current: str,
    new: str,
    repeated: str,
    keep_session_id: str,
    now: dt.datetime,
    policy: AuthPolicy,
) -> int:
    """The reviewer's own new password; their other sessions end; how many did.

    The current password is asked for so that a borrowed, unlocked browser
    cannot take the account over; a wrong one counts towards a throttle of
    its own (`password:<id>`), recorded before PasswordChangeRefused is
    raised, so the caller must commit after catching it too.
    """
    _check_now(now)
    assert reviewer.id is not None
    key = f"password:{reviewer.id}"
    wait = _blocked_for(session, [key], now, policy)
    if wait is not None:
        raise LoginThrottled(wait)
    if not verify_password(reviewer.password_hash, current):
        _count_failure(session, key, now, policy)
        raise PasswordChangeRefused("Det nuvarande lösenordet stämmer inte.")
    if normalized(new) != normalized(repeated):
        raise PasswordChangeRefused("De två nya lösenorden är inte likadana.")
    if normalized(new) == normalized(current):
        raise PasswordChangeRefused("Det nya lösenordet måste skilja sig från det nuvarande.")
    check_password(new, email=reviewer.email, name=reviewer.name)
    reviewer.password_hash = hash_password(new)
    reviewer.password_changed_at = now
    reviewer.must_change_password = False
    session.add(reviewer)
    _clear(session, key)
    ended = end_other_sessions(session, reviewer.id, keep_session_id, now)
    record_security_event(
        session,
        "security.password_changed",
        actor=reviewer.email,
        subject=reviewer.email,
        detail=f"eget byte; {ended} andra sessioner avslutade",
        now=now,
    )
    return ended


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


# Throttling (the counting itself is review.throttle's)


def _account_key(email: str) -> str:
    return throttle.account_key(email)


def _blocked_for(
    session: Session,
    keys: Iterable[str],
    now: dt.datetime,
    policy: AuthPolicy,  # noqa: ARG001 - the callers' signature
) -> dt.timedelta | None:
    return throttle.blocked_for(session, keys, now)


def _count_failure(session: Session, key: str, now: dt.datetime, policy: AuthPolicy) -> None:
    throttle.count_failure(session, key, now, policy)


def _clear(session: Session, key: str) -> None:
    throttle.clear(session, key)


_KEY_LABELS = {"account": "kontot", "address": "adressen", "device": "webbläsaren"}


def _refusal_reason(reviewer: Reviewer | None, matches: bool) -> str:
    if reviewer is None:
        return "okänt konto"
    return "fel lösenord" if not matches else "kontot är inaktiverat"


def authenticate(
    session: Session,
    *,
    email: str,
    password: str,
    address: str | None,
    now: dt.datetime,
    policy: AuthPolicy,
    device: str | None = None,
) -> Reviewer:
    """The active reviewer with this e-mail and password, or LoginRefused / LoginThrottled.

    `device` is the browser's device cookie: valid for this account, its
    failures count against the device instead of the account (see
    `review.throttle`). A failure is recorded in `session`, with its
    security events, before LoginRefused is raised: commit after catching
    it, or the failure does not count.
    """
    _check_now(now)
    reviewer = find_reviewer(session, email)
    known = throttle.known_device(session, reviewer, device, now)
    keys = [throttle.device_key(known[1]) if known else throttle.account_key(email)]
    if address and address.strip():
        keys.append(throttle.address_key(address))
    wait = throttle.blocked_for(session, keys, now)
    if wait is not None:
        raise LoginThrottled(wait)
    stored = reviewer.password_hash if reviewer is not None else _dummy_hash()
    matches = verify_password(stored, password)
    if reviewer is None or not matches or not reviewer.active:
        _refused(session, reviewer, matches, email, address, known, keys, now, policy)
        raise LoginRefused()
    throttle.clear(session, keys[0])
    if needs_rehash(reviewer.password_hash):
        reviewer.password_hash = hash_password(password)
        session.add(reviewer)
    return reviewer


def _refused(
    session: Session,
    reviewer: Reviewer | None,
    matches: bool,
    email: str,
    address: str | None,
    known: tuple[str, LoginDevice] | None,
    keys: list[str],
    now: dt.datetime,
    policy: AuthPolicy,
) -> None:
    """Count a refused login against its keys and record it (and any block it starts)."""
    actor = address.strip() if address and address.strip() else "okänd adress"
    subject = _normalized_email(email)
    browser = "känd webbläsare" if known else "okänd webbläsare"
    record_security_event(
        session,
        "security.login_failed",
        actor=actor,
        subject=subject,
        detail=f"{_refusal_reason(reviewer, matches)}; {browser}",
        now=now,
    )
    for key in keys:
        failures, block = throttle.count_failure(session, key, now, policy)
        kind = key.partition(":")[0]
        if block is not None:
            # Recorded when a block starts, not at every refused try during it: those cost
            # an attacker nothing and would let anyone fill the log.
            record_security_event(
                session,
                "security.login_throttled",
                actor=actor,
                subject=subject,
                detail=f"{_KEY_LABELS[kind]} spärrad i {math.ceil(block.total_seconds())} s "
                f"efter {failures} misslyckade försök",
                now=now,
            )
        if known is not None and kind == "device" and failures >= policy.device_untrust_after:
            throttle.revoke_device(session, known[1], now)
            record_security_event(
                session,
                "security.device_untrusted",
                actor=actor,
                subject=subject,
                detail=f"{failures} misslyckade försök från webbläsaren",
                now=now,
            )
