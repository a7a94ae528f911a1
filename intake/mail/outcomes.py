"""What each attachment of a message becomes in the queue, decided inside the pass's transaction.

One of: `duplicate` (the same bytes are already a submission: a note goes on
that one, nothing new is queued), `queued` (the forms read from it, or one
unreadable submission for a person, also when the reader process had to be
stopped), `ignored` (an image too small to be a page: a signature logo), and
`rejected` for the parts that were never a candidate (`SkippedPart`). Each
`Outcome` also says where the receipt lists the file and what it tells the
sender about it. Nothing here commits; `intake.mail.mailbox` does, once for
the whole message, and then logs what became of each part (`log_outcomes`).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Collection
from dataclasses import dataclass, field, replace

from sqlmodel import Session

from intake.mail.message import ParsedMessage
from intake.mail.parts import Attachment, SkippedPart
from intake.mail.replies import unreadable_reason
from intake.mail.workers import ReadFailure
from intake.scan import FileResult, IntakeContext, ScannedFile, finish_file, to_new_submissions
from workqueue import (
    AttachmentOutcome,
    ImageStore,
    InboundAttachment,
    InboundMessage,
    MessageState,
    NewFinding,
    NewSubmission,
    ReasonCode,
    enqueue,
    first_submission_for_file,
    note_resent,
)

__all__ = ["Outcome", "attachment_outcome", "attachment_row", "log_outcomes", "skipped_row"]

log = logging.getLogger(__name__)


@dataclass
class Outcome:
    outcome: AttachmentOutcome
    detail: str | None  # English, for the operator: a sentence, never an exception's words
    duplicate_of: int | None = None
    reason_code: str | None = None  # workqueue.reasons; None for a file read and queued
    reason_sv: str | None = None  # the same for people, when it says more than the code
    submissions: int = 0
    section: str | None = None  # where the receipt lists it
    entry: dict[str, object] = field(default_factory=dict)


def attachment_outcome(
    session: Session,
    record: InboundMessage,
    att: Attachment,
    result: ScannedFile | ReadFailure | None,
    *,
    intake: IntakeContext,
    image_store: ImageStore,
    min_page_pixels: int,
    now: dt.datetime,
) -> Outcome:
    """Queue what `result` (the reading of `att`; None: not read) gives, and say what it was."""
    earlier = first_submission_for_file(session, att.sha256)
    if earlier is not None and earlier.id is not None:
        note_resent(session, earlier.id, sender=record.sender, at=now)
        return Outcome(
            AttachmentOutcome.DUPLICATE,
            f"same file as submission {earlier.id}",
            duplicate_of=earlier.id,
            reason_code=ReasonCode.DUPLICATE,
            section="duplicates",
            entry={"file": att.filename, "received_on": earlier.created_at},
        )
    if result is None:
        # Not read: the same bytes came earlier in this mail and were queued there.
        return Outcome(
            AttachmentOutcome.DUPLICATE,
            "same file earlier in this mail",
            reason_code=ReasonCode.DUPLICATE_IN_MAIL,
        )
    if isinstance(result, ReadFailure):
        enqueue(
            session,
            image_store,
            NewSubmission(
                source_kind="mail",
                source_name=att.filename,
                source_sha256=att.sha256,
                document_index=0,
                kind=None,
                form_id=None,
                form_version=None,
                quality_mm=None,
                pages=[],
                findings=[NewFinding("file.reader_stopped", "blocking", result.customer_message)],
                unreadable_reason=result.message,
                inbound_message_id=record.id,
            ),
        )
        return Outcome(
            AttachmentOutcome.QUEUED,
            result.message,
            reason_code=_FAILURE_CODES[result.kind],
            reason_sv=result.customer_message,
            submissions=1,
            section="unreadable",
            entry={"file": att.filename, "reason": result.customer_message},
        )
    file_result = finish_file(session, result, intake)
    if _only_small_images(file_result, min_page_pixels):
        return Outcome(
            AttachmentOutcome.IGNORED,
            "an image too small to be a page",
            reason_code=ReasonCode.TOO_SMALL,
        )
    news = to_new_submissions(file_result, source_kind="mail")
    for new in news:
        enqueue(session, image_store, replace(new, inbound_message_id=record.id))
    forms = [
        {
            "kind": doc.kind.value if doc.kind else None,
            "form_id": doc.form_id,
            "pages": doc.pages,
            # What the receipt says of each digital signature: ours words, never its
            # signer's name (a certificate's name is the sender's text).
            "digital_signatures": [f.code.removeprefix("esign.") for f in doc.findings
                                   if f.code.startswith("esign.")],
        }
        for doc in file_result.documents
        if doc.unreadable_reason is None
    ]
    if forms:
        return Outcome(
            AttachmentOutcome.QUEUED,
            None,
            submissions=len(news),
            section="queued",
            entry={"file": att.filename, "forms": forms},
        )
    return Outcome(
        AttachmentOutcome.QUEUED,
        "no page could be read",
        reason_code=ReasonCode.UNREADABLE,
        reason_sv=unreadable_reason(file_result),
        submissions=len(news),
        section="unreadable",
        entry={"file": att.filename, "reason": unreadable_reason(file_result)},
    )


def attachment_row(
    message_id: int, position: int, att: Attachment, outcome: Outcome
) -> InboundAttachment:
    return InboundAttachment(
        message_id=message_id,
        position=position,
        filename=att.filename[:300],
        declared_type=att.declared_type[:100],
        detected_type=att.detected_type[:40],
        size=len(att.data),
        sha256=att.sha256,
        outcome=outcome.outcome,
        detail=outcome.detail and outcome.detail[:500],
        reason_code=outcome.reason_code,
        reason_sv=outcome.reason_sv and outcome.reason_sv[:500],
        duplicate_of_submission=outcome.duplicate_of,
    )


def skipped_row(message_id: int, position: int, part: SkippedPart) -> InboundAttachment:
    return InboundAttachment(
        message_id=message_id,
        position=position,
        filename=part.filename[:300],
        declared_type=part.declared_type[:100],
        detected_type=part.detected_type[:40],
        size=part.size,
        sha256=part.sha256,
        outcome=AttachmentOutcome.REJECTED,
        detail=part.reason[:500],
        reason_code=ReasonCode.NOT_A_SCAN,
        reason_sv=part.customer_reason[:500],
    )


_FAILURE_CODES = {
    "timeout": ReasonCode.READ_TIMEOUT,
    "memory": ReasonCode.READ_MEMORY,
    "crashed": ReasonCode.READ_FAILED,
}


def _only_small_images(result: FileResult, min_pixels: int) -> bool:
    if not result.page_images or any(doc.kind is not None for doc in result.documents):
        return False
    return all(min(image.shape[:2]) < min_pixels for image in result.page_images.values())


def log_outcomes(
    parsed: ParsedMessage,
    outcomes: list[Outcome],
    stopped: Collection[int],
    *,
    record_id: int,
    message_id: str | None,
) -> None:
    """One `attachment.read` event per attachment and skipped part, then `message.processed`.

    `stopped`: the attachments whose reader process had to be stopped (a warning).
    """
    ids = {"message_id": message_id, "record_id": record_id}
    for index, (att, outcome) in enumerate(zip(parsed.attachments, outcomes, strict=True)):
        log.log(
            logging.WARNING if index in stopped else logging.INFO,
            "attachment %s: %s",
            att.filename,
            outcome.outcome.value,
            extra={
                "event": "attachment.read",
                **ids,
                "attachment": att.filename,
                "detected_type": att.detected_type,
                "sha256": att.sha256,
                "outcome": outcome.outcome.value,
                "reason": outcome.detail,
                "submissions": outcome.submissions,
            },
        )
    for part in parsed.skipped:
        log.info(
            "attachment %s: %s",
            part.filename,
            AttachmentOutcome.REJECTED.value,
            extra={
                "event": "attachment.read",
                **ids,
                "attachment": part.filename,
                "detected_type": part.detected_type,
                "outcome": AttachmentOutcome.REJECTED.value,
                "reason": part.reason,
                "submissions": 0,
            },
        )
    log.info(
        "message processed",
        extra={
            "event": "message.processed",
            **ids,
            "state": MessageState.PROCESSED.value,
            "attachments": len(parsed.attachments) + len(parsed.skipped),
            "submissions": sum(outcome.submissions for outcome in outcomes),
        },
    )
