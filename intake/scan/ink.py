"""Ink and paper on a scanned crop: the one definition every reader shares.

A scan's paper is rarely 255: grey stock, a scanner's uneven lamp, a phone
photo's shadow. `flatten` divides each pixel by the brightest one near it
(the paper, since a pen or type stroke is far thinner than the window), so
one fixed `INK_LEVEL` then tells ink from paper on every crop, whichever
reader (Tesseract's canvas, the issued-print comparison, the digit reader's
glyph finder) looks at it.
"""

from __future__ import annotations

import cv2
import numpy as np

from intake.scan.model import Gray

PAPER_WINDOW = 15  # px: wider than any stroke, so the brightest pixel in it is paper
INK_LEVEL = 150  # on a flattened crop (paper = 255): darker than this is ink


def flatten(crop: Gray) -> Gray:
    """The crop divided by its local paper brightness, so paper is white everywhere."""
    if crop.size == 0:
        return crop.copy()
    kernel = np.ones((PAPER_WINDOW, PAPER_WINDOW), np.uint8)
    paper = np.maximum(cv2.dilate(crop, kernel), 1).astype(np.float32)
    flat = np.minimum(crop.astype(np.float32) * (255.0 / paper), 255.0)
    return flat.astype(np.uint8)


def ink_mask(flat: Gray) -> np.ndarray:
    """Dark pixels of a flattened crop, without isolated specks (dust, salt noise)."""
    dark = (flat < INK_LEVEL).astype(np.uint8)
    return cv2.morphologyEx(dark, cv2.MORPH_OPEN, np.ones((2, 2), np.uint8)) > 0
