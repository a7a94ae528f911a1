"""align_page: rendered forms, turned, warped, scaled and spoiled, land on the canonical page."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import pytest

from forms import FIDUCIALS, MM_PER_INCH, FormKind, form_spec
from intake.scan.align import (
    align_page,
    canonical_size,
    detect_markers,
    find_homography,
    identify_aligned,
)
from intake.scan.model import CANONICAL_DPI, AlignedPage, AlignmentFailure, Gray, PageImage
from tests.intake import imaging as im

KIND = FormKind.DUAL
PX_PER_MM = CANONICAL_DPI / MM_PER_INCH
Degrade = Callable[[Gray], tuple[Gray, im.Matrix]]


def _same(image: Gray) -> tuple[Gray, im.Matrix]:
    return image, np.eye(3)


def _photometric(f: Callable[[Gray], Gray]) -> Degrade:
    return lambda image: (f(image), np.eye(3))


def _cover_marker(marker_id: int, dpi: int) -> Degrade:
    box = next(f.box for f in FIDUCIALS if f.marker_id == marker_id).inset(-1.5)
    return _photometric(lambda image: im.cover(image, box.to_pixels(dpi), value=40))


def _then(first: Degrade, second: Degrade) -> Degrade:
    def both(image: Gray) -> tuple[Gray, im.Matrix]:
        a, m1 = first(image)
        b, m2 = second(a)
        return b, m2 @ m1
    return both


# name -> (source dpi, degradation, expected rotation in degrees clockwise)
CASES: dict[str, tuple[int, Degrade, float]] = {
    "clean": (200, _same, 0),
    "rotated +8": (200, lambda i: im.rotate(i, 8), 352),
    "rotated -8": (200, lambda i: im.rotate(i, -8), 8),
    "quarter turn": (200, lambda i: im.rotate(i, 90), 270),
    "upside down": (200, lambda i: im.rotate(i, 180), 180),
    "three quarters": (300, lambda i: im.rotate(i, 270), 90),
    "phone perspective": (200, lambda i: im.perspective(i, 0.1, seed=3), 0),
    "150 dpi": (150, _same, 0),
    "300 dpi": (300, _same, 0),
    "scaled to 150 dpi": (200, lambda i: im.rescale(i, 0.75), 0),
    "jpeg q30": (200, _photometric(lambda i: im.jpeg(i, 30)), 0),
    "fax": (150, _photometric(lambda i: im.threshold(im.blur(i, 0.8))), 0),
    "noise and shadow": (200, _photometric(lambda i: im.shadow(im.noise(i, 20, 1), 0.7, 2)), 0),
    "blur": (200, _photometric(lambda i: im.blur(i, 1.5)), 0),
    "marker 0 covered": (200, _cover_marker(0, 200), 0),
    "marker 2 covered, turned": (200, _then(_cover_marker(2, 200), lambda i: im.rotate(i, 180)),
                                 180),
    "everything": (200, _then(lambda i: im.rotate(i, -5),
                              _then(lambda i: im.perspective(i, 0.06, seed=9),
                                    _photometric(lambda i: im.jpeg(im.noise(i, 12, 4), 30)))),
                   5),
}


def _box_corners_mm() -> npt.NDArray[np.float64]:
    """Corners of every field box on the form, in mm."""
    points = []
    for field in form_spec(KIND).fields:
        b = field.box
        points += [(b.x, b.y), (b.right, b.y), (b.right, b.bottom), (b.x, b.bottom)]
    return np.array(points, np.float64)


@pytest.mark.parametrize("name", list(CASES))
def test_alignment_puts_every_box_in_place(name: str) -> None:
    dpi, degrade, rotation = CASES[name]
    scan, truth = degrade(im.page(KIND, dpi))
    page = PageImage("scan.png", 0, scan, None)

    aligned = align_page(page)
    assert isinstance(aligned, AlignedPage), aligned
    assert aligned.image.shape == im.page(KIND, CANONICAL_DPI).shape
    assert aligned.dpi == CANONICAL_DPI
    assert aligned.reprojection_mm < 0.3
    assert len(aligned.markers_found) >= 3
    # Perspective turns the page's axis a little too, hence the allowance.
    turn = abs(aligned.rotation_deg - rotation)
    assert min(turn, 360 - turn) < 2.0

    # Every field box corner, taken through the simulated scan and back
    # through the estimated homography, lands where the form has it.
    fit = find_homography(detect_markers(scan), CANONICAL_DPI)
    assert not isinstance(fit, str), fit
    h = fit[0]
    mm = _box_corners_mm()
    in_scan = im.project(truth, (mm * dpi / MM_PER_INCH) - 0.5)
    back = im.project(h, in_scan) + 0.5
    error_mm = np.linalg.norm(back / PX_PER_MM - mm, axis=1)
    assert error_mm.max() < 1.0, f"{error_mm.max():.2f} mm"
    assert error_mm.mean() < 0.3


@pytest.mark.parametrize("name", ["clean", "quarter turn", "upside down", "phone perspective",
                                  "300 dpi", "jpeg q30"])
def test_aligned_page_looks_like_the_canonical_render(name: str) -> None:
    dpi, degrade, _ = CASES[name]
    scan, _ = degrade(im.page(KIND, dpi))
    aligned = align_page(PageImage("scan.png", 0, scan, None))
    assert isinstance(aligned, AlignedPage)
    canonical = im.page(KIND, CANONICAL_DPI)
    assert np.abs(aligned.image.astype(int) - canonical).mean() < 6


def test_one_marker_is_enough_to_lose() -> None:
    scan, _ = _cover_marker(1, 200)(im.page(KIND, 200))
    aligned = align_page(PageImage("scan.png", 0, scan, None))
    assert isinstance(aligned, AlignedPage)
    assert aligned.markers_found == (0, 2, 3)


def test_two_markers_lost_is_a_failure_naming_what_was_found() -> None:
    scan, _ = _then(_cover_marker(0, 200), _cover_marker(1, 200))(im.page(KIND, 200))
    result = align_page(PageImage("scan.png", 3, scan, None))
    assert isinstance(result, AlignmentFailure)
    assert result.reason == "fewer than 3 fiducials found (ids 2, 3)"
    assert result.page.index == 3


def test_blank_page_fails() -> None:
    result = align_page(PageImage("blank.png", 0, np.full((2339, 1654), 255, np.uint8), None))
    assert isinstance(result, AlignmentFailure)
    assert result.reason == "fewer than 3 fiducials found (ids none)"


def test_error_limit() -> None:
    result = align_page(PageImage("scan.png", 0, im.page(KIND, 200), None), max_error_mm=0.0001)
    assert isinstance(result, AlignmentFailure)
    assert result.reason.startswith("reprojection error ")
    assert "too large" in result.reason


def test_a_mirrored_correspondence_is_degenerate() -> None:
    width, _ = canonical_size(CANONICAL_DPI)
    markers = detect_markers(im.page(KIND, CANONICAL_DPI))
    mirrored = {mid: np.ascontiguousarray(
        np.column_stack([width - 1 - quad[:, 0], quad[:, 1]]).astype(np.float32))
        for mid, quad in markers.items()}
    result = align_page(PageImage("mirror.png", 0, im.page(KIND, 200), None), markers=mirrored)
    assert isinstance(result, AlignmentFailure)
    assert result.reason.startswith("homography degenerate")


def test_a_wrong_marker_is_outvoted() -> None:
    markers = detect_markers(im.page(KIND, CANONICAL_DPI))
    markers[3] = markers[3] + np.array([150, -90], np.float32)  # a stray print that decoded as id 3
    result = align_page(PageImage("scan.png", 0, im.page(KIND, 200), None), markers=markers)
    assert isinstance(result, AlignedPage)
    assert result.markers_found == (0, 1, 2)
    assert result.reprojection_mm < 0.1


def test_canonical_size_matches_the_rendered_template() -> None:
    for dpi in (150, 200, 300):
        width, height = canonical_size(dpi)
        assert im.page(KIND, dpi).shape == (height, width)


@pytest.mark.parametrize("dpi", [150, 200])
def test_qr_read_after_alignment(dpi: int) -> None:
    fax = im.threshold(im.blur(im.rotate(im.page(KIND, dpi), 180)[0], 0.8))
    aligned = align_page(PageImage("fax.tif", 0, fax, float(dpi)))
    assert isinstance(aligned, AlignedPage)
    ident = identify_aligned(aligned, im.QR_KEY)
    assert ident.method == "qr"
    assert ident.kind is KIND
    assert ident.form_id == im.issued_form(KIND).payload.form_id
    assert ident.qr_valid
    assert ident.detail == "read after alignment"


def test_no_qr_after_alignment() -> None:
    page = im.page(KIND, 200)
    box = form_spec(KIND).qr_box.to_pixels(200)
    aligned = align_page(PageImage("x.png", 0, im.cover(page, box), None))
    assert isinstance(aligned, AlignedPage)
    ident = identify_aligned(aligned, im.QR_KEY)
    assert ident.method == "none" and ident.kind is None and not ident.qr_valid


def test_detection_works_on_a_large_photo_with_a_small_page() -> None:
    photo = np.full((3000, 4000), 110, np.uint8)
    small, _ = im.rescale(im.page(KIND, 200), 0.5)
    photo[400:400 + small.shape[0], 1500:1500 + small.shape[1]] = small
    markers = detect_markers(im.jpeg(im.noise(photo, 6, 1), 60))
    assert sorted(markers) == [0, 1, 2, 3]
    fit = find_homography(markers, CANONICAL_DPI)
    assert not isinstance(fit, str)
    assert fit[2] < 0.15
