"""Reading a born-digital page from what its PDF holds, not from its pixels.

A form typed into our fillable PDF, or the pre-filled PDF we issued mailed
back as it is (or printed to PDF, or flattened), holds its values exactly:
in its AcroForm fields, or as text at the field's place. OCR of such a page
can only add errors. This module turns a page's `PdfLayer` (`pdflayer`)
into field readings, field by field:

* **form fields**: the widgets named as our spec's fields (a comb group is
  `<field>_1`, `<field>_2`, ... as `render.acroform` names them), their
  groups joined with the comb's separator; a choice is the export value of
  its ticked button;
* **text layer**: the visible characters whose centre lies in the field's
  box (a comb: in each cell), mapped onto the canonical page through the
  alignment's homography, so a page printed to PDF at another scale still
  reads. The blank form's own print is not a value.

Both are exact (confidence 1.0, `read_by` "pdf-field" or "pdf-text"); what
they say is then checked like any reading (validators, registry, issued form).

What a person sees must be what is read. A field goes back to the pixels
(`read.read_fields`, as a scan is read) and a warning says why, when:

* an annotation that is not a form field (a stamp, ink, a shape) lies over
  it: it may hide or change the value the file holds. A viewer's text box
  over a field is read for its text, when the line its appearance shows
  (read from the pixels) says the same; a warning says the print under it
  is hidden, and a box whose text and appearance differ blocks;
* characters of the text layer lie on top of each other (a number typed
  over the print, on a white box or not), or a visible one has no ink
  under it on the rendered page (text covered by a white box, or clipped);
* there is ink in the field that no character of the text layer explains
  (a picture of a number, text drawn as vector outlines);
* a form field and the page's own text both give the field a value.

Characters drawn invisibly (a scanner's OCR layer) or white on white are
never read: a value nobody can see on the page is not what the customer
sent.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from forms import MM_PER_INCH, Box, FieldSpec, FieldType, FormSpec, InvalidValue
from forms import clean_field as canonical
from intake.scan.ink import INK_LEVEL
from intake.scan.model import (
    AlignedPage,
    FieldReading,
    Finding,
    Gray,
    PdfChar,
    PdfLayer,
    PdfOverlay,
    PixelBox,
    Severity,
)
from intake.scan.naming import field_label
from intake.scan.read import choice_reading, read_line
from render.acroform import comb_field_names

HOW_FIELD = "pdf-field"  # from an AcroForm field
HOW_TEXT = "pdf-text"  # from the page's text layer
HOW_BOX = "pdf-text-box"  # from a viewer's text box over the field, as its pixels show
UNSURE_BOX = 0.3  # a text box whose text is not what it shows: the pixels' reading, doubted
HOW_MARK = "pdf-mark"  # a choice ticked by a cross drawn on the page, read by its ink
CROP_MARGIN_MM = 1.5  # as read.CROP_MARGIN: the reviewer's crop around the box
TEMPLATE_INK = 0.1  # a character whose box is this inked on the blank form is its print
HIDDEN_INK_PX = 2  # fewer dark pixels than this under a visible character: it is covered
EXPLAINED_MM = 0.4  # ink this close to a character's box is that character's
STRAY_INK_PX = 30  # more unexplained ink than this in a field (0.5 mm² at 200 dpi): look
STACKED = 0.3  # two characters overlapping by this share of the smaller are one over the other
BOX_SLACK_MM = 0.3  # a character's centre may sit this far outside a box and still count


@dataclass(frozen=True)
class DigitalReading:
    """What the PDF layer gave a page's fields, and which fields need their pixels read."""

    fields: dict[str, FieldReading]
    to_read: frozenset[str]  # fields `read.read_fields` must read from the page image
    findings: tuple[Finding, ...]


