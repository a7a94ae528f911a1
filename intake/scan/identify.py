"""Identification: which form a page is, from its QR code.

This module owns finding our QR code on a page and turning its text into an
`Identification` (form kind, layout version, issued id, whether the mac
holds). The QR is looked for on the whole page first, which is all a clean
scan needs; then, only if that failed, on cheaper or cleaner views: a
downscaled copy (zxing's finder patterns like a module of 3-6 px, so a 300 dpi
scan or a large photo reads better smaller) and the corners where the QR can
sit (top right upright, bottom left upside down), binarised. After
alignment, `identify_region` reads the known QR box of the canonical page.

A QR code that parses but whose mac does not match is still reported, with
`qr_valid` False and the reason in `detail`: a forged or mistyped form is a
finding for the reviewer, not an unreadable page. A blank form's payload has
no id and no mac; it is valid as what it is.
"""

from __future__ import annotations

from collections.abc import Iterator

import cv2
import numpy as np
import zxingcpp

from forms import PAYLOAD_PREFIX, FormKind, InvalidPayload, parse_payload
from intake.scan.model import Gray, Identification, PageImage

# Fallback views are tried in this order until one reads; each costs 2-15 ms.
DOWNSCALES = (0.5, 0.33)
CORNER_SHARE = 0.4  # a corner region is this share of the page's width and height
_PREFIX = PAYLOAD_PREFIX + ":"
_QR_ONLY = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)


def _decode(image: Gray) -> list[str]:
    found = zxingcpp.read_barcodes(
        np.ascontiguousarray(image),
        formats=_QR_ONLY,
        try_rotate=True,
        try_downscale=True,
        try_invert=False,  # we never print light on dark
    )
    return [str(code.text) for code in found]


def _resize(image: Gray, k: float) -> Gray:
    size = (max(1, round(image.shape[1] * k)), max(1, round(image.shape[0] * k)))
    interpolation = cv2.INTER_AREA if k < 1 else cv2.INTER_CUBIC
    return np.asarray(cv2.resize(image, size, interpolation=interpolation), np.uint8)


def _otsu(image: Gray) -> Gray:
    # A light blur first: JPEG ringing and noise otherwise become specks in modules.
    smooth = cv2.GaussianBlur(image, (3, 3), 0)
    _, binary = cv2.threshold(smooth, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    return np.asarray(binary, np.uint8)


def _flatten(image: Gray) -> Gray:
    """Shadow and grey paper divided out: the local background becomes white."""
    k = max(15, (min(image.shape) // 8) | 1)
    background = cv2.morphologyEx(image, cv2.MORPH_CLOSE,
                                  cv2.getStructuringElement(cv2.MORPH_RECT, (k, k)))
    return np.asarray(cv2.divide(image, background, scale=255), np.uint8)


def _corners(image: Gray) -> Iterator[Gray]:
    h, w = image.shape
    ch, cw = round(h * CORNER_SHARE), round(w * CORNER_SHARE)
    yield image[:ch, w - cw:]  # upright: the QR is top right
    yield image[h - ch:, :cw]  # upside down: bottom left
    yield image[:cw, :ch] if h > w else image[:ch, :cw]  # turned a quarter: top left
    yield image[h - cw:, w - ch:] if h > w else image[h - ch:, w - cw:]  # ... or bottom right


def _fallback_views(image: Gray) -> Iterator[Gray]:
    for k in DOWNSCALES:
        yield _resize(image, k)
    for corner in _corners(image):
        flat = _flatten(corner)
        yield flat
        yield _otsu(flat)


def read_qr_texts(image: Gray) -> list[str]:
    """Texts of the QR codes on `image`: the whole page first, then the fallback views."""
    texts = _decode(image)
    if any(t.startswith(_PREFIX) for t in texts):
        return texts
    for view in _fallback_views(image):
        more = _decode(view)
        if any(t.startswith(_PREFIX) for t in more):
            return more
        texts += [t for t in more if t not in texts]
    return texts


def identification_from_text(text: str, qr_key: bytes) -> Identification:
    """What the QR text says, with the mac checked against `qr_key`."""
    try:
        payload = parse_payload(text, qr_key)
        valid, detail = True, "blank form" if payload.is_blank else ""
    except InvalidPayload as exc:
        try:
            payload = parse_payload(text)  # the same text, the mac not checked
        except InvalidPayload:
            return Identification(None, None, None, text, False, "none", f"not our QR code: {exc}")
        valid, detail = False, exc.message
    try:
        kind: FormKind | None = FormKind.from_code(payload.kind_code)
    except ValueError:
        kind, valid = None, False
        detail = f"unknown form kind {payload.kind_code!r} in the QR code"
    return Identification(kind, payload.version, payload.form_id, text, valid, "qr", detail)


def _identify(texts: list[str], qr_key: bytes, detail: str) -> Identification:
    ours = [t for t in texts if t.startswith(_PREFIX)]
    if ours:
        # Two of our codes on one page (a form photographed next to another)
        # is rare; a valid one wins over a forged one.
        readings = [identification_from_text(t, qr_key) for t in ours]
        best = next((r for r in readings if r.qr_valid), readings[0])
        if detail and not best.detail:
            return Identification(best.kind, best.version, best.form_id, best.qr_text,
                                  best.qr_valid, best.method, detail)
        return best
    if texts:
        return Identification(None, None, None, texts[0], False, "none",
                              f"a QR code was found but it is not ours: {texts[0][:60]!r}")
    return Identification(None, None, None, None, False, "none", "no QR code found")


def identify_page(page: PageImage, *, qr_key: bytes) -> Identification:
    """The page's form from its QR code; method "none" if no QR code of ours was read."""
    return _identify(read_qr_texts(page.image), qr_key, "")


def identify_region(
    image: Gray, box_px: tuple[int, int, int, int], qr_key: bytes
) -> Identification:
    """Read the QR code in one known region (l, t, r, b pixels) of an aligned page.

    The region is small and upright, so every view of it is cheap: as it is,
    enlarged (a 150 dpi fax has ~2 px modules), flattened and binarised.
    """
    left, top, right, bottom = box_px
    h, w = image.shape
    crop = image[max(0, top):min(h, bottom), max(0, left):min(w, right)]
    if crop.size == 0:
        return _identify([], qr_key, "")
    views = (crop, _resize(crop, 2.0), _otsu(_flatten(crop)), _otsu(_resize(crop, 2.0)))
    texts: list[str] = []
    for view in views:
        texts += [t for t in _decode(view) if t not in texts]
        if any(t.startswith(_PREFIX) for t in texts):
            break
    return _identify(texts, qr_key, "read after alignment")
