"""Signatures: is there a hand's ink in each signature area of an aligned page?

This module owns the decision signed / empty / unsure for every signature
area of a form. Only the area's outline and baseline are printed inside it,
so whatever else is dark there was put there after printing. The steps, per
area, on the aligned page:

1. Ink is a pixel clearly darker than the paper around it: each pixel is
   compared with a local background (the brightest nearby, i.e. the paper),
   so grey recycled paper, a phone photo's shadow or a scanner's uneven lamp
   do not look like ink, while a black-and-white fax still does.
2. What we printed there (from the blank template at the same resolution,
   widened by a fraction of a millimetre for the alignment's error and the
   blur of the scan) is removed, and so is a thin margin along the area's
   edge, where the outline and the neighbouring print sit.
3. Specks smaller than a pen dot (noise, dust, JPEG ringing) are dropped.
4. The share of the area still covered by ink is compared with two
   thresholds; between them the answer is "unsure" and goes to a person.

The defaults come from measurements on rendered forms degraded like real
scans (noise, JPEG quality 30, blur, fax threshold, shadows, grey paper,
small misalignment): blank areas stay far below `empty_below`, pen strokes
far above `signed_from` (see tests/intake/scan/test_signatures.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from forms import MM_PER_INCH, Box, FormSpec
from intake.scan.model import AlignedPage, Gray, SignatureReading, SignatureState

# Printed pixels of the template: anything visibly darker than paper,
# including the anti-aliased fringe of the faint outline.
TEMPLATE_INK = 230
CROP_PAD_MM = 2.0  # paper shown around the area in the reviewer's crop


@dataclass(frozen=True, slots=True)
class SignatureThresholds:
    """How ink is told from paper, and how much ink makes a signature."""

    empty_below: float = 0.002  # ink share below this: nobody signed
    signed_from: float = 0.006  # ink share from this up: signed; between: unsure
    ink_contrast: float = 0.25  # ink is at least this much darker than the paper around it
    noise_sigmas: float = 5.0  # ... and darker by this many times the image's noise
    margin_mm: float = 1.2  # ignored along the area's edge
    template_grow_mm: float = 0.5  # printed marks widened by this, for misalignment and blur
    min_speck_mm2: float = 0.3  # connected ink smaller than this is noise
    background_mm: float = 3.0  # the paper estimate looks this far around a pixel

    def state(self, ink: float) -> SignatureState:
        if ink >= self.signed_from:
            return SignatureState.SIGNED
        if ink < self.empty_below:
            return SignatureState.EMPTY
        return SignatureState.UNSURE


def _px(mm: float, dpi: float) -> int:
    return max(1, round(mm * dpi / MM_PER_INCH))


def _window(
    box: Box, pad_mm: float, dpi: float, shape: tuple[int, ...]
) -> tuple[int, int, int, int]:
    left, top, right, bottom = box.inset(-pad_mm).to_pixels(dpi)
    return max(0, left), max(0, top), min(shape[1], right), min(shape[0], bottom)


def ink_mask(image: Gray, dpi: float, thresholds: SignatureThresholds) -> Gray:
    """255 where `image` has ink darker than its local paper, else 0."""
    # A light blur first: single noisy pixels should not count, pen strokes survive.
    smooth = cv2.GaussianBlur(image, (0, 0), max(0.5, 0.08 * dpi / MM_PER_INCH))
    k = _px(thresholds.background_mm, dpi) | 1
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (k, k))
    # The brightest pixel nearby is the paper (strokes are thinner than the
    # window). Taken from a well-blurred copy: the maximum of raw noise would
    # put the "paper" several noise levels above the real one.
    calm = cv2.GaussianBlur(image, (0, 0), 0.5 * dpi / MM_PER_INCH)
    paper = cv2.blur(cv2.dilate(calm, kernel), (k, k)).astype(np.float32)
    # On a dark, noisy photo a fixed contrast is within the noise: then ink
    # must also stand out from the noise by `noise_sigmas` of its spread,
    # measured robustly (median absolute deviation from a local median).
    residual = cv2.absdiff(smooth, cv2.medianBlur(smooth, 5))
    # The median of 8-bit values from their histogram: a sort would cost more
    # than everything else here together.
    counts = np.cumsum(np.bincount(np.asarray(residual).ravel(), minlength=256))
    sigma = 1.4826 * float(np.searchsorted(counts, counts[-1] / 2))
    values = smooth.astype(np.float32)
    limit = np.minimum(paper * np.float32(1.0 - thresholds.ink_contrast),
                       paper - np.float32(thresholds.noise_sigmas * sigma))
    return np.where(values < limit, 255, 0).astype(np.uint8)


def _drop_specks(mask: Gray, min_area: int) -> Gray:
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if count <= 1:
        return mask
    keep = np.asarray(stats)[:, cv2.CC_STAT_AREA] >= min_area
    keep[0] = False  # the background label
    return np.where(keep[np.asarray(labels)], 255, 0).astype(np.uint8)


def signature_ink(
    page: Gray, template: Gray, area: Box, dpi: float, thresholds: SignatureThresholds
) -> float:
    """Share of `area` covered by ink that the template does not have (0..1)."""
    # Work on a window a little larger than the area, so that the paper
    # estimate at the area's edge sees paper on both sides.
    pad = thresholds.background_mm
    left, top, right, bottom = _window(area, pad, dpi, page.shape)
    ink = ink_mask(np.ascontiguousarray(page[top:bottom, left:right]), dpi, thresholds)
    printed = np.where(template[top:bottom, left:right] < TEMPLATE_INK, 255, 0).astype(np.uint8)
    grow = 2 * _px(thresholds.template_grow_mm, dpi) + 1
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (grow, grow))
    printed = np.asarray(cv2.dilate(printed, disc), np.uint8)
    ink[printed > 0] = 0
    # Only the inside of the area, less its margin, counts.
    il, it, ir, ib = area.inset(thresholds.margin_mm).to_pixels(dpi)
    inner = np.ascontiguousarray(ink[it - top:ib - top, il - left:ir - left])
    if inner.size == 0:
        return 0.0
    min_area = max(1, round(thresholds.min_speck_mm2 * (dpi / MM_PER_INCH) ** 2))
    inner = _drop_specks(inner, min_area)
    return float(np.count_nonzero(inner)) / inner.size


def _crop(page: Gray, area: Box, dpi: float) -> Gray:
    left, top, right, bottom = _window(area, CROP_PAD_MM, dpi, page.shape)
    return np.ascontiguousarray(page[top:bottom, left:right])


def read_signatures(
    aligned: AlignedPage,
    spec: FormSpec,
    template: Gray,
    *,
    thresholds: SignatureThresholds,
) -> dict[str, SignatureReading]:
    """Every signature area of `spec` on the aligned page: signed, empty or unsure.

    `template` is the blank form rendered at the aligned page's resolution
    (the same shape as `aligned.image`).
    """
    if template.shape != aligned.image.shape:
        raise ValueError(f"template is {template.shape[1]}×{template.shape[0]} px, the aligned "
                         f"page {aligned.image.shape[1]}×{aligned.image.shape[0]} px")
    readings = {}
    for sig in spec.signatures:
        ink = signature_ink(aligned.image, template, sig.area, aligned.dpi, thresholds)
        readings[sig.party] = SignatureReading(
            party=sig.party,
            state=thresholds.state(ink),
            ink=ink,
            crop=_crop(aligned.image, sig.area, aligned.dpi),
        )
    return readings
