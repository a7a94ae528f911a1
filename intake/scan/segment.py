"""Cutting a comb's pen ink into the field's number of digits, scored by the digit reader.

Connected ink is one glyph per digit only when people keep to the cells. A
digit written across a border touches its neighbour, and taking a printed
border out can leave a digit in two pieces or a border's sliver beside it
(issue 11: 8 of 19 organisationsnummer, subscription and date combs with a
digit across a border were read whole). When the glyphs found by connected
ink are not the field's number of digits, or one of them is not a sure digit,
`segment`:

* lays out the candidate pieces: the ink's clusters (blobs that overlap
  across, as `handwritten` merges them), and inside a cluster wide enough to
  hold two digits, cuts at the columns where its ink is thinnest;
* reads every run of neighbouring pieces that could be one digit, all in one
  batch of the digit reader;
* picks by dynamic programming the split into exactly N digits whose
  readings are jointly likeliest. A cut through connected ink pays a price,
  so ink stays whole unless the reader clearly prefers it apart, and a small
  piece (a border's sliver, a speck) may be left out, at a price too.

Written here rather than taken from a library: it is the classic
over-segment-and-recognise search, a few lines of dynamic programming over at
most a few dozen pieces, and its scores are the product's own digit reader.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from intake.scan.digits import CellReading
from intake.scan.model import Gray

CUT_PRICE = math.log(0.25)  # a cut through connected ink, on the log-probability scale
# Joining ink that a gap of paper separates, wider than a border's width taken out.
JOIN_PRICE = math.log(0.25)
JOIN_GAP = 0.12  # cell pitches: a gap this wide between two clusters is paper, not a border
DROP_PRICE = math.log(0.1)  # leaving a small piece out
DROP_SHARE = 0.45  # a cluster shorter than this share of the tallest is small enough to leave
MAX_PIECES = 3  # pieces one digit may be made of
MAX_WIDTH = 1.6  # cell pitches: a wider run of pieces is more than one digit
CUT_FROM = 0.9  # cell pitches: a cluster this wide may hold two digits
CUT_MARGIN = 0.2  # cell pitches: no cut this close to a cluster's edge
CUT_SPACING = 0.3  # cell pitches between two cuts in one cluster
MAX_CUTS = 4  # per cluster
MERGE_OVERLAP = 0.5  # two blobs overlapping this much across are one cluster
WHOLE_SHARE = 0.8  # a blob this much inside a run's columns is all the run's
FLOOR = 1e-6  # the least probability a piece's digit is scored with

Reader = Callable[[Sequence[Gray]], list[CellReading]]


@dataclass(frozen=True, slots=True)
class Piece:
    cluster: int
    x0: int
    x1: int
    cut: bool  # its left edge is a cut through connected ink
    small: bool  # a whole cluster small enough to leave out


@dataclass(frozen=True, slots=True)
class Segmented:
    """Exactly N glyph crops, their readings, and the split's log score."""

    glyphs: tuple[Gray, ...]
    cells: tuple[CellReading, ...]
    score: float


def glyph_score(cells: Sequence[CellReading]) -> float:
    """The log probability that every glyph is the digit it reads most as."""
    return sum(math.log(max(c.top[0][1], FLOOR)) for c in cells)


def _clusters(mask: np.ndarray, min_area: float, min_height: float
              ) -> tuple[np.ndarray, np.ndarray, list[list[int]]]:
    """Per pixel its cluster (-1 for none) and its connected blob, and each cluster's box."""
    count, labels, stats, _c = cv2.connectedComponentsWithStats(
        mask.astype(np.uint8), connectivity=8)
    blobs = sorted((int(stats[i, 0]), int(stats[i, 1]), int(stats[i, 0] + stats[i, 2]),
                    int(stats[i, 1] + stats[i, 3]), i)
                   for i in range(1, count) if stats[i, 4] >= min_area)
    boxes: list[list[int]] = []
    owner = np.full(count, -1, np.int32)
    for x0, y0, x1, y1, i in blobs:
        if boxes:
            m = boxes[-1]
            if min(m[2], x1) - max(m[0], x0) > MERGE_OVERLAP * min(m[2] - m[0], x1 - x0):
                boxes[-1] = [min(m[0], x0), min(m[1], y0), max(m[2], x1), max(m[3], y1)]
                owner[i] = len(boxes) - 1
                continue
        boxes.append([x0, y0, x1, y1])
        owner[i] = len(boxes) - 1
    keep = [j for j, b in enumerate(boxes) if b[3] - b[1] >= min_height]
    renumber = np.full(len(boxes) + 1, -1, np.int32)
    renumber[keep] = np.arange(len(keep), dtype=np.int32)
    owner = np.where(owner >= 0, renumber[owner], -1)
    return owner[labels], labels, [boxes[j] for j in keep]


