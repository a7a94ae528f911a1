"""Numbers by hand with held-out MNIST digits: in the cells, over a border, beside; white-out."""

from __future__ import annotations

import numpy as np
import pytest

from forms import FormKind, form_spec
from samples.scans.degrade import RENDER_DPI
from samples.scans.fill import printed_page
from samples.scans.handdigits import glyph, room_right, white_out, write_number
from samples.scans.handwriting import InkLayer, Pen
from samples.scans.mnist import HELD_OUT_FROM, held_out, load_mnist
from samples.scans.plan import DocumentPlan
from samples.scans.values import SampleRegistry, passes, random_form_id, value_set, whiteout

SPEC = form_spec(FormKind.DUAL)
SHAPE = (round(297 * RENDER_DPI / 25.4), round(210 * RENDER_DPI / 25.4))
K = RENDER_DPI / 25.4


def _layer(seed: int) -> InkLayer:
    return InkLayer(SHAPE, RENDER_DPI, Pen.random(np.random.default_rng(seed)))


def _ink(layer: InkLayer, x0: float, y0: float, x1: float, y1: float) -> int:
    a = layer.alpha[round(y0 * K):round(y1 * K), round(x0 * K):round(x1 * K)]
    return int((a > 64).sum())


def test_the_digits_are_the_last_hundred_of_each_never_the_training_ones() -> None:
    images, labels = load_mnist()
    for d, held in held_out().items():
        mine = images[np.flatnonzero(labels == d)]
        assert held.shape == (100, 28, 28)
        assert np.array_equal(held, mine[HELD_OUT_FROM:])
        assert not any(np.array_equal(h, t) for h in held[:5] for t in mine[:HELD_OUT_FROM])


@pytest.mark.parametrize("height", [3.5, 4.5, 5.5])
def test_a_glyph_is_as_tall_as_asked_and_no_wider_than_allowed(height: float) -> None:
    rng = np.random.default_rng(int(height * 10))
    layer = _layer(1)
    for digit in range(10):
        _, (x0, y0, x1, y1) = glyph(layer, digit, height, rng, max_width_mm=4.0)
        assert abs((y1 - y0) / K - height) < 0.2 * height
        assert (x1 - x0) / K < 4.0 + 0.15 * height  # the slant may add a little


@pytest.mark.parametrize("seed", range(6))
def test_cells_put_one_digit_in_each_cell(seed: int) -> None:
    layer = _layer(seed)
    field = SPEC.field("client_orgnr")
    write_number(layer, field, "556969-4408", "cells", np.random.default_rng(seed))
    for cell in field.cells:
        assert _ink(layer, cell.x, cell.y, cell.right, cell.bottom) > 50
    box = field.box
    total = int((layer.alpha > 64).sum())
    assert _ink(layer, box.x - 0.5, box.y - 0.5, box.right + 0.5, box.bottom + 0.5) == total


def _over_borders(layer: InkLayer, field_name: str) -> int:
    field = SPEC.field(field_name)
    over = 0
    for cell in field.cells:
        for x in (cell.x, cell.right):
            over += _ink(layer, x - 0.15, cell.y + 0.5, x + 0.15, cell.bottom - 0.5)
        over += _ink(layer, cell.x + 0.5, cell.bottom - 0.1, cell.right - 0.5, cell.bottom + 0.8)
    return over


def test_crossing_runs_strokes_over_a_border_and_cells_hardly_do() -> None:
    crossing = cells = 0
    for seed in range(8):
        for layout in ("crossing", "cells"):
            layer = _layer(seed)
            write_number(layer, SPEC.field("client_subscription"), "10040582", layout,
                         np.random.default_rng(seed))
            if layout == "crossing":
                crossing += _over_borders(layer, "client_subscription") > 30
            else:
                cells += _over_borders(layer, "client_subscription") > 30
    assert crossing == 8
    assert cells <= 2


@pytest.mark.parametrize("seed", range(8))
def test_beside_leaves_the_boxes_empty(seed: int) -> None:
    layer = _layer(seed)
    field = SPEC.field("client_date")
    others = [f.box for f in SPEC.fields] + [s.role_box for s in SPEC.signatures]
    room = room_right(field.box, others, 195.0)
    write_number(layer, field, "2026-01-14", "beside", np.random.default_rng(seed), room)
    for cell in field.cells:
        assert _ink(layer, cell.x + 0.3, cell.y + 0.3, cell.right - 0.3, cell.bottom - 0.3) == 0
    box = field.box
    right = _ink(layer, box.right, box.y - 1, box.right + room, box.bottom + 1)
    below = _ink(layer, box.x - 1, box.bottom, box.right + 10, box.bottom + 9)
    assert right + below == int((layer.alpha > 64).sum()) > 500


def test_room_right_stops_at_the_next_box_on_the_line() -> None:
    orgnr, subscription = SPEC.field("client_orgnr"), SPEC.field("client_subscription")
    room = room_right(orgnr.box, [f.box for f in SPEC.fields], 195.0)
    assert room == pytest.approx(subscription.box.x - orgnr.box.right)


def test_white_out_hides_the_printed_digit_and_a_digit_is_written_on_it() -> None:
    reg = SampleRegistry()
    rng = np.random.default_rng(2)
    values = value_set(reg, FormKind.DUAL, rng)
    parties = {s.party: True for s in SPEC.signatures}
    doc = DocumentPlan(FormKind.DUAL, random_form_id(rng), True, values, {}, (), parties,
                       dict.fromkeys(parties), False)
    page = printed_page(doc)
    paper = np.dstack([page] * 3)
    field = SPEC.field("client_orgnr")
    change = whiteout(reg, field, values["client_orgnr"], False, rng)
    layer = _layer(3)
    white_out(paper, page, layer, field, change.positions, change.hand_value, rng)
    (pos,) = change.positions
    x0, y0, x1, y1 = field.cells[pos].inset(0.8).to_pixels(RENDER_DPI)
    assert (page[y0:y1, x0:x1] < 128).sum() > 100  # there was a printed digit
    assert (paper[y0:y1, x0:x1].min(axis=2) < 200).sum() == 0  # now correction fluid
    assert 225 < paper[y0:y1, x0:x1].mean() < 254  # off-white, not the paper's 255
    assert (layer.alpha[y0:y1, x0:x1] > 64).sum() > 100
    other = field.cells[(pos + 1) % len(field.cells)].inset(0.8).to_pixels(RENDER_DPI)
    assert np.array_equal(paper[other[1]:other[3], other[0]:other[2], 0],
                          page[other[1]:other[3], other[0]:other[2]])


@pytest.mark.parametrize("name", ["client_orgnr", "client_subscription", "new_firm_orgnr"])
def test_a_whiteout_change_is_one_invalid_digit_or_two_cells_that_pass(name: str) -> None:
    reg = SampleRegistry()
    rng = np.random.default_rng(7)
    values = value_set(reg, FormKind.DUAL, rng)
    field = SPEC.field(name)
    for valid in (False, True, False, True):
        c = whiteout(reg, field, values[name], valid, rng)
        old = [ch for ch in c.printed if ch.isdigit()]
        new = [ch for ch in c.hand_value if ch.isdigit()]
        assert [i for i, (a, b) in enumerate(zip(old, new, strict=True)) if a != b] == list(
            c.positions)
        assert len(c.positions) == (2 if valid else 1)
        assert c.valid is valid is passes(field, c.hand_value)
        assert len(c.hand_value) == len(c.printed)
