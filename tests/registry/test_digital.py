"""Digital requests (`registry.digital`): starting, approving exactly once, declining,
withdrawing, expiring, and every race, on SQLite and PostgreSQL.

The registry here (`digital_doc`) is small: a firm with two clients (one with
two system administrators and a bill the firm pays, one with a firmatecknare
only), an audit firm, a firm on the exclusion list and a client nobody is
connected to. `race` runs two sessions really at once: the first holds its
transaction open while the second reaches its UPDATE and has to wait.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine, event
from sqlalchemy.orm import ORMExecuteState
from sqlmodel import Session, col, select

from forms import make_subscription_number
from registry import (
    AuditEvent,
    Company,
    Connection,
    ConnectionRole,
    DigitalExclusion,
    DigitalRequest,
    DisconnectionRequest,
    DualConnectionRequest,
    LinkStatus,
    PermissionLevel,
    Person,
    Program,
    ProgramGrant,
    RequestKind,
    RequestState,
    Role,
    RoleKind,
    Subscription,
    SubscriptionPayer,
    apply_disconnect,
    apply_dual,
    import_registry,
    session_scope,
)
from registry.digital import (
    NO_MATCH,
    Decision,
    Outcome,
    Refusal,
    RequestRefused,
    Started,
    approve_request,
    decline_request,
    expire_requests,
    get_request,
    link_for_admin,
    open_request,
    pending_requests,
    prepare_disconnection,
    start_disconnection,
    start_dual,
    withdraw_request,
)
from tests.registry.helpers import Doc, write_json

T = TypeVar("T")

FIRM = "556701-1233"
AUDITOR = "559012-3450"
EXCLUDED = "556888-7771"
CLIENT = "556432-1007"
NOADMIN = "556777-8880"
EXCLUDED_CLIENT = "556111-2227"
LONE = "559333-2223"
UNKNOWN = "556000-1249"  # valid, in nobody's registry
CLIENT_SUB = make_subscription_number(4100001)
NOADMIN_SUB = make_subscription_number(4100002)
EXCLUDED_CLIENT_SUB = make_subscription_number(4100003)
LONE_SUB = make_subscription_number(4100004)
UNUSED_SUB = make_subscription_number(4100099)

ANNA, KARIN = "anna@bergdal.example", "karin@bergdal.example"
BO = "bo@hallands.example"
ERIK = "erik@nordrevision.example"
SARA, SVEN, FIA = "sara@nystrom.example", "sven@nystrom.example", "fia@nystrom.example"
GUSTAV = "gustav@lindqvist.example"
ALMA = "alma@akerlund.example"
LISA = "lisa@svensson.example"

NOW = dt.datetime(2026, 3, 10, 9, 0, tzinfo=dt.UTC)
TODAY = dt.date(2026, 3, 10)
NEXT_PERIOD = dt.date(2026, 4, 1)
WEEK = dt.timedelta(days=7)


def digital_doc() -> Doc:
    people = {
        ANNA: ("Anna Berg", FIRM, "sysadmin"),
        KARIN: ("Karin Dal", FIRM, "consultant"),
        BO: ("Bo Halland", AUDITOR, "sysadmin"),
        ERIK: ("Erik Nord", EXCLUDED, "sysadmin"),
        SARA: ("Sara Nyström", CLIENT, "sysadmin"),
        SVEN: ("Sven Nyström", CLIENT, "sysadmin"),
        FIA: ("Fia Nyström", CLIENT, "firmatecknare"),
        GUSTAV: ("Gustav Lindqvist", NOADMIN, "firmatecknare"),
        ALMA: ("Alma Åkerlund", EXCLUDED_CLIENT, "sysadmin"),
        LISA: ("Lisa Svensson", LONE, "sysadmin"),
    }
    connected = {CLIENT: FIRM, NOADMIN: FIRM, EXCLUDED_CLIENT: EXCLUDED}
    return {
        "companies": [
            {"orgnr": FIRM, "name": "Berg & Dal Redovisning AB", "kind": "accounting_firm"},
            {"orgnr": AUDITOR, "name": "Hallands Revisionsbyrå AB", "kind": "audit_firm"},
            {"orgnr": EXCLUDED, "name": "Nordrevision AB", "kind": "accounting_firm"},
            {"orgnr": CLIENT, "name": "Nyström Musik AB", "kind": "client"},
            {"orgnr": NOADMIN, "name": "Lindqvist Bygg AB", "kind": "client"},
            {"orgnr": EXCLUDED_CLIENT, "name": "Åkerlund Café AB", "kind": "client"},
            {"orgnr": LONE, "name": "Svensson Data AB", "kind": "client"},
        ],
        "subscriptions": [
            {"number": CLIENT_SUB, "orgnr": CLIENT},
            {"number": NOADMIN_SUB, "orgnr": NOADMIN},
            {"number": EXCLUDED_CLIENT_SUB, "orgnr": EXCLUDED_CLIENT},
            {"number": LONE_SUB, "orgnr": LONE},
        ],
        "people": [{"email": e, "name": n} for e, (n, _, _) in people.items()],
        "roles": [{"person": e, "company": c, "role": r} for e, (_, c, r) in people.items()],
        "connections": [
            {"client": c, "firm": f, "role": "accounting", "since": "2024-01-01", "until": None}
            for c, f in connected.items()
        ],
        "payers": [{"subscription": CLIENT_SUB, "payer": FIRM, "from": "2024-01-01"}],
    }


@pytest.fixture
def digital(engine: Engine, tmp_path: Path) -> Engine:
    with session_scope(engine) as session:
        assert import_registry(session, write_json(tmp_path, digital_doc())).ok
        session.add(DigitalExclusion(company_id=company_id(session, EXCLUDED), note="avtal"))
        session.add(
            ProgramGrant(
                client_id=company_id(session, CLIENT),
                firm_id=company_id(session, FIRM),
                person_id=person_id(session, KARIN),
                program=Program.BOOKKEEPING,
                level=PermissionLevel.WRITE,
                granted_by=SARA,
            )
        )
    return engine


def company(session: Session, orgnr: str) -> Company:
    return session.exec(select(Company).where(Company.orgnr == orgnr)).one()


def person(session: Session, email: str) -> Person:
    return session.exec(select(Person).where(Person.email == email)).one()


def company_id(session: Session, orgnr: str) -> int:
    found = company(session, orgnr).id
    assert found is not None
    return found


def person_id(session: Session, email: str) -> int:
    found = person(session, email).id
    assert found is not None
    return found


def disconnection(
    engine: Engine,
    *,
    by: str = ANNA,
    firm: str = FIRM,
    client: str = CLIENT,
    now: dt.datetime = NOW,
) -> Started:
    with session_scope(engine) as session:
        return start_disconnection(
            session,
            firm=company(session, firm),
            client=company(session, client),
            requester=person(session, by),
            now=now,
        )


def dual(
    engine: Engine,
    *,
    by: str = BO,
    firm: str = AUDITOR,
    orgnr: str = CLIENT,
    sub: str = CLIENT_SUB,
    now: dt.datetime = NOW,
) -> Started:
    with session_scope(engine) as session:
        return start_dual(
            session,
            firm=company(session, firm),
            requester=person(session, by),
            client_orgnr=orgnr,
            subscription=sub,
            now=now,
        )


def token_of(started: Started, email: str) -> str:
    return next(token for who, token in started.links if who.email == email)


def decide(
    engine: Engine, act: Callable[..., Decision], token: str, now: dt.datetime = NOW
) -> Decision:
    with session_scope(engine) as session:
        return act(session, token, now=now)


def events(engine: Engine, *prefixes: str) -> list[AuditEvent]:
    with Session(engine) as session:
        rows = session.exec(select(AuditEvent).order_by(col(AuditEvent.id))).all()
    return [e for e in rows if not prefixes or e.action.startswith(prefixes)]


def registry_state(engine: Engine) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Every connection and payer row: equal before and after means nothing changed."""
    with Session(engine) as session:
        conns = [
            (c.client_id, c.firm_id, c.role, c.since, c.until)
            for c in session.exec(select(Connection).order_by(col(Connection.id))).all()
        ]
        payers = session.exec(
            select(
                col(SubscriptionPayer.subscription_id),
                col(SubscriptionPayer.payer_id),
                col(SubscriptionPayer.valid_from),
            ).order_by(col(SubscriptionPayer.id))
        ).all()
    return [tuple(r) for r in conns], [tuple(r) for r in payers]


