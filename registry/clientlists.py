"""A firm's own view of its clients: the client list, labels, consultants' personal lists.

The client list (seed 000, "Klienthanterare") is the firm's connected
clients, each with its role, since when, who pays its subscriptions today,
the firm's labels ("märkningar") on it, the firm's consultants who have it
in their personal list, and whether a digital request of the firm is
waiting for it. It is read in a constant number of statements, whatever
the number of clients.

"Connected" means an open connection on the day asked about: `until` is
null or not before that day. Labels and personal lists stay in their tables
when a connection ends but are read through the open connections only, so
an ended client drops out of every list by itself and comes back as it was
if the firm is connected again; nothing has to be cleaned up.

Who may change what is the caller's decision (`can_manage_clients` says
who manages the client lists); the functions here check only what the
registry itself requires: the client is connected to the firm, the person
is one of the firm's consultants, the label is a sensible text. Adding what
is already there, or removing what is not, changes nothing and records no
event. Every change records one audit event with the subject
"company:<client id>" and the firm in its before/after, and functions take
the caller's session and an aware `now` and never commit.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
import zoneinfo
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from registry.digital_models import (
    LABEL_MAX,
    ClientLabel,
    ConsultantClient,
    DigitalRequest,
    RequestState,
)
from registry.errors import RegistryError
from registry.models import (
    AuditEvent,
    Company,
    Connection,
    ConnectionRole,
    Person,
    Role,
    RoleKind,
    Subscription,
    SubscriptionPayer,
)
from registry.queries import record_event

SWEDEN = zoneinfo.ZoneInfo("Europe/Stockholm")
MANAGERS = frozenset({RoleKind.SYSADMIN, RoleKind.PROGRAM_ADMIN})
HISTORY_LIMIT = 200

LABEL_ADDED = "client_label.added"
LABEL_REMOVED = "client_label.removed"
ASSIGNED = "consultant_client.added"
UNASSIGNED = "consultant_client.removed"
ACTIONS = (LABEL_ADDED, LABEL_REMOVED, ASSIGNED, UNASSIGNED)

NOT_CONNECTED = "Klienten är inte kopplad till byrån."
NOT_CONSULTANT = "Personen är inte konsult på byrån."
LABEL_EMPTY = "Skriv en märkning."
LABEL_TOO_LONG = f"Märkningen får vara högst {LABEL_MAX} tecken."
LABEL_CONTROL = "Märkningen får inte innehålla styrtecken eller radbrytningar."


class ClientListError(RegistryError):
    """A change to a firm's client list that the registry does not allow."""


class PayerKind(StrEnum):
    FIRM = "firm"  # the firm whose list it is
    CLIENT = "client"  # the client itself
    OTHER = "other"  # some other company


@dataclass(frozen=True, slots=True)
class PayerNow:
    """Who pays one of the client's subscriptions on the list's day."""

    subscription: str
    kind: PayerKind
    payer: Company


@dataclass(frozen=True, slots=True)
class ClientRow:
    client: Company
    roles: tuple[ConnectionRole, ...]  # of its open connections to the firm, usually one
    since: dt.date  # the earliest of those connections
    payers: tuple[PayerNow, ...]  # by subscription number; empty without a subscription
    labels: tuple[str, ...]  # sorted
    consultants: tuple[Person, ...]  # the firm's consultants with it in their list, by name
    request_pending: bool  # a digital request of this firm waits for the client

    @property
    def role(self) -> ConnectionRole:
        return self.roles[0]


@dataclass(frozen=True, slots=True)
class ConsultantRow:
    person: Person
    roles: tuple[RoleKind, ...]  # all their roles at the firm, consultant among them
    clients: tuple[Company, ...]  # their personal list, connected clients only, by name


@dataclass(frozen=True, slots=True)
class HistoryEvent:
    event: AuditEvent
    actor_name: str | None  # the person's name when the actor is a person in the registry


@dataclass(frozen=True, slots=True)
class ClientHistory:
    connections: tuple[Connection, ...]  # every connection between them, the latest first
    events: tuple[HistoryEvent, ...]  # what happened between them, newest first
    requests: tuple[DigitalRequest, ...]  # the firm's digital requests to the client, any state


def local_day(now: dt.datetime) -> dt.date:
    """The date in Sweden at the moment `now` (aware)."""
    if now.tzinfo is None:
        raise ValueError(f"naive datetime {now!r}: pass an aware moment")
    return now.astimezone(SWEDEN).date()


