"""Login throttling per account and device (device cookies) and the security events it records.

Revision ID: review_0008
Revises: review_0007
Create Date: 2026-12-03

Written from workqueue/reviewers.py; the schema test compares the two on SQLite and
PostgreSQL. The security events themselves are rows of the registry's
`audit_events` and need no table of their own.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "review_0008"
down_revision: str | None = "review_0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "login_devices",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("reviewer_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["reviewer_id"], ["reviewers.id"], name=op.f("fk_login_devices_reviewer_id_reviewers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_devices")),
    )
    with op.batch_alter_table("login_devices", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_login_devices_reviewer_id"), ["reviewer_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("login_devices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_login_devices_reviewer_id"))
    op.drop_table("login_devices")
