"""What a born-digital PDF page says beside its pixels: form fields, text, annotations.

A customer who types into our fillable form, or mails the PDF we issued
without printing it, sends values that sit in the file exactly. `pages`
renders each page (with its form fields drawn, so the image shows what the
customer saw); this module reads, from the same open page, what a renderer
throws away:

* every AcroForm widget: its field name, value, type, whether it is checked
  and its export value (a radio button's option);
* every character of the text layer with its box and whether a person can
  see it: a character drawn invisibly (text render mode 3, as a scanner's
  OCR layer is), or in white, is kept but marked hidden;
* every other annotation (free text, stamps, ink, shapes) with its box and
  its text (/Contents): such a thing drawn over a field may hide or change
  what the field's own value says, and the reader must then look at the
  pixels (`digital`).

Boxes are in pixels of the rendered page image (x right, y down), mapped
with pdfium's own page-to-device transform, so the page's /Rotate and size
are accounted for exactly as in the render and the alignment's homography
carries them onto the canonical page.

Only pypdfium2's raw functions are used here (the helper classes have no
form-field access); `pages` remains the module that opens and renders PDFs.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from intake.scan.model import PdfChar, PdfLayer, PdfOverlay, PdfWidget

# Annotations that are part of a page's furniture, never over a value a person sees.
_FURNITURE = {pdfium_c.FPDF_ANNOT_LINK, pdfium_c.FPDF_ANNOT_POPUP, pdfium_c.FPDF_ANNOT_WIDGET}
_SUBTYPES = {
    getattr(pdfium_c, name): name.removeprefix("FPDF_ANNOT_").lower()
    for name in dir(pdfium_c) if name.startswith("FPDF_ANNOT_") and
    isinstance(getattr(pdfium_c, name), int) and not name.startswith("FPDF_ANNOT_APPEARANCEMODE")
    and not name.startswith("FPDF_ANNOT_FLAG") and not name.startswith("FPDF_ANNOT_AACTION")
}
_FIELD_TYPES = {
    pdfium_c.FPDF_FORMFIELD_TEXTFIELD: "text",
    pdfium_c.FPDF_FORMFIELD_CHECKBOX: "check",
    pdfium_c.FPDF_FORMFIELD_RADIOBUTTON: "radio",
    pdfium_c.FPDF_FORMFIELD_COMBOBOX: "choice",
    pdfium_c.FPDF_FORMFIELD_LISTBOX: "choice",
    pdfium_c.FPDF_FORMFIELD_SIGNATURE: "signature",
}
INVISIBLE_MODES = {3, 7}  # neither fill nor stroke (7: clip only)
WHITE = 235  # a fill this light on white paper is not text a person reads
MAX_STRING = 1 << 16  # bytes of one widget string we accept; a longer value is cut


def _wide(fn: Callable[..., int], *args: object) -> str:
    """A UTF-16 string out of one of pdfium's two-call getters (size, then fill)."""
    size = fn(*args, None, 0)
    if size <= 2:
        return ""
    size = min(size, MAX_STRING)
    buf = ctypes.create_string_buffer(size)
    fn(*args, ctypes.cast(buf, ctypes.POINTER(pdfium_c.FPDF_WCHAR)), size)
    return buf.raw[:size].decode("utf-16-le", errors="replace").split("\x00", 1)[0]


class _Device:
    """Page space (points, y up) to the rendered image's pixels, as pdfium renders it.

    pdfium's transform is affine; it gives whole pixels, so it is sampled at
    three far-apart points once and applied in floating point from then on.
    """

    def __init__(self, page: pdfium.PdfPage, width: int, height: int) -> None:
        w, h = page.get_size()
        x, y = ctypes.c_int(), ctypes.c_int()
        src, dst = [], []
        for px, py in ((0.0, 0.0), (w, 0.0), (0.0, h)):
            pdfium_c.FPDF_PageToDevice(page, 0, 0, width, height, 0, px, py, x, y)
            src.append((px, py))
            dst.append((float(x.value), float(y.value)))
        (x0, y0), (x1, y1), (x2, y2) = dst
        # Columns: how device x and y move per point of page x, per point of page y.
        self.m = ((x1 - x0) / max(w, 1e-9), (x2 - x0) / max(h, 1e-9), x0,
                  (y1 - y0) / max(w, 1e-9), (y2 - y0) / max(h, 1e-9), y0)

    def box(self, left: float, bottom: float, right: float,
            top: float) -> tuple[float, float, float, float]:
        a, b, c, d, e, f = self.m
        xs = (a * left + b * bottom + c, a * right + b * top + c)
        ys = (d * left + e * bottom + f, d * right + e * top + f)
        return min(xs), min(ys), max(xs), max(ys)


