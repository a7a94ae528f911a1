"""A customer's reply joining the case that waits for it, through real mailbox passes.

The case is asked about by a reviewer (`review.request_info`) after a first
pass queued it; a second pass reads the reply from a folder mailbox with the
real reader, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from intake.mail import FolderMailbox
from intake.mail.rejoin import own_words
from registry import AuditEvent
from review import claim, request_info
from tests.intake.mailenv import SCANS, MailEnv, make_env, message, scan
from workqueue import (
    OutboundMail,
    Reviewer,
    ReviewerRole,
    Submission,
    SubmissionField,
    SubmissionFinding,
    SubmissionPage,
    SubmissionStatus,
)

pytestmark = pytest.mark.slow

CUSTOMER = "Anna Berg <anna.berg@exempelbolaget.se>"
FORM = "020-fax-pdf.pdf"


@pytest.fixture
def env(engine: Engine, tmp_path: Path) -> MailEnv:
    return make_env(engine, tmp_path)


def _box(tmp_path: Path) -> FolderMailbox:
    inbox = tmp_path / "inbox"
    inbox.mkdir(exist_ok=True)
    box = FolderMailbox(inbox)
    box.open()
    return box


def _deliver(tmp_path: Path, name: str, raw: bytes) -> None:
    (tmp_path / "inbox" / f"{name}.eml").write_bytes(raw)


def _rescanned(name: str) -> bytes:
    # The same form sent again as other bytes: a PDF reader ignores what follows %%EOF.
    return scan(name) + b"\n% skannad igen\n"


def _asked_case(env: MailEnv, tmp_path: Path, box: FolderMailbox) -> tuple[int, OutboundMail]:
    """A first pass queues the form; a reviewer asks the customer for a signature."""
    _deliver(tmp_path, "1-form", message(CUSTOMER, "Blankett", [("blankett.pdf", scan(FORM))]))
    env.run_pass(box)
    [case] = env.submissions()
    assert case.id is not None and case.form_id == SCANS[FORM]
    now = dt.datetime.now(dt.UTC)
    with Session(env.engine, expire_on_commit=False) as session:
        reviewer = Reviewer(email="alice@backoffice.example", name="Alice",
                            role=ReviewerRole.REVIEWER, password_hash="$argon2id$not-used")
        session.add(reviewer)
        session.commit()
        claim(session, case.id, reviewer, now=now)
        mail = request_info(session, case.id, reviewer, reason_code="signature",
                            party="new_firm", note=None, now=now,
                            sender_domain="example.se", form_url=env.policy.form_url)
        session.commit()
    return case.id, mail


def _rows(env: MailEnv, table: type[SubmissionPage] | type[SubmissionField]
          | type[SubmissionFinding], sid: int) -> list[object]:
    with Session(env.engine) as session:
        return list(session.exec(select(table).where(col(table.submission_id) == sid)).all())


def _findings(env: MailEnv, sid: int) -> dict[str, str]:
    with Session(env.engine) as session:
        rows = session.exec(select(SubmissionFinding).where(
            SubmissionFinding.submission_id == sid)).all()
        return {f.code: f.message for f in rows}


def _events(env: MailEnv, action: str) -> list[AuditEvent]:
    with Session(env.engine) as session:
        return list(session.exec(select(AuditEvent).where(AuditEvent.action == action)).all())


def _case(env: MailEnv, sid: int) -> Submission:
    with Session(env.engine) as session:
        found = session.get(Submission, sid)
        assert found is not None
        return found


def test_a_reply_to_our_request_joins_its_case_by_the_thread(
    env: MailEnv, tmp_path: Path
) -> None:
    box = _box(tmp_path)
    sid, request = _asked_case(env, tmp_path, box)
    with Session(env.engine) as session:
        first_page = session.exec(select(SubmissionPage).where(
            SubmissionPage.submission_id == sid)).one().image_sha256
    reply = message(
        CUSTOMER,
        f"Sv: {request.subject}",
        [("underskriven.pdf", _rescanned(FORM))],
        headers={"In-Reply-To": request.message_id,
                 "References": f"<first@exempel.se> {request.message_id}"},
        body="Hej! Nu har Per skrivit under.\n\nDen 4 dec. 2026 skrev kopplingar:\n> Hej!\n",
    )
    _deliver(tmp_path, "2-reply", reply)
    env.run_pass(box)

    case = _case(env, sid)
    assert case.status is SubmissionStatus.QUEUED
    assert case.form_id == SCANS[FORM] and case.kind == "dual"
    # The old page first, for the history; then the reply's.
    with Session(env.engine) as session:
        pages = session.exec(select(SubmissionPage).where(SubmissionPage.submission_id == sid)
                             .order_by(col(SubmissionPage.position))).all()
        assert [p.position for p in pages] == [0, 1] and pages[0].image_sha256 == first_page
    assert _rows(env, SubmissionField, sid)  # the new reading's fields
    findings = _findings(env, sid)
    assert "form.duplicate" not in findings  # it would name this very case
    assert findings["customer.replied"].startswith("Kunden kompletterade ")
    assert "1 ny sida lades till efter de tidigare" in findings["customer.replied"]
    assert "Nu har Per skrivit under." in findings["customer.replied"]
    assert "> Hej" not in findings["customer.replied"]
    with Session(env.engine) as session:
        severities = [f.severity for f in session.exec(select(SubmissionFinding).where(
            SubmissionFinding.submission_id == sid)).all()]
    assert case.blocking_findings == severities.count("blocking")
    assert case.warning_findings == severities.count("warning")

    [other] = [s for s in env.submissions() if s.id != sid]
    assert other.status is SubmissionStatus.REJECTED
    assert other.decision_reason == f"Sammanslaget med ärende {sid}: kundens komplettering."
    assert _rows(env, SubmissionPage, other.id or 0) == []
    [event] = _events(env, "submission.customer_replied")
    assert event.actor == "anna.berg@exempelbolaget.se" and event.subject == f"submission:{sid}"
    assert event.after is not None and event.after["matched_by"] == "thread"
    assert event.after["joined"] == [other.id] and event.after["pages"] == 1
    receipt = env.outbox()[-1]
    assert receipt.template == "receipt" and receipt.recipient == "anna.berg@exempelbolaget.se"
    assert f"Vi har lagt det du skickade till ärende {sid}" in receipt.body

    # Processing the same reply again (a person moves it back) joins nothing twice.
    again = env.run_pass(box)
    assert again.read == 0
    assert len(_events(env, "submission.customer_replied")) == 1


def test_a_new_mail_with_the_forms_id_joins_and_another_form_stays_its_own(
    env: MailEnv, tmp_path: Path
) -> None:
    box = _box(tmp_path)
    sid, _request = _asked_case(env, tmp_path, box)
    other_form = "012-office-pdf.pdf"
    _deliver(tmp_path, "2-new", message(
        CUSTOMER, "Blanketten igen",
        [("ny.pdf", _rescanned(FORM)), ("annan.pdf", scan(other_form))],
    ))
    env.run_pass(box)

    case = _case(env, sid)
    assert case.status is SubmissionStatus.QUEUED
    assert len(_rows(env, SubmissionPage, sid)) == 2
    [event] = _events(env, "submission.customer_replied")
    assert event.after is not None and event.after["matched_by"] == "form_id"
    by_form = {s.form_id: s for s in env.submissions() if s.id != sid}
    assert by_form[SCANS[FORM]].status is SubmissionStatus.REJECTED
    assert by_form[SCANS[other_form]].status is SubmissionStatus.QUEUED
    assert _rows(env, SubmissionPage, by_form[SCANS[other_form]].id or 0)


def test_an_out_of_office_reply_waits_and_a_text_reply_rejoins(
    env: MailEnv, tmp_path: Path
) -> None:
    box = _box(tmp_path)
    sid, request = _asked_case(env, tmp_path, box)
    thread = {"In-Reply-To": request.message_id}
    _deliver(tmp_path, "2-away", message(
        CUSTOMER, "Frånvaro", headers=thread | {"Auto-Submitted": "auto-replied"},
        body="Jag är på semester.\n"))
    env.run_pass(box)
    assert _case(env, sid).status is SubmissionStatus.AWAITING_CUSTOMER
    assert _events(env, "submission.customer_replied") == []

    _deliver(tmp_path, "3-text", message(
        CUSTOMER, "Sv: komplettering", headers=thread,
        body="Per skriver under på måndag och skickar den då.\n"))
    env.run_pass(box)
    case = _case(env, sid)
    assert case.status is SubmissionStatus.QUEUED
    note = _findings(env, sid)["customer.replied"]
    assert "inga nya sidor kom med; läs kundens svar" in note
    assert "Per skriver under på måndag" in note
    assert len(_rows(env, SubmissionPage, sid)) == 1
    reply = env.outbox()[-1]
    assert reply.template == "no_attachment"
    assert reply.subject.startswith("Vi har tagit emot ditt svar")
    assert f"Vi har lagt det till ärende {sid}" in reply.body
    # A later reply finds no waiting case: it is mail like any other.
    _deliver(tmp_path, "4-late", message(CUSTOMER, "Sv: igen", headers=thread, body="Hej igen\n"))
    env.run_pass(box)
    assert len(_events(env, "submission.customer_replied")) == 1
    assert env.outbox()[-1].subject.startswith("Ingen blankett bifogad")


def test_own_words_leave_the_quoted_mail_out() -> None:
    text = ("Här är den.\n\n-----Ursprungligt meddelande-----\nFrån: kopplingar\nHej!\n")
    assert own_words(text) == "Här är den."
    assert own_words("Tack!\n> Hej!\n> Det här saknas\nMvh Anna\n") == "Tack! Mvh Anna"
    assert own_words("On Mon, 4 Dec 2026, kopplingar wrote:\n> x") == ""
