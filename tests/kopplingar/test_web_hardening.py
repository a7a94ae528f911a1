"""The web app under a patient attacker: limits, forwarded addresses, bodies, crafted values.

Each test is one finding of issue 10 ("The web pages"), through the real app
over the test's database (SQLite and PostgreSQL); the body limits and the
proxy headers also through a real uvicorn on a loopback socket.
"""

from __future__ import annotations

import os
import select
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, col
from sqlmodel import select as sql_select

from forms import make_subscription_number
from kopplingar.app import create_app
from kopplingar.context import AppContext
from kopplingar.errors import ConfigError
from kopplingar.middleware import client_address
from kopplingar.serving import serve_in_thread, server_options
from kopplingar.settings import load_settings, parse_networks
from registry import import_registry
from samples import REGISTRY_JSON
from tests.review.test_pages import (
    Site,
    csrf_of,
    dual_values,
    site_fixture,  # noqa: F401 - the `site` fixture
)
from workqueue import SubmissionField, SubmissionPage, SubmissionSignature

QR_KEY = b"test-key-for-the-hardening-tests-0123456789abcdef"
MAILBOX = "kopplingar@byra.example.se"
FORM = "/blankett/dubbelsammankoppling"
BLANK = "/blankett/bortkoppling/blank.pdf"
MIB = 1024 * 1024


def make_app(engine: Engine, *, limit: int = 1000, trusted: str = "") -> FastAPI:
    return create_app(
        AppContext(
            engine=engine,
            qr_key=QR_KEY,
            mailbox_address=MAILBOX,
            public_base_url="http://testserver",
            download_limit=limit,
            download_window_seconds=600,
            trusted_proxies=parse_networks(trusted),
        )
    )


@pytest.fixture
def loaded(engine: Engine) -> Engine:
    with Session(engine) as session:
        import_registry(session, REGISTRY_JSON)
        session.commit()
    return engine


def assert_security_headers(response: object) -> None:
    headers = response.headers  # type: ignore[attr-defined]
    assert "default-src 'self'" in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "same-origin"


def wrong_guesses(n: int) -> Iterator[dict[str, str]]:
    """Lookups of one real client with subscription numbers that are not its own."""
    real = dual_values()
    for i in range(n):
        number = make_subscription_number(7_000_000 + i)
        if number == real["client_subscription"]:
            number = make_subscription_number(8_000_000 + i)
        yield {
            "client_orgnr": real["client_orgnr"],
            "client_subscription": number,
            "action": "lookup",
        }


# -- registry enumeration through the lookup button ---------------------------------------------


def test_lookups_count_against_the_limit_per_address(loaded: Engine) -> None:
    guesses = wrong_guesses(4)
    with TestClient(make_app(loaded, limit=3)) as c:
        for _ in range(3):
            assert c.post(FORM, data=next(guesses)).status_code == 422
        refused = c.post(FORM, data=next(guesses))
        assert refused.status_code == 429
        assert int(refused.headers["retry-after"]) >= 1
        assert_security_headers(refused)
        # The same address is also out of downloads: one limit for both.
        assert c.get(BLANK).status_code == 429


def test_lookups_of_one_company_are_limited_from_any_number_of_addresses(loaded: Engine) -> None:
    app = make_app(loaded, limit=3, trusted="127.0.0.1/32")
    with TestClient(app, client=("127.0.0.1", 40000)) as c:
        statuses = [
            c.post(FORM, data=guess, headers={"X-Forwarded-For": f"198.51.100.{n}"}).status_code
            for n, guess in enumerate(wrong_guesses(5), start=1)
        ]
        assert statuses == [422, 422, 422, 429, 429]
        # A fresh address asking about the company is refused; about another, it is not.
        real = dual_values()
        again = {
            "client_orgnr": real["client_orgnr"],
            "client_subscription": real["client_subscription"],
            "action": "lookup",
        }
        fresh = {"X-Forwarded-For": "203.0.113.50"}
        assert c.post(FORM, data=again, headers=fresh).status_code == 429
        assert c.get(BLANK, headers=fresh).status_code == 200


# -- X-Forwarded-For -----------------------------------------------------------------------------


