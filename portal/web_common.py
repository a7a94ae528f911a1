"""What every customer page shares: the configuration, templates, cookies and dependencies.

`PortalPages` is what the composition root hands over; `make_kit` turns it
into a `Kit` that the route modules (`web_signin`, `web_firm`, `web_client`,
`web_requests`) take: a database session per request, the signed-in
customer (or a redirect to the sign-in page), a posted form with its CSRF
token checked, rendering with the Swedish filters, and queuing a mail.

Cookies follow the reviewer pages' rules: HttpOnly, SameSite=Lax, and over
TLS `__Host-` named and Secure. The pages show personal data, so they are
never cached (`Cache-Control: no-store`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape
from sqlalchemy import Engine
from sqlmodel import Session
from starlette.exceptions import HTTPException

from portal.signin import CompanyRoles, Customer, SignInPolicy, check_csrf, load_customer
from registry import PermissionLevel, Program, RoleKind, utcnow
from render import SWEDISH_TIME, RateLimiter, datum
from workqueue import queue_mail

PREFIX = "/mina-sidor"
STATIC_PREFIX = f"{PREFIX}/static"
TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"
SESSION_COOKIE = "kopplingar_kund"
CSRF_FIELD = "csrf"
HOST_PREFIX = "__Host-"
MAX_FORM_FIELDS = 60
MAX_FIELD_BYTES = 4096

ROLE_NAMES = {
    RoleKind.SYSADMIN.value: "systemadministratör",
    RoleKind.PROGRAM_ADMIN.value: "programadministratör",
    RoleKind.FIRMATECKNARE.value: "firmatecknare",
    RoleKind.CONSULTANT.value: "konsult",
}
CONNECTION_ROLES = {"accounting": "redovisningsbyrå", "audit": "revisionsbyrå"}
KIND_NAMES = {
    "client": "Företag",
    "accounting_firm": "Redovisningsbyrå",
    "audit_firm": "Revisionsbyrå",
}
PROGRAM_NAMES = {
    Program.BOOKKEEPING.value: "Bokföring",
    Program.INVOICING.value: "Fakturering",
    Program.ORDER.value: "Order",
    Program.ASSETS.value: "Anläggningsregister",
    Program.PAYROLL.value: "Lön",
}
LEVEL_NAMES = {
    PermissionLevel.READ.value: "Läsa",
    PermissionLevel.WRITE.value: "Läsa och ändra",
    PermissionLevel.ADMIN.value: "Administrera",
}
NOT_YOURS = "Företaget finns inte bland dina företag."
ROLE_NEEDED = "Du har inte den roll hos företaget som behövs för det här."


@dataclass(frozen=True)
class PortalPages:
    """What the customer pages are given by the composition root."""

    engine: Engine
    limiter: RateLimiter  # sign-in requests, per client address and per e-mail address
    client_key: Callable[[Request], str]
    sender_domain: str
    base_url: str  # where the pages are reached from a mail, e.g. https://kopplingar.example
    form_url: str  # the public form pages (the paper alternative)
    policy: SignInPolicy = field(default_factory=SignInPolicy)
    cookie_secure: bool | None = None  # None: Secure exactly when the request came over https
    clock: Callable[[], dt.datetime] = field(default=utcnow)
    request_days: int = 7  # a digital request's links (seed 002)
    demo_outbox: bool = False  # the demo's mail page (`/mina-sidor/demo-post`)


class PageError(Exception):
    """Shown as a Swedish page with this status (400, 403, 404, 409)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class SignInRequired(Exception):  # noqa: N818 - a control-flow signal, not an error
    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


@dataclass(frozen=True)
class Posted:
    customer: Customer
    form: dict[str, str]

    def get(self, name: str) -> str:
        return self.form.get(name, "").strip()


