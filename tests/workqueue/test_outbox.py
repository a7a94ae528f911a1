"""The outbox: queueing with the per-address limit, building safe messages, delivering once.

Delivery runs against the real local SMTP relay over verified STARTTLS, on
SQLite and PostgreSQL (the `engine` fixture).
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator, Mapping
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from devkit.localmail.smtp import ALL, LocalSmtp
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from registry import make_engine
from workqueue import OutboundMail, OutboxState, SmtpConfig, SmtpConfigError, SmtpSender
from workqueue.outbox import (
    OutboxError,
    build_message,
    clean_message_id,
    deliver_pending,
    deliverable_address,
    queue_mail,
)

T0 = dt.datetime(2025, 3, 3, 9, 0, tzinfo=dt.UTC)
DOMAIN = "kopplingar.example.se"
FROM = "kopplingar@example.se"
CONTEXT = {
    "reference": "M-7",
    "received_at": T0,
    "mailbox": "kopplingar@example.se",
    "form_url": "https://kopplingar.example.se/blanketter",
}


class Clock:
    def __init__(self, at: dt.datetime = T0) -> None:
        self.at = at

    def __call__(self) -> dt.datetime:
        return self.at


@pytest.fixture(scope="session")
def smtp_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.getbasetemp() / "localsmtp"


@pytest.fixture
def relay(smtp_root: Path) -> Iterator[LocalSmtp]:
    with LocalSmtp(smtp_root) as server:
        yield server


def queue(
    engine: Engine,
    to: str,
    *,
    at: dt.datetime = T0,
    automatic: bool = True,
    template: str = "no_attachment",
    context: Mapping[str, object] | None = None,
    in_reply_to: str | None = None,
) -> OutboundMail | None:
    with Session(engine, expire_on_commit=False) as session:
        mail = queue_mail(
            session,
            to=to,
            template=template,
            context=CONTEXT if context is None else context,
            sender_domain=DOMAIN,
            now=at,
            automatic=automatic,
            in_reply_to=in_reply_to,
        )
        session.commit()
        return mail


def outbox(engine: Engine) -> list[OutboundMail]:
    with Session(engine) as session:
        return list(session.exec(select(OutboundMail).order_by(col(OutboundMail.id))).all())


def a_mail(**changes: Any) -> OutboundMail:
    values: dict[str, Any] = {
        "created_at": T0,
        "template": "no_attachment",
        "automatic": True,
        "recipient": "kund@example.se",
        "message_id": "<1.2.3@kopplingar.example.se>",
        "subject": "Ingen blankett bifogad",
        "body": "Hej!\n\nÅ ä ö – blankett.\n",
        "state": OutboxState.PENDING,
    } | changes
    return OutboundMail(**values)


# --- queue_mail ---------------------------------------------------------------


def test_queue_mail_renders_and_stores_what_will_be_sent(engine: Engine) -> None:
    mail = queue(engine, "Anna.Berg@Byran.SE", in_reply_to="<abc.123@kund.example.se>")
    assert mail is not None
    [row] = outbox(engine)
    assert row.recipient == "anna.berg@byran.se"
    assert row.state is OutboxState.PENDING
    assert row.created_at == T0
    assert row.template == "no_attachment"
    assert row.subject == "Ingen blankett bifogad (M-7)"
    assert "https://kopplingar.example.se/blanketter" in row.body
    assert row.message_id.startswith("<") and row.message_id.endswith(f"@{DOMAIN}>")
    assert row.in_reply_to == "<abc.123@kund.example.se>"
    assert row.attempts == 0 and row.sent_at is None


NOT_ONE_ADDRESS = [
    "",
    "inte en adress",
    "anna@byran.se, bo@byran.se",
    "anna@byran.se;bo@byran.se",
    "anna@byran.se\r\nBcc: evil@example.com",
    "anna@byran.se\n",
    " anna@byran.se",
    "Anna Berg <anna@byran.se>",
    '"anna"@byran.se',
    "anna@byran",
    "anna@@byran.se",
    "anna@byran.se\x00",
    "anna@byran.se\u2028",
]


@pytest.mark.parametrize("to", NOT_ONE_ADDRESS)
def test_only_one_plain_address_is_deliverable(to: str) -> None:
    assert deliverable_address(to) is None


def test_deliverable_address_is_lower_case() -> None:
    assert deliverable_address("Anna.Berg+kopplingar@Byran.SE") == "anna.berg+kopplingar@byran.se"


def test_queue_mail_stores_nothing_for_what_is_not_one_address(engine: Engine) -> None:
    for to in NOT_ONE_ADDRESS:
        assert queue(engine, to) is None
    assert outbox(engine) == []


def test_automatic_mail_is_limited_per_address_within_the_interval(engine: Engine) -> None:
    first = queue(engine, "anna@byran.se")
    again = queue(engine, "ANNA@byran.se", at=T0 + dt.timedelta(minutes=59))
    other = queue(engine, "bo@byran.se", at=T0 + dt.timedelta(minutes=59))
    manual = queue(engine, "anna@byran.se", at=T0 + dt.timedelta(minutes=59), automatic=False)
    later = queue(engine, "anna@byran.se", at=T0 + dt.timedelta(hours=1, seconds=1))
    assert first and again and other and manual and later
    states = {m.id: m.state for m in outbox(engine)}
    assert states[first.id] is OutboxState.PENDING
    assert states[again.id] is OutboxState.SUPPRESSED
    assert states[other.id] is OutboxState.PENDING
    assert states[manual.id] is OutboxState.PENDING
    assert states[later.id] is OutboxState.PENDING
    assert again.last_error is not None and "rate limit" in again.last_error


def test_only_pending_or_sent_mail_counts_towards_the_limit(engine: Engine) -> None:
    with Session(engine) as session:
        session.add(a_mail(recipient="anna@byran.se", state=OutboxState.FAILED))
        session.add(
            a_mail(recipient="anna@byran.se", state=OutboxState.SUPPRESSED, message_id="<2@x>")
        )
        session.add(a_mail(recipient="bo@byran.se", state=OutboxState.SENT, message_id="<3@x>"))
        session.commit()
    anna = queue(engine, "anna@byran.se", at=T0 + dt.timedelta(minutes=5))
    bo = queue(engine, "bo@byran.se", at=T0 + dt.timedelta(minutes=5))
    assert anna is not None and anna.state is OutboxState.PENDING
    assert bo is not None and bo.state is OutboxState.SUPPRESSED


def test_two_mails_in_one_session_see_each_other(engine: Engine) -> None:
    with Session(engine) as session:
        first, second = (
            queue_mail(
                session,
                to="anna@byran.se",
                template="no_attachment",
                context=CONTEXT,
                sender_domain=DOMAIN,
                now=T0,
            )
            for _ in range(2)
        )
        assert first is not None and second is not None
        assert (first.state, second.state) == (OutboxState.PENDING, OutboxState.SUPPRESSED)
        assert first.message_id != second.message_id
        session.commit()


@pytest.mark.parametrize(
    "value",
    ["<a@b>\r\nBcc: evil@example.com", "a@b", "<a b@c>", "<a@b><c@d>", "<" + "x" * 500 + ">", ""],
)
def test_a_hostile_or_broken_message_id_is_not_referred_to(value: str) -> None:
    assert clean_message_id(value) is None


def test_clean_message_id_keeps_a_good_one() -> None:
    assert clean_message_id(" <a.1@b.se> ") == "<a.1@b.se>"


def test_queue_mail_wants_an_aware_time_and_a_domain() -> None:
    with Session() as session:  # refused before the database is asked
        with pytest.raises(OutboxError, match="aware"):
            queue_mail(
                session,
                to="anna@byran.se",
                template="no_attachment",
                context=CONTEXT,
                sender_domain=DOMAIN,
                now=dt.datetime(2025, 3, 3, 9, 0),
            )
        with pytest.raises(OutboxError, match="domain"):
            queue_mail(
                session,
                to="anna@byran.se",
                template="no_attachment",
                context=CONTEXT,
                sender_domain="example.se>\r\nBcc: x",
                now=T0,
            )


# --- build_message ------------------------------------------------------------


def parsed(message: EmailMessage) -> EmailMessage:
    raw = message.as_bytes()
    assert raw.isascii()  # 7-bit: quoted-printable body, encoded-word subject
    result = message_from_bytes(raw.replace(b"\r\n", b"\n"), policy=policy.default)
    assert isinstance(result, EmailMessage)
    return result


def test_build_message_headers_of_an_automatic_reply() -> None:
    mail = a_mail(in_reply_to="<abc.123@kund.example.se>", subject="Vi har tagit emot ditt mejl: Å")
    msg = parsed(build_message(mail, sender=FROM, sender_name="Kundservice, kopplingar"))
    assert msg["From"].addresses[0].addr_spec == FROM
    assert msg["From"].addresses[0].display_name == "Kundservice, kopplingar"
    assert str(msg["To"]) == "kund@example.se"
    assert msg["Subject"] == "Vi har tagit emot ditt mejl: Å"
    assert msg["Message-ID"] == "<1.2.3@kopplingar.example.se>"
    assert msg["In-Reply-To"] == msg["References"] == "<abc.123@kund.example.se>"
    assert msg["Auto-Submitted"] == "auto-replied"
    assert msg["X-Auto-Response-Suppress"] == "All"
    assert msg["Date"].datetime == T0
    assert msg.get_content_type() == "text/plain"
    assert msg.get_content_charset() == "utf-8"
    assert msg.get_content() == "Hej!\n\nÅ ä ö – blankett.\n"


def test_auto_submitted_depends_on_what_the_mail_is() -> None:
    generated = build_message(a_mail(), sender=FROM)
    assert generated["Auto-Submitted"] == "auto-generated"
    assert "In-Reply-To" not in generated
    manual = build_message(a_mail(automatic=False), sender=FROM)
    assert "Auto-Submitted" not in manual
    assert manual["X-Auto-Response-Suppress"] == "All"


@pytest.mark.parametrize(
    "changes",
    [
        {"subject": "Hej\r\nBcc: evil@example.com"},
        {"subject": "Hej\nBcc: evil@example.com"},
        {"recipient": "kund@example.se\r\nBcc: evil@example.com"},
        {"recipient": "kund@example.se, evil@example.com"},
        {"in_reply_to": "<a@b>\r\nBcc: evil@example.com"},
        {"message_id": "<1@x>\r\nBcc: evil@example.com"},
    ],
)
def test_build_message_refuses_a_header_injection(changes: dict[str, object]) -> None:
    with pytest.raises(OutboxError):
        build_message(a_mail(**changes), sender=FROM)


def test_build_message_refuses_a_bad_sender() -> None:
    with pytest.raises(OutboxError):
        build_message(a_mail(), sender="kopplingar@example.se\r\nBcc: evil@example.com")


def test_hostile_context_never_becomes_a_header(engine: Engine) -> None:
    hostile = dict(CONTEXT, reference="Hej\r\nBcc: evil@example.com\r\n\r\nbody")
    mail = queue(
        engine, "anna@byran.se", context=hostile, in_reply_to="<a@b>\r\nBcc: evil@example.com"
    )
    assert mail is not None and mail.in_reply_to is None
    msg = parsed(build_message(mail, sender=FROM))
    assert "Bcc" not in msg
    assert sorted(msg.keys()) == sorted(
        [
            "From", "To", "Subject", "Date", "Message-ID", "Auto-Submitted",
            "X-Auto-Response-Suppress", "MIME-Version", "Content-Type",
            "Content-Transfer-Encoding",
        ]
    )  # fmt: skip
    assert "\n" not in msg["Subject"] and "\r" not in msg["Subject"]


# --- deliver_pending ----------------------------------------------------------


def sender_for(relay: LocalSmtp) -> SmtpSender:
    return SmtpSender(relay.config())


def test_deliver_pending_sends_oldest_first_with_the_right_headers(
    engine: Engine, relay: LocalSmtp
) -> None:
    for minute, to in enumerate(["c@byran.se", "a@byran.se", "b@byran.se"]):
        queue(engine, to, at=T0 + dt.timedelta(minutes=minute), in_reply_to=f"<m{minute}@kund.se>")
    clock = Clock(T0 + dt.timedelta(minutes=5))
    with sender_for(relay) as sender:
        report = deliver_pending(engine, sender, from_address=FROM, now=clock)
    assert (report.sent, report.failed, report.deferred, report.suppressed) == (3, 0, 0, 0)
    received = relay.received
    assert [r.rcpt_tos for r in received] == [("c@byran.se",), ("a@byran.se",), ("b@byran.se",)]
    rows = outbox(engine)
    for row, got in zip(rows, received, strict=True):
        assert row.state is OutboxState.SENT and row.sent_at == clock.at and row.attempts == 1
        assert got.mail_from == FROM
        assert got.message["Message-ID"] == row.message_id
        assert got.message["Subject"] == row.subject
        assert got.message["In-Reply-To"] == row.in_reply_to
        assert got.message["Auto-Submitted"] == "auto-replied"
        assert got.message.get_content() == row.body
        assert "förifylld blankett" in got.message.get_content()
    with sender_for(relay) as sender:
        again = deliver_pending(engine, sender, from_address=FROM, now=clock)
    assert again.sent == 0 and len(relay.messages) == 3


def test_server_down_defers_then_the_next_round_sends(engine: Engine, relay: LocalSmtp) -> None:
    queue(engine, "a@byran.se")
    queue(engine, "b@byran.se", at=T0 + dt.timedelta(seconds=1))
    relay.stop()
    clock = Clock(T0 + dt.timedelta(minutes=1))
    with sender_for(relay) as sender:
        report = deliver_pending(engine, sender, from_address=FROM, now=clock)
    assert (report.sent, report.deferred) == (0, 1)  # stopped after the first failure
    first, second = outbox(engine)
    assert first.state is OutboxState.PENDING and first.attempts == 1 and first.last_error
    assert first.sent_at is None
    assert second.attempts == 0
    relay.start()
    clock.at += dt.timedelta(minutes=1)
    with sender_for(relay) as sender:
        report = deliver_pending(engine, sender, from_address=FROM, now=clock)
    assert (report.sent, report.deferred) == (2, 0)
    assert [m.state for m in outbox(engine)] == [OutboxState.SENT, OutboxState.SENT]
    assert outbox(engine)[0].attempts == 2
    assert len(relay.messages) == 2


def test_a_mail_fails_after_max_attempts(engine: Engine, relay: LocalSmtp) -> None:
    queue(engine, "a@byran.se")
    relay.refuse(ALL, 451)
    for expected in (OutboxState.PENDING, OutboxState.FAILED):
        with sender_for(relay) as sender:
            report = deliver_pending(engine, sender, from_address=FROM, now=Clock(), max_attempts=2)
        [row] = outbox(engine)
        assert row.state is expected
    assert report.failed == 1
    assert row.attempts == 2 and row.last_error is not None and "451" in row.last_error
    assert relay.messages == []


def test_a_permanent_refusal_fails_that_mail_and_the_rest_go_out(
    engine: Engine, relay: LocalSmtp
) -> None:
    queue(engine, "gone@byran.se")
    queue(engine, "here@byran.se", at=T0 + dt.timedelta(seconds=1))
    relay.refuse("gone@byran.se", 550)
    with sender_for(relay) as sender:
        report = deliver_pending(engine, sender, from_address=FROM, now=Clock())
    assert (report.sent, report.failed) == (1, 1)
    gone, here = outbox(engine)
    assert gone.state is OutboxState.FAILED and gone.last_error and "550" in gone.last_error
    assert here.state is OutboxState.SENT
    assert [r.rcpt_tos for r in relay.received] == [("here@byran.se",)]


def test_a_corrupted_row_fails_without_stopping_the_round(engine: Engine, relay: LocalSmtp) -> None:
    with Session(engine) as session:
        session.add(a_mail(subject="Hej\r\nBcc: evil@example.com", message_id="<1@x>"))
        session.add(a_mail(recipient="b@byran.se", message_id="<2@x>", automatic=False))
        session.commit()
    with sender_for(relay) as sender:
        report = deliver_pending(engine, sender, from_address=FROM, now=Clock())
    assert (report.sent, report.failed) == (1, 1)
    assert [m.state for m in outbox(engine)] == [OutboxState.FAILED, OutboxState.SENT]
    assert [r.rcpt_tos for r in relay.received] == [("b@byran.se",)]


def test_wrong_credentials_raise_and_leave_the_mail_pending(
    engine: Engine, smtp_root: Path
) -> None:
    queue(engine, "a@byran.se")
    with LocalSmtp(smtp_root, credentials=("kopplingar", "ratt")) as server:
        config = server.config()
        wrong = SmtpConfig(
            host=config.host, port=config.port, username="kopplingar", password="fel",
            ca_file=config.ca_file, local_hostname="localhost",
        )  # fmt: skip
        with SmtpSender(wrong) as sender, pytest.raises(SmtpConfigError):
            deliver_pending(engine, sender, from_address=FROM, now=Clock())
        [row] = outbox(engine)
        assert (row.state, row.attempts, row.sent_at) == (OutboxState.PENDING, 0, None)
        with SmtpSender(config) as sender:
            assert deliver_pending(engine, sender, from_address=FROM, now=Clock()).sent == 1


def test_the_limit_is_checked_again_before_sending(engine: Engine, relay: LocalSmtp) -> None:
    # Two processes queued a receipt to the same address at the same moment.
    with Session(engine) as session:
        session.add(a_mail(recipient="a@byran.se", message_id="<1@x>"))
        session.add(a_mail(recipient="a@byran.se", message_id="<2@x>"))
        session.add(a_mail(recipient="a@byran.se", message_id="<3@x>", automatic=False))
        session.commit()
    with sender_for(relay) as sender:
        report = deliver_pending(engine, sender, from_address=FROM, now=Clock())
    assert (report.sent, report.suppressed) == (2, 1)
    assert [m.state for m in outbox(engine)] == [
        OutboxState.SENT,
        OutboxState.SUPPRESSED,
        OutboxState.SENT,
    ]


def test_a_claimed_mail_is_left_alone_until_its_claim_is_stale(
    engine: Engine, relay: LocalSmtp
) -> None:
    with Session(engine) as session:
        # Another deliverer claimed this a minute ago and is sending it now.
        session.add(a_mail(sent_at=T0 - dt.timedelta(minutes=1)))
        session.commit()
    with sender_for(relay) as sender:
        assert deliver_pending(engine, sender, from_address=FROM, now=Clock()).sent == 0
        # That deliverer died: after the lease the mail goes out (at least once).
        late = Clock(T0 + dt.timedelta(minutes=30))
        assert deliver_pending(engine, sender, from_address=FROM, now=late).sent == 1
    assert len(relay.messages) == 1


def test_limit_caps_one_round(engine: Engine, relay: LocalSmtp) -> None:
    for i in range(3):
        queue(engine, f"k{i}@byran.se")
    with sender_for(relay) as sender:
        assert deliver_pending(engine, sender, from_address=FROM, now=Clock(), limit=2).sent == 2
    assert [m.state for m in outbox(engine)].count(OutboxState.PENDING) == 1


class SlowSender(SmtpSender):
    """The real sender, slowed down so that two deliverers overlap for certain."""

    def send(self, message: EmailMessage) -> None:
        threading.Event().wait(0.01)
        super().send(message)


def test_two_deliverers_at_once_send_each_mail_once(engine: Engine, relay: LocalSmtp) -> None:
    count = 24
    with Session(engine) as session:
        for i in range(count):
            session.add(
                a_mail(
                    recipient=f"k{i}@byran.se",
                    message_id=f"<{i}@x>",
                    created_at=T0 + dt.timedelta(seconds=i),
                )
            )
        session.commit()
    url = engine.url.render_as_string(hide_password=False)
    start = threading.Barrier(2)
    reports = []
    errors: list[BaseException] = []

    def deliverer() -> None:
        own = make_engine(url)  # as a second process would have
        try:
            with SlowSender(relay.config()) as sender:
                start.wait()
                reports.append(deliver_pending(own, sender, from_address=FROM, now=Clock()))
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)
        finally:
            own.dispose()

    threads = [threading.Thread(target=deliverer) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    ids = [m["Message-ID"] for m in relay.messages]
    assert sorted(ids) == sorted(f"<{i}@x>" for i in range(count))  # each exactly once
    assert sum(r.sent for r in reports) == count
    assert all(r.sent > 0 for r in reports)  # both really took part
    with Session(engine) as session:
        states = session.exec(select(OutboundMail.state)).all()
        assert set(states) == {OutboxState.SENT}
        assert session.exec(select(sa.func.max(OutboundMail.attempts))).one() == 1
