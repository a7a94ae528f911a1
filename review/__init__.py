"""The submission queue and (later) the reviewer pages.

Public API: the queue models, `enqueue` and the `New*` values intake hands
over, the content-addressed `ImageStore`, and the queue's migrations.
"""

from review.authmodels import LoginThrottle, Reviewer, ReviewerRole, ReviewSession
from review.db import require_queue_current, upgrade_queue
from review.errors import ReviewError
from review.mailmodels import (
    AttachmentOutcome,
    InboundAttachment,
    InboundMessage,
    MessageState,
    OutboundMail,
    OutboxState,
)
from review.models import (
    REVIEW_METADATA,
    Submission,
    SubmissionField,
    SubmissionFinding,
    SubmissionPage,
    SubmissionSignature,
    SubmissionStatus,
)
from review.queue import (
    NewField,
    NewFinding,
    NewPage,
    NewSignature,
    NewSubmission,
    enqueue,
    form_id_submitted,
    queue_counts,
)
from review.store import ImageStore

__all__ = [
    "REVIEW_METADATA",
    "AttachmentOutcome",
    "ImageStore",
    "InboundAttachment",
    "InboundMessage",
    "LoginThrottle",
    "MessageState",
    "NewField",
    "NewFinding",
    "NewPage",
    "NewSignature",
    "NewSubmission",
    "OutboundMail",
    "OutboxState",
    "ReviewError",
    "ReviewSession",
    "Reviewer",
    "ReviewerRole",
    "Submission",
    "SubmissionField",
    "SubmissionFinding",
    "SubmissionPage",
    "SubmissionSignature",
    "SubmissionStatus",
    "enqueue",
    "form_id_submitted",
    "queue_counts",
    "require_queue_current",
    "upgrade_queue",
]
