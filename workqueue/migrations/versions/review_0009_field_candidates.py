"""The registry's candidates for a field (names, e-mail addresses), shown to the reviewer.

Revision ID: review_0009
Revises: review_0008
Create Date: 2026-12-03

Written from workqueue/models.py (`SubmissionField.candidates`); the schema test compares
the two on SQLite and PostgreSQL. Nullable: submissions queued before have none.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "review_0009"
down_revision: str | None = "review_0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("submission_fields", schema=None) as batch_op:
        batch_op.add_column(sa.Column("candidates", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("submission_fields", schema=None) as batch_op:
        batch_op.drop_column("candidates")
