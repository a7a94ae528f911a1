"""Fixtures for the public pages: a migrated database with the sample registry, an app."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from forms import FormKind
from kopplingar.app import create_app
from kopplingar.benchmarks.render import sample_value_sets
from kopplingar.context import AppContext
from kopplingar.settings import parse_networks
from registry import import_registry
from samples import REGISTRY_JSON

QR_KEY = b"test-key-for-the-public-pages-0123456789abcdef"
MAILBOX = "kopplingar@byra.example.se"


@pytest.fixture
def loaded_engine(engine: Engine) -> Engine:
    with Session(engine) as session:
        import_registry(session, REGISTRY_JSON)
        session.commit()
    return engine


def make_app(engine: Engine, *, limit: int = 1000, trusted_proxies: str = "") -> FastAPI:
    ctx = AppContext(
        engine=engine,
        qr_key=QR_KEY,
        mailbox_address=MAILBOX,
        public_base_url="http://testserver",
        download_limit=limit,
        download_window_seconds=600,
        trusted_proxies=parse_networks(trusted_proxies),
    )
    return create_app(ctx)


@pytest.fixture
def client(loaded_engine: Engine) -> Iterator[TestClient]:
    with TestClient(make_app(loaded_engine)) as c:
        yield c


@pytest.fixture(scope="session")
def dual_values() -> dict[str, str]:
    return next(v for k, v in sample_value_sets(4) if k is FormKind.DUAL)


@pytest.fixture(scope="session")
def disconnect_values() -> dict[str, str]:
    return next(v for k, v in sample_value_sets(4) if k is FormKind.DISCONNECT)
