"""The outbox for people: listing by keyset, counts, Swedish problems, preview, resending.

Every resend is followed by a real delivery pass against the local SMTP relay
(`devkit.localmail`), on SQLite and PostgreSQL, so "back in the outbox" is
proven by the mail really going out, once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from devkit.localmail.smtp import LocalSmtp
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from registry import AuditEvent
from tests.workqueue.test_outbox import FROM, T0, Clock, a_mail, outbox, queue, sender_for
from workqueue import (
    RESEND_ACTION,
    SEND_ANYWAY_ACTION,
    InboundMessage,
    MessageState,
    OutboundMail,
    OutboxState,
    ResendRefused,
    Reviewer,
    ReviewerRole,
    Submission,
    SubmissionStatus,
    deliver_pending,
    mail_history,
    mail_problem_sv,
    outbox_counts,
    outbox_row,
    outbox_rows,
    preview_mail,
    resend_mail,
)

_ids = itertools.count(1)


@pytest.fixture(scope="session")
def smtp_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.getbasetemp() / "localsmtp-outgoing"


@pytest.fixture
def relay(smtp_root: Path) -> Iterator[LocalSmtp]:
    with LocalSmtp(smtp_root) as server:
        yield server


def reviewer(engine: Engine, *, active: bool = True) -> Reviewer:
    with Session(engine, expire_on_commit=False) as session:
        row = Reviewer(
            email=f"greta{next(_ids)}@backoffice.example",
            name="Greta Granskare",
            role=ReviewerRole.REVIEWER,
            password_hash="$argon2id$not-used-here",
            active=active,
        )
        session.add(row)
        session.commit()
        return row


def add(engine: Engine, **changes: Any) -> OutboundMail:
    changes.setdefault("message_id", f"<{next(_ids)}@kopplingar.example.se>")
    with Session(engine, expire_on_commit=False) as session:
        mail = a_mail(**changes)
        session.add(mail)
        session.commit()
        return mail


def resend(engine: Engine, mail_id: int, who: Reviewer, at: dt.datetime = T0) -> OutboundMail:
    assert who.id is not None
    with Session(engine, expire_on_commit=False) as session:
        mail = resend_mail(session, mail_id, reviewer_id=who.id, now=at)
        session.commit()
        return mail


def events(engine: Engine) -> list[AuditEvent]:
    with Session(engine) as session:
        return list(session.exec(select(AuditEvent).order_by(col(AuditEvent.id))).all())


# --- resending ----------------------------------------------------------------------------------


def test_a_failed_mail_goes_back_to_pending_and_the_next_pass_sends_it(
    engine: Engine, relay: LocalSmtp
) -> None:
    queue(engine, "gone@byran.se")
    relay.refuse("gone@byran.se", 550)
    with sender_for(relay) as sender:
        deliver_pending(engine, sender, from_address=FROM, now=Clock(T0 + dt.timedelta(minutes=1)))
    [failed] = outbox(engine)
    assert failed.state is OutboxState.FAILED and failed.id is not None
    assert mail_problem_sv(failed.last_error) == (
        "E-postservern tog inte emot mottagaradressen (kod 550)."
    )
    greta = reviewer(engine)
    at = T0 + dt.timedelta(hours=2)
    back = resend(engine, failed.id, greta, at)
    assert (back.state, back.attempts, back.sent_at, back.last_error) == (
        OutboxState.PENDING,
        0,
        None,
        None,
    )
    assert back.automatic is True  # a retry of the same mail, not a different one
    [event] = events(engine)
    assert event.action == RESEND_ACTION and event.actor == greta.email
    assert event.subject == f"outbound_mail:{failed.id}" and event.at == at
    assert event.before is not None and event.before["state"] == "failed"
    assert event.before["recipient"] == "gone@byran.se"
    assert event.before["attempts"] == 1 and "550" in str(event.before["last_error"])
    assert "Greta Granskare" in event.detail and "gone@byran.se" in event.detail
    relay.accept_all()
    with sender_for(relay) as sender:
        report = deliver_pending(engine, sender, from_address=FROM, now=Clock(at))
    assert report.sent == 1
    [sent] = outbox(engine)
    assert sent.state is OutboxState.SENT and sent.attempts == 1
    assert [m["Message-ID"] for m in relay.messages] == [failed.message_id]
    with Session(engine) as session:
        assert [e.action for e in mail_history(session, failed.id)] == [RESEND_ACTION]


def test_a_suppressed_mail_sent_anyway_is_not_held_back_again(
    engine: Engine, relay: LocalSmtp
) -> None:
    first = queue(engine, "anna@byran.se")
    held = queue(engine, "anna@byran.se", at=T0 + dt.timedelta(minutes=5))
    assert first is not None and held is not None and held.id is not None
    assert held.state is OutboxState.SUPPRESSED
    assert mail_problem_sv(held.last_error) == (
        "Hölls tillbaka: adressen hade redan fått ett automatiskt svar inom en timme."
    )
    clock = Clock(T0 + dt.timedelta(minutes=6))
    with sender_for(relay) as sender:
        deliver_pending(engine, sender, from_address=FROM, now=clock)
    greta = reviewer(engine)
    anyway = resend(engine, held.id, greta, clock.at)
    assert anyway.state is OutboxState.PENDING and anyway.automatic is False
    [event] = events(engine)
    assert event.action == SEND_ANYWAY_ACTION
    assert event.before is not None and event.before["state"] == "suppressed"
    assert event.before["automatic"] is True and event.after == {
        "state": "pending",
        "attempts": 0,
        "automatic": False,
    }
    # The deliverer's own rate check would hold it back again had it stayed automatic.
    with sender_for(relay) as sender:
        report = deliver_pending(engine, sender, from_address=FROM, now=clock)
    assert (report.sent, report.suppressed) == (1, 0)
    assert [m["Message-ID"] for m in relay.messages] == [first.message_id, held.message_id]
    assert "Auto-Submitted" not in relay.messages[1]  # a person chose to send it


@pytest.mark.parametrize(
    ("state", "words"),
    [(OutboxState.SENT, "redan skickat"), (OutboxState.PENDING, "väntar redan")],
)
def test_sent_and_pending_mail_are_not_resent(
    engine: Engine, state: OutboxState, words: str
) -> None:
    mail = add(engine, state=state, attempts=1, sent_at=T0 if state is OutboxState.SENT else None)
    assert mail.id is not None
    before = outbox(engine)
    with pytest.raises(ResendRefused, match=words) as refused:
        resend(engine, mail.id, reviewer(engine))
    assert not refused.value.missing
    assert outbox(engine) == before
    assert events(engine) == []


def test_unknown_mail_and_inactive_reviewer_are_refused(engine: Engine) -> None:
    mail = add(engine, state=OutboxState.FAILED, attempts=5, last_error="recipient refused: 550")
    assert mail.id is not None
    with pytest.raises(ResendRefused) as refused:
        resend(engine, mail.id + 1000, reviewer(engine))
    assert refused.value.missing
    with pytest.raises(ResendRefused, match="aktiv granskare"):
        resend(engine, mail.id, reviewer(engine, active=False))
    assert [m.state for m in outbox(engine)] == [OutboxState.FAILED]
    assert events(engine) == []


def test_a_second_resend_of_the_same_mail_is_refused(engine: Engine) -> None:
    mail = add(engine, state=OutboxState.FAILED, attempts=5, last_error="SMTP server x hung up")
    assert mail.id is not None
    resend(engine, mail.id, reviewer(engine))
    with pytest.raises(ResendRefused, match="väntar redan"):
        resend(engine, mail.id, reviewer(engine))
    assert len(events(engine)) == 1


def test_resend_wants_an_aware_time(engine: Engine) -> None:
    mail = add(engine, state=OutboxState.FAILED)
    assert mail.id is not None
    with pytest.raises(Exception, match="naive"):
        resend(engine, mail.id, reviewer(engine), T0.replace(tzinfo=None))


# --- the listing --------------------------------------------------------------------------------


def test_every_row_once_newest_first_across_pages_and_states(engine: Engine) -> None:
    states = list(OutboxState)
    made = []
    for i in range(23):
        # Pairs share a timestamp, so the id must break the tie exactly.
        at = T0 + dt.timedelta(minutes=i // 2)
        made.append(add(engine, created_at=at, state=states[i % len(states)]))
    expected = sorted(((m.created_at, m.id) for m in made), reverse=True)
    for state in (None, *states):
        want = [k for k in expected if state is None or made_state(made, k[1]) is state]
        seen: list[tuple[dt.datetime, int | None]] = []
        with Session(engine) as session:
            after = None
            while True:
                rows = outbox_rows(session, state=state, after=after, limit=4)
                if not rows:
                    break
                seen += [(r.mail.created_at, r.mail.id) for r in rows]
                after = rows[-1].cursor
        assert seen == want, state


def made_state(made: list[OutboundMail], mail_id: int | None) -> OutboxState:
    return next(m.state for m in made if m.id == mail_id)


def test_counts_per_state_are_capped(engine: Engine) -> None:
    for state, n in ((OutboxState.SENT, 4), (OutboxState.FAILED, 1)):
        for _ in range(n):
            add(engine, state=state)
    with Session(engine) as session:
        assert outbox_counts(session) == {
            OutboxState.PENDING: 0,
            OutboxState.SENT: 4,
            OutboxState.FAILED: 1,
            OutboxState.SUPPRESSED: 0,
        }
        assert outbox_counts(session, cap=2)[OutboxState.SENT] == 3  # "more than 2"


def test_a_row_links_its_submission_or_those_of_the_mail_it_answers(engine: Engine) -> None:
    with Session(engine, expire_on_commit=False) as session:
        message = InboundMessage(
            account="maildir:/srv/mail", folder="INBOX", sha256="a" * 64, size=10,
            state=MessageState.PROCESSED, sender="kund@example.se",
        )  # fmt: skip
        session.add(message)
        session.flush()
        assert message.id is not None
        made = []
        for n in range(2):
            submission = Submission(
                status=SubmissionStatus.QUEUED, source_kind="mail", source_name="scan.pdf",
                source_sha256=hashlib.sha256(bytes([n])).hexdigest(), document_index=n,
                inbound_message_id=message.id,
            )  # fmt: skip
            session.add(submission)
            session.flush()
            made.append(submission.id)
        session.commit()
    receipt = add(engine, template="receipt", inbound_message_id=message.id)
    decision = add(engine, template="rejected", automatic=False, submission_id=made[1])
    lone = add(engine, template="no_attachment")
    with Session(engine) as session:
        rows = {r.mail.id: r for r in outbox_rows(session)}
        single = outbox_row(session, decision.id or 0)
    assert rows[receipt.id].submissions == tuple(made)
    assert rows[receipt.id].kind == "Mottagningskvitto"
    assert rows[decision.id].submissions == (made[1],)
    assert rows[decision.id].kind == "Beslut: avslag"
    assert rows[lone.id].submissions == ()
    assert single is not None and single.submissions == (made[1],)


@pytest.mark.parametrize(
    ("stored", "said"),
    [
        (None, None),
        (
            "global rate limit: 30 automatic mails in the last hour, the cap is 30",
            "taket för automatiska svar",
        ),
        ("sender kopplingar@example.se refused: 553 5.1.3 nope", "avsändaradress (kod 553)"),
        ("message refused: 552 5.3.4 Message too big", "meddelandet (kod 552)"),
        ("SMTP server mail:587 does not offer STARTTLS", "krypterad förbindelse"),
        ("cannot talk to SMTP server mail:587: ConnectionRefusedError", "gick inte att nå"),
        ("outbound mail 7: cannot build the message: header", "gick inte att bygga"),
        ("something new <script>", "Mejlet kunde inte skickas."),
    ],
)
def test_problems_read_in_swedish_without_the_servers_words(
    stored: str | None, said: str | None
) -> None:
    text = mail_problem_sv(stored)
    if said is None:
        assert text is None
        return
    assert text is not None and said in text
    assert "<script>" not in text and "refused" not in text


# --- the preview --------------------------------------------------------------------------------


def test_the_preview_is_what_the_relay_receives(engine: Engine, relay: LocalSmtp) -> None:
    mail = queue(engine, "anna@byran.se", in_reply_to="<orig.1@kund.se>")
    assert mail is not None
    preview = preview_mail(mail, sender=FROM)
    with sender_for(relay) as sender:
        deliver_pending(engine, sender, from_address=FROM, now=Clock())
    [got] = relay.messages
    headers = dict(preview.headers)
    for name in ("From", "To", "Subject", "Message-ID", "In-Reply-To", "Date"):
        assert headers[name] == str(got[name]), name
    assert preview.body == got.get_content() == mail.body
    assert preview.attachments == [] and preview.problem is None


def test_a_row_that_cannot_be_built_is_previewed_from_what_is_stored() -> None:
    broken = a_mail(id=9, subject="Hej\r\nBcc: evil@example.com")
    preview = preview_mail(broken, sender=FROM)
    assert preview.problem is not None and "cannot build" in preview.problem
    assert ("Subject", broken.subject) in preview.headers
    assert preview.body == broken.body