def test_a_forged_first_hop_is_not_taken(loaded: Engine) -> None:
    app = make_app(loaded, limit=1, trusted="127.0.0.1/32")
    with TestClient(app, client=("127.0.0.1", 40000)) as c:
        # nginx appends the real client (203.0.113.9) to whatever the client wrote.
        first = c.get(BLANK, headers={"X-Forwarded-For": "10.9.9.1, 203.0.113.9"})
        forged = c.get(BLANK, headers={"X-Forwarded-For": "10.9.9.2, 203.0.113.9"})
        other = c.get(BLANK, headers={"X-Forwarded-For": "10.9.9.2, 203.0.113.10"})
    assert [first.status_code, forged.status_code, other.status_code] == [200, 429, 200]


def test_an_untrusted_peer_cannot_choose_its_address(loaded: Engine) -> None:
    app = make_app(loaded, limit=1, trusted="127.0.0.1/32")
    with TestClient(app, client=("192.0.2.7", 40000)) as c:
        assert c.get(BLANK, headers={"X-Forwarded-For": "203.0.113.1"}).status_code == 200
        assert c.get(BLANK, headers={"X-Forwarded-For": "203.0.113.2"}).status_code == 429


def test_a_chain_through_two_trusted_proxies_yields_the_client() -> None:
    trusted = parse_networks("10.0.0.0/24, 2001:db8::/64")
    # client -> edge proxy (10.0.0.1) -> inner proxy (10.0.0.2) -> app
    assert client_address("10.0.0.2", ["198.51.100.7, 10.0.0.1"], trusted) == "198.51.100.7"
    # ... with a forged hop in front and the header split over two lines
    assert client_address("10.0.0.2", ["6.6.6.6", "198.51.100.7, 10.0.0.1"], trusted) == (
        "198.51.100.7"
    )
    assert client_address("2001:db8::2", ["[2001:db8:1::5]:443, 2001:db8::1"], trusted) == (
        "2001:db8:1::5"
    )
    # An untrusted peer is the client, whatever it wrote.
    assert client_address("198.51.100.7", ["10.0.0.1"], trusted) == "198.51.100.7"
    # A client inside the proxies' network: the leftmost hop, every hop being trusted.
    assert client_address("10.0.0.2", ["10.0.0.77, 10.0.0.1"], trusted) == "10.0.0.77"
    # Garbage left of a trusted hop is not an address to count by.
    assert client_address("10.0.0.2", ["not-an-ip, 10.0.0.1"], trusted) == "10.0.0.1"
    assert client_address("10.0.0.2", [], trusted) == "10.0.0.2"


def test_uvicorn_ignores_proxy_headers_unless_proxies_are_configured(loaded: Engine) -> None:
    # Before, uvicorn believed X-Forwarded-For from loopback whatever the setting said.
    with serve_in_thread(make_app(loaded, limit=1)) as base:
        first = _get(base, BLANK, {"X-Forwarded-For": "203.0.113.1"})
        second = _get(base, BLANK, {"X-Forwarded-For": "203.0.113.2"})
    assert (first, second) == (200, 429)
    trusted = "127.0.0.1/32"
    with serve_in_thread(make_app(loaded, limit=1), trusted_proxies=parse_networks(trusted)) as b:
        assert _get(b, BLANK, {"X-Forwarded-For": "203.0.113.3"}) == 200
        assert _get(b, BLANK, {"X-Forwarded-For": "203.0.113.4"}) == 200


def _get(base: str, path: str, headers: dict[str, str]) -> int:
    import httpx

    return httpx.get(base + path, headers=headers, timeout=10).status_code


# -- bodies before login -------------------------------------------------------------------------


def _raw(base: str) -> socket.socket:
    url = urlsplit(base)
    return socket.create_connection((url.hostname or "127.0.0.1", url.port or 80), timeout=10)


