"""The digit reader for comb cells: one cell image in, digit probabilities out.

Tesseract reads what we printed, but not a digit written with a pen (issue
11: 39 % of real handwritten digits). This module owns the small
convolutional network that does: the committed model file
(`models/digits.onnx`), its checksum and metrics (`models/digits.json`), the
normalisation of a cell crop to the network's input, and the one
onnxruntime session per process that runs it.

It is hand-written here, beside `tesseract.py`, for the same reason that
module exists: one external engine, one module, so the rest of the intake
gets typed values and never an ONNX tensor. The training script
(`scripts/train_digits.py`) imports `prepare_cell` from this very file, so
a cell is normalised the same way in training and at run time; that is also
why this module imports nothing of `intake.scan` (the training environment
has neither Tesseract nor the database). Nothing here trains or downloads:
the model is read from the installed package and refused unless its sha256
is the one recorded beside it.

What it does not own: where the cells are on the page, removing the printed
template, and choosing a digit string that fits a field's check digit. The
reader only says, per cell, how probable each digit is, and how probable
"empty" and "not a digit" are.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from intake.errors import IntakeError

MODEL_DIR = Path(__file__).resolve().parent / "models"
MODEL_PATH = MODEL_DIR / "digits.onnx"
META_PATH = MODEL_DIR / "digits.json"

# The network's classes, in the order of its output.
DIGITS = tuple("0123456789")
EMPTY = "empty"
NOT_DIGIT = "not_digit"
CLASSES = (*DIGITS, EMPTY, NOT_DIGIT)
TOP_K = 3

# -- the normalisation, as MNIST was made: ink in a 20×20 box, centred by mass in 28×28 ----
INPUT_SIZE = 28
INK_BOX = 20
INK_LEVEL = 0.4  # share of the paper-to-ink contrast above which a pixel is ink
MIN_CONTRAST = 80  # grey levels: a cell with less spread than this is paper and noise
MIN_COMPONENT_SHARE = 0.004  # of the cell's area: smaller blobs are specks (noise, JPEG, fax)
THIN_STROKE_SIDE = 0.5  # of the cell's height: a stroke the median lost, long enough to be one
MIN_INK_SIDE = 0.15  # of the cell's height: ink this small all told is a speck, not a digit
EDGE_BAND = 0.12  # of the width (height): where a left-over cell border can lie
# Share of a column (row) in that band that is ink for it to be a border line: a printed
# border runs the whole crop, a digit's bar (the top of a 7) hardly ever does.
EDGE_LINE_LENGTH = 0.85

FloatImage = npt.NDArray[np.float32]


class DigitReaderError(IntakeError):
    """The digit model is missing, altered or unloadable, or a cell is not an image.

    Either way the installation or the calling code is wrong, not the
    customer's scan, so it is a software error.
    """

    exit_code = os.EX_SOFTWARE


@dataclass(frozen=True, slots=True)
class CellReading:
    """What the network saw in one cell.

    `top` holds the `TOP_K` most probable digits, most probable first. All
    probabilities are shares of one softmax over the twelve classes, so the
    digits' probabilities, `p_empty` and `p_not_digit` add up to at most 1.
    """

    top: tuple[tuple[str, float], ...]
    p_empty: float
    p_not_digit: float

    @property
    def label(self) -> str:
        """The most probable of the twelve classes: a digit, `EMPTY` or `NOT_DIGIT`."""
        best, p = self.top[0]
        if p >= max(self.p_empty, self.p_not_digit):
            return best
        return EMPTY if self.p_empty >= self.p_not_digit else NOT_DIGIT

    @property
    def digit(self) -> str | None:
        """The most probable digit, or None when "empty" or "not a digit" is more probable."""
        label = self.label
        return label if label in DIGITS else None


def prepare_cell(gray_crop: npt.NDArray[Any]) -> FloatImage:
    """A cell crop (grey, paper light, ink dark) as the network's 28×28 input (ink = 1.0).

    Ink is what is darker than the paper by a share of the contrast; specks
    and left-over border lines are dropped; the rest is cropped to its
    bounding box, scaled so the longer side is 20 px and placed with its
    centre of mass in the middle, as MNIST's digits were. A cell with no ink
    left is all zeros, which the network reads as "empty".
    """
    image = np.asarray(gray_crop)
    if image.ndim != 2 or image.shape[0] < 4 or image.shape[1] < 4:
        raise DigitReaderError(f"a cell must be a 2-D grey image, got shape {image.shape}")
    gray = image.astype(np.float32)
    if image.dtype != np.uint8 and gray.max() <= 1.0:
        gray = gray * 255.0
    darkest, paper = (float(v) for v in np.percentile(gray, (1, 90)))
    contrast = max(paper - darkest, MIN_CONTRAST)
    ink = np.clip((paper - gray) / contrast, 0.0, 1.0)
    # The mask is taken on a median-smoothed copy so single noisy pixels do not join strokes.
    smooth = cv2.medianBlur(np.ascontiguousarray(gray.clip(0, 255).astype(np.uint8)), 3)
    mask = (paper - smooth.astype(np.float32)) / contrast > INK_LEVEL
    lines = _border_lines(mask)
    mask &= ~lines
    ink[lines] = 0.0
    keep = _ink_components(mask)
    out = np.zeros((INPUT_SIZE, INPUT_SIZE), np.float32)
    if _extent(keep) < MIN_INK_SIDE * image.shape[0]:
        # A one-pixel pen stroke (a fax's thin 1) does not survive the median; taken
        # unsmoothed only when it is a stroke through much of the cell, not a speck.
        raw = (paper - gray) / contrast > INK_LEVEL
        keep = _ink_components(raw & ~_border_lines(raw))
        if _extent(keep) < THIN_STROKE_SIDE * image.shape[0]:
            return out
    rows = np.flatnonzero(keep.any(axis=1))
    cols = np.flatnonzero(keep.any(axis=0))
    y0, y1, x0, x1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
    # A pixel's fringe around the kept strokes stays, so anti-aliased edges are not cut.
    near = cv2.dilate(keep.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    glyph = (ink * near)[y0:y1, x0:x1]
    h, w = glyph.shape
    scale = INK_BOX / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    small = np.asarray(cv2.resize(glyph, size, interpolation=interp), np.float32).clip(0, 1)
    sh, sw = small.shape
    mass = float(small.sum())
    if mass <= 0:
        return out
    cy = float((small.sum(axis=1) * np.arange(sh)).sum()) / mass
    cx = float((small.sum(axis=0) * np.arange(sw)).sum()) / mass
    top = min(max(round(INPUT_SIZE / 2 - cy), 0), INPUT_SIZE - sh)
    left = min(max(round(INPUT_SIZE / 2 - cx), 0), INPUT_SIZE - sw)
    out[top:top + sh, left:left + sw] = small
    return out


def _extent(keep: npt.NDArray[np.bool_]) -> int:
    """The longer side of the kept ink's bounding box, 0 for none."""
    rows = np.flatnonzero(keep.any(axis=1))
    cols = np.flatnonzero(keep.any(axis=0))
    if not len(rows):
        return 0
    return int(max(rows[-1] + 1 - rows[0], cols[-1] + 1 - cols[0]))


