"""A client's grants to consultants (`registry.grants`): rules, history, expiry, disconnection."""

from __future__ import annotations

import datetime as dt
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine, event
from sqlalchemy.orm import ORMExecuteState
from sqlmodel import Session, col, select

from registry import (
    AuditEvent,
    Company,
    Conflict,
    Connection,
    ConnectionRole,
    ConsultantClient,
    GrantEnd,
    PermissionLevel,
    Person,
    Program,
    ProgramGrant,
    RoleKind,
    import_registry,
    session_scope,
)
from registry.grants import (
    GrantChanges,
    GrantRefused,
    can_grant,
    client_consultants,
    end_grants_of_connection,
    expire_grants,
    set_grants,
)
from tests.registry.helpers import ACCOUNTING, AUDIT, CLIENT, small_doc, write_json

NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
TODAY = dt.date(2026, 3, 2)
SARA = "sara.hjort@hjortensbageri.example"  # the client's system administrator
KARIN = "karin.ek@tallbackensredovisning.example"
OLOF = "olof.lind@tallbackensredovisning.example"
MARIA = "maria.tallback@tallbackensredovisning.example"  # the firm's sysadmin, no consultant
CECILIA = "cecilia.strand@granlunds.example"  # consultant of the firm whose connection ended

BOOK, INVOICE, PAY = Program.BOOKKEEPING, Program.INVOICING, Program.PAYROLL
READ, WRITE, ADMIN = PermissionLevel.READ, PermissionLevel.WRITE, PermissionLevel.ADMIN


@dataclass(frozen=True)
class Reg:
    engine: Engine
    client: int
    firm: int
    audit: int
    people: dict[str, int]


@pytest.fixture
def reg(engine: Engine, tmp_path: Path) -> Reg:
    doc = small_doc()
    doc["people"] += [
        {"email": SARA, "name": "Sara Hjort"},
        {"email": KARIN, "name": "Karin Ek"},
        {"email": OLOF, "name": "Olof Lind"},
        {"email": CECILIA, "name": "Cecilia Strand"},
    ]
    doc["roles"] += [
        {"person": SARA, "company": CLIENT, "role": "sysadmin"},
        {"person": KARIN, "company": ACCOUNTING, "role": "consultant"},
        {"person": OLOF, "company": ACCOUNTING, "role": "consultant"},
        {"person": CECILIA, "company": AUDIT, "role": "consultant"},
    ]
    with session_scope(engine) as session:
        assert import_registry(session, write_json(tmp_path, doc)).ok
    with Session(engine) as session:
        ids = {c.orgnr: c.id for c in session.exec(select(Company)).all()}
        people = {p.email: p.id for p in session.exec(select(Person)).all()}
    return Reg(
        engine,
        client=_id(ids[CLIENT]),
        firm=_id(ids[ACCOUNTING]),
        audit=_id(ids[AUDIT]),
        people={email: _id(pid) for email, pid in people.items()},
    )


def _id(value: int | None) -> int:
    assert value is not None
    return value


def _set(
    session: Session,
    reg: Reg,
    grants: dict[Program, tuple[PermissionLevel, dt.date | None] | None],
    *,
    person: str = KARIN,
    firm: int | None = None,
    today: dt.date = TODAY,
    actor: str = SARA,
) -> GrantChanges:
    return set_grants(
        session,
        client_id=reg.client,
        firm_id=reg.firm if firm is None else firm,
        person_id=reg.people[person],
        grants=grants,
        actor=actor,
        today=today,
        now=dt.datetime.combine(today, dt.time(9), tzinfo=dt.UTC),
    )


def _grants(engine: Engine) -> list[ProgramGrant]:
    with Session(engine) as session:
        return list(session.exec(select(ProgramGrant).order_by(col(ProgramGrant.id))).all())


