"""The back office's day in the demo, by keyboard only, in Debian's chromium.

`kopplingar demo --no-serve` fills a data directory as the README's first
command does; a reviewer then works five of its submissions without the
mouse (pages are opened by address, as a bookmark or link would; every
action is a key):

* two clean ones approved together on "Godkänn rena ärenden";
* one whose signing date was misread: `e`, the date typed, Enter, and the
  finding about it is gone before `a` Enter approves;
* one with a missing signature sent to "väntar på kund"; the customer's
  reply by mail, in the thread of our request, goes through a real mailbox
  pass and brings the case back to the queue;
* the form sent twice closed as a duplicate of the first, with no mail.

The outbox then shows the request and the approvals' mails, and the
statistics count the decisions. What is expected comes from the database,
the corpus's truth and the outbox, never from fixed ids.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright
from sqlmodel import Session, col, select

from intake.mail import FolderMailbox
from kopplingar.app import create_app
from kopplingar.context import build_context
from kopplingar.mailing import build_mail_intake
from kopplingar.serving import serve_in_thread
from kopplingar.settings import load_settings
from review import create_reviewer
from samples import SAMPLE_QR_KEY
from samples.scans import CORPUS_DIR, load_truth
from tests.web.test_browser import CHROMIUM, CHROMIUM_ARGS
from workqueue import (
    InboundMessage,
    OutboundMail,
    ReviewerRole,
    Submission,
    SubmissionField,
    SubmissionFinding,
    SubmissionStatus,
)

pytestmark = [pytest.mark.slow, pytest.mark.browser]

EMAIL = "back.office@example.se"
PASSWORD = "Hela dagen i kön 2026"
DONE = (SubmissionStatus.APPROVED, SubmissionStatus.APPLIED)


@pytest.fixture
def demo_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("KOPPLINGAR_") and k != "DATABASE_URL"}
    data = tmp_path / "data"
    env["KOPPLINGAR_DATA_DIR"] = str(data)
    done = subprocess.run([sys.executable, "-m", "kopplingar.cli", "demo", "--no-serve"],
                          env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    for key in [k for k in os.environ if k.startswith("KOPPLINGAR_") or k == "DATABASE_URL"]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("KOPPLINGAR_DATA_DIR", str(data))
    monkeypatch.chdir(tmp_path)
    yield data


def tab_to(page: Page, selector: str, *, limit: int = 400) -> int:
    """Press Tab until `selector` has the focus; how many presses it took."""
    for n in range(limit):
        if page.evaluate(f"document.activeElement && document.activeElement.matches({selector!r})"):
            return n
        page.keyboard.press("Tab")
    raise AssertionError(f"{selector} never got the focus by Tab")


def _submissions_with(session: Session, code: str) -> list[Submission]:
    ids = list(session.exec(select(SubmissionFinding.submission_id).where(
        col(SubmissionFinding.code) == code)).all())
    return [s for s in session.exec(select(Submission).where(col(Submission.id).in_(ids))
                                    .order_by(col(Submission.id))).all()
            if s.status == SubmissionStatus.QUEUED]


def _status(session: Session, sid: int) -> SubmissionStatus:
    session.expire_all()
    found = session.get(Submission, sid)
    assert found is not None
    return found.status


def test_five_submissions_by_keyboard_bulk_correct_wait_and_duplicate(demo_data: Path) -> None:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} missing: scripts/setup.sh test installs Debian's chromium")
    settings = load_settings()
    ctx = build_context(settings)
    session = Session(ctx.engine)
    create_reviewer(session, email=EMAIL, name="Bo Backoffice", role=ReviewerRole.REVIEWER,
                    password=PASSWORD, now=dt.datetime.now(dt.UTC))
    session.commit()

    # The misread date: a date after the day the form came in, whose truth the corpus knows.
    dates = {d["form_id"]: d["dates"] for f in load_truth(CORPUS_DIR)["files"]
             for d in f["documents"] if d["form_id"]}

    def true_date_of(s: Submission) -> tuple[str, str] | None:
        found = session.exec(select(SubmissionFinding).where(
            col(SubmissionFinding.submission_id) == s.id,
            col(SubmissionFinding.code) == "date.future")).first()
        if found is None or not found.field or s.blocking_findings:
            return None
        day = dates.get(s.form_id or "", {}).get(found.field.removesuffix("_date"))
        return (found.field, day) if day else None

    misread = next(s for s in _submissions_with(session, "date.future") if true_date_of(s))
    field, true_date = true_date_of(misread) or ("", "")
    # A missing signature on a form that came by mail from an address we can answer.
    unsigned = next(s for s in _submissions_with(session, "signature.missing")
                    if s.inbound_message_id is not None and s.id != misread.id)
    duplicate = _submissions_with(session, "form.duplicate")[0]
    [original] = [s.id for s in session.exec(select(Submission).where(
        col(Submission.form_id) == duplicate.form_id, col(Submission.id) != duplicate.id))]

    with serve_in_thread(create_app(ctx)) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            page.goto(f"{base}/granskning/")
            page.keyboard.type(EMAIL)  # the login form focuses the address
            page.keyboard.press("Tab")
            page.keyboard.type(PASSWORD)
            page.keyboard.press("Enter")
            expect(page.get_by_role("heading", name="Kön")).to_be_visible()

            # 1-2. Two clean ones together: untick the rest, then approve the ticked.
            page.goto(f"{base}/granskning/godkann-rena")
            boxes = page.locator("input[type=checkbox][name^=v]")
            assert boxes.count() >= 3
            picked = [int(str(boxes.nth(i).get_attribute("name"))[1:]) for i in range(2)]
            for i in range(2, boxes.count()):
                tab_to(page, f"#{boxes.nth(i).get_attribute('id')}")
                page.keyboard.press("Space")
            tab_to(page, "#bulk-submit")
            page.keyboard.press("Enter")
            expect(page.locator("main")).to_contain_text("Godkända: 2.")
            assert all(_status(session, sid) in DONE for sid in picked)

            # 3. The misread date: e to the first field to check, the date, Enter.
            page.goto(f"{base}/granskning/{misread.id}")
            page.keyboard.press("t")
            expect(page.locator(".claim")).to_contain_text("Du har ärendet")
            page.keyboard.press("e")
            tab_to(page, f"#field-{field}")
            page.keyboard.type(true_date)
            page.keyboard.press("Enter")
            expect(page.locator("#facts")).not_to_contain_text("ligger efter dagens datum")
            page.keyboard.press("Escape")
            page.keyboard.press("a")
            expect(page.locator("#approve")).to_be_focused()
            page.keyboard.press("Enter")
            expect(page.locator("#notice")).to_contain_text(f"Ärende #{misread.id}")
            assert _status(session, misread.id or 0) in DONE
            session.expire_all()
            corrected = session.exec(select(SubmissionField).where(
                col(SubmissionField.submission_id) == misread.id,
                col(SubmissionField.name) == field)).one()
            assert corrected.corrected_value == true_date

            # 4. The missing signature: ask the customer, by keyboard.
            page.goto(f"{base}/granskning/{unsigned.id}")
            tab_to(page, "#waiting-customer summary")
            page.keyboard.press("Enter")
            tab_to(page, "#waiting-send")
            page.keyboard.press("Enter")
            expect(page.locator("#waiting-title")).to_be_visible()
            assert _status(session, unsigned.id or 0) is SubmissionStatus.AWAITING_CUSTOMER
            request = session.exec(select(OutboundMail).where(
                col(OutboundMail.submission_id) == unsigned.id,
                col(OutboundMail.template) == "info_request")).one()

            # 5. The form sent twice: closed as a duplicate of the first.
            page.goto(f"{base}/granskning/{duplicate.id}")
            tab_to(page, "button.dupe-close")
            page.keyboard.press("Enter")
            # Back on the submission, now decided: wait for that page, not for the network.
            expect(page.locator(".claim")).to_contain_text(f"ärende {original}")
            assert _status(session, duplicate.id or 0) is SubmissionStatus.REJECTED
            session.expire_all()
            closed = session.get(Submission, duplicate.id)
            assert closed is not None and f"ärende {original}" in (closed.decision_reason or "")
            assert not session.exec(select(OutboundMail).where(
                col(OutboundMail.submission_id) == duplicate.id,
                col(OutboundMail.template) == "rejected")).all()

            # The customer answers in the thread; the mailbox pass joins it to the case.
            inbound = session.get(InboundMessage, unsigned.inbound_message_id)
            assert inbound is not None and inbound.sender
            reply = EmailMessage()
            reply["From"] = inbound.sender
            reply["To"] = settings.mailbox_address
            reply["Subject"] = f"Re: {request.subject}"
            reply["Message-ID"] = "<svar-1@kund.example>"
            reply["In-Reply-To"] = request.message_id
            reply["References"] = request.message_id
            reply["Date"] = "Fri, 04 Dec 2026 10:00:00 +0100"
            reply.set_content("Hej! Nu har även byrån skrivit under; ni får originalet "
                              "med posten.\n\nMed vänlig hälsning\nKunden\n")
            inbox = demo_data / "reply-mail"
            (inbox / "new").mkdir(parents=True)
            (inbox / "cur").mkdir()
            (inbox / "tmp").mkdir()
            (inbox / "new" / "svar.eml").write_bytes(reply.as_bytes())
            mail = build_mail_intake(settings, ctx.engine, SAMPLE_QR_KEY)
            box = FolderMailbox(inbox)
            with mail.readers() as pool:
                box.open()
                try:
                    mail.run_pass(box, pool)
                finally:
                    box.close()
            assert _status(session, unsigned.id or 0) is SubmissionStatus.QUEUED
            page.goto(f"{base}/granskning/{unsigned.id}")
            expect(page.locator("#facts")).to_contain_text("Kunden kompletterade")

            # The outbox has the request and the approvals' mails; the statistics count.
            page.goto(f"{base}/granskning/utkorg")
            expect(page.locator("main")).to_contain_text("Komplettering behövs")
            session.expire_all()
            approvals = session.exec(select(OutboundMail).where(
                col(OutboundMail.submission_id).in_([*picked, misread.id]))).all()
            assert len(approvals) >= 3
            page.goto(f"{base}/granskning/statistik")
            decided = session.exec(select(Submission).where(
                col(Submission.decided_at).is_not(None))).all()
            expect(page.locator("#overall li").first).to_contain_text(str(len(decided)))
        finally:
            browser.close()
            session.close()
