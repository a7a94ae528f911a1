"""Printed number combs changed by hand: which cells, and what the paper now says.

A customer who finds a wrong number on a pre-filled form whites out a digit
and writes another in its cell, writes over the printed digit, or strikes the
whole number through and writes the new one above it. Tesseract reads print;
a pen's digit in a printed comb it misreads, and the check-digit repair that
followed then made up a number on neither the paper nor the issued form
(issue 11). This module compares every cell of a printed organisationsnummer
or subscription comb with the page as issued:

* a cell is *changed* when its ink and the issued print differ: printed
  pixels with no ink near them (white-out) plus ink with no print near it
  (a digit written over or instead of the print), as a share of the printed
  digit, at the best of a few pixels' shift. On the committed corpus every
  untouched cell scored at most 0.023 and every changed one at least 0.46;
  `MISMATCH` sits between, nearer the untouched side, since a person's
  digit in the same place as a printed one may overlap much of it;
* a comb with no changed cell is left to Tesseract, which reads our print
  exactly;
* a comb struck through (one pen stroke across most of its cells) is read
  from the pen's ink alone, the print removed: the number written by it;
* otherwise every cell is read by the digit reader with only the comb's
  printed borders removed, so a changed cell gives the pen's digit and an
  untouched one its printed digit (the reader is trained on the form's
  font). What is read stands: a number that fails its check digit is never
  "repaired" here, since the person may have miswritten it; validation
  names the paper's and the issued number.
"""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np

from forms import MM_PER_INCH, Box, FieldSpec, FieldType
from intake.scan.digits import read_cells
from intake.scan.handwritten import HandReading, decode, digit_count, read_hand_comb
from intake.scan.ink import INK_LEVEL, flatten
from intake.scan.model import Gray

NUMBER_TYPES = (FieldType.ORGNR, FieldType.SUBSCRIPTION)
CELL_INSET_MM = 0.35  # inside the printed cell border
SCAN_NEAR_MM = 0.35  # a printed pixel is still there when scan ink is this close to it
ALIGN_SLACK_MM = 0.25  # the print is compared at shifts up to this (alignment residue)
MISMATCH = 0.2  # ink missing plus ink added, as a share of the printed digit: changed
PEN_MM2 = 1.0  # this much ink in a cell the issued page left empty: a digit written in it
MIN_PRINT_PX = 12  # fewer printed digit pixels: the issued cell is empty
STRUCK_CELLS = 3.0  # a pen stroke this many cells wide through the digits strikes them out
STRUCK_FLAT = 0.4  # and it is this flat (height / width)
# However clearly it reads, a number changed by hand on a pre-filled form is for a person.
CHANGED_CONFIDENCE = 0.5
REWRITE_ABOVE_MM = 2.0  # a struck number's replacement is looked for this far above the comb


