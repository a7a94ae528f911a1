"""Importing registry files: the sample, idempotency, each kind of rejected row, all-or-nothing."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import func, select

from registry import (
    AuditEvent,
    Company,
    Connection,
    ImportFileError,
    ImportReport,
    NotFound,
    Person,
    Subscription,
    SubscriptionPayer,
    company_view,
    import_registry,
    session_scope,
)
from samples import REGISTRY_JSON
from tests.registry.helpers import (
    ACCOUNTING,
    AUDIT,
    CLIENT,
    SUBSCRIPTION,
    Doc,
    count_rows,
    small_doc,
    write_json,
)

SAMPLE_CSV = REGISTRY_JSON.parent / "registry_csv"


def run_import(engine: Engine, path: Path | list[Path], **kw: Any) -> ImportReport:
    with session_scope(engine) as session:
        return import_registry(session, path, **kw)


def counts(report: ImportReport) -> dict[str, tuple[int, int, int]]:
    return {t.value: (c.inserted, c.unchanged, c.rejected) for t, c in report.counts.items()}


def test_sample_registry_imports_and_is_idempotent(engine: Engine) -> None:
    expected = {k: len(v) for k, v in json.loads(REGISTRY_JSON.read_text("utf-8")).items()}
    first = run_import(engine, REGISTRY_JSON)
    assert first.ok and first.written
    assert counts(first) == {k: (n, 0, 0) for k, n in expected.items()}
    second = run_import(engine, REGISTRY_JSON)
    assert second.ok and not second.written
    assert counts(second) == {k: (0, n, 0) for k, n in expected.items()}
    assert "nothing to write" in second.summary()
    with session_scope(engine) as session:
        assert session.exec(select(func.count()).select_from(Company)).one() == 60
        events = session.exec(select(AuditEvent)).all()
    assert [e.action for e in events] == ["registry.imported"]  # the second run wrote nothing
    assert events[0].after == expected


def test_csv_sample_imports_from_a_directory(engine: Engine) -> None:
    report = run_import(engine, SAMPLE_CSV)
    assert report.ok, report.summary()
    assert counts(report) == {
        "companies": (5, 0, 0), "subscriptions": (5, 0, 0), "people": (7, 0, 0),
        "roles": (11, 0, 0), "connections": (4, 0, 0), "payers": (3, 0, 0),
    }
    again = run_import(engine, sorted(SAMPLE_CSV.glob("*.csv")))
    assert again.ok and again.inserted == 0
    with session_scope(engine) as session:
        view = company_view(session, "916234-5673")
    # The firm paid until the connection ended, then the client took the bill over.
    assert [(p.payer.orgnr, str(p.valid_from)) for p in view.subscriptions[0].history] == [
        ("559876-5435", "2016-01-01"), ("916234-5673", "2024-01-01"),
    ]


def _set(section: str, index: int, **values: Any) -> Callable[[Doc], None]:
    def change(doc: Doc) -> None:
        doc[section][index].update(values)
    return change


def _add(section: str, row: dict[str, Any]) -> Callable[[Doc], None]:
    def change(doc: Doc) -> None:
        doc[section].append(row)
    return change


REJECTIONS = {
    "bad Luhn": (
        _set("companies", 1, orgnr="559876-5436"),
        "companies[1]", "Kontrollsiffran (sista siffran) stämmer inte",
    ),
    "unknown company": (
        _set("subscriptions", 0, orgnr="556677-8899"),
        "subscriptions[0]", "unknown company 556677-8899 (orgnr): not in the registry",
    ),
    "duplicate": (
        _add("companies", {"orgnr": "5561234567", "name": "Hjortens Bageri AB", "kind": "client"}),
        "companies[4]", "duplicate company 556123-4567: already given at",
    ),
    "wrong firm kind": (
        _set("connections", 0, firm=AUDIT),
        "connections[0]", f"wrong firm kind: {AUDIT} is audit_firm, an accounting connection "
        "needs an accounting_firm",
    ),
    "client as firm": (
        _set("connections", 1, firm="850412-1230"),
        "connections[1]", "850412-1230 is client, an audit connection needs an audit_firm",
    ),
    "bad subscription number": (
        _set("subscriptions", 0, number="91000035"),
        "subscriptions[0]", "kontrollsiffran stämmer inte",
    ),
    "overlapping connection": (
        _add("connections", {"client": CLIENT, "firm": ACCOUNTING, "role": "accounting",
                             "since": "2020-01-01", "until": "2021-01-01"}),
        "connections[2]", "overlaps the connection 2019-02-01–open",
    ),
    "payer is another client": (
        _set("payers", 0, payer="850412-1230"),
        "payers[0]", "payer 850412-1230 is a client other than the subscription's owner",
    ),
    "unknown kind": (
        _set("companies", 0, kind="bank"),
        "companies[0]", "kind ”bank” is not one of client | accounting_firm | audit_firm",
    ),
    "consultant at a client": (
        _set("roles", 0, role="consultant"), "roles[0]", "consultants work at firms",
    ),
    "number not a string": (
        _set("subscriptions", 1, number=91000018), "subscriptions[1]", "must be a string",
    ),
    "missing field": (
        _set("people", 1, name=""), "people[1]", "name is missing",
    ),
    "until before since": (
        _set("connections", 1, until="2017-01-01"), "connections[1]", "is before since",
    ),
}


@pytest.mark.parametrize("case", REJECTIONS, ids=list(REJECTIONS))
def test_a_rejected_row_is_reported_and_nothing_is_written(
    engine: Engine, tmp_path: Path, case: str
) -> None:
    change, where, reason = REJECTIONS[case]
    doc = small_doc()
    change(doc)
    path = write_json(tmp_path, doc)
    report = run_import(engine, path)
    assert not report.written
    lines = [str(r) for r in report.rejections]
    assert lines[0].startswith(f"{path}:{where} — "), lines
    assert reason in lines[0], lines
    assert count_rows(engine) == (0, 0)
    assert "nothing written" in report.summary()


def test_rows_that_refer_to_a_rejected_row_say_so(engine: Engine, tmp_path: Path) -> None:
    doc = small_doc()
    doc["companies"][1]["kind"] = "redovisningsbyrå"  # the accounting firm
    doc["people"][1]["email"] = "maria.tallback@"  # its sysadmin
    path = write_json(tmp_path, doc)
    report = run_import(engine, path)
    reasons = {r.where.rsplit(":", 1)[1]: r.reason for r in report.rejections}
    firm_row = f"{path}:companies[1]"
    assert reasons == {
        "companies[1]": "kind ”redovisningsbyrå” is not one of client | accounting_firm | "
                        "audit_firm",
        "subscriptions[1]": f"company {ACCOUNTING} (orgnr) was rejected at {firm_row}",
        "people[1]": reasons["people[1]"],
        # The malformed address cannot name whom the role was for: it is simply unknown.
        "roles[1]": "unknown person maria.tallback@tallbackensredovisning.example: not in the "
                    "registry or this import",
        "connections[0]": f"company {ACCOUNTING} (firm) was rejected at {firm_row}",
        "payers[0]": f"company {ACCOUNTING} (payer) was rejected at {firm_row}",
    }
    assert reasons["people[1]"].startswith("email: ”maria.tallback@” ser inte ut som en e-post")
    doc = small_doc()
    doc["subscriptions"][0]["orgnr"] = "556677-8899"
    doc["people"][0]["personnummer"] = "790631-7892"
    path = write_json(tmp_path, doc, "second.json")
    reasons = {r.where.rsplit(":", 1)[1]: r.reason for r in run_import(engine, path).rejections}
    assert reasons["payers[0]"] == f"subscription {SUBSCRIPTION} was rejected at " \
        f"{path}:subscriptions[0]"
    assert reasons["roles[0]"] == "person lisa.hjort@hjortensbageri.example was rejected at " \
        f"{path}:people[0]"


def test_skip_invalid_imports_the_valid_rows(engine: Engine, tmp_path: Path) -> None:
    doc = small_doc()
    doc["connections"][0]["firm"] = AUDIT  # wrong firm kind
    doc["companies"].append({"orgnr": "556123-4568", "name": "Bad", "kind": "client"})
    doc["roles"].append({"person": "nobody@example.se", "company": CLIENT, "role": "sysadmin"})
    path = write_json(tmp_path, doc)
    report = run_import(engine, path, skip_invalid=True)
    assert report.written
    assert counts(report) == {
        "companies": (4, 0, 1), "subscriptions": (2, 0, 0), "people": (2, 0, 0),
        "roles": (2, 0, 1), "connections": (1, 0, 1), "payers": (1, 0, 0),
    }
    assert "unknown person nobody@example.se" in report.rejections[1].reason
    with session_scope(engine) as session:
        assert len(session.exec(select(Connection)).all()) == 1
    # The same file again: the valid rows are unchanged, the invalid ones still rejected.
    again = run_import(engine, path, skip_invalid=True)
    assert not again.written and again.inserted == 0
    assert [r.reason for r in again.rejections] == [r.reason for r in report.rejections]


def test_conflicts_with_the_registry_are_rejected(engine: Engine, tmp_path: Path) -> None:
    assert run_import(engine, write_json(tmp_path, small_doc())).written
    doc = small_doc()
    doc["companies"][0]["name"] = "Hjortens Konditori AB"
    doc["subscriptions"][0]["orgnr"] = ACCOUNTING
    doc["people"][1]["personnummer"] = "790630-7892"  # Lisa's
    doc["connections"][0]["until"] = "2024-12-31"
    doc["payers"][0]["payer"] = CLIENT
    report = run_import(engine, write_json(tmp_path, doc, "changed.json"))
    reasons = [r.reason for r in report.rejections]
    assert reasons == [
        f"conflicts with the registry: {CLIENT} is “Hjortens Bageri AB” (client)",
        f"conflicts with the registry: subscription {SUBSCRIPTION} belongs to {CLIENT}",
        "personnummer 790630-7892 belongs to lisa.hjort@hjortensbageri.example (the registry)",
        "conflicts with the registry: the connection since 2019-02-01 is open there",
        f"conflicts with the registry: {ACCOUNTING} pays {SUBSCRIPTION} from 2019-02-01",
    ]
    with session_scope(engine) as session:
        assert session.exec(select(Company).where(Company.orgnr == CLIENT)).one().name == (
            "Hjortens Bageri AB"
        )


def test_later_imports_build_on_the_registry(engine: Engine, tmp_path: Path) -> None:
    assert run_import(engine, write_json(tmp_path, small_doc())).written
    addition: Doc = {
        "connections": [
            # The open accounting connection cannot get a second open twin...
            {"client": CLIENT, "firm": ACCOUNTING, "role": "accounting", "since": "2025-01-01"},
            # ...but the audit firm, whose engagement ended, can begin again.
            {"client": CLIENT, "firm": AUDIT, "role": "audit", "since": "2020-06-30"},
        ],
        "payers": [{"subscription": SUBSCRIPTION, "payer": CLIENT, "from": "2026-01-01"}],
    }
    report = run_import(engine, write_json(tmp_path, addition, "more.json"), skip_invalid=True)
    assert [r.where.rsplit(":", 1)[1] for r in report.rejections] == ["connections[0]"]
    assert "overlaps the connection 2019-02-01–open (the registry)" in report.rejections[0].reason
    with session_scope(engine) as session:
        payers = session.exec(select(SubscriptionPayer)).all()
        assert len(payers) == 2
        assert len(session.exec(select(Connection)).all()) == 3


def test_csv_rows_are_located_by_line(engine: Engine, tmp_path: Path) -> None:
    (tmp_path / "companies.csv").write_text(
        "\ufeffOrgnr;Name;Kind\n"
        "556123-4567;Hjortens Bageri AB;client\n"
        "\n"
        "556123-4568;Fel Kontrollsiffra AB;client\n"
        "559876-5435;Tallbackens Redovisning AB\n",
        encoding="utf-8",
    )
    (tmp_path / "subs.csv").write_text("orgnr,number\n556123-4567,91000034\n", encoding="utf-8")
    report = run_import(engine, [tmp_path / "subs.csv", tmp_path / "companies.csv"])
    assert [str(r) for r in report.rejections] == [
        f"{tmp_path / 'companies.csv'}:4 — organisationsnummer ”556123-4568”: Kontrollsiffran "
        "(sista siffran) stämmer inte. Kontrollera att organisationsnumret är rätt skrivet.",
        f"{tmp_path / 'companies.csv'}:5 — 2 columns, the header has 3",
    ]
    assert counts(report)["subscriptions"] == (1, 0, 0)  # refers to a company in another file
    assert count_rows(engine) == (0, 0)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("x.csv", "orgnr,name\n", "header 'orgnr,name' is not one of the record types"),
        ("x.csv", "", "empty file"),
        ("x.json", "{\"companies\": [", "x.json:1:16: not valid JSON"),
        ("x.json", "[]", "expected a JSON object"),
        ("x.json", "{\"firms\": []}", "unknown keys firms"),
        ("x.json", "{\"people\": {}}", "people must be a list"),
        ("x.txt", "", "import files are .json or .csv"),
    ],
)
def test_unreadable_files_are_refused_as_a_whole(
    tmp_path: Path, name: str, content: str, message: str
) -> None:
    from registry.import_files import read_rows

    (tmp_path / name).write_text(content, encoding="utf-8")
    with pytest.raises(ImportFileError, match=message) as caught:
        read_rows(tmp_path / name)
    assert caught.value.exit_code == 65


def test_a_missing_file_is_not_found(engine: Engine, tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="no such file") as caught, session_scope(engine) as s:
        import_registry(s, tmp_path / "nope.json")
    assert caught.value.exit_code == 66


def test_numbers_are_stored_canonical(engine: Engine, tmp_path: Path) -> None:
    doc = small_doc()
    doc["companies"][0]["orgnr"] = "165561234567"
    doc["subscriptions"][0]["orgnr"] = "5561234567"
    doc["people"][0]["email"] = "Lisa.Hjort@HjortensBageri.example"
    doc["people"][0]["personnummer"] = "197906307892"
    assert run_import(engine, write_json(tmp_path, doc)).ok
    with session_scope(engine) as session:
        sub = session.exec(select(Subscription).where(Subscription.number == SUBSCRIPTION)).one()
        owner = session.get(Company, sub.company_id)
        person = session.exec(select(Person).where(Person.personnummer == "790630-7892")).one()
    assert owner is not None and owner.orgnr == CLIENT
    assert person.email == "lisa.hjort@hjortensbageri.example"
