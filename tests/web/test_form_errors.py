"""The form page's errors: the summary names each party and links to its field, and a form the
review would refuse because of the client's connections is not issued, without the page
telling anyone more about the registry than a matching orgnr and subscription pair earns."""

from __future__ import annotations

import datetime as dt
import json
import re
from html.parser import HTMLParser
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from forms import luhn_check_digit, make_subscription_number, parse_organisationsnummer
from registry import Company, Connection, ConnectionRole, IssuedForm
from samples import REGISTRY_JSON
from tests.web.conftest import make_app

DUAL = "/blankett/dubbelsammankoppling"
DISCONNECT = "/blankett/bortkoppling"


class _Page(HTMLParser):
    """The ids on a page, and the summary's links with their text."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.links: list[tuple[str, str]] = []
        self._summary_depth = 0
        self._href: str | None = None
        self._text: list[str] = []
        self.summary_attrs: dict[str, str | None] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("id"):
            self.ids.append(str(a["id"]))
        if a.get("id") == "fel":
            self.summary_attrs = a
            self._summary_depth = 1
        elif self._summary_depth and tag == "div":
            self._summary_depth += 1
        if self._summary_depth and tag == "a":
            self._href, self._text = a.get("href"), []

    def handle_endtag(self, tag: str) -> None:
        if self._summary_depth and tag == "a" and self._href is not None:
            self.links.append((self._href, " ".join("".join(self._text).split())))
            self._href = None
        elif self._summary_depth and tag == "div":
            self._summary_depth -= 1

    def handle_data(self, data: str) -> None:
        if self._href is not None:
            self._text.append(data)


def parsed(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    return page


def summary(html: str) -> list[str]:
    return [text for _, text in parsed(html).links]


def registry_data() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(REGISTRY_JSON.read_text(encoding="utf-8"))
    return data


def unconnected_firm(client_orgnr: str, *, besides: tuple[str, ...] = ()) -> dict[str, str]:
    """A firm of the sample registry with no connection at all to the client."""
    data = registry_data()
    taken = {c["firm"] for c in data["connections"] if c["client"] == client_orgnr}
    return next(
        c
        for c in data["companies"]
        if c["kind"] == "accounting_firm" and c["orgnr"] not in taken | set(besides)
    )


def stranger_to(dual: dict[str, str]) -> dict[str, str]:
    """A firm neither connected to the dual form's client nor its new firm."""
    return unconnected_firm(dual["client_orgnr"], besides=(dual["new_firm_orgnr"],))


def unknown_orgnr() -> str:
    """A valid organisationsnummer the sample registry does not have."""
    known = {c["orgnr"] for c in registry_data()["companies"]}
    for serial in range(100_000, 200_000):
        body = f"559{serial:06d}"
        text = parse_organisationsnummer(body + luhn_check_digit(body)).text
        if text not in known:
            return text
    raise AssertionError("no free organisationsnummer")


def issued_count(engine: Engine) -> int:
    with Session(engine) as session:
        return session.exec(select(func.count()).select_from(IssuedForm)).one()


def connect(
    engine: Engine,
    client: str,
    firm: str,
    role: str,
    *,
    until: dt.date | None,
    since: dt.date = dt.date(2020, 1, 1),
) -> None:
    with Session(engine) as session:
        ids: dict[str, int] = {}
        for c in session.exec(select(Company).where(col(Company.orgnr).in_([client, firm]))):
            assert c.id is not None
            ids[c.orgnr] = c.id
        session.add(
            Connection(
                client_id=ids[client],
                firm_id=ids[firm],
                role=ConnectionRole(role),
                since=since,
                until=until,
            )
        )
        session.commit()


# -- the summary -------------------------------------------------------------------------------


def test_summary_names_the_party_of_each_field(
    client: TestClient, dual_values: dict[str, str]
) -> None:
    bad = dict(
        dual_values,
        current_firm_orgnr="",
        new_firm_orgnr="",
        new_firm_role="",
        new_firm_email="admin@",
    )
    r = client.post(DUAL, data=bad)
    assert r.status_code == 422
    assert summary(r.text) == [
        "Byrån som redan är kopplad: Organisationsnummer saknas",
        "Byrån som ska kopplas: Organisationsnummer saknas",
        "Byrån som ska kopplas: Välj typ av byrå",
        "Byrån som ska kopplas: E-post till byråns systemadministratör – ”admin@” ser inte ut "
        "som en e-postadress (till exempel namn@byran.se).",
    ]
    assert "Rätta 4 fel" in r.text


