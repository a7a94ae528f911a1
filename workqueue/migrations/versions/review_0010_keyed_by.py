"""Who keyed a submission's values by hand, when no machine could read its page.

Revision ID: review_0010
Revises: review_0009
Create Date: 2026-12-04

Written from workqueue/models.py (`Submission.keyed_by`); the schema test compares the
two on SQLite and PostgreSQL. Nullable: a submission read by the intake has none.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "review_0010"
down_revision: str | None = "review_0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("submissions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("keyed_by", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_submissions_keyed_by_reviewers"), "reviewers", ["keyed_by"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("submissions", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_submissions_keyed_by_reviewers"), type_="foreignkey"
        )
        batch_op.drop_column("keyed_by")
