"""The registry the linkage tests plan against, the requests they start from, what they count.

`linkage_doc` is the small registry of `tests.registry.helpers` with a
client paying for itself, a client another firm pays for, a second
accounting firm and a second subscription its firm pays; the `reg`
fixture (`conftest.py`) imports it. `dual()` and `disconnect()` are the
requests the tests vary one field at a time.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, col, func, select

from registry import (
    AuditEvent,
    Company,
    Connection,
    ConnectionRole,
    DisconnectionRequest,
    DualConnectionRequest,
    SubscriptionPayer,
)
from tests.registry.helpers import ACCOUNTING, AUDIT, CLIENT, SUBSCRIPTION, Doc, small_doc

SELF_PAYER = "556000-1231"  # a client that pays its own subscription
SELF_SUBSCRIPTION = "91000059"
THIRD = "556111-2227"  # a client whose subscription another firm pays
THIRD_SUBSCRIPTION = "91000075"
OTHER_ACCOUNTING = "559000-7778"
SECOND_SUBSCRIPTION = "91000067"  # the client's second one, also paid by its firm
UNKNOWN_ORGNR = "556000-1249"
UNKNOWN_SUBSCRIPTION = "91000083"
ON = dt.date(2026, 11, 23)
NEXT = dt.date(2026, 12, 1)


def linkage_doc() -> Doc:
    doc = small_doc()
    doc["companies"] += [
        {"orgnr": SELF_PAYER, "name": "Ängsbackens Café AB", "kind": "client"},
        {"orgnr": THIRD, "name": "Kvarnens Bygg AB", "kind": "client"},
        {"orgnr": OTHER_ACCOUNTING, "name": "Bergsnäs Redovisning AB", "kind": "accounting_firm"},
    ]
    doc["subscriptions"] += [
        {"number": SELF_SUBSCRIPTION, "orgnr": SELF_PAYER},
        {"number": THIRD_SUBSCRIPTION, "orgnr": THIRD},
        {"number": SECOND_SUBSCRIPTION, "orgnr": CLIENT},
    ]
    doc["connections"] += [
        {
            "client": SELF_PAYER,
            "firm": ACCOUNTING,
            "role": "accounting",
            "since": "2022-03-01",
            "until": None,
        },
        {"client": THIRD, "firm": AUDIT, "role": "audit", "since": "2021-05-01", "until": None},
        {
            "client": THIRD,
            "firm": OTHER_ACCOUNTING,
            "role": "accounting",
            "since": "2021-05-01",
            "until": None,
        },
    ]
    doc["payers"] += [
        {"subscription": THIRD_SUBSCRIPTION, "payer": OTHER_ACCOUNTING, "from": "2021-06-01"},
        {"subscription": SECOND_SUBSCRIPTION, "payer": ACCOUNTING, "from": "2021-01-01"},
    ]
    return doc


def counts(engine: Engine) -> tuple[int, int, int]:
    """(connections, payer rows, audit events)."""
    with Session(engine) as session:
        return (
            session.exec(select(func.count()).select_from(Connection)).one(),
            session.exec(select(func.count()).select_from(SubscriptionPayer)).one(),
            session.exec(select(func.count()).select_from(AuditEvent)).one(),
        )


def linkage_events(session: Session) -> list[AuditEvent]:
    return list(
        session.exec(
            select(AuditEvent)
            .where(col(AuditEvent.action) != "registry.imported")
            .order_by(col(AuditEvent.id))
        ).all()
    )


def company_id(session: Session, orgnr: str) -> int:
    company = session.exec(select(Company).where(Company.orgnr == orgnr)).one()
    assert company.id is not None
    return company.id


_DUAL = DualConnectionRequest(
    client_orgnr=CLIENT,
    subscription=SUBSCRIPTION,
    firm_orgnr=AUDIT,
    role=ConnectionRole.AUDIT,
    on=ON,
)
_DISCONNECT = DisconnectionRequest(
    client_orgnr=CLIENT,
    subscription=SUBSCRIPTION,
    firm_orgnr=ACCOUNTING,
    role=ConnectionRole.ACCOUNTING,
    takeover=True,
    on=ON,
)


def dual(**over: Any) -> DualConnectionRequest:
    """The audit firm connected to the client, with `over` changed."""
    return dataclasses.replace(_DUAL, **over)


def disconnect(**over: Any) -> DisconnectionRequest:
    """The client's accounting firm (which pays) disconnected, with `over` changed."""
    return dataclasses.replace(_DISCONNECT, **over)
