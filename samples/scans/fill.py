"""A printed form, filled in by hand: names, ticks, dates, corrections, signatures.

`filled_page` renders the form as issued (render.render_form_pdf, signed
with samples.SAMPLE_QR_KEY) at 300 dpi and writes on it what the plan says,
each party with a pen of their own, inside the boxes from forms/spec.py.
Digits in number and date combs are real handwritten digits, laid out as
the plan says (handdigits.py); letters are Hershey (handwriting.py). A
printed number is changed by correction fluid over a digit and a digit
written on it, or struck through and rewritten small above. People are
not precise: letters wander off the baseline, an X overshoots its box, a
signature now and then runs over the edge of its area. A stained QR is
checked with zxing-cpp until it really is unreadable.
"""

from __future__ import annotations

import cv2
import numpy as np
import zxingcpp

from forms import (
    Box,
    FieldSpec,
    FieldType,
    FormSpec,
    QrPayload,
    blank_payload,
    form_spec,
    sign_payload,
)
from render import rasterise_pdf, render_form_pdf
from samples import SAMPLE_QR_KEY
from samples.scans.degrade import RENDER_DPI, stain
from samples.scans.handdigits import room_right, small_digits, white_out, write_number
from samples.scans.handwriting import (
    InkLayer,
    Pen,
    composite,
    cross,
    scribble,
    signature,
    strike_through,
)
from samples.scans.plan import DocumentPlan
from samples.scans.values import Correction

Rgb = np.ndarray
MAILBOX = "kopplingar@example.se"
QR_ONLY = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)
INK_LEVEL = 128  # darker than this in the rendered page is printed ink
RIGHT_MARGIN_MM = 195.0  # a number written beside a comb stops short of the paper's edge


def _tuple(box: Box) -> tuple[float, float, float, float]:
    return (box.x, box.y, box.w, box.h)


def payload_of(doc: DocumentPlan) -> QrPayload:
    spec = form_spec(doc.kind)
    if doc.form_id is None:
        return blank_payload(doc.kind.code, spec.version)
    return sign_payload(SAMPLE_QR_KEY, doc.kind.code, spec.version, doc.form_id)


def printed_page(doc: DocumentPlan) -> np.ndarray:
    """The form as the customer printed it: grey, at RENDER_DPI."""
    spec = form_spec(doc.kind)
    pdf = render_form_pdf(spec, doc.printed, mailbox=MAILBOX, payload=payload_of(doc),
                          blank=not doc.prefilled)
    return rasterise_pdf(pdf, RENDER_DPI)[0]


def _comb_chars(field: FieldSpec, value: str) -> str:
    return "".join(ch for ch in value if ch not in field.separator and not ch.isspace())


def write_value(layer: InkLayer, field: FieldSpec, value: str, rng: np.random.Generator,
                layout: str = "cells", room_right_mm: float = 0.0) -> None:
    """A value written by hand into an empty field; combs as `layout` (handdigits.LAYOUTS)."""
    if field.type is FieldType.CHOICE:
        option = next(o for o in field.options if o.value == value)
        cross(layer, _tuple(option.box), rng)
        return
    if field.is_comb:
        write_number(layer, field, value, layout, rng, room_right_mm)
        return
    box = field.box
    height = float(rng.uniform(3.6, 4.4))
    room = box.w - 4.0
    width = layer.text_width(value, height)
    if width > room:
        height *= room / width  # people write smaller when the box is short
    layer.text(value, box.x + float(rng.uniform(1.2, 2.5)),
               box.bottom - float(rng.uniform(1.6, 2.3)), height, rng)


def _printed_extent(page: np.ndarray, box: Box) -> tuple[float, float]:
    """Left and right (mm) of the printed ink inside a text field's box."""
    k = RENDER_DPI / 25.4
    left, top, right, bottom = box.inset(0.7).to_pixels(RENDER_DPI)
    cols = np.nonzero((page[top:bottom, left:right] < INK_LEVEL).any(axis=0))[0]
    if len(cols) == 0:
        return box.x + 2, box.x + 2
    return (left + cols[0]) / k, (left + cols[-1] + 1) / k


