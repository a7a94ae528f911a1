"""The client's pages: its connected firms, and the "Konsulter" block (seed 001, seed 003).

`/mina-sidor/foretag/{orgnr}` shows anyone with a role at the client the
firms connected now (role, since when, who pays) and, per firm, its
consultants with the programs, levels and last days the client gives them.
`?byra={firm_orgnr}` puts that firm first and marks it: a just-approved dual
connection links there so the client goes straight on to grant its
consultants access. System and program administrators edit one consultant
at a time on `/mina-sidor/foretag/{orgnr}/konsulter/{person_id}`: per
program a level (or none) and an optional last day. Saving goes through
`registry.grants.set_grants` (its rules, history rows and audit events) and
mails the consultant what they have now.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session

from portal.signin import CompanyRoles, Customer
from portal.web_common import LEVEL_NAMES, PREFIX, PROGRAM_NAMES, Kit, PageError, Posted
from registry import Conflict, PermissionLevel, Person, Program, RoleKind, client_connections
from registry.grants import (
    GRANTING_ROLES,
    ConsultantGrants,
    FirmConsultants,
    GrantChanges,
    GrantRefused,
    can_grant,
    client_consultants,
    set_grants,
)
from render import datum

NO_SUCH_CONSULTANT = "Konsulten finns inte hos någon byrå som är kopplad till företaget."
LEVEL_CHOICES = (
    ("", "Ingen behörighet"),
    *((level.value, LEVEL_NAMES[level.value]) for level in PermissionLevel),
)


@dataclass(frozen=True)
class ProgramField:
    """One program's row of the form: what it holds (typed or stored) and its error."""

    program: Program
    level: str  # a PermissionLevel value, or "" for no access
    until: str  # as typed, or the stored last day as YYYY-MM-DD
    error: str | None = None
    error_on: str = "till"  # the input the error is about: "niva" (level) or "till" (date)

    @property
    def name(self) -> str:
        return PROGRAM_NAMES[self.program.value]

    @property
    def input_type(self) -> str:
        # A browser empties a date input holding a non-date, so what was typed is
        # shown back in a text input, where it can be seen and corrected.
        return "date" if not self.until or _parse_day(self.until) else "text"


def _client(kit: Kit, me: Customer, orgnr: str, *roles: RoleKind) -> tuple[CompanyRoles, int]:
    found = kit.company(me, orgnr, *roles)
    assert found.company.id is not None
    return found, found.company.id


def _ordered_firms(firms: list[FirmConsultants], first: str | None) -> list[FirmConsultants]:
    return sorted(firms, key=lambda f: f.firm.orgnr != first)


def _find_consultant(
    firms: list[FirmConsultants], person_id: int, firm_orgnr: str | None
) -> tuple[FirmConsultants, ConsultantGrants]:
    """The consultant among the connected firms (`firm_orgnr` picks one if they are at two)."""
    for firm in _ordered_firms(firms, firm_orgnr):
        found = firm.consultant(person_id)
        if found is not None:
            return firm, found
    raise PageError(404, NO_SUCH_CONSULTANT)


def _stored_fields(consultant: ConsultantGrants) -> list[ProgramField]:
    fields = []
    for program in Program:
        grant = consultant.grant(program)
        if grant is None:
            fields.append(ProgramField(program, "", ""))
        else:
            until = grant.valid_until.isoformat() if grant.valid_until else ""
            fields.append(ProgramField(program, grant.level.value, until))
    return fields