def _cuts(mask: np.ndarray, box: list[int], pitch: float) -> list[int]:
    """Columns inside a wide cluster where its ink is thinnest, spaced apart."""
    x0, y0, x1, y1 = box
    if x1 - x0 < CUT_FROM * pitch:
        return []
    profile = mask[y0:y1, x0:x1].sum(axis=0).astype(np.float64)
    smooth = np.convolve(profile, np.ones(3) / 3, mode="same")
    lo, hi = round(CUT_MARGIN * pitch), (x1 - x0) - round(CUT_MARGIN * pitch)
    minima = [c for c in range(max(lo, 1), min(hi, len(smooth) - 1))
              if smooth[c] <= smooth[c - 1] and smooth[c] <= smooth[c + 1]]
    chosen: list[int] = []
    for c in sorted(minima, key=lambda c: (smooth[c], c)):
        if all(abs(c - o) >= CUT_SPACING * pitch for o in chosen):
            chosen.append(c)
        if len(chosen) == MAX_CUTS:
            break
    return sorted(x0 + c for c in chosen)


def _pieces(boxes: list[list[int]], mask: np.ndarray, pitch: float) -> list[Piece]:
    tallest = max(b[3] - b[1] for b in boxes)
    out = []
    for j, box in enumerate(boxes):
        edges = [box[0], *_cuts(mask, box, pitch), box[2]]
        small = len(edges) == 2 and box[3] - box[1] < DROP_SHARE * tallest
        for k in range(len(edges) - 1):
            out.append(Piece(j, edges[k], edges[k + 1], cut=k > 0, small=small))
    out.sort(key=lambda p: (p.x0, p.x1))
    return out


def _gaps(run: Sequence[Piece], gap: float) -> int:
    """How many gaps of paper at least `gap` wide a run of pieces spans."""
    return sum(1 for a, b in itertools.pairwise(run)
               if a.cluster != b.cluster and b.x0 - a.x1 >= gap)


@dataclass(frozen=True)
class _Ink:
    """The clustered ink, with each blob's column profile for cheap crops."""

    flat: Gray
    owner: np.ndarray  # per pixel its cluster, -1 for none
    blobs: np.ndarray  # per pixel its connected blob
    of_cluster: dict[int, list[int]]  # the blobs of each cluster
    columns: dict[int, np.ndarray]  # per blob, its pixels per column
    pad: int

    @classmethod
    def of(cls, flat: Gray, owner: np.ndarray, blobs: np.ndarray, pad: int) -> _Ink:
        of_cluster: dict[int, list[int]] = {}
        columns = {}
        for b in np.unique(blobs[owner >= 0]):
            here = blobs == b
            of_cluster.setdefault(int(owner[here][0]), []).append(int(b))
            columns[int(b)] = here.sum(axis=0)
        return cls(flat, owner, blobs, of_cluster, columns, pad)

    def crop(self, run: Sequence[Piece]) -> Gray | None:
        """The run's ink on paper: its clusters, cut by column only where a blob is cut.

        A blob of the run's clusters that lies mostly inside the run's columns
        is taken whole, and one mostly outside is left out, so the overhang of
        a neighbouring digit that does not touch this one stays out of its crop.
        """
        x_lo, x_hi = run[0].x0, run[-1].x1
        whole: list[int] = []
        sliced: list[int] = []
        for c in {p.cluster for p in run}:
            for b in self.of_cluster.get(c, []):
                share = float(self.columns[b][x_lo:x_hi].sum()) / max(
                    float(self.columns[b].sum()), 1.0)
                if share >= WHOLE_SHARE:
                    whole.append(b)
                elif share > 1.0 - WHOLE_SHARE:
                    sliced.append(b)
        sel = np.isin(self.blobs, whole)
        if sliced:
            cut = np.isin(self.blobs, sliced)
            for p in run:
                sel[:, p.x0:p.x1] |= cut[:, p.x0:p.x1] & (self.owner[:, p.x0:p.x1] == p.cluster)
        rows = np.flatnonzero(sel.any(axis=1))
        cols = np.flatnonzero(sel.any(axis=0))
        if not len(rows):
            return None
        h, w = self.flat.shape[:2]
        pad = self.pad
        y0, y1 = max(int(rows[0]) - pad, 0), min(int(rows[-1]) + 1 + pad, h)
        x0, x1 = max(int(cols[0]) - pad, 0), min(int(cols[-1]) + 1 + pad, w)
        glyph = np.where(sel, self.flat, 255).astype(np.uint8)[y0:y1, x0:x1]
        return np.ascontiguousarray(glyph)