def _disc(radius: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


def _px(box: Box, dpi: float, shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    left, top, right, bottom = box.to_pixels(dpi)
    return max(left, 0), max(top, 0), min(right, shape[1]), min(bottom, shape[0])


def _shifted(mask: np.ndarray, dx: int, dy: int) -> np.ndarray:
    out = np.zeros_like(mask)
    h, w = mask.shape
    out[max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = \
        mask[max(-dy, 0):h + min(-dy, 0), max(-dx, 0):w + min(-dx, 0)]
    return out


def cell_mismatch(scan: Gray, expected: Gray, blank: Gray, cell: Box, dpi: float) -> float:
    """How far a cell's ink is from its issued print: ink missing plus ink added, as a share
    of the printed digit, at the best of a few pixels' shift (the page's alignment is not
    exact); the unshifted figure when that is already below `MISMATCH`. For a cell the
    issued page left empty: 1 when a digit's worth of ink is in it, else 0."""
    k = dpi / MM_PER_INCH
    left, top, right, bottom = _px(cell.inset(CELL_INSET_MM), dpi, scan.shape)
    if right - left < 4 or bottom - top < 4:
        return 0.0
    ink = flatten(np.ascontiguousarray(scan[top:bottom, left:right])) < INK_LEVEL
    form = cv2.dilate((blank[top:bottom, left:right] < INK_LEVEL).astype(np.uint8),
                      np.ones((5, 5), np.uint8)) > 0
    ink &= ~form
    digit = (expected[top:bottom, left:right] < INK_LEVEL) & ~form
    printed = int(digit.sum())
    if printed < MIN_PRINT_PX:
        return 1.0 if ink.sum() >= PEN_MM2 * k * k else 0.0
    near = _disc(max(1, round(SCAN_NEAR_MM * k)))
    ink_near = cv2.dilate(ink.astype(np.uint8), near) > 0
    digit_near = cv2.dilate(digit.astype(np.uint8), near) > 0
    best = (int((digit & ~ink_near).sum()) + int((ink & ~digit_near).sum())) / printed
    if best < MISMATCH:
        return best  # unchanged as it lies; no shift can make it more so
    reach = max(1, round(ALIGN_SLACK_MM * k))
    for dy in range(-reach, reach + 1):
        for dx in range(-reach, reach + 1):
            # Shifting and dilating commute: the print's neighbourhood is shifted, not redone.
            missing = int((_shifted(digit, dx, dy) & ~ink_near).sum())
            added = int((ink & ~_shifted(digit_near, dx, dy)).sum())
            best = min(best, (missing + added) / printed)
    return best


def changed_cells(scan: Gray, expected: Gray, blank: Gray, field: FieldSpec,
                  dpi: float) -> tuple[int, ...]:
    """Indices of the cells whose ink is not the issued print's (see the module docstring)."""
    return tuple(i for i, cell in enumerate(field.cells)
                 if cell_mismatch(scan, expected, blank, cell, dpi) >= MISMATCH)


def _strike(scan: Gray, expected: Gray, field: FieldSpec, dpi: float) -> np.ndarray | None:
    """The pixels of a pen stroke through most of the comb's digits (comb box), or None."""
    k = dpi / MM_PER_INCH
    left, top, right, bottom = _px(field.box, dpi, scan.shape)
    ink = flatten(np.ascontiguousarray(scan[top:bottom, left:right])) < INK_LEVEL
    issued = expected[top:bottom, left:right] < INK_LEVEL
    # Only ink the print lacks, so the comb's own top and bottom edges are no stroke.
    pen = ink & ~(cv2.dilate(issued.astype(np.uint8), _disc(max(1, round(0.3 * k)))) > 0)
    # The stroke is broken where it crosses print; close those gaps along the line.
    gap = max(3, round(1.5 * k))
    line = cv2.morphologyEx(pen.astype(np.uint8), cv2.MORPH_CLOSE, np.ones((1, gap), np.uint8))
    cell_w = field.cells[0].w * k
    count, labels, stats, _c = cv2.connectedComponentsWithStats(line, connectivity=8)
    strokes = [i for i in range(1, count)
               if stats[i, 2] >= STRUCK_CELLS * cell_w and stats[i, 3] <= STRUCK_FLAT * stats[i, 2]]
    if not strokes:
        return None
    # The stroke where it crosses the print too: all ink within a pen's width of it.
    near = cv2.dilate(np.isin(labels, strokes).astype(np.uint8), _disc(max(1, round(0.25 * k))))
    return ink & (near > 0)


def _cell_crop(scan: Gray, blank: Gray, cell: Box, dpi: float) -> Gray:
    """The cell as scanned with the blank form's print (its borders) made paper."""
    left, top, right, bottom = _px(cell.inset(CELL_INSET_MM / 2), dpi, scan.shape)
    flat = flatten(np.ascontiguousarray(scan[top:bottom, left:right]))
    form = cv2.dilate((blank[top:bottom, left:right] < INK_LEVEL).astype(np.uint8),
                      np.ones((3, 3), np.uint8)) > 0
    return np.ascontiguousarray(np.where(form, 255, flat).astype(np.uint8))


def read_changed_comb(scan: Gray, expected: Gray, blank: Gray, field: FieldSpec,
                      dpi: float) -> HandReading | None:
    """The number a printed comb shows after a change by hand, or None when it is unchanged."""
    if field.type not in NUMBER_TYPES or not field.is_comb:
        return None
    changed = changed_cells(scan, expected, blank, field, dpi)
    if not changed:
        return None
    strike = _strike(scan, expected, field, dpi) if len(changed) >= STRUCK_CELLS else None
    if strike is not None:
        # The stroke is taken off, so only the digits written anew are the pen's.
        left, top, right, bottom = _px(field.box, dpi, scan.shape)
        scan = scan.copy()
        scan[top:bottom, left:right][strike] = 255
        box = field.box
        above = dataclasses.replace(
            field, box=Box(box.x, box.y - REWRITE_ABOVE_MM, box.w, box.h + REWRITE_ABOVE_MM))
        rewritten = read_hand_comb(scan, expected, above, dpi, repair=False)
        return HandReading(rewritten.value, rewritten.raw,
                           min(rewritten.confidence, CHANGED_CONFIDENCE),
                           rewritten.doubtful, "rewritten", rewritten.cells)
    cells = read_cells([_cell_crop(scan, blank, cell, dpi)
                        for cell in field.cells[:digit_count(field)]])
    result = decode(field, cells, repair=False)
    return HandReading(result.value, result.raw, min(result.confidence, CHANGED_CONFIDENCE),
                       result.doubtful, "changed",
                       tuple(cells), changed=tuple(i + 1 for i in changed))
