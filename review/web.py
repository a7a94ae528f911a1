"""The reviewer pages: login and logout, images, and assembling the rest.

`install_review_pages(app, pages)` adds everything under `/granskning/`: the
routes of `web_queue` (the queue), `web_audit` (the audit log), `web_detail` (one submission,
claiming, corrections, decisions), `web_admin` (reviewers), `web_registry`
(the registry search, one company), `web_quarantine` (what the mailbox set
aside, its raw mail, release), `web_outbox` (the outbox, one mail's preview, sending again),
`web_bulk` (approving clean submissions together), the static files, and the
handlers that turn `LoginRequired` into a redirect and `PageError` into a
Swedish page.

Login is protected against CSRF before any session exists: the login page
sets a short-lived random nonce in an HttpOnly, SameSite=Strict cookie and
puts `expiry.HMAC(key, nonce|expiry)` in the form, so a POST from another
site (which can neither read our cookie nor forge the MAC) is refused. A
successful login always gets a NEW session token (no fixation), in an
HttpOnly, SameSite=Lax cookie limited to `/granskning`, Secure over https or
when configured. Logout is a POST with the session's CSRF token and ends the
session on the server, so a copied cookie is worthless afterwards.

An account with a second factor logs in in two steps: the password gives a
session marked "second factor pending" that opens only `/logga-in/kod`; the
right code there ends it and sets a new, full session's cookie
(`review.second_factor.complete_login`). A full session whose reviewer owes
a step (a password set by an admin, an admin without a second factor) is
sent to that step's page by `StepRequired`, whatever it asked for.

Images are served by row id: the sha256 comes from the database, never from
the request, and only to a logged-in reviewer, with `Cache-Control: no-store`
(they show personal data and signatures, so no copy stays in the browser).
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets

from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from sqlmodel import Session

from review.auth import LoginRefused, LoginThrottled, authenticate, end_session, start_session
from review.errors import ReviewError
from review.second_factor import SecondFactorRefused, complete_login, has_second_factor
from review.security import record_security_event
from review.throttle import trust_device
from review.web_account import add_account_routes
from review.web_admin import add_admin_routes
from review.web_audit import add_audit_routes
from review.web_bulk import add_bulk_routes
from review.web_common import (
    CODE_PATH,
    DEVICE_COOKIE,
    PREFIX,
    SESSION_COOKIE,
    STATIC_DIR,
    STATIC_PREFIX,
    Kit,
    LoginRequired,
    PageError,
    Posted,
    ReviewPages,
    RowId,
    StepRequired,
    Viewer,
    cookie_secure,
    delete_cookie,
    make_kit,
    query,
    read_cookie,
    safe_next,
    set_cookie,
)
from review.web_detail import add_detail_routes
from review.web_duplicates import add_duplicate_routes
from review.web_keying import add_keying_routes
from review.web_outbox import add_outbox_routes
from review.web_quarantine import add_quarantine_routes
from review.web_queue import add_queue_routes
from review.web_registry import add_registry_routes
from review.web_stats import add_stats_routes
from review.web_waiting import add_waiting_routes
from workqueue import Reviewer, SubmissionField, SubmissionPage, SubmissionSignature

__all__ = ["PREFIX", "ReviewPages", "install_review_pages"]

LOGIN_COOKIE = "granskning_inloggning"
LOGIN_FIELD = "login_token"
LOGIN_FORM_SECONDS = 15 * 60


def _mac(key: bytes, nonce: str, expiry: int) -> str:
    return hmac.new(key, f"{nonce}|{expiry}".encode(), hashlib.sha256).hexdigest()


def login_token(key: bytes, nonce: str, expiry: int) -> str:
    return f"{expiry}.{_mac(key, nonce, expiry)}"


def login_token_valid(key: bytes, nonce: str | None, token: str, now: int) -> bool:
    if not nonce:
        return False
    expiry_text, _, mac = token.partition(".")
    if not expiry_text.isdigit() or int(expiry_text) < now:
        return False
    return hmac.compare_digest(mac, _mac(key, nonce, int(expiry_text)))


def _secure(pages: ReviewPages, request: Request) -> bool:
    return cookie_secure(pages, request)


def _image_type(data: bytes) -> str:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return "image/tiff"
    return "application/octet-stream"


def _add_login_routes(router: APIRouter, kit: Kit) -> None:
    pages = kit.pages

    def login_page(
        request: Request, *, next_path: str, error: str = "", status: int = 200
    ) -> HTMLResponse:
        nonce = secrets.token_urlsafe(24)
        expiry = int(pages.clock().timestamp()) + LOGIN_FORM_SECONDS
        response = kit.render(
            "login.html",
            viewer=None,
            status=status,
            token=login_token(pages.login_key, nonce, expiry),
            token_field=LOGIN_FIELD,
            next_path=next_path,
            error=error,
        )
        response.set_cookie(
            LOGIN_COOKIE,
            nonce,
            max_age=LOGIN_FORM_SECONDS,
            path=f"{PREFIX}/logga-in",
            secure=_secure(pages, request),
            httponly=True,
            samesite="strict",
        )
        return response

    @router.get("/logga-in", response_class=HTMLResponse)
    def show_login(request: Request, next: str = "") -> HTMLResponse:
        return login_page(request, next_path=safe_next(next))

    @router.post("/logga-in", response_model=None)
    def do_login(request: Request, values: dict[str, str] = Depends(kit.form)) -> Response:
        # A sync handler (run in the thread pool): the password check takes ~70 ms of CPU.
        next_path = safe_next(values.get("next"))
        now = pages.clock()
        if not login_token_valid(
            pages.login_key,
            request.cookies.get(LOGIN_COOKIE),
            values.get(LOGIN_FIELD, ""),
            int(now.timestamp()),
        ):
            return login_page(
                request,
                next_path=next_path,
                status=403,
                error="Inloggningssidan hade gått ut. Försök igen.",
            )
        with Session(pages.engine) as session:
            try:
                reviewer = authenticate(
                    session,
                    email=values.get("email", "").strip(),
                    password=values.get("password", ""),
                    address=pages.client_key(request),
                    now=now,
                    policy=pages.auth,
                    device=read_cookie(pages, request, DEVICE_COOKIE),
                )
            except LoginThrottled as exc:
                session.commit()
                response = login_page(request, next_path=next_path, status=429, error=str(exc))
                response.headers["Retry-After"] = str(
                    max(1, math.ceil(exc.retry_after.total_seconds()))
                )
                return response
            except LoginRefused as exc:
                session.commit()  # the failure counts towards the throttle
                return login_page(request, next_path=next_path, status=403, error=str(exc))
            two_steps = has_second_factor(reviewer)
            info = start_session(
                session,
                reviewer,
                now=now,
                policy=pages.auth,
                address=pages.client_key(request),
                user_agent=request.headers.get("user-agent", "")[:200],
                second_factor_pending=two_steps,
            )
            # A browser is known only once the whole login is done, second factor included.
            device = None if two_steps else remember_device(session, request, reviewer)
            session.commit()
        target = query(CODE_PATH, next=next_path) if two_steps else next_path
        done = with_session_cookie(RedirectResponse(target, status_code=303), request, info.token)
        if device is not None:
            with_device_cookie(done, request, device)
        done.delete_cookie(LOGIN_COOKIE, path=f"{PREFIX}/logga-in")
        return done

    def with_session_cookie(response: Response, request: Request, token: str) -> Response:
        set_cookie(response, pages, request, SESSION_COOKIE, token, path=PREFIX, samesite="lax")
        return response

    def remember_device(session: Session, request: Request, reviewer: Reviewer) -> str:
        """The device cookie's new value after a whole login (review.throttle)."""
        return trust_device(
            session,
            reviewer,
            read_cookie(pages, request, DEVICE_COOKIE),
            now=pages.clock(),
            policy=pages.auth,
        )

    def with_device_cookie(response: Response, request: Request, value: str) -> None:
        # Strict and only on the login pages: it is worth nothing anywhere else.
        set_cookie(
            response,
            pages,
            request,
            DEVICE_COOKIE,
            value,
            path=f"{PREFIX}/logga-in",
            samesite="strict",
            max_age=int(pages.auth.device_lifetime.total_seconds()),
        )

    def code_page(
        me: Viewer, *, next_path: str, error: str = "", status: int = 200
    ) -> HTMLResponse:
        return kit.render(
            "login_code.html", viewer=None, status=status, me=me, next_path=next_path, error=error
        )

    @router.get("/logga-in/kod", response_class=HTMLResponse)
    def show_code(next: str = "", me: Viewer = Depends(kit.pending)) -> HTMLResponse:
        return code_page(me, next_path=safe_next(next))

    @router.post("/logga-in/kod", response_model=None)
    def do_code(
        request: Request, p: Posted = Depends(kit.any_posted), session: Session = Depends(kit.db)
    ) -> Response:
        next_path = safe_next(p.get("next"))
        if not p.viewer.info.second_factor_pending:
            return RedirectResponse(next_path, status_code=303)
        try:
            info, _kind = complete_login(
                session,
                p.viewer.info,
                p.get("code"),
                now=pages.clock(),
                policy=pages.auth,
                address=pages.client_key(request),
                user_agent=request.headers.get("user-agent", "")[:200],
            )
        except LoginThrottled as exc:
            session.commit()
            response = code_page(p.viewer, next_path=next_path, status=429, error=str(exc))
            response.headers["Retry-After"] = str(
                max(1, math.ceil(exc.retry_after.total_seconds()))
            )
            return response
        except SecondFactorRefused as exc:
            session.commit()  # the failure counts towards the throttle and is recorded
            return code_page(p.viewer, next_path=next_path, status=403, error=str(exc))
        device = remember_device(session, request, p.viewer.reviewer)
        session.commit()
        done = with_session_cookie(
            RedirectResponse(next_path, status_code=303), request, info.token
        )
        with_device_cookie(done, request, device)
        return done

    # Any session, half logged-in or owing a step included: leaving is always allowed.
    @router.post("/logga-ut", response_model=None)
    def do_logout(
        request: Request, p: Posted = Depends(kit.any_posted), session: Session = Depends(kit.db)
    ) -> Response:
        now = pages.clock()
        end_session(session, p.viewer.info.token, now)
        email = p.viewer.reviewer.email
        record_security_event(session, "security.logout", actor=email, subject=email, now=now)
        session.commit()
        response = RedirectResponse(f"{PREFIX}/logga-in", status_code=303)
        delete_cookie(response, pages, request, SESSION_COOKIE, path=PREFIX)
        return response


