"""Importing registry records from files: validate every row, then write all or nothing.

Rows are checked in dependency order (companies, subscriptions, people,
roles, connections, payers, exclusions) against the registry and against the rows before
them, so a row may refer to a company defined in the same import. Each row
ends up new, unchanged (the registry already holds exactly that record) or
rejected with its location and reason. A row that refers to a rejected row is
rejected too, saying so.

By default a single rejected row means nothing is written. With
`skip_invalid` the valid rows are written, still in one transaction. Records
are never updated by an import: a row that contradicts the registry (a known
organisationsnummer with another name, say) is rejected as a conflict, so
importing the same file twice changes nothing the second time.

The file formats are described in `registry.import_files` and
docs/registry-import.md.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn, TypeVar

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from forms import (
    FormsError,
    parse_email,
    parse_organisationsnummer,
    parse_personnummer,
    parse_subscription_number,
)
from registry.digital_models import DigitalExclusion
from registry.errors import Conflict
from registry.import_files import OPTIONAL_TYPES, RawRow, RecordType, expand_paths, read_rows
from registry.import_report import ImportReport, Rejection
from registry.models import (
    Company,
    CompanyKind,
    Connection,
    ConnectionRole,
    Person,
    Role,
    RoleKind,
    Subscription,
    SubscriptionPayer,
    utcnow,
)
from registry.queries import record_event

E = TypeVar("E", CompanyKind, RoleKind, ConnectionRole)
T = TypeVar("T", str, int)
NAME_MAX = 200
NOTE_MAX = 200  # DigitalExclusion.note
_CHUNK = 500  # keeps IN lists well under SQLite's bound-parameter limit


class _Rejected(Exception):  # noqa: N818
    """A row's reason for rejection; caught per row, never leaves this module."""


Period = tuple[dt.date, dt.date | None]
ConnKey = tuple[str, str, ConnectionRole]


@dataclass(slots=True)
class _CompanyRef:
    orgnr: str
    kind: CompanyKind
    row: Company  # stored, or new (its id comes at write time)


@dataclass(slots=True)
class _Plan:
    """The valid new records; parents first, so children can take their ids."""

    companies: list[Company] = field(default_factory=list)
    people: list[Person] = field(default_factory=list)
    subscriptions: list[tuple[Subscription, Company]] = field(default_factory=list)
    roles: list[tuple[Person, Company, RoleKind]] = field(default_factory=list)
    connections: list[tuple[Company, Company, ConnectionRole, Period]] = field(
        default_factory=list
    )
    payers: list[tuple[Subscription, Company, dt.date]] = field(default_factory=list)
    exclusions: list[tuple[Company, str]] = field(default_factory=list)

    def write(self, session: Session) -> None:
        session.add_all(self.companies)
        session.add_all(self.people)
        session.flush()
        for sub, owner in self.subscriptions:
            sub.company_id = _id(owner)
            session.add(sub)
        session.flush()
        session.add_all(
            Role(person_id=_id(p), company_id=_id(c), role=role) for p, c, role in self.roles
        )
        session.add_all(
            Connection(client_id=_id(c), firm_id=_id(f), role=role, since=since, until=until)
            for c, f, role, (since, until) in self.connections
        )
        session.add_all(
            SubscriptionPayer(subscription_id=_id(s), payer_id=_id(p), valid_from=valid_from,
                              recorded_at=utcnow())
            for s, p, valid_from in self.payers
        )
        session.add_all(
            DigitalExclusion(company_id=_id(firm), note=note) for firm, note in self.exclusions
        )
        session.flush()


def _id(row: Company | Person | Subscription) -> int:
    assert row.id is not None, "parent rows are flushed before their children"
    return row.id


def _in_chunks(keys: Iterable[T]) -> Iterator[list[T]]:
    ordered = sorted(set(keys))
    for i in range(0, len(ordered), _CHUNK):
        yield ordered[i:i + _CHUNK]


def _orgnr(value: str) -> str:
    try:
        return parse_organisationsnummer(value).text
    except FormsError as exc:
        raise _Rejected(f"organisationsnummer ”{value}”: {exc.message}") from None


def _subscription_number(value: str) -> str:
    try:
        return parse_subscription_number(value)
    except FormsError as exc:
        raise _Rejected(f"abonnemangsnummer ”{value}”: {exc.message}") from None


