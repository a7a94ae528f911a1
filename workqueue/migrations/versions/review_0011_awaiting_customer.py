"""Asking the customer for what is missing: the status `awaiting_customer` and its record.

Revision ID: review_0011
Revises: review_0010
Create Date: 2026-12-04

Written from workqueue/models.py (`SubmissionStatus.AWAITING_CUSTOMER`, the
`Submission.info_*` columns); the schema test compares the two on SQLite and
PostgreSQL. The status is a string with a CHECK constraint (`registry.string_enum`),
so the new value is the constraint dropped and made again with it; on SQLite the
batch copies the table, as every earlier change to `submissions` did.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "review_0011"
down_revision: str | None = "review_0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BEFORE = ("queued", "unreadable", "approved", "applied", "rejected")
_AFTER = (*_BEFORE, "awaiting_customer")


def _status(values: tuple[str, ...]) -> sa.Enum:
    return sa.Enum(
        *values,
        name="submission_status",
        native_enum=False,
        create_constraint=True,
        length=20,
    )


def upgrade() -> None:
    with op.batch_alter_table("submissions", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_submissions_submission_status"), type_="check")
        batch_op.alter_column(
            "status", existing_type=sa.String(length=20), type_=_status(_AFTER),
            existing_nullable=False,
        )
        batch_op.add_column(
            sa.Column("info_requested_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("info_requested_by", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("info_reason_code", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("info_reason", sa.String(length=1000), nullable=True))
        batch_op.add_column(sa.Column("info_party", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("info_note", sa.String(length=1000), nullable=True))
        batch_op.add_column(
            sa.Column("info_reminders", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("info_reminded_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_submissions_info_requested_by_reviewers"),
            "reviewers",
            ["info_requested_by"],
            ["id"],
        )


def downgrade() -> None:
    # A submission still waiting goes back to the queue: the old constraint has no such status.
    op.execute(
        "UPDATE submissions SET status = 'queued' WHERE status = 'awaiting_customer'"
    )
    with op.batch_alter_table("submissions", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_submissions_info_requested_by_reviewers"), type_="foreignkey"
        )
        batch_op.drop_column("info_reminded_at")
        batch_op.drop_column("info_reminders")
        batch_op.drop_column("info_note")
        batch_op.drop_column("info_party")
        batch_op.drop_column("info_reason")
        batch_op.drop_column("info_reason_code")
        batch_op.drop_column("info_requested_by")
        batch_op.drop_column("info_requested_at")
        batch_op.drop_constraint(batch_op.f("ck_submissions_submission_status"), type_="check")
        batch_op.alter_column(
            "status", existing_type=sa.String(length=20), type_=_status(_BEFORE),
            existing_nullable=False,
        )
