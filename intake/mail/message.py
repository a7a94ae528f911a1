"""One raw mail message to what the intake needs: header facts, candidate files, skipped parts.

This module only puts the steps together; each is a module of its own:
`intake.mail.prescan` (the caps, judged before any parser sees the bytes),
`intake.mail.headers` (header fields to safe text and facts),
`intake.mail.parts` (the parts to candidate files, skipped files and body
text, with `intake.mail.sniff` deciding file types by their bytes). It stays
as the one entry point the pass and the samples use, the place where a
message is either parsed whole (`parse_message`) or only by its header block
(`parse_header`, for a message over the caps, fetched in part).
`MailLimits` and `MessageRejected` are defined with the pre-scan that applies
them first and are part of this module's API.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from email import policy
from email.message import Message
from email.parser import BytesParser

from intake.mail.headers import HeaderInfo, header_info
from intake.mail.parts import Attachment, SkippedPart, walk_parts
from intake.mail.prescan import MailLimits, MessageRejected, parse_checked

__all__ = [
    "Attachment",
    "HeaderInfo",
    "MailLimits",
    "MessageRejected",
    "ParsedMessage",
    "SkippedPart",
    "parse_header",
    "parse_message",
]


@dataclass(frozen=True)
class ParsedMessage:
    header: HeaderInfo
    attachments: list[Attachment]
    skipped: list[SkippedPart]
    text_body: str


def parse_message(
    raw: bytes, limits: MailLimits = MailLimits(), *, own_addresses: Collection[str] = ()
) -> ParsedMessage:
    """The message's header facts, candidate files, skipped files and body text.

    `MessageRejected` when the message as a whole is over a cap or cannot be
    parsed; a part that cannot be used is a `SkippedPart`, never an error.
    """
    message = parse_checked(raw, limits)
    parts = walk_parts(message, limits)
    return ParsedMessage(
        header=header_info(message, own_addresses),
        attachments=parts.attachments,
        skipped=parts.skipped,
        text_body=parts.text_body,
    )


def parse_header(
    raw_header: bytes,
    *,
    own_addresses: Collection[str] = (),
    max_bytes: int = MailLimits.max_header_bytes,
) -> HeaderInfo:
    """Header facts from a header block alone (a message over the size cap, fetched in part)."""
    try:
        message = BytesParser(policy=policy.compat32).parsebytes(
            raw_header[:max_bytes], headersonly=True
        )
    except Exception:  # the parser failing on junk must not stop an answer about size
        message = Message()
    return header_info(message, own_addresses)
