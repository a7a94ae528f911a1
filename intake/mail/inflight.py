"""Which messages a run is working on, so that a run that dies charges only them.

A run marks, committed, what it works on before reading it: the messages of
a batch together (`reading_since`), or one message alone (`working_since`).
The next run, under the mailbox lock (so whoever set the marks is gone),
charges an attempt only to a message a dead run was working on alone; the
rest of a dead batch are suspects, tried alone first and charged nothing.
A run that stops for a fault of our own takes its marks back, so nobody is
charged for it.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy import Engine
from sqlmodel import Session, col

from intake.mail.headers import bracketed
from workqueue import InboundMessage, MessageState, in_flight_messages, released_messages

__all__ = ["charge_dead_runs", "is_suspect", "mark_in_flight", "take_back_marks"]

log = logging.getLogger("intake.mail.mailbox")  # one logger for the whole pass


def charge_dead_runs(session: Session, account: str, folder: str) -> None:
    """Charge an attempt to each message a dead run was working on alone; commits."""
    marked = in_flight_messages(session, account, folder)
    marked += [
        m
        for m in released_messages(session, account)
        if m.working_since is not None and m.folder != folder
    ]
    for record in marked:
        if record.working_since is None:
            continue
        record.attempts += 1
        record.working_since = None
        session.add(record)
        log.warning(
            "a run stopped while working on this message (%d times now)",
            record.attempts,
            extra={
                "event": "message.interrupted",
                "message_id": bracketed(record.message_id),
                "record_id": record.id,
                "attempts": record.attempts,
            },
        )
    session.commit()


def mark_in_flight(
    engine: Engine, record_ids: Sequence[int], *, alone: bool, now: dt.datetime
) -> None:
    """Say, committed, which messages this run now works on."""
    with Session(engine) as session:
        for record_id in record_ids:
            record = session.get(InboundMessage, record_id)
            assert record is not None
            if alone:
                record.working_since, record.reading_since = now, None
            else:
                record.reading_since = now
            session.add(record)
        session.commit()


def take_back_marks(engine: Engine, record_ids: Sequence[int]) -> None:
    """Take back a run's marks: it stopped for a fault that was not the messages'."""
    if not record_ids:
        return
    try:
        with engine.begin() as connection:
            connection.execute(
                sa.update(InboundMessage)
                .where(
                    col(InboundMessage.id).in_(record_ids),
                    col(InboundMessage.state) == MessageState.RECEIVED,
                )
                .values(working_since=None, reading_since=None)
            )
    except sa.exc.SQLAlchemyError:
        # The database itself is what failed. The message worked on alone, if any,
        # is charged one attempt by the next run: never three for one outage, since
        # a run without its database stops before it marks anything.
        log.info("could not take back the in-flight marks", exc_info=True)


def is_suspect(record: InboundMessage) -> bool:
    """Left unfinished by a run that died, or released by a person: to be tried alone."""
    return record.attempts > 0 or record.reading_since is not None or record.released_at is not None
