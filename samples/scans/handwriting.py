"""Pen on paper: ink layers, handwritten text, signatures and the marks people make.

Everything is drawn into an `InkLayer`, the coverage of one pen on the page
(0 = no ink, 255 = full), measured in millimetres like forms/spec.py. The
layers are laid over the printed page at the end with a multiplicative blend,
as ink on paper darkens what is under it and never lightens printed black.

Letters are OpenCV's Hershey script (or simplex, for people who print
their digits), one character at a time with its own size and baseline
jitter, then slanted as a whole. Hershey has ASCII only, so å, ä, ö and é
are drawn as their base letter plus a hand-made ring, dots or accent.
Digits in number and date combs are real handwriting instead (handdigits.py).
Signatures are not text at all: a smooth spline through a cursive-like
zig-zag of key points, with pressure varying along the stroke.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from forms import MM_PER_INCH

Gray = npt.NDArray[np.uint8]
Rgb = npt.NDArray[np.uint8]
Points = npt.NDArray[np.float64]

BLUE_INKS = ((28, 48, 140), (20, 40, 110), (40, 60, 160))
BLACK_INKS = ((30, 30, 34), (45, 42, 48))
SCRIPT = cv2.FONT_HERSHEY_SCRIPT_SIMPLEX
PRINT = cv2.FONT_HERSHEY_SIMPLEX
# Combining marks Hershey lacks, drawn by hand on top of the base letter.
RING, DIAERESIS, ACUTE = "\u030a", "\u0308", "\u0301"


@dataclass(frozen=True, slots=True)
class Pen:
    """One person's pen and hand: colour, line width and how they write."""

    colour: tuple[int, int, int]
    width_mm: float
    font: int
    slant: float  # shear factor: x shifts by -slant * y, so positive leans right

    @staticmethod
    def random(rng: np.random.Generator) -> Pen:
        inks = BLUE_INKS if rng.random() < 0.6 else BLACK_INKS
        colour = inks[int(rng.integers(len(inks)))]
        font = SCRIPT if rng.random() < 0.7 else PRINT
        return Pen(colour, float(rng.uniform(0.35, 0.6)), font, float(rng.uniform(0.0, 0.35)))


class InkLayer:
    """The ink of one pen on a page rendered at `dpi`."""

    def __init__(self, shape: tuple[int, int], dpi: float, pen: Pen) -> None:
        self.alpha: Gray = np.zeros(shape, dtype=np.uint8)
        self.k = dpi / MM_PER_INCH
        self.pen = pen

    def px(self, mm: float) -> float:
        return mm * self.k

    def stroke(self, points_mm: Points, widths_mm: npt.NDArray[np.float64] | None = None) -> None:
        """A pen stroke through `points_mm` (N×2), `widths_mm` per point (default: the pen's)."""
        if len(points_mm) < 2:
            return
        pts = np.round(points_mm * self.k * 4).astype(np.int32)  # 2 fractional bits
        if widths_mm is None:
            widths_mm = np.full(len(points_mm), self.pen.width_mm)
        thick = np.maximum(1, np.round(widths_mm * self.k)).astype(int)
        for i in range(len(pts) - 1):
            a, b = pts[i], pts[i + 1]
            cv2.line(self.alpha, (int(a[0]), int(a[1])), (int(b[0]), int(b[1])), 255,
                     int(thick[i]), cv2.LINE_AA, 2)

    def text(self, text: str, x_mm: float, baseline_mm: float, height_mm: float,
             rng: np.random.Generator, *, font: int | None = None) -> tuple[float, float]:
        """Handwrite `text` from (x, baseline); returns its (left, right) extent in mm."""
        patch, base_row, (left, right) = _word_patch(
            text, self.px(height_mm), self.pen, rng, font if font is not None else self.pen.font)
        x0 = round(self.px(x_mm)) - left
        y0 = round(self.px(baseline_mm)) - base_row
        self._paste(patch, x0, y0)
        return (x0 + left) / self.k, (x0 + right) / self.k

    def text_width(self, text: str, height_mm: float, font: int | None = None) -> float:
        """About how wide `text` comes out at `height_mm` (before jitter), in mm."""
        f = font if font is not None else self.pen.font
        scale, thick = _scale_for(self.px(height_mm), f, self.pen.width_mm * self.k)
        w = sum(cv2.getTextSize(_base(ch), f, scale, thick)[0][0] for ch in text)
        return w / self.k

    def paste(self, patch: Gray, x0: int, y0: int) -> None:
        """Lay a coverage patch on the layer with its top left at pixel (x0, y0)."""
        self._paste(patch, x0, y0)

    def _paste(self, patch: Gray, x0: int, y0: int) -> None:
        h, w = self.alpha.shape
        ys, xs = max(0, y0), max(0, x0)
        ye, xe = min(h, y0 + patch.shape[0]), min(w, x0 + patch.shape[1])
        if ye <= ys or xe <= xs:
            return
        region = self.alpha[ys:ye, xs:xe]
        np.maximum(region, patch[ys - y0:ye - y0, xs - x0:xe - x0], out=region)


