"""Audit events as Swedish sentences: who did what, and what it concerns.

`describe(event, people)` turns one registry `AuditEvent` into a `Sentence`
such as "Anna Berg godkände ärende 5: Hallands Revisionsbyrå AB
(revisionsbyrå) kopplas till Bergs Bokföring AB (556677-8899) från
2026-12-04.", made of `Part`s: plain text, and the pieces that name a thing
the log page links to (`Ref`: a submission, a company, a reviewer, an
outgoing mail). It is pure: the reviewers' names come in `people` (by
e-mail, lower-cased), the page decides what each `Ref` links to.

Every event kind written anywhere (`registry.record_event`,
`review.security.record_security_event`) has its own sentence in `_SENTENCES`;
`tests/review/test_audit_text.py` scans the source for the kinds passed to
them and fails on one without. A kind added later without a sentence still
reads as one ("Alice gjorde en ändring som gäller ärende 5."), and no value
is ever shown raw: True and False are "ja" and "nej", None is left out, a
list is joined, a dict is never printed (the page shows the stored JSON
behind "Detaljer").

`KIND_LABELS` and `kind_groups` are the log's filter: a Swedish label per
kind, grouped as Ärenden, Registret, Granskare, Säkerhet and Post.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from forms import FormKind, form_spec
from registry import AuditEvent
from render import blankett, blankett_id
from review.audit_portal import PORTAL_LABELS, portal_sentences
from review.four_eyes import code_label
from review.security import SECURITY_ACTIONS, is_security_action

__all__ = [
    "GROUPS",
    "KIND_LABELS",
    "Part",
    "Person",
    "Ref",
    "Sentence",
    "describe",
    "described_kinds",
    "kind_group",
    "kind_groups",
    "kind_label",
    "linked_emails",
    "value_text",
]

RefKind = Literal["submission", "company", "reviewer", "outbox"]


@dataclass(frozen=True)
class Ref:
    """Something an event concerns that has a page: kind and key (an id, an orgnr, an e-mail)."""

    kind: RefKind
    key: str


@dataclass(frozen=True)
class Part:
    text: str
    ref: Ref | None = None


@dataclass(frozen=True)
class Sentence:
    parts: tuple[Part, ...]

    @property
    def text(self) -> str:
        return "".join(p.text for p in self.parts)

    @property
    def refs(self) -> list[Ref]:
        """What the sentence links to, each once, in order."""
        seen: list[Ref] = []
        for part in self.parts:
            if part.ref is not None and part.ref not in seen:
                seen.append(part.ref)
        return seen


@dataclass(frozen=True)
class Person:
    name: str
    reviewer_id: int | None  # None: a person in the registry (a customer), not a reviewer


People = Mapping[str, Person]

# -- the kinds and their labels ----------------------------------------------------------------

GROUPS = ("Ärenden", "Registret", "Granskare", "Säkerhet", "Post")

_CASE_LABELS: dict[str, str] = {
    "submission.field_corrected": "Fält rättat",
    "submission.field_confirmed": "Fält bekräftat",
    "submission.keyed": "Ärende inskrivet för hand",
    "submission.joined": "Ärenden sammanslagna",
    "submission.split": "Ärende delat",
    "submission.approved": "Ärende godkänt",
    "submission.rejected": "Ärende avslaget",
    "submission.duplicate_closed": "Ärende stängt som dubblett",
    "submission.info_requested": "Komplettering begärd",
    "submission.info_reminded": "Påminnelse om komplettering",
    "submission.customer_replied": "Kunden kompletterade",
    "submission.info_withdrawn": "Komplettering avbruten",
    "submission.override_requested": "Undantag begärt",
    "submission.override_declined": "Undantag avböjt",
    "submission.override_withdrawn": "Undantag återtaget",
    "four_eyes.rule_changed": "Fyraögonsregel ändrad",
}
_REGISTRY_LABELS: dict[str, str] = {
    "form.issued": "Blankett utfärdad",
    "registry.imported": "Register importerat",
    "connection.created": "Koppling skapad",
    "connection.ended": "Koppling avslutad",
    "payer.changed": "Betalare ändrad",
    **PORTAL_LABELS,
}
_MAIL_LABELS: dict[str, str] = {
    "mail.released": "Meddelande släppt ur karantän",
    "mail.moved_back": "Meddelande flyttat tillbaka till inkorgen",
    "outbox.resent": "Mejl skickat igen",
    "outbox.sent_anyway": "Mejl skickat trots spärr",
}
# The security events about accounts, rather than about logging in.
_ACCOUNT_ACTIONS = frozenset(
    {
        "security.reviewer_added",
        "security.reviewer_disabled",
        "security.reviewer_enabled",
        "security.password_changed",
        "security.second_factor_enrolled",
        "security.second_factor_removed",
    }
)

KIND_LABELS: dict[str, str] = _CASE_LABELS | _REGISTRY_LABELS | _MAIL_LABELS | SECURITY_ACTIONS


def kind_label(action: str) -> str:
    """The Swedish label of an event kind; a readable one for a kind added later."""
    return KIND_LABELS.get(action) or "Annan händelse"


def kind_group(action: str) -> str:
    """Which of `GROUPS` a kind is filtered under."""
    if action in _ACCOUNT_ACTIONS:
        return "Granskare"
    if is_security_action(action):
        return "Säkerhet"
    if action in _REGISTRY_LABELS:
        return "Registret"
    if action in _MAIL_LABELS or action.startswith(("mail.", "outbox.")):
        return "Post"
    return "Ärenden"


def kind_groups(actions: Iterable[str]) -> list[tuple[str, list[tuple[str, str]]]]:
    """`actions` (codes) as the filter's option groups, in `GROUPS` order, empty ones left out."""
    grouped: dict[str, list[tuple[str, str]]] = {g: [] for g in GROUPS}
    for action in actions:
        grouped[kind_group(action)].append((action, kind_label(action)))
    return [(g, sorted(c, key=lambda o: o[1])) for g, c in grouped.items() if c]


