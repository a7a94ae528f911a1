"""The programs a client gives a firm's consultants (seed 001's "Konsulter" block, seed 003).

A client's system or program administrator decides, per consultant of each
connected firm, which programs the consultant may use and at what level
(read, write, administer), optionally until a last day. Each grant is a
`ProgramGrant` row, open while `ended_at` is null; a change ends the old row
(`revoked`) and opens a new one, so the history stays. Access ends on its own
after the last day: a grant whose `valid_until` is before today is never
shown as effective, and `expire_grants` (run daily) stamps those rows
`expired` so the consultant and the client's administrators can be told.
When a firm's connection to the client ends, `end_grants_of_connection`
ends its consultants' grants there (`disconnected`).

A grant belongs to the firm it was given through (`firm_id`): that is whose
connection it rides on. Races: the partial unique index (one open grant per
client, consultant and program) and conditional UPDATEs (`... WHERE ended_at
IS NULL`) make the loser of two writers fail, which surfaces as `Conflict`;
the expiry counts only the rows its own UPDATE ended, so two runs at once
end and report each grant once.

Audit actions: `grant.given`, `grant.changed`, `grant.revoked` (by the
administrator), `grant.expired` and `grant.disconnected` (by "system").
Functions take the caller's session and an aware `now` and never commit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from registry.digital_models import (
    ConsultantClient,
    GrantEnd,
    PermissionLevel,
    Program,
    ProgramGrant,
)
from registry.errors import Conflict, NotFound, RegistryError
from registry.linkage import flush_or_conflict
from registry.models import Company, Connection, ConnectionRole, Person, Role, RoleKind
from registry.queries import record_event

SYSTEM_ACTOR = "system"
GRANTING_ROLES = frozenset({RoleKind.SYSADMIN, RoleKind.PROGRAM_ADMIN})
GRANT_RACE = (
    "Någon annan ändrade konsultens behörigheter samtidigt, så ingenting sparades. "
    "Ladda om sidan för att se hur de ser ut nu och försök igen."
)

# What a program is set to: a level and an optional last day, or None for no access.
Access = tuple[PermissionLevel, dt.date | None]


class GrantRefused(RegistryError):  # noqa: N818
    """A grant the rules do not allow; `program` names the program it is about, if one."""

    def __init__(self, message: str, *, program: Program | None = None) -> None:
        super().__init__(message)
        self.program = program


def can_grant(roles: Iterable[RoleKind]) -> bool:
    """Whether a person with these roles at a client may give its consultants programs."""
    return not GRANTING_ROLES.isdisjoint(roles)


def is_effective(grant: ProgramGrant, today: dt.date) -> bool:
    """Open, and its last day (if any) not passed, whatever the expiry job has done."""
    return grant.ended_at is None and (grant.valid_until is None or grant.valid_until >= today)


@dataclass(frozen=True, slots=True)
class GrantView:
    grant_id: int
    program: Program
    level: PermissionLevel
    valid_until: dt.date | None  # the last day of access; None: until further notice

    @property
    def access(self) -> Access:
        return (self.level, self.valid_until)


@dataclass(frozen=True, slots=True)
class ConsultantGrants:
    """One consultant of a connected firm and their effective grants at the client."""

    person: Person
    grants: tuple[GrantView, ...]  # in `Program` order
    on_client_list: bool  # the firm has put the client on the consultant's own list

    def grant(self, program: Program) -> GrantView | None:
        return next((g for g in self.grants if g.program is program), None)


@dataclass(frozen=True, slots=True)
class FirmConsultants:
    """A firm connected to the client now, and its consultants."""

    firm: Company
    connections: tuple[Connection, ...]  # the open ones; a firm may hold both roles
    consultants: tuple[ConsultantGrants, ...]  # by name

    @property
    def roles(self) -> tuple[ConnectionRole, ...]:
        return tuple(ConnectionRole(c.role) for c in self.connections)

    @property
    def since(self) -> dt.date:
        return min(c.since for c in self.connections)

    def consultant(self, person_id: int) -> ConsultantGrants | None:
        return next((c for c in self.consultants if c.person.id == person_id), None)


@dataclass(frozen=True, slots=True)
class GrantChange:
    program: Program
    before: Access | None
    after: Access | None
    grant_id: int  # the new row, or the ended one when access ended


@dataclass(frozen=True, slots=True)
class GrantChanges:
    """What `set_grants` did, and the consultant's effective grants afterwards."""

    client: Company
    firm: Company
    person: Person
    changes: tuple[GrantChange, ...]
    grants: tuple[GrantView, ...]  # everything the consultant has through the firm now

    @property
    def gave_access(self) -> bool:
        """Whether some program was given or changed (not only taken away)."""
        return any(change.after is not None for change in self.changes)


