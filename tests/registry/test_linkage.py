"""What both linkages share (`registry.linkage`): two reviewers at once, the sample registry."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine, event
from sqlalchemy.orm import ORMExecuteState
from sqlmodel import Session

from registry import (
    Conflict,
    DisconnectionRequest,
    DualConnectionRequest,
    LinkagePlan,
    apply_disconnect,
    apply_dual,
    import_registry,
    plan_disconnect,
    plan_dual,
    session_scope,
)
from tests.registry.linkage_cases import (
    ON,
    SELF_PAYER,
    SELF_SUBSCRIPTION,
    disconnect,
    dual,
    linkage_events,
)

# -- two reviewers at once -------------------------------------------------------------------


def _apply_elsewhere(engine: Engine, apply: Callable[[Session], LinkagePlan]) -> None:
    with session_scope(engine) as other:
        assert apply(other).changes


def test_dual_lost_race_is_a_conflict(reg: Engine) -> None:
    """Another transaction connects the pair between this one's plan and its write."""

    def rival(session: Session) -> LinkagePlan:
        return apply_dual(session, dual(), actor="rival", reference="submission 8")

    with Session(reg) as session:
        fired: list[bool] = []

        @event.listens_for(session, "before_flush")
        def interleave(*_: object) -> None:
            if not fired:
                fired.append(True)
                _apply_elsewhere(reg, rival)

        with pytest.raises(Conflict, match="ändrades av någon annan"):
            apply_dual(session, dual(), actor="anna", reference="submission 8")
        session.rollback()
        assert fired
        again = plan_dual(session, dual())
    assert again.already_done
    with Session(reg) as session:
        assert [e.actor for e in linkage_events(session)] == ["rival"]


# With the client paying itself only the conditional UPDATE stands between the two;
# when the firm paid, the payer row per day would catch the loser too.
@pytest.mark.parametrize(
    ("asked", "changes"),
    [
        (disconnect(client_orgnr=SELF_PAYER, subscription=SELF_SUBSCRIPTION), 1),
        (disconnect(), 2),
    ],
    ids=["client pays", "firm paid"],
)
def test_disconnect_lost_race_is_a_conflict(
    reg: Engine, asked: DisconnectionRequest, changes: int
) -> None:
    def rival(session: Session) -> LinkagePlan:
        return apply_disconnect(session, asked, actor="rival", reference="submission 8")

    with Session(reg) as session:
        fired: list[bool] = []

        @event.listens_for(session, "do_orm_execute")
        def interleave(state: ORMExecuteState) -> None:
            if state.is_update and not fired:
                fired.append(True)
                _apply_elsewhere(reg, rival)

        with pytest.raises(Conflict, match="ändrades av någon annan"):
            apply_disconnect(session, asked, actor="anna", reference="submission 8")
        session.rollback()
        assert fired
    with Session(reg) as session:
        assert [e.actor for e in linkage_events(session)] == ["rival"] * changes
        assert plan_disconnect(session, asked).already_done


# Row locks and waiting writers are observable on PostgreSQL only.
@pytest.mark.serial
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
@pytest.mark.parametrize("kind", ["dual", "disconnect"])
def test_concurrent_apply_on_postgresql_waits_then_conflicts(reg: Engine, kind: str) -> None:
    """Two sessions really at once: the second blocks on the first's lock, then loses."""

    def apply(session: Session, actor: str) -> LinkagePlan:
        if kind == "dual":
            return apply_dual(session, dual(), actor=actor, reference="submission 11")
        return apply_disconnect(session, disconnect(), actor=actor, reference="submission 11")

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


# -- the sample registry ---------------------------------------------------------------------


def test_sample_registry_disconnect_of_a_client_its_firm_paid(engine: Engine) -> None:
    sample = Path(__file__).resolve().parents[2] / "samples" / "registry.json"
    with session_scope(engine) as session:
        assert import_registry(session, sample).ok
    with session_scope(engine) as session:
        plan = apply_disconnect(
            session,
            DisconnectionRequest(
                client_orgnr="556440-4845",
                subscription="10057321",
                firm_orgnr="559355-2333",
                role="accounting",
                takeover=True,
                on=dt.date(2026, 12, 14),
            ),
            actor="bo",
            reference="submission 1",
        )
        dual_plan = plan_dual(
            session,
            DualConnectionRequest(
                client_orgnr="590516-7853",
                subscription="10110138",
                firm_orgnr="556884-8260",
                role="accounting",
                on=ON,
            ),
        )
    assert [c.summary for c in plan.changes] == [
        "Bohusläns Redovisningsbyrå AB (redovisningsbyrå) kopplas bort från Svensson El AB "
        "(556440-4845) den 2026-12-14; kopplingen gällde sedan 2018-02-01.",
        "Svensson El AB blir betalare av abonnemang 10057321 från 2027-01-01 i stället för "
        "Bohusläns Redovisningsbyrå AB.",
    ]
    assert dual_plan.already_done  # Lapplands is Erikssons Data's accounting firm already
