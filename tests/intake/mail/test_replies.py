"""Automatic replies as a spam channel: nothing the sender wrote is quoted, and all are capped.

A real mailbox pass over a local folder (SQLite and PostgreSQL, the real
reader in this process) with a hostile subject and hostile file names, as a
forged From would bring them: the receipt, the "no attachment" reply and the
"could not be handled" reply must not carry any of it, in the body or the
Subject, and must still answer In-Reply-To. Then many forged senders at
once: the cap on all automatic replies per hour holds across addresses.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import replace
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from intake.mail import FolderMailbox, MailLimits
from samples.mail.payloads import tiny_png, zip_of
from tests.intake.mailenv import SCANS, MailEnv, make_env, message, scan
from workqueue import OutboundMail, OutboxState, message_reference

SPAM = "Vinn pengar http://evil.example"
NOW = dt.datetime(2026, 1, 20, 10, 0, tzinfo=dt.UTC)


@pytest.fixture
def env(engine: Engine, tmp_path: Path) -> MailEnv:
    return make_env(engine, tmp_path)


def _folder(tmp_path: Path, mails: dict[str, bytes]) -> FolderMailbox:
    inbox = tmp_path / "inbox"
    inbox.mkdir(parents=True)
    for name, raw in mails.items():
        (inbox / f"{name}.eml").write_bytes(raw)
    box = FolderMailbox(inbox)
    box.open()
    return box


def _with_zip(sender: str, subject: str, name: str) -> bytes:
    """A mail with one scan-sized JPEG and a zip, both named by the sender."""
    msg = message_from_bytes(message(sender, subject), policy=policy.default)
    assert isinstance(msg, EmailMessage)
    msg.add_attachment(tiny_png(), maintype="image", subtype="png", filename=f"{SPAM}.png")
    msg.add_attachment(zip_of("a.txt", b"x"), maintype="application", subtype="zip", filename=name)
    return bytes(msg)


def _quotes_sender(text: str) -> bool:
    return "evil" in text.lower() or "vinn pengar" in text.lower()


def test_replies_quote_neither_the_subject_nor_a_file_name(env: MailEnv, tmp_path: Path) -> None:
    pdf_name = f"{SPAM} ring 0900-123456.pdf"
    box = _folder(
        tmp_path,
        {
            "1-scan": message(
                "offer@victim.example",
                SPAM,
                [(pdf_name, scan("020-fax-pdf.pdf")), (f"{SPAM}.jpg", tiny_png())],
            ),
            "2-empty": message("second@victim.example", SPAM),
            "3-zip": _with_zip("third@victim.example", SPAM, f"{SPAM}.zip"),
        },
    )
    env.run_pass(box, now=NOW)

    replies = {m.recipient: m for m in env.outbox()}
    assert set(replies) == {"offer@victim.example", "second@victim.example", "third@victim.example"}
    receipt = replies["offer@victim.example"]
    assert receipt.template == "receipt"
    assert replies["second@victim.example"].template == "no_attachment"
    assert replies["third@victim.example"].template == "receipt"
    records = {m.sender: m for m in env.messages()}
    for address, mail in replies.items():
        assert not _quotes_sender(mail.subject), mail.subject
        assert not _quotes_sender(mail.body), mail.body
        assert "0900" not in mail.body
        record = records[address]
        assert record.id is not None
        reference = message_reference(record.id)
        assert reference in mail.subject and reference in mail.body
        assert mail.in_reply_to == f"<{record.message_id}>"  # the thread is kept
    # The receipt still says what became of each file, by its number and type.
    assert "Bilaga 1 (PDF)" in receipt.body
    assert re.search(r"blankett-id " + SCANS["020-fax-pdf.pdf"][:4], receipt.body)
    assert "Det hade 2 bifogade filer" in receipt.body
    assert "Bilaga 2 (zip-fil)" in replies["third@victim.example"].body


def test_the_message_rejected_reply_quotes_nothing_either(env: MailEnv, tmp_path: Path) -> None:
    env.policy = replace(env.policy, limits=MailLimits(max_attachments=1))
    box = _folder(
        tmp_path,
        {
            "many": message(
                "many@victim.example",
                SPAM,
                [(f"{SPAM}-1.jpg", tiny_png()), (f"{SPAM}-2.jpg", scan("020-fax-pdf.pdf"))],
            )
        },
    )
    env.run_pass(box, now=NOW)
    [reply] = env.outbox()
    assert reply.template == "message_rejected"
    assert not _quotes_sender(reply.subject) and not _quotes_sender(reply.body)
    [record] = env.messages()
    assert record.id is not None and message_reference(record.id) in reply.subject
    assert "fler än 1 bilagor" in reply.body  # our reason is still given


def test_automatic_replies_are_capped_per_hour_across_all_addresses(
    env: MailEnv, tmp_path: Path
) -> None:
    env.policy = replace(env.policy, reply_max_per_hour=3)
    with Session(env.engine) as session:
        # Older than an hour, or not automatic: neither counts against the cap.
        for n, (at, automatic) in enumerate(
            [(NOW - dt.timedelta(minutes=61), True), (NOW - dt.timedelta(minutes=5), False)]
        ):
            session.add(
                OutboundMail(
                    created_at=at, template="no_attachment", automatic=automatic,
                    recipient=f"earlier{n}@kund.se", message_id=f"<earlier{n}@kopplingar>",
                    subject="Ingen blankett bifogad", body="Hej!\n", state=OutboxState.SENT,
                )
            )  # fmt: skip
        session.commit()
    box = _folder(
        tmp_path, {f"{n:02d}": message(f"forged{n}@victim{n}.example", SPAM) for n in range(7)}
    )
    env.run_pass(box, now=NOW)
    replies = [m for m in env.outbox() if m.recipient.startswith("forged")]
    assert len(replies) == 7  # one stored per message, each to a different address
    states = [m.state for m in replies]
    assert states.count(OutboxState.PENDING) == 3
    assert states.count(OutboxState.SUPPRESSED) == 4
    for mail in replies:
        if mail.state is OutboxState.SUPPRESSED:
            assert mail.last_error is not None and "global rate limit" in mail.last_error
            assert "the cap is 3" in mail.last_error

    # An hour later the cap has room again.
    later = _folder(tmp_path / "later", {"x": message("late@victim.example", SPAM)})
    env.run_pass(later, now=NOW + dt.timedelta(minutes=61))
    [late] = [m for m in env.outbox() if m.recipient == "late@victim.example"]
    assert late.state is OutboxState.PENDING


def test_a_cap_of_zero_sends_no_automatic_reply(env: MailEnv, tmp_path: Path) -> None:
    env.policy = replace(env.policy, reply_max_per_hour=0)
    env.run_pass(_folder(tmp_path, {"1": message("a@kund.se", "Hej")}), now=NOW)
    [reply] = env.outbox()
    assert reply.state is OutboxState.SUPPRESSED
