"""Connecting and disconnecting in the registry: plans, the rules, applying once, the views."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine, event
from sqlalchemy.orm import ORMExecuteState
from sqlmodel import Session, col, func, select

from registry import (
    AuditEvent,
    Company,
    Conflict,
    Connection,
    ConnectionRole,
    LinkagePlan,
    NotFound,
    Subscription,
    SubscriptionPayer,
    apply_disconnect,
    apply_dual,
    audit_actions,
    audit_events,
    client_connections,
    firm_clients,
    import_registry,
    next_billing_period,
    plan_disconnect,
    plan_dual,
    record_event,
    session_scope,
)
from tests.registry.helpers import (
    ACCOUNTING,
    AUDIT,
    CLIENT,
    FIRM_SUBSCRIPTION,
    SOLE_TRADER,
    SUBSCRIPTION,
    small_doc,
    write_json,
)

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


@pytest.fixture
def reg(engine: Engine, tmp_path: Path) -> Engine:
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
    with session_scope(engine) as session:
        assert import_registry(session, write_json(tmp_path, doc)).ok
    return engine


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


def dual(**over: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "client_orgnr": CLIENT,
        "subscription": SUBSCRIPTION,
        "firm_orgnr": AUDIT,
        "role": ConnectionRole.AUDIT,
        "on": ON,
    }
    return args | over


def disconnect(**over: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "client_orgnr": CLIENT,
        "subscription": SUBSCRIPTION,
        "firm_orgnr": ACCOUNTING,
        "role": ConnectionRole.ACCOUNTING,
        "takeover": True,
        "on": ON,
    }
    return args | over


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


# -- dual connection -------------------------------------------------------------------------


def test_dual_connects_the_firm_with_one_audit_event(reg: Engine) -> None:
    before = counts(reg)
    with Session(reg) as session:
        plan = plan_dual(session, **dual(current_firm_orgnr=ACCOUNTING))
    assert plan.ok and not plan.already_done and plan.kind == "dual"
    assert [c.action for c in plan.changes] == ["connection.created"]
    assert plan.changes[0].summary == (
        "Granlunds Revisionsbyrå AB (revisionsbyrå) kopplas till Hjortens Bageri AB "
        "(556123-4567) från 2026-11-23."
    )
    assert (
        "Nuvarande byrå enligt blanketten: Tallbackens Redovisning AB (559876-5435) — "
        "kopplad till Hjortens Bageri AB som redovisningsbyrå."
    ) in plan.notes
    assert counts(reg) == before, "planning writes nothing"

    with session_scope(reg) as session:
        applied = apply_dual(
            session,
            **dual(current_firm_orgnr=ACCOUNTING),
            actor="anna@example.se",
            reference="submission 42",
        )
    assert [c.summary for c in applied.changes] == [c.summary for c in plan.changes]
    assert counts(reg) == (before[0] + 1, before[1], before[2] + 1)
    with Session(reg) as session:
        conn = session.exec(
            select(Connection).where(
                Connection.client_id == company_id(session, CLIENT),
                Connection.firm_id == company_id(session, AUDIT),
                col(Connection.until).is_(None),
            )
        ).one()
        events = linkage_events(session)
    assert (conn.role, conn.since) == (ConnectionRole.AUDIT, ON)
    assert applied.changes[0].subject == f"connection:{conn.id}"
    assert [(e.actor, e.action, e.subject) for e in events] == [
        ("anna@example.se", "connection.created", f"connection:{conn.id}")
    ]
    assert events[0].before is None
    assert events[0].after == {
        "client": CLIENT,
        "client_name": "Hjortens Bageri AB",
        "firm": AUDIT,
        "firm_name": "Granlunds Revisionsbyrå AB",
        "role": "audit",
        "since": "2026-11-23",
        "until": None,
    }
    assert "submission 42" in events[0].detail


def test_dual_when_already_connected_is_already_done(reg: Engine) -> None:
    before = counts(reg)
    args = dual(firm_orgnr=ACCOUNTING, role="accounting")
    with session_scope(reg) as session:
        plan = plan_dual(session, **args)
        applied = apply_dual(session, **args, actor="anna", reference="submission 1")
    for result in (plan, applied):
        assert result.ok and result.already_done and result.changes == []
    assert any("redan kopplad" in n and "sedan 2019-02-01" in n for n in plan.notes)
    assert counts(reg) == before


def test_dual_applied_twice_changes_nothing_the_second_time(reg: Engine) -> None:
    with session_scope(reg) as session:
        first = apply_dual(session, **dual(), actor="anna", reference="submission 7")
    after_first = counts(reg)
    with session_scope(reg) as session:
        second = apply_dual(session, **dual(), actor="anna", reference="submission 7")
    assert len(first.changes) == 1 and not first.already_done
    assert second.already_done and second.changes == []
    assert counts(reg) == after_first


Case = tuple[dict[str, Any], str]
DUAL_PROBLEMS: dict[str, Case] = {
    "client unknown": (
        dual(client_orgnr=UNKNOWN_ORGNR),
        "Företaget med organisationsnummer 556000-1249 finns inte i registret.",
    ),
    "client not a number": (
        dual(client_orgnr="556123-4568"),
        "”556123-4568” är inget giltigt organisationsnummer",
    ),
    "subscription unknown": (
        dual(subscription=UNKNOWN_SUBSCRIPTION),
        "Abonnemangsnummer 91000083 finns inte i registret.",
    ),
    "subscription not a number": (dual(subscription="1234"), "”1234” är inget giltigt"),
    "subscription of another company": (
        dual(subscription=FIRM_SUBSCRIPTION),
        "Abonnemangsnummer 91000018 hör inte till Hjortens Bageri AB (556123-4567) utan till "
        "Tallbackens Redovisning AB (559876-5435).",
    ),
    "firm unknown": (
        dual(firm_orgnr=UNKNOWN_ORGNR),
        "Byrån med organisationsnummer 556000-1249 finns inte i registret.",
    ),
    "firm of the other kind": (
        dual(firm_orgnr=OTHER_ACCOUNTING),
        "Byrån 559000-7778 (Bergsnäs Redovisning AB) är ingen revisionsbyrå utan en "
        "redovisningsbyrå.",
    ),
    "firm is a client": (
        dual(firm_orgnr=SOLE_TRADER, role="accounting"),
        "Byrån 850412-1230 (Petra Lindéns Hundtrim) är ingen redovisningsbyrå utan ett "
        "klientföretag.",
    ),
    "firm is the client": (
        dual(firm_orgnr=CLIENT),
        "Byrån och företaget är samma företag (556123-4567).",
    ),
    "unknown role": (dual(role="payroll"), "”payroll” är ingen byråtyp"),
}


def test_dual_rule_violations_are_problems_and_apply_refuses(reg: Engine) -> None:
    before = counts(reg)
    for case, (args, problem) in DUAL_PROBLEMS.items():
        with Session(reg) as session:
            plan = plan_dual(session, **args)
        assert not plan.ok and not plan.already_done and plan.changes == [], case
        assert any(problem in p for p in plan.problems), (case, plan.problems)
        with pytest.raises(Conflict) as raised, session_scope(reg) as session:
            apply_dual(session, **args, actor="anna", reference="submission 3")
        assert problem in raised.value.message, case
    assert counts(reg) == before


def test_dual_notes_names_that_differ_and_a_current_firm_not_connected(reg: Engine) -> None:
    with Session(reg) as session:
        plan = plan_dual(
            session,
            **dual(
                current_firm_orgnr=OTHER_ACCOUNTING,
                client_name="  hjortens   BAGERI ab",
                firm_name="Granlunds Revision AB",
            ),
        )
        as_written = plan_dual(
            session,
            **dual(client_orgnr="16 5561234567", subscription="9100 0034", firm_orgnr="5565551230"),
        )
    assert plan.ok
    assert not any(n.startswith("Företaget heter") for n in plan.notes), "case and spacing"
    assert (
        "Byrån heter ”Granlunds Revision AB” på blanketten men ”Granlunds Revisionsbyrå AB” "
        "i registret (556555-1230)."
    ) in plan.notes
    assert (
        "Nuvarande byrå enligt blanketten: Bergsnäs Redovisning AB (559000-7778) — inte "
        "kopplad till Hjortens Bageri AB i registret."
    ) in plan.notes
    assert as_written.ok and [c.summary for c in as_written.changes] == [
        c.summary for c in plan.changes
    ]


# -- disconnection ---------------------------------------------------------------------------


def test_disconnect_with_takeover_when_the_firm_paid(reg: Engine) -> None:
    with Session(reg) as session:
        plan = plan_disconnect(session, **disconnect())
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
        applied = apply_disconnect(session, **disconnect(), actor="bo", reference="submission 9")
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
        apply_disconnect(session, **disconnect(), actor="bo", reference="submission 9")
    after_first = counts(reg)
    with session_scope(reg) as session:
        again = plan_disconnect(session, **disconnect())
        second = apply_disconnect(session, **disconnect(), actor="bo", reference="submission 9")
    for result in (again, second):
        assert result.ok and result.already_done and result.changes == []
    assert any("avslutades redan 2026-11-23" in n for n in again.notes)
    assert counts(reg) == after_first


def test_disconnect_payer_follows_who_pays_not_the_option_ticked(reg: Engine) -> None:
    # Seed 002 and the form's own text: the client pays from the next period whenever
    # the firm paid; the reviewer is told when the form asked for access only.
    with Session(reg) as session:
        access_only = plan_disconnect(session, **disconnect(takeover=False))
        own = plan_disconnect(
            session, **disconnect(client_orgnr=SELF_PAYER, subscription=SELF_SUBSCRIPTION)
        )
        third = plan_disconnect(
            session,
            **disconnect(
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
    args = disconnect(client_orgnr=SELF_PAYER, subscription=SELF_SUBSCRIPTION, takeover=False)
    connections, payers, events = counts(reg)
    with session_scope(reg) as session:
        plan = apply_disconnect(session, **args, actor="bo", reference="submission 5")
    assert [c.action for c in plan.changes] == ["connection.ended"]
    assert plan.notes == []
    assert counts(reg) == (connections, payers, events + 1)


def test_disconnect_when_not_connected_is_a_problem(reg: Engine) -> None:
    before = counts(reg)
    args = disconnect(firm_orgnr=AUDIT, role="audit")
    with Session(reg) as session:
        plan = plan_disconnect(session, **args)
        wrong_role = plan_disconnect(session, **disconnect(role="audit"))
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
        apply_disconnect(session, **args, actor="bo", reference="submission 2")
    assert counts(reg) == before


DISCONNECT_PROBLEMS: dict[str, Case] = {
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
    for case, (args, problem) in DISCONNECT_PROBLEMS.items():
        with Session(reg) as session:
            plan = plan_disconnect(session, **args)
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
        plan = plan_disconnect(session, **disconnect())
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
        plan = plan_disconnect(session, **disconnect())
    assert [c.action for c in plan.changes] == ["connection.ended"]


# -- two reviewers at once -------------------------------------------------------------------


def _apply_elsewhere(engine: Engine, apply: Callable[[Session], LinkagePlan]) -> None:
    with session_scope(engine) as other:
        assert apply(other).changes


def test_dual_lost_race_is_a_conflict(reg: Engine) -> None:
    """Another transaction connects the pair between this one's plan and its write."""

    def rival(session: Session) -> LinkagePlan:
        return apply_dual(session, **dual(), actor="rival", reference="submission 8")

    with Session(reg) as session:
        fired: list[bool] = []

        @event.listens_for(session, "before_flush")
        def interleave(*_: object) -> None:
            if not fired:
                fired.append(True)
                _apply_elsewhere(reg, rival)

        with pytest.raises(Conflict, match="ändrades av någon annan"):
            apply_dual(session, **dual(), actor="anna", reference="submission 8")
        session.rollback()
        assert fired
        again = plan_dual(session, **dual())
    assert again.already_done
    with Session(reg) as session:
        assert [e.actor for e in linkage_events(session)] == ["rival"]


