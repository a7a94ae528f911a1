"""samples.mail: the sample mail and the torture set build, are deterministic and say the truth."""

from __future__ import annotations

import datetime as dt
import io
import time
import zipfile
from functools import cache
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from PIL import Image

from intake import InputRejected
from intake.mail.message import MailLimits, parse_header, parse_message
from intake.scan import PageLimits, extract_pages
from samples.mail import (
    HUGE_BYTES,
    SampleMail,
    TortureCase,
    build_sample_mail,
    sample_mail,
    sample_mail_messages,
    torture_messages,
    write_torture_folder,
)
from samples.mail.payloads import pdf_bomb, slow_pdf, tiny_png, zip_bomb
from samples.scans import CORPUS_DIR

MAILBOX = "kopplingar@example.se"


@cache
def _samples() -> tuple[SampleMail, ...]:
    return tuple(sample_mail())


@cache
def _torture() -> tuple[TortureCase, ...]:
    return tuple(torture_messages())


# --- sample mail -------------------------------------------------------------------------


def test_build_writes_numbered_eml_files(tmp_path: Path) -> None:
    paths = build_sample_mail(tmp_path / "mail")
    assert [p.name for p in paths] == sorted(p.name for p in (tmp_path / "mail").iterdir())
    assert [p.stem for p in paths] == [m.name for m in _samples()]
    for number, path in enumerate(paths, start=1):
        assert path.name.startswith(f"{number:03d}-") and path.suffix == ".eml"
    assert [p.read_bytes() for p in paths] == [m.raw for m in _samples()]


def test_sample_mail_is_deterministic_and_seeded() -> None:
    again = sample_mail_messages()
    assert again == [(m.name, m.raw) for m in _samples()]
    other = sample_mail_messages(seed=7)
    assert [name for name, _ in other] == [name for name, _ in again]
    assert [raw for _, raw in other] != [raw for _, raw in again]


def test_mailbox_is_the_recipient() -> None:
    for name, raw in sample_mail_messages(mailbox="blanketter@byran.example"):
        header = raw[: raw.index(b"\r\n\r\n")]
        assert b"\r\nTo: blanketter@byran.example\r\n" in header, name


@pytest.mark.parametrize("mail", _samples(), ids=lambda m: m.name)
def test_parse_finds_the_expected_scans(mail: SampleMail) -> None:
    parsed = parse_message(mail.raw, own_addresses=[MAILBOX])
    assert [a.data for a in parsed.attachments] == [
        (CORPUS_DIR / name).read_bytes() for name in mail.scans
    ]
    assert [s.detected_type for s in parsed.skipped] == list(mail.skipped)
    info = parsed.header
    assert (info.auto_generated is not None) == mail.auto_reply
    assert info.sender is not None and info.message_id is not None
    assert info.sent_at is not None
    assert dt.datetime(2026, 1, 19, tzinfo=dt.UTC) <= info.sent_at
    assert info.sent_at < dt.datetime(2026, 1, 22, tzinfo=dt.UTC)
    assert info.subject and parsed.text_body


def test_sample_mail_covers_the_everyday_cases() -> None:
    by_slug = {m.name[4:]: m for m in _samples()}
    assert len(by_slug) == len(_samples()) >= 12
    assert sum(len(m.scans) == 1 for m in _samples()) > len(_samples()) / 2
    assert len(by_slug["tva-blanketter"].scans) == 2
    assert b"Content-Type: message/rfc822" in by_slug["vidarebefordrat"].raw
    assert b"multipart/related" in by_slug["inbaddad-bild"].raw
    assert by_slug["glomd-bilaga"].scans == ()
    assert "Här kommer blanketten" in parse_message(by_slug["glomd-bilaga"].raw).text_body
    assert by_slug["autosvar"].auto_reply
    duplicate = by_slug["samma-igen"]
    assert duplicate.duplicate_of is not None
    first = next(m for m in _samples() if m.name == duplicate.duplicate_of)
    assert first.scans == duplicate.scans
    assert by_slug["zip"].skipped == ("zip",) and by_slug["zip"].scans == ()
    # Every corpus format travels by mail.
    suffixes = {Path(name).suffix for m in _samples() for name in m.scans}
    assert suffixes == {".pdf", ".jpg", ".png", ".tif"}