# -- values ------------------------------------------------------------------------------------

_ROLES = {"accounting": "redovisningsbyrå", "audit": "revisionsbyrå"}
_REVIEWER_ROLES = {"reviewer": "granskare", "admin": "administratör"}
_RECORDS = {
    "companies": ("företag", "företag"),
    "subscriptions": ("abonnemang", "abonnemang"),
    "people": ("person", "personer"),
    "roles": ("roll", "roller"),
    "connections": ("koppling", "kopplingar"),
    "payers": ("betalare", "betalare"),
}
_PARTIES = (
    ("current_firm_", "den nuvarande byråns"),
    ("new_firm_", "den nya byråns"),
    ("firm_", "byråns"),
    ("client_", "klientens"),
)
_FIELD_NOUNS = {
    "name": "namn",
    "orgnr": "organisationsnummer",
    "subscription": "abonnemangsnummer",
    "role": "typ av byrå",
    "email": "e-postadress",
    "signatory_name": "namnförtydligande",
    "signatory_role": "roll",
    "date": "datum",
}
_ORGNR = re.compile(r"\b(\d{6}-\d{4})\b")


def value_text(value: object) -> str:
    """A stored value for people: "ja"/"nej", "" for None, lists joined, never a dict."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "ja" if value else "nej"
    if isinstance(value, list | tuple):
        return ", ".join(t for t in (value_text(v) for v in value) if t)
    if isinstance(value, dict):
        return ""
    return " ".join(str(value).split())


def _field_spec_label(name: str) -> tuple[str, dict[str, str]]:
    for kind in FormKind:
        spec = form_spec(kind)
        if name in spec.field_names:
            field = spec.field(name)
            return field.label, {o.value: o.label for o in field.options}
    return "", {}


def field_noun(name: str) -> str:
    """A form field as a noun phrase in a sentence: "klientens organisationsnummer"."""
    for prefix, party in _PARTIES:
        rest = name.removeprefix(prefix)
        if rest != name and rest in _FIELD_NOUNS:
            return f"{party} {_FIELD_NOUNS[rest]}"
    if name == "after":
        return "valet efter bortkopplingen"
    label, _ = _field_spec_label(name)
    return f"fältet ”{label}”" if label else "ett fält"


def field_value(name: str, value: object) -> str:
    """A field's value as shown: a choice by its label, a role in Swedish."""
    text = value_text(value)
    _, options = _field_spec_label(name)
    if text in options:
        return options[text]
    return _ROLES.get(text, text)


