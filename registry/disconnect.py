"""The rules of a disconnection (Bortkoppling): a client and a firm disconnected, and who pays.

The rules (DESIGN.md, "The registry rules"): the connection must be open
(its firm's kind is not checked: an open connection in the role is what
counts). If the firm pays the client's subscription on the day of the
disconnection, the client pays from the next billing period (the first day
of the next month), whichever option the form ticks: seed 002 says so
without exception ("Har ni som byrå stått för kostnaden ... så ställs
klienten om till betalningsansvarig för nästa period") and the
disconnection form itself prints that sentence above the signatures.
"Endast byråns åtkomst upphör" then only earns a note that the payer
changes all the same, so the reviewer can reject if the customer meant
otherwise. A connection that already ended on the form's day, and a payer
switch already recorded, are not changes. Planning and applying themselves
are `registry.linkage`'s.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Self

import sqlalchemy as sa
from sqlmodel import Session, col, select

from registry.errors import Conflict
from registry.linkage import (
    RACE,
    ROLE_NAMES,
    Change,
    Draft,
    LinkagePlan,
    LinkageRequest,
    Step,
    apply_draft,
    connection_state,
    connections_of,
    flush_or_conflict,
    form_value,
    resolve_parties,
)
from registry.models import Company, Connection, ConnectionRole, Subscription, SubscriptionPayer


@dataclass(frozen=True, kw_only=True)
class DisconnectionRequest(LinkageRequest):
    """End the connection between the client and the firm in `role` on `on`.

    `takeover` is the form's "after" choice ("takeover" rather than
    "access_only"); see the module docstring for what it changes.
    """

    takeover: bool

    @classmethod
    def from_values(cls, values: Mapping[str, str], *, on: dt.date) -> Self:
        """The request a Bortkoppling's field values make (`forms.FormKind.DISCONNECT`).

        Missing values become empty ones, which planning reports as problems.
        """
        return cls(
            client_orgnr=form_value(values, "client_orgnr"),
            subscription=form_value(values, "client_subscription"),
            firm_orgnr=form_value(values, "firm_orgnr"),
            role=form_value(values, "firm_role"),
            takeover=form_value(values, "after") == "takeover",
            on=on,
            client_name=form_value(values, "client_name") or None,
            firm_name=form_value(values, "firm_name") or None,
        )


def next_billing_period(on: dt.date) -> dt.date:
    """The first day of the month after `on`: when a new payer takes over."""
    if on.month == 12:
        return dt.date(on.year + 1, 1, 1)
    return dt.date(on.year, on.month + 1, 1)


def _payer_rows(
    session: Session, subscription: Subscription
) -> list[tuple[SubscriptionPayer, Company]]:
    return list(
        session.exec(
            select(SubscriptionPayer, Company)
            .join(Company, col(Company.id) == col(SubscriptionPayer.payer_id))
            .where(SubscriptionPayer.subscription_id == subscription.id)
            .order_by(col(SubscriptionPayer.valid_from))
        ).all()
    )


def _draft_disconnect(session: Session, request: DisconnectionRequest) -> Draft:
    draft = Draft("disconnect")
    parties = resolve_parties(session, draft, request, check_kind=False)
    if parties is None:
        return draft
    client, firm, role, sub = parties.client, parties.firm, parties.role, parties.subscription
    on = request.on
    role_name = ROLE_NAMES[role]
    between = f"{firm.name} ({firm.orgnr}) och {client.name} ({client.orgnr})"
    pair = connections_of(session, client, firm)
    same_role = [c for c, _ in pair if c.role == role]
    open_conn = next((c for c in same_role if c.until is None), None)
    if open_conn is None:
        if any(c.until == on for c in same_role):
            draft.notes.append(
                f"Kopplingen mellan {between} som {role_name} avslutades redan {on.isoformat()}."
            )
        else:
            draft.problems.append(
                f"Det finns ingen aktiv koppling mellan {between} som {role_name} att koppla bort."
            )
            ended = [c.until for c in same_role if c.until is not None]
            if ended:
                draft.notes.append(
                    f"Den senaste kopplingen som {role_name} avslutades {max(ended).isoformat()}."
                )
            other_roles = {
                ROLE_NAMES[ConnectionRole(c.role)]
                for c, _ in pair
                if c.until is None and c.role != role
            }
            if other_roles:
                draft.notes.append(
                    f"{firm.name} är kopplad till {client.name} som "
                    f"{' och '.join(sorted(other_roles))}, inte som {role_name}."
                )
            return draft
    elif open_conn.since > on:
        draft.problems.append(
            f"Kopplingen mellan {between} börjar först "
            f"{open_conn.since.isoformat()} och kan inte avslutas "
            f"{on.isoformat()}."
        )
        return draft
    else:
        draft.steps.append(_end_step(open_conn, client, firm, role_name, on))

    still = [c for c, _ in pair if c.until is None and c.role != role]
    if still:
        draft.notes.append(
            f"{firm.name} förblir kopplad till {client.name} som "
            f"{ROLE_NAMES[ConnectionRole(still[0].role)]}."
        )
    _payer_part(session, draft, client, firm, sub, takeover=request.takeover, on=on)
    return draft


def _end_step(
    conn: Connection, client: Company, firm: Company, role_name: str, on: dt.date
) -> Step:
    before = connection_state(conn, client, firm)
    after = {**before, "until": on.isoformat()}
    summary = (
        f"{firm.name} ({role_name}) kopplas bort från {client.name} ({client.orgnr}) "
        f"den {on.isoformat()}; kopplingen gällde sedan {conn.since.isoformat()}."
    )
    conn_id = conn.id

    def end(session: Session) -> str:
        # Conditional, so that of two transactions ending the same connection
        # only one matches a row (PostgreSQL re-checks the WHERE after the lock).
        result = session.exec(
            sa.update(Connection)
            .where(col(Connection.id) == conn_id, col(Connection.until).is_(None))
            .values(until=on)
        )
        if result.rowcount != 1:
            raise Conflict(RACE)
        return f"connection:{conn_id}"

    return Change("connection.ended", summary, before, after), end


def _payer_part(
    session: Session,
    draft: Draft,
    client: Company,
    firm: Company,
    sub: Subscription,
    *,
    takeover: bool,
    on: dt.date,
) -> None:
    rows = _payer_rows(session, sub)
    past = [(row, payer) for row, payer in rows if row.valid_from <= on]
    upcoming = [(row, payer) for row, payer in rows if row.valid_from > on]
    # Without a recorded payer the subscription's own company pays.
    payer, payer_since = (past[-1][1], past[-1][0].valid_from) if past else (client, None)
    number = sub.number
    if payer.id != firm.id:
        if takeover and payer.id == client.id:
            draft.notes.append(
                f"{client.name} betalar redan abonnemang {number} själv; betalaren ändras inte."
            )
        elif takeover:
            draft.notes.append(
                f"Abonnemang {number} betalas av {payer.name} ({payer.orgnr}), "
                "inte av byrån som kopplas bort; betalaren ändras inte."
            )
        _other_subscriptions_note(session, draft, client, firm, sub, on)
        return
    if not takeover:
        draft.notes.append(
            f"Blanketten anger att endast byråns åtkomst upphör, men "
            f"{firm.name} betalar abonnemang {number}. Enligt villkoren på "
            f"blanketten blir {client.name} betalningsansvarig från nästa period."
        )
    _other_subscriptions_note(session, draft, client, firm, sub, on)
    start = next_billing_period(on)
    if any(r.valid_from <= start and p.id == client.id for r, p in upcoming):
        return  # the switch is recorded already
    planned = [(r, p) for r, p in upcoming if p.id != client.id]
    if planned:
        draft.problems.append(
            f"Abonnemang {number} har redan ett planerat betalarbyte ("
            + ", ".join(f"{p.name} från {r.valid_from.isoformat()}" for r, p in planned)
            + "). Kontrollera det innan bortkopplingen genomförs."
        )
        return
    before = {
        "subscription": number,
        "payer": firm.orgnr,
        "payer_name": firm.name,
        "valid_from": payer_since.isoformat() if payer_since else None,
    }
    after = {
        "subscription": number,
        "payer": client.orgnr,
        "payer_name": client.name,
        "valid_from": start.isoformat(),
    }
    summary = (
        f"{client.name} blir betalare av abonnemang {number} från {start.isoformat()} "
        f"i stället för {firm.name}."
    )
    sub_id, client_id = sub.id, client.id
    assert sub_id is not None and client_id is not None

    def switch(session: Session) -> str:
        session.add(SubscriptionPayer(subscription_id=sub_id, payer_id=client_id, valid_from=start))
        flush_or_conflict(session)
        return f"subscription:{number}"

    draft.steps.append((Change("payer.changed", summary, before, after), switch))


def _other_subscriptions_note(
    session: Session, draft: Draft, client: Company, firm: Company, sub: Subscription, on: dt.date
) -> None:
    others = session.exec(
        select(Subscription)
        .where(Subscription.company_id == client.id, Subscription.id != sub.id)
        .order_by(col(Subscription.number))
    ).all()
    paid = []
    for other in others:
        past = [(r, p) for r, p in _payer_rows(session, other) if r.valid_from <= on]
        if past and past[-1][1].id == firm.id:
            paid.append(other.number)
    if paid:
        draft.notes.append(
            f"{firm.name} betalar även abonnemang {', '.join(paid)} för "
            f"{client.name}; blanketten gäller bara abonnemang {sub.number}."
        )


def plan_disconnect(session: Session, request: DisconnectionRequest) -> LinkagePlan:
    """What disconnecting the request's client from its firm would change; writes nothing."""
    return _draft_disconnect(session, request).plan()


def apply_disconnect(
    session: Session, request: DisconnectionRequest, *, actor: str, reference: str
) -> LinkagePlan:
    """End the connection (and switch the payer) as `plan_disconnect` plans it.

    Same contract as `apply_dual`: `Conflict` on problems or a lost race, one
    audit event per change, the caller commits.
    """
    return apply_draft(
        session, _draft_disconnect(session, request), actor=actor, reference=reference
    )
