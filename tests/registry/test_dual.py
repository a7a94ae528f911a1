"""Connecting a second firm to a client (`registry.dual`): the plan, the rules, applying once."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from registry import (
    Conflict,
    Connection,
    ConnectionRole,
    DualConnectionRequest,
    apply_dual,
    plan_dual,
    session_scope,
)
from tests.registry.helpers import ACCOUNTING, AUDIT, CLIENT, FIRM_SUBSCRIPTION, SOLE_TRADER
from tests.registry.linkage_cases import (
    ON,
    OTHER_ACCOUNTING,
    UNKNOWN_ORGNR,
    UNKNOWN_SUBSCRIPTION,
    company_id,
    counts,
    dual,
    linkage_events,
)

# -- dual connection -------------------------------------------------------------------------


def test_dual_connects_the_firm_with_one_audit_event(reg: Engine) -> None:
    before = counts(reg)
    with Session(reg) as session:
        plan = plan_dual(session, dual(current_firm_orgnr=ACCOUNTING))
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
            dual(current_firm_orgnr=ACCOUNTING),
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
    request = dual(firm_orgnr=ACCOUNTING, role="accounting")
    with session_scope(reg) as session:
        plan = plan_dual(session, request)
        applied = apply_dual(session, request, actor="anna", reference="submission 1")
    for result in (plan, applied):
        assert result.ok and result.already_done and result.changes == []
    assert any("redan kopplad" in n and "sedan 2019-02-01" in n for n in plan.notes)
    assert counts(reg) == before


def test_dual_applied_twice_changes_nothing_the_second_time(reg: Engine) -> None:
    with session_scope(reg) as session:
        first = apply_dual(session, dual(), actor="anna", reference="submission 7")
    after_first = counts(reg)
    with session_scope(reg) as session:
        second = apply_dual(session, dual(), actor="anna", reference="submission 7")
    assert len(first.changes) == 1 and not first.already_done
    assert second.already_done and second.changes == []
    assert counts(reg) == after_first


Case = tuple[DualConnectionRequest, str]
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
    for case, (request, problem) in DUAL_PROBLEMS.items():
        with Session(reg) as session:
            plan = plan_dual(session, request)
        assert not plan.ok and not plan.already_done and plan.changes == [], case
        assert any(problem in p for p in plan.problems), (case, plan.problems)
        with pytest.raises(Conflict) as raised, session_scope(reg) as session:
            apply_dual(session, request, actor="anna", reference="submission 3")
        assert problem in raised.value.message, case
    assert counts(reg) == before


def test_dual_notes_names_that_differ_and_a_current_firm_not_connected(reg: Engine) -> None:
    with Session(reg) as session:
        plan = plan_dual(
            session,
            dual(
                current_firm_orgnr=OTHER_ACCOUNTING,
                client_name="  hjortens   BAGERI ab",
                firm_name="Granlunds Revision AB",
            ),
        )
        as_written = plan_dual(
            session,
            dual(client_orgnr="16 5561234567", subscription="9100 0034", firm_orgnr="5565551230"),
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

def test_a_dual_request_is_made_from_the_forms_field_values(reg: Engine) -> None:
    values = {
        "client_name": " Hjortens Bageri AB ",
        "client_orgnr": " 556123-4567",
        "client_subscription": "91000034 ",
        "current_firm_name": "Tallbackens Redovisning AB",
        "current_firm_orgnr": ACCOUNTING,
        "current_firm_role": "accounting",
        "new_firm_name": "",
        "new_firm_orgnr": AUDIT,
        "new_firm_role": "audit",
        "new_firm_email": "kontakt@granlund.example",
    }
    request = DualConnectionRequest.from_values(values, on=ON)
    assert request == dual(current_firm_orgnr=ACCOUNTING, client_name="Hjortens Bageri AB")
    assert DualConnectionRequest.from_values(values | {"current_firm_orgnr": " "}, on=ON) == dual(
        client_name="Hjortens Bageri AB"
    )
    with Session(reg) as session:
        assert [c.summary for c in plan_dual(session, request).changes] == [
            c.summary for c in plan_dual(session, dual()).changes
        ]
        empty = plan_dual(session, DualConnectionRequest.from_values({}, on=ON))
    assert not empty.ok and empty.changes == []
    assert any("är inget giltigt organisationsnummer för företaget" in p for p in empty.problems)
    assert any("”” är ingen byråtyp" in p for p in empty.problems)
