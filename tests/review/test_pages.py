"""The reviewer pages through the test client: login, sessions, CSRF, access, headers.

Also the shared set-up for the other `test_pages_*` modules, which import it
from here: one app per test over the `engine` fixture (SQLite and
PostgreSQL) with the sample registry, three reviewers with real argon2
passwords, and a few submissions with real PNG pages and crops. The forms'
values are picked from `samples/registry.json` by what a test needs (a
client with one accounting firm and no audit firm, a client paid for by its
accounting firm), never hard-coded.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import itertools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pyotp
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from kopplingar.app import create_app
from kopplingar.context import AppContext
from registry import REGISTRY_METADATA, import_registry
from review.auth import AuthPolicy, hash_password
from samples import REGISTRY_JSON
from workqueue import (
    QUEUE_METADATA,
    ImageStore,
    InboundMessage,
    MessageState,
    NewField,
    NewFinding,
    NewPage,
    NewSignature,
    NewSubmission,
    Reviewer,
    ReviewerRole,
    SubmissionField,
    enqueue,
)

QR_KEY = b"test-key-for-the-reviewer-pages-0123456789abcdef"
MAILBOX = "kopplingar@byra.example.se"
PASSWORD = "Granska noga 2026"
ADMIN_TOTP = pyotp.random_base32()  # admins must have a second factor; the site's admin has one
SENDER = "kund@exempel.se"
NOW = dt.datetime.now(dt.UTC)
_serial = itertools.count(1)


# -- values from the sample registry -----------------------------------------------------------


def _data() -> dict[str, list[dict[str, Any]]]:
    data: dict[str, list[dict[str, Any]]] = json.loads(REGISTRY_JSON.read_text(encoding="utf-8"))
    return data


def _open(data: dict[str, list[dict[str, Any]]], client: str) -> list[dict[str, Any]]:
    return [c for c in data["connections"] if c["client"] == client and c["until"] is None]


def dual_values() -> dict[str, str]:
    """A client with one subscription and one accounting firm; an audit firm to connect."""
    data = _data()
    companies = {c["orgnr"]: c for c in data["companies"]}
    audit_firms = [c for c in data["companies"] if c["kind"] == "audit_firm"]
    for client in (c for c in data["companies"] if c["kind"] == "client"):
        subs = [s["number"] for s in data["subscriptions"] if s["orgnr"] == client["orgnr"]]
        connected = _open(data, client["orgnr"])
        accounting = [c for c in connected if c["role"] == "accounting"]
        if len(subs) != 1 or len(accounting) != 1 or any(c["role"] == "audit" for c in connected):
            continue
        taken = {c["firm"] for c in data["connections"] if c["client"] == client["orgnr"]}
        new = next(f for f in audit_firms if f["orgnr"] not in taken)
        current = companies[accounting[0]["firm"]]
        return {
            "client_name": client["name"],
            "client_orgnr": client["orgnr"],
            "client_subscription": subs[0],
            "current_firm_name": current["name"],
            "current_firm_orgnr": current["orgnr"],
            "current_firm_role": "accounting",
            "new_firm_name": new["name"],
            "new_firm_orgnr": new["orgnr"],
            "new_firm_role": "audit",
            "new_firm_email": "kontakt@ny-byra.example",
        }
    raise AssertionError("the sample registry has no client for a dual connection")


def disconnect_values() -> dict[str, str]:
    """A client and the accounting firm it is connected to."""
    data = _data()
    companies = {c["orgnr"]: c for c in data["companies"]}
    for client in (c for c in data["companies"] if c["kind"] == "client"):
        subs = [s["number"] for s in data["subscriptions"] if s["orgnr"] == client["orgnr"]]
        accounting = [c for c in _open(data, client["orgnr"]) if c["role"] == "accounting"]
        if (
            len(subs) == 1
            and len(accounting) == 1
            and client["orgnr"] != dual_values()["client_orgnr"]
        ):
            firm = companies[accounting[0]["firm"]]
            return {
                "client_name": client["name"],
                "client_orgnr": client["orgnr"],
                "client_subscription": subs[0],
                "firm_name": firm["name"],
                "firm_orgnr": firm["orgnr"],
                "firm_role": "accounting",
                "after": "takeover",
            }
    raise AssertionError("the sample registry has no client to disconnect")


# -- images ------------------------------------------------------------------------------------


def png(width: int, height: int, seed: int) -> bytes:
    """A small grey PNG with a few strokes, different for each seed."""
    rng = np.random.default_rng(seed)
    image = np.full((height, width), 255, np.uint8)
    for _ in range(4):
        x0, x1 = sorted(rng.integers(0, width, 2).tolist())
        y = int(rng.integers(0, height))
        cv2.line(image, (x0, y), (x1, y), 0, 2)
    ok, data = cv2.imencode(".png", image)
    assert ok
    return bytes(data.tobytes())


def jpeg(width: int, height: int) -> bytes:
    ok, data = cv2.imencode(".jpg", np.full((height, width, 3), 200, np.uint8))
    assert ok
    return bytes(data.tobytes())


# -- the site ----------------------------------------------------------------------------------


@dataclass
class Site:
    engine: Engine
    app: FastAPI
    images: ImageStore
    emails: dict[str, str]  # role name -> e-mail address
    ids: dict[str, int] = field(default_factory=dict)  # named submissions

    def client(self, *, https: bool = False) -> TestClient:
        base = "https://testserver" if https else "http://testserver"
        return TestClient(self.app, base_url=base, follow_redirects=False)

    def logged_in(self, who: str = "alice") -> TestClient:
        client = self.client()
        response = login(client, self.emails[who], PASSWORD)
        assert response.status_code == 303, response.text
        if response.headers["location"].startswith("/granskning/logga-in/kod"):
            response = give_code(client, totp_code(self.reviewer(who)))
            assert response.status_code == 303, response.text
        return client

    def session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    def reviewer(self, who: str) -> Reviewer:
        with self.session() as s:
            return s.exec(select(Reviewer).where(Reviewer.email == self.emails[who])).one()


def make_app(engine: Engine, images: Path, *, policy: AuthPolicy | None = None) -> FastAPI:
    ctx = AppContext(
        engine=engine,
        qr_key=QR_KEY,
        mailbox_address=MAILBOX,
        public_base_url="http://testserver",
        download_limit=1000,
        download_window_seconds=600,
        images_dir=images,
        auth_policy=policy or AuthPolicy(),
    )
    return create_app(ctx)


def add_message(session: Session, sender: str = SENDER, subject: str = "Skannad blankett") -> int:
    n = next(_serial)
    message = InboundMessage(
        account="imap://kopplingar@mail.example",
        folder="INBOX",
        uidvalidity=1,
        uid=n,
        message_id=f"<form-{n}@exempel.se>",
        sha256=hashlib.sha256(f"message {n}".encode()).hexdigest(),
        size=1000,
        sender=sender,
        subject=subject,
        sent_at=NOW - dt.timedelta(hours=3),
        state=MessageState.PROCESSED,
    )
    session.add(message)
    session.flush()
    assert message.id is not None
    return message.id


def add_submission(
    session: Session,
    store: ImageStore,
    kind: str | None,
    values: dict[str, str],
    *,
    confidence: float | dict[str, float] = 0.95,
    findings: list[NewFinding] | None = None,
    signatures: list[NewSignature] | None = None,
    images: bool = True,
    by_mail: bool = True,
    unreadable: str | None = None,
    subject: str = "Skannad blankett",
) -> int:
    """One submission in the queue (committed); its id."""
    n = next(_serial)

    def conf(name: str) -> float:
        return confidence.get(name, 0.95) if isinstance(confidence, dict) else confidence

    pages = [NewPage(source_page=0, image=jpeg(60, 85), aligned=png(120, 170, n))] if images else []
    submission = enqueue(
        session,
        store,
        NewSubmission(
            source_kind="mail" if by_mail else "file",
            source_name=f"skanning-{n}.pdf",
            source_sha256=hashlib.sha256(f"file {n}".encode()).hexdigest(),
            document_index=0,
            kind=kind,
            form_id=None,
            form_version="2026.1" if kind else None,
            quality_mm=0.2,
            pages=pages,
            fields=[
                NewField(k, v, v, conf(k), crop=png(40, 12, i) if images else None)
                for i, (k, v) in enumerate(values.items())
            ],
            signatures=signatures or [],
            findings=findings or [],
            unreadable_reason=unreadable,
            inbound_message_id=add_message(session, subject=subject) if by_mail else None,
        ),
    )
    session.commit()
    assert submission.id is not None
    return submission.id


def signed(*parties: str) -> list[NewSignature]:
    return [NewSignature(p, "signed", 0.04, crop=png(80, 30, 7 + i)) for i, p in enumerate(parties)]


@functools.cache
def password_hash() -> str:
    """PASSWORD's real argon2 hash, made once: each hash costs a tenth of a second."""
    return hash_password(PASSWORD)