def can_manage_clients(roles: Iterable[RoleKind | str]) -> bool:
    """Whether roles at a firm let a person manage its labels and consultants' lists."""
    return any(RoleKind(role) in MANAGERS for role in roles)


def _sort_key(company: Company) -> tuple[str, str]:
    return company.name.casefold(), company.orgnr


def _label_key(label: str) -> tuple[str, str]:
    return label.casefold(), label


def _open_on(today: dt.date) -> sa.ColumnElement[bool]:
    return sa.or_(col(Connection.until).is_(None), col(Connection.until) >= today)


def clean_label(text: str) -> str:
    """A label as stored: NFC, spaces collapsed and trimmed; raises `ClientListError`."""
    label = unicodedata.normalize("NFC", text)
    # Category C is control, format (zero-width, bidi overrides), private use and
    # unassigned; Zl/Zp are the Unicode line and paragraph separators.
    if any(
        unicodedata.category(ch)[0] == "C" or unicodedata.category(ch) in ("Zl", "Zp")
        for ch in label
    ):
        raise ClientListError(LABEL_CONTROL)
    label = " ".join(label.split())
    if not label:
        raise ClientListError(LABEL_EMPTY)
    if len(label) > LABEL_MAX:
        raise ClientListError(LABEL_TOO_LONG)
    return label


def _matches(company: Company, query: str) -> bool:
    wanted = " ".join(query.split()).casefold()
    if not wanted:
        return True
    if wanted in company.name.casefold():
        return True
    digits = wanted.replace("-", "").replace(" ", "")
    return digits.isdigit() and digits in company.orgnr.replace("-", "")


def _connected(
    session: Session, firm_id: int, today: dt.date
) -> tuple[dict[int, Company], dict[int, list[Connection]]]:
    """The clients connected on `today` and their open connections, in one statement."""
    rows = session.exec(
        select(Connection, Company)
        .join(Company, col(Company.id) == col(Connection.client_id))
        .where(Connection.firm_id == firm_id, _open_on(today))
    ).all()
    companies: dict[int, Company] = {}
    found: dict[int, list[Connection]] = {}
    for conn, company in rows:
        companies[conn.client_id] = company
        found.setdefault(conn.client_id, []).append(conn)
    return companies, found


def _payers(
    session: Session, firm_id: int, clients: dict[int, Company], today: dt.date
) -> dict[int, list[PayerNow]]:
    """Each client's subscriptions with their payer today, in two statements."""
    result: dict[int, list[PayerNow]] = {client_id: [] for client_id in clients}
    if not clients:
        return result
    subscriptions = session.exec(
        select(Subscription)
        .where(col(Subscription.company_id).in_(list(clients)))
        .order_by(col(Subscription.number))
    ).all()
    if not subscriptions:
        return result
    latest: dict[int, Company] = {}
    rows = session.exec(
        select(SubscriptionPayer, Company)
        .join(Company, col(Company.id) == col(SubscriptionPayer.payer_id))
        .where(
            col(SubscriptionPayer.subscription_id).in_([s.id for s in subscriptions]),
            col(SubscriptionPayer.valid_from) <= today,
        )
        .order_by(col(SubscriptionPayer.valid_from))
    ).all()
    for row, payer in rows:
        latest[row.subscription_id] = payer  # ordered by day, so the latest one wins
    for sub in subscriptions:
        assert sub.id is not None
        owner = clients[sub.company_id]
        payer = latest.get(sub.id, owner)  # no row: the subscription's own company pays
        if payer.id == firm_id:
            kind = PayerKind.FIRM
        elif payer.id == owner.id:
            kind = PayerKind.CLIENT
        else:
            kind = PayerKind.OTHER
        result[sub.company_id].append(PayerNow(sub.number, kind, payer))
    return result


def _consultant_lists(
    session: Session, firm_id: int, client_ids: Collection[int] | None = None
) -> list[tuple[ConsultantClient, Person]]:
    """The personal-list rows of people who are consultants at the firm now."""
    statement = (
        select(ConsultantClient, Person)
        .join(Person, col(Person.id) == col(ConsultantClient.person_id))
        .join(
            Role,
            sa.and_(
                col(Role.person_id) == col(ConsultantClient.person_id),
                col(Role.company_id) == firm_id,
                col(Role.role) == RoleKind.CONSULTANT,
            ),
        )
        .where(ConsultantClient.firm_id == firm_id)
    )
    if client_ids is not None:
        statement = statement.where(col(ConsultantClient.client_id).in_(list(client_ids)))
    return list(session.exec(statement).all())


