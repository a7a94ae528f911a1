"""Importing the exclusion list (`exclusions`: firm, note?) that keeps firms off the digital
disconnection; on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from registry import (
    AuditEvent,
    Company,
    DigitalExclusion,
    ImportFileError,
    ImportReport,
    RecordType,
    import_registry,
    session_scope,
)
from tests.registry.helpers import ACCOUNTING, AUDIT, CLIENT, Doc, small_doc, write_json


def run(engine: Engine, path: Path | list[Path]) -> ImportReport:
    with session_scope(engine) as session:
        return import_registry(session, path)


def excluded(engine: Engine) -> dict[str, str]:
    with Session(engine) as session:
        rows = session.exec(
            select(Company.orgnr, DigitalExclusion.note).join(
                Company, col(Company.id) == col(DigitalExclusion.company_id)
            )
        ).all()
    return dict(rows)


def with_exclusions(*rows: Mapping[str, str | None]) -> Doc:
    doc = small_doc()
    doc["exclusions"] = [dict(r) for r in rows]
    return doc


def test_firms_on_the_list_are_imported_once(engine: Engine, tmp_path: Path) -> None:
    doc = with_exclusions({"firm": ACCOUNTING, "note": "  Avtal  om\tpapper "}, {"firm": AUDIT})
    path = write_json(tmp_path, doc)
    first = run(engine, path)
    assert first.ok and first.written, first.summary()
    counts = first.counts[RecordType.EXCLUSIONS]
    assert (counts.inserted, counts.unchanged, counts.rejected) == (2, 0, 0)
    assert "exclusions" in first.summary()
    assert excluded(engine) == {ACCOUNTING: "Avtal om papper", AUDIT: ""}
    again = run(engine, path)
    assert again.ok and not again.written
    assert again.counts[RecordType.EXCLUSIONS].unchanged == 2
    with Session(engine) as session:
        [event] = session.exec(select(AuditEvent)).all()
    assert event.after is not None and event.after["exclusions"] == 2


def test_an_import_without_exclusions_reports_as_before(engine: Engine, tmp_path: Path) -> None:
    report = run(engine, write_json(tmp_path, small_doc()))
    assert report.ok
    assert RecordType.EXCLUSIONS not in report.counts
    assert "exclusions" not in report.summary()
    with Session(engine) as session:
        [event] = session.exec(select(AuditEvent)).all()
    assert event.after is not None and "exclusions" not in event.after


def test_a_firm_already_in_the_registry_can_be_added_later(engine: Engine, tmp_path: Path) -> None:
    assert run(engine, write_json(tmp_path, small_doc(), "first.json")).ok
    later = write_json(tmp_path, {"exclusions": [{"firm": AUDIT, "note": None}]}, "later.json")
    report = run(engine, later)
    assert report.ok and report.written and report.inserted == 1
    assert excluded(engine) == {AUDIT: ""}


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ({"firm": CLIENT}, f"{CLIENT} is a client; only firms are on the exclusion list"),
        ({"firm": "556000-1249"}, "unknown company 556000-1249 (firm)"),
        ({"firm": "556000-1248"}, "organisationsnummer ”556000-1248”"),
        ({"firm": ACCOUNTING, "note": "x" * 201}, "note is 201 characters, at most 200 fit"),
        ({"note": "ingen byrå"}, "firm is missing"),
    ],
    ids=["a client", "unknown firm", "bad orgnr", "long note", "no firm"],
)
def test_a_bad_row_is_rejected_and_nothing_written(
    engine: Engine, tmp_path: Path, row: dict[str, str], reason: str
) -> None:
    report = run(engine, write_json(tmp_path, with_exclusions(row)))
    assert not report.written
    [rejection] = report.rejections
    assert rejection.type is RecordType.EXCLUSIONS
    assert rejection.where.endswith("exclusions[0]")
    assert reason in rejection.reason
    assert excluded(engine) == {}


def test_twice_in_one_import_and_against_the_registry(engine: Engine, tmp_path: Path) -> None:
    twice = with_exclusions({"firm": ACCOUNTING}, {"firm": ACCOUNTING.replace("-", "")})
    report = run(engine, write_json(tmp_path, twice, "twice.json"))
    assert [r.reason for r in report.rejections] == [
        f"duplicate exclusion of {ACCOUNTING}: already given at {tmp_path / 'twice.json'}:"
        "exclusions[0]"
    ]
    assert run(
        engine, write_json(tmp_path, with_exclusions({"firm": ACCOUNTING, "note": "Avtal"}))
    ).ok
    changed = run(
        engine,
        write_json(tmp_path, with_exclusions({"firm": ACCOUNTING, "note": "Annat"}), "b.json"),
    )
    [conflict] = changed.rejections
    assert conflict.reason == (
        f"conflicts with the registry: {ACCOUNTING} is excluded with the note “Avtal”"
    )
    assert excluded(engine) == {ACCOUNTING: "Avtal"}


def test_a_csv_file_of_exclusions(engine: Engine, tmp_path: Path) -> None:
    assert run(engine, write_json(tmp_path, small_doc())).ok
    csv = tmp_path / "exclusions.csv"
    csv.write_text(f"Firm;Note\n{ACCOUNTING};Avtal om papper\n\n{AUDIT};\n", encoding="utf-8")
    report = run(engine, csv)
    assert report.ok and report.inserted == 2, report.summary()
    assert excluded(engine) == {ACCOUNTING: "Avtal om papper", AUDIT: ""}
    only_firm = tmp_path / "more.csv"
    only_firm.write_text(f"firm\n{ACCOUNTING}\n", encoding="utf-8")
    assert run(engine, only_firm).rejections[0].reason.startswith("conflicts with the registry")


def test_an_unknown_json_key_is_still_refused(tmp_path: Path, engine: Engine) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"exclusion": []}), encoding="utf-8")
    with pytest.raises(ImportFileError, match="unknown keys exclusion"):
        run(engine, path)
