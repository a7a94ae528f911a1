"""Reading the registry for others, and recording issued forms.

`find_client_by_subscription` answers only for a matching pair, so the public
page that uses it cannot be turned into a way to list the registry.
`company_view` gathers everything about one company for a person to read.
Functions here take a session and never commit: the caller owns the
transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, select

from forms import FormKind, FormsError, InvalidPayload, normalise_form_id, parse_organisationsnummer
from registry.errors import Conflict, NotFound, RegistryError
from registry.models import (
    AuditEvent,
    Company,
    Connection,
    IssuedForm,
    Person,
    Role,
    RoleKind,
    Subscription,
    SubscriptionPayer,
    utcnow,
)


def record_event(
    session: Session,
    *,
    actor: str,
    action: str,
    subject: str,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    detail: str = "",
    now: dt.datetime | None = None,
) -> AuditEvent:
    """Add an audit event to the session's transaction, so it lands with the change.

    `now` is when it happened (aware); without it, the wall clock.
    """
    event = AuditEvent(
        at=now if now is not None else utcnow(),
        actor=actor,
        action=action,
        subject=subject,
        before=dict(before) if before is not None else None,
        after=dict(after) if after is not None else None,
        detail=detail,
    )
    session.add(event)
    return event


def find_client_by_subscription(session: Session, orgnr: str, subscription: str) -> Company | None:
    """The company with this organisationsnummer, if the subscription number is its own.

    Both arguments are canonical text (`forms.parse_organisationsnummer(...).text`,
    `forms.parse_subscription_number(...)`). Any kind of company can be a
    client: an accounting firm has its own audit firm, for one.
    """
    statement = (
        select(Company)
        .join(Subscription, col(Subscription.company_id) == col(Company.id))
        .where(Company.orgnr == orgnr, Subscription.number == subscription)
    )
    return session.exec(statement).first()


def record_issued_form(
    session: Session,
    *,
    form_id: str,
    kind: str,
    version: str,
    values: dict[str, str],
    signatories: dict[str, str],
    source: str,
    actor: str | None = None,
    issued_at: dt.datetime | None = None,
) -> IssuedForm:
    """Record a pre-filled form as handed out, with its "form.issued" audit event.

    `issued_at` (default now) is for sample forms handed out before the data was loaded.
    """
    try:
        canonical = normalise_form_id(form_id)
    except InvalidPayload:
        canonical = ""
    if canonical != form_id:
        raise RegistryError(f"issued form id {form_id!r} is not a canonical form id")
    try:
        form_kind = FormKind(kind)
    except ValueError:
        raise RegistryError(f"unknown form kind {kind!r}") from None
    if session.get(IssuedForm, form_id) is not None:
        raise Conflict(f"form id {form_id} was already issued")
    form = IssuedForm(
        id=form_id,
        kind=form_kind,
        version=version,
        values=dict(values),
        signatories=dict(signatories),
        source=source,
        created_at=issued_at or utcnow(),
    )
    session.add(form)
    record_event(
        session,
        actor=actor or source,
        action="form.issued",
        subject=f"form:{form_id}",
        after={
            "kind": form_kind.value,
            "version": version,
            "values": dict(values),
            "signatories": dict(signatories),
            "source": source,
        },
    )
    session.flush()
    return form


def get_issued_form(session: Session, form_id: str) -> IssuedForm | None:
    return session.get(IssuedForm, form_id)


@dataclass(frozen=True, slots=True)
class PayerPeriod:
    payer: Company
    valid_from: dt.date


@dataclass(frozen=True, slots=True)
class SubscriptionView:
    subscription: Subscription
    payer: Company  # on the view's day
    payer_since: dt.date | None  # None: no payer recorded yet, the owner pays by default
    upcoming: tuple[PayerPeriod, ...]  # changes recorded for a later day
    history: tuple[PayerPeriod, ...]  # every recorded payer, oldest first


@dataclass(frozen=True, slots=True)
class PersonRoles:
    person: Person
    roles: tuple[RoleKind, ...]


@dataclass(frozen=True, slots=True)
class ConnectionView:
    connection: Connection
    other: Company  # the firm when viewed as client, the client when viewed as firm


@dataclass(frozen=True, slots=True)
class CompanyView:
    company: Company
    on: dt.date
    subscriptions: tuple[SubscriptionView, ...]
    people: tuple[PersonRoles, ...]
    as_client: tuple[ConnectionView, ...]  # open first, then ended, newest first
    as_firm: tuple[ConnectionView, ...]


def _payer_view(
    subscription: Subscription, owner: Company, rows: list[tuple[SubscriptionPayer, Company]],
    on: dt.date,
) -> SubscriptionView:
    history = tuple(PayerPeriod(payer, row.valid_from) for row, payer in rows)
    past = [p for p in history if p.valid_from <= on]
    upcoming = tuple(p for p in history if p.valid_from > on)
    if past:
        latest = past[-1]
        return SubscriptionView(subscription, latest.payer, latest.valid_from, upcoming, history)
    # Before the first recorded payer (or with none) the subscription's company pays.
    return SubscriptionView(subscription, owner, None, upcoming, history)


def _connections(
    session: Session, company: Company, *, as_client: bool
) -> tuple[ConnectionView, ...]:
    mine, theirs = (
        (Connection.client_id, Connection.firm_id) if as_client
        else (Connection.firm_id, Connection.client_id)
    )
    statement = (
        select(Connection, Company)
        .join(Company, col(Company.id) == col(theirs))
        .where(col(mine) == company.id)
    )
    rows = [ConnectionView(conn, other) for conn, other in session.exec(statement).all()]
    open_rows = sorted((r for r in rows if r.connection.until is None), key=lambda v: v.other.name)
    ended = sorted(
        (r for r in rows if r.connection.until is not None),
        key=lambda v: (v.connection.until, v.connection.since),
        reverse=True,
    )
    return tuple(open_rows + ended)


def company_view(session: Session, orgnr: str, *, on: dt.date | None = None) -> CompanyView:
    """Everything about one company: subscriptions and payers, people, connections.

    `on` is the day the payer is given for (today by default).
    """
    try:
        canonical = parse_organisationsnummer(orgnr).text
    except FormsError as exc:
        raise RegistryError(f"”{orgnr}” is not an organisationsnummer: {exc.message}") from None
    company = session.exec(select(Company).where(Company.orgnr == canonical)).first()
    if company is None:
        raise NotFound(f"no company with organisationsnummer {canonical} in the registry")
    day = on or dt.date.today()

    subscriptions = session.exec(
        select(Subscription).where(Subscription.company_id == company.id)
        .order_by(col(Subscription.number))
    ).all()
    sub_views = []
    for sub in subscriptions:
        payer_rows = session.exec(
            select(SubscriptionPayer, Company)
            .join(Company, col(Company.id) == col(SubscriptionPayer.payer_id))
            .where(SubscriptionPayer.subscription_id == sub.id)
            .order_by(col(SubscriptionPayer.valid_from))
        ).all()
        sub_views.append(_payer_view(sub, company, list(payer_rows), day))

    role_rows = session.exec(
        select(Person, Role)
        .join(Role, col(Role.person_id) == col(Person.id))
        .where(Role.company_id == company.id)
        .order_by(col(Person.name), col(Person.id))
    ).all()
    people: dict[int, tuple[Person, list[RoleKind]]] = {}
    for person, role in role_rows:
        assert person.id is not None
        people.setdefault(person.id, (person, []))[1].append(RoleKind(role.role))
    role_order = list(RoleKind)
    person_views = tuple(
        PersonRoles(person, tuple(sorted(roles, key=role_order.index)))
        for person, roles in people.values()
    )

    return CompanyView(
        company=company,
        on=day,
        subscriptions=tuple(sub_views),
        people=person_views,
        as_client=_connections(session, company, as_client=True),
        as_firm=_connections(session, company, as_client=False),
    )