@dataclass(frozen=True, slots=True)
class ExpiredGrant:
    """A grant `expire_grants` ended, with whom to tell."""

    grant_id: int
    program: Program
    level: PermissionLevel
    valid_until: dt.date
    client: Company
    firm: Company
    person: Person  # the consultant
    client_admins: tuple[Person, ...]  # the client's system administrators, by name


# -- reading ------------------------------------------------------------------------------------


def _view(grant: ProgramGrant) -> GrantView:
    assert grant.id is not None
    return GrantView(
        grant.id, Program(grant.program), PermissionLevel(grant.level), grant.valid_until
    )


def _ordered(grants: Iterable[GrantView]) -> tuple[GrantView, ...]:
    order = list(Program)
    return tuple(sorted(grants, key=lambda g: order.index(g.program)))


def _open_connections(
    session: Session, client_id: int, firm_id: int | None = None
) -> list[tuple[Connection, Company]]:
    statement = (
        select(Connection, Company)
        .join(Company, col(Company.id) == col(Connection.firm_id))
        .where(Connection.client_id == client_id, col(Connection.until).is_(None))
        .order_by(col(Company.name), col(Connection.role))
    )
    if firm_id is not None:
        statement = statement.where(Connection.firm_id == firm_id)
    return list(session.exec(statement).all())


def _consultants(session: Session, firm_ids: list[int]) -> list[tuple[int, Person]]:
    rows = session.exec(
        select(Role.company_id, Person)
        .join(Person, col(Person.id) == col(Role.person_id))
        .where(col(Role.company_id).in_(firm_ids), Role.role == RoleKind.CONSULTANT)
        .order_by(col(Person.name), col(Person.id))
    ).all()
    return [(firm_id, person) for firm_id, person in rows]


def client_consultants(
    session: Session, client_id: int, *, today: dt.date
) -> list[FirmConsultants]:
    """Each firm connected to the client now, by name, with its consultants and their grants.

    A consultant's grants are the open ones given through that firm whose last
    day is not before `today`.
    """
    by_firm: dict[int, tuple[Company, list[Connection]]] = {}
    for connection, firm in _open_connections(session, client_id):
        by_firm.setdefault(connection.firm_id, (firm, []))[1].append(connection)
    if not by_firm:
        return []
    firm_ids = list(by_firm)
    grants: dict[tuple[int, int], list[GrantView]] = {}
    for grant in session.exec(
        select(ProgramGrant).where(
            ProgramGrant.client_id == client_id,
            col(ProgramGrant.firm_id).in_(firm_ids),
            col(ProgramGrant.ended_at).is_(None),
        )
    ).all():
        if is_effective(grant, today):
            grants.setdefault((grant.firm_id, grant.person_id), []).append(_view(grant))
    listed = {
        (firm_id, person_id)
        for firm_id, person_id in session.exec(
            select(ConsultantClient.firm_id, ConsultantClient.person_id).where(
                ConsultantClient.client_id == client_id,
                col(ConsultantClient.firm_id).in_(firm_ids),
            )
        ).all()
    }
    people: dict[int, list[ConsultantGrants]] = {firm_id: [] for firm_id in firm_ids}
    for firm_id, person in _consultants(session, firm_ids):
        assert person.id is not None
        key = (firm_id, person.id)
        people[firm_id].append(
            ConsultantGrants(person, _ordered(grants.get(key, ())), key in listed)
        )
    return [
        FirmConsultants(firm, tuple(connections), tuple(people[firm_id]))
        for firm_id, (firm, connections) in by_firm.items()
    ]


