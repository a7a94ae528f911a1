"""Handwritten combs: the decoding against the field's rules, and real digits on a blank page.

The decoding tests give `decode` cell readings made by hand, so each rule is
seen alone: a first reading that passes stands; a failing one may change only
an unsure digit; a confident digit is never changed to pass a check; a date
outside the signing window gives way to a likelier one inside it. The page
test writes held-out MNIST digits (never trained on) into the
organisationsnummer comb of a blank form, one crossing a cell border, and
reads them with the committed model.
"""

from __future__ import annotations

import datetime as dt

import cv2
import numpy as np
import numpy.typing as npt

from forms import FieldType, FormKind, form_spec
from intake.scan.digits import CellReading
from intake.scan.handwritten import (
    CHANGED_CONFIDENCE,
    date_window,
    decode,
    is_hand_comb,
    read_hand_comb,
)
from intake.scan.validate import LOW_CONFIDENCE
from render import blank_page_image
from samples.scans.mnist import held_out

DPI = 200
SPEC = form_spec(FormKind.DISCONNECT)
ORGNR = next(f for f in SPEC.fields if f.type is FieldType.ORGNR)
DATE = next(f for f in SPEC.fields if f.type is FieldType.DATE)


def _cell(digit: str, p: float, second: str = "", q: float = 0.0) -> CellReading:
    rest = [d for d in "0123456789" if d not in (digit, second)]
    top = [(digit, p)] + ([(second, q)] if second else []) + [(rest[0], 0.001)]
    return CellReading(top=tuple(top[:3]), p_empty=0.0, p_not_digit=0.0)


def _sure(text: str) -> list[CellReading]:
    return [_cell(ch, 0.999) for ch in text]


def test_a_first_reading_that_passes_stands_and_is_sure() -> None:
    got = decode(ORGNR, _sure("5569694408"))
    assert got.value == "556969-4408"
    assert got.confidence >= LOW_CONFIDENCE
    assert got.doubtful == ()


def test_an_unsure_digit_gives_way_to_pass_the_check_digit_but_never_sure() -> None:
    cells = _sure("5569694408")
    cells[3] = _cell("8", 0.6, "9", 0.35)  # read 5568694408, which fails Luhn
    got = decode(ORGNR, cells)
    assert got.value == "556969-4408"
    assert got.confidence <= CHANGED_CONFIDENCE < LOW_CONFIDENCE
    assert got.doubtful == (4,)


def test_a_confident_digit_is_never_changed_to_pass_a_check() -> None:
    cells = _sure("5568694408")  # a miswritten number: every digit clearly written
    got = decode(ORGNR, cells)
    assert got.value == "5568694408"  # what the paper says, not a number nobody wrote
    assert got.confidence < LOW_CONFIDENCE


def test_two_passing_strings_about_as_likely_are_not_chosen_between() -> None:
    cells = _sure("5569694408")
    cells[3] = _cell("8", 0.4, "9", 0.35)
    cells[9] = _cell("1", 0.4, "8", 0.35)  # 5568694401 and 5569694408 might both pass
    got = decode(ORGNR, cells)
    assert got.confidence < LOW_CONFIDENCE


def test_a_date_outside_the_signing_window_gives_way_to_an_unsure_digit() -> None:
    window = date_window(dt.date(2026, 1, 20))
    cells = _sure("20260114")
    cells[3] = _cell("0", 0.7, "6", 0.25)  # 2020-01-14: a real date, six years back
    got = decode(DATE, cells, window)
    assert got.value == "2026-01-14"
    assert got.confidence < LOW_CONFIDENCE


def test_an_impossible_date_is_not_a_date() -> None:
    got = decode(DATE, _sure("20261340"), date_window(dt.date(2026, 1, 20)))
    assert got.value == ""
    assert got.confidence < LOW_CONFIDENCE


def _write(page: npt.NDArray[np.uint8], digit: int, sample: int, x_mm: float, y_mm: float,
           height_mm: float) -> None:
    k = DPI / 25.4
    glyph = held_out()[digit][sample]
    rows, cols = np.flatnonzero(glyph.max(axis=1)), np.flatnonzero(glyph.max(axis=0))
    glyph = glyph[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    scale = height_mm * k / glyph.shape[0]
    ink = cv2.resize(glyph, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)
    x0, y0 = round(x_mm * k - ink.shape[1] / 2), round(y_mm * k - ink.shape[0] / 2)
    region = page[y0:y0 + ink.shape[0], x0:x0 + ink.shape[1]]
    np.minimum(region, 255 - ink, out=region)


def test_held_out_handwritten_digits_on_a_blank_form_are_read_exactly() -> None:
    template = blank_page_image(FormKind.DISCONNECT, dpi=DPI)
    assert is_hand_comb(ORGNR, template, DPI)
    exact = 0
    for trial in range(5):
        page = template.copy()
        for i, (cell, ch) in enumerate(zip(ORGNR.cells, "5569694408", strict=True)):
            # The fourth digit runs over the border into its neighbour's cell.
            shift = 0.3 * cell.w if i == 3 else 0.0
            _write(page, int(ch), 7 * trial + i, cell.x + cell.w / 2 + shift,
                   cell.y + cell.h / 2, 4.6)
        got = read_hand_comb(page, template, ORGNR, DPI)
        exact += got.value == "556969-4408"
        if got.value != "556969-4408":
            assert got.confidence < LOW_CONFIDENCE  # wrong, then never silently
    assert exact >= 4


def test_a_number_written_beside_the_comb_is_found_there() -> None:
    template = blank_page_image(FormKind.DISCONNECT, dpi=DPI)
    page = template.copy()
    box = ORGNR.box
    for i, ch in enumerate("5569694408"):
        _write(page, int(ch), 50 + i, box.right + 3 + 3.6 * i, box.y + box.h / 2, 4.0)
    got = read_hand_comb(page, template, ORGNR, DPI)
    if got.where == "beside":
        assert got.value == "556969-4408" or got.confidence < LOW_CONFIDENCE
    else:
        assert got.value == ""  # nothing found is honest too: the field is then missing
