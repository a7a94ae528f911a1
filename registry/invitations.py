"""A firm inviting a client's first system administrator, confirmed by the client's firmatecknare.

A digital disconnection needs a system administrator at the client to approve
it (seed 002). When the client has none, the firm's system administrator may
name one (name and e-mail address). Nobody becomes anything on the firm's
word: the invitation is mailed to each firmatecknare on record for the
client, each with their own link (valid `INVITATION_LIFETIME`), and only a
firmatecknare's confirmation makes the invited person the client's system
administrator: the person is created if the address is new, and given the
sysadmin role. Nothing is mailed to the invited address before that, since
it is not on record.

Deciding is one conditional UPDATE (`... WHERE state = 'pending' AND
expires_at > now`), so of two firmatecknare confirming at once, or a
confirmation and a decline, exactly one wins; the role is added only by the
winner, in the same transaction. Every function takes the caller's session
and an aware `now`, and never commits.

The small role look-ups at the end are shared with `registry.digital`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Session, col, select

from forms import InvalidValue, parse_email
from registry.digital_models import AdminInvitation, InvitationState, LinkPurpose
from registry.errors import RegistryError
from registry.links import LinkStatus, find_link, new_link, use_links_of
from registry.models import Company, Connection, Person, Role, RoleKind
from registry.queries import record_event

INVITATION_LIFETIME = dt.timedelta(days=7)
NAME_MAX = 200


class InvitationRefused(RegistryError):  # noqa: N818
    """An invitation that cannot be sent; the message says why, in Swedish."""


@dataclass(frozen=True)
class InvitationView:
    invitation: AdminInvitation
    state: InvitationState  # a pending invitation past its expiry reads as EXPIRED
    client: Company
    firm: Company
    inviter: Person
    decider: Person | None


@dataclass(frozen=True)
class Invited:
    view: InvitationView
    links: tuple[tuple[Person, str], ...]  # each firmatecknare and the token of their link


class InvitationOutcome(StrEnum):
    CONFIRMED = "confirmed"
    DECLINED = "declined"
    DECIDED = "decided"  # someone decided it already; the view says what and who
    EXPIRED = "expired"
    UNKNOWN = "unknown"  # no such link
    NOT_ALLOWED = "not_allowed"  # the link's person is no longer a firmatecknare there


@dataclass(frozen=True)
class InvitationOpened:
    link_status: LinkStatus
    view: InvitationView | None
    person: Person | None  # the firmatecknare the link was mailed to
    may_decide: bool


@dataclass(frozen=True)
class InvitationDecision:
    outcome: InvitationOutcome
    view: InvitationView | None
    admin: Person | None = None  # CONFIRMED: the client's new system administrator
    created: bool = False  # CONFIRMED: the person was new to the registry


# -- reading -----------------------------------------------------------------------------------


def effective_state(invitation: AdminInvitation, now: dt.datetime) -> InvitationState:
    """The state as a person should see it: pending past the deadline is expired."""
    state = InvitationState(invitation.state)
    if state is InvitationState.PENDING and invitation.expires_at <= now:
        return InvitationState.EXPIRED
    return state


def invitation_view(
    session: Session, invitation: AdminInvitation, now: dt.datetime
) -> InvitationView:
    client = session.get(Company, invitation.client_id)
    firm = session.get(Company, invitation.firm_id)
    inviter = session.get(Person, invitation.invited_by)
    assert client is not None and firm is not None and inviter is not None  # foreign keys
    decider = session.get(Person, invitation.decided_by) if invitation.decided_by else None
    return InvitationView(
        invitation, effective_state(invitation, now), client, firm, inviter, decider
    )


def open_invitation(session: Session, token: str | None, *, now: dt.datetime) -> InvitationOpened:
    """What an invitation link shows, without using it."""
    found = find_link(session, token, LinkPurpose.INVITATION, now)
    if found.link is None or found.link.target_id is None:
        return InvitationOpened(LinkStatus.UNKNOWN, None, None, False)
    invitation = session.get(AdminInvitation, found.link.target_id)
    person = session.get(Person, found.link.person_id)
    if invitation is None or person is None:
        return InvitationOpened(LinkStatus.UNKNOWN, None, None, False)
    view = invitation_view(session, invitation, now)
    may = (
        found.status is LinkStatus.VALID
        and view.state is InvitationState.PENDING
        and has_role(session, person, view.client, RoleKind.FIRMATECKNARE)
    )
    return InvitationOpened(found.status, view, person, may)


def pending_invitation(
    session: Session, client_id: int, *, now: dt.datetime
) -> AdminInvitation | None:
    """The client's invitation still waiting for a firmatecknare, if there is one."""
    return session.exec(
        select(AdminInvitation)
        .where(
            AdminInvitation.client_id == client_id,
            AdminInvitation.state == InvitationState.PENDING,
            col(AdminInvitation.expires_at) > now,
        )
        .order_by(col(AdminInvitation.created_at).desc())
    ).first()


