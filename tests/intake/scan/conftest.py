"""Fixtures shared by the scan-reader tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from registry import import_registry
from samples import REGISTRY_JSON


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session on the test's database with the sample registry imported."""
    with Session(engine) as s:
        import_registry(s, REGISTRY_JSON)
        s.commit()
        yield s