def connection_until(engine: Engine, client: str, firm: str) -> list[dt.date | None]:
    with Session(engine) as session:
        rows = session.exec(
            select(col(Connection.until))
            .where(
                Connection.client_id == company_id(session, client),
                Connection.firm_id == company_id(session, firm),
            )
            .order_by(col(Connection.id))
        ).all()
    return list(rows)


def payer_rows(engine: Engine, sub_owner: str) -> list[tuple[str, dt.date]]:
    with Session(engine) as session:
        rows = session.exec(
            select(col(Company.orgnr), col(SubscriptionPayer.valid_from))
            .join(Company, col(Company.id) == col(SubscriptionPayer.payer_id))
            .join(Subscription, col(Subscription.id) == col(SubscriptionPayer.subscription_id))
            .where(Subscription.company_id == company_id(session, sub_owner))
            .order_by(col(SubscriptionPayer.valid_from))
        ).all()
    return [(orgnr, day) for orgnr, day in rows]


# -- starting a disconnection ------------------------------------------------------------------


def test_the_confirmation_page_sees_what_would_happen_and_nothing_is_written(
    digital: Engine,
) -> None:
    with session_scope(digital) as session:
        prepared = prepare_disconnection(
            session,
            firm=company(session, FIRM),
            client=company(session, CLIENT),
            requester=person(session, ANNA),
            now=NOW,
        )
    assert (prepared.role, prepared.since, prepared.payer_from) == (
        ConnectionRole.ACCOUNTING,
        dt.date(2024, 1, 1),
        NEXT_PERIOD,
    )
    assert prepared.subscription.number == CLIENT_SUB
    assert [p.email for p in prepared.admins] == [SARA, SVEN]
    assert [a.person.email for a in prepared.access] == [KARIN]
    assert [e.action for e in events(digital)] == ["registry.imported"]