def _parse_day(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return None


def _read_form(
    p: Posted, today: dt.date
) -> tuple[list[ProgramField], dict[Program, tuple[PermissionLevel, dt.date | None] | None]]:
    """The typed fields, each with its error, and the grants they ask for when none has one."""
    fields: list[ProgramField] = []
    wanted: dict[Program, tuple[PermissionLevel, dt.date | None] | None] = {}
    for program in Program:
        level = p.get(f"niva-{program.value}")
        typed = p.get(f"till-{program.value}")[:40]
        error, error_on = None, "till"
        day = _parse_day(typed) if typed else None
        if level not in LEVEL_NAMES and level != "":
            error, error_on = "Välj en av behörigheterna.", "niva"
            level = ""
        elif typed and day is None:
            error = f"”{typed}” är inget datum. Skriv det som ÅÅÅÅ-MM-DD, till exempel 2026-06-30."
        elif day is not None and day < today:
            error = (
                f"Datumet har redan passerat. Välj i dag ({datum(today)}) eller senare, "
                "eller lämna det tomt för tills vidare."
            )
        elif day is not None and not level:
            error = "Välj en behörighet om du vill ange ett slutdatum, eller töm datumet."
        fields.append(ProgramField(program, level, typed, error, error_on))
        wanted[program] = (PermissionLevel(level), day) if level else None
    return fields, wanted


def _mail_context(changes: GrantChanges, by: Person, first: bool) -> dict[str, object]:
    return {
        "client_name": changes.client.name,
        "client_orgnr": changes.client.orgnr,
        "firm_name": changes.firm.name,
        "granted_by_name": by.name,
        "first": first,
        "grants": [
            {
                "program": PROGRAM_NAMES[g.program.value],
                "level": LEVEL_NAMES[g.level.value],
                "valid_until": g.valid_until,
            }
            for g in changes.grants
        ],
        "ended": [PROGRAM_NAMES[c.program.value] for c in changes.changes if c.after is None],
    }


def add_routes(router: APIRouter, kit: Kit) -> None:
    def edit_page(
        me: Customer,
        company: CompanyRoles,
        firm: FirmConsultants,
        consultant: ConsultantGrants,
        fields: list[ProgramField],
        *,
        status: int = 200,
        problem: str | None = None,
    ) -> HTMLResponse:
        return kit.render(
            "client_consultant.html",
            customer=me,
            status=status,
            company=company,
            tab="firms",
            firm=firm,
            consultant=consultant,
            fields=fields,
            choices=LEVEL_CHOICES,
            problem=problem,
            today=kit.today(),
        )

    @router.get(f"{PREFIX}/foretag/{{orgnr}}", response_class=HTMLResponse)
    def client_page(
        orgnr: str,
        request: Request,
        me: Customer = Depends(kit.customer),
        session: Session = Depends(kit.db),
    ) -> Response:
        company, client_id = _client(kit, me, orgnr)
        today = kit.today()
        highlight = request.query_params.get("byra")
        firms = _ordered_firms(client_consultants(session, client_id, today=today), highlight)
        if not any(f.firm.orgnr == highlight for f in firms):
            highlight = None
        subscriptions = client_connections(session, company.company.orgnr, on=today).subscriptions
        notice = None
        saved = request.query_params.get("sparat") or request.query_params.get("oandrat")
        for firm in firms:
            for consultant in firm.consultants:
                if saved and str(consultant.person.id) == saved:
                    notice = (
                        f"Behörigheterna för {consultant.person.name} är sparade."
                        if request.query_params.get("sparat")
                        else f"Inget ändrades för {consultant.person.name}."
                    )
        return kit.render(
            "client_firms.html",
            customer=me,
            company=company,
            tab="firms",
            firms=firms,
            subscriptions=subscriptions,
            highlight=highlight,
            can_edit=can_grant(company.roles),
            notice=notice,
            today=today,
        )

    @router.get(f"{PREFIX}/foretag/{{orgnr}}/konsulter/{{person_id}}", response_class=HTMLResponse)
    def consultant_form(
        orgnr: str,
        person_id: int,
        request: Request,
        me: Customer = Depends(kit.customer),
        session: Session = Depends(kit.db),
    ) -> Response:
        company, client_id = _client(kit, me, orgnr, *GRANTING_ROLES)
        firms = client_consultants(session, client_id, today=kit.today())
        firm, consultant = _find_consultant(firms, person_id, request.query_params.get("byra"))
        return edit_page(me, company, firm, consultant, _stored_fields(consultant))

    @router.post(f"{PREFIX}/foretag/{{orgnr}}/konsulter/{{person_id}}", response_class=HTMLResponse)
    def save_consultant(
        orgnr: str,
        person_id: int,
        p: Posted = Depends(kit.posted),
        session: Session = Depends(kit.db),
    ) -> Response:
        me = p.customer
        company, client_id = _client(kit, me, orgnr, *GRANTING_ROLES)
        today = kit.today()
        firms = client_consultants(session, client_id, today=today)
        firm, consultant = _find_consultant(firms, person_id, p.get("byra") or None)
        fields, wanted = _read_form(p, today)
        if any(f.error for f in fields):
            return edit_page(me, company, firm, consultant, fields, status=400)
        assert firm.firm.id is not None and consultant.person.id is not None
        try:
            changes = set_grants(
                session,
                client_id=client_id,
                firm_id=firm.firm.id,
                person_id=consultant.person.id,
                grants=wanted,
                actor=me.email,
                today=today,
                now=kit.now(),
            )
        except GrantRefused as exc:
            session.rollback()
            if exc.program is None:
                return edit_page(
                    me, company, firm, consultant, fields, status=409, problem=exc.message
                )
            fields = [
                ProgramField(f.program, f.level, f.until, exc.message)
                if f.program is exc.program
                else f
                for f in fields
            ]
            return edit_page(me, company, firm, consultant, fields, status=400)
        except Conflict as exc:
            session.rollback()
            return edit_page(me, company, firm, consultant, fields, status=409, problem=exc.message)
        if changes.changes:
            kit.mail(
                session,
                to=consultant.person.email,
                template="grant_given",
                context=_mail_context(changes, me.person, first=not consultant.grants),
            )
        session.commit()
        key = "sparat" if changes.changes else "oandrat"
        target = f"{PREFIX}/foretag/{company.company.orgnr}?{key}={person_id}"
        return RedirectResponse(f"{target}#konsult-{person_id}", status_code=303)