def segment(flat: Gray, mask: np.ndarray, n: int, pitch: float, read: Reader, *,
            min_area: float, min_height: float, pad: int) -> Segmented | None:
    """The split of the pen's ink (`mask` over `flat`) into `n` digits the reader likes best.

    None when the ink cannot make `n` digits (too few pieces, or too wide).
    """
    owner, blobs, boxes = _clusters(mask, min_area, min_height)
    if not boxes:
        return None
    ink = _Ink.of(flat, owner, blobs, pad)
    pieces = _pieces(boxes, mask, pitch)
    m = len(pieces)
    runs: list[tuple[int, int]] = []
    crops: list[Gray] = []
    for i in range(m):
        for j in range(i + 1, min(i + MAX_PIECES, m) + 1):
            if pieces[j - 1].x1 - pieces[i].x0 > MAX_WIDTH * pitch and j > i + 1:
                break
            crop = ink.crop(pieces[i:j])
            if crop is not None and min(crop.shape) >= 4:
                runs.append((i, j))
                crops.append(crop)
    if not crops:
        return None
    readings = read(crops)
    scored = {run: (math.log(max(r.top[0][1], FLOOR)), k)
              for k, (run, r) in enumerate(zip(runs, readings, strict=True))}
    # best[j][d]: the likeliest way to make d digits of the first j pieces.
    worst = -math.inf
    best = [[worst] * (n + 1) for _ in range(m + 1)]
    back: list[list[tuple[int, int, int] | None]] = [[None] * (n + 1) for _ in range(m + 1)]
    best[0][0] = 0.0
    for j in range(1, m + 1):
        for d in range(n + 1):
            if pieces[j - 1].small and best[j - 1][d] > worst:
                cand = best[j - 1][d] + DROP_PRICE
                if cand > best[j][d]:
                    best[j][d], back[j][d] = cand, (j - 1, d, -1)
            if d == 0:
                continue
            for i in range(max(0, j - MAX_PIECES), j):
                if (i, j) not in scored or best[i][d - 1] == worst:
                    continue
                score, k = scored[(i, j)]
                cand = best[i][d - 1] + score + (CUT_PRICE if pieces[i].cut else 0.0)
                cand += JOIN_PRICE * _gaps(pieces[i:j], JOIN_GAP * pitch)
                if cand > best[j][d]:
                    best[j][d], back[j][d] = cand, (i, d - 1, k)
    if best[m][n] == worst:
        return None
    chosen: list[int] = []
    j, d = m, n
    while j > 0:
        step = back[j][d]
        if step is None:  # pragma: no cover - every reachable state has its step back
            return None
        i, d, k = step
        if k >= 0:
            chosen.append(k)
        j = i
    chosen.reverse()
    return Segmented(tuple(crops[k] for k in chosen), tuple(readings[k] for k in chosen),
                     best[m][n])
