"""Reading the fields of an aligned page: one Tesseract call per page.

What this module owns:

* cutting every OCR'd field out of the aligned page into a clean strip: a
  text field is cropped inside its printed border; a comb field is cut cell
  by cell, each cell's glyph trimmed to its ink and the glyphs laid side by
  side like an ordinary word (LSTM Tesseract reads "5569694408" exactly but
  misreads the same digits spread one per 6 mm cell);
* stacking the strips on one white canvas with wide gaps, running Tesseract
  once (psm 6, one uniform block) and giving each recognised word back to
  the strip its centre falls in;
* clean-up by field type (letter/digit look-alikes only where the field is
  numeric; then `forms.clean_field` for the canonical text), a confidence
  0..1 per field and the field's crop for the reviewer;
* checkboxes by ink, never by OCR; handwritten dates by ink per cell plus
  the OCR of their strip;
* `ink_outside_print`: ink in the scan where the page as issued had none,
  which reveals a value corrected by hand;
* `classify_by_text`: the form's kind from its printed title, for a page
  without a readable QR code.

Images are grayscale uint8, 0 = black, as everywhere in intake.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from difflib import SequenceMatcher

import cv2
import numpy as np

from forms import (
    MM_PER_INCH,
    PAGE_WIDTH_MM,
    Box,
    FieldSpec,
    FieldType,
    FormKind,
    FormSpec,
    InvalidValue,
    clean_field,
    form_spec,
    parse_email,
)
from intake.model import AlignedPage, FieldReading, Gray
from intake.tesseract import OcrChar, OcrWord, recognise_words

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

# -- ink ------------------------------------------------------------------------------------
PAPER_WINDOW = 15  # px: wider than any stroke, so the brightest pixel in it is paper
INK_LEVEL = 150  # on a flattened crop (paper = 255): darker than this is ink
MIN_INK_PIXELS = 6  # fewer dark pixels than this in a strip is specks, not writing
EDGE_LINE_SHARE = 0.6  # a column (row) this dark near a crop's edge is a printed border
EDGE_BAND = 0.25  # how far in from a crop's edge a border may sit, as a share of the crop
CHECK_MARKED = 0.06  # share of a checkbox's inside covered by ink for it to count as marked
OUTSIDE_DILATE_MM = 0.6  # printed ink grows by this much before scan ink counts as "outside"
MIN_MARK_PX = 30  # a pen mark outside the print covers at least this many pixels (0.5 mm²)
MIN_MARK_WIDTH = 1.6  # and is this thick on average (area / length); slivers are ~1

# -- clean-up -------------------------------------------------------------------------------
# Only in numeric fields: what Tesseract makes of a digit when it takes it for a letter.
DIGIT_LOOKALIKES = str.maketrans({
    "O": "0", "o": "0", "D": "0", "Q": "0",
    "I": "1", "l": "1", "|": "1", "i": "1", "!": "1",
    "Z": "2", "z": "2",
    "S": "5", "s": "5",
    "G": "6", "b": "6",
    "B": "8",
    "g": "9", "q": "9",
})
# The Swedish model has no "@": it reads the one in an e-mail address as one of these,
# the first group when the print is clean.
AT_LOOKALIKES = "Q©®"
AT_FALLBACKS = "geaGO0"
LOOKALIKE_PENALTY = 0.9  # per character the clean-up had to change
INVALID_PENALTY = 0.3  # a value that fails its validator is not one to trust
COUNT_PENALTY = 0.5  # the number of characters read differs from the cells with ink
# What the printed digits are mistaken for once blurred or thresholded, for the
# check-digit repair: first DejaVu's dotted zero (read as 8, 6 or 9), then the rest.
CONFUSABLE_TIERS: tuple[dict[str, str], ...] = (
    {"8": "0", "6": "0", "9": "0"},
    {"0": "869", "8": "693", "9": "8", "6": "85", "5": "6", "3": "8", "1": "7", "7": "1"},
)
CHECK_DIGIT_TYPES = (FieldType.ORGNR, FieldType.SUBSCRIPTION)
REPAIRED_CONFIDENCE = 0.5  # a repaired number is right more often than not; a person checks
MAX_AMBIGUOUS_CELLS = 4  # cells with two candidates tried against the check digit (2^4 tries)
AMBIGUOUS_PENALTY = 0.5  # an "@" put back where another place was as plausible
AT_TALLER = 1.15  # an "@" glyph is clearly taller than the letters it is mistaken for
UNREADABLE_CONFIDENCE = 0.2  # ink in a date's cells that did not read as a date

TITLE_BAND = 0.17  # the top of the page that holds the title (it ends 39 mm down)
TITLE_WIDTH = 0.75  # the QR code sits to the right of the title
TITLE_PAGE_WIDTH_PX = 1240  # about 150 dpi across A4: titles are 17 pt, plenty of pixels
TITLE_MATCH = 0.8
TITLE_PSM = 11  # sparse text: the band holds a title, a subtitle and stray marks


NUMERIC_TYPES = (FieldType.ORGNR, FieldType.SUBSCRIPTION, FieldType.DATE)
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


def _flatten(crop: Gray) -> Gray:
    """The crop divided by its local paper brightness, so paper is white everywhere.

    The paper's level is the brightest pixel nearby (a pen or type stroke is
    far thinner than the window), so grey paper, a scanner's uneven lamp or a
    photo's shadow do not look like ink, and one fixed level then tells ink
    from paper on every strip of the canvas.
    """
    if crop.size == 0:
        return crop.copy()
    kernel = np.ones((PAPER_WINDOW, PAPER_WINDOW), np.uint8)
    paper = np.maximum(cv2.dilate(crop, kernel), 1).astype(np.float32)
    flat = np.minimum(crop.astype(np.float32) * (255.0 / paper), 255.0)
    return flat.astype(np.uint8)


def _ink_mask(flat: Gray) -> np.ndarray:
    """Dark pixels of a flattened crop, without isolated specks (dust, salt noise)."""
    dark = (flat < INK_LEVEL).astype(np.uint8)
    return cv2.morphologyEx(dark, cv2.MORPH_OPEN, np.ones((2, 2), np.uint8)) > 0


def _clean_crop(crop: Gray) -> tuple[Gray, np.ndarray]:
    """A crop flattened, smoothed of specks, with printed border lines near its edges erased.

    Returns the cleaned image and its ink mask. A border that a misaligned
    page pushed into the crop would otherwise read as "|" or "1".
    """
    if crop.size == 0:
        return crop.copy(), np.zeros(crop.shape, bool)
    smooth = np.asarray(cv2.medianBlur(_flatten(np.ascontiguousarray(crop)), 3), np.uint8)
    mask = _ink_mask(smooth)
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
    mask = _ink_mask(glyph).astype(np.uint8)
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


def _word_confidence(words: list[OcrWord]) -> float:
    """Tesseract's word confidences, weighted by each word's length."""
    total = sum(len(w.text) for w in words)
    if not total:
        return 0.0
    return sum(w.confidence * len(w.text) for w in words) / total


def _numeric(raw: str) -> tuple[str, int]:
    """Digits only, with look-alike letters mapped; how many characters were mapped."""
    mapped = raw.translate(DIGIT_LOOKALIKES)
    changed = sum(1 for a, b in zip(raw, mapped, strict=True) if a != b)
    return "".join(ch for ch in mapped if ch.isdigit()), changed


def _plausible_email(text: str) -> bool:
    local = text.partition("@")[0]
    if local.startswith(".") or local.endswith(".") or ".." in text:
        return False
    try:
        parse_email(text)
    except InvalidValue:
        return False
    return True


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


def _email(text: str, heights: list[int]) -> tuple[str, int, bool]:
    """An e-mail address without spaces, with its "@" put back when OCR lost it.

    Returns (text, characters changed, whether the choice was a guess). The
    Swedish model has no "@"; it reads one as a look-alike letter, or as two
    ("ge"). Of the places where an "@" makes a plausible address, the tallest
    glyph wins (an "@" reaches from the capitals' height to below the line,
    an "e" or an "a" does neither), then the pair over a single letter.
    `heights` has one entry per character of the compacted text.
    """
    text = "".join(text.split())
    if "@" in text:
        return text, 0, False
    if len(heights) != len(text):
        heights = [0] * len(text)
    lookalikes = AT_LOOKALIKES + AT_FALLBACKS
    spans = [(i, i + n) for n in (1, 2) for i in range(len(text) - n + 1)
             if all(ch in lookalikes for ch in text[i:i + n])]
    ranked = sorted(
        ((max(heights[i:j]), text[i] in AT_LOOKALIKES, j - i, i, j) for i, j in spans
         if _plausible_email(text[:i] + "@" + text[j:])),
        reverse=True,
    )
    if not ranked:
        return text, 0, False
    height, _sure, _n, i, j = ranked[0]
    # Another place as tall (other than a part of the chosen pair) makes the choice a guess.
    rivals = [r for r in ranked[1:] if not (i <= r[3] and r[4] <= j)]
    guess = bool(rivals) and height < AT_TALLER * rivals[0][0]
    return text[:i] + "@" + text[j:], j - i, guess


def _covered(char: OcrChar, x0: float, x1: float) -> float:
    """How much of a cell's glyph (x0..x1) the character's box covers, 0..1."""
    return max(0.0, min(char.right, x1) - max(char.left, x0)) / max(x1 - x0, 1.0)


def _comb_cells(field: FieldSpec, words: list[OcrWord], slots: tuple[tuple[float, float], ...]
                ) -> tuple[list[list[OcrChar]], bool]:
    """The characters read on each inked cell, likeliest first, and whether the count was off.

    Each recognised character goes to the cell whose glyph its centre lies
    on. A cell given two (Tesseract reads a blurred dotted zero as "09")
    ranks a digit first in a numeric field, then the character covering
    more of the glyph, then the surer. A character on no cell is dropped.
    """
    numeric = field.type in NUMERIC_TYPES
    chars = [c for w in words for c in w.chars]
    cells: list[list[OcrChar]] = []
    for x0, x1 in slots:
        inside = [c for c in chars if x0 <= c.center_x < x1]
        inside.sort(key=lambda c: (numeric and c.text.translate(DIGIT_LOOKALIKES).isdigit(),
                                   _covered(c, x0, x1), c.confidence), reverse=True)
        cells.append(inside)
    off = any(len(cell) != 1 for cell in cells) or len(chars) != len(slots)
    return cells, off


def _comb_choice(field: FieldSpec, cells: list[list[OcrChar]]) -> tuple[str, float]:
    """The comb's text from its cells' candidates, and its confidence.

    Where a cell has more than one candidate, the first combination (in rank
    order) that passes the field's validator wins: the check digit of an
    organisationsnummer or a subscription number decides between two
    characters Tesseract itself saw in that cell. Otherwise each cell's first.
    """
    filled = [cell for cell in cells if cell]
    first = "".join(cell[0].text for cell in filled)
    confidence = sum(cell[0].confidence for cell in filled) / len(filled) if filled else 0.0
    ambiguous = [i for i, cell in enumerate(filled) if len(cell) > 1][:MAX_AMBIGUOUS_CELLS]
    if not ambiguous or field.type not in (FieldType.ORGNR, FieldType.SUBSCRIPTION):
        return first, confidence
    choices = [range(len(filled[i])) for i in ambiguous]
    for combo in sorted(itertools.product(*choices), key=sum):
        picks = [cell[0] for cell in filled]
        for i, k in zip(ambiguous, combo, strict=True):
            picks[i] = filled[i][k]
        text = _numeric("".join(c.text for c in picks))[0]
        try:
            clean_field(field, text)
        except InvalidValue:
            continue
        return "".join(c.text for c in picks), confidence
    return first, confidence


def _repair(field: FieldSpec, digits: str) -> str | None:
    """The one value a single confusable digit away from `digits` that passes the check.

    Used only when what was read fails the field's check digit. A blurred
    or thresholded dotted zero is read as 8, 6 or 9; Luhn catches every
    single wrong digit, and when exactly one look-alike swap (zeros first)
    makes the number valid, that swap is the reading, with a confidence low
    enough to send it to a person's eye. Two or more possible repairs in
    the first tier that has any: none is taken.
    """
    if not digits.isdigit() or len(digits) != len(field.cells):
        return None
    for confusable in CONFUSABLE_TIERS:
        found: set[str] = set()
        for i, digit in enumerate(digits):
            for alt in confusable.get(digit, ""):
                try:
                    found.add(clean_field(field, digits[:i] + alt + digits[i + 1:]))
                except InvalidValue:
                    continue
        if found:
            return found.pop() if len(found) == 1 else None
    return None


def _typed_reading(field: FieldSpec, words: list[OcrWord], placed: _Placed | None,
                   heights: list[int]) -> tuple[str, str, float]:
    """(value, raw, confidence) of an OCR'd field; `placed` is None when nothing is written.

    `heights`: for an e-mail field, as for `_email`.
    """
    joiner = "" if field.is_comb else " "
    raw = joiner.join(w.text for w in words)
    if placed is None:
        return "", raw, 1.0  # nothing written: certainly empty
    if not raw:
        return "", raw, 0.0
    changed = 0
    if field.is_comb:
        cells, off = _comb_cells(field, words, placed.slots)
        text, confidence = _comb_choice(field, cells)
        if off:
            confidence *= COUNT_PENALTY
    else:
        text, confidence = raw, _word_confidence(words)
    if field.type in NUMERIC_TYPES:
        text, changed = _numeric(text)
    elif field.type is FieldType.EMAIL:
        text, changed, ambiguous = _email(text, heights)
        if ambiguous:
            confidence *= AMBIGUOUS_PENALTY
    else:
        text = " ".join(text.split())
    confidence *= LOOKALIKE_PENALTY ** changed
    try:
        value = clean_field(field, text) if text else ""
    except InvalidValue:
        value = text
        confidence *= INVALID_PENALTY
        repaired = _repair(field, text) if field.type in CHECK_DIGIT_TYPES else None
        if repaired is not None:
            value, confidence = repaired, min(confidence / INVALID_PENALTY, REPAIRED_CONFIDENCE)
    if field.type is FieldType.DATE and value == text:
        # A date that does not parse is left for a person: "" with low confidence.
        return "", raw, min(confidence, UNREADABLE_CONFIDENCE)
    return value, raw, confidence


def _choice_reading(image: Gray, field: FieldSpec, dpi: float) -> tuple[str, str, float]:
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


def _png(image: Gray) -> bytes:
    ok, buf = cv2.imencode(".png", image, [cv2.IMWRITE_PNG_COMPRESSION, 3])
    if not ok:
        raise ValueError(f"cannot encode a {image.shape} crop as PNG")
    return bytes(buf)


def _outside_print(scan: Gray, expected: Gray, box: Box, dpi: float) -> float:
    """Share of `box` with ink in the scan where the expected page has none nearby."""
    radius = max(1, round(OUTSIDE_DILATE_MM * dpi / MM_PER_INCH))
    left, top, right, bottom = _pixels(box, dpi, scan.shape)
    if right <= left or bottom <= top:
        return 0.0
    # Dilate over a margin round the box: print just outside it still covers its fringe inside.
    ol, ot = max(left - radius, 0), max(top - radius, 0)
    around = _flatten(expected[ot:bottom + radius, ol:right + radius])
    printed = (around < INK_LEVEL).astype(np.uint8)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    near_print = (cv2.dilate(printed, kernel) > 0)[top - ot:bottom - ot, left - ol:right - ol]
    scan_ink = _ink_mask(_flatten(scan[top:bottom, left:right]))
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


def read_fields(
    aligned: AlignedPage, spec: FormSpec, *, expected: Gray | None = None
) -> dict[str, FieldReading]:
    """Every field of `spec` read from the aligned page, with one Tesseract call.

    `expected` is the page as it was issued (pre-filled values, no ink added),
    rendered at the aligned page's resolution; with it, each reading carries
    `ink_outside_print`. Without it that figure is 0.
    """
    image = aligned.image
    dpi = page_dpi(image)
    if expected is not None and expected.shape != image.shape:
        expected = np.asarray(cv2.resize(expected, (image.shape[1], image.shape[0]),
                                         interpolation=cv2.INTER_AREA), np.uint8)

    strips: dict[str, _Strip] = {}
    for field in spec.fields:
        if field.type is FieldType.CHOICE:
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
        found = recognise_words(canvas, psm=TESSERACT_PSM, dpi=round(dpi * CANVAS_SCALE))
        words = _assign(found, on_canvas)

    readings: dict[str, FieldReading] = {}
    for field in spec.fields:
        if field.type is FieldType.CHOICE:
            value, raw, confidence = _choice_reading(image, field, dpi)
        else:
            found = words.get(field.name, [])
            heights = _glyph_heights(canvas, found) if field.type is FieldType.EMAIL else []
            value, raw, confidence = _typed_reading(field, found, placed.get(field.name),
                                                    heights)
        outside = (0.0 if expected is None
                   else _outside_print(image, expected, field.box, dpi))
        readings[field.name] = FieldReading(
            name=field.name,
            value=value,
            raw=raw,
            confidence=round(min(max(confidence, 0.0), 1.0), 4),
            crop_png=_png(_crop(image, _grow(field.box, CROP_MARGIN), dpi)),
            ink_outside_print=outside,
        )
    return readings


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
