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

from registry.errors import DatabaseNotReady, DatabaseUnavailable

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
    else:
        engine = sa.create_engine(parsed, pool_pre_ping=True)
    sa.event.listen(engine, "handle_error", _unreachable_as_ours)
    return engine


def _unreachable_as_ours(context: sa.engine.ExceptionContext) -> None:
    """A server we cannot reach becomes one of our errors, with the URL and no traceback.

    Only failures to connect (no connection yet) are translated, so a live
    connection is always cleaned up by SQLAlchemy as usual: PostgreSQL down or
    restarting is worth retrying
    (`DatabaseUnavailable`, EX_TEMPFAIL), a SQLite file that cannot be opened is
    a wrong path or permission (`DatabaseNotReady`, EX_CONFIG). Errors of a
    statement on a live connection stay SQLAlchemy's, for the code that ran it.
    """
    if context.connection is not None:
        return
    unreachable = (sa.exc.OperationalError, sa.exc.InterfaceError)
    if not isinstance(context.sqlalchemy_exception, unreachable):
        return
    url = context.engine.url if context.engine is not None else None
    shown = url.render_as_string(hide_password=True) if url is not None else "the database"
    reason = str(context.original_exception).strip().splitlines()
    detail = reason[0] if reason else type(context.original_exception).__name__
    if url is not None and url.get_backend_name() == "sqlite":
        raise DatabaseNotReady(f"cannot open the database {shown}: {detail}")
    raise DatabaseUnavailable(f"the database {shown} cannot be reached: {detail}")


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


def alembic_config(
    connection: sa.Connection | None = None,
    *,
    script_location: Path = MIGRATIONS_DIR,
    version_table: str = "alembic_version",
) -> Config:
    """An Alembic configuration for a set of migrations, bound to `connection`.

    Other packages with tables of their own (the review queue) keep their own
    migrations and version table and come through here too, so every schema
    is upgraded the same way under the same lock.
    """
    config = Config()
    config.set_main_option("script_location", str(script_location))
    config.attributes["connection"] = connection
    config.attributes["version_table"] = version_table
    return config


def _scripts(script_location: Path = MIGRATIONS_DIR) -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config(script_location=script_location))


def head_revision(script_location: Path = MIGRATIONS_DIR) -> str:
    head = _scripts(script_location).get_current_head()
    if head is None:
        raise DatabaseNotReady(f"no migrations found in {script_location}")
    return head


def current_revision(engine: Engine, *, version_table: str = "alembic_version") -> str | None:
    """The revision the database is at, or None for a database never migrated."""
    with engine.connect() as connection:
        return MigrationContext.configure(
            connection, opts={"version_table": version_table}
        ).get_current_revision()


def upgrade_migrations(
    engine: Engine, *, script_location: Path, version_table: str, target: str = "head"
) -> tuple[str | None, str]:
    """Bring one set of migrations to `target` (its head); returns (revision before, after)."""
    opts = {"version_table": version_table}
    sqlite = engine.dialect.name == "sqlite"
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(sa.select(sa.func.pg_advisory_xact_lock(_PG_MIGRATION_LOCK)))
        if sqlite:
            # SQLite alters a table by copying it; with foreign keys on, dropping the
            # old copy fails as soon as other tables point at it. And Python's sqlite3
            # only opens a transaction before DML, so CREATE TABLE would commit on its
            # own: BEGIN here makes the whole upgrade one transaction. (PRAGMA
            # foreign_keys is ignored inside a transaction, hence before BEGIN.)
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        before = MigrationContext.configure(connection, opts=opts).get_current_revision()
        config = alembic_config(
            connection, script_location=script_location, version_table=version_table
        )
        command.upgrade(config, target)
        after = MigrationContext.configure(connection, opts=opts).get_current_revision()
        if sqlite:
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if broken:
                raise DatabaseNotReady(
                    f"the upgrade would break {len(broken)} foreign keys (first: {broken[0]}); "
                    "nothing was changed"
                )
    if sqlite:
        # The migration's connection still has foreign keys off: never hand it out again.
        engine.dispose()
    assert after is not None, "alembic upgrade head left no revision"
    return before, after


def upgrade_database(engine: Engine) -> tuple[str | None, str]:
    """Bring the registry's schema to the newest revision; (revision before, after)."""
    return upgrade_migrations(
        engine, script_location=MIGRATIONS_DIR, version_table="alembic_version"
    )


def require_migrated(engine: Engine, *, script_location: Path, version_table: str) -> None:
    """Refuse to work on a database whose schema is not the one this code expects."""
    current = current_revision(engine, version_table=version_table)
    head = head_revision(script_location)
    if current == head:
        return
    if current is None:
        raise DatabaseNotReady("database not migrated: run kopplingar db upgrade")
    if current not in {script.revision for script in _scripts(script_location).walk_revisions()}:
        raise DatabaseNotReady(
            f"database is at revision {current}, which this version of kopplingar does not "
            "know: a newer version migrated it"
        )
    raise DatabaseNotReady(
        f"database is at revision {current}, this version needs {head}: run kopplingar db upgrade"
    )


def require_current(engine: Engine) -> None:
    """Refuse to work on a database whose registry schema is not this code's."""
    require_migrated(engine, script_location=MIGRATIONS_DIR, version_table="alembic_version")
