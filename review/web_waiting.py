"""The "Väntar på kund" pages: asking the customer for what is missing, and the waiting case.

GET `/granskning/{id}/komplettering` shows the panel on a page of its own
(the same include, `_awaiting_customer.html`, that the detail page shows):
for an open case the form "Begär komplettering" (what is missing: a
signature of a named party, a page that cannot be read, a value that is
unclear, other; an optional note, required for the last two), and for a
waiting case when and why it was asked, the reminder and the day it
closes. `waiting_context(session, submission, days=...)` computes what the
include needs, for any page that shows it.

POST `/{id}/komplettering` claims the case and asks (`review.waiting.request_info`),
then goes to the detail page; POST `/{id}/komplettering/avbryt` puts a waiting
case back in the queue (`end_waiting`). Both use the CSRF token of every form.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session

from render import datum
from review.claims import OPEN_STATUSES, DecisionError, claim
from review.waiting import (
    INFO_REASONS,
    NOTE_MAX,
    end_waiting,
    recipient,
    request_info,
    signature_parties,
)
from review.web_common import PREFIX, Kit, PageError, Posted, RowId, Viewer
from workqueue import Reviewer, Submission, SubmissionStatus


def waiting_context(
    session: Session,
    submission: Submission,
    *,
    days: int,
    posted: dict[str, str] | None = None,
    expanded: bool = False,
) -> dict[str, Any]:
    """What `_awaiting_customer.html` needs, as the template variable `waiting`.

    `days`: `ReviewPages.info_reminder_days`; `posted`: the form as sent, to
    show it again after a refusal; `expanded`: the request form open at once
    (it always is when `posted` is given).
    """
    found = recipient(session, submission)
    waiting = submission.status == SubmissionStatus.AWAITING_CUSTOMER
    context: dict[str, Any] = {
        "open": submission.status in OPEN_STATUSES,
        "waiting": waiting,
        "recipient": found[1] if found else None,
        "reasons": INFO_REASONS,
        "parties": signature_parties(submission.kind),
        "note_max": NOTE_MAX,
        "days": days,
        "posted": posted or {},
        "expanded": expanded or bool(posted),
        "state": None,
    }
    asked = submission.info_requested_at
    if waiting and asked is not None:
        asker = (
            session.get(Reviewer, submission.info_requested_by)
            if submission.info_requested_by is not None
            else None
        )
        period = dt.timedelta(days=days)
        reminded = submission.info_reminded_at
        context["state"] = {
            "asked_at": asked,
            "asked_by": asker.name if asker is not None else None,
            "reason": submission.info_reason or "",
            "note": submission.info_note if submission.info_reason_code != "other" else None,
            "reminders": submission.info_reminders,
            "reminded_on": datum(reminded) if reminded is not None else None,
            "remind_on": datum(asked + period) if reminded is None else None,
            "close_on": datum((reminded or asked + period) + period),
        }
    return context


def add_waiting_routes(router: APIRouter, kit: Kit) -> None:
    def load(session: Session, submission_id: int) -> Submission:
        submission = session.get(Submission, submission_id, populate_existing=True)
        if submission is None:
            raise PageError(404, f"Ärende {submission_id} finns inte.")
        return submission

    def page(session: Session, submission: Submission, me: Viewer, *, error: str = "",
             posted: dict[str, str] | None = None, status: int = 200) -> HTMLResponse:
        return kit.render(
            "waiting.html", viewer=me, status=status, s=submission, error=error,
            waiting=waiting_context(session, submission, days=kit.pages.info_reminder_days,
                                    posted=posted, expanded=True),
        )

    @router.get("/{submission_id:int}/komplettering", response_class=HTMLResponse)
    def waiting_page(submission_id: RowId, me: Viewer = Depends(kit.viewer),
                     session: Session = Depends(kit.db)) -> HTMLResponse:
        return page(session, load(session, submission_id), me)

    @router.post("/{submission_id:int}/komplettering", response_model=None)
    def ask(submission_id: RowId, p: Posted = Depends(kit.posted),
            session: Session = Depends(kit.db)) -> Response:
        load(session, submission_id)
        try:
            claim(session, submission_id, p.viewer.reviewer, now=kit.now())
            request_info(
                session,
                submission_id,
                p.viewer.reviewer,
                reason_code=p.get("info_reason"),
                party=p.get("info_party") or None,
                note=p.get("info_note"),
                now=kit.now(),
                sender_domain=kit.pages.sender_domain,
                form_url=kit.pages.form_url,
                days=kit.pages.info_reminder_days,
            )
            session.commit()
        except DecisionError as exc:
            session.rollback()
            return page(session, load(session, submission_id), p.viewer, error=exc.message,
                        posted=p.form, status=422)
        return RedirectResponse(f"{PREFIX}/{submission_id}", status_code=303)

    @router.post("/{submission_id:int}/komplettering/avbryt", response_model=None)
    def stop_waiting(submission_id: RowId, p: Posted = Depends(kit.posted),
                     session: Session = Depends(kit.db)) -> Response:
        load(session, submission_id)
        try:
            end_waiting(session, submission_id, p.viewer.reviewer, now=kit.now())
            session.commit()
        except DecisionError as exc:
            session.rollback()
            return page(session, load(session, submission_id), p.viewer, error=exc.message,
                        status=409)
        return RedirectResponse(f"{PREFIX}/{submission_id}", status_code=303)
