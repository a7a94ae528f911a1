"""Connecting a firm to a client and disconnecting them: planned, then applied.

A reviewer first sees a `LinkagePlan`: what applying a form would change
now, the rule violations that make it impossible, whether the registry
already is as the form asks, and notes worth a look. Applying plans again
inside the caller's transaction and carries out exactly that plan, with one
audit event per change; the caller commits.

The rules (DESIGN.md, "The registry rules"): for a dual connection the client
must exist, the subscription number must be the client's, the firm must be a
firm of the stated kind and the pair must not already be connected in that
role. To disconnect, the connection must be open. If the firm pays the
client's subscription on the day of the disconnection, the client pays from
the next billing period (the first day of the next month), whichever option
the form ticks: seed 002 says so without exception ("Har ni som byrå stått
för kostnaden ... så ställs klienten om till betalningsansvarig för nästa
period") and the disconnection form itself prints that sentence above the
signatures. "Endast byråns åtkomst upphör" then only earns a note that the
payer changes all the same, so the reviewer can reject if the customer meant
otherwise.

Idempotence: a connection that is already open, or that already ended on the
form's day, and a payer switch already recorded, are not changes, so a plan
made again after applying (with the same `on`) says `already_done`. Two
reviewers applying at once cannot both change the registry: the unique index
on open connections, a conditional UPDATE when ending one and the unique
payer row per day make the loser's write fail, which surfaces as `Conflict`
(the caller rolls back and may plan again).
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from forms import FormsError, parse_organisationsnummer, parse_subscription_number
from registry.errors import Conflict
from registry.models import (
    Company,
    CompanyKind,
    Connection,
    ConnectionRole,
    Subscription,
    SubscriptionPayer,
)
from registry.queries import record_event

ROLE_NAMES = {
    ConnectionRole.ACCOUNTING: "redovisningsbyrå",
    ConnectionRole.AUDIT: "revisionsbyrå",
}
KIND_NAMES = {
    CompanyKind.CLIENT: "ett klientföretag",
    CompanyKind.ACCOUNTING_FIRM: "en redovisningsbyrå",
    CompanyKind.AUDIT_FIRM: "en revisionsbyrå",
}
RACE = (
    "Registret ändrades av någon annan medan ändringen genomfördes; ingenting sparades. "
    "Öppna ärendet igen för att se hur registret ser ut nu."
)


@dataclass(frozen=True)
class Change:
    """One change applying would make (or made), described for the reviewer."""

    action: str  # "connection.created", "connection.ended", "payer.changed"
    summary: str  # Swedish, one line
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    subject: str = ""  # the audit subject, e.g. "connection:17"; known after applying


@dataclass(frozen=True)
class LinkagePlan:
    kind: str  # "dual" | "disconnect"
    changes: list[Change]  # empty when there are problems or nothing to do
    problems: list[str]  # Swedish: why applying is impossible
    already_done: bool  # no problems, and the registry already is as the form asks
    notes: list[str]  # Swedish, for information

    @property
    def ok(self) -> bool:
        return not self.problems


def next_billing_period(on: dt.date) -> dt.date:
    """The first day of the month after `on`: when a new payer takes over."""
    if on.month == 12:
        return dt.date(on.year + 1, 1, 1)
    return dt.date(on.year, on.month + 1, 1)


# A step is a change plus how to make it; making it returns the audit subject.
_Step = tuple[Change, Callable[[Session], str]]


@dataclass
class _Draft:
    kind: str
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    steps: list[_Step] = field(default_factory=list)

    def plan(self) -> LinkagePlan:
        changes = [] if self.problems else [change for change, _ in self.steps]
        return LinkagePlan(
            kind=self.kind,
            changes=changes,
            problems=list(self.problems),
            already_done=not self.problems and not self.steps,
            notes=list(self.notes),
        )


@dataclass(frozen=True)
class _Parties:
    client: Company
    subscription: Subscription
    firm: Company
    role: ConnectionRole


# -- resolving the form's parties --------------------------------------------------------------


def _fold(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).casefold().split())


def _company(session: Session, orgnr: str) -> Company | None:
    return session.exec(select(Company).where(Company.orgnr == orgnr)).first()


def _orgnr(draft: _Draft, value: str, what: str) -> str | None:
    try:
        return parse_organisationsnummer(value).text
    except FormsError as exc:
        draft.problems.append(
            f"”{value}” är inget giltigt organisationsnummer för {what}: {exc.message}"
        )
        return None


def _name_note(draft: _Draft, company: Company, written: str | None, what: str) -> None:
    if written and written.strip() and _fold(written) != _fold(company.name):
        draft.notes.append(
            f"{what} heter ”{written.strip()}” på blanketten men ”{company.name}” "
            f"i registret ({company.orgnr})."
        )


def _resolve(
    session: Session,
    draft: _Draft,
    *,
    client_orgnr: str,
    subscription: str,
    firm_orgnr: str,
    role: ConnectionRole | str,
    client_name: str | None,
    firm_name: str | None,
    check_kind: bool,
) -> _Parties | None:
    """The client, its subscription, the firm and the role, or None after problems."""
    client_nr = _orgnr(draft, client_orgnr, "företaget")
    firm_nr = _orgnr(draft, firm_orgnr, "byrån")
    try:
        connection_role: ConnectionRole | None = ConnectionRole(role)
    except ValueError:
        draft.problems.append(f"”{role}” är ingen byråtyp (redovisningsbyrå eller revisionsbyrå).")
        connection_role = None

    client = _company(session, client_nr) if client_nr else None
    if client_nr and client is None:
        draft.problems.append(
            f"Företaget med organisationsnummer {client_nr} finns inte i registret."
        )
    sub: Subscription | None = None
    try:
        number = parse_subscription_number(subscription)
    except FormsError as exc:
        draft.problems.append(f"”{subscription}” är inget giltigt abonnemangsnummer: {exc.message}")
    else:
        sub = session.exec(select(Subscription).where(Subscription.number == number)).first()
        if sub is None:
            draft.problems.append(f"Abonnemangsnummer {number} finns inte i registret.")
        elif client is not None and sub.company_id != client.id:
            owner = session.get(Company, sub.company_id)
            whose = f" utan till {owner.name} ({owner.orgnr})" if owner else ""
            draft.problems.append(
                f"Abonnemangsnummer {number} hör inte till {client.name} ({client.orgnr}){whose}."
            )

    firm = _company(session, firm_nr) if firm_nr else None
    if firm_nr and firm is None:
        draft.problems.append(f"Byrån med organisationsnummer {firm_nr} finns inte i registret.")
    if firm is not None and client is not None and firm.id == client.id:
        draft.problems.append(f"Byrån och företaget är samma företag ({firm.orgnr}).")
    elif firm is not None and connection_role is not None and check_kind:
        kind = CompanyKind(firm.kind)
        if kind is not connection_role.firm_kind:
            draft.problems.append(
                f"Byrån {firm.orgnr} ({firm.name}) är ingen "
                f"{ROLE_NAMES[connection_role]} utan {KIND_NAMES[kind]}."
            )

    if client is not None:
        _name_note(draft, client, client_name, "Företaget")
    if firm is not None:
        _name_note(draft, firm, firm_name, "Byrån")
    if draft.problems:
        return None
    assert client is not None and sub is not None and firm is not None
    assert connection_role is not None
    return _Parties(client, sub, firm, connection_role)


def _connections(
    session: Session,
    client: Company,
    firm: Company | None = None,
    role: ConnectionRole | None = None,
) -> list[tuple[Connection, Company]]:
    """The client's connections with their firms, newest start first."""
    statement = (
        select(Connection, Company)
        .join(Company, col(Company.id) == col(Connection.firm_id))
        .where(Connection.client_id == client.id)
        .order_by(col(Connection.since).desc(), col(Connection.id).desc())
    )
    if firm is not None:
        statement = statement.where(Connection.firm_id == firm.id)
    if role is not None:
        statement = statement.where(Connection.role == role)
    return list(session.exec(statement).all())


