"""The first look at untrusted mail: the caps, and a pre-scan that applies them unparsed.

`MailLimits` is what one message may cost; `MessageRejected` refuses a
message as a whole, with an English reason for the operator and a Swedish one
for the sender. `prescan` judges the size and the MIME structure (header
blocks, parts, nesting) in one linear pass over the bytes, following the
boundaries the way the stdlib parser will, so that a hostile message is
refused in milliseconds before any parser sees it: the stdlib's feedparser
recurses once per nesting level and its parameter parser is quadratic, and
it has no caps of its own. Written by hand for that reason; the tests check
it against the parser's own view of the same messages. `parse_checked` is
the only way a whole message reaches the parser: pre-scan first, then
compat32, every parser failure mapped to a `MessageRejected`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email import policy
from email.message import Message
from email.parser import BytesParser
from typing import NamedTuple

from intake.errors import IntakeError

__all__ = [
    "MAX_PARAM_HEADER_BYTES",
    "MailLimits",
    "MessageRejected",
    "MessageShape",
    "parse_checked",
    "prescan",
]

# The stdlib's parameter parser is quadratic in the semicolons inside quotes,
# so a Content-Type or Content-Disposition longer than this is refused
# unparsed. A 2000-character file name in RFC 2231 percent-encoding fits.
MAX_PARAM_HEADER_BYTES = 16 * 1024


@dataclass(frozen=True)
class MailLimits:
    """What one message may cost before it is refused as a whole."""

    max_bytes: int = 30 * 1024 * 1024
    max_parts: int = 60  # MIME parts in total, containers and nested messages included
    max_depth: int = 8  # multipart / message/rfc822 nesting; the top level is 0
    max_attachments: int = 20  # candidate files per message
    max_header_bytes: int = 256 * 1024  # per header block


# The name reads as what happened to the message; an "Error" suffix would only repeat it.
class MessageRejected(IntakeError):  # noqa: N818
    """The message as a whole is refused: over a cap, or not parseable.

    `message` says why in English for the operator; `customer_message` says
    the same in Swedish for the sender, with what to do instead.
    """

    def __init__(self, message: str, customer_message: str) -> None:
        super().__init__(message)
        self.customer_message = customer_message


class MessageShape(NamedTuple):
    """What `prescan` found: parts as the parser will count them, and the deepest level."""

    parts: int
    depth: int


# --- rejections ----------------------------------------------------------------


def _mb(size: int) -> str:
    return f"{size / (1024 * 1024):.1f}"


def _too_big(size: int, limit: int) -> MessageRejected:
    return MessageRejected(
        f"the message is {_mb(size)} MB; the limit is {_mb(limit)} MB",
        f"Meddelandet är för stort ({_mb(size).replace('.', ',')} MB, högst "
        f"{limit // (1024 * 1024)} MB). Skicka blanketten som PDF eller bild i ett mindre mejl, "
        "till exempel med lägre upplösning eller en blankett per mejl.",
    )


def _header_too_big(size: int, limit: int) -> MessageRejected:
    return MessageRejected(
        f"a header block is over {limit} bytes ({size} bytes)",
        "Meddelandet har ett onormalt stort huvud och kan inte tas emot. "
        "Skicka blanketten som bilaga i ett nytt mejl.",
    )


def _param_header_too_long(size: int) -> MessageRejected:
    return MessageRejected(
        f"a Content-Type or Content-Disposition header is {size} bytes "
        f"(the limit is {MAX_PARAM_HEADER_BYTES})",
        "Meddelandet har en felaktig bilaga och kan inte läsas. "
        "Skicka blanketten som bilaga i ett nytt mejl.",
    )


def too_many_parts(limit: int) -> MessageRejected:
    return MessageRejected(
        f"the message has more than {limit} MIME parts",
        "Meddelandet består av för många delar och kan inte läsas. "
        "Skicka blanketten i ett nytt mejl med färre bilagor.",
    )


def too_deep(limit: int) -> MessageRejected:
    return MessageRejected(
        f"the message nests parts more than {limit} levels deep",
        "Meddelandet är inbäddat i för många nivåer (till exempel vidarebefordrat många "
        "gånger). Skicka blanketten som bilaga i ett nytt mejl.",
    )


def too_many_attachments(limit: int) -> MessageRejected:
    return MessageRejected(
        f"the message has more than {limit} PDF or image attachments",
        f"Meddelandet har fler än {limit} bilagor. Skicka blanketterna i flera mejl, "
        f"högst {limit} bilagor i varje.",
    )


def unparseable(why: str) -> MessageRejected:
    return MessageRejected(
        f"the message cannot be parsed: {why}",
        "Meddelandet kunde inte läsas. Skicka blanketten som bilaga i ett nytt mejl.",
    )


# --- prescan -------------------------------------------------------------------

# A header block as the stdlib's feedparser sees it: lines that look like a
# header field, a continuation or an mbox "From " line, on data whose line
# breaks are all "\n".
_HEADER_LINES = re.compile(rb"(?:(?:From |[\x21-\x39\x3b-\x7e]*:|[ \t])[^\n]*(?:\n|\Z))*")
_BLANK_LINE = re.compile(rb"(?<=\n)\n")  # an empty line after the first
_CONTENT_TYPE_LINE = re.compile(rb"^content-type:([^\n]*(?:\n[ \t][^\n]*)*)", re.I | re.M)
_PARAM_HEADER_LINE = re.compile(
    rb"^content-(?:type|disposition):[^\n]*(?:\n[ \t][^\n]*)*", re.I | re.M
)


@dataclass
class _Level:
    boundary: bytes
    child_depth: int
    child_default: str  # children of multipart/digest are messages by default


class _Prescan:
    """One pass over the message, mirroring the feedparser's view of its structure.

    Only header blocks and the delimiter lines of the open multiparts are
    looked at; bodies are skipped by one regex search, so the cost is linear
    in the size whatever the content. Where the feedparser is lenient
    (repeated delimiter lines) this counts a part too many, never too few.
    """

    def __init__(self, raw: bytes, limits: MailLimits) -> None:
        self.data = raw.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        self.limits = limits
        self.stack: list[_Level] = []
        self.delimiter: re.Pattern[bytes] | None = None
        self.parts = 0
        self.depth = 0
        self.status_body: int | None = None  # start of an open message/delivery-status body

    def run(self) -> MessageShape:
        pos = self._entity(0, 0, "text/plain")
        while self.delimiter is not None:
            match = self.delimiter.search(self.data, pos)
            if match is None:
                break
            self._close_status(match.start())
            pos = match.end() + 1
            index = self._level(match.group(1))
            if match.group(2):
                self._pop(index)
            else:
                self._pop(index + 1)
                level = self.stack[index]
                pos = self._entity(pos, level.child_depth, level.child_default)
        self._close_status(len(self.data))
        return MessageShape(self.parts, self.depth)

    def _level(self, boundary: bytes) -> int:
        # Innermost first, as the feedparser tries its end-of-part matchers.
        for index in range(len(self.stack) - 1, -1, -1):
            if self.stack[index].boundary == boundary:
                return index
        raise AssertionError("a delimiter matched no open boundary")

    def _pop(self, keep: int) -> None:
        del self.stack[keep:]
        self._compile()

    def _compile(self) -> None:
        if not self.stack:
            self.delimiter = None
            return
        names = b"|".join(re.escape(level.boundary) for level in reversed(self.stack))
        self.delimiter = re.compile(rb"^--(" + names + rb")(--)?[ \t]*$", re.MULTILINE)

    def _count(self, parts: int, depth: int) -> None:
        self.parts += parts
        self.depth = max(self.depth, depth)
        if self.parts > self.limits.max_parts:
            raise too_many_parts(self.limits.max_parts)
        if depth > self.limits.max_depth:
            raise too_deep(self.limits.max_depth)

    def _close_status(self, end: int) -> None:
        # The feedparser makes one part of each block a blank line ends, and one more for
        # what follows the last blank line, if anything does. Every blank line counts,
        # so runs of them are found overlapping, not as pairs of newlines.
        if self.status_body is not None:
            start = self.status_body
            # The body follows its header's blank line, so a newline at `start` is a
            # blank line too: the look-behind sees the byte before `start`.
            blank = len(_BLANK_LINE.findall(self.data, start, end))
            tail = end > start and not self.data.endswith(b"\n\n", start, end)
            if self.data[start:end] == b"\n":
                tail = False
            # Even an empty body is one (empty) block to the feedparser.
            self._count(max(1, blank + tail), self.depth)
            self.status_body = None

    def _entity(self, pos: int, depth: int, default: str) -> int:
        """Count the entity whose header starts at pos; return where its body starts."""
        while True:
            self._count(1, depth)
            end = self._header_end(pos)
            if end - pos > self.limits.max_header_bytes:
                raise _header_too_big(end - pos, self.limits.max_header_bytes)
            for line in _PARAM_HEADER_LINE.finditer(self.data, pos, end):
                if len(line.group(0)) > MAX_PARAM_HEADER_BYTES:
                    raise _param_header_too_long(len(line.group(0)))
            ctype, boundary = _structure_of(self.data, pos, end, default)
            body = end + 1 if self.data[end : end + 1] == b"\n" else end
            if ctype == "message/delivery-status":
                self.status_body = body
                return body
            if ctype.startswith("message/"):
                pos, depth, default = body, depth + 1, "text/plain"
                continue
            if ctype.startswith("multipart/") and boundary is not None:
                digest = "message/rfc822" if ctype == "multipart/digest" else "text/plain"
                self.stack.append(_Level(boundary, depth + 1, digest))
                self._compile()
            return body

    def _header_end(self, pos: int) -> int:
        match = _HEADER_LINES.match(self.data, pos)
        end = match.end() if match else pos
        # A delimiter of an enclosing multipart ends a header block even where
        # it looks like a header line (a boundary may contain a colon).
        if self.delimiter is not None and any(b":" in lv.boundary for lv in self.stack):
            delimiter = self.delimiter.search(self.data, pos, end)
            if delimiter is not None:
                return delimiter.start()
        return end


def _structure_of(data: bytes, start: int, end: int, default: str) -> tuple[str, bytes | None]:
    """Content type and boundary of one header block, exactly as the stdlib reads them."""
    match = _CONTENT_TYPE_LINE.search(data, start, end)
    probe = Message()
    probe.set_default_type(default)
    if match is not None:
        value = match.group(1).decode("ascii", "surrogateescape").lstrip(" \t").rstrip("\n")
        probe.set_raw("Content-Type", value)
    ctype = probe.get_content_type()
    if not ctype.startswith("multipart/"):
        return ctype, None
    try:
        boundary = probe.get_boundary()
    except Exception as exc:  # RFC 2231 decoding in a junk charset; the parser fails alike
        raise unparseable(f"bad boundary parameter ({type(exc).__name__})") from exc
    if boundary is None:
        return ctype, None
    try:
        return ctype, boundary.encode("ascii", "surrogateescape")
    except UnicodeEncodeError:
        # Decoded to a character no line of the message can hold: it never matches.
        return ctype, None


def prescan(raw: bytes, limits: MailLimits) -> MessageShape:
    """Refuse a message over the caps, judged without parsing it; `MessageRejected` says why.

    Checks the size, every header block, the number of MIME parts and their
    nesting, with one linear scan.
    """
    if not raw:
        raise MessageRejected("the message is empty (0 bytes)", "Meddelandet var tomt.")
    if len(raw) > limits.max_bytes:
        raise _too_big(len(raw), limits.max_bytes)
    return _Prescan(raw, limits).run()


def parse_checked(raw: bytes, limits: MailLimits) -> Message:
    """The message parsed (compat32: headers stay raw strings), once `prescan` lets it through."""
    prescan(raw, limits)
    try:
        return BytesParser(policy=policy.compat32).parsebytes(raw)
    except RecursionError as exc:
        raise too_deep(limits.max_depth) from exc
    except Exception as exc:  # the parser has no documented failure modes; each is ours to map
        raise unparseable(type(exc).__name__) from exc
