"""The customer pages' job: grants past their last day and requests past seven days end, once."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from kopplingar.portal_jobs import run_portal_jobs
from registry import (
    AuditEvent,
    Company,
    ConnectionRole,
    DigitalRequest,
    PermissionLevel,
    Person,
    Program,
    ProgramGrant,
    RequestKind,
    RequestState,
    Subscription,
    import_registry,
)
from registry.grants import set_grants
from tests.portal.cases import CLIENT, FIRM, KARIN, SARA, SVEN, portal_doc
from tests.registry.helpers import write_json
from workqueue import OutboundMail

NOW = dt.datetime(2026, 12, 3, 9, 0, tzinfo=dt.UTC)


def _ids(session: Session) -> dict[str, int]:
    rows = session.exec(select(Company.orgnr, Company.id)).all()
    people = session.exec(select(Person.email, Person.id)).all()
    return {k: v for k, v in [*rows, *people] if v is not None}


def test_lapsed_grants_and_requests_end_once_and_people_are_told(
    engine: Engine, tmp_path: Path
) -> None:
    with Session(engine) as session:
        assert import_registry(session, write_json(tmp_path, portal_doc())).ok
        ids = _ids(session)
        set_grants(session, client_id=ids[CLIENT], firm_id=ids[FIRM], person_id=ids[KARIN],
                   grants={Program.BOOKKEEPING: (PermissionLevel.WRITE, NOW.date())},
                   actor=SARA, today=NOW.date(), now=NOW)  # fmt: skip
        subscription = session.exec(
            select(Subscription).where(col(Subscription.company_id) == ids[CLIENT])
        ).one()
        assert subscription.id is not None
        session.add(DigitalRequest(kind=RequestKind.DISCONNECT, client_id=ids[CLIENT],
                                   firm_id=ids[FIRM], role=ConnectionRole.ACCOUNTING,
                                   subscription_id=subscription.id, requested_by=ids[SVEN],
                                   requested_at=NOW,
                                   expires_at=NOW + dt.timedelta(days=7)))  # fmt: skip
        session.commit()

    def run(at: dt.datetime) -> tuple[int, int]:
        report = run_portal_jobs(engine, now=at, sender_domain="kopplingar.example",
                                 base_url="https://kopplingar.example")  # fmt: skip
        return report.grants_ended, report.requests_expired

    assert run(NOW + dt.timedelta(hours=1)) == (0, 0)  # the last day is still a day of access
    later = NOW + dt.timedelta(days=7)
    assert run(later) == (1, 1)
    assert run(later) == (0, 0)
    with Session(engine) as session:
        grant = session.exec(select(ProgramGrant)).one()
        assert grant.ended_at == later and grant.end_reason == "expired"
        request = session.exec(select(DigitalRequest)).one()
        assert request.state == RequestState.EXPIRED
        actions = session.exec(select(AuditEvent.action).where(AuditEvent.actor == "system"))
        assert sorted(actions.all()) == ["digital_request.expired", "grant.expired"]
        told = {m.recipient for m in session.exec(select(OutboundMail)).all()
                if m.template == "grant_expired"}  # fmt: skip
        assert {KARIN, SARA, SVEN} <= told
