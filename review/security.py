"""Security events: who logged in, failed, was throttled, was refused, changed what.

Owns `record_security_event`, which writes one registry `AuditEvent` whose
action starts with `security.`, in the caller's transaction (it never
commits), `SECURITY_ACTIONS`, the Swedish label of each, and
`visible_events`, the one rule of who reads them. They share the audit table
with the registry's and the queue's changes ("Ärenden") so that one log
answers "what happened", but only admins see them: a login failure names an
address and an e-mail that was typed, which is more than every reviewer
needs to see.

Actor and subject are cut to the columns' length: both may come from what a
stranger typed into the login form, and an over-long e-mail must not turn
a refused login into a database error.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

import sqlalchemy as sa
from sqlmodel import Session, col, select

from registry import AuditEvent

PREFIX = "security."

_ACTOR_LENGTH = 100
_SUBJECT_LENGTH = 100
_ACTION_LENGTH = 50
_DETAIL_LENGTH = 2000

SECURITY_ACTIONS: dict[str, str] = {
    "security.login_succeeded": "Inloggning lyckades",
    "security.login_failed": "Inloggning misslyckades",
    "security.login_throttled": "Inloggning spärrad tillfälligt",
    "security.logout": "Utloggning",
    "security.device_untrusted": "Webbläsare inte längre betrodd",
    "security.reviewer_added": "Granskare tillagd",
    "security.reviewer_disabled": "Granskare inaktiverad",
    "security.reviewer_enabled": "Granskare aktiverad",
    "security.password_changed": "Lösenord ändrat",
    "security.csrf_refused": "Formulär utan giltig säkerhetskod",
    "security.forbidden": "Åtkomst nekad",
    "security.session_ended": "Session avslutad",
    "security.second_factor_enrolled": "Tvåstegsverifiering aktiverad",
    "security.second_factor_failed": "Tvåstegsverifiering misslyckades",
    "security.second_factor_removed": "Tvåstegsverifiering borttagen av driften",
}


def is_security_action(action: str) -> bool:
    return action.startswith(PREFIX)


def security_label(action: str) -> str:
    """The Swedish label of a security action; the code itself for one not (yet) labelled."""
    return SECURITY_ACTIONS.get(action, action)


def record_security_event(
    session: Session,
    action: str,
    *,
    actor: str,
    subject: str,
    detail: str = "",
    now: dt.datetime,
) -> None:
    """Add a `security.*` audit event to the caller's transaction (never commits).

    `actor` is who did it (a reviewer's e-mail, or the address of an
    anonymous client); `subject` what it was done to (the account).
    """
    if not is_security_action(action) or len(action) > _ACTION_LENGTH:
        raise ValueError(f"not a security action: {action!r}")
    if now.tzinfo is None:
        raise ValueError(f"naive datetime {now!r}: pass an aware UTC time")
    session.add(
        AuditEvent(
            at=now,
            actor=actor[:_ACTOR_LENGTH] or "okänd",
            action=action,
            subject=subject[:_SUBJECT_LENGTH],
            detail=detail[:_DETAIL_LENGTH],
        )
    )


AuditKind = Literal["cases", "security", "all"]


def _kind_condition(kind: AuditKind) -> sa.ColumnElement[bool] | None:
    security = col(AuditEvent.action).startswith(PREFIX, autoescape=True)
    if kind == "security":
        return security
    if kind == "cases":
        return sa.not_(security)
    return None


def visible_events(
    session: Session,
    *,
    admin: bool,
    kind: AuditKind,
    action: str | None = None,
    actor: str | None = None,
    subject: str | None = None,
    before_id: int | None = None,
    limit: int = 50,
    where: sa.ColumnElement[bool] | None = None,
) -> list[AuditEvent]:
    """Audit events newest first, as this viewer may see them: never a security event to a
    non-admin, whatever `kind`, `action` or `where` (any further condition) asks for."""
    if limit < 1:
        raise ValueError(f"limit must be at least 1, not {limit}")
    conditions = [c for c in [_kind_condition("cases" if not admin else kind)] if c is not None]
    if where is not None:
        conditions.append(where)
    if action is not None:
        conditions.append(col(AuditEvent.action) == action)
    if actor is not None:
        conditions.append(col(AuditEvent.actor) == actor)
    if subject is not None:
        conditions.append(col(AuditEvent.subject) == subject)
    if before_id is not None:
        conditions.append(col(AuditEvent.id) < before_id)
    statement = select(AuditEvent).where(*conditions).order_by(col(AuditEvent.id).desc())
    return list(session.exec(statement.limit(limit)).all())


def visible_actions(session: Session, *, admin: bool, kind: AuditKind) -> list[str]:
    """The actions the log holds that this viewer may filter by, sorted."""
    condition = _kind_condition("cases" if not admin else kind)
    statement = select(AuditEvent.action).distinct().order_by(col(AuditEvent.action))
    if condition is not None:
        statement = statement.where(condition)
    return [str(a) for a in session.exec(statement).all()]