def test_a_disconnection_request_goes_to_every_client_admin(digital: Engine) -> None:
    started = disconnection(digital)
    assert sorted(p.email for p, _ in started.links) == [SARA, SVEN]
    assert len({t for _, t in started.links}) == 2  # a link each
    view = started.view
    assert view.kind is RequestKind.DISCONNECT and view.state is RequestState.PENDING
    assert (view.firm.orgnr, view.client.orgnr, view.role) == (
        FIRM,
        CLIENT,
        ConnectionRole.ACCOUNTING,
    )
    assert view.request.expires_at == NOW + WEEK
    assert view.payer_from == NEXT_PERIOD  # the firm pays now; the client from next month
    assert [(a.person.email, a.programs) for a in view.access] == [(KARIN, (Program.BOOKKEEPING,))]
    [created] = events(digital, "digital_request.")
    assert (created.action, created.actor, created.subject) == (
        "digital_request.created",
        ANNA,
        f"digital_request:{view.id}",
    )
    assert created.after is not None and created.after["sent_to"] == [SARA, SVEN]
    with Session(digital) as session:
        opened = open_request(session, token_of(started, SVEN), now=NOW)
    assert opened.link_status is LinkStatus.VALID and opened.may_decide
    assert opened.person is not None and opened.person.email == SVEN


@pytest.mark.parametrize(
    ("by", "firm", "client", "reason", "words"),
    [
        (
            ERIK,
            EXCLUDED,
            EXCLUDED_CLIENT,
            Refusal.EXCLUDED,
            "Digital bortkoppling erbjuds inte för Nordrevision AB",
        ),
        (ANNA, FIRM, NOADMIN, Refusal.NO_ADMIN, "Lindqvist Bygg AB har ingen systemadministratör"),
        (KARIN, FIRM, CLIENT, Refusal.NOT_ALLOWED, "Bara en systemadministratör"),
        (ANNA, FIRM, LONE, Refusal.NOT_CONNECTED, "Svensson Data AB är inte klient hos"),
        (SARA, CLIENT, LONE, Refusal.NOT_A_FIRM, "Nyström Musik AB är ingen byrå"),
    ],
    ids=["exclusion list", "no client admin", "consultant", "not connected", "not a firm"],
)
def test_a_disconnection_is_refused_with_a_reason(
    digital: Engine, by: str, firm: str, client: str, reason: Refusal, words: str
) -> None:
    with pytest.raises(RequestRefused, match=words) as refused:
        disconnection(digital, by=by, firm=firm, client=client)
    assert refused.value.reason is reason
    assert events(digital, "digital_request.") == []


def test_one_request_at_a_time(digital: Engine) -> None:
    disconnection(digital)
    with pytest.raises(RequestRefused, match="väntar redan på svar") as refused:
        disconnection(digital)
    assert refused.value.reason is Refusal.PENDING
    # Once it has expired a new one may be sent.
    assert disconnection(digital, now=NOW + WEEK).view.state is RequestState.PENDING


