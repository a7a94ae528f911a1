"""The small registry the customer pages' tests run against.

Two firms and a firm on the exclusion list, four clients that differ in what
matters to the digital path: two system administrators and a firm that pays
(CLIENT), no system administrator (NOADMIN), connected to the excluded firm
(EXCLUDED_CLIENT), connected to nobody (LONE). Every number is valid.
"""

from __future__ import annotations

from typing import Any

from forms import luhn_check_digit, make_subscription_number


def _orgnr(first9: str) -> str:
    return f"{first9[:6]}-{first9[6:]}{luhn_check_digit(first9)}"


FIRM = _orgnr("559100001")
AUDITOR = _orgnr("559100002")
EXCLUDED = _orgnr("559100003")
CLIENT = _orgnr("556200001")
NOADMIN = _orgnr("556200002")
EXCLUDED_CLIENT = _orgnr("556200003")
LONE = _orgnr("556200004")
CLIENT_SUB = make_subscription_number(501)
NOADMIN_SUB = make_subscription_number(502)
EXCLUDED_CLIENT_SUB = make_subscription_number(503)
LONE_SUB = make_subscription_number(504)
FIRM_SUB = make_subscription_number(505)

ANNA = "anna.berg@bergdal.example"
PER = "per.holm@bergdal.example"
KARIN = "karin.ek@bergdal.example"
OLOF = "olof.lind@bergdal.example"
BO = "bo.hall@hallandsrevision.example"
CECILIA = "cecilia.strand@hallandsrevision.example"
ERIK = "erik.nord@nordrevision.example"
SARA = "sara.nystrom@nystrommusik.example"
SVEN = "sven.nystrom@nystrommusik.example"
FIA = "fia.nystrom@nystrommusik.example"
GUSTAV = "gustav.lindqvist@lindqvistbygg.example"
ALMA = "alma.akerlund@akerlundcafe.example"
LISA = "lisa.svensson@svenssondata.example"

NAMES = {
    ANNA: "Anna Berg",
    PER: "Per Holm",
    KARIN: "Karin Ek",
    OLOF: "Olof Lind",
    BO: "Bo Hall",
    CECILIA: "Cecilia Strand",
    ERIK: "Erik Nord",
    SARA: "Sara Nyström",
    SVEN: "Sven Nyström",
    FIA: "Fia Nyström",
    GUSTAV: "Gustav Lindqvist",
    ALMA: "Alma Åkerlund",
    LISA: "Lisa Svensson",
}
COMPANY_NAMES = {
    FIRM: "Berg & Dal Redovisning AB",
    AUDITOR: "Hallands Revisionsbyrå AB",
    EXCLUDED: "Nordrevision AB",
    CLIENT: "Nyström Musik AB",
    NOADMIN: "Lindqvist Bygg AB",
    EXCLUDED_CLIENT: "Åkerlund Café AB",
    LONE: "Svensson Data AB",
}
ROLES = [
    (ANNA, FIRM, "sysadmin"),
    (ANNA, FIRM, "consultant"),
    (PER, FIRM, "program_admin"),
    (KARIN, FIRM, "consultant"),
    (OLOF, FIRM, "consultant"),
    (BO, AUDITOR, "sysadmin"),
    (CECILIA, AUDITOR, "consultant"),
    (ERIK, EXCLUDED, "sysadmin"),
    (SARA, CLIENT, "sysadmin"),
    (SVEN, CLIENT, "sysadmin"),
    (FIA, CLIENT, "firmatecknare"),
    (GUSTAV, NOADMIN, "firmatecknare"),
    (ALMA, EXCLUDED_CLIENT, "sysadmin"),
    (LISA, LONE, "sysadmin"),
]
KINDS = {
    FIRM: "accounting_firm",
    AUDITOR: "audit_firm",
    EXCLUDED: "accounting_firm",
    CLIENT: "client",
    NOADMIN: "client",
    EXCLUDED_CLIENT: "client",
    LONE: "client",
}
SINCE = "2024-01-01"


def portal_doc() -> dict[str, list[dict[str, Any]]]:
    """The registry as an import document (`registry.import_registry`)."""
    return {
        "companies": [
            {"orgnr": o, "name": COMPANY_NAMES[o], "kind": KINDS[o]} for o in COMPANY_NAMES
        ],
        "subscriptions": [
            {"number": CLIENT_SUB, "orgnr": CLIENT},
            {"number": NOADMIN_SUB, "orgnr": NOADMIN},
            {"number": EXCLUDED_CLIENT_SUB, "orgnr": EXCLUDED_CLIENT},
            {"number": LONE_SUB, "orgnr": LONE},
            {"number": FIRM_SUB, "orgnr": FIRM},
        ],
        "people": [{"email": e, "name": n} for e, n in NAMES.items()],
        "roles": [{"person": p, "company": c, "role": r} for p, c, r in ROLES],
        "connections": [
            {"client": CLIENT, "firm": FIRM, "role": "accounting", "since": SINCE, "until": None},
            {"client": NOADMIN, "firm": FIRM, "role": "accounting", "since": SINCE, "until": None},
            {
                "client": EXCLUDED_CLIENT,
                "firm": EXCLUDED,
                "role": "accounting",
                "since": SINCE,
                "until": None,
            },
        ],
        "payers": [{"subscription": CLIENT_SUB, "payer": FIRM, "from": SINCE}],
    }