def _connection_state(conn: Connection, client: Company, firm: Company) -> dict[str, Any]:
    return {
        "client": client.orgnr,
        "client_name": client.name,
        "firm": firm.orgnr,
        "firm_name": firm.name,
        "role": ConnectionRole(conn.role).value,
        "since": conn.since.isoformat(),
        "until": conn.until.isoformat() if conn.until else None,
    }


def _flush(session: Session) -> None:
    try:
        session.flush()
    except IntegrityError as exc:
        raise Conflict(RACE) from exc


# -- dual connection ---------------------------------------------------------------------------


def _draft_dual(
    session: Session,
    *,
    client_orgnr: str,
    subscription: str,
    firm_orgnr: str,
    role: ConnectionRole | str,
    on: dt.date,
    current_firm_orgnr: str | None,
    client_name: str | None,
    firm_name: str | None,
) -> _Draft:
    draft = _Draft("dual")
    parties = _resolve(
        session,
        draft,
        client_orgnr=client_orgnr,
        subscription=subscription,
        firm_orgnr=firm_orgnr,
        role=role,
        client_name=client_name,
        firm_name=firm_name,
        check_kind=True,
    )
    if parties is None:
        return draft
    client, firm, role_ = parties.client, parties.firm, parties.role
    role_name = ROLE_NAMES[role_]
    connections = _connections(session, client)
    open_now = [(c, f) for c, f in connections if c.until is None]

    if current_firm_orgnr:
        _current_firm_note(session, draft, client, current_firm_orgnr, open_now)
    others = [
        f"{f.name} ({ROLE_NAMES[ConnectionRole(c.role)]})" for c, f in open_now if f.id != firm.id
    ]
    if others:
        draft.notes.append(f"{client.name} är i dag kopplad till " + ", ".join(others) + ".")
    else:
        draft.notes.append(f"{client.name} är i dag inte kopplad till någon annan byrå.")

    same = [c for c, f in connections if f.id == firm.id and c.role == role_]
    existing = next((c for c in same if c.until is None), None)
    if existing is not None:
        draft.notes.append(
            f"{firm.name} är redan kopplad till {client.name} som {role_name} "
            f"sedan {existing.since.isoformat()}; inget behöver ändras."
        )
        return draft
    if any(c.since == on for c in same):
        draft.problems.append(
            f"En koppling mellan {firm.name} och {client.name} som {role_name} "
            f"började och avslutades redan {on.isoformat()}; en ny kan "
            "tidigast börja dagen efter."
        )
        return draft

    summary = (
        f"{firm.name} ({role_name}) kopplas till {client.name} ({client.orgnr}) från "
        f"{on.isoformat()}."
    )
    assert client.id is not None and firm.id is not None
    connection = Connection(client_id=client.id, firm_id=firm.id, role=role_, since=on)
    after = _connection_state(connection, client, firm)

    def create(session: Session) -> str:
        session.add(connection)
        _flush(session)
        return f"connection:{connection.id}"

    draft.steps.append((Change("connection.created", summary, None, after), create))
    return draft


