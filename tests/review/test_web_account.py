"""Mitt konto through the test client: own password, forced change, second factor, sessions.

Uses the site of `test_pages` (SQLite and PostgreSQL, real argon2, the
sample registry). TOTP codes are computed with pyotp from the secret the
enrolment page shows, as the reviewer's app would.
"""

from __future__ import annotations

import re
from typing import Any

import pyotp
import pytest
from fastapi.testclient import TestClient
from sqlmodel import col, select

from registry import AuditEvent
from tests.kopplingar.test_users_cli import configured, users  # noqa: F401 - fixture
from tests.review.test_pages import (
    PASSWORD,
    Site,
    csrf_of,
    give_code,
    hidden,
    login,
    site_fixture,  # noqa: F401 - the `site` fixture
    totp_code,
)
from workqueue import LoginThrottle, ReviewSession, Submission

NEW_PASSWORD = "hallon blåbär lingon smultron"
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
ANDROID = (
    "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0 Mobile Safari/537.36"
)


def _client(site: Site, who: str, user_agent: str = "testclient") -> TestClient:
    client = site.client()
    client.headers["user-agent"] = user_agent
    response = login(client, site.emails[who], PASSWORD)
    assert response.status_code == 303, response.text
    return client


def _account_csrf(client: TestClient, path: str = "/granskning/konto") -> str:
    page = client.get(path)
    assert page.status_code == 200, (path, page.status_code)
    return hidden(page.text, "csrf")


def _change(client: TestClient, current: str, new: str, repeated: str | None = None) -> Any:
    return client.post(
        "/granskning/konto/losenord",
        data={
            "csrf": _account_csrf(client, "/granskning/konto/losenord"),
            "current": current,
            "new": new,
            "repeated": new if repeated is None else repeated,
        },
    )


def _events(site: Site, action: str) -> list[AuditEvent]:
    with site.session() as s:
        return list(s.exec(select(AuditEvent).where(col(AuditEvent.action) == action)).all())


def _secret_on(page: str) -> str:
    found = re.search(r'<code class="secret">([A-Z2-7 ]+)</code>', page)
    assert found, "no secret on the enrolment page"
    return found.group(1).replace(" ", "")


def _enrol(client: TestClient) -> tuple[str, list[str]]:
    """Start and confirm enrolment from the pages; the secret and the recovery codes shown."""
    csrf = _account_csrf(client, "/granskning/konto/tvastegsverifiering")
    started = client.post("/granskning/konto/tvastegsverifiering/starta", data={"csrf": csrf})
    assert started.status_code == 303
    page = client.get("/granskning/konto/tvastegsverifiering")
    assert page.status_code == 200
    assert "<svg" in page.text and "<title>QR-kod för din app</title>" in page.text
    secret = _secret_on(page.text)
    wrong = client.post(
        "/granskning/konto/tvastegsverifiering", data={"csrf": csrf, "code": "12345"}
    )
    assert wrong.status_code == 422 and "Koden stämmer inte" in wrong.text
    done = client.post(
        "/granskning/konto/tvastegsverifiering",
        data={"csrf": csrf, "code": pyotp.TOTP(secret).now()},
    )
    assert done.status_code == 200, done.text
    assert done.headers["cache-control"] == "no-store"
    codes = re.findall(r"<li><code>([a-z2-7]{4}(?:-[a-z2-7]{4}){3})</code></li>", done.text)
    assert len(codes) == 10
    return secret, codes


# -- own password ------------------------------------------------------------------------------


def test_a_reviewer_changes_their_password_and_their_other_sessions_end(site: Site) -> None:
    here = _client(site, "alice")
    elsewhere = _client(site, "alice")
    bob = _client(site, "bob")
    wrong = _change(here, "Fel lösenord 1234", NEW_PASSWORD)
    assert wrong.status_code == 422 and "nuvarande lösenordet stämmer inte" in wrong.text
    mismatch = _change(here, PASSWORD, NEW_PASSWORD, NEW_PASSWORD + "x")
    assert mismatch.status_code == 422 and "inte likadana" in mismatch.text
    for weak, why in (("Password1234", "vanligaste"), ("Qwerty123456", "vanligaste"),
                      ("alice i underlandet", "namn")):  # fmt: skip
        refused = _change(here, PASSWORD, weak)
        assert refused.status_code == 422 and why in refused.text, weak
    assert elsewhere.get("/granskning/").status_code == 200  # nothing changed yet
    done = _change(here, PASSWORD, NEW_PASSWORD)
    assert done.status_code == 303
    assert done.headers["location"] == "/granskning/konto?klart=losenord"
    assert "Lösenordet är bytt" in here.get(done.headers["location"]).text
    assert here.get("/granskning/").status_code == 200  # this session stays
    assert elsewhere.get("/granskning/").status_code == 303  # the other one ended
    assert bob.get("/granskning/").status_code == 200  # nobody else's
    assert login(site.client(), site.emails["alice"], PASSWORD).status_code == 403
    assert login(site.client(), site.emails["alice"], NEW_PASSWORD).status_code == 303
    changed = _events(site, "security.password_changed")
    assert [e.subject for e in changed] == [site.emails["alice"]]


