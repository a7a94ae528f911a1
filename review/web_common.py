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

Every such refusal (a CSRF mismatch, a 403 for a non-admin) is recorded as a
security event (`review.security`) before the 403 is raised.

Cookies: over TLS the session and device cookies are named `__Host-...`, so
the browser insists on Secure, `Path=/` and no Domain, and no sibling
subdomain or plain-http page can plant or shadow them; only that name is
read then. Over plain http (the demo on loopback) they keep a plain name
under `/granskning`, since browsers refuse `__Host-` without Secure.

`form` reads a POST with bounds (no files, at most `MAX_FORM_FIELDS` fields
of `MAX_FIELD_BYTES`; 400 beyond). Ids in paths and queries are `RowId` /
`OptionalRowId`: a number outside 1..2**31-1 is a 400 page before any query.

A session is not yet a viewer when a step is owed: the second factor at
login (`second_factor_pending`), a password chosen by an admin that must be
replaced, or an admin's missing second factor. `viewer` then raises
`StepRequired`, a redirect to the one page that settles it, so nothing else
opens, not even by a POST. Those pages use `account` / `account_posted`
(a full session, step or not) and `pending` (a session waiting for its
code); logout takes any session (`any_posted`).

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
from typing import Annotated, Any, Literal, NoReturn
from urllib.parse import urlencode

from fastapi import Depends, Query, Request, Response
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import Engine
from sqlmodel import Session
from starlette.exceptions import HTTPException

from registry import utcnow
from render import SWEDISH_TIME, blankett, blankett_id
from review.auth import AuthPolicy, SessionInfo, check_csrf, load_session
from review.finding_labels import finding_label
from review.second_factor import needs_enrolment
from review.security import record_security_event
from workqueue import ImageStore, Reviewer, ReviewerRole

PREFIX = "/granskning"
STATIC_PREFIX = f"{PREFIX}/static"
TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"
SESSION_COOKIE = "granskning"
DEVICE_COOKIE = "granskning_enhet"  # the login throttle's device cookie (review.throttle)
HOST_PREFIX = "__Host-"
CSRF_FIELD = "csrf"
CODE_PATH = f"{PREFIX}/logga-in/kod"
ACCOUNT_PATH = f"{PREFIX}/konto"
PASSWORD_PATH = f"{ACCOUNT_PATH}/losenord"
ENROL_PATH = f"{ACCOUNT_PATH}/tvastegsverifiering"

# Row ids in paths and queries: a number an id column holds (INTEGER on PostgreSQL), else 400
# before any query (a larger one overflowed the database or its driver: a 500).
MAX_ROW_ID = 2**31 - 1
RowId = Annotated[int, PathParam(ge=1, le=MAX_ROW_ID)]
OptionalRowId = Annotated[int | None, Query(ge=1, le=MAX_ROW_ID)]
# No reviewer form has more than a few dozen fields; the body is capped before this anyway.
MAX_FORM_FIELDS = 200
MAX_FIELD_BYTES = 16 * 1024

