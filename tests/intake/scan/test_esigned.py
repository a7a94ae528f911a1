"""A digitally signed form through the whole reading: whose signature it is, on both databases."""

from __future__ import annotations

import numpy as np
import pytest
from sqlmodel import Session, select

from forms import FormKind, form_spec
from intake.scan import IntakeContext, read_file
from intake.scan.model import DocumentResult
from kopplingar.templates import RenderedTemplates
from registry import Person
from render.issue import blank_form
from samples import SAMPLE_QR_KEY
from samples.digital.corpus import fill_fields, paste_signatures
from samples.digital.pki import TestCA, sign_pdf
from samples.scans import REFERENCE_DATE
from samples.scans.values import SampleRegistry, value_set

MAILBOX = "kopplingar@example.se"
KIND = FormKind.DUAL
SPEC = form_spec(KIND)


@pytest.fixture(scope="module")
def ca() -> TestCA:
    return TestCA.create()


@pytest.fixture(scope="module")
def values() -> dict[str, str]:
    return value_set(SampleRegistry(), KIND, np.random.default_rng(23)) | {
        "client_date": "2026-01-12", "new_firm_date": "2026-01-14"}


def _ctx(ca: TestCA | None) -> IntakeContext:
    return IntakeContext(qr_key=SAMPLE_QR_KEY, templates=RenderedTemplates(MAILBOX),
                         today=REFERENCE_DATE, trust_roots=(ca.pem(),) if ca else ())


def _form_signed_by_the_firm_on_paper(values: dict[str, str]) -> bytes:
    """Typed, the firm's signature pasted as an image, the client's area left empty."""
    typed = fill_fields(blank_form(KIND, mailbox=MAILBOX).pdf, values, KIND, appearances=True)
    return paste_signatures(typed, KIND, np.random.default_rng(3), parties=("new_firm",))


def _client_signer(session: Session, values: dict[str, str]) -> Person:
    person = session.exec(select(Person).where(
        Person.name == values["client_signatory_name"])).first()
    assert person is not None
    return person


def _read(session: Session, pdf: bytes, ctx: IntakeContext) -> DocumentResult:
    [doc] = read_file(session, pdf, "signerad.pdf", ctx).documents
    return doc


def _codes(doc: DocumentResult) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for f in doc.findings:
        out.setdefault(f.code, []).append(f.severity.value)
    return out


def test_a_signatory_on_record_signing_digitally_is_that_partys_signature(
        session: Session, values: dict[str, str], ca: TestCA) -> None:
    person = _client_signer(session, values)
    pdf = sign_pdf(_form_signed_by_the_firm_on_paper(values),
                   ca.issue(person.name, person.personnummer), "Klienten")
    doc = _read(session, pdf, _ctx(ca))
    assert doc.signatures["client"].state.value == "signed"
    codes = _codes(doc)
    assert codes.get("esign.valid") == ["info"]
    assert "signature.missing" not in codes
    [valid] = [f for f in doc.findings if f.code == "esign.valid"]
    assert person.name in valid.message and valid.field == "client"
    assert [e.signer for e in doc.esignatures] == [person.name]


def test_a_valid_signature_by_someone_who_may_not_sign_blocks(
        session: Session, values: dict[str, str], ca: TestCA) -> None:
    pdf = sign_pdf(_form_signed_by_the_firm_on_paper(values), ca.issue("Okänd Person"),
                   "Klienten")
    doc = _read(session, pdf, _ctx(ca))
    codes = _codes(doc)
    assert codes.get("esign.not_signatory") == ["blocking"]
    assert "blocking" in codes.get("signature.missing", [])  # the client's requirement stands


def test_without_the_issuers_root_configured_a_signature_is_untrusted(
        session: Session, values: dict[str, str], ca: TestCA) -> None:
    person = _client_signer(session, values)
    pdf = sign_pdf(_form_signed_by_the_firm_on_paper(values),
                   ca.issue(person.name, person.personnummer), "Klienten")
    doc = _read(session, pdf, _ctx(None))
    assert _codes(doc).get("esign.untrusted") == ["blocking"]
    assert doc.signatures["client"].state.value == "empty"


def test_a_certificate_with_another_personnummer_is_not_the_person(
        session: Session, values: dict[str, str], ca: TestCA) -> None:
    person = _client_signer(session, values)
    if person.personnummer is None:
        pytest.skip("the sample signatory has no personnummer on record")
    pdf = sign_pdf(_form_signed_by_the_firm_on_paper(values),
                   ca.issue(person.name, "19121212-1212"), "Klienten")
    doc = _read(session, pdf, _ctx(ca))
    assert _codes(doc).get("esign.not_signatory") == ["blocking"]