def has_form_layer(layer: PdfLayer | None, spec: FormSpec) -> bool:
    """Whether a page's layer holds our form's fields or any visible text: worth reading."""
    if layer is None:
        return False
    names = {f.name for f in spec.fields}
    names |= {n for f in spec.fields if f.is_comb for n in comb_field_names(f)}
    return any(w.name in names for w in layer.widgets) or any(c.visible for c in layer.chars)


def _to_canonical(boxes: list[PixelBox], homography: np.ndarray, k: float) -> np.ndarray:
    """Pixel boxes of the page image as rows (left, top, right, bottom) in canonical mm."""
    if not boxes:
        return np.zeros((0, 4))
    b = np.asarray(boxes, np.float64)
    corners = np.stack([b[:, [0, 1]], b[:, [2, 1]], b[:, [2, 3]], b[:, [0, 3]]], axis=1)
    mapped = cv2.perspectiveTransform(corners.reshape(-1, 1, 2), homography)
    q = mapped.reshape(-1, 4, 2) / k
    return np.concatenate([q.min(axis=1), q.max(axis=1)], axis=1)[:, [0, 1, 2, 3]]


def _in_any(mm: np.ndarray, boxes: list[Box]) -> np.ndarray:
    """Which rows of `mm` have their centre in one of `boxes` (with the slack)."""
    if mm.shape[0] == 0:
        return np.zeros(0, bool)
    cx, cy = (mm[:, 0] + mm[:, 2]) / 2, (mm[:, 1] + mm[:, 3]) / 2
    out = np.zeros(mm.shape[0], bool)
    for b in boxes:
        out |= ((cx >= b.x - BOX_SLACK_MM) & (cx <= b.right + BOX_SLACK_MM)
                & (cy >= b.y - BOX_SLACK_MM) & (cy <= b.bottom + BOX_SLACK_MM))
    return out


def _inside(box: Box, mm: tuple[float, float, float, float]) -> bool:
    cx, cy = (mm[0] + mm[2]) / 2, (mm[1] + mm[3]) / 2
    return (box.x - BOX_SLACK_MM <= cx <= box.right + BOX_SLACK_MM
            and box.y - BOX_SLACK_MM <= cy <= box.bottom + BOX_SLACK_MM)


def _overlaps(box: Box, mm: tuple[float, float, float, float]) -> bool:
    return mm[0] < box.right and mm[2] > box.x and mm[1] < box.bottom and mm[3] > box.y


def _px(mm: tuple[float, float, float, float], k: float, shape: tuple[int, ...]
        ) -> tuple[int, int, int, int]:
    h, w = shape[:2]
    return (max(int(mm[0] * k), 0), max(int(mm[1] * k), 0),
            min(int(np.ceil(mm[2] * k)), w), min(int(np.ceil(mm[3] * k)), h))


def _row(r: np.ndarray) -> tuple[float, float, float, float]:
    return float(r[0]), float(r[1]), float(r[2]), float(r[3])


@dataclass(frozen=True)
class _Placed:
    char: PdfChar
    mm: tuple[float, float, float, float]


def _text_of(chars: list[_Placed]) -> str:
    """One line's characters, left to right, spaces as the file has them (runs made one)."""
    ordered = sorted(chars, key=lambda p: (p.mm[0] + p.mm[2]) / 2)
    return " ".join("".join(p.char.text for p in ordered).split())


def _cleaned(field: FieldSpec, raw: str) -> str:
    if not raw:
        return ""
    try:
        return canonical(field, raw)
    except InvalidValue:
        return raw.strip()  # what the file says stands; validation says what is wrong with it


# The blank form's print, grown by two pixels, and its ink's integral image: per blank page
# (they are cached, shared and read-only), not per page read.
_TEMPLATES: dict[int, tuple[Gray, np.ndarray, np.ndarray]] = {}


