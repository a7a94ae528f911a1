"""One raw mail message to what the intake needs: header facts, candidate files, skipped parts.

This module owns the first look at untrusted mail. `prescan` judges the size
and the MIME structure (header blocks, parts, nesting) in one linear pass over
the bytes, following the boundaries the way the stdlib parser will, so that a
hostile message is refused in milliseconds before any parser sees it.
`parse_message` then parses with `email` in its compat32 mode, where headers
stay raw strings: every header is decoded here, leniently (an unknown charset
or a broken encoded word falls back, never raises), and control characters
never survive into a value. The parts are walked with an explicit stack and
depth counter and each leaf becomes one of:

* an `Attachment`, when its bytes are a PDF or an image the intake reads,
  whatever its declared type, name or disposition (inline images and files
  inside forwarded messages included);
* a `SkippedPart`, when it is some other file (an archive, an Office
  document, a HEIC photo, a program), with a Swedish reason for the sender;
* body text, or nothing (signatures, delivery reports, HTML alternatives).

File names are decoded for display only and never used as paths.
"""

from __future__ import annotations

import binascii
import codecs
import datetime as dt
import hashlib
import re
import unicodedata
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from email import policy
from email.message import Message
from email.parser import BytesParser
from email.utils import getaddresses, parsedate_to_datetime
from typing import NamedTuple

from intake.errors import IntakeError

__all__ = [
    "CANDIDATE_TYPES",
    "Attachment",
    "HeaderInfo",
    "MailLimits",
    "MessageRejected",
    "MessageShape",
    "ParsedMessage",
    "SkippedPart",
    "decode_header_text",
    "detect_type",
    "parse_header",
    "parse_message",
    "prescan",
]

# The types `intake.scan.pages` reads; every other file is skipped.
CANDIDATE_TYPES = frozenset({"pdf", "jpeg", "png", "tiff", "webp", "bmp"})
TEXT_BODY_CHARS = 10_000
# The stdlib's parameter parser is quadratic in the semicolons inside quotes,
# so a Content-Type or Content-Disposition longer than this is refused
# unparsed. A 2000-character file name in RFC 2231 percent-encoding fits.
MAX_PARAM_HEADER_BYTES = 16 * 1024
MAX_FROM_CHARS = 2000


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


@dataclass(frozen=True)
class Attachment:
    position: int  # 0-based order of appearance among the candidates
    filename: str  # for display only
    declared_type: str
    detected_type: str
    data: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


@dataclass(frozen=True)
class SkippedPart:
    filename: str
    declared_type: str
    detected_type: str
    reason: str  # English, short
    customer_reason: str  # Swedish: what was wrong and what to do


@dataclass(frozen=True)
class HeaderInfo:
    message_id: str | None
    sender: str | None
    sender_name: str | None
    subject: str
    sent_at: dt.datetime | None
    return_path_null: bool
    auto_generated: str | None  # why we must never reply automatically


@dataclass(frozen=True)
class ParsedMessage:
    header: HeaderInfo
    attachments: list[Attachment]
    skipped: list[SkippedPart]
    text_body: str


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


def _too_many_parts(limit: int) -> MessageRejected:
    return MessageRejected(
        f"the message has more than {limit} MIME parts",
        "Meddelandet består av för många delar och kan inte läsas. "
        "Skicka blanketten i ett nytt mejl med färre bilagor.",
    )


def _too_deep(limit: int) -> MessageRejected:
    return MessageRejected(
        f"the message nests parts more than {limit} levels deep",
        "Meddelandet är inbäddat i för många nivåer (till exempel vidarebefordrat många "
        "gånger). Skicka blanketten som bilaga i ett nytt mejl.",
    )


def _too_many_attachments(limit: int) -> MessageRejected:
    return MessageRejected(
        f"the message has more than {limit} PDF or image attachments",
        f"Meddelandet har fler än {limit} bilagor. Skicka blanketterna i flera mejl, "
        f"högst {limit} bilagor i varje.",
    )


def _unparseable(why: str) -> MessageRejected:
    return MessageRejected(
        f"the message cannot be parsed: {why}",
        "Meddelandet kunde inte läsas. Skicka blanketten som bilaga i ett nytt mejl.",
    )


# --- prescan -------------------------------------------------------------------

