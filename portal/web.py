"""The customer pages under `/mina-sidor/`: one router from the route modules, errors, static files.

Public to the app assembly only (it pulls in FastAPI). The route modules
each add their pages to one router: signing in (`web_signin`), the firm's
client list and consultants (`web_firm`), the client's firms and its
consultants' programs (`web_client`), digital requests and invitations
(`web_requests`), and the demo's mail page (`web_demo`, only when the
composition root turns it on).
"""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from portal import web_client, web_demo, web_firm, web_requests, web_signin
from portal.web_common import (
    PREFIX,
    STATIC_DIR,
    STATIC_PREFIX,
    PageError,
    PortalPages,
    SignInRequired,
    make_kit,
)

__all__ = ["PREFIX", "PortalPages", "install_portal_pages"]

TITLES = {
    400: "Något stämmer inte",
    403: "Det här får du inte göra",
    404: "Sidan finns inte",
    409: "Det gick inte",
    410: "Länken går inte att använda",
}


def install_portal_pages(app: FastAPI, pages: PortalPages) -> None:
    """Add the customer pages, their static files and their error pages to `app`."""
    kit = make_kit(pages)
    router = APIRouter()
    for module in (web_signin, web_firm, web_client, web_requests):
        module.add_routes(router, kit)
    if pages.demo_outbox:
        web_demo.add_routes(router, kit)
    app.include_router(router)
    app.mount(STATIC_PREFIX, StaticFiles(directory=STATIC_DIR), name="portal-static")

    @app.exception_handler(SignInRequired)
    def to_sign_in(_request: Request, exc: SignInRequired) -> Response:
        target = f"{PREFIX}/logga-in"
        if exc.next_path and exc.next_path != PREFIX + "/":
            target += "?" + urlencode({"next": exc.next_path})
        return RedirectResponse(target, status_code=303)

    @app.exception_handler(PageError)
    def error_page(_request: Request, exc: PageError) -> Response:
        return kit.render(
            "page_error.html",
            customer=None,
            status=exc.status,
            title=TITLES.get(exc.status, "Det gick inte"),
            message=exc.message,
        )
