"""Finding things in the registry from one search box, and a company's issued forms.

`search_registry` reads what a person typed and answers with companies and
people, each list capped with its full count ("50 of 312"):

* digits (any spaces, hyphens or century prefix): an organisationsnummer or
  a sole trader's personnummer (`forms.parse_organisationsnummer`), a
  subscription number (`forms.parse_subscription_number`), or the start of
  either. A whole number that names one company is `exact`, so a page can go
  straight to it. Prefixes are index range scans (`orgnr` and
  `subscriptions.number` are unique, hence indexed).
* an e-mail address or part of one: people by e-mail (stored in lower case).
* anything else: companies and people whose name contains it, and people
  whose e-mail contains it.

Names are compared case-insensitively with å, ä and ö (and a few more
letters of the region) folded in SQL, because SQLite's `lower()` and `LIKE`
fold only ASCII and PostgreSQL's `lower()` folds by the database's ctype,
which may be "C". The same expression, `lower()` followed by `replace()` for
each capital that may not be folded, gives one answer on both. Matching
inside a name cannot use a B-tree index anyway, so it is one scan of the
table; the total comes from a window count in the same statement, and names
that start with the text are listed first.

`issued_forms_concerning` finds the forms issued with an organisationsnummer
in any party's `*_orgnr` value. The values are JSON, so the text of the
column is matched first and the match confirmed in Python.

Functions take a session and never commit.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from forms import FormsError, IdentityKind, parse_organisationsnummer, parse_subscription_number
from registry.models import Company, IssuedForm, Person, Role, RoleKind, Subscription

DEFAULT_LIMIT = 50
MAX_QUERY_LENGTH = 100

_SEPARATORS = re.compile(r"[\s\-–—+]")
_SPACES = re.compile(r"\s+")
# Capitals that SQLite's lower() leaves alone, with their small letters: the Nordic
# ones, and those of names written with accents (Lindén, Müller).
_CAPITALS = (("Å", "å"), ("Ä", "ä"), ("Ö", "ö"), ("Æ", "æ"), ("Ø", "ø"), ("É", "é"),
             ("È", "è"), ("Ü", "ü"), ("Á", "á"))  # fmt: skip


class SearchKind(StrEnum):
    EMPTY = "empty"
    NUMBER = "number"  # digits: organisationsnummer, personnummer, subscription, or a start
    EMAIL = "email"
    NAME = "name"


@dataclass(frozen=True, slots=True)
class CompanyHit:
    company: Company
    subscription: str | None = None  # the subscription number it was found by


@dataclass(frozen=True, slots=True)
class PersonCompanyRole:
    company: Company
    role: RoleKind


@dataclass(frozen=True, slots=True)
class PersonHit:
    person: Person
    roles: tuple[PersonCompanyRole, ...]  # by company name, then role


@dataclass(frozen=True, slots=True)
class RegistrySearch:
    text: str  # what was searched for, trimmed
    kind: SearchKind
    companies: tuple[CompanyHit, ...]
    companies_total: int
    people: tuple[PersonHit, ...]
    people_total: int
    exact: Company | None = None  # a whole number that names exactly this company
    problem: str | None = None  # why a whole number is not valid (Swedish, from forms)

    @property
    def empty(self) -> bool:
        return not self.companies and not self.people


def fold(text: str) -> str:
    """The query's side of the comparison: what `_folded` makes of a column."""
    return text.lower()


def _folded(column: Any) -> Any:
    expression = func.lower(column)
    for capital, small in _CAPITALS:
        expression = func.replace(expression, capital, small)
    return expression