# A header block as the stdlib's feedparser sees it: lines that look like a
# header field, a continuation or an mbox "From " line, on data whose line
# breaks are all "\n".
_HEADER_LINES = re.compile(rb"(?:(?:From |[\x21-\x39\x3b-\x7e]*:|[ \t])[^\n]*(?:\n|\Z))*")
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
            raise _too_many_parts(self.limits.max_parts)
        if depth > self.limits.max_depth:
            raise _too_deep(self.limits.max_depth)

    def _close_status(self, end: int) -> None:
        # The feedparser makes one part of each blank-line separated block.
        if self.status_body is not None:
            self._count(self.data.count(b"\n\n", self.status_body, end), self.depth)
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
        raise _unparseable(f"bad boundary parameter ({type(exc).__name__})") from exc
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


# --- file types ------------------------------------------------------------------

_HEIF_BRANDS = frozenset(
    {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs", b"mif1", b"msf1"}
)
_BMP_HEADER_SIZES = frozenset({12, 16, 40, 52, 56, 64, 108, 124})
_OFFICE_MARKERS = (
    b"[Content_Types].xml",
    b"word/",
    b"xl/",
    b"ppt/",
    b"mimetypeapplication/vnd.oasis.opendocument",
)
_NOT_CONTROL = bytes(set(range(256)) - (set(range(32)) - {9, 10, 12, 13}) - {0x7F})


def detect_type(data: bytes) -> str:
    """The kind of file from its first bytes, never from a name or a declared type."""
    if not data:
        return "empty"
    head = data[:32]
    # As `intake.scan.pages`: PDF readers accept the header anywhere in the first kilobyte.
    if b"%PDF-" in data[:1024]:
        return "pdf"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "tiff"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if (
        head.startswith(b"BM")
        and len(head) >= 18
        and head[6:10] == b"\x00\x00\x00\x00"
        and int.from_bytes(head[14:18], "little") in _BMP_HEADER_SIZES
    ):
        return "bmp"
    if head[4:8] == b"ftyp" and head[8:12] in _HEIF_BRANDS:
        return "heic"
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08"):
        return "office" if any(m in data[:4096] for m in _OFFICE_MARKERS) else "zip"
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):  # OLE2: .doc, .xls, .msg
        return "office"
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    if head.startswith(b"Rar!\x1a\x07"):
        return "rar"
    if head.startswith(b"7z\xbc\xaf\x27\x1c"):
        return "7z"
    return "text" if _looks_like_text(data[:4096]) else "other"


def _looks_like_text(sample: bytes) -> bool:
    if b"\x00" in sample:
        return False
    # Few control characters besides tab, line breaks and form feed: text in some charset.
    controls = len(sample.translate(None, _NOT_CONTROL))
    return controls * 100 <= len(sample)


# --- header text -------------------------------------------------------------------

_ENCODED_WORD = re.compile(rb"=\?([^?\s]{1,75})\?([bBqQ])\?([^?\s]*)\?=")
_FOLD = re.compile(rb"\r?\n(?=[ \t])")
_SPACES = re.compile(r"\s+")
# Codecs that are not a character set, or that turn bytes into anything but text.
_UNSAFE_CODECS = frozenset(
    {
        "idna",
        "punycode",
        "raw-unicode-escape",
        "unicode-escape",
        "undefined",
        "raw_unicode_escape",
        "unicode_escape",
    }
)
_B64_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="
_B64_JUNK = bytes(set(range(256)) - set(_B64_ALPHABET))


def _codec(charset: str | None) -> str | None:
    name = (charset or "").strip().strip('"').split("*", 1)[0].lower()
    if not name or len(name) > 40:
        return None
    try:
        info = codecs.lookup(name)
    except (LookupError, ValueError):
        return None
    if info.name in _UNSAFE_CODECS or not getattr(info, "_is_text_encoding", True):
        return None
    return info.name


def _to_text(data: bytes, charset: str | None) -> str:
    """Bytes in a declared charset to text; a wrong or unknown charset falls back, never raises."""
    codec = _codec(charset)
    if codec is not None:
        try:
            return data.decode(codec)
        except (UnicodeError, LookupError, ValueError):
            pass
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        # Swedish mail that is not UTF-8 is almost always Windows-1252 or Latin-1.
        return data.decode("cp1252", errors="replace")


def _b64(data: bytes) -> bytes:
    """Lenient base64: junk characters dropped, a cut-off end decoded as far as it goes."""
    clean = data.translate(None, _B64_JUNK)
    pad = clean.find(b"=")
    if pad >= 0:
        clean = clean[:pad]
    extra = len(clean) % 4
    if extra == 1:
        clean = clean[:-1]
    elif extra:
        clean += b"=" * (4 - extra)
    return binascii.a2b_base64(clean)