# -- building a sentence -----------------------------------------------------------------------


def _get(data: Mapping[str, Any] | None, key: str) -> Any:
    return data.get(key) if isinstance(data, Mapping) else None


def _int(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


class _Builder:
    def __init__(self, people: People) -> None:
        self.people = people
        self.parts: list[Part] = []

    def add(self, text: str, ref: Ref | None = None) -> _Builder:
        if text:
            self.parts.append(Part(text, ref))
        return self

    def submission(self, sid: object, *, article: bool = True) -> _Builder:
        n = _int(sid)
        if n is None:
            return self.add("ett ärende")
        word = "ärende " if article else ""
        return self.add(f"{word}{n}", Ref("submission", str(n)))

    def company(self, name: object, orgnr: object) -> _Builder:
        text, number = value_text(name), value_text(orgnr)
        if not number:
            return self.add(text or "ett företag")
        return self.add(text or number, Ref("company", number))

    def person(self, email: object, *, start: bool = False) -> _Builder:
        """A reviewer by name (linked), or whoever the stored actor text stands for."""
        text = value_text(email)
        person = self.people.get(text.casefold())
        if person is not None and person.reviewer_id is None:
            return self.add(person.name)
        if person is not None:
            return self.add(person.name, Ref("reviewer", str(person.reviewer_id)))
        return self.add(_automatic(text, start=start))

    def quote(self, text: object) -> _Builder:
        said = value_text(text)
        return self.add(f"”{said}”") if said else self

    def end(self) -> Sentence:
        parts = list(self.parts)
        last = parts[-1].text if parts else ""
        # A quotation ends the sentence only when it ends with its own full stop.
        if not last.endswith((".", "!", "?", ".”", "!”", "?”")):
            parts.append(Part("."))
        return Sentence(tuple(parts))


def _automatic(actor: str, *, start: bool) -> str:
    """Who an actor that is no reviewer is: the mailbox, the operator, the system, a client."""
    lowered = actor.casefold()
    if lowered == "mailbox":
        word = "posthanteringen"
    elif lowered in ("operator", "cli") or lowered.startswith("cli:"):
        user = actor.partition(":")[2]
        word = f"driften ({user})" if user and user != "unknown" else "driften"
    elif lowered == "web":
        word = "en kund på webbplatsen"
    elif lowered in ("", "import", "system"):
        word = "systemet"
    elif lowered.startswith("okänd"):
        word = "någon okänd"
    elif "@" in actor:
        return actor  # a reviewer no longer in the table: the address is all there is
    else:
        word = "systemet" if lowered.isidentifier() else f"någon från {actor}"
    return word[:1].upper() + word[1:] if start else word


def _reference(detail: str) -> int | None:
    """The submission a linkage change was made for: its detail starts "submission 5: "."""
    match = re.match(r"^submission (\d+):", detail)
    return int(match.group(1)) if match else None


def _made_for(b: _Builder, event: AuditEvent) -> _Builder:
    sid = _reference(event.detail)
    if sid is not None:
        b.add(" (").submission(sid).add(")")
    return b


def _subject_id(subject: str, prefix: str) -> int | None:
    head, _, rest = subject.partition(":")
    return _int(rest) if head == prefix else None


def _with_orgnr_links(b: _Builder, text: str) -> None:
    """A summary from the registry, its organisationsnummer linked to the company page."""
    pos = 0
    for match in _ORGNR.finditer(text):
        b.add(text[pos : match.start()]).add(match.group(1), Ref("company", match.group(1)))
        pos = match.end()
    b.add(text[pos:])


# -- the sentences, one per kind ---------------------------------------------------------------

Describe = Callable[[_Builder, AuditEvent], None]


def _actor(b: _Builder, e: AuditEvent) -> _Builder:
    return b.person(e.actor, start=True)


def _field_corrected(b: _Builder, e: AuditEvent) -> None:
    name = value_text(_get(e.after, "field")) or value_text(_get(e.before, "field"))
    old = field_value(name, _get(e.before, "value"))
    new = field_value(name, _get(e.after, "value"))
    _actor(b, e).add(f" rättade {field_noun(name)} i ").submission(_sid(e))
    if old and new:
        b.add(f" från ”{old}” till ”{new}”")
    elif new:
        b.add(f" till ”{new}”")
    elif old:
        b.add(f" (tömde ”{old}”)")


def _field_confirmed(b: _Builder, e: AuditEvent) -> None:
    name = value_text(_get(e.after, "field"))
    new = field_value(name, _get(e.after, "value"))
    _actor(b, e).add(f" bekräftade {field_noun(name)} i ").submission(_sid(e))
    if new:
        b.add(f": ”{new}”")


def _finding(code: object) -> str:
    """A finding code as words inside a sentence: "en underskrift saknas"."""
    label = code_label(value_text(code))
    return label[:1].lower() + label[1:] if label[1:2].islower() else label


def _findings(codes: object) -> list[str]:
    """Finding codes as words, each once (two parties' missing signatures read the same)."""
    words = [_finding(c) for c in codes] if isinstance(codes, list | tuple) else []
    return list(dict.fromkeys(w for w in words if w))


def _sid(e: AuditEvent) -> int | None:
    return _subject_id(e.subject, "submission")


def _approved(b: _Builder, e: AuditEvent) -> None:
    requester = _get(e.after, "override_requested_by")
    _actor(b, e)
    if requester:
        b.add(" bekräftade undantaget som ").person(requester).add(" begärde och")
    b.add(" godkände ").submission(_sid(e))
    changes = [value_text(c) for c in (_get(e.after, "changes") or []) if value_text(c)]
    if changes:
        b.add(": ")
        for i, change in enumerate(changes):
            _with_orgnr_links(b, change if i == 0 else " " + change)
    elif _get(e.after, "already_done"):
        b.add("; registret var redan som blanketten begär, inget behövde ändras.")
    reason = _get(e.after, "override_reason")
    if reason:
        codes = _findings(_get(e.after, "overridden_findings"))
        b.add(" Godkänt trots " + (f"fynd ({'; '.join(codes)})" if codes else "blockerande fynd"))
        b.add(": ").quote(reason)


def _rejected(b: _Builder, e: AuditEvent) -> None:
    _actor(b, e).add(" avvisade ").submission(_sid(e))
    reason = value_text(_get(e.after, "reason"))
    if reason:
        b.add(": " + reason)


def _keyed(b: _Builder, e: AuditEvent) -> None:
    kind = value_text(_get(e.after, "kind"))
    values = _get(e.after, "values")
    count = len([v for v in values.values() if v]) if isinstance(values, Mapping) else 0
    _actor(b, e).add(" skrev in ").submission(_sid(e)).add(" för hand")
    if kind:
        b.add(f" som {blankett(kind).lower()}")
    if count:
        b.add(f" ({count} fält ifyllda)" if count > 1 else " (1 fält ifyllt)")


def _joined(b: _Builder, e: AuditEvent) -> None:
    other = _get(e.after, "joined")
    pages = _int(_get(e.after, "pages"))
    _actor(b, e).add(" lade sidorna från ").submission(other).add(" till ").submission(_sid(e))
    if pages:
        b.add(f" (nu {pages} {'sida' if pages == 1 else 'sidor'})")
    b.add("; ").submission(other).add(" stängdes")


def _split(b: _Builder, e: AuditEvent) -> None:
    _actor(b, e).add(" delade ").submission(_sid(e))
    new = _get(e.after, "new_submission")
    if new is not None:
        b.add(": ").submission(new).add(" skapades för en blankett till på samma sidor")


def _duplicate_closed(b: _Builder, e: AuditEvent) -> None:
    _actor(b, e).add(" stängde ").submission(_sid(e)).add(" som dubblett")
    original = _get(e.after, "duplicate_of")
    if original is not None:
        b.add(" av ").submission(original)


def _info_requested(b: _Builder, e: AuditEvent) -> None:
    to = value_text(_get(e.after, "to"))
    _actor(b, e).add(" bad kunden" + (f" ({to})" if to else "") + " om en komplettering av ")
    b.submission(_sid(e))
    reason = value_text(_get(e.after, "reason"))
    if reason:
        b.add(": " + reason)


def _info_reminded(b: _Builder, e: AuditEvent) -> None:
    _actor(b, e).add(" påminde kunden om kompletteringen av ").submission(_sid(e))
    if _get(e.after, "mailed") is False:
        b.add(" (inget mejl kunde skickas)")


def _customer_replied(b: _Builder, e: AuditEvent) -> None:
    sender = e.actor if "@" in e.actor else ""
    b.add("Kunden" + (f" ({sender})" if sender else "") + " kompletterade ").submission(_sid(e))
    message = value_text(_get(e.after, "message"))
    how = {"thread": "ett svar på vårt mejl", "form_id": "blankettens id"}.get(
        value_text(_get(e.after, "matched_by")), ""
    )
    if message:
        b.add(f" med meddelande {message}")
    if how:
        b.add(f", hittat genom {how}")
    pages = _int(_get(e.after, "pages"))
    if pages:
        b.add(f" ({pages} {'sida' if pages == 1 else 'sidor'} till)")
    b.add("; ärendet är tillbaka i kön")


def _info_withdrawn(b: _Builder, e: AuditEvent) -> None:
    _actor(b, e).add(" tog tillbaka ").submission(_sid(e))
    b.add(" till kön utan att vänta på kundens komplettering")


def _override_requested(b: _Builder, e: AuditEvent) -> None:
    codes = _findings(_get(e.after, "codes"))
    _actor(b, e).add(" begärde undantag för ").submission(_sid(e))
    b.add(f" trots fynd ({'; '.join(codes)})" if codes else " trots blockerande fynd")
    if _get(e.after, "override_reason"):
        b.add(": ").quote(_get(e.after, "override_reason"))
        if not b.parts[-1].text.endswith((".”", "!”", "?”")):
            b.add(".")
    b.add(" En annan granskare behöver bekräfta det.")


def _override_declined(b: _Builder, e: AuditEvent) -> None:
    _actor(b, e).add(" avböjde undantaget som ").person(_get(e.before, "requested_by"))
    b.add(" begärde för ").submission(_sid(e))
    if _get(e.after, "reason"):
        b.add(": ").quote(_get(e.after, "reason"))


def _override_withdrawn(b: _Builder, e: AuditEvent) -> None:
    requester = value_text(_get(e.before, "requested_by"))
    _actor(b, e).add(" drog tillbaka undantaget")
    if requester and requester.casefold() != e.actor.casefold():
        b.add(" som ").person(requester).add(" begärde")
    b.add(" för ").submission(_sid(e))
    why = value_text(_get(e.after, "reason"))
    if why:
        b.add(": " + why)


def _rule_changed(b: _Builder, e: AuditEvent) -> None:
    code = e.subject.partition(":")[2]
    on = _get(e.after, "required")
    _actor(b, e).add(" slog " + ("på" if on else "av") + " fyra ögon för ")
    b.add(f"”{code_label(code)}”" if code else "ett fynd")


def _form_issued(b: _Builder, e: AuditEvent) -> None:
    form_id = e.subject.partition(":")[2]
    values = _get(e.after, "values")
    kind = value_text(_get(e.after, "kind"))
    _actor(b, e).add(" skapade blankett " + (blankett_id(form_id) if form_id else ""))
    if kind:
        b.add(f" ({blankett(kind).lower()})")
    if isinstance(values, Mapping) and (values.get("client_name") or values.get("client_orgnr")):
        b.add(" för ").company(values.get("client_name"), values.get("client_orgnr"))


def _imported(b: _Builder, e: AuditEvent) -> None:
    counts = []
    for key, (one, many) in _RECORDS.items():
        n = _int(_get(e.after, key))
        if n:
            counts.append(f"{n} {one if n == 1 else many}")
    _actor(b, e).add(" importerade ")
    if counts:
        listed = ", ".join(counts[:-1]) + " och " + counts[-1] if len(counts) > 1 else counts[0]
        b.add(f"{listed} till registret")
    else:
        b.add("registret (inget nytt)")
    files = [f.strip().replace("\\", "/").rsplit("/", 1)[-1] for f in e.detail.split(",")]
    if any(files):
        # The operator's paths say nothing to a reviewer; the file names do.
        b.add(" från " + ", ".join(f for f in files if f))


def _connection(b: _Builder, e: AuditEvent, *, created: bool) -> None:
    state = e.after if created else (e.after or e.before)
    role = _ROLES.get(value_text(_get(state, "role")), "byrå")
    _actor(b, e).add(" kopplade " if created else " kopplade bort ")
    b.company(_get(state, "firm_name"), _get(state, "firm"))
    b.add(" till " if created else " från ")
    b.company(_get(state, "client_name"), _get(state, "client"))
    b.add(f" som {role}")
    if created and _get(state, "since"):
        b.add(f" från {value_text(_get(state, 'since'))}")
    if not created and _get(state, "until"):
        b.add(f" den {value_text(_get(state, 'until'))}")
    _made_for(b, e)


def _payer_changed(b: _Builder, e: AuditEvent) -> None:
    head, _, key = e.subject.partition(":")
    number = value_text(_get(e.after, "subscription")) or (key if head == "subscription" else "")
    what = f"abonnemang {number}" if number else "ett abonnemang"
    _actor(b, e).add(f" ändrade betalaren av {what}")
    if _get(e.after, "payer_name") or _get(e.after, "payer"):
        b.add(": ").company(_get(e.after, "payer_name"), _get(e.after, "payer")).add(" betalar")
        if _get(e.after, "valid_from"):
            b.add(f" från {value_text(_get(e.after, 'valid_from'))}")
        if _get(e.before, "payer_name") or _get(e.before, "payer"):
            b.add(" i stället för ").company(_get(e.before, "payer_name"), _get(e.before, "payer"))
    _made_for(b, e)


def _message(e: AuditEvent) -> str:
    n = _subject_id(e.subject, "inbound_message")
    return f"meddelande M-{n}" if n is not None else "ett meddelande"


def _released(b: _Builder, e: AuditEvent) -> None:
    _actor(b, e).add(f" släppte {_message(e)} ur karantänen för ett nytt försök")


def _moved_back(b: _Builder, e: AuditEvent) -> None:
    _actor(b, e).add(
        f" prövar {_message(e)} en gång till: det flyttades tillbaka till inkorgen för hand"
    )


def _outbox(b: _Builder, e: AuditEvent, *, anyway: bool) -> None:
    n = _subject_id(e.subject, "outbound_mail")
    _actor(b, e).add(" skickade ")
    if n is None:
        b.add("ett mejl")
    else:
        b.add(f"mejl U-{n}", Ref("outbox", str(n)))
    recipient = value_text(_get(e.after, "recipient")) or value_text(_get(e.before, "recipient"))
    if recipient:
        b.add(f" till {recipient}")
    b.add(" trots spärren för automatiska svar" if anyway else " igen")


# -- security ----------------------------------------------------------------------------------


def _detail(b: _Builder, e: AuditEvent, lead: str = ": ") -> _Builder:
    if e.detail:
        b.add(lead + e.detail)
    return b


def _login_succeeded(b: _Builder, e: AuditEvent) -> None:
    _actor(b, e).add(" loggade in")
    _detail(b, e, " ")


def _login_failed(b: _Builder, e: AuditEvent) -> None:
    b.add("Misslyckad inloggning som ").person(e.subject)
    b.add(" från " + (e.actor or "okänd adress"))
    _detail(b, e)


def _login_throttled(b: _Builder, e: AuditEvent) -> None:
    b.add("Inloggningen som ").person(e.subject).add(" spärrades tillfälligt")
    _detail(b, e)
    b.add(f" (senast från {e.actor})" if e.actor else "")


def _device_untrusted(b: _Builder, e: AuditEvent) -> None:
    b.add("En webbläsare är inte längre betrodd för ").person(e.subject)
    _detail(b, e)


def _logout(b: _Builder, e: AuditEvent) -> None:
    _actor(b, e).add(" loggade ut")


def _reviewer_added(b: _Builder, e: AuditEvent) -> None:
    role = e.detail.removeprefix("roll:").strip()
    role = _REVIEWER_ROLES.get(role, role.lower())
    _actor(b, e).add(" lade till ").person(e.subject)
    b.add(f" som {role}" if role else " som granskare")


def _reviewer_switched(b: _Builder, e: AuditEvent, *, active: bool) -> None:
    _actor(b, e).add(" aktiverade " if active else " inaktiverade ").person(e.subject)


def _password_changed(b: _Builder, e: AuditEvent) -> None:
    if e.actor.casefold() == e.subject.casefold():
        _actor(b, e).add(" bytte sitt lösenord")
    else:
        _actor(b, e).add(" satte ett nytt lösenord för ").person(e.subject)
    _detail(b, e, " (").add(")" if e.detail else "")


def _csrf_refused(b: _Builder, e: AuditEvent) -> None:
    _actor(b, e).add(" skickade ett formulär utan giltig säkerhetskod")
    b.add(f" ({e.subject})" if e.subject else "")


def _forbidden(b: _Builder, e: AuditEvent) -> None:
    _actor(b, e).add(" nekades åtkomst")
    b.add(f" till {e.subject}" if e.subject else "")


def _session_ended(b: _Builder, e: AuditEvent) -> None:
    _actor(b, e).add(" avslutade " + (e.detail or "en inloggning"))


def _enrolled(b: _Builder, e: AuditEvent) -> None:
    _actor(b, e).add(" aktiverade tvåstegsverifiering")
    _detail(b, e, " (").add(")" if e.detail else "")


def _factor_failed(b: _Builder, e: AuditEvent) -> None:
    _actor(b, e).add(" angav en felaktig kod för tvåstegsverifiering")
    _detail(b, e)


def _factor_removed(b: _Builder, e: AuditEvent) -> None:
    _actor(b, e).add(" tog bort tvåstegsverifieringen för ").person(e.subject)
    b.add("; alla inloggningar avslutades")


_SENTENCES: dict[str, Describe] = {
    "submission.field_corrected": _field_corrected,
    "submission.field_confirmed": _field_confirmed,
    "submission.keyed": _keyed,
    "submission.joined": _joined,
    "submission.split": _split,
    "submission.approved": _approved,
    "submission.rejected": _rejected,
    "submission.duplicate_closed": _duplicate_closed,
    "submission.info_requested": _info_requested,
    "submission.info_reminded": _info_reminded,
    "submission.customer_replied": _customer_replied,
    "submission.info_withdrawn": _info_withdrawn,
    "submission.override_requested": _override_requested,
    "submission.override_declined": _override_declined,
    "submission.override_withdrawn": _override_withdrawn,
    "four_eyes.rule_changed": _rule_changed,
    "form.issued": _form_issued,
    "registry.imported": _imported,
    "connection.created": lambda b, e: _connection(b, e, created=True),
    "connection.ended": lambda b, e: _connection(b, e, created=False),
    "payer.changed": _payer_changed,
    "mail.released": _released,
    "mail.moved_back": _moved_back,
    "outbox.resent": lambda b, e: _outbox(b, e, anyway=False),
    "outbox.sent_anyway": lambda b, e: _outbox(b, e, anyway=True),
    "security.login_succeeded": _login_succeeded,
    "security.login_failed": _login_failed,
    "security.login_throttled": _login_throttled,
    "security.device_untrusted": _device_untrusted,
    "security.logout": _logout,
    "security.reviewer_added": _reviewer_added,
    "security.reviewer_disabled": lambda b, e: _reviewer_switched(b, e, active=False),
    "security.reviewer_enabled": lambda b, e: _reviewer_switched(b, e, active=True),
    "security.password_changed": _password_changed,
    "security.csrf_refused": _csrf_refused,
    "security.forbidden": _forbidden,
    "security.session_ended": _session_ended,
    "security.second_factor_enrolled": _enrolled,
    "security.second_factor_failed": _factor_failed,
    "security.second_factor_removed": _factor_removed,
}
_SENTENCES.update(portal_sentences(_actor))


def described_kinds() -> frozenset[str]:
    """The kinds with a sentence of their own (the rest get the fallback)."""
    return frozenset(_SENTENCES)


def _subject(b: _Builder, subject: str) -> None:
    """What an event of an unknown kind concerns, as well as its subject says."""
    head, _, key = subject.partition(":")
    n = _int(key)
    if head == "submission" and n is not None:
        b.submission(n)
    elif head == "outbound_mail" and n is not None:
        b.add(f"mejl U-{n}", Ref("outbox", str(n)))
    elif head == "inbound_message" and n is not None:
        b.add(f"meddelande M-{n}")
    elif head == "form" and key:
        b.add(f"blankett {blankett_id(key)}")
    elif head == "connection" and n is not None:
        b.add(f"koppling {n}")
    elif head == "subscription" and key:
        b.add(f"abonnemang {key}")
    elif head == "registry":
        b.add("registret")
    elif "@" in subject:
        b.person(subject)
    else:
        b.add(f"”{subject}”")


def _fallback(b: _Builder, e: AuditEvent) -> None:
    _actor(b, e).add(" gjorde en ändring")
    if e.subject:
        b.add(" som gäller ")
        _subject(b, e.subject)
    if e.detail:
        b.add(": " + " ".join(e.detail.split()))


def describe(event: AuditEvent, people: People) -> Sentence:
    """One event as a Swedish sentence; `people` names the reviewers by lower-cased e-mail."""
    b = _Builder(people)
    try:
        _SENTENCES.get(event.action, _fallback)(b, event)
    except (TypeError, ValueError, AttributeError):
        # A row written by an older version with other fields: still a sentence.
        b = _Builder(people)
        _fallback(b, event)
    return b.end()


def linked_emails(events: Iterable[AuditEvent]) -> set[str]:
    """The e-mail addresses a page of events may name, to look the reviewers up once."""
    found: set[str] = set()
    for e in events:
        for text in (e.actor, e.subject):
            if "@" in text:
                found.add(text.casefold())
        for data in (e.before, e.after):
            if isinstance(data, Mapping):
                for key in ("requested_by", "declined_by", "override_requested_by"):
                    value = data.get(key)
                    if isinstance(value, str) and "@" in value:
                        found.add(value.casefold())
    return found
