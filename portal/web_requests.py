"""Digital requests and invitations: the firm's side, the client's side, and the mailed links.

The firm's system administrator starts a disconnection from the client list
(`.../klienter/{client}/koppla-bort`: a page saying what will happen, then a
POST that mails each of the client's system administrators a link of their
own) or asks for a dual connection (`.../dubbelsammankoppling`: the client's
organisationsnummer and subscription number, answered like the public form
page: a pair that does not belong together gets one answer whatever exists).
When the digital way is closed the page says why and offers the paper form;
for a client without a system administrator it also lets the firm invite
one, which a firmatecknare of the client confirms from a mailed link
(`/mina-sidor/inbjudan/{token}`).

The approval page (`/mina-sidor/forfragan/{token}`) needs no sign-in: the
link is the proof. Its POSTs carry no CSRF token (nobody else can know the
path) but must come from our own origin when the browser says where they
come from. Pages with a token in their address are sent with
`Referrer-Policy: same-origin` (the token goes back to us only; Chromium sends
`Origin: null` under no-referrer) and, like every page here, `no-store`.
Deciding is `registry.digital`'s: one conditional UPDATE, so a double click
or two administrators at once change the registry once, and the page shows
what was done, by whom and when. The mails go to the outbox in the same
transaction as the change.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session, col, select

from forms import FormsError, parse_organisationsnummer
from portal.signin import CompanyRoles, Customer
from portal.web_common import PREFIX, Kit, PageError, Posted, swedish_day
from registry import (
    Company,
    Conflict,
    Connection,
    InvitationState,
    LinkStatus,
    Person,
    RequestKind,
    RequestState,
    RoleKind,
    client_connections,
)
from registry.digital import (
    Decision,
    Outcome,
    Prepared,
    Refusal,
    RequestRefused,
    RequestView,
    Started,
    admins_of,
    approve_request,
    decline_request,
    link_for_admin,
    open_request,
    pending_requests,
    prepare_disconnection,
    role_of_firm,
    start_disconnection,
    start_dual,
    withdraw_request,
)
from registry.invitations import (
    InvitationDecision,
    InvitationOutcome,
    InvitationRefused,
    Invited,
    confirm_invitation,
    decline_invitation,
    invite_client_admin,
    open_invitation,
    pending_invitation,
    people_with_role,
)
from registry.linkage import RACE
from render.ratelimit import retry_after_header

# "same-origin", not "no-referrer": the token may go back to us only, and with no-referrer
# Chromium sends `Origin: null` on the page's own POSTs, which the origin check refuses.
TOKEN_HEADERS = {"Referrer-Policy": "same-origin"}
NOT_A_FIRM = "Företaget är ingen byrå."
NOT_A_CLIENT = "Klienten finns inte bland byråns klienter."
NO_SUCH_REQUEST = "Förfrågan finns inte."
OTHER_ORIGIN = (
    "Formuläret skickades från en annan webbplats, så vi tog inte emot det. Öppna länken i "
    "mejlet igen och svara därifrån."
)
PAPER = {RequestKind.DISCONNECT: "/blankett/bortkoppling",
         RequestKind.DUAL: "/blankett/dubbelsammankoppling"}  # fmt: skip
NOTICES = {
    "skickad": "Förfrågan är skickad till företagets systemadministratörer. Den gäller i "
    "{days} dagar.",
    "aterkallad": "Förfrågan är återkallad, och företagets systemadministratörer har fått "
    "veta det.",
    "inbjudan": "Inbjudan är skickad till företagets firmatecknare. När en av dem har bekräftat "
    "kan du skicka förfrågan om bortkoppling.",
}
# What the approval and invitation pages say after one's own POST, when the state agrees.
REQUEST_DONE = {
    (Outcome.APPROVED.value, RequestState.APPROVED): "Tack! Du har godkänt förfrågan, och "
    "ändringen är gjord.",
    (Outcome.DECLINED.value, RequestState.DECLINED): "Du har avböjt förfrågan. Ingenting har "
    "ändrats.",
}
INVITATION_DONE = {
    (InvitationOutcome.CONFIRMED.value, InvitationState.CONFIRMED): "Tack! Inbjudan är bekräftad.",
    (InvitationOutcome.DECLINED.value, InvitationState.DECLINED): "Du har avböjt inbjudan. "
    "Ingenting har ändrats.",
}


# -- who may do what ---------------------------------------------------------------------------


def _canonical(orgnr: str) -> str:
    try:
        return parse_organisationsnummer(orgnr).text
    except FormsError:
        return orgnr


def _firm(kit: Kit, me: Customer, orgnr: str, *roles: RoleKind) -> CompanyRoles:
    place = kit.company(me, _canonical(orgnr), *roles)
    if not place.is_firm:
        raise PageError(404, NOT_A_FIRM)
    return place


def _client_of(session: Session, firm: Company, client_orgnr: str) -> Company:
    """A client the firm is connected to now; 404 alike for unknown and not connected."""
    client = session.exec(select(Company).where(Company.orgnr == _canonical(client_orgnr))).first()
    if (
        client is None
        or not session.exec(
            select(Connection.id).where(
                Connection.client_id == client.id,
                Connection.firm_id == firm.id,
                col(Connection.until).is_(None),
            )
        ).first()
    ):
        raise PageError(404, NOT_A_CLIENT)
    return client


def _request_id(value: str) -> int:
    if not value.isdigit() or len(value) > 12:
        raise PageError(404, NO_SUCH_REQUEST)
    return int(value)


def _same_origin(kit: Kit, request: Request) -> None:
    """Refuse a POST that a browser says came from another site."""
    origin = request.headers.get("origin")
    if origin is None:
        return
    ours = {urlsplit(kit.pages.base_url).netloc, request.headers.get("host", "")}
    if urlsplit(origin).netloc not in ours - {""}:
        raise PageError(403, OTHER_ORIGIN)


def _redirect(path: str, **query: str) -> RedirectResponse:
    target = f"{path}?{urlencode(query)}" if query else path
    return RedirectResponse(target, status_code=303, headers=TOKEN_HEADERS)


# -- mails -------------------------------------------------------------------------------------


def _send(
    kit: Kit, session: Session, mails: Iterable[tuple[str, str, Mapping[str, object]]]
) -> None:
    """Queue (address, template, context) mails, one per address: the first that concerns it."""
    seen: set[str] = set()
    for to, template, context in mails:
        if to.lower() in seen:
            continue
        seen.add(to.lower())
        kit.mail(session, to=to, template=template, context=context)


def _mail_request(kit: Kit, session: Session, started: Started) -> None:
    view = started.view
    context: dict[str, object] = {
        "kind": view.kind.value,
        "client_name": view.client.name,
        "client_orgnr": view.client.orgnr,
        "firm_name": view.firm.name,
        "firm_orgnr": view.firm.orgnr,
        "role": view.role.value,
        "requester_name": view.requester.name,
        "payer_from": view.payer_from,
        "days": kit.pages.request_days,
        "valid_until": view.request.expires_at,
        "admins": len(started.links),
    }
    _send(kit, session, [
        (admin.email, "digital_request",
         context | {"name": admin.name, "link": kit.link(f"{PREFIX}/forfragan/{token}")})
        for admin, token in started.links
    ])  # fmt: skip


def _firm_people(session: Session, view: RequestView) -> list[str]:
    return [p.email for p in admins_of(session, view.firm)] + [view.requester.email]


def _mail_approved(kit: Kit, session: Session, decision: Decision) -> None:
    """The paper approval's mails (`approved_firm`, `approved_client`), built the same way."""
    view = decision.view
    assert view is not None and view.request.decided_at is not None
    on = swedish_day(view.request.decided_at)
    common: dict[str, object] = {
        "kind": view.kind.value,
        "client_name": view.client.name,
        "client_orgnr": view.client.orgnr,
        "role": view.role.value,
        "on": on,
        "payer_from": view.payer_from,
        "form_id": None,
        "form_url": kit.pages.form_url,
    }
    firm_context = common | {"firm_name": view.firm.name, "new_firm_name": None}
    mails: list[tuple[str, str, Mapping[str, object]]] = [
        (to, "approved_firm", firm_context) for to in _firm_people(session, view)
    ]
    if view.kind is RequestKind.DUAL:
        for link in client_connections(session, view.client.orgnr, on=on).current:
            if link.firm.id == view.firm.id:
                continue
            other = common | {"firm_name": link.firm.name, "new_firm_name": view.firm.name}
            mails += [(p.email, "approved_firm", other) for p in admins_of(session, link.firm)]
    client_context = common | {
        "firm_name": view.firm.name,
        "firm_orgnr": view.firm.orgnr,
        "takeover": view.kind is RequestKind.DISCONNECT,
    }
    client_people = admins_of(session, view.client) + people_with_role(
        session, view.client, RoleKind.FIRMATECKNARE
    )
    mails += [(p.email, "approved_client", client_context) for p in client_people]
    _send(kit, session, mails)