@pytest.fixture(name="site")
def site_fixture(engine: Engine, tmp_path: Path) -> Iterator[Site]:
    images = ImageStore(tmp_path / "images")
    emails = {
        "alice": "alice@backoffice.example",
        "bob": "bob@backoffice.example",
        "admin": "admin@backoffice.example",
    }
    built = Site(engine, make_app(engine, images.root), images, emails)
    with Session(engine) as session:
        import_registry(session, REGISTRY_JSON)
        for who, email in emails.items():
            session.add(
                Reviewer(
                    email=email,
                    name=who.capitalize(),
                    role=ReviewerRole.ADMIN if who == "admin" else ReviewerRole.REVIEWER,
                    password_hash=password_hash(),
                    created_at=NOW - dt.timedelta(days=30),
                    password_changed_at=NOW - dt.timedelta(days=30),
                    totp_secret=ADMIN_TOTP if who == "admin" else None,
                    totp_enabled_at=NOW - dt.timedelta(days=30) if who == "admin" else None,
                )
            )
        session.commit()
        dual = dual_values()
        built.ids["dual"] = add_submission(
            session, images, "dual", dual,
            confidence={"client_subscription": 0.55},
            findings=[NewFinding(
                "ocr.low_confidence", "warning", "Osäker läsning.", "client_subscription"
            )],
            signatures=signed("client", "new_firm"),
        )  # fmt: skip
        built.ids["disconnect"] = add_submission(
            session, images, "disconnect", disconnect_values(), signatures=signed("client", "firm")
        )
        built.ids["blocking"] = add_submission(
            session, images, "dual", dual,
            findings=[NewFinding("signature.missing", "blocking", "Klientens underskrift saknas.")],
            signatures=[NewSignature("client", "empty", 0.0), *signed("new_firm")],
        )  # fmt: skip
        built.ids["unreadable"] = add_submission(
            session, images, None, {}, unreadable="Hörnmarkeringarna syns inte.", by_mail=False
        )
    yield built


