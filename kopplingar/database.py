"""Every schema the application has, migrated and checked together.

The registry and the work queue each own their tables and migrations;
the composition root knows both and runs them in dependency order (the
queue refers to issued forms, so the registry goes first).
"""

from __future__ import annotations

from sqlalchemy import Engine

from registry import require_current, upgrade_database
from workqueue import require_queue_current, upgrade_queue


def upgrade_all(engine: Engine) -> list[tuple[str, str | None, str]]:
    """Migrate every schema; (name, revision before, revision after) for each."""
    results = []
    for name, upgrade in (("registry", upgrade_database), ("workqueue", upgrade_queue)):
        before, after = upgrade(engine)
        results.append((name, before, after))
    return results


def require_all_current(engine: Engine) -> None:
    require_current(engine)
    require_queue_current(engine)