def _current_firm_note(
    session: Session,
    draft: _Draft,
    client: Company,
    orgnr: str,
    open_now: list[tuple[Connection, Company]],
) -> None:
    try:
        canonical = parse_organisationsnummer(orgnr).text
    except FormsError:
        draft.notes.append(
            f"Nuvarande byrå enligt blanketten: ”{orgnr}”, inget giltigt organisationsnummer."
        )
        return
    current = _company(session, canonical)
    if current is None:
        draft.notes.append(
            f"Nuvarande byrå enligt blanketten: {canonical} — finns inte i registret."
        )
        return
    roles = [ROLE_NAMES[ConnectionRole(c.role)] for c, f in open_now if f.id == current.id]
    where = (
        f"kopplad till {client.name} som {' och '.join(roles)}"
        if roles
        else f"inte kopplad till {client.name} i registret"
    )
    draft.notes.append(f"Nuvarande byrå enligt blanketten: {current.name} ({canonical}) — {where}.")


def plan_dual(
    session: Session,
    *,
    client_orgnr: str,
    subscription: str,
    firm_orgnr: str,
    role: ConnectionRole | str,
    on: dt.date,
    current_firm_orgnr: str | None = None,
    client_name: str | None = None,
    firm_name: str | None = None,
) -> LinkagePlan:
    """What connecting `firm_orgnr` to the client in `role` from `on` would change.

    Numbers may be in any form the validators accept. The names are as
    written on the form; a difference from the registry is a note.
    """
    return _draft_dual(
        session,
        client_orgnr=client_orgnr,
        subscription=subscription,
        firm_orgnr=firm_orgnr,
        role=role,
        on=on,
        current_firm_orgnr=current_firm_orgnr,
        client_name=client_name,
        firm_name=firm_name,
    ).plan()