def _mail_declined(kit: Kit, session: Session, view: RequestView) -> None:
    assert view.request.decided_at is not None
    context = {
        "kind": view.kind.value,
        "client_name": view.client.name,
        "client_orgnr": view.client.orgnr,
        "firm_name": view.firm.name,
        "requested_at": view.request.requested_at,
        "decided_at": view.request.decided_at,
        "form_url": kit.pages.form_url,
    }
    _send(kit, session, [(to, "digital_declined", context) for to in _firm_people(session, view)])


def _mail_withdrawn(kit: Kit, session: Session, view: RequestView) -> None:
    context = {
        "kind": view.kind.value,
        "client_name": view.client.name,
        "firm_name": view.firm.name,
        "firm_orgnr": view.firm.orgnr,
        "requested_at": view.request.requested_at,
    }
    admins = admins_of(session, view.client)
    _send(kit, session, [(p.email, "digital_withdrawn", context) for p in admins])


def _mail_invitation(kit: Kit, session: Session, invited: Invited, inviter: Person) -> None:
    view = invited.view
    context = {
        "client_name": view.client.name,
        "client_orgnr": view.client.orgnr,
        "firm_name": view.firm.name,
        "firm_orgnr": view.firm.orgnr,
        "inviter_name": inviter.name,
        "invitee_name": view.invitation.name,
        "invitee_email": view.invitation.email,
        "days": kit.pages.request_days,
        "valid_until": view.invitation.expires_at,
    }
    _send(kit, session, [
        (p.email, "invitation_request",
         context | {"name": p.name, "link": kit.link(f"{PREFIX}/inbjudan/{token}")})
        for p, token in invited.links
    ])  # fmt: skip