def _template_of(blank: Gray) -> tuple[np.ndarray, np.ndarray]:
    cached = _TEMPLATES.get(id(blank))
    if cached is None or cached[0] is not blank:
        inked = (blank < INK_LEVEL).astype(np.uint8)
        grown = cv2.dilate(inked, np.ones((5, 5), np.uint8)) > 0
        cached = (blank, grown, cv2.integral(inked))
        if len(_TEMPLATES) > 8:
            _TEMPLATES.clear()
        _TEMPLATES[id(blank)] = cached
    return cached[1], cached[2]


class _Page:
    """One aligned born-digital page: its layer on the canonical page, and its pixels."""

    def __init__(self, aligned: AlignedPage, spec: FormSpec, layer: PdfLayer,
                 blank: Gray) -> None:
        assert aligned.homography is not None
        self.image, self.dpi = aligned.image, aligned.dpi
        self.k = aligned.dpi / MM_PER_INCH
        self.blank = blank
        h = aligned.homography
        self.widgets: dict[str, list[int]] = {}
        for i, w in enumerate(layer.widgets):
            self.widgets.setdefault(w.name, []).append(i)
        self.layer = layer
        mm = _to_canonical([c.box for c in layer.chars], h, self.k)
        # Most of a page's text is the form's own print, outside every field: only what
        # lies in some field is looked at further.
        placed = [_Placed(layer.chars[i], _row(mm[i]))
                  for i in np.flatnonzero(_in_any(mm, [f.box for f in spec.fields]))]
        self.template, self.template_sum = _template_of(blank)
        # Invisible text is never a value; where it lies over ink, `stray_ink` sees the ink.
        self.chars = [p for p in placed
                      if p.char.visible and p.char.text.strip() and not self._template(p.mm)]
        self.centres = np.array([((p.mm[0] + p.mm[2]) / 2, (p.mm[1] + p.mm[3]) / 2)
                                 for p in self.chars]).reshape(-1, 2)
        # Word spaces have a width but no height and no ink: kept apart, for the words only.
        self.spaces = [p for p in placed if p.char.text == " "]
        over = _to_canonical([o.box for o in layer.overlays], h, self.k)
        self.overlays = [(o, _row(over[i])) for i, o in enumerate(layer.overlays)]

    def _template(self, mm: tuple[float, float, float, float]) -> bool:
        """Whether the blank form has print where this character is (a label, a hint)."""
        left, top, right, bottom = _px(mm, self.k, self.blank.shape)
        if right <= left or bottom <= top:
            return False
        s = self.template_sum
        inked = int(s[bottom, right] - s[top, right] - s[bottom, left] + s[top, left])
        return inked >= TEMPLATE_INK * (right - left) * (bottom - top)

    def chars_in(self, box: Box) -> list[_Placed]:
        c = self.centres
        inside = ((c[:, 0] >= box.x - BOX_SLACK_MM) & (c[:, 0] <= box.right + BOX_SLACK_MM)
                  & (c[:, 1] >= box.y - BOX_SLACK_MM) & (c[:, 1] <= box.bottom + BOX_SLACK_MM))
        return [self.chars[i] for i in np.flatnonzero(inside)]

    def ink(self, top: int, bottom: int, left: int, right: int) -> np.ndarray:
        return self.image[top:bottom, left:right] < INK_LEVEL

    def stacked(self, chars: list[_Placed]) -> bool:
        """Two characters drawn on top of each other: new text typed over the old."""
        for i, a in enumerate(chars):
            for b in chars[i + 1:]:
                w = min(a.mm[2], b.mm[2]) - max(a.mm[0], b.mm[0])
                h = min(a.mm[3], b.mm[3]) - max(a.mm[1], b.mm[1])
                smaller = min((a.mm[2] - a.mm[0]) * (a.mm[3] - a.mm[1]),
                              (b.mm[2] - b.mm[0]) * (b.mm[3] - b.mm[1]))
                if w > 0 and h > 0 and w * h > STACKED * max(smaller, 1e-6):
                    return True
        return False

    def covered(self, chars: list[_Placed]) -> bool:
        """Some visible character has no ink under it on the rendered page."""
        for p in chars:
            left, top, right, bottom = _px(p.mm, self.k, self.image.shape)
            if int(self.ink(top, bottom, left, right).sum()) < HIDDEN_INK_PX:
                return True
        return False

    def stray_ink(self, box: Box, chars: list[_Placed]) -> bool:
        """Ink in `box` that neither the form's print nor a character explains."""
        left, top, right, bottom = _px((box.x, box.y, box.right, box.bottom), self.k,
                                       self.image.shape)
        stray = self.ink(top, bottom, left, right) & ~self.template[top:bottom, left:right]
        grow = EXPLAINED_MM
        for p in chars:
            cl, ct, cr, cb = _px((p.mm[0] - grow, p.mm[1] - grow, p.mm[2] + grow, p.mm[3] + grow),
                                 self.k, self.image.shape)
            stray[max(ct - top, 0):max(cb - top, 0), max(cl - left, 0):max(cr - left, 0)] = False
        return int(stray.sum()) > STRAY_INK_PX

    def ticked(self, field: FieldSpec) -> set[str] | None:
        """The options a choice's buttons have ticked; None when it has no form field."""
        ids = self.widgets.get(field.name, [])
        if not ids:
            return None
        return {self.layer.widgets[i].export for i in ids if self.layer.widgets[i].checked}

    def widget_value(self, field: FieldSpec) -> str | None:
        """The field's value from its AcroForm widgets; None when it has none. A choice
        with more than one option ticked is the caller's to refuse (`ticked`)."""
        if field.type is FieldType.CHOICE:
            ticked = self.ticked(field)
            return None if ticked is None else min(ticked, default="")
        names = comb_field_names(field) if field.is_comb else [field.name]
        if not any(n in self.widgets for n in names):
            return None
        parts = ["".join(self.layer.widgets[i].value for i in self.widgets.get(n, [])[:1]).strip()
                 for n in names]
        if not any(parts):
            return ""
        return (field.separator or "-").join(parts) if field.is_comb else parts[0]

    def text_value(self, field: FieldSpec, chars: list[_Placed]) -> str:
        if not field.is_comb:
            return _text_of(chars + [p for p in self.spaces if _inside(field.box, p.mm)])
        cells = ["".join(p.char.text for p in self.chars_in(cell)) for cell in field.cells]
        if not any(cells):
            return ""
        groups, start = [], 0
        for n in field.groups or (len(field.cells),):
            groups.append("".join(cells[start:start + n]))
            start += n
        return (field.separator or "-").join(groups)

    def crop(self, box: Box) -> Gray:
        m = CROP_MARGIN_MM
        left, top, right, bottom = _px((box.x - m, box.y - m, box.right + m, box.bottom + m),
                                       self.k, self.image.shape)
        return np.ascontiguousarray(self.image[top:bottom, left:right])