# -- inviting ----------------------------------------------------------------------------------


def invite_client_admin(
    session: Session,
    *,
    firm: Company,
    client: Company,
    inviter: Person,
    name: str,
    email: str,
    now: dt.datetime,
    lifetime: dt.timedelta = INVITATION_LIFETIME,
) -> Invited:
    """Invite `name` <`email`> to be the client's system administrator; one link per firmatecknare.

    Refused (`InvitationRefused`) unless the inviter is the firm's system
    administrator, the firm is connected to the client, the client has no
    system administrator yet but has a firmatecknare, and no other invitation
    is waiting.
    """
    if not has_role(session, inviter, firm, RoleKind.SYSADMIN):
        raise InvitationRefused(
            f"Bara en systemadministratör på {firm.name} kan bjuda in en administratör."
        )
    if not _connected(session, firm, client):
        raise InvitationRefused(f"{client.name} är inte klient hos {firm.name}.")
    clean_name = " ".join(name.split())
    if not clean_name:
        raise InvitationRefused("Ange namnet på den du bjuder in.")
    if len(clean_name) > NAME_MAX:
        raise InvitationRefused(f"Namnet får vara högst {NAME_MAX} tecken.")
    try:
        address = parse_email(email).lower()
    except InvalidValue as exc:
        raise InvitationRefused(exc.message) from None
    if people_with_role(session, client, RoleKind.SYSADMIN):
        raise InvitationRefused(
            f"{client.name} har redan en systemadministratör. Företagets egna administratörer "
            "lägger till fler användare."
        )
    signatories = people_with_role(session, client, RoleKind.FIRMATECKNARE)
    if not signatories:
        raise InvitationRefused(
            f"Det finns ingen firmatecknare för {client.name} i vårt register, så ingen kan "
            "bekräfta en inbjudan. Använd blanketten i stället."
        )
    waiting = pending_invitation(session, _id(client), now=now)
    if waiting is not None:
        raise InvitationRefused(
            f"En inbjudan av {waiting.name} väntar redan på bekräftelse från "
            f"{client.name}s firmatecknare."
        )
    invitation = AdminInvitation(
        client_id=_id(client),
        firm_id=_id(firm),
        invited_by=_id(inviter),
        name=clean_name,
        email=address,
        created_at=now,
        expires_at=now + lifetime,
    )
    session.add(invitation)
    session.flush()
    assert invitation.id is not None
    record_event(
        session,
        actor=inviter.email,
        action="admin_invitation.created",
        subject=f"admin_invitation:{invitation.id}",
        after={
            "client": client.orgnr,
            "client_name": client.name,
            "firm": firm.orgnr,
            "firm_name": firm.name,
            "name": clean_name,
            "email": address,
            "expires_at": invitation.expires_at.isoformat(),
        },
        now=now,
    )
    links = tuple(
        (
            person,
            new_link(
                session,
                LinkPurpose.INVITATION,
                person_id=_id(person),
                lifetime=lifetime,
                now=now,
                target_id=invitation.id,
            ),
        )
        for person in signatories
    )
    return Invited(invitation_view(session, invitation, now), links)


# -- deciding ----------------------------------------------------------------------------------


def _decide(
    session: Session, token: str | None, state: InvitationState, now: dt.datetime
) -> tuple[InvitationDecision | None, AdminInvitation | None, Person | None]:
    """Move the link's invitation from pending to `state`; a decision to return when it lost."""
    opened = open_invitation(session, token, now=now)
    if opened.view is None or opened.person is None:
        return InvitationDecision(InvitationOutcome.UNKNOWN, None), None, None
    invitation, person, view = opened.view.invitation, opened.person, opened.view
    if view.state is not InvitationState.PENDING:
        return _lost(view), None, None
    if not has_role(session, person, view.client, RoleKind.FIRMATECKNARE):
        return InvitationDecision(InvitationOutcome.NOT_ALLOWED, view), None, None
    result = session.execute(
        sa.update(AdminInvitation)
        .where(
            col(AdminInvitation.id) == invitation.id,
            col(AdminInvitation.state) == InvitationState.PENDING,
            col(AdminInvitation.expires_at) > now,
        )
        .values(state=state, decided_by=person.id, decided_at=now)
        .execution_options(synchronize_session=False)
    )
    session.refresh(invitation)
    if getattr(result, "rowcount", 0) != 1:
        return _lost(invitation_view(session, invitation, now)), None, None
    assert invitation.id is not None
    use_links_of(session, LinkPurpose.INVITATION, invitation.id, now)
    return None, invitation, person


def _lost(view: InvitationView) -> InvitationDecision:
    if view.state is InvitationState.EXPIRED:
        return InvitationDecision(InvitationOutcome.EXPIRED, view)
    return InvitationDecision(InvitationOutcome.DECIDED, view)


