"""Numbers written by hand with real handwritten digits, and printed digits whited out.

Every digit a person writes into a number or date comb is one of the
held-out MNIST digits (`samples.scans.mnist.held_out`: the last 100 of each
digit, which the digit reader never trained on), a fresh random sample for
every instance. The glyph is cropped to its ink, so its height is the
digit's, scaled to the writer's size, turned and sheared a little, its
strokes thinned or thickened towards the pen's width, and pasted into the
writer's `InkLayer` as coverage (MNIST is a coverage map already).

How a comb is filled (`LAYOUTS`): digits in their cells with the offsets
people make; "crossing", where some digits are shifted so that part of the
stroke lies over a cell border; or "beside", the whole number written to
the right of the comb on its line (when there is room) or just below it,
with the boxes left empty. `white_out` is correction fluid over a printed
digit's cell and a handwritten digit on it.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import numpy.typing as npt

from forms import Box, FieldSpec
from samples.scans.handwriting import InkLayer, wobbly_line
from samples.scans.mnist import held_out

Gray = npt.NDArray[np.uint8]
Rgb = npt.NDArray[np.uint8]
LAYOUTS = ("cells", "crossing", "beside")
INK_FLOOR = 40  # MNIST coverage below this is anti-aliasing fringe, not the digit's extent
GLYPH_INK = 64  # coverage at or above this counts for a glyph's extent on the page
CROSS_SHARE = 0.3  # in a "crossing" comb, this share of its digits runs over a border
PRINT_INK = 128  # darker than this in the rendered page is printed ink


def comb_digits(field: FieldSpec, value: str) -> str:
    return "".join(ch for ch in value if ch not in field.separator and not ch.isspace())


def glyph(layer: InkLayer, digit: int, height_mm: float, rng: np.random.Generator,
          max_width_mm: float = 99.0) -> tuple[Gray, tuple[int, int, int, int]]:
    """One held-out MNIST `digit` as coverage at the layer's resolution, `height_mm` tall.

    A digit wider than `max_width_mm` is written narrower, as people squeeze into a cell.

    Returns the patch and its ink box (x0, y0, x1, y1) in patch pixels.
    """
    samples = held_out()[digit]
    image = samples[int(rng.integers(len(samples)))]
    ys, xs = np.nonzero(image >= INK_FLOOR)
    crop = image[ys.min():ys.max() + 1, xs.min():xs.max() + 1].astype(np.float32)
    sy = layer.px(height_mm) / crop.shape[0]
    sx = sy * float(rng.uniform(0.85, 1.12))  # people write narrower or wider than MNIST
    sx = min(sx, layer.px(max_width_mm) / crop.shape[1])
    crop = np.pad(crop, 2)
    size = (max(2, round(crop.shape[1] * sx)), max(2, round(crop.shape[0] * sy)))
    big = cv2.resize(crop, size, interpolation=cv2.INTER_AREA if sy < 1 else cv2.INTER_CUBIC)
    # A slight turn and shear of the writer's own, about the glyph's centre, with room around.
    pad = int(max(size) * 0.25) + 2
    big = np.pad(np.clip(big, 0, 255), pad)
    h, w = big.shape
    angle = float(rng.normal(0, 0.05))
    shear = float(rng.normal(0, 0.06)) - layer.pen.slant * 0.2
    m = np.array([[np.cos(angle), -np.sin(angle) - shear, 0.0],
                  [np.sin(angle), np.cos(angle), 0.0]])
    m[:, 2] = np.array([w / 2, h / 2]) - m[:, :2] @ np.array([w / 2, h / 2])
    turned = np.asarray(cv2.warpAffine(big, m, (w, h), flags=cv2.INTER_LINEAR), dtype=np.float32)
    inked = _to_pen_width(turned, layer.px(layer.pen.width_mm) * float(rng.uniform(1.0, 1.4)))
    # Cubic upscaling smears MNIST's soft edge into a halo; a pen's edge is sharp.
    alpha = np.clip((inked - 50.0) * (255.0 / 150.0), 0, 255) * float(rng.uniform(0.8, 1.0))
    patch = alpha.astype(np.uint8)
    ys, xs = np.nonzero(patch >= GLYPH_INK)
    if len(ys) == 0:
        return patch, (0, 0, 1, 1)
    return patch, (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)


def _to_pen_width(coverage: npt.NDArray[np.float32], target_px: float) -> npt.NDArray[np.float32]:
    """Thin or thicken the strokes by up to three pixels a side, towards `target_px`."""
    mask = (coverage > 127).astype(np.uint8)
    area = int(mask.sum())
    contours, _ = cv2.findContours(mask, cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
    perimeter = sum(cv2.arcLength(c, True) for c in contours)
    if area == 0 or perimeter == 0:
        return coverage
    width = 2.0 * area / perimeter  # a stroke of length L and width W: area LW, outline ~2L
    steps = int(np.clip(round((width - target_px) / 2), -3, 2))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
    if steps > 0:
        thinner = cv2.erode(coverage, kernel, iterations=steps)
        # Never thin a stroke away: a broken digit is not what the pen wrote.
        if (thinner > 127).sum() >= 0.55 * area:
            return np.asarray(thinner, dtype=np.float32)
        return coverage
    if steps < 0:
        return np.asarray(cv2.dilate(coverage, kernel, iterations=-steps), dtype=np.float32)
    return coverage


def _put(layer: InkLayer, patch: Gray, ink: tuple[int, int, int, int], left_mm: float,
         bottom_mm: float) -> None:
    """Paste `patch` so that its ink starts at `left_mm` and ends at `bottom_mm`."""
    x0, _, _, y1 = ink
    layer.paste(patch, round(layer.px(left_mm)) - x0, round(layer.px(bottom_mm)) - y1)


def _size_mm(layer: InkLayer, ink: tuple[int, int, int, int]) -> tuple[float, float]:
    return (ink[2] - ink[0]) / layer.k, (ink[3] - ink[1]) / layer.k


def write_number(layer: InkLayer, field: FieldSpec, value: str, layout: str,
                 rng: np.random.Generator, room_right_mm: float = 0.0) -> None:
    """`value` handwritten for the comb `field`, laid out as `layout` (one of `LAYOUTS`).

    `room_right_mm` is the free paper right of the comb on its line, for "beside".
    """
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}")
    if layout == "beside":
        _beside(layer, field, value, rng, room_right_mm)
        return
    digits = comb_digits(field, value)
    cells = field.cells[:len(digits)]
    crossing = set()
    if layout == "crossing":
        crossing = {i for i in range(len(cells)) if rng.random() < CROSS_SHARE}
        if not crossing:
            crossing = {int(rng.integers(len(cells)))}
    # Narrow cells (the dates') get smaller digits: people fit their writing to the box.
    top_mm = 5.5 if cells[0].w >= 5.5 else 4.8
    height = float(rng.uniform(3.5, top_mm))
    for i, (cell, ch) in enumerate(zip(cells, digits, strict=True)):
        patch, ink = glyph(layer, int(ch), height * float(rng.uniform(0.92, 1.08)), rng,
                           cell.w - 0.9)
        w, h = _size_mm(layer, ink)
        slack = max(0.0, cell.w - w - 0.5)
        x = cell.x + 0.25 + float(np.clip(slack / 2 + rng.normal(0, 0.35), 0, slack))
        bottom = cell.bottom - float(rng.uniform(0.8, max(0.9, min(2.0, cell.h - h - 0.4))))
        if i in crossing:
            over = float(rng.uniform(0.3, min(1.3, 0.25 * cell.w)))
            side = rng.random()
            if side < 0.4:
                x = cell.right + over - w
            elif side < 0.8:
                x = cell.x - over
            else:  # sat low: the foot of the digit goes through the comb's bottom edge
                bottom = cell.bottom + over
        _put(layer, patch, ink, x, bottom)


def _beside(layer: InkLayer, field: FieldSpec, value: str, rng: np.random.Generator,
            room_right_mm: float) -> None:
    """The number written on its own beside the comb: to the right when it fits, else below."""
    box = field.box
    height = float(rng.uniform(3.3, 4.6))
    gap = float(rng.uniform(0.3, 0.9))
    # Most people write the separator they read on the form; some leave a space instead.
    text = value if field.separator and rng.random() < 0.6 else value.replace(
        field.separator or "\0", " ")
    glyphs = [glyph(layer, int(ch), height * float(rng.uniform(0.93, 1.07)), rng)
              if ch.isdigit() else None for ch in text]
    width = sum(_size_mm(layer, g[1])[0] + gap if g else 2.2 for g in glyphs)
    if width + 4.0 < room_right_mm and rng.random() < 0.65:
        x = box.right + float(rng.uniform(2.0, 4.0))
        bottom = box.bottom - float(rng.uniform(1.2, 2.2))
    else:
        x = box.x + float(rng.uniform(0.0, 3.0))
        bottom = box.bottom + float(rng.uniform(0.8, 1.6)) + height
    for ch, g in zip(text, glyphs, strict=True):
        if g is not None:
            _put(layer, g[0], g[1], x, bottom + float(rng.normal(0, 0.15)))
            x += _size_mm(layer, g[1])[0] + gap
        elif ch == " ":
            x += 1.6
        else:
            y = bottom - height * float(rng.uniform(0.4, 0.55))
            layer.stroke(wobbly_line((x + 0.2, y), (x + float(rng.uniform(1.2, 1.8)), y), rng,
                                     0.1, 5))
            x += 2.2


def room_right(box: Box, others: Sequence[Box], page_right_mm: float) -> float:
    """Free paper right of `box` on its line: up to the next box there, or the margin."""
    edge = page_right_mm
    for other in others:
        overlaps = other.y < box.bottom and other.bottom > box.y
        if overlaps and other.x >= box.right - 0.1 and other is not box:
            edge = min(edge, other.x)
    return max(0.0, edge - box.right)


def small_digits(layer: InkLayer, field: FieldSpec, value: str, rng: np.random.Generator) -> None:
    """A whole number rewritten small in the top of the cells, above the struck one."""
    height = float(rng.uniform(2.5, 2.9))
    for cell, ch in zip(field.cells, comb_digits(field, value), strict=False):
        patch, ink = glyph(layer, int(ch), height, rng, cell.w - 1.2)
        w, _ = _size_mm(layer, ink)
        x = cell.x + (cell.w - w) / 2 + float(rng.normal(0, 0.2))
        _put(layer, patch, ink, x, field.box.y + height + float(rng.uniform(0.2, 0.6)))


def _printed_ink(printed: Gray, cell: Box, dpi: float) -> tuple[int, int, int, int]:
    """Pixel box of the printed digit inside `cell` (its border left out)."""
    left, top, right, bottom = cell.inset(0.6).to_pixels(dpi)
    ys, xs = np.nonzero(printed[top:bottom, left:right] < PRINT_INK)
    if len(ys) == 0:
        cx, cy = (left + right) // 2, (top + bottom) // 2
        return cx - 10, cy - 20, cx + 10, cy + 20
    return left + int(xs.min()), top + int(ys.min()), left + int(xs.max()) + 1, \
        top + int(ys.max()) + 1


def white_out(paper: Rgb, printed: Gray, layer: InkLayer, field: FieldSpec,
              positions: Sequence[int], hand_value: str, rng: np.random.Generator) -> None:
    """Correction fluid over the printed digits at `positions`, and the new digits on it.

    The blob is irregular and a little larger than the printed digit, so now
    and then it covers part of a cell border; it is a warm, grainy off-white
    with the faint ridge dried fluid leaves at its edge. `paper` (RGB) is
    changed in place; the digits go into `layer`, in the pen's colour.
    """
    k = layer.k
    digits = comb_digits(field, hand_value)
    for pos in positions:
        x0, y0, x1, y1 = _printed_ink(printed, field.cells[pos], k * 25.4)
        cx = (x0 + x1) / 2 + rng.normal(0, 0.25 * k)
        cy = (y0 + y1) / 2 + rng.normal(0, 0.25 * k)
        rx = (x1 - x0) / 2 + float(rng.uniform(0.8, 1.8)) * k
        ry = (y1 - y0) / 2 + float(rng.uniform(0.6, 1.4)) * k
        theta = np.linspace(0, 2 * np.pi, 60, endpoint=False)
        wobble = 1 + sum(float(rng.uniform(0, 0.08))
                         * np.sin(j * theta + float(rng.uniform(0, 6.3))) for j in range(2, 7))
        poly = np.column_stack([cx + rx * wobble * np.cos(theta),
                                cy + ry * wobble * np.sin(theta)])
        pad = 6
        left, top = int(poly[:, 0].min()) - pad, int(poly[:, 1].min()) - pad
        right, bottom = int(poly[:, 0].max()) + pad, int(poly[:, 1].max()) + pad
        mask = np.zeros((bottom - top, right - left), dtype=np.uint8)
        local = np.round((poly - [left, top]) * 4).astype(np.int32)
        cv2.fillPoly(mask, [local], 255, cv2.LINE_AA, 2)
        soft = cv2.GaussianBlur(mask, (0, 0), 0.8).astype(np.float32) / 255.0
        edge = cv2.morphologyEx(mask, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8))
        ridge = cv2.GaussianBlur(edge, (0, 0), 1.0).astype(np.float32) / 255.0
        white = float(rng.uniform(242, 252))
        tint = np.array([white, white - 1.5, white - float(rng.uniform(3, 8))], dtype=np.float32)
        grain = cv2.GaussianBlur(rng.normal(0, 3.0, mask.shape).astype(np.float32), (0, 0), 0.7)
        fluid = tint[None, None, :] + grain[..., None] - ridge[..., None] * float(
            rng.uniform(5, 12))
        cover = soft[..., None] * float(rng.uniform(0.96, 1.0))  # a ghost of the print may show
        region = paper[top:bottom, left:right].astype(np.float32)
        paper[top:bottom, left:right] = np.clip(region * (1 - cover) + fluid * cover, 0, 255)
        cell = field.cells[pos]
        patch, ink = glyph(layer, int(digits[pos]), float(rng.uniform(3.3, 4.8)), rng,
                           cell.w - 1.2)
        w, h = _size_mm(layer, ink)
        x = cx / k - w / 2 + float(rng.normal(0, 0.3))
        base = min(cell.bottom - 0.6, cy / k + h / 2 + float(rng.normal(0, 0.3)))
        _put(layer, patch, ink, x, base)