def _events(engine: Engine) -> list[tuple[str, str, str]]:
    with Session(engine) as session:
        rows = session.exec(
            select(AuditEvent)
            .where(col(AuditEvent.action).startswith("grant."))
            .order_by(col(AuditEvent.id))
        ).all()
        return [(e.action, e.actor, e.subject) for e in rows]


def test_only_system_and_program_administrators_grant() -> None:
    assert can_grant({RoleKind.SYSADMIN})
    assert can_grant([RoleKind.FIRMATECKNARE, RoleKind.PROGRAM_ADMIN])
    assert not can_grant({RoleKind.FIRMATECKNARE, RoleKind.CONSULTANT})
    assert not can_grant(())


def test_the_client_sees_connected_firms_and_their_consultants(reg: Reg) -> None:
    with Session(reg.engine) as session:
        session.add(
            ConsultantClient(firm_id=reg.firm, person_id=reg.people[OLOF], client_id=reg.client)
        )
        session.commit()
        firms = client_consultants(session, reg.client, today=TODAY)
    # The audit firm's connection ended in 2020, so it and Cecilia are not there;
    # Maria is the firm's system administrator, not a consultant.
    assert [f.firm.orgnr for f in firms] == [ACCOUNTING]
    firm = firms[0]
    assert firm.roles == (ConnectionRole.ACCOUNTING,)
    assert firm.since == dt.date(2019, 2, 1)
    assert [(c.person.email, c.grants, c.on_client_list) for c in firm.consultants] == [
        (KARIN, (), False),
        (OLOF, (), True),
    ]


def test_giving_changing_and_taking_away_keeps_the_history(reg: Reg) -> None:
    until = dt.date(2026, 6, 30)
    with session_scope(reg.engine) as session:
        given = _set(session, reg, {BOOK: (WRITE, until), INVOICE: (READ, None), PAY: None})
    assert [(c.program, c.before, c.after) for c in given.changes] == [
        (BOOK, None, (WRITE, until)),
        (INVOICE, None, (READ, None)),
    ]
    assert given.gave_access
    with Session(reg.engine) as session:
        karin = client_consultants(session, reg.client, today=TODAY)[0].consultant(
            reg.people[KARIN]
        )
        assert karin is not None
        assert [(g.program, g.level, g.valid_until) for g in karin.grants] == [
            (BOOK, WRITE, until),
            (INVOICE, READ, None),
        ]

    with session_scope(reg.engine) as session:
        changed = _set(session, reg, {BOOK: (ADMIN, until), INVOICE: None, PAY: None})
        assert [(c.program, c.after) for c in changed.changes] == [
            (BOOK, (ADMIN, until)),
            (INVOICE, None),
        ]
        assert [g.access for g in changed.grants] == [(ADMIN, until)]
    with session_scope(reg.engine) as session:
        assert not _set(session, reg, {BOOK: (ADMIN, until)}).changes

    rows = _grants(reg.engine)
    assert [(r.program, r.level, r.end_reason, r.ended_at is None) for r in rows] == [
        (BOOK, WRITE, GrantEnd.REVOKED, False),
        (INVOICE, READ, GrantEnd.REVOKED, False),
        (BOOK, ADMIN, None, True),
    ]
    assert all(r.granted_by == SARA and r.firm_id == reg.firm for r in rows)
    ids = [r.id for r in rows]
    assert _events(reg.engine) == [
        ("grant.given", SARA, f"grant:{ids[0]}"),
        ("grant.given", SARA, f"grant:{ids[1]}"),
        ("grant.changed", SARA, f"grant:{ids[2]}"),
        ("grant.revoked", SARA, f"grant:{ids[1]}"),
    ]
    with Session(reg.engine) as session:
        changed_event = session.exec(
            select(AuditEvent).where(AuditEvent.action == "grant.changed")
        ).one()
    assert changed_event.before is not None and changed_event.after is not None
    assert (changed_event.before["level"], changed_event.after["level"]) == ("write", "admin")
    assert changed_event.after["valid_until"] == "2026-06-30"
    assert changed_event.after["person"] == KARIN and changed_event.after["client"] == CLIENT


