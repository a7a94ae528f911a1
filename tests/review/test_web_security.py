"""The login page under attack, the cookies over TLS, security events and who sees them.

Through the test client on the app `create_app` builds, on SQLite and
PostgreSQL (the `site` fixture of test_pages). Browsers at different
addresses are test clients with a `client` address of their own.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import col, select

from registry import AuditEvent, record_event
from review.auth import AuthPolicy
from tests.review.test_pages import (
    PASSWORD,
    Site,
    csrf_of,
    give_code,
    login,
    site_fixture,  # noqa: F401 - the `site` fixture
    totp_code,
)
from workqueue import LoginThrottle

WRONG = "Fel lösenord 1234"
HOME = "192.0.2.10"


def _browser(site: Site, address: str = HOME, *, https: bool = False) -> TestClient:
    base = "https://testserver" if https else "http://testserver"
    return TestClient(
        site.app,
        base_url=base,
        follow_redirects=False,
        raise_server_exceptions=False,  # a 500 must show as a 500, as a browser sees it
        client=(address, 50000),
    )


def _sign_in(site: Site, browser: TestClient, who: str) -> Any:
    """Log in as the pages' own tests do: the admin has a second factor, so give its code."""
    response = login(browser, site.emails[who], PASSWORD)
    assert response.status_code == 303, response.text[:300]
    if response.headers["location"].startswith("/granskning/logga-in/kod"):
        response = give_code(browser, totp_code(site.reviewer(who)))
        assert response.status_code == 303, response.text[:300]
    return response


def _cookies(response: Any) -> dict[str, set[str]]:
    """Each Set-Cookie by name: its attributes, lower-cased, the value left out."""
    out = {}
    for key, value in response.headers.multi_items():
        if key.lower() == "set-cookie":
            name, _, rest = value.partition("=")
            out[name] = {part.strip().lower() for part in rest.split(";")[1:]}
    return out


def _events(site: Site, action: str) -> list[AuditEvent]:
    with site.session() as s:
        return list(
            s.exec(
                select(AuditEvent).where(AuditEvent.action == action).order_by(col(AuditEvent.id))
            ).all()
        )


# The throttle's arithmetic


def test_the_60th_wrong_password_is_refused_and_counted_not_a_500(site: Site) -> None:
    email = site.emails["alice"]
    now = dt.datetime.now(dt.UTC)
    with site.session() as s:
        # Where 59 failures leave an account: the last block just over, the count alive.
        s.add(
            LoginThrottle(
                key=f"account:{email}",
                failures=59,
                first_failure_at=now - dt.timedelta(minutes=50),
                blocked_until=now - dt.timedelta(seconds=1),
            )
        )
        s.commit()
    browser = _browser(site)
    sixtieth = login(browser, email, WRONG)
    assert sixtieth.status_code == 403, sixtieth.text[:300]
    assert "Fel e-postadress eller lösenord." in sixtieth.text
    with site.session() as s:
        row = s.get(LoginThrottle, f"account:{email}")
        assert row is not None and row.failures == 60
        assert row.blocked_until is not None
        assert row.blocked_until - now <= AuthPolicy().max_block + dt.timedelta(minutes=1)
    blocked = login(browser, email, PASSWORD)
    assert blocked.status_code == 429
    assert 1 <= int(blocked.headers["retry-after"]) <= 900
    assert blocked.headers["content-security-policy"]  # a proper page, headers and all


# Device cookies


def test_an_attacker_at_many_addresses_cannot_lock_the_owner_out_of_their_browser(
    site: Site,
) -> None:
    email = site.emails["bob"]
    owner = _browser(site)
    assert login(owner, email, PASSWORD).status_code == 303
    assert owner.post("/granskning/logga-ut", data={"csrf": csrf_of(owner)}).status_code == 303
    # Someone else tries a password from a new address each time, until the account is blocked.
    statuses = [
        login(_browser(site, f"198.51.100.{n}"), email, WRONG).status_code for n in range(1, 8)
    ]
    assert statuses == [403] * 5 + [429] * 2
    # The owner's browser, which logged in before, is neither blocked nor slowed ...
    back = login(owner, email, PASSWORD)
    assert back.status_code == 303
    assert owner.get("/granskning/").status_code == 200
    # ... while the owner in a browser the account does not know is slowed like anyone.
    elsewhere = login(_browser(site), email, PASSWORD)
    assert elsewhere.status_code == 429
    assert "För många misslyckade inloggningar" in elsewhere.text


