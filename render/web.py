"""The public form pages: choose a form, fill it in, download the pre-filled PDF.

Server-rendered HTML that works without JavaScript. Every error is shown next
to its field and in a summary at the top, in Swedish, with what the person
typed kept. The summary names each field with its party ("Byrån som ska
kopplas: Organisationsnummer saknas"), because both firms' fields carry the
same labels, and links to the field; `static/form.js` moves focus to it
(a CSP of default-src 'self' allows no inline script). The client's name is
filled from the registry only for a matching organisationsnummer and
subscription number pair, and only then are the firms checked against the
client's connections (see `issue.py`).

Everything that can reveal whether a pair matches (the "look up" button and
a pre-filled download) and every download counts against the rate limit
before the registry is read: per client address always, and per client
organisationsnummer when one is given, so guessing one client's subscription
number is slow from any number of addresses. The form is read with small
bounds (no files, few and short fields); the body size itself is capped
before the page runs (`kopplingar.middleware`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import Engine
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from forms import (
    FieldSpec,
    FieldType,
    FormKind,
    FormSpec,
    FormValuesError,
    InvalidValue,
    clean_field,
    form_spec,
    parse_organisationsnummer,
)
from render.issue import FILE_STEMS, RenderedForm, blank_form, fill_client_from_registry, issue_form
from render.ratelimit import RateLimiter, address_key, retry_after_header

TEMPLATES = Path(__file__).parent / "templates"
SLUGS = {stem: kind for kind, stem in FILE_STEMS.items()}

DESCRIPTIONS = {
    FormKind.DUAL: (
        "När en klient redan är kopplad till en byrå och vill koppla ytterligare en "
        "redovisnings- eller revisionsbyrå. Klienten och den nya byrån skriver under."
    ),
    FormKind.DISCONNECT: (
        "När ett företag och en byrå ska sluta vara kopplade, till exempel när företaget "
        "tar över abonnemanget själv. Både företaget och byrån skriver under."
    ),
}

# Who a field belongs to, as the form's sections name the parties; the signatures' fields
# are named by their signature block's title instead.
PARTIES = {
    FormKind.DUAL: {
        "client": "Klienten",
        "current_firm": "Byrån som redan är kopplad",
        "new_firm": "Byrån som ska kopplas",
    },
    FormKind.DISCONNECT: {"client": "Företaget", "firm": "Byrån", "after": "Efter bortkopplingen"},
}
# What the short label of a field whose printed label is an instruction becomes.
SHORT_LABELS = {"after": "Ett alternativ"}
MISSING = "Fältet måste fyllas i."
CHOOSE = "Välj ett av alternativen."
# Long compounds in headings, with soft hyphens where Swedish breaks them: a phone's
# browser may have no hyphenation dictionary for `hyphens: auto`.
SOFT_HYPHENS = {
    "Dubbelsammankoppling": "Dubbel\u00adsamman\u00adkoppling",
    "Bortkoppling": "Bort\u00adkoppling",
}

# The client's name comes from the registry when the pair matches, so it is optional here.
WEB_OPTIONAL = {"client_name"}
# The longest form has about 30 fields; no field is longer than a few hundred characters.
MAX_FORM_FIELDS = 60
MAX_FIELD_BYTES = 2048


def soft_hyphens(text: str) -> str:
    """`text` with soft hyphens in the long compounds a narrow screen must break."""
    for word, broken in SOFT_HYPHENS.items():
        text = text.replace(word, broken)
    return text


def make_environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["FieldType"] = FieldType
    env.filters["shy"] = soft_hyphens
    return env


@dataclass(frozen=True)
class PublicPages:
    engine: Engine
    qr_key: bytes
    mailbox: str
    limiter: RateLimiter
    client_key: Callable[[Request], str]


def sections_with_fields(spec: FormSpec) -> list[tuple[str, list[FieldSpec]]]:
    """The spec's sections with the fields a person types on the web (no hand-written dates)."""
    out: list[tuple[str, list[FieldSpec]]] = [(s.title, []) for s in spec.sections]
    for f in spec.fields:
        if f.type is FieldType.DATE:
            continue
        index = max(i for i, s in enumerate(spec.sections) if s.band.y <= f.box.y)
        out[index][1].append(f)
    return [(title, fields) for title, fields in out if fields]


def _web_label(spec: FormSpec, f: FieldSpec) -> str:
    for sig in spec.signatures:
        if f.name in (sig.name_field, sig.role_field):
            who = sig.title
            return f"{who}: {'namn' if f.name == sig.name_field else 'roll'}"
    return f.label


def summary_label(spec: FormSpec, name: str) -> str:
    """A field as the error summary names it: its party, then its label without the hint."""
    f = spec.field(name)
    for sig in spec.signatures:
        if name in (sig.name_field, sig.role_field):
            return f"{sig.title}: {f.label.split(' (', 1)[0]}"
    parties = PARTIES[spec.kind]
    prefix = max(
        (p for p in parties if name == p or name.startswith(f"{p}_")), key=len, default=None
    )
    short = SHORT_LABELS.get(name, f.label.split(" (", 1)[0])
    return f"{parties[prefix]}: {short}" if prefix else f"{spec.title}: {short}"


@dataclass(frozen=True, slots=True)
class SummaryEntry:
    target: str  # the id of the field's input (a choice: its first option)
    text: str


