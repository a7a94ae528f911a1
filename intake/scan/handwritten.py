"""Number and date combs written by hand: the glyphs found, read by the digit reader, decoded.

Tesseract reads what we printed; a pen's digits it does not (39 % of real
handwritten digits, issue 11). For a comb the issued page left empty (every
comb of a blank form, and the date combs of every form), this module:

* removes the printed template: ink in the scan that the page as printed
  (`template`, rendered at the page's resolution) has nowhere near is the
  pen's; where a pen stroke crosses a printed cell border, the border's
  pixels between ink on both sides are given back to the stroke;
* finds the written glyphs as the pen's connected ink, merged where one
  glyph's parts overlap across (the bar of a 7, the flag of a 1), so a digit
  that crosses a cell border is still one digit; when the cells are empty,
  it looks beside the comb (to its right, then below it), where people
  write a number that did not fit their hand;
* reads every glyph with `digits.DigitReader` (top-k digits, "empty", "not
  a digit"); when the glyphs are not the field's number of sure digits
  (digits that touch, a digit in pieces, a border's sliver), `segment` lets
  the reader choose how the ink is cut into exactly that many;
* decodes the field honestly (`decode`): the most probable digit string from
  the glyphs' own top-k that the field's rules accept (Luhn for an
  organisationsnummer or personnummer, our check digit for a subscription
  number, a real calendar date). The first reading stands unless it fails;
  then only a glyph the reader was unsure of may change, and only to a
  clearly likelier passing string; the result is then never "sure". When no
  candidate passes, the reading is what was read, its doubtful digits
  marked, and validation makes it a blocking finding.

The search is written here rather than taken from a library: it is a
best-first walk over the product of at most `TOP_K` digits per glyph, a few
lines, and the rules it checks are the product's own `forms.clean_field`.
"""

from __future__ import annotations

import datetime as dt
import heapq
import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from forms import MM_PER_INCH, Box, FieldSpec, FieldType, InvalidValue, clean_field
from intake.scan.digits import CellReading, read_cells
from intake.scan.ink import INK_LEVEL, flatten
from intake.scan.model import Gray
from intake.scan.segment import glyph_score, segment

HAND_TYPES = (FieldType.ORGNR, FieldType.SUBSCRIPTION, FieldType.DATE)
FAINT_LEVEL = 205  # lighter ink than INK_LEVEL counts where it joins a dark stroke
PRINT_GROW_MM = 0.45  # printed ink grows by this before scan ink counts as the pen's
LINE_V_MM = 6.0  # a vertical run of ink this long is a cell border (digits are at most ~5)
LINE_H_MM = 9.0  # a horizontal one this long is a comb's top or bottom edge
MIN_GLYPH_MM2 = 0.35  # smaller blobs of pen ink are specks
MIN_GLYPH_HEIGHT_MM = 1.2  # a digit is at least this tall (a dash or a dot is not)
FRAGMENT_SHARE = 0.55  # a piece shorter than this share of the glyphs' height is a fragment
JOIN_GAP_MM = 1.0
MERGE_OVERLAP = 0.5  # two blobs overlapping this much across are one glyph
GLYPH_PAD_MM = 0.6  # paper around a glyph for the reader
BESIDE_RIGHT_MM = 55.0  # how far right of a comb a number written beside it is looked for
BESIDE_BELOW_MM = 9.0
PRINTED_SHARE = 0.01  # a comb whose cells have this much printed ink was pre-filled
# A digit the reader gives less than this may be changed to pass the check digit; a
# surer one never.
UNSURE = 0.9
RIVAL_FACTOR = 4.0  # the chosen passing string is this much likelier than the next one
MAX_TRIES = 4000  # candidate strings tried, likeliest first
# Strings summed for a passing first reading's share: beyond the likeliest few dozen the
# rest add nothing measurable (each is a product of runner-up probabilities).
POSTERIOR_TRIES = 40
CHANGED_CONFIDENCE = 0.5  # a string the rules chose among the reader's candidates: a person looks
COUNT_OFF_CONFIDENCE = 0.3
OUTSIDE_CONFIDENCE = 0.3  # a real date, but not one a form signed now would carry
DATE_PAST_DAYS = 730
DATE_AHEAD_DAYS = 31

