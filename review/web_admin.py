"""Reviewer management (admins only).

`/granskning/granskare` lists reviewers with their last login; an admin adds
one (with a first password the admin passes on, which the new reviewer must
replace at their first login) or disables and enables one. Disabling ends
the reviewer's sessions on the server at once. Admins cannot disable
themselves, so the last admin cannot lock everyone out by a slip. Reviewers
get 403 on all of it.

The registry pages are `web_registry`'s. The four-eyes rules page is
`web_rules`', installed from here.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session, col, select

from review.auth import AuthError, create_reviewer, last_logins, set_active
from review.security import record_security_event
from review.web_common import PREFIX, Kit, PageError, Posted, RowId, Viewer
from review.web_rules import add_rules_routes
from workqueue import Reviewer, ReviewerRole

ROLE_LABELS = {ReviewerRole.REVIEWER.value: "Granskare", ReviewerRole.ADMIN.value: "Administratör"}


def add_admin_routes(router: APIRouter, kit: Kit) -> None:
    add_rules_routes(router, kit)  # the four-eyes rules, also admins only

    def reviewers_page(
        session: Session,
        me: Viewer,
        *,
        error: str = "",
        notice: str = "",
        status: int = 200,
        form: dict[str, str] | None = None,
    ) -> HTMLResponse:
        reviewers = session.exec(select(Reviewer).order_by(col(Reviewer.name))).all()
        return kit.render(
            "reviewers.html",
            viewer=me,
            status=status,
            reviewers=reviewers,
            logins=last_logins(session),
            roles=ROLE_LABELS,
            error=error,
            notice=notice,
            posted={k: v for k, v in (form or {}).items() if k != "password"},
        )

    @router.get("/granskare", response_class=HTMLResponse)
    def list_reviewers(
        me: Viewer = Depends(kit.admin), session: Session = Depends(kit.db)
    ) -> HTMLResponse:
        return reviewers_page(session, me)

    @router.post("/granskare", response_model=None)
    def add_reviewer(
        p: Posted = Depends(kit.admin_posted), session: Session = Depends(kit.db)
    ) -> Response:
        role = p.get("role")
        if role not in ROLE_LABELS:
            raise PageError(400, "Okänd roll.")
        try:
            added = create_reviewer(
                session,
                email=p.get("email"),
                name=p.get("name"),
                role=ReviewerRole(role),
                password=p.form.get("password", ""),
                now=kit.now(),
                must_change_password=True,  # the admin knows it: the reviewer picks their own
            )
        except AuthError as exc:
            session.rollback()
            return reviewers_page(session, p.viewer, error=exc.message, status=422, form=p.form)
        record_security_event(
            session,
            "security.reviewer_added",
            actor=p.viewer.reviewer.email,
            subject=added.email,
            detail=f"roll: {ROLE_LABELS[role]}",
            now=kit.now(),
        )
        session.commit()
        return RedirectResponse(f"{PREFIX}/granskare", status_code=303)

    def switch(reviewer_id: int, active: bool, p: Posted, session: Session) -> Response:
        if reviewer_id == p.viewer.id and not active:
            return reviewers_page(
                session, p.viewer, status=409, error="Du kan inte inaktivera ditt eget konto."
            )
        try:
            changed = set_active(session, reviewer_id, active, kit.now())
        except AuthError as exc:
            session.rollback()
            raise PageError(404, exc.message) from None
        record_security_event(
            session,
            "security.reviewer_enabled" if active else "security.reviewer_disabled",
            actor=p.viewer.reviewer.email,
            subject=changed.email,
            now=kit.now(),
        )
        session.commit()
        return RedirectResponse(f"{PREFIX}/granskare", status_code=303)

    @router.post("/granskare/{reviewer_id}/inaktivera", response_model=None)
    def disable(
        reviewer_id: RowId,
        p: Posted = Depends(kit.admin_posted),
        session: Session = Depends(kit.db),
    ) -> Response:
        return switch(reviewer_id, False, p, session)

    @router.post("/granskare/{reviewer_id}/aktivera", response_model=None)
    def enable(
        reviewer_id: RowId,
        p: Posted = Depends(kit.admin_posted),
        session: Session = Depends(kit.db),
    ) -> Response:
        return switch(reviewer_id, True, p, session)