# -- granting -----------------------------------------------------------------------------------


def _state(grant: ProgramGrant, client: Company, firm: Company, person: Person) -> dict[str, Any]:
    """A grant as its audit events record it (before and after)."""
    return {
        "grant": grant.id,
        "client": client.orgnr,
        "client_name": client.name,
        "firm": firm.orgnr,
        "firm_name": firm.name,
        "person": person.email,
        "person_name": person.name,
        "program": Program(grant.program).value,
        "level": PermissionLevel(grant.level).value,
        "valid_until": grant.valid_until.isoformat() if grant.valid_until else None,
    }


def _end(session: Session, grant_id: int, reason: GrantEnd, now: dt.datetime) -> bool:
    """End one open grant; False when another transaction ended it first."""
    # Conditional, so that of two transactions ending the same grant only one
    # matches the row (PostgreSQL re-checks the WHERE once the lock is free).
    result = session.exec(
        sa.update(ProgramGrant)
        .where(col(ProgramGrant.id) == grant_id, col(ProgramGrant.ended_at).is_(None))
        .values(ended_at=now, end_reason=reason)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)


def _aware(now: dt.datetime) -> None:
    if now.tzinfo is None:
        raise ValueError(f"naive datetime {now!r}: `now` must be aware")


def _get(session: Session, model: type[Company] | type[Person], key: int, what: str) -> Any:
    found = session.get(model, key)
    if found is None:
        raise NotFound(f"no {what} with id {key} in the registry")
    return found


def _is_consultant(session: Session, person_id: int, firm_id: int) -> bool:
    return (
        session.exec(
            select(Role.id).where(
                Role.person_id == person_id,
                Role.company_id == firm_id,
                Role.role == RoleKind.CONSULTANT,
            )
        ).first()
        is not None
    )


