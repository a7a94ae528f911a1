"""What linking and unlinking share: the request, the plan, resolving the parties, applying.

A reviewer first sees a `LinkagePlan`: what applying a form would change
now, the rule violations that make it impossible, whether the registry
already is as the form asks, and notes worth a look. Applying plans again
inside the caller's transaction and carries out exactly that plan, with one
audit event per change; the caller commits. The rules of each form live
beside it: `registry.dual` (a second firm connected) and `registry.disconnect`
(a client and a firm disconnected, and who pays afterwards); this module
owns what both build on: the request's common fields, a plan in the making
(`Draft`), finding the client, its subscription and the firm from the
numbers on the form, and carrying out a draft.

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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from forms import FormsError, parse_organisationsnummer, parse_subscription_number
from registry.errors import Conflict
from registry.models import Company, CompanyKind, Connection, ConnectionRole, Subscription
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


@dataclass(frozen=True, kw_only=True)
class LinkageRequest:
    """What both forms name: the client, its subscription, the firm in a role, and the day.

    Numbers may be in any form the validators accept; planning checks them,
    and a number that is wrong is one of the plan's problems, not an
    exception. The names are as written on the form; a difference from the
    registry is a note.
    """

    client_orgnr: str
    subscription: str
    firm_orgnr: str
    role: ConnectionRole | str
    on: dt.date
    client_name: str | None = None
    firm_name: str | None = None


def form_value(values: Mapping[str, str], name: str) -> str:
    """A form field's value, trimmed; "" when the form has none."""
    return (values.get(name) or "").strip()


# A step is a change plus how to make it; making it returns the audit subject.
Step = tuple[Change, Callable[[Session], str]]


@dataclass
class Draft:
    """A plan in the making: problems and notes so far, and the steps that would carry it out."""

    kind: str
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)

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
class Parties:
    client: Company
    subscription: Subscription
    firm: Company
    role: ConnectionRole


# -- resolving the form's parties --------------------------------------------------------------


def _fold(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).casefold().split())


def company_by_orgnr(session: Session, orgnr: str) -> Company | None:
    """The company with canonical organisationsnummer `orgnr`, if the registry has it."""
    return session.exec(select(Company).where(Company.orgnr == orgnr)).first()


def _orgnr(draft: Draft, value: str, what: str) -> str | None:
    try:
        return parse_organisationsnummer(value).text
    except FormsError as exc:
        draft.problems.append(
            f"”{value}” är inget giltigt organisationsnummer för {what}: {exc.message}"
        )
        return None


def _name_note(draft: Draft, company: Company, written: str | None, what: str) -> None:
    if written and written.strip() and _fold(written) != _fold(company.name):
        draft.notes.append(
            f"{what} heter ”{written.strip()}” på blanketten men ”{company.name}” "
            f"i registret ({company.orgnr})."
        )


def resolve_parties(
    session: Session, draft: Draft, request: LinkageRequest, *, check_kind: bool
) -> Parties | None:
    """The client, its subscription, the firm and the role, or None after problems.

    `check_kind`: the firm must be a firm of the kind the role needs.
    """
    client_nr = _orgnr(draft, request.client_orgnr, "företaget")
    firm_nr = _orgnr(draft, request.firm_orgnr, "byrån")
    try:
        connection_role: ConnectionRole | None = ConnectionRole(request.role)
    except ValueError:
        draft.problems.append(
            f"”{request.role}” är ingen byråtyp (redovisningsbyrå eller revisionsbyrå)."
        )
        connection_role = None

    client = company_by_orgnr(session, client_nr) if client_nr else None
    if client_nr and client is None:
        draft.problems.append(
            f"Företaget med organisationsnummer {client_nr} finns inte i registret."
        )
    sub: Subscription | None = None
    try:
        number = parse_subscription_number(request.subscription)
    except FormsError as exc:
        draft.problems.append(
            f"”{request.subscription}” är inget giltigt abonnemangsnummer: {exc.message}"
        )
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

    firm = company_by_orgnr(session, firm_nr) if firm_nr else None
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
        _name_note(draft, client, request.client_name, "Företaget")
    if firm is not None:
        _name_note(draft, firm, request.firm_name, "Byrån")
    if draft.problems:
        return None
    assert client is not None and sub is not None and firm is not None
    assert connection_role is not None
    return Parties(client, sub, firm, connection_role)


def connections_of(
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


def connection_state(conn: Connection, client: Company, firm: Company) -> dict[str, Any]:
    """A connection as its audit events record it (before and after)."""
    return {
        "client": client.orgnr,
        "client_name": client.name,
        "firm": firm.orgnr,
        "firm_name": firm.name,
        "role": ConnectionRole(conn.role).value,
        "since": conn.since.isoformat(),
        "until": conn.until.isoformat() if conn.until else None,
    }


def flush_or_conflict(session: Session) -> None:
    """Flush; a unique index that refuses the write means another transaction got there first."""
    try:
        session.flush()
    except IntegrityError as exc:
        raise Conflict(RACE) from exc


# -- applying ----------------------------------------------------------------------------------


def apply_draft(session: Session, draft: Draft, *, actor: str, reference: str) -> LinkagePlan:
    """Carry out the draft's steps, one audit event each; `Conflict` when it has problems."""
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
    flush_or_conflict(session)
    return replace(draft.plan(), changes=done)