# -- approving exactly once --------------------------------------------------------------------


def test_approving_disconnects_once_and_the_other_link_shows_who(digital: Engine) -> None:
    started = disconnection(digital)
    later = NOW + dt.timedelta(hours=3)
    decision = decide(digital, approve_request, token_of(started, SARA), later)
    assert decision.outcome is Outcome.APPROVED
    assert decision.view is not None and decision.view.decider is not None
    assert decision.view.decider.email == SARA and decision.view.payer_from == NEXT_PERIOD
    assert connection_until(digital, CLIENT, FIRM) == [TODAY]
    assert payer_rows(digital, CLIENT) == [(FIRM, dt.date(2024, 1, 1)), (CLIENT, NEXT_PERIOD)]
    linkage = [
        (e.action, e.actor, e.detail.split(":")[0:2])
        for e in events(digital, "connection.", "payer.")
    ]
    assert linkage == [
        ("connection.ended", SARA, ["digital_request", f"{started.view.id}"]),
        ("payer.changed", SARA, ["digital_request", f"{started.view.id}"]),
    ]
    assert [e.action for e in events(digital, "digital_request.")] == [
        "digital_request.created",
        "digital_request.approved",
    ]
    # The consultants' access through the firm ended with the connection.
    [ended] = events(digital, "grant.")
    assert (ended.action, ended.actor) == ("grant.disconnected", "system")
    with Session(digital) as session:
        grant = session.exec(select(ProgramGrant)).one()
    assert grant.ended_at == later
    with Session(digital) as session:
        request = session.get(DigitalRequest, started.view.id)
        assert request is not None and request.state == RequestState.APPROVED
        assert request.decided_at == later
        assert request.decided_by == person_id(session, SARA)
        shown = open_request(session, token_of(started, SVEN), now=later)
    assert shown.link_status is LinkStatus.USED and not shown.may_decide
    assert shown.view is not None and shown.view.state is RequestState.APPROVED
    assert shown.view.decider is not None and shown.view.decider.name == "Sara Nyström"

    before = registry_state(digital)
    for who in (SVEN, SARA):  # the other admin, and a second click
        again = decide(digital, approve_request, token_of(started, who), later)
        assert again.outcome is Outcome.DECIDED
        assert again.view is not None and again.view.state is RequestState.APPROVED
    assert decide(digital, decline_request, token_of(started, SVEN), later).outcome is (
        Outcome.DECIDED
    )
    assert registry_state(digital) == before
    assert len(events(digital, "connection.")) == 1


def test_a_client_paying_itself_keeps_paying(digital: Engine) -> None:
    with session_scope(digital) as session:
        session.add(
            Role(
                person_id=person_id(session, GUSTAV),
                company_id=company_id(session, NOADMIN),
                role=RoleKind.SYSADMIN,
            )
        )
    started = disconnection(digital, client=NOADMIN)
    assert started.view.payer_from is None
    decision = decide(digital, approve_request, token_of(started, GUSTAV))
    assert decision.outcome is Outcome.APPROVED and decision.view is not None
    assert decision.view.payer_from is None
    assert [c.action for c in decision.plan.changes] == ["connection.ended"]  # type: ignore[union-attr]


def test_an_admin_who_lost_the_role_cannot_approve(digital: Engine) -> None:
    started = disconnection(digital)
    with session_scope(digital) as session:
        session.execute(sa.delete(Role).where(col(Role.person_id) == person_id(session, SARA)))
    with Session(digital) as session:
        assert not open_request(session, token_of(started, SARA), now=NOW).may_decide
    assert decide(digital, approve_request, token_of(started, SARA)).outcome is (
        Outcome.NOT_ALLOWED
    )
    assert decide(digital, approve_request, token_of(started, SVEN)).outcome is Outcome.APPROVED


def test_unknown_links_open_nothing(digital: Engine) -> None:
    disconnection(digital)
    with Session(digital) as session:
        assert open_request(session, "not-a-token", now=NOW).view is None
        assert open_request(session, "", now=NOW).link_status is LinkStatus.UNKNOWN
    assert decide(digital, approve_request, "x" * 43).outcome is Outcome.UNKNOWN


