"""The four-eyes rules page (admins only): which blocking findings need a second reviewer.

`/granskning/regler` lists every blocking finding code with its Swedish label,
whether an override of it needs a second reviewer's confirmation now, the
default, and which admin changed it when. An admin switches one code at a
time (a POST with the code and "ja"/"nej"); the rule and its audit event are
`review.four_eyes.set_rule`. Reviewers get 403 on all of it.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session

from review.claims import DecisionError
from review.four_eyes import rule_rows, set_rule
from review.web_common import PREFIX, Kit, PageError, Posted, Viewer, query

_CHOICES = {"ja": True, "nej": False}


def add_rules_routes(router: APIRouter, kit: Kit) -> None:
    def page(
        session: Session, me: Viewer, *, error: str = "", notice: str = "", status: int = 200
    ) -> HTMLResponse:
        return kit.render(
            "rules.html",
            viewer=me,
            status=status,
            rules=rule_rows(session),
            error=error,
            notice=notice,
        )

    @router.get("/regler", response_class=HTMLResponse)
    def rules_page(
        andrad: str = "", me: Viewer = Depends(kit.admin), session: Session = Depends(kit.db)
    ) -> HTMLResponse:
        labels = {r.code: r for r in rule_rows(session)}
        changed = labels.get(andrad)
        notice = ""
        if changed is not None:
            state = "på" if changed.required else "av"
            notice = f"Fyra ögon är nu {state} för ”{changed.label}”."
        return page(session, me, notice=notice)

    @router.post("/regler", response_model=None)
    def change_rule(
        p: Posted = Depends(kit.admin_posted), session: Session = Depends(kit.db)
    ) -> Response:
        choice = _CHOICES.get(p.get("required"))
        if choice is None:
            raise PageError(400, "Välj om fyra ögon ska gälla eller inte.")
        code = p.get("code")
        try:
            set_rule(session, code, choice, p.viewer.reviewer, now=kit.now())
        except DecisionError as exc:
            session.rollback()
            return page(session, p.viewer, error=exc.message, status=422)
        session.commit()
        return RedirectResponse(query(f"{PREFIX}/regler", andrad=code), status_code=303)
