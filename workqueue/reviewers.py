"""The reviewer tables: reviewers, their sessions, recovery codes, login throttling.

They live in the queue's package, not in `review`, because the queue's own
rows refer to them (a submission's `claimed_by` and `decided_by`): every
process that writes a submission, the mailbox readers included, must know
the `reviewers` table, and none of them should have to load the reviewer
pages to get it. The rules over these tables (passwords, sessions,
throttling) are `review.auth`.

A session row is keyed by the sha256 of the token in the cookie, so a copy of
the database cannot be replayed as a login; it has an idle and an absolute
expiry and an `ended_at`, so logout and disabling an account end it on the
server whatever the browser still holds. `LoginThrottle` counts failures per
key (an account, an address) with a block that grows but is capped, so it
slows guessing without letting anyone lock a reviewer out for good.

A reviewer's TOTP secret is stored as it is (the server must compute the
codes), so the table deserves the protection of the password hashes next to
it; the recovery codes are stored only as the sha256 of a 80-bit random code.
A session made by the password alone is `second_factor_pending` until the
code is given, and opens nothing but the code page.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field

from registry import UTCDateTime, string_enum, utcnow
from workqueue.models import QueueModel


class ReviewerRole(StrEnum):
    REVIEWER = "reviewer"
    ADMIN = "admin"


class Reviewer(QueueModel, table=True):
    __tablename__ = "reviewers"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=254, unique=True)  # lower-cased; the login name
    name: str = Field(max_length=200)
    role: ReviewerRole = Field(sa_type=string_enum(ReviewerRole, "reviewer_role"))
    password_hash: str = Field(max_length=300)  # argon2id, PHC string
    active: bool = True
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    password_changed_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # Set with a password an admin chose: the reviewer must pick their own before anything else.
    must_change_password: bool = False
    totp_secret: str | None = Field(default=None, max_length=64)  # base32; None: no second factor
    totp_enabled_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The last time step a code was accepted for: that code, and older ones, never work again.
    totp_last_step: int | None = Field(default=None, sa_type=sa.BigInteger)
    # A secret shown at enrolment, switched on only once a code from it has been confirmed.
    totp_pending_secret: str | None = Field(default=None, max_length=64)


class ReviewSession(QueueModel, table=True):
    __tablename__ = "review_sessions"

    id: str = Field(primary_key=True, max_length=64)  # sha256 hex of the cookie's token
    reviewer_id: int = Field(foreign_key="reviewers.id", index=True)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_seen_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: dt.datetime = Field(sa_type=UTCDateTime)  # absolute end
    ended_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    csrf_token: str = Field(max_length=64)
    client_address: str | None = Field(default=None, max_length=45)
    user_agent: str | None = Field(default=None, max_length=200)
    # Password given, second factor not yet: the session opens only the code page.
    second_factor_pending: bool = False


class RecoveryCode(QueueModel, table=True):
    """One single-use recovery code, instead of a TOTP code; only its sha256 is kept."""

    __tablename__ = "review_recovery_codes"

    id: int | None = Field(default=None, primary_key=True)
    reviewer_id: int = Field(foreign_key="reviewers.id", index=True)
    code_sha256: str = Field(max_length=64, unique=True)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    used_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)


class LoginThrottle(QueueModel, table=True):
    __tablename__ = "login_throttle"

    key: str = Field(primary_key=True, max_length=300)  # "account:<email>" or "address:<ip>"
    failures: int = 0
    first_failure_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    blocked_until: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)


class LoginDevice(QueueModel, table=True):
    """A browser a reviewer logged in from: the device cookie's token, only its sha256 kept.

    Failures from a known device are throttled under the key `device:<id>`
    instead of the account's, so strangers guessing at the account elsewhere
    cannot lock its owner out of their own browser. A device stops counting
    when it expires, is revoked (too many failures with it) or is older than
    the reviewer's `password_changed_at`.
    """

    __tablename__ = "login_devices"

    id: str = Field(primary_key=True, max_length=64)  # sha256 hex of the cookie's token
    reviewer_id: int = Field(foreign_key="reviewers.id", index=True)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_used_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: dt.datetime = Field(sa_type=UTCDateTime)
    revoked_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