def apply_dual(
    session: Session,
    *,
    client_orgnr: str,
    subscription: str,
    firm_orgnr: str,
    role: ConnectionRole | str,
    on: dt.date,
    actor: str,
    reference: str,
    current_firm_orgnr: str | None = None,
    client_name: str | None = None,
    firm_name: str | None = None,
) -> LinkagePlan:
    """Connect the firm to the client as `plan_dual` plans it, with its audit event.

    Raises `Conflict` when the plan has problems or another transaction got
    there first; returns the plan carried out (`already_done`: nothing was
    written). The caller commits.
    """
    draft = _draft_dual(
        session,
        client_orgnr=client_orgnr,
        subscription=subscription,
        firm_orgnr=firm_orgnr,
        role=role,
        on=on,
        current_firm_orgnr=current_firm_orgnr,
        client_name=client_name,
        firm_name=firm_name,
    )
    return _apply(session, draft, actor=actor, reference=reference)


# -- disconnection -----------------------------------------------------------------------------


def _payer_rows(
    session: Session, subscription: Subscription
) -> list[tuple[SubscriptionPayer, Company]]:
    return list(
        session.exec(
            select(SubscriptionPayer, Company)
            .join(Company, col(Company.id) == col(SubscriptionPayer.payer_id))
            .where(SubscriptionPayer.subscription_id == subscription.id)
            .order_by(col(SubscriptionPayer.valid_from))
        ).all()
    )


def _draft_disconnect(
    session: Session,
    *,
    client_orgnr: str,
    subscription: str,
    firm_orgnr: str,
    role: ConnectionRole | str,
    takeover: bool,
    on: dt.date,
    client_name: str | None,
    firm_name: str | None,
) -> _Draft:
    draft = _Draft("disconnect")
    # The firm's kind is not checked: an open connection in the role is what counts.
    parties = _resolve(
        session,
        draft,
        client_orgnr=client_orgnr,
        subscription=subscription,
        firm_orgnr=firm_orgnr,
        role=role,
        client_name=client_name,
        firm_name=firm_name,
        check_kind=False,
    )
    if parties is None:
        return draft
    client, firm, role_, sub = parties.client, parties.firm, parties.role, parties.subscription
    role_name = ROLE_NAMES[role_]
    between = f"{firm.name} ({firm.orgnr}) och {client.name} ({client.orgnr})"
    pair = _connections(session, client, firm)
    same_role = [c for c, _ in pair if c.role == role_]
    open_conn = next((c for c in same_role if c.until is None), None)
    if open_conn is None:
        if any(c.until == on for c in same_role):
            draft.notes.append(
                f"Kopplingen mellan {between} som {role_name} avslutades redan {on.isoformat()}."
            )
        else:
            draft.problems.append(
                f"Det finns ingen aktiv koppling mellan {between} som {role_name} att koppla bort."
            )
            ended = [c.until for c in same_role if c.until is not None]
            if ended:
                draft.notes.append(
                    f"Den senaste kopplingen som {role_name} avslutades {max(ended).isoformat()}."
                )
            other_roles = {
                ROLE_NAMES[ConnectionRole(c.role)]
                for c, _ in pair
                if c.until is None and c.role != role_
            }
            if other_roles:
                draft.notes.append(
                    f"{firm.name} är kopplad till {client.name} som "
                    f"{' och '.join(sorted(other_roles))}, inte som {role_name}."
                )
            return draft
    elif open_conn.since > on:
        draft.problems.append(
            f"Kopplingen mellan {between} börjar först "
            f"{open_conn.since.isoformat()} och kan inte avslutas "
            f"{on.isoformat()}."
        )
        return draft
    else:
        draft.steps.append(_end_step(open_conn, client, firm, role_name, on))

    still = [c for c, _ in pair if c.until is None and c.role != role_]
    if still:
        draft.notes.append(
            f"{firm.name} förblir kopplad till {client.name} som "
            f"{ROLE_NAMES[ConnectionRole(still[0].role)]}."
        )
    _payer_part(session, draft, client, firm, sub, takeover=takeover, on=on)
    return draft