def _mail_invitation_decided(kit: Kit, session: Session, decision: InvitationDecision) -> None:
    view = decision.view
    assert view is not None
    if decision.outcome is InvitationOutcome.CONFIRMED:
        assert decision.admin is not None
        next_path = f"{PREFIX}/byra/{view.firm.orgnr}/klienter/{view.client.orgnr}/koppla-bort"
        _send(kit, session, [
            (decision.admin.email, "invitation_welcome", {
                "name": decision.admin.name,
                "client_name": view.client.name,
                "client_orgnr": view.client.orgnr,
                "firm_name": view.firm.name,
                "sign_in_url": kit.link(f"{PREFIX}/logga-in"),
            }),
            (view.inviter.email, "invitation_confirmed", {
                "client_name": view.client.name,
                "invitee_name": decision.admin.name,
                "next_url": kit.link(next_path),
            }),
        ])  # fmt: skip
    elif decision.outcome is InvitationOutcome.DECLINED:
        _send(kit, session, [
            (view.inviter.email, "invitation_declined", {
                "client_name": view.client.name,
                "invitee_name": view.invitation.name,
                "form_url": kit.pages.form_url,
            }),
        ])  # fmt: skip


# -- the pages ---------------------------------------------------------------------------------


def _person(session: Session, me: Customer) -> Person:
    found = session.get(Person, me.id)
    assert found is not None
    return found


def _company(session: Session, place: CompanyRoles) -> Company:
    found = session.get(Company, place.company.id)
    assert found is not None
    return found


