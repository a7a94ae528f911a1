"""The reviewer tables: reviewers, their sessions, login throttling.

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
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

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


class LoginThrottle(QueueModel, table=True):
    __tablename__ = "login_throttle"

    key: str = Field(primary_key=True, max_length=300)  # "account:<email>" or "address:<ip>"
    failures: int = 0
    first_failure_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    blocked_until: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