def _end_step(
    conn: Connection, client: Company, firm: Company, role_name: str, on: dt.date
) -> _Step:
    before = _connection_state(conn, client, firm)
    after = {**before, "until": on.isoformat()}
    summary = (
        f"{firm.name} ({role_name}) kopplas bort från {client.name} ({client.orgnr}) "
        f"den {on.isoformat()}; kopplingen gällde sedan {conn.since.isoformat()}."
    )
    conn_id = conn.id

    def end(session: Session) -> str:
        # Conditional, so that of two transactions ending the same connection
        # only one matches a row (PostgreSQL re-checks the WHERE after the lock).
        result = session.exec(
            sa.update(Connection)
            .where(col(Connection.id) == conn_id, col(Connection.until).is_(None))
            .values(until=on)
        )
        if result.rowcount != 1:
            raise Conflict(RACE)
        return f"connection:{conn_id}"

    return Change("connection.ended", summary, before, after), end


def _payer_part(
    session: Session,
    draft: _Draft,
    client: Company,
    firm: Company,
    sub: Subscription,
    *,
    takeover: bool,
    on: dt.date,
) -> None:
    rows = _payer_rows(session, sub)
    past = [(row, payer) for row, payer in rows if row.valid_from <= on]
    upcoming = [(row, payer) for row, payer in rows if row.valid_from > on]
    # Without a recorded payer the subscription's own company pays.
    payer, payer_since = (past[-1][1], past[-1][0].valid_from) if past else (client, None)
    number = sub.number
    if payer.id != firm.id:
        if takeover and payer.id == client.id:
            draft.notes.append(
                f"{client.name} betalar redan abonnemang {number} själv; betalaren ändras inte."
            )
        elif takeover:
            draft.notes.append(
                f"Abonnemang {number} betalas av {payer.name} ({payer.orgnr}), "
                "inte av byrån som kopplas bort; betalaren ändras inte."
            )
        _other_subscriptions_note(session, draft, client, firm, sub, on)
        return
    if not takeover:
        draft.notes.append(
            f"Blanketten anger att endast byråns åtkomst upphör, men "
            f"{firm.name} betalar abonnemang {number}. Enligt villkoren på "
            f"blanketten blir {client.name} betalningsansvarig från nästa period."
        )
    _other_subscriptions_note(session, draft, client, firm, sub, on)
    start = next_billing_period(on)
    if any(r.valid_from <= start and p.id == client.id for r, p in upcoming):
        return  # the switch is recorded already
    planned = [(r, p) for r, p in upcoming if p.id != client.id]
    if planned:
        draft.problems.append(
            f"Abonnemang {number} har redan ett planerat betalarbyte ("
            + ", ".join(f"{p.name} från {r.valid_from.isoformat()}" for r, p in planned)
            + "). Kontrollera det innan bortkopplingen genomförs."
        )
        return
    before = {
        "subscription": number,
        "payer": firm.orgnr,
        "payer_name": firm.name,
        "valid_from": payer_since.isoformat() if payer_since else None,
    }
    after = {
        "subscription": number,
        "payer": client.orgnr,
        "payer_name": client.name,
        "valid_from": start.isoformat(),
    }
    summary = (
        f"{client.name} blir betalare av abonnemang {number} från {start.isoformat()} "
        f"i stället för {firm.name}."
    )
    sub_id, client_id = sub.id, client.id
    assert sub_id is not None and client_id is not None

    def switch(session: Session) -> str:
        session.add(SubscriptionPayer(subscription_id=sub_id, payer_id=client_id, valid_from=start))
        _flush(session)
        return f"subscription:{number}"

    draft.steps.append((Change("payer.changed", summary, before, after), switch))


