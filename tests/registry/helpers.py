"""A small valid registry document for tests to break one row at a time."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlmodel import func, select

from registry import AuditEvent, Company, session_scope

CLIENT = "556123-4567"
ACCOUNTING = "559876-5435"
AUDIT = "556555-1230"
SOLE_TRADER = "850412-1230"
SUBSCRIPTION = "91000034"
FIRM_SUBSCRIPTION = "91000018"

Doc = dict[str, list[dict[str, Any]]]

SMALL: Doc = {
    "companies": [
        {"orgnr": CLIENT, "name": "Hjortens Bageri AB", "kind": "client"},
        {"orgnr": ACCOUNTING, "name": "Tallbackens Redovisning AB", "kind": "accounting_firm"},
        {"orgnr": AUDIT, "name": "Granlunds Revisionsbyrå AB", "kind": "audit_firm"},
        {"orgnr": SOLE_TRADER, "name": "Petra Lindéns Hundtrim", "kind": "client"},
    ],
    "subscriptions": [
        {"number": SUBSCRIPTION, "orgnr": CLIENT},
        {"number": FIRM_SUBSCRIPTION, "orgnr": ACCOUNTING},
    ],
    "people": [
        {"email": "lisa.hjort@hjortensbageri.example", "name": "Lisa Hjort",
         "personnummer": "790630-7892"},
        {"email": "maria.tallback@tallbackensredovisning.example", "name": "Maria Tallbäck"},
    ],
    "roles": [
        {"person": "lisa.hjort@hjortensbageri.example", "company": CLIENT,
         "role": "firmatecknare"},
        {"person": "maria.tallback@tallbackensredovisning.example", "company": ACCOUNTING,
         "role": "sysadmin"},
    ],
    "connections": [
        {"client": CLIENT, "firm": ACCOUNTING, "role": "accounting", "since": "2019-02-01",
         "until": None},
        {"client": CLIENT, "firm": AUDIT, "role": "audit", "since": "2018-01-01",
         "until": "2020-06-30"},
    ],
    "payers": [
        {"subscription": SUBSCRIPTION, "payer": ACCOUNTING, "from": "2019-02-01"},
    ],
}


def small_doc() -> Doc:
    return copy.deepcopy(SMALL)


def write_json(directory: Path, doc: Doc, name: str = "registry.json") -> Path:
    path = directory / name
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


def count_rows(engine: Engine) -> tuple[int, int]:
    """(companies, audit events) in the database: both zero when nothing was written."""
    with session_scope(engine) as session:
        companies = session.exec(select(func.count()).select_from(Company)).one()
        events = session.exec(select(func.count()).select_from(AuditEvent)).one()
    return companies, events
