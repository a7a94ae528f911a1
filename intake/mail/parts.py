"""The parts of a parsed message to candidate files, skipped files and body text.

The parts are walked with an explicit stack and depth counter and each leaf
becomes one of:

* an `Attachment`, when its bytes are a PDF or an image the intake reads
  (`intake.mail.sniff`), whatever its declared type, name or disposition
  (inline images and files inside forwarded messages included);
* a `SkippedPart`, when it is some other file (an archive, an Office
  document, a HEIC photo, a program), with a Swedish reason for the sender;
* body text, or nothing (signatures, delivery reports, HTML alternatives).

Transfer encodings are undone leniently (a cut-off base64 end is decoded as
far as it goes). File names are decoded for display only and never used as
paths.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import Message
from typing import NamedTuple

from intake.mail.headers import (
    HeaderFields,
    clean,
    decode_header_text,
    lenient_b64,
    raw_bytes,
    to_text,
    unfold,
)
from intake.mail.prescan import (
    MAX_PARAM_HEADER_BYTES,
    MailLimits,
    MessageRejected,
    parse_checked,
    too_deep,
    too_many_attachments,
    too_many_parts,
)
from intake.mail.sniff import CANDIDATE_TYPES, detect_type

__all__ = ["Attachment", "Parts", "SkippedPart", "walk_parts"]

TEXT_BODY_CHARS = 10_000


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
    size: int  # of the decoded part: a rejected file is recorded as what it was
    sha256: str


class Parts(NamedTuple):
    """What `walk_parts` found in a message, in order of appearance."""

    attachments: list[Attachment]
    skipped: list[SkippedPart]
    text_body: str


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


def _first(headers: HeaderFields, name: str) -> str:
    value = headers.raw(name)
    return "" if value is None else clean(value.decode("ascii", "replace"), 200)


def _conflicting(headers: HeaderFields) -> str | None:
    for name in ("content-type", "content-transfer-encoding"):
        values = {clean(v, 1000).lower() for v in headers.fields.get(name, [])}
        if len(values) > 1:
            return name
    return None


def _declared_type(part: Message) -> str:
    kept = "".join(c for c in part.get_content_type() if "!" <= c <= "~")
    return kept[:100].lower()


def _filename(headers: HeaderFields) -> str | None:
    """The sender's name for the part, decoded (RFC 2231 and encoded words), unsanitised."""
    probe = Message()
    for name in ("content-disposition", "content-type"):
        value = headers.raw(name)
        if value is not None:
            probe.set_raw(name, to_text(unfold(value), "utf-8"))
    try:
        found = probe.get_filename()
    except Exception:  # the stdlib's RFC 2231 decoding raises on some junk charsets
        return None
    if not found:
        return None
    return decode_header_text(found.encode("utf-8", "surrogateescape"))


def _display_name(name: str | None, number: int, kind: str) -> str:
    """A name fit to show: basename only, no controls, at most 200 characters."""
    text = clean(name or "", MAX_PARAM_HEADER_BYTES).replace("\\", "/").rsplit("/", 1)[-1]
    text = re.sub(r"^[A-Za-z]:", "", text).strip(" .")
    if not text:
        return f"bilaga-{number}.{_EXTENSIONS.get(kind, 'bin')}"
    if len(text) > 200:
        stem, dot, ext = text.rpartition(".")
        text = f"{stem[: 199 - len(ext)]}.{ext}" if dot and 0 < len(ext) <= 10 else text[:200]
    return text


_UUENCODE = frozenset({"x-uuencode", "uuencode", "uue", "x-uue"})


def _payload(part: Message, headers: HeaderFields) -> bytes:
    """The part's content with its transfer encoding undone; never raises."""
    encoding = _first(headers, "content-transfer-encoding").lower()
    if encoding == "base64" or encoding in _UUENCODE:
        # Base64 is read leniently here; the stdlib gives up on a cut-off end. Its
        # text form is fine for that: only base64 characters count. Uuencode
        # (long obsolete) is left as it is.
        body = part.get_payload()
        data = raw_bytes(body) if isinstance(body, str) else b""
        return lenient_b64(data) if encoding == "base64" else data
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
    text = to_text(data[: TEXT_BODY_CHARS * 4], charset).replace("\r\n", "\n")
    kept = "".join(c if c in "\n\t" or unicodedata.category(c)[0] != "C" else " " for c in text)
    return kept[:TEXT_BODY_CHARS]


@dataclass
class _Walk:
    limits: MailLimits
    attachments: list[Attachment]
    skipped: list[SkippedPart]
    text_body: str | None = None
    files: int = 0

    def leaf(self, part: Message, headers: HeaderFields) -> None:
        declared = _declared_type(part)
        if declared in _IGNORED_TYPES:
            return
        data = _payload(part, headers)
        kind = detect_type(data)
        name = _filename(headers)
        disposition = _first(headers, "content-disposition").split(";", 1)[0].strip().lower()
        if kind in CANDIDATE_TYPES:
            if len(self.attachments) >= self.limits.max_attachments:
                raise too_many_attachments(self.limits.max_attachments)
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
                size=len(data),
                sha256=hashlib.sha256(data).hexdigest(),
            )
        )


def _base64_message(
    part: Message, headers: HeaderFields, body: Sequence[object], limits: MailLimits
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
    raw = lenient_b64(raw_bytes(text))
    if not raw:
        return None
    return parse_checked(raw, limits)


def walk_parts(root: Message, limits: MailLimits) -> Parts:
    """Every leaf of `root` as a candidate file, a skipped file, body text or nothing.

    An explicit stack, not recursion: the caps are counted again here, on the
    tree the parser built, and a nested message sent base64-encoded is opened
    and counted with the rest.
    """
    walk = _Walk(limits, [], [])
    parts = 0
    stack: list[tuple[Message, int]] = [(root, 0)]
    while stack:
        part, depth = stack.pop()
        parts += 1
        if parts > limits.max_parts:
            raise too_many_parts(limits.max_parts)
        if depth > limits.max_depth:
            raise too_deep(limits.max_depth)
        headers = HeaderFields(part)
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
                    raise too_many_parts(limits.max_parts)
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
    return Parts(walk.attachments, walk.skipped, walk.text_body or "")