def add_routes(router: APIRouter, kit: Kit) -> None:
    def disconnect_page(
        session: Session,
        me: Customer,
        place: CompanyRoles,
        client: Company,
        *,
        status: int = 200,
        error: str = "",
        notice: str = "",
        invite_error: str = "",
        typed: Mapping[str, str] | None = None,
    ) -> HTMLResponse:
        firm = _company(session, place)
        prepared: Prepared | None = None
        refusal: RequestRefused | None = None
        try:
            prepared = prepare_disconnection(
                session, firm=firm, client=client, requester=_person(session, me), now=kit.now()
            )
        except RequestRefused as exc:
            refusal = exc
        no_admin = refusal is not None and refusal.reason is Refusal.NO_ADMIN
        assert client.id is not None
        waiting = pending_invitation(session, client.id, now=kit.now()) if no_admin else None
        subs = client_connections(session, client.orgnr, on=kit.today()).subscriptions
        return kit.render(
            "request_disconnect.html",
            customer=me,
            status=status,
            company=place,
            tab="clients",
            firm=firm,
            client=client,
            prepared=prepared,
            refusal=refusal,
            no_admin=no_admin,
            waiting=waiting,
            paper=refusal is not None and refusal.reason in (Refusal.EXCLUDED, Refusal.NO_ADMIN),
            paper_path=PAPER[RequestKind.DISCONNECT],
            paper_values={
                "client_name": client.name,
                "client_orgnr": client.orgnr,
                "client_subscription": subs[0].subscription.number if subs else "",
                "firm_name": firm.name,
                "firm_orgnr": firm.orgnr,
                "firm_role": (prepared.role if prepared else role_of_firm(firm)) or "",
                "after": "takeover",
                "firm_signatory_name": me.person.name,
            },
            base=f"{PREFIX}/byra/{firm.orgnr}",
            error=error,
            notice=notice,
            invite_error=invite_error,
            typed=typed or {},
            days=kit.pages.request_days,
        )

    @router.get(f"{PREFIX}/byra/{{orgnr}}/klienter/{{client_orgnr}}/koppla-bort",
                response_class=HTMLResponse)  # fmt: skip
    def disconnect(
        orgnr: str,
        client_orgnr: str,
        request: Request,
        me: Customer = Depends(kit.customer),
        session: Session = Depends(kit.db),
    ) -> Response:
        place = _firm(kit, me, orgnr, RoleKind.SYSADMIN)
        client = _client_of(session, place.company, client_orgnr)
        notice = NOTICES["inbjudan"] if request.query_params.get("klart") == "inbjudan" else ""
        return disconnect_page(session, me, place, client, notice=notice)

    @router.post(f"{PREFIX}/byra/{{orgnr}}/klienter/{{client_orgnr}}/koppla-bort")
    def send_disconnect(
        orgnr: str,
        client_orgnr: str,
        p: Posted = Depends(kit.posted),
        session: Session = Depends(kit.db),
    ) -> Response:
        place = _firm(kit, p.customer, orgnr, RoleKind.SYSADMIN)
        client = _client_of(session, place.company, client_orgnr)
        try:
            started = start_disconnection(
                session, firm=_company(session, place), client=client,
                requester=_person(session, p.customer), now=kit.now(),
                lifetime=_lifetime(kit),
            )  # fmt: skip
        except RequestRefused as exc:
            session.rollback()
            return disconnect_page(session, p.customer, place, client, status=409,
                                   error=exc.message)  # fmt: skip
        _mail_request(kit, session, started)
        session.commit()
        return _redirect(f"{PREFIX}/byra/{place.company.orgnr}/forfragningar", klart="skickad")

    @router.post(f"{PREFIX}/byra/{{orgnr}}/klienter/{{client_orgnr}}/bjud-in")
    def invite(
        orgnr: str,
        client_orgnr: str,
        p: Posted = Depends(kit.posted),
        session: Session = Depends(kit.db),
    ) -> Response:
        place = _firm(kit, p.customer, orgnr, RoleKind.SYSADMIN)
        client = _client_of(session, place.company, client_orgnr)
        typed = {"name": p.get("namn")[:200], "email": p.get("epost")[:254]}
        inviter = _person(session, p.customer)
        try:
            invited = invite_client_admin(
                session, firm=_company(session, place), client=client, inviter=inviter,
                name=typed["name"], email=typed["email"], now=kit.now(), lifetime=_lifetime(kit),
            )  # fmt: skip
        except InvitationRefused as exc:
            session.rollback()
            return disconnect_page(session, p.customer, place, client, status=409,
                                   invite_error=exc.message, typed=typed)  # fmt: skip
        _mail_invitation(kit, session, invited, inviter)
        session.commit()
        return _redirect(
            f"{PREFIX}/byra/{place.company.orgnr}/klienter/{client.orgnr}/koppla-bort",
            klart="inbjudan",
        )

    def dual_page(
        me: Customer,
        place: CompanyRoles,
        *,
        status: int = 200,
        typed: Mapping[str, str] | None = None,
        refusal: RequestRefused | None = None,
        error: str = "",
        headers: Mapping[str, str] | None = None,
    ) -> HTMLResponse:
        return kit.render(
            "request_dual.html",
            customer=me,
            status=status,
            headers=headers,
            company=place,
            tab="requests",
            firm=place.company,
            role=role_of_firm(place.company),
            typed=typed or {},
            refusal=refusal,
            field_error=refusal.field if refusal is not None else None,
            no_admin=refusal is not None and refusal.reason is Refusal.NO_ADMIN,
            paper_path=PAPER[RequestKind.DUAL],
            error=error or (refusal.message if refusal is not None else ""),
            base=f"{PREFIX}/byra/{place.company.orgnr}",
        )

    @router.get(f"{PREFIX}/byra/{{orgnr}}/dubbelsammankoppling", response_class=HTMLResponse)
    def dual(orgnr: str, me: Customer = Depends(kit.customer)) -> Response:
        return dual_page(me, _firm(kit, me, orgnr, RoleKind.SYSADMIN))

    @router.post(f"{PREFIX}/byra/{{orgnr}}/dubbelsammankoppling", response_class=HTMLResponse)
    def send_dual(
        orgnr: str, p: Posted = Depends(kit.posted), session: Session = Depends(kit.db)
    ) -> Response:
        place = _firm(kit, p.customer, orgnr, RoleKind.SYSADMIN)
        typed = {"orgnr": p.get("orgnr")[:20], "abonnemang": p.get("abonnemang")[:20]}
        # Every well-formed pair counts against a limit before the registry is read, so
        # guessing a client's subscription number is slow (as on the public form page).
        if _well_formed(typed):
            wait = kit.pages.limiter.hit(
                [f"dual:{p.customer.id}", f"dual-orgnr:{_canonical(typed['orgnr'])}"]
            )
            if wait:
                minutes = max(1, round(wait / 60))
                return dual_page(
                    p.customer, place, status=429, typed=typed,
                    error=f"Du har frågat efter många företag på kort tid. Försök igen om "
                    f"ungefär {minutes} minut{'er' if minutes != 1 else ''}.",
                    headers={"Retry-After": retry_after_header(wait)},
                )  # fmt: skip
        try:
            started = start_dual(
                session, firm=_company(session, place), requester=_person(session, p.customer),
                client_orgnr=typed["orgnr"], subscription=typed["abonnemang"], now=kit.now(),
                lifetime=_lifetime(kit),
            )  # fmt: skip
        except RequestRefused as exc:
            session.rollback()
            status = 422 if exc.field else 409
            return dual_page(p.customer, place, status=status, typed=typed, refusal=exc)
        _mail_request(kit, session, started)
        session.commit()
        return _redirect(f"{PREFIX}/byra/{place.company.orgnr}/forfragningar", klart="skickad")

    @router.get(f"{PREFIX}/byra/{{orgnr}}/forfragningar", response_class=HTMLResponse)
    def firm_requests(
        orgnr: str,
        request: Request,
        me: Customer = Depends(kit.customer),
        session: Session = Depends(kit.db),
    ) -> Response:
        place = _firm(kit, me, orgnr)
        assert place.company.id is not None
        views = [v for v in pending_requests(session, place.company.id, now=kit.now())
                 if v.firm.id == place.company.id]  # fmt: skip
        return _list_page(
            kit, me, place, views, side="firm", code=request.query_params.get("klart")
        )

    @router.get(f"{PREFIX}/foretag/{{orgnr}}/forfragningar", response_class=HTMLResponse)
    def client_requests(
        orgnr: str,
        request: Request,
        me: Customer = Depends(kit.customer),
        session: Session = Depends(kit.db),
    ) -> Response:
        place = kit.company(me, _canonical(orgnr))
        assert place.company.id is not None
        views = [v for v in pending_requests(session, place.company.id, now=kit.now())
                 if v.client.id == place.company.id]  # fmt: skip
        return _list_page(kit, me, place, views, side="client",
                          code=request.query_params.get("klart"))  # fmt: skip

    @router.post(f"{PREFIX}/byra/{{orgnr}}/forfragningar/{{request_id}}/aterkalla")
    def withdraw(
        orgnr: str,
        request_id: str,
        p: Posted = Depends(kit.posted),
        session: Session = Depends(kit.db),
    ) -> Response:
        place = _firm(kit, p.customer, orgnr, RoleKind.SYSADMIN)
        decision = withdraw_request(
            session, _request_id(request_id), firm=_company(session, place),
            person=_person(session, p.customer), now=kit.now(),
        )  # fmt: skip
        if decision.outcome is Outcome.UNKNOWN:
            raise PageError(404, NO_SUCH_REQUEST)
        if decision.outcome is Outcome.WITHDRAWN and decision.view is not None:
            _mail_withdrawn(kit, session, decision.view)
        session.commit()
        code = "aterkallad" if decision.outcome is Outcome.WITHDRAWN else decision.outcome.value
        return _redirect(f"{PREFIX}/byra/{place.company.orgnr}/forfragningar", klart=code)

    @router.post(f"{PREFIX}/foretag/{{orgnr}}/forfragningar/{{request_id}}/oppna")
    def open_as_admin(
        orgnr: str,
        request_id: str,
        p: Posted = Depends(kit.posted),
        session: Session = Depends(kit.db),
    ) -> Response:
        place = kit.company(p.customer, _canonical(orgnr), RoleKind.SYSADMIN)
        token = link_for_admin(
            session, _request_id(request_id), client=_company(session, place),
            person=_person(session, p.customer), now=kit.now(),
        )  # fmt: skip
        if token is None:
            raise PageError(404, "Förfrågan väntar inte längre på svar.")
        session.commit()
        return _redirect(f"{PREFIX}/forfragan/{token}")

    # -- the mailed links

    def request_page(session: Session, token: str, code: str | None) -> HTMLResponse:
        opened = open_request(session, token, now=kit.now())
        view = opened.view
        if view is None:
            return kit.render("request_page.html", customer=None, status=404,
                              headers=TOKEN_HEADERS, view=None)  # fmt: skip
        gone = view.state in (RequestState.EXPIRED, RequestState.WITHDRAWN)
        return kit.render(
            "request_page.html",
            customer=None,
            status=410 if gone else 200,
            headers=TOKEN_HEADERS,
            view=view,
            token=token,
            may_decide=opened.may_decide,
            not_admin=view.state is RequestState.PENDING
            and not opened.may_decide
            and opened.link_status is LinkStatus.VALID,
            done=REQUEST_DONE.get((code or "", view.state), ""),
            grants_path=f"{PREFIX}/foretag/{view.client.orgnr}?"
            + urlencode({"byra": view.firm.orgnr}),
        )

    @router.get(f"{PREFIX}/forfragan/{{token}}", response_class=HTMLResponse)
    def show_request(token: str, request: Request, session: Session = Depends(kit.db)) -> Response:
        return request_page(session, token, request.query_params.get("klart"))

    def decide(token: str, request: Request, act: str) -> Response:
        _same_origin(kit, request)
        decision = _decide_request(kit, token, act)
        return _redirect(f"{PREFIX}/forfragan/{token}", klart=decision.outcome.value)

    @router.post(f"{PREFIX}/forfragan/{{token}}/godkann")
    def approve(token: str, request: Request) -> Response:
        return decide(token, request, "approve")

    @router.post(f"{PREFIX}/forfragan/{{token}}/avsla")
    def decline(token: str, request: Request) -> Response:
        return decide(token, request, "decline")

    def invitation_page(session: Session, token: str, code: str | None) -> HTMLResponse:
        opened = open_invitation(session, token, now=kit.now())
        view = opened.view
        if view is None:
            return kit.render("invitation_page.html", customer=None, status=404,
                              headers=TOKEN_HEADERS, view=None)  # fmt: skip
        return kit.render(
            "invitation_page.html",
            customer=None,
            status=410 if view.state is InvitationState.EXPIRED else 200,
            headers=TOKEN_HEADERS,
            view=view,
            token=token,
            may_decide=opened.may_decide,
            not_signatory=view.state is InvitationState.PENDING and not opened.may_decide,
            done=INVITATION_DONE.get((code or "", view.state), ""),
        )

    @router.get(f"{PREFIX}/inbjudan/{{token}}", response_class=HTMLResponse)
    def show_invitation(
        token: str, request: Request, session: Session = Depends(kit.db)
    ) -> Response:
        return invitation_page(session, token, request.query_params.get("klart"))

    @router.post(f"{PREFIX}/inbjudan/{{token}}")
    def decide_invitation(
        token: str,
        request: Request,
        data: dict[str, str] = Depends(kit.form),
        session: Session = Depends(kit.db),
    ) -> Response:
        _same_origin(kit, request)
        act = confirm_invitation if data.get("svar") == "bekrafta" else decline_invitation
        decision = act(session, token, now=kit.now())
        _mail_invitation_decided(kit, session, decision)
        session.commit()
        return _redirect(f"{PREFIX}/inbjudan/{token}", klart=decision.outcome.value)


