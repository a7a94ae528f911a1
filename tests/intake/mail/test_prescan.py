"""intake.mail.prescan: the caps, judged before parsing, in linear time, as the parser counts."""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings

from intake.mail.message import parse_message
from intake.mail.prescan import MailLimits, MessageRejected, prescan
from tests.intake.mail.mails import SEEDS, mail, mutated, nested, parse, stdlib_shape, torture


def test_size_cap() -> None:
    raw = mail().as_bytes()
    prescan(raw, MailLimits(max_bytes=len(raw)))
    with pytest.raises(MessageRejected) as caught:
        prescan(raw, MailLimits(max_bytes=len(raw) - 1))
    assert "limit" in caught.value.message
    assert "för stort" in caught.value.customer_message
    assert caught.value.exit_code == 65


def test_empty_message_is_refused() -> None:
    with pytest.raises(MessageRejected):
        parse_message(b"")


def test_header_block_cap() -> None:
    msg = mail()
    for i in range(50):
        msg["Received"] = f"from relay{i} by mx; Tue, 20 Jan 2026 10:00:00 +0100"
    raw = msg.as_bytes()
    header = raw.index(b"\n\n") + 1
    prescan(raw, MailLimits(max_header_bytes=header))
    with pytest.raises(MessageRejected, match="header block"):
        prescan(raw, MailLimits(max_header_bytes=header - 1))
    # A part's header block counts too.
    part_header = b"Content-Type: text/plain\r\nX-Junk: " + b"j" * 5000 + b"\r\n"
    raw = (
        b"From: a@exempelbolaget.se\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
        b"--b\r\n" + part_header + b"\r\nhej\r\n--b--\r\n"
    )
    with pytest.raises(MessageRejected, match="header block"):
        prescan(raw, MailLimits(max_header_bytes=4000))


@pytest.mark.parametrize("depth", [0, 1, 7, 8])
def test_depth_within_cap_is_parsed(depth: int) -> None:
    raw = nested(depth)
    assert prescan(raw, MailLimits()) == stdlib_shape(raw) == (depth + 1, depth)
    assert parse(raw).text_body.strip() == "hej"


@pytest.mark.parametrize("depth", [9, 60, 5000])
def test_depth_over_cap_is_refused_fast(depth: int) -> None:
    raw = nested(depth)
    for data in (raw, raw.replace(b"\r\n", b"\r"), raw.replace(b"\r\n", b"\n")):
        start = time.perf_counter()
        with pytest.raises(MessageRejected, match="levels deep"):
            parse_message(data)
        assert time.perf_counter() - start < 0.2


def test_nested_messages_count_as_levels() -> None:
    raw = b"From: a@exempelbolaget.se\r\n"
    for _ in range(9):
        raw += b"Content-Type: message/rfc822\r\n\r\nFrom: b@exempelbolaget.se\r\n"
    raw += b"\r\nhej\r\n"
    with pytest.raises(MessageRejected, match="levels deep"):
        prescan(raw, MailLimits())
    assert prescan(raw, MailLimits(max_depth=9)) == stdlib_shape(raw) == (10, 9)


def test_part_count_cap() -> None:
    msg = mail()
    for i in range(8):
        msg.add_attachment(f"del {i}", filename=f"{i}.txt")
    raw = msg.as_bytes()
    parts, _ = stdlib_shape(raw)
    assert prescan(raw, MailLimits(max_parts=parts)).parts == parts
    with pytest.raises(MessageRejected, match="MIME parts"):
        prescan(raw, MailLimits(max_parts=parts - 1))


def test_prescan_is_linear_on_hostile_bodies() -> None:
    # Millions of lines that look like delimiters, and a boundary declared in every part.
    junk = b"--b\r\n" * 1_000_000 + b"--x--\r\n" * 1_000_000
    raw = (
        b"From: a@exempelbolaget.se\r\nContent-Type: multipart/mixed; boundary=c\r\n\r\n--c\r\n"
        b"Content-Type: text/plain\r\n\r\n" + junk + b"--c--\r\n"
    )
    start = time.perf_counter()
    assert prescan(raw, MailLimits()).parts == 2
    assert time.perf_counter() - start < 1.0


def test_quadratic_parameter_header_is_refused_unparsed() -> None:
    # The stdlib parses parameters in time quadratic in the ';' inside quotes.
    value = 'attachment; filename="' + ";" * 100_000 + '"'
    raw = (
        b"From: a@exempelbolaget.se\r\nContent-Type: application/pdf\r\nContent-Disposition: "
        + value.encode()
        + b"\r\n\r\nJVBERi0xLjQK\r\n"
    )
    start = time.perf_counter()
    with pytest.raises(MessageRejected, match="Content-Disposition"):
        parse_message(raw)
    assert time.perf_counter() - start < 0.5


def test_boundary_with_a_colon_ends_a_header_block_like_the_parser() -> None:
    raw = (
        b'From: a@exempelbolaget.se\r\nContent-Type: multipart/mixed; boundary="a:b"\r\n\r\n'
        b"--a:b\r\nContent-Type: text/plain\r\n--a:b\r\nContent-Type: text/plain\r\n\r\nx\r\n"
        b"--a:b--\r\n"
    )
    assert prescan(raw, MailLimits()) == stdlib_shape(raw)


def test_processed_torture_shapes_match_the_parser() -> None:
    for case in torture():
        if case.expect == "processed" and case.raw:
            assert tuple(prescan(case.raw, MailLimits())) == stdlib_shape(case.raw), case.name


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# The 500-deep seeds are left out: the stdlib takes 0.3 s over each, and they are refused anyway.
@given(mutated([s for s in SEEDS if s.count(b"boundary=") < 100]))
def test_prescan_never_counts_fewer_parts_than_the_parser(raw: bytes) -> None:
    unlimited = MailLimits(max_parts=10**9, max_depth=10**9)
    try:
        shape = prescan(raw, unlimited)
    except MessageRejected:
        return  # empty, or a header over the cap: never parsed
    parts, depth = stdlib_shape(raw)
    assert shape.parts >= parts
    assert shape.depth >= depth


@pytest.mark.parametrize(
    "body",
    [b"", b"A: 1", b"A: 1\n", b"A: 1\n\nB: 2", b"A: 1\n\nB: 2\n\n", b"A: 1\n\n\n\nB: 2",
     b"\n\nA: 1", b"\nx", b"Reporting-MTA: dns; mx\r\n\r\nFinal-Recipient: rfc822; a@b\r\n"],
)
def test_delivery_status_blocks_are_counted_as_the_parser_counts_them(body: bytes) -> None:
    # A bounce's report is one part per block; a last block with no blank line after
    # it (as MTAs write them) was once left out, so the prescan counted fewer parts
    # than the parser builds.
    inside = (
        b'Content-Type: multipart/report; boundary="b"\r\n\r\n--b\r\n'
        b"Content-Type: message/delivery-status\r\n\r\n" + body + b"\r\n--b--\r\n"
    )
    alone = b"Content-Type: message/delivery-status\n\n" + body
    for raw in (inside, alone):
        assert prescan(raw, MailLimits()) == stdlib_shape(raw), raw