def error_summary(spec: FormSpec, errors: dict[str, str]) -> list[SummaryEntry]:
    """The summary's entries in the order of the fields on the page.

    "X saknas" for an empty field, "Välj x" for an unchosen choice, otherwise
    the field's name and then its message.
    """
    out: list[SummaryEntry] = []
    for f in spec.fields:
        message = errors.get(f.name)
        if message is None:
            continue
        label = summary_label(spec, f.name)
        who, what = label.rsplit(": ", 1)
        if message == MISSING and f.type is FieldType.CHOICE:
            text = f"{who}: Välj {what[:1].lower()}{what[1:]}"
        elif message == MISSING:
            text = f"{label} saknas"
        else:
            text = f"{label} – {message}"
        out.append(SummaryEntry(f"f-{f.name}", text))
    # Anything not a field of the form (it cannot come from this page's own inputs).
    out.extend(
        SummaryEntry("fel", message)
        for name, message in errors.items()
        if name not in spec.field_names
    )
    return out


def beside_fields(spec: FormSpec, errors: dict[str, str]) -> dict[str, str]:
    """The messages shown beside the fields: an unchosen choice asks for a choice."""
    return {
        name: CHOOSE
        if message == MISSING and name in spec.field_names
        and spec.field(name).type is FieldType.CHOICE
        else message
        for name, message in errors.items()
    }


def make_public_router(pages: PublicPages) -> APIRouter:
    router = APIRouter()
    env = make_environment()

    def page(template: str, status: int = 200, **ctx: Any) -> HTMLResponse:
        html = env.get_template(template).render(mailbox=pages.mailbox, **ctx)
        return HTMLResponse(html, status_code=status)

    def limited(request: Request, values: dict[str, str] | None = None) -> HTMLResponse | None:
        """The 429 page if this client, or this client company, has used up the window."""
        keys = [address_key(pages.client_key(request))]
        try:
            orgnr = parse_organisationsnummer((values or {}).get("client_orgnr", "")).text
            keys.append(f"orgnr:{orgnr}")
        except InvalidValue:
            pass  # no number, nothing to look up with it
        wait = pages.limiter.hit(keys)
        if not wait:
            return None
        resp = page("rate_limited.html", status=429, minutes=max(1, round(wait / 60)))
        resp.headers["Retry-After"] = retry_after_header(wait)
        return resp

    def pdf_response(form: RenderedForm) -> Response:
        return Response(
            form.pdf,
            media_type="application/pdf",
            headers={
                "Content-Disposition": f'attachment; filename="{form.filename}"',
                "Cache-Control": "no-store",
            },
        )

    def form_page(
        kind: FormKind,
        values: dict[str, str],
        errors: dict[str, str],
        status: int = 200,
        notice: str = "",
    ) -> HTMLResponse:
        spec = form_spec(kind)
        return page(
            "form.html",
            status=status,
            spec=spec,
            slug=FILE_STEMS[kind],
            sections=sections_with_fields(spec),
            label=lambda f: _web_label(spec, f),
            summary=error_summary(spec, errors),
            errors=beside_fields(spec, errors),
            optional=lambda f: (not f.required) or f.name in WEB_OPTIONAL,
            values=values,
            notice=notice,
            description=DESCRIPTIONS[kind],
        )

    def lookup(kind: FormKind, session: Session, values: dict[str, str]) -> HTMLResponse:
        spec = form_spec(kind)
        errors: dict[str, str] = {}
        for name in ("client_orgnr", "client_subscription"):
            try:
                clean_field(spec.field(name), values.get(name, ""))
            except InvalidValue as exc:
                errors[name] = exc.message if values.get(name) else "Fältet måste fyllas i."
        if errors:
            return form_page(kind, values, errors, status=422)
        filled = fill_client_from_registry(session, values)
        return form_page(kind, filled, {}, notice=f"Företaget hittades: {filled['client_name']}.")

    def kind_of(slug: str) -> FormKind | None:
        return SLUGS.get(slug)

    @router.get("/", response_class=HTMLResponse)
    def index() -> HTMLResponse:
        forms = [(FILE_STEMS[k], form_spec(k), DESCRIPTIONS[k]) for k in FormKind]
        return page("index.html", forms=forms)

    @router.get("/blankett/{slug}", response_class=HTMLResponse)
    def show_form(slug: str) -> HTMLResponse:
        kind = kind_of(slug)
        if kind is None:
            return page("not_found.html", status=404)
        return form_page(kind, {}, {})

    @router.get("/blankett/{slug}/blank.pdf", response_model=None)
    def download_blank(slug: str, request: Request) -> Response:
        kind = kind_of(slug)
        if kind is None:
            return page("not_found.html", status=404)
        if (refused := limited(request)) is not None:
            return refused
        return pdf_response(blank_form(kind, mailbox=pages.mailbox, fillable=True))

    @router.post("/blankett/{slug}", response_model=None)
    async def submit_form(slug: str, request: Request) -> Response:
        kind = kind_of(slug)
        if kind is None:
            return page("not_found.html", status=404)
        spec = form_spec(kind)
        try:
            form = await request.form(
                max_files=0, max_fields=MAX_FORM_FIELDS, max_part_size=MAX_FIELD_BYTES
            )
        except HTTPException:
            return page("bad_request.html", status=400)
        values = {
            f.name: str(form.get(f.name) or "").strip()
            for f in spec.fields
            if f.type is not FieldType.DATE
        }
        action = str(form.get("action") or "download")
        # A database write that may wait for a lock: not on the event loop.
        if (refused := await run_in_threadpool(limited, request, values)) is not None:
            return refused
        with Session(pages.engine) as session:
            try:
                if action == "lookup":
                    return lookup(kind, session, values)
                issued = issue_form(
                    session,
                    kind,
                    values,
                    qr_key=pages.qr_key,
                    mailbox=pages.mailbox,
                    source="web",
                )
                session.commit()
            except FormValuesError as exc:
                session.rollback()
                return form_page(kind, values, exc.errors, status=422)
        return pdf_response(issued)

    return router
