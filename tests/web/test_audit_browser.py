"""The audit log in a real browser: no sideways scrolling at 1,440 px or at 390 px.

Events with the longest values the log can hold (a company name and a
detail without a space to break at, a reviewer's e-mail at the column's
length, a large JSON payload) are shown with every "Detaljer" open; the
page must not be wider than the window, at a desktop's width and a phone's.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright
from sqlalchemy import Engine
from sqlmodel import Session

from kopplingar.app import create_app
from kopplingar.context import AppContext
from kopplingar.database import upgrade_all
from kopplingar.serving import serve_in_thread
from registry import make_engine, record_event
from review import create_reviewer
from tests.web.test_browser import CHROMIUM, CHROMIUM_ARGS
from workqueue import ReviewerRole

pytestmark = [pytest.mark.slow, pytest.mark.browser]

PASSWORD = "Granska noga 2026"
REVIEWER = "greta.granskare@example.se"
LONG = "Långtnamnutanmellanslag" * 12  # 276 characters, nowhere to break


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    # One real-browser run is enough: the page tests cover both databases.
    engine = make_engine(f"sqlite:///{tmp_path / 'audit.db'}")
    upgrade_all(engine)
    now = dt.datetime.now(dt.UTC)
    with Session(engine) as session:
        create_reviewer(session, email=REVIEWER, name="Greta " + LONG[:60],
                        role=ReviewerRole.REVIEWER, password=PASSWORD, now=now)  # fmt: skip
        state = {
            "client": "556677-8899",
            "client_name": LONG,
            "firm": "559900-1122",
            "firm_name": LONG + " AB",
            "role": "audit",
            "since": "2026-12-04",
            "until": None,
        }
        for n in range(1, 8):
            record_event(session, actor=REVIEWER, action="connection.created",
                         subject=f"connection:{n}", after=state,
                         detail=f"submission {n}: " + LONG)  # fmt: skip
            record_event(session, actor=REVIEWER, action="submission.approved",
                         subject=f"submission:{n}",
                         after={"changes": [LONG + " kopplas till " + LONG + " (556677-8899)."],
                                "override_reason": LONG, "values": {str(i): LONG for i in range(9)},
                                "already_done": False})  # fmt: skip
            record_event(session, actor="x" * 90 + "@example.se", action="something.new",
                         subject="s" * 100, detail=LONG * 3)  # fmt: skip
        session.commit()
    yield engine
    engine.dispose()


def test_the_log_fits_a_desktop_and_a_phone_with_every_detail_open(
    engine: Engine, tmp_path: Path
) -> None:
    ctx = AppContext(
        engine=engine,
        qr_key=b"test-key-for-the-audit-browser-0123456789abcdef",
        mailbox_address="kopplingar@example.se",
        public_base_url="https://kopplingar.example.se",
        download_limit=1000,
        download_window_seconds=600,
        images_dir=tmp_path / "images",
        cookie_secure=False,
    )
    with serve_in_thread(create_app(ctx)) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            page.goto(f"{base}/granskning/")
            page.fill("#email", REVIEWER)
            page.fill("#password", PASSWORD)
            page.get_by_role("button", name="Logga in").click()
            page.wait_for_url(f"{base}/granskning/")
            page.goto(f"{base}/granskning/logg")
            summaries = page.locator("details.audit-details summary")
            assert summaries.count() == 21
            for i in range(summaries.count()):
                summaries.nth(i).click()
            assert page.locator("details.audit-details[open]").count() == 21
            for width in (1440, 390):
                page.set_viewport_size({"width": width, "height": 900})
                scroll = page.evaluate("document.documentElement.scrollWidth")
                culprit = page.evaluate(
                    "[...document.querySelectorAll('body *')].filter(e => "
                    "e.getBoundingClientRect().right > innerWidth).slice(0, 5)"
                    ".map(e => `${e.tagName}.${e.className} ${e.getBoundingClientRect().right}`)"
                )
                assert scroll <= width, (width, scroll, culprit)
                widest = page.evaluate(
                    "Math.max(...[...document.querySelectorAll('main *')]"
                    ".map(e => e.getBoundingClientRect().right))"
                )
                assert widest <= width, (width, widest)
        finally:
            browser.close()