def _response_head(sock: socket.socket, timeout: float) -> bytes:
    sock.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def test_a_30_mib_login_post_is_413_before_its_body_is_read(engine: Engine) -> None:
    with serve_in_thread(make_app(engine)) as base:
        sock = _raw(base)
        with sock:
            sock.sendall(
                b"POST /granskning/logga-in HTTP/1.1\r\nHost: testserver\r\n"
                b"Content-Type: application/x-www-form-urlencoded\r\n"
                + f"Content-Length: {30 * MIB}\r\n\r\n".encode()
                + b"a" * 65536
            )
            started = time.monotonic()
            head = _response_head(sock, timeout=5)  # before: waits for the other 30 MiB
        assert head.startswith(b"HTTP/1.1 413"), head
        assert b"content-security-policy" in head.lower()
        assert time.monotonic() - started < 5


def test_a_chunked_body_is_cut_off_at_the_limit(engine: Engine) -> None:
    with serve_in_thread(make_app(engine)) as base:
        sock = _raw(base)
        sent = 0
        with sock:
            sock.sendall(
                b"POST /blankett/dubbelsammankoppling HTTP/1.1\r\nHost: testserver\r\n"
                b"Content-Type: application/x-www-form-urlencoded\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n"
            )
            chunk = b"%x\r\n%s\r\n" % (65536, b"a" * 65536)
            try:
                while sent < 30 * MIB:
                    sock.sendall(chunk)
                    sent += 65536
                    if select.select([sock], [], [], 0)[0]:
                        break
            except (BrokenPipeError, ConnectionResetError):
                pass  # the server answered and closed while we were still sending
            head = _response_head(sock, timeout=10)
        assert head.startswith(b"HTTP/1.1 413"), head
        assert sent < 8 * MIB  # before: all 30 MiB were read into memory


def test_a_thousand_fields_are_refused(loaded: Engine) -> None:
    fields = {f"f{n}": "x" for n in range(1000)}  # about 8 KiB: under the body limit
    with TestClient(make_app(loaded), follow_redirects=False) as c:
        public = c.post(FORM, data=fields)
        login = c.post("/granskning/logga-in", data=fields)
    assert public.status_code == 400
    assert "för många eller för långa fält" in public.text
    assert login.status_code == 400
    assert_security_headers(login)


def test_a_declared_length_over_the_limit_is_413_in_process(loaded: Engine) -> None:
    with TestClient(make_app(loaded)) as c:
        big = c.post(FORM, content=b"a=" + b"b" * (32 * 1024))
    assert big.status_code == 413
    assert "för stor" in big.text
    assert_security_headers(big)


# -- crafted parameters, and headers on every response -------------------------------------------

HUGE = 2**63  # beyond any integer column; 2**31 is beyond PostgreSQL's INTEGER ids
LARGEST_ID = 2**31 - 1


def _crafted(site: Site) -> list[tuple[str, str]]:
    sid = site.ids["dual"]
    return [
        ("GET", "/granskning/?after=0_i1_i1"),
        ("GET", "/granskning/?after=1_fnan_i3"),
        ("GET", f"/granskning/?sort=newest&after=0_t1_i{HUGE}"),
        ("GET", f"/granskning/bild/sida/{HUGE}"),
        ("GET", f"/granskning/bild/falt/{HUGE * 4}"),
        ("GET", f"/granskning/bild/falt/{LARGEST_ID + 1}"),
        ("GET", f"/granskning/?after=0_t0_i{LARGEST_ID + 1}"),
        ("GET", "/granskning/bild/underskrift/ett"),
        ("GET", f"/granskning/{HUGE}"),
        ("GET", f"/granskning/?klart={HUGE}"),
        ("GET", f"/granskning/{sid}?klart={HUGE}"),
        ("GET", f"/granskning/logg?before={HUGE}"),
    ]


def test_crafted_parameters_are_4xx_with_the_security_headers(site: Site) -> None:
    client = site.logged_in("alice")
    for method, url in _crafted(site):
        response = client.request(method, url)
        assert response.status_code == 400, (url, response.status_code)
        assert_security_headers(response)
        assert 'lang="sv"' in response.text, url
    # The largest id the database holds is simply not there.
    assert client.get(f"/granskning/{LARGEST_ID}").status_code == 404
    assert client.get(f"/granskning/bild/sida/{LARGEST_ID}").status_code == 404
    assert client.get(f"/granskning/?after=0_t0_i{LARGEST_ID}").status_code == 200


