"""intake.mail.sniff: the kind of a file from its magic bytes, never from its name."""

from __future__ import annotations

import pytest

from intake.mail.sniff import detect_type
from samples.mail.payloads import docx, exe_stub, heic_header, tiny_png, zip_of
from samples.scans import CORPUS_DIR
from tests.intake.mail.mails import JPEG, PDF


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (PDF, "pdf"),
        (b"\r\n\r\n%PDF-1.4\n...", "pdf"),  # mail junk before the header
        (JPEG, "jpeg"),
        (tiny_png(), "png"),
        ((CORPUS_DIR / "003-fax-tiff.tif").read_bytes(), "tiff"),
        (b"MM\x00*\x00\x00\x00\x08", "tiff"),
        (b"RIFF\x10\x00\x00\x00WEBPVP8 ", "webp"),
        (
            b"BM"
            + (70).to_bytes(4, "little")
            + bytes(4)
            + (54).to_bytes(4, "little")
            + (40).to_bytes(4, "little")
            + bytes(40),
            "bmp",
        ),
        (heic_header(), "heic"),
        (zip_of("a.pdf", PDF), "zip"),
        (docx(), "office"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(100), "office"),
        (b"\x1f\x8b\x08\x00" + bytes(20), "gzip"),
        (b"Rar!\x1a\x07\x01\x00", "rar"),
        (b"7z\xbc\xaf\x27\x1c\x00\x04", "7z"),
        ("Hej, här är blanketten\n".encode(), "text"),
        ("Hej, här är blanketten\n".encode("cp1252"), "text"),
        (b"", "empty"),
        (exe_stub(), "other"),
        (b"BMW 320d, 2019\n", "text"),  # "BM" alone is not a bitmap
        (bytes(range(256)) * 4, "other"),
    ],
)
def test_detect_type_reads_magic_bytes(data: bytes, kind: str) -> None:
    assert detect_type(data) == kind
