"""Digital requests: a firm asks, a client's system administrator approves by a mailed link.

Two kinds (`RequestKind`, seed 002 and the digital path in DESIGN.md):

* a digital disconnection, started by a firm's system administrator for one
  of its clients; not offered to firms on the exclusion list
  (`DigitalExclusion`), nor for clients without a system administrator (they
  use the paper form, or the firm invites one: `registry.invitations`);
* a digital dual connection, asked for by a new firm's system administrator
  with the client's organisationsnummer and subscription number. Like the
  public form page, a pair that does not belong together gets the same answer
  whether or not the organisationsnummer exists; only a matching pair earns a
  specific answer ("already connected"). The firm's kind decides the role.

Each of the client's system administrators gets a link of their own (valid
`REQUEST_LIFETIME`); the link is the proof, no sign-in needed. Exactly once:
approving is one conditional UPDATE (`state = 'approved' ... WHERE state =
'pending' AND expires_at > now`), and only the transaction that wins it plans
and applies the linkage, with the paper path's own rules and audit events
(`apply_disconnect`, `apply_dual`), in the same transaction. When the plan
made then finds nothing left to do or a rule broken (the connection ended on
paper meanwhile, say), the request becomes OBSOLETE with a Swedish note and
the registry does not change; so too when a paper approval of the same change
commits in the same instant (applying is rolled back to a savepoint and
planned again). A pending request past `expires_at` reads as
EXPIRED everywhere, whether or not `expire_requests` has run.

Every function takes the caller's session and an aware `now`, and never commits.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from enum import StrEnum
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session, col, or_, select

from forms import InvalidValue, parse_organisationsnummer, parse_subscription_number
from registry.digital_models import (
    AdminInvitation,
    DigitalExclusion,
    DigitalRequest,
    LinkPurpose,
    Program,
    ProgramGrant,
    RequestKind,
    RequestState,
)
from registry.disconnect import (
    DisconnectionRequest,
    apply_disconnect,
    next_billing_period,
    plan_disconnect,
)
from registry.dual import DualConnectionRequest, apply_dual, plan_dual
from registry.errors import Conflict, RegistryError
from registry.grants import end_grants_of_connection
from registry.invitations import expire_invitations, has_role, people_with_role
from registry.linkage import ROLE_NAMES, LinkagePlan
from registry.links import LinkStatus, find_link, new_link, use_links_of
from registry.models import (
    Company,
    CompanyKind,
    Connection,
    ConnectionRole,
    Person,
    RoleKind,
    Subscription,
    utcnow,
)
from registry.queries import company_view, find_client_by_subscription, record_event

REQUEST_LIFETIME = dt.timedelta(days=7)
SWEDEN = ZoneInfo("Europe/Stockholm")
NO_MATCH = "Abonnemangsnumret hör inte till det organisationsnumret. Kontrollera båda mot fakturan."
KIND_WORDS = {RequestKind.DISCONNECT: "bortkoppling", RequestKind.DUAL: "dubbelsammankoppling"}


class Refusal(StrEnum):
    NOT_ALLOWED = "not_allowed"  # the asker is not the firm's system administrator
    NOT_A_FIRM = "not_a_firm"
    EXCLUDED = "excluded"  # the firm is on the exclusion list
    NOT_CONNECTED = "not_connected"
    NO_ADMIN = "no_admin"  # the client has no system administrator to approve
    PENDING = "pending"  # the same request is waiting already
    INVALID = "invalid"  # a number that is not one (`field` says which)
    NO_MATCH = "no_match"  # orgnr and subscription number do not belong together
    ALREADY = "already"  # the registry already is as asked
    NOT_POSSIBLE = "not_possible"  # the paper rules refuse it (the message says why)


class RequestRefused(RegistryError):  # noqa: N818
    """A request that cannot be started; `reason` for the page, the message in Swedish."""

    def __init__(self, reason: Refusal, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.field = field


@dataclass(frozen=True)
class ConsultantAccess:
    """A consultant of the firm with open grants at the client: access a disconnection ends."""

    person: Person
    programs: tuple[Program, ...]


@dataclass(frozen=True)
class RequestView:
    request: DigitalRequest
    state: RequestState  # a pending request past its expiry reads as EXPIRED
    firm: Company
    client: Company
    subscription: Subscription
    requester: Person
    decider: Person | None
    payer_from: dt.date | None  # pending disconnection: the firm pays now, the client from then
    access: tuple[ConsultantAccess, ...]  # pending disconnection: the access that ends

    @property
    def kind(self) -> RequestKind:
        return RequestKind(self.request.kind)

    @property
    def role(self) -> ConnectionRole:
        return ConnectionRole(self.request.role)

    @property
    def id(self) -> int:
        assert self.request.id is not None
        return self.request.id


@dataclass(frozen=True)
class Started:
    view: RequestView
    links: tuple[tuple[Person, str], ...]  # each client system administrator and their token


class Outcome(StrEnum):
    APPROVED = "approved"
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"
    OBSOLETE = "obsolete"  # won, but the registry no longer allows it; nothing changed
    DECIDED = "decided"  # somebody else decided it first; the view says who and when
    EXPIRED = "expired"
    UNKNOWN = "unknown"  # no such link or request
    NOT_ALLOWED = "not_allowed"  # the person no longer holds the role it takes


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    view: RequestView | None
    plan: LinkagePlan | None = None  # APPROVED: what was carried out
    message: str = ""  # OBSOLETE: why, in Swedish


@dataclass(frozen=True)
class Opened:
    link_status: LinkStatus
    view: RequestView | None  # None for a link that opens nothing
    person: Person | None  # whom the link was mailed to
    may_decide: bool  # a valid link, a pending request, the person still its client's admin


def local_day(now: dt.datetime) -> dt.date:
    return now.astimezone(SWEDEN).date()


# -- reading -----------------------------------------------------------------------------------


def effective_state(request: DigitalRequest, now: dt.datetime) -> RequestState:
    state = RequestState(request.state)
    if state is RequestState.PENDING and request.expires_at <= now:
        return RequestState.EXPIRED
    return state


def _access(session: Session, client_id: int, firm_id: int) -> tuple[ConsultantAccess, ...]:
    rows = session.exec(
        select(ProgramGrant, Person)
        .join(Person, col(Person.id) == col(ProgramGrant.person_id))
        .where(
            ProgramGrant.client_id == client_id,
            ProgramGrant.firm_id == firm_id,
            col(ProgramGrant.ended_at).is_(None),
        )
        .order_by(col(Person.name), col(Person.id))
    ).all()
    grouped: dict[int, tuple[Person, list[Program]]] = {}
    order = list(Program)
    for grant, person in rows:
        assert person.id is not None
        grouped.setdefault(person.id, (person, []))[1].append(Program(grant.program))
    return tuple(
        ConsultantAccess(p, tuple(sorted(programs, key=order.index)))
        for p, programs in grouped.values()
    )


def _firm_pays(
    session: Session, client: Company, firm: Company, sub: Subscription, on: dt.date
) -> bool:
    view = company_view(session, client.orgnr, on=on)
    return any(s.subscription.id == sub.id and s.payer.id == firm.id for s in view.subscriptions)


def request_view(session: Session, request: DigitalRequest, now: dt.datetime) -> RequestView:
    firm = session.get(Company, request.firm_id)
    client = session.get(Company, request.client_id)
    sub = session.get(Subscription, request.subscription_id)
    requester = session.get(Person, request.requested_by)
    assert firm is not None and client is not None and sub is not None  # foreign keys
    assert requester is not None
    decider = session.get(Person, request.decided_by) if request.decided_by else None
    state = effective_state(request, now)
    payer_from: dt.date | None = None
    access: tuple[ConsultantAccess, ...] = ()
    if request.kind == RequestKind.DISCONNECT and state is RequestState.PENDING:
        today = local_day(now)
        if _firm_pays(session, client, firm, sub, today):
            payer_from = next_billing_period(today)
        assert client.id is not None and firm.id is not None
        access = _access(session, client.id, firm.id)
    return RequestView(request, state, firm, client, sub, requester, decider, payer_from, access)


def open_request(session: Session, token: str | None, *, now: dt.datetime) -> Opened:
    """What a request link shows, without using it."""
    found = find_link(session, token, LinkPurpose.REQUEST, now)
    if found.link is None or found.link.target_id is None:
        return Opened(LinkStatus.UNKNOWN, None, None, False)
    request = session.get(DigitalRequest, found.link.target_id)
    person = session.get(Person, found.link.person_id)
    if request is None or person is None:
        return Opened(LinkStatus.UNKNOWN, None, None, False)
    view = request_view(session, request, now)
    may = (
        found.status is LinkStatus.VALID
        and view.state is RequestState.PENDING
        and has_role(session, person, view.client, RoleKind.SYSADMIN)
    )
    return Opened(found.status, view, person, may)


def pending_requests(
    session: Session, company_id: int, *, now: dt.datetime | None = None
) -> list[RequestView]:
    """The company's requests waiting for an answer, oldest first: those it started as a firm
    (`view.firm.id == company_id`) and those waiting for it as a client. `now`: the wall clock
    when None."""
    at = now if now is not None else utcnow()
    rows = session.exec(
        select(DigitalRequest)
        .where(
            or_(
                col(DigitalRequest.firm_id) == company_id,
                col(DigitalRequest.client_id) == company_id,
            ),
            DigitalRequest.state == RequestState.PENDING,
            col(DigitalRequest.expires_at) > at,
        )
        .order_by(col(DigitalRequest.requested_at), col(DigitalRequest.id))
    ).all()
    return [request_view(session, r, at) for r in rows]


def get_request(session: Session, request_id: int, *, now: dt.datetime) -> RequestView | None:
    request = session.get(DigitalRequest, request_id)
    return request_view(session, request, now) if request is not None else None


# -- starting ----------------------------------------------------------------------------------


def _require_sysadmin(session: Session, person: Person, firm: Company) -> None:
    if not has_role(session, person, firm, RoleKind.SYSADMIN):
        raise RequestRefused(
            Refusal.NOT_ALLOWED, f"Bara en systemadministratör på {firm.name} kan göra det här."
        )
    if not CompanyKind(firm.kind).is_firm:
        raise RequestRefused(Refusal.NOT_A_FIRM, f"{firm.name} är ingen byrå i vårt register.")


def _waiting(
    session: Session, kind: RequestKind, client: Company, firm: Company, now: dt.datetime
) -> DigitalRequest | None:
    return session.exec(
        select(DigitalRequest).where(
            DigitalRequest.kind == kind,
            DigitalRequest.client_id == client.id,
            DigitalRequest.firm_id == firm.id,
            DigitalRequest.state == RequestState.PENDING,
            col(DigitalRequest.expires_at) > now,
        )
    ).first()


def _refuse_waiting(
    session: Session, kind: RequestKind, client: Company, firm: Company, now: dt.datetime
) -> None:
    if _waiting(session, kind, client, firm, now) is not None:
        raise RequestRefused(
            Refusal.PENDING,
            f"En förfrågan om {KIND_WORDS[kind]} av {client.name} väntar redan på svar från "
            "företagets systemadministratörer.",
        )


@dataclass(frozen=True)
class Prepared:
    """A request that may be sent: what it asks, of whom, and what it would change."""

    kind: RequestKind
    firm: Company
    client: Company
    role: ConnectionRole
    subscription: Subscription
    admins: tuple[Person, ...]  # the client's system administrators, who get a link each
    since: dt.date | None  # disconnection: when the connection began
    payer_from: dt.date | None  # disconnection: the firm pays now, the client from then
    access: tuple[ConsultantAccess, ...]  # disconnection: the consultants' access that ends


def _create(
    session: Session,
    prepared: Prepared,
    *,
    requester: Person,
    now: dt.datetime,
    lifetime: dt.timedelta,
) -> Started:
    client, firm, sub = prepared.client, prepared.firm, prepared.subscription
    assert client.id is not None and firm.id is not None and sub.id is not None
    assert requester.id is not None
    request = DigitalRequest(
        kind=prepared.kind,
        client_id=client.id,
        firm_id=firm.id,
        role=prepared.role,
        subscription_id=sub.id,
        requested_by=requester.id,
        requested_at=now,
        expires_at=now + lifetime,
    )
    session.add(request)
    session.flush()
    assert request.id is not None
    record_event(
        session,
        actor=requester.email,
        action="digital_request.created",
        subject=f"digital_request:{request.id}",
        after={
            "kind": prepared.kind.value,
            "client": client.orgnr,
            "client_name": client.name,
            "firm": firm.orgnr,
            "firm_name": firm.name,
            "role": prepared.role.value,
            "subscription": sub.number,
            "expires_at": request.expires_at.isoformat(),
            "sent_to": [a.email for a in prepared.admins],
        },
        now=now,
    )
    links = []
    for admin in prepared.admins:
        assert admin.id is not None
        token = new_link(
            session,
            LinkPurpose.REQUEST,
            person_id=admin.id,
            lifetime=lifetime,
            now=now,
            target_id=request.id,
        )
        links.append((admin, token))
    return Started(request_view(session, request, now), tuple(links))


def _is_excluded(session: Session, firm: Company) -> bool:
    return session.get(DigitalExclusion, firm.id) is not None


def prepare_disconnection(
    session: Session, *, firm: Company, client: Company, requester: Person, now: dt.datetime
) -> Prepared:
    """What a digital disconnection of `client` from `firm` would ask and change; writes nothing.

    `RequestRefused` says why it cannot be sent: the exclusion list, no
    connection, no system administrator at the client (`Refusal.NO_ADMIN`:
    the paper form, or an invitation), one already waiting, or the paper rules.
    """
    _require_sysadmin(session, requester, firm)
    if _is_excluded(session, firm):
        raise RequestRefused(
            Refusal.EXCLUDED,
            f"Digital bortkoppling erbjuds inte för {firm.name}. Fyll i blanketten Bortkoppling "
            "i stället; den skrivs under av både företaget och byrån.",
        )
    open_conns = session.exec(
        select(Connection).where(
            Connection.client_id == client.id,
            Connection.firm_id == firm.id,
            col(Connection.until).is_(None),
        )
    ).all()
    if not open_conns:
        raise RequestRefused(
            Refusal.NOT_CONNECTED, f"{client.name} är inte klient hos {firm.name}."
        )
    conn = next((c for c in open_conns if c.role.firm_kind == firm.kind), open_conns[0])
    role = ConnectionRole(conn.role)
    admins = people_with_role(session, client, RoleKind.SYSADMIN)
    if not admins:
        raise RequestRefused(
            Refusal.NO_ADMIN,
            f"{client.name} har ingen systemadministratör som kan godkänna en digital "
            "bortkoppling. Fyll i blanketten Bortkoppling i stället, eller bjud in en "
            "administratör hos företaget.",
        )
    _refuse_waiting(session, RequestKind.DISCONNECT, client, firm, now)
    today = local_day(now)
    subs = company_view(session, client.orgnr, on=today).subscriptions
    if not subs:
        raise RequestRefused(
            Refusal.NOT_POSSIBLE, f"{client.name} har inget abonnemang i vårt register."
        )
    # The subscription the firm pays, if any: that is the bill the disconnection moves.
    paid = next((s for s in subs if s.payer.id == firm.id), None)
    chosen = (paid or subs[0]).subscription
    plan = plan_disconnect(session, _disconnection(client, firm, role, chosen, today))
    if plan.problems:
        raise RequestRefused(Refusal.NOT_POSSIBLE, " ".join(plan.problems))
    assert client.id is not None and firm.id is not None
    return Prepared(
        kind=RequestKind.DISCONNECT,
        firm=firm,
        client=client,
        role=role,
        subscription=chosen,
        admins=tuple(admins),
        since=conn.since,
        payer_from=next_billing_period(today) if paid is not None else None,
        access=_access(session, client.id, firm.id),
    )


def start_disconnection(
    session: Session,
    *,
    firm: Company,
    client: Company,
    requester: Person,
    now: dt.datetime,
    lifetime: dt.timedelta = REQUEST_LIFETIME,
) -> Started:
    """Ask the client's system administrators to approve ending the firm's connection.

    Refused as `prepare_disconnection` says; otherwise the request and a link
    for each of the client's system administrators (the caller mails them).
    """
    prepared = prepare_disconnection(
        session, firm=firm, client=client, requester=requester, now=now
    )
    return _create(session, prepared, requester=requester, now=now, lifetime=lifetime)


def role_of_firm(firm: Company) -> ConnectionRole | None:
    """The role a firm of this kind is connected in: accounting or audit."""
    kind = CompanyKind(firm.kind)
    for role in ConnectionRole:
        if role.firm_kind is kind:
            return role
    return None


def prepare_dual(
    session: Session,
    *,
    firm: Company,
    requester: Person,
    client_orgnr: str,
    subscription: str,
    now: dt.datetime,
) -> Prepared:
    """What asking to connect `firm` (the asker's) to a client would send; writes nothing.

    The pair of numbers must belong together (`Refusal.NO_MATCH`, the same
    words whether or not the organisationsnummer exists); after that the
    answers may name the client.
    """
    _require_sysadmin(session, requester, firm)
    role = role_of_firm(firm)
    if role is None:  # pragma: no cover - _require_sysadmin refused non-firms
        raise RequestRefused(Refusal.NOT_A_FIRM, f"{firm.name} är ingen byrå i vårt register.")
    try:
        orgnr = parse_organisationsnummer(client_orgnr).text
    except InvalidValue as exc:
        raise RequestRefused(Refusal.INVALID, exc.message, field="client_orgnr") from None
    try:
        number = parse_subscription_number(subscription)
    except InvalidValue as exc:
        raise RequestRefused(Refusal.INVALID, exc.message, field="subscription") from None
    client = find_client_by_subscription(session, orgnr, number)
    if client is None:
        raise RequestRefused(Refusal.NO_MATCH, NO_MATCH, field="subscription")
    sub = session.exec(select(Subscription).where(Subscription.number == number)).one()
    if client.id == firm.id:
        raise RequestRefused(
            Refusal.NOT_POSSIBLE,
            "Organisationsnumret är byråns eget; byrån kan inte kopplas till sig själv.",
        )
    plan = plan_dual(session, _dual(client, firm, role, sub, local_day(now)))
    if plan.already_done:
        raise RequestRefused(
            Refusal.ALREADY,
            f"{firm.name} är redan kopplad till {client.name} som {ROLE_NAMES[role]}.",
        )
    if plan.problems:
        raise RequestRefused(Refusal.NOT_POSSIBLE, " ".join(plan.problems))
    admins = people_with_role(session, client, RoleKind.SYSADMIN)
    if not admins:
        raise RequestRefused(
            Refusal.NO_ADMIN,
            f"{client.name} har ingen systemadministratör som kan godkänna förfrågan digitalt. "
            "Fyll i blanketten Dubbelsammankoppling i stället.",
        )
    _refuse_waiting(session, RequestKind.DUAL, client, firm, now)
    return Prepared(
        kind=RequestKind.DUAL,
        firm=firm,
        client=client,
        role=role,
        subscription=sub,
        admins=tuple(admins),
        since=None,
        payer_from=None,
        access=(),
    )


def start_dual(
    session: Session,
    *,
    firm: Company,
    requester: Person,
    client_orgnr: str,
    subscription: str,
    now: dt.datetime,
    lifetime: dt.timedelta = REQUEST_LIFETIME,
) -> Started:
    """Ask a client's system administrators to approve connecting `firm` (the asker's firm).

    Refused as `prepare_dual` says; otherwise the request and a link for each
    of the client's system administrators (the caller mails them).
    """
    prepared = prepare_dual(
        session,
        firm=firm,
        requester=requester,
        client_orgnr=client_orgnr,
        subscription=subscription,
        now=now,
    )
    return _create(session, prepared, requester=requester, now=now, lifetime=lifetime)


# -- deciding ----------------------------------------------------------------------------------


def _disconnection(
    client: Company, firm: Company, role: ConnectionRole, sub: Subscription, on: dt.date
) -> DisconnectionRequest:
    return DisconnectionRequest(
        client_orgnr=client.orgnr,
        subscription=sub.number,
        firm_orgnr=firm.orgnr,
        role=role,
        takeover=True,
        on=on,
        client_name=client.name,
        firm_name=firm.name,
    )


def _dual(
    client: Company, firm: Company, role: ConnectionRole, sub: Subscription, on: dt.date
) -> DualConnectionRequest:
    return DualConnectionRequest(
        client_orgnr=client.orgnr,
        subscription=sub.number,
        firm_orgnr=firm.orgnr,
        role=role,
        on=on,
        client_name=client.name,
        firm_name=firm.name,
    )


def _move(
    session: Session,
    request: DigitalRequest,
    state: RequestState,
    person: Person,
    now: dt.datetime,
    *,
    firm_id: int | None = None,
) -> bool:
    """The one conditional UPDATE: pending and unexpired to `state`; True for the winner."""
    conditions = [
        col(DigitalRequest.id) == request.id,
        col(DigitalRequest.state) == RequestState.PENDING,
        col(DigitalRequest.expires_at) > now,
    ]
    if firm_id is not None:
        conditions.append(col(DigitalRequest.firm_id) == firm_id)
    result = session.execute(
        sa.update(DigitalRequest)
        .where(*conditions)
        .values(state=state, decided_by=person.id, decided_at=now)
        .execution_options(synchronize_session=False)
    )
    session.refresh(request)
    won = getattr(result, "rowcount", 0) == 1
    if won:
        assert request.id is not None
        use_links_of(session, LinkPurpose.REQUEST, request.id, now)
    return won


def _lost(session: Session, request: DigitalRequest, now: dt.datetime) -> Decision:
    view = request_view(session, request, now)
    if view.state is RequestState.EXPIRED:
        return Decision(Outcome.EXPIRED, view)
    return Decision(Outcome.DECIDED, view)


def _linked(
    session: Session, token: str | None, now: dt.datetime
) -> tuple[Decision | None, DigitalRequest | None, Person | None]:
    """The link's request and person if they may decide now, else the decision to return."""
    opened = open_request(session, token, now=now)
    if opened.view is None or opened.person is None:
        return Decision(Outcome.UNKNOWN, None), None, None
    if opened.view.state is not RequestState.PENDING:
        return _lost(session, opened.view.request, now), None, None
    if not has_role(session, opened.person, opened.view.client, RoleKind.SYSADMIN):
        return Decision(Outcome.NOT_ALLOWED, opened.view), None, None
    return None, opened.view.request, opened.person


