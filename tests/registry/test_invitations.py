"""Inviting a client's first system administrator (`registry.invitations`), confirmed by a
firmatecknare, on SQLite and PostgreSQL; the registry of `test_digital`."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from registry import (
    AdminInvitation,
    Company,
    InvitationState,
    LinkStatus,
    Person,
    Role,
    RoleKind,
    session_scope,
)
from registry.digital import approve_request, expire_requests, start_disconnection
from registry.invitations import (
    InvitationDecision,
    InvitationOutcome,
    InvitationRefused,
    Invited,
    confirm_invitation,
    decline_invitation,
    invite_client_admin,
    open_invitation,
)
from tests.registry.test_digital import (
    ANNA,
    BO,
    CLIENT,
    ERIK,
    EXCLUDED,
    EXCLUDED_CLIENT,
    FIRM,
    GUSTAV,
    KARIN,
    LONE,
    NOADMIN,
    NOW,
    WEEK,
    company,
    company_id,
    digital,
    events,
    person,
    race,
)

__all__ = ["digital"]  # the fixture, used by name

NEW = "maja.lindqvist@lindqvistbygg.example"
SECOND_SIGNATORY = "greta.lindqvist@lindqvistbygg.example"


def invite(
    engine: Engine,
    *,
    by: str = ANNA,
    firm: str = FIRM,
    client: str = NOADMIN,
    name: str = "Maja Lindqvist",
    email: str = " Maja.Lindqvist@LindqvistBygg.example ",
    now: dt.datetime = NOW,
) -> Invited:
    with session_scope(engine) as session:
        return invite_client_admin(
            session,
            firm=company(session, firm),
            client=company(session, client),
            inviter=person(session, by),
            name=name,
            email=email,
            now=now,
        )


def token_of(invited: Invited, email: str) -> str:
    return next(token for who, token in invited.links if who.email == email)


def decide(engine: Engine, act: object, token: str, now: dt.datetime = NOW) -> InvitationDecision:
    with session_scope(engine) as session:
        result = act(session, token, now=now)  # type: ignore[operator]
        assert isinstance(result, InvitationDecision)
        return result


def roles_of(engine: Engine, email: str) -> list[tuple[str, RoleKind]]:
    with Session(engine) as session:
        found = session.exec(select(Person).where(Person.email == email)).first()
        if found is None:
            return []
        rows = session.exec(select(Role).where(Role.person_id == found.id)).all()
        orgnrs = {c.id: c.orgnr for c in session.exec(select(Company)).all()}
        return sorted((orgnrs[r.company_id], RoleKind(r.role)) for r in rows)


def add_signatory(engine: Engine) -> None:
    with session_scope(engine) as session:
        greta = Person(name="Greta Lindqvist", email=SECOND_SIGNATORY)
        session.add(greta)
        session.flush()
        assert greta.id is not None
        session.add(
            Role(
                person_id=greta.id,
                company_id=company_id(session, NOADMIN),
                role=RoleKind.FIRMATECKNARE,
            )
        )


def test_an_invitation_goes_to_the_firmatecknare_only(digital: Engine) -> None:
    invited = invite(digital)
    assert [p.email for p, _ in invited.links] == [GUSTAV]
    view = invited.view
    assert (view.invitation.name, view.invitation.email) == ("Maja Lindqvist", NEW)
    assert view.state is InvitationState.PENDING and view.invitation.expires_at == NOW + WEEK
    [created] = events(digital, "admin_invitation.")
    assert (created.actor, created.subject) == (ANNA, f"admin_invitation:{view.invitation.id}")
    assert roles_of(digital, NEW) == []  # nothing yet: the firm's word is not enough
    with Session(digital) as session:
        assert session.exec(select(Person).where(Person.email == NEW)).first() is None
        opened = open_invitation(session, token_of(invited, GUSTAV), now=NOW)
    assert opened.may_decide and opened.person is not None and opened.person.email == GUSTAV


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"client": CLIENT}, "har redan en systemadministratör"),
        ({"by": KARIN}, "Bara en systemadministratör"),
        ({"client": LONE}, "är inte klient hos"),
        ({"by": BO, "firm": EXCLUDED}, "Bara en systemadministratör"),
        ({"by": ERIK, "firm": EXCLUDED, "client": EXCLUDED_CLIENT}, "redan en systemadministratör"),
        ({"email": "maja.lindqvist"}, "ser inte ut som en e-postadress"),
        ({"name": "  "}, "Ange namnet"),
        ({"name": "M" * 201}, "högst 200 tecken"),
    ],
    ids=[
        "client has an admin",
        "consultant",
        "not connected",
        "not their firm",
        "excluded firm's client has one",
        "bad address",
        "no name",
        "long name",
    ],
)
def test_an_invitation_is_refused_with_a_reason(
    digital: Engine, changes: dict[str, str], words: str
) -> None:
    with pytest.raises(InvitationRefused, match=words):
        invite(digital, **changes)  # type: ignore[arg-type]
    assert events(digital, "admin_invitation.") == []


def test_no_firmatecknare_no_invitation(digital: Engine) -> None:
    with session_scope(digital) as session:
        session.execute(sa.delete(Role).where(col(Role.person_id) == person(session, GUSTAV).id))
    with pytest.raises(InvitationRefused, match="ingen firmatecknare"):
        invite(digital)


def test_one_invitation_waits_at_a_time(digital: Engine) -> None:
    invite(digital)
    with pytest.raises(InvitationRefused, match="väntar redan på bekräftelse"):
        invite(digital, name="Nils Lindqvist", email="nils@lindqvistbygg.example")
    assert invite(digital, now=NOW + WEEK).view.state is InvitationState.PENDING


def test_confirming_makes_a_new_person_the_client_admin(digital: Engine) -> None:
    invited = invite(digital)
    decision = decide(digital, confirm_invitation, token_of(invited, GUSTAV))
    assert decision.outcome is InvitationOutcome.CONFIRMED and decision.created
    assert decision.admin is not None and decision.admin.name == "Maja Lindqvist"
    assert roles_of(digital, NEW) == [(NOADMIN, RoleKind.SYSADMIN)]
    assert [e.action for e in events(digital, "person.", "role.", "admin_invitation.")] == [
        "admin_invitation.created",
        "person.created",
        "role.added",
        "admin_invitation.confirmed",
    ]
    confirming = events(digital, "person.", "role.", "admin_invitation.confirmed")
    assert {e.actor for e in confirming} == {GUSTAV}
    with Session(digital) as session:
        row = session.get(AdminInvitation, invited.view.invitation.id)
        assert row is not None and row.state == InvitationState.CONFIRMED
        assert row.person_id == decision.admin.id and row.decided_at == NOW
        shown = open_invitation(session, token_of(invited, GUSTAV), now=NOW)
    assert shown.link_status is LinkStatus.USED and not shown.may_decide
    assert shown.view is not None and shown.view.state is InvitationState.CONFIRMED
    again = decide(digital, confirm_invitation, token_of(invited, GUSTAV))
    assert again.outcome is InvitationOutcome.DECIDED
    assert roles_of(digital, NEW) == [(NOADMIN, RoleKind.SYSADMIN)]

    # Now the disconnection can go digitally, and the new admin may approve it.
    with session_scope(digital) as session:
        started = start_disconnection(
            session,
            firm=company(session, FIRM),
            client=company(session, NOADMIN),
            requester=person(session, ANNA),
            now=NOW,
        )
    [(admin, token)] = started.links
    assert admin.email == NEW
    with session_scope(digital) as session:
        assert approve_request(session, token, now=NOW).outcome.value == "approved"


def test_an_address_on_record_keeps_its_name_and_gets_the_role(digital: Engine) -> None:
    invited = invite(digital, name="K. Dal", email=KARIN.upper())
    decision = decide(digital, confirm_invitation, token_of(invited, GUSTAV))
    assert decision.outcome is InvitationOutcome.CONFIRMED and not decision.created
    assert decision.admin is not None and decision.admin.name == "Karin Dal"
    assert roles_of(digital, KARIN) == [(FIRM, RoleKind.CONSULTANT), (NOADMIN, RoleKind.SYSADMIN)]
    assert events(digital, "person.") == []


def test_declining_changes_no_roles(digital: Engine) -> None:
    invited = invite(digital)
    assert decide(digital, decline_invitation, token_of(invited, GUSTAV)).outcome is (
        InvitationOutcome.DECLINED
    )
    assert decide(digital, confirm_invitation, token_of(invited, GUSTAV)).outcome is (
        InvitationOutcome.DECIDED
    )
    assert roles_of(digital, NEW) == []
    assert [e.actor for e in events(digital, "admin_invitation.declined")] == [GUSTAV]


def test_expired_and_unknown_links(digital: Engine) -> None:
    invited = invite(digital)
    deadline = NOW + WEEK
    with Session(digital) as session:
        shown = open_invitation(session, token_of(invited, GUSTAV), now=deadline)
        assert shown.link_status is LinkStatus.EXPIRED
        assert shown.view is not None and shown.view.state is InvitationState.EXPIRED
        assert open_invitation(session, "nope", now=NOW).view is None
    for act in (confirm_invitation, decline_invitation):
        assert decide(digital, act, token_of(invited, GUSTAV), deadline).outcome is (
            InvitationOutcome.EXPIRED
        )
    assert decide(digital, confirm_invitation, "nope").outcome is InvitationOutcome.UNKNOWN
    with session_scope(digital) as session:
        assert expire_requests(session, now=deadline - dt.timedelta(seconds=1)) == []
        [expired] = expire_requests(session, now=deadline)
        assert isinstance(expired, AdminInvitation) and expired.state == InvitationState.EXPIRED
    with session_scope(digital) as session:
        assert expire_requests(session, now=deadline) == []
    [event_] = events(digital, "admin_invitation.expired")
    assert event_.actor == "system"
    assert roles_of(digital, NEW) == []


def test_a_firmatecknare_no_longer_cannot_confirm(digital: Engine) -> None:
    invited = invite(digital)
    add_signatory(digital)
    with session_scope(digital) as session:
        session.execute(sa.delete(Role).where(col(Role.person_id) == person(session, GUSTAV).id))
    assert decide(digital, confirm_invitation, token_of(invited, GUSTAV)).outcome is (
        InvitationOutcome.NOT_ALLOWED
    )
    assert roles_of(digital, NEW) == []


# -- races -------------------------------------------------------------------------------------


@pytest.mark.serial
@pytest.mark.parametrize("second", ["other signatory", "double click", "decline"])
def test_two_decisions_at_once_add_the_role_once(digital: Engine, second: str) -> None:
    add_signatory(digital)
    invited = invite(digital)
    assert sorted(p.email for p, _ in invited.links) == [SECOND_SIGNATORY, GUSTAV]
    first_token = token_of(invited, GUSTAV)
    second_token = first_token if second == "double click" else token_of(invited, SECOND_SIGNATORY)
    second_act = decline_invitation if second == "decline" else confirm_invitation
    first, other = race(
        digital,
        lambda session: confirm_invitation(session, first_token, now=NOW),
        lambda session: second_act(session, second_token, now=NOW),
    )
    assert first.outcome is InvitationOutcome.CONFIRMED
    assert isinstance(other, InvitationDecision), other
    assert other.outcome is InvitationOutcome.DECIDED
    assert other.view is not None and other.view.state is InvitationState.CONFIRMED
    assert roles_of(digital, NEW) == [(NOADMIN, RoleKind.SYSADMIN)]
    assert len(events(digital, "role.added")) == 1