def _add_image_routes(router: APIRouter, kit: Kit) -> None:
    def image(sha: str | None) -> Response:
        store = kit.pages.images
        if sha is None or store is None:
            raise PageError(404, "Bilden finns inte.")
        try:
            data = store.get(sha)
        except ReviewError:
            raise PageError(404, "Bilden finns inte i bildarkivet.") from None
        # Scans of signed forms with personal data: not kept in the browser's cache either.
        return Response(data, media_type=_image_type(data), headers={"Cache-Control": "no-store"})

    logged_in = [Depends(kit.viewer)]

    @router.get("/bild/sida/{page_id}", response_model=None, dependencies=logged_in)
    def page_image(
        page_id: RowId, original: bool = False, session: Session = Depends(kit.db)
    ) -> Response:
        row = session.get(SubmissionPage, page_id)
        if row is None:
            raise PageError(404, "Sidan finns inte.")
        return image(row.image_sha256 if original else row.aligned_sha256 or row.image_sha256)

    @router.get("/bild/falt/{field_id}", response_model=None, dependencies=logged_in)
    def field_image(field_id: RowId, session: Session = Depends(kit.db)) -> Response:
        row = session.get(SubmissionField, field_id)
        return image(row.crop_sha256 if row else None)

    @router.get("/bild/underskrift/{signature_id}", response_model=None, dependencies=logged_in)
    def signature_image(signature_id: RowId, session: Session = Depends(kit.db)) -> Response:
        row = session.get(SubmissionSignature, signature_id)
        return image(row.crop_sha256 if row else None)


