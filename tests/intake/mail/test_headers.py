"""intake.mail.headers: lenient header decoding, the sender, and who must not be answered."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from intake.mail.headers import decode_header_text
from intake.mail.message import parse_header
from tests.intake.mail.mails import MAILBOX, mail, parse, torture


def test_header_facts() -> None:
    info = parse(
        mail(
            subject="Underskriven blankett – åäö", sender="Åsa Öberg <Asa.Oberg@Exempelbolaget.se>"
        )
    ).header
    assert info.sender == "asa.oberg@exempelbolaget.se"
    assert info.sender_name == "Åsa Öberg"
    assert info.subject == "Underskriven blankett – åäö"
    assert info.message_id == "abc.123@exempelbolaget.se"
    assert info.sent_at == dt.datetime(2026, 1, 20, 9, 0, tzinfo=dt.UTC)
    assert info.return_path_null is False
    assert info.auto_generated is None


@pytest.mark.parametrize(
    ("value", "sender"),
    [
        ("anna.berg@exempelbolaget.se", "anna.berg@exempelbolaget.se"),
        ("<ANNA@Exempelbolaget.SE>", "anna@exempelbolaget.se"),
        ('"Berg, Anna" <anna@exempelbolaget.se>', "anna@exempelbolaget.se"),
        ("Anna\r\n Berg <anna@exempelbolaget.se>", "anna@exempelbolaget.se"),
        ("anna@exempelbolaget.se, lars@exempelbolaget.se", None),
        ("alice@example.org)<bob@example.org>", None),
        ("anna", None),
        ("<>", None),
        ("anna@@exempelbolaget.se", None),
        ("anna@localhost", None),
        ("a" * 65 + "@exempelbolaget.se", None),
        ("anna@exempel\u00e5bolaget.se", None),
        ("undisclosed-recipients:;", None),
    ],
)
def test_sender_is_one_plain_valid_address(value: str, sender: str | None) -> None:
    header = f"From: {value}\r\nSubject: x\r\n\r\n".encode()
    assert parse_header(header).sender == sender


def test_encoded_words_and_bad_charsets_never_raise() -> None:
    header = (
        b"From: =?utf-8?Q?Anna_=C3=85berg?= <anna@exempelbolaget.se>\r\n"
        b"Subject: =?x-klingon?B?SGVq?= =?utf-8?B?!!?= =?base64?Q?x?=\r\n"
        b" =?undefined?Q?y?= =?iso-8859-1?Q?=E5?= =?utf-8?B?w6Q=?= =?utf-8?B?w7Y?=\r\n"
        b"\r\n"
    )
    info = parse_header(header)
    assert info.sender_name == "Anna Åberg"
    assert info.subject.startswith("Hej")
    assert info.subject.endswith("åäö")
    # A UTF-8 character split across two encoded words is joined before decoding.
    split = b"Subject: =?utf-8?Q?=C3?= =?utf-8?Q?=A5?=\r\n\r\n"
    assert parse_header(split).subject == "å"


def test_many_encoded_words_decode_in_linear_time() -> None:
    header = b"Subject: " + b" ".join([b"=?utf-8?Q?=C3=A5?="] * 15_000) + b"\r\n\r\n"
    start = time.perf_counter()
    assert parse_header(header).subject == "å" * 300
    assert time.perf_counter() - start < 0.5


def test_raw_eight_bit_headers_are_read_as_utf8_or_windows_1252() -> None:
    header = "Subject: Blankett från oss\r\nFrom: Åsa <asa@exempelbolaget.se>\r\n\r\n"
    assert parse_header(header.encode("utf-8")).subject == "Blankett från oss"
    assert parse_header(header.encode("cp1252")).subject == "Blankett från oss"
    assert parse_header(header.encode("cp1252")).sender == "asa@exempelbolaget.se"


def test_header_injection_leaves_no_line_breaks() -> None:
    cases = {c.name: c for c in torture()}
    info = parse(cases["header-injection"].raw).header
    for text in (info.subject, info.sender_name or ""):
        assert "\r" not in text
        assert "\n" not in text
        assert "Bcc: victim@example.com" in text
    assert info.sender == "anna.berg@exempelbolaget.se"


def test_subject_is_capped_and_control_free() -> None:
    info = parse_header(b"Subject: " + b"a\x00\x1b\x7f " * 200 + b"\r\n\r\n")
    assert len(info.subject) == 300
    assert not any(ord(c) < 32 or ord(c) == 127 for c in info.subject)


@pytest.mark.parametrize(
    ("date", "expected"),
    [
        ("Tue, 20 Jan 2026 10:00:00 +0100", dt.datetime(2026, 1, 20, 9, 0, tzinfo=dt.UTC)),
        ("20 Jan 2026 10:00:00 -0000", dt.datetime(2026, 1, 20, 10, 0, tzinfo=dt.UTC)),
        ("igår vid lunch", None),
        ("Tue, 99 Foo 2026 10:00:00 +0100", None),
        ("Tue, 20 Jan 99999999 10:00:00 +0100", None),
        ("", None),
    ],
)
def test_sent_at_is_aware_utc_or_none(date: str, expected: dt.datetime | None) -> None:
    info = parse_header(f"Date: {date}\r\n\r\n".encode())
    assert info.sent_at == expected
    if info.sent_at is not None:
        assert info.sent_at.utcoffset() == dt.timedelta(0)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("<abc@x.se>", "abc@x.se"),
        ("  <abc@x.se>  ", "abc@x.se"),
        ("abc@x.se", "abc@x.se"),
        ("junk \x01 <abc@x.se> more", "abc@x.se"),
        ("<" + "a" * 600 + "@x.se>", "a" * 500),
        ("<>", None),
    ],
)
def test_message_id(value: str, expected: str | None) -> None:
    assert parse_header(f"Message-ID: {value}\r\n\r\n".encode()).message_id == expected


@pytest.mark.parametrize(
    ("header", "why"),
    [
        ("Auto-Submitted: auto-replied", "Auto-Submitted"),
        ("Auto-Submitted: auto-generated; owner-email=x@y.se", "Auto-Submitted"),
        ("Precedence: bulk", "Precedence"),
        ("Precedence: junk", "Precedence"),
        ("Precedence: list", "Precedence"),
        ("Precedence: auto_reply", "Precedence"),
        ("X-Autoreply: yes", "X-Autoreply"),
        ("X-Autorespond: Frånvarande", "X-Autorespond"),
        ("X-Auto-Response-Suppress: All", "X-Auto-Response-Suppress"),
        ("List-Id: <kunder.exempelbolaget.se>", "List-Id"),
        ("List-Unsubscribe: <mailto:unsub@exempelbolaget.se>", "List-Unsubscribe"),
        ("Content-Type: multipart/report; report-type=delivery-status; boundary=x", "report"),
        ("Return-Path: <>", "Return-Path"),
    ],
)
def test_auto_generated_headers(header: str, why: str) -> None:
    raw = f"From: anna@exempelbolaget.se\r\n{header}\r\nSubject: x\r\n\r\n".encode()
    info = parse_header(raw)
    assert info.auto_generated is not None
    assert why in info.auto_generated
    assert info.return_path_null is header.startswith("Return-Path")


@pytest.mark.parametrize(
    "sender",
    [
        "MAILER-DAEMON@mx.exempelbolaget.se",
        "postmaster@exempelbolaget.se",
        "no-reply@exempelbolaget.se",
        "noreply@exempelbolaget.se",
        "do-not-reply@exempelbolaget.se",
        "noreply+faktura@exempelbolaget.se",
        "Kopplingar@Example.se",
    ],
)
def test_machine_and_own_senders_are_auto_generated(sender: str) -> None:
    info = parse_header(f"From: {sender}\r\n\r\n".encode(), own_addresses=[MAILBOX])
    assert info.auto_generated is not None


@pytest.mark.parametrize(
    "header",
    [
        "Auto-Submitted: no",
        "Precedence: normal",
        "X-Auto-Response-Suppress: None",
        "Return-Path: <anna@exempelbolaget.se>",
        "Content-Type: multipart/mixed; boundary=x",
        "X-Mailer: Microsoft Outlook 16.0",
    ],
)
def test_ordinary_headers_are_not_auto_generated(header: str) -> None:
    raw = f"From: noreplying.person@exempelbolaget.se\r\n{header}\r\n\r\n".encode()
    assert parse_header(raw, own_addresses=[MAILBOX]).auto_generated is None


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        # Text between the words comes back exactly: backslashes, raw 8-bit (an Å
        # ends in the byte 0x85, which Python counts as a line break).
        (b"C:\\users\\u00e5 =?utf-8?q?x?=", "C:\\users\\u00e5 x"),
        ("Åsa =?utf-8?q?=C3=A5?= Öberg".encode(), "Åsa å Öberg"),
        ("Åsa =?iso-8859-1?q?=E5?=".encode("cp1252"), "Åsa å"),
        (b"=?utf-8?q?C:\\skanning_1.pdf?=", "C:\\skanning 1.pdf"),
        (b"pre=?utf-8?q?x?=post", "prexpost"),
        # A broken word stays as it was; only base64 that is merely cut off is read.
        (b"=?utf-8?B?!!not base64?= Hej", "=?utf-8?B?!!not base64?= Hej"),
        (b"=?utf-8?q?two words?=", "=?utf-8?q?two words?="),
        (b"=??q?x?=", "=??q?x?="),
        (b"=?utf-8?B?w6Q?=", "ä"),
        (b"=?utf-8?B?abcde?= Hej", "i·\x1d Hej"),  # the stdlib refuses this base64
        # An RFC 2231 language does not stop a split character being joined.
        (b"=?utf-8*sv?q?=C3?= =?utf-8?q?=A5?=", "å"),
        (b"=?UTF-8?B?w6Q=?=\r\n =?utf-8?B?w7Y?=", "äö"),
    ],
)
def test_decode_header_text(raw: bytes, text: str) -> None:
    assert decode_header_text(raw) == text


def test_a_huge_header_of_encoded_words_decodes_in_bounded_time() -> None:
    # decode_header is quadratic in the words; a 256 KB header block must not stall the pass.
    for word in (b"=?a?q??=", b"=?utf-8?Q?=C3=A5?=", b"=?utf-8?B?w6Q=?=", b"=?"):
        header = b" ".join([word] * (256 * 1024 // (len(word) + 1)))
        start = time.perf_counter()
        decoded = decode_header_text(header)
        assert time.perf_counter() - start < 0.2
        if word == b"=?utf-8?Q?=C3=A5?=":
            assert decoded.startswith("å" * 300)
