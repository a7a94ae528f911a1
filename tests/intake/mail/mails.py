"""What the tests of reading raw mail share: messages, the torture set, the parser's own count.

`mail` builds an ordinary message with `email`, `parse` reads one as the
pass does, `nested` makes one nested to a given depth, `stdlib_shape`
counts parts and depth the way the stdlib parser builds them (independently
of `intake.mail.prescan`), and `mutated` is the fuzzing strategy over the
torture set and a few seeds.
"""

from __future__ import annotations

import base64
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser
from functools import cache

from hypothesis import strategies as st

from intake.mail.message import ParsedMessage, parse_message
from samples.mail import TortureCase, torture_messages
from samples.mail.payloads import tiny_png
from samples.scans import CORPUS_DIR

MAILBOX = "kopplingar@example.se"
PDF = (CORPUS_DIR / "012-office-pdf.pdf").read_bytes()
JPEG = (CORPUS_DIR / "013-office-jpeg.jpg").read_bytes()


@cache
def torture() -> tuple[TortureCase, ...]:
    return tuple(torture_messages(mailbox=MAILBOX))


def mail(
    subject: str = "Blankett",
    sender: str = "Anna Berg <anna.berg@exempelbolaget.se>",
    body: str = "Hej! Här kommer blanketten.\n",
    **headers: str,
) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = MAILBOX
    msg["Subject"] = subject
    msg["Date"] = "Tue, 20 Jan 2026 10:00:00 +0100"
    msg["Message-ID"] = "<abc.123@exempelbolaget.se>"
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(body)
    return msg


def parse(msg: EmailMessage | bytes) -> ParsedMessage:
    raw = msg if isinstance(msg, bytes) else msg.as_bytes()
    return parse_message(raw, own_addresses=[MAILBOX])


def nested(depth: int) -> bytes:
    """Multiparts nested so that the innermost text part is at `depth` (the top is 0)."""
    head = b"From: a@exempelbolaget.se\r\nMIME-Version: 1.0\r\n"
    if depth == 0:
        return head + b"Content-Type: text/plain\r\n\r\nhej\r\n"
    lines = [head + b'Content-Type: multipart/mixed; boundary="b0"\r\n\r\n']
    lines += [
        f'--b{i - 1}\r\nContent-Type: multipart/mixed; boundary="b{i}"\r\n\r\n'.encode()
        for i in range(1, depth)
    ]
    lines.append(f"--b{depth - 1}\r\nContent-Type: text/plain\r\n\r\nhej\r\n".encode())
    lines += [f"--b{i}--\r\n".encode() for i in reversed(range(depth))]
    return b"".join(lines)


def stdlib_shape(raw: bytes) -> tuple[int, int]:
    """Parts and depth as the stdlib parser builds them, counted independently of prescan."""
    root = BytesParser(policy=policy.compat32).parsebytes(raw)
    parts, deepest = 0, 0
    stack: list[tuple[Message, int]] = [(root, 0)]
    while stack:
        part, depth = stack.pop()
        parts += 1
        deepest = max(deepest, depth)
        payload = part.get_payload()
        if isinstance(payload, list):
            if part.get_content_type() == "message/delivery-status":
                parts += len(payload)
                continue
            stack.extend((child, depth + 1) for child in payload if isinstance(child, Message))
    return parts, deepest


SEEDS = [c.raw for c in torture() if 0 < len(c.raw) < 40_000] + [
    nested(3),
    (
        b"From: a@exempelbolaget.se\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
        b"Content-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + base64.encodebytes(tiny_png())
        + b"--b--\r\n"
    ),
]
TOKENS = [
    b"\r\n",
    b"\n",
    b"\r",
    b"--",
    b"--b",
    b"--b0--",
    b"\r\n\r\n",
    b":",
    b";",
    b'"',
    b"=?",
    b"?=",
    b"=?utf-8?B?",
    b"\x00",
    b"\xff",
    b"Content-Type: multipart/mixed; boundary=b\r\n",
    b"Content-Type: message/rfc822\r\n\r\n",
    b"Content-Transfer-Encoding: base64\r\n",
    b"Content-Disposition: attachment; filename*0*=x''%",
    b"charset=",
    b"%PDF-",
    b"\xff\xd8\xff",
    b"name=",
    b" ",
    b"\t",
]


@st.composite
def mutated(draw: st.DrawFn, seeds: list[bytes] = SEEDS) -> bytes:
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 8))):
        at = draw(st.integers(0, len(data)))
        action = draw(st.sampled_from(["insert", "delete", "flip", "repeat"]))
        if action == "insert":
            data[at:at] = draw(st.sampled_from(TOKENS) | st.binary(max_size=8))
        elif action == "delete":
            del data[at : at + draw(st.integers(1, 64))]
        elif action == "flip" and at < len(data):
            data[at] = draw(st.integers(0, 255))
        elif action == "repeat":
            piece = bytes(data[at : at + draw(st.integers(1, 200))])
            data[at:at] = piece * draw(st.integers(1, 20))
    return bytes(data)
