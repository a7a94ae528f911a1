"""A message that answers our request for what was missing joins the case waiting for it.

Called by the pass in the one transaction that finishes a message, after its
attachments were queued as any message's are (`intake.mail.outcomes`), so the
crash guarantees stay those of the pass: the join lands with the message's
state, its attachments and its receipt, or none of it does, and a message
processed again after a crash joins then. Which case, and what joining does,
is `workqueue.awaiting`; this module decides which messages may join at all
and what of the customer's text the reviewer is shown.

A message sent by a machine never joins (`HeaderInfo.auto_generated`): an
out-of-office reply or a bounce names our request in In-Reply-To too, and
must not put the case back in the queue as if the customer had answered.
"""

from __future__ import annotations

import datetime as dt
import logging
import re

from sqlmodel import Session

from intake.mail.message import ParsedMessage
from workqueue import InboundMessage, Rejoined, rejoin_awaiting

__all__ = ["log_rejoined", "own_words", "rejoin"]

log = logging.getLogger(__name__)

# Where a reply's quotation of the mail it answers begins, in the mailers we see most.
_QUOTE_START = re.compile(
    r"^\s*(?:-{2,}\s*(?:Ursprungligt meddelande|Original Message)|_{5,}|"
    r"(?:Från|From|Skickat|Sent):\s|Den .{0,120} skrev|On .{0,120} wrote)",
    re.IGNORECASE,
)
_WORDS_KEPT = 2000


def own_words(text: str) -> str:
    """The customer's own text of a reply: quoted lines and the quoted mail below cut off."""
    kept: list[str] = []
    for line in text[: _WORDS_KEPT * 4].splitlines():
        if _QUOTE_START.match(line):
            break
        if not line.lstrip().startswith(">"):
            kept.append(line)
    return " ".join(" ".join(kept).split())[:_WORDS_KEPT]


def rejoin(
    session: Session, record: InboundMessage, parsed: ParsedMessage, *, now: dt.datetime
) -> Rejoined | None:
    """Join the message to the case it answers, if it answers one (module docstring)."""
    if parsed.header.auto_generated is not None:
        return None
    return rejoin_awaiting(
        session,
        record,
        references=parsed.header.references,
        reply_text=own_words(parsed.text_body),
        now=now,
    )


def log_rejoined(joined: Rejoined | None, *, record_id: int, message_id: str | None) -> None:
    """The `message.rejoined` event of a committed join."""
    if joined is None:
        return
    log.info(
        "message joined submission %s (by %s)",
        joined.submission_id,
        joined.matched_by,
        extra={
            "event": "message.rejoined",
            "message_id": message_id,
            "record_id": record_id,
            "submission": joined.submission_id,
            "matched_by": joined.matched_by,
            "pages": joined.pages,
        },
    )