# With the client paying itself only the conditional UPDATE stands between the two;
# when the firm paid, the payer row per day would catch the loser too.
@pytest.mark.parametrize(
    ("args", "changes"),
    [
        (disconnect(client_orgnr=SELF_PAYER, subscription=SELF_SUBSCRIPTION), 1),
        (disconnect(), 2),
    ],
    ids=["client pays", "firm paid"],
)
def test_disconnect_lost_race_is_a_conflict(
    reg: Engine, args: dict[str, Any], changes: int
) -> None:
    def rival(session: Session) -> LinkagePlan:
        return apply_disconnect(session, **args, actor="rival", reference="submission 8")

    with Session(reg) as session:
        fired: list[bool] = []

        @event.listens_for(session, "do_orm_execute")
        def interleave(state: ORMExecuteState) -> None:
            if state.is_update and not fired:
                fired.append(True)
                _apply_elsewhere(reg, rival)

        with pytest.raises(Conflict, match="ändrades av någon annan"):
            apply_disconnect(session, **args, actor="anna", reference="submission 8")
        session.rollback()
        assert fired
    with Session(reg) as session:
        assert [e.actor for e in linkage_events(session)] == ["rival"] * changes
        assert plan_disconnect(session, **args).already_done


# Row locks and waiting writers are observable on PostgreSQL only.
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
@pytest.mark.parametrize("kind", ["dual", "disconnect"])
def test_concurrent_apply_on_postgresql_waits_then_conflicts(reg: Engine, kind: str) -> None:
    """Two sessions really at once: the second blocks on the first's lock, then loses."""

    def apply(session: Session, actor: str) -> LinkagePlan:
        if kind == "dual":
            return apply_dual(session, **dual(), actor=actor, reference="submission 11")
        return apply_disconnect(session, **disconnect(), actor=actor, reference="submission 11")

    outcome: list[BaseException | LinkagePlan] = []

    def second() -> None:
        try:
            with session_scope(reg) as session:
                outcome.append(apply(session, "second"))
        except BaseException as exc:  # handed to the test thread
            outcome.append(exc)

    first = Session(reg)
    thread = threading.Thread(target=second)
    try:
        assert apply(first, "first").changes
        thread.start()
        with reg.connect() as watcher:
            deadline = time.monotonic() + 30
            while not watcher.execute(
                sa.text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock'"
                )
            ).scalar_one():
                if time.monotonic() > deadline:
                    raise AssertionError(f"the second writer never waited: {outcome}")
                time.sleep(0.02)
        first.commit()
    finally:
        first.close()
        thread.join(20)
    assert len(outcome) == 1 and isinstance(outcome[0], Conflict), outcome
    with Session(reg) as session:
        assert {e.actor for e in linkage_events(session)} == {"first"}


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
        apply_disconnect(session, **disconnect(), actor="bo", reference="submission 9")
    with Session(reg) as session:
        later = firm_clients(session, ACCOUNTING, on=NEXT)
    assert [c.client.name for c in later.current] == ["Ängsbackens Café AB"]
    assert [(c.client.name, c.until) for c in later.ended] == [("Hjortens Bageri AB", ON)]
    assert [p.payer.orgnr for p in later.ended[0].payers] == [CLIENT, ACCOUNTING]