def _comparable(field: FieldSpec, text: str) -> str:
    if field.type in (FieldType.ORGNR, FieldType.SUBSCRIPTION, FieldType.DATE):
        return "".join(ch for ch in text if ch.isdigit())
    return "".join(text.casefold().split())


def _text_box(page: _Page, field: FieldSpec, overlay: PdfOverlay,
              mm: tuple[float, float, float, float], findings: list[Finding],
              spec: FormSpec) -> FieldReading:
    """A field covered by a viewer's text box: the box's text, if that is what it shows.

    The text box's /Contents is what the viewer typed; its appearance is what
    the page shows, and a forged file could make them differ. So the line
    shown is read from the pixels and must agree (digits for a number); the
    reviewer is told either way, since the issued print under it is hidden.
    """
    label = field_label(spec.kind, field.name)
    shown = read_line(page.image, Box(mm[0], mm[1], mm[2] - mm[0], mm[3] - mm[1]), page.dpi)
    said = overlay.text.strip()
    agree = _comparable(field, shown) == _comparable(field, said)
    if agree:
        findings.append(Finding(
            "pdf.text_box", Severity.WARNING,
            f"”{label}”: i PDF-filen har någon skrivit ”{said}” i en textruta ovanpå fältet; "
            "det som stod under syns inte. Kontrollera mot PDF-filen.", field.name))
        return FieldReading(name=field.name, value=_cleaned(field, said), raw=said,
                            confidence=1.0, crop=page.crop(field.box), read_by=HOW_BOX)
    findings.append(Finding(
        "pdf.text_box", Severity.BLOCKING,
        f"”{label}”: en textruta i PDF-filen säger ”{said}” men visar ”{shown}”. Filen kan "
        "vara manipulerad; kontrollera den.", field.name))
    return FieldReading(name=field.name, value=_cleaned(field, shown), raw=shown,
                        confidence=UNSURE_BOX, crop=page.crop(field.box), read_by="print")