def test_wrong_current_passwords_are_throttled(site: Site) -> None:
    client = _client(site, "alice")
    statuses = [_change(client, f"Fel lösenord {i}!", NEW_PASSWORD).status_code for i in range(6)]
    assert statuses == [422] * 5 + [429]
    with site.session() as s:
        row = s.get(LoginThrottle, f"password:{site.reviewer('alice').id}")
        assert row is not None and row.failures == 5
    assert _change(client, PASSWORD, NEW_PASSWORD).status_code == 429  # blocked, even if right


def test_a_password_set_by_an_admin_must_be_changed_before_anything_else(site: Site) -> None:
    admin = site.logged_in("admin")
    added = admin.post(
        "/granskning/granskare",
        data={"csrf": csrf_of(admin), "name": "Cecilia", "email": "cecilia@backoffice.example",
              "role": "reviewer", "password": PASSWORD},
    )  # fmt: skip
    assert added.status_code == 303
    client = site.client()
    assert login(client, "cecilia@backoffice.example", PASSWORD).status_code == 303
    sid = site.ids["dual"]
    for path in ("/granskning/", f"/granskning/{sid}", "/granskning/logg", "/granskning/konto",
                 "/granskning/konto/tvastegsverifiering"):  # fmt: skip
        response = client.get(path)
        assert response.status_code == 303, path
        assert response.headers["location"] == "/granskning/konto/losenord", path
    page = client.get("/granskning/konto/losenord")
    assert page.status_code == 200 and "valdes av en administratör" in page.text
    assert ">Kön</a>" not in page.text and ">Mitt konto</a>" not in page.text  # no menu
    csrf = hidden(page.text, "csrf")
    claimed = client.post(f"/granskning/{sid}/ta", data={"csrf": csrf})
    assert claimed.status_code == 303
    assert claimed.headers["location"] == "/granskning/konto/losenord"
    with site.session() as s:
        submission = s.get(Submission, sid)
        assert submission is not None and submission.claimed_by is None
    assert _change(client, PASSWORD, NEW_PASSWORD).status_code == 303
    assert client.get("/granskning/").status_code == 200
    assert client.get("/granskning/logga-ut").status_code == 405  # logout stays a POST