def _event(
    session: Session,
    request: DigitalRequest,
    action: str,
    actor: str,
    now: dt.datetime,
    **after: object,
) -> None:
    record_event(
        session,
        actor=actor,
        action=action,
        subject=f"digital_request:{request.id}",
        before={"state": RequestState.PENDING.value},
        after={"state": RequestState(request.state).value, **_names(session, request), **after},
        now=now,
    )


def _names(session: Session, request: DigitalRequest) -> dict[str, object]:
    """What the audit log's sentence names: the kind and both companies."""
    client = session.get(Company, request.client_id)
    firm = session.get(Company, request.firm_id)
    return {
        "kind": RequestKind(request.kind).value,
        "client": client.orgnr if client else None,
        "client_name": client.name if client else None,
        "firm": firm.orgnr if firm else None,
        "firm_name": firm.name if firm else None,
    }


def approve_request(session: Session, token: str | None, *, now: dt.datetime) -> Decision:
    """The system administrator behind `token` approves: the registry changes, once.

    Only the winner of the conditional UPDATE goes on to plan and apply. A paper
    approval of the same change committing in the same instant makes applying
    fail (`Conflict`); that part is rolled back to a savepoint and planned again
    against what the paper left, which makes the request OBSOLETE. `Conflict`
    leaves this function only if the registry changed yet again meanwhile.
    """
    lost, request, person = _linked(session, token, now)
    if lost is not None:
        return lost
    assert request is not None and person is not None
    view = request_view(session, request, now)  # before the state moves: what it asked for
    if not _move(session, request, RequestState.APPROVED, person, now):
        return _lost(session, request, now)
    try:
        with session.begin_nested():
            return _carry_out(session, request, view, person, now)
    except Conflict:
        # Objects loaded before the rival's commit are stale; plan from the database again.
        session.expire_all()
        return _carry_out(session, request, view, person, now)


