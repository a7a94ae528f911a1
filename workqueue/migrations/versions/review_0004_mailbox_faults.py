"""Per-message processing attempts, quarantine release and reasons for people (mailbox).

Revision ID: review_0004
Revises: review_0003
Create Date: 2026-12-03

Written from workqueue/mailmodels.py; the schema test compares the two on SQLite and
PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "review_0004"
down_revision: str | None = "review_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("inbound_messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("working_since", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("reading_since", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("reason_code", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("reason_sv", sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column("released_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("released_by", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_inbound_messages_released_by_reviewers"),
            "reviewers",
            ["released_by"],
            ["id"],
        )

    with op.batch_alter_table("inbound_attachments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reason_code", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("reason_sv", sa.String(length=500), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("inbound_attachments", schema=None) as batch_op:
        batch_op.drop_column("reason_sv")
        batch_op.drop_column("reason_code")
    with op.batch_alter_table("inbound_messages", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_inbound_messages_released_by_reviewers"), type_="foreignkey"
        )
        batch_op.drop_column("released_by")
        for column in ("released_at", "reason_sv", "reason_code", "reading_since", "working_since"):
            batch_op.drop_column(column)
