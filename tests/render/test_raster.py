"""The printed page as a scanner sees it: QR, fiducials, marks and empty signature areas.

Each PDF is rasterised with pypdfium2 (as intake does with a PDF attachment)
at 150 dpi, a fax-like scan, and 300 dpi, an office scan.
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt
import pytest
import zxingcpp

from forms import ARUCO_DICTIONARY, MM_PER_INCH, Box, FieldType, FormKind
from tests.render.conftest import ALL, Rendered, raster, rendered

DPIS = (150, 300)
CASES = [(kind, variant, dpi) for kind, variant in ALL for dpi in DPIS]
IDS = [f"{k.value}-{v}-{d}dpi" for k, v, d in CASES]


def crop(image: npt.NDArray[np.uint8], box: Box, dpi: int) -> npt.NDArray[np.uint8]:
    left, top, right, bottom = box.to_pixels(dpi)
    return image[top:bottom, left:right]


@pytest.mark.parametrize(("kind", "variant", "dpi"), CASES, ids=IDS)
def test_qr_decodes_to_the_payload(kind: FormKind, variant: str, dpi: int) -> None:
    form = rendered(kind, variant)
    found = zxingcpp.read_barcodes(raster(kind, variant, dpi))
    assert [(b.format, b.text) for b in found] == [
        (zxingcpp.BarcodeFormat.QRCode, form.payload.text())
    ]
    if dpi == 300:
        k = dpi / MM_PER_INCH
        pos = found[0].position
        qr = form.spec.qr_box
        for point in (pos.top_left, pos.top_right, pos.bottom_right, pos.bottom_left):
            x, y = point.x / k, point.y / k
            assert qr.x <= x <= qr.right and qr.y <= y <= qr.bottom, (x, y)


@pytest.mark.parametrize(("kind", "variant", "dpi"), CASES, ids=IDS)
def test_fiducials_are_found_where_the_spec_puts_them(
    kind: FormKind, variant: str, dpi: int
) -> None:
    form = rendered(kind, variant)
    dictionary = cv2.aruco.getPredefinedDictionary(getattr(cv2.aruco, ARUCO_DICTIONARY))
    detector = cv2.aruco.ArucoDetector(dictionary, cv2.aruco.DetectorParameters())
    corners, ids, _rejected = detector.detectMarkers(raster(kind, variant, dpi))
    assert ids is not None
    found = {int(i): c.reshape(4, 2) for i, c in zip(ids.flatten(), corners, strict=True)}
    assert sorted(found) == [f.marker_id for f in form.spec.fiducials]
    # OpenCV puts a pixel's centre at integer coordinates; the page's edges lie half a pixel off.
    mm_per_px = MM_PER_INCH / dpi
    for fiducial in form.spec.fiducials:
        measured = (found[fiducial.marker_id] + 0.5) * mm_per_px
        expected = np.array(fiducial.corners_mm())
        assert np.abs(measured - expected).max() < 1.0, fiducial.corner


def _ink(image: npt.NDArray[np.uint8], box: Box, dpi: int) -> float:
    """Share of dark pixels in `box`."""
    return float((crop(image, box, dpi) < 128).mean())


@pytest.mark.parametrize("kind", list(FormKind), ids=[k.value for k in FormKind])
def test_a_chosen_option_carries_an_x_and_the_others_stay_empty(kind: FormKind) -> None:
    form = rendered(kind, "prefilled")
    image = raster(kind, "prefilled", 150)
    marked = 0
    for field in form.spec.fields:
        if field.type is not FieldType.CHOICE:
            continue
        chosen = form.values.get(field.name)
        for opt in field.options:
            inner = opt.box.inset(0.6)
            if opt.value == chosen:
                assert _ink(image, inner, 150) > 0.15, (field.name, opt.value)
                marked += 1
            else:
                assert _ink(image, inner, 150) == 0.0, (field.name, opt.value)
    assert marked >= 2


def test_signature_areas_hold_nothing_but_their_outline(form: Rendered) -> None:
    image = raster(form.kind, form.variant, 300)
    for sig in form.spec.signatures:
        assert _ink(image, sig.area.inset(0.8), 300) == 0.0, sig.party
        # The outline and the baseline are there, though.
        assert _ink(image, Box(sig.area.x, sig.area.bottom - 0.4, sig.area.w, 0.8), 300) > 0.3


def test_comb_values_sit_one_per_cell(prefilled: Rendered) -> None:
    image = raster(prefilled.kind, prefilled.variant, 300)
    for field in prefilled.spec.fields:
        value = prefilled.values.get(field.name)
        if not field.is_comb or not value:
            continue
        chars = value.replace(field.separator, "") if field.separator else value
        for i, cell in enumerate(field.cells):
            ink = _ink(image, cell.inset(0.7), 300)
            assert (ink > 0.02) == (i < len(chars)), (field.name, i)


@pytest.mark.parametrize("kind", list(FormKind), ids=[k.value for k in FormKind])
def test_fillable_fields_are_invisible_until_typed_into(kind: FormKind) -> None:
    """The fillable blank prints exactly like the plain blank: the printed boxes do the work."""
    assert np.array_equal(raster(kind, "fillable", 150), raster(kind, "blank", 150))