DateWindow = tuple[dt.date, dt.date]  # ink that is not the field's number of digits


@dataclass(frozen=True, slots=True)
class HandReading:
    """A handwritten comb as read: value, what the reader saw, how sure, doubtful digits."""

    value: str
    raw: str
    confidence: float
    doubtful: tuple[int, ...] = ()  # 1-based positions among the written digits
    # "cells"; "beside" when written beside the comb; on a printed comb changed by hand,
    # "changed" (digits changed in their cells) or "rewritten" (struck through, written anew)
    where: str = "cells"
    cells: tuple[CellReading, ...] = ()
    changed: tuple[int, ...] = ()  # 1-based cells of a printed comb found changed by hand


def digit_count(field: FieldSpec) -> int:
    return sum(field.groups) if field.groups else len(field.cells)


def is_hand_comb(field: FieldSpec, template: Gray, dpi: float) -> bool:
    """A number or date comb that the page as issued left empty, so any digit in it is a pen's."""
    if field.type not in HAND_TYPES or not field.is_comb:
        return False
    # The comb's own borders are print too; only ink well inside a cell is a value.
    inside = 0
    total = 0
    for cell in field.cells:
        cl, ct, cr, cb = cell.inset(min(1.2, cell.w / 4)).to_pixels(dpi)
        crop = template[max(ct, 0):cb, max(cl, 0):cr]
        inside += int((crop < INK_LEVEL).sum())
        total += crop.size
    return total == 0 or inside / total < PRINTED_SHARE


def _pen_ink(scan: Gray, template: Gray, dpi: float) -> tuple[Gray, np.ndarray]:
    """The flattened scan region and the mask of ink that is not the template's."""
    flat = np.asarray(cv2.medianBlur(flatten(np.ascontiguousarray(scan)), 3), np.uint8)
    # A light pen (or a pencil) leaves strokes that are only partly darker than INK_LEVEL:
    # the lighter ink connected to a dark core is the same stroke.
    faint = (flat < FAINT_LEVEL).astype(np.uint8)
    count, labels = cv2.connectedComponents(faint, connectivity=8)
    cores = np.zeros(count, bool)
    cores[np.unique(labels[flat < INK_LEVEL])] = True
    cores[0] = False
    ink = cores[labels]
    radius = max(1, round(PRINT_GROW_MM * dpi / MM_PER_INCH))
    printed = (template < INK_LEVEL).astype(np.uint8)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    near_print = cv2.dilate(printed, kernel) > 0
    k = dpi / MM_PER_INCH
    # Near the print, ink is the pen's when it grows out of the pen's ink elsewhere and
    # is not a printed line: so a digit that crosses or runs along a cell border keeps
    # its stroke there, and a label or hyphen nobody touched stays print.
    ink8 = ink.astype(np.uint8)
    vertical = cv2.morphologyEx(ink8, cv2.MORPH_OPEN,
                                np.ones((max(3, round(LINE_V_MM * k)), 1), np.uint8))
    horizontal = cv2.morphologyEx(ink8, cv2.MORPH_OPEN,
                                  np.ones((1, max(3, round(LINE_H_MM * k))), np.uint8))
    lines = cv2.dilate(np.maximum(np.asarray(vertical, np.uint8), np.asarray(horizontal, np.uint8)),
                       np.ones((3, 3), np.uint8)) > 0
    allowed = (ink & ~lines).astype(np.uint8)
    grown = (ink & ~near_print).astype(np.uint8)
    step = np.ones((3, 3), np.uint8)
    # A few constrained dilations of a ~500 x 90 px crop cost 0.6 ms; one connected-
    # component pass over a reach mask measured slower (0.9 ms) for the same mask.
    for _ in range(2 * radius + 2):
        grown = np.maximum(np.minimum(np.asarray(cv2.dilate(grown, step), np.uint8), allowed),
                           grown)
    # The border's own pixels under a stroke: bridged across the line's width.
    mask = cv2.morphologyEx(grown, cv2.MORPH_CLOSE, step) > 0
    mask = cv2.morphologyEx(mask.astype(np.uint8), cv2.MORPH_OPEN, np.ones((2, 2), np.uint8)) > 0
    return flat, mask


