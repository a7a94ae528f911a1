"""The audit log page, `/granskning/logg`: one Swedish sentence per event, newest first.

Every reviewer sees the cases' events (registry, decisions, mailbox, outbox);
an admin also chooses "Säkerhet" or "Alla" for the security events
(`review.security.visible_events` keeps them from everyone else). Each row
is its time and its sentence (`review.audit_text`), whose parts link to
what the event concerns: a submission, a company's registry page, an
outgoing mail, and for an admin a reviewer. The stored code and the JSON
before and after sit behind a "Detaljer" toggle.

Filters: the kind (Swedish labels in the groups of `audit_text.GROUPS`,
only kinds the log holds), the submission ("Ärende": its own events, its
form's, its mail's, and the registry changes approving it made), who, and
the raw subject. 50 rows a page, keyset paging by id ("Äldre" carries the
last id shown).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse
from sqlmodel import Session, col, select

from registry import AuditEvent
from registry import Person as RegistryPerson
from review.audit_text import (
    Person,
    Ref,
    describe,
    kind_group,
    kind_groups,
    kind_label,
    linked_emails,
)
from review.security import AuditKind, is_security_action, visible_actions, visible_events
from review.web_common import PREFIX, Kit, OptionalRowId, PageError, Viewer, query
from workqueue import Reviewer, Submission

AUDIT_PAGE_SIZE = 50

# The audit page's "Typ" (admins only; everyone else sees the cases): query value -> kind.
AUDIT_KINDS: dict[str, tuple[str, AuditKind]] = {
    "arenden": ("Ärenden", "cases"),
    "sakerhet": ("Säkerhet", "security"),
    "alla": ("Alla", "all"),
}
# Registry changes made by approving a submission carry "submission N: ..." in their detail.
_LINKAGE_ACTIONS = ("connection.created", "connection.ended", "payer.changed")


@dataclass(frozen=True)
class LogRow:
    event: AuditEvent
    parts: list[tuple[str, str | None]]  # the sentence: text and, for a link, its href
    label: str  # the kind's Swedish label
    group: str
    before: str  # pretty JSON, "" when nothing was stored
    after: str


def ref_href(ref: Ref, *, admin: bool) -> str | None:
    """Where a thing an event concerns is shown; None when this viewer has no page for it."""
    if ref.kind == "submission":
        return f"{PREFIX}/{ref.key}"
    if ref.kind == "company":
        return f"{PREFIX}/register/{ref.key}"
    if ref.kind == "outbox":
        return f"{PREFIX}/utkorg/{ref.key}"
    if ref.kind == "reviewer" and admin:
        return f"{PREFIX}/granskare"
    return None


def pretty(data: dict[str, Any] | None) -> str:
    if not data:
        return ""
    return json.dumps(data, indent=2, ensure_ascii=False, sort_keys=True, default=str)


def people_of(session: Session, events: list[AuditEvent]) -> dict[str, Person]:
    """The reviewers the events name, by lower-cased e-mail, in one query."""
    emails = linked_emails(events)
    if not emails:
        return {}
    rows = session.exec(
        select(Reviewer).where(sa.func.lower(col(Reviewer.email)).in_(sorted(emails)))
    ).all()
    found = {r.email.casefold(): Person(r.name, r.id) for r in rows if r.id is not None}
    # The rest may be people in the registry acting on their own pages (`portal`).
    others = sorted(emails - set(found))
    if others:
        customers = session.exec(
            select(RegistryPerson).where(col(RegistryPerson.email).in_(others))
        ).all()
        found |= {c.email.casefold(): Person(c.name, None) for c in customers}
    return found


def concerning(session: Session, submission_id: int) -> sa.ColumnElement[bool]:
    """The events about one submission: its own, its form's and its mail's, and the registry
    changes its approval made."""
    subjects = [f"submission:{submission_id}"]
    submission = session.get(Submission, submission_id)
    if submission is not None and submission.form_id:
        subjects.append(f"form:{submission.form_id}")
    if submission is not None and submission.inbound_message_id is not None:
        subjects.append(f"inbound_message:{submission.inbound_message_id}")
    return sa.or_(
        col(AuditEvent.subject).in_(subjects),
        sa.and_(
            col(AuditEvent.action).in_(_LINKAGE_ACTIONS),
            col(AuditEvent.detail).startswith(f"submission {submission_id}:", autoescape=True),
        ),
    )


def log_rows(session: Session, events: list[AuditEvent], *, admin: bool) -> list[LogRow]:
    people = people_of(session, events)
    rows = []
    for event in events:
        sentence = describe(event, people)
        rows.append(
            LogRow(
                event=event,
                parts=[
                    (p.text, ref_href(p.ref, admin=admin) if p.ref else None)
                    for p in sentence.parts
                ],
                label=kind_label(event.action),
                group=kind_group(event.action),
                before=pretty(event.before),
                after=pretty(event.after),
            )
        )
    return rows


def add_audit_routes(router: APIRouter, kit: Kit) -> None:
    @router.get("/logg", response_class=HTMLResponse)
    def audit_page(
        action: str = "",
        actor: str = "",
        subject: str = "",
        typ: str = "arenden",
        arende: OptionalRowId = None,
        before: OptionalRowId = None,
        me: Viewer = Depends(kit.viewer),
        session: Session = Depends(kit.db),
    ) -> HTMLResponse:
        if len(actor) > 100 or len(subject) > 100 or len(action) > 50:
            raise PageError(400, "Filtret är för långt.")
        if not me.is_admin:
            typ = "arenden"
            action = "" if is_security_action(action) else action
        elif action:  # an action is of one kind: the select shows that kind's actions
            typ = "sakerhet" if is_security_action(action) else "arenden"
        elif typ not in AUDIT_KINDS:
            typ = "arenden"
        kind = AUDIT_KINDS[typ][1]
        events = visible_events(
            session,
            admin=me.is_admin,
            kind=kind,
            action=action or None,
            actor=actor.strip() or None,
            subject=subject.strip() or None,
            before_id=before,
            limit=AUDIT_PAGE_SIZE + 1,
            where=concerning(session, arende) if arende is not None else None,
        )
        more = len(events) > AUDIT_PAGE_SIZE
        events = events[:AUDIT_PAGE_SIZE]
        params = {
            "typ": "" if typ == "arenden" else typ,
            "action": action,
            "actor": actor,
            "subject": subject,
            "arende": arende or "",
        }
        next_url = query(f"{PREFIX}/logg", **params, before=events[-1].id) if more else None
        return kit.render(
            "audit.html",
            viewer=me,
            rows=log_rows(session, events, admin=me.is_admin),
            kinds={code: label for code, (label, _) in AUDIT_KINDS.items()},
            typ=typ,
            action_groups=kind_groups(visible_actions(session, admin=me.is_admin, kind=kind)),
            action=action,
            actor=actor,
            subject=subject,
            arende=arende,
            params=params,
            next_url=next_url,
            paged=before is not None,
        )