def _carry_out(
    session: Session, request: DigitalRequest, view: RequestView, person: Person, now: dt.datetime
) -> Decision:
    today = local_day(now)
    firm, client, sub, role = view.firm, view.client, view.subscription, view.role
    reference = f"digital_request:{request.id}"
    plan: LinkagePlan
    if view.kind is RequestKind.DISCONNECT:
        asked = _disconnection(client, firm, role, sub, today)
        plan = plan_disconnect(session, asked)
        if plan.problems or plan.already_done:
            return _obsolete(session, request, view, plan, person, now)
        plan = apply_disconnect(session, asked, actor=person.email, reference=reference)
        assert client.id is not None and firm.id is not None
        end_grants_of_connection(session, client_id=client.id, firm_id=firm.id, now=now)
    else:
        dual = _dual(client, firm, role, sub, today)
        plan = plan_dual(session, dual)
        if plan.problems or plan.already_done:
            return _obsolete(session, request, view, plan, person, now)
        plan = apply_dual(session, dual, actor=person.email, reference=reference)
    _event(
        session,
        request,
        "digital_request.approved",
        person.email,
        now,
        changes=[c.subject for c in plan.changes],
    )
    session.flush()
    done = replace(view, state=RequestState.APPROVED, decider=person, payer_from=payer_from(plan))
    return Decision(Outcome.APPROVED, done, plan)