# -- talking to the pages ----------------------------------------------------------------------

_HIDDEN = r'<input type="hidden" name="{}" value="([^"]*)">'


def hidden(html: str, name: str) -> str:
    found = re.search(_HIDDEN.format(re.escape(name)), html)
    assert found, f"no hidden field {name} in the page"
    return found.group(1)


def login(client: TestClient, email: str, password: str, *, next_path: str = "") -> Any:
    page = client.get("/granskning/logga-in", params={"next": next_path} if next_path else None)
    assert page.status_code == 200
    return client.post(
        "/granskning/logga-in",
        data={
            "login_token": hidden(page.text, "login_token"),
            "next": hidden(page.text, "next"),
            "email": email,
            "password": password,
        },
    )


def totp_code(reviewer: Reviewer) -> str:
    """The reviewer's current TOTP code, or the next step's if the current one was used."""
    assert reviewer.totp_secret is not None
    step = int(dt.datetime.now(dt.UTC).timestamp()) // 30
    if reviewer.totp_last_step is not None and reviewer.totp_last_step >= step:
        step = reviewer.totp_last_step + 1  # within the accepted window of one step ahead
    return pyotp.TOTP(reviewer.totp_secret).generate_otp(step)


def give_code(client: TestClient, code: str, *, next_path: str = "") -> Any:
    """The second login step, from the code page the password step redirected to."""
    page = client.get("/granskning/logga-in/kod", params={"next": next_path} if next_path else None)
    assert page.status_code == 200, page.status_code
    return client.post(
        "/granskning/logga-in/kod",
        data={"csrf": hidden(page.text, "csrf"), "next": hidden(page.text, "next"), "code": code},
    )


