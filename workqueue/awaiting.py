"""A customer's reply joining the submission that waits for it ("väntar på kund").

A reviewer asks the customer for what is missing (`review.waiting`): the
submission is `awaiting_customer`, and the request mail (and its reminder,
templates in `INFO_TEMPLATES`) is an `OutboundMail` row with the
submission's id and a Message-ID of ours. The mailbox pass calls
`rejoin_awaiting` for each message it finishes, in the same transaction,
after the message's attachments are queued as usual:

* **Which case.** The one whose request or reminder the message answers (a
  Message-ID of ours in its In-Reply-To or References); failing that, the
  one waiting with a form id equal to one read on the message's new pages
  (the most recently asked, if several wait with that id).
* **What joins.** By the thread: every new submission of the message whose
  form id is unknown or the case's (a form id of another form stays a case
  of its own); by form id: those with that id. Their pages are moved to the
  end of the case, after the pages it had, which stay for the history. A new
  reading of a form (one that is not unreadable) replaces what was read
  before: fields (corrections with them), signatures and findings; an
  unreadable page only adds its findings. The emptied new submission is
  closed as rejected, "Sammanslaget med ärende N", like a reviewer's join
  (`review.assemble`), so its file is still known as received. A reply
  with no usable page (just text, or the same file again) rejoins too: the
  case goes back to the queue with the customer's words in a note.
* **Then.** An info finding `customer.replied` ("Kunden kompletterade 4
  december 2026 ..."), status back to queued (unreadable when what it has
  cannot be read), the audit event `submission.customer_replied`, and the
  case number for the receipt.

The status change is one conditional UPDATE (`awaiting_customer` to open),
so a reply and the closing for want of one (`review.waiting`) cannot both
land: whichever commits second matches nothing, and a reply that comes
after the closing is a new case like any other mail. Nothing here commits.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from registry import record_event
from render import datum
from workqueue.mailmodels import InboundMessage, OutboundMail
from workqueue.models import (
    Submission,
    SubmissionField,
    SubmissionFinding,
    SubmissionPage,
    SubmissionSignature,
    SubmissionStatus,
)
from workqueue.quarantine import message_reference

__all__ = [
    "INFO_TEMPLATES",
    "REPLIED_CODE",
    "Rejoined",
    "awaiting_by_form_id",
    "awaiting_by_thread",
    "rejoin_awaiting",
]

# The mails a customer answers to complete a case: the request and the reminder.
INFO_TEMPLATES = ("info_request", "info_reminder")
REPLIED_CODE = "customer.replied"
REPLIED_ACTION = "submission.customer_replied"
_TEXT_IN_NOTE = 500


@dataclass(frozen=True)
class Rejoined:
    submission_id: int
    matched_by: str  # "thread" or "form_id"
    joined: tuple[int, ...]  # the new submissions whose pages moved in
    pages: int  # pages added


def awaiting_by_thread(session: Session, references: Sequence[str]) -> Submission | None:
    """The waiting case whose request or reminder one of `references` (`<...>`) names."""
    if not references:
        return None
    return session.exec(
        select(Submission)
        .join(OutboundMail, col(OutboundMail.submission_id) == col(Submission.id))
        .where(
            col(OutboundMail.message_id).in_(list(references)),
            col(OutboundMail.template).in_(INFO_TEMPLATES),
            col(Submission.status) == SubmissionStatus.AWAITING_CUSTOMER,
        )
        .order_by(col(Submission.info_requested_at).desc(), col(Submission.id).desc())
        .limit(1)
    ).first()


def awaiting_by_form_id(session: Session, form_ids: Sequence[str]) -> Submission | None:
    """The waiting case with one of these form ids, the most recently asked first."""
    if not form_ids:
        return None
    return session.exec(
        select(Submission)
        .where(
            col(Submission.form_id).in_(list(form_ids)),
            col(Submission.status) == SubmissionStatus.AWAITING_CUSTOMER,
        )
        .order_by(col(Submission.info_requested_at).desc(), col(Submission.id).desc())
        .limit(1)
    ).first()


_Row = TypeVar("_Row", SubmissionPage, SubmissionField, SubmissionSignature, SubmissionFinding)


def _rows(session: Session, table: type[_Row], submission_id: int) -> list[_Row]:
    return list(
        session.exec(select(table).where(col(table.submission_id) == submission_id)).all()
    )


def _move(session: Session, target: Submission, new: Submission, now: dt.datetime) -> int:
    """Move `new`'s pages (and, for a read form, its reading) into `target`; close `new`."""
    assert target.id is not None and new.id is not None
    pages = sorted(_rows(session, SubmissionPage, new.id), key=lambda p: p.position)
    start = session.exec(
        select(func.max(SubmissionPage.position)).where(
            SubmissionPage.submission_id == target.id
        )
    ).one()
    first = -1 if start is None else int(start)
    for offset, page in enumerate(pages):
        page.submission_id = target.id
        page.position = first + 1 + offset
        session.add(page)
    read = new.unreadable_reason is None and new.kind is not None
    same_form = new.form_id is not None and new.form_id == target.form_id
    if read:
        # The new reading describes the form as it is now; the old one no longer does.
        for field in _rows(session, SubmissionField, target.id):
            session.delete(field)
        for signature in _rows(session, SubmissionSignature, target.id):
            session.delete(signature)
        for old in _rows(session, SubmissionFinding, target.id):
            if old.code != REPLIED_CODE:  # earlier replies stay, as the case's history
                session.delete(old)
        session.flush()
        for moved in _rows(session, SubmissionField, new.id):
            moved.submission_id = target.id
            session.add(moved)
        for signed in _rows(session, SubmissionSignature, new.id):
            signed.submission_id = target.id
            session.add(signed)
        target.kind, target.form_id = new.kind, new.form_id or target.form_id
        target.form_version, target.quality_mm = new.form_version, new.quality_mm
        target.min_confidence, target.read_on = new.min_confidence, new.read_on
        target.unreadable_reason = None
        target.keyed_by = None
    for finding in _rows(session, SubmissionFinding, new.id):
        if finding.code == "form.duplicate" and same_form:
            session.delete(finding)  # the earlier submission it names is this case itself
            continue
        finding.submission_id = target.id
        session.add(finding)
    new.status = SubmissionStatus.REJECTED
    new.decision_reason = f"Sammanslaget med ärende {target.id}: kundens komplettering."
    new.decided_at = now
    new.claimed_by = new.claimed_until = None
    session.add(new)
    session.flush()
    return len(pages)