def composite(page: Rgb, layers: Sequence[InkLayer], rng: np.random.Generator) -> Rgb:
    """The page with every layer's ink on it (multiplied, as ink darkens paper)."""
    out = page.astype(np.float32)
    for layer in layers:
        ys, xs = np.nonzero(layer.alpha)
        if len(ys) == 0:
            continue
        y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
        # A ballpoint never covers fully: a little paper shows through the line.
        a = layer.alpha[y0:y1, x0:x1].astype(np.float32)[..., None] / 255.0
        a *= float(rng.uniform(0.82, 0.97))
        colour = np.array(layer.pen.colour, dtype=np.float32) / 255.0
        out[y0:y1, x0:x1] *= 1.0 - a + a * colour
    return np.clip(out, 0, 255).astype(np.uint8)


# -- handwritten text ----------------------------------------------------------------------


def _base(ch: str) -> str:
    base = unicodedata.normalize("NFD", ch)[0]
    return base if base.isascii() else "?"


def _scale_for(cap_px: float, font: int, pen_px: float) -> tuple[float, int]:
    thick = max(1, round(pen_px * 0.8))
    (_, h1), _ = cv2.getTextSize("H", font, 1.0, thick)
    return cap_px / max(h1, 1), thick


def _word_patch(text: str, cap_px: float, pen: Pen, rng: np.random.Generator,
                font: int) -> tuple[Gray, int, tuple[int, int]]:
    """`text` handwritten on a patch of its own; (patch, baseline row, ink columns)."""
    pen_px = pen.width_mm * cap_px / 5.0  # pen width relative to writing size at ~4 mm
    scale, thick = _scale_for(cap_px, font, pen_px)
    pad = int(cap_px * 1.2) + 4
    width = int(sum(cv2.getTextSize(_base(c), font, scale * 1.15, thick)[0][0] for c in text))
    patch = np.zeros((int(cap_px * 2.2) + 2 * pad, width + 2 * pad), dtype=np.uint8)
    base_row = pad + int(cap_px * 1.35)
    x = float(pad)
    drift = float(rng.uniform(-0.015, 0.015))  # the line wanders up or down a little
    for ch in text:
        s = scale * float(rng.uniform(0.9, 1.1))
        y = base_row + drift * (x - pad) + float(rng.normal(0, cap_px * 0.04))
        base = _base(ch)
        (w, _), _ = cv2.getTextSize(base, font, s, thick)
        org = (round(x), round(y))
        cv2.putText(patch, base, org, font, s, 255, thick, cv2.LINE_AA)
        marks = unicodedata.normalize("NFD", ch)[1:]
        if marks:
            top = y - (cap_px if base.isupper() else cap_px * 0.62)
            _diacritic(patch, marks[0], x + w * 0.5, top - cap_px * 0.18, cap_px, thick)
        x += w + float(rng.normal(0, cap_px * 0.03))
    # Slant and a slight rotation for the whole word, about its baseline's start.
    angle = float(rng.normal(0, 0.015))
    m = np.array([[np.cos(angle), -pen.slant - np.sin(angle), 0.0],
                  [np.sin(angle), np.cos(angle), 0.0]])
    m[0, 2] = -m[0, 1] * base_row
    m[1, 2] = -m[1, 0] * pad
    warped = np.asarray(cv2.warpAffine(patch, m, (patch.shape[1] + pad, patch.shape[0]),
                                       flags=cv2.INTER_LINEAR), dtype=np.uint8)
    cols = np.nonzero(warped.max(axis=0))[0]
    span = (int(cols[0]), int(cols[-1]) + 1) if len(cols) else (0, 0)
    return warped, base_row, span


