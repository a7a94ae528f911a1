"""What every reviewer page shares: configuration, templates, the logged-in viewer, CSRF.

`ReviewPages` is everything the pages need, built by the composition root;
the pages never read settings. `make_kit` turns it into FastAPI dependencies:

* `db` is one SQLModel session per request;
* `form` is a POST's fields (text only), read before a sync handler runs;
* `viewer` is the reviewer behind the session cookie, or `LoginRequired`
  (a redirect to the login page); the session's idle clock is committed;
* `posted` is the form of a POST whose CSRF token matches the session's, or
  `PageError(403)` before the handler runs, so a forged POST changes nothing;
* `admin` / `admin_posted` the same, for admins only (403 otherwise).

The pages are rendered with Jinja2 from `review/templates` with autoescape;
the CSP is `default-src 'self'`, so templates carry no inline script, no
event handler attributes and no `style=` attributes: behaviour lives in
`static/review.js`, looks in `static/review.css`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import Engine
from sqlmodel import Session

from registry import utcnow
from render import SWEDISH_TIME, blankett, blankett_id
from review.auth import AuthPolicy, SessionInfo, check_csrf, load_session
from workqueue import ImageStore, Reviewer, ReviewerRole

PREFIX = "/granskning"
STATIC_PREFIX = f"{PREFIX}/static"
TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"
SESSION_COOKIE = "granskning"
CSRF_FIELD = "csrf"

SIGNATURE_STATES = {"signed": "Signerad", "empty": "Saknas", "unsure": "Osäker"}
SEVERITIES = {"blocking": "Blockerande", "warning": "Varning", "info": "Info"}
STATUS_LABELS = {
    "queued": "I kön",
    "unreadable": "Oläslig",
    "approved": "Godkänd",
    "applied": "Genomförd",
    "rejected": "Avslagen",
}
COMPANY_KINDS = {
    "client": "Klient",
    "accounting_firm": "Redovisningsbyrå",
    "audit_firm": "Revisionsbyrå",
}
CONNECTION_ROLES = {"accounting": "redovisning", "audit": "revision"}
PERSON_ROLES = {
    "sysadmin": "systemadministratör",
    "program_admin": "programadministratör",
    "firmatecknare": "firmatecknare",
    "consultant": "konsult",
}


@dataclass(frozen=True)
class ReviewPages:
    """What the reviewer pages are given by the composition root."""

    engine: Engine
    images: ImageStore | None  # None: no image directory configured, images are 404
    auth: AuthPolicy
    form_url: str  # the public form pages, for the mails a decision sends
    sender_domain: str  # Message-ID domain of those mails
    login_key: bytes  # signs the login form's pre-session token
    client_key: Callable[[Request], str]  # the address a login is throttled by
    cookie_secure: bool | None = None  # None: Secure exactly when the request came over https
    clock: Callable[[], dt.datetime] = field(default=utcnow)


class PageError(Exception):
    """Shown as an HTML page with this status (403, 404, 409)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class LoginRequired(Exception):  # noqa: N818 - a control-flow signal, not an error
    """No valid session: go to the login page and come back to `next_path`."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


@dataclass(frozen=True)
class Viewer:
    info: SessionInfo
    reviewer: Reviewer

    @property
    def id(self) -> int:
        assert self.reviewer.id is not None
        return self.reviewer.id

    @property
    def is_admin(self) -> bool:
        return self.reviewer.role == ReviewerRole.ADMIN

    @property
    def csrf(self) -> str:
        return self.info.csrf_token


@dataclass(frozen=True)
class Posted:
    viewer: Viewer
    form: dict[str, str]

    def get(self, name: str) -> str:
        return self.form.get(name, "").strip()


def local_time(value: dt.datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if value is None:
        return ""
    return value.astimezone(SWEDISH_TIME).strftime(fmt)


def percent(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value * 100:.0f} %"


def query(base: str, **params: object) -> str:
    """`base` with the non-empty params as a query string."""
    kept = {k: str(v) for k, v in params.items() if v not in (None, "")}
    return f"{base}?{urlencode(kept)}" if kept else base


def safe_next(value: str | None) -> str:
    """Where to go after logging in: a path of ours, never another site."""
    if (
        value
        and value.startswith(PREFIX + "/")
        and "\\" not in value
        and all(ch.isprintable() and not ch.isspace() for ch in value)
    ):
        return value
    return PREFIX + "/"


def make_environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["tid"] = local_time
    env.filters["procent"] = percent
    env.filters["blankett"] = blankett
    env.filters["blankett_id"] = blankett_id
    env.globals.update(
        PREFIX=PREFIX,
        STATIC=STATIC_PREFIX,
        CSRF_FIELD=CSRF_FIELD,
        SIGNATURE_STATES=SIGNATURE_STATES,
        SEVERITIES=SEVERITIES,
        STATUS_LABELS=STATUS_LABELS,
        COMPANY_KINDS=COMPANY_KINDS,
        CONNECTION_ROLES=CONNECTION_ROLES,
        PERSON_ROLES=PERSON_ROLES,
        query=query,
    )
    return env


@dataclass(frozen=True)
class Kit:
    """The pages' configuration, templates and dependencies, shared by the route modules."""

    pages: ReviewPages
    env: Environment
    db: Callable[..., Iterator[Session]]
    form: Callable[..., Awaitable[dict[str, str]]]
    viewer: Callable[..., Viewer]
    posted: Callable[..., Posted]
    admin: Callable[..., Viewer]
    admin_posted: Callable[..., Posted]

    def now(self) -> dt.datetime:
        return self.pages.clock()

    def render(
        self, template: str, *, viewer: Viewer | None, status: int = 200, **ctx: Any
    ) -> HTMLResponse:
        html = self.env.get_template(template).render(viewer=viewer, **ctx)
        response = HTMLResponse(html, status_code=status)
        # Reviewer pages show personal data: never kept by a shared cache or the back button.
        response.headers["Cache-Control"] = "no-store"
        return response


