"""The firm's pages (seed 000, "Klienthanterare"): the client list, one client, the consultants.

`/mina-sidor/byra/{orgnr}/klienter` is the firm's connected clients with
role, since, who pays, the firm's labels and the consultants who have each
client in their personal list, filtered by label, consultant and a search
box (GET parameters, so a filtered list can be bookmarked). Anyone with a
role at the firm sees it, except that a consultant who is not also a system
or program administrator sees only their own personal list: that is what a
personal client list is for.

`.../klienter/{client_orgnr}` is one client with its labels, consultants and
history; `.../konsulter` the consultants with their lists. Labels and
personal lists are changed by system and program administrators only
(`registry.clientlists.can_manage_clients`), by POST with the session's
CSRF token, and each change redirects (303) back with a fixed notice chosen
by a `klart` code. A refused change shows the page again with the
registry's Swedish message. System administrators also get the links to
the digital disconnection and dual connection pages (other route modules).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session, select

from forms import FormsError, parse_organisationsnummer
from portal.signin import CompanyRoles, Customer
from portal.web_common import CONNECTION_ROLES, PREFIX, Kit, PageError, Posted
from registry import Company, ConnectionRole, DigitalRequest, RequestKind, RoleKind
from registry.clientlists import (
    ASSIGNED,
    LABEL_ADDED,
    LABEL_REMOVED,
    NOT_CONNECTED,
    NOT_CONSULTANT,
    UNASSIGNED,
    ClientHistory,
    ClientListError,
    ClientRow,
    ConsultantRow,
    HistoryEvent,
    PayerKind,
    PayerNow,
    add_label,
    assign_client,
    can_manage_clients,
    client_history,
    connected_clients,
    firm_client_list,
    firm_consultants,
    firm_labels,
    remove_label,
    unassign_client,
)
from render import datum

MANAGE_NEEDED = (
    "Du behöver vara systemadministratör eller programadministratör för klienthanteringen."
)
NOT_A_FIRM = "Företaget är ingen byrå, så det har ingen klientlista."
NOT_A_CLIENT = "Klienten finns inte bland byråns klienter."
NOT_IN_YOUR_LIST = "Klienten finns inte i din klientlista."
OWN_LIST_NOTE = (
    "Du ser klienterna i din egen klientlista. Systemadministratörer och "
    "programadministratörer ser alla byråns klienter och kan ändra klientlistorna."
)
NOTICES = {
    "markning-tillagd": "Märkningen är tillagd.",
    "markning-fanns": "Klienten hade redan den märkningen.",
    "markning-borttagen": "Märkningen är borttagen.",
    "markning-saknades": "Klienten hade inte den märkningen.",
    "konsult-tillagd": "Klienten finns nu i konsultens klientlista.",
    "konsult-fanns": "Klienten fanns redan i konsultens klientlista.",
    "konsult-borttagen": "Klienten är borttagen ur konsultens klientlista.",
    "konsult-saknades": "Klienten fanns inte i konsultens klientlista.",
}
REQUEST_KINDS = {
    RequestKind.DISCONNECT.value: "bortkoppling",
    RequestKind.DUAL.value: "dubbelsammankoppling",
}
# The last part of a digital request's audit action, as a verb with its object.
REQUEST_VERBS = {
    "created": "skickade en förfrågan om {kind}",
    "requested": "skickade en förfrågan om {kind}",
    "sent": "skickade en förfrågan om {kind}",
    "approved": "godkände förfrågan om {kind}",
    "declined": "avböjde förfrågan om {kind}",
    "withdrawn": "drog tillbaka förfrågan om {kind}",
    "obsolete": "avslutade förfrågan om {kind}, som inte längre gick att genomföra",
}
SERVICE_NAME = "Kopplingar"  # who acted when the actor is no person in the registry


# -- wording -----------------------------------------------------------------------------------


def payer_words(payer: PayerNow) -> str:
    if payer.kind is PayerKind.FIRM:
        return "Byrån betalar"
    if payer.kind is PayerKind.CLIENT:
        return "Klienten betalar"
    return payer.payer.name


def payer_text(row: ClientRow) -> str:
    """Who pays, in one line: the same words for all subscriptions, else per number."""
    if not row.payers:
        return "Inget abonnemang"
    words = [payer_words(p) for p in row.payers]
    if len(set(words)) == 1:
        return words[0]
    return "; ".join(f"{p.subscription}: {w}" for p, w in zip(row.payers, words, strict=True))


def _role_words(role: object) -> str:
    return CONNECTION_ROLES.get(str(role), "byrå")


def _day(value: object) -> str:
    try:
        return datum(dt.date.fromisoformat(str(value)))
    except ValueError:
        return ""


def _state(entry: HistoryEvent) -> Mapping[str, Any]:
    return entry.event.after or entry.event.before or {}


def event_text(entry: HistoryEvent, requests: Mapping[int, DigitalRequest]) -> str:
    """One history event as a Swedish sentence (plain text; the template escapes it)."""
    event = entry.event
    who = entry.actor_name or SERVICE_NAME
    state = _state(entry)
    if event.action == LABEL_ADDED:
        return f"{who} lade till märkningen ”{state.get('label', '')}”."
    if event.action == LABEL_REMOVED:
        return f"{who} tog bort märkningen ”{state.get('label', '')}”."
    consultant = state.get("consultant_name") or state.get("consultant") or "en konsult"
    if event.action == ASSIGNED:
        return f"{who} lade till klienten i klientlistan för {consultant}."
    if event.action == UNASSIGNED:
        return f"{who} tog bort klienten ur klientlistan för {consultant}."
    if event.action == "connection.created":
        return (
            f"{who} registrerade kopplingen som {_role_words(state.get('role'))} "
            f"från {_day(state.get('since'))}."
        )
    if event.action == "connection.ended":
        return (
            f"{who} registrerade att kopplingen som {_role_words(state.get('role'))} "
            f"upphör {_day(state.get('until'))}."
        )
    head, _, key = event.subject.partition(":")
    if head == "digital_request" and key.isdigit():
        request = requests.get(int(key))
        kind = REQUEST_KINDS.get(request.kind.value, "ändring") if request else "ändring"
        verb = event.action.rpartition(".")[2]
        if verb == "expired":
            return f"Förfrågan om {kind} gick ut utan svar."
        template = REQUEST_VERBS.get(verb, "ändrade förfrågan om {kind}")
        return f"{who} {template.format(kind=kind)}."
    return f"{who} gjorde en ändring."


# -- access ------------------------------------------------------------------------------------


def canonical_orgnr(value: str) -> str:
    try:
        return parse_organisationsnummer(value).text
    except FormsError:
        return value


@dataclass(frozen=True)
class FirmAccess:
    """The signed-in person at one firm, and what that lets them do here."""

    customer: Customer
    place: CompanyRoles

    @property
    def firm(self) -> Company:
        return self.place.company

    @property
    def firm_id(self) -> int:
        assert self.place.company.id is not None
        return self.place.company.id

    @property
    def manages(self) -> bool:
        return can_manage_clients(self.place.roles)

    @property
    def own_list_only(self) -> bool:
        return RoleKind.CONSULTANT in self.place.roles and not self.manages

    @property
    def sysadmin(self) -> bool:
        return RoleKind.SYSADMIN in self.place.roles

    @property
    def base(self) -> str:
        return f"{PREFIX}/byra/{self.firm.orgnr}"


def _access(kit: Kit, me: Customer, orgnr: str, *, manage: bool = False) -> FirmAccess:
    place = kit.company(me, canonical_orgnr(orgnr))
    if not place.is_firm:
        raise PageError(404, NOT_A_FIRM)
    access = FirmAccess(me, place)
    if manage and not access.manages:
        raise PageError(403, MANAGE_NEEDED)
    return access


def _int_or_none(value: str | None) -> int | None:
    text = (value or "").strip()
    return int(text) if text.isdigit() and len(text) < 12 else None


def _client(session: Session, kit: Kit, access: FirmAccess, client_orgnr: str) -> ClientRow:
    """The client's row in the firm's list; 404 when it is not there for this person."""
    company = session.exec(
        select(Company).where(Company.orgnr == canonical_orgnr(client_orgnr))
    ).first()
    rows = (
        firm_client_list(session, access.firm_id, today=kit.today(), client_id=company.id)
        if company is not None and company.id is not None
        else []
    )
    if not rows:
        raise PageError(404, NOT_A_CLIENT)
    row = rows[0]
    if access.own_list_only and access.customer.id not in {p.id for p in row.consultants}:
        raise PageError(404, NOT_IN_YOUR_LIST)
    return row


def _consultant_id(value: str) -> int:
    person_id = _int_or_none(value)
    if person_id is None:
        raise ClientListError(NOT_CONSULTANT)
    return person_id


def _redirect(path: str, code: str) -> RedirectResponse:
    return RedirectResponse(f"{path}?{urlencode({'klart': code})}", status_code=303)


# -- the pages ---------------------------------------------------------------------------------


def _client_page(
    kit: Kit,
    session: Session,
    access: FirmAccess,
    row: ClientRow,
    *,
    notice: str = "",
    error: str = "",
    typed: str = "",
    status: int = 200,
) -> HTMLResponse:
    assert row.client.id is not None
    history: ClientHistory = client_history(session, access.firm_id, row.client.id)
    requests = {r.id: r for r in history.requests if r.id is not None}
    consultants = firm_consultants(session, access.firm_id, today=kit.today())
    listed = {p.id for p in row.consultants}
    return kit.render(
        "firm_client.html",
        customer=access.customer,
        status=status,
        company=access.place,
        tab="clients",
        access=access,
        row=row,
        payer=payer_text(row),
        roles=", ".join(CONNECTION_ROLES[ConnectionRole(r).value] for r in row.roles),
        others=[c.person for c in consultants if c.person.id not in listed],
        connections=history.connections,
        events=[(h.event.at, event_text(h, requests)) for h in history.events],
        client_path=f"{access.base}/klienter/{row.client.orgnr}",
        notice=notice,
        error=error,
        typed=typed,
    )


def _consultants_page(
    kit: Kit,
    session: Session,
    access: FirmAccess,
    *,
    notice: str = "",
    error: str = "",
    status: int = 200,
) -> HTMLResponse:
    today = kit.today()
    rows: list[ConsultantRow] = firm_consultants(session, access.firm_id, today=today)
    if access.own_list_only:
        rows = [r for r in rows if r.person.id == access.customer.id]
    clients = connected_clients(session, access.firm_id, today=today) if access.manages else []
    choices = {
        r.person.id: [c for c in clients if c.id not in {x.id for x in r.clients}] for r in rows
    }
    return kit.render(
        "firm_consultants.html",
        customer=access.customer,
        status=status,
        company=access.place,
        tab="consultants",
        access=access,
        rows=rows,
        choices=choices,
        note=OWN_LIST_NOTE if access.own_list_only else "",
        notice=notice,
        error=error,
    )


def add_routes(router: APIRouter, kit: Kit) -> None:
    @router.get(f"{PREFIX}/byra/{{orgnr}}/klienter", response_class=HTMLResponse)
    def client_list(
        orgnr: str,
        markning: str = "",
        konsult: str = "",
        sok: str = "",
        klart: str = "",
        me: Customer = Depends(kit.customer),
        session: Session = Depends(kit.db),
    ) -> Response:
        access = _access(kit, me, orgnr)
        today = kit.today()
        label = markning.strip()[:100] or None
        query = sok.strip()[:100] or None
        consultant_id = me.id if access.own_list_only else _int_or_none(konsult)
        rows = firm_client_list(
            session,
            access.firm_id,
            today=today,
            label=label,
            consultant_id=consultant_id,
            query=query,
        )
        if access.own_list_only:
            # The filters offer only what is on their own list: the rest is not theirs to see.
            own = firm_client_list(session, access.firm_id, today=today, consultant_id=me.id)
            labels = sorted({t for r in own for t in r.labels}, key=lambda t: (t.casefold(), t))
            consultants = []
        else:
            labels = firm_labels(session, access.firm_id, today=today)
            consultants = [c.person for c in firm_consultants(session, access.firm_id, today=today)]
        return kit.render(
            "firm_clients.html",
            customer=me,
            company=access.place,
            tab="clients",
            access=access,
            rows=rows,
            payer_text=payer_text,
            labels=labels,
            consultants=consultants,
            chosen_label=label or "",
            chosen_consultant=consultant_id if not access.own_list_only else None,
            query=query or "",
            filtered=bool(label or query or (consultant_id and not access.own_list_only)),
            note=OWN_LIST_NOTE if access.own_list_only else "",
            notice=NOTICES.get(klart, ""),
        )

    @router.get(f"{PREFIX}/byra/{{orgnr}}/klienter/{{client_orgnr}}", response_class=HTMLResponse)
    def client_page(
        orgnr: str,
        client_orgnr: str,
        klart: str = "",
        me: Customer = Depends(kit.customer),
        session: Session = Depends(kit.db),
    ) -> Response:
        access = _access(kit, me, orgnr)
        row = _client(session, kit, access, client_orgnr)
        return _client_page(kit, session, access, row, notice=NOTICES.get(klart, ""))

    def client_change(
        orgnr: str,
        client_orgnr: str,
        posted: Posted,
        session: Session,
        change: Callable[[ClientRow, FirmAccess], str],
        typed: str = "",
    ) -> Response:
        access = _access(kit, posted.customer, orgnr, manage=True)
        row = _client(session, kit, access, client_orgnr)
        try:
            code = change(row, access)
        except ClientListError as exc:
            session.rollback()
            return _client_page(
                kit, session, access, row, error=exc.message, typed=typed[:100], status=400
            )
        session.commit()
        return _redirect(f"{access.base}/klienter/{row.client.orgnr}", code)

    @router.post(f"{PREFIX}/byra/{{orgnr}}/klienter/{{client_orgnr}}/markningar")
    def label_added(
        orgnr: str,
        client_orgnr: str,
        posted: Posted = Depends(kit.posted),
        session: Session = Depends(kit.db),
    ) -> Response:
        text = posted.form.get("markning", "")

        def change(row: ClientRow, access: FirmAccess) -> str:
            assert row.client.id is not None
            added = add_label(
                session,
                firm_id=access.firm_id,
                client_id=row.client.id,
                label=text,
                actor=posted.customer.email,
                now=kit.now(),
            )
            return "markning-tillagd" if added else "markning-fanns"

        return client_change(orgnr, client_orgnr, posted, session, change, typed=text)

    @router.post(f"{PREFIX}/byra/{{orgnr}}/klienter/{{client_orgnr}}/markningar/ta-bort")
    def label_removed(
        orgnr: str,
        client_orgnr: str,
        posted: Posted = Depends(kit.posted),
        session: Session = Depends(kit.db),
    ) -> Response:
        def change(row: ClientRow, access: FirmAccess) -> str:
            assert row.client.id is not None
            removed = remove_label(
                session,
                firm_id=access.firm_id,
                client_id=row.client.id,
                label=posted.form.get("markning", ""),
                actor=posted.customer.email,
                now=kit.now(),
            )
            return "markning-borttagen" if removed else "markning-saknades"

        return client_change(orgnr, client_orgnr, posted, session, change)

    @router.post(f"{PREFIX}/byra/{{orgnr}}/klienter/{{client_orgnr}}/konsulter")
    def client_assigned(
        orgnr: str,
        client_orgnr: str,
        posted: Posted = Depends(kit.posted),
        session: Session = Depends(kit.db),
    ) -> Response:
        def change(row: ClientRow, access: FirmAccess) -> str:
            assert row.client.id is not None
            added = assign_client(
                session,
                firm_id=access.firm_id,
                consultant_id=_consultant_id(posted.get("konsult")),
                client_id=row.client.id,
                actor=posted.customer.email,
                now=kit.now(),
            )
            return "konsult-tillagd" if added else "konsult-fanns"

        return client_change(orgnr, client_orgnr, posted, session, change)

    @router.post(f"{PREFIX}/byra/{{orgnr}}/klienter/{{client_orgnr}}/konsulter/ta-bort")
    def client_unassigned(
        orgnr: str,
        client_orgnr: str,
        posted: Posted = Depends(kit.posted),
        session: Session = Depends(kit.db),
    ) -> Response:
        def change(row: ClientRow, access: FirmAccess) -> str:
            assert row.client.id is not None
            removed = unassign_client(
                session,
                firm_id=access.firm_id,
                consultant_id=_consultant_id(posted.get("konsult")),
                client_id=row.client.id,
                actor=posted.customer.email,
                now=kit.now(),
            )
            return "konsult-borttagen" if removed else "konsult-saknades"

        return client_change(orgnr, client_orgnr, posted, session, change)

    @router.get(f"{PREFIX}/byra/{{orgnr}}/konsulter", response_class=HTMLResponse)
    def consultants_page(
        orgnr: str,
        klart: str = "",
        me: Customer = Depends(kit.customer),
        session: Session = Depends(kit.db),
    ) -> Response:
        access = _access(kit, me, orgnr)
        return _consultants_page(kit, session, access, notice=NOTICES.get(klart, ""))

    def list_change(
        orgnr: str, person: str, posted: Posted, session: Session, *, adding: bool
    ) -> Response:
        access = _access(kit, posted.customer, orgnr, manage=True)
        person_id = _int_or_none(person)
        if person_id is None or not any(
            r.person.id == person_id
            for r in firm_consultants(session, access.firm_id, today=kit.today())
        ):
            raise PageError(404, NOT_CONSULTANT)
        client = session.exec(
            select(Company).where(Company.orgnr == canonical_orgnr(posted.get("klient")))
        ).first()
        if client is None or client.id is None:
            # The same answers as for a company that is not the firm's client, so the
            # form says nothing about which organisationsnummer the registry holds.
            if not adding:
                return _redirect(f"{access.base}/konsulter", "konsult-saknades")
            return _consultants_page(kit, session, access, error=NOT_CONNECTED, status=400)
        try:
            step = assign_client if adding else unassign_client
            changed = step(
                session,
                firm_id=access.firm_id,
                consultant_id=person_id,
                client_id=client.id,
                actor=posted.customer.email,
                now=kit.now(),
            )
        except ClientListError as exc:
            session.rollback()
            return _consultants_page(kit, session, access, error=exc.message, status=400)
        session.commit()
        if adding:
            code = "konsult-tillagd" if changed else "konsult-fanns"
        else:
            code = "konsult-borttagen" if changed else "konsult-saknades"
        return _redirect(f"{access.base}/konsulter", code)

    @router.post(f"{PREFIX}/byra/{{orgnr}}/konsulter/{{person}}/klienter")
    def consultant_gets_client(
        orgnr: str,
        person: str,
        posted: Posted = Depends(kit.posted),
        session: Session = Depends(kit.db),
    ) -> Response:
        return list_change(orgnr, person, posted, session, adding=True)

    @router.post(f"{PREFIX}/byra/{{orgnr}}/konsulter/{{person}}/klienter/ta-bort")
    def consultant_loses_client(
        orgnr: str,
        person: str,
        posted: Posted = Depends(kit.posted),
        session: Session = Depends(kit.db),
    ) -> Response:
        return list_change(orgnr, person, posted, session, adding=False)
