"""Reviewer accounts: second factor (TOTP) and recovery codes, forced password change.

Revision ID: review_0005
Revises: review_0004
Create Date: 2026-12-03

Written from workqueue/reviewers.py; the schema test compares the two on SQLite and
PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "review_0005"
down_revision: str | None = "review_0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Existing rows get False: nobody already in the table is forced to change or is half-in.
    with op.batch_alter_table("reviewers", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "must_change_password", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )
        batch_op.add_column(sa.Column("totp_secret", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("totp_enabled_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("totp_last_step", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("totp_pending_secret", sa.String(length=64), nullable=True))
    with op.batch_alter_table("review_sessions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "second_factor_pending", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )
    op.create_table(
        "review_recovery_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reviewer_id", sa.Integer(), nullable=False),
        sa.Column("code_sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["reviewer_id"],
            ["reviewers.id"],
            name=op.f("fk_review_recovery_codes_reviewer_id_reviewers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_recovery_codes")),
        sa.UniqueConstraint("code_sha256", name=op.f("uq_review_recovery_codes_code_sha256")),
    )
    with op.batch_alter_table("review_recovery_codes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_review_recovery_codes_reviewer_id"), ["reviewer_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("review_recovery_codes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_review_recovery_codes_reviewer_id"))
    op.drop_table("review_recovery_codes")
    with op.batch_alter_table("review_sessions", schema=None) as batch_op:
        batch_op.drop_column("second_factor_pending")
    with op.batch_alter_table("reviewers", schema=None) as batch_op:
        for column in (
            "totp_pending_secret", "totp_last_step", "totp_enabled_at", "totp_secret",
            "must_change_password",
        ):  # fmt: skip
            batch_op.drop_column(column)
