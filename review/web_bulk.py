"""The page "Godkänn rena ärenden": confirm, then approve the clean submissions together.

GET lists the clean open submissions (`review.bulk.clean_submissions`, up to
15, oldest first), each with what approving it would change, the way the
detail page shows a plan, and a checkbox ticked by default. Nothing is
claimed by looking. The form carries, per submission, the token of what was
shown; the POST (CSRF-checked by `kit.posted`) approves the ticked ones with
`review.bulk.approve_chosen`, one transaction each, and the page then says
how many were approved and why each of the others was skipped.
"""

from __future__ import annotations

import re

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse
from sqlmodel import Session

from review.bulk import BULK_LIMIT, approve_chosen, clean_submissions
from review.deadlines import deadline, local_day
from review.web_common import Kit, Posted, Viewer

PATH = "/godkann-rena"
_TOKEN = re.compile(r"^[0-9a-f]{64}$")
_SHOWN = re.compile(r"^t([1-9][0-9]{0,9})$")


def chosen_from(form: dict[str, str]) -> tuple[list[tuple[int, str]], int]:
    """The (id, token) pairs ticked in the posted form, in page order, and how many were not."""
    chosen: list[tuple[int, str]] = []
    left_out = 0
    for name, token in form.items():
        match = _SHOWN.match(name)
        if match is None or not _TOKEN.match(token):
            continue
        sid = int(match.group(1))
        if sid > 2**31 - 1:
            continue
        if form.get(f"v{sid}") == "1":
            chosen.append((sid, token))
        else:
            left_out += 1
    return chosen[:BULK_LIMIT], left_out


def add_bulk_routes(router: APIRouter, kit: Kit) -> None:
    @router.get(PATH, response_class=HTMLResponse)
    def bulk_page(
        me: Viewer = Depends(kit.viewer), session: Session = Depends(kit.db)
    ) -> HTMLResponse:
        now = kit.now()
        cases = clean_submissions(session, me.reviewer, now=now)
        today = local_day(now)
        return kit.render(
            "bulk.html",
            viewer=me,
            cases=cases,
            limit=BULK_LIMIT,
            deadlines={
                c.submission.id: deadline(c.submission.created_at, kit.pages.review_days, today)
                for c in cases
            },
            outcomes=None,
        )

    @router.post(PATH, response_class=HTMLResponse)
    def bulk_approve(
        p: Posted = Depends(kit.posted), session: Session = Depends(kit.db)
    ) -> HTMLResponse:
        chosen, left_out = chosen_from(p.form)
        outcomes = approve_chosen(
            session,
            p.viewer.reviewer,
            chosen,
            now=kit.now(),
            form_url=kit.pages.form_url,
            sender_domain=kit.pages.sender_domain,
        )
        return kit.render(
            "bulk.html",
            viewer=p.viewer,
            cases=[],
            limit=BULK_LIMIT,
            deadlines={},
            outcomes=outcomes,
            approved=[o for o in outcomes if o.approved],
            skipped=[o for o in outcomes if not o.approved],
            left_out=left_out,
        )
