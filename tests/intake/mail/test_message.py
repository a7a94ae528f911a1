"""intake.mail.message: a whole message or its header block, the torture set, fuzzing."""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings

from intake.mail.message import MailLimits, MessageRejected, parse_header, parse_message
from intake.mail.sniff import detect_type
from samples.mail import TortureCase
from tests.intake.mail.mails import MAILBOX, PDF, mail, mutated, parse, torture


def test_parse_header_takes_only_the_header_block() -> None:
    msg = mail()
    msg.add_attachment(PDF, maintype="application", subtype="pdf", filename="a.pdf")
    raw = msg.as_bytes()
    info = parse_header(raw[: raw.index(b"\n\n") + 2])
    assert info == parse_header(raw) == parse(raw).header
    assert parse_header(b"") == parse_header(b"\r\n\r\nbody")


@pytest.mark.parametrize("case", torture(), ids=lambda c: c.name)
def test_torture_case_ends_as_expected(case: TortureCase) -> None:
    start = time.perf_counter()
    if case.expect == "quarantined":
        with pytest.raises(MessageRejected) as caught:
            parse_message(case.raw, own_addresses=[MAILBOX])
        assert caught.value.customer_message
        assert case.expect_candidates == 0
        header = parse_header(case.raw, own_addresses=[MAILBOX])
    else:
        parsed = parse_message(case.raw, own_addresses=[MAILBOX])
        assert len(parsed.attachments) == case.expect_candidates
        assert len(parsed.skipped) == case.expect_skipped
        header = parsed.header
        for attachment in parsed.attachments:
            name = attachment.filename
            assert 0 < len(name) <= 200
            assert "/" not in name and "\\" not in name and "\x00" not in name
            assert name.isprintable()
    assert time.perf_counter() - start < 1.0
    assert (header.sender is not None and header.auto_generated is None) == case.expect_reply


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_fuzzed_messages_parse_or_are_rejected(raw: bytes) -> None:
    start = time.perf_counter()
    try:
        parsed = parse_message(raw, MailLimits(max_parts=20, max_depth=4), own_addresses=[MAILBOX])
    except MessageRejected as exc:
        assert exc.message and exc.customer_message
    else:
        assert all(a.detected_type == detect_type(a.data) for a in parsed.attachments)
        assert "\n" not in parsed.header.subject and "\r" not in parsed.header.subject
    assert time.perf_counter() - start < 1.0