def test_the_device_cookie_is_httponly_strict_long_lived_and_kept_at_logout(site: Site) -> None:
    browser = _browser(site)
    done = login(browser, site.emails["alice"], PASSWORD)
    cookies = _cookies(done)
    device = cookies["granskning_enhet"]
    assert {"httponly", "samesite=strict", "path=/granskning/logga-in"} <= device
    assert "max-age=31536000" in device and "secure" not in device  # plain http here
    kept = browser.cookies.get("granskning_enhet")
    assert kept
    logout = browser.post("/granskning/logga-ut", data={"csrf": csrf_of(browser)})
    assert "granskning_enhet" not in _cookies(logout)
    # The next login from the same browser keeps its device rather than adding one.
    again = login(browser, site.emails["alice"], PASSWORD)
    assert browser.cookies.get("granskning_enhet") == kept
    assert again.status_code == 303

    # With a second factor the browser is known only once the code is given too.
    admin = _browser(site)
    password_step = login(admin, site.emails["admin"], PASSWORD)
    assert password_step.headers["location"].startswith("/granskning/logga-in/kod")
    assert "granskning_enhet" not in _cookies(password_step)
    code_step = give_code(admin, totp_code(site.reviewer("admin")))
    assert "samesite=strict" in _cookies(code_step)["granskning_enhet"]


def test_over_tls_both_cookies_are_host_prefixed_and_a_plain_name_opens_nothing(
    site: Site,
) -> None:
    browser = _browser(site, https=True)
    done = login(browser, site.emails["alice"], PASSWORD)
    cookies = _cookies(done)
    assert "granskning" not in cookies and "granskning_enhet" not in cookies
    session = cookies["__Host-granskning"]
    device = cookies["__Host-granskning_enhet"]
    for attributes in (session, device):
        # What a browser demands of a __Host- cookie: Secure, Path=/ and no Domain.
        assert {"secure", "httponly", "path=/"} <= attributes
        assert not any(a.startswith("domain=") for a in attributes)
    assert "samesite=lax" in session and "samesite=strict" in device
    assert browser.get("/granskning/").status_code == 200
    # The same token under the plain name (planted by a sibling or over http) is not read.
    token = browser.cookies.get("__Host-granskning")
    assert token
    planted = _browser(site, https=True)
    planted.cookies.set("granskning", token)
    assert planted.get("/granskning/").status_code == 303
    # Logout deletes the __Host- cookie the way a browser accepts: Secure, at Path=/.
    logout = browser.post("/granskning/logga-ut", data={"csrf": csrf_of(browser)})
    gone = _cookies(logout)["__Host-granskning"]
    assert {"secure", "path=/"} <= gone and "max-age=0" in gone


# Security events