def set_grants(
    session: Session,
    *,
    client_id: int,
    firm_id: int,
    person_id: int,
    grants: Mapping[Program, Access | None],
    actor: str,
    today: dt.date,
    now: dt.datetime,
) -> GrantChanges:
    """Set each program in `grants` to a level and optional last day, or None for no access.

    Programs not in `grants` stay as they are, and so does a program already
    set as asked (no event). Raises `GrantRefused` when the firm is not
    connected to the client, the person is not one of its consultants or a
    last day is before `today`; `Conflict` when another transaction changed
    the same grants meanwhile (the caller rolls back).
    """
    _aware(now)
    client: Company = _get(session, Company, client_id, "company")
    firm: Company = _get(session, Company, firm_id, "company")
    person: Person = _get(session, Person, person_id, "person")
    if not _open_connections(session, client_id, firm_id):
        raise GrantRefused(f"{firm.name} är inte kopplad till {client.name}.")
    if not _is_consultant(session, person_id, firm_id):
        raise GrantRefused(f"{person.name} är inte konsult hos {firm.name}.")
    for program, access in grants.items():
        if access is not None and access[1] is not None and access[1] < today:
            raise GrantRefused(
                "Sista dagen kan inte vara före i dag. Lämna datumet tomt för tills vidare.",
                program=program,
            )

    open_rows = {
        Program(row.program): row
        for row in session.exec(
            select(ProgramGrant).where(
                ProgramGrant.client_id == client_id,
                ProgramGrant.person_id == person_id,
                col(ProgramGrant.ended_at).is_(None),
            )
        ).all()
    }
    changes: list[GrantChange] = []
    for program in (p for p in Program if p in grants):
        wanted = grants[program]
        row = open_rows.get(program)
        mine = row if row and row.firm_id == firm_id and is_effective(row, today) else None
        before: Access | None = (
            (PermissionLevel(mine.level), mine.valid_until) if mine is not None else None
        )
        if wanted is not None:
            wanted = (PermissionLevel(wanted[0]), wanted[1])
        if wanted == before:
            continue
        if row is not None and row is not mine and wanted is not None:
            # Make room under the unique index: a lapsed grant the expiry job has not
            # reached yet, or one given through another firm the person also works for.
            _end_other(session, row, client, person, today=today, actor=actor, now=now)
        if mine is not None:
            assert mine.id is not None
            if not _end(session, mine.id, GrantEnd.REVOKED, now):
                raise Conflict(GRANT_RACE)
        if wanted is None:
            assert mine is not None and mine.id is not None
            record_event(
                session,
                actor=actor,
                action="grant.revoked",
                subject=f"grant:{mine.id}",
                before=_state(mine, client, firm, person),
                after=None,
                detail=f"{person.name} har inte längre behörighet till {program.value} "
                f"hos {client.name} ({client.orgnr}).",
                now=now,
            )
            changes.append(GrantChange(program, before, None, mine.id))
            continue
        level, valid_until = wanted
        new = ProgramGrant(
            client_id=client_id,
            firm_id=firm_id,
            person_id=person_id,
            program=program,
            level=level,
            valid_until=valid_until,
            granted_at=now,
            granted_by=actor,
        )
        session.add(new)
        _flush(session)
        assert new.id is not None
        record_event(
            session,
            actor=actor,
            action="grant.changed" if mine is not None else "grant.given",
            subject=f"grant:{new.id}",
            before=_state(mine, client, firm, person) if mine is not None else None,
            after=_state(new, client, firm, person),
            detail=f"{person.name} ({firm.name}) får {program.value} på nivån {level.value} "
            f"hos {client.name} ({client.orgnr})"
            + (f" till och med {valid_until.isoformat()}." if valid_until else " tills vidare."),
            now=now,
        )
        changes.append(GrantChange(program, before, wanted, new.id))
    _flush(session)
    current = session.exec(
        select(ProgramGrant).where(
            ProgramGrant.client_id == client_id,
            ProgramGrant.firm_id == firm_id,
            ProgramGrant.person_id == person_id,
            col(ProgramGrant.ended_at).is_(None),
        )
    ).all()
    return GrantChanges(
        client,
        firm,
        person,
        tuple(changes),
        _ordered(_view(g) for g in current if is_effective(g, today)),
    )


def _flush(session: Session) -> None:
    """Flush; the unique index on open grants refusing it means someone else got there first."""
    try:
        flush_or_conflict(session)
    except Conflict as exc:
        raise Conflict(GRANT_RACE) from exc.__cause__


def _end_other(
    session: Session,
    row: ProgramGrant,
    client: Company,
    person: Person,
    *,
    today: dt.date,
    actor: str,
    now: dt.datetime,
) -> None:
    assert row.id is not None
    lapsed = not is_effective(row, today)
    if not _end(session, row.id, GrantEnd.EXPIRED if lapsed else GrantEnd.REVOKED, now):
        raise Conflict(GRANT_RACE)
    firm: Company = _get(session, Company, row.firm_id, "company")
    record_event(
        session,
        actor=SYSTEM_ACTOR if lapsed else actor,
        action="grant.expired" if lapsed else "grant.revoked",
        subject=f"grant:{row.id}",
        before=_state(row, client, firm, person),
        after=None,
        detail=(
            f"Sista dagen {row.valid_until} hade passerat; avslutad när en ny behörighet gavs."
            if lapsed
            else f"Ersatt av en behörighet genom en annan byrå än {firm.name}."
        ),
        now=now,
    )


