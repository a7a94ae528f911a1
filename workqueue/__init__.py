"""The work queue between intake and review: what came in, what it said, what goes out.

Owns the submissions read from forms (with their pages, fields, signatures
and findings), the reviewer tables they refer to, the mail records (every
inbound message and attachment, every outbound reply in the outbox), the
content-addressed image store, the SMTP sender that empties the outbox, and
the migrations of these tables. Intake
writes here; review reads, decides and queues mail here. This is the public
API; every other module of the package is private.
"""

from workqueue.db import (
    MIGRATIONS_DIR,
    VERSION_TABLE,
    require_queue_current,
    upgrade_queue,
)
from workqueue.errors import (
    QueueError,
)
from workqueue.inbox import (
    first_submission_for_file,
    in_flight_messages,
    message_by_content,
    messages_at,
    note_resent,
    released_messages,
    unmoved_messages,
)
from workqueue.limits import (
    DatabaseLimiter,
    RateLimitHit,
    RateLimitKey,
)
from workqueue.mailmodels import (
    AttachmentOutcome,
    InboundAttachment,
    InboundMessage,
    MessageState,
    OutboundMail,
    OutboxState,
)
from workqueue.models import (
    QUEUE_METADATA,
    FourEyesRule,
    OverrideRequest,
    OverrideState,
    QueueModel,
    Submission,
    SubmissionField,
    SubmissionFinding,
    SubmissionPage,
    SubmissionSignature,
    SubmissionStatus,
)
from workqueue.outbox import (
    DeliveryReport,
    OutboxError,
    deliver_pending,
    deliverable_address,
    queue_mail,
)
from workqueue.quarantine import (
    RELEASE_ACTION,
    QuarantinedMessage,
    RejectedAttachment,
    ReleaseRefused,
    file_kind,
    message_reference,
    quarantine_counts,
    quarantined_messages,
    rejected_attachments,
    release_message,
    viewable_message,
)
from workqueue.queue import (
    NewCandidate,
    NewField,
    NewFinding,
    NewPage,
    NewSignature,
    NewSubmission,
    enqueue,
    form_id_submitted,
    queue_counts,
)
from workqueue.reasons import (
    REASONS,
    ReasonCode,
    attachment_reason_sv,
    message_reason_sv,
)
from workqueue.reviewers import (
    LoginDevice,
    LoginThrottle,
    RecoveryCode,
    Reviewer,
    ReviewerRole,
    ReviewSession,
)
from workqueue.smtp import (
    SmtpConfig,
    SmtpConfigError,
    SmtpError,
    SmtpRejected,
    SmtpSender,
    SmtpUnavailable,
)
from workqueue.store import (
    ImageStore,
)

__all__ = [
    "MIGRATIONS_DIR",
    "QUEUE_METADATA",
    "REASONS",
    "RELEASE_ACTION",
    "VERSION_TABLE",
    "AttachmentOutcome",
    "DatabaseLimiter",
    "DeliveryReport",
    "FourEyesRule",
    "ImageStore",
    "InboundAttachment",
    "InboundMessage",
    "LoginDevice",
    "LoginThrottle",
    "MessageState",
    "NewCandidate",
    "NewField",
    "NewFinding",
    "NewPage",
    "NewSignature",
    "NewSubmission",
    "OutboundMail",
    "OutboxError",
    "OutboxState",
    "OverrideRequest",
    "OverrideState",
    "QuarantinedMessage",
    "QueueError",
    "QueueModel",
    "RateLimitHit",
    "RateLimitKey",
    "ReasonCode",
    "RecoveryCode",
    "RejectedAttachment",
    "ReleaseRefused",
    "ReviewSession",
    "Reviewer",
    "ReviewerRole",
    "SmtpConfig",
    "SmtpConfigError",
    "SmtpError",
    "SmtpRejected",
    "SmtpSender",
    "SmtpUnavailable",
    "Submission",
    "SubmissionField",
    "SubmissionFinding",
    "SubmissionPage",
    "SubmissionSignature",
    "SubmissionStatus",
    "attachment_reason_sv",
    "deliver_pending",
    "deliverable_address",
    "enqueue",
    "file_kind",
    "first_submission_for_file",
    "form_id_submitted",
    "in_flight_messages",
    "message_by_content",
    "message_reason_sv",
    "message_reference",
    "messages_at",
    "note_resent",
    "quarantine_counts",
    "quarantined_messages",
    "queue_counts",
    "queue_mail",
    "rejected_attachments",
    "release_message",
    "released_messages",
    "require_queue_current",
    "unmoved_messages",
    "upgrade_queue",
    "viewable_message",
]
