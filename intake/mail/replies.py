"""The automatic answers to a sender: a receipt, "no attachment", "could not be handled".

Each is put in the outbox (`workqueue.queue_mail`) inside the transaction
that decides the message, and sent by SMTP after the pass, so a crash never
sends a receipt for something not queued, nor forgets one. Nothing goes to
a machine (`HeaderInfo.auto_generated`: auto-replies, lists, bounces, our own
address), nor to a sender without one valid address; the outbox keeps at
most one automatic mail per address per `reply_interval` pending, the rest
suppressed. The Swedish texts the sender is told about an unreadable file or
a message over the caps are here too; the mail texts themselves are the
templates in `render/templates/mail/`.
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlmodel import Session

from intake.mail.headers import HeaderInfo, bracketed
from intake.mail.message import ParsedMessage
from intake.mail.policy import MailboxPolicy
from intake.mail.prescan import MailLimits
from intake.scan import FileResult
from workqueue import InboundMessage, OutboundMail, queue_mail

__all__ = [
    "FORM_UNREADABLE",
    "NOT_OUR_FORM",
    "log_reply",
    "may_reply",
    "over_caps_swedish",
    "queue_rejection",
    "queue_reply",
    "unreadable_reason",
]

log = logging.getLogger(__name__)

NOT_OUR_FORM = (
    "Vi hittade ingen av våra blanketter i filen. Använd blanketten du laddar ner från "
    "vår webbplats, och skanna hela sidan så att alla fyra hörnmarkeringar syns."
)
FORM_UNREADABLE = (
    "Blanketten gick inte att läsa. Skanna hela sidan igen i 200–300 dpi, rakt och "
    "utan skuggor, så att alla fyra hörnmarkeringar och QR-koden syns."
)


def may_reply(header: HeaderInfo) -> bool:
    return header.sender is not None and header.auto_generated is None


def queue_reply(
    session: Session,
    record: InboundMessage,
    parsed: ParsedMessage,
    report: dict[str, list[dict[str, object]]],
    *,
    policy: MailboxPolicy,
    now: dt.datetime,
) -> OutboundMail | None:
    """The receipt listing `report` (queued, unreadable, duplicates) and the skipped files,
    or "no attachment" when there was not even a skipped file."""
    header = parsed.header
    assert header.sender is not None
    common: dict[str, object] = {
        "mailbox": policy.mailbox_address,
        "original_subject": header.subject or None,
        "form_url": policy.form_url,
    }
    if not parsed.attachments and not parsed.skipped:
        template, context = "no_attachment", common
    else:
        template = "receipt"
        context = {
            **common,
            **report,
            "received_at": record.sent_at or record.recorded_at,
            "skipped": [{"file": p.filename, "reason": p.customer_reason} for p in parsed.skipped],
            "review_days": policy.review_days,
        }
    return queue_mail(
        session,
        to=header.sender,
        template=template,
        context=context,
        sender_domain=policy.reply_domain,
        now=now,
        in_reply_to=bracketed(header.message_id),
        inbound_message_id=record.id,
        min_interval=policy.reply_interval,
    )


def queue_rejection(
    session: Session,
    record_id: int,
    header: HeaderInfo,
    customer_reason: str,
    *,
    policy: MailboxPolicy,
    now: dt.datetime,
) -> OutboundMail | None:
    """The "could not be handled" reply: why (`customer_reason`, Swedish) and what to do instead."""
    assert header.sender is not None
    return queue_mail(
        session,
        to=header.sender,
        template="message_rejected",
        context={
            "mailbox": policy.mailbox_address,
            "original_subject": header.subject or None,
            "reason": customer_reason,
            "max_size_mb": policy.limits.max_bytes // (1024 * 1024),
            "max_files": policy.limits.max_attachments,
            "form_url": policy.form_url,
        },
        sender_domain=policy.reply_domain,
        now=now,
        in_reply_to=bracketed(header.message_id),
        inbound_message_id=record_id,
        min_interval=policy.reply_interval,
    )


def log_reply(
    mail: OutboundMail | None, header: HeaderInfo, *, record_id: int, message_id: str | None
) -> None:
    """Log the `reply.queued` event of a committed reply, or `reply.skipped` saying why not."""
    if mail is not None:
        log.info(
            "%s reply queued to %s",
            mail.template,
            mail.recipient,
            extra={
                "event": "reply.queued",
                "message_id": message_id,
                "record_id": record_id,
                "kind": mail.template,
                "to": mail.recipient,
                "state": mail.state.value,
                "reason": mail.last_error,
            },
        )
        return
    if header.auto_generated is not None:
        reason = f"sent by a machine: {header.auto_generated}"
    elif header.sender is None:
        reason = "no single valid sender address"
    else:
        reason = "the sender address is not deliverable"
    log.info(
        "no reply: %s",
        reason,
        extra={
            "event": "reply.skipped",
            "message_id": message_id,
            "record_id": record_id,
            "reason": reason,
        },
    )


def over_caps_swedish(detail: str, limits: MailLimits) -> str:
    """What the sender of a message over the size, parts or depth caps is told."""
    if "bytes" in detail:
        mb = limits.max_bytes // (1024 * 1024)
        return (
            f"Meddelandet är större än {mb} MB. Skicka blanketten som en skannad PDF "
            "eller bild i lägre upplösning (200–300 dpi räcker), gärna en blankett per mejl."
        )
    return (
        "Meddelandet har för många delar för att behandlas automatiskt. Skicka bara den "
        "skannade blanketten som bilaga, en blankett per mejl."
    )


def unreadable_reason(result: FileResult) -> str:
    """What the sender is told about a file none of whose pages could be read (Swedish)."""
    for doc in result.documents:
        for finding in doc.findings:
            # These two already speak to the customer; the page reasons are for operators.
            if finding.code in ("file.rejected", "file.blank"):
                return finding.message
    if any(doc.kind is not None for doc in result.documents):
        return FORM_UNREADABLE
    return NOT_OUR_FORM