def test_a_crafted_reviewer_id_is_4xx_for_an_admin(site: Site) -> None:
    admin = site.logged_in("admin")
    token = csrf_of(admin)
    for action in ("inaktivera", "aktivera"):
        response = admin.post(f"/granskning/granskare/{HUGE}/{action}", data={"csrf": token})
        assert response.status_code == 400, action
        assert_security_headers(response)


def test_every_error_response_has_the_security_headers(loaded: Engine) -> None:
    app = make_app(loaded, limit=2)

    def boom() -> None:
        raise RuntimeError("a bug")

    app.add_api_route("/test-boom", boom)
    with TestClient(app, raise_server_exceptions=False, base_url="https://testserver") as c:
        responses = {
            404: c.get("/finns-inte"),
            405: c.delete("/"),
            413: c.post(FORM, content=b"x" * (64 * 1024)),
            422: c.post(FORM, data={"action": "lookup"}),  # counts once against the limit
            500: c.get("/test-boom"),
        }
        c.get(BLANK)
        responses[429] = c.get(BLANK)
    for status, response in responses.items():
        assert response.status_code == status, (status, response.text[:200])
        assert_security_headers(response)
        assert response.headers["strict-transport-security"].startswith("max-age=")
    assert "a bug" not in responses[500].text
    assert "Något gick fel" in responses[500].text


# -- scans in the browser cache ------------------------------------------------------------------


def test_scans_and_crops_are_never_cached(site: Site) -> None:
    client = site.logged_in("alice")
    with site.session() as s:
        page = s.exec(sql_select(SubmissionPage)).first()
        crop = s.exec(
            sql_select(SubmissionField).where(col(SubmissionField.crop_sha256).is_not(None))
        ).first()
        signature = s.exec(
            sql_select(SubmissionSignature).where(col(SubmissionSignature.crop_sha256).is_not(None))
        ).first()
    assert page is not None and crop is not None and signature is not None
    for url in (
        f"/granskning/bild/sida/{page.id}",
        f"/granskning/bild/sida/{page.id}?original=true",
        f"/granskning/bild/falt/{crop.id}",
        f"/granskning/bild/underskrift/{signature.id}",
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.headers["cache-control"] == "no-store", url


# -- the settings behind it ----------------------------------------------------------------------


def test_trusted_proxies_are_networks_and_the_old_switch_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.startswith("KOPPLINGAR_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("KOPPLINGAR_DATA_DIR", str(tmp_path))
    assert load_settings().trusted_proxy_networks() == ()
    monkeypatch.setenv("KOPPLINGAR_TRUSTED_PROXIES", "127.0.0.1, ::1/128,10.20.0.0/16")
    assert [str(n) for n in load_settings().trusted_proxy_networks()] == [
        "127.0.0.1/32",
        "::1/128",
        "10.20.0.0/16",
    ]
    monkeypatch.setenv("KOPPLINGAR_TRUSTED_PROXIES", "127.0.0.1,nginx")
    with pytest.raises(ConfigError, match="KOPPLINGAR_TRUSTED_PROXIES"):
        load_settings()
    monkeypatch.delenv("KOPPLINGAR_TRUSTED_PROXIES")
    # An upgrade must not silently count every client as the proxy.
    monkeypatch.setenv("KOPPLINGAR_TRUST_FORWARDED_FOR", "true")
    with pytest.raises(ConfigError, match="KOPPLINGAR_TRUSTED_PROXIES"):
        load_settings()


def test_uvicorn_gets_the_limits_and_proxy_headers_only_with_proxies() -> None:
    plain = server_options(())
    assert plain["proxy_headers"] is False
    assert plain["http"] == "h11"  # h11_max_incomplete_event_size bounds the headers
    assert plain["h11_max_incomplete_event_size"] <= 64 * 1024
    assert 0 < plain["timeout_keep_alive"] <= 10
    behind = server_options(parse_networks("127.0.0.1/32,::1"))
    assert behind["proxy_headers"] is True
    assert behind["forwarded_allow_ips"] == ["127.0.0.1/32", "::1/128"]
