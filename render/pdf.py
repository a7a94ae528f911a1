"""`render_form_pdf`: one form spec plus its values to a one-page A4 PDF.

The page is drawn from forms/spec.py alone: header, instructions, numbered
section bands, every field, the signature blocks, the notes and the footer,
then the fiducials and the QR code on top of white quiet zones. A blank form
gets the same page without values and, if asked, AcroForm fields so a
person can type into it before printing.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Mapping

from reportlab.lib.pagesizes import A4
from reportlab.pdfgen.canvas import Canvas

from forms import Box, FormSpec, QrPayload, display_form_id
from render.acroform import add_fillable_fields
from render.errors import RenderError
from render.fields import draw_field, draw_signature
from render.fonts import load_fonts
from render.marks import draw_fiducial, draw_qr
from render.page import (
    BAND,
    BODY_SIZE,
    CAP_HEIGHT,
    FOOTER_SIZE,
    HINT,
    ID_SIZE,
    INK,
    LABEL,
    LABEL_SIZE,
    PANEL,
    RULE_LINE,
    SECTION_SIZE,
    SUBTITLE_SIZE,
    TITLE_SIZE,
    WHITE,
    Page,
    pt_to_mm,
)

CREATOR = "kopplingar"
ID_LABEL = "Blankett-id"
BLANK_LABEL = "Blank blankett"
NOTES_LABEL = "Bra att veta: "
NOTE_BULLET = "•  "
PANEL_PAD = 2.2  # mm inside the instructions panel

# reportlab's TrueType fonts keep per-document subsetting state and must not
# serve two documents at once; a render takes ~20 ms, so one at a time is cheap.
_render_lock = threading.Lock()


def render_form_pdf(
    spec: FormSpec,
    values: Mapping[str, str],
    *,
    mailbox: str,
    payload: QrPayload,
    blank: bool = False,
    fillable: bool = False,
) -> bytes:
    """The form as PDF bytes; the same arguments always give the same bytes."""
    _check_arguments(spec, values, payload, blank=blank, fillable=fillable)
    fonts = load_fonts()
    subject = BLANK_LABEL if blank else display_form_id(payload.form_id or "")
    buf = io.BytesIO()
    with _render_lock:
        canvas = Canvas(buf, pagesize=A4, invariant=1, pageCompression=1)
        canvas.setTitle(spec.title)
        canvas.setSubject(subject)
        canvas.setCreator(CREATOR)
        canvas.setAuthor(CREATOR)
        page = Page(canvas, fonts)
        _draw_header(page, spec, payload)
        _draw_instructions(page, spec, mailbox)
        for section in spec.sections:
            _draw_band(page, section.number, section.title, section.band)
        for field in spec.fields:
            draw_field(page, field, values.get(field.name))
        for sig in spec.signatures:
            draw_signature(page, sig)
        _draw_notes(page, spec)
        _draw_footer(page, spec, mailbox)
        for fiducial in spec.fiducials:
            draw_fiducial(page, fiducial)
        draw_qr(page, payload, spec.qr_box)
        if fillable:
            add_fillable_fields(canvas, spec)
        canvas.showPage()
        canvas.save()
    return buf.getvalue()


def _check_arguments(spec: FormSpec, values: Mapping[str, str], payload: QrPayload, *,
                     blank: bool, fillable: bool) -> None:
    if payload.kind_code != spec.kind.code or payload.version != spec.version:
        raise RenderError(
            f"payload is for form {payload.kind_code} {payload.version}, "
            f"not {spec.kind.code} {spec.version}"
        )
    if blank != payload.is_blank:
        raise RenderError("a blank form needs a blank payload, a pre-filled one a signed payload")
    if blank and any(values.values()):
        raise RenderError("a blank form takes no values")
    if fillable and not blank:
        raise RenderError("only a blank form can be fillable: pre-filled values are signed")
    unknown = sorted(set(values) - set(spec.field_names))
    if unknown:
        raise RenderError(f"no such field on the {spec.kind.value} form: {', '.join(unknown)}")


def _draw_header(page: Page, spec: FormSpec, payload: QrPayload) -> None:
    fonts = page.fonts
    box = spec.title_box
    title_size = page.fit_size(spec.title, fonts.bold, TITLE_SIZE, box.w)
    baseline = box.y + pt_to_mm(title_size) * CAP_HEIGHT
    page.text(box.x, baseline, spec.title, fonts.bold, title_size)
    sub_top = baseline + 2.4
    page.paragraph(Box(box.x, sub_top, box.w, box.bottom - sub_top), spec.subtitle, fonts.sans,
                   SUBTITLE_SIZE, color=HINT)

    idb = spec.id_box
    if payload.form_id is None:
        page.text_in(idb, f"{BLANK_LABEL} · version {spec.version}", fonts.sans, LABEL_SIZE,
                     color=LABEL, align="centre")
        return
    shown = display_form_id(payload.form_id)
    label = f"{ID_LABEL} "
    label_w = page.width(label, fonts.sans, LABEL_SIZE)
    id_w = page.width(shown, fonts.mono, ID_SIZE)
    x = idb.center[0] - (label_w + id_w) / 2
    baseline = page.centred_baseline(idb, ID_SIZE)
    page.text(x, baseline, label, fonts.sans, LABEL_SIZE, color=LABEL)
    page.text(x + label_w, baseline, shown, fonts.mono, ID_SIZE)


def _draw_instructions(page: Page, spec: FormSpec, mailbox: str) -> None:
    box = spec.instructions_box
    page.rect(box, stroke=None, fill=PANEL)
    page.line(box.x, box.y, box.x, box.bottom, width=2.0, color=INK)
    fonts = page.fonts
    inner = box.inset(PANEL_PAD)
    texts = [t.format(mailbox=mailbox) for t in spec.instructions]
    number_w = page.width("0.", fonts.bold, BODY_SIZE) + 1.2
    # Each instruction gets an equal share of the panel, so the numbers line up in a column.
    share = inner.h / len(texts)
    for i, text in enumerate(texts):
        row = Box(inner.x + number_w, inner.y + i * share, inner.w - number_w, share)
        size = page.fit_size(text, fonts.sans, BODY_SIZE, row.w)
        baseline = page.centred_baseline(row, size)
        page.text(inner.x, baseline, f"{i + 1}.", fonts.bold, size)
        page.text(row.x, baseline, text, fonts.sans, size)


def _draw_band(page: Page, number: int, title: str, band: Box) -> None:
    fonts = page.fonts
    page.rect(band, stroke=None, fill=BAND)
    square = Box(band.x, band.y, band.h, band.h)
    page.rect(square, stroke=None, fill=INK)
    page.text_in(square, str(number), fonts.bold, SECTION_SIZE, color=WHITE, align="centre")
    gap = band.h * 0.45
    page.text_in(Box(square.right + gap, band.y, band.right - square.right - 2 * gap, band.h),
                 title, fonts.bold, SECTION_SIZE)


def _draw_notes(page: Page, spec: FormSpec) -> None:
    if not spec.notes or spec.notes_box is None:
        return
    fonts = page.fonts
    box = spec.notes_box
    label_w = page.width(NOTES_LABEL, fonts.bold, BODY_SIZE)
    page.text(box.x, box.y + pt_to_mm(BODY_SIZE) * CAP_HEIGHT, NOTES_LABEL, fonts.bold,
              BODY_SIZE)
    page.paragraphs(Box(box.x + label_w, box.y, box.w - label_w, box.h), list(spec.notes),
                    fonts.sans, BODY_SIZE, bullet=NOTE_BULLET if len(spec.notes) > 1 else "")


def _draw_footer(page: Page, spec: FormSpec, mailbox: str) -> None:
    fonts = page.fonts
    box = spec.footer_box
    page.line(box.x, box.y, box.right, box.y, width=RULE_LINE, color=LABEL)
    row = Box(box.x, box.y, box.w, box.h)
    left = f"Blankettversion {spec.version} · {spec.title} · Sida 1 av 1"
    right = f"Skickas till {mailbox}"
    page.text_in(row, left, fonts.sans, FOOTER_SIZE, color=LABEL)
    page.text_in(row, right, fonts.sans, FOOTER_SIZE, color=LABEL, align="right")