def _other_subscriptions_note(
    session: Session, draft: _Draft, client: Company, firm: Company, sub: Subscription, on: dt.date
) -> None:
    others = session.exec(
        select(Subscription)
        .where(Subscription.company_id == client.id, Subscription.id != sub.id)
        .order_by(col(Subscription.number))
    ).all()
    paid = []
    for other in others:
        past = [(r, p) for r, p in _payer_rows(session, other) if r.valid_from <= on]
        if past and past[-1][1].id == firm.id:
            paid.append(other.number)
    if paid:
        draft.notes.append(
            f"{firm.name} betalar även abonnemang {', '.join(paid)} för "
            f"{client.name}; blanketten gäller bara abonnemang {sub.number}."
        )


def plan_disconnect(
    session: Session,
    *,
    client_orgnr: str,
    subscription: str,
    firm_orgnr: str,
    role: ConnectionRole | str,
    takeover: bool,
    on: dt.date,
    client_name: str | None = None,
    firm_name: str | None = None,
) -> LinkagePlan:
    """What disconnecting the client from the firm on `on` would change.

    `takeover` is the form's "after" choice ("takeover" rather than
    "access_only"); see the module docstring for what it changes.
    """
    return _draft_disconnect(
        session,
        client_orgnr=client_orgnr,
        subscription=subscription,
        firm_orgnr=firm_orgnr,
        role=role,
        takeover=takeover,
        on=on,
        client_name=client_name,
        firm_name=firm_name,
    ).plan()


def apply_disconnect(
    session: Session,
    *,
    client_orgnr: str,
    subscription: str,
    firm_orgnr: str,
    role: ConnectionRole | str,
    takeover: bool,
    on: dt.date,
    actor: str,
    reference: str,
    client_name: str | None = None,
    firm_name: str | None = None,
) -> LinkagePlan:
    """End the connection (and switch the payer) as `plan_disconnect` plans it.

    Same contract as `apply_dual`: `Conflict` on problems or a lost race, one
    audit event per change, the caller commits.
    """
    draft = _draft_disconnect(
        session,
        client_orgnr=client_orgnr,
        subscription=subscription,
        firm_orgnr=firm_orgnr,
        role=role,
        takeover=takeover,
        on=on,
        client_name=client_name,
        firm_name=firm_name,
    )
    return _apply(session, draft, actor=actor, reference=reference)


def _apply(session: Session, draft: _Draft, *, actor: str, reference: str) -> LinkagePlan:
    if draft.problems:
        raise Conflict(" ".join(draft.problems))
    done = []
    for change, make in draft.steps:
        subject = make(session)
        record_event(
            session,
            actor=actor,
            action=change.action,
            subject=subject,
            before=change.before,
            after=change.after,
            detail=f"{reference}: {change.summary}",
        )
        done.append(replace(change, subject=subject))
    _flush(session)
    return replace(draft.plan(), changes=done)