def test_disconnect_summary_names_its_parties(
    client: TestClient, disconnect_values: dict[str, str]
) -> None:
    missing = dict(disconnect_values, client_orgnr="", firm_orgnr="", after="")
    r = client.post(DISCONNECT, data=missing)
    assert r.status_code == 422
    assert summary(r.text) == [
        "Företaget: Organisationsnummer saknas",
        "Byrån: Organisationsnummer saknas",
        "Efter bortkopplingen: Välj ett alternativ",
    ]


def test_every_summary_link_lands_on_its_field(client: TestClient) -> None:
    r = client.post(DUAL, data={})  # everything missing: every kind of field is in the summary
    assert r.status_code == 422
    page = parsed(r.text)
    assert len(page.links) >= 8
    assert len(page.ids) == len(set(page.ids)), "an id twice on the page"
    for href, text in page.links:
        assert href.startswith("#"), text
        assert href[1:] in page.ids, f"{text}: {href} is not on the page"
    targets = [href[1:] for href, _ in page.links]
    # A choice's link lands on its first option, which is what takes focus.
    assert "f-current_firm_role" in targets
    assert re.search(r'<input type="radio" name="current_firm_role" value="accounting"\s+'
                     r'id="f-current_firm_role"', r.text)
    # Focus can go to the summary, and a screen reader is told what it is.
    assert page.summary_attrs["tabindex"] == "-1"
    assert page.summary_attrs["role"] == "alert"
    assert page.summary_attrs["aria-labelledby"] in page.ids
    assert '<script src="/static/form.js" defer></script>' in r.text
    assert client.get("/static/form.js").status_code == 200


def test_no_summary_on_a_fresh_page(client: TestClient) -> None:
    r = client.get(DUAL)
    assert 'id="fel"' not in r.text


# -- a form the review would refuse is not issued -----------------------------------------------


def test_dual_refused_when_the_current_firm_is_not_connected(
    client: TestClient, loaded_engine: Engine, dual_values: dict[str, str]
) -> None:
    stranger = stranger_to(dual_values)
    before = issued_count(loaded_engine)
    r = client.post(
        DUAL,
        data=dict(
            dual_values, current_firm_name=stranger["name"], current_firm_orgnr=stranger["orgnr"]
        ),
    )
    assert r.status_code == 422
    assert summary(r.text) == [
        f"Byrån som redan är kopplad: Organisationsnummer – {dual_values['client_name']} är inte "
        f"kopplad till någon byrå med organisationsnummer {stranger['orgnr']} i vårt register. "
        "Ange den byrå som klienten är kopplad till i dag; annars avslås blanketten vid "
        "granskningen."
    ]
    assert 'id="e-current_firm_orgnr"' in r.text
    assert issued_count(loaded_engine) == before

    # The firm the client is connected to: the same form is issued.
    r = client.post(DUAL, data=dual_values)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/pdf"
    assert issued_count(loaded_engine) == before + 1


def test_an_ended_connection_is_not_a_current_firm(
    client: TestClient, loaded_engine: Engine, dual_values: dict[str, str]
) -> None:
    stranger = stranger_to(dual_values)
    connect(loaded_engine, dual_values["client_orgnr"], stranger["orgnr"], "accounting",
            until=dt.date(2024, 12, 31))
    values = dict(dual_values, current_firm_orgnr=stranger["orgnr"], current_firm_role="accounting")
    r = client.post(DUAL, data=values)
    assert r.status_code == 422
    assert "är inte kopplad till någon byrå med organisationsnummer" in r.text

    connect(loaded_engine, dual_values["client_orgnr"], stranger["orgnr"], "accounting",
            until=None, since=dt.date(2025, 1, 1))
    assert client.post(DUAL, data=values).status_code == 200


