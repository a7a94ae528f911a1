"""Plain-text mail in Swedish: one Jinja2 template per kind of mail, subject and body together.

Each mail is `render/templates/mail/<name>.txt`. It extends `_layout.txt` (the
greeting's end and the sign-off) and defines two blocks: `subject` and
`body`. The subject block is rendered on its own and squeezed to one line
(control characters, CR and LF removed, whitespace collapsed, at most 200
characters), whatever the context holds, so a customer's subject or file name
can never add a header line. The body is cleaned the same way except that
line breaks stay; text that came from a customer goes through the `one_line`
filter in the templates, so it cannot add lines of its own either.

Context keys (all required; "or none" means the key must be there but may be None):

The three automatic replies quote nothing the sender wrote (a forged From
would make them the attacker's mail): they name the mail by our `reference`
and when our mailbox `received_at` it, each file by its `number` in the mail
and its `type` (our Swedish name for what its bytes are).

`receipt` (we received your mail: what we found in it)
    reference  str; received_at  datetime (aware) or date, or none;
    attachments  int (files in the mail); mailbox  str (our address);
    review_days  int; form_url  str;
    queued  [{number: int, type: str, forms: [{kind: "dual" | "disconnect" | None,
              form_id: str or none (10 characters, no hyphens), pages: [int] (0-based)}]}];
    unreadable  [{number, type, reason: str (Swedish sentence)}];
    duplicates  [{number, type, received_on: date | datetime}];
    skipped     [{number, type, reason: str (Swedish sentence)}]
`no_attachment` (the mail had no form attached)
    reference  str; received_at  datetime or date, or none; mailbox  str; form_url  str
`message_rejected` (the mail as a whole could not be handled)
    reference  str; received_at  datetime or date, or none; mailbox  str;
    reason  str (Swedish sentence); max_size_mb  int; max_files  int or none; form_url  str

Filters for the templates: `datum` (3 mars 2025, Swedish date of an aware
datetime), `sidor` (0-based page indices as "sida 1" / "sidorna 1–3"),
`blankett` (form kind to its Swedish name), `blankett_id` (XXXX-XXXX-XX) and
`one_line(n)` for anything a customer wrote. A new mail is a new file here;
nothing else changes.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

import jinja2

from forms import display_form_id
from render.errors import RenderError

MAIL_TEMPLATES = Path(__file__).parent / "templates" / "mail"
SUBJECT_MAX = 200
SWEDISH_TIME = ZoneInfo("Europe/Stockholm")

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,59}$")
_MONTHS = (
    "januari", "februari", "mars", "april", "maj", "juni",
    "juli", "augusti", "september", "oktober", "november", "december",
)  # fmt: skip
_KIND_LABELS = {"dual": "Dubbelsammankoppling", "disconnect": "Bortkoppling"}
_UNKNOWN_KIND = "Blankett av okänd sort"
_BLANK_LINES = re.compile(r"\n{3,}")
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class RenderedMail:
    subject: str
    body: str


def _drop_controls(text: str, keep: str = "") -> str:
    # Cc (C0/C1 controls), Cf (bidi overrides, zero-width), Zl/Zp (U+2028/2029):
    # none belongs in a mail a customer reads, and several can fake a line break.
    return "".join(
        ch
        for ch in text
        if ch in keep or unicodedata.category(ch) not in ("Cc", "Cf", "Zl", "Zp", "Cs", "Co")
    )


def one_line(value: object, limit: int = SUBJECT_MAX) -> str:
    """`value` as one clean line of at most `limit` characters (an ellipsis marks a cut)."""
    # Whitespace first (CR, LF, U+2028 become spaces), then what is left of the controls.
    text = _SPACES.sub(" ", _drop_controls(_SPACES.sub(" ", str(value)), keep=" ")).strip()
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text


def _clean_body(text: str) -> str:
    unified = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = _drop_controls(unified, keep="\n\t").split("\n")
    joined = "\n".join(line.rstrip() for line in lines).strip("\n")
    return _BLANK_LINES.sub("\n\n", joined) + "\n"


def datum(value: dt.date) -> str:
    """A date the Swedish way: 3 mars 2025 (an aware datetime in Swedish time)."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise RenderError("a naive datetime in a mail context; its zone is unknown")
        value = value.astimezone(SWEDISH_TIME).date()
    return f"{value.day} {_MONTHS[value.month - 1]} {value.year}"


def klockslag(value: dt.datetime) -> str:
    """The time of day in Sweden: 14:05 (aware datetimes only)."""
    if value.tzinfo is None:
        raise RenderError("a naive datetime in a mail context; its zone is unknown")
    return value.astimezone(SWEDISH_TIME).strftime("%H:%M")


def sidor(pages: Iterable[int]) -> str:
    """0-based page indices as a person counts them: sida 2, sidorna 1–3, sidorna 1, 3 och 4."""
    numbers = sorted({int(p) + 1 for p in pages})
    if not numbers:
        return ""
    if len(numbers) == 1:
        return f"sida {numbers[0]}"
    if numbers == list(range(numbers[0], numbers[-1] + 1)):
        return f"sidorna {numbers[0]}–{numbers[-1]}"
    return "sidorna " + ", ".join(map(str, numbers[:-1])) + f" och {numbers[-1]}"


def blankett(kind: object) -> str:
    """The Swedish name of a form kind ("dual", "disconnect"; None when not identified)."""
    return _KIND_LABELS.get(str(kind), _UNKNOWN_KIND) if kind else _UNKNOWN_KIND


def blankett_id(form_id: str) -> str:
    compact = one_line(form_id, 40)
    return display_form_id(compact) if len(compact) == 10 else compact


@cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(MAIL_TEMPLATES),
        autoescape=False,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    env.filters.update(
        datum=datum,
        klockslag=klockslag,
        sidor=sidor,
        blankett=blankett,
        blankett_id=blankett_id,
        one_line=one_line,
    )
    return env


def mail_templates() -> list[str]:
    """The names of the mails there are templates for."""
    return sorted(p.stem for p in MAIL_TEMPLATES.glob("*.txt") if not p.stem.startswith("_"))


def render_mail(template: str, context: Mapping[str, object]) -> RenderedMail:
    """Subject and body of mail `template` with `context` (see the module docstring)."""
    if not _NAME.match(template):
        raise RenderError(f"not a mail template name: {template!r}")
    env = _environment()
    try:
        tmpl = env.get_template(f"{template}.txt")
        if "subject" not in tmpl.blocks:
            raise RenderError(f"mail template {template!r} has no subject block")
        variables = dict(context)
        subject = one_line(
            "".join(tmpl.blocks["subject"](tmpl.new_context(variables))), SUBJECT_MAX
        )
        body = _clean_body(tmpl.render(variables))
    except jinja2.TemplateNotFound:
        raise RenderError(f"no mail template {template!r} in {MAIL_TEMPLATES}") from None
    except jinja2.UndefinedError as exc:
        raise RenderError(f"mail template {template!r}: {exc.message}") from exc
    except jinja2.TemplateError as exc:
        raise RenderError(f"mail template {template!r} is broken: {exc}") from exc
    if not subject:
        raise RenderError(f"mail template {template!r} rendered an empty subject")
    return RenderedMail(subject=subject, body=body)
