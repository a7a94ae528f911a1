"""In Chromium: a scan no machine can align comes in by mail, a reviewer keys it and approves.

A real corpus scan has its four corner markers cut off (as a phone photo that
missed the corners would), goes through one real mailbox pass and becomes an
unreadable submission. The reviewer opens it, chooses the kind of form, types
what the page says (the organisationsnummer shows the registry's name as it is
typed), ticks the signatures seen, saves, and approves: the registry gets the
connection, and the audit log says the values were keyed, by whom.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from devkit.screenshots_digital import fill_keying
from playwright.sync_api import expect, sync_playwright
from sqlmodel import Session, col, select

from forms import form_spec
from intake.mail import FolderMailbox
from kopplingar.app import create_app
from kopplingar.context import AppContext
from kopplingar.database import upgrade_all
from kopplingar.serving import serve_in_thread
from registry import AuditEvent, Company, Connection, make_engine
from review import create_reviewer
from samples.digital.corpus import without_corners
from samples.scans import CORPUS_DIR
from tests.intake.mailenv import MAILBOX, make_env, message
from tests.web.test_browser import CHROMIUM, CHROMIUM_ARGS
from workqueue import ReviewerRole, Submission, SubmissionStatus

pytestmark = [pytest.mark.slow, pytest.mark.browser]

PASSWORD = "Granska noga 2026"
REVIEWER = "greta.granskare@example.se"
SCAN = "016-crooked-png.png"


def test_a_reviewer_keys_an_unreadable_scan_and_approves_it(tmp_path: Path) -> None:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} missing: scripts/setup.sh test installs Debian's chromium")
    truth = next(f for f in json.loads((CORPUS_DIR / "truth.json").read_text())["files"]
                 if f["file"] == SCAN)["documents"][0]
    kind = truth["kind"]
    spec = form_spec(kind)
    values = dict(truth["fields"]) | {
        s.date_field: truth["dates"][s.party] for s in spec.signatures}
    engine = make_engine(f"sqlite:///{tmp_path / 'keying.db'}")
    upgrade_all(engine)
    env = make_env(engine, tmp_path)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    photo = without_corners((CORPUS_DIR / SCAN).read_bytes())
    (inbox / "1.eml").write_bytes(message("Anna Berg <anna@kund.example>", "Blankett",
                                          [("foto.png", photo)]))
    box = FolderMailbox(inbox)
    box.open()
    try:
        env.run_pass(box)
    finally:
        box.close()
    with Session(engine) as session:
        [submission] = session.exec(select(Submission)).all()
        assert submission.status == SubmissionStatus.UNREADABLE
        sid = submission.id
        create_reviewer(session, email=REVIEWER, name="Greta Granskare",
                        role=ReviewerRole.REVIEWER, password=PASSWORD,
                        now=dt.datetime.now(dt.UTC))
        session.commit()
        client = session.exec(select(Company).where(
            Company.orgnr == values["client_orgnr"])).one()
        firm = session.exec(select(Company).where(
            Company.orgnr == values["new_firm_orgnr"])).one()
    context = AppContext(engine=engine, qr_key=b"k" * 32, mailbox_address=MAILBOX,
                         public_base_url="https://kopplingar.example.se", download_limit=1000,
                         download_window_seconds=600, images_dir=tmp_path / "images",
                         cookie_secure=False)
    with serve_in_thread(create_app(context)) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            page.goto(f"{base}/granskning/")
            page.fill("#email", REVIEWER)
            page.fill("#password", PASSWORD)
            page.get_by_role("button", name="Logga in").click()
            page.goto(f"{base}/granskning/{sid}")
            page.locator("#key-link").click()
            page.get_by_label(spec.title).check()  # shows the form's fields
            expect(page.locator("#keying-form")).to_be_visible()
            fill_keying(page, spec, values)
            # The registry's name for the number typed, before anything is saved.
            expect(page.locator("#name-client_orgnr")).to_have_text(client.name)
            for party, state in truth["signatures"].items():
                if state == "signed":
                    page.locator(f"input[name='underskrift.{party}']").check()
            page.locator("#save-keyed").click()
            expect(page.locator("#keyed-note")).to_contain_text("Greta Granskare")
            expect(page.locator(".plan")).to_contain_text(firm.name)
            page.screenshot(path=str(tmp_path / "keyed.png"), full_page=True)
            if page.locator("#override_reason").count():
                page.fill("#override_reason", "Kontrollerat mot bilden.")
            page.locator("#approve").click()
            expect(page.locator("body")).to_contain_text("Kön")
        finally:
            browser.close()
    with Session(engine) as session:
        done = session.get(Submission, sid)
        assert done is not None and done.status == SubmissionStatus.APPLIED
        assert session.exec(select(Connection).where(
            Connection.client_id == client.id, Connection.firm_id == firm.id,
            col(Connection.until).is_(None))).first() is not None
        [keyed] = session.exec(select(AuditEvent).where(
            AuditEvent.action == "submission.keyed")).all()
        assert keyed.actor == REVIEWER
    engine.dispose()
