"""Step 4 of the pass: a finished message out of the folder, and moves nobody wrote down.

A message is moved only after its outcome is committed, and `moved_at` is
written only after the move. A run that dies in between leaves a finished
record whose UID is no longer in the folder; `settle_moves`, the first thing
a pass does, marks those moved. One whose UID is still there is simply moved
again. A message a reviewer released is read where it sat, in Quarantine,
and `take_back_released` then files it by its bytes (it has no UID in the
folder the pass reads). Nothing is deleted: the move is `MailSource.move` (IMAP MOVE, or a
copy and an expunge of that UID alone; a rename for a folder).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

from sqlalchemy import Engine
from sqlmodel import Session

from intake.mail.headers import bracketed
from intake.mail.policy import MailboxPolicy
from intake.mail.types import MailSource
from workqueue import InboundMessage, MessageState, unmoved_messages

__all__ = ["move_message", "settle_moves", "take_back_released"]

log = logging.getLogger(__name__)


def settle_moves(
    session: Session, source: MailSource, uidvalidity: int, present: set[int], now: dt.datetime
) -> None:
    """Mark moved the finished messages of this folder that are no longer in it."""
    for record in unmoved_messages(session, source.account, source.folder):
        if record.uidvalidity != uidvalidity or record.uid not in present:
            record.moved_at = now
            session.add(record)
            log.info(
                "UID %d was moved by an earlier run that did not record it",
                record.uid,
                extra={
                    "event": "message.move_settled",
                    "message_id": bracketed(record.message_id),
                    "record_id": record.id,
                    "uid": record.uid,
                    "to_folder": record.destination,
                },
            )
    session.commit()


def move_message(
    source: MailSource,
    engine: Engine,
    uid: int,
    record_id: int,
    *,
    policy: MailboxPolicy,
    checkpoint: Callable[[str, int], None],
    now: Callable[[], dt.datetime],
) -> None:
    """Move a finished message to its destination folder, then record that it was moved."""
    with Session(engine) as session:
        record = session.get(InboundMessage, record_id)
        assert record is not None
        destination = record.destination or (
            policy.quarantine_folder
            if record.state == MessageState.QUARANTINED
            else policy.processed_folder
        )
        message_id = bracketed(record.message_id)
    checkpoint("moving", record_id)
    source.move(uid, destination)
    checkpoint("moved", record_id)
    with Session(engine) as session:
        record = session.get(InboundMessage, record_id)
        assert record is not None
        record.moved_at = now()
        record.destination = destination
        session.add(record)
        session.commit()
    log.info(
        "UID %d moved from %s to %s",
        uid,
        source.folder,
        destination,
        extra={
            "event": "message.moved",
            "message_id": message_id,
            "record_id": record_id,
            "uid": uid,
            "folder": source.folder,
            "to_folder": destination,
        },
    )


def take_back_released(
    source: MailSource,
    engine: Engine,
    record_id: int,
    *,
    policy: MailboxPolicy,
    now: Callable[[], dt.datetime],
) -> bool:
    """File a released message, finished from its stored bytes, out of Quarantine.

    True when it was moved. One that finished in quarantine again stays where
    it is; one a person has filed elsewhere meanwhile is not looked for further.
    """
    with Session(engine) as session:
        record = session.get(InboundMessage, record_id)
        assert record is not None
        destination = record.destination or (
            policy.quarantine_folder
            if record.state == MessageState.QUARANTINED
            else policy.processed_folder
        )
        sha, size, message_id = record.sha256, record.size, bracketed(record.message_id)
    moved = destination != policy.quarantine_folder and source.take_back(
        policy.quarantine_folder, sha, size, destination
    )
    with Session(engine) as session:
        record = session.get(InboundMessage, record_id)
        assert record is not None
        record.destination = destination
        record.moved_at = now()
        session.add(record)
        session.commit()
    if moved:
        text = f"released message moved from {policy.quarantine_folder} to {destination}"
    else:
        text = f"released message left where it is (it belongs in {destination} or was filed)"
    log.info(
        "%s",
        text,
        extra={
            "event": "message.moved" if moved else "message.move_settled",
            "message_id": message_id,
            "record_id": record_id,
            "folder": policy.quarantine_folder,
            "to_folder": destination,
        },
    )
    return moved