def _glyph_boxes(mask: np.ndarray, dpi: float) -> list[tuple[int, int, int, int]]:
    """Written glyphs as (x0, y0, x1, y1), left to right: blobs merged when they overlap across.

    Digits that touch stay one glyph here; `segment` cuts them when the
    glyphs are not the field's number of sure digits.
    """
    k = dpi / MM_PER_INCH
    count, _labels, stats, _c = cv2.connectedComponentsWithStats(
        mask.astype(np.uint8), connectivity=8)
    blobs = []
    for i in range(1, count):
        x, y, w, h, area = (int(v) for v in stats[i, :5])
        if area >= MIN_GLYPH_MM2 * k * k:
            blobs.append([x, y, x + w, y + h])
    blobs.sort()
    merged: list[list[int]] = []
    for b in blobs:
        if merged:
            m = merged[-1]
            overlap = min(m[2], b[2]) - max(m[0], b[0])
            if overlap > MERGE_OVERLAP * min(m[2] - m[0], b[2] - b[0]):
                merged[-1] = [min(m[0], b[0]), min(m[1], b[1]), max(m[2], b[2]), max(m[3], b[3])]
                continue
        merged.append(b)
    return [(a, b, c, d) for a, b, c, d in _fragments_joined(merged, k)
            if d - b >= MIN_GLYPH_HEIGHT_MM * k]


def _fragments_joined(glyphs: list[list[int]], k: float) -> list[list[int]]:
    """Small pieces joined to the glyph beside them, the rest kept.

    Where a stroke runs along a printed border, removing the border cuts a
    sliver off the digit; a piece much shorter than the written digits that
    lies within `JOIN_GAP_MM` of a glyph is part of it, not a digit of its own.
    """
    if len(glyphs) < 2:
        return glyphs
    tall = float(np.median([g[3] - g[1] for g in glyphs]))
    out = [g[:] for g in glyphs]
    i = 0
    while i < len(out) and len(out) > 1:
        g = out[i]
        if g[3] - g[1] >= FRAGMENT_SHARE * tall:
            i += 1
            continue
        gaps = [(abs(max(o[0] - g[2], g[0] - o[2], 0)), j) for j, o in enumerate(out) if j != i]
        gap, j = min(gaps)
        if gap <= JOIN_GAP_MM * k:
            o = out[j]
            out[j] = [min(o[0], g[0]), min(o[1], g[1]), max(o[2], g[2]), max(o[3], g[3])]
        del out[i]
        i = 0
    return out


def _region(image: Gray, box: Box, dpi: float) -> tuple[int, int, int, int]:
    left, top, right, bottom = box.to_pixels(dpi)
    h, w = image.shape[:2]
    return max(left, 0), max(top, 0), min(right, w), min(bottom, h)


def _ink_in(scan: Gray, template: Gray, box: Box, dpi: float
            ) -> tuple[Gray, np.ndarray] | None:
    left, top, right, bottom = _region(scan, box, dpi)
    if right - left < 4 or bottom - top < 4:
        return None
    return _pen_ink(scan[top:bottom, left:right], template[top:bottom, left:right], dpi)


def _glyphs_of(flat: Gray, mask: np.ndarray, dpi: float) -> list[Gray]:
    pad = max(1, round(GLYPH_PAD_MM * dpi / MM_PER_INCH))
    # Only the pen's ink goes to the reader: the template is paper there.
    glyph = np.where(mask, flat, 255).astype(np.uint8)
    out = []
    for x0, y0, x1, y1 in _glyph_boxes(mask, dpi):
        y_a, y_b = max(y0 - pad, 0), min(y1 + pad, glyph.shape[0])
        x_a, x_b = max(x0 - pad, 0), min(x1 + pad, glyph.shape[1])
        out.append(np.ascontiguousarray(glyph[y_a:y_b, x_a:x_b]))
    return out