def firm_client_list(
    session: Session,
    firm_id: int,
    *,
    today: dt.date,
    label: str | None = None,
    consultant_id: int | None = None,
    query: str | None = None,
    client_id: int | None = None,
) -> list[ClientRow]:
    """The firm's connected clients on `today`, by name, narrowed by the filters given.

    `label` keeps clients with exactly that label, `consultant_id` those in
    that consultant's personal list, `query` those whose name contains it
    (case-insensitive) or whose organisationsnummer contains its digits,
    `client_id` that one client (a client's own page). Six statements at
    most, however many clients there are.
    """
    companies, connected = _connected(session, firm_id, today)
    if not companies:
        return []
    labels: dict[int, list[str]] = {}
    for row in session.exec(select(ClientLabel).where(ClientLabel.firm_id == firm_id)).all():
        if row.client_id in companies:
            labels.setdefault(row.client_id, []).append(row.label)
    consultants: dict[int, list[Person]] = {}
    for entry, person in _consultant_lists(session, firm_id, companies):
        consultants.setdefault(entry.client_id, []).append(person)

    wanted = label.strip() if label else None
    chosen = {
        cid: company
        for cid, company in companies.items()
        if (client_id is None or cid == client_id)
        and (wanted is None or wanted in labels.get(cid, ()))
        and (consultant_id is None or any(p.id == consultant_id for p in consultants.get(cid, ())))
        and (query is None or _matches(company, query))
    }
    if not chosen:
        return []
    payers = _payers(session, firm_id, chosen, today)
    pending = set(
        session.exec(
            select(DigitalRequest.client_id).where(
                DigitalRequest.firm_id == firm_id,
                DigitalRequest.state == RequestState.PENDING,
                col(DigitalRequest.client_id).in_(list(chosen)),
            )
        ).all()
    )
    rows = []
    for cid, company in chosen.items():
        conns = sorted(connected[cid], key=lambda c: (c.since, c.role))
        rows.append(
            ClientRow(
                client=company,
                roles=tuple(dict.fromkeys(ConnectionRole(c.role) for c in conns)),
                since=conns[0].since,
                payers=tuple(payers[cid]),
                labels=tuple(sorted(labels.get(cid, ()), key=_label_key)),
                consultants=tuple(
                    sorted(consultants.get(cid, ()), key=lambda p: (p.name.casefold(), p.id))
                ),
                request_pending=cid in pending,
            )
        )
    return sorted(rows, key=lambda r: _sort_key(r.client))


def firm_labels(session: Session, firm_id: int, *, today: dt.date) -> list[str]:
    """Every label the firm uses on a connected client, sorted: a filter's choices."""
    statement = (
        select(ClientLabel.label)
        .distinct()
        .join(
            Connection,
            sa.and_(
                col(Connection.client_id) == col(ClientLabel.client_id),
                col(Connection.firm_id) == firm_id,
            ),
        )
        .where(ClientLabel.firm_id == firm_id, _open_on(today))
    )
    return sorted(session.exec(statement).all(), key=_label_key)


def firm_consultants(session: Session, firm_id: int, *, today: dt.date) -> list[ConsultantRow]:
    """The firm's people with the consultant role, by name, each with their personal list.

    A system or program administrator appears when they also hold the
    consultant role. The lists hold only clients connected on `today`.
    """
    people = session.exec(
        select(Person)
        .join(Role, col(Role.person_id) == col(Person.id))
        .where(Role.company_id == firm_id, Role.role == RoleKind.CONSULTANT)
    ).all()
    if not people:
        return []
    ids = [p.id for p in people]
    roles: dict[int, set[RoleKind]] = {}
    for role in session.exec(
        select(Role).where(Role.company_id == firm_id, col(Role.person_id).in_(ids))
    ).all():
        roles.setdefault(role.person_id, set()).add(RoleKind(role.role))
    lists: dict[int, list[Company]] = {}
    rows = session.exec(
        select(ConsultantClient, Company)
        .join(Company, col(Company.id) == col(ConsultantClient.client_id))
        .where(
            ConsultantClient.firm_id == firm_id,
            col(ConsultantClient.person_id).in_(ids),
            sa.exists().where(
                col(Connection.client_id) == col(ConsultantClient.client_id),
                col(Connection.firm_id) == firm_id,
                _open_on(today),
            ),
        )
    ).all()
    for entry, company in rows:
        lists.setdefault(entry.person_id, []).append(company)
    order = list(RoleKind)
    result = []
    for person in people:
        assert person.id is not None
        result.append(
            ConsultantRow(
                person=person,
                roles=tuple(sorted(roles.get(person.id, ()), key=order.index)),
                clients=tuple(sorted(lists.get(person.id, ()), key=_sort_key)),
            )
        )
    return sorted(result, key=lambda r: (r.person.name.casefold(), r.person.id))


