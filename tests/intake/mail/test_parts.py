"""intake.mail.parts: candidates by magic bytes wherever they hide, names for display, bodies."""

from __future__ import annotations

import base64
import hashlib
from email.message import EmailMessage

import pytest

from intake.mail.message import parse_message
from intake.mail.parts import Attachment
from intake.mail.prescan import MailLimits, MessageRejected, prescan
from samples.mail.payloads import docx, exe_stub, heic_header, tiny_png, zip_of
from tests.intake.mail.mails import JPEG, PDF, mail, parse, stdlib_shape, torture

# --- file types come from the bytes ----------------------------------------------------


def test_type_comes_from_bytes_not_name_or_declared_type() -> None:
    msg = mail()
    msg.add_attachment(JPEG, maintype="application", subtype="pdf", filename="skanning.pdf")
    msg.add_attachment(
        b"Detta \xe4r text\n", maintype="application", subtype="pdf", filename="scan.pdf"
    )
    msg.add_attachment(PDF, maintype="application", subtype="octet-stream", filename="fil.dat")
    msg.add_attachment(PDF, maintype="text", subtype="plain", disposition="inline")
    parsed = parse(msg)
    assert [(a.declared_type, a.detected_type) for a in parsed.attachments] == [
        ("application/pdf", "jpeg"),
        ("application/octet-stream", "pdf"),
        ("text/plain", "pdf"),
    ]
    assert [a.position for a in parsed.attachments] == [0, 1, 2]
    assert parsed.attachments[0].data == JPEG
    assert parsed.attachments[1].data == PDF
    [text] = parsed.skipped
    assert (text.filename, text.detected_type) == ("scan.pdf", "text")
    assert "text" in text.customer_reason


def test_skipped_files_say_why_in_swedish() -> None:
    msg = mail()
    for data, name in [
        (zip_of("a.pdf", PDF), "blankett.zip"),
        (docx(), "Blankett.docx"),
        (heic_header(), "IMG_1.HEIC"),
        (exe_stub(), "x.exe"),
        (b"", "tom.pdf"),
    ]:
        msg.add_attachment(data, maintype="application", subtype="octet-stream", filename=name)
    skipped = parse(msg).skipped
    assert [(s.filename, s.detected_type) for s in skipped] == [
        ("blankett.zip", "zip"),
        ("Blankett.docx", "office"),
        ("IMG_1.HEIC", "heic"),
        ("x.exe", "other"),
        ("tom.pdf", "empty"),
    ]
    assert "Zip-filer öppnas inte" in skipped[0].customer_reason
    assert "Word" in skipped[1].customer_reason
    assert "HEIC" in skipped[2].customer_reason
    assert "tom" in skipped[4].customer_reason
    assert all(s.reason.isascii() and s.reason for s in skipped)


def test_attachment_hash_is_sha256_of_the_bytes() -> None:
    attachment = Attachment(0, "a.pdf", "application/pdf", "pdf", b"%PDF-1.4")
    assert attachment.sha256 == hashlib.sha256(b"%PDF-1.4").hexdigest()


# --- where candidates hide -------------------------------------------------------------


def test_forwarded_message_and_inline_image_are_found() -> None:
    inner = mail(subject="Blankett", sender="Kund <kund@kundbolaget.se>")
    inner.add_attachment(PDF, maintype="application", subtype="pdf", filename="inner.pdf")
    outer = mail(subject="VB: Blankett")
    outer.add_attachment(inner)  # message/rfc822
    related = EmailMessage()
    related.set_content("<p>Se bild</p><img src='cid:x'>", subtype="html")
    related.add_related(JPEG, maintype="image", subtype="jpeg", cid="<x>")
    outer.add_attachment(related)
    parsed = parse(outer)
    assert [(a.filename, a.detected_type) for a in parsed.attachments] == [
        ("inner.pdf", "pdf"),
        ("bilaga-2.jpg", "jpeg"),
    ]
    assert parsed.skipped == []
    assert parsed.text_body.startswith("Hej! Här kommer blanketten.")


def test_base64_encoded_forwarded_message_is_opened() -> None:
    inner = mail(subject="inner")
    inner.add_attachment(PDF, maintype="application", subtype="pdf", filename="inner.pdf")
    encoded = base64.encodebytes(inner.as_bytes()).replace(b"\n", b"\r\n")
    raw = (
        b"From: a@exempelbolaget.se\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
        b"Content-Type: text/plain\r\n\r\nSe bifogat.\r\n--b\r\n"
        b"Content-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + encoded
        + b"--b--\r\n"
    )
    parsed = parse(raw)
    assert [(a.filename, a.data) for a in parsed.attachments] == [("inner.pdf", PDF)]
    assert parsed.text_body == "Se bifogat."
    # The decoded message counts against the same caps.
    with pytest.raises(MessageRejected, match="levels deep"):
        parse_message(raw, MailLimits(max_depth=2))


def test_multipart_digest_children_are_messages() -> None:
    inner = mail(subject="inner")
    inner.add_attachment(PDF, maintype="application", subtype="pdf", filename="d.pdf")
    raw = (
        b"From: a@exempelbolaget.se\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/digest; boundary="d"\r\n\r\n--d\r\n\r\n'
        + inner.as_bytes()
        + b"\r\n--d--\r\n"
    )
    assert prescan(raw, MailLimits()) == stdlib_shape(raw) == (5, 3)
    assert [a.filename for a in parse(raw).attachments] == ["d.pdf"]


