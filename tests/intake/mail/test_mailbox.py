"""The mailbox pass on a local folder, on SQLite and PostgreSQL, with the real reader.

The IMAP-specific guarantees (crashes, two pollers, UIDVALIDITY, dropped
connections, hostile mail) are in test_mailbox_imap.py against Dovecot;
this file checks what a pass does with each kind of message.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from email.parser import BytesParser
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from forms import display_form_id
from intake.mail import FolderMailbox
from kopplingar.logs import JsonFormatter
from samples.mail.payloads import zip_of
from tests.intake.mailenv import SCANS, MailEnv, make_env, message, scan
from workqueue import (
    AttachmentOutcome,
    InboundAttachment,
    MessageState,
    OutboxState,
    SubmissionFinding,
    SubmissionStatus,
)

pytestmark = pytest.mark.slow


@pytest.fixture
def env(engine: Engine, tmp_path: Path) -> MailEnv:
    return make_env(engine, tmp_path)


def _folder(tmp_path: Path, mails: dict[str, bytes]) -> FolderMailbox:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for name, raw in mails.items():
        (inbox / f"{name}.eml").write_bytes(raw)
    box = FolderMailbox(inbox)
    box.open()
    return box


def test_a_pass_queues_forms_answers_and_moves_every_message(env: MailEnv, tmp_path: Path) -> None:
    box = _folder(
        tmp_path,
        {
            "1-scan": message(
                "Anna Berg <anna.berg@exempelbolaget.se>",
                "Blankett",
                [("skanning.pdf", scan("020-fax-pdf.pdf"))],
            ),
            "2-forgot": message("Per Ek <per.ek@byran.se>", "Här är blanketten"),
            "3-ooo": message(
                "Lisa Ny <lisa@kund.se>",
                "Frånvaro: Blankett",
                headers={"Auto-Submitted": "auto-replied"},
                body="Jag är på semester till 1 februari.\n",
            ),
        },
    )
    summary = env.run_pass(box)
    assert (summary.read, summary.processed, summary.moved, summary.quarantined) == (3, 3, 3, 0)
    assert summary.queued == 1 and summary.submissions in (0, 1)

    [submission] = env.submissions()
    assert submission.form_id == SCANS["020-fax-pdf.pdf"]
    assert submission.status is SubmissionStatus.QUEUED
    assert submission.source_kind == "mail" and submission.source_name == "skanning.pdf"
    messages = env.messages()
    assert [m.state for m in messages] == [MessageState.PROCESSED] * 3
    assert submission.inbound_message_id == messages[0].id
    assert messages[0].sender == "anna.berg@exempelbolaget.se"
    assert all(m.moved_at is not None and m.destination == "Processed" for m in messages)
    # The raw message is kept, byte for byte, under its sha256.
    assert (
        env.raw_store.get(messages[0].sha256)
        == (tmp_path / "inbox" / "Processed").joinpath("1-scan.eml").read_bytes()
    )

    # A receipt to Anna naming the form, a "no attachment" to Per, nothing to the auto-reply.
    outbox = env.outbox()
    assert [(m.recipient, m.template) for m in outbox] == [
        ("anna.berg@exempelbolaget.se", "receipt"),
        ("per.ek@byran.se", "no_attachment"),
    ]
    assert display_form_id(SCANS["020-fax-pdf.pdf"]) in outbox[0].body
    assert outbox[0].in_reply_to == f"<{messages[0].message_id}>"
    assert all(m.state is OutboxState.PENDING for m in outbox)

    assert sorted(p.name for p in box.folder_files("Processed")) == [
        "1-scan.eml",
        "2-forgot.eml",
        "3-ooo.eml",
    ]
    assert box.uids() == []
    again = env.run_pass(box)
    assert (again.read, again.processed, again.moved) == (0, 0, 0)
    assert env.count(type(submission)) == 1


def test_the_same_file_twice_makes_one_submission_and_a_note(env: MailEnv, tmp_path: Path) -> None:
    data = scan("012-office-pdf.pdf")
    box = _folder(
        tmp_path,
        {
            "1": message("a@kund.se", "Blankett", [("blankett.pdf", data)]),
            "2": message("b@kund.se", "Blankett igen", [("kopia.pdf", data), ("kopia2.pdf", data)]),
        },
    )
    env.run_pass(box)
    [submission] = env.submissions()
    with Session(env.engine) as session:
        outcomes = session.exec(
            select(InboundAttachment.filename, InboundAttachment.outcome).order_by(
                InboundAttachment.id  # type: ignore[arg-type]
            )
        ).all()
        notes = session.exec(
            select(SubmissionFinding).where(SubmissionFinding.code == "file.resent")
        ).all()
    assert [o for _, o in outcomes] == [
        AttachmentOutcome.QUEUED,
        AttachmentOutcome.DUPLICATE,
        AttachmentOutcome.DUPLICATE,
    ]
    assert len(notes) >= 1 and all(n.submission_id == submission.id for n in notes)
    assert "b@kund.se" in notes[0].message
    second_reply = env.outbox()[1]
    assert second_reply.recipient == "b@kund.se"
    assert "redan" in second_reply.body.lower()


def test_replies_to_one_sender_are_limited_to_one_per_hour(env: MailEnv, tmp_path: Path) -> None:
    box = _folder(
        tmp_path,
        {f"{n}": message("same@kund.se", f"Försök {n}") for n in range(3)},
    )
    env.run_pass(box, now=dt.datetime(2026, 1, 20, 10, 0, tzinfo=dt.UTC))
    states = [m.state for m in env.outbox()]
    assert states == [OutboxState.PENDING, OutboxState.SUPPRESSED, OutboxState.SUPPRESSED]


def test_messages_over_the_caps_are_quarantined_answered_and_kept(
    env: MailEnv, tmp_path: Path
) -> None:
    from dataclasses import replace

    from intake.mail import MailLimits

    env.policy = replace(env.policy, limits=MailLimits(max_bytes=200_000))
    box = _folder(
        tmp_path,
        {
            "big": message("stor@kund.se", "Stor", [("stor.pdf", scan("001-office-pdf.pdf"))]),
            "ok": message("liten@kund.se", "Liten", [("liten.pdf", scan("020-fax-pdf.pdf"))]),
        },
    )
    summary = env.run_pass(box)
    assert summary.quarantined == 1
    big = next(m for m in env.messages() if m.sender == "stor@kund.se")
    assert big.state is MessageState.QUARANTINED and not big.raw_stored
    assert "over the cap" in (big.detail or "")
    assert [p.name for p in box.folder_files("Quarantine")] == ["big.eml"]
    reply = next(m for m in env.outbox() if m.recipient == "stor@kund.se")
    assert reply.template == "message_rejected"
    assert len(env.submissions()) == 1


def _letter_pdf() -> bytes:
    import io

    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    out = io.BytesIO()
    page = canvas.Canvas(out, pagesize=A4)
    page.setFont("Helvetica", 14)
    for line in range(30):
        page.drawString(72, 770 - line * 22, f"Faktura rad {line}: 1 250,00 kr")
    page.save()
    return out.getvalue()


def test_a_pdf_that_is_not_our_form_is_queued_as_unreadable_and_explained(
    env: MailEnv, tmp_path: Path
) -> None:
    box = _folder(
        tmp_path, {"1": message("kund@kund.se", "Faktura", [("faktura.pdf", _letter_pdf())])}
    )
    env.run_pass(box)
    [submission] = env.submissions()
    assert submission.status is SubmissionStatus.UNREADABLE
    [reply] = env.outbox()
    assert reply.template == "receipt"
    assert "Vi hittade ingen av våra blanketter" in reply.body
    assert "fiducial" not in reply.body  # the operator's reason stays out of the customer's mail


def _events(records: list[logging.LogRecord], message_id: str) -> list[logging.LogRecord]:
    return [r for r in records if getattr(r, "message_id", None) == message_id]


def test_a_pass_logs_each_step_of_a_message_by_its_message_id(
    env: MailEnv, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    raw = message(
        "Anna Berg <anna.berg@exempelbolaget.se>",
        "Blankett",
        [("skanning.pdf", scan("020-fax-pdf.pdf")), ("arkiv.zip", zip_of("a.pdf", b"%PDF-1.4"))],
    )
    message_id = BytesParser().parsebytes(raw)["Message-ID"]  # as the operator sees it
    broken = (
        b"From: per.ek@byran.se\r\nMessage-ID: <trasig@byran.se>\r\n"
        b"Content-Type: text/plain\r\nContent-Type: application/pdf\r\n\r\n%PDF-1.4\r\n"
    )
    box = _folder(tmp_path, {"1-scan": raw, "2-broken": broken})
    caplog.set_level(logging.INFO, logger="intake.mail")
    env.run_pass(box)
    [record, _] = env.messages()

    events = _events(caplog.records, message_id)
    assert [vars(e)["event"] for e in events] == [
        "message.recorded",
        "attachment.read",
        "attachment.read",
        "message.processed",
        "reply.queued",
        "message.moved",
    ]
    assert all(e.levelno == logging.INFO and e.name.startswith("intake.mail.") for e in events)
    recorded, scanned, zipped, processed, reply, moved = (vars(e) for e in events)
    assert {k: recorded[k] for k in ("uid", "folder", "uidvalidity", "sha256", "size")} == {
        "uid": record.uid,
        "folder": "INBOX",
        "uidvalidity": record.uidvalidity,
        "sha256": record.sha256,
        "size": len(raw),
    }
    assert recorded["sender"] == "anna.berg@exempelbolaget.se"
    assert (scanned["attachment"], scanned["outcome"], scanned["submissions"]) == (
        "skanning.pdf",
        "queued",
        1,
    )
    assert (zipped["attachment"], zipped["outcome"], zipped["submissions"]) == (
        "arkiv.zip",
        "rejected",
        0,
    )
    assert zipped["reason"] == "a zip archive; archives are never opened"
    assert (processed["state"], processed["submissions"]) == ("processed", 1)
    assert (reply["kind"], reply["to"], reply["state"]) == (
        "receipt",
        "anna.berg@exempelbolaget.se",
        "pending",
    )
    assert (moved["uid"], moved["to_folder"]) == (record.uid, "Processed")
    # The same events as `kopplingar --log-format json` prints them.
    lines = [json.loads(JsonFormatter().format(e)) for e in events]
    assert {line["message_id"] for line in lines} == {message_id}
    assert lines[1]["attachment"] == "skanning.pdf"

    quarantined = _events(caplog.records, "<trasig@byran.se>")
    assert [vars(e)["event"] for e in quarantined] == [
        "message.recorded",
        "message.quarantined",
        "reply.queued",
        "message.moved",
    ]
    warning = quarantined[1]
    assert warning.levelno == logging.WARNING
    assert "contradict" in vars(warning)["reason"]
    assert vars(quarantined[2])["kind"] == "message_rejected"
    assert vars(quarantined[3])["to_folder"] == "Quarantine"
