"""Sample contexts, subjects and required phrases of the customer pages' grants mails."""

from __future__ import annotations

import datetime as dt

CLIENT = {"client_name": "Nyström Musik AB", "client_orgnr": "556200-0019"}
FIRM = "Berg & Dal Redovisning AB"

CONTEXTS: dict[str, dict[str, object]] = {
    "grant_given": CLIENT
    | {
        "firm_name": FIRM,
        "granted_by_name": "Sara Nyström",
        "first": True,
        "grants": [
            {"program": "Bokföring", "level": "Läsa och ändra",
             "valid_until": dt.date(2026, 6, 30)},
            {"program": "Lön", "level": "Läsa", "valid_until": None},
        ],
        "ended": ["Fakturering", "Order", "Anläggningsregister"],
    },
    "grant_expired": CLIENT
    | {
        "audience": "admin",
        "consultant_name": "Karin Ek",
        "firm_name": FIRM,
        "grants": [
            {"program": "Bokföring", "level": "Läsa och ändra",
             "valid_until": dt.date(2026, 6, 30)},
            {"program": "Lön", "level": "Administrera", "valid_until": dt.date(2026, 6, 30)},
        ],
        "link": "https://kopplingar.example.se/mina-sidor/foretag/556200-0019",
    },
}  # fmt: skip

MUST_SAY: dict[str, list[str]] = {
    "grant_given": [
        "Hej!\n\nSara Nyström på Nyström Musik AB (556200-0019) har gett dig behörighet till "
        "företagets program, som konsult hos Berg & Dal Redovisning AB.",
        "Så här ser dina behörigheter ut nu:\n"
        "- Bokföring: Läsa och ändra, till och med den 30 juni 2026\n"
        "- Lön: Läsa, tills vidare\n",
        "Du har inte längre behörighet till Fakturering, Order och Anläggningsregister.",
        "upphör av sig själv efter den dagen",
        "genom byråns klienthantering",
    ],
    "grant_expired": [
        "Hej!\n\nBehörigheten för Karin Ek, konsult hos Berg & Dal Redovisning AB, till "
        "följande program hos Nyström Musik AB (556200-0019) har passerat sitt slutdatum",
        "- Bokföring (Läsa och ändra), till och med den 30 juni 2026\n"
        "- Lön (Administrera), till och med den 30 juni 2026\n\n",
        "kan du ge behörighet igen under Konsulter på Mina sidor: "
        "https://kopplingar.example.se/mina-sidor/foretag/556200-0019",
    ],
}

SUBJECTS: dict[str, str] = {
    "grant_given": "Du har fått behörighet hos Nyström Musik AB",
    "grant_expired": "Behörighet har upphört för Karin Ek hos Nyström Musik AB",
}