def _date(name: str, value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise _Rejected(f"{name} ”{value}” is not a date (YYYY-MM-DD)") from None


def _choice(name: str, enum: type[E], value: str) -> E:
    try:
        return enum(value)
    except ValueError:
        allowed = " | ".join(m.value for m in enum)
        raise _Rejected(f"{name} ”{value}” is not one of {allowed}") from None


def _required(row: RawRow, name: str) -> str:
    value = (row.values.get(name) or "").strip()
    if not value:
        raise _Rejected(f"{name} is missing")
    return value


def _optional(row: RawRow, name: str) -> str | None:
    return (row.values.get(name) or "").strip() or None


def _name(row: RawRow) -> str:
    name = " ".join(_required(row, "name").split())
    if len(name) > NAME_MAX:
        raise _Rejected(f"name is {len(name)} characters, at most {NAME_MAX} fit")
    return name


def _overlaps(a: Period, b: Period) -> bool:
    # Half-open periods [since, until): a connection may end the day the next one begins.
    return a[0] < (b[1] or dt.date.max) and b[0] < (a[1] or dt.date.max)


def _parsed(rows: Iterable[RawRow], name: str, parse: Callable[[str], str]) -> set[str]:
    """The valid values of one field over some rows, for loading what the registry holds."""
    found: set[str] = set()
    for row in rows:
        try:
            found.add(parse(_required(row, name)))
        except (_Rejected, FormsError):
            continue
    return found


class _Importer:
    """Checks rows type by type against the registry and the rows accepted before them."""

    def __init__(self, session: Session, rows: Sequence[RawRow], report: ImportReport) -> None:
        self.session = session
        self.report = report
        self.rows = {t: [r for r in rows if r.type is t] for t in RecordType}
        self.plan = _Plan()
        self.seen: dict[RecordType, dict[object, str]] = {t: {} for t in RecordType}
        # Accepted or stored records by key, and where a rejected one was.
        self.companies: dict[str, _CompanyRef] = {}
        self.subscriptions: dict[str, tuple[Subscription, str]] = {}  # number -> (row, owner)
        self.people: dict[str, Person] = {}
        self.by_pnr: dict[str, tuple[str, str]] = {}  # personnummer -> (email, where)
        self.rejected: dict[tuple[RecordType, str], str] = {}
        self.stored_roles: set[tuple[str, str, RoleKind]] = set()
        self.stored_connections: dict[tuple[str, str, ConnectionRole, dt.date], dt.date | None]
        self.stored_connections = {}
        self.periods: dict[ConnKey, list[tuple[Period, str]]] = {}
        self.stored_payers: dict[tuple[str, dt.date], str] = {}
        self.stored_exclusions: dict[str, str] = {}  # firm orgnr -> note

    def run(self) -> None:
        self._load()
        checks: dict[RecordType, Callable[[RawRow], bool]] = {
            RecordType.COMPANIES: self._company,
            RecordType.SUBSCRIPTIONS: self._subscription,
            RecordType.PEOPLE: self._person,
            RecordType.ROLES: self._role,
            RecordType.CONNECTIONS: self._connection,
            RecordType.PAYERS: self._payer,
            RecordType.EXCLUSIONS: self._exclusion,
        }
        for record_type, check in checks.items():
            counts = self.report.counts[record_type]
            for row in self.rows[record_type]:
                try:
                    if row.problem:
                        raise _Rejected(row.problem)
                    if check(row):
                        counts.inserted += 1
                    else:
                        counts.unchanged += 1
                except _Rejected as exc:
                    counts.rejected += 1
                    self.report.rejections.append(Rejection(record_type, row.where, str(exc)))

    # -- what the registry already holds, for the keys the files mention

    def _load(self) -> None:
        r = self.rows
        orgnrs = set().union(*(
            _parsed(r[t], name, _orgnr) for t, name in (
                (RecordType.COMPANIES, "orgnr"), (RecordType.SUBSCRIPTIONS, "orgnr"),
                (RecordType.ROLES, "company"), (RecordType.CONNECTIONS, "client"),
                (RecordType.CONNECTIONS, "firm"), (RecordType.PAYERS, "payer"),
                (RecordType.EXCLUSIONS, "firm"),
            )
        ))
        numbers = _parsed(r[RecordType.SUBSCRIPTIONS], "number", _subscription_number)
        numbers |= _parsed(r[RecordType.PAYERS], "subscription", _subscription_number)
        emails = {e.lower() for e in _parsed(r[RecordType.PEOPLE], "email", str)}
        emails |= {e.lower() for e in _parsed(r[RecordType.ROLES], "person", str)}
        pnrs = _parsed(r[RecordType.PEOPLE], "personnummer", lambda v: parse_personnummer(v).text)

        exec_ = self.session.exec
        for chunk in _in_chunks(orgnrs):
            for company in exec_(select(Company).where(col(Company.orgnr).in_(chunk))):
                self.companies[company.orgnr] = _CompanyRef(company.orgnr, company.kind, company)
        for chunk in _in_chunks(numbers):
            for sub, owner in exec_(
                select(Subscription, Company)
                .join(Company, col(Company.id) == col(Subscription.company_id))
                .where(col(Subscription.number).in_(chunk))
            ):
                self.subscriptions[sub.number] = (sub, owner.orgnr)
        for chunk in _in_chunks(emails):
            for person in exec_(select(Person).where(col(Person.email).in_(chunk))):
                self.people[person.email] = person
        for chunk in _in_chunks(pnrs):
            for person in exec_(select(Person).where(col(Person.personnummer).in_(chunk))):
                assert person.personnummer is not None
                self.by_pnr[person.personnummer] = (person.email, "the registry")

        orgnr_of = {ref.row.id: orgnr for orgnr, ref in self.companies.items()}
        email_of = {p.id: email for email, p in self.people.items()}
        for ids in _in_chunks(k for k in orgnr_of if k is not None):
            for role in exec_(select(Role).where(col(Role.company_id).in_(ids))):
                if role.person_id in email_of:
                    self.stored_roles.add(
                        (email_of[role.person_id], orgnr_of[role.company_id], role.role)
                    )
            for conn in exec_(select(Connection).where(col(Connection.client_id).in_(ids))):
                if conn.firm_id in orgnr_of:
                    key = (orgnr_of[conn.client_id], orgnr_of[conn.firm_id], conn.role)
                    self.stored_connections[(*key, conn.since)] = conn.until
                    self.periods.setdefault(key, []).append(
                        ((conn.since, conn.until), "the registry")
                    )
            for exclusion in exec_(
                select(DigitalExclusion).where(col(DigitalExclusion.company_id).in_(ids))
            ):
                self.stored_exclusions[orgnr_of[exclusion.company_id]] = exclusion.note
        number_of = {sub.id: number for number, (sub, _) in self.subscriptions.items()}
        for ids in _in_chunks(k for k in number_of if k is not None):
            for payer, company in exec_(
                select(SubscriptionPayer, Company)
                .join(Company, col(Company.id) == col(SubscriptionPayer.payer_id))
                .where(col(SubscriptionPayer.subscription_id).in_(ids))
            ):
                self.stored_payers[(number_of[payer.subscription_id], payer.valid_from)] = (
                    company.orgnr
                )

    # -- helpers shared by the checks

    def _once(self, row: RawRow, key: object, what: str) -> None:
        """Reject a second row with the same key in this import."""
        first = self.seen[row.type].setdefault(key, row.where)
        if first != row.where:
            raise _Rejected(f"duplicate {what}: already given at {first}")

    def _reject_key(self, record_type: RecordType, key: str, row: RawRow, reason: str) -> NoReturn:
        # Remembered so that rows referring to this one can say why it is unknown.
        self.rejected.setdefault((record_type, key), row.where)
        raise _Rejected(reason)

    def _unknown(self, record_type: RecordType, key: str, what: str) -> NoReturn:
        where = self.rejected.get((record_type, key))
        if where is not None:
            raise _Rejected(f"{what} was rejected at {where}")
        raise _Rejected(f"unknown {what}: not in the registry or this import")

    def _company_ref(self, row: RawRow, name: str) -> _CompanyRef:
        orgnr = _orgnr(_required(row, name))
        if orgnr not in self.companies:
            self._unknown(RecordType.COMPANIES, orgnr, f"company {orgnr} ({name})")
        return self.companies[orgnr]

    # -- one check per record type: True for a new record, False for one already stored

    def _company(self, row: RawRow) -> bool:
        orgnr = _orgnr(_required(row, "orgnr"))
        try:
            name = _name(row)
            kind = _choice("kind", CompanyKind, _required(row, "kind"))
            self._once(row, orgnr, f"company {orgnr}")
        except _Rejected as exc:
            self._reject_key(RecordType.COMPANIES, orgnr, row, str(exc))
        # Past the duplicate check, a known key can only be a stored record.
        if orgnr in self.companies:
            stored = self.companies[orgnr].row
            if (stored.name, stored.kind) == (name, kind):
                return False
            self._reject_key(
                RecordType.COMPANIES, orgnr, row,
                f"conflicts with the registry: {orgnr} is “{stored.name}” ({stored.kind.value})",
            )
        company = Company(orgnr=orgnr, name=name, kind=kind)
        self.companies[orgnr] = _CompanyRef(orgnr, kind, company)
        self.plan.companies.append(company)
        return True

    def _subscription(self, row: RawRow) -> bool:
        number = _subscription_number(_required(row, "number"))
        try:
            owner = self._company_ref(row, "orgnr")
            self._once(row, number, f"subscription {number}")
        except _Rejected as exc:
            self._reject_key(RecordType.SUBSCRIPTIONS, number, row, str(exc))
        if number in self.subscriptions:
            stored_owner = self.subscriptions[number][1]
            if stored_owner == owner.orgnr:
                return False
            self._reject_key(
                RecordType.SUBSCRIPTIONS, number, row,
                f"conflicts with the registry: subscription {number} belongs to {stored_owner}",
            )
        sub = Subscription(number=number, company_id=0)  # the owner's id is set at write time
        self.subscriptions[number] = (sub, owner.orgnr)
        self.plan.subscriptions.append((sub, owner.row))
        return True

    def _person(self, row: RawRow) -> bool:
        raw_email = _required(row, "email")
        try:
            email = parse_email(raw_email).lower()
        except FormsError as exc:
            raise _Rejected(f"email: {exc.message}") from None
        try:
            name = _name(row)
            raw_pnr = _optional(row, "personnummer")
            try:
                pnr = parse_personnummer(raw_pnr).text if raw_pnr else None
            except FormsError as exc:
                raise _Rejected(f"personnummer ”{raw_pnr}”: {exc.message}") from None
            self._once(row, email, f"person {email}")
            holder, where = self.by_pnr.get(pnr or "", (email, ""))
            if holder != email:
                raise _Rejected(f"personnummer {pnr} belongs to {holder} ({where})")
        except _Rejected as exc:
            self._reject_key(RecordType.PEOPLE, email, row, str(exc))
        if email in self.people:
            stored = self.people[email]
            if (stored.name, stored.personnummer) == (name, pnr):
                return False
            on_record = f", personnummer {stored.personnummer}" if stored.personnummer else ""
            self._reject_key(
                RecordType.PEOPLE, email, row,
                f"conflicts with the registry: {email} is “{stored.name}”{on_record}",
            )
        if pnr is not None:
            self.by_pnr[pnr] = (email, row.where)
        person = Person(name=name, email=email, personnummer=pnr)
        self.people[email] = person
        self.plan.people.append(person)
        return True

    def _role(self, row: RawRow) -> bool:
        email = _required(row, "person").lower()
        if email not in self.people:
            self._unknown(RecordType.PEOPLE, email, f"person {email}")
        company = self._company_ref(row, "company")
        role = _choice("role", RoleKind, _required(row, "role"))
        if role is RoleKind.CONSULTANT and not company.kind.is_firm:
            raise _Rejected(f"consultants work at firms; {company.orgnr} is a client")
        key = (email, company.orgnr, role)
        self._once(row, key, f"role {role.value} of {email} at {company.orgnr}")
        if key in self.stored_roles:
            return False
        self.plan.roles.append((self.people[email], company.row, role))
        return True

    def _connection(self, row: RawRow) -> bool:
        client = self._company_ref(row, "client")
        firm = self._company_ref(row, "firm")
        role = _choice("role", ConnectionRole, _required(row, "role"))
        since = _date("since", _required(row, "since"))
        raw_until = _optional(row, "until")
        until = _date("until", raw_until) if raw_until else None
        if client.orgnr == firm.orgnr:
            raise _Rejected(f"{client.orgnr} cannot be connected to itself")
        if firm.kind is not role.firm_kind:
            raise _Rejected(
                f"wrong firm kind: {firm.orgnr} is {firm.kind.value}, "
                f"an {role.value} connection needs an {role.firm_kind.value}"
            )
        if until is not None and until < since:
            raise _Rejected(f"until {until} is before since {since}")
        key = (client.orgnr, firm.orgnr, role)
        self._once(row, (*key, since), f"connection {client.orgnr}–{firm.orgnr} since {since}")
        if (*key, since) in self.stored_connections:
            stored_until = self.stored_connections[(*key, since)]
            if stored_until == until:
                return False
            raise _Rejected(
                f"conflicts with the registry: the connection since {since} "
                f"{f'ended {stored_until}' if stored_until else 'is open'} there"
            )
        for (other_since, other_until), where in self.periods.get(key, []):
            if _overlaps((since, until), (other_since, other_until)):
                span = f"{other_since}–{other_until or 'open'}"
                raise _Rejected(f"overlaps the connection {span} ({where})")
        self.periods.setdefault(key, []).append(((since, until), row.where))
        self.plan.connections.append((client.row, firm.row, role, (since, until)))
        return True

    def _payer(self, row: RawRow) -> bool:
        number = _subscription_number(_required(row, "subscription"))
        if number not in self.subscriptions:
            self._unknown(RecordType.SUBSCRIPTIONS, number, f"subscription {number}")
        sub, owner = self.subscriptions[number]
        payer = self._company_ref(row, "payer")
        valid_from = _date("from", _required(row, "from"))
        if payer.orgnr != owner and not payer.kind.is_firm:
            raise _Rejected(
                f"payer {payer.orgnr} is a client other than the subscription's owner {owner}"
            )
        self._once(row, (number, valid_from), f"payer of {number} from {valid_from}")
        stored = self.stored_payers.get((number, valid_from))
        if stored == payer.orgnr:
            return False
        if stored is not None:
            raise _Rejected(
                f"conflicts with the registry: {stored} pays {number} from {valid_from}"
            )
        self.plan.payers.append((sub, payer.row, valid_from))
        return True

    def _exclusion(self, row: RawRow) -> bool:
        firm = self._company_ref(row, "firm")
        if not firm.kind.is_firm:
            raise _Rejected(f"{firm.orgnr} is a client; only firms are on the exclusion list")
        note = " ".join((_optional(row, "note") or "").split())
        if len(note) > NOTE_MAX:
            raise _Rejected(f"note is {len(note)} characters, at most {NOTE_MAX} fit")
        self._once(row, firm.orgnr, f"exclusion of {firm.orgnr}")
        if firm.orgnr in self.stored_exclusions:
            stored = self.stored_exclusions[firm.orgnr]
            if stored == note:
                return False
            raise _Rejected(
                f"conflicts with the registry: {firm.orgnr} is excluded with the note “{stored}”"
            )
        self.plan.exclusions.append((firm.row, note))
        return True


def import_registry(
    session: Session,
    path: Path | Sequence[Path],
    *,
    skip_invalid: bool = False,
    actor: str = "import",
) -> ImportReport:
    """Import registry records from JSON or CSV files (or directories of them).

    Every row is checked before anything is written. With rejected rows and
    without `skip_invalid` nothing is added to the session; otherwise the new
    records are added and flushed, with one "registry.imported" audit event.
    The caller commits (or rolls back) the session.
    """
    paths = [path] if isinstance(path, Path) else list(path)
    files = expand_paths(paths)
    rows = [row for file in files for row in read_rows(file)]
    report = ImportReport()
    importer = _Importer(session, rows, report)
    importer.run()
    for optional in OPTIONAL_TYPES:
        if not importer.rows[optional]:
            del report.counts[optional]
    if report.rejections and not skip_invalid:
        return report
    if report.inserted:
        try:
            importer.plan.write(session)
        except IntegrityError as exc:
            raise Conflict(
                "the registry changed while the import was being checked; nothing was "
                f"written, run the import again ({exc.orig})"
            ) from exc
        record_event(
            session,
            actor=actor,
            action="registry.imported",
            subject="registry",
            after={t.value: c.inserted for t, c in report.counts.items()},
            detail=", ".join(str(f) for f in files),
        )
        session.flush()
        report.written = True
    return report
