"""The database, the sample registry, the image store and two reviewers for the decision tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from registry import import_registry
from tests.review.queue_cases import REGISTRY, add_reviewer
from workqueue import ImageStore, Reviewer


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as session:
        yield session


@pytest.fixture
def registry(session: Session) -> None:
    """The sample registry, for the tests that plan or change a linkage."""
    import_registry(session, REGISTRY)
    session.commit()


@pytest.fixture
def store(tmp_path: Path) -> ImageStore:
    return ImageStore(tmp_path / "images")


@pytest.fixture
def alice(session: Session) -> Reviewer:
    return add_reviewer(session, "Alice")


@pytest.fixture
def bob(session: Session) -> Reviewer:
    return add_reviewer(session, "Bob")