def test_declining_changes_nothing(digital: Engine) -> None:
    started = disconnection(digital)
    before = registry_state(digital)
    decision = decide(digital, decline_request, token_of(started, SVEN))
    assert decision.outcome is Outcome.DECLINED
    assert decision.view is not None and decision.view.state is RequestState.DECLINED
    assert decide(digital, approve_request, token_of(started, SARA)).outcome is Outcome.DECIDED
    assert registry_state(digital) == before
    [declined] = events(digital, "digital_request.declined")
    assert declined.actor == SVEN


def test_the_firm_withdraws_its_own_request_only(digital: Engine) -> None:
    started = disconnection(digital)
    with session_scope(digital) as session:
        other = withdraw_request(
            session,
            started.view.id,
            firm=company(session, AUDITOR),
            person=person(session, BO),
            now=NOW,
        )
        assert other.outcome is Outcome.UNKNOWN
        consultant = withdraw_request(
            session,
            started.view.id,
            firm=company(session, FIRM),
            person=person(session, KARIN),
            now=NOW,
        )
        assert consultant.outcome is Outcome.NOT_ALLOWED
        done = withdraw_request(
            session,
            started.view.id,
            firm=company(session, FIRM),
            person=person(session, ANNA),
            now=NOW,
        )
        assert done.outcome is Outcome.WITHDRAWN
    with session_scope(digital) as session:
        again = withdraw_request(
            session,
            started.view.id,
            firm=company(session, FIRM),
            person=person(session, ANNA),
            now=NOW,
        )
        assert again.outcome is Outcome.DECIDED
        shown = open_request(session, token_of(started, SARA), now=NOW)
    assert shown.view is not None and shown.view.state is RequestState.WITHDRAWN
    assert shown.link_status is LinkStatus.USED
    assert decide(digital, approve_request, token_of(started, SARA)).outcome is Outcome.DECIDED
    assert connection_until(digital, CLIENT, FIRM) == [None]
    assert [e.actor for e in events(digital, "digital_request.withdrawn")] == [ANNA]


# -- expiry ------------------------------------------------------------------------------------


def test_a_link_used_at_the_deadline_is_expired(digital: Engine) -> None:
    started = disconnection(digital)
    deadline = NOW + WEEK  # expires_at == now counts as expired
    before = registry_state(digital)
    with Session(digital) as session:
        shown = open_request(session, token_of(started, SARA), now=deadline)
        assert shown.link_status is LinkStatus.EXPIRED and not shown.may_decide
        assert shown.view is not None and shown.view.state is RequestState.EXPIRED
        assert pending_requests(session, company_id(session, FIRM), now=deadline) == []
        assert (
            len(
                pending_requests(
                    session, company_id(session, FIRM), now=deadline - dt.timedelta(seconds=1)
                )
            )
            == 1
        )
    for act in (approve_request, decline_request):
        assert decide(digital, act, token_of(started, SARA), deadline).outcome is Outcome.EXPIRED
    with session_scope(digital) as session:
        late = withdraw_request(
            session,
            started.view.id,
            firm=company(session, FIRM),
            person=person(session, ANNA),
            now=deadline,
        )
        assert late.outcome is Outcome.EXPIRED
    assert registry_state(digital) == before
    with Session(digital) as session:
        request = session.get(DigitalRequest, started.view.id)
        assert request is not None and request.state == RequestState.PENDING  # job not run yet


def test_the_expiry_job_marks_what_is_past_its_deadline(digital: Engine) -> None:
    first = disconnection(digital)
    second = dual(digital, now=NOW + dt.timedelta(days=2))
    with session_scope(digital) as session:
        assert expire_requests(session, now=NOW + WEEK - dt.timedelta(seconds=1)) == []
    with session_scope(digital) as session:
        expired = expire_requests(session, now=NOW + WEEK)
        assert [getattr(r, "id", None) for r in expired] == [first.view.id]
    with session_scope(digital) as session:
        assert expire_requests(session, now=NOW + WEEK) == []  # once
        view = get_request(session, first.view.id, now=NOW + WEEK)
        assert view is not None and view.request.state == RequestState.EXPIRED
        assert get_request(session, second.view.id, now=NOW + WEEK).state is (  # type: ignore[union-attr]
            RequestState.PENDING
        )
    [event_] = events(digital, "digital_request.expired")
    assert (event_.actor, event_.subject, event_.at) == (
        "system",
        f"digital_request:{first.view.id}",
        NOW + WEEK,
    )


# -- listing -----------------------------------------------------------------------------------