SIGNATURE_STATES = {"signed": "Signerad", "empty": "Saknas", "unsure": "Osäker"}
SEVERITIES = {"blocking": "Blockerande", "warning": "Varning", "info": "Info"}
STATUS_LABELS = {
    "queued": "I kön",
    "unreadable": "Oläslig",
    "approved": "Godkänd",
    "applied": "Genomförd",
    "rejected": "Avslagen",
    "awaiting_customer": "Väntar på kund",
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
    raw_mail: ImageStore | None = None  # the mailbox's raw .eml store; None: no downloads
    review_days: int = 2  # working days the receipt mail promises (review.deadlines)
    info_reminder_days: int = 5  # a case waiting for the customer (review.waiting)
    mailbox_address: str = ""  # the outbox's From address (its preview); "": not configured


def cookie_secure(pages: ReviewPages, request: Request) -> bool:
    if pages.cookie_secure is not None:
        return pages.cookie_secure
    return request.url.scheme == "https"


def cookie_name(base: str, secure: bool) -> str:
    return HOST_PREFIX + base if secure else base


def read_cookie(pages: ReviewPages, request: Request, base: str) -> str | None:
    return request.cookies.get(cookie_name(base, cookie_secure(pages, request)))


def set_cookie(
    response: Response,
    pages: ReviewPages,
    request: Request,
    base: str,
    value: str,
    *,
    path: str,
    samesite: Literal["lax", "strict"],
    max_age: int | None = None,
) -> None:
    """An HttpOnly cookie; over TLS `__Host-` named, Secure and at `Path=/` as the prefix needs."""
    secure = cookie_secure(pages, request)
    response.set_cookie(
        cookie_name(base, secure),
        value,
        max_age=max_age,
        path="/" if secure else path,
        secure=secure,
        httponly=True,
        samesite=samesite,
    )


def delete_cookie(
    response: Response, pages: ReviewPages, request: Request, base: str, *, path: str
) -> None:
    secure = cookie_secure(pages, request)
    # A browser ignores the deletion of a __Host- cookie that is not itself Secure at Path=/.
    response.delete_cookie(
        cookie_name(base, secure), path="/" if secure else path, secure=secure, httponly=True
    )


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


class StepRequired(Exception):  # noqa: N818 - a control-flow signal, not an error
    """A step is owed before any other page (code, own password, enrolment): go to `target`."""

    def __init__(self, target: str) -> None:
        super().__init__(target)
        self.target = target


@dataclass(frozen=True)
class Viewer:
    info: SessionInfo
    reviewer: Reviewer

    @property
    def owed_step(self) -> str | None:
        """The page this viewer must settle first, or None: the pages hide their menu then."""
        if self.reviewer.must_change_password:
            return PASSWORD_PATH
        if needs_enrolment(self.reviewer):
            return ENROL_PATH
        return None

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
        finding_label=finding_label,
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
    account: Callable[..., Viewer]
    account_posted: Callable[..., Posted]
    pending: Callable[..., Viewer]
    any_posted: Callable[..., Posted]

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

    def any_session(request: Request, session: Session = Depends(db)) -> Viewer:
        token = read_cookie(pages, request, SESSION_COOKIE)
        info = load_session(session, token, now=pages.clock(), policy=pages.auth) if token else None
        if info is None:
            session.rollback()
            raise LoginRequired(_wanted_path(request))
        session.commit()  # the session's idle clock
        return Viewer(info=info, reviewer=info.reviewer)

    def account(request: Request, me: Viewer = Depends(any_session)) -> Viewer:
        if me.info.second_factor_pending:
            raise StepRequired(query(CODE_PATH, next=safe_next(_wanted_path(request))))
        return me

    def viewer(me: Viewer = Depends(account)) -> Viewer:
        step = me.owed_step
        if step is not None:
            raise StepRequired(step)
        return me

    def pending(request: Request, me: Viewer = Depends(any_session)) -> Viewer:
        if not me.info.second_factor_pending:
            raise StepRequired(safe_next(request.query_params.get("next")))
        return me

    async def form(request: Request) -> dict[str, str]:
        try:
            data = await request.form(
                max_files=0, max_fields=MAX_FORM_FIELDS, max_part_size=MAX_FIELD_BYTES
            )
        except HTTPException:
            raise PageError(
                400, "Formuläret hade för många eller för långa fält. Ladda om sidan."
            ) from None
        return {k: v for k, v in data.items() if isinstance(v, str)}

    def refuse(
        session: Session, request: Request, me: Viewer, action: str, message: str
    ) -> NoReturn:
        # Committed before the 403, so the refusal stays recorded whatever the handler did not do.
        session.rollback()
        record_security_event(
            session,
            action,
            actor=me.reviewer.email,
            subject=f"{request.method} {request.url.path}",
            now=pages.clock(),
        )
        session.commit()
        raise PageError(403, message)

    def checked(session: Session, request: Request, me: Viewer, data: dict[str, str]) -> Posted:
        if not check_csrf(me.info, data.get(CSRF_FIELD, "")):
            refuse(
                session,
                request,
                me,
                "security.csrf_refused",
                "Formuläret saknade en giltig säkerhetskod. Ladda om sidan och försök igen.",
            )
        return Posted(viewer=me, form=data)

    def posted(
        request: Request,
        me: Viewer = Depends(viewer),
        data: dict[str, str] = Depends(form),
        session: Session = Depends(db),
    ) -> Posted:
        return checked(session, request, me, data)

    def account_posted(
        request: Request,
        me: Viewer = Depends(account),
        data: dict[str, str] = Depends(form),
        session: Session = Depends(db),
    ) -> Posted:
        return checked(session, request, me, data)

    def any_posted(
        request: Request,
        me: Viewer = Depends(any_session),
        data: dict[str, str] = Depends(form),
        session: Session = Depends(db),
    ) -> Posted:
        return checked(session, request, me, data)

    admins_only = "Sidan är bara för administratörer."

    def admin(
        request: Request, me: Viewer = Depends(viewer), session: Session = Depends(db)
    ) -> Viewer:
        if not me.is_admin:
            refuse(session, request, me, "security.forbidden", admins_only)
        return me

    def admin_posted(
        request: Request, p: Posted = Depends(posted), session: Session = Depends(db)
    ) -> Posted:
        if not p.viewer.is_admin:
            refuse(session, request, p.viewer, "security.forbidden", admins_only)
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
        account=account,
        account_posted=account_posted,
        pending=pending,
        any_posted=any_posted,
    )
