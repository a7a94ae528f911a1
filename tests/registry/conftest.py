"""The registry the linkage tests plan against (`tests.registry.linkage_cases`)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine

from registry import import_registry, session_scope
from tests.registry.helpers import write_json
from tests.registry.linkage_cases import linkage_doc


@pytest.fixture
def reg(engine: Engine, tmp_path: Path) -> Engine:
    with session_scope(engine) as session:
        assert import_registry(session, write_json(tmp_path, linkage_doc())).ok
    return engine