def test_pending_requests_in_both_directions(digital: Engine) -> None:
    out = disconnection(digital)
    incoming = dual(digital)
    with Session(digital) as session:
        firm = company_id(session, FIRM)
        client_id = company_id(session, CLIENT)
        auditor = company_id(session, AUDITOR)
        assert [v.id for v in pending_requests(session, firm, now=NOW)] == [out.view.id]
        assert [v.id for v in pending_requests(session, auditor, now=NOW)] == [incoming.view.id]
        both = pending_requests(session, client_id, now=NOW)
        assert [(v.id, v.client.id == client_id) for v in both] == [
            (out.view.id, True),
            (incoming.view.id, True),
        ]
        assert pending_requests(session, client_id) == []  # the wall clock: long past 2026-03


def test_a_signed_in_admin_gets_a_link_of_their_own(digital: Engine) -> None:
    started = disconnection(digital)
    later = NOW + dt.timedelta(days=6)
    with session_scope(digital) as session:
        client = company(session, CLIENT)
        assert (
            link_for_admin(
                session, started.view.id, client=client, person=person(session, FIA), now=later
            )
            is None
        )
        assert (
            link_for_admin(
                session,
                started.view.id,
                client=company(session, FIRM),
                person=person(session, SARA),
                now=later,
            )
            is None
        )
        token = link_for_admin(
            session, started.view.id, client=client, person=person(session, SARA), now=later
        )
        assert token is not None
    with Session(digital) as session:
        opened = open_request(session, token, now=later)
        assert opened.may_decide and opened.view is not None
        assert opened.view.id == started.view.id
        # It ends with the request, not a week after it was made.
        assert open_request(session, token, now=NOW + WEEK).link_status is LinkStatus.EXPIRED


# -- the registry changed on paper meanwhile ---------------------------------------------------


def test_a_connection_ended_on_paper_makes_the_request_obsolete(digital: Engine) -> None:
    started = disconnection(digital)
    with session_scope(digital) as session:
        apply_disconnect(
            session,
            DisconnectionRequest(
                client_orgnr=CLIENT,
                subscription=CLIENT_SUB,
                firm_orgnr=FIRM,
                role="accounting",
                takeover=True,
                on=dt.date(2026, 3, 9),
            ),
            actor="granskare",
            reference="submission 4",
        )
    before = registry_state(digital)
    decision = decide(digital, approve_request, token_of(started, SARA))
    assert decision.outcome is Outcome.OBSOLETE
    assert "Ingenting ändrades" in decision.message
    assert "ingen aktiv koppling" in decision.message
    assert registry_state(digital) == before
    with Session(digital) as session:
        request = session.get(DigitalRequest, started.view.id)
        assert request is not None and request.state == RequestState.OBSOLETE
        assert request.note == decision.message
        shown = open_request(session, token_of(started, SVEN), now=NOW)
    assert shown.view is not None and shown.view.state is RequestState.OBSOLETE
    assert [e.actor for e in events(digital, "connection.")] == ["granskare"]


def test_a_disconnection_done_on_paper_today_is_already_done(digital: Engine) -> None:
    started = disconnection(digital)
    with session_scope(digital) as session:
        apply_disconnect(
            session,
            DisconnectionRequest(
                client_orgnr=CLIENT,
                subscription=CLIENT_SUB,
                firm_orgnr=FIRM,
                role="accounting",
                takeover=True,
                on=TODAY,
            ),
            actor="granskare",
            reference="submission 5",
        )
    decision = decide(digital, approve_request, token_of(started, SARA))
    assert decision.outcome is Outcome.OBSOLETE
    assert decision.message.startswith(
        "Kopplingen mellan Berg & Dal Redovisning AB och Nyström Musik AB är redan avslutad"
    )


# -- the dual connection -----------------------------------------------------------------------


def test_a_dual_connection_by_an_audit_firm(digital: Engine) -> None:
    started = dual(digital, sub=f" {CLIENT_SUB[:4]} {CLIENT_SUB[4:]} ")
    view = started.view
    assert view.kind is RequestKind.DUAL and view.role is ConnectionRole.AUDIT
    assert view.client.orgnr == CLIENT and view.payer_from is None and view.access == ()
    assert sorted(p.email for p, _ in started.links) == [SARA, SVEN]
    decision = decide(digital, approve_request, token_of(started, SVEN))
    assert decision.outcome is Outcome.APPROVED and decision.plan is not None
    assert [c.action for c in decision.plan.changes] == ["connection.created"]
    with Session(digital) as session:
        row = session.exec(
            select(Connection).where(Connection.firm_id == company_id(session, AUDITOR))
        ).one()
    assert (row.role, row.since, row.until) == (ConnectionRole.AUDIT, TODAY, None)
    assert connection_until(digital, CLIENT, FIRM) == [None]  # the first firm stays