def _like_escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _next_prefix(prefix: str) -> str:
    """The smallest text after every text starting with `prefix` (for a range scan)."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


def _name_match(column: Any, needle: str, dialect: str) -> tuple[Any, Any]:
    """(the name contains `needle`, the name starts with it), case-insensitively.

    `needle` is lower-case. Folding every name costs: on 100,000 companies
    `lower()` and the replacements took several times a plain LIKE's scan.
    So a cheap test goes first and the folded one only confirms what it let
    through: a LIKE with every non-ASCII character of the needle as `_` (any
    one character), over the name itself on SQLite (whose LIKE already
    ignores ASCII case) and over `lower(name)` on PostgreSQL (whose LIKE
    does not). A needle of ASCII alone needs nothing more.
    """
    rough = "".join(_like_escaped(ch) if ch.isascii() else "_" for ch in needle)
    side = column if dialect == "sqlite" else func.lower(column)
    inside = side.like(f"%{rough}%", escape="\\")
    start = side.like(f"{rough}%", escape="\\")
    if needle.isascii():
        return inside, start
    exact = _like_escaped(needle)
    folded = _folded(column)
    return sa.and_(inside, folded.like(f"%{exact}%", escape="\\")), sa.and_(
        start, folded.like(f"{exact}%", escape="\\")
    )


def _orgnr_prefix(digits: str) -> str:
    """Typed digits as the start of a canonical NNNNNN-NNNN."""
    return digits if len(digits) <= 6 else f"{digits[:6]}-{digits[6:]}"


def _capped(
    session: Session, entity: Any, where: Any, order_by: Sequence[Any], limit: int
) -> tuple[list[Any], int]:
    """The first `limit` rows of `entity` matching `where`, and how many match in all.

    The count is a window over the same statement, so the rows are found once.
    """
    rows = session.exec(
        select(entity, func.count().over()).where(where).order_by(*order_by).limit(limit)
    ).all()
    if not rows:
        return [], 0
    return [row[0] for row in rows], int(rows[0][1])


def _roles_of(session: Session, people: Sequence[Person]) -> list[PersonHit]:
    ids = [p.id for p in people if p.id is not None]
    roles: dict[int, list[PersonCompanyRole]] = {i: [] for i in ids}
    if ids:
        rows = session.exec(
            select(Role, Company)
            .join(Company, col(Company.id) == col(Role.company_id))
            .where(col(Role.person_id).in_(ids))
            .order_by(col(Company.name), col(Company.id))
        ).all()
        order = list(RoleKind)
        for role, company in rows:
            roles[role.person_id].append(PersonCompanyRole(company, RoleKind(role.role)))
        for found in roles.values():
            found.sort(key=lambda r: (r.company.name, r.company.id or 0, order.index(r.role)))
    return [PersonHit(p, tuple(roles.get(p.id or 0, ()))) for p in people]


def _companies_by_number(
    session: Session, digits: str, limit: int
) -> tuple[list[CompanyHit], int]:
    """Companies whose orgnr starts with the digits, then by subscription number prefix."""
    prefix = _orgnr_prefix(digits)
    by_orgnr, orgnr_total = _capped(
        session,
        Company,
        sa.and_(col(Company.orgnr) >= prefix, col(Company.orgnr) < _next_prefix(prefix)),
        [col(Company.orgnr)],
        limit,
    )
    hits = [CompanyHit(c) for c in by_orgnr]
    total = orgnr_total
    if len(digits) <= 8:
        rows = session.exec(
            select(Subscription.number, Company, func.count().over())
            .join(Company, col(Company.id) == col(Subscription.company_id))
            .where(
                col(Subscription.number) >= digits,
                col(Subscription.number) < _next_prefix(digits),
            )
            .order_by(col(Subscription.number))
            .limit(limit)
        ).all()
        if rows:
            total += int(rows[0][2])
        hits += [CompanyHit(company, number) for number, company, _ in rows]
    return hits[:limit], total


def _search_number(session: Session, text: str, digits: str, limit: int) -> RegistrySearch:
    exact: Company | None = None
    problem: str | None = None
    people: list[Person] = []
    if len(digits) == 8:
        try:
            number = parse_subscription_number(digits)
        except FormsError as exc:
            problem = exc.message
        else:
            exact = session.exec(
                select(Company)
                .join(Subscription, col(Subscription.company_id) == col(Company.id))
                .where(Subscription.number == number)
            ).first()
            if exact is not None:
                hit = CompanyHit(exact, number)
                return RegistrySearch(text, SearchKind.NUMBER, (hit,), 1, (), 0, exact)
    elif len(digits) in (10, 12):
        try:
            parsed = parse_organisationsnummer(text)
        except FormsError as exc:
            problem = exc.message
        else:
            exact = session.exec(select(Company).where(Company.orgnr == parsed.text)).first()
            if parsed.kind is not IdentityKind.ORGANISATION:
                people = list(
                    session.exec(select(Person).where(Person.personnummer == parsed.text)).all()
                )
            if exact is not None or people:
                companies = (CompanyHit(exact),) if exact is not None else ()
                return RegistrySearch(
                    text, SearchKind.NUMBER, companies, len(companies),
                    tuple(_roles_of(session, people)), len(people), exact,
                )  # fmt: skip
            digits = parsed.digits  # a 12-digit spelling searched as its ten digits
    hits, total = _companies_by_number(session, digits, limit)
    return RegistrySearch(text, SearchKind.NUMBER, tuple(hits), total, (), 0, problem=problem)


def _people_matching(
    session: Session, condition: Any, starts: Any, limit: int
) -> tuple[list[PersonHit], int]:
    people, total = _capped(
        session,
        Person,
        condition,
        [sa.case((starts, 0), else_=1), col(Person.name), col(Person.id)],
        limit,
    )
    return _roles_of(session, people), total


def search_registry(session: Session, text: str, *, limit: int = DEFAULT_LIMIT) -> RegistrySearch:
    """Companies and people matching what a person typed into one search box.

    At most `limit` of each, with the number that matched. Text longer than
    `MAX_QUERY_LENGTH` is cut there.
    """
    if limit < 1:
        raise ValueError(f"limit must be at least 1, not {limit}")
    query = _SPACES.sub(" ", text).strip()[:MAX_QUERY_LENGTH]
    if not query:
        return RegistrySearch("", SearchKind.EMPTY, (), 0, (), 0)
    digits = _SEPARATORS.sub("", query)
    if digits.isascii() and digits.isdigit():
        return _search_number(session, query, digits, limit)

    needle = fold(query)
    inside = f"%{_like_escaped(needle)}%"
    start = f"{_like_escaped(needle)}%"
    if "@" in query:
        # A whole address is one index lookup; only a part of one needs the scan.
        exact_person = session.exec(select(Person).where(Person.email == needle)).first()
        if exact_person is not None:
            hit = _roles_of(session, [exact_person])
            return RegistrySearch(query, SearchKind.EMAIL, (), 0, tuple(hit), 1)
        email = col(Person.email)
        hits, total = _people_matching(
            session,
            email.like(inside, escape="\\"),
            email.like(start, escape="\\"),
            limit,
        )
        return RegistrySearch(query, SearchKind.EMAIL, (), 0, tuple(hits), total)

    dialect = session.get_bind().dialect.name
    name_inside, name_start = _name_match(Company.name, needle, dialect)
    companies, companies_total = _capped(
        session,
        Company,
        name_inside,
        [sa.case((name_start, 0), else_=1), col(Company.name), col(Company.id)],
        limit,
    )
    person_inside, person_start = _name_match(Person.name, needle, dialect)
    people, people_total = _people_matching(
        session,
        sa.or_(person_inside, col(Person.email).like(inside, escape="\\")),
        person_start,
        limit,
    )
    return RegistrySearch(
        query, SearchKind.NAME, tuple(CompanyHit(c) for c in companies), companies_total,
        tuple(people), people_total,
    )  # fmt: skip


def _concerns(form: IssuedForm, orgnr: str) -> bool:
    return any(
        key.endswith("_orgnr") and value == orgnr for key, value in (form.values or {}).items()
    )


def issued_forms_concerning(
    session: Session, orgnr: str, *, limit: int = DEFAULT_LIMIT
) -> tuple[list[IssuedForm], int]:
    """Forms issued naming this canonical organisationsnummer as any party, newest first.

    At most `limit`, with how many there are.
    """
    candidates = session.exec(
        select(IssuedForm)
        .where(sa.cast(col(IssuedForm.values), sa.Text).contains(orgnr, autoescape=True))
        .order_by(col(IssuedForm.created_at).desc(), col(IssuedForm.id))
    ).all()
    found = [form for form in candidates if _concerns(form, orgnr)]
    return found[:limit], len(found)