def _recount(session: Session, target: Submission) -> None:
    assert target.id is not None
    findings = _rows(session, SubmissionFinding, target.id)
    target.blocking_findings = sum(1 for f in findings if f.severity == "blocking")
    target.warning_findings = sum(1 for f in findings if f.severity == "warning")


def rejoin_awaiting(
    session: Session,
    record: InboundMessage,
    *,
    references: Sequence[str],
    reply_text: str,
    now: dt.datetime,
) -> Rejoined | None:
    """Join `record`'s new submissions to the case waiting for them (module docstring).

    `references`: the Message-IDs the message answers (`<...>`); `reply_text`:
    what the customer wrote, already cut to their own words, for the note.
    None when the message answers no waiting case.
    """
    assert record.id is not None
    news = list(
        session.exec(
            select(Submission)
            .where(col(Submission.inbound_message_id) == record.id)
            .order_by(col(Submission.id))
        ).all()
    )
    matched_by = "thread"
    target = awaiting_by_thread(session, references)
    if target is None:
        matched_by = "form_id"
        target = awaiting_by_form_id(session, sorted({n.form_id for n in news if n.form_id}))
    if target is None or target.id is None:
        return None
    # Exactly one of a reply and the closing for want of one wins (module docstring).
    taken = session.exec(
        sa.update(Submission)
        .where(
            col(Submission.id) == target.id,
            col(Submission.status) == SubmissionStatus.AWAITING_CUSTOMER,
        )
        .values(status=SubmissionStatus.QUEUED, claimed_by=None, claimed_until=None)
        .execution_options(synchronize_session=False)
    )
    if taken.rowcount != 1:
        return None
    target = session.get(Submission, target.id, populate_existing=True)
    assert target is not None and target.id is not None
    if matched_by == "thread":
        joining = [n for n in news if n.form_id in (None, target.form_id) or not target.form_id]
    else:
        joining = [n for n in news if n.form_id == target.form_id]
    pages = sum(_move(session, target, new, now) for new in joining)
    added = (
        f"{pages} {'ny sida' if pages == 1 else 'nya sidor'} lades till efter de tidigare"
        if pages
        else "inga nya sidor kom med; läs kundens svar"
    )
    words = " ".join(reply_text.split())
    if len(words) > _TEXT_IN_NOTE:
        words = words[: _TEXT_IN_NOTE - 1].rstrip() + "…"
    said = f" Kunden skrev: ”{words}”" if words else ""
    session.add(
        SubmissionFinding(
            submission_id=target.id,
            code=REPLIED_CODE,
            severity="info",
            message=(
                f"Kunden kompletterade {datum(now)} (mejl {message_reference(record.id)}): "
                f"{added}.{said}"
            )[:1000],
        )
    )
    session.flush()
    _recount(session, target)
    target.status = (
        SubmissionStatus.UNREADABLE if target.unreadable_reason else SubmissionStatus.QUEUED
    )
    session.add(target)
    record_event(
        session,
        actor=record.sender or message_reference(record.id),
        action=REPLIED_ACTION,
        subject=f"submission:{target.id}",
        before={"status": SubmissionStatus.AWAITING_CUSTOMER.value},
        after={
            "status": target.status.value,
            "message": message_reference(record.id),
            "matched_by": matched_by,
            "joined": [n.id for n in joining],
            "pages": pages,
        },
    )
    session.flush()
    return Rejoined(target.id, matched_by, tuple(n.id for n in joining if n.id), pages)
