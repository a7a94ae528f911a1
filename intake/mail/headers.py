"""Header fields of untrusted mail to plain, safe text, and the facts taken from them.

`email` parses in its compat32 mode, where headers stay raw strings: every
header is decoded here, leniently (an unknown charset or a broken encoded
word falls back, never raises), and control characters never survive into a
value. RFC 2047 encoded words are decoded by the stdlib's
`email.header.decode_header`; raw 8-bit text, which no RFC allows and many
mailers send, is read as UTF-8 or else Windows-1252. `header_info` takes
what the pass needs from a message's header: Message-ID, sender (one plain,
valid address, or none), subject, date, and whether a reply would answer a
machine (RFC 3834 and practice).

The text helpers (`to_text`, `lenient_b64`, `clean`) serve the parts too.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import datetime as dt
import re
import unicodedata
from collections.abc import Collection
from dataclasses import dataclass
from email.header import decode_header
from email.message import Message
from email.utils import getaddresses, parsedate_to_datetime

__all__ = [
    "HeaderFields",
    "HeaderInfo",
    "bracketed",
    "clean",
    "decode_header_text",
    "header_info",
    "lenient_b64",
    "raw_bytes",
    "to_text",
    "unfold",
]

MAX_FROM_CHARS = 2000
MAX_REFERENCES = 50
# `decode_header` takes time quadratic in the number of encoded words (half a
# second for 15,000 of them, nine for 60,000), so it sees at most this much of
# a header. What is kept of one (300 characters of a subject, 200 of a name)
# fits many times over.
MAX_DECODED_CHARS = 8 * 1024
# An RFC 2047 encoded word (no spaces, no "?" inside), or else any "=?".
_WORD_OR_START = re.compile(r"=\?(?:([^?\s]{1,75})\?([bBqQ])\?([^?\s]*)\?=)?")
_BACKSLASH = "\\u005c"  # a backslash as raw-unicode-escape writes other characters
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


@dataclass(frozen=True)
class HeaderInfo:
    message_id: str | None
    sender: str | None
    sender_name: str | None
    subject: str
    sent_at: dt.datetime | None
    return_path_null: bool
    auto_generated: str | None  # why we must never reply automatically
    # The Message-IDs it answers (In-Reply-To, then References), each as `<...>`, at most
    # MAX_REFERENCES: how a customer's reply to our request is matched to its case.
    references: tuple[str, ...] = ()


# --- text ------------------------------------------------------------------------------


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


def to_text(data: bytes, charset: str | None) -> str:
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


def lenient_b64(data: bytes) -> bytes:
    """Lenient base64: junk characters dropped, a cut-off end decoded as far as it goes."""
    digits = data.translate(None, _B64_JUNK)
    pad = digits.find(b"=")
    if pad >= 0:
        digits = digits[:pad]
    extra = len(digits) % 4
    if extra == 1:
        digits = digits[:-1]
    elif extra:
        digits += b"=" * (4 - extra)
    return binascii.a2b_base64(digits)


def raw_bytes(value: str) -> bytes:
    """A compat32 header or payload string back to the bytes it was parsed from."""
    return value.encode("utf-8", "surrogateescape")


def unfold(raw: bytes) -> bytes:
    return _FOLD.sub(b"", raw)


def decode_header_text(raw: bytes) -> str:
    """A header value to text: unfolded, RFC 2047 encoded words decoded, raw 8-bit tolerated.

    `decode_header` drops the whitespace between two encoded words and joins
    adjacent ones in one charset before they are decoded, since mailers split
    multi-byte characters across them; each run is then decoded here, where an
    unknown charset falls back. It is shown only words of RFC 2047's shape
    (its own pattern would also take text with spaces in it for one), with
    their base64 made whole, because it gives up on a header over one broken
    word. (`make_header` is not used: it decodes strictly and puts spaces of
    its own between the runs.) Control characters are kept here; `clean`
    removes them.
    """
    text = to_text(unfold(raw), "utf-8")
    if "=?" not in text:
        return text
    # decode_header gives the text between encoded words back as raw-unicode-escape
    # bytes. Written with every backslash escaped, that decodes back exactly, and an
    # escaped "=" does not start a word.
    escaped = text[:MAX_DECODED_CHARS].replace("\\", _BACKSLASH)
    pieces: list[str] = []
    for run, charset in decode_header(_WORD_OR_START.sub(_for_decode_header, escaped)):
        data: bytes = run.encode("raw-unicode-escape") if isinstance(run, str) else run
        if charset is None:
            pieces.append(data.decode("raw-unicode-escape"))
        else:
            pieces.append(to_text(data.replace(_BACKSLASH.encode(), b"\\"), charset))
    return "".join(pieces)


def _for_decode_header(match: re.Match[str]) -> str:
    """An encoded word as `decode_header` can take it; any other "=?" hidden from it."""
    charset, encoding, encoded = match.groups()
    if charset is None:
        return "\\u003d?"
    charset = charset.split("*", 1)[0]  # an RFC 2231 language ("utf-8*sv") parts no runs
    if encoding in "qQ":
        return f"=?{charset}?q?{encoded}?="
    data = lenient_b64(encoded.replace(_BACKSLASH, "").encode("ascii", "ignore"))
    return f"=?{charset}?b?{base64.b64encode(data).decode('ascii')}?="


def clean(text: str, limit: int) -> str:
    """Control, format and separator characters to spaces, runs of space to one; at most limit."""
    kept = "".join(
        " " if unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp") else c
        for c in text[: limit * 4]
    )
    return _SPACES.sub(" ", kept).strip()[:limit]


# --- header facts ----------------------------------------------------------------------

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


class HeaderFields:
    """The raw header fields of one entity, first occurrence wins (as the stdlib reads them)."""

    def __init__(self, message: Message) -> None:
        self.fields: dict[str, list[str]] = {}
        for name, value in message.raw_items():
            self.fields.setdefault(str(name).strip().lower(), []).append(str(value))

    def raw(self, name: str) -> bytes | None:
        values = self.fields.get(name)
        return raw_bytes(values[0]) if values else None

    def text(self, name: str) -> str | None:
        value = self.raw(name)
        return None if value is None else decode_header_text(value)

    def token(self, name: str) -> str | None:
        """The value up to its first ';', lower-case ASCII; for Auto-Submitted and the like."""
        value = self.raw(name)
        if value is None:
            return None
        return clean(value.split(b";", 1)[0].decode("ascii", "replace"), 100).lower()


def bracketed(message_id: str | None) -> str | None:
    """A Message-ID (kept without its angle brackets) as a header writes it: `<...>`."""
    return f"<{message_id}>" if message_id else None


def _message_id(value: str | None) -> str | None:
    if value is None:
        return None
    match = re.search(r"<([^<>]*)>", value)
    text = match.group(1) if match else value
    kept = "".join(c for c in text if "!" <= c <= "~")
    return kept[:500] or None


def _references(*values: str | None) -> tuple[str, ...]:
    """The Message-IDs named in In-Reply-To and References, first seen first, as `<...>`."""
    found: dict[str, None] = {}
    for value in values:
        for text in re.findall(r"<([^<>]{1,500})>", (value or "")[:MAX_DECODED_CHARS]):
            kept = "".join(c for c in text if "!" <= c <= "~")
            if kept and len(found) < MAX_REFERENCES:
                found.setdefault(f"<{kept}>", None)
    return tuple(found)


def _sender(value: bytes | None) -> tuple[str | None, str | None]:
    """The From address if it is one plain, valid address; and the decoded display name."""
    if value is None or len(value) > MAX_FROM_CHARS:
        return None, None
    unfolded = unfold(value)
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
    name_text = clean(decode_header_text(raw_bytes(name)), 200) or None
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
        when = parsedate_to_datetime(clean(value, 200))
    except Exception:  # ValueError, TypeError, OverflowError, IndexError on junk dates
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    try:
        return when.astimezone(dt.UTC)
    except (OverflowError, ValueError):
        return None


def _auto_generated(
    headers: HeaderFields, sender: str | None, return_path_null: bool, own: Collection[str]
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


def header_info(message: Message, own_addresses: Collection[str]) -> HeaderInfo:
    headers = HeaderFields(message)
    sender, sender_name = _sender(headers.raw("from"))
    return_path = headers.raw("return-path")
    return_path_null = (
        return_path is not None and re.fullmatch(rb"\s*<\s*>\s*", unfold(return_path)) is not None
    )
    subject = headers.text("subject")
    return HeaderInfo(
        message_id=_message_id(headers.text("message-id")),
        sender=sender,
        sender_name=sender_name,
        subject=clean(subject, 300) if subject is not None else "",
        sent_at=_sent_at(headers.text("date")),
        return_path_null=return_path_null,
        auto_generated=_auto_generated(headers, sender, return_path_null, own_addresses),
        references=_references(headers.text("in-reply-to"), headers.text("references")),
    )
