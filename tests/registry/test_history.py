"""Reading the linkage history (`registry.history`): clients, connections, audit events."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from registry import (
    ConnectionRole,
    NotFound,
    apply_disconnect,
    audit_actions,
    audit_events,
    client_connections,
    firm_clients,
    record_event,
    session_scope,
)
from tests.registry.helpers import ACCOUNTING, CLIENT, SUBSCRIPTION
from tests.registry.linkage_cases import (
    NEXT,
    ON,
    SECOND_SUBSCRIPTION,
    SELF_PAYER,
    UNKNOWN_ORGNR,
    disconnect,
)

# -- the views -------------------------------------------------------------------------------


def test_firm_clients_lists_current_and_ended_with_who_pays(reg: Engine) -> None:
    with Session(reg) as session:
        view = firm_clients(session, ACCOUNTING, on=ON)
    assert view.firm.name == "Tallbackens Redovisning AB" and view.on == ON
    assert [(c.client.name, c.role, c.since, c.until) for c in view.current] == [
        ("Hjortens Bageri AB", ConnectionRole.ACCOUNTING, dt.date(2019, 2, 1), None),
        ("Ängsbackens Café AB", ConnectionRole.ACCOUNTING, dt.date(2022, 3, 1), None),
    ]
    assert view.ended == ()
    bageri, cafe = view.current
    assert [(p.subscription, p.payer.orgnr, p.payer_since) for p in bageri.payers] == [
        (SUBSCRIPTION, ACCOUNTING, dt.date(2019, 2, 1)),
        (SECOND_SUBSCRIPTION, ACCOUNTING, dt.date(2021, 1, 1)),
    ]
    assert bageri.firm_pays and not cafe.firm_pays
    assert [(p.payer.orgnr, p.payer_since) for p in cafe.payers] == [(SELF_PAYER, None)]

    with session_scope(reg) as session:
        apply_disconnect(session, disconnect(), actor="bo", reference="submission 9")
    with Session(reg) as session:
        later = firm_clients(session, ACCOUNTING, on=NEXT)
    assert [c.client.name for c in later.current] == ["Ängsbackens Café AB"]
    assert [(c.client.name, c.until) for c in later.ended] == [("Hjortens Bageri AB", ON)]
    assert [p.payer.orgnr for p in later.ended[0].payers] == [CLIENT, ACCOUNTING]


def test_client_connections_include_ended_ones_and_the_payer_history(reg: Engine) -> None:
    with session_scope(reg) as session:
        apply_disconnect(session, disconnect(), actor="bo", reference="submission 9")
    with Session(reg) as session:
        view = client_connections(session, "5561234567", on=ON)
    assert view.client.orgnr == CLIENT
    assert view.current == ()
    assert [(link.firm.name, link.role, link.connection.until) for link in view.ended] == [
        ("Tallbackens Redovisning AB", ConnectionRole.ACCOUNTING, ON),
        ("Granlunds Revisionsbyrå AB", ConnectionRole.AUDIT, dt.date(2020, 6, 30)),
    ]
    main = next(s for s in view.subscriptions if s.subscription.number == SUBSCRIPTION)
    assert main.payer.orgnr == ACCOUNTING
    assert [(p.payer.orgnr, p.valid_from) for p in main.upcoming] == [(CLIENT, NEXT)]
    assert [p.valid_from for p in main.history] == [dt.date(2019, 2, 1), NEXT]


def test_views_raise_not_found(reg: Engine) -> None:
    with Session(reg) as session:
        for orgnr in (UNKNOWN_ORGNR, "not a number"):
            with pytest.raises(NotFound):
                firm_clients(session, orgnr)
            with pytest.raises(NotFound):
                client_connections(session, orgnr)


def test_audit_events_filter_and_page_newest_first(reg: Engine) -> None:
    with session_scope(reg) as session:
        for i in range(7):
            record_event(
                session,
                actor="anna" if i % 2 else "bo",
                action="connection.created",
                subject=f"connection:{i}",
            )
        record_event(session, actor="bo", action="payer.changed", subject="subscription:1")
    with Session(reg) as session:
        everything = audit_events(session, limit=100)
        ids = [e.id or 0 for e in everything]
        assert ids == sorted(ids, reverse=True) and len(ids) == 9  # with the import's
        created = audit_events(session, action="connection.created", limit=3)
        assert [e.subject for e in created] == ["connection:6", "connection:5", "connection:4"]
        rest = audit_events(session, action="connection.created", before_id=created[-1].id)
        assert [e.subject for e in rest] == [f"connection:{i}" for i in (3, 2, 1, 0)]
        assert [e.subject for e in audit_events(session, actor="anna")] == [
            "connection:5",
            "connection:3",
            "connection:1",
        ]
        assert [e.action for e in audit_events(session, subject="subscription:1")] == [
            "payer.changed"
        ]
        future = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
        assert audit_events(session, since=future) == []
        assert len(audit_events(session, since=everything[-1].at)) == 9
        assert audit_actions(session) == [
            "connection.created",
            "payer.changed",
            "registry.imported",
        ]
        with pytest.raises(ValueError, match="limit"):
            audit_events(session, limit=0)