# -- ending by themselves -----------------------------------------------------------------------


def expire_grants(session: Session, *, today: dt.date, now: dt.datetime) -> list[ExpiredGrant]:
    """End every open grant whose last day is before `today`; what was ended, to be told.

    Safe to run again and from two processes at once: only the rows this
    call's own conditional UPDATE ended are recorded and returned.
    """
    _aware(now)
    client_alias = aliased(Company)
    firm_alias = aliased(Company)
    rows = session.exec(
        select(ProgramGrant, Person, client_alias, firm_alias)
        .join(Person, col(Person.id) == col(ProgramGrant.person_id))
        .join(client_alias, col(client_alias.id) == col(ProgramGrant.client_id))
        .join(firm_alias, col(firm_alias.id) == col(ProgramGrant.firm_id))
        .where(
            col(ProgramGrant.ended_at).is_(None),
            col(ProgramGrant.valid_until).is_not(None),
            col(ProgramGrant.valid_until) < today,
        )
        .order_by(col(ProgramGrant.id))
    ).all()
    admins: dict[int, tuple[Person, ...]] = {}
    expired: list[ExpiredGrant] = []
    for grant, person, client, firm in rows:
        assert grant.id is not None and client.id is not None and grant.valid_until is not None
        if not _end(session, grant.id, GrantEnd.EXPIRED, now):
            continue  # another run got there first
        record_event(
            session,
            actor=SYSTEM_ACTOR,
            action="grant.expired",
            subject=f"grant:{grant.id}",
            before=_state(grant, client, firm, person),
            after=None,
            detail=f"Sista dagen {grant.valid_until.isoformat()} har passerat.",
            now=now,
        )
        if client.id not in admins:
            admins[client.id] = client_sysadmins(session, client.id)
        expired.append(
            ExpiredGrant(
                grant_id=grant.id,
                program=Program(grant.program),
                level=PermissionLevel(grant.level),
                valid_until=grant.valid_until,
                client=client,
                firm=firm,
                person=person,
                client_admins=admins[client.id],
            )
        )
    return expired


def client_sysadmins(session: Session, client_id: int) -> tuple[Person, ...]:
    """The client's system administrators, by name."""
    return tuple(
        session.exec(
            select(Person)
            .join(Role, col(Role.person_id) == col(Person.id))
            .where(Role.company_id == client_id, Role.role == RoleKind.SYSADMIN)
            .order_by(col(Person.name), col(Person.id))
        ).all()
    )


def end_grants_of_connection(
    session: Session, *, client_id: int, firm_id: int, now: dt.datetime
) -> int:
    """End the grants given through the firm at the client once their connection has ended.

    Call it after the connection's `until` is set (in the same transaction).
    While the firm still holds another open connection to the client (the
    other role), its consultants keep their access and nothing ends. Returns
    how many grants this call ended.
    """
    _aware(now)
    if _open_connections(session, client_id, firm_id):
        return 0
    client: Company = _get(session, Company, client_id, "company")
    firm: Company = _get(session, Company, firm_id, "company")
    rows = session.exec(
        select(ProgramGrant, Person)
        .join(Person, col(Person.id) == col(ProgramGrant.person_id))
        .where(
            ProgramGrant.client_id == client_id,
            ProgramGrant.firm_id == firm_id,
            col(ProgramGrant.ended_at).is_(None),
        )
        .order_by(col(ProgramGrant.id))
    ).all()
    ended = 0
    for grant, person in rows:
        assert grant.id is not None
        if not _end(session, grant.id, GrantEnd.DISCONNECTED, now):
            continue
        record_event(
            session,
            actor=SYSTEM_ACTOR,
            action="grant.disconnected",
            subject=f"grant:{grant.id}",
            before=_state(grant, client, firm, person),
            after=None,
            detail=f"{firm.name} är inte längre kopplad till {client.name} ({client.orgnr}).",
            now=now,
        )
        ended += 1
    return ended