def _diacritic(patch: Gray, mark: str, cx: float, cy: float, cap_px: float, thick: int) -> None:
    r = cap_px * 0.12
    if mark == RING:
        cv2.circle(patch, (round(cx), round(cy - r)), max(2, round(r)), 255, thick, cv2.LINE_AA)
    elif mark == DIAERESIS:
        for dx in (-1.6 * r, 1.6 * r):
            cv2.circle(patch, (round(cx + dx), round(cy)), max(1, thick // 2 + 1), 255, -1,
                       cv2.LINE_AA)
    elif mark == ACUTE:
        cv2.line(patch, (round(cx - r), round(cy + r)), (round(cx + r), round(cy - 1.5 * r)),
                 255, thick, cv2.LINE_AA)


# -- marks: crosses, strike-throughs, scribbles ----------------------------------------------


def wobbly_line(a: tuple[float, float], b: tuple[float, float], rng: np.random.Generator,
                wobble_mm: float = 0.25, n: int = 12) -> Points:
    """A hand-drawn straight line from a to b: slightly bowed, never ruler-straight."""
    t = np.linspace(0.0, 1.0, n)[:, None]
    pa, pb = np.array(a), np.array(b)
    normal = np.array([-(pb - pa)[1], (pb - pa)[0]])
    normal /= max(float(np.linalg.norm(normal)), 1e-9)
    bow = float(rng.normal(0, wobble_mm)) * np.sin(np.pi * t)
    line: Points = pa + (pb - pa) * t + bow * normal + rng.normal(0, wobble_mm * 0.15, (n, 2))
    return line


def cross(layer: InkLayer, box: tuple[float, float, float, float],
          rng: np.random.Generator) -> None:
    """An X in a checkbox (x, y, w, h in mm), overshooting its corners as people do."""
    x, y, w, h = box
    o = float(rng.uniform(-0.3, 0.9))
    layer.stroke(wobbly_line((x - o, y - o), (x + w + o, y + h + o), rng))
    o = float(rng.uniform(-0.3, 0.9))
    layer.stroke(wobbly_line((x + w + o, y - o), (x - o, y + h + o), rng))


def scribble(layer: InkLayer, box: tuple[float, float, float, float],
             rng: np.random.Generator) -> None:
    """Zig-zag over a box until it is dark: how a wrong tick is taken back."""
    x, y, w, h = box
    n = int(rng.integers(9, 14))
    xs = np.linspace(x - 0.4, x + w + 0.4, n) + rng.normal(0, 0.2, n)
    ys = np.where(np.arange(n) % 2 == 0, y - 0.4, y + h + 0.4) + rng.normal(0, 0.3, n)
    layer.stroke(_spline(np.column_stack([xs, ys]), 6))


def strike_through(layer: InkLayer, left: float, right: float, y: float,
                   rng: np.random.Generator) -> None:
    """One or two lines through a printed value, from `left` to `right` at height `y` (mm)."""
    for _ in range(int(rng.integers(1, 3))):
        dy = float(rng.normal(0, 0.4))
        tilt = float(rng.normal(0, 0.5))
        layer.stroke(wobbly_line((left - rng.uniform(0.5, 2), y + dy - tilt / 2),
                                 (right + rng.uniform(0.5, 2), y + dy + tilt / 2), rng, 0.35))


# -- signatures -----------------------------------------------------------------------------


def _spline(points: Points, per_segment: int) -> Points:
    """Catmull-Rom through `points`: a smooth curve that passes every key point."""
    p = np.vstack([points[0], points, points[-1]])
    t = np.linspace(0.0, 1.0, per_segment, endpoint=False)[:, None]
    out = []
    for i in range(1, len(p) - 2):
        p0, p1, p2, p3 = p[i - 1], p[i], p[i + 1], p[i + 2]
        out.append(0.5 * (2 * p1 + (-p0 + p2) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t**2
                          + (-p0 + 3 * p1 - 3 * p2 + p3) * t**3))
    out.append(points[-1:])
    curve: Points = np.vstack(out).astype(np.float64)
    return curve


def signature(layer: InkLayer, origin: tuple[float, float], width_mm: float, height_mm: float,
              rng: np.random.Generator) -> None:
    """A signature at most `width_mm` × `height_mm` whose baseline starts at `origin`.

    A tall opening capital, then a cursive garland: a trochoid whose every
    cycle is one "letter" with its own height (now and then an ascender or a
    descender), width and loopiness, shrinking towards the end as names
    trail off. A flourish sometimes underlines it. Pen lifts split it into
    up to three strokes; pressure (line width) varies smoothly and thins at
    the ends of each stroke.
    """
    letters = int(rng.integers(4, 10))
    pitch = (width_mm * 0.85) / letters
    xh = height_mm * float(rng.uniform(0.3, 0.45))
    capital = _spline(np.array([(0.0, 0.0), (pitch * 0.1, -height_mm * 0.5),
                                (pitch * 0.35, -height_mm), (pitch * 0.9, -height_mm * 0.8),
                                (pitch * 0.6, -xh * 0.6), (pitch * 0.2, -xh * 0.3),
                                (pitch * 1.1, -xh * 0.5)])
                       + rng.normal(0, 1, (7, 2)) * np.array([pitch * 0.2, height_mm * 0.08]), 10)
    per = 28
    heights = xh * rng.uniform(0.7, 1.2, letters) * np.linspace(1.0, 0.6, letters)
    tall = rng.random(letters) < 0.25
    heights[tall] = height_mm * rng.uniform(0.6, 0.95, int(tall.sum()))
    low = (~tall) & (rng.random(letters) < 0.12)
    heights[low] = -height_mm * rng.uniform(0.3, 0.5, int(low.sum()))
    t = np.linspace(0.0, 2 * np.pi, per, endpoint=False)
    xs, ys = [], []
    x0 = pitch * 1.1
    for k in range(letters):
        w = pitch * float(rng.uniform(0.6, 1.2))
        loop = w / (2 * np.pi) * float(rng.uniform(0.3, 1.8))  # above 1 the pen loops back
        xs.append(x0 + w * t / (2 * np.pi) + loop * np.sin(t))
        ys.append(-heights[k] * (1 - np.cos(t)) / 2 - xh * 0.5 * (k == 0) * (1 - t / (2 * np.pi)))
        x0 += w
    garland = np.column_stack([np.concatenate(xs), np.concatenate(ys)])
    strokes = [capital, garland] if rng.random() < 0.5 else [np.vstack([capital, garland])]
    if rng.random() < 0.4:
        cut = int(rng.integers(per, len(garland) - per))
        last = strokes.pop()
        strokes += [last[:cut + len(last) - len(garland)], last[cut + len(last) - len(garland):]]
    if rng.random() < 0.45:
        y_f = float(rng.uniform(0.1, 0.3)) * height_mm
        strokes.append(_spline(np.array([(x0, -xh * 0.4), (x0 * 0.7, y_f),
                                         (x0 * 0.05, y_f * 1.3 + 0.5)]), 18))
    tilt = float(rng.normal(0, 0.05))
    shaped = []
    for k, s in enumerate(strokes):
        s = s + np.array([k * pitch * 0.1, 0.0])
        s[:, 0] -= layer.pen.slant * s[:, 1]
        s[:, 1] -= tilt * s[:, 0]
        shaped.append(s)
    # Letters came out wider or narrower than planned: fit the whole into the size asked for.
    every = np.vstack(shaped)
    span = every.max(axis=0) - every.min(axis=0)
    fit = min(width_mm / max(float(span[0]), 1e-6), height_mm / max(float(span[1]), 1e-6))
    start = np.array([every[:, 0].min(), 0.0])
    for s in shaped:
        s = (s - start) * fit + np.array(origin) + rng.normal(0, 0.04, s.shape)
        n = len(s)
        phase = float(rng.uniform(0, 6.28))
        pressure = 0.75 + 0.35 * np.sin(np.linspace(0, float(rng.uniform(3, 9)), n) + phase)
        taper = np.minimum(1.0, np.minimum(np.arange(n) + 1, n - np.arange(n)) / 6.0)
        layer.stroke(s, layer.pen.width_mm * pressure * (0.45 + 0.55 * taper))