def local_time(value: dt.datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if value is None:
        return ""
    return value.astimezone(SWEDISH_TIME).strftime(fmt)


def swedish_day(at: dt.datetime) -> dt.date:
    return at.astimezone(SWEDISH_TIME).date()


def csrf_input(customer: Customer | None) -> Markup:
    if customer is None:
        return Markup("")
    return Markup('<input type="hidden" name="{}" value="{}">').format(
        CSRF_FIELD, escape(customer.csrf)
    )


def safe_next(value: str | None) -> str:
    """Where to go after signing in: a path of ours, never another site."""
    if (
        value
        and value.startswith(PREFIX + "/")
        and "\\" not in value
        and "//" not in value
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
    env.filters["datum"] = datum
    env.filters["tid"] = local_time
    env.globals.update(
        PREFIX=PREFIX,
        STATIC=STATIC_PREFIX,
        CSRF_FIELD=CSRF_FIELD,
        csrf_input=csrf_input,
        ROLE_NAMES=ROLE_NAMES,
        CONNECTION_ROLES=CONNECTION_ROLES,
        KIND_NAMES=KIND_NAMES,
        PROGRAM_NAMES=PROGRAM_NAMES,
        LEVEL_NAMES=LEVEL_NAMES,
    )
    return env


def cookie_secure(pages: PortalPages, request: Request) -> bool:
    if pages.cookie_secure is not None:
        return pages.cookie_secure
    return request.url.scheme == "https"


def cookie_name(pages: PortalPages, request: Request) -> str:
    secure = cookie_secure(pages, request)
    return HOST_PREFIX + SESSION_COOKIE if secure else SESSION_COOKIE


def set_session_cookie(
    response: Response, pages: PortalPages, request: Request, value: str
) -> None:
    secure = cookie_secure(pages, request)
    response.set_cookie(
        cookie_name(pages, request),
        value,
        path="/" if secure else PREFIX,
        secure=secure,
        httponly=True,
        samesite="lax",
    )


def delete_session_cookie(response: Response, pages: PortalPages, request: Request) -> None:
    secure = cookie_secure(pages, request)
    response.delete_cookie(
        cookie_name(pages, request), path="/" if secure else PREFIX, secure=secure, httponly=True
    )


@dataclass(frozen=True)
class Kit:
    """The pages' configuration, templates and dependencies, shared by the route modules."""

    pages: PortalPages
    env: Environment
    db: Callable[..., Iterator[Session]]
    form: Callable[..., Awaitable[dict[str, str]]]
    customer: Callable[..., Customer]
    maybe_customer: Callable[..., Customer | None]
    posted: Callable[..., Posted]

    def now(self) -> dt.datetime:
        return self.pages.clock()

    def today(self) -> dt.date:
        return swedish_day(self.pages.clock())

    def link(self, path: str) -> str:
        return self.pages.base_url.rstrip("/") + path

    def render(
        self,
        template: str,
        *,
        customer: Customer | None,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
        **ctx: Any,
    ) -> HTMLResponse:
        html = self.env.get_template(template).render(customer=customer, **ctx)
        response = HTMLResponse(html, status_code=status)
        response.headers["Cache-Control"] = "no-store"
        for name, value in (headers or {}).items():
            response.headers[name] = value
        return response

    def mail(
        self, session: Session, *, to: str, template: str, context: Mapping[str, object]
    ) -> None:
        """Queue one mail in the caller's transaction; it leaves only if that commits."""
        queue_mail(
            session,
            to=to,
            template=template,
            context=context,
            sender_domain=self.pages.sender_domain,
            now=self.now(),
            automatic=False,
        )

    def company(self, customer: Customer, orgnr: str, *roles: RoleKind) -> CompanyRoles:
        """The customer's company `orgnr`; 404 if it is not theirs, 403 without one of `roles`."""
        found = customer.at(orgnr)
        if found is None:
            raise PageError(404, NOT_YOURS)
        if roles and not found.roles & set(roles):
            raise PageError(403, ROLE_NEEDED)
        return found


def _wanted_path(request: Request) -> str:
    path = request.url.path
    if request.method == "GET" and request.url.query:
        path += "?" + request.url.query
    return path


def make_kit(pages: PortalPages) -> Kit:
    def db() -> Iterator[Session]:
        with Session(pages.engine) as session:
            yield session

    def maybe_customer(request: Request, session: Session = Depends(db)) -> Customer | None:
        token = request.cookies.get(cookie_name(pages, request))
        found = load_customer(session, token, now=pages.clock(), policy=pages.policy)
        session.commit()  # the idle clock, or the session's end
        return found

    def customer(request: Request, found: Customer | None = Depends(maybe_customer)) -> Customer:
        if found is None:
            raise SignInRequired(_wanted_path(request))
        return found

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

    def posted(me: Customer = Depends(customer), data: dict[str, str] = Depends(form)) -> Posted:
        if not check_csrf(me, data.get(CSRF_FIELD)):
            raise PageError(
                403, "Formuläret saknade en giltig säkerhetskod. Ladda om sidan och försök igen."
            )
        return Posted(customer=me, form=data)

    return Kit(
        pages=pages,
        env=make_environment(),
        db=db,
        form=form,
        customer=customer,
        maybe_customer=maybe_customer,
        posted=posted,
    )