def test_subjects_are_encoded_words_and_read_back_in_swedish() -> None:
    encoded = [m for m in _samples() if b"\r\nSubject: =?utf-8?" in m.raw]
    assert encoded
    for mail in encoded:
        subject = parse_header(mail.raw).subject
        assert any(c in subject for c in "åäöÅÄÖ–"), subject


def test_sample_mail_needs_a_big_enough_corpus(tmp_path: Path) -> None:
    (tmp_path / "truth.json").write_text('{"files": []}', encoding="utf-8")
    with pytest.raises(ValueError, match="needs"):
        sample_mail(corpus=tmp_path)


# --- torture set -------------------------------------------------------------------------


def test_torture_set_is_complete_and_builds_fast(tmp_path: Path) -> None:
    start = time.perf_counter()
    cases = torture_messages(mailbox=MAILBOX)
    assert time.perf_counter() - start < 10.0
    names = [c.name for c in cases]
    assert len(cases) >= 18 and len(set(names)) == len(names)
    for case in cases:
        assert case.what and "\n" not in case.what and case.what.isascii()
        assert case.expect in ("quarantined", "processed")
        if case.expect == "quarantined":
            assert case.expect_candidates == 0 and case.expect_skipped == 0
    assert [c.raw for c in cases] == [c.raw for c in _torture()]
    paths = write_torture_folder(tmp_path)
    assert [p.name for p in paths] == [f"{i:02d}-{n}.eml" for i, n in enumerate(names, start=1)]
    assert all(p.read_bytes() == c.raw for p, c in zip(paths, cases, strict=True))


def test_torture_uses_the_given_scan_and_mailbox() -> None:
    scan = (CORPUS_DIR / "020-fax-pdf.pdf").read_bytes()
    cases = {c.name: c for c in torture_messages(mailbox="in@byran.example", scan=scan)}
    own = parse_message(cases["own-address"].raw, own_addresses=["in@byran.example"])
    assert own.attachments[0].data == scan
    assert own.header.auto_generated == "sent from our own mailbox"
    # A JPEG case needs a JPEG, whatever scan was given.
    [jpeg] = parse_message(cases["mislabeled-jpeg"].raw).attachments
    assert jpeg.detected_type == "jpeg"


def test_huge_is_just_over_the_cap() -> None:
    huge = next(c for c in _torture() if c.name == "huge")
    limit = MailLimits().max_bytes
    assert limit < len(huge.raw) <= HUGE_BYTES + 1024 < limit + 1024 * 1024
    assert parse_header(huge.raw).sender == "anna.berg@exempelbolaget.se"


def test_zip_bomb_is_small_and_expands_hugely() -> None:
    data = zip_bomb()
    [member] = zipfile.ZipFile(io.BytesIO(data)).infolist()
    assert len(data) < 2 * 1024 * 1024
    assert member.file_size == 1 << 30
    assert member.file_size / member.compress_size > 500
    with zipfile.ZipFile(io.BytesIO(data)).open(member) as stream:
        assert stream.read(1 << 20) == bytes(1 << 20)  # the start of the stream is sound


def test_pdf_bomb_is_a_valid_pdf_refused_by_the_page_caps() -> None:
    data = pdf_bomb()
    document = pdfium.PdfDocument(data)
    try:
        assert len(document) == 1
        assert document[0].get_size() == (595, 842)
    finally:
        document.close()
    start = time.perf_counter()
    with pytest.raises(InputRejected, match="megapixels"):
        extract_pages(data, "skanning.pdf", limits=PageLimits())
    assert time.perf_counter() - start < 1.0


def test_slow_pdf_would_take_over_thirty_seconds_at_200_dpi() -> None:
    # Rendering cost is per device pixel: time a thumbnail, scale to A4 at 200 dpi.
    document = pdfium.PdfDocument(slow_pdf())
    try:
        page = document[0]
        start = time.perf_counter()
        bitmap = page.render(scale=0.1, grayscale=True)
        seconds = time.perf_counter() - start
        pixels = bitmap.width * bitmap.height
    finally:
        document.close()
    full = 595 * 842 * (200 / 72) ** 2
    assert seconds / pixels * full > 30.0


def test_tiny_png_is_one_pixel() -> None:
    image = Image.open(io.BytesIO(tiny_png()))
    image.load()
    assert image.size == (1, 1)
