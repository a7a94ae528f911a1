"""Reading the fields of an aligned page: one Tesseract call per page.

What this module owns:

* cutting every OCR'd field out of the aligned page into a clean strip:
  each crop is flattened against its local paper (grey paper, shadows),
  smoothed of specks, and printed borders near its edges are erased; a
  text field is cropped inside its border; a comb field is cut cell by
  cell, each cell's glyph trimmed to its ink and the glyphs laid side by
  side like an ordinary word (LSTM Tesseract reads "5569694408" exactly
  but misreads the same digits spread one per 6 mm cell);
* stacking the strips on one white canvas with wide gaps, scaled to 3/4
  (as exact, and faster), running Tesseract once (psm 6, hOCR with
  character boxes) and giving each word back to the strip its centre falls
  in, each character with Tesseract's own alternatives (lstm choices);
  `fieldtext.typed_reading` turns a field's words into its value;
* checkboxes by ink, never by OCR: the option with clearly the most ink;
* `ink_outside_print`: pen marks in the scan where the page as issued had
  no print nearby, which reveals a value corrected by hand;
* `classify_by_text`: the form's kind from its printed title, for a page
  without a readable QR code;
* `edge_blur_mm`: the page's quality figure, how blurred its printed edges are.

Images are grayscale uint8, 0 = black, as everywhere in intake.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from dataclasses import dataclass
from difflib import SequenceMatcher

import cv2
import numpy as np

from forms import (
    FIDUCIALS,
    MM_PER_INCH,
    PAGE_WIDTH_MM,
    Box,
    FieldSpec,
    FieldType,
    FormKind,
    FormSpec,
    form_spec,
)
from intake.scan.calibration import Calibration, reading_key
from intake.scan.changed import read_changed_comb
from intake.scan.fieldtext import NUMERIC_TYPES, typed_reading
from intake.scan.handwritten import HandReading, date_window, is_hand_comb, read_hand_comb
from intake.scan.ink import INK_LEVEL, flatten, ink_mask
from intake.scan.model import AlignedPage, FieldReading, Gray
from intake.scan.tesseract import OcrWord, recognise_words

# -- geometry of the crops, in millimetres --------------------------------------------------
# A comb cell's printed border is 0.2 mm wide; 0.8 mm keeps it out of the crop even
# when the alignment is 0.5 mm off, and still leaves the 2.6 mm glyph whole.
COMB_INSET_X = 0.8
COMB_INSET_Y = 1.0
# A typed value starts 1.8 mm inside its box; 1.0 mm clears the border.
TEXT_INSET = 1.0
CHECK_INSET = 0.6
CROP_MARGIN = 1.5  # around the box in the reviewer's crop
DATE_INSET_X = 0.6  # date cells are only 4.6 mm wide and the digits are handwritten

# -- the canvas, in pixels at the page's resolution ------------------------------------------
STRIP_GAP = 40  # between strips: far more than a line gap, so no two strips become one line
CANVAS_MARGIN = 24
GLYPH_PAD = 3  # white either side of a comb glyph: the spacing of ordinary monospaced text
CANVAS_SCALE = 0.75  # measured: as exact as 1.0 on degraded pages, and ~15 % faster
TESSERACT_PSM = 6  # one uniform block; measured as accurate as 4 or 11 here, and no slower
# Every character's own alternatives: the check digit may choose among them (fieldtext).
OCR_CONFIG = {"lstm_choice_mode": "2"}

# -- ink ------------------------------------------------------------------------------------
MIN_INK_PIXELS = 6  # fewer dark pixels than this in a strip is specks, not writing
EDGE_LINE_SHARE = 0.6  # a column (row) this dark near a crop's edge is a printed border
EDGE_BAND = 0.25  # how far in from a crop's edge a border may sit, as a share of the crop
CHECK_MARKED = 0.06  # share of a checkbox's inside covered by ink for it to count as marked
PRINTED_TEXT_SHARE = 0.005  # a text box this inked on the issued page holds a printed value
OUTSIDE_DILATE_MM = 0.6  # printed ink grows by this much before scan ink counts as "outside"
MIN_MARK_PX = 30  # a pen mark outside the print covers at least this many pixels (0.5 mm²)
MIN_MARK_WIDTH = 1.6  # and is this thick on average (area / length); slivers are ~1

EDGE_MARGIN_MM = 1.0  # around a fiducial: its outer edges and some paper
EDGE_SLOPE_PERCENTILE = 99.5  # the steepest slopes, not one noisy pixel
EDGE_RISE_PER_SIGMA = 2.563  # 10-90 % rise of a Gaussian-blurred step, in sigmas

TITLE_BAND = 0.17  # the top of the page that holds the title (it ends 39 mm down)
TITLE_WIDTH = 0.75  # the QR code sits to the right of the title
TITLE_PAGE_WIDTH_PX = 1240  # about 150 dpi across A4: titles are 17 pt, plenty of pixels
TITLE_MATCH = 0.8
TITLE_PSM = 11  # sparse text: the band holds a title, a subtitle and stray marks


_EMPTY: Gray = np.full((1, 1), 255, np.uint8)


@dataclass(frozen=True, slots=True)
class _Strip:
    """One field's pixels as they go onto the canvas."""

    name: str
    image: Gray
    # Where each inked comb cell's glyph lies across the strip (x from, x to); a text
    # field has one slot for the whole strip; no slots: nothing written.
    slots: tuple[tuple[int, int], ...]