@pytest.mark.parametrize(
    ("orgnr", "sub"),
    [(CLIENT, LONE_SUB), (UNKNOWN, CLIENT_SUB), (UNKNOWN, UNUSED_SUB), (CLIENT, UNUSED_SUB)],
    ids=["someone else's number", "unknown orgnr", "both unknown", "unknown number"],
)
def test_a_pair_that_does_not_match_says_the_same_whatever_exists(
    digital: Engine, orgnr: str, sub: str
) -> None:
    with pytest.raises(RequestRefused) as refused:
        dual(digital, orgnr=orgnr, sub=sub)
    assert (refused.value.reason, refused.value.message, refused.value.field) == (
        Refusal.NO_MATCH,
        NO_MATCH,
        "subscription",
    )


@pytest.mark.parametrize(
    ("by", "firm", "orgnr", "sub", "reason", "words"),
    [
        (
            ANNA,
            FIRM,
            CLIENT,
            CLIENT_SUB,
            Refusal.ALREADY,
            "Berg & Dal Redovisning AB är redan kopplad till Nyström Musik AB som redovisningsbyrå",
        ),
        (
            BO,
            AUDITOR,
            NOADMIN,
            NOADMIN_SUB,
            Refusal.NO_ADMIN,
            "Lindqvist Bygg AB har ingen systemadministratör",
        ),
        (BO, AUDITOR, "556432-1008", CLIENT_SUB, Refusal.INVALID, "kontrollsiffra"),
        (BO, AUDITOR, CLIENT, "1234567", Refusal.INVALID, "8 siffror"),
        (LISA, LONE, CLIENT, CLIENT_SUB, Refusal.NOT_A_FIRM, "Svensson Data AB är ingen byrå"),
    ],
    ids=["already connected", "no client admin", "bad orgnr", "bad number", "not a firm"],
)
def test_a_dual_connection_refused_after_a_match_may_be_specific(
    digital: Engine, by: str, firm: str, orgnr: str, sub: str, reason: Refusal, words: str
) -> None:
    with pytest.raises(RequestRefused) as refused:
        dual(digital, by=by, firm=firm, orgnr=orgnr, sub=sub)
    assert refused.value.reason is reason
    assert words.casefold() in refused.value.message.casefold(), refused.value.message


def test_a_dual_connection_made_on_paper_meanwhile(digital: Engine) -> None:
    started = dual(digital)
    with session_scope(digital) as session:
        apply_dual(
            session,
            DualConnectionRequest(
                client_orgnr=CLIENT,
                subscription=CLIENT_SUB,
                firm_orgnr=AUDITOR,
                role="audit",
                on=dt.date(2026, 3, 9),
            ),
            actor="granskare",
            reference="submission 6",
        )
    decision = decide(digital, approve_request, token_of(started, SARA))
    assert decision.outcome is Outcome.OBSOLETE
    assert "redan kopplad" in decision.message
    assert [e.actor for e in events(digital, "connection.")] == ["granskare"]


# -- races: two sessions really at once --------------------------------------------------------


def race(
    engine: Engine, first: Callable[[Session], T], second: Callable[[Session], T]
) -> tuple[T, T | BaseException]:
    """`first` runs and holds its transaction; `second`, in a thread, reaches its first UPDATE
    and waits for the lock; then `first` commits and `second` finishes and commits."""
    reached = threading.Event()
    outcome: list[T | BaseException] = []

    def run_second() -> None:
        try:
            with Session(engine, expire_on_commit=False) as session:

                @event.listens_for(session, "do_orm_execute")
                def updating(state: ORMExecuteState) -> None:
                    if state.is_update:
                        reached.set()

                outcome.append(second(session))
                session.commit()
        except BaseException as exc:  # handed to the test thread
            outcome.append(exc)

    with Session(engine, expire_on_commit=False) as session:
        result = first(session)
        thread = threading.Thread(target=run_second)
        thread.start()
        try:
            assert reached.wait(20), "the second session never reached its UPDATE"
            _wait_until_blocked(engine, thread)
            session.commit()
        finally:
            thread.join(20)
    assert len(outcome) == 1, outcome
    return result, outcome[0]