def _word_bytes(encoding: bytes, text: bytes) -> bytes:
    if encoding in b"bB":
        return _b64(text)
    return binascii.a2b_qp(text.replace(b"_", b" "), header=True)


def _raw_bytes(value: str) -> bytes:
    """A compat32 header or payload string back to the bytes it was parsed from."""
    return value.encode("utf-8", "surrogateescape")


def decode_header_text(raw: bytes) -> str:
    """A header value to text: unfolded, RFC 2047 encoded words decoded, raw 8-bit tolerated.

    Adjacent encoded words in one charset are joined before decoding, since
    mailers split multi-byte characters across them. Control characters are
    kept here; `_clean` removes them.
    """
    raw = _FOLD.sub(b"", raw)
    pieces: list[str] = []
    pending: list[bytes] = []
    pending_charset: str | None = None
    pos = 0

    def flush() -> None:
        nonlocal pending_charset
        if pending_charset is not None:
            pieces.append(_to_text(b"".join(pending), pending_charset))
        pending.clear()
        pending_charset = None

    for match in _ENCODED_WORD.finditer(raw):
        between = raw[pos : match.start()]
        # Whitespace between two encoded words is not part of the text (RFC 2047).
        if between.strip(b" \t\r\n") or pending_charset is None:
            flush()
            pieces.append(_to_text(between, "utf-8"))
        charset = match.group(1).decode("ascii", "replace").split("*", 1)[0].lower()
        if charset != pending_charset:
            flush()
            pending_charset = charset
        pending.append(_word_bytes(match.group(2), match.group(3)))
        pos = match.end()
    flush()
    pieces.append(_to_text(raw[pos:], "utf-8"))
    return "".join(pieces)


def _clean(text: str, limit: int) -> str:
    """Control, format and separator characters to spaces, runs of space to one; at most limit."""
    kept = "".join(
        " " if unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp") else c
        for c in text[: limit * 4]
    )
    return _SPACES.sub(" ", kept).strip()[:limit]


# --- headers -----------------------------------------------------------------------

_ADDRESS = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
)
_MACHINE_SENDER = re.compile(
    r"(?:mailer-daemon|postmaster|no-?reply|do-?not-?reply|no_reply|do_not_reply)(?:[+._-].*)?",
    re.IGNORECASE,
)
_BULK_PRECEDENCE = frozenset({"bulk", "junk", "list", "auto_reply"})
_PRESENCE_MARKERS = (
    ("x-autoreply", "X-Autoreply header (an automatic reply)"),
    ("x-autorespond", "X-Autorespond header (an automatic reply)"),
    ("list-id", "List-Id header (a mailing list)"),
    ("list-unsubscribe", "List-Unsubscribe header (a mailing list or newsletter)"),
)


class _Headers:
    """The raw header fields of one entity, first occurrence wins (as the stdlib reads them)."""

    def __init__(self, message: Message) -> None:
        self.fields: dict[str, list[str]] = {}
        for name, value in message.raw_items():
            self.fields.setdefault(str(name).strip().lower(), []).append(str(value))

    def raw(self, name: str) -> bytes | None:
        values = self.fields.get(name)
        return _raw_bytes(values[0]) if values else None

    def text(self, name: str) -> str | None:
        value = self.raw(name)
        return None if value is None else decode_header_text(value)

    def token(self, name: str) -> str | None:
        """The value up to its first ';', lower-case ASCII; for Auto-Submitted and the like."""
        value = self.raw(name)
        if value is None:
            return None
        return _clean(value.split(b";", 1)[0].decode("ascii", "replace"), 100).lower()


def _message_id(value: str | None) -> str | None:
    if value is None:
        return None
    match = re.search(r"<([^<>]*)>", value)
    text = match.group(1) if match else value
    kept = "".join(c for c in text if "!" <= c <= "~")
    return kept[:500] or None