def confirm_invitation(
    session: Session, token: str | None, *, now: dt.datetime
) -> InvitationDecision:
    """The firmatecknare behind `token` confirms: the invited person becomes sysadmin."""
    lost, invitation, confirmer = _decide(session, token, InvitationState.CONFIRMED, now)
    if lost is not None:
        return lost
    assert invitation is not None and confirmer is not None
    client = session.get(Company, invitation.client_id)
    assert client is not None and invitation.id is not None
    person = session.exec(select(Person).where(col(Person.email) == invitation.email)).first()
    created = person is None
    if person is None:
        person = Person(name=invitation.name, email=invitation.email)
        session.add(person)
        session.flush()
        record_event(
            session,
            actor=confirmer.email,
            action="person.created",
            subject=f"person:{person.id}",
            after={"name": person.name, "email": person.email},
            detail=f"admin_invitation:{invitation.id}",
            now=now,
        )
    if not has_role(session, person, client, RoleKind.SYSADMIN):
        role = Role(person_id=_id(person), company_id=_id(client), role=RoleKind.SYSADMIN)
        session.add(role)
        session.flush()
        record_event(
            session,
            actor=confirmer.email,
            action="role.added",
            subject=f"company:{client.id}",
            after={
                "person": person.email,
                "name": person.name,
                "role": RoleKind.SYSADMIN.value,
                "company": client.orgnr,
            },
            detail=f"admin_invitation:{invitation.id}",
            now=now,
        )
    invitation.person_id = person.id
    session.add(invitation)
    record_event(
        session,
        actor=confirmer.email,
        action="admin_invitation.confirmed",
        subject=f"admin_invitation:{invitation.id}",
        before={"state": InvitationState.PENDING.value},
        after={"state": InvitationState.CONFIRMED.value, "person": person.email},
        now=now,
    )
    session.flush()
    return InvitationDecision(
        InvitationOutcome.CONFIRMED, invitation_view(session, invitation, now), person, created
    )


def decline_invitation(
    session: Session, token: str | None, *, now: dt.datetime
) -> InvitationDecision:
    """The firmatecknare behind `token` declines; nobody's roles change."""
    lost, invitation, decliner = _decide(session, token, InvitationState.DECLINED, now)
    if lost is not None:
        return lost
    assert invitation is not None and decliner is not None
    record_event(
        session,
        actor=decliner.email,
        action="admin_invitation.declined",
        subject=f"admin_invitation:{invitation.id}",
        before={"state": InvitationState.PENDING.value},
        after={"state": InvitationState.DECLINED.value},
        now=now,
    )
    session.flush()
    return InvitationDecision(InvitationOutcome.DECLINED, invitation_view(session, invitation, now))


def expire_invitations(session: Session, *, now: dt.datetime) -> list[AdminInvitation]:
    """Mark pending invitations past their deadline EXPIRED, each with an audit event."""
    due = session.exec(
        select(AdminInvitation).where(
            AdminInvitation.state == InvitationState.PENDING,
            col(AdminInvitation.expires_at) <= now,
        )
    ).all()
    expired = []
    for invitation in due:
        result = session.execute(
            sa.update(AdminInvitation)
            .where(
                col(AdminInvitation.id) == invitation.id,
                col(AdminInvitation.state) == InvitationState.PENDING,
            )
            .values(state=InvitationState.EXPIRED)
            .execution_options(synchronize_session=False)
        )
        if getattr(result, "rowcount", 0) != 1:
            continue  # decided a moment ago by someone else
        session.refresh(invitation)
        record_event(
            session,
            actor="system",
            action="admin_invitation.expired",
            subject=f"admin_invitation:{invitation.id}",
            before={"state": InvitationState.PENDING.value},
            after={"state": InvitationState.EXPIRED.value},
            now=now,
        )
        expired.append(invitation)
    return expired


# -- who holds which role (shared with registry.digital) ----------------------------------------


def _id(row: Company | Person) -> int:
    assert row.id is not None
    return row.id


def has_role(session: Session, person: Person, company: Company, role: RoleKind) -> bool:
    return (
        session.exec(
            select(Role.id).where(
                Role.person_id == person.id, Role.company_id == company.id, Role.role == role
            )
        ).first()
        is not None
    )


def people_with_role(session: Session, company: Company, role: RoleKind) -> list[Person]:
    """The company's people holding `role`, by address."""
    return list(
        session.exec(
            select(Person)
            .join(Role, col(Role.person_id) == col(Person.id))
            .where(Role.company_id == company.id, Role.role == role)
            .order_by(col(Person.email))
        ).all()
    )


def _connected(session: Session, firm: Company, client: Company) -> bool:
    return (
        session.exec(
            select(Connection.id).where(
                Connection.firm_id == firm.id,
                Connection.client_id == client.id,
                col(Connection.until).is_(None),
            )
        ).first()
        is not None
    )
