"""Cutting a comb's ink into the field's number of digits, with the committed reader's scores.

Held-out MNIST digits (never trained on) are drawn onto paper: two that touch
must come out as two digits, one broken in two by a taken-out border must
come out as one, and ink that cannot make the asked number of digits gives
no split at all. The page tests write touching digits across the cell
borders of a blank form's organisationsnummer comb and read it whole.
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

from forms import FieldType, FormKind, form_spec
from intake.scan.digits import read_cells
from intake.scan.handwritten import read_hand_comb
from intake.scan.segment import segment
from intake.scan.validate import LOW_CONFIDENCE
from render import blank_page_image
from samples.scans.mnist import held_out

DPI = 200
PITCH = 40.0  # px: a comb cell at 200 dpi is about 5 mm
SPEC = form_spec(FormKind.DISCONNECT)
ORGNR = next(f for f in SPEC.fields if f.type is FieldType.ORGNR)
Gray = npt.NDArray[np.uint8]


def _digit(digit: int, index: int, height: int) -> Gray:
    """A held-out MNIST digit as ink (255 = ink), cropped and scaled to `height` px."""
    glyph = held_out()[digit][index % 100]
    rows = np.flatnonzero(glyph.max(axis=1) > 40)
    cols = np.flatnonzero(glyph.max(axis=0) > 40)
    glyph = glyph[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    scale = height / glyph.shape[0]
    return np.asarray(cv2.resize(glyph, None, fx=scale, fy=scale), np.uint8)


def _paper(*placed: tuple[Gray, int]) -> tuple[Gray, npt.NDArray[np.bool_]]:
    """Ink glyphs at x offsets on white paper: the grey image and its ink mask."""
    paper = np.full((60, 240), 255, np.uint8)
    for ink, x in placed:
        region = paper[8:8 + ink.shape[0], x:x + ink.shape[1]]
        np.minimum(region, 255 - ink[:, :region.shape[1]], out=region)
    return paper, paper < 160


def _split(paper: Gray, mask: npt.NDArray[np.bool_], n: int) -> str | None:
    got = segment(paper, mask, n, PITCH, read_cells, min_area=8, min_height=10, pad=2)
    return None if got is None else "".join(c.top[0][0] for c in got.cells)


def test_two_digits_that_touch_come_out_as_two() -> None:
    right = 0
    for trial in range(6):
        a, b = _digit(3, trial, 38), _digit(5, 10 + trial, 38)
        # The second starts inside the first: their ink runs together.
        paper, mask = _paper((a, 20), (b, 20 + a.shape[1] - 4))
        count = cv2.connectedComponents(mask.astype(np.uint8))[0] - 1
        assert count >= 1
        right += _split(paper, mask, 2) == "35"
    assert right >= 5


def test_a_digit_broken_by_a_taken_out_border_comes_out_whole() -> None:
    right = 0
    for trial in range(6):
        ink = _digit(8, 20 + trial, 38)
        paper, mask = _paper((ink, 60))
        middle = 60 + ink.shape[1] // 2
        paper[:, middle:middle + 2] = 255  # where a printed border was removed
        mask[:, middle:middle + 2] = False
        right += _split(paper, mask, 1) == "8"
    assert right >= 5


def test_ink_that_cannot_make_the_digits_gives_no_split() -> None:
    paper, mask = _paper((_digit(1, 3, 38), 100))
    assert _split(paper, mask, 8) is None
    assert _split(np.full((60, 240), 255, np.uint8), np.zeros((60, 240), bool), 2) is None


def _write(page: Gray, digit: int, index: int, x_mm: float, y_mm: float, height_mm: float
           ) -> None:
    k = DPI / 25.4
    ink = _digit(digit, index, round(height_mm * k))
    x0, y0 = round(x_mm * k - ink.shape[1] / 2), round(y_mm * k - ink.shape[0] / 2)
    region = page[y0:y0 + ink.shape[0], x0:x0 + ink.shape[1]]
    np.minimum(region, 255 - ink, out=region)


def test_digits_written_across_borders_into_each_other_are_read_exactly() -> None:
    template = blank_page_image(FormKind.DISCONNECT, dpi=DPI)
    exact = 0
    for trial in range(5):
        page = template.copy()
        for i, (cell, ch) in enumerate(zip(ORGNR.cells, "5591538508", strict=True)):
            # Every third digit is written 30 % of a cell over into its right neighbour.
            shift = 0.3 * cell.w if i % 3 == 1 else 0.0
            _write(page, int(ch), 11 * trial + i, cell.x + cell.w / 2 + shift,
                   cell.y + cell.h / 2, 5.0)
        got = read_hand_comb(page, template, ORGNR, DPI)
        exact += got.value == "559153-8508"
        if got.value != "559153-8508":
            assert got.confidence < LOW_CONFIDENCE  # wrong, then never silently
    assert exact >= 4
