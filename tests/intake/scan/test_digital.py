"""Born-digital PDFs: values from the form fields and the text layer, never guessed.

Every case is made as a customer's software makes it (`samples.digital`):
pypdf filling our fillable form, reportlab drawing on the page, pdfium
flattening. What a person sees on the rendered page is what must come out.
"""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from pypdf import PdfReader, PdfWriter
from pypdf.annotations import Rectangle
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen.canvas import Canvas
from sqlmodel import Session

from forms import FormKind, form_spec
from intake.scan import IntakeContext, read_file
from intake.scan.align import exactly_placed
from intake.scan.model import DocumentResult
from intake.scan.pages import PageLimits, extract_pages
from intake.scan.pipeline import IssuedFormView, scan_file
from kopplingar.templates import RenderedTemplates
from registry import record_issued_form
from render.issue import blank_form
from render.page import Page, mm_to_pt
from samples import SAMPLE_QR_KEY
from samples.digital.corpus import (
    SCANNED_PAGE,
    fill_and_sign,
    fill_fields,
    flattened,
    free_text_over,
    issued_pdf,
    overlay,
    paste_signatures,
    printed_to_pdf,
    white_out,
    with_scanned_page,
)
from samples.scans import REFERENCE_DATE
from samples.scans.values import SampleRegistry, signatory_fields, value_set

MAILBOX = "kopplingar@example.se"
KIND = FormKind.DUAL
SPEC = form_spec(KIND)
FORM_ID = "K7QX2M9D4T"
DATES = {"client": "2026-01-12", "new_firm": "2026-01-14"}


@pytest.fixture(scope="module")
def ctx() -> IntakeContext:
    return IntakeContext(qr_key=SAMPLE_QR_KEY, templates=RenderedTemplates(MAILBOX),
                         today=REFERENCE_DATE)


@pytest.fixture(scope="module")
def values() -> dict[str, str]:
    return value_set(SampleRegistry(), KIND, np.random.default_rng(11))


def _typed(values: dict[str, str]) -> dict[str, str]:
    return values | {"client_date": DATES["client"], "new_firm_date": DATES["new_firm"]}


def _read(pdf: bytes, ctx: IntakeContext, issued: dict[str, str] | None = None
          ) -> list[DocumentResult]:
    def lookup(form_id: str) -> IssuedFormView | None:
        if issued is None or form_id != FORM_ID:
            return None
        return IssuedFormView(FORM_ID, KIND, SPEC.version, issued)
    return [d.document for d in scan_file(pdf, "form.pdf", ctx, lookup).documents]


def _values(doc: DocumentResult) -> dict[str, str]:
    return {name: r.value for name, r in doc.fields.items()}


def _codes(doc: DocumentResult) -> set[tuple[str, str | None]]:
    return {(f.code, f.field) for f in doc.findings}


@pytest.mark.parametrize("appearances", [True, False], ids=["appearances", "values-only"])
def test_a_form_typed_into_its_fields_reads_exactly_from_them(
        appearances: bool, values: dict[str, str], ctx: IntakeContext) -> None:
    typed = _typed(values)
    pdf = paste_signatures(fill_fields(blank_form(KIND, mailbox=MAILBOX).pdf, typed, KIND,
                                       appearances=appearances), KIND, np.random.default_rng(1))
    [doc] = _read(pdf, ctx)
    assert doc.kind is KIND
    assert _values(doc) == {f.name: typed.get(f.name, "") for f in SPEC.fields}
    assert {r.read_by for r in doc.fields.values()} == {"pdf-field"}
    assert {r.confidence for r in doc.fields.values()} == {1.0}
    assert ("pdf.digital", None) in _codes(doc)
    # The pasted signature image is ink in the signature area, as on paper.
    assert {p: s.state.value for p, s in doc.signatures.items()} == {
        "client": "signed", "new_firm": "signed"}


def test_the_issued_pdf_mailed_back_reads_from_its_text(
        values: dict[str, str], ctx: IntakeContext) -> None:
    [doc] = _read(issued_pdf(values, KIND, FORM_ID), ctx, values)
    assert doc.form_id == FORM_ID
    assert _values(doc) == {f.name: values.get(f.name, "") for f in SPEC.fields}
    assert {n for n, r in doc.fields.items() if r.read_by == "pdf-text"} == {
        f.name for f in SPEC.fields if not f.options}
    # Nothing signed: the empty signature areas say so.
    assert {s.state.value for s in doc.signatures.values()} == {"empty"}


