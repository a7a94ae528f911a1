"""Database fixtures shared by every test package: each test runs on SQLite and PostgreSQL.

`db_url` is an empty database of its own per test: a file under tmp_path, or
a freshly created PostgreSQL database on the server named by
`TEST_DATABASE_URL` (dropped again afterwards). Without that variable the
PostgreSQL case is skipped, saying why. `engine` is the same database
migrated to the newest revision.
"""

from __future__ import annotations

import itertools
import os
import secrets
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from devkit.localmail.dovecot import LocalDovecot
from sqlalchemy import Engine

from kopplingar.database import upgrade_all
from registry import make_engine
from tests.mailboxes import MailboxUser

BACKENDS = ("sqlite", "postgresql")
_users = itertools.count(1)


@pytest.fixture(scope="session")
def pg_admin() -> Iterator[Engine]:
    """An autocommit connection to TEST_DATABASE_URL, for CREATE and DROP DATABASE."""
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        pytest.skip(
            "TEST_DATABASE_URL is not set; the PostgreSQL case needs a server, e.g. "
            "TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test"
        )
    admin = make_engine(url).execution_options(isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError as exc:
        pytest.fail(f"TEST_DATABASE_URL={url} is not reachable: {exc.orig}")
    yield admin
    admin.engine.dispose()


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty database, used by this test alone."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'kopplingar.db'}"
        return
    admin: Engine = request.getfixturevalue("pg_admin")
    name = f"kopplingar_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin.url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            # FORCE: a test that failed half-way may still hold a connection.
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated once per session; each test's `engine` starts as a copy."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade_all(engine)
    with engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def pg_template(pg_admin: Engine) -> Iterator[str]:
    """A PostgreSQL database migrated once per session, used as the TEMPLATE of the rest.

    Migrating every test's database took about a second each; copying a
    template is one CREATE DATABASE, which a test pays anyway.
    """
    name = f"kopplingar_template_{uuid.uuid4().hex[:12]}"
    with pg_admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = pg_admin.url.set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    upgrade_all(engine)
    engine.dispose()
    try:
        yield name
    finally:
        with pg_admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def engine(db_url: str, request: pytest.FixtureRequest) -> Iterator[Engine]:
    """The test's database, every schema migrated to the newest revision.

    It is the same database `db_url` names: the empty one is replaced by a copy
    of the session's migrated template before anything connects to it.
    """
    url = sa.engine.make_url(db_url)
    if url.get_backend_name() == "sqlite":
        assert url.database is not None
        shutil.copyfile(request.getfixturevalue("sqlite_template"), url.database)
    else:
        template: str = request.getfixturevalue("pg_template")
        admin: Engine = request.getfixturevalue("pg_admin")
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE "{url.database}"'))
            connection.execute(sa.text(f'CREATE DATABASE "{url.database}" TEMPLATE "{template}"'))
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


# Mailboxes: one real Dovecot for the session (started on first use), an empty mailbox
# per test: a user of its own, so nothing a test does is seen by another.


@pytest.fixture(scope="session")
def dovecot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalDovecot]:
    server = LocalDovecot(tmp_path_factory.mktemp("dovecot"))
    server.enable_xoauth2()
    with server:
        yield server


@pytest.fixture
def mailbox_user(dovecot: LocalDovecot) -> MailboxUser:
    user = MailboxUser(dovecot, f"user{next(_users)}", secrets.token_urlsafe(12))
    dovecot.add_user(user.username, user.password)
    return user
