"""The work queue's schema: its own migrations (in `migrations/`) beside the registry's."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from registry import require_migrated, upgrade_migrations

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
VERSION_TABLE = "alembic_version_review"


def upgrade_queue(engine: Engine) -> tuple[str | None, str]:
    return upgrade_migrations(engine, script_location=MIGRATIONS_DIR, version_table=VERSION_TABLE)


def require_queue_current(engine: Engine) -> None:
    require_migrated(engine, script_location=MIGRATIONS_DIR, version_table=VERSION_TABLE)