def payer_from(plan: LinkagePlan) -> dt.date | None:
    """The billing period from which the client pays, when the plan switched the payer."""
    for change in plan.changes:
        if change.action == "payer.changed" and change.after is not None:
            return dt.date.fromisoformat(str(change.after["valid_from"]))
    return None


def _obsolete(
    session: Session,
    request: DigitalRequest,
    view: RequestView,
    plan: LinkagePlan,
    person: Person,
    now: dt.datetime,
) -> Decision:
    between = f"{view.firm.name} och {view.client.name}"
    if plan.already_done and view.kind is RequestKind.DISCONNECT:
        note = (
            f"Kopplingen mellan {between} är redan avslutad, så förfrågan behövs inte "
            "längre. Ingenting ändrades."
        )
    elif plan.already_done:
        note = (
            f"{view.firm.name} är redan kopplad till {view.client.name} som "
            f"{ROLE_NAMES[view.role]}, så förfrågan behövs inte längre. Ingenting ändrades."
        )
    else:
        note = (
            "Förfrågan kan inte genomföras längre: "
            + " ".join(plan.problems)
            + " Ingenting ändrades."
        )
    session.execute(
        sa.update(DigitalRequest)
        .where(col(DigitalRequest.id) == request.id)
        .values(state=RequestState.OBSOLETE, note=note)
        .execution_options(synchronize_session=False)
    )
    session.refresh(request)
    _event(session, request, "digital_request.obsolete", person.email, now, note=note)
    session.flush()
    return Decision(Outcome.OBSOLETE, request_view(session, request, now), message=note)