def make_review_router(pages: ReviewPages) -> tuple[APIRouter, Kit]:
    kit = make_kit(pages)
    router = APIRouter(prefix=PREFIX)
    _add_login_routes(router, kit)
    _add_image_routes(router, kit)
    add_queue_routes(router, kit)
    add_audit_routes(router, kit)
    add_account_routes(router, kit)
    add_quarantine_routes(router, kit)
    add_outbox_routes(router, kit)
    add_admin_routes(router, kit)
    add_registry_routes(router, kit)
    add_keying_routes(router, kit)
    add_waiting_routes(router, kit)
    add_duplicate_routes(router, kit)
    add_stats_routes(router, kit)
    add_bulk_routes(router, kit)
    add_detail_routes(router, kit)  # last: its /{id} must not shadow the named pages
    return router, kit


def install_review_pages(app: FastAPI, pages: ReviewPages) -> None:
    """Add the reviewer pages, their static files and their error pages to `app`."""
    router, kit = make_review_router(pages)
    app.include_router(router)
    app.mount(STATIC_PREFIX, StaticFiles(directory=STATIC_DIR), name="review-static")

    @app.exception_handler(LoginRequired)
    def to_login(request: Request, exc: LoginRequired) -> Response:
        target = f"{PREFIX}/logga-in"
        if exc.next_path and exc.next_path != PREFIX + "/":
            target = query(target, next=exc.next_path)
        response = RedirectResponse(target, status_code=303)
        if read_cookie(pages, request, SESSION_COOKIE):
            delete_cookie(response, pages, request, SESSION_COOKIE, path=PREFIX)
        return response

    @app.exception_handler(StepRequired)
    def to_step(_request: Request, exc: StepRequired) -> Response:
        return RedirectResponse(exc.target, status_code=303)

    @app.exception_handler(PageError)
    def error_page(_request: Request, exc: PageError) -> Response:
        return kit.render("error.html", viewer=None, status=exc.status, message=exc.message)