def test_logins_logouts_reviewer_changes_and_refusals_are_security_events(site: Site) -> None:
    alice = _browser(site)
    assert login(alice, site.emails["alice"], WRONG).status_code == 403
    assert login(alice, site.emails["alice"], PASSWORD).status_code == 303
    assert alice.post(f"/granskning/{site.ids['dual']}/ta", data={"csrf": "x"}).status_code == 403
    assert alice.get("/granskning/granskare").status_code == 403
    assert alice.post("/granskning/logga-ut", data={"csrf": csrf_of(alice)}).status_code == 303

    admin = _browser(site)
    _sign_in(site, admin, "admin")
    csrf = csrf_of(admin)
    added = admin.post(
        "/granskning/granskare",
        data={"csrf": csrf, "name": "Cecilia", "email": "cecilia@backoffice.example",
              "role": "reviewer", "password": "Granskar i lugn och ro 2026"},
    )  # fmt: skip
    assert added.status_code == 303, added.text[:400]
    bob = site.reviewer("bob")
    for switch in ("inaktivera", "aktivera"):
        done = admin.post(f"/granskning/granskare/{bob.id}/{switch}", data={"csrf": csrf})
        assert done.status_code == 303

    alice_email, admin_email = site.emails["alice"], site.emails["admin"]
    failed = _events(site, "security.login_failed")
    assert [(e.actor, e.subject) for e in failed] == [(HOME, alice_email)]
    assert "fel lösenord" in failed[0].detail
    succeeded = _events(site, "security.login_succeeded")
    assert [e.actor for e in succeeded] == [alice_email, admin_email]
    assert HOME in succeeded[0].detail
    assert [e.actor for e in _events(site, "security.logout")] == [alice_email]
    csrf_refused = _events(site, "security.csrf_refused")
    assert [(e.actor, e.subject) for e in csrf_refused] == [
        (alice_email, f"POST /granskning/{site.ids['dual']}/ta")
    ]
    forbidden = _events(site, "security.forbidden")
    assert [(e.actor, e.subject) for e in forbidden] == [(alice_email, "GET /granskning/granskare")]
    for action, subject in (
        ("security.reviewer_added", "cecilia@backoffice.example"),
        ("security.reviewer_disabled", site.emails["bob"]),
        ("security.reviewer_enabled", site.emails["bob"]),
    ):
        assert [(e.actor, e.subject) for e in _events(site, action)] == [(admin_email, subject)]


def _rows(page: str) -> list[tuple[str, str, str]]:
    """(who, event label, subject) of each event of the audit log, from its details."""
    pattern = (
        r'<li class="audit-event" data-action="[^"]*" data-subject="([^"]*)">.*?'
        r'<span class="muted">· ([^<]*)</span>.*?<dt>Vem</dt><dd><code>([^<]*)</code>'
    )
    return [
        (html.unescape(who), html.unescape(label), html.unescape(subject))
        for subject, label, who in re.findall(pattern, page, re.S)
    ]


def test_the_audit_page_shows_security_events_to_admins_only_with_swedish_labels(
    site: Site,
) -> None:
    assert login(_browser(site, "203.0.113.5"), site.emails["bob"], WRONG).status_code == 403
    with site.session() as s:
        record_event(s, actor="bob@backoffice.example", action="payer.changed", subject="payer:1")
        s.commit()
    alice = _browser(site)
    login(alice, site.emails["alice"], PASSWORD)
    for params in ({}, {"typ": "sakerhet"}, {"typ": "alla"}, {"action": "security.login_failed"}):
        page = alice.get("/granskning/logg", params=params)
        assert page.status_code == 200
        assert 'name="typ"' not in page.text  # no kind to choose
        assert "security." not in page.text and "Inloggning" not in page.text, params
        assert "203.0.113.5" not in page.text
    assert ("bob@backoffice.example", "Betalare ändrad", "payer:1") in _rows(
        alice.get("/granskning/logg").text
    )

    admin = _browser(site)
    _sign_in(site, admin, "admin")
    default = admin.get("/granskning/logg").text
    assert '<option value="arenden" selected>Ärenden</option>' in default
    assert all(not label.startswith("Inloggning") for _, label, _ in _rows(default))
    security = admin.get("/granskning/logg", params={"typ": "sakerhet"}).text
    rows = _rows(security)
    assert ("203.0.113.5", "Inloggning misslyckades", site.emails["bob"]) in rows
    assert all(label != "Betalare ändrad" for _, label, _ in rows)
    # The action filter offers labels, never codes, and narrows to the one chosen.
    assert '<option value="security.login_failed">Inloggning misslyckades</option>' in security
    assert ">security." not in security.split('name="action"')[1].split("</select>")[0]
    only = admin.get("/granskning/logg", params={"action": "security.login_failed"}).text
    assert {label for _, label, _ in _rows(only)} == {"Inloggning misslyckades"}
    assert '<option value="sakerhet" selected>Säkerhet</option>' in only