@pytest.mark.parametrize("scale", [0.95, 0.88])
def test_a_form_printed_to_pdf_at_another_scale_still_reads_by_position(
        scale: float, values: dict[str, str], ctx: IntakeContext) -> None:
    signed = fill_and_sign(issued_pdf(values, KIND, FORM_ID), KIND, DATES,
                           np.random.default_rng(2))
    [doc] = _read(printed_to_pdf(signed, scale), ctx, values)
    assert _values(doc) == {f.name: _typed(values).get(f.name, "") for f in SPEC.fields}
    assert not any(f.code == "pdf.field_unclear" for f in doc.findings)


def test_a_flattened_form_reads_from_the_text_its_fields_left(
        values: dict[str, str], ctx: IntakeContext) -> None:
    typed = _typed(values)
    pdf = flattened(fill_fields(blank_form(KIND, mailbox=MAILBOX).pdf, typed, KIND,
                                appearances=True))
    [doc] = _read(pdf, ctx)
    assert _values(doc) == {f.name: typed.get(f.name, "") for f in SPEC.fields}
    assert "pdf-field" not in {r.read_by for r in doc.fields.values()}


def test_a_number_typed_over_the_print_on_a_white_box_is_read_as_shown_and_flagged(
        values: dict[str, str], ctx: IntakeContext) -> None:
    field = SPEC.field("client_subscription")
    new = "10057321" if values[field.name] != "10057321" else "10068906"
    pdf = white_out(issued_pdf(values, KIND, FORM_ID), field, new)
    [doc] = _read(pdf, ctx, values)
    # The text layer holds both numbers; the page shows the new one, read from its pixels.
    assert doc.fields[field.name].value == new
    assert doc.fields[field.name].read_by != "pdf-text"
    assert ("pdf.field_unclear", field.name) in _codes(doc)


def test_a_text_box_over_a_field_is_its_value_when_it_shows_what_it_says(
        values: dict[str, str], ctx: IntakeContext) -> None:
    field = SPEC.field("client_orgnr")
    pdf = free_text_over(issued_pdf(values, KIND, FORM_ID), field, "556969-4408")
    [doc] = _read(pdf, ctx, values)
    reading = doc.fields[field.name]
    assert (reading.value, reading.read_by) == ("556969-4408", "pdf-text-box")
    [warning] = [f for f in doc.findings if f.code == "pdf.text_box"]
    assert warning.field == field.name and warning.severity.value == "warning"
    # The fields nothing lies over still come from the file.
    assert doc.fields["client_subscription"].read_by == "pdf-text"


def test_a_text_box_that_shows_other_than_it_says_blocks_with_what_it_shows(
        values: dict[str, str], ctx: IntakeContext) -> None:
    field = SPEC.field("client_orgnr")
    pdf = free_text_over(issued_pdf(values, KIND, FORM_ID), field, "556969-4408",
                         shown="559017-1335")
    [doc] = _read(pdf, ctx, values)
    assert doc.fields[field.name].value == "559017-1335"
    assert doc.fields[field.name].confidence < 0.6
    [block] = [f for f in doc.findings if f.code == "pdf.text_box"]
    assert block.severity.value == "blocking"


def test_a_stamp_over_a_field_sends_it_to_the_pixels_with_a_warning(
        values: dict[str, str], ctx: IntakeContext) -> None:
    field = SPEC.field("client_name")
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(issued_pdf(values, KIND, FORM_ID))))
    box = field.box
    writer.add_annotation(page_number=0, annotation=Rectangle(
        rect=(Page.x(box.x + 2), Page.y(box.bottom - 1), Page.x(box.x + 40), Page.y(box.y + 1)),
        interior_color="000000"))
    out = io.BytesIO()
    writer.write(out)
    [doc] = _read(out.getvalue(), ctx, values)
    assert ("pdf.field_unclear", field.name) in _codes(doc)
    assert doc.fields[field.name].read_by not in ("pdf-text", "pdf-field")


def _with_text(pdf: bytes, x_mm: float, y_mm: float, text: str, *, mode: int = 0,
               grey: float = 0.0) -> bytes:
    def draw(canvas: Canvas) -> None:
        t = canvas.beginText(Page.x(x_mm), Page.y(y_mm))
        t.setTextRenderMode(mode)
        t.setFont("Helvetica", 12)
        t.setFillGray(grey)
        t.textOut(text)
        canvas.drawText(t)
    return overlay(pdf, draw)


