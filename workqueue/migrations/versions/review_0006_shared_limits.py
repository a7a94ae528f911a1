"""Rate-limit counters shared by every web process.

Revision ID: review_0006
Revises: review_0005
Create Date: 2026-12-03

Written from workqueue/limits.py; the schema test compares the two on SQLite and
PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "review_0006"
down_revision: str | None = "review_0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rate_limit_keys",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("touched_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_rate_limit_keys")),
    )
    with op.batch_alter_table("rate_limit_keys", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_rate_limit_keys_touched_at"), ["touched_at"], unique=False
        )
    op.create_table(
        "rate_limit_hits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rate_limit_hits")),
    )
    with op.batch_alter_table("rate_limit_hits", schema=None) as batch_op:
        batch_op.create_index("ix_rate_limit_hits_key_at", ["key", "at"], unique=False)


def downgrade() -> None:
    op.drop_table("rate_limit_hits")
    op.drop_table("rate_limit_keys")
