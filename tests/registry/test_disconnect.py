"""Disconnecting a client and a firm (`registry.disconnect`): the rules, who pays, applying once."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from registry import (
    Conflict,
    Connection,
    DisconnectionRequest,
    Subscription,
    SubscriptionPayer,
    apply_disconnect,
    next_billing_period,
    plan_disconnect,
    session_scope,
)
from tests.registry.helpers import ACCOUNTING, AUDIT, CLIENT, FIRM_SUBSCRIPTION, SUBSCRIPTION
from tests.registry.linkage_cases import (
    NEXT,
    ON,
    SELF_PAYER,
    SELF_SUBSCRIPTION,
    THIRD,
    THIRD_SUBSCRIPTION,
    UNKNOWN_ORGNR,
    UNKNOWN_SUBSCRIPTION,
    company_id,
    counts,
    disconnect,
    linkage_events,
)

# -- next billing period ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("on", "expected"),
    [
        (dt.date(2026, 11, 23), dt.date(2026, 12, 1)),
        (dt.date(2026, 12, 1), dt.date(2027, 1, 1)),
        (dt.date(2026, 12, 31), dt.date(2027, 1, 1)),
        (dt.date(2026, 1, 31), dt.date(2026, 2, 1)),
        (dt.date(2028, 2, 29), dt.date(2028, 3, 1)),
        (dt.date(2026, 11, 1), dt.date(2026, 12, 1)),
    ],
)
def test_next_billing_period_is_the_first_of_the_next_month(on: dt.date, expected: dt.date) -> None:
    assert next_billing_period(on) == expected


# -- disconnection ---------------------------------------------------------------------------


def test_disconnect_with_takeover_when_the_firm_paid(reg: Engine) -> None:
    with Session(reg) as session:
        plan = plan_disconnect(session, disconnect())
    assert plan.ok and plan.kind == "disconnect"
    assert [c.action for c in plan.changes] == ["connection.ended", "payer.changed"]
    assert plan.changes[1].summary == (
        "Hjortens Bageri AB blir betalare av abonnemang 91000034 från 2026-12-01 i stället för "
        "Tallbackens Redovisning AB."
    )
    assert (
        "Tallbackens Redovisning AB betalar även abonnemang 91000067 för Hjortens Bageri AB; "
        "blanketten gäller bara abonnemang 91000034."
    ) in plan.notes
    connections, payers, events = counts(reg)

    with session_scope(reg) as session:
        applied = apply_disconnect(session, disconnect(), actor="bo", reference="submission 9")
    assert counts(reg) == (connections, payers + 1, events + 2)
    with Session(reg) as session:
        client, firm = company_id(session, CLIENT), company_id(session, ACCOUNTING)
        conn = session.exec(
            select(Connection).where(Connection.client_id == client, Connection.firm_id == firm)
        ).one()
        sub = session.exec(select(Subscription).where(Subscription.number == SUBSCRIPTION)).one()
        newest = session.exec(
            select(SubscriptionPayer)
            .where(SubscriptionPayer.subscription_id == sub.id)
            .order_by(col(SubscriptionPayer.valid_from).desc())
        ).first()
        events_now = linkage_events(session)
    assert conn.until == ON
    assert newest is not None and (newest.payer_id, newest.valid_from) == (client, NEXT)
    assert [(e.action, e.subject, e.actor) for e in events_now] == [
        ("connection.ended", f"connection:{conn.id}", "bo"),
        ("payer.changed", f"subscription:{SUBSCRIPTION}", "bo"),
    ]
    assert [c.subject for c in applied.changes] == [e.subject for e in events_now]
    ended, payer = events_now
    assert ended.before is not None and ended.after is not None
    assert (ended.before["until"], ended.after["until"]) == (None, "2026-11-23")
    assert payer.before == {
        "subscription": SUBSCRIPTION,
        "payer": ACCOUNTING,
        "payer_name": "Tallbackens Redovisning AB",
        "valid_from": "2019-02-01",
    }
    assert payer.after == {
        "subscription": SUBSCRIPTION,
        "payer": CLIENT,
        "payer_name": "Hjortens Bageri AB",
        "valid_from": "2026-12-01",
    }
    assert all("submission 9" in e.detail for e in events_now)


def test_disconnect_applied_twice_changes_nothing_the_second_time(reg: Engine) -> None:
    with session_scope(reg) as session:
        apply_disconnect(session, disconnect(), actor="bo", reference="submission 9")
    after_first = counts(reg)
    with session_scope(reg) as session:
        again = plan_disconnect(session, disconnect())
        second = apply_disconnect(session, disconnect(), actor="bo", reference="submission 9")
    for result in (again, second):
        assert result.ok and result.already_done and result.changes == []
    assert any("avslutades redan 2026-11-23" in n for n in again.notes)
    assert counts(reg) == after_first


def test_disconnect_payer_follows_who_pays_not_the_option_ticked(reg: Engine) -> None:
    # Seed 002 and the form's own text: the client pays from the next period whenever
    # the firm paid; the reviewer is told when the form asked for access only.
    with Session(reg) as session:
        access_only = plan_disconnect(session, disconnect(takeover=False))
        own = plan_disconnect(
            session, disconnect(client_orgnr=SELF_PAYER, subscription=SELF_SUBSCRIPTION)
        )
        third = plan_disconnect(
            session,
            disconnect(
                client_orgnr=THIRD, subscription=THIRD_SUBSCRIPTION, firm_orgnr=AUDIT, role="audit"
            ),
        )
    assert [c.action for c in access_only.changes] == ["connection.ended", "payer.changed"]
    assert any(
        n.startswith("Blanketten anger att endast byråns åtkomst upphör") for n in access_only.notes
    )
    assert [c.action for c in own.changes] == ["connection.ended"]
    assert (
        "Ängsbackens Café AB betalar redan abonnemang 91000059 själv; betalaren ändras inte."
        in own.notes
    )
    assert [c.action for c in third.changes] == ["connection.ended"]
    assert (
        "Abonnemang 91000075 betalas av Bergsnäs Redovisning AB (559000-7778), inte av "
        "byrån som kopplas bort; betalaren ändras inte."
    ) in third.notes
    assert "Bergsnäs Redovisning AB" not in " ".join(c.summary for c in third.changes)


def test_disconnect_access_only_when_the_client_pays_ends_access_only(reg: Engine) -> None:
    request = disconnect(client_orgnr=SELF_PAYER, subscription=SELF_SUBSCRIPTION, takeover=False)
    connections, payers, events = counts(reg)
    with session_scope(reg) as session:
        plan = apply_disconnect(session, request, actor="bo", reference="submission 5")
    assert [c.action for c in plan.changes] == ["connection.ended"]
    assert plan.notes == []
    assert counts(reg) == (connections, payers, events + 1)


def test_disconnect_when_not_connected_is_a_problem(reg: Engine) -> None:
    before = counts(reg)
    request = disconnect(firm_orgnr=AUDIT, role="audit")
    with Session(reg) as session:
        plan = plan_disconnect(session, request)
        wrong_role = plan_disconnect(session, disconnect(role="audit"))
    assert plan.problems == [
        "Det finns ingen aktiv koppling mellan Granlunds Revisionsbyrå AB (556555-1230) och "
        "Hjortens Bageri AB (556123-4567) som revisionsbyrå att koppla bort."
    ]
    assert "Den senaste kopplingen som revisionsbyrå avslutades 2020-06-30." in plan.notes
    assert not plan.already_done and plan.changes == []
    assert (
        "Tallbackens Redovisning AB är kopplad till Hjortens Bageri AB som redovisningsbyrå, "
        "inte som revisionsbyrå."
    ) in wrong_role.notes
    with pytest.raises(Conflict, match="ingen aktiv koppling"), session_scope(reg) as session:
        apply_disconnect(session, request, actor="bo", reference="submission 2")
    assert counts(reg) == before


DISCONNECT_PROBLEMS: dict[str, tuple[DisconnectionRequest, str]] = {
    "subscription of another company": (
        disconnect(subscription=FIRM_SUBSCRIPTION),
        "hör inte till Hjortens Bageri AB",
    ),
    "client unknown": (
        disconnect(client_orgnr=UNKNOWN_ORGNR),
        "Företaget med organisationsnummer 556000-1249 finns inte",
    ),
    "firm unknown": (
        disconnect(firm_orgnr=UNKNOWN_ORGNR),
        "Byrån med organisationsnummer 556000-1249 finns inte",
    ),
    "subscription unknown": (
        disconnect(subscription=UNKNOWN_SUBSCRIPTION),
        "Abonnemangsnummer 91000083 finns inte",
    ),
    "not begun yet": (
        disconnect(on=dt.date(2019, 1, 15)),
        "börjar först 2019-02-01 och kan inte avslutas",
    ),
}


def test_disconnect_checks_the_parties(reg: Engine) -> None:
    for case, (request, problem) in DISCONNECT_PROBLEMS.items():
        with Session(reg) as session:
            plan = plan_disconnect(session, request)
        assert any(problem in p for p in plan.problems), (case, plan.problems)
        assert plan.changes == [] and not plan.already_done, case


def test_disconnect_refuses_over_a_payer_change_already_planned(reg: Engine) -> None:
    with session_scope(reg) as session:
        sub = session.exec(select(Subscription).where(Subscription.number == SUBSCRIPTION)).one()
        assert sub.id is not None
        session.add(
            SubscriptionPayer(
                subscription_id=sub.id,
                valid_from=dt.date(2027, 3, 1),
                payer_id=company_id(session, AUDIT),
            )
        )
    with Session(reg) as session:
        plan = plan_disconnect(session, disconnect())
    assert plan.problems == [
        "Abonnemang 91000034 har redan ett planerat betalarbyte (Granlunds Revisionsbyrå AB "
        "från 2027-03-01). Kontrollera det innan bortkopplingen genomförs."
    ]


def test_disconnect_with_the_switch_already_recorded_only_ends_the_connection(reg: Engine) -> None:
    with session_scope(reg) as session:
        sub = session.exec(select(Subscription).where(Subscription.number == SUBSCRIPTION)).one()
        assert sub.id is not None
        session.add(
            SubscriptionPayer(
                subscription_id=sub.id, valid_from=NEXT, payer_id=company_id(session, CLIENT)
            )
        )
    with Session(reg) as session:
        plan = plan_disconnect(session, disconnect())
    assert [c.action for c in plan.changes] == ["connection.ended"]

def test_a_disconnection_request_is_made_from_the_forms_field_values(reg: Engine) -> None:
    values = {
        "client_name": "Hjortens Bageri AB",
        "client_orgnr": "5561234567",
        "client_subscription": SUBSCRIPTION,
        "firm_name": " Tallbackens Redovisning AB",
        "firm_orgnr": ACCOUNTING,
        "firm_role": "accounting",
        "after": "takeover",
    }
    request = DisconnectionRequest.from_values(values, on=ON)
    assert request == disconnect(
        client_orgnr="5561234567",
        client_name="Hjortens Bageri AB",
        firm_name="Tallbackens Redovisning AB",
    )
    for after in ("access_only", "", "something else"):
        other = DisconnectionRequest.from_values(values | {"after": after}, on=ON)
        assert not other.takeover, after
    with Session(reg) as session:
        assert [c.summary for c in plan_disconnect(session, request).changes] == [
            c.summary for c in plan_disconnect(session, disconnect()).changes
        ]
        empty = plan_disconnect(session, DisconnectionRequest.from_values({}, on=ON))
    assert not empty.ok and empty.changes == []
    assert any("är inget giltigt abonnemangsnummer" in p for p in empty.problems)