def connected_clients(session: Session, firm_id: int, *, today: dt.date) -> list[Company]:
    """The firm's clients connected on `today`, by name (a select's choices)."""
    statement = select(Company).where(
        sa.exists().where(
            col(Connection.client_id) == col(Company.id),
            col(Connection.firm_id) == firm_id,
            _open_on(today),
        )
    )
    return sorted(session.exec(statement).all(), key=_sort_key)


def client_history(session: Session, firm_id: int, client_id: int) -> ClientHistory:
    """The connections between the firm and the client, and the events about the pair.

    The events are those of their connections (created, ended), of the
    firm's digital requests to the client, and the firm's own label and
    personal-list changes on the client; another firm's events about the
    same client are not among them. At most HISTORY_LIMIT, newest first.
    """
    connections = session.exec(
        select(Connection).where(Connection.firm_id == firm_id, Connection.client_id == client_id)
    ).all()
    requests = session.exec(
        select(DigitalRequest)
        .where(DigitalRequest.firm_id == firm_id, DigitalRequest.client_id == client_id)
        .order_by(col(DigitalRequest.id).desc())
    ).all()
    pair_subjects = [f"connection:{c.id}" for c in connections] + [
        f"digital_request:{r.id}" for r in requests
    ]
    company_subject = f"company:{client_id}"
    candidates = session.exec(
        select(AuditEvent)
        .where(col(AuditEvent.subject).in_([*pair_subjects, company_subject]))
        .order_by(col(AuditEvent.at).desc(), col(AuditEvent.id).desc())
    ).all()
    # Events on the client itself concern the firm only when they name it: JSON
    # cannot be filtered the same way on both databases, so it is done here.
    events = [e for e in candidates if e.subject != company_subject or _names_firm(e, firm_id)][
        :HISTORY_LIMIT
    ]
    actors = {e.actor for e in events}
    names = (
        {p.email: p.name for p in session.exec(select(Person).where(col(Person.email).in_(actors)))}
        if actors
        else {}
    )
    latest_first = sorted(connections, key=lambda c: (c.since, c.id or 0), reverse=True)
    return ClientHistory(
        connections=tuple(latest_first),
        events=tuple(HistoryEvent(e, names.get(e.actor.lower())) for e in events),
        requests=tuple(requests),
    )


def _names_firm(event: AuditEvent, firm_id: int) -> bool:
    return any(
        isinstance(state, dict) and state.get("firm_id") == firm_id
        for state in (event.before, event.after)
    )


# -- changes -----------------------------------------------------------------------------------


def _pair(
    session: Session, firm_id: int, client_id: int, today: dt.date
) -> tuple[Company, Company]:
    """The firm and the client, which must be connected on `today`."""
    firm = session.get(Company, firm_id)
    client = session.get(Company, client_id)
    open_one = session.exec(
        select(Connection.id).where(
            Connection.firm_id == firm_id, Connection.client_id == client_id, _open_on(today)
        )
    ).first()
    if firm is None or client is None or open_one is None:
        raise ClientListError(NOT_CONNECTED)
    return firm, client


def _state(firm: Company, client: Company, **more: Any) -> dict[str, Any]:
    return {
        "firm_id": firm.id,
        "firm": firm.orgnr,
        "firm_name": firm.name,
        "client_id": client.id,
        "client": client.orgnr,
        "client_name": client.name,
        **more,
    }


def _insert_once(session: Session, row: ClientLabel | ConsultantClient) -> bool:
    """Insert a row a unique constraint guards; False if another transaction just did."""
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        return False
    return True