def decline_request(session: Session, token: str | None, *, now: dt.datetime) -> Decision:
    """The system administrator behind `token` declines; the registry does not change."""
    lost, request, person = _linked(session, token, now)
    if lost is not None:
        return lost
    assert request is not None and person is not None
    if not _move(session, request, RequestState.DECLINED, person, now):
        return _lost(session, request, now)
    _event(session, request, "digital_request.declined", person.email, now)
    session.flush()
    return Decision(Outcome.DECLINED, request_view(session, request, now))


def withdraw_request(
    session: Session, request_id: int, *, firm: Company, person: Person, now: dt.datetime
) -> Decision:
    """The firm's system administrator withdraws a request the firm started."""
    request = session.get(DigitalRequest, request_id)
    if request is None or request.firm_id != firm.id:
        return Decision(Outcome.UNKNOWN, None)
    if not has_role(session, person, firm, RoleKind.SYSADMIN):
        return Decision(Outcome.NOT_ALLOWED, request_view(session, request, now))
    if not _move(session, request, RequestState.WITHDRAWN, person, now, firm_id=firm.id):
        return _lost(session, request, now)
    _event(session, request, "digital_request.withdrawn", person.email, now)
    session.flush()
    return Decision(Outcome.WITHDRAWN, request_view(session, request, now))


