"""What the mailbox set aside, for people: quarantined messages, rejected attachments, release.

The quarantine page (`review.web_quarantine`) lists two things from here:
messages in state `quarantined` and attachments recorded as `rejected` (of
messages in any state), newest first, paged by id (`before`), each with the
reason as a Swedish sentence. The mailbox stores its reasons in English for
the operator (`InboundMessage.detail`, `InboundAttachment.detail`);
`message_reason` and `attachment_reason` give the sentences a
reviewer reads (`workqueue.reasons`), never the stored text itself, which
may hold an exception's words.

`release_message` is an admin's "try again": one conditional UPDATE from
`quarantined` to `received` with the attempt counter reset and who and when
recorded, plus an audit event in the same transaction, so of two admins
clicking at once exactly one releases it and the log says who. The poller
then processes the message once more from its stored raw bytes. A message
whose bytes were never stored (over the size cap: only its header was
fetched) cannot be retried from here and is refused.

`message_reference` is our own name for a message ("M-123") and `file_kind`
the Swedish name of a kind of file by its detected type: the automatic
replies use them instead of anything the sender wrote, and so does the page.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from registry import record_event
from workqueue.errors import QueueError
from workqueue.mailmodels import AttachmentOutcome, InboundAttachment, InboundMessage, MessageState
from workqueue.reasons import attachment_reason_sv, message_reason_sv
from workqueue.reviewers import Reviewer, ReviewerRole
from workqueue.store import ImageStore

__all__ = [
    "RELEASE_ACTION",
    "QuarantinedMessage",
    "RejectedAttachment",
    "ReleaseRefused",
    "file_kind",
    "message_reference",
    "quarantine_counts",
    "quarantined_messages",
    "rejected_attachments",
    "release_message",
    "viewable_message",
]

RELEASE_ACTION = "mail.released"
MAX_PAGE = 200


def message_reference(message_id: int) -> str:
    """Our reference for an inbound message, as the sender and the reviewer see it."""
    return f"M-{message_id}"


# By the type the mailbox detected from the bytes (intake.mail.sniff), never the sender's word.
_FILE_KINDS = {
    "pdf": "PDF",
    "jpeg": "JPEG-bild",
    "png": "PNG-bild",
    "tiff": "TIFF-bild",
    "webp": "WebP-bild",
    "bmp": "BMP-bild",
    "heic": "HEIC-bild",
    "zip": "zip-fil",
    "gzip": "komprimerad fil",
    "rar": "komprimerad fil",
    "7z": "komprimerad fil",
    "office": "Office-dokument",
    "text": "textfil",
    "empty": "tom fil",
}


def file_kind(detected_type: str) -> str:
    """The Swedish name of a kind of file ("PDF", "zip-fil"), for receipts and the page."""
    return _FILE_KINDS.get(detected_type, "fil")


# -- the listings -------------------------------------------------------------------------------


@dataclass(frozen=True)
class QuarantinedMessage:
    message: InboundMessage
    reason: str  # Swedish
    attachments: int  # rows recorded for it (none when it was never parsed)
    released_by: str | None  # name of the admin who released it last, if any

    @property
    def reference(self) -> str:
        assert self.message.id is not None
        return message_reference(self.message.id)


@dataclass(frozen=True)
class RejectedAttachment:
    attachment: InboundAttachment
    message: InboundMessage
    reason: str  # Swedish

    @property
    def reference(self) -> str:
        assert self.message.id is not None
        return message_reference(self.message.id)


def _page(limit: int) -> int:
    return max(1, min(limit, MAX_PAGE))


def quarantined_messages(
    session: Session, *, before: int | None = None, limit: int = 50
) -> list[QuarantinedMessage]:
    """Quarantined messages, newest first; the next page starts `before` the last id."""
    counts = (
        select(InboundAttachment.message_id, func.count().label("n"))
        .group_by(col(InboundAttachment.message_id))
        .subquery()
    )
    statement = (
        select(InboundMessage, counts.c.n, Reviewer.name)
        .outerjoin(counts, counts.c.message_id == col(InboundMessage.id))
        .outerjoin(Reviewer, col(Reviewer.id) == col(InboundMessage.released_by))
        .where(col(InboundMessage.state) == MessageState.QUARANTINED)
    )
    if before is not None:
        statement = statement.where(col(InboundMessage.id) < before)
    rows = session.exec(statement.order_by(col(InboundMessage.id).desc()).limit(_page(limit)))
    return [
        QuarantinedMessage(
            message=message, reason=message_reason_sv(message), attachments=n or 0, released_by=name
        )
        for message, n, name in rows
    ]


def rejected_attachments(
    session: Session, *, before: int | None = None, limit: int = 50
) -> list[RejectedAttachment]:
    """Rejected attachments of messages in any state, newest first, paged by attachment id."""
    statement = (
        select(InboundAttachment, InboundMessage)
        .join(InboundMessage, col(InboundMessage.id) == col(InboundAttachment.message_id))
        .where(col(InboundAttachment.outcome) == AttachmentOutcome.REJECTED)
    )
    if before is not None:
        statement = statement.where(col(InboundAttachment.id) < before)
    rows = session.exec(statement.order_by(col(InboundAttachment.id).desc()).limit(_page(limit)))
    return [
        RejectedAttachment(
            attachment=attachment, message=message, reason=attachment_reason_sv(attachment)
        )
        for attachment, message in rows
    ]


def quarantine_counts(session: Session) -> tuple[int, int]:
    """(quarantined messages, rejected attachments)."""
    messages = session.exec(
        select(func.count())
        .select_from(InboundMessage)
        .where(col(InboundMessage.state) == MessageState.QUARANTINED)
    ).one()
    attachments = session.exec(
        select(func.count())
        .select_from(InboundAttachment)
        .where(col(InboundAttachment.outcome) == AttachmentOutcome.REJECTED)
    ).one()
    return int(messages), int(attachments)


def viewable_message(session: Session, message_id: int) -> InboundMessage | None:
    """The message if the quarantine page shows it (quarantined, or with a rejected
    attachment), so its raw bytes may be downloaded from there; otherwise None."""
    message = session.get(InboundMessage, message_id)
    if message is None:
        return None
    if message.state == MessageState.QUARANTINED:
        return message
    rejected = session.exec(
        select(InboundAttachment.id).where(
            col(InboundAttachment.message_id) == message_id,
            col(InboundAttachment.outcome) == AttachmentOutcome.REJECTED,
        )
    ).first()
    return message if rejected is not None else None


# -- release ------------------------------------------------------------------------------------


class ReleaseRefused(QueueError):  # noqa: N818 - reads as what happened, like LoginRefused
    """A release that cannot be done; `message` is Swedish, for the admin who asked."""

    exit_code = os.EX_DATAERR

    def __init__(self, message: str, *, missing: bool = False) -> None:
        super().__init__(message)
        self.missing = missing  # no such message (rather than one in the wrong state)


def release_message(
    session: Session,
    message_id: int,
    *,
    reviewer_id: int,
    now: dt.datetime,
    raw_store: ImageStore | None = None,
) -> InboundMessage:
    """Put quarantined message `message_id` back for one more try; audited (caller commits).

    `raw_store`, when given, is checked for the message's bytes as well, so a
    store that lost the file is refused here rather than failing the poller.
    Raises `ReleaseRefused` for anyone but an active admin, an unknown message,
    one not in quarantine, or one whose raw bytes were never stored.
    """
    if now.tzinfo is None:
        raise QueueError(f"naive datetime {now!r}: pass an aware UTC time")
    reviewer = session.get(Reviewer, reviewer_id)
    if reviewer is None or not reviewer.active or reviewer.role != ReviewerRole.ADMIN:
        raise ReleaseRefused("Bara en administratör kan släppa ett meddelande ur karantänen.")
    message = session.get(InboundMessage, message_id)
    reference = message_reference(message_id)
    if message is None:
        raise ReleaseRefused(f"Meddelande {reference} finns inte.", missing=True)
    if message.state != MessageState.QUARANTINED:
        raise ReleaseRefused(
            f"Meddelande {reference} ligger inte i karantän längre, så det finns inget att "
            "försöka igen."
        )
    if not message.raw_stored or (raw_store is not None and message.sha256 not in raw_store):
        raise ReleaseRefused(
            f"Meddelande {reference} kan inte försökas igen: hela meddelandet sparades aldrig "
            "(bara huvudet, eftersom det var för stort). Det ligger kvar på e-postservern."
        )
    before = {"state": message.state.value, "attempts": message.attempts}
    # Conditional, so of two admins releasing at once exactly one changes the row.
    changed = session.execute(
        sa.update(InboundMessage)
        .where(
            col(InboundMessage.id) == message_id,
            col(InboundMessage.state) == MessageState.QUARANTINED,
        )
        .values(state=MessageState.RECEIVED, attempts=0, released_at=now, released_by=reviewer_id)
        .execution_options(synchronize_session=False)
    )
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        raise ReleaseRefused(f"Meddelande {reference} släpptes redan av någon annan.")
    event = record_event(
        session,
        actor=reviewer.email,
        action=RELEASE_ACTION,
        subject=f"inbound_message:{message_id}",
        before=before,
        after={"state": MessageState.RECEIVED.value, "attempts": 0},
        detail=f"{reference} släpptes ur karantänen för ett nytt försök av {reviewer.name}.",
    )
    event.at = now
    session.flush()
    session.refresh(message)
    return message