def add_label(
    session: Session, *, firm_id: int, client_id: int, label: str, actor: str, now: dt.datetime
) -> bool:
    """Put a label on a connected client; False if it already had it (nothing recorded)."""
    text = clean_label(label)
    firm, client = _pair(session, firm_id, client_id, local_day(now))
    existing = session.exec(
        select(ClientLabel).where(
            ClientLabel.firm_id == firm_id,
            ClientLabel.client_id == client_id,
            ClientLabel.label == text,
        )
    ).first()
    if existing is not None:
        return False
    if not _insert_once(session, ClientLabel(firm_id=firm_id, client_id=client_id, label=text)):
        return False
    record_event(
        session,
        actor=actor,
        action=LABEL_ADDED,
        subject=f"company:{client_id}",
        after=_state(firm, client, label=text),
        detail=f"{firm.name} märkte {client.name} ({client.orgnr}) med ”{text}”.",
        now=now,
    )
    session.flush()
    return True


def remove_label(
    session: Session, *, firm_id: int, client_id: int, label: str, actor: str, now: dt.datetime
) -> bool:
    """Take a label off a client; False if it did not have it (nothing recorded)."""
    text = " ".join(unicodedata.normalize("NFC", label).split())
    result = session.exec(
        sa.delete(ClientLabel).where(
            col(ClientLabel.firm_id) == firm_id,
            col(ClientLabel.client_id) == client_id,
            col(ClientLabel.label) == text,
        )
    )
    if result.rowcount != 1:
        return False
    firm = session.get(Company, firm_id)
    client = session.get(Company, client_id)
    assert firm is not None and client is not None
    record_event(
        session,
        actor=actor,
        action=LABEL_REMOVED,
        subject=f"company:{client_id}",
        before=_state(firm, client, label=text),
        detail=f"{firm.name} tog bort märkningen ”{text}” från {client.name} ({client.orgnr}).",
        now=now,
    )
    session.flush()
    return True


def _consultant(session: Session, firm_id: int, person_id: int) -> Person:
    person = session.exec(
        select(Person)
        .join(Role, col(Role.person_id) == col(Person.id))
        .where(Person.id == person_id, Role.company_id == firm_id, Role.role == RoleKind.CONSULTANT)
    ).first()
    if person is None:
        raise ClientListError(NOT_CONSULTANT)
    return person


def assign_client(
    session: Session,
    *,
    firm_id: int,
    consultant_id: int,
    client_id: int,
    actor: str,
    now: dt.datetime,
) -> bool:
    """Add a connected client to a consultant's personal list; False if it was there already."""
    person = _consultant(session, firm_id, consultant_id)
    firm, client = _pair(session, firm_id, client_id, local_day(now))
    existing = session.exec(
        select(ConsultantClient).where(
            ConsultantClient.firm_id == firm_id,
            ConsultantClient.person_id == consultant_id,
            ConsultantClient.client_id == client_id,
        )
    ).first()
    if existing is not None:
        return False
    row = ConsultantClient(
        firm_id=firm_id, person_id=consultant_id, client_id=client_id, added_at=now
    )
    if not _insert_once(session, row):
        return False
    record_event(
        session,
        actor=actor,
        action=ASSIGNED,
        subject=f"company:{client_id}",
        after=_state(
            firm,
            client,
            person_id=consultant_id,
            consultant=person.email,
            consultant_name=person.name,
        ),
        detail=f"{client.name} ({client.orgnr}) lades till i {person.name}s klientlista "
        f"hos {firm.name}.",
        now=now,
    )
    session.flush()
    return True


def unassign_client(
    session: Session,
    *,
    firm_id: int,
    consultant_id: int,
    client_id: int,
    actor: str,
    now: dt.datetime,
) -> bool:
    """Take a client off a consultant's personal list; False if it was not on it.

    The person need no longer be a consultant, nor the client connected:
    leftovers can always be cleared.
    """
    result = session.exec(
        sa.delete(ConsultantClient).where(
            col(ConsultantClient.firm_id) == firm_id,
            col(ConsultantClient.person_id) == consultant_id,
            col(ConsultantClient.client_id) == client_id,
        )
    )
    if result.rowcount != 1:
        return False
    firm = session.get(Company, firm_id)
    client = session.get(Company, client_id)
    person = session.get(Person, consultant_id)
    assert firm is not None and client is not None and person is not None
    record_event(
        session,
        actor=actor,
        action=UNASSIGNED,
        subject=f"company:{client_id}",
        before=_state(
            firm,
            client,
            person_id=consultant_id,
            consultant=person.email,
            consultant_name=person.name,
        ),
        detail=f"{client.name} ({client.orgnr}) togs bort ur {person.name}s klientlista "
        f"hos {firm.name}.",
        now=now,
    )
    session.flush()
    return True
