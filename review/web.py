"""The reviewer pages: login and logout, images, and assembling the rest.

`install_review_pages(app, pages)` adds everything under `/granskning/`: the
routes of `web_queue` (queue, audit log), `web_detail` (one submission,
claiming, corrections, decisions), `web_admin` (reviewers, registry pages),
the static files, and the handlers that turn `LoginRequired` into a redirect
and `PageError` into a Swedish page.

Login is protected against CSRF before any session exists: the login page
sets a short-lived random nonce in an HttpOnly, SameSite=Strict cookie and
puts `expiry.HMAC(key, nonce|expiry)` in the form, so a POST from another
site (which can neither read our cookie nor forge the MAC) is refused. A
successful login always gets a NEW session token (no fixation), in an
HttpOnly, SameSite=Lax cookie limited to `/granskning`, Secure over https or
when configured. Logout is a POST with the session's CSRF token and ends the
session on the server, so a copied cookie is worthless afterwards.

Images are served by row id: the sha256 comes from the database, never from
the request, and only to a logged-in reviewer.
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
from review.web_admin import add_admin_routes
from review.web_common import (
    PREFIX,
    SESSION_COOKIE,
    STATIC_DIR,
    STATIC_PREFIX,
    Kit,
    LoginRequired,
    PageError,
    ReviewPages,
    make_kit,
    query,
    safe_next,
)
from review.web_detail import add_detail_routes
from review.web_queue import add_queue_routes
from workqueue import SubmissionField, SubmissionPage, SubmissionSignature

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
    if pages.cookie_secure is not None:
        return pages.cookie_secure
    return request.url.scheme == "https"


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
            info = start_session(
                session,
                reviewer,
                now=now,
                policy=pages.auth,
                address=pages.client_key(request),
                user_agent=request.headers.get("user-agent", "")[:200],
            )
            session.commit()
        done = RedirectResponse(next_path, status_code=303)
        done.set_cookie(
            SESSION_COOKIE,
            info.token,
            path=PREFIX,
            secure=_secure(pages, request),
            httponly=True,
            samesite="lax",
        )
        done.delete_cookie(LOGIN_COOKIE, path=f"{PREFIX}/logga-in")
        return done

    @router.post("/logga-ut", response_model=None, dependencies=[Depends(kit.posted)])
    def do_logout(request: Request, session: Session = Depends(kit.db)) -> Response:
        end_session(session, request.cookies.get(SESSION_COOKIE, ""), pages.clock())
        session.commit()
        response = RedirectResponse(f"{PREFIX}/logga-in", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path=PREFIX)
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
        # Content-addressed: the bytes behind an id never change.
        return Response(
            data,
            media_type=_image_type(data),
            headers={"Cache-Control": "private, max-age=86400, immutable"},
        )

    logged_in = [Depends(kit.viewer)]

    @router.get("/bild/sida/{page_id}", response_model=None, dependencies=logged_in)
    def page_image(
        page_id: int, original: bool = False, session: Session = Depends(kit.db)
    ) -> Response:
        row = session.get(SubmissionPage, page_id)
        if row is None:
            raise PageError(404, "Sidan finns inte.")
        return image(row.image_sha256 if original else row.aligned_sha256 or row.image_sha256)

    @router.get("/bild/falt/{field_id}", response_model=None, dependencies=logged_in)
    def field_image(field_id: int, session: Session = Depends(kit.db)) -> Response:
        row = session.get(SubmissionField, field_id)
        return image(row.crop_sha256 if row else None)

    @router.get("/bild/underskrift/{signature_id}", response_model=None, dependencies=logged_in)
    def signature_image(signature_id: int, session: Session = Depends(kit.db)) -> Response:
        row = session.get(SubmissionSignature, signature_id)
        return image(row.crop_sha256 if row else None)


def make_review_router(pages: ReviewPages) -> tuple[APIRouter, Kit]:
    kit = make_kit(pages)
    router = APIRouter(prefix=PREFIX)
    _add_login_routes(router, kit)
    _add_image_routes(router, kit)
    add_queue_routes(router, kit)
    add_admin_routes(router, kit)
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
        if request.cookies.get(SESSION_COOKIE):
            response.delete_cookie(SESSION_COOKIE, path=PREFIX)
        return response

    @app.exception_handler(PageError)
    def error_page(_request: Request, exc: PageError) -> Response:
        return kit.render("error.html", viewer=None, status=exc.status, message=exc.message)
