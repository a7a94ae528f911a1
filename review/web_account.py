"""The reviewer's own account, "Mitt konto": password, second factor, sessions.

`/granskning/konto` shows the reviewer's live sessions (started, last seen,
address, browser; the current one marked) with a button to end any other
one or all others, the state of their second factor, and the form to change
their password. The pages that settle an owed step hang below it and take
`kit.account` (a full session whether or not a step is owed):

* `/konto/losenord`: the own password, current plus new twice; the other
  sessions end, this one stays. A reviewer whose password an admin set is
  sent here by every other page until they have changed it.
* `/konto/tvastegsverifiering`: enrolment. A POST to `.../starta` makes a
  new secret (GET never changes anything); the page shows it as an inline
  SVG QR code and in groups for typing; the confirming code switches it on
  and the response, never stored by the browser, shows the ten recovery
  codes once. An admin without a second factor is sent here after the
  password (and the password change, if owed) and nowhere else.

Every state change is a POST with the session's CSRF token; the rules are
`review.auth` and `review.second_factor`.
"""

from __future__ import annotations

import re

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session

from review.auth import (
    AuthError,
    LoginThrottled,
    change_own_password,
    end_other_sessions,
    live_sessions,
)
from review.second_factor import (
    EnrolmentError,
    begin_enrolment,
    confirm_enrolment,
    enrolment_view,
    has_second_factor,
    needs_enrolment,
    recovery_codes_left,
)
from review.security import record_security_event
from review.web_common import (
    ACCOUNT_PATH,
    ENROL_PATH,
    PASSWORD_PATH,
    Kit,
    PageError,
    Posted,
    Viewer,
    query,
)

_SESSION_ID = re.compile(r"[0-9a-f]{64}")
NOTICES = {
    "losenord": "Lösenordet är bytt. Dina andra inloggningar är avslutade.",
    "session": "Inloggningen är avslutad.",
    "sessioner": "Alla dina andra inloggningar är avslutade.",
}

# Most specific first: Edge and Opera also say "Chrome", Chrome also says "Safari".
_BROWSERS = [
    ("Edg/", "Edge"),
    ("OPR/", "Opera"),
    ("Firefox/", "Firefox"),
    ("Chromium/", "Chromium"),
    ("Chrome/", "Chrome"),
    ("Safari/", "Safari"),
]
_SYSTEMS = [
    ("Android", "Android"),
    ("iPhone", "iPhone"),
    ("iPad", "iPad"),
    ("Windows", "Windows"),
    ("Mac OS X", "macOS"),
    ("CrOS", "ChromeOS"),
    ("Linux", "Linux"),
]


def browser_label(user_agent: str | None) -> str:
    """'Firefox på Linux' from a User-Agent header; the header says what the browser claims."""
    if not user_agent:
        return "Okänd webbläsare"
    browser = next((name for token, name in _BROWSERS if token in user_agent), None)
    system = next((name for token, name in _SYSTEMS if token in user_agent), None)
    if browser and system:
        return f"{browser} på {system}"
    return browser or system or user_agent[:60]