def test_a_firm_not_connected_or_a_person_not_its_consultant_is_refused(reg: Reg) -> None:
    with Session(reg.engine) as session:
        with pytest.raises(GrantRefused, match="Granlunds Revisionsbyrå AB är inte kopplad"):
            _set(session, reg, {BOOK: (READ, None)}, person=CECILIA, firm=reg.audit)
        with pytest.raises(GrantRefused, match="Maria Tallbäck är inte konsult hos Tallbackens"):
            _set(session, reg, {BOOK: (READ, None)}, person=MARIA)
        # Karin is a consultant, but of the connected firm, not of the audit firm.
        with pytest.raises(GrantRefused, match="inte kopplad"):
            _set(session, reg, {BOOK: (READ, None)}, firm=reg.audit)
    assert _grants(reg.engine) == [] and _events(reg.engine) == []


def test_a_last_day_before_today_is_refused_and_today_is_fine(reg: Reg) -> None:
    with Session(reg.engine) as session:
        with pytest.raises(GrantRefused, match="före i dag") as refused:
            _set(session, reg, {BOOK: (READ, None), PAY: (READ, TODAY - dt.timedelta(days=1))})
        assert refused.value.program is PAY
    assert _grants(reg.engine) == []  # the valid program was not written either
    with session_scope(reg.engine) as session:
        assert _set(session, reg, {PAY: (READ, TODAY)}).changes
    with Session(reg.engine) as session:
        karin = client_consultants(session, reg.client, today=TODAY)[0].consultant(
            reg.people[KARIN]
        )
        assert karin is not None and karin.grant(PAY) is not None


def test_access_ends_after_its_last_day_even_before_the_expiry_job(reg: Reg) -> None:
    last = dt.date(2026, 3, 10)
    with session_scope(reg.engine) as session:
        _set(session, reg, {BOOK: (WRITE, last), INVOICE: (READ, None)})
    with Session(reg.engine) as session:

        def programs(day: dt.date) -> list[Program]:
            karin = client_consultants(session, reg.client, today=day)[0].consultant(
                reg.people[KARIN]
            )
            assert karin is not None
            return [g.program for g in karin.grants]

        assert programs(last) == [BOOK, INVOICE]
        assert programs(last + dt.timedelta(days=1)) == [INVOICE]
    assert all(r.ended_at is None for r in _grants(reg.engine))  # nothing ran yet

    # Taking away a lapsed grant changes nothing; giving it again ends the lapsed row first.
    later = last + dt.timedelta(days=3)
    with session_scope(reg.engine) as session:
        assert not _set(session, reg, {BOOK: None}, today=later).changes
    with session_scope(reg.engine) as session:
        again = _set(session, reg, {BOOK: (READ, None)}, today=later)
        assert [(c.before, c.after) for c in again.changes] == [(None, (READ, None))]
    rows = _grants(reg.engine)
    assert [(r.program, r.end_reason) for r in rows] == [
        (BOOK, GrantEnd.EXPIRED),
        (INVOICE, None),
        (BOOK, None),
    ]
    assert [(a, actor) for a, actor, _ in _events(reg.engine)][-2:] == [
        ("grant.expired", "system"),
        ("grant.given", SARA),
    ]