def _border_lines(mask: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
    """Rows and columns near an edge that are mostly ink: a cell border's remains.

    They are erased whole, one pixel wider for their blurred fringe, so that a
    border that touches a digit does not become part of it.
    """
    h, w = mask.shape
    band_x, band_y = max(1, int(w * EDGE_BAND)), max(1, int(h * EDGE_BAND))
    cols = mask.mean(axis=0) >= EDGE_LINE_LENGTH
    rows = mask.mean(axis=1) >= EDGE_LINE_LENGTH
    cols[band_x:w - band_x] = False
    rows[band_y:h - band_y] = False
    cols = np.convolve(cols, [1, 1, 1], mode="same") > 0
    rows = np.convolve(rows, [1, 1, 1], mode="same") > 0
    return np.asarray(cols[None, :] | rows[:, None], bool)


def _ink_components(mask: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
    """The mask without its specks: connected blobs smaller than a share of the cell."""
    h, w = mask.shape
    _, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    keep = stats[:, cv2.CC_STAT_AREA] >= max(3, MIN_COMPONENT_SHARE * h * w)
    keep[0] = False  # the background
    return np.asarray(keep[labels], bool)


class DigitReader:
    """One loaded model: batches of cells in, one `CellReading` per cell out."""

    def __init__(self, model_bytes: bytes) -> None:
        try:
            import onnxruntime as ort  # here, so importing this module stays cheap
        except ImportError as exc:  # pragma: no cover - a broken install
            raise DigitReaderError(f"onnxruntime is not installed: {exc}") from exc
        options = ort.SessionOptions()
        # One thread: parallelism belongs one level up, one intake worker per core.
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        try:
            self._session = ort.InferenceSession(
                model_bytes, sess_options=options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own, untyped errors
            raise DigitReaderError(f"cannot load the digit model: {exc}") from exc
        self._input = self._session.get_inputs()[0].name

    @classmethod
    def from_files(cls, model_path: Path = MODEL_PATH, meta_path: Path = META_PATH) -> DigitReader:
        """The model at `model_path`, refused unless its sha256 is the one in `meta_path`."""
        try:
            data = model_path.read_bytes()
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise DigitReaderError(f"cannot read the digit model or its metadata: {exc}") from exc
        expected = meta.get("sha256") if isinstance(meta, dict) else None
        actual = hashlib.sha256(data).hexdigest()
        if actual != expected:
            raise DigitReaderError(
                f"digit model {model_path} has sha256 {actual}, but {meta_path.name} records "
                f"{expected}: the file was altered; reinstall, or retrain with "
                "scripts/train_digits.py"
            )
        # The checked bytes themselves are loaded, so the file cannot change in between.
        return cls(data)

    def probabilities(self, batch: FloatImage) -> FloatImage:
        """Softmax over `CLASSES` for prepared cells of shape (n, 28, 28)."""
        if batch.shape[0] == 0:
            return np.zeros((0, len(CLASSES)), np.float32)
        x = np.ascontiguousarray(batch.reshape(-1, 1, INPUT_SIZE, INPUT_SIZE), np.float32)
        logits = np.asarray(self._session.run(None, {self._input: x})[0], np.float32)
        shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
        return np.asarray(shifted / shifted.sum(axis=1, keepdims=True), np.float32)

    def read(self, cells: Sequence[npt.NDArray[Any]]) -> list[CellReading]:
        """Every cell read in one run of the network."""
        if not cells:
            return []
        probs = self.probabilities(np.stack([prepare_cell(c) for c in cells]))
        return [_reading(p) for p in probs]


def _reading(p: FloatImage) -> CellReading:
    order = np.argsort(-p[:10], kind="stable")[:TOP_K]
    return CellReading(
        top=tuple((DIGITS[i], float(p[i])) for i in order),
        p_empty=float(p[10]),
        p_not_digit=float(p[11]),
    )


_lock = threading.Lock()
_reader: DigitReader | None = None


def default_reader() -> DigitReader:
    """The committed model, loaded and checked once per process, on first use."""
    global _reader
    with _lock:
        if _reader is None:
            _reader = DigitReader.from_files()
        return _reader


def read_cells(cells: Sequence[npt.NDArray[Any]]) -> list[CellReading]:
    """Cell crops (grey, paper light) read by the committed model, in one batch."""
    return default_reader().read(cells)