def _glyphs_in(scan: Gray, template: Gray, box: Box, dpi: float) -> list[Gray]:
    ink = _ink_in(scan, template, box, dpi)
    return [] if ink is None else _glyphs_of(*ink, dpi)


def _needs_segmenting(cells: Sequence[CellReading], n: int) -> bool:
    return len(cells) != n or any(c.digit is None or c.top[0][1] < UNSURE for c in cells)


def _resegmented(flat: Gray, mask: np.ndarray, dpi: float, n: int, pitch: float,
                 glyphs: list[Gray], cells: list[CellReading]
                 ) -> tuple[list[Gray], list[CellReading]]:
    """The glyphs as connected ink gave them, or the reader's better split into `n` digits."""
    if not _needs_segmenting(cells, n):
        return glyphs, cells
    k = dpi / MM_PER_INCH
    split = segment(flat, mask, n, pitch, read_cells, min_area=MIN_GLYPH_MM2 * k * k,
                    min_height=MIN_GLYPH_HEIGHT_MM * k,
                    pad=max(1, round(GLYPH_PAD_MM * k)))
    if split is None or (len(cells) == n and split.score <= glyph_score(cells)):
        return glyphs, cells
    return list(split.glyphs), list(split.cells)


def read_hand_comb(scan: Gray, template: Gray, field: FieldSpec, dpi: float,
                   window: DateWindow | None = None, *, repair: bool = True) -> HandReading:
    """The value written by hand in a comb (or beside it), decoded against the field's rules."""
    box = field.box
    n = digit_count(field)
    pitch = field.cells[0].w * dpi / MM_PER_INCH if field.cells else None
    around = Box(box.x - 1.0, box.y - 1.5, box.w + 2.0, box.h + 3.0)
    ink = _ink_in(scan, template, around, dpi)
    glyphs = [] if ink is None else _glyphs_of(*ink, dpi)
    where = "cells"
    cells = read_cells(glyphs)
    if glyphs and ink is not None and pitch is not None:
        # Touching digits, a digit in pieces, a border's sliver: the reader decides the cut.
        glyphs, cells = _resegmented(*ink, dpi, n, pitch, glyphs, cells)
    if not glyphs:
        for beside in (Box(box.right + 0.5, box.y - 1.0, BESIDE_RIGHT_MM, box.h + 2.0),
                       Box(box.x - 1.0, box.bottom + 0.3, box.w + 2.0, BESIDE_BELOW_MM)):
            ink = _ink_in(scan, template, beside, dpi)
            found = [] if ink is None else _glyphs_of(*ink, dpi)
            if ink is None or not found:
                continue
            read = read_cells(found)
            if pitch is not None:
                # Written freely, digits touch more often than in cells; people write
                # beside a comb at about its size.
                found, read = _resegmented(*ink, dpi, n, pitch, found, read)
            if len(found) == n:
                glyphs, cells, where = found, read, "beside"
                break
    if not glyphs:
        return HandReading("", "", 1.0)
    result = decode(field, cells, window, repair=repair)
    return HandReading(result.value, result.raw, result.confidence, result.doubtful, where,
                       tuple(cells))


@dataclass(frozen=True, slots=True)
class Decoded:
    value: str
    raw: str
    confidence: float
    doubtful: tuple[int, ...]


def _accepts(field: FieldSpec, digits: str, window: DateWindow | None = None) -> str | None:
    """The canonical value of `digits` under the field's rules, or None.

    A date must be a real calendar date, and inside `window` when one is given.
    """
    text = digits
    if field.type is FieldType.DATE:
        text = f"{digits[:4]}-{digits[4:6]}-{digits[6:8]}"
    try:
        value = clean_field(field, text)
    except InvalidValue:
        return None
    if field.type is not FieldType.DATE or window is None:
        return value
    return value if window[0] <= dt.date.fromisoformat(value) <= window[1] else None


