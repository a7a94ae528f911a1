"""Signing in by link: single use, 15 minutes, hashed, the same answer for everyone, sessions."""

from __future__ import annotations

import hashlib
import html
import re
import threading

from sqlmodel import Session, select
from starlette.testclient import TestClient

from registry import AccessLink, AuditEvent, CustomerSession
from tests.portal.cases import ANNA, COMPANY_NAMES, FIRM, SARA
from tests.portal.conftest import PortalSite, make_portal_app

_LINK = re.compile(r"http://testserver(/mina-sidor/logga-in/lank/(\S+))")


def _ask(portal: PortalSite, email: str) -> str:
    client = portal.client()
    page = client.post("/mina-sidor/logga-in", data={"email": email})
    assert page.status_code == 200
    return page.text


def _link(portal: PortalSite, email: str) -> tuple[str, str]:
    found = _LINK.findall(portal.mails(email)[-1].body)
    assert len(found) == 1
    path, token = found[0]
    return path, token


def test_a_person_on_record_signs_in_by_the_mailed_link(portal: PortalSite) -> None:
    client = portal.signed_in(ANNA)
    start = client.get("/mina-sidor/")
    assert start.status_code == 200
    assert html.escape(COMPANY_NAMES[FIRM]) in start.text
    assert "systemadministratör" in start.text
    assert start.headers["cache-control"] == "no-store"
    with Session(portal.engine) as session:
        events = session.exec(select(AuditEvent.action).where(AuditEvent.actor == ANNA)).all()
    assert "customer.signed_in" in events


def test_the_answer_is_the_same_whether_or_not_the_address_is_on_record(
    portal: PortalSite,
) -> None:
    known = _ask(portal, ANNA)
    unknown = _ask(portal, "nobody@nowhere.example")
    assert known == unknown
    assert portal.mails("nobody@nowhere.example") == []
    assert len(portal.mails(ANNA)) == 1
    # Upper case and spaces are the same address.
    _ask(portal, "  Anna.Berg@BergDal.example ")
    assert len(portal.mails(ANNA)) == 2


def test_the_link_is_stored_only_as_its_hash(portal: PortalSite) -> None:
    _ask(portal, SARA)
    _, token = _link(portal, SARA)
    with Session(portal.engine) as session:
        [row] = session.exec(select(AccessLink)).all()
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in repr(row)


def test_the_link_works_once(portal: PortalSite) -> None:
    _ask(portal, SARA)
    path, _ = _link(portal, SARA)
    first = portal.client()
    assert first.get(path).status_code == 200  # opening it does not use it (mail scanners)
    assert first.get(path).status_code == 200
    assert first.post(path).status_code == 303
    second = portal.client()
    again = second.post(path)
    assert again.status_code == 410
    assert "redan använts" in again.text
    assert second.get("/mina-sidor/").status_code == 303  # not signed in


def test_two_tabs_racing_with_one_link_start_one_session(portal: PortalSite) -> None:
    _ask(portal, SARA)
    path, _ = _link(portal, SARA)
    results: list[int] = []
    barrier = threading.Barrier(2)

    def use() -> None:
        client = portal.client()
        barrier.wait()
        results.append(client.post(path).status_code)

    threads = [threading.Thread(target=use) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [303, 410]
    with Session(portal.engine) as session:
        assert len(session.exec(select(CustomerSession)).all()) == 1


def test_the_link_expires_after_15_minutes(portal: PortalSite) -> None:
    _ask(portal, SARA)
    path, _ = _link(portal, SARA)
    portal.clock.advance(minutes=15)
    page = portal.client().post(path)
    assert page.status_code == 410
    assert "har gått ut" in page.text


def test_a_made_up_link_says_it_is_not_valid(portal: PortalSite) -> None:
    page = portal.client().get("/mina-sidor/logga-in/lank/" + "x" * 43)
    assert page.status_code == 410
    assert "inte giltig" in page.text
    assert page.headers["referrer-policy"] == "no-referrer"


def test_idle_and_absolute_limits_end_the_session(portal: PortalSite) -> None:
    client = portal.signed_in(SARA)
    portal.clock.advance(minutes=29)
    assert client.get("/mina-sidor/").status_code == 200
    portal.clock.advance(minutes=31)
    assert client.get("/mina-sidor/").status_code == 303
    client = portal.signed_in(SARA)
    for _ in range(21):
        portal.clock.advance(minutes=29)
        client.get("/mina-sidor/")
    assert client.get("/mina-sidor/").status_code == 303  # over 10 hours since it started


def test_signing_out_ends_the_session_and_needs_the_csrf_token(portal: PortalSite) -> None:
    client = portal.signed_in(SARA)
    refused = client.post("/mina-sidor/logga-ut", data={})
    assert refused.status_code == 403
    page = client.get("/mina-sidor/").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page)
    assert csrf is not None
    out = client.post("/mina-sidor/logga-ut", data={"csrf": csrf.group(1)})
    assert out.status_code == 303
    assert client.get("/mina-sidor/").status_code == 303


def test_a_page_needing_sign_in_comes_back_after_it(portal: PortalSite) -> None:
    client = portal.client()
    wanted = f"/mina-sidor/byra/{FIRM}/klienter"
    page = client.get(wanted)
    assert page.status_code == 303
    assert page.headers["location"].startswith("/mina-sidor/logga-in?next=")
    form = client.get(page.headers["location"])
    assert wanted in form.text
    client.post("/mina-sidor/logga-in", data={"email": ANNA, "next": wanted})
    path = re.search(r"http://testserver(\S+)", portal.mails(ANNA)[-1].body)
    assert path is not None and "next=" in path.group(1)


def test_a_bad_address_is_told_so_and_kept(portal: PortalSite) -> None:
    page = portal.client().post("/mina-sidor/logga-in", data={"email": "anna.berg"})
    assert page.status_code == 400
    assert "Skriv en e-postadress" in page.text
    assert 'value="anna.berg"' in page.text


def test_asking_too_often_is_slowed_down_per_address_and_per_e_mail(portal: PortalSite) -> None:
    client = TestClient(make_portal_app(portal.engine, portal.clock, sign_in_limit=3),
                        base_url="http://testserver")  # fmt: skip
    statuses = [
        client.post("/mina-sidor/logga-in", data={"email": SARA}).status_code for _ in range(4)
    ]
    assert statuses == [200, 200, 200, 429]
    assert len(portal.mails(SARA)) == 3
    limited = client.post("/mina-sidor/logga-in", data={"email": "nobody@nowhere.example"})
    assert limited.status_code == 429  # the same address, so the same answer for anyone
    assert "Försök igen om ungefär 15 minuter" in limited.text
    assert limited.headers["retry-after"]
    portal.clock.advance(minutes=16)
    assert client.post("/mina-sidor/logga-in", data={"email": SARA}).status_code == 200