@dataclass(frozen=True, slots=True)
class _Placed:
    """A strip on the canvas: its rows, and its slots in canvas columns."""

    name: str
    top: int
    bottom: int
    slots: tuple[tuple[float, float], ...]


def page_dpi(image: Gray) -> int:
    """An aligned page's resolution, from its width (it is always the whole A4 page).

    Pages are made at whole dpi; the width is rounded to whole pixels, hence the rounding.
    """
    return round(float(image.shape[1]) * MM_PER_INCH / PAGE_WIDTH_MM)


def _pixels(box: Box, dpi: float, shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    left, top, right, bottom = box.to_pixels(dpi)
    h, w = shape[:2]
    return max(left, 0), max(top, 0), min(right, w), min(bottom, h)


def _crop(image: Gray, box: Box, dpi: float) -> Gray:
    left, top, right, bottom = _pixels(box, dpi, image.shape)
    return image[top:bottom, left:right]


def _grow(box: Box, d: float) -> Box:
    return Box(box.x - d, box.y - d, box.w + 2 * d, box.h + 2 * d)


def _inset_xy(box: Box, dx: float, dy: float) -> Box:
    return Box(box.x + dx, box.y + dy, box.w - 2 * dx, box.h - 2 * dy)


def _clean_crop(crop: Gray) -> tuple[Gray, np.ndarray]:
    """A crop flattened, smoothed of specks, with printed border lines near its edges erased.

    Returns the cleaned image and its ink mask. A border that a misaligned
    page pushed into the crop would otherwise read as "|" or "1".
    """
    if crop.size == 0:
        return crop.copy(), np.zeros(crop.shape, bool)
    smooth = np.asarray(cv2.medianBlur(flatten(np.ascontiguousarray(crop)), 3), np.uint8)
    mask = ink_mask(smooth)
    h, w = mask.shape
    band_x, band_y = max(1, int(w * EDGE_BAND)), max(1, int(h * EDGE_BAND))
    cols = mask.mean(axis=0) >= EDGE_LINE_SHARE
    rows = mask.mean(axis=1) >= EDGE_LINE_SHARE
    cols[band_x:w - band_x] = False
    rows[band_y:h - band_y] = False
    if cols.any() or rows.any():
        # Widen each erased line by a pixel: its blurred fringe is lighter than the line.
        cols = np.convolve(cols, [1, 1, 1], mode="same") > 0
        rows = np.convolve(rows, [1, 1, 1], mode="same") > 0
        smooth[:, cols] = 255
        smooth[rows, :] = 255
        mask[:, cols] = False
        mask[rows, :] = False
    return smooth, mask


def _without_inner_dots(glyph: Gray) -> Gray:
    """The glyph with any ink blob that sits inside a hole of another erased.

    The printed zero is DejaVu's dotted zero; at 150 dpi or after a fax-like
    threshold Tesseract reads it as "09", "8" or "6". Without its dot it is
    an ordinary zero. No digit has another nested blob, so no digit loses ink.
    """
    mask = ink_mask(glyph).astype(np.uint8)
    contours, hierarchy = cv2.findContours(mask, cv2.RETR_TREE, cv2.CHAIN_APPROX_SIMPLE)
    if len(contours) == 0:
        return glyph
    parents = hierarchy[0][:, 3]
    # Depth 2: an outline whose parent is a hole, whose parent is an outer outline.
    nested = [c for c, p in zip(contours, parents, strict=True) if p >= 0 and parents[p] >= 0]
    if not nested:
        return glyph
    out = glyph.copy()
    cv2.drawContours(out, nested, -1, 255, thickness=-1)
    cv2.drawContours(out, nested, -1, 255, thickness=2)  # and its anti-aliased fringe
    return out


def _comb_strip(image: Gray, field: FieldSpec, dpi: float) -> _Strip:
    inset_x = DATE_INSET_X if field.type is FieldType.DATE else COMB_INSET_X
    glyphs: list[Gray] = []
    slots: list[tuple[int, int]] = []
    x = 0
    for cell in field.cells:
        crop, mask = _clean_crop(_crop(image, _inset_xy(cell, inset_x, COMB_INSET_Y), dpi))
        if mask.sum() < MIN_INK_PIXELS:
            continue
        cols = np.flatnonzero(mask.any(axis=0))
        x0 = max(int(cols[0]) - GLYPH_PAD, 0)
        x1 = min(int(cols[-1]) + 1 + GLYPH_PAD, crop.shape[1])
        glyph = crop[:, x0:x1]
        if field.type in NUMERIC_TYPES:
            glyph = _without_inner_dots(glyph)
        glyphs.append(glyph)
        slots.append((x, x + x1 - x0))
        x += x1 - x0
    if not glyphs:
        return _Strip(field.name, _EMPTY, ())
    height = min(g.shape[0] for g in glyphs)  # cells differ by a pixel from rounding
    return _Strip(field.name, np.hstack([g[:height] for g in glyphs]), tuple(slots))


def _text_strip(image: Gray, field: FieldSpec, dpi: float) -> _Strip:
    crop, mask = _clean_crop(_crop(image, field.box.inset(TEXT_INSET), dpi))
    if mask.sum() < MIN_INK_PIXELS:
        return _Strip(field.name, _EMPTY, ())
    cols = np.flatnonzero(mask.any(axis=0))
    x0 = max(int(cols[0]) - GLYPH_PAD, 0)
    x1 = min(int(cols[-1]) + 1 + GLYPH_PAD, crop.shape[1])
    return _Strip(field.name, crop[:, x0:x1], ((0, x1 - x0),))


def _canvas(strips: list[_Strip], scale: float = 1.0) -> tuple[Gray, list[_Placed]]:
    """The strips one under the other on white, scaled by `scale`, and where each one went."""
    width = max(s.image.shape[1] for s in strips) + 2 * CANVAS_MARGIN
    height = sum(s.image.shape[0] for s in strips) + STRIP_GAP * (len(strips) - 1)
    canvas = np.full((height + 2 * CANVAS_MARGIN, width), 255, np.uint8)
    placed = []
    y = CANVAS_MARGIN
    for s in strips:
        h, w = s.image.shape
        canvas[y:y + h, CANVAS_MARGIN:CANVAS_MARGIN + w] = s.image
        slots = tuple(((CANVAS_MARGIN + a) * scale, (CANVAS_MARGIN + b) * scale)
                      for a, b in s.slots)
        placed.append(_Placed(s.name, round(y * scale), round((y + h) * scale), slots))
        y += h + STRIP_GAP
    if scale != 1.0:
        canvas = np.asarray(cv2.resize(canvas, None, fx=scale, fy=scale,
                                       interpolation=cv2.INTER_AREA), np.uint8)
    return canvas, placed


def _assign(words: Iterable[OcrWord], placed: list[_Placed]) -> dict[str, list[OcrWord]]:
    """Each word to the strip its vertical centre falls in (or is nearest to, within a gap)."""
    out: dict[str, list[OcrWord]] = {p.name: [] for p in placed}
    for word in words:
        cy = word.center_y
        best = min(placed, key=lambda p: 0.0 if p.top <= cy <= p.bottom
                   else min(abs(cy - p.top), abs(cy - p.bottom)))
        if best.top - STRIP_GAP / 2 <= cy <= best.bottom + STRIP_GAP / 2:
            out[best.name].append(word)
    for name in out:
        out[name].sort(key=lambda w: w.left)
    return out


def _glyph_heights(canvas: Gray, words: list[OcrWord]) -> list[int]:
    """The ink height at every character of `words`, in order.

    Printed values are monospaced, so a word's box (which Tesseract gets
    right even where its character boxes wander on a blurred scan) splits
    evenly into its characters; the middle of each slot is measured.
    """
    heights = []
    for word in words:
        pitch = (word.right - word.left) / max(len(word.text), 1)
        rows_of_word = canvas[word.top:word.bottom]
        for i in range(len(word.text)):
            x0 = word.left + int((i + 0.25) * pitch)
            x1 = max(word.left + int((i + 0.75) * pitch), x0 + 1)
            rows = np.flatnonzero((rows_of_word[:, x0:x1] < INK_LEVEL).any(axis=1))
            heights.append(int(rows[-1] - rows[0] + 1) if rows.size else 0)
    return heights


def choice_reading(image: Gray, field: FieldSpec, dpi: float) -> tuple[str, str, float]:
    """The ticked option by the ink inside each box (its printed outline erased)."""
    shares = []
    for option in field.options:
        _cleaned, mask = _clean_crop(_crop(image, option.box.inset(CHECK_INSET), dpi))
        shares.append(float(mask.mean()) if mask.size else 0.0)
    raw = " ".join(f"{o.value}:{s:.3f}" for o, s in zip(field.options, shares, strict=True))
    order = sorted(range(len(shares)), key=lambda i: shares[i], reverse=True)
    best = shares[order[0]]
    second = shares[order[1]] if len(order) > 1 else 0.0
    if best < CHECK_MARKED:
        # Nothing ticked: the closer the fullest box comes to a mark, the less sure.
        return "", raw, 1.0 - best / CHECK_MARKED
    # Sure when the other boxes are clearly emptier; two ticks give about zero.
    return field.options[order[0]].value, raw, (best - second) / best



def _outside_print(scan: Gray, expected: Gray, box: Box, dpi: float) -> float:
    """Share of `box` with ink in the scan where the expected page has none nearby."""
    radius = max(1, round(OUTSIDE_DILATE_MM * dpi / MM_PER_INCH))
    left, top, right, bottom = _pixels(box, dpi, scan.shape)
    if right <= left or bottom <= top:
        return 0.0
    # Dilate over a margin round the box: print just outside it still covers its fringe inside.
    ol, ot = max(left - radius, 0), max(top - radius, 0)
    around = flatten(expected[ot:bottom + radius, ol:right + radius])
    printed = (around < INK_LEVEL).astype(np.uint8)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    near_print = (cv2.dilate(printed, kernel) > 0)[top - ot:bottom - ot, left - ol:right - ol]
    scan_ink = ink_mask(flatten(scan[top:bottom, left:right]))
    outside = (scan_ink & ~near_print).astype(np.uint8)
    # Keep pen marks, drop what a shifted, blurred, JPEG'd scan leaves beside the print:
    # small specks and one-pixel slivers along printed edges.
    count, _labels, stats, _centres = cv2.connectedComponentsWithStats(outside, connectivity=8)
    marked = 0
    for i in range(1, count):
        w, h, area = (int(v) for v in stats[i, 2:5])
        if area >= MIN_MARK_PX and area / max(w, h) >= MIN_MARK_WIDTH:
            marked += area
    return marked / outside.size


def _printed(expected: Gray | None, blank: Gray | None, field: FieldSpec, dpi: float) -> bool:
    """Whether the page as issued printed a value in the field (else a pen wrote it)."""
    if expected is None:
        return False
    if field.is_comb:
        return not is_hand_comb(field, expected, dpi)
    issued = _crop(expected, field.box, dpi) < INK_LEVEL
    if blank is not None:
        issued &= ~(_crop(blank, field.box, dpi) < INK_LEVEL)  # the form's own label and lines
    return issued.size > 0 and float(issued.mean()) >= PRINTED_TEXT_SHARE


def _at_page_size(page: Gray | None, image: Gray) -> Gray | None:
    if page is None or page.shape == image.shape:
        return page
    return np.asarray(cv2.resize(page, (image.shape[1], image.shape[0]),
                                 interpolation=cv2.INTER_AREA), np.uint8)


def read_fields(
    aligned: AlignedPage, spec: FormSpec, *, expected: Gray | None = None,
    blank: Gray | None = None, today: dt.date | None = None,
    calibration: Calibration | None = None, only: frozenset[str] | None = None,
) -> dict[str, FieldReading]:
    """Every field of `spec` read from the aligned page, with one Tesseract call.

    `expected` is the page as it was issued (pre-filled values, no ink added),
    rendered at the aligned page's resolution; with it, each reading carries
    `ink_outside_print`. Without it that figure is 0. `blank` is the form
    with no values; with either, a number or date comb the issued page left
    empty is read as handwriting (`handwritten`), not by Tesseract; `today`
    bounds the signing dates it prefers. `calibration` puts each reading's
    confidence on the product's scale, per field type and way of reading
    (`calibration`); without it confidences stay as the readers gave them.
    Either way each reading records how it was read (`read_by`). `only`
    restricts the reading to those fields (the rest of a born-digital page
    came from its PDF layer, `digital`).
    """
    image = aligned.image
    dpi = page_dpi(image)
    expected = _at_page_size(expected, image)
    template = expected if expected is not None else _at_page_size(blank, image)
    wanted = tuple(f for f in spec.fields if only is None or f.name in only)
    hand = ({f.name for f in wanted if is_hand_comb(f, template, dpi)}
            if template is not None else set())
    # A printed number with a digit changed by hand is read cell by cell, not by Tesseract.
    changed: dict[str, HandReading] = {}
    sheet_blank = _at_page_size(blank, image)
    if expected is not None and sheet_blank is not None:
        for f in wanted:
            if f.name not in hand and (by_pen := read_changed_comb(
                    image, expected, sheet_blank, f, dpi)) is not None:
                changed[f.name] = by_pen

    strips: dict[str, _Strip] = {}
    for field in wanted:
        if field.type is FieldType.CHOICE or field.name in hand or field.name in changed:
            continue
        make = _comb_strip if field.is_comb else _text_strip
        strips[field.name] = make(image, field, dpi)

    inked = [s for s in strips.values() if s.slots]
    words: dict[str, list[OcrWord]] = {}
    placed: dict[str, _Placed] = {}
    canvas = image
    if inked:
        canvas, on_canvas = _canvas(inked, CANVAS_SCALE)
        placed = {p.name: p for p in on_canvas}
        found = recognise_words(canvas, psm=TESSERACT_PSM, dpi=round(dpi * CANVAS_SCALE),
                                config=OCR_CONFIG)
        words = _assign(found, on_canvas)

    readings: dict[str, FieldReading] = {}
    for field in wanted:
        doubtful: tuple[int, ...] = ()
        if field.type is FieldType.CHOICE:
            value, raw, confidence = choice_reading(image, field, dpi)
        elif field.name in hand and template is not None:
            by_hand = read_hand_comb(image, template, field, dpi,
                                     date_window(today) if today else None)
            value, raw, confidence, doubtful = (by_hand.value, by_hand.raw,
                                                by_hand.confidence, by_hand.doubtful)
        elif field.name in changed:
            by_pen = changed[field.name]
            value, raw, confidence, doubtful = (by_pen.value, by_pen.raw,
                                                by_pen.confidence, by_pen.doubtful)
        else:
            found = words.get(field.name, [])
            heights = _glyph_heights(canvas, found) if field.type is FieldType.EMAIL else []
            where = placed.get(field.name)
            value, raw, confidence, doubtful = typed_reading(
                field, found, where.slots if where else None, heights)
        outside = (0.0 if expected is None
                   else _outside_print(image, expected, field.box, dpi))
        how = ("hand" if field.name in hand else "changed" if field.name in changed
               else "print" if _printed(expected, sheet_blank, field, dpi) else "hand")
        if calibration is not None:
            confidence = calibration.apply(reading_key(field.type, how), confidence)
        readings[field.name] = FieldReading(
            name=field.name,
            value=value,
            raw=raw,
            confidence=round(min(max(confidence, 0.0), 1.0), 4),
            crop=np.ascontiguousarray(_crop(image, _grow(field.box, CROP_MARGIN), dpi)),
            ink_outside_print=outside,
            doubtful=doubtful,
            read_by=how,
        )
    return readings


def edge_blur_mm(image: Gray) -> float:
    """The page's quality figure: how wide a black-to-white edge is on it, in mm (10-90 %).

    Measured on the four fiducials of the aligned page, where a sharp edge is
    known to be printed: a blurred step of contrast C and spread sigma has a
    steepest slope of C / (sigma * sqrt(2 pi)), and its 10-90 % rise is
    2.56 sigma. The median over the markers is robust to one stained marker.
    Measured on the scan simulator: flat scans 0.25-0.35 mm, phone photos
    0.43-0.57 (the alignment's residual does not tell them apart: a photo of a
    flat sheet is as exactly a homography as a scan is).
    """
    dpi = page_dpi(image)
    k = dpi / MM_PER_INCH
    widths = []
    for fiducial in FIDUCIALS:
        crop = _crop(image, _grow(fiducial.box, EDGE_MARGIN_MM), dpi).astype(np.float32)
        if crop.size == 0:
            continue
        low, high = np.percentile(crop, [2, 98])
        gy, gx = np.gradient(crop)
        steepest = float(np.percentile(np.hypot(gx, gy), EDGE_SLOPE_PERCENTILE))
        if steepest > 0 and high - low > 0:
            sigma = float(high - low) / (steepest * math.sqrt(2 * math.pi))
            widths.append(EDGE_RISE_PER_SIGMA * sigma / k)
    return float(np.median(widths)) if widths else 0.0


def _title_bands(image: Gray) -> tuple[list[Gray], int]:
    """The top band of the page in each upright orientation its shape allows, and their dpi."""
    if image.shape[1] > image.shape[0]:  # landscape: the page lies on its side
        turns = [cv2.rotate(image, cv2.ROTATE_90_CLOCKWISE),
                 cv2.rotate(image, cv2.ROTATE_90_COUNTERCLOCKWISE)]
    else:
        turns = [image, cv2.rotate(image, cv2.ROTATE_180)]
    bands = []
    for turned in turns:
        scale = min(1.0, TITLE_PAGE_WIDTH_PX / turned.shape[1])
        small = np.asarray(cv2.resize(turned, None, fx=scale, fy=scale,
                                      interpolation=cv2.INTER_AREA), np.uint8)
        h, w = small.shape
        bands.append(small[: int(h * TITLE_BAND), : int(w * TITLE_WIDTH)])
    # Each band spans TITLE_WIDTH of a page as wide as every other: one resolution for all.
    dpi = round(bands[0].shape[1] / TITLE_WIDTH * MM_PER_INCH / PAGE_WIDTH_MM)
    return bands, dpi


LINE_PSM = 7  # a single line of text


def read_line(image: Gray, box: Box, dpi: float) -> str:
    """The one line of text shown in `box` (mm) of an aligned page, by Tesseract: what a
    person sees where a PDF's text box covers a field (`digital`)."""
    crop, mask = _clean_crop(_crop(image, box, dpi))
    if mask.sum() < MIN_INK_PIXELS:
        return ""
    padded = cv2.copyMakeBorder(crop, CANVAS_MARGIN, CANVAS_MARGIN, CANVAS_MARGIN,
                                CANVAS_MARGIN, cv2.BORDER_CONSTANT, value=255)
    words = recognise_words(np.asarray(padded, np.uint8), psm=LINE_PSM, dpi=round(dpi))
    return " ".join(w.text for w in words)


def classify_by_text(image: Gray) -> FormKind | None:
    """The form's kind from its printed title, or None; one Tesseract call.

    For a page whose QR code could not be read. `image` may be an aligned
    page or a page as received, upright or upside down (or on its side): the
    top band of each possible orientation goes onto one canvas.
    """
    bands, dpi = _title_bands(image)
    canvas, _ = _canvas([_Strip(str(i), b, ((0, b.shape[1]),)) for i, b in enumerate(bands)])
    words = recognise_words(canvas, psm=TITLE_PSM, dpi=dpi)
    titles = {form_spec(kind).title.casefold(): kind for kind in FormKind}
    best: tuple[float, FormKind | None] = (0.0, None)
    for word in words:
        text = "".join(ch for ch in word.text.casefold() if ch.isalpha())
        for title, kind in titles.items():
            score = SequenceMatcher(None, text, title).ratio()
            if score > best[0]:
                best = (score, kind)
    return best[1] if best[0] >= TITLE_MATCH else None