def csrf_of(client: TestClient) -> str:
    page = client.get("/granskning/")
    assert page.status_code == 200, page.status_code
    return hidden(page.text, "csrf")


def snapshot(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row a page could change, except the session's own idle clock."""
    tables = {
        "submissions": QUEUE_METADATA.tables["submissions"],
        "fields": QUEUE_METADATA.tables["submission_fields"],
        "connections": REGISTRY_METADATA.tables["connections"],
        "payers": REGISTRY_METADATA.tables["subscription_payers"],
        "audit": REGISTRY_METADATA.tables["audit_events"],
        "outbox": QUEUE_METADATA.tables["outbound_mail"],
        "reviewers": QUEUE_METADATA.tables["reviewers"],
    }
    out = {}
    with engine.connect() as connection:
        for name, table in tables.items():
            statement = sa.select(table).order_by(*table.primary_key.columns)
            if name == "audit":  # a refusal is recorded as a security event: that is not a change
                statement = statement.where(table.c.action.not_like("security.%"))
            out[name] = [tuple(row) for row in connection.execute(statement)]
        sessions = QUEUE_METADATA.tables["review_sessions"]
        out["sessions"] = [
            tuple(row)
            for row in connection.execute(
                sa.select(sessions.c.id, sessions.c.ended_at).order_by(sessions.c.id)
            )
        ]
    return out


# -- login -------------------------------------------------------------------------------------


def _set_cookies(response: Any) -> list[str]:
    return [v for k, v in response.headers.multi_items() if k.lower() == "set-cookie"]


def test_login_sets_a_new_httponly_lax_session_cookie_and_opens_the_queue(site: Site) -> None:
    client = site.client()
    response = login(client, site.emails["alice"], PASSWORD)
    assert response.status_code == 303
    assert response.headers["location"] == "/granskning/"
    cookie = next(c for c in _set_cookies(response) if c.startswith("granskning="))
    attributes = {part.strip().lower() for part in cookie.split(";")}
    assert "httponly" in attributes
    assert "samesite=lax" in attributes
    assert "path=/granskning" in attributes
    assert "secure" not in attributes  # plain http here
    queue = client.get("/granskning/")
    assert queue.status_code == 200
    assert "Alice" in queue.text and "Logga ut" in queue.text

    # A second login gets a token of its own, never the first one again.
    first = client.cookies.get("granskning")
    again = site.client()
    login(again, site.emails["alice"], PASSWORD)
    assert again.cookies.get("granskning") not in (None, first)


def test_over_https_the_cookies_are_secure_and_hsts_is_sent(site: Site) -> None:
    client = site.client(https=True)
    page = client.get("/granskning/logga-in")
    assert "secure" in page.headers["set-cookie"].lower()
    assert page.headers["strict-transport-security"].startswith("max-age=")
    response = login(client, site.emails["alice"], PASSWORD)
    # Over TLS the session cookie is __Host- prefixed (tests/review/test_web_security.py).
    cookie = next(c for c in _set_cookies(response) if c.startswith("__Host-granskning="))
    assert "secure" in cookie.lower()


def test_a_wrong_password_and_an_unknown_address_get_the_same_message(site: Site) -> None:
    client = site.client()
    wrong = login(client, site.emails["alice"], "Fel lösenord 1234")
    unknown = login(client, "nobody@backoffice.example", PASSWORD)
    for response in (wrong, unknown):
        assert response.status_code == 403
        assert "Fel e-postadress eller lösenord." in response.text
        assert not any(c.startswith("granskning=") for c in _set_cookies(response))
    assert client.get("/granskning/").status_code == 303


def test_repeated_failures_are_throttled_even_for_the_right_password(site: Site) -> None:
    client = site.client()
    statuses = [
        login(client, site.emails["bob"], f"Fel lösenord {i}!").status_code for i in range(5)
    ]
    assert statuses == [403] * 5
    blocked = login(client, site.emails["bob"], PASSWORD)
    assert blocked.status_code == 429
    assert "För många misslyckade inloggningar" in blocked.text
    assert int(blocked.headers["retry-after"]) >= 1
    assert not any(c.startswith("granskning=") for c in _set_cookies(blocked))


def test_the_login_form_needs_its_own_token_and_cookie(site: Site) -> None:
    client = site.client()
    page = client.get("/granskning/logga-in")
    token = hidden(page.text, "login_token")
    form = {"email": site.emails["alice"], "password": PASSWORD, "next": ""}
    # A forged token, or a right token without the browser's cookie: refused before the password.
    forged = client.post("/granskning/logga-in", data=form | {"login_token": "9999999999.00"})
    assert forged.status_code == 403
    other = site.client()
    no_cookie = other.post("/granskning/logga-in", data=form | {"login_token": token})
    assert no_cookie.status_code == 403
    assert "gått ut" in no_cookie.text
    for response in (forged, no_cookie):
        assert not any(c.startswith("granskning=") for c in _set_cookies(response))
    # The real pair works.
    page = client.get("/granskning/logga-in")
    ok = client.post(
        "/granskning/logga-in", data=form | {"login_token": hidden(page.text, "login_token")}
    )
    assert ok.status_code == 303


def test_login_returns_to_the_page_asked_for_but_never_to_another_site(site: Site) -> None:
    sid = site.ids["dual"]
    client = site.client()
    asked = client.get(f"/granskning/{sid}")
    assert asked.status_code == 303
    assert asked.headers["location"] == f"/granskning/logga-in?next=%2Fgranskning%2F{sid}"
    back = login(client, site.emails["alice"], PASSWORD, next_path=f"/granskning/{sid}")
    assert back.headers["location"] == f"/granskning/{sid}"
    for evil in ("//evil.example/x", "https://evil.example/", "/granskning/\\evil", "/other"):
        response = login(site.client(), site.emails["alice"], PASSWORD, next_path=evil)
        assert response.headers["location"] == "/granskning/"


# -- sessions and access -----------------------------------------------------------------------


def _pages(site: Site) -> list[str]:
    with site.session() as s:
        field_row = s.exec(
            select(SubmissionField).where(SubmissionField.submission_id == site.ids["dual"])
        ).first()
        assert field_row is not None
    dual = dual_values()
    return [
        "/granskning/",
        "/granskning/?status=unreadable",
        "/granskning/?status=approved",
        "/granskning/?status=rejected&sort=newest",
        "/granskning/?sort=confidence&kind=dual",
        *(f"/granskning/{sid}" for sid in site.ids.values()),
        "/granskning/logg",
        f"/granskning/register/{dual['client_orgnr']}",
        f"/granskning/register/{dual['current_firm_orgnr']}",
        f"/granskning/bild/falt/{field_row.id}",
    ]


def test_every_page_needs_a_session(site: Site) -> None:
    client = site.client()
    for path in [*_pages(site), "/granskning/granskare"]:
        response = client.get(path)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/granskning/logga-in"), path
    for path in (f"/granskning/{site.ids['dual']}/godkann", "/granskning/nasta"):
        assert client.post(path, data={"csrf": "x"}).status_code == 303


def test_every_page_opens_for_a_reviewer_and_admin_pages_are_403(site: Site) -> None:
    client = site.logged_in("alice")
    for path in _pages(site):
        response = client.get(path)
        assert response.status_code == 200, (path, response.text[:500])
    assert client.get("/granskning/granskare").status_code == 403
    csrf = csrf_of(client)
    refused = client.post(
        "/granskning/granskare",
        data={"csrf": csrf, "name": "Eve", "email": "eve@x.example", "role": "admin",
              "password": PASSWORD},
    )  # fmt: skip
    assert refused.status_code == 403
    bob = site.reviewer("bob")
    assert (
        client.post(f"/granskning/granskare/{bob.id}/inaktivera", data={"csrf": csrf}).status_code
        == 403
    )
    assert site.reviewer("bob").active

    admin = site.logged_in("admin")
    assert admin.get("/granskning/granskare").status_code == 200


def test_get_never_changes_anything(site: Site) -> None:
    client = site.logged_in("alice")
    client.get("/granskning/")  # the session's idle clock may move once; that is not state
    before = snapshot(site.engine)
    for path in _pages(site):
        assert client.get(path).status_code == 200
    # GETs on the POST-only addresses change nothing either.
    for path in (
        "/granskning/nasta",
        "/granskning/logga-ut",
        f"/granskning/{site.ids['dual']}/godkann",
    ):
        assert client.get(path).status_code in (404, 405)
    assert snapshot(site.engine) == before


@pytest.mark.parametrize("token", [None, "", "wrong-token"])
def test_a_post_without_the_right_csrf_token_is_403_and_changes_nothing(
    site: Site, token: str | None
) -> None:
    client = site.logged_in("alice")
    sid = site.ids["dual"]
    csrf = {} if token is None else {"csrf": token}
    bob = site.reviewer("bob")
    admin = site.logged_in("admin")
    before = snapshot(site.engine)
    attempts = [
        (f"/granskning/{sid}/ta", {}),
        (f"/granskning/{sid}/rattelse", {"falt.client_name": "Något annat AB"}),
        (f"/granskning/{sid}/godkann", {"override_reason": "x"}),
        (f"/granskning/{sid}/avvisa", {"reason_code": "other", "reason_text": "x"}),
        ("/granskning/nasta", {}),
        ("/granskning/logga-ut", {}),
    ]
    for path, data in attempts:
        response = client.post(path, data=data | csrf)
        assert response.status_code == 403, path
        assert "säkerhetskod" in response.text
    response = admin.post(f"/granskning/granskare/{bob.id}/inaktivera", data=csrf)
    assert response.status_code == 403
    assert snapshot(site.engine) == before
    assert client.get("/granskning/").status_code == 200  # logout was refused too


def test_logout_ends_the_session_on_the_server(site: Site) -> None:
    client = site.logged_in("alice")
    token = client.cookies.get("granskning")
    assert token
    response = client.post("/granskning/logga-ut", data={"csrf": csrf_of(client)})
    assert response.status_code == 303
    assert response.headers["location"] == "/granskning/logga-in"
    # The same cookie, replayed by someone who copied it, opens nothing.
    replay = site.client()
    replay.cookies.set("granskning", token, path="/granskning")
    again = replay.get("/granskning/")
    assert again.status_code == 303
    assert again.headers["location"].startswith("/granskning/logga-in")


def test_disabling_a_reviewer_ends_their_session_at_once(site: Site) -> None:
    bob = site.logged_in("bob")
    assert bob.get("/granskning/").status_code == 200
    admin = site.logged_in("admin")
    reviewer = site.reviewer("bob")
    done = admin.post(
        f"/granskning/granskare/{reviewer.id}/inaktivera", data={"csrf": csrf_of(admin)}
    )
    assert done.status_code == 303
    assert bob.get("/granskning/").status_code == 303
    assert login(site.client(), site.emails["bob"], PASSWORD).status_code == 403


def test_security_headers_and_no_store_on_reviewer_pages(site: Site) -> None:
    client = site.logged_in("alice")
    for path in ("/granskning/logga-in", "/granskning/", f"/granskning/{site.ids['dual']}"):
        response = client.get(path)
        csp = response.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["cache-control"] == "no-store"


def test_pages_have_no_inline_script_style_or_handlers(site: Site) -> None:
    """The CSP forbids them: they would silently not work in a browser."""
    client = site.logged_in("admin")
    paths = [*_pages(site)[:-1], "/granskning/granskare", "/granskning/logga-in"]
    for path in paths:
        html = client.get(path).text
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), path
        assert not re.search(r"\sstyle=", html), path
        assert not re.search(r"\son[a-z]+=", html), path
        assert "<style" not in html, path


def test_the_static_files_are_served(site: Site) -> None:
    client = site.client()
    js = client.get("/granskning/static/review.js")
    assert js.status_code == 200
    assert "javascript" in js.headers["content-type"]
    assert "keydown" in js.text
    css = client.get("/granskning/static/review.css")
    assert css.status_code == 200 and "text/css" in css.headers["content-type"]
