"""Assembling the web app from the context: routers, static files, headers.

The public form pages come from `render`, the reviewer pages (under
`/granskning/`) from `review`. Every response gets the same security
headers, and the client key used for rate limits (downloads, logins) is the
peer address, or the first X-Forwarded-For hop only when a trusted proxy is
configured (otherwise anyone could pick their own key). The reviewer login
form's token is signed with a key derived from the QR secret, so there is no
second secret to configure.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from fastapi.responses import PlainTextResponse
from fastapi.staticfiles import StaticFiles

from kopplingar.context import AppContext, build_context
from kopplingar.database import require_all_current
from kopplingar.settings import load_settings
from render import SlidingWindowLimiter
from render.web import TEMPLATES as RENDER_TEMPLATES
from render.web import PublicPages, make_public_router
from review.web import ReviewPages, install_review_pages
from workqueue import ImageStore

STATIC_DIR = RENDER_TEMPLATES.parent / "static"

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


def client_key_function(trust_forwarded_for: bool) -> Callable[[Request], str]:
    def client_key(request: Request) -> str:
        if trust_forwarded_for:
            forwarded = request.headers.get("x-forwarded-for", "")
            first = forwarded.split(",")[0].strip()
            if first:
                return first
        return request.client.host if request.client else "unknown"

    return client_key


def review_login_key(qr_key: bytes) -> bytes:
    """A key of its own for the login form's token, derived so no extra secret is needed."""
    return hmac.new(qr_key, b"kopplingar review login form", hashlib.sha256).digest()


def create_app(ctx: AppContext) -> FastAPI:
    app = FastAPI(title="kopplingar", docs_url=None, redoc_url=None, openapi_url=None)

    @app.middleware("http")
    async def security_headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if request.url.scheme == "https":
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response

    @app.get("/healthz", response_class=PlainTextResponse)
    def healthz() -> str:
        return "ok"

    pages = PublicPages(
        engine=ctx.engine,
        qr_key=ctx.qr_key,
        mailbox=ctx.mailbox_address,
        limiter=SlidingWindowLimiter(ctx.download_limit, ctx.download_window_seconds),
        client_key=client_key_function(ctx.trust_forwarded_for),
    )
    app.include_router(make_public_router(pages))
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    install_review_pages(
        app,
        ReviewPages(
            engine=ctx.engine,
            images=ImageStore(ctx.images_dir) if ctx.images_dir is not None else None,
            auth=ctx.auth_policy,
            form_url=ctx.form_url,
            sender_domain=ctx.sender_domain,
            login_key=review_login_key(ctx.qr_key),
            client_key=client_key_function(ctx.trust_forwarded_for),
            cookie_secure=ctx.cookie_secure,
        ),
    )
    return app


def app_from_environment() -> FastAPI:
    """The app as each uvicorn worker builds it (`--workers`): settings from the environment."""
    ctx = build_context(load_settings())
    require_all_current(ctx.engine)
    return create_app(ctx)
