"""Signing in people from the registry: the one-time link and the session it starts.

A person asks for a link with their e-mail address. If the address belongs
to a person holding a role at some company, a sign-in link (valid
`SignInPolicy.link_lifetime`, single use, stored only as its hash in
`access_links`) is mailed to that registered address; otherwise nothing
happens. The page's answer is the same either way, and the lookup runs after
the answer has been sent (`portal.web` hands it to a background task), so
neither the words nor the timing tell whether an address is on record.

Opening the link shows a page with one button; only the POST uses the link.
Mail scanners that fetch every link in a message would otherwise use it up
before the person clicks. Using it is one conditional UPDATE, so the link
starts one session however many tabs race for it.

A session is a random token in an HttpOnly cookie and a row keyed by the
token's sha256 (`registry.CustomerSession`), with its own CSRF token. It ends
at sign-out, after `idle` without use, and `absolute` after it started.
`last_seen_at` is written at most once a minute.

Every function takes the caller's session and an aware `now` and never commits.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import Session, col, select

from forms import InvalidValue, parse_email
from registry import (
    AccessLink,
    Company,
    CustomerSession,
    LinkPurpose,
    LinkStatus,
    Person,
    Role,
    RoleKind,
    find_link,
    new_link,
    record_event,
    use_link,
)

TOUCH_INTERVAL = dt.timedelta(minutes=1)


@dataclass(frozen=True)
class SignInPolicy:
    link_lifetime: dt.timedelta = dt.timedelta(minutes=15)
    idle: dt.timedelta = dt.timedelta(minutes=30)
    absolute: dt.timedelta = dt.timedelta(hours=10)


@dataclass(frozen=True)
class CompanyRoles:
    company: Company
    roles: frozenset[RoleKind]

    @property
    def is_firm(self) -> bool:
        return self.company.kind.is_firm


@dataclass(frozen=True)
class Customer:
    """A signed-in person with their companies and roles, as of this request."""

    person: Person
    csrf: str
    companies: tuple[CompanyRoles, ...]

    @property
    def email(self) -> str:
        return self.person.email

    @property
    def id(self) -> int:
        assert self.person.id is not None
        return self.person.id

    def at(self, orgnr: str) -> CompanyRoles | None:
        return next((c for c in self.companies if c.company.orgnr == orgnr), None)


def normalised_email(value: str) -> str | None:
    """The address as the registry stores it (lower case), or None if it is not one."""
    try:
        return parse_email(value).lower()
    except InvalidValue:
        return None


def person_with_roles(session: Session, email: str) -> Person | None:
    """The person on record at `email` who holds at least one role somewhere."""
    person = session.exec(select(Person).where(col(Person.email) == email)).first()
    if person is None:
        return None
    has_role = session.exec(select(Role.id).where(col(Role.person_id) == person.id)).first()
    return person if has_role is not None else None


def issue_sign_in_link(
    session: Session, email: str, *, now: dt.datetime, policy: SignInPolicy
) -> tuple[Person, str] | None:
    """A new sign-in link for the person at `email`, or None when there is nobody to send it to."""
    person = person_with_roles(session, email)
    if person is None or person.id is None:
        return None
    token = new_link(
        session, LinkPurpose.SIGN_IN, person_id=person.id, lifetime=policy.link_lifetime, now=now
    )
    return person, token


def check_sign_in_link(session: Session, token: str, now: dt.datetime) -> LinkStatus:
    return find_link(session, token, LinkPurpose.SIGN_IN, now).status


def _session_id(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def use_sign_in_link(
    session: Session, token: str, *, now: dt.datetime
) -> tuple[LinkStatus, str | None]:
    """Use the link and start a session: (VALID, cookie token), or the link's status and None."""
    found = find_link(session, token, LinkPurpose.SIGN_IN, now)
    if found.status is not LinkStatus.VALID or found.link is None:
        return found.status, None
    link: AccessLink = found.link
    if not use_link(session, link, now):
        return LinkStatus.USED, None
    cookie = secrets.token_urlsafe(32)
    session.add(
        CustomerSession(
            id=_session_id(cookie),
            person_id=link.person_id,
            csrf_token=secrets.token_urlsafe(32),
            created_at=now,
            last_seen_at=now,
        )
    )
    person = session.get(Person, link.person_id)
    record_event(
        session,
        actor=person.email if person is not None else "okänd",
        action="customer.signed_in",
        subject=f"person:{link.person_id}",
        now=now,
    )
    return LinkStatus.VALID, cookie


def companies_of(session: Session, person_id: int) -> tuple[CompanyRoles, ...]:
    rows = session.exec(
        select(Company, Role.role)
        .join(Role, col(Role.company_id) == col(Company.id))
        .where(col(Role.person_id) == person_id)
        .order_by(col(Company.name), col(Company.id))
    ).all()
    grouped: dict[int, tuple[Company, set[RoleKind]]] = {}
    for company, role in rows:
        assert company.id is not None
        grouped.setdefault(company.id, (company, set()))[1].add(RoleKind(role))
    return tuple(CompanyRoles(c, frozenset(r)) for c, r in grouped.values())


def load_customer(
    session: Session, token: str | None, *, now: dt.datetime, policy: SignInPolicy
) -> Customer | None:
    """The customer behind a session cookie, or None if it is not a live session."""
    if not token or len(token) > 100:
        return None
    row = session.get(CustomerSession, _session_id(token))
    if row is None or row.ended_at is not None:
        return None
    if now - row.last_seen_at >= policy.idle or now - row.created_at >= policy.absolute:
        row.ended_at = now
        session.add(row)
        return None
    person = session.get(Person, row.person_id)
    if person is None or person.id is None:
        return None
    companies = companies_of(session, person.id)
    if not companies:  # every role taken away since the sign-in
        row.ended_at = now
        session.add(row)
        return None
    if now - row.last_seen_at >= TOUCH_INTERVAL:
        row.last_seen_at = now
        session.add(row)
    return Customer(person=person, csrf=row.csrf_token, companies=companies)


def end_customer_session(session: Session, token: str | None, *, now: dt.datetime) -> None:
    if not token or len(token) > 100:
        return
    session.execute(
        sa.update(CustomerSession)
        .where(
            col(CustomerSession.id) == _session_id(token),
            col(CustomerSession.ended_at).is_(None),
        )
        .values(ended_at=now)
        .execution_options(synchronize_session=False)
    )


def check_csrf(customer: Customer, submitted: str | None) -> bool:
    return bool(submitted) and hmac.compare_digest(customer.csrf, submitted or "")