def test_client_connections_include_ended_ones_and_the_payer_history(reg: Engine) -> None:
    with session_scope(reg) as session:
        apply_disconnect(session, **disconnect(), actor="bo", reference="submission 9")
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


# -- the sample registry ---------------------------------------------------------------------


def test_sample_registry_disconnect_of_a_client_its_firm_paid(engine: Engine) -> None:
    sample = Path(__file__).resolve().parents[2] / "samples" / "registry.json"
    with session_scope(engine) as session:
        assert import_registry(session, sample).ok
    with session_scope(engine) as session:
        plan = apply_disconnect(
            session,
            client_orgnr="556440-4845",
            subscription="10057321",
            firm_orgnr="559355-2333",
            role="accounting",
            takeover=True,
            on=dt.date(2026, 12, 14),
            actor="bo",
            reference="submission 1",
        )
        dual_plan = plan_dual(
            session,
            client_orgnr="590516-7853",
            subscription="10110138",
            firm_orgnr="556884-8260",
            role="accounting",
            on=ON,
        )
    assert [c.summary for c in plan.changes] == [
        "Bohusläns Redovisningsbyrå AB (redovisningsbyrå) kopplas bort från Svensson El AB "
        "(556440-4845) den 2026-12-14; kopplingen gällde sedan 2018-02-01.",
        "Svensson El AB blir betalare av abonnemang 10057321 från 2027-01-01 i stället för "
        "Bohusläns Redovisningsbyrå AB.",
    ]
    assert dual_plan.already_done  # Lapplands is Erikssons Data's accounting firm already