def link_for_admin(
    session: Session, request_id: int, *, client: Company, person: Person, now: dt.datetime
) -> str | None:
    """A fresh link for a signed-in system administrator of the client to open the request
    from the client's own pages; None unless it is pending and theirs to decide."""
    request = session.get(DigitalRequest, request_id)
    if (
        request is None
        or request.client_id != client.id
        or effective_state(request, now) is not RequestState.PENDING
        or not has_role(session, person, client, RoleKind.SYSADMIN)
    ):
        return None
    assert person.id is not None
    return new_link(
        session,
        LinkPurpose.REQUEST,
        person_id=person.id,
        lifetime=request.expires_at - now,
        now=now,
        target_id=request.id,
    )


def expire_requests(
    session: Session, *, now: dt.datetime
) -> list[DigitalRequest | AdminInvitation]:
    """Mark pending requests and invitations past their deadline EXPIRED (actor "system").

    For a periodic job; reading already treats them as expired, so this only
    makes the state, and the audit log, say so.
    """
    due = session.exec(
        select(DigitalRequest).where(
            DigitalRequest.state == RequestState.PENDING,
            col(DigitalRequest.expires_at) <= now,
        )
    ).all()
    expired: list[DigitalRequest | AdminInvitation] = []
    for request in due:
        result = session.execute(
            sa.update(DigitalRequest)
            .where(
                col(DigitalRequest.id) == request.id,
                col(DigitalRequest.state) == RequestState.PENDING,
            )
            .values(state=RequestState.EXPIRED)
            .execution_options(synchronize_session=False)
        )
        if getattr(result, "rowcount", 0) != 1:
            continue
        session.refresh(request)
        _event(session, request, "digital_request.expired", "system", now)
        expired.append(request)
    expired.extend(expire_invitations(session, now=now))
    return expired


def admins_of(session: Session, company: Company) -> list[Person]:
    """The company's system administrators (who hear of its requests)."""
    return people_with_role(session, company, RoleKind.SYSADMIN)
