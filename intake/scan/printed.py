"""Identifying an aligned page by what is printed on it, when its QR code is gone.

A stain, a fold or a pen stroke across the QR code leaves the rest of the
page readable: the fiducials still align it, the title says which form it is
(`read.classify_by_text`) and the id is printed in words under the code.
Both are read here, one Tesseract call each, only on this fallback path.

A printed id carries no mac, so it is trusted only as far as the registry
vouches for it: the pipeline treats it as valid when an issued form of the
same kind has that id (a made-up id would have to hit one of 2^50).
"""

from __future__ import annotations

import re
from difflib import SequenceMatcher

import cv2
import numpy as np

from forms import Box, FormKind, InvalidPayload, form_spec, normalise_form_id
from intake.scan.model import AlignedPage, Gray, Identification
from intake.scan.read import classify_by_text
from intake.scan.tesseract import recognise_words

# The id is printed with its hyphens; requiring them keeps the label "Blankett-id" out.
_ID_TEXT = re.compile(r"([0-9A-Z]{4})\s*[-–]\s*([0-9A-Z]{4})\s*[-–]\s*([0-9A-Z]{2})")
UPSCALE = 2.0  # the id is set in 9 pt: twice the canonical 200 dpi reads reliably
TITLE_MATCH = 0.8
PAPER_KERNEL = 25  # px at the upscaled size: wider than any stroke of the title


def _crop_text(aligned: AlignedPage, box: Box) -> tuple[Gray, int]:
    """The box, upscaled and flattened against its paper (photos are grey and shaded)."""
    left, top, right, bottom = box.to_pixels(aligned.dpi)
    crop = aligned.image[max(0, top - 4) : bottom + 4, max(0, left - 4) : right + 4]
    big: Gray = np.asarray(
        cv2.resize(crop, None, fx=UPSCALE, fy=UPSCALE, interpolation=cv2.INTER_CUBIC), np.uint8
    )
    paper = cv2.dilate(big, np.ones((PAPER_KERNEL, PAPER_KERNEL), np.uint8))
    flat: Gray = np.asarray(cv2.divide(big, paper, scale=255), np.uint8)
    return flat, round(aligned.dpi * UPSCALE)


def read_printed_kind(aligned: AlignedPage) -> FormKind | None:
    """The kind from the printed title, fuzzy-matched (a photo's title reads imperfectly)."""
    crop, dpi = _crop_text(aligned, form_spec(FormKind.DUAL).title_box)
    words = recognise_words(crop, psm=6, dpi=dpi)
    best: tuple[float, FormKind | None] = (0.0, None)
    for word in words:
        text = "".join(ch for ch in word.text.casefold() if ch.isalpha())
        for kind in FormKind:
            score = SequenceMatcher(None, text, form_spec(kind).title.casefold()).ratio()
            if score > best[0]:
                best = (score, kind)
    return best[1] if best[0] >= TITLE_MATCH else None


def read_printed_id(aligned: AlignedPage) -> tuple[str | None, bool]:
    """(the issued-form id printed under the QR code, whether the page says it is blank)."""
    crop, dpi = _crop_text(aligned, form_spec(FormKind.DUAL).id_box)
    text = " ".join(w.text for w in recognise_words(crop, psm=7, dpi=dpi))
    if text.casefold().startswith("blank "):
        return None, True
    for match in _ID_TEXT.finditer(text.upper()):
        try:
            return normalise_form_id("".join(match.groups())), False
        except InvalidPayload:
            continue
    return None, False


def identify_by_print(aligned: AlignedPage) -> Identification:
    """Kind from the title and id from the printed text; `qr_valid` is left False."""
    kind = read_printed_kind(aligned) or classify_by_text(aligned.image)
    if kind is None:
        return Identification(
            None, None, None, None, False, "none", "no readable QR code and no form title found"
        )
    form_id, blank = read_printed_id(aligned)
    detail = "blank form" if blank else ("" if form_id else "printed id unreadable")
    return Identification(kind, form_spec(kind).version, form_id, None, False, "text", detail)