def test_current_firm_connected_in_another_role(
    client: TestClient, dual_values: dict[str, str]
) -> None:
    other = {"accounting": "audit", "audit": "accounting"}[dual_values["current_firm_role"]]
    names = {"accounting": "redovisningsbyrå", "audit": "revisionsbyrå"}
    r = client.post(DUAL, data=dict(dual_values, current_firm_role=other))
    assert r.status_code == 422
    assert summary(r.text) == [
        f"Byrån som redan är kopplad: Typ av byrå – Byrån är kopplad till "
        f"{dual_values['client_name']} som {names[dual_values['current_firm_role']]}, inte som "
        f"{names[other]}. Välj den typ av byrå som den är kopplad som."
    ]


def test_new_firm_already_connected_is_refused(
    client: TestClient, loaded_engine: Engine, dual_values: dict[str, str]
) -> None:
    connect(loaded_engine, dual_values["client_orgnr"], dual_values["new_firm_orgnr"],
            dual_values["new_firm_role"], until=None)
    r = client.post(DUAL, data=dual_values)
    assert r.status_code == 422
    assert "Byrån som ska kopplas: Organisationsnummer – Byrån är redan kopplad till" in r.text


def test_disconnect_refused_when_the_firm_is_not_connected(
    client: TestClient, loaded_engine: Engine, disconnect_values: dict[str, str]
) -> None:
    stranger = unconnected_firm(disconnect_values["client_orgnr"])
    before = issued_count(loaded_engine)
    r = client.post(
        DISCONNECT,
        data=dict(disconnect_values, firm_name=stranger["name"], firm_orgnr=stranger["orgnr"]),
    )
    assert r.status_code == 422
    assert summary(r.text) == [
        f"Byrån: Organisationsnummer – {disconnect_values['client_name']} är inte kopplad till "
        f"någon byrå med organisationsnummer {stranger['orgnr']} i vårt register, så det finns "
        "ingen koppling att ta bort. Kontrollera organisationsnumret."
    ]
    assert issued_count(loaded_engine) == before
    assert client.post(DISCONNECT, data=disconnect_values).status_code == 200


# -- nothing about the registry before the pair matches ---------------------------------------


def _masked(html: str, *values: str) -> str:
    for value in values:
        html = html.replace(value, "<typed>")
    return html


@pytest.mark.parametrize("path", [DUAL, DISCONNECT])
def test_wrong_subscription_answers_as_an_unknown_company(
    client: TestClient,
    dual_values: dict[str, str],
    disconnect_values: dict[str, str],
    path: str,
) -> None:
    """With a firm that is not connected, a wrong subscription number for an existing
    client, and any number for a company the registry does not have, get one and the
    same page: only the subscription number is wrong, nothing is said about connections."""
    values = dual_values if path == DUAL else disconnect_values
    firm_field = "current_firm_orgnr" if path == DUAL else "firm_orgnr"
    stranger = unconnected_firm(values["client_orgnr"], besides=(values.get("new_firm_orgnr", ""),))
    base = dict(values, client_name="", **{firm_field: stranger["orgnr"]})
    wrong_sub = make_subscription_number(9_999_991)
    unknown = unknown_orgnr()

    existing = client.post(path, data=dict(base, client_subscription=wrong_sub))
    absent = client.post(path, data=dict(base, client_orgnr=unknown))
    assert existing.status_code == absent.status_code == 422
    assert summary(existing.text) == summary(absent.text) == [
        ("Klienten" if path == DUAL else "Företaget")
        + ": Abonnemangsnummer – Abonnemangsnumret hör inte till det organisationsnumret. "
        "Kontrollera båda mot fakturan."
    ]
    assert "kopplad till" not in existing.text.split('id="fel"')[1].split("</div>")[0]
    # The whole page is the same but for what was typed.
    assert _masked(existing.text, values["client_orgnr"], wrong_sub) == _masked(
        absent.text, unknown, values["client_subscription"]
    )


def test_refusals_count_against_the_limit(
    loaded_engine: Engine, dual_values: dict[str, str]
) -> None:
    stranger = stranger_to(dual_values)
    refused = dict(dual_values, current_firm_orgnr=stranger["orgnr"])
    with TestClient(make_app(loaded_engine, limit=2)) as c:
        assert c.post(DUAL, data=refused).status_code == 422
        assert c.post(DUAL, data=refused).status_code == 422
        r = c.post(DUAL, data=refused)
        assert r.status_code == 429
        assert "kopplad" not in r.text