def test_a_password_reset_by_the_operator_must_be_changed(configured: Any, site: Site) -> None:  # noqa: F811
    result = users("password", site.emails["bob"], "--password-stdin", stdin=NEW_PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    assert site.reviewer("bob").must_change_password
    client = site.client()
    assert login(client, site.emails["bob"], NEW_PASSWORD).status_code == 303
    forced = client.get("/granskning/")
    assert forced.headers["location"] == "/granskning/konto/losenord"
    kept = users(
        "password", site.emails["bob"], "--password-stdin", "--no-must-change",
        stdin=PASSWORD + "\n",
    )  # fmt: skip
    assert kept.exit_code == 0, kept.output
    assert not site.reviewer("bob").must_change_password


def test_the_operator_removes_a_lost_second_factor(configured: Any, site: Site) -> None:  # noqa: F811
    admin = site.logged_in("admin")
    assert admin.get("/granskning/granskare").status_code == 200
    result = users("second-factor-reset", site.emails["admin"])
    assert result.exit_code == 0, result.output
    assert site.reviewer("admin").totp_secret is None
    assert admin.get("/granskning/granskare").status_code == 303  # the session ended
    client = site.client()
    step = login(client, site.emails["admin"], PASSWORD)
    assert step.headers["location"] == "/granskning/"  # no code asked: there is none
    enrol = client.get("/granskning/")
    assert enrol.headers["location"] == "/granskning/konto/tvastegsverifiering"
    assert _events(site, "security.second_factor_removed")[0].subject == site.emails["admin"]


# -- second factor -----------------------------------------------------------------------------


def test_an_admin_without_a_second_factor_must_enrol_first(site: Site) -> None:
    with site.session() as s:
        admin = site.reviewer("admin")
        admin.totp_secret = None
        admin.totp_enabled_at = None
        s.add(admin)
        s.commit()
    client = site.client()
    assert login(client, site.emails["admin"], PASSWORD).status_code == 303
    for path in ("/granskning/", "/granskning/granskare", "/granskning/konto"):
        response = client.get(path)
        assert response.status_code == 303, path
        assert response.headers["location"] == "/granskning/konto/tvastegsverifiering", path
    page = client.get("/granskning/konto/tvastegsverifiering")
    assert "Administratörer måste använda tvåstegsverifiering" in page.text
    refused = client.post(
        f"/granskning/granskare/{site.reviewer('bob').id}/inaktivera",
        data={"csrf": hidden(page.text, "csrf")},
    )
    assert refused.status_code == 303 and site.reviewer("bob").active
    secret, codes = _enrol(client)
    assert site.reviewer("admin").totp_secret == secret
    assert client.get("/granskning/granskare").status_code == 200
    assert len(_events(site, "security.second_factor_enrolled")) == 1
    # From now on the login has two steps; a recovery code also does as the second.
    other = site.client()
    step = login(other, site.emails["admin"], PASSWORD)
    assert step.headers["location"].startswith("/granskning/logga-in/kod")
    assert give_code(other, codes[0]).status_code == 303
    assert other.get("/granskning/granskare").status_code == 200


def test_the_enrolment_and_account_pages_have_no_inline_style_or_script(site: Site) -> None:
    client = _client(site, "alice")
    csrf = _account_csrf(client)
    client.post("/granskning/konto/tvastegsverifiering/starta", data={"csrf": csrf})
    for path in ("/granskning/konto", "/granskning/konto/tvastegsverifiering",
                 "/granskning/konto/losenord"):  # fmt: skip
        html = client.get(path).text
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), path
        assert not re.search(r"\sstyle=", html), path
        assert not re.search(r"\son[a-z]+=", html), path
        assert "http" not in re.sub(r'xmlns="[^"]*"', "", html.split("<main")[1]), path


def test_the_two_step_login_for_a_reviewer_who_enrolled(site: Site) -> None:
    client = _client(site, "alice")
    account = client.get("/granskning/konto")
    assert "Slå på tvåstegsverifiering" in account.text
    secret, _codes = _enrol(client)
    assert "9 av 10" not in client.get("/granskning/konto").text
    assert "10 av 10 reservkoder" in client.get("/granskning/konto").text

    other = site.client()
    sid = site.ids["dual"]
    step = login(other, site.emails["alice"], PASSWORD, next_path=f"/granskning/{sid}")
    assert step.status_code == 303
    assert step.headers["location"] == f"/granskning/logga-in/kod?next=%2Fgranskning%2F{sid}"
    pending_cookie = other.cookies.get("granskning")
    # Half logged in: every page sends back to the code, POSTs included.
    for path in ("/granskning/", "/granskning/konto", f"/granskning/{sid}"):
        response = other.get(path)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/granskning/logga-in/kod"), path
    page = other.get("/granskning/logga-in/kod", params={"next": f"/granskning/{sid}"})
    assert page.status_code == 200 and "sex siffror" in page.text
    claim = other.post(f"/granskning/{sid}/ta", data={"csrf": hidden(page.text, "csrf")})
    assert claim.status_code == 303 and claim.headers["location"].startswith("/granskning/logga")
    wrong = give_code(other, "000000" if pyotp.TOTP(secret).now() != "000000" else "111111")
    assert wrong.status_code == 403 and "Koden stämmer inte" in wrong.text
    assert _events(site, "security.second_factor_failed")[-1].subject == site.emails["alice"]
    done = give_code(other, totp_code(site.reviewer("alice")), next_path=f"/granskning/{sid}")
    assert done.status_code == 303 and done.headers["location"] == f"/granskning/{sid}"
    assert other.cookies.get("granskning") != pending_cookie  # a new token for the full session
    assert other.get(f"/granskning/{sid}").status_code == 200
    # The pending cookie, replayed, opens nothing any more.
    replay = site.client()
    replay.cookies.set("granskning", pending_cookie or "", path="/granskning")
    assert replay.get("/granskning/logga-in/kod").status_code == 303
    assert replay.get("/granskning/").headers["location"].startswith("/granskning/logga-in")