# --- names -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("disposition", "shown"),
    [
        ('attachment; filename="../../etc/passwd.pdf"', "passwd.pdf"),
        ('attachment; filename="/etc/cron.d/x.pdf"', "x.pdf"),
        ("attachment; filename*=utf-8''C%3A%5CUsers%5Cevil.pdf", "evil.pdf"),
        ("attachment; filename*=utf-8''C%3Aevil.pdf", "evil.pdf"),
        ("attachment; filename*=utf-8''a%00b%0D%0AX-Evil%3A 1.pdf", "a b X-Evil: 1.pdf"),
        ("attachment; filename*=utf-8''bl%C3%A5nkett%20%C3%A5.pdf", "blånkett å.pdf"),
        ("attachment; filename*0*=utf-8''Skanning%20; filename*1=del2.pdf", "Skanning del2.pdf"),
        ('attachment; filename="=?utf-8?B?w6XDpMO2LnBkZg==?="', "åäö.pdf"),
        ('attachment; filename="=?iso-8859-1?Q?Bl=E5nkett.pdf?="', "Blånkett.pdf"),
        ("attachment; filename*=x-nonsense''bl%E5.pdf", "blå.pdf"),  # read as Latin-1
        ("attachment; filename*=utf-8''blankett%E2%80%AEfdp.exe", "blankett fdp.exe"),
        ('attachment; filename=".."', "bilaga-1.pdf"),
        ('attachment; filename="/"', "bilaga-1.pdf"),
        ("attachment", "bilaga-1.pdf"),
    ],
)
def test_file_names_are_for_display_only(disposition: str, shown: str) -> None:
    raw = (
        b"From: a@exempelbolaget.se\r\nMIME-Version: 1.0\r\nContent-Type: application/pdf\r\n"
        b"Content-Transfer-Encoding: base64\r\nContent-Disposition: "
        + disposition.encode()
        + b"\r\n\r\nJVBERi0xLjQK\r\n"
    )
    [attachment] = parse(raw).attachments
    assert attachment.filename == shown


def test_long_name_keeps_its_extension_and_name_from_content_type() -> None:
    msg = mail()
    msg.add_attachment(PDF, maintype="application", subtype="pdf", filename="a" * 2000 + ".pdf")
    raw = msg.as_bytes()
    [attachment] = parse(raw).attachments
    assert len(attachment.filename) == 200
    assert attachment.filename.endswith("aaa.pdf")
    raw = (
        b'From: a@exempelbolaget.se\r\nContent-Type: image/jpeg; name="foto.jpg"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\n/9j/4AAQ\r\n"
    )
    assert [a.filename for a in parse(raw).attachments] == ["foto.jpg"]


# --- caps and contradictions the walk finds --------------------------------------------


def test_attachment_count_cap() -> None:
    msg = mail()
    for i in range(3):
        msg.add_attachment(tiny_png(), maintype="image", subtype="png", filename=f"{i}.png")
    raw = msg.as_bytes()
    assert len(parse_message(raw, MailLimits(max_attachments=3)).attachments) == 3
    with pytest.raises(MessageRejected) as caught:
        parse_message(raw, MailLimits(max_attachments=2))
    assert "högst 2 bilagor" in caught.value.customer_message


def test_conflicting_content_type_is_refused_but_a_repeated_one_is_not() -> None:
    head = b"From: a@exempelbolaget.se\r\nContent-Type: text/plain\r\n"
    with pytest.raises(MessageRejected, match="contradict"):
        parse_message(head + b"Content-Type: application/pdf\r\n\r\n%PDF-1.4\r\n")
    assert parse(head + b"Content-Type: text/plain\r\n\r\nhej\r\n").text_body == "hej\n"


# --- bodies ----------------------------------------------------------------------------


def test_text_body_first_plain_part_decoded_and_capped() -> None:
    cases = {c.name: c for c in torture()}
    assert "Här är blanketten" in parse(cases["eight-bit-no-charset"].raw).text_body
    assert parse(cases["bad-charsets"].raw).text_body.startswith("Hej! Här kommer")
    long = parse(mail(body="å" * 20_000 + "\n")).text_body
    assert long == "å" * 10_000
    assert parse(cases["empty-body"].raw).text_body == ""


def test_html_and_signatures_are_neither_files_nor_body() -> None:
    msg = mail(body="plain")
    msg.add_alternative("<p>html</p>", subtype="html")
    msg.add_attachment(
        b"0\x82\x01", maintype="application", subtype="pkcs7-signature", filename="smime.p7s"
    )
    parsed = parse(msg)
    assert parsed.attachments == []
    assert parsed.skipped == []
    assert parsed.text_body == "plain\n"


# --- the torture set -------------------------------------------------------------------


def test_torture_attachment_details() -> None:
    cases = {c.name: c for c in torture()}
    [jpeg] = parse(cases["mislabeled-jpeg"].raw).attachments
    assert (jpeg.filename, jpeg.declared_type, jpeg.detected_type) == (
        "skanning.pdf",
        "application/pdf",
        "jpeg",
    )
    assert [a.filename for a in parse(cases["hostile-filenames"].raw).attachments][:2] == [
        "passwd.pdf",
        "kopplingar.pdf",
    ]
    [logo] = parse(cases["tiny-logo"].raw).attachments
    assert logo.data == tiny_png()
    [cut] = parse(cases["truncated-base64"].raw).attachments
    assert 0 < len(cut.data) < len(PDF) and PDF.startswith(cut.data)
    assert [s.detected_type for s in parse(cases["zip-bomb"].raw).skipped] == ["zip"]
