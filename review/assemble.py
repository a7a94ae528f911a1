"""Putting pages and forms right: one form in two submissions, or two forms in one.

The intake makes one submission per form it finds, and one per page it
cannot read. A customer who photographs the top and the bottom of a form
separately sends two pages that are one form; one who photographs two forms
side by side sends one page that is two. The reviewer fixes that here:

* `join`: the other submission's pages are moved, in order, to the end of
  this one, which becomes a form to key from all of them (`review.keying`:
  what was read of either no longer describes it). The other is closed as
  rejected with the reason "sammanslaget med ärende N" and no mail to the
  customer, since nothing was wrong with what they sent.
* `split`: a new unreadable submission for the same message, with the same
  page images, to key the second form from; this one keeps what it has.

Both need the reviewer to hold the submissions concerned (`review.claims`),
and both are audited (`submission.joined`, `submission.split`).
"""

from __future__ import annotations

import datetime as dt

from sqlmodel import Session, col, select

from registry import record_event
from review.claims import OPEN_STATUSES, DecisionError, claim, hold
from workqueue import (
    Reviewer,
    Submission,
    SubmissionField,
    SubmissionFinding,
    SubmissionPage,
    SubmissionSignature,
    SubmissionStatus,
)


def _pages(session: Session, submission_id: int) -> list[SubmissionPage]:
    return list(session.exec(select(SubmissionPage).where(
        SubmissionPage.submission_id == submission_id).order_by(
        col(SubmissionPage.position))).all())


def join(session: Session, submission_id: int, other_id: int, reviewer: Reviewer, *,
         now: dt.datetime) -> None:
    """Move `other_id`'s pages to the end of `submission_id` (module docstring)."""
    if other_id == submission_id:
        raise DecisionError("Ett ärende kan inte slås ihop med sig självt.")
    target = hold(session, submission_id, reviewer, now, OPEN_STATUSES)
    other = session.get(Submission, other_id)
    if other is None or other.status not in OPEN_STATUSES:
        raise DecisionError(f"Ärende {other_id} finns inte eller är redan avgjort.")
    claim(session, other_id, reviewer, now=now)
    other = hold(session, other_id, reviewer, now, OPEN_STATUSES)
    pages = _pages(session, submission_id)
    moved = _pages(session, other_id)
    # Positions are unique per submission: move the others after every existing one.
    start = max((p.position for p in pages), default=-1) + 1
    for offset, page in enumerate(moved):
        page.submission_id = submission_id
        page.position = start + offset
        session.add(page)
    # What was read of either page alone does not describe the form they make together.
    for table in (SubmissionField, SubmissionSignature, SubmissionFinding):
        for row in session.exec(select(table).where(
                col(table.submission_id) == submission_id)).all():
            session.delete(row)
    session.add(SubmissionFinding(
        submission_id=submission_id, code="review.joined", severity="blocking",
        message=f"Sidorna från ärende {other_id} lades till; skriv in blanketten från "
                "sidorna."))
    before = {"status": target.status.value, "kind": target.kind, "pages": len(pages)}
    target.status = SubmissionStatus.UNREADABLE
    target.kind = None
    target.keyed_by = None
    target.unreadable_reason = (f"sidorna från ärende {other_id} lades till; blanketten skrivs "
                                "in för hand")
    target.blocking_findings, target.warning_findings = 1, 0
    session.add(target)
    other.status = SubmissionStatus.REJECTED
    other.decision_reason = f"Sammanslaget med ärende {submission_id}."
    other.decided_by, other.decided_at = reviewer.id, now
    other.claimed_by = other.claimed_until = None
    session.add(other)
    record_event(session, actor=reviewer.email, action="submission.joined",
                 subject=f"submission:{submission_id}", before=before,
                 after={"joined": other_id, "pages": len(pages) + len(moved)})
    session.flush()


def split(session: Session, submission_id: int, reviewer: Reviewer, *,
          now: dt.datetime) -> int:
    """A new unreadable submission with the same pages, for a second form on them."""
    source = hold(session, submission_id, reviewer, now, OPEN_STATUSES)
    siblings = session.exec(select(Submission.document_index).where(
        Submission.source_sha256 == source.source_sha256)).all()
    new = Submission(
        status=SubmissionStatus.UNREADABLE, source_kind=source.source_kind,
        source_name=source.source_name, source_sha256=source.source_sha256,
        document_index=max(siblings, default=0) + 1, quality_mm=source.quality_mm,
        unreadable_reason=f"avdelad från ärende {submission_id}: en blankett till på samma "
                          "sidor, att skriva in för hand",
        blocking_findings=1, inbound_message_id=source.inbound_message_id,
    )
    session.add(new)
    session.flush()
    assert new.id is not None
    for page in _pages(session, submission_id):
        session.add(SubmissionPage(submission_id=new.id, position=page.position,
                                   source_page=page.source_page,
                                   image_sha256=page.image_sha256,
                                   aligned_sha256=page.aligned_sha256))
    session.add(SubmissionFinding(
        submission_id=new.id, code="review.split", severity="blocking",
        message=f"Avdelad från ärende {submission_id}: skriv in den andra blanketten från "
                "sidorna."))
    record_event(session, actor=reviewer.email, action="submission.split",
                 subject=f"submission:{submission_id}", before=None,
                 after={"new_submission": new.id})
    session.flush()
    return new.id