def test_a_used_code_cannot_log_in_again(site: Site) -> None:
    first = site.client()
    login(first, site.emails["admin"], PASSWORD)
    secret = site.reviewer("admin").totp_secret
    assert secret is not None
    code = pyotp.TOTP(secret).now()
    assert give_code(first, code).status_code == 303
    second = site.client()
    login(second, site.emails["admin"], PASSWORD)
    replayed = give_code(second, code)
    assert replayed.status_code == 403
    assert _events(site, "security.second_factor_failed")[-1].detail == "koden var redan använd"


def test_wrong_codes_at_login_are_throttled(site: Site) -> None:
    client = site.client()
    login(client, site.emails["admin"], PASSWORD)
    statuses = [give_code(client, f"{n:06d}x").status_code for n in range(5)]
    assert statuses == [403] * 5
    blocked = give_code(client, totp_code(site.reviewer("admin")))
    assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) > 0
    assert "För många" in blocked.text
    assert len(_events(site, "security.second_factor_failed")) == 5


def test_logout_works_half_logged_in(site: Site) -> None:
    client = site.client()
    login(client, site.emails["admin"], PASSWORD)
    page = client.get("/granskning/logga-in/kod")
    out = client.post("/granskning/logga-ut", data={"csrf": hidden(page.text, "csrf")})
    assert out.status_code == 303 and out.headers["location"] == "/granskning/logga-in"
    assert client.get("/granskning/logga-in/kod").status_code == 303


# -- sessions ----------------------------------------------------------------------------------


def _session_ids(page: str) -> list[str]:
    return re.findall(r"/granskning/konto/sessioner/([0-9a-f]{64})/avsluta", page)


def test_the_account_page_lists_own_sessions_and_ends_another(site: Site) -> None:
    here = _client(site, "alice", FIREFOX)
    phone = _client(site, "alice", ANDROID)
    third = _client(site, "alice")
    bob = _client(site, "bob")
    page = here.get("/granskning/konto")
    assert page.status_code == 200
    assert "Firefox på Linux" in page.text and "Chrome på Android" in page.text
    assert page.text.count("den här") == 1
    assert "testclient" in page.text  # the address of the test client
    others = _session_ids(page.text)
    assert len(others) == 2  # the two other sessions of Alice, never Bob's
    with site.session() as s:
        phone_id = s.exec(
            select(ReviewSession.id).where(col(ReviewSession.user_agent) == ANDROID)
        ).one()
        bob_id = s.exec(
            select(ReviewSession.id).where(
                col(ReviewSession.reviewer_id) == site.reviewer("bob").id
            )
        ).one()
    assert phone_id in others and bob_id not in others
    csrf = hidden(page.text, "csrf")
    # Someone else's session id, the current one, a forged POST: nothing ends.
    assert here.post(f"/granskning/konto/sessioner/{bob_id}/avsluta",
                     data={"csrf": csrf}).status_code == 404  # fmt: skip
    assert here.post(f"/granskning/konto/sessioner/{'z' * 64}/avsluta",
                     data={"csrf": csrf}).status_code == 404  # fmt: skip
    assert here.post(f"/granskning/konto/sessioner/{phone_id}/avsluta",
                     data={"csrf": "wrong"}).status_code == 403  # fmt: skip
    assert bob.get("/granskning/").status_code == 200
    assert phone.get("/granskning/").status_code == 200
    ended = here.post(f"/granskning/konto/sessioner/{phone_id}/avsluta", data={"csrf": csrf})
    assert ended.status_code == 303
    assert phone.get("/granskning/").status_code == 303
    assert third.get("/granskning/").status_code == 200
    assert here.get("/granskning/").status_code == 200
    all_others = here.post("/granskning/konto/sessioner/avsluta-andra", data={"csrf": csrf})
    assert all_others.status_code == 303
    assert third.get("/granskning/").status_code == 303
    assert (
        here.get("/granskning/").status_code == 200 and bob.get("/granskning/").status_code == 200
    )
    left = here.get("/granskning/konto").text
    assert _session_ids(left) == [] and "Avsluta alla andra" not in left
    assert len(_events(site, "security.session_ended")) == 2


@pytest.mark.parametrize("who", ["alice", "admin"])
def test_the_menu_links_to_the_account_page(site: Site, who: str) -> None:
    client = site.logged_in(who)
    assert 'href="/granskning/konto">Mitt konto</a>' in client.get("/granskning/").text
