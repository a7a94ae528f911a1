"""Second-reviewer confirmation of overrides on blocking findings, and the per-finding-code switch.

Revision ID: review_0007
Revises: review_0006
Create Date: 2026-12-03

Written from workqueue/models.py; the schema test compares the two on SQLite and
PostgreSQL. No rows are seeded: a code without a row in `four_eyes_rules` keeps
the default in `review.four_eyes`, so codes added later get a sane default too.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "review_0007"
down_revision: str | None = "review_0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "four_eyes_rules",
        sa.Column("code", sa.String(length=60), nullable=False),
        sa.Column("required", sa.Boolean(), nullable=False),
        sa.Column("changed_by", sa.Integer(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["changed_by"], ["reviewers.id"], name=op.f("fk_four_eyes_rules_changed_by_reviewers")
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_four_eyes_rules")),
    )
    op.create_table(
        "override_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("submission_id", sa.Integer(), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "pending",
                "confirmed",
                "declined",
                "withdrawn",
                name="override_state",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("requested_by", sa.Integer(), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(length=1000), nullable=False),
        sa.Column("codes", sa.String(length=1000), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("answered_by", sa.Integer(), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answer_reason", sa.String(length=1000), nullable=True),
        sa.ForeignKeyConstraint(
            ["answered_by"],
            ["reviewers.id"],
            name=op.f("fk_override_requests_answered_by_reviewers"),
        ),
        sa.ForeignKeyConstraint(
            ["requested_by"],
            ["reviewers.id"],
            name=op.f("fk_override_requests_requested_by_reviewers"),
        ),
        sa.ForeignKeyConstraint(
            ["submission_id"],
            ["submissions.id"],
            name=op.f("fk_override_requests_submission_id_submissions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_override_requests")),
    )
    with op.batch_alter_table("override_requests", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_override_requests_submission_id"), ["submission_id"], unique=False
        )
        batch_op.create_index(
            "ix_override_requests_state_submission_id", ["state", "submission_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("override_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_override_requests_state_submission_id")
        batch_op.drop_index(batch_op.f("ix_override_requests_submission_id"))
    op.drop_table("override_requests")
    op.drop_table("four_eyes_rules")
