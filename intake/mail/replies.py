"""The automatic answers to a sender: a receipt, "no attachment", "could not be handled".

Each is put in the outbox (`workqueue.queue_mail`) inside the transaction
that decides the message, and sent by SMTP after the pass, so a crash never
sends a receipt for something not queued, nor forgets one. Nothing goes to
a machine (`HeaderInfo.auto_generated`: auto-replies, lists, bounces, our own
address), nor to a sender without one valid address; the outbox keeps at
most one automatic mail per address per `reply_interval` pending, the rest
suppressed, and `reply_max_per_hour` caps them all together, so a flood of
forged senders (each a new address) cannot turn our mailbox into a mail
cannon either: over the cap a reply is stored `suppressed` with the reason.

A reply never quotes what the sender wrote: not the subject (not even in
the reply's own Subject), not a file name. With a forged From, a quoted
subject or file name would be the attacker's text mailed from our address
to anyone. The mail is named by our reference (`message_reference`) and the
day our mailbox received it, each file by its number in the mail and the
type its bytes show; In-Reply-To still ties the answer to the mail.

The Swedish texts the sender is told about an unreadable file or a message
over the caps are here too; the mail texts themselves are the
templates in `render/templates/mail/`.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping, Sequence

from sqlmodel import Session, col, func, select

from intake.mail.headers import HeaderInfo, bracketed
from intake.mail.message import ParsedMessage
from intake.mail.parts import Attachment
from intake.mail.policy import MailboxPolicy
from intake.mail.prescan import MailLimits
from intake.scan import FileResult
from workqueue import (
    InboundMessage,
    OutboundMail,
    OutboxState,
    file_kind,
    message_reference,
    queue_mail,
)

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


GLOBAL_CAP = dt.timedelta(hours=1)


def may_reply(header: HeaderInfo) -> bool:
    return header.sender is not None and header.auto_generated is None


def _numbered(
    attachments: Sequence[Attachment], report: Mapping[str, list[dict[str, object]]]
) -> dict[str, list[dict[str, object]]]:
    """`report` with each file's name replaced by its number in the mail and its type.

    The entries hold the attachment's own `filename` object, so identity finds
    the right one even when two files share a name; equality is the fallback.
    """
    taken: set[int] = set()

    def number_of(name: object) -> int:
        for same in (lambda a: a.filename is name, lambda a: a.filename == name):
            for index, att in enumerate(attachments):
                if index not in taken and same(att):
                    taken.add(index)
                    return index
        raise AssertionError("a report entry names no attachment of the mail")

    out: dict[str, list[dict[str, object]]] = {}
    for section, entries in report.items():
        out[section] = []
        for entry in entries:
            index = number_of(entry.get("file"))
            kept = {k: v for k, v in entry.items() if k != "file"}
            kind = file_kind(attachments[index].detected_type)
            out[section].append({**kept, "number": index + 1, "type": kind})
    return out


def _recent_automatic(session: Session, now: dt.datetime) -> int:
    """Automatic mails queued or sent within the last `GLOBAL_CAP`, to anyone."""
    return int(
        session.exec(
            select(func.count())
            .select_from(OutboundMail)
            .where(
                col(OutboundMail.automatic).is_(True),
                col(OutboundMail.state).in_((OutboxState.PENDING, OutboxState.SENT)),
                col(OutboundMail.created_at) > now - GLOBAL_CAP,
            )
        ).one()
    )


def _queue_capped(
    session: Session,
    *,
    to: str,
    template: str,
    context: Mapping[str, object],
    policy: MailboxPolicy,
    now: dt.datetime,
    in_reply_to: str | None,
    inbound_message_id: int | None,
) -> OutboundMail | None:
    """`queue_mail` with the per-address limit, then the cap on all automatic replies."""
    # Counted before the new row is added, so the count is of the others only.
    recent = _recent_automatic(session, now)
    mail = queue_mail(
        session,
        to=to,
        template=template,
        context=context,
        sender_domain=policy.reply_domain,
        now=now,
        in_reply_to=in_reply_to,
        inbound_message_id=inbound_message_id,
        min_interval=policy.reply_interval,
    )
    if (
        mail is not None
        and mail.state is OutboxState.PENDING
        and recent >= policy.reply_max_per_hour
    ):
        mail.state = OutboxState.SUPPRESSED
        mail.last_error = (
            f"global rate limit: {recent} automatic mails in the last hour, "
            f"the cap is {policy.reply_max_per_hour}"
        )
    return mail


def queue_reply(
    session: Session,
    record: InboundMessage,
    parsed: ParsedMessage,
    report: dict[str, list[dict[str, object]]],
    *,
    policy: MailboxPolicy,
    now: dt.datetime,
    joined_case: int | None = None,
) -> OutboundMail | None:
    """The receipt listing `report` (queued, unreadable, duplicates) and the skipped files,
    or "no attachment" when there was not even a skipped file.

    `joined_case`: the case the message completed (`intake.mail.rejoin`), which
    the receipt names; a reply without a file then says it was added, not that
    there was nothing to review."""
    header = parsed.header
    assert header.sender is not None and record.id is not None
    common: dict[str, object] = {
        "mailbox": policy.mailbox_address,
        "reference": message_reference(record.id),
        # Ours, not the sender's Date header.
        "received_at": record.recorded_at,
        "form_url": policy.form_url,
        "joined_case": joined_case,
    }
    if not parsed.attachments and not parsed.skipped:
        template, context = "no_attachment", {**common, "review_days": policy.review_days}
    else:
        template = "receipt"
        first_skipped = len(parsed.attachments) + 1
        context = {
            **common,
            **_numbered(parsed.attachments, report),
            "attachments": len(parsed.attachments) + len(parsed.skipped),
            "skipped": [
                {
                    "number": first_skipped + i,
                    "type": file_kind(p.detected_type),
                    "reason": p.customer_reason,
                }
                for i, p in enumerate(parsed.skipped)
            ],
            "review_days": policy.review_days,
        }
    return _queue_capped(
        session,
        to=header.sender,
        template=template,
        context=context,
        policy=policy,
        now=now,
        in_reply_to=bracketed(header.message_id),
        inbound_message_id=record.id,
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
    record = session.get(InboundMessage, record_id)
    return _queue_capped(
        session,
        to=header.sender,
        template="message_rejected",
        context={
            "mailbox": policy.mailbox_address,
            "reference": message_reference(record_id),
            "received_at": record.recorded_at if record is not None else None,
            "reason": customer_reason,
            "max_size_mb": policy.limits.max_bytes // (1024 * 1024),
            "max_files": policy.limits.max_attachments,
            "form_url": policy.form_url,
        },
        policy=policy,
        now=now,
        in_reply_to=bracketed(header.message_id),
        inbound_message_id=record_id,
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
