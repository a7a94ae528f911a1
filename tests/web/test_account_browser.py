"""A new admin's first day in a real browser: temporary password, second factor, then work.

The operator creates the admin with a temporary password (as `kopplingar
users add` does). In Debian's chromium the admin logs in, is held on the
password page until they choose their own, is held on the enrolment page
until a code from the shown key confirms the second factor, copies the
recovery codes, and only then reaches the queue and the admin pages. They
log out and in again with the password and a fresh code; a used recovery
code works once. The codes are computed with pyotp from the key the page
shows, as an authenticator app would.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path

import pyotp
import pytest
from playwright.sync_api import Page, expect, sync_playwright
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from kopplingar.app import create_app
from kopplingar.context import AppContext
from kopplingar.database import upgrade_all
from kopplingar.serving import serve_in_thread
from registry import AuditEvent, make_engine
from review import create_reviewer
from tests.web.test_browser import CHROMIUM, CHROMIUM_ARGS
from workqueue import ReviewerRole

pytestmark = [pytest.mark.slow, pytest.mark.browser]

ADMIN = "ada.admin@example.se"
TEMPORARY = "tillfälligt lösenord från driften"
OWN = "mitt eget långa lösenord om hösten"
QR_KEY = b"test-key-for-the-account-browser-0123456789abcdef"


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'account.db'}")
    upgrade_all(engine)
    with Session(engine) as session:
        create_reviewer(
            session,
            email=ADMIN,
            name="Ada Admin",
            role=ReviewerRole.ADMIN,
            password=TEMPORARY,
            now=dt.datetime.now(dt.UTC),
            must_change_password=True,
        )
        session.commit()
    yield engine
    engine.dispose()


def _context(engine: Engine, tmp_path: Path) -> AppContext:
    return AppContext(
        engine=engine,
        qr_key=QR_KEY,
        mailbox_address="kopplingar@example.se",
        public_base_url="https://kopplingar.example.se",
        download_limit=1000,
        download_window_seconds=600,
        images_dir=tmp_path / "images",
        cookie_secure=False,  # served over plain http on loopback
    )


def _password_step(page: Page, base: str, password: str) -> None:
    page.goto(f"{base}/granskning/")
    expect(page.get_by_role("heading", name="Logga in")).to_be_visible()
    page.fill("#email", ADMIN)
    page.fill("#password", password)
    page.get_by_role("button", name="Logga in").click()


def _fresh_code(totp: pyotp.TOTP, used: set[str]) -> str:
    """A code not used before: this step's, else the next step's.

    The server takes one step either way (a phone's clock a little ahead) and
    refuses a step already used, so the next step's code is what a second
    login within the same 30 seconds would type.
    """
    for ahead in (0, 30):
        code = totp.at(time.time() + ahead)
        if code not in used:
            used.add(code)
            return code
    raise AssertionError("no unused code within one step")


def _actions(engine: Engine) -> list[str]:
    with Session(engine) as session:
        rows = session.exec(select(AuditEvent.action).order_by(col(AuditEvent.id)))
        return [a for a in rows.all() if a.startswith("security.")]


def test_a_new_admin_chooses_a_password_enrols_and_logs_in_with_a_code(
    engine: Engine, tmp_path: Path
) -> None:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} missing: scripts/setup.sh test installs Debian's chromium")
    used: set[str] = set()
    with serve_in_thread(create_app(_context(engine, tmp_path))) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 390, "height": 844})
            _password_step(page, base, TEMPORARY)
            # Held on the password page: the queue is not reachable yet.
            expect(page.locator("#current")).to_be_visible()
            page.goto(f"{base}/granskning/")
            expect(page.locator("#current")).to_be_visible()
            page.fill("#current", TEMPORARY)
            page.fill("#new", "Password1234")
            page.fill("#repeated", "Password1234")
            page.locator("form:has(#new) button[type=submit]").click()
            expect(page.get_by_role("alert")).to_be_visible()  # a common password, refused
            page.fill("#current", TEMPORARY)
            page.fill("#new", OWN)
            page.fill("#repeated", OWN)
            page.locator("form:has(#new) button[type=submit]").click()

            # Held on enrolment: an admin works only with a second factor.
            expect(page.get_by_role("heading", name="Tvåstegsverifiering")).to_be_visible()
            page.goto(f"{base}/granskning/karantan")
            expect(page.get_by_role("heading", name="Tvåstegsverifiering")).to_be_visible()
            start = page.get_by_role("button", name="Visa QR-kod")
            if start.count():
                start.click()
            expect(page.locator(".qr svg")).to_be_visible()
            secret = page.locator("code.secret").inner_text().replace(" ", "")
            totp = pyotp.TOTP(secret)
            page.fill("#code", "000000" if totp.now() != "000000" else "111111")
            page.get_by_role("button", name="Bekräfta och slå på").click()
            expect(page.get_by_role("alert")).to_be_visible()  # a wrong code switches nothing on
            page.fill("#code", _fresh_code(totp, used))
            page.get_by_role("button", name="Bekräfta och slå på").click()
            expect(page.get_by_role("heading", name="Dina reservkoder")).to_be_visible()
            codes = page.locator("ul.codes code").all_inner_texts()
            assert len(codes) == 10 and len(set(codes)) == 10

            page.goto(f"{base}/granskning/karantan")
            expect(page.get_by_role("heading", name="Karantän")).to_be_visible()
            page.get_by_role("button", name="Logga ut").click()

            # Next time: the password, then a code from the app.
            _password_step(page, base, OWN)
            expect(page.locator("#code")).to_be_visible()
            page.goto(f"{base}/granskning/")
            expect(page.locator("#code")).to_be_visible()  # nothing else opens half logged in
            page.fill("#code", _fresh_code(totp, used))
            page.locator("form:has(#code) button[type=submit]").first.click()
            expect(page.get_by_role("heading", name="Kön")).to_be_visible()
            page.get_by_role("button", name="Logga ut").click()

            # A recovery code instead of the app, once.
            _password_step(page, base, OWN)
            page.fill("#code", codes[0])
            page.locator("form:has(#code) button[type=submit]").first.click()
            expect(page.get_by_role("heading", name="Kön")).to_be_visible()
            page.get_by_role("button", name="Logga ut").click()
            _password_step(page, base, OWN)
            page.fill("#code", codes[0])
            page.locator("form:has(#code) button[type=submit]").first.click()
            expect(page.get_by_role("alert")).to_be_visible()
            expect(page.get_by_role("heading", name="Kön")).to_have_count(0)
        finally:
            browser.close()
    actions = _actions(engine)
    assert "security.password_changed" in actions
    assert "security.second_factor_enrolled" in actions
    assert actions.count("security.login_succeeded") == 3
    assert "security.second_factor_failed" in actions
