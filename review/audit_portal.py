"""The audit log's sentences for what customers do on their own pages (`portal`).

Labels, personal client lists, program grants, digital requests and
invitations are recorded by the registry with the names they concern in
`before` and `after`; this module turns them into sentences the same way
`review.audit_text` does for the paper path, so the back office reads one
trail ("Anna Berg godkände att Berg & Dal Redovisning AB kopplas bort från
Nyström Musik AB."). Kept apart from `audit_text` only for size; that module
merges these into its tables and owns the rest.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol, Self

from registry import AuditEvent

PROGRAMS = {
    "bokforing": "Bokföring",
    "fakturering": "Fakturering",
    "order": "Order",
    "anlaggningsregister": "Anläggningsregister",
    "lon": "Lön",
}
LEVELS = {"read": "läsa", "write": "läsa och ändra", "admin": "administrera"}

PORTAL_LABELS: dict[str, str] = {
    "customer.signed_in": "Kund loggade in",
    "client_label.added": "Märkning tillagd",
    "client_label.removed": "Märkning borttagen",
    "consultant_client.added": "Klient till konsultens lista",
    "consultant_client.removed": "Klient ur konsultens lista",
    "grant.given": "Behörighet given",
    "grant.changed": "Behörighet ändrad",
    "grant.revoked": "Behörighet borttagen",
    "grant.expired": "Behörighet upphörd (slutdatum)",
    "grant.disconnected": "Behörighet upphörd (bortkoppling)",
    "digital_request.created": "Digital förfrågan skickad",
    "digital_request.approved": "Digital förfrågan godkänd",
    "digital_request.declined": "Digital förfrågan avböjd",
    "digital_request.withdrawn": "Digital förfrågan återkallad",
    "digital_request.expired": "Digital förfrågan gick ut",
    "digital_request.obsolete": "Digital förfrågan inaktuell",
    "admin_invitation.created": "Administratör inbjuden",
    "admin_invitation.confirmed": "Inbjudan bekräftad",
    "admin_invitation.declined": "Inbjudan avböjd",
    "admin_invitation.expired": "Inbjudan gick ut",
    "person.created": "Person tillagd",
    "role.added": "Roll tillagd",
}


class Says(Protocol):
    """What a sentence is built with (`review.audit_text`'s builder)."""

    def add(self, text: str) -> Self: ...
    def company(self, name: object, orgnr: object) -> Self: ...
    def person(self, email: object, *, start: bool = False) -> Self: ...
    def quote(self, text: object) -> Self: ...


Describe = Callable[[Says, AuditEvent], None]


def _state(e: AuditEvent) -> Mapping[str, Any]:
    merged: dict[str, Any] = {}
    for data in (e.before, e.after):
        if isinstance(data, Mapping):
            merged.update({k: v for k, v in data.items() if v not in (None, "")})
    return merged


def _text(value: object) -> str:
    return "" if value is None else " ".join(str(value).split())


def _client(b: Says, s: Mapping[str, Any]) -> Says:
    return b.company(s.get("client_name"), s.get("client") or s.get("client_orgnr"))


def _firm(b: Says, s: Mapping[str, Any]) -> Says:
    return b.company(s.get("firm_name"), s.get("firm") or s.get("firm_orgnr"))


def _consultant(s: Mapping[str, Any]) -> str:
    return _text(s.get("consultant_name") or s.get("person_name") or s.get("consultant")) or (
        "en konsult"
    )


def portal_sentences(actor: Callable[[Any, AuditEvent], Any]) -> dict[str, Describe]:
    """The sentences, with `actor` (audit_text's) starting each one with who did it."""

    def who(b: Says, e: AuditEvent) -> Says:
        return actor(b, e)  # type: ignore[no-any-return]

    def signed_in(b: Says, e: AuditEvent) -> None:
        who(b, e).add(" loggade in på Mina sidor")

    def label(b: Says, e: AuditEvent, *, added: bool) -> None:
        s = _state(e)
        who(b, e).add(" märkte " if added else " tog bort märkningen ")
        if added:
            _client(b, s).add(" med ").quote(s.get("label"))
        else:
            b.quote(s.get("label")).add(" från ")
            _client(b, s)
        b.add(" i ")
        _firm(b, s).add("s klientlista")

    def listed(b: Says, e: AuditEvent, *, added: bool) -> None:
        s = _state(e)
        who(b, e).add(" lade " if added else " tog bort ")
        _client(b, s).add(" i " if added else " ur ").add(f"{_consultant(s)}s klientlista hos ")
        _firm(b, s)

    def grant(b: Says, e: AuditEvent, *, how: str) -> None:
        s = _state(e)
        program = PROGRAMS.get(_text(s.get("program")), "ett program")
        level = LEVELS.get(_text(s.get("level")), "")
        until = _text(s.get("valid_until"))
        person = _consultant(s)
        if how in ("given", "changed"):
            verb = " gav " if how == "given" else " ändrade behörigheten för "
            who(b, e).add(verb + f"{person} (")
            _firm(b, s).add(f") till {program}")
            if level:
                b.add(f", {level}")
            b.add(" hos ")
            _client(b, s)
            b.add(f", till och med {until}" if until else ", tills vidare")
            return
        if how == "revoked":
            who(b, e).add(f" tog bort {person}s behörighet till {program} hos ")
            _client(b, s)
            return
        b.add(f"{person[:1].upper()}{person[1:]}s behörighet till {program} hos ")
        _client(b, s)
        if how == "expired":
            b.add(f" upphörde efter sista dagen {until}" if until else " upphörde")
        else:
            b.add(" upphörde när ")
            _firm(b, s).add(" kopplades bort")

    def request(b: Says, e: AuditEvent, *, how: str) -> None:
        s = _state(e)
        _, _, key = e.subject.partition(":")
        what = f"förfrågan {key}" if key.isdigit() else "en förfrågan"
        dual = _text(s.get("kind")) == "dual"
        verbs = {
            "created": " begärde digitalt att ",
            "approved": " godkände att ",
            "declined": " avböjde att ",
            "withdrawn": " återkallade förfrågan om att ",
        }
        if how in verbs:
            who(b, e).add(verbs[how])
        elif how == "expired":
            b.add(f"{what[:1].upper()}{what[1:]} gick ut utan svar: ")
        else:
            b.add(f"{what[:1].upper()}{what[1:]} blev inaktuell: ")
        _firm(b, s)
        if s.get("firm_name") or s.get("firm"):
            b.add(" kopplas till " if dual else " kopplas bort från ")
            _client(b, s)
        else:
            b.add(what)
        if how in verbs and key.isdigit():
            b.add(f" ({what})")
        note = _text(s.get("note"))
        if how == "obsolete" and note:
            b.add(f". {note}")

    def invitation(b: Says, e: AuditEvent, *, how: str) -> None:
        s = _state(e)
        name = _text(s.get("name")) or "en person"
        if how == "created":
            who(b, e).add(f" bjöd in {name} som systemadministratör för ")
        elif how == "confirmed":
            who(b, e).add(f" bekräftade {name} som systemadministratör för ")
        elif how == "declined":
            who(b, e).add(f" avböjde att {name} blir systemadministratör för ")
        else:
            b.add(f"Inbjudan av {name} som systemadministratör gick ut, för ")
        _client(b, s)

    def person_created(b: Says, e: AuditEvent) -> None:
        s = _state(e)
        who(b, e).add(f" lade till {_text(s.get('name')) or 'en person'} i registret")

    def role_added(b: Says, e: AuditEvent) -> None:
        s = _state(e)
        role = {"sysadmin": "systemadministratör", "firmatecknare": "firmatecknare",
                "program_admin": "programadministratör", "consultant": "konsult"}  # fmt: skip
        name = _text(s.get("name") or s.get("person_name")) or "en person"
        who(b, e).add(f" gjorde {name} till {role.get(_text(s.get('role')), 'användare')} för ")
        b.company(s.get("company_name") or s.get("client_name"),
                  s.get("company") or s.get("client"))  # fmt: skip

    table: dict[str, Describe] = {
        "customer.signed_in": signed_in,
        "client_label.added": lambda b, e: label(b, e, added=True),
        "client_label.removed": lambda b, e: label(b, e, added=False),
        "consultant_client.added": lambda b, e: listed(b, e, added=True),
        "consultant_client.removed": lambda b, e: listed(b, e, added=False),
        "person.created": person_created,
        "role.added": role_added,
    }
    for how in ("given", "changed", "revoked", "expired", "disconnected"):
        table[f"grant.{how}"] = lambda b, e, how=how: grant(b, e, how=how)  # type: ignore[misc]
    for how in ("created", "approved", "declined", "withdrawn", "expired", "obsolete"):
        table[f"digital_request.{how}"] = lambda b, e, how=how: request(b, e, how=how)  # type: ignore[misc]
    for how in ("created", "confirmed", "declined", "expired"):
        table[f"admin_invitation.{how}"] = lambda b, e, how=how: invitation(b, e, how=how)  # type: ignore[misc]
    return table
