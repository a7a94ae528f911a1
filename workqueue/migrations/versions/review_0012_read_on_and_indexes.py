"""The day a submission's dates were checked as of; indexes for the back office's pages.

Revision ID: review_0012
Revises: review_0011
Create Date: 2026-12-04

Written from workqueue/models.py (`Submission.read_on`); the schema test compares the
two on SQLite and PostgreSQL. `read_on` is nullable: submissions read before it have
none, and the checks then use the day they came in. The indexes serve the statistics
(decisions by status and day) and the registry's company page (the submissions that
name an organisationsnummer, as read or as corrected; the latter partial, since almost
every field has no correction).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "review_0012"
down_revision: str | None = "review_0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("submissions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("read_on", sa.Date(), nullable=True))
        batch_op.create_index("ix_submissions_status_decided_at", ["status", "decided_at"])
    with op.batch_alter_table("submission_fields", schema=None) as batch_op:
        batch_op.create_index("ix_submission_fields_value", ["value"])
        batch_op.create_index(
            "ix_submission_fields_corrected_value",
            ["corrected_value"],
            sqlite_where=sa.text("corrected_value IS NOT NULL"),
            postgresql_where=sa.text("corrected_value IS NOT NULL"),
        )


def downgrade() -> None:
    with op.batch_alter_table("submission_fields", schema=None) as batch_op:
        batch_op.drop_index("ix_submission_fields_corrected_value")
        batch_op.drop_index("ix_submission_fields_value")
    with op.batch_alter_table("submissions", schema=None) as batch_op:
        batch_op.drop_index("ix_submissions_status_decided_at")
        batch_op.drop_column("read_on")
