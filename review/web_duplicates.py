"""The duplicates page and "close as a duplicate of #N".

`/granskning/dubbletter` lists the groups of `review.duplicates` (the same
issued-form id, or the same document of the same file), oldest group first
and oldest member first in each, with status, arrival, sender and a link;
each open member has a button that closes it as a duplicate of another
member.

`POST /granskning/dubbletter/{id}/stang` (with the CSRF token and the field
`original`, the N of "Dubblett av ärende N") closes it: rejected, no mail to
the customer, audited. It claims the submission first, so one another
reviewer holds is refused with who holds it. The optional field `next` (a
path of ours, e.g. the detail page) is where to go afterwards; the list by
default. A refusal is the list again with the Swedish reason, 409.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session

from review.claims import DecisionError
from review.duplicates import close_as_duplicate, duplicate_groups
from review.web_common import (
    PREFIX,
    Kit,
    OptionalRowId,
    PageError,
    Posted,
    RowId,
    Viewer,
    query,
    safe_next,
)

DUPLICATES_PATH = f"{PREFIX}/dubbletter"
SHOWN_GROUPS = 50  # the oldest; more than this is a backlog to work from the top


def add_duplicate_routes(router: APIRouter, kit: Kit) -> None:
    def page(
        session: Session,
        me: Viewer,
        *,
        notice: str = "",
        error: str = "",
        status: int = 200,
    ) -> HTMLResponse:
        groups = duplicate_groups(session, now=kit.now())
        return kit.render(
            "duplicates.html",
            viewer=me,
            status=status,
            groups=groups[:SHOWN_GROUPS],
            total=len(groups),
            now=kit.now(),
            notice=notice,
            error=error,
        )

    @router.get("/dubbletter", response_class=HTMLResponse)
    def duplicates_page(
        klart: OptionalRowId = None,
        av: OptionalRowId = None,
        me: Viewer = Depends(kit.viewer),
        session: Session = Depends(kit.db),
    ) -> HTMLResponse:
        notice = ""
        if klart is not None and av is not None:
            notice = (
                f"Ärende {klart} är stängt som dubblett av ärende {av}. Kunden fick inget mejl."
            )
        return page(session, me, notice=notice)

    @router.post("/dubbletter/{submission_id}/stang", response_model=None)
    def close(
        submission_id: RowId, p: Posted = Depends(kit.posted), session: Session = Depends(kit.db)
    ) -> Response:
        original = p.get("original")
        if not original.isdigit() or not 0 < int(original) < 2**31:
            raise PageError(400, "Välj vilket ärende det är en dubblett av.")
        try:
            close_as_duplicate(
                session, submission_id, int(original), p.viewer.reviewer, now=kit.now()
            )
        except DecisionError as exc:
            session.rollback()
            return page(session, p.viewer, error=exc.message, status=409)
        session.commit()
        target = p.get("next")
        if target:
            return RedirectResponse(safe_next(target), status_code=303)
        return RedirectResponse(
            query(DUPLICATES_PATH, klart=submission_id, av=original), status_code=303
        )
