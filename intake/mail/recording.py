"""Step 2 of the pass: a new UID recorded with its raw bytes, or its message found again.

A message is recorded (account, folder, UIDVALIDITY, UID, Message-ID, the
sha256 of its raw bytes) with the bytes already in the store, state
`received`, before anything reads it. Bytes recorded before (a UIDVALIDITY
reset, a person moving a message back) are not recorded again: the record
moves to the new UID and carries on from its state. A quarantined message a
person moved back to the inbox is a request to try it once more
(`reopen`), written to the audit log as `mail.moved_back`.

A message over the size, parts or depth caps is recorded from its header
alone and never decoded; it stays in the mailbox for a person.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlmodel import Session

from intake.mail.headers import bracketed
from intake.mail.message import parse_header
from intake.mail.policy import MailboxPolicy
from intake.mail.types import MailSource, MessageMeta
from registry import record_event
from workqueue import ImageStore, InboundMessage, MessageState, message_by_content

__all__ = [
    "MOVED_BACK_ACTION",
    "Recorded",
    "log_moved_back",
    "moved_back",
    "over_caps",
    "record_uid",
    "reopen",
]

log = logging.getLogger("intake.mail.mailbox")  # one logger for the whole pass

MOVED_BACK_ACTION = "mail.moved_back"  # the audit log's action for a person's retry


@dataclass(frozen=True)
class Recorded:
    record_id: int
    new: bool  # recorded now, not found again
    finished: bool  # its outcome is already committed: only to be moved
    retry: bool  # a person moved it back: to be tried alone, once


def over_caps(meta: MessageMeta, policy: MailboxPolicy) -> str | None:
    limits = policy.limits
    if meta.size > limits.max_bytes:
        return f"message is {meta.size} bytes, over the cap of {limits.max_bytes}"
    if meta.parts > limits.max_parts:
        return f"message has {meta.parts} MIME parts, over the cap of {limits.max_parts}"
    if meta.depth > limits.max_depth:
        return f"message nests {meta.depth} levels deep, over the cap of {limits.max_depth}"
    return None


def record_uid(
    source: MailSource,
    engine: Engine,
    uid: int,
    uidvalidity: int,
    meta: MessageMeta,
    relocated: set[int],
    *,
    policy: MailboxPolicy,
    raw_store: ImageStore,
    now: Callable[[], dt.datetime],
) -> Recorded:
    """Record a new UID, or find the message its bytes already belong to.

    `relocated` holds the records this pass already moved to a new UID, so
    two copies of one message in the folder are one record, not a loop.
    """
    over = over_caps(meta, policy)
    # Only the header of a message over the caps: it is never decoded, and it stays
    # in the mailbox (Quarantine) for a person.
    raw = source.fetch_header(uid) if over else source.fetch(uid)
    sha = hashlib.sha256(raw).hexdigest()
    with Session(engine) as session:
        seen = message_by_content(session, source.account, sha)
        if seen is not None and seen.id is not None:
            return _found_again(session, source, seen, uid, uidvalidity, sha, relocated, now)
        raw_store.put(raw)
        # parse_header reads only the header block (capped), and never raises.
        header = parse_header(raw, own_addresses=(policy.mailbox_address,))
        record = InboundMessage(
            account=source.account,
            folder=source.folder,
            uidvalidity=uidvalidity,
            uid=uid,
            source_key=getattr(source, "key", lambda _u: None)(uid),
            message_id=header.message_id,
            sha256=sha,
            size=meta.size,
            raw_stored=over is None,
            sender=header.sender,
            subject=header.subject[:500],
            sent_at=header.sent_at,
            recorded_at=now(),
            state=MessageState.RECEIVED,
            detail=over,
        )
        session.add(record)
        session.commit()
        assert record.id is not None
        log.info(
            "UID %d of %s recorded",
            uid,
            source.folder,
            extra={
                "event": "message.recorded",
                "message_id": bracketed(header.message_id),
                "record_id": record.id,
                "uid": uid,
                "folder": source.folder,
                "uidvalidity": uidvalidity,
                "sha256": sha,
                "size": meta.size,
                "sender": header.sender,
            },
        )
        return Recorded(record.id, new=True, finished=False, retry=False)


def _found_again(
    session: Session,
    source: MailSource,
    seen: InboundMessage,
    uid: int,
    uidvalidity: int,
    sha: str,
    relocated: set[int],
    now: Callable[[], dt.datetime],
) -> Recorded:
    assert seen.id is not None
    retry = False
    if seen.id not in relocated:
        # Same bytes under a new UID: a UIDVALIDITY reset, or moved back by hand.
        # A quarantined message a person moved back is a request to try again.
        retry = moved_back(seen)
        seen.folder, seen.uidvalidity, seen.uid = source.folder, uidvalidity, uid
        seen.moved_at = None
        if retry:
            reopen(session, seen, now())
        session.add(seen)
        session.commit()
        relocated.add(seen.id)
    if retry:
        log_moved_back(seen, uid, source.folder)
        return Recorded(seen.id, new=False, finished=False, retry=True)
    log.info(
        "UID %d has the bytes of a message recorded before",
        uid,
        extra={
            "event": "message.seen_before",
            "message_id": bracketed(seen.message_id),
            "record_id": seen.id,
            "uid": uid,
            "folder": source.folder,
            "uidvalidity": uidvalidity,
            "sha256": sha,
            "state": seen.state.value,
        },
    )
    return Recorded(seen.id, new=False, finished=seen.state != MessageState.RECEIVED, retry=False)


def moved_back(record: InboundMessage) -> bool:
    """Quarantined, moved out by us, and found in the inbox again: a person put it back."""
    return (
        record.state == MessageState.QUARANTINED
        and record.moved_at is not None
        and record.raw_stored
    )


def log_moved_back(record: InboundMessage, uid: int, folder: str) -> None:
    log.info(
        "a quarantined message was moved back to %s: trying it once more",
        folder,
        extra={
            "event": "message.moved_back",
            "message_id": bracketed(record.message_id),
            "record_id": record.id,
            "uid": uid,
            "folder": folder,
        },
    )


def reopen(session: Session, record: InboundMessage, now: dt.datetime) -> None:
    """A quarantined message a person moved back to the inbox: one more try, on record."""
    before = {"state": record.state.value, "attempts": record.attempts}
    record.state = MessageState.RECEIVED
    record.attempts = 0
    record.released_at, record.released_by = now, None
    record.working_since = record.reading_since = None
    record.destination = None
    record_event(
        session,
        actor="mailbox",
        action=MOVED_BACK_ACTION,
        subject=f"inbound_message:{record.id}",
        before=before,
        after={"state": MessageState.RECEIVED.value, "attempts": 0},
        detail="Meddelandet flyttades tillbaka till inkorgen för hand och prövas en gång till.",
    )