def _lifetime(kit: Kit) -> dt.timedelta:
    return dt.timedelta(days=kit.pages.request_days)


def _well_formed(typed: Mapping[str, str]) -> bool:
    try:
        parse_organisationsnummer(typed["orgnr"])
    except FormsError:
        return False
    digits = "".join(ch for ch in typed["abonnemang"] if ch.isdigit())
    return len(digits) == 8


def _decide_request(kit: Kit, token: str, act: str) -> Decision:
    """Approve or decline in a transaction of its own, with its mails; once more on a race."""
    for attempt in (1, 2):
        with Session(kit.pages.engine) as session:
            try:
                if act == "approve":
                    decision = approve_request(session, token, now=kit.now())
                else:
                    decision = decline_request(session, token, now=kit.now())
            except Conflict:
                # The registry changed under the approval twice in a row: let the person retry.
                session.rollback()
                if attempt == 2:
                    raise PageError(409, RACE) from None
                continue
            if decision.outcome is Outcome.APPROVED:
                _mail_approved(kit, session, decision)
            elif decision.outcome is Outcome.DECLINED and decision.view is not None:
                _mail_declined(kit, session, decision.view)
            session.commit()
            return decision
    raise AssertionError("unreachable")  # pragma: no cover


def _list_page(
    kit: Kit,
    me: Customer,
    place: CompanyRoles,
    views: list[RequestView],
    *,
    side: str,
    code: str | None,
) -> HTMLResponse:
    notice = NOTICES.get(code or "", "").format(days=kit.pages.request_days)
    problem = {
        Outcome.EXPIRED.value: "Förfrågan hade redan gått ut.",
        Outcome.DECIDED.value: "Förfrågan var redan besvarad eller återkallad.",
        Outcome.NOT_ALLOWED.value: "Bara en systemadministratör på byrån kan återkalla förfrågan.",
    }.get(code or "", "")
    return kit.render(
        "request_list.html",
        customer=me,
        company=place,
        tab="requests",
        side=side,
        views=views,
        notice=notice,
        problem=problem,
        sysadmin=RoleKind.SYSADMIN in place.roles,
        base=f"{PREFIX}/{'byra' if side == 'firm' else 'foretag'}/{place.company.orgnr}",
    )