def _widgets(doc: pdfium.PdfDocument, page: pdfium.PdfPage, device: _Device
             ) -> tuple[list[PdfWidget], list[PdfOverlay]]:
    form = doc.formenv
    widgets, overlays = [], []
    rect = pdfium_c.FS_RECTF()
    for i in range(pdfium_c.FPDFPage_GetAnnotCount(page)):
        annot = pdfium_c.FPDFPage_GetAnnot(page, i)
        if not annot:
            continue
        try:
            subtype = pdfium_c.FPDFAnnot_GetSubtype(annot)
            if not pdfium_c.FPDFAnnot_GetRect(annot, rect):
                continue
            box = device.box(rect.left, rect.bottom, rect.right, rect.top)
            if subtype != pdfium_c.FPDF_ANNOT_WIDGET:
                if subtype not in _FURNITURE:
                    overlays.append(PdfOverlay(
                        _SUBTYPES.get(subtype, "unknown"), box,
                        _wide(pdfium_c.FPDFAnnot_GetStringValue, annot, b"Contents")))
                continue
            if form is None:
                continue
            ftype = _FIELD_TYPES.get(pdfium_c.FPDFAnnot_GetFormFieldType(form, annot), "other")
            checkable = ftype in ("check", "radio")
            widgets.append(PdfWidget(
                name=_wide(pdfium_c.FPDFAnnot_GetFormFieldName, form, annot),
                kind=ftype,
                value=_wide(pdfium_c.FPDFAnnot_GetFormFieldValue, form, annot),
                checked=bool(checkable and pdfium_c.FPDFAnnot_IsChecked(form, annot)),
                export=(_wide(pdfium_c.FPDFAnnot_GetFormFieldExportValue, form, annot)
                        if checkable else ""),
                box=box,
            ))
        finally:
            pdfium_c.FPDFPage_CloseAnnot(annot)
    return widgets, overlays


def _visible(obj: object) -> bool:
    """Whether a text object's glyphs are drawn so a person sees them."""
    mode = pdfium_c.FPDFTextObj_GetTextRenderMode(obj)
    if mode in INVISIBLE_MODES:
        return False
    r, g, b, a = (ctypes.c_uint() for _ in range(4))
    if mode in (0, 4) and pdfium_c.FPDFPageObj_GetFillColor(obj, r, g, b, a):
        # Filled only: a white (or transparent) fill is not seen on white paper.
        return not (min(r.value, g.value, b.value) >= WHITE or a.value < 64)
    return True


def _chars(page: pdfium.PdfPage, device: _Device) -> list[PdfChar]:
    text = page.get_textpage()
    try:
        out = []
        left, right, bottom, top = (ctypes.c_double() for _ in range(4))
        seen: dict[int, bool] = {}  # text object -> visible; a run of characters shares one
        for i in range(text.count_chars()):
            code = pdfium_c.FPDFText_GetUnicode(text, i)
            if code in (0, 0xFFFE, 0xFFFF) or code in (10, 13) or not pdfium_c.FPDFText_GetCharBox(
                    text, i, left, right, bottom, top):
                continue
            obj = pdfium_c.FPDFText_GetTextObject(text, i)
            key = ctypes.cast(obj, ctypes.c_void_p).value or 0
            if key not in seen:
                seen[key] = _visible(obj) if key else True
            out.append(PdfChar(chr(code), device.box(left.value, bottom.value, right.value,
                                                     top.value), seen[key]))
        return out
    finally:
        text.close()


def read_layer(doc: pdfium.PdfDocument, page: pdfium.PdfPage, width: int, height: int
               ) -> PdfLayer:
    """The page's widgets, text and other annotations, in pixels of a `width`×`height`
    render of it. `doc` must have had `init_forms()` before the page was loaded."""
    device = _Device(page, width, height)
    widgets, overlays = _widgets(doc, page, device)
    return PdfLayer(tuple(widgets), tuple(_chars(page, device)), tuple(overlays))
