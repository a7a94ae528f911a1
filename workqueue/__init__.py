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
    message_by_content,
    messages_at,
    note_resent,
    unmoved_messages,
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
from workqueue.queue import (
    NewField,
    NewFinding,
    NewPage,
    NewSignature,
    NewSubmission,
    enqueue,
    form_id_submitted,
    queue_counts,
)
from workqueue.reviewers import (
    LoginThrottle,
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
    "VERSION_TABLE",
    "AttachmentOutcome",
    "DeliveryReport",
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
    "OutboxError",
    "OutboxState",
    "QueueError",
    "QueueModel",
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
    "deliver_pending",
    "deliverable_address",
    "enqueue",
    "first_submission_for_file",
    "form_id_submitted",
    "message_by_content",
    "messages_at",
    "note_resent",
    "queue_counts",
    "queue_mail",
    "require_queue_current",
    "unmoved_messages",
    "upgrade_queue",
]
