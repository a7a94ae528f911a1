"""The database: engines for SQLite and PostgreSQL, sessions, and the schema's revision.

The schema is owned by the Alembic migrations in `registry/migrations/`; they
are found from this package's path, so they run the same from a checkout and
from an installed wheel, without an alembic.ini. `upgrade_database` is the
only way tables are created; nothing calls `create_all`.

To write a new migration in a checkout (against a database at head)::

    from alembic import command
    cfg = alembic_config(connection)   # inside engine.begin()
    command.revision(cfg, message="...", autogenerate=True)

then read and correct the generated file before committing it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.engine.url import URL
from sqlalchemy.exc import ArgumentError
from sqlmodel import Session

from registry.errors import DatabaseNotReady

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 5000
# Any fixed number; it keeps two `db upgrade` runs on PostgreSQL from racing.
_PG_MIGRATION_LOCK = 0x6B6F70706C


def _normalise_url(url: str) -> URL:
    if url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise DatabaseNotReady(
            "database URL is not a URL; use sqlite:///path/to/file.db or "
            "postgresql://user@host/dbname"
        ) from None
    backend, _, driver = parsed.drivername.partition("+")
    if backend == "postgresql":
        if driver not in ("", "psycopg"):
            raise DatabaseNotReady(
                f"PostgreSQL driver {driver!r} is not installed; kopplingar uses psycopg 3 "
                "(postgresql://... or postgresql+psycopg://...)"
            )
        return parsed.set(drivername="postgresql+psycopg")
    if backend == "sqlite" and driver in ("", "pysqlite"):
        return parsed
    raise DatabaseNotReady(
        f"unsupported database {parsed.render_as_string(hide_password=True)}: "
        "use sqlite:///path/to/file.db or postgresql://user@host/dbname"
    )


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    cursor = dbapi_connection.cursor()
    try:
        # WAL lets readers (the web pages) go on while the intake writes.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    finally:
        cursor.close()


def make_engine(url: str) -> Engine:
    """An engine for `sqlite:///path` or `postgresql://...` (also `postgres://`).

    For SQLite the file's directory is created and every connection gets WAL,
    foreign keys and a busy timeout; PostgreSQL goes through psycopg 3.
    """
    parsed = _normalise_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            path = Path(database)
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise DatabaseNotReady(
                    f"cannot create {path.parent} for the database: {exc}"
                ) from exc
        engine = sa.create_engine(parsed)
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return sa.create_engine(parsed, pool_pre_ping=True)


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that commits when the block ends normally and rolls back otherwise.

    Objects stay readable after the commit (no expiry), so a caller can hand
    what it loaded to a template or a printer after the block.
    """
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def alembic_config(connection: sa.Connection | None = None) -> Config:
    """The Alembic configuration for the registry's migrations, bound to `connection`."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def head_revision() -> str:
    head = _scripts().get_current_head()
    if head is None:
        raise DatabaseNotReady(f"no migrations found in {MIGRATIONS_DIR}")
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None for a database never migrated."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade_database(engine: Engine) -> tuple[str | None, str]:
    """Bring the schema to the newest revision; returns (revision before, revision after)."""
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(sa.select(sa.func.pg_advisory_xact_lock(_PG_MIGRATION_LOCK)))
        before = MigrationContext.configure(connection).get_current_revision()
        command.upgrade(alembic_config(connection), "head")
        after = MigrationContext.configure(connection).get_current_revision()
    assert after is not None, "alembic upgrade head left no revision"
    return before, after


def require_current(engine: Engine) -> None:
    """Refuse to work on a database whose schema is not the one this code expects."""
    current = current_revision(engine)
    head = head_revision()
    if current == head:
        return
    if current is None:
        raise DatabaseNotReady("database not migrated: run kopplingar db upgrade")
    if current not in {script.revision for script in _scripts().walk_revisions()}:
        raise DatabaseNotReady(
            f"database is at revision {current}, which this version of kopplingar does not "
            "know: a newer version migrated it"
        )
    raise DatabaseNotReady(
        f"database is at revision {current}, this version needs {head}: run kopplingar db upgrade"
    )