def read_digital(aligned: AlignedPage, spec: FormSpec, layer: PdfLayer, blank: Gray
                 ) -> DigitalReading:
    """`spec`'s fields as the PDF layer of `aligned`'s page gives them (module docstring).

    `blank` is the blank form at the aligned page's resolution. A choice with
    no form field (a pre-filled form's printed cross) is read by its ink
    (`read.choice_reading`, exact on a render); the fields in `to_read` are
    for `read.read_fields`.
    """
    page = _Page(aligned, spec, layer, blank)
    fields: dict[str, FieldReading] = {}
    to_read: set[str] = set()
    findings: list[Finding] = []

    def look(field: FieldSpec, why: str) -> None:
        to_read.add(field.name)
        findings.append(Finding(
            "pdf.field_unclear", Severity.WARNING,
            f"”{field_label(spec.kind, field.name)}”: {why} Värdet lästes från bilden av "
            "sidan; kontrollera det mot PDF-filen.", field.name))

    for field in spec.fields:
        over = [(o, mm) for o, mm in page.overlays if _overlaps(field.box, mm)]
        if len(over) == 1 and over[0][0].subtype == "freetext" and over[0][0].text.strip():
            fields[field.name] = _text_box(page, field, *over[0], findings, spec)
            continue
        if over:
            look(field, "PDF-filen har en anteckning ovanpå fältet (till exempel en stämpel "
                        "eller en ritad markering), som kan dölja eller ändra det ifyllda "
                        "värdet.")
            continue
        if field.type is FieldType.CHOICE and len(page.ticked(field) or ()) > 1:
            look(field, "flera alternativ är ikryssade i PDF-filens fält.")
            continue
        chars = page.chars_in(field.box)
        from_widget = page.widget_value(field)
        if from_widget and chars:
            look(field, "fältet har både ett ifyllt formulärvärde och text på sidan.")
            continue
        if from_widget is not None and (from_widget or not chars):
            raw, how = from_widget, HOW_FIELD
        elif field.type is FieldType.CHOICE:
            # A cross drawn on the page (our print, or a viewer's drawing): its ink, which
            # a render has exactly.
            value, raw, confidence = choice_reading(page.image, field, page.dpi)
            fields[field.name] = FieldReading(
                name=field.name, value=value, raw=raw, confidence=round(confidence, 4),
                crop=page.crop(field.box), read_by=HOW_MARK)
            continue
        else:
            if page.stacked(chars):
                look(field, "text i PDF-filen ligger ovanpå annan text i fältet.")
                continue
            if page.covered(chars):
                look(field, "text i PDF-filen är dold under något annat på sidan.")
                continue
            if page.stray_ink(field.box, chars):
                look(field, "fältet innehåller något som inte är text (en bild eller ritade "
                            "tecken).")
                continue
            raw, how = page.text_value(field, chars), HOW_TEXT
        fields[field.name] = FieldReading(
            name=field.name, value=_cleaned(field, raw), raw=raw, confidence=1.0,
            crop=page.crop(field.box), read_by=how)
    return DigitalReading(fields, frozenset(to_read), tuple(findings))