@pytest.mark.parametrize(("mode", "grey"), [(3, 0.0), (0, 1.0)], ids=["invisible", "white"])
def test_text_nobody_can_see_is_never_a_value(mode: int, grey: float,
                                              ctx: IntakeContext) -> None:
    box = SPEC.field("client_name").box
    pdf = _with_text(blank_form(KIND, mailbox=MAILBOX, fillable=False).pdf, box.x + 2,
                     box.y + 6, "Dolda Bolaget AB", mode=mode, grey=grey)
    [doc] = _read(pdf, ctx)
    assert doc.fields["client_name"].value == ""
    # Known for what it is, not merely found to have no ink under it.
    assert doc.fields["client_name"].read_by == "pdf-text"
    assert ("pdf.field_unclear", "client_name") not in _codes(doc)


def test_text_drawn_as_a_picture_in_a_field_is_read_from_the_pixels(
        ctx: IntakeContext) -> None:
    box = SPEC.field("client_name").box
    # The page's text layer knows nothing of this: a picture of words, as a scan pasted in.
    image = np.full((60, 500), 255, np.uint8)
    cv2.putText(image, "Bildbolaget AB", (5, 45), cv2.FONT_HERSHEY_SIMPLEX, 1.4, 0, 3)
    ok, png = cv2.imencode(".png", image)
    assert ok
    def draw(canvas: Canvas) -> None:
        canvas.drawImage(ImageReader(io.BytesIO(png.tobytes())), Page.x(box.x + 2),
                         Page.y(box.bottom - 1), mm_to_pt(60), mm_to_pt(6))
    [doc] = _read(overlay(blank_form(KIND, mailbox=MAILBOX, fillable=False).pdf, draw), ctx)
    assert ("pdf.field_unclear", "client_name") in _codes(doc)
    assert "bolaget" in doc.fields["client_name"].value.casefold()


def test_a_pdf_mixing_a_scan_and_a_typed_page_reads_each_its_own_way(
        values: dict[str, str], ctx: IntakeContext) -> None:
    typed = _typed(values)
    pdf = with_scanned_page(SCANNED_PAGE, fill_fields(blank_form(KIND, mailbox=MAILBOX).pdf,
                                                      typed, KIND, appearances=True))
    scanned, digital = _read(pdf, ctx)
    assert scanned.pages == [0] and digital.pages == [1]
    assert "pdf.digital" not in {f.code for f in scanned.findings}
    assert {r.read_by for r in scanned.fields.values()} <= {"print", "hand", "changed"}
    assert _values(digital) == {f.name: typed.get(f.name, "") for f in SPEC.fields}


def test_the_issued_checks_apply_to_a_typed_form_as_to_a_scan(
        session: Session, values: dict[str, str], ctx: IntakeContext) -> None:
    """Through validation: an untouched issued PDF is clean; an edited number is named."""
    form_id = "M3XR8TQ2VD"
    record_issued_form(session, form_id=form_id, kind=KIND.value, version=SPEC.version,
                       values=values, source="test",
                       signatories={p: values[f[0]] for p, f in signatory_fields(KIND).items()})
    session.commit()
    clean = read_file(session, issued_pdf(values, KIND, form_id), "blankett.pdf", ctx)
    [doc] = clean.documents
    assert not [f for f in doc.findings if f.code == "value.changed"]
    field = SPEC.field("client_subscription")
    new = "10057321" if values[field.name] != "10057321" else "10068906"
    edited = read_file(session, white_out(issued_pdf(values, KIND, form_id), field, new),
                       "blankett.pdf", ctx)
    [doc] = edited.documents
    assert ("value.changed", field.name) in _codes(doc)


def test_an_unscaled_page_is_taken_as_placed_and_a_scaled_one_is_aligned(
        values: dict[str, str]) -> None:
    [page] = extract_pages(issued_pdf(values, KIND, FORM_ID), "a.pdf", limits=PageLimits())
    placed = exactly_placed(page)
    assert placed is not None and placed.image is page.image
    [scaled] = extract_pages(printed_to_pdf(issued_pdf(values, KIND, FORM_ID), 0.95), "b.pdf",
                             limits=PageLimits())
    assert exactly_placed(scaled) is None
