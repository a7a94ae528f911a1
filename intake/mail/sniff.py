"""The kind of a file from its first bytes: what the intake reads, and what it says of the rest.

Names and declared types are what the sender's mail program guessed, or what
a hostile sender wants us to believe; only the bytes decide. `detect_type`
knows the types `intake.scan.pages` reads (`CANDIDATE_TYPES`) and, for the
sender's benefit, the files people send instead: archives, Office documents,
HEIC photos, text.
"""

from __future__ import annotations

__all__ = ["CANDIDATE_TYPES", "detect_type"]

# The types `intake.scan.pages` reads; every other file is skipped.
CANDIDATE_TYPES = frozenset({"pdf", "jpeg", "png", "tiff", "webp", "bmp"})
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
