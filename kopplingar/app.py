"""Assembling the web app from the context: routers, static files, headers, limits.

The public form pages come from `render`, the reviewer pages (under
`/granskning/`) from `review`. `KopplingarApp` puts the security headers
outside everything Starlette adds, so error responses (404, 405, 413, 422,
429, 500) carry them too; request bodies are capped per route before any
page reads them (`kopplingar.middleware`). The client key used for rate
limits (downloads, lookups, logins) is the peer address, or the nearest
untrusted X-Forwarded-For hop when the peer is a configured proxy. The
download and lookup limit is counted in the database
(`workqueue.DatabaseLimiter`), so every worker shares it. A malformed path
or query value is a Swedish 400 page, never a 500. The reviewer login
form's token is signed with a key derived from the QR secret, so there is no
second secret to configure.
"""

from __future__ import annotations

import hashlib
import hmac

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, PlainTextResponse
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp

from kopplingar.context import AppContext, build_context
from kopplingar.database import require_all_current
from kopplingar.middleware import (
    BodyLimit,
    BodyLimits,
    SecurityHeaders,
    client_key_function,
    error_html,
)
from kopplingar.settings import load_settings
from portal import SignInPolicy
from portal.web import PREFIX as PORTAL_PREFIX
from portal.web import PortalPages, install_portal_pages
from render.web import TEMPLATES as RENDER_TEMPLATES
from render.web import PublicPages, make_public_router
from review.web import PREFIX as REVIEW_PREFIX
from review.web import ReviewPages, install_review_pages
from workqueue import DatabaseLimiter, ImageStore

STATIC_DIR = RENDER_TEMPLATES.parent / "static"

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}
HSTS = "max-age=31536000"
KIB = 1024
# Sign-in links asked for, per client address and per e-mail address.
SIGN_IN_LIMIT, SIGN_IN_WINDOW_SECONDS = 10, 15 * 60
# No page takes an upload: the login and the public forms are a few hundred bytes, a
# reviewer's corrections a few kilobytes.
BODY_LIMITS = BodyLimits(
    default=16 * KIB,
    prefixes=(
        (f"{REVIEW_PREFIX}/logga-in", 16 * KIB),
        (f"{REVIEW_PREFIX}/", 64 * KIB),
        (f"{PORTAL_PREFIX}/", 32 * KIB),
    ),
)


class KopplingarApp(FastAPI):
    """FastAPI with the security headers outside its own error handling."""

    def build_middleware_stack(self) -> ASGIApp:
        return SecurityHeaders(super().build_middleware_stack(), SECURITY_HEADERS, hsts=HSTS)


def review_login_key(qr_key: bytes) -> bytes:
    """A key of its own for the login form's token, derived so no extra secret is needed."""
    return hmac.new(qr_key, b"kopplingar review login form", hashlib.sha256).digest()


def _error_page(status: int, title: str, message: str) -> HTMLResponse:
    return HTMLResponse(
        error_html(title, message), status_code=status, headers={"Cache-Control": "no-store"}
    )


def create_app(ctx: AppContext) -> FastAPI:
    app = KopplingarApp(title="kopplingar", docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(BodyLimit, limits=BODY_LIMITS)

    @app.exception_handler(RequestValidationError)
    def invalid_request(_request: Request, _exc: RequestValidationError) -> Response:
        # A number too large for the database, a word where an id goes: never a 500.
        return _error_page(400, "Felaktig adress", "Adressen innehåller ett ogiltigt värde.")

    @app.exception_handler(Exception)
    def internal_error(_request: Request, _exc: Exception) -> Response:
        # Starlette re-raises after this page is sent, so the server logs the traceback.
        return _error_page(500, "Något gick fel", "Ett fel uppstod hos oss. Försök igen senare.")

    @app.get("/healthz", response_class=PlainTextResponse)
    def healthz() -> str:
        return "ok"

    pages = PublicPages(
        engine=ctx.engine,
        qr_key=ctx.qr_key,
        mailbox=ctx.mailbox_address,
        limiter=DatabaseLimiter(ctx.engine, ctx.download_limit, ctx.download_window_seconds),
        client_key=client_key_function(ctx.trusted_proxies),
    )
    app.include_router(make_public_router(pages))
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    install_review_pages(
        app,
        ReviewPages(
            engine=ctx.engine,
            images=ImageStore(ctx.images_dir) if ctx.images_dir is not None else None,
            raw_mail=ImageStore(ctx.mail_dir, suffix=".eml") if ctx.mail_dir is not None else None,
            auth=ctx.auth_policy,
            form_url=ctx.form_url,
            sender_domain=ctx.sender_domain,
            mailbox_address=ctx.mailbox_address,
            login_key=review_login_key(ctx.qr_key),
            client_key=client_key_function(ctx.trusted_proxies),
            cookie_secure=ctx.cookie_secure,
            review_days=ctx.review_days,
            info_reminder_days=ctx.info_reminder_days,
        ),
    )
    install_portal_pages(
        app,
        PortalPages(
            engine=ctx.engine,
            limiter=DatabaseLimiter(ctx.engine, SIGN_IN_LIMIT, SIGN_IN_WINDOW_SECONDS),
            client_key=client_key_function(ctx.trusted_proxies),
            sender_domain=ctx.sender_domain,
            base_url=ctx.public_base_url,
            form_url=ctx.form_url,
            policy=SignInPolicy(idle=ctx.auth_policy.idle, absolute=ctx.auth_policy.absolute),
            cookie_secure=ctx.cookie_secure,
            demo_outbox=ctx.demo_outbox,
        ),
    )
    return app


def app_from_environment() -> FastAPI:
    """The app as each uvicorn worker builds it (`--workers`): settings from the environment."""
    ctx = build_context(load_settings())
    require_all_current(ctx.engine)
    return create_app(ctx)