def test_expiry_ends_lapsed_grants_once_and_says_whom_to_tell(reg: Reg) -> None:
    with session_scope(reg.engine) as session:
        _set(session, reg, {BOOK: (WRITE, dt.date(2026, 3, 5)), INVOICE: (READ, None)})
        _set(session, reg, {PAY: (ADMIN, dt.date(2026, 3, 6))}, person=OLOF)
    day = dt.date(2026, 3, 7)
    now = dt.datetime(2026, 3, 7, 1, 0, tzinfo=dt.UTC)
    with session_scope(reg.engine) as session:
        # The day after Karin's last day but on Olof's: only Karin's grant ends.
        first = expire_grants(session, today=dt.date(2026, 3, 6), now=now)
        assert [(e.person.email, e.program) for e in first] == [(KARIN, BOOK)]
        expired = first[0]
        assert (expired.level, expired.valid_until) == (WRITE, dt.date(2026, 3, 5))
        assert (expired.client.orgnr, expired.firm.orgnr) == (CLIENT, ACCOUNTING)
        assert [p.email for p in expired.client_admins] == [SARA]
    with session_scope(reg.engine) as session:
        assert [e.person.email for e in expire_grants(session, today=day, now=now)] == [OLOF]
    with session_scope(reg.engine) as session:
        assert expire_grants(session, today=day, now=now) == []

    rows = _grants(reg.engine)
    assert [(r.program, r.end_reason, r.ended_at) for r in rows] == [
        (BOOK, GrantEnd.EXPIRED, now),
        (INVOICE, None, None),
        (PAY, GrantEnd.EXPIRED, now),
    ]
    assert [(a, actor) for a, actor, _ in _events(reg.engine)][3:] == [
        ("grant.expired", "system"),
        ("grant.expired", "system"),
    ]


def test_two_expiry_runs_at_once_end_each_grant_once(reg: Reg) -> None:
    with session_scope(reg.engine) as session:
        _set(session, reg, {BOOK: (WRITE, TODAY), INVOICE: (READ, TODAY)})
    later = TODAY + dt.timedelta(days=1)
    rival: list[int] = []
    with Session(reg.engine) as session:

        @event.listens_for(session, "do_orm_execute")
        def interleave(state: ORMExecuteState) -> None:
            if state.is_update and not rival:
                with session_scope(reg.engine) as other:
                    rival.extend(e.grant_id for e in expire_grants(other, today=later, now=NOW))

        mine = expire_grants(session, today=later, now=NOW)
        session.commit()
    assert len(rival) == 2 and mine == []
    assert [a for a, _, _ in _events(reg.engine)].count("grant.expired") == 2


# Row locks and waiting writers are observable on PostgreSQL only.
@pytest.mark.serial
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_concurrent_expiry_on_postgresql_waits_then_finds_nothing(reg: Reg) -> None:
    with session_scope(reg.engine) as session:
        _set(session, reg, {BOOK: (WRITE, TODAY)})
    later = TODAY + dt.timedelta(days=1)
    outcome: list[BaseException | int] = []

    def second() -> None:
        try:
            with session_scope(reg.engine) as session:
                outcome.append(len(expire_grants(session, today=later, now=NOW)))
        except BaseException as exc:  # handed to the test thread
            outcome.append(exc)

    first = Session(reg.engine)
    thread = threading.Thread(target=second)
    try:
        assert len(expire_grants(first, today=later, now=NOW)) == 1
        thread.start()
        with reg.engine.connect() as watcher:
            deadline = time.monotonic() + 30
            while not watcher.execute(
                sa.text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock'"
                )
            ).scalar_one():
                if time.monotonic() > deadline:
                    raise AssertionError(f"the second run never waited: {outcome}")
                time.sleep(0.02)
        first.commit()
    finally:
        first.close()
        thread.join(20)
    assert outcome == [0]
    assert [a for a, _, _ in _events(reg.engine)].count("grant.expired") == 1


def test_two_administrators_giving_the_same_program_at_once_conflict(reg: Reg) -> None:
    with Session(reg.engine) as session:
        fired: list[bool] = []

        @event.listens_for(session, "before_flush")
        def interleave(*_: object) -> None:
            if not fired:
                fired.append(True)
                with session_scope(reg.engine) as other:
                    _set(other, reg, {BOOK: (READ, None)}, actor="rival@hjortensbageri.example")

        with pytest.raises(Conflict, match="ändrade konsultens behörigheter samtidigt"):
            _set(session, reg, {BOOK: (ADMIN, None)})
        session.rollback()
        assert fired
    rows = _grants(reg.engine)
    assert [(r.level, r.granted_by) for r in rows] == [(READ, "rival@hjortensbageri.example")]
    assert [actor for _, actor, _ in _events(reg.engine)] == ["rival@hjortensbageri.example"]


