"""Digital signatures validated with pyHanko against a CA made in the test."""

from __future__ import annotations

import datetime as dt
import io

import numpy as np
import pytest
from pyhanko.pdf_utils.generic import NameObject, TextStringObject
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

from forms import FormKind
from intake.scan.esign import read_esignatures
from render.issue import blank_form
from samples.digital.corpus import fill_fields
from samples.digital.pki import NOW, TestCA, embed_revocation, sign_pdf
from samples.scans.values import SampleRegistry, value_set

MAILBOX = "kopplingar@example.se"
KIND = FormKind.DUAL


@pytest.fixture(scope="module")
def ca() -> TestCA:
    return TestCA.create()


@pytest.fixture(scope="module")
def typed() -> bytes:
    values = value_set(SampleRegistry(), KIND, np.random.default_rng(5))
    return fill_fields(blank_form(KIND, mailbox=MAILBOX).pdf, values, KIND, appearances=True)


def test_a_valid_signature_says_who_when_and_that_it_is_trusted(ca: TestCA, typed: bytes) -> None:
    signer = ca.issue("Anna Berg", "19700101-1234")
    [sig] = read_esignatures(sign_pdf(typed, signer, "Klienten"), [ca.pem()])
    assert sig.ok
    assert (sig.signer, sig.signer_id, sig.issuer) == ("Anna Berg", "19700101-1234", ca.name)
    assert sig.coverage == "entire_file" and sig.trust == "trusted"
    assert sig.signed_at is not None and abs(sig.signed_at - dt.datetime.now(dt.UTC)) < \
        dt.timedelta(minutes=5)


def test_bytes_changed_after_signing_break_its_integrity(ca: TestCA, typed: bytes) -> None:
    signed = bytearray(sign_pdf(typed, ca.issue("Anna Berg"), "Klienten"))
    at = signed.find(b"/FT /Tx")  # inside the signed range: a field of the form itself
    assert at > 0
    signed[at + 4:at + 6] = b"Ch"
    [sig] = read_esignatures(bytes(signed), [ca.pem()])
    assert not sig.ok and not (sig.intact and sig.valid)


def test_a_value_changed_in_an_update_after_signing_is_a_change(ca: TestCA, typed: bytes) -> None:
    signed = sign_pdf(typed, ca.issue("Anna Berg"), "Klienten")
    writer = IncrementalPdfFileWriter(io.BytesIO(signed), strict=False)
    form = writer.root["/AcroForm"]
    for ref in form["/Fields"]:
        field = ref.get_object()
        if field.get("/T") == "client_subscription":
            field[NameObject("/V")] = TextStringObject("10099999")
            writer.update_container(field)
    out = io.BytesIO()
    writer.write(out)  # type: ignore[no-untyped-call]
    [sig] = read_esignatures(out.getvalue(), [ca.pem()])
    assert sig.intact and sig.valid  # the signed revision itself is untouched
    assert sig.changed_after and not sig.ok


def test_a_root_the_operator_did_not_configure_is_not_trusted(ca: TestCA, typed: bytes) -> None:
    other = TestCA.create("Okänd CA")
    [sig] = read_esignatures(sign_pdf(typed, other.issue("Anna Berg"), "Klienten"), [ca.pem()])
    assert sig.intact and sig.valid and sig.trust == "untrusted" and not sig.ok


def test_an_expired_certificate_is_not_trusted(ca: TestCA, typed: bytes) -> None:
    old = ca.issue("Anna Berg", valid_from=NOW - dt.timedelta(days=400),
                   valid_to=NOW - dt.timedelta(days=30))
    [sig] = read_esignatures(sign_pdf(typed, old, "Klienten"), [ca.pem()])
    assert sig.trust == "expired" and not sig.ok


def test_two_signatures_one_after_the_other_are_both_valid(ca: TestCA, typed: bytes) -> None:
    first = sign_pdf(typed, ca.issue("Anna Berg"), "Klienten")
    both = sign_pdf(first, ca.issue("Olof Sjöberg"), "Byran")
    sigs = {s.field: s for s in read_esignatures(both, [ca.pem()])}
    assert set(sigs) == {"Klienten", "Byran"}
    assert sigs["Klienten"].ok and sigs["Klienten"].coverage == "entire_revision"
    assert sigs["Byran"].ok and sigs["Byran"].coverage == "entire_file"


def test_an_unsigned_or_broken_file_gives_no_signature_and_no_error(typed: bytes) -> None:
    assert read_esignatures(typed, []) == ()
    assert read_esignatures(b"%PDF-1.7\n/ByteRange [0 1 2 3] garbage", []) != ()


def test_revocation_data_in_the_file_is_used_and_a_revoked_certificate_says_so(
        ca: TestCA, typed: bytes) -> None:
    kept, revoked = ca.issue("Anna Berg"), ca.issue("Bo Spärrad")
    fine = embed_revocation(sign_pdf(typed, kept, "Klienten"), ca, ca.crl((revoked,)))
    [sig] = read_esignatures(fine, [ca.pem()])
    assert sig.ok and sig.revocation_embedded
    gone = embed_revocation(sign_pdf(typed, revoked, "Klienten"), ca, ca.crl((revoked,)))
    [sig] = read_esignatures(gone, [ca.pem()])
    assert sig.trust == "revoked" and not sig.ok
    # Without the list in the file nothing can tell: not revoked, and said to be unchecked.
    [sig] = read_esignatures(sign_pdf(typed, revoked, "Klienten"), [ca.pem()])
    assert sig.ok and not sig.revocation_embedded


def test_an_embedded_timestamp_gives_its_time(ca: TestCA, typed: bytes) -> None:
    tsa = ca.issue("Testbankens tidsstämpling", timestamps=True)
    [sig] = read_esignatures(sign_pdf(typed, ca.issue("Anna Berg"), "Klienten",
                                      timestamps=tsa), [ca.pem()])
    assert sig.ok and sig.timestamp_at is not None
    assert abs(sig.timestamp_at - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=5)
