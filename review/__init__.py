"""The submission queue and (later) the reviewer pages.

Public API: the queue models, `enqueue` and the `New*` values intake hands
over, the content-addressed `ImageStore`, and the queue's migrations.
"""

from review.authmodels import LoginThrottle, Reviewer, ReviewerRole, ReviewSession
from review.db import require_queue_current, upgrade_queue
from review.decide import (
    CLAIM_TTL,
    REJECT_REASONS,
    ClaimedByOther,
    DecisionError,
    approve,
    claim,
    correct_field,
    decision_day,
    effective_values,
    next_unclaimed,
    open_blocking_findings,
    preview,
    reject,
    release,
)
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
    "CLAIM_TTL",
    "REJECT_REASONS",
    "REVIEW_METADATA",
    "AttachmentOutcome",
    "ClaimedByOther",
    "DecisionError",
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
    "approve",
    "claim",
    "correct_field",
    "decision_day",
    "effective_values",
    "enqueue",
    "form_id_submitted",
    "next_unclaimed",
    "open_blocking_findings",
    "preview",
    "queue_counts",
    "reject",
    "release",
    "require_queue_current",
    "upgrade_queue",
]
