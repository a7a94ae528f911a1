"""The reviewer's day once in a real browser: real scans from the mailbox to the registry.

Three real scans from the committed corpus come in by mail through one real
mailbox pass (so the submissions carry real pages, crops and findings).
A reviewer logs in to Debian's chromium, sorts the queue least sure first,
opens the first submission, corrects the field the reader got wrong,
approves with the keyboard, rejects the next one with a reason, and the
outbox is delivered to a real SMTP server. What is expected (which
submission comes first, which firm gets connected, who is mailed) is taken
from the database and the registry, never hard-coded.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

import pytest
from devkit.localmail.smtp import LocalSmtp
from playwright.sync_api import Page, expect, sync_playwright
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from forms import FormKind
from intake.mail import FolderMailbox
from kopplingar.app import create_app
from kopplingar.context import AppContext
from kopplingar.database import upgrade_all
from kopplingar.serving import serve_in_thread
from registry import AuditEvent, Company, Connection, IssuedForm, make_engine
from review import create_reviewer
from review.web_common import STATUS_LABELS
from tests.intake.mailenv import MAILBOX, MailEnv, make_env, message, scan
from tests.web.test_browser import CHROMIUM, CHROMIUM_ARGS
from workqueue import (
    OutboundMail,
    ReviewerRole,
    SmtpSender,
    Submission,
    SubmissionField,
    SubmissionFinding,
    SubmissionStatus,
    deliver_pending,
)

pytestmark = [pytest.mark.slow, pytest.mark.browser]

PASSWORD = "Granska noga 2026"
REVIEWER = "greta.granskare@example.se"
QR_KEY = b"test-key-for-the-reviewer-browser-0123456789abcdef"
# Small single-form scans from the corpus, each mailed by a sender of its own.
MAILS = {
    "020-fax-pdf.pdf": "Anna Berg <anna.berg@kund-ett.example>",
    "012-office-pdf.pdf": "Karl Olsson <karl.olsson@kund-tva.example>",
    "008-low-quality-jpeg.jpg": "Maria Svensson <maria@kund-tre.example>",
}


@dataclass
class Desk:
    engine: Engine
    env: MailEnv
    smtp: LocalSmtp
    images: Path

    def deliver(self) -> int:
        with SmtpSender(self.smtp.config()) as sender:
            report = deliver_pending(
                self.engine,
                sender,
                from_address=MAILBOX,
                now=lambda: dt.datetime.now(dt.UTC),
            )
        assert report.failed == 0 and report.deferred == 0
        return report.sent

    def submission(self, submission_id: int) -> Submission:
        with Session(self.engine) as session:
            found = session.get(Submission, submission_id)
            assert found is not None
            return found

    def outbox_for(self, submission_id: int) -> list[OutboundMail]:
        with Session(self.engine) as session:
            rows = session.exec(
                select(OutboundMail)
                .where(OutboundMail.submission_id == submission_id)
                .order_by(col(OutboundMail.id))
            )
            return list(rows.all())


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[Desk]:
    # One real-browser run is enough: the page tests cover both databases.
    engine = make_engine(f"sqlite:///{tmp_path / 'workqueue.db'}")
    upgrade_all(engine)
    env = make_env(engine, tmp_path)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for n, (name, sender) in enumerate(MAILS.items(), 1):
        raw = message(sender, f"Blankett {n}", [(name, scan(name))])
        (inbox / f"{n}.eml").write_bytes(raw)
    box = FolderMailbox(inbox)
    box.open()
    try:
        summary = env.run_pass(box)
    finally:
        box.close()
    assert summary.submissions == len(MAILS)
    with Session(engine) as session:
        create_reviewer(
            session,
            email=REVIEWER,
            name="Greta Granskare",
            role=ReviewerRole.REVIEWER,
            password=PASSWORD,
            now=dt.datetime.now(dt.UTC),
        )
        session.commit()
    with LocalSmtp(tmp_path / "smtp") as smtp:
        yield Desk(engine=engine, env=env, smtp=smtp, images=tmp_path / "images")
    engine.dispose()


def _app_context(desk: Desk) -> AppContext:
    return AppContext(
        engine=desk.engine,
        qr_key=QR_KEY,
        mailbox_address=MAILBOX,
        public_base_url="https://kopplingar.example.se",
        download_limit=1000,
        download_window_seconds=600,
        images_dir=desk.images,
        cookie_secure=False,  # served over plain http on loopback
    )


def _least_sure(engine: Engine) -> list[int]:
    with Session(engine) as session:
        rows = session.exec(
            select(Submission).order_by(col(Submission.min_confidence), col(Submission.id))
        )
        return [s.id for s in rows.all() if s.id is not None]


def _fields(engine: Engine, submission_id: int) -> dict[str, SubmissionField]:
    with Session(engine) as session:
        rows = session.exec(
            select(SubmissionField).where(SubmissionField.submission_id == submission_id)
        )
        return {f.name: f for f in rows.all()}


def _issued_value(engine: Engine, submission_id: int, name: str) -> str:
    with Session(engine) as session:
        submission = session.get(Submission, submission_id)
        assert submission is not None and submission.form_id is not None
        issued = session.get(IssuedForm, submission.form_id)
        assert issued is not None
        return str(issued.values.get(name, ""))


def _blocking(engine: Engine, submission_id: int) -> list[str]:
    with Session(engine) as session:
        rows = session.exec(
            select(SubmissionFinding.message).where(
                SubmissionFinding.submission_id == submission_id,
                SubmissionFinding.severity == "blocking",
            )
        )
        return list(rows.all())


def _company(session: Session, orgnr: str) -> Company:
    return session.exec(select(Company).where(Company.orgnr == orgnr)).one()


def _body(mail: EmailMessage) -> str:
    part = mail.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def _open_connections(engine: Engine, client: str, firm: str) -> list[Connection]:
    with Session(engine) as session:
        client_id, firm_id = _company(session, client).id, _company(session, firm).id
        rows = session.exec(
            select(Connection).where(
                Connection.client_id == client_id,
                Connection.firm_id == firm_id,
                col(Connection.until).is_(None),
            )
        )
        return list(rows.all())


def _log_in(page: Page, base: str) -> None:
    page.goto(f"{base}/granskning/")
    expect(page.get_by_role("heading", name="Logga in")).to_be_visible()
    page.fill("#email", REVIEWER)
    page.fill("#password", PASSWORD)
    page.get_by_role("button", name="Logga in").click()
    expect(page.get_by_role("heading", name="Kön")).to_be_visible()
    expect(page.locator(".who")).to_have_text("Greta Granskare")


def test_a_reviewer_corrects_approves_by_keyboard_and_rejects(desk: Desk) -> None:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} missing: scripts/setup.sh test installs Debian's chromium")
    # The receipts the mailbox pass queued go first, so later counts are the decisions'.
    assert desk.deliver() == len(MAILS)
    desk.smtp.wait_for(len(MAILS))
    desk.smtp.clear()

    first, second, _ = _least_sure(desk.engine)
    fields = _fields(desk.engine, first)
    # The least sure printed field that was read differently from what the issued form
    # (the registry's record of what we printed) says is the one to look at and correct:
    # in the sample corpus, a client's organisationsnummer changed by hand on paper.
    printed = [f for f in fields.values()
               if _issued_value(desk.engine, first, f.name) not in ("", f.value)]
    wrong = min(printed, key=lambda f: (f.confidence, f.name))
    corrected = _issued_value(desk.engine, first, wrong.name)
    assert corrected != wrong.value
    [blocking] = _blocking(desk.engine, first)
    kind_before = desk.submission(first).kind
    assert kind_before == FormKind.DUAL.value

    issued = {n: _issued_value(desk.engine, first, n) for n in ("client_orgnr", "new_firm_orgnr")}
    assert not _open_connections(desk.engine, issued["client_orgnr"], issued["new_firm_orgnr"])

    with serve_in_thread(create_app(_app_context(desk))) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            _log_in(page, base)
            expect(page.locator("table.queue tbody tr")).to_have_count(len(MAILS))
            page.select_option("select[name=sort]", "confidence")
            page.get_by_role("button", name="Visa").click()
            rows = page.locator("table.queue tbody tr")
            expect(rows.first.locator("a")).to_have_text(f"#{first}")
            expect(rows.nth(1).locator("a")).to_have_text(f"#{second}")
            # The queue shows at a glance what needs attention.
            expect(rows.first.locator(".badge.blocking")).to_be_visible()
            rows.first.locator("a").click()

            expect(page.get_by_role("heading", level=1)).to_contain_text(f"Ärende #{first}")
            expect(page.locator("img.page").first).to_be_visible()
            page.locator(".claim").get_by_role("button", name="Ta ärendet").click()
            expect(page.locator(".claim")).to_contain_text("Du har ärendet")
            # The field to correct asks for attention: a row of its own among the fields
            # to check, with its crop, and "e" goes to the first of them.
            row = page.locator(f"#check-list #row-{wrong.name}")
            expect(row).to_be_visible()
            expect(row.locator("img.crop")).to_be_visible()
            page.locator("h1").click()
            page.keyboard.press("e")
            expect(page.locator("#check-list .check-row").first.locator("input").first
                   ).to_be_focused()
            field = page.locator(f"#field-{wrong.name}")
            expect(field).to_have_value(wrong.value)
            field.focus()
            # Its box lights up on the page.
            expect(page.locator(f"#box-{wrong.name}")).to_have_class(re.compile(r"\bactive\b"))
            # Enter saves in the background: the page is not reloaded, the findings and the
            # plan are the server's new ones, and the focus goes on.
            page.evaluate("window.stillHere = true")
            # A value the field's validator refuses: the message, and the focus stays put.
            field.fill("12")
            page.keyboard.press("Enter")
            expect(page.locator("#error")).to_be_visible()
            expect(page.locator(f"#field-{wrong.name}")).to_be_focused()
            page.locator(f"#field-{wrong.name}").fill(corrected)
            page.keyboard.press("Enter")
            expect(page.locator("#fields-form")).to_contain_text(f"Rättat; läst: ”{wrong.value}”")
            assert page.evaluate("window.stillHere === true")
            expect(page.locator(f"#field-{wrong.name}")).to_have_value(corrected)
            expect(page.locator(f"#field-{wrong.name}")).not_to_be_focused()
            expect(page.locator("#error")).to_have_count(0)

            # The corrected number is the registry's company: the blocking finding about
            # the number as read is gone from the page, so approving needs no reason.
            expect(page.locator("#facts")).not_to_contain_text(blocking)
            expect(page.locator("#approve-form")).not_to_contain_text(blocking)

            # Approve by keyboard: "a" moves focus to the button when no reason is needed,
            # Enter presses it.
            page.locator("h1").click()
            page.keyboard.press("a")
            expect(page.locator("#approve")).to_be_focused()
            page.keyboard.press("Enter")

            # On to the next least-sure submission, with a note about the one just done.
            expect(page.locator("#notice")).to_have_text(
                f"Ärende #{first}: {STATUS_LABELS['applied']}."
            )
            expect(page.get_by_role("heading", level=1)).to_contain_text(f"Ärende #{second}")
            expect(page.locator(".claim")).to_contain_text("Du har ärendet")

            # On a phone the same page fits the screen: nothing to scroll sideways.
            page.set_viewport_size({"width": 390, "height": 844})
            assert page.evaluate("document.documentElement.scrollWidth") <= 390
            page.set_viewport_size({"width": 1440, "height": 900})

            page.keyboard.press("r")
            expect(page.locator("#reason_code")).to_be_focused()
            page.select_option("#reason_code", "signature_missing")
            page.fill("#reason_text", "Byråns systemadministratör behöver också skriva under.")
            page.get_by_role("button", name="Avvisa").click()
            expect(page.locator("#notice")).to_have_text(
                f"Ärende #{second}: {STATUS_LABELS['rejected']}."
            )
        finally:
            browser.close()

    # The registry: the dual connection is there, and the audit log says who did it.
    approved = desk.submission(first)
    assert approved.status is SubmissionStatus.APPLIED
    assert approved.applied_at is not None
    assert approved.override_reason is None  # nothing blocking was left to override
    fields = _fields(desk.engine, first)
    assert fields[wrong.name].corrected_value == corrected
    values = {n: f.corrected_value or f.value for n, f in fields.items()}
    [connection] = _open_connections(desk.engine, values["client_orgnr"], values["new_firm_orgnr"])
    assert connection.role.value == values["new_firm_role"]
    with Session(desk.engine) as session:
        events = session.exec(select(AuditEvent).where(AuditEvent.actor == REVIEWER)).all()
    actions = {(e.action, e.subject) for e in events}
    assert ("submission.approved", f"submission:{first}") in actions
    assert ("submission.rejected", f"submission:{second}") in actions
    [created] = [e for e in events if e.action == "connection.created"]
    assert created.detail.startswith(f"submission {first}: ")

    rejected = desk.submission(second)
    assert rejected.status is SubmissionStatus.REJECTED
    assert rejected.decision_reason is not None
    assert "Byråns systemadministratör" in rejected.decision_reason

    # The mails, through a real SMTP server: everyone the approval names, then the rejection.
    approval = desk.outbox_for(first)
    rejection = desk.outbox_for(second)
    assert {m.template for m in approval} >= {"approved_client", "approved_firm"}
    assert [m.template for m in rejection] == ["rejected"]
    sent = desk.deliver()
    assert sent == len(approval) + len(rejection)
    arrived = desk.smtp.wait_for(sent)
    by_recipient = {str(m["To"]).lower(): m for m in arrived}
    assert set(by_recipient) == {m.recipient for m in approval + rejection}
    senders = {m.id: m.sender for m in desk.env.messages()}
    assert senders[approved.inbound_message_id] in by_recipient
    assert values["new_firm_email"] in by_recipient
    for mail in approval:
        got = by_recipient[mail.recipient]
        assert values["client_name"] in _body(got)
    client_mail = by_recipient[senders[approved.inbound_message_id] or ""]
    assert str(client_mail["Subject"]).startswith("Klart:")
    assert values["client_name"] in str(client_mail["Subject"])
    assert "Nu har vi kopplat" in _body(client_mail)
    rejected_mail = by_recipient[senders[rejected.inbound_message_id] or ""]
    assert "Byråns systemadministratör behöver också skriva under." in _body(rejected_mail)
    assert "En underskrift saknas." in _body(rejected_mail)
