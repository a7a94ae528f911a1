"""The audit log's sentences for the customer pages' events: (event, sentence) per kind."""

from __future__ import annotations

from typing import Any

from registry import AuditEvent
from review.audit_text import Person

SARA = "sara@nystrommusik.example"
PORTAL_PEOPLE = {SARA: Person("Sara Nyström", None)}
FIRM = {"firm": "559100-0012", "firm_name": "Berg & Dal Redovisning AB"}
CLIENT = {"client": "556200-0017", "client_name": "Nyström Musik AB"}
GRANT = {**FIRM, **CLIENT, "person_name": "Karin Ek", "program": "bokforing", "level": "write",
         "valid_until": "2026-12-31"}  # fmt: skip


def _e(action: str, subject: str, actor: str = SARA, **data: Any) -> AuditEvent:
    return AuditEvent(actor=actor, action=action, subject=subject,
                      before=data.get("before"), after=data.get("after"))  # fmt: skip


PORTAL_CASES: list[tuple[AuditEvent, str]] = [
    (_e("customer.signed_in", "person:3"), "Sara Nyström loggade in på Mina sidor."),
    (
        _e("client_label.added", "company:4", after={**FIRM, **CLIENT, "label": "Moms"}),
        "Sara Nyström märkte Nyström Musik AB med ”Moms” i Berg & Dal Redovisning ABs klientlista.",
    ),
    (
        _e("client_label.removed", "company:4", before={**FIRM, **CLIENT, "label": "Moms"}),
        "Sara Nyström tog bort märkningen ”Moms” från Nyström Musik AB i Berg & Dal Redovisning "
        "ABs klientlista.",
    ),
    (
        _e(
            "consultant_client.added",
            "company:4",
            after={**FIRM, **CLIENT, "consultant_name": "Karin Ek"},
        ),
        "Sara Nyström lade Nyström Musik AB i Karin Eks klientlista hos Berg & Dal Redovisning AB.",
    ),
    (
        _e(
            "consultant_client.removed",
            "company:4",
            before={**FIRM, **CLIENT, "consultant_name": "Karin Ek"},
        ),
        "Sara Nyström tog bort Nyström Musik AB ur Karin Eks klientlista hos Berg & Dal "
        "Redovisning AB.",
    ),
    (
        _e("grant.given", "grant:1", after=GRANT),
        "Sara Nyström gav Karin Ek (Berg & Dal Redovisning AB) till Bokföring, läsa och ändra hos "
        "Nyström Musik AB, till och med 2026-12-31.",
    ),
    (
        _e("grant.changed", "grant:2", before=GRANT, after={**GRANT, "valid_until": None}),
        "Sara Nyström ändrade behörigheten för Karin Ek (Berg & Dal Redovisning AB) till "
        "Bokföring, läsa och ändra hos Nyström Musik AB, till och med 2026-12-31.",
    ),
    (
        _e("grant.revoked", "grant:2", before=GRANT),
        "Sara Nyström tog bort Karin Eks behörighet till Bokföring hos Nyström Musik AB.",
    ),
    (
        _e("grant.expired", "grant:2", actor="system", before=GRANT),
        "Karin Eks behörighet till Bokföring hos Nyström Musik AB upphörde efter sista dagen "
        "2026-12-31.",
    ),
    (
        _e("grant.disconnected", "grant:2", actor="system", before=GRANT),
        "Karin Eks behörighet till Bokföring hos Nyström Musik AB upphörde när Berg & Dal "
        "Redovisning AB kopplades bort.",
    ),
    (
        _e(
            "digital_request.created",
            "digital_request:7",
            actor="anna@bergdal.example",
            after={"state": "pending", "kind": "disconnect", **FIRM, **CLIENT},
        ),
        "anna@bergdal.example begärde digitalt att Berg & Dal Redovisning AB kopplas bort från "
        "Nyström Musik AB (förfrågan 7).",
    ),
    (
        _e(
            "digital_request.approved",
            "digital_request:7",
            after={"state": "approved", "kind": "dual", **FIRM, **CLIENT},
        ),
        "Sara Nyström godkände att Berg & Dal Redovisning AB kopplas till Nyström Musik AB "
        "(förfrågan 7).",
    ),
    (
        _e(
            "digital_request.declined",
            "digital_request:7",
            after={"state": "declined", "kind": "disconnect", **FIRM, **CLIENT},
        ),
        "Sara Nyström avböjde att Berg & Dal Redovisning AB kopplas bort från Nyström Musik AB",
    ),
    (
        _e(
            "digital_request.withdrawn",
            "digital_request:7",
            actor="anna@bergdal.example",
            after={"state": "withdrawn", "kind": "disconnect", **FIRM, **CLIENT},
        ),
        "anna@bergdal.example återkallade förfrågan om att Berg & Dal Redovisning AB kopplas bort",
    ),
    (
        _e(
            "digital_request.expired",
            "digital_request:7",
            actor="system",
            after={"state": "expired", "kind": "disconnect", **FIRM, **CLIENT},
        ),
        "Förfrågan 7 gick ut utan svar: Berg & Dal Redovisning AB kopplas bort från Nyström Musik",
    ),
    (
        _e(
            "digital_request.obsolete",
            "digital_request:7",
            after={
                "state": "obsolete",
                "kind": "disconnect",
                **FIRM,
                **CLIENT,
                "note": "Kopplingen var redan avslutad.",
            },
        ),
        "Förfrågan 7 blev inaktuell: Berg & Dal Redovisning AB kopplas bort från Nyström Musik AB. "
        "Kopplingen var redan avslutad.",
    ),
    (
        _e(
            "admin_invitation.created",
            "admin_invitation:2",
            actor="anna@bergdal.example",
            after={**CLIENT, "name": "Gösta Lind"},
        ),
        "anna@bergdal.example bjöd in Gösta Lind som systemadministratör för Nyström Musik AB.",
    ),
    (
        _e("admin_invitation.confirmed", "admin_invitation:2", after={**CLIENT, "name": "Gösta"}),
        "Sara Nyström bekräftade Gösta som systemadministratör för Nyström Musik AB.",
    ),
    (
        _e("admin_invitation.declined", "admin_invitation:2", after={**CLIENT, "name": "Gösta"}),
        "Sara Nyström avböjde att Gösta blir systemadministratör för Nyström Musik AB.",
    ),
    (
        _e(
            "admin_invitation.expired",
            "admin_invitation:2",
            actor="system",
            after={**CLIENT, "name": "Gösta"},
        ),
        "Inbjudan av Gösta som systemadministratör gick ut, för Nyström Musik AB.",
    ),
    (
        _e("person.created", "person:9", after={"name": "Gösta Lind", "email": "g@x.example"}),
        "Sara Nyström lade till Gösta Lind i registret.",
    ),
    (
        _e(
            "role.added",
            "company:4",
            after={
                "name": "Gösta Lind",
                "role": "sysadmin",
                "company": "556200-0017",
                "company_name": "Nyström Musik AB",
            },
        ),
        "Sara Nyström gjorde Gösta Lind till systemadministratör för Nyström Musik AB.",
    ),
]
