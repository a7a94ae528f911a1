"""The tables behind the mailbox: every message received, its attachments, every reply.

`InboundMessage` is written before a message is processed (its raw bytes are
already in the store), so a crash can never lose one: the next run finds the
row and carries on from its `state`. A message is identified by where it was
seen (account, folder, UIDVALIDITY, UID) and by what it is (sha256 of the raw
bytes, Message-ID); the second survives a UIDVALIDITY reset or a person
moving the message back, so nothing is processed twice.

`InboundAttachment` says what became of each part that could have been a
form: queued (with its submissions), a duplicate of an earlier file, rejected
with the reason, or ignored (a logo in a mail signature).

`OutboundMail` is the outbox: a reply is rendered and stored in the same
transaction as what caused it, and sent after the commit, so a crash between
the two sends it on the next run instead of never, and the per-sender limit
can be checked against what was really queued.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field

from registry import UTCDateTime, string_enum, utcnow
from workqueue.models import QueueModel


class MessageState(StrEnum):
    RECEIVED = "received"  # recorded and stored, not yet processed
    PROCESSED = "processed"  # its attachments are in the queue (or it had none worth queuing)
    QUARANTINED = "quarantined"  # hostile, oversized or unparseable: kept aside for a person


class AttachmentOutcome(StrEnum):
    QUEUED = "queued"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"
    IGNORED = "ignored"


class OutboxState(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"  # gave up after retries; kept for a person
    SUPPRESSED = "suppressed"  # not sent on purpose (rate limit); kept to show why


class InboundMessage(QueueModel, table=True):
    __tablename__ = "inbound_messages"
    __table_args__ = (
        sa.UniqueConstraint("account", "folder", "uidvalidity", "uid"),
        sa.Index("ix_inbound_messages_account_sha256", "account", "sha256"),
        sa.Index("ix_inbound_messages_account_state", "account", "state"),
    )

    id: int | None = Field(default=None, primary_key=True)
    account: str = Field(max_length=300)  # imap://user@host:port or maildir:/path
    folder: str = Field(max_length=200)  # where it was found
    uidvalidity: int | None = Field(default=None, sa_type=sa.BigInteger)
    uid: int | None = Field(default=None, sa_type=sa.BigInteger)
    source_key: str | None = Field(default=None, max_length=300)  # Maildir / folder file key
    message_id: str | None = Field(default=None, max_length=500, index=True)
    sha256: str = Field(max_length=64)
    size: int
    raw_stored: bool = True  # False when over the size cap: only the header was fetched
    sender: str | None = Field(default=None, max_length=320)
    subject: str | None = Field(default=None, max_length=500)
    sent_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)  # its Date header
    recorded_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    processed_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    state: MessageState = Field(sa_type=string_enum(MessageState, "message_state"))
    detail: str | None = Field(default=None, max_length=500)  # why quarantined, what was found
    # Runs that died while working on this message alone; at `max_attempts` it is
    # quarantined instead of stopping the mailbox for good (intake.mail.mailbox).
    attempts: int = 0
    # Set, committed, while a run works on this message alone (parsing it, queueing what
    # was read from it): a run that dies with it set counts an attempt against it.
    working_since: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Set while its attachments are with the readers together with its batch's: a run
    # that dies then makes it a suspect, retried alone, with no attempt counted.
    reading_since: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    reason_code: str | None = Field(default=None, max_length=40)  # why quarantined
    reason_sv: str | None = Field(default=None, max_length=500)  # the same, for people
    destination: str | None = Field(default=None, max_length=200)  # folder it goes to
    moved_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    duplicate_of: int | None = Field(default=None, foreign_key="inbound_messages.id")
    # A reviewer's release of a quarantined message (workqueue/quarantine.py): the
    # poller processes it once more from its stored bytes, whatever folder it sits in.
    released_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    released_by: int | None = Field(default=None, foreign_key="reviewers.id")


class InboundAttachment(QueueModel, table=True):
    __tablename__ = "inbound_attachments"
    __table_args__ = (sa.UniqueConstraint("message_id", "position"),)

    id: int | None = Field(default=None, primary_key=True)
    message_id: int = Field(foreign_key="inbound_messages.id", index=True)
    position: int
    filename: str = Field(max_length=300)  # shown to people, never used as a path
    declared_type: str = Field(max_length=100)
    detected_type: str = Field(max_length=40)
    size: int
    sha256: str = Field(max_length=64, index=True)
    outcome: AttachmentOutcome = Field(sa_type=string_enum(AttachmentOutcome, "attachment_outcome"))
    detail: str | None = Field(default=None, max_length=500)  # English, for the operator
    reason_code: str | None = Field(default=None, max_length=40)  # workqueue.reasons
    reason_sv: str | None = Field(default=None, max_length=500)  # the same, for people
    duplicate_of_submission: int | None = Field(default=None, foreign_key="submissions.id")


class OutboundMail(QueueModel, table=True):
    __tablename__ = "outbound_mail"
    __table_args__ = (
        sa.Index("ix_outbound_mail_state_created_at", "state", "created_at"),
        sa.Index("ix_outbound_mail_recipient_created_at", "recipient", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    template: str = Field(max_length=60)
    automatic: bool = True  # an automatic reply: limited per sender, never to auto-replies
    recipient: str = Field(max_length=320)  # lower-cased address
    message_id: str = Field(max_length=300, unique=True)  # ours, so retries are one message
    in_reply_to: str | None = Field(default=None, max_length=500)
    subject: str = Field(max_length=300)
    body: str = Field(sa_type=sa.Text)
    state: OutboxState = Field(sa_type=string_enum(OutboxState, "outbox_state"))
    attempts: int = 0
    last_error: str | None = Field(default=None, max_length=500)
    sent_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    inbound_message_id: int | None = Field(default=None, foreign_key="inbound_messages.id")
    submission_id: int | None = Field(default=None, foreign_key="submissions.id")