def _sender(value: bytes | None) -> tuple[str | None, str | None]:
    """The From address if it is one plain, valid address; and the decoded display name."""
    if value is None or len(value) > MAX_FROM_CHARS:
        return None, None
    unfolded = _FOLD.sub(b"", value)
    if b"\r" in unfolded or b"\n" in unfolded:
        return None, None
    try:
        found = getaddresses([unfolded.decode("ascii", "surrogateescape")])
    except Exception:  # the stdlib's address parser has raised IndexError and worse on junk
        return None, None
    found = [(name, addr) for name, addr in found if name or addr]
    if len(found) != 1:
        return None, None
    name, addr = found[0]
    name_text = _clean(decode_header_text(_raw_bytes(name)), 200) or None
    address = addr.strip()
    local = address.rpartition("@")[0]
    if (
        not _ADDRESS.fullmatch(address)
        or len(address) > 254
        or len(local) > 64
        or address.count("@") != 1
    ):
        return None, name_text
    return address.lower(), name_text


def _sent_at(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        when = parsedate_to_datetime(_clean(value, 200))
    except Exception:  # ValueError, TypeError, OverflowError, IndexError on junk dates
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    try:
        return when.astimezone(dt.UTC)
    except (OverflowError, ValueError):
        return None


def _auto_generated(
    headers: _Headers, sender: str | None, return_path_null: bool, own: Collection[str]
) -> str | None:
    """Why a reply to this message must not be sent automatically (RFC 3834 and practice)."""
    submitted = headers.token("auto-submitted")
    if submitted is not None and submitted != "no":
        return f"Auto-Submitted: {submitted}"
    precedence = headers.token("precedence")
    if precedence in _BULK_PRECEDENCE:
        return f"Precedence: {precedence}"
    for name, why in _PRESENCE_MARKERS:
        if name in headers.fields:
            return why
    suppress = headers.token("x-auto-response-suppress")
    if suppress is not None and suppress not in ("", "none"):
        return f"X-Auto-Response-Suppress: {suppress}"
    if headers.token("content-type") == "multipart/report":
        return "a delivery or read report (multipart/report)"
    if return_path_null:
        return "null Return-Path (a bounce)"
    if sender is not None:
        if sender in {a.strip().lower() for a in own}:
            return "sent from our own mailbox"
        local = sender.rpartition("@")[0]
        if _MACHINE_SENDER.fullmatch(local):
            return f"sent by a machine ({local})"
    return None


def _header_info(message: Message, own_addresses: Collection[str]) -> HeaderInfo:
    headers = _Headers(message)
    sender, sender_name = _sender(headers.raw("from"))
    return_path = headers.raw("return-path")
    return_path_null = (
        return_path is not None
        and re.fullmatch(rb"\s*<\s*>\s*", _FOLD.sub(b"", return_path)) is not None
    )
    subject = headers.text("subject")
    return HeaderInfo(
        message_id=_message_id(headers.text("message-id")),
        sender=sender,
        sender_name=sender_name,
        subject=_clean(subject, 300) if subject is not None else "",
        sent_at=_sent_at(headers.text("date")),
        return_path_null=return_path_null,
        auto_generated=_auto_generated(headers, sender, return_path_null, own_addresses),
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
    return _header_info(message, own_addresses)


# --- parts ---------------------------------------------------------------------------

_IGNORED_TYPES = frozenset(
    {
        "message/delivery-status",
        "text/rfc822-headers",
        "application/pkcs7-signature",
        "application/x-pkcs7-signature",
        "application/pgp-signature",
        "application/pgp-keys",
        "application/pgp-encrypted",
    }
)
_EXTENSIONS = {
    "pdf": "pdf",
    "jpeg": "jpg",
    "png": "png",
    "tiff": "tif",
    "webp": "webp",
    "bmp": "bmp",
    "heic": "heic",
    "zip": "zip",
    "gzip": "gz",
    "rar": "rar",
    "7z": "7z",
    "text": "txt",
}
_SEND_SCAN = "Skicka blanketten som PDF eller bild (JPEG, PNG eller TIFF)."
_SKIP_REASONS: dict[str, tuple[str, str]] = {
    "zip": ("a zip archive; archives are never opened", f"Zip-filer öppnas inte. {_SEND_SCAN}"),
    "gzip": (
        "a gzip archive; archives are never opened",
        f"Komprimerade filer öppnas inte. {_SEND_SCAN}",
    ),
    "rar": (
        "a rar archive; archives are never opened",
        f"Komprimerade filer öppnas inte. {_SEND_SCAN}",
    ),
    "7z": (
        "a 7z archive; archives are never opened",
        f"Komprimerade filer öppnas inte. {_SEND_SCAN}",
    ),
    "office": (
        "an Office document, not a scan",
        "Word-, Excel- och andra Office-dokument läses inte. Skriv ut blanketten, "
        f"skriv under och skanna eller fotografera den. {_SEND_SCAN}",
    ),
    "heic": (
        "a HEIC/HEIF photo, which is not read",
        "HEIC-bilder (iPhone) kan inte läsas. Skicka bilden som JPEG eller PDF "
        "(på iPhone: Inställningar > Kamera > Format > Mest kompatibelt).",
    ),
    "text": (
        "a text file, not a scan",
        f"Filen innehåller text, inte en skannad blankett. {_SEND_SCAN}",
    ),
    "empty": ("an empty file", "Filen är tom. Skicka den igen."),
    "other": ("not a PDF or an image we read", f"Filtypen kan inte läsas. {_SEND_SCAN}"),
}


def _first(headers: _Headers, name: str) -> str:
    value = headers.raw(name)
    return "" if value is None else _clean(value.decode("ascii", "replace"), 200)


def _conflicting(headers: _Headers) -> str | None:
    for name in ("content-type", "content-transfer-encoding"):
        values = {_clean(v, 1000).lower() for v in headers.fields.get(name, [])}
        if len(values) > 1:
            return name
    return None


def _declared_type(part: Message) -> str:
    kept = "".join(c for c in part.get_content_type() if "!" <= c <= "~")
    return kept[:100].lower()


def _filename(headers: _Headers) -> str | None:
    """The sender's name for the part, decoded (RFC 2231 and encoded words), unsanitised."""
    probe = Message()
    for name in ("content-disposition", "content-type"):
        value = headers.raw(name)
        if value is not None:
            probe.set_raw(name, _to_text(_FOLD.sub(b"", value), "utf-8"))
    try:
        found = probe.get_filename()
    except Exception:  # the stdlib's RFC 2231 decoding raises on some junk charsets
        return None
    if not found:
        return None
    return decode_header_text(found.encode("utf-8", "surrogateescape"))


def _display_name(name: str | None, number: int, kind: str) -> str:
    """A name fit to show: basename only, no controls, at most 200 characters."""
    text = _clean(name or "", MAX_PARAM_HEADER_BYTES).replace("\\", "/").rsplit("/", 1)[-1]
    text = re.sub(r"^[A-Za-z]:", "", text).strip(" .")
    if not text:
        return f"bilaga-{number}.{_EXTENSIONS.get(kind, 'bin')}"
    if len(text) > 200:
        stem, dot, ext = text.rpartition(".")
        text = f"{stem[: 199 - len(ext)]}.{ext}" if dot and 0 < len(ext) <= 10 else text[:200]
    return text


_UUENCODE = frozenset({"x-uuencode", "uuencode", "uue", "x-uue"})


def _payload(part: Message, headers: _Headers) -> bytes:
    """The part's content with its transfer encoding undone; never raises."""
    encoding = _first(headers, "content-transfer-encoding").lower()
    if encoding == "base64" or encoding in _UUENCODE:
        # Base64 is read leniently here; the stdlib gives up on a cut-off end. Its
        # text form is fine for that: only base64 characters count. Uuencode
        # (long obsolete) is left as it is.
        body = part.get_payload()
        data = _raw_bytes(body) if isinstance(body, str) else b""
        return _b64(data) if encoding == "base64" else data
    try:
        # Exact bytes for 7bit, 8bit and binary; quoted-printable undone.
        decoded = part.get_payload(decode=True)
    except Exception:  # the stdlib's decoders on junk; a part is never worth a crash
        decoded = None
    return decoded if isinstance(decoded, bytes) else b""


def _body_text(data: bytes, part: Message) -> str:
    try:
        charset = part.get_content_charset()
    except Exception:  # a charset parameter in junk RFC 2231 encoding
        charset = None
    text = _to_text(data[: TEXT_BODY_CHARS * 4], charset).replace("\r\n", "\n")
    kept = "".join(c if c in "\n\t" or unicodedata.category(c)[0] != "C" else " " for c in text)
    return kept[:TEXT_BODY_CHARS]


@dataclass
class _Walk:
    limits: MailLimits
    attachments: list[Attachment]
    skipped: list[SkippedPart]
    text_body: str | None = None
    files: int = 0

    def leaf(self, part: Message, headers: _Headers) -> None:
        declared = _declared_type(part)
        if declared in _IGNORED_TYPES:
            return
        data = _payload(part, headers)
        kind = detect_type(data)
        name = _filename(headers)
        disposition = _first(headers, "content-disposition").split(";", 1)[0].strip().lower()
        if kind in CANDIDATE_TYPES:
            if len(self.attachments) >= self.limits.max_attachments:
                raise _too_many_attachments(self.limits.max_attachments)
            self.files += 1
            self.attachments.append(
                Attachment(
                    position=len(self.attachments),
                    filename=_display_name(name, self.files, kind),
                    declared_type=declared,
                    detected_type=kind,
                    data=data,
                )
            )
            return
        if (
            name is None
            and disposition != "attachment"
            and (declared.startswith("text/") or declared.startswith("multipart/"))
        ):
            if declared == "text/plain" and self.text_body is None:
                self.text_body = _body_text(data, part)
            return
        if name is None and kind == "empty":
            return
        self.files += 1
        reason, customer_reason = _SKIP_REASONS[kind]
        self.skipped.append(
            SkippedPart(
                filename=_display_name(name, self.files, kind),
                declared_type=declared,
                detected_type=kind,
                reason=reason,
                customer_reason=customer_reason,
            )
        )


def _base64_message(
    part: Message, headers: _Headers, body: Sequence[object], limits: MailLimits
) -> Message | None:
    """A forwarded message sent base64-encoded (against RFC 2046, but mailers do), decoded.

    The parser takes the base64 text for a message without headers; the real
    message is prescanned and parsed on its own, and its parts go on counting
    against the same caps.
    """
    if part.get_content_maintype() != "message" or len(body) != 1:
        return None
    if _first(headers, "content-transfer-encoding").lower() != "base64":
        return None
    inner = body[0]
    if not isinstance(inner, Message) or inner.keys():
        return None
    text = inner.get_payload()
    if not isinstance(text, str):
        return None
    raw = _b64(_raw_bytes(text))
    if not raw:
        return None
    prescan(raw, limits)
    try:
        return BytesParser(policy=policy.compat32).parsebytes(raw)
    except RecursionError as exc:
        raise _too_deep(limits.max_depth) from exc
    except Exception as exc:  # as in parse_message
        raise _unparseable(type(exc).__name__) from exc


def _walk(root: Message, limits: MailLimits) -> _Walk:
    walk = _Walk(limits, [], [])
    parts = 0
    stack: list[tuple[Message, int]] = [(root, 0)]
    while stack:
        part, depth = stack.pop()
        parts += 1
        if parts > limits.max_parts:
            raise _too_many_parts(limits.max_parts)
        if depth > limits.max_depth:
            raise _too_deep(limits.max_depth)
        headers = _Headers(part)
        conflict = _conflicting(headers)
        if conflict is not None:
            raise MessageRejected(
                f"a part has {conflict} headers that contradict each other",
                "Meddelandet har motstridiga uppgifter om sitt innehåll och kan inte läsas "
                "säkert. Skicka blanketten som bilaga i ett nytt mejl.",
            )
        body = part.get_payload()
        if isinstance(body, list):
            if part.get_content_type() == "message/delivery-status":
                parts += len(body)  # header blocks of a report, nothing to read
                if parts > limits.max_parts:
                    raise _too_many_parts(limits.max_parts)
                continue
            encoded = _base64_message(part, headers, body, limits)
            if encoded is not None:
                stack.append((encoded, depth + 1))
                continue
            stack.extend(
                (child, depth + 1) for child in reversed(body) if isinstance(child, Message)
            )
            continue
        walk.leaf(part, headers)
    return walk


def parse_message(
    raw: bytes, limits: MailLimits = MailLimits(), *, own_addresses: Collection[str] = ()
) -> ParsedMessage:
    """The message's header facts, candidate files, skipped files and body text.

    `MessageRejected` when the message as a whole is over a cap or cannot be
    parsed; a part that cannot be used is a `SkippedPart`, never an error.
    """
    prescan(raw, limits)
    try:
        message = BytesParser(policy=policy.compat32).parsebytes(raw)
    except RecursionError as exc:
        raise _too_deep(limits.max_depth) from exc
    except Exception as exc:  # the parser has no documented failure modes; each is ours to map
        raise _unparseable(type(exc).__name__) from exc
    walk = _walk(message, limits)
    return ParsedMessage(
        header=_header_info(message, own_addresses),
        attachments=walk.attachments,
        skipped=walk.skipped,
        text_body=walk.text_body or "",
    )