def _ranked(options: Sequence[Sequence[tuple[str, float]]], limit: int = MAX_TRIES
            ) -> list[tuple[float, tuple[int, ...]]]:
    """Index combinations of `options` (each cell's digits, likeliest first), likeliest first."""
    logs = [[math.log(max(p, 1e-9)) for _d, p in cell] for cell in options]
    start = tuple(0 for _ in options)
    best = sum(cell[0] for cell in logs)
    heap = [(-best, start)]
    seen = {start}
    out: list[tuple[float, tuple[int, ...]]] = []
    while heap and len(out) < limit:
        neg, combo = heapq.heappop(heap)
        out.append((-neg, combo))
        for i, j in enumerate(combo):
            if j + 1 < len(options[i]):
                nxt = (*combo[:i], j + 1, *combo[i + 1:])
                if nxt not in seen:
                    seen.add(nxt)
                    heapq.heappush(heap, (neg - logs[i][j + 1] + logs[i][j], nxt))
    return out


def date_window(today: dt.date) -> DateWindow:
    """The dates a form signed now can carry: from two years back to a month ahead."""
    return (today - dt.timedelta(days=DATE_PAST_DAYS), today + dt.timedelta(days=DATE_AHEAD_DAYS))


def decode(field: FieldSpec, cells: Sequence[CellReading],
           window: DateWindow | None = None, *, repair: bool = True) -> Decoded:
    """The most probable digit string from the cells' top-k that the field's rules accept.

    For a date, `window` is where a signing date can plausibly lie: a reading
    outside it is decoded like one that fails a check digit (an unsure digit
    may give way), and when nothing inside passes, a real date outside it is
    kept as read, never sure; validation then says what is wrong with it.
    With `repair` off (a number changed by hand, which its writer may have
    miswritten), a failing reading is never changed, only marked.
    """
    raw = "".join(c.digit or "?" for c in cells)
    wanted = digit_count(field)
    unsure = tuple(i for i, c in enumerate(cells) if c.top[0][1] < UNSURE)
    written = [c for c in cells if c.label != "empty"]
    if len(written) != wanted:
        # Not the field's number of digits: what was read stands, for a person.
        doubt = tuple(i + 1 for i in range(len(cells)))
        return Decoded(raw.replace("?", ""), raw, COUNT_OFF_CONFIDENCE, doubt)
    options = [c.top for c in written]
    first = "".join(d for d, _p in (o[0] for o in options))
    p_first = math.prod(p for _d, p in (o[0] for o in options))
    # How sure the reader is that every glyph is a digit at all.
    p_digits = math.prod(max(0.0, 1.0 - c.p_empty - c.p_not_digit) for c in written)
    value = _accepts(field, first, window)
    if value is not None:
        # The posterior of the first reading among the passing strings the reader allows.
        passing = [math.exp(s) for s, combo in _ranked(options, POSTERIOR_TRIES)
                   if _accepts(field, "".join(options[i][j][0] for i, j in enumerate(combo)))]
        posterior = p_first / max(sum(passing), p_first)
        return Decoded(value, raw, min(1.0, posterior * p_first ** 0.5 * p_digits), ())
    scored: list[tuple[float, str]] = []
    for score, combo in _ranked(options) if repair else ():
        changed = [i for i, j in enumerate(combo) if j]
        if any(i not in unsure for i in changed):
            continue  # a confidently read digit is never changed
        digits = "".join(options[i][j][0] for i, j in enumerate(combo))
        accepted = _accepts(field, digits, window)
        if accepted is not None:
            scored.append((math.exp(score), accepted))
            if len(scored) == 2:
                break
    doubt = tuple(i + 1 for i in unsure)
    if not scored or (len(scored) > 1 and scored[1][0] * RIVAL_FACTOR > scored[0][0]):
        if field.type is FieldType.DATE:
            as_read = _accepts(field, first)
            return Decoded(as_read or "", raw, OUTSIDE_CONFIDENCE if as_read else 0.2, doubt)
        return Decoded(first, raw, 0.2 * p_digits, doubt)
    return Decoded(scored[0][1], raw, CHANGED_CONFIDENCE * p_digits, doubt)
