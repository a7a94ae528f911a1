"""The rules of a dual connection (Dubbelsammankoppling): a second firm connected to a client.

The rules (DESIGN.md, "The registry rules"): the client must exist, the
subscription number must be the client's, the firm must be a firm of the
stated kind and the pair must not already be connected in that role. A
connection already open in that role is not a change (`already_done`); one
that began and ended on the form's day cannot begin again that day. The
firm the form names as the current one is only noted, with what the
registry says about it: nothing about it is needed to connect the new one.
Planning and applying themselves are `registry.linkage`'s.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Self

from sqlmodel import Session

from forms import FormsError, parse_organisationsnummer
from registry.linkage import (
    ROLE_NAMES,
    Change,
    Draft,
    LinkagePlan,
    LinkageRequest,
    apply_draft,
    company_by_orgnr,
    connection_state,
    connections_of,
    flush_or_conflict,
    form_value,
    resolve_parties,
)
from registry.models import Company, Connection, ConnectionRole


@dataclass(frozen=True, kw_only=True)
class DualConnectionRequest(LinkageRequest):
    """Connect the firm `firm_orgnr` to the client in `role` from `on`.

    `current_firm_orgnr` is the firm the form says is connected now, as
    written; the plan notes what the registry says about it.
    """

    current_firm_orgnr: str | None = None

    @classmethod
    def from_values(cls, values: Mapping[str, str], *, on: dt.date) -> Self:
        """The request a Dubbelsammankoppling's field values make (`forms.FormKind.DUAL`).

        Missing values become empty ones, which planning reports as problems.
        """
        return cls(
            client_orgnr=form_value(values, "client_orgnr"),
            subscription=form_value(values, "client_subscription"),
            firm_orgnr=form_value(values, "new_firm_orgnr"),
            role=form_value(values, "new_firm_role"),
            on=on,
            current_firm_orgnr=form_value(values, "current_firm_orgnr") or None,
            client_name=form_value(values, "client_name") or None,
            firm_name=form_value(values, "new_firm_name") or None,
        )


def _draft_dual(session: Session, request: DualConnectionRequest) -> Draft:
    draft = Draft("dual")
    parties = resolve_parties(session, draft, request, check_kind=True)
    if parties is None:
        return draft
    client, firm, role, on = parties.client, parties.firm, parties.role, request.on
    role_name = ROLE_NAMES[role]
    connections = connections_of(session, client)
    open_now = [(c, f) for c, f in connections if c.until is None]

    if request.current_firm_orgnr:
        _current_firm_note(session, draft, client, request.current_firm_orgnr, open_now)
    others = [
        f"{f.name} ({ROLE_NAMES[ConnectionRole(c.role)]})" for c, f in open_now if f.id != firm.id
    ]
    if others:
        draft.notes.append(f"{client.name} är i dag kopplad till " + ", ".join(others) + ".")
    else:
        draft.notes.append(f"{client.name} är i dag inte kopplad till någon annan byrå.")

    same = [c for c, f in connections if f.id == firm.id and c.role == role]
    existing = next((c for c in same if c.until is None), None)
    if existing is not None:
        draft.notes.append(
            f"{firm.name} är redan kopplad till {client.name} som {role_name} "
            f"sedan {existing.since.isoformat()}; inget behöver ändras."
        )
        return draft
    if any(c.since == on for c in same):
        draft.problems.append(
            f"En koppling mellan {firm.name} och {client.name} som {role_name} "
            f"började och avslutades redan {on.isoformat()}; en ny kan "
            "tidigast börja dagen efter."
        )
        return draft

    summary = (
        f"{firm.name} ({role_name}) kopplas till {client.name} ({client.orgnr}) från "
        f"{on.isoformat()}."
    )
    assert client.id is not None and firm.id is not None
    connection = Connection(client_id=client.id, firm_id=firm.id, role=role, since=on)
    after = connection_state(connection, client, firm)

    def create(session: Session) -> str:
        session.add(connection)
        flush_or_conflict(session)
        return f"connection:{connection.id}"

    draft.steps.append((Change("connection.created", summary, None, after), create))
    return draft


def _current_firm_note(
    session: Session,
    draft: Draft,
    client: Company,
    orgnr: str,
    open_now: list[tuple[Connection, Company]],
) -> None:
    try:
        canonical = parse_organisationsnummer(orgnr).text
    except FormsError:
        draft.notes.append(
            f"Nuvarande byrå enligt blanketten: ”{orgnr}”, inget giltigt organisationsnummer."
        )
        return
    current = company_by_orgnr(session, canonical)
    if current is None:
        draft.notes.append(
            f"Nuvarande byrå enligt blanketten: {canonical} — finns inte i registret."
        )
        return
    roles = [ROLE_NAMES[ConnectionRole(c.role)] for c, f in open_now if f.id == current.id]
    where = (
        f"kopplad till {client.name} som {' och '.join(roles)}"
        if roles
        else f"inte kopplad till {client.name} i registret"
    )
    draft.notes.append(f"Nuvarande byrå enligt blanketten: {current.name} ({canonical}) — {where}.")


def plan_dual(session: Session, request: DualConnectionRequest) -> LinkagePlan:
    """What connecting the request's firm to its client would change; writes nothing."""
    return _draft_dual(session, request).plan()


def apply_dual(
    session: Session, request: DualConnectionRequest, *, actor: str, reference: str
) -> LinkagePlan:
    """Connect the firm to the client as `plan_dual` plans it, with its audit event.

    Raises `Conflict` when the plan has problems or another transaction got
    there first; returns the plan carried out (`already_done`: nothing was
    written). The caller commits.
    """
    return apply_draft(session, _draft_dual(session, request), actor=actor, reference=reference)