def _wait_until_blocked(engine: Engine, thread: threading.Thread) -> None:
    if engine.dialect.name != "postgresql":
        thread.join(0.3)  # SQLite: the writer lock makes it wait in the busy handler
        assert thread.is_alive(), "the second session did not wait for the first"
        return
    with engine.connect() as watcher:
        deadline = time.monotonic() + 30
        while not watcher.execute(
            sa.text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock'"
            )
        ).scalar_one():
            assert thread.is_alive(), "the second session finished without waiting"
            assert time.monotonic() < deadline, "the second session never waited"
            time.sleep(0.02)


def acting(act: Callable[..., Decision], token: str) -> Callable[[Session], Decision]:
    return lambda session: act(session, token, now=NOW)


@pytest.fixture
def pending(digital: Engine) -> Iterator[Started]:
    yield disconnection(digital)


@pytest.mark.serial
@pytest.mark.parametrize("second_admin", [SVEN, SARA], ids=["two admins", "double click"])
def test_two_approvals_at_once_change_the_registry_once(
    digital: Engine, pending: Started, second_admin: str
) -> None:
    first, second = race(
        digital,
        acting(approve_request, token_of(pending, SARA)),
        acting(approve_request, token_of(pending, second_admin)),
    )
    assert first.outcome is Outcome.APPROVED
    assert isinstance(second, Decision) and second.outcome is Outcome.DECIDED, second
    assert second.view is not None and second.view.decider is not None
    assert second.view.decider.email == SARA
    assert [e.action for e in events(digital, "connection.", "payer.")] == [
        "connection.ended",
        "payer.changed",
    ]
    assert len(events(digital, "digital_request.approved")) == 1


@pytest.mark.serial
def test_approve_and_decline_at_once(digital: Engine, pending: Started) -> None:
    first, second = race(
        digital,
        acting(decline_request, token_of(pending, SVEN)),
        acting(approve_request, token_of(pending, SARA)),
    )
    assert first.outcome is Outcome.DECLINED
    assert isinstance(second, Decision) and second.outcome is Outcome.DECIDED, second
    assert events(digital, "connection.") == []


@pytest.mark.serial
def test_withdraw_and_approve_at_once(digital: Engine, pending: Started) -> None:
    def withdraw(session: Session) -> Decision:
        return withdraw_request(
            session,
            pending.view.id,
            firm=company(session, FIRM),
            person=person(session, ANNA),
            now=NOW,
        )

    first, second = race(digital, withdraw, acting(approve_request, token_of(pending, SARA)))
    assert first.outcome is Outcome.WITHDRAWN
    assert isinstance(second, Decision) and second.outcome is Outcome.DECIDED, second
    assert events(digital, "connection.") == []


@pytest.mark.serial
def test_paper_and_digital_disconnection_at_once(digital: Engine, pending: Started) -> None:
    def paper(session: Session) -> object:
        return apply_disconnect(
            session,
            DisconnectionRequest(
                client_orgnr=CLIENT,
                subscription=CLIENT_SUB,
                firm_orgnr=FIRM,
                role="accounting",
                takeover=True,
                on=TODAY,
            ),
            actor="granskare",
            reference="submission 7",
        )

    _, second = race(digital, paper, acting(approve_request, token_of(pending, SARA)))
    assert isinstance(second, Decision) and second.outcome is Outcome.OBSOLETE, second
    assert "redan avslutad" in second.message
    assert {e.actor for e in events(digital, "connection.", "payer.")} == {"granskare"}
    assert payer_rows(digital, CLIENT) == [(FIRM, dt.date(2024, 1, 1)), (CLIENT, NEXT_PERIOD)]


@pytest.mark.serial
def test_paper_and_digital_dual_connection_at_once(digital: Engine) -> None:
    started = dual(digital)

    def paper(session: Session) -> object:
        return apply_dual(
            session,
            DualConnectionRequest(
                client_orgnr=CLIENT,
                subscription=CLIENT_SUB,
                firm_orgnr=AUDITOR,
                role="audit",
                on=TODAY,
            ),
            actor="granskare",
            reference="submission 8",
        )

    _, second = race(digital, paper, acting(approve_request, token_of(started, SARA)))
    assert isinstance(second, Decision) and second.outcome is Outcome.OBSOLETE, second
    assert [e.actor for e in events(digital, "connection.")] == ["granskare"]
