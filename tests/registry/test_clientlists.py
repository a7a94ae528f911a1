"""A firm's client list, labels and consultants' personal lists (`registry.clientlists`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import Engine, event
from sqlmodel import Session, col, func, select

from registry import (
    AuditEvent,
    ClientLabel,
    Company,
    CompanyKind,
    Connection,
    ConnectionRole,
    ConsultantClient,
    DigitalRequest,
    Person,
    RequestKind,
    RequestState,
    Role,
    RoleKind,
    Subscription,
    SubscriptionPayer,
    apply_disconnect,
    session_scope,
)
from registry.clientlists import (
    ASSIGNED,
    LABEL_ADDED,
    LABEL_REMOVED,
    UNASSIGNED,
    ClientListError,
    PayerKind,
    add_label,
    assign_client,
    can_manage_clients,
    client_history,
    connected_clients,
    firm_client_list,
    firm_consultants,
    firm_labels,
    local_day,
    remove_label,
    unassign_client,
)
from registry.clientlists import _insert_once as _insert_once
from tests.registry.helpers import ACCOUNTING, AUDIT, CLIENT, SOLE_TRADER
from tests.registry.linkage_cases import (
    NEXT,
    OTHER_ACCOUNTING,
    SELF_PAYER,
    THIRD,
    company_id,
    disconnect,
)

TODAY = dt.date(2026, 11, 23)  # linkage_cases.ON
NOW = dt.datetime(2026, 11, 23, 9, 30, tzinfo=dt.UTC)
MARIA = "maria.tallback@tallbackensredovisning.example"  # sysadmin at ACCOUNTING
KARIN = "karin@tallbackensredovisning.example"
OLOF = "olof@tallbackensredovisning.example"
GUNNAR = "gunnar@bergsnas.example"
ENDED_CLIENT = "556777-0008"


@dataclass(frozen=True)
class Ids:
    firm: int
    other_firm: int
    audit: int
    bageri: int
    cafe: int
    kvarn: int
    sole: int
    ended: int
    maria: int
    karin: int
    olof: int
    gunnar: int


def _person(session: Session, email: str, name: str, company: int, *roles: RoleKind) -> int:
    person = session.exec(select(Person).where(Person.email == email)).first()
    if person is None:
        person = Person(email=email, name=name)
        session.add(person)
        session.flush()
    assert person.id is not None
    for role in roles:
        session.add(Role(person_id=person.id, company_id=company, role=role))
    return person.id


@pytest.fixture
def ids(reg: Engine) -> Ids:
    """The linkage registry plus consultants, a client connected until today, an ended one."""
    with session_scope(reg) as session:
        firm = company_id(session, ACCOUNTING)
        other = company_id(session, OTHER_ACCOUNTING)
        ended = Company(orgnr=ENDED_CLIENT, name="Ekens Städ AB", kind=CompanyKind.CLIENT)
        session.add(ended)
        session.flush()
        assert ended.id is not None
        sole = company_id(session, SOLE_TRADER)
        session.add_all(
            [
                Connection(
                    client_id=sole,
                    firm_id=firm,
                    role=ConnectionRole.ACCOUNTING,
                    since=dt.date(2025, 1, 1),
                    until=TODAY,
                ),
                Connection(
                    client_id=ended.id,
                    firm_id=firm,
                    role=ConnectionRole.ACCOUNTING,
                    since=dt.date(2023, 1, 1),
                    until=TODAY - dt.timedelta(days=1),
                ),
            ]
        )
        maria = session.exec(select(Person).where(Person.email == MARIA)).one().id
        assert maria is not None
        return Ids(
            firm=firm,
            other_firm=other,
            audit=company_id(session, AUDIT),
            bageri=company_id(session, CLIENT),
            cafe=company_id(session, SELF_PAYER),
            kvarn=company_id(session, THIRD),
            sole=sole,
            ended=ended.id,
            maria=maria,
            karin=_person(session, KARIN, "Karin Ek", firm, RoleKind.CONSULTANT),
            olof=_person(
                session, OLOF, "Olof Ås", firm, RoleKind.PROGRAM_ADMIN, RoleKind.CONSULTANT
            ),
            gunnar=_person(session, GUNNAR, "Gunnar Berg", other, RoleKind.CONSULTANT),
        )


def _names(rows: Any) -> list[str]:
    return [row.client.name for row in rows]


def _events(session: Session, *actions: str) -> list[AuditEvent]:
    return list(
        session.exec(
            select(AuditEvent)
            .where(col(AuditEvent.action).in_(actions))
            .order_by(col(AuditEvent.id))
        ).all()
    )


# -- the list ------------------------------------------------------------------------------------


def test_the_list_holds_connected_clients_with_role_since_and_payer(reg: Engine, ids: Ids) -> None:
    with Session(reg) as session:
        rows = firm_client_list(session, ids.firm, today=TODAY)
        # The sole trader's connection ends today: still connected. Ekens Städ ended yesterday.
        assert _names(rows) == [
            "Hjortens Bageri AB",
            "Petra Lindéns Hundtrim",
            "Ängsbackens Café AB",
        ]
        bageri, sole, cafe = rows
        assert bageri.role is ConnectionRole.ACCOUNTING and bageri.since == dt.date(2019, 2, 1)
        assert [(p.subscription, p.kind, p.payer.orgnr) for p in bageri.payers] == [
            ("91000034", PayerKind.FIRM, ACCOUNTING),
            ("91000067", PayerKind.FIRM, ACCOUNTING),
        ]
        assert [(p.kind, p.payer.orgnr) for p in cafe.payers] == [(PayerKind.CLIENT, SELF_PAYER)]
        assert sole.payers == ()  # no subscription at all
        assert all(r.labels == () and r.consultants == () for r in rows)
        assert not any(r.request_pending for r in rows)

        # Another company pays: Bergsnäs pays Kvarnens Bygg, seen from its audit firm.
        (kvarn,) = firm_client_list(session, ids.audit, today=TODAY)
        assert kvarn.role is ConnectionRole.AUDIT
        assert [(p.kind, p.payer.orgnr) for p in kvarn.payers] == [
            (PayerKind.OTHER, OTHER_ACCOUNTING)
        ]
        assert _names(firm_client_list(session, ids.firm, today=TODAY + dt.timedelta(days=1))) == [
            "Hjortens Bageri AB",
            "Ängsbackens Café AB",
        ]


def test_the_payer_is_the_latest_row_not_after_today(reg: Engine, ids: Ids) -> None:
    main = "91000034"
    with session_scope(reg) as session:
        # Ends the connection today; the client pays from the next billing period on.
        apply_disconnect(session, disconnect(), actor=MARIA, reference="test")
        session.add(
            Connection(
                client_id=ids.bageri,
                firm_id=ids.firm,
                role=ConnectionRole.ACCOUNTING,
                since=TODAY + dt.timedelta(days=1),
            )
        )
    with Session(reg) as session:
        rows = {
            day: firm_client_list(session, ids.firm, today=day)[0]
            for day in (TODAY, TODAY + dt.timedelta(days=1), NEXT - dt.timedelta(days=1), NEXT)
        }
    assert {row.client.orgnr for row in rows.values()} == {CLIENT}
    assert [[p.kind for p in row.payers if p.subscription == main] for row in rows.values()] == [
        [PayerKind.FIRM],
        [PayerKind.FIRM],
        [PayerKind.FIRM],
        [PayerKind.CLIENT],
    ]
    assert rows[TODAY].since == dt.date(2019, 2, 1)
    assert rows[NEXT].since == TODAY + dt.timedelta(days=1)


def test_a_pending_request_of_this_firm_shows(reg: Engine, ids: Ids) -> None:
    with session_scope(reg) as session:
        sub = session.exec(select(Subscription).where(Subscription.company_id == ids.cafe)).one()
        assert sub.id is not None
        for firm, client, state in (
            (ids.firm, ids.cafe, RequestState.PENDING),
            (ids.firm, ids.bageri, RequestState.APPROVED),
            (ids.other_firm, ids.bageri, RequestState.PENDING),
        ):
            session.add(
                DigitalRequest(
                    kind=RequestKind.DISCONNECT,
                    client_id=client,
                    firm_id=firm,
                    role=ConnectionRole.ACCOUNTING,
                    subscription_id=sub.id,
                    requested_by=ids.maria,
                    expires_at=NOW + dt.timedelta(days=7),
                    state=state,
                )
            )
    with Session(reg) as session:
        rows = firm_client_list(session, ids.firm, today=TODAY)
    assert [(r.client.orgnr, r.request_pending) for r in rows] == [
        (CLIENT, False),
        (SOLE_TRADER, False),
        (SELF_PAYER, True),
    ]


# -- labels --------------------------------------------------------------------------------------


def test_labels_are_trimmed_sorted_idempotent_and_audited(reg: Engine, ids: Ids) -> None:
    with session_scope(reg) as session:
        for text in ("  moms   kvartal ", "Bokslut", "årsskifte", "moms kvartal"):
            add_label(
                session, firm_id=ids.firm, client_id=ids.bageri, label=text, actor=MARIA, now=NOW
            )
        assert not add_label(
            session, firm_id=ids.firm, client_id=ids.bageri, label="Bokslut", actor=MARIA, now=NOW
        )
    with Session(reg) as session:
        row = firm_client_list(session, ids.firm, today=TODAY)[0]
        assert row.labels == ("Bokslut", "moms kvartal", "årsskifte")
        events = _events(session, LABEL_ADDED)
        assert [e.after["label"] for e in events if e.after] == [
            "moms kvartal",
            "Bokslut",
            "årsskifte",
        ]
        first = events[0]
        assert first.actor == MARIA and first.subject == f"company:{ids.bageri}"
        assert first.at == NOW and first.before is None
        assert first.after == {
            "firm_id": ids.firm,
            "firm": ACCOUNTING,
            "firm_name": "Tallbackens Redovisning AB",
            "client_id": ids.bageri,
            "client": CLIENT,
            "client_name": "Hjortens Bageri AB",
            "label": "moms kvartal",
        }
    with session_scope(reg) as session:
        assert remove_label(
            session,
            firm_id=ids.firm,
            client_id=ids.bageri,
            label=" moms  kvartal",
            actor=MARIA,
            now=NOW,
        )
        assert not remove_label(
            session,
            firm_id=ids.firm,
            client_id=ids.bageri,
            label="moms kvartal",
            actor=MARIA,
            now=NOW,
        )
    with Session(reg) as session:
        assert firm_client_list(session, ids.firm, today=TODAY)[0].labels == (
            "Bokslut",
            "årsskifte",
        )
        (removed,) = _events(session, LABEL_REMOVED)
        assert removed.before is not None and removed.before["label"] == "moms kvartal"
        assert removed.after is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("   ", "Skriv en märkning."),
        ("x" * 41, "Märkningen får vara högst 40 tecken."),
        ("rad\nbrytning", "Märkningen får inte innehålla styrtecken eller radbrytningar."),
        ("noll\u200bbredd", "Märkningen får inte innehålla styrtecken eller radbrytningar."),
        ("tab\tbort", "Märkningen får inte innehålla styrtecken eller radbrytningar."),
    ],
)
def test_bad_labels_are_refused(reg: Engine, ids: Ids, text: str, message: str) -> None:
    with session_scope(reg) as session, pytest.raises(ClientListError) as raised:
        add_label(session, firm_id=ids.firm, client_id=ids.bageri, label=text, actor=MARIA, now=NOW)
    assert raised.value.message == message


def test_a_label_of_forty_characters_is_fine(reg: Engine, ids: Ids) -> None:
    with session_scope(reg) as session:
        assert add_label(
            session, firm_id=ids.firm, client_id=ids.bageri, label="å" * 40, actor=MARIA, now=NOW
        )


@pytest.mark.parametrize("client", ["ended", "kvarn", "unknown"])
def test_labels_only_on_connected_clients(reg: Engine, ids: Ids, client: str) -> None:
    client_id = {"ended": ids.ended, "kvarn": ids.kvarn, "unknown": 999_999}[client]
    with session_scope(reg) as session, pytest.raises(ClientListError) as raised:
        add_label(session, firm_id=ids.firm, client_id=client_id, label="x", actor=MARIA, now=NOW)
    assert raised.value.message == "Klienten är inte kopplad till byrån."
    with Session(reg) as session:
        assert session.exec(select(func.count()).select_from(ClientLabel)).one() == 0


def test_labels_are_the_firms_own(reg: Engine, ids: Ids) -> None:
    """Kvarnens Bygg is a client of both Bergsnäs and the audit firm: labels stay apart."""
    with session_scope(reg) as session:
        add_label(
            session,
            firm_id=ids.other_firm,
            client_id=ids.kvarn,
            label="Bergsnäs",
            actor=GUNNAR,
            now=NOW,
        )
        add_label(
            session, firm_id=ids.audit, client_id=ids.kvarn, label="Revision", actor=MARIA, now=NOW
        )
    with Session(reg) as session:
        assert firm_client_list(session, ids.audit, today=TODAY)[0].labels == ("Revision",)
        assert firm_client_list(session, ids.other_firm, today=TODAY)[0].labels == ("Bergsnäs",)
        assert firm_labels(session, ids.audit, today=TODAY) == ["Revision"]


def test_the_label_choices_are_those_on_connected_clients(reg: Engine, ids: Ids) -> None:
    with session_scope(reg) as session:
        for client, text in ((ids.bageri, "b"), (ids.cafe, "A"), (ids.sole, "b"), (ids.sole, "c")):
            add_label(session, firm_id=ids.firm, client_id=client, label=text, actor=MARIA, now=NOW)
    with Session(reg) as session:
        assert firm_labels(session, ids.firm, today=TODAY) == ["A", "b", "c"]
        # The sole trader's connection ended today: tomorrow its label is no choice.
        assert firm_labels(session, ids.firm, today=TODAY + dt.timedelta(days=1)) == ["A", "b"]


def test_a_label_added_meanwhile_by_someone_else_is_no_error(reg: Engine, ids: Ids) -> None:
    """Two people adding one label at once: the unique row decides, the loser changes nothing."""
    with Session(reg) as late:
        # The late transaction has looked and seen no label...
        assert firm_client_list(late, ids.firm, today=TODAY)[0].labels == ()
        with session_scope(reg) as early:
            assert add_label(
                early, firm_id=ids.firm, client_id=ids.bageri, label="Moms", actor=MARIA, now=NOW
            )
        # ...and then inserts it: the savepoint keeps the rest of its transaction.
        row = ClientLabel(firm_id=ids.firm, client_id=ids.bageri, label="Moms")
        assert not _insert_once(late, row)
        assert add_label(
            late, firm_id=ids.firm, client_id=ids.bageri, label="Lön", actor=KARIN, now=NOW
        )
        late.commit()
    with Session(reg) as session:
        assert firm_client_list(session, ids.firm, today=TODAY)[0].labels == ("Lön", "Moms")
        assert len(_events(session, LABEL_ADDED)) == 2


# -- filters -------------------------------------------------------------------------------------


def test_filters_by_label_consultant_and_text(reg: Engine, ids: Ids) -> None:
    with session_scope(reg) as session:
        add_label(
            session, firm_id=ids.firm, client_id=ids.bageri, label="Moms", actor=MARIA, now=NOW
        )
        add_label(session, firm_id=ids.firm, client_id=ids.cafe, label="Moms", actor=MARIA, now=NOW)
        add_label(session, firm_id=ids.firm, client_id=ids.cafe, label="Lön", actor=MARIA, now=NOW)
        assign_client(
            session,
            firm_id=ids.firm,
            consultant_id=ids.karin,
            client_id=ids.cafe,
            actor=MARIA,
            now=NOW,
        )
        assign_client(
            session,
            firm_id=ids.firm,
            consultant_id=ids.olof,
            client_id=ids.sole,
            actor=MARIA,
            now=NOW,
        )

    def names(**filters: Any) -> list[str]:
        with Session(reg) as session:
            return _names(firm_client_list(session, ids.firm, today=TODAY, **filters))

    assert names(label="Moms") == ["Hjortens Bageri AB", "Ängsbackens Café AB"]
    assert names(label="moms") == []  # a label is what the firm wrote
    assert names(label="Lön") == ["Ängsbackens Café AB"]
    assert names(consultant_id=ids.karin) == ["Ängsbackens Café AB"]
    assert names(consultant_id=ids.olof) == ["Petra Lindéns Hundtrim"]
    assert names(consultant_id=ids.maria) == []
    assert names(label="Moms", consultant_id=ids.olof) == []
    assert names(query="ÄNGS") == ["Ängsbackens Café AB"]
    assert names(query="  hjortens   bageri ") == ["Hjortens Bageri AB"]
    assert names(query="5560001231") == ["Ängsbackens Café AB"]
    assert names(query="556123-45") == ["Hjortens Bageri AB"]
    assert names(query="") == names()
    assert names(query="ab", label="Moms", consultant_id=ids.karin) == ["Ängsbackens Café AB"]
    assert names(query="Kvarnens") == []  # not this firm's client
    assert names(client_id=ids.cafe) == ["Ängsbackens Café AB"]
    assert names(client_id=ids.kvarn) == []
    assert names(client_id=ids.cafe, label="Moms", consultant_id=ids.olof) == []


# -- consultants ---------------------------------------------------------------------------------


def test_consultants_and_their_lists(reg: Engine, ids: Ids) -> None:
    with session_scope(reg) as session:
        for person, client in (
            (ids.karin, ids.cafe),
            (ids.karin, ids.bageri),
            (ids.olof, ids.bageri),
        ):
            assert assign_client(
                session,
                firm_id=ids.firm,
                consultant_id=person,
                client_id=client,
                actor=MARIA,
                now=NOW,
            )
        assert not assign_client(
            session,
            firm_id=ids.firm,
            consultant_id=ids.karin,
            client_id=ids.cafe,
            actor=MARIA,
            now=NOW,
        )
    with Session(reg) as session:
        rows = firm_consultants(session, ids.firm, today=TODAY)
        assert [(r.person.email, r.roles, [c.name for c in r.clients]) for r in rows] == [
            (KARIN, (RoleKind.CONSULTANT,), ["Hjortens Bageri AB", "Ängsbackens Café AB"]),
            (OLOF, (RoleKind.PROGRAM_ADMIN, RoleKind.CONSULTANT), ["Hjortens Bageri AB"]),
        ]
        listed = {
            r.client.name: [p.email for p in r.consultants]
            for r in firm_client_list(session, ids.firm, today=TODAY)
        }
        assert listed["Hjortens Bageri AB"] == [KARIN, OLOF]
        assert listed["Ängsbackens Café AB"] == [KARIN]
        (added, *_) = _events(session, ASSIGNED)
        assert len(_events(session, ASSIGNED)) == 3
        assert added.subject == f"company:{ids.cafe}" and added.actor == MARIA
        assert added.after is not None
        assert {k: added.after[k] for k in ("firm_id", "person_id", "consultant")} == {
            "firm_id": ids.firm,
            "person_id": ids.karin,
            "consultant": KARIN,
        }
        assert added.after["consultant_name"] == "Karin Ek"
    with session_scope(reg) as session:
        assert unassign_client(
            session,
            firm_id=ids.firm,
            consultant_id=ids.karin,
            client_id=ids.bageri,
            actor=MARIA,
            now=NOW,
        )
        assert not unassign_client(
            session,
            firm_id=ids.firm,
            consultant_id=ids.karin,
            client_id=ids.bageri,
            actor=MARIA,
            now=NOW,
        )
    with Session(reg) as session:
        karin = firm_consultants(session, ids.firm, today=TODAY)[0]
        assert [c.name for c in karin.clients] == ["Ängsbackens Café AB"]
        (removed,) = _events(session, UNASSIGNED)
        assert removed.before is not None and removed.before["person_id"] == ids.karin


@pytest.mark.parametrize(
    ("who", "client", "message"),
    [
        ("maria", "cafe", "Personen är inte konsult på byrån."),  # sysadmin, not a consultant
        ("gunnar", "cafe", "Personen är inte konsult på byrån."),  # another firm's consultant
        ("nobody", "cafe", "Personen är inte konsult på byrån."),
        ("karin", "ended", "Klienten är inte kopplad till byrån."),
        ("karin", "kvarn", "Klienten är inte kopplad till byrån."),
    ],
)
def test_assigning_is_refused(reg: Engine, ids: Ids, who: str, client: str, message: str) -> None:
    person = {"maria": ids.maria, "gunnar": ids.gunnar, "karin": ids.karin, "nobody": 999_999}[who]
    client_id = {"cafe": ids.cafe, "ended": ids.ended, "kvarn": ids.kvarn}[client]
    with session_scope(reg) as session, pytest.raises(ClientListError) as raised:
        assign_client(
            session,
            firm_id=ids.firm,
            consultant_id=person,
            client_id=client_id,
            actor=MARIA,
            now=NOW,
        )
    assert raised.value.message == message
    with Session(reg) as session:
        assert session.exec(select(func.count()).select_from(ConsultantClient)).one() == 0
        assert _events(session, ASSIGNED) == []


def test_an_ended_connection_drops_out_of_the_lists(reg: Engine, ids: Ids) -> None:
    """Read-time filtering: the rows stay, the lists show only connected clients."""
    with session_scope(reg) as session:
        assign_client(
            session,
            firm_id=ids.firm,
            consultant_id=ids.karin,
            client_id=ids.sole,
            actor=MARIA,
            now=NOW,
        )
        add_label(
            session, firm_id=ids.firm, client_id=ids.sole, label="Snart slut", actor=MARIA, now=NOW
        )
    tomorrow = TODAY + dt.timedelta(days=1)
    with Session(reg) as session:
        assert [c.orgnr for c in firm_consultants(session, ids.firm, today=TODAY)[0].clients] == [
            SOLE_TRADER
        ]
        assert firm_consultants(session, ids.firm, today=tomorrow)[0].clients == ()
        assert firm_client_list(session, ids.firm, today=tomorrow, consultant_id=ids.karin) == []
        assert SOLE_TRADER not in [
            c.orgnr for c in connected_clients(session, ids.firm, today=tomorrow)
        ]
        # Clearing the leftover is still possible, and recorded.
        assert unassign_client(
            session,
            firm_id=ids.firm,
            consultant_id=ids.karin,
            client_id=ids.sole,
            actor=MARIA,
            now=NOW + dt.timedelta(days=1),
        )


def test_someone_who_is_no_longer_a_consultant_is_not_listed(reg: Engine, ids: Ids) -> None:
    with session_scope(reg) as session:
        assign_client(
            session,
            firm_id=ids.firm,
            consultant_id=ids.karin,
            client_id=ids.cafe,
            actor=MARIA,
            now=NOW,
        )
        role = session.exec(select(Role).where(Role.person_id == ids.karin)).one()
        session.delete(role)
    with Session(reg) as session:
        assert [r.person.email for r in firm_consultants(session, ids.firm, today=TODAY)] == [OLOF]
        cafe = firm_client_list(session, ids.firm, today=TODAY)[-1]
        assert cafe.client.orgnr == SELF_PAYER and cafe.consultants == ()


def test_connected_clients_are_the_choices(reg: Engine, ids: Ids) -> None:
    with Session(reg) as session:
        assert [c.orgnr for c in connected_clients(session, ids.firm, today=TODAY)] == [
            CLIENT,
            SOLE_TRADER,
            SELF_PAYER,
        ]


# -- history -------------------------------------------------------------------------------------


def test_the_history_is_the_pairs_own_newest_first(reg: Engine, ids: Ids) -> None:
    later = NOW + dt.timedelta(hours=1)
    with session_scope(reg) as session:
        add_label(
            session, firm_id=ids.firm, client_id=ids.bageri, label="Moms", actor=MARIA, now=NOW
        )
        assign_client(
            session,
            firm_id=ids.firm,
            consultant_id=ids.karin,
            client_id=ids.bageri,
            actor=MARIA,
            now=later,
        )
        # The audit firm's old connection to the same client, and its label: not ours.
        session.add(
            Connection(
                client_id=ids.bageri,
                firm_id=ids.audit,
                role=ConnectionRole.AUDIT,
                since=dt.date(2024, 1, 1),
            )
        )
        add_label(
            session,
            firm_id=ids.audit,
            client_id=ids.bageri,
            label="Revisorns",
            actor="bo@granlund.example",
            now=later,
        )
    with session_scope(reg) as session:
        apply_disconnect(
            session, disconnect(), actor="reviewer@kopplingar.example", reference="submission 9"
        )
    with Session(reg) as session:
        history = client_history(session, ids.firm, ids.bageri)
    assert [(c.role, c.since, c.until) for c in history.connections] == [
        (ConnectionRole.ACCOUNTING, dt.date(2019, 2, 1), TODAY)
    ]
    actions = [h.event.action for h in history.events]
    assert actions == ["connection.ended", ASSIGNED, LABEL_ADDED]
    assert [h.actor_name for h in history.events] == [None, "Maria Tallbäck", "Maria Tallbäck"]
    with Session(reg) as session:
        audit = client_history(session, ids.audit, ids.bageri)
    assert [h.event.action for h in audit.events] == [LABEL_ADDED]
    assert [c.firm_id for c in audit.connections] == [ids.audit, ids.audit]


def test_the_history_includes_the_firms_digital_requests(reg: Engine, ids: Ids) -> None:
    with session_scope(reg) as session:
        sub = session.exec(select(Subscription).where(Subscription.company_id == ids.cafe)).one()
        assert sub.id is not None
        mine, theirs = (
            DigitalRequest(
                kind=RequestKind.DISCONNECT,
                client_id=ids.cafe,
                firm_id=firm,
                role=ConnectionRole.ACCOUNTING,
                subscription_id=sub.id,
                requested_by=ids.maria,
                expires_at=NOW + dt.timedelta(days=7),
            )
            for firm in (ids.firm, ids.other_firm)
        )
        session.add_all([mine, theirs])
        session.flush()
        for request in (mine, theirs):
            session.add(
                AuditEvent(
                    at=NOW,
                    actor=MARIA,
                    action="digital_request.created",
                    subject=f"digital_request:{request.id}",
                )
            )
    with Session(reg) as session:
        events = client_history(session, ids.firm, ids.cafe).events
    assert [(h.event.action, h.event.subject) for h in events] == [
        ("digital_request.created", f"digital_request:{mine.id}")
    ]
    with Session(reg) as session:
        assert [r.id for r in client_history(session, ids.firm, ids.cafe).requests] == [mine.id]


# -- efficiency and permissions ------------------------------------------------------------------


@contextmanager
def counted(engine: Engine) -> Iterator[list[str]]:
    statements: list[str] = []

    def record(*args: Any) -> None:
        statements.append(args[2])

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def _many_clients(engine: Engine, firm: int, consultant: int, count: int, start: int) -> None:
    with session_scope(engine) as session:
        for n in range(start, start + count):
            client = Company(
                orgnr=f"55{n:04d}-0000", name=f"Klient {n:03d} AB", kind=CompanyKind.CLIENT
            )
            session.add(client)
            session.flush()
            assert client.id is not None
            sub = Subscription(number=f"9{n:07d}", company_id=client.id)
            session.add(sub)
            session.flush()
            assert sub.id is not None
            session.add_all(
                [
                    Connection(
                        client_id=client.id,
                        firm_id=firm,
                        role=ConnectionRole.ACCOUNTING,
                        since=dt.date(2024, 1, 1),
                    ),
                    SubscriptionPayer(
                        subscription_id=sub.id, payer_id=firm, valid_from=dt.date(2024, 1, 1)
                    ),
                    ClientLabel(firm_id=firm, client_id=client.id, label=f"grupp {n % 3}"),
                    ConsultantClient(firm_id=firm, person_id=consultant, client_id=client.id),
                ]
            )


def test_the_list_takes_the_same_few_statements_for_five_or_fifty(reg: Engine, ids: Ids) -> None:
    counts = []
    for start, count in ((100, 5), (200, 45)):
        _many_clients(reg, ids.firm, ids.karin, count, start)
        with Session(reg) as session, counted(reg) as statements:
            rows = firm_client_list(session, ids.firm, today=TODAY)
            labels = firm_labels(session, ids.firm, today=TODAY)
        counts.append(len([s for s in statements if s.lstrip().upper().startswith("SELECT")]))
        assert labels == ["grupp 0", "grupp 1", "grupp 2"]
    assert len(rows) == 53 and counts[0] == counts[1] == 7  # six for the list, one for labels
    assert all(r.payers[0].kind is PayerKind.FIRM for r in rows if r.client.name.startswith("Kl"))
    assert all(r.consultants[0].email == KARIN for r in rows if r.client.name.startswith("Kl"))
    with Session(reg) as session, counted(reg) as statements:
        firm_consultants(session, ids.firm, today=TODAY)
    assert len(statements) <= 4


def test_who_manages_client_lists() -> None:
    assert can_manage_clients({RoleKind.SYSADMIN})
    assert can_manage_clients([RoleKind.CONSULTANT, RoleKind.PROGRAM_ADMIN])
    assert can_manage_clients(["sysadmin"])
    assert not can_manage_clients({RoleKind.CONSULTANT, RoleKind.FIRMATECKNARE})
    assert not can_manage_clients(())


def test_local_day_is_swedish() -> None:
    assert local_day(dt.datetime(2026, 12, 31, 23, 30, tzinfo=dt.UTC)) == dt.date(2027, 1, 1)
    with pytest.raises(ValueError, match="naive"):
        local_day(dt.datetime(2026, 12, 31, 23, 30))
