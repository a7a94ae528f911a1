"""Sample contexts, subjects and required phrases of the sign-in mail."""

from __future__ import annotations

import datetime as dt

CONTEXTS: dict[str, dict[str, object]] = {
    "sign_in_link": {
        "name": "Anna Berg",
        "link": "https://kopplingar.example/mina-sidor/logga-in/lank/abc",
        "minutes": 15,
        "valid_until": dt.datetime(2026, 12, 3, 13, 20, tzinfo=dt.UTC),
    },
}
MUST_SAY: dict[str, list[str]] = {
    "sign_in_link": [
        "Hej Anna Berg!",
        "https://kopplingar.example/mina-sidor/logga-in/lank/abc",
        "gäller i 15 minuter, till klockan 14:20",
    ],
}
SUBJECTS: dict[str, str] = {"sign_in_link": "Din inloggningslänk till Mina sidor"}
