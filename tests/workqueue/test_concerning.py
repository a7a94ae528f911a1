"""Which submissions name a company, and which came back for an issued form."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from workqueue import (
    ImageStore,
    NewField,
    NewSubmission,
    SubmissionField,
    enqueue,
    submissions_concerning,
    submissions_for_forms,
)

ORGNR = "556123-4567"
OTHER = "559876-5435"


def add(session: Session, store: ImageStore, n: int, fields: dict[str, str],
        form_id: str | None = None) -> int:  # fmt: skip
    submission = enqueue(
        session,
        store,
        NewSubmission(
            source_kind="file", source_name=f"s{n}.pdf",
            source_sha256=hashlib.sha256(f"file {n}".encode()).hexdigest(), document_index=0,
            kind="dual", form_id=form_id, form_version="2026.1", quality_mm=0.2, pages=[],
            fields=[NewField(k, v, v, 0.9) for k, v in fields.items()], signatures=[],
            findings=[],
        ),
    )  # fmt: skip
    assert submission.id is not None
    return submission.id


def test_submissions_naming_a_company_as_read_or_as_corrected(
    engine: Engine, tmp_path: Path
) -> None:
    store = ImageStore(tmp_path / "images")
    with Session(engine) as session:
        as_client = add(session, store, 1, {"client_orgnr": ORGNR, "new_firm_orgnr": OTHER})
        as_firm = add(session, store, 2, {"client_orgnr": OTHER, "current_firm_orgnr": ORGNR})
        elsewhere = add(session, store, 3, {"client_orgnr": OTHER, "client_name": ORGNR})
        corrected = add(session, store, 4, {"client_orgnr": "556123-4568"})
        field = session.exec(
            select(SubmissionField).where(SubmissionField.submission_id == corrected)
        ).one()
        field.corrected_value = ORGNR
        session.add(field)
        session.commit()
        found, total = submissions_concerning(session, ORGNR)
        first, capped_total = submissions_concerning(session, ORGNR, limit=2)
        none, none_total = submissions_concerning(session, "556000-1231")
        with pytest.raises(ValueError, match="limit"):
            submissions_concerning(session, ORGNR, limit=0)
    assert [s.id for s in found] == [corrected, as_firm, as_client]  # newest first
    assert elsewhere not in [s.id for s in found]  # not an orgnr field
    assert total == 3
    assert [s.id for s in first] == [corrected, as_firm] and capped_total == 3
    assert none == [] and none_total == 0


def test_submissions_that_came_back_for_issued_forms(engine: Engine, tmp_path: Path) -> None:
    store = ImageStore(tmp_path / "images")
    with Session(engine) as session:
        one = add(session, store, 1, {}, form_id="7K3QX9P2MD")
        again = add(session, store, 2, {}, form_id="7K3QX9P2MD")
        session.commit()
        found = submissions_for_forms(session, ["7K3QX9P2MD", "AAAABBBBCC"])
        assert submissions_for_forms(session, []) == {}
    assert [s.id for s in found["7K3QX9P2MD"]] == [one, again]
    assert found["AAAABBBBCC"] == []
