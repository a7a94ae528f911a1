"""The queue API for mail: which messages are known, and files that came before.

Intake records every message here before processing it and asks these
questions to stay exactly-once: is this UID already recorded, is this raw
message (by content) one we have seen under another UID, was this file
already queued from an earlier mail. The caller owns the transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

from sqlmodel import Session, col, select

from workqueue.mailmodels import InboundMessage, MessageState
from workqueue.models import Submission, SubmissionFinding

FINAL_STATES = (MessageState.PROCESSED, MessageState.QUARANTINED)
_CHUNK = 500


def _chunks(items: Sequence[int], size: int = _CHUNK) -> Iterable[Sequence[int]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def messages_at(
    session: Session, account: str, folder: str, uidvalidity: int, uids: Sequence[int]
) -> dict[int, InboundMessage]:
    """The recorded messages among `uids` of this folder under this UIDVALIDITY."""
    found: dict[int, InboundMessage] = {}
    for chunk in _chunks(list(uids)):
        rows = session.exec(
            select(InboundMessage).where(
                InboundMessage.account == account,
                InboundMessage.folder == folder,
                InboundMessage.uidvalidity == uidvalidity,
                col(InboundMessage.uid).in_(chunk),
            )
        ).all()
        for row in rows:
            assert row.uid is not None
            found[row.uid] = row
    return found


def message_by_content(session: Session, account: str, sha256: str) -> InboundMessage | None:
    """The first record of a message with exactly these raw bytes in this account."""
    return session.exec(
        select(InboundMessage)
        .where(InboundMessage.account == account, InboundMessage.sha256 == sha256)
        .order_by(col(InboundMessage.id))
        .limit(1)
    ).first()


def unmoved_messages(session: Session, account: str, folder: str) -> list[InboundMessage]:
    """Finished messages that were last seen in `folder` and not yet moved out."""
    return list(
        session.exec(
            select(InboundMessage).where(
                InboundMessage.account == account,
                InboundMessage.folder == folder,
                col(InboundMessage.state).in_(FINAL_STATES),
                col(InboundMessage.moved_at).is_(None),
            )
        ).all()
    )


def first_submission_for_file(session: Session, sha256: str) -> Submission | None:
    """The earliest submission made from a file with these bytes, if any."""
    return session.exec(
        select(Submission)
        .where(Submission.source_sha256 == sha256)
        .order_by(col(Submission.id))
        .limit(1)
    ).first()


def note_resent(
    session: Session, submission_id: int, *, sender: str | None, at: dt.datetime
) -> None:
    """Tell the reviewer of `submission_id` that the same file arrived again."""
    who = f" från {sender}" if sender else ""
    session.add(
        SubmissionFinding(
            submission_id=submission_id,
            code="file.resent",
            severity="info",
            message=(
                f"Samma fil skickades igen {at.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC{who}. "
                "Den lades inte i kön en gång till."
            ),
        )
    )


def in_flight_messages(session: Session, account: str, folder: str) -> list[InboundMessage]:
    """Messages of this folder a run was working on, or reading, when it stopped.

    Called under the mailbox lock, so the run that marked them is gone.
    """
    return list(
        session.exec(
            select(InboundMessage)
            .where(
                InboundMessage.account == account,
                InboundMessage.folder == folder,
                InboundMessage.state == MessageState.RECEIVED,
                col(InboundMessage.working_since).is_not(None)
                | col(InboundMessage.reading_since).is_not(None),
            )
            .order_by(col(InboundMessage.id))
        ).all()
    )


def released_messages(session: Session, account: str) -> list[InboundMessage]:
    """Quarantined messages a reviewer released, waiting for their one more try."""
    return list(
        session.exec(
            select(InboundMessage)
            .where(
                InboundMessage.account == account,
                InboundMessage.state == MessageState.RECEIVED,
                col(InboundMessage.released_at).is_not(None),
            )
            .order_by(col(InboundMessage.id))
        ).all()
    )
