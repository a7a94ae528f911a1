"""The torture mail: hostile and broken messages, each with what the intake should end with.

`torture_messages()` builds every case in memory (a few seconds at most; the
bombs are made without compressing what they expand to) and
`write_torture_folder(out_dir)` writes them as `NN-<name>.eml`. Each
`TortureCase` says whether the message as a whole must be quarantined (over a
cap, or unparseable or ambiguous) or processed (parsed, even if every file in
it is refused later), whether an automatic reply may be sent, and how many
candidate files (PDFs and images by magic bytes) and skipped files
`intake.mail.message.parse_message` yields. What only the page reader can refuse
(the PDF bomb, the slow PDF, a truncated scan) is a candidate here.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from samples.mail import mime
from samples.mail.build import MAILBOX
from samples.mail.payloads import (
    docx,
    exe_stub,
    heic_header,
    pdf_bomb,
    slow_pdf,
    tiny_png,
    zip_bomb,
)
from samples.scans import CORPUS_DIR

# Just over `intake.mail.message.MailLimits.max_bytes` (30 MiB).
HUGE_BYTES = 30 * 1024 * 1024 + 64 * 1024
DEFAULT_SCAN = "012-office-pdf.pdf"
DEFAULT_JPEG_SCAN = "013-office-jpeg.jpg"
ANNA = mime.address("Anna Berg", "anna.berg@exempelbolaget.se")
CRLF = b"\r\n"


@dataclass(frozen=True)
class TortureCase:
    name: str
    raw: bytes
    what: str  # one line, English
    expect: Literal["quarantined", "processed"]
    expect_reply: bool
    expect_candidates: int
    expect_skipped: int = 0


def _headers(
    number: int,
    subject: str,
    *,
    sender: str = ANNA,
    mailbox: str = MAILBOX,
    extra: Sequence[tuple[str, str]] = (),
) -> list[tuple[str, str]]:
    return [
        ("Return-Path", "<anna.berg@exempelbolaget.se>"),
        ("Date", f"Tue, 20 Jan 2026 {10 + number // 60:02d}:{number % 60:02d}:00 +0100"),
        ("From", sender),
        ("To", mailbox),
        ("Subject", subject),
        ("Message-ID", f"<torture-{number:02d}@exempelbolaget.se>"),
        *extra,
    ]


def _head(headers: Sequence[tuple[str, str]]) -> bytes:
    return b"".join(mime.encode_header(n, v) for n, v in headers)


def _pdf(data: bytes, name: str = "blankett.pdf") -> mime.Entity:
    return mime.file(data, "application/pdf", name)


def _hello(text: str = "Hej! Här kommer blanketten.") -> mime.Entity:
    return mime.text(f"{text}\n\nMed vänliga hälsningar\nAnna Berg\n")


def _raw_file(data: bytes, content_type: str, disposition: str) -> mime.Entity:
    """A base64 part with its Content-Type and Content-Disposition written exactly as given."""
    return mime.Entity(
        (
            ("Content-Type", content_type),
            ("Content-Transfer-Encoding", "base64"),
            ("Content-Disposition", disposition),
        ),
        mime.base64_lines(data),
    )


class _Cases:
    def __init__(self, mailbox: str, scan: bytes, jpeg: bytes) -> None:
        self.mailbox = mailbox
        self.scan = scan
        self.jpeg = jpeg
        self.cases: list[TortureCase] = []

    def headers(
        self, subject: str, *, sender: str = ANNA, extra: Sequence[tuple[str, str]] = ()
    ) -> list[tuple[str, str]]:
        return _headers(
            len(self.cases) + 1, subject, sender=sender, mailbox=self.mailbox, extra=extra
        )

    def boundary(self, tag: str = "") -> str:
        return f"=_torture_{len(self.cases) + 1:02d}{tag}"

    def add(
        self,
        name: str,
        raw: bytes,
        what: str,
        expect: Literal["quarantined", "processed"],
        reply: bool,
        candidates: int,
        skipped: int = 0,
    ) -> None:
        self.cases.append(TortureCase(name, raw, what, expect, reply, candidates, skipped))

    def mixed(
        self,
        subject: str,
        parts: Sequence[mime.Entity],
        *,
        sender: str = ANNA,
        extra: Sequence[tuple[str, str]] = (),
    ) -> bytes:
        return mime.message(
            self.headers(subject, sender=sender, extra=extra),
            mime.multipart("mixed", self.boundary(), parts),
        )


def _huge(c: _Cases) -> bytes:
    """A PDF attachment that makes the message just over the cap, built by repeating one line."""
    head = mime.message(
        c.headers("Stor skanning"), mime.multipart("mixed", c.boundary(), [_hello()])
    ).removesuffix(f"--{c.boundary()}--\r\n".encode())
    part = (
        f"--{c.boundary()}\r\n".encode()
        + mime.Entity(_pdf(b"").headers, b"").to_bytes()
        + base64.b64encode(b"%PDF-1.7\n%" + bytes(47))
        + CRLF
    )
    line = b"A" * 76 + CRLF
    tail = f"\r\n--{c.boundary()}--\r\n".encode()
    lines = (HUGE_BYTES - len(head) - len(part) - len(tail)) // len(line) + 1
    return head + part + line * lines + tail


def _nested(c: _Cases, depth: int) -> bytes:
    head = _head([*c.headers("Blankett"), ("MIME-Version", "1.0")])
    opening = b"".join(
        f'--b{i - 1}\r\nContent-Type: multipart/mixed; boundary="b{i}"\r\n\r\n'.encode()
        for i in range(1, depth)
    )
    closing = b"".join(f"--b{i}--\r\n".encode() for i in reversed(range(depth)))
    return (
        head
        + b'Content-Type: multipart/mixed; boundary="b0"\r\n\r\n'
        + opening
        + f"--b{depth - 1}\r\n".encode()
        + _hello().to_bytes()
        + CRLF
        + closing
    )


def _bounce(c: _Cases) -> bytes:
    ours = mime.message(
        [
            ("Date", "Tue, 20 Jan 2026 09:00:00 +0100"),
            ("From", f"Kopplingar <{c.mailbox}>"),
            ("To", "fel.adress@exempelbolaget.se"),
            ("Subject", "Vi har tagit emot er blankett"),
            ("Message-ID", "<reply-1@example.se>"),
            ("Auto-Submitted", "auto-replied"),
        ],
        mime.text("Tack! Vi har tagit emot er blankett och återkommer.\n"),
    )
    status = mime.Entity(
        (("Content-Type", "message/delivery-status"),),
        b"Reporting-MTA: dns; mx.exempelbolaget.se\r\n\r\n"
        b"Final-Recipient: rfc822; fel.adress@exempelbolaget.se\r\nAction: failed\r\n"
        b"Status: 5.1.1\r\nDiagnostic-Code: smtp; 550 5.1.1 User unknown\r\n",
    )
    report = mime.multipart(
        "report",
        c.boundary(),
        [
            mime.text("Ditt meddelande kunde inte levereras till fel.adress@exempelbolaget.se.\n"),
            status,
            mime.attached_message(ours),
        ],
        params="; report-type=delivery-status",
    )
    headers = c.headers(
        "Undelivered Mail Returned to Sender",
        sender="Mail Delivery System <MAILER-DAEMON@mx.exempelbolaget.se>",
        extra=(("Auto-Submitted", "auto-replied"),),
    )
    headers[0] = ("Return-Path", "<>")
    return mime.message(headers, report)


def _build(c: _Cases) -> None:
    scan = c.scan
    c.add("huge", _huge(c), "a message just over the 30 MiB cap", "quarantined", True, 0)
    c.add("deep-nesting", _nested(c, 500), "multiparts nested 500 deep", "quarantined", True, 0)
    c.add(
        "deep-nesting-bare-cr",
        _nested(c, 500).replace(CRLF, b"\r"),
        "multiparts nested 500 deep, with bare CR line ends",
        "quarantined",
        True,
        0,
    )
    c.add(
        "many-parts",
        c.mixed("Blankett", [mime.text(f"del {i}\n") for i in range(300)]),
        "300 MIME parts",
        "quarantined",
        True,
        0,
    )
    received = [
        (
            "Received",
            f"from relay{i}.exempelbolaget.se by mx.example.se with ESMTP id "
            f"{i:08d}; Tue, 20 Jan 2026 09:00:00 +0100",
        )
        for i in range(3000)
    ]
    c.add(
        "huge-header",
        c.mixed("Blankett", [_hello(), _pdf(scan)], extra=received),
        "a 330 KB header block (3000 Received lines)",
        "quarantined",
        True,
        0,
    )
    c.add(
        "too-many-attachments",
        c.mixed(
            "Alla blanketter",
            [_hello(), *(mime.file(tiny_png(), "image/png", f"{i}.png") for i in range(21))],
        ),
        "21 image attachments, one over the cap",
        "quarantined",
        True,
        0,
    )
    c.add("zero-bytes", b"", "a zero-length message", "quarantined", False, 0)
    c.add(
        "duplicate-content-type",
        mime.message(
            [*c.headers("Blankett"), ("Content-Type", "text/plain; charset=utf-8")],
            mime.multipart("mixed", c.boundary(), [_hello(), _pdf(scan)]),
        ),
        "two different top-level Content-Type headers (text/plain and multipart)",
        "quarantined",
        True,
        0,
    )

    c.add(
        "bad-charsets",
        mime.message(
            c.headers("x", extra=()),
            mime.multipart(
                "mixed",
                c.boundary(),
                [
                    mime.Entity(
                        (
                            ("Content-Type", 'text/plain; charset="x-klingon"'),
                            ("Content-Transfer-Encoding", "8bit"),
                        ),
                        "Hej! Här kommer blanketten.\r\n".encode(),
                    ),
                    _raw_file(
                        scan, "application/pdf", "attachment; filename*=x-unknown''blankett%E5.pdf"
                    ),
                ],
            ),
        )
        .replace(
            b"Subject: x\r\n",
            b"Subject: =?x-klingon?B?SGVq?= =?base64?B?SGVq?= =?utf-8?B?!!not base64?= "
            b"=?undefined?Q?Blankett?= =?iso-8859-1?Q?bortkoppling_=E5=E4=F6?=\r\n",
        )
        .replace(b"From: Anna Berg", b"From: =?unknown-8bit?Q?Anna_B=E9rg?="),
        "unknown and non-text charsets in headers, body and file name",
        "processed",
        True,
        1,
    )
    names = [
        "../../etc/passwd.pdf",
        "/etc/cron.d/kopplingar.pdf",
        "a" * 1996 + ".pdf",
        "blankett\u202efdp.exe",
    ]
    parts = [
        _hello(),
        *(_pdf(scan, name) for name in names),
        _raw_file(
            scan,
            "application/pdf",
            "attachment; filename*=utf-8''C%3A%5CWindows%5CSystem32%5Cevil.pdf",
        ),
        _raw_file(
            scan,
            "application/pdf",
            "attachment; filename*=utf-8''blankett%00.exe%0D%0ABcc%3A x.pdf",
        ),
    ]
    c.add(
        "hostile-filenames",
        c.mixed("Blanketter", parts),
        "file names with ../, absolute and Windows paths, NUL, CR/LF, RTL override, 2000 chars",
        "processed",
        True,
        6,
    )
    c.add(
        "zip-bomb",
        c.mixed(
            "Blankett", [_hello(), _pdf(scan), mime.file(zip_bomb(), "application/zip", "alla.zip")]
        ),
        "a scan and a 1 MB zip that expands to 1 GiB",
        "processed",
        True,
        1,
        1,
    )
    c.add(
        "pdf-bomb",
        c.mixed("Blankett", [_hello(), _pdf(pdf_bomb(), "skanning.pdf")]),
        "a PDF whose one image is 100000 x 100000 pixels (1.25 GB inflated)",
        "processed",
        True,
        1,
    )
    c.add(
        "slow-pdf",
        c.mixed("Blankett", [_hello(), _pdf(slow_pdf())]),
        "a 1 KB PDF that takes pdfium minutes to render at 200 dpi",
        "processed",
        True,
        1,
    )
    c.add(
        "mislabeled-jpeg",
        c.mixed("Blankett", [_hello(), _pdf(c.jpeg, "skanning.pdf")]),
        "a JPEG scan named .pdf and declared application/pdf",
        "processed",
        True,
        1,
    )
    c.add(
        "text-named-pdf",
        c.mixed(
            "Blankett", [_hello(), _pdf("Detta är ingen PDF, bara text.\n".encode(), "scan.pdf")]
        ),
        "a text file named scan.pdf",
        "processed",
        True,
        0,
        1,
    )
    c.add(
        "empty-body",
        _head([*c.headers("Blankett"), ("MIME-Version", "1.0")]) + CRLF,
        "headers and a blank line, no body at all",
        "processed",
        True,
        0,
    )
    c.add(
        "headers-only",
        _head(c.headers("Blankett")).removesuffix(CRLF),
        "only header lines, no blank line and no body",
        "processed",
        True,
        0,
    )
    c.add(
        "out-of-office",
        mime.message(
            c.headers(
                "Frånvarande: Blankett",
                extra=(("Auto-Submitted", "auto-replied"), ("X-Autoreply", "yes")),
            ),
            mime.text("Jag är tillbaka 2 februari.\n"),
        ),
        "an out-of-office auto-reply",
        "processed",
        False,
        0,
    )
    c.add(
        "bounce",
        _bounce(c),
        "a bounce (multipart/report) with our reply attached",
        "processed",
        False,
        0,
    )
    c.add(
        "own-address",
        c.mixed("Er blankett", [_hello(), _pdf(scan)], sender=f"Kopplingar <{c.mailbox}>"),
        "a message from our own mailbox (a loop)",
        "processed",
        False,
        1,
    )
    injected = base64.b64encode(b"x\r\nBcc: victim@example.com").decode()
    c.add(
        "header-injection",
        c.mixed("x", [_hello(), _pdf(scan)])
        .replace(b"Subject: x\r\n", f"Subject: =?utf-8?B?{injected}?=\r\n".encode())
        .replace(b"From: Anna Berg", f"From: =?utf-8?B?{injected}?=".encode()),
        "Subject and display name that decode to CR/LF and a Bcc header",
        "processed",
        True,
        1,
    )
    whole = c.mixed("Blankett", [_hello(), _pdf(scan)])
    cut = whole.index(b"JVBER") + len(mime.base64_lines(scan)) * 3 // 5 + 37
    c.add(
        "truncated-base64",
        whole[:cut],
        "the scan's base64 cut off mid-line, no closing boundary",
        "processed",
        True,
        1,
    )
    c.add(
        "tiny-logo",
        c.mixed(
            "Blankett",
            [_hello(), mime.file(tiny_png(), "image/png", "logo.png", disposition="inline")],
        ),
        "only a 1x1 PNG signature logo",
        "processed",
        True,
        1,
    )
    c.add(
        "exe-attachment",
        c.mixed(
            "Faktura",
            [_hello(), mime.file(exe_stub(), "application/octet-stream", "faktura.pdf.exe")],
        ),
        "a Windows program as application/octet-stream",
        "processed",
        True,
        0,
        1,
    )
    c.add(
        "eight-bit-no-charset",
        mime.message(
            c.headers("Blankett"),
            mime.multipart(
                "mixed",
                c.boundary(),
                [
                    mime.Entity(
                        (("Content-Type", "text/plain"), ("Content-Transfer-Encoding", "8bit")),
                        "Hej! Här är blanketten för bortkoppling.\r\nHälsningar Åsa\r\n".encode(
                            "cp1252"
                        ),
                    ),
                    _pdf(scan),
                ],
            ),
        ),
        "a Windows-1252 body in 8 bits with no charset",
        "processed",
        True,
        1,
    )
    c.add(
        "multiple-from",
        c.mixed(
            "Blankett",
            [_hello(), _pdf(scan)],
            sender="anna.berg@exempelbolaget.se, lars@holmsredovisning.se",
        ),
        "two addresses in From: no single sender to answer",
        "processed",
        False,
        1,
    )
    c.add(
        "heic-and-office",
        c.mixed(
            "Blankett",
            [
                _hello(),
                mime.file(heic_header(), "image/heic", "IMG_0042.HEIC"),
                mime.file(
                    docx(),
                    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                    "Blankett.docx",
                ),
            ],
        ),
        "an iPhone HEIC photo and a Word document",
        "processed",
        True,
        0,
        2,
    )
    junk = re.sub(
        rb"Date: [^\r]*",
        b"Date: ig\xc3\xa5r vid lunch",
        c.mixed("x", [_hello(), _pdf(scan)]),
        count=1,
    )
    junk = (
        junk.replace(b"Subject: x", b"Subject: Blankett fr\xe5n oss")
        .replace(b"From: Anna Berg", b"From: \xc3\x85sa \xc3\x96berg")
        .replace(b"Message-ID: <torture", b"Message-ID: no brackets \x01 <torture")
    )
    c.add(
        "junk-headers",
        junk,
        "raw 8-bit Subject and From, an unparseable Date, junk around the Message-ID",
        "processed",
        True,
        1,
    )


def torture_messages(*, mailbox: str = MAILBOX, scan: bytes | None = None) -> list[TortureCase]:
    """Every torture case; `scan` is a good form to attach where a case needs one."""
    good = scan if scan is not None else (CORPUS_DIR / DEFAULT_SCAN).read_bytes()
    jpeg = (
        good if good.startswith(b"\xff\xd8\xff") else (CORPUS_DIR / DEFAULT_JPEG_SCAN).read_bytes()
    )
    cases = _Cases(mailbox, good, jpeg)
    _build(cases)
    return cases.cases


def write_torture_folder(
    out_dir: Path, *, mailbox: str = MAILBOX, scan: bytes | None = None
) -> list[Path]:
    """Write every torture case to out_dir as NN-<name>.eml; return the paths in order."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for number, case in enumerate(torture_messages(mailbox=mailbox, scan=scan), start=1):
        path = out_dir / f"{number:02d}-{case.name}.eml"
        path.write_bytes(case.raw)
        paths.append(path)
    return paths
