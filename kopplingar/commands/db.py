"""`kopplingar db upgrade|current`: the database schema, migrated with Alembic.

The database is the one the settings name (`KOPPLINGAR_DATABASE_URL`, or
SQLite in the data directory). `open_database` is shared with the other
groups that work on the registry. A server that cannot be reached is
`registry.DatabaseUnavailable` (exit 75, try again later) from the engine
itself; a URL or SQLite file that cannot be used is `DatabaseNotReady` (78).
`db current` exits 78 when a schema is not at the code's revision, so a
deploy script can check before it starts the services.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from kopplingar.database import upgrade_all
from kopplingar.settings import load_settings
from registry import (
    DatabaseNotReady,
    current_revision,
    head_revision,
    make_engine,
)
from workqueue import MIGRATIONS_DIR as QUEUE_MIGRATIONS
from workqueue import VERSION_TABLE as QUEUE_VERSION_TABLE

app = typer.Typer(help="Migrate the database and show its schema revision.", no_args_is_help=True)


@contextmanager
def open_database() -> Iterator[Engine]:
    """The configured database's engine, disposed afterwards; connection failures as one line."""
    settings = load_settings()
    settings.ensure_data_dir()
    url = settings.resolved_database_url()
    engine = make_engine(url)
    try:
        yield engine
    except OperationalError as exc:
        shown = make_url(url).render_as_string(hide_password=True) if "://" in url else url
        raise DatabaseNotReady(f"cannot use the database {shown}: {exc.orig}") from exc
    finally:
        engine.dispose()


@app.command("upgrade")
def upgrade() -> None:
    """Migrate the database to the newest schema revision (safe to run again)."""
    with open_database() as engine:
        results = upgrade_all(engine)
    for name, before, after in results:
        if before == after:
            print(f"{name}: database already at revision {after} (head)")
        else:
            print(f"{name}: database upgraded from {before or 'empty'} to revision {after} (head)")


@app.command("current")
def current() -> None:
    """Print each schema's revision and whether it is the newest."""
    with open_database() as engine:
        revisions = [
            ("registry", current_revision(engine), head_revision()),
            (
                "workqueue",
                current_revision(engine, version_table=QUEUE_VERSION_TABLE),
                head_revision(QUEUE_MIGRATIONS),
            ),
        ]
    behind = []
    for name, revision, head in revisions:
        if revision is None:
            print(f"{name}: not migrated (head is {head})")
            behind.append(name)
        elif revision == head:
            print(f"{name}: {revision} (head)")
        else:
            print(f"{name}: {revision} (head is {head})")
            behind.append(name)
    if behind:
        raise DatabaseNotReady(
            f"{' and '.join(behind)} not at the newest revision: run kopplingar db upgrade"
        )
