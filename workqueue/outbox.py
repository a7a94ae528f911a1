"""The outbox: mail is rendered and stored with what caused it, and sent after the commit.

`queue_mail` renders a template at once and adds an `OutboundMail` row to the
caller's session, so what is stored is exactly what is sent, and a crash
between the commit and the send only delays the mail. It refuses anything
that is not one deliverable address, and holds back automatic mail to an
address that already got one within `min_interval` (the row is kept as
SUPPRESSED, to show why nothing went out).

`build_message` makes the `EmailMessage`. Headers go through the `email`
package's strict policy, so a CR or LF in a subject or address raises
instead of starting a header of its own; queue_mail already cleaned both,
this is the second wall.

`deliver_pending` sends what is pending, oldest first, one commit per mail.
Two deliverers may run at once (overlapping cron runs): a deliverer first
claims a mail with a conditional UPDATE that only one of them can win, on
SQLite and PostgreSQL alike, and no transaction stays open while the SMTP
server is talked to. While a mail is PENDING its `sent_at` holds when it was
claimed; a claim older than `CLAIM_LEASE` (the deliverer died mid-send) is
taken over, so a mail is sent at least once and, short of such a crash,
exactly once. The rate limit is checked again before sending, which catches
two automatic mails queued at the same moment by two processes.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

import sqlalchemy as sa
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from forms import InvalidValue, parse_email
from render import render_mail
from workqueue.errors import QueueError
from workqueue.mailmodels import OutboundMail, OutboxState
from workqueue.smtp import SmtpConfigError, SmtpRejected, SmtpSender, SmtpUnavailable

log = logging.getLogger(__name__)

CLAIM_LEASE = dt.timedelta(minutes=15)  # far longer than one send can take with SMTP timeouts
RATE_LIMIT = dt.timedelta(hours=1)

# Printable ASCII without "<" and ">", inside angle brackets: the shape of a Message-ID.
_MESSAGE_ID = re.compile(r"^<[!-;=?-~]{1,400}>$")
_DOMAIN = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$")
_NOT_IN_ADDRESS = frozenset(',;:<>()[]"\\')
_ERROR_TEXT = 500


class OutboxError(QueueError):
    """A mail cannot be queued or built as given (a caller's mistake or a corrupted row)."""


@dataclass
class DeliveryReport:
    sent: int = 0
    failed: int = 0
    deferred: int = 0
    suppressed: int = 0


def deliverable_address(value: str) -> str | None:
    """`value` as one plain lower-case address, or None when it is anything else."""
    if any(ch in _NOT_IN_ADDRESS or ch.isspace() or not ch.isprintable() for ch in value):
        return None
    try:
        address = parse_email(value)
        # What the header parser accepts, too, so build_message never trips over it.
        Address(addr_spec=address)
    except (InvalidValue, ValueError, IndexError):
        return None
    return address.lower()


def clean_message_id(value: str | None) -> str | None:
    """A Message-ID we can refer to in In-Reply-To, or None (hostile or broken ids are dropped)."""
    if value is None:
        return None
    value = value.strip()
    return value if _MESSAGE_ID.match(value) else None



def reply_reference(stored: str | None) -> str | None:
    """The In-Reply-To form (`<id>`) of a Message-ID as the mailbox stores it: the intake
    keeps ids without their angle brackets, and an id without them is dropped here."""
    if not stored:
        return None
    stored = stored.strip()
    return clean_message_id(stored if stored.startswith("<") else f"<{stored}>")

def _aware(at: dt.datetime, what: str) -> dt.datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise OutboxError(f"{what} must be an aware datetime, got {at!r}")
    return at


def _recent_automatic(
    session: Session,
    recipient: str,
    since: dt.datetime,
    *,
    states: tuple[OutboxState, ...],
    until: dt.datetime | None = None,
    other_than: int | None = None,
) -> OutboundMail | None:
    query = select(OutboundMail).where(
        col(OutboundMail.recipient) == recipient,
        col(OutboundMail.automatic).is_(True),
        col(OutboundMail.state).in_(states),
        col(OutboundMail.created_at) > since,
    )
    if until is not None:
        query = query.where(col(OutboundMail.created_at) <= until)
    if other_than is not None:
        query = query.where(col(OutboundMail.id) != other_than)
    return session.exec(query.order_by(col(OutboundMail.created_at).desc()).limit(1)).first()


def queue_mail(
    session: Session,
    *,
    to: str,
    template: str,
    context: Mapping[str, object],
    sender_domain: str,
    now: dt.datetime,
    automatic: bool = True,
    in_reply_to: str | None = None,
    inbound_message_id: int | None = None,
    submission_id: int | None = None,
    min_interval: dt.timedelta = RATE_LIMIT,
) -> OutboundMail | None:
    """Render `template` and add the mail to `session` (the caller commits).

    None, with nothing stored, when `to` is not one deliverable address.
    An automatic mail to an address that got an automatic mail (pending or
    sent) within `min_interval` is stored as SUPPRESSED.
    """
    _aware(now, "now")
    if not _DOMAIN.match(sender_domain):
        raise OutboxError(f"sender domain {sender_domain!r} is not a domain name")
    recipient = deliverable_address(to)
    if recipient is None:
        return None
    rendered = render_mail(template, context)
    state, reason = OutboxState.PENDING, None
    if automatic:
        earlier = _recent_automatic(
            session,
            recipient,
            now - min_interval,
            states=(OutboxState.PENDING, OutboxState.SENT),
        )
        if earlier is not None:
            state = OutboxState.SUPPRESSED
            reason = (
                "rate limit: an automatic mail to this address was queued at "
                f"{earlier.created_at.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC"
            )
    mail = OutboundMail(
        created_at=now,
        template=template,
        automatic=automatic,
        recipient=recipient,
        message_id=make_msgid(domain=sender_domain),
        in_reply_to=clean_message_id(in_reply_to),
        subject=rendered.subject,
        body=rendered.body,
        state=state,
        last_error=reason,
        inbound_message_id=inbound_message_id,
        submission_id=submission_id,
    )
    session.add(mail)
    return mail


def build_message(
    mail: OutboundMail, *, sender: str, sender_name: str = "kopplingar"
) -> EmailMessage:
    """The message to send for `mail`, from `sender`; raises `OutboxError` for a bad header."""
    if deliverable_address(mail.recipient) is None:
        raise OutboxError(f"outbound mail {mail.id}: {mail.recipient!r} is not one address")
    if mail.in_reply_to is not None and clean_message_id(mail.in_reply_to) is None:
        raise OutboxError(f"outbound mail {mail.id}: In-Reply-To {mail.in_reply_to!r} refused")
    message = EmailMessage(policy=policy.SMTP)
    try:
        # policy.SMTP refuses CR and LF in every header value (ValueError).
        message["From"] = Address(display_name=sender_name, addr_spec=sender)
        message["To"] = Address(addr_spec=mail.recipient)
        message["Subject"] = mail.subject
        message["Date"] = format_datetime(_aware(mail.created_at, "created_at"))
        message["Message-ID"] = mail.message_id
        if mail.in_reply_to is not None:
            message["In-Reply-To"] = mail.in_reply_to
            message["References"] = mail.in_reply_to
        if mail.automatic:
            replying = mail.in_reply_to is not None or mail.inbound_message_id is not None
            message["Auto-Submitted"] = "auto-replied" if replying else "auto-generated"
        # Asks Exchange and friends not to answer with out-of-office replies.
        message["X-Auto-Response-Suppress"] = "All"
        # Quoted-printable keeps the message 7-bit, so no relay has to support 8BITMIME.
        message.set_content(mail.body, subtype="plain", charset="utf-8", cte="quoted-printable")
    except (ValueError, TypeError, IndexError) as exc:
        raise OutboxError(f"outbound mail {mail.id}: cannot build the message: {exc}") from exc
    return message


def _claim_next(engine: Engine, at: dt.datetime) -> OutboundMail | None:
    """The oldest pending mail, claimed for this deliverer; None when there is none left."""
    stale = at - CLAIM_LEASE
    claimable = (
        col(OutboundMail.state) == OutboxState.PENDING,
        sa.or_(col(OutboundMail.sent_at).is_(None), col(OutboundMail.sent_at) < stale),
    )
    with Session(engine, expire_on_commit=False) as session:
        lost = 0
        while lost < 1000:
            candidate = session.exec(
                select(OutboundMail.id)
                .where(*claimable)
                .order_by(col(OutboundMail.created_at), col(OutboundMail.id))
                .limit(1)
            ).first()
            if candidate is None:
                return None
            # Only one deliverer's UPDATE matches: the others see the claim and
            # match no row (PostgreSQL re-checks the WHERE after the row lock,
            # SQLite runs one writer at a time).
            claimed = session.exec(
                sa.update(OutboundMail)
                .where(col(OutboundMail.id) == candidate, *claimable)
                .values(sent_at=at)
            )
            session.commit()
            if claimed.rowcount == 1:
                return session.get(OutboundMail, candidate)
            lost += 1
    return None


def _record(engine: Engine, mail_id: int, **values: object) -> None:
    with Session(engine) as session:
        session.exec(
            sa.update(OutboundMail).where(col(OutboundMail.id) == mail_id).values(**values)
        )
        session.commit()


def _already_sent(engine: Engine, mail: OutboundMail, min_interval: dt.timedelta) -> str | None:
    if not mail.automatic:
        return None
    with Session(engine) as session:
        earlier = _recent_automatic(
            session,
            mail.recipient,
            mail.created_at - min_interval,
            states=(OutboxState.SENT,),
            until=mail.created_at,
            other_than=mail.id,
        )
    if earlier is None:
        return None
    return f"rate limit: automatic mail {earlier.message_id} to this address was sent already"


def deliver_pending(
    engine: Engine,
    sender: SmtpSender,
    *,
    from_address: str,
    now: Callable[[], dt.datetime],
    max_attempts: int = 5,
    limit: int = 200,
    min_interval: dt.timedelta = RATE_LIMIT,
) -> DeliveryReport:
    """Send up to `limit` pending mails through `sender`, oldest first, each committed alone.

    A refusal (5xx) fails that mail; an unreachable server (or 4xx) defers it
    and ends the round, and after `max_attempts` tries the mail fails.
    `SmtpConfigError` is raised: nothing can be sent until a person acts.
    """
    report = DeliveryReport()
    for _ in range(limit):
        mail = _claim_next(engine, _aware(now(), "now()"))
        if mail is None:
            break
        assert mail.id is not None
        reason = _already_sent(engine, mail, min_interval)
        if reason is not None:
            _record(engine, mail.id, state=OutboxState.SUPPRESSED, sent_at=None, last_error=reason)
            report.suppressed += 1
            continue
        try:
            message = build_message(mail, sender=from_address)
            sender.send(message)
        except (OutboxError, SmtpRejected) as exc:
            log.warning("outbound mail %s to %s failed: %s", mail.id, mail.recipient, exc)
            _record(
                engine,
                mail.id,
                state=OutboxState.FAILED,
                attempts=mail.attempts + 1,
                sent_at=None,
                last_error=exc.message[:_ERROR_TEXT],
            )
            report.failed += 1
            continue
        except SmtpConfigError:
            _record(engine, mail.id, sent_at=None)
            raise
        except SmtpUnavailable as exc:
            attempts = mail.attempts + 1
            gave_up = attempts >= max_attempts
            log.warning(
                "outbound mail %s to %s %s: %s",
                mail.id,
                mail.recipient,
                "failed for good" if gave_up else "deferred",
                exc,
            )
            _record(
                engine,
                mail.id,
                state=OutboxState.FAILED if gave_up else OutboxState.PENDING,
                attempts=attempts,
                sent_at=None,
                last_error=exc.message[:_ERROR_TEXT],
            )
            if gave_up:
                report.failed += 1
            else:
                report.deferred += 1
            break  # the server is down or busy: do not hammer it with the rest
        except BaseException:
            # A bug or an interrupt: free the claim so the next run sends it.
            _record(engine, mail.id, sent_at=None)
            raise
        _record(
            engine,
            mail.id,
            state=OutboxState.SENT,
            attempts=mail.attempts + 1,
            sent_at=_aware(now(), "now()"),
            last_error=None,
        )
        report.sent += 1
    return report
