"""The migrations against the models, the open-connection rule, engines and revisions."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from registry import (
    REGISTRY_METADATA,
    AuditEvent,
    Company,
    CompanyKind,
    Connection,
    ConnectionRole,
    DatabaseNotReady,
    current_revision,
    head_revision,
    make_engine,
    require_current,
    session_scope,
    upgrade_database,
)


@pytest.fixture
def registry_only(db_url: str) -> Iterator[Engine]:
    # The registry's migrations alone: other packages' tables would show as extra here.
    engine = make_engine(db_url)
    upgrade_database(engine)
    yield engine
    engine.dispose()


def test_migrated_schema_matches_the_models(registry_only: Engine) -> None:
    with registry_only.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, REGISTRY_METADATA) == []
        tables = set(sa.inspect(connection).get_table_names())
    assert tables == set(REGISTRY_METADATA.tables) | {"alembic_version"}


def test_check_constraints_have_the_models_names(engine: Engine) -> None:
    # compare_metadata does not compare CHECK constraints; a later migration needs their names.
    inspector = sa.inspect(engine)
    for table in REGISTRY_METADATA.sorted_tables:
        expected = {
            str(c.name) for c in table.constraints if isinstance(c, sa.CheckConstraint)
        }
        found = {c["name"] for c in inspector.get_check_constraints(table.name)}
        assert found == expected, table.name


def test_open_connection_index_is_partial_and_unique(engine: Engine) -> None:
    # compare_metadata does not look at an index's WHERE clause, so check it here.
    indexes = {i["name"]: i for i in sa.inspect(engine).get_indexes("connections")}
    index = indexes["uq_connections_open"]
    assert index["unique"] and index["column_names"] == ["client_id", "firm_id", "role"]
    where = str(index.get("dialect_options", {}).get(f"{engine.dialect.name}_where", ""))
    assert "until IS NULL" in where.replace('"', "").replace("(", "").replace(")", "")


def test_upgrade_is_idempotent_and_reports_revisions(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        assert current_revision(engine) is None
        with pytest.raises(DatabaseNotReady, match="run kopplingar db upgrade"):
            require_current(engine)
        assert upgrade_database(engine) == (None, head_revision())
        assert upgrade_database(engine) == (head_revision(), head_revision())
        assert current_revision(engine) == head_revision()
        require_current(engine)
    finally:
        engine.dispose()


def _companies(engine: Engine) -> tuple[int, int, int]:
    with session_scope(engine) as session:
        client = Company(orgnr="556123-4567", name="Hjortens Bageri AB", kind=CompanyKind.CLIENT)
        firm = Company(orgnr="559876-5435", name="Tallbackens Redovisning AB",
                       kind=CompanyKind.ACCOUNTING_FIRM)
        other = Company(orgnr="556555-1230", name="Granlunds Revisionsbyrå AB",
                        kind=CompanyKind.AUDIT_FIRM)
        session.add_all([client, firm, other])
        session.flush()
        assert client.id and firm.id and other.id
        return client.id, firm.id, other.id


def test_at_most_one_open_connection_per_client_firm_and_role(engine: Engine) -> None:
    client, firm, audit = _companies(engine)
    accounting = ConnectionRole.ACCOUNTING
    with session_scope(engine) as session:
        session.add(Connection(client_id=client, firm_id=firm, role=accounting,
                               since=dt.date(2019, 1, 1)))
        session.add(Connection(client_id=client, firm_id=audit, role=ConnectionRole.AUDIT,
                               since=dt.date(2019, 1, 1)))
    with pytest.raises(IntegrityError), session_scope(engine) as session:
        session.add(Connection(client_id=client, firm_id=firm, role=accounting,
                               since=dt.date(2021, 1, 1)))
    with session_scope(engine) as session:
        first = session.exec(select(Connection).where(Connection.firm_id == firm)).one()
        first.until = dt.date(2020, 12, 31)
        # Once the first has ended, the same pair may be connected again, and ended again.
        session.add(Connection(client_id=client, firm_id=firm, role=accounting,
                               since=dt.date(2021, 1, 1), until=dt.date(2022, 1, 1)))
        session.add(Connection(client_id=client, firm_id=firm, role=accounting,
                               since=dt.date(2022, 1, 1)))


def test_constraints_refuse_self_connection_and_reversed_period(engine: Engine) -> None:
    client, firm, _ = _companies(engine)
    with pytest.raises(IntegrityError), session_scope(engine) as session:
        session.add(Connection(client_id=client, firm_id=client, role=ConnectionRole.AUDIT,
                               since=dt.date(2020, 1, 1)))
    with pytest.raises(IntegrityError), session_scope(engine) as session:
        session.add(Connection(client_id=client, firm_id=firm, role=ConnectionRole.ACCOUNTING,
                               since=dt.date(2020, 1, 1), until=dt.date(2019, 1, 1)))


def test_timestamps_come_back_aware_utc(engine: Engine) -> None:
    stockholm = dt.timezone(dt.timedelta(hours=2))
    at = dt.datetime(2026, 6, 1, 14, 30, tzinfo=stockholm)
    with session_scope(engine) as session:
        session.add(AuditEvent(at=at, actor="t", action="a", subject="s", after={"å": [1]}))
    with session_scope(engine) as session:
        event = session.exec(select(AuditEvent)).one()
    assert event.at == at and event.at.tzinfo == dt.UTC and event.at.hour == 12
    assert event.after == {"å": [1]} and event.before is None


def test_naive_timestamps_are_refused(engine: Engine) -> None:
    with pytest.raises(sa.exc.StatementError, match="naive datetime"), \
            session_scope(engine) as session:
        session.add(AuditEvent(at=dt.datetime(2026, 1, 1), actor="t", action="a", subject="s"))
        session.flush()


def test_sqlite_engine_creates_its_directory_and_sets_pragmas(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'a' / 'b' / 'k.db'}")
    try:
        with engine.connect() as connection:
            pragma = {
                name: connection.exec_driver_sql(f"PRAGMA {name}").scalar()
                for name in ("journal_mode", "foreign_keys", "busy_timeout")
            }
    finally:
        engine.dispose()
    assert pragma == {"journal_mode": "wal", "foreign_keys": 1, "busy_timeout": 5000}
    assert (tmp_path / "a" / "b" / "k.db").exists()


@pytest.mark.parametrize(
    "url", ["postgres://u:secret@db.example/k", "postgresql://u:secret@db.example/k",
            "postgresql+psycopg://u:secret@db.example/k"],
)
def test_postgres_urls_use_psycopg(url: str) -> None:
    engine = make_engine(url)
    assert engine.url.drivername == "postgresql+psycopg"
    assert engine.url.database == "k"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://u@h/k", "unsupported database mysql://u@h/k"),
        ("postgresql+psycopg2://u:secret@h/k", "psycopg 3"),
        ("not a url", "not a URL"),
    ],
)
def test_unsupported_urls_are_a_clear_error(url: str, message: str) -> None:
    with pytest.raises(DatabaseNotReady, match=message) as caught:
        make_engine(url)
    assert "secret" not in str(caught.value)
    assert caught.value.exit_code == 78
