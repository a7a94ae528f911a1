"""The registry as the reviewer pages show it: a firm's clients, a client's firms, the audit log.

Ended connections are kept (a connection ends by getting its `until`), so
both company views show the history next to what is open now. The audit log
is read newest first and paged by id, so a page stays stable while new
events arrive. Functions take a session and never commit.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlmodel import Session, col, select

from forms import FormsError, parse_organisationsnummer
from registry.errors import NotFound
from registry.models import (
    AuditEvent,
    Company,
    Connection,
    ConnectionRole,
    Subscription,
    SubscriptionPayer,
)
from registry.queries import SubscriptionView, company_view

MAX_AUDIT_PAGE = 500


@dataclass(frozen=True, slots=True)
class ClientPayer:
    """Who pays one of a client's subscriptions on the view's day."""

    subscription: str
    payer: Company
    payer_since: dt.date | None  # None: nothing recorded, the client pays by default


@dataclass(frozen=True, slots=True)
class FirmClient:
    """One connection seen from the firm."""

    connection: Connection
    client: Company
    payers: tuple[ClientPayer, ...]  # the client's subscriptions, by number

    @property
    def role(self) -> ConnectionRole:
        return ConnectionRole(self.connection.role)

    @property
    def since(self) -> dt.date:
        return self.connection.since

    @property
    def until(self) -> dt.date | None:
        return self.connection.until

    @property
    def firm_pays(self) -> bool:
        """Whether the firm pays at least one of the client's subscriptions now."""
        return any(p.payer.id == self.connection.firm_id for p in self.payers)


@dataclass(frozen=True, slots=True)
class FirmClients:
    firm: Company
    on: dt.date
    current: tuple[FirmClient, ...]  # open connections, by client name
    ended: tuple[FirmClient, ...]  # ended ones, the latest end first


@dataclass(frozen=True, slots=True)
class FirmLink:
    """One connection seen from the client."""

    connection: Connection
    firm: Company

    @property
    def role(self) -> ConnectionRole:
        return ConnectionRole(self.connection.role)


@dataclass(frozen=True, slots=True)
class ClientConnections:
    client: Company
    on: dt.date
    subscriptions: tuple[SubscriptionView, ...]  # payer on `on`, upcoming changes, history
    current: tuple[FirmLink, ...]  # open connections, by firm name
    ended: tuple[FirmLink, ...]  # ended ones, the latest end first


def _canonical(orgnr: str) -> str:
    try:
        return parse_organisationsnummer(orgnr).text
    except FormsError:
        # Nothing can be registered under it; to a page that is "no such company".
        raise NotFound(f"”{orgnr}” is not an organisationsnummer, so no company has it") from None


def _company(session: Session, orgnr: str) -> Company:
    canonical = _canonical(orgnr)
    company = session.exec(select(Company).where(Company.orgnr == canonical)).first()
    if company is None:
        raise NotFound(f"no company with organisationsnummer {canonical} in the registry")
    return company


def _payers_now(
    session: Session, clients: dict[int, Company], on: dt.date
) -> dict[int, tuple[ClientPayer, ...]]:
    """Each client's subscriptions with their payer on `on`, in two queries."""
    if not clients:
        return {}
    subscriptions = session.exec(
        select(Subscription)
        .where(col(Subscription.company_id).in_(list(clients)))
        .order_by(col(Subscription.number))
    ).all()
    by_id = {sub.id: sub for sub in subscriptions}
    latest: dict[int, tuple[SubscriptionPayer, Company]] = {}
    rows = session.exec(
        select(SubscriptionPayer, Company)
        .join(Company, col(Company.id) == col(SubscriptionPayer.payer_id))
        .where(
            col(SubscriptionPayer.subscription_id).in_(list(by_id)),
            col(SubscriptionPayer.valid_from) <= on,
        )
        .order_by(col(SubscriptionPayer.valid_from))
    ).all()
    for row, payer in rows:
        latest[row.subscription_id] = (row, payer)  # ordered, so the last one wins
    result: dict[int, list[ClientPayer]] = {client_id: [] for client_id in clients}
    for sub in subscriptions:
        assert sub.id is not None
        found = latest.get(sub.id)
        if found is None:
            now = ClientPayer(sub.number, clients[sub.company_id], None)
        else:
            now = ClientPayer(sub.number, found[1], found[0].valid_from)
        result[sub.company_id].append(now)
    return {client_id: tuple(payers) for client_id, payers in result.items()}


def firm_clients(session: Session, firm_orgnr: str, *, on: dt.date | None = None) -> FirmClients:
    """The firm and its clients, open and ended, each with who pays the client now.

    `on` is the day for "now" (today by default). Raises `NotFound` for an
    organisationsnummer the registry does not have.
    """
    firm = _company(session, firm_orgnr)
    day = on or dt.date.today()
    rows = session.exec(
        select(Connection, Company)
        .join(Company, col(Company.id) == col(Connection.client_id))
        .where(Connection.firm_id == firm.id)
    ).all()
    clients = {client.id: client for _, client in rows if client.id is not None}
    payers = _payers_now(session, clients, day)
    views = [FirmClient(conn, client, payers.get(conn.client_id, ())) for conn, client in rows]
    current = sorted(
        (v for v in views if v.until is None), key=lambda v: (v.client.name, v.role.value)
    )
    ended = sorted(
        (v for v in views if v.until is not None),
        key=lambda v: (v.until, v.since, v.connection.id),
        reverse=True,
    )
    return FirmClients(firm, day, tuple(current), tuple(ended))


def client_connections(
    session: Session, orgnr: str, *, on: dt.date | None = None
) -> ClientConnections:
    """The client, its subscriptions with their payer history, and all its connections.

    Raises `NotFound` for an organisationsnummer the registry does not have.
    """
    view = company_view(session, _company(session, orgnr).orgnr, on=on)
    links = [FirmLink(v.connection, v.other) for v in view.as_client]
    current = sorted(
        (link for link in links if link.connection.until is None),
        key=lambda link: (link.firm.name, link.role.value),
    )
    # company_view already orders the ended ones, the latest end first.
    ended = [link for link in links if link.connection.until is not None]
    return ClientConnections(
        view.company, view.on, view.subscriptions, tuple(current), tuple(ended)
    )


def audit_events(
    session: Session,
    *,
    action: str | None = None,
    actor: str | None = None,
    subject: str | None = None,
    since: dt.datetime | None = None,
    before_id: int | None = None,
    limit: int = 50,
) -> list[AuditEvent]:
    """Audit events newest first, filtered by exact action, actor and subject.

    `since` keeps events at or after that moment; for the next page pass the
    last event's id as `before_id`. `limit` is capped at MAX_AUDIT_PAGE.
    """
    if limit < 1:
        raise ValueError(f"limit must be at least 1, not {limit}")
    statement = select(AuditEvent)
    if action is not None:
        statement = statement.where(AuditEvent.action == action)
    if actor is not None:
        statement = statement.where(AuditEvent.actor == actor)
    if subject is not None:
        statement = statement.where(AuditEvent.subject == subject)
    if since is not None:
        statement = statement.where(col(AuditEvent.at) >= since)
    if before_id is not None:
        statement = statement.where(col(AuditEvent.id) < before_id)
    statement = statement.order_by(col(AuditEvent.id).desc()).limit(min(limit, MAX_AUDIT_PAGE))
    return list(session.exec(statement).all())


def audit_actions(session: Session) -> list[str]:
    """Every action the audit log holds, sorted, for a filter's choices."""
    return list(
        session.exec(select(AuditEvent.action).distinct().order_by(col(AuditEvent.action))).all()
    )