def _wanted_path(request: Request) -> str:
    path = request.url.path
    if request.method == "GET" and request.url.query:
        path += "?" + request.url.query
    return path


def make_kit(pages: ReviewPages) -> Kit:
    def db() -> Iterator[Session]:
        with Session(pages.engine) as session:
            yield session

    def viewer(request: Request, session: Session = Depends(db)) -> Viewer:
        token = request.cookies.get(SESSION_COOKIE)
        info = load_session(session, token, now=pages.clock(), policy=pages.auth) if token else None
        if info is None:
            session.rollback()
            raise LoginRequired(_wanted_path(request))
        session.commit()  # the session's idle clock
        return Viewer(info=info, reviewer=info.reviewer)

    async def form(request: Request) -> dict[str, str]:
        data = await request.form()
        return {k: v for k, v in data.items() if isinstance(v, str)}

    def posted(me: Viewer = Depends(viewer), data: dict[str, str] = Depends(form)) -> Posted:
        if not check_csrf(me.info, data.get(CSRF_FIELD, "")):
            raise PageError(
                403, "Formuläret saknade en giltig säkerhetskod. Ladda om sidan och försök igen."
            )
        return Posted(viewer=me, form=data)

    def admin(me: Viewer = Depends(viewer)) -> Viewer:
        if not me.is_admin:
            raise PageError(403, "Sidan är bara för administratörer.")
        return me

    def admin_posted(p: Posted = Depends(posted)) -> Posted:
        if not p.viewer.is_admin:
            raise PageError(403, "Sidan är bara för administratörer.")
        return p

    return Kit(
        pages=pages,
        env=make_environment(),
        db=db,
        form=form,
        viewer=viewer,
        posted=posted,
        admin=admin,
        admin_posted=admin_posted,
    )