def correct(layer: InkLayer, field: FieldSpec, c: Correction, page: np.ndarray,
            rng: np.random.Generator, paper: np.ndarray | None = None) -> None:
    """Take a printed value back and write another one by hand, inside the field's box.

    A white-out goes on `paper` (the RGB page under the ink), or nowhere without it.
    """
    box = field.box
    if c.style == "whiteout":
        if paper is not None:
            white_out(paper, page, layer, field, c.positions, c.hand_value, rng)
        return
    if field.type is FieldType.CHOICE:
        old = next(o for o in field.options if o.value == c.printed)
        scribble(layer, _tuple(old.box), rng)
        write_value(layer, field, c.hand_value, rng)
        return
    mid = box.y + box.h / 2 + float(rng.normal(0, 0.3))
    if field.is_comb:
        n = len(_comb_chars(field, c.printed))
        strike_through(layer, field.cells[0].x + 0.8, field.cells[n - 1].right - 0.8, mid, rng)
        # The new digits go above the struck ones, small, in the top of each cell.
        small_digits(layer, field, c.hand_value, rng)
        return
    left, right = _printed_extent(page, box)
    strike_through(layer, left, right, mid, rng)
    height = float(rng.uniform(3.2, 3.8))
    width = layer.text_width(c.hand_value, height)
    if right + 3 + width < box.right - 1:  # beside it
        layer.text(c.hand_value, right + 3, box.bottom - 2.0, height, rng)
    else:  # above it, squeezed into the top of the box
        height = min(2.6, 2.6 * (box.w - 4) / layer.text_width(c.hand_value, 2.6))
        layer.text(c.hand_value, box.x + 1.5, box.y + height + 0.3, height, rng)


def sign(layer: InkLayer, area: Box, rng: np.random.Generator) -> None:
    """A signature in `area`; about one in three runs over an edge a little."""
    w = area.w * float(rng.uniform(0.45, 0.8))
    h = area.h * float(rng.uniform(0.55, 0.85))
    x = area.x + float(rng.uniform(2, max(2.5, area.w - w - 4)))
    base = area.bottom - float(rng.uniform(2.5, area.h * 0.3))
    spill = rng.random()
    if spill < 0.12:
        h = area.h * float(rng.uniform(0.9, 1.1))  # the capital rises over the top edge
        base = area.bottom - float(rng.uniform(1.5, 3.0))
    elif spill < 0.24:
        x = area.right - w + float(rng.uniform(2.0, 5.0))  # the tail runs past the right
    elif spill < 0.36:
        base = area.bottom - float(rng.uniform(0.0, 1.0))  # written on the line
    signature(layer, (x, base), w, h, rng)


def _stain_qr(page: np.ndarray, spec: FormSpec, rng: np.random.Generator) -> None:
    """A stain over the QR code, grown until zxing-cpp cannot read the code any more."""
    box = spec.qr_box.inset(2.0).to_pixels(RENDER_DPI)
    grow = 1.0
    original = page.copy()
    for _ in range(8):
        stain(page, box, rng, grow)
        gray = cv2.cvtColor(page, cv2.COLOR_RGB2GRAY)
        if not zxingcpp.read_barcodes(gray, formats=QR_ONLY):
            return
        page[:] = original
        grow *= 1.25
    raise RuntimeError("could not make a stain that hides the QR code")


def _others(spec: FormSpec) -> list[Box]:
    """Everything printed on the page that a number written beside a comb must not run into."""
    boxes = [f.box for f in spec.fields] + [f.hint_box for f in spec.fields if f.hint_box]
    boxes += [o.box for f in spec.fields for o in f.options]
    return boxes + [s.role_box for s in spec.signatures] + [s.area for s in spec.signatures]


def filled_page(doc: DocumentPlan, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(the printed page, grey; the filled page, RGB), both at RENDER_DPI."""
    spec = form_spec(doc.kind)
    page = printed_page(doc)
    pens = {sig.party: Pen.random(rng) for sig in spec.signatures}
    layers = {party: InkLayer(page.shape, RENDER_DPI, pen) for party, pen in pens.items()}
    # The client fills the form in; each signer adds their own name, role and date.
    owner = {f: sig.party for sig in spec.signatures
             for f in (sig.name_field, sig.date_field, sig.role_field) if f}
    filler = layers[spec.signatures[0].party]
    others = _others(spec)

    def write(layer: InkLayer, name: str, value: str) -> None:
        field = spec.field(name)
        room = room_right(field.box, others, RIGHT_MARGIN_MM) if field.is_comb else 0.0
        write_value(layer, field, value, rng, doc.hand_layout.get(name, "cells"), room)

    paper = np.dstack([page] * 3)
    for name, value in doc.hand.items():
        write(layers.get(owner.get(name, ""), filler), name, value)
    for c in doc.corrections:
        correct(layers.get(owner.get(c.field, ""), filler), spec.field(c.field), c, page, rng,
                paper)
    for sig in spec.signatures:
        if doc.signed[sig.party]:
            sign(layers[sig.party], sig.area, rng)
        date = doc.dates.get(sig.party)
        if date:
            write(layers[sig.party], sig.date_field, date)
    out = composite(paper, list(layers.values()), rng)
    if doc.stain_qr:
        _stain_qr(out, spec, rng)
    return page, out