def add_account_routes(router: APIRouter, kit: Kit) -> None:
    def account_page(
        session: Session, me: Viewer, *, notice: str = "", error: str = "", status: int = 200
    ) -> HTMLResponse:
        rows = live_sessions(session, me.id, now=kit.now(), policy=kit.pages.auth)
        sessions = [
            {
                "row": row,
                "browser": browser_label(row.user_agent),
                "current": row.id == me.info.session_id,
            }
            for row in rows
        ]
        return kit.render(
            "account.html",
            viewer=me,
            status=status,
            sessions=sessions,
            others=sum(1 for s in sessions if not s["current"]),
            second_factor=has_second_factor(me.reviewer),
            codes_left=recovery_codes_left(session, me.id),
            notice=notice,
            error=error,
        )

    @router.get("/konto", response_class=HTMLResponse)
    def show_account(
        klart: str = "", me: Viewer = Depends(kit.viewer), session: Session = Depends(kit.db)
    ) -> HTMLResponse:
        return account_page(session, me, notice=NOTICES.get(klart, ""))

    def end_and_record(p: Posted, session: Session, only: str | None) -> int:
        ended = end_other_sessions(
            session, p.viewer.id, p.viewer.info.session_id, kit.now(), only=only
        )
        if ended:
            record_security_event(
                session,
                "security.session_ended",
                actor=p.viewer.reviewer.email,
                subject=p.viewer.reviewer.email,
                detail="en annan inloggning" if only else f"alla andra inloggningar ({ended})",
                now=kit.now(),
            )
        session.commit()
        return ended

    @router.post("/konto/sessioner/{session_id}/avsluta", response_model=None)
    def end_one(
        session_id: str, p: Posted = Depends(kit.posted), session: Session = Depends(kit.db)
    ) -> Response:
        if not _SESSION_ID.fullmatch(session_id) or session_id == p.viewer.info.session_id:
            raise PageError(404, "Den inloggningen finns inte bland dina andra inloggningar.")
        if not end_and_record(p, session, session_id):
            raise PageError(404, "Den inloggningen finns inte bland dina andra inloggningar.")
        return RedirectResponse(query(ACCOUNT_PATH, klart="session"), status_code=303)

    @router.post("/konto/sessioner/avsluta-andra", response_model=None)
    def end_others(p: Posted = Depends(kit.posted), session: Session = Depends(kit.db)) -> Response:
        end_and_record(p, session, None)
        return RedirectResponse(query(ACCOUNT_PATH, klart="sessioner"), status_code=303)

    def password_page(me: Viewer, *, error: str = "", status: int = 200) -> HTMLResponse:
        return kit.render(
            "account_password.html",
            viewer=me,
            status=status,
            forced=me.reviewer.must_change_password,
            error=error,
        )

    @router.get("/konto/losenord", response_class=HTMLResponse)
    def show_password(me: Viewer = Depends(kit.account)) -> HTMLResponse:
        return password_page(me)

    @router.post("/konto/losenord", response_model=None)
    def change_password(
        p: Posted = Depends(kit.account_posted), session: Session = Depends(kit.db)
    ) -> Response:
        try:
            change_own_password(
                session,
                p.viewer.reviewer,
                current=p.form.get("current", ""),
                new=p.form.get("new", ""),
                repeated=p.form.get("repeated", ""),
                keep_session_id=p.viewer.info.session_id,
                now=kit.now(),
                policy=kit.pages.auth,
            )
        except LoginThrottled as exc:
            session.commit()
            return password_page(p.viewer, error=exc.message, status=429)
        except AuthError as exc:
            session.commit()  # a wrong current password counts towards its throttle
            return password_page(p.viewer, error=exc.message, status=422)
        session.commit()
        if needs_enrolment(p.viewer.reviewer):
            return RedirectResponse(ENROL_PATH, status_code=303)
        return RedirectResponse(query(ACCOUNT_PATH, klart="losenord"), status_code=303)

    def enrol_page(me: Viewer, *, error: str = "", status: int = 200) -> HTMLResponse:
        return kit.render(
            "account_enrol.html",
            viewer=me,
            status=status,
            enrolment=enrolment_view(me.reviewer),
            required=needs_enrolment(me.reviewer),
            replacing=has_second_factor(me.reviewer),
            error=error,
        )

    @router.get("/konto/tvastegsverifiering", response_class=HTMLResponse, response_model=None)
    def show_enrol(me: Viewer = Depends(kit.account)) -> Response:
        if me.reviewer.must_change_password:
            return RedirectResponse(PASSWORD_PATH, status_code=303)
        return enrol_page(me)

    @router.post("/konto/tvastegsverifiering/starta", response_model=None)
    def start_enrol(
        p: Posted = Depends(kit.account_posted), session: Session = Depends(kit.db)
    ) -> Response:
        if p.viewer.reviewer.must_change_password:
            return RedirectResponse(PASSWORD_PATH, status_code=303)
        begin_enrolment(session, p.viewer.reviewer)
        session.commit()
        return RedirectResponse(ENROL_PATH, status_code=303)

    @router.post("/konto/tvastegsverifiering", response_model=None)
    def confirm_enrol(
        p: Posted = Depends(kit.account_posted), session: Session = Depends(kit.db)
    ) -> Response:
        if p.viewer.reviewer.must_change_password:
            return RedirectResponse(PASSWORD_PATH, status_code=303)
        try:
            codes = confirm_enrolment(session, p.viewer.reviewer, p.get("code"), now=kit.now())
        except EnrolmentError as exc:
            session.rollback()
            return enrol_page(p.viewer, error=exc.message, status=422)
        session.commit()
        # Shown in this response only: the page is no-store and the codes are kept hashed.
        return kit.render("account_codes.html", viewer=p.viewer, codes=codes)
