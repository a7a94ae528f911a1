"""The work queue's tables: submissions and what the machine read from them.

A submission is one form found in one input (a file given to `intake file`,
or a mail attachment): its source, its pages, every field with value, confidence and
crop, the signatures, and the findings. An input that could not be read at
all is still a submission, status `unreadable`, with the reason and the page
images, so a person sees it. Images live in the content-addressed store
(`workqueue.store`); rows keep their sha256.

An approval despite a blocking finding that needs four eyes is an
`OverrideRequest` until a second reviewer answers it; `FourEyesRule` holds
an admin's per-code choice (the rules are `review.four_eyes`).

The queue has its own metadata and migrations, next to the registry's. The
version table keeps its first name, `alembic_version_review`, and the
revisions theirs (`review_0001`...), so databases migrated before the queue
left `review/` go on without a data migration. The reviewer tables
(`workqueue.reviewers`) share this metadata and this chain of migrations:
claims and decisions refer to reviewers, and one chain keeps the foreign keys
in order.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import registry as orm_registry
from sqlmodel import Field, SQLModel

from registry import NAMING_CONVENTION, UTCDateTime, string_enum, utcnow

QUEUE_METADATA = sa.MetaData(naming_convention=NAMING_CONVENTION)


class SubmissionStatus(StrEnum):
    QUEUED = "queued"
    UNREADABLE = "unreadable"
    APPROVED = "approved"
    APPLIED = "applied"
    REJECTED = "rejected"
    # Asked the customer for what is missing (review.waiting); their reply by mail
    # joins it again (workqueue.awaiting), else it is reminded once and then closed.
    AWAITING_CUSTOMER = "awaiting_customer"


class QueueModel(SQLModel, registry=orm_registry(metadata=QUEUE_METADATA)):
    pass


class Submission(QueueModel, table=True):
    __tablename__ = "submissions"
    __table_args__ = (
        sa.Index("ix_submissions_status_created_at", "status", "created_at"),
        sa.Index("ix_submissions_status_min_confidence", "status", "min_confidence"),
        # The statistics' decisions per day and per reviewer, without reading every row.
        sa.Index("ix_submissions_status_decided_at", "status", "decided_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    status: SubmissionStatus = Field(sa_type=string_enum(SubmissionStatus, "submission_status"))
    kind: str | None = Field(default=None, max_length=20)
    form_id: str | None = Field(default=None, max_length=10, index=True)
    form_version: str | None = Field(default=None, max_length=20)
    source_kind: str = Field(max_length=20)  # "file", "mail"
    source_name: str = Field(max_length=300)  # shown to people, never used as a path
    source_sha256: str = Field(max_length=64, index=True)
    document_index: int = 0  # which form within the source
    quality_mm: float | None = None
    min_confidence: float | None = None  # least sure field: "least sure first" sorting
    unreadable_reason: str | None = Field(default=None, max_length=500)
    blocking_findings: int = 0
    warning_findings: int = 0
    # The mail it came in, when it came by mail (sender, subject, the raw message).
    inbound_message_id: int | None = Field(
        default=None, foreign_key="inbound_messages.id", index=True
    )
    # Claiming: one reviewer at a time, for a limited time.
    claimed_by: int | None = Field(default=None, foreign_key="reviewers.id")
    claimed_until: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The decision.
    decided_by: int | None = Field(default=None, foreign_key="reviewers.id")
    decided_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    decision_reason: str | None = Field(default=None, max_length=1000)  # why rejected
    override_reason: str | None = Field(default=None, max_length=1000)  # approved despite findings
    applied_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    # A reviewer who keyed the values off the page image (review.keying); None: read.
    keyed_by: int | None = Field(default=None, foreign_key="reviewers.id")
    # The day the intake's date checks were made as of (IntakeContext.today), so that the
    # checks run again after a correction (review.revalidate) judge the dates the same way.
    read_on: dt.date | None = None
    # The last request to the customer for what is missing (review.waiting): when, by
    # whom, why (the code, the Swedish sentence the customer was sent, the party whose
    # signature is missing, the reviewer's note), and how many reminders went out since.
    # Kept after the reply, as the history of the case.
    info_requested_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    info_requested_by: int | None = Field(default=None, foreign_key="reviewers.id")
    info_reason_code: str | None = Field(default=None, max_length=40)
    info_reason: str | None = Field(default=None, max_length=1000)
    info_party: str | None = Field(default=None, max_length=40)  # whose signature is missing
    info_note: str | None = Field(default=None, max_length=1000)  # the reviewer's own words
    info_reminders: int = 0
    info_reminded_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)


class SubmissionPage(QueueModel, table=True):
    __tablename__ = "submission_pages"
    __table_args__ = (sa.UniqueConstraint("submission_id", "position"),)

    id: int | None = Field(default=None, primary_key=True)
    submission_id: int = Field(foreign_key="submissions.id", index=True)
    position: int  # order within the submission
    source_page: int  # page index within the source file
    image_sha256: str = Field(max_length=64)  # the page as received
    aligned_sha256: str | None = Field(default=None, max_length=64)  # canonical, if aligned


class SubmissionField(QueueModel, table=True):
    __tablename__ = "submission_fields"
    __table_args__ = (
        sa.UniqueConstraint("submission_id", "name"),
        # The registry's company page: which submissions name this organisationsnummer,
        # as read or as corrected (workqueue.concerning). Corrections are rare, so partial.
        sa.Index("ix_submission_fields_value", "value"),
        sa.Index(
            "ix_submission_fields_corrected_value",
            "corrected_value",
            sqlite_where=sa.text("corrected_value IS NOT NULL"),
            postgresql_where=sa.text("corrected_value IS NOT NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    submission_id: int = Field(foreign_key="submissions.id", index=True)
    name: str = Field(max_length=60)
    value: str = Field(max_length=300)
    raw: str = Field(max_length=300)
    confidence: float
    crop_sha256: str | None = Field(default=None, max_length=64)
    ink_outside_print: float = 0.0
    corrected_value: str | None = Field(default=None, max_length=300)
    # The registry's likeliest values, best first, as offered to the reviewer:
    # [{"value": ..., "score": 0..1, "note": ...}]; None where there were none.
    candidates: list[dict[str, Any]] | None = Field(default=None, sa_type=sa.JSON)


class SubmissionSignature(QueueModel, table=True):
    __tablename__ = "submission_signatures"
    __table_args__ = (sa.UniqueConstraint("submission_id", "party"),)

    id: int | None = Field(default=None, primary_key=True)
    submission_id: int = Field(foreign_key="submissions.id", index=True)
    party: str = Field(max_length=40)
    state: str = Field(max_length=10)  # signed, empty, unsure
    ink: float
    crop_sha256: str | None = Field(default=None, max_length=64)


class SubmissionFinding(QueueModel, table=True):
    __tablename__ = "submission_findings"

    id: int | None = Field(default=None, primary_key=True)
    submission_id: int = Field(foreign_key="submissions.id", index=True)
    code: str = Field(max_length=60, index=True)
    severity: str = Field(max_length=10)  # info, warning, blocking
    message: str = Field(max_length=1000)
    field: str | None = Field(default=None, max_length=60)


class OverrideState(StrEnum):
    PENDING = "pending"  # waits for a second reviewer
    CONFIRMED = "confirmed"  # a second reviewer confirmed it: the linkage was applied
    DECLINED = "declined"  # a second reviewer said no: back in the queue
    WITHDRAWN = "withdrawn"  # the submission changed or was decided otherwise meanwhile


class OverrideRequest(QueueModel, table=True):
    """An approval despite a blocking finding under four eyes, waiting for a second reviewer.

    `fingerprint` is the submission's fields and findings when the request was
    made: a confirmation of anything else is refused (`review.four_eyes`).
    """

    __tablename__ = "override_requests"
    __table_args__ = (
        sa.Index("ix_override_requests_state_submission_id", "state", "submission_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    submission_id: int = Field(foreign_key="submissions.id", index=True)
    state: OverrideState = Field(sa_type=string_enum(OverrideState, "override_state"))
    requested_by: int = Field(foreign_key="reviewers.id")
    requested_at: dt.datetime = Field(sa_type=UTCDateTime)
    reason: str = Field(max_length=1000)
    codes: str = Field(max_length=1000)  # the finding codes it overrides, space-separated
    fingerprint: str = Field(max_length=64)
    answered_by: int | None = Field(default=None, foreign_key="reviewers.id")
    answered_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    answer_reason: str | None = Field(default=None, max_length=1000)


class FourEyesRule(QueueModel, table=True):
    """An admin's choice for one finding code; codes without a row keep the default in code."""

    __tablename__ = "four_eyes_rules"

    code: str = Field(primary_key=True, max_length=60)
    required: bool
    changed_by: int = Field(foreign_key="reviewers.id")
    changed_at: dt.datetime = Field(sa_type=UTCDateTime)