def test_changing_a_grant_another_administrator_just_changed_conflicts(reg: Reg) -> None:
    with session_scope(reg.engine) as session:
        _set(session, reg, {BOOK: (READ, None)})
    with Session(reg.engine) as session:
        fired: list[bool] = []

        @event.listens_for(session, "do_orm_execute")
        def interleave(state: ORMExecuteState) -> None:
            if state.is_update and not fired:
                fired.append(True)
                with session_scope(reg.engine) as other:
                    _set(other, reg, {BOOK: None}, actor="rival@hjortensbageri.example")

        with pytest.raises(Conflict, match="samtidigt"):
            _set(session, reg, {BOOK: (WRITE, None)})
        session.rollback()
    assert [(r.level, r.end_reason) for r in _grants(reg.engine)] == [(READ, GrantEnd.REVOKED)]


def _end_connection(session: Session, reg: Reg, role: ConnectionRole) -> None:
    session.exec(
        sa.update(Connection)
        .where(
            col(Connection.client_id) == reg.client,
            col(Connection.firm_id) == reg.firm,
            col(Connection.role) == role,
            col(Connection.until).is_(None),
        )
        .values(until=TODAY)
    )


def test_a_disconnection_ends_the_firms_grants_at_the_client(reg: Reg) -> None:
    with session_scope(reg.engine) as session:
        _set(session, reg, {BOOK: (WRITE, None), INVOICE: (READ, dt.date(2026, 12, 31))})
        _set(session, reg, {PAY: (ADMIN, None)}, person=OLOF)
    with session_scope(reg.engine) as session:
        # Still connected: nothing ends.
        assert (
            end_grants_of_connection(session, client_id=reg.client, firm_id=reg.firm, now=NOW) == 0
        )
        _end_connection(session, reg, ConnectionRole.ACCOUNTING)
        assert (
            end_grants_of_connection(session, client_id=reg.client, firm_id=reg.firm, now=NOW) == 3
        )
    with session_scope(reg.engine) as session:
        assert (
            end_grants_of_connection(session, client_id=reg.client, firm_id=reg.firm, now=NOW) == 0
        )
        assert client_consultants(session, reg.client, today=TODAY) == []
    assert {r.end_reason for r in _grants(reg.engine)} == {GrantEnd.DISCONNECTED}
    assert [(a, actor) for a, actor, _ in _events(reg.engine)][3:] == [
        ("grant.disconnected", "system")
    ] * 3


def test_grants_stay_while_the_firm_keeps_its_other_connection(reg: Reg) -> None:
    with session_scope(reg.engine) as session:
        # The registry's own rules would not connect an accounting firm as auditor,
        # but the table allows a firm in both roles; access follows the firm.
        session.add(
            Connection(
                client_id=reg.client,
                firm_id=reg.firm,
                role=ConnectionRole.AUDIT,
                since=dt.date(2025, 1, 1),
            )
        )
        session.flush()
        _set(session, reg, {BOOK: (WRITE, None)})
    with session_scope(reg.engine) as session:
        firms = client_consultants(session, reg.client, today=TODAY)
        assert [f.roles for f in firms] == [(ConnectionRole.ACCOUNTING, ConnectionRole.AUDIT)]
        _end_connection(session, reg, ConnectionRole.AUDIT)
        assert (
            end_grants_of_connection(session, client_id=reg.client, firm_id=reg.firm, now=NOW) == 0
        )
    assert [r.end_reason for r in _grants(reg.engine)] == [None]


def test_naive_times_are_refused(reg: Reg) -> None:
    with Session(reg.engine) as session, pytest.raises(ValueError, match="naive"):
        expire_grants(session, today=TODAY, now=dt.datetime(2026, 3, 2, 9, 0))
