"""Alignment: a page image, however it was turned or photographed, onto the canonical A4 page.

This module owns finding the four ArUco fiducials (`forms.FIDUCIALS`) and the
homography from the page to the canonical page at a chosen resolution. Each
marker id belongs to one corner of the form, so the correspondence (and with
it the orientation: 90, 180, 270 degrees, skew, perspective) follows from the
ids alone; nothing is guessed. Any three markers give twelve point pairs,
enough for a RANSAC homography with room to spare; the RMS reprojection
error of the marker corners, in millimetres, is the page's quality figure.

Markers are searched on a copy reduced to about 120 dpi (a 12 mm marker
is still ~55 px there), which costs a fifth of a full-resolution search,
and their corners are then refined on the full image. The first search uses
one thresholding window; a thorough one (five windows) runs only when a
marker is missing, a contrast-normalised copy and the full image only when
fewer than three were found.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import numpy.typing as npt

from forms import FIDUCIALS, FORMS, MM_PER_INCH, PAGE_HEIGHT_MM, PAGE_WIDTH_MM
from intake.scan.identify import identify_region
from intake.scan.model import (
    CANONICAL_DPI,
    AlignedPage,
    AlignmentFailure,
    Gray,
    Identification,
    PageImage,
)

Corners = npt.NDArray[np.float32]  # 4×2: the marker's own TL, TR, BR, BL, in image pixels
Homography = npt.NDArray[np.float64]

MARKER_IDS = frozenset(f.marker_id for f in FIDUCIALS)
MIN_MARKERS = 3
# The long side of the copy markers are searched on: an A4 page filling it
# is ~120 dpi, a phone photo with margins around the page still ~80 dpi.
DETECT_LONG_SIDE = 1400
# RANSAC inlier distance on the canonical page: well above detection noise
# (~0.05 mm), well below a marker's size (12 mm), so a wrong marker is out.
RANSAC_MM = 1.5
DEFAULT_MAX_ERROR_MM = 1.0
# Room around the QR box when reading it on the aligned page: alignment is good
# to a fraction of a millimetre, the margin only keeps the quiet zone whole.
QR_MARGIN_MM = 3.0
# A born-digital page counts as placed exactly when every marker is this close to its place.
PLACED_TOLERANCE_PX = 1.5
PLACED_MARGIN_MM = 3.0  # the corner searched around each fiducial


def _detector(windows: tuple[int, int, int], min_perimeter: float) -> cv2.aruco.ArucoDetector:
    params = cv2.aruco.DetectorParameters()
    params.adaptiveThreshWinSizeMin, params.adaptiveThreshWinSizeMax, step = windows
    params.adaptiveThreshWinSizeStep = step
    params.minMarkerPerimeterRate = min_perimeter
    params.cornerRefinementMethod = cv2.aruco.CORNER_REFINE_SUBPIX
    params.cornerRefinementWinSize = 4
    params.cornerRefinementMaxIterations = 40
    params.cornerRefinementMinAccuracy = 0.01
    dictionary = cv2.aruco.getPredefinedDictionary(cv2.aruco.DICT_4X4_50)
    return cv2.aruco.ArucoDetector(dictionary, params)


# Each thresholding window is a full pass over the image. One window of ~2 mm
# finds the markers on almost every page; the thorough detector (windows of
# 5 to 45 px, candidates down to a quarter of the usual size) runs only when
# the quick one missed one.
_QUICK = _detector((15, 15, 10), 0.06)
_THOROUGH = _detector((5, 45, 10), 0.02)


def _search(image: Gray, detector: cv2.aruco.ArucoDetector) -> dict[int, Corners]:
    corners, ids, _rejected = detector.detectMarkers(image)
    found: dict[int, Corners] = {}
    if len(corners) == 0:  # ids is None then
        return found
    for raw, marker_id in zip(corners, np.asarray(ids).ravel(), strict=True):
        mid = int(marker_id)
        if mid not in MARKER_IDS:
            continue
        quad = np.asarray(raw, np.float32).reshape(4, 2)
        # Two candidates for one id (two forms in one photo): keep the larger,
        # the page the photo is of.
        if mid not in found or _perimeter(quad) > _perimeter(found[mid]):
            found[mid] = quad
    return found


def _perimeter(quad: Corners) -> float:
    return float(cv2.arcLength(quad.reshape(-1, 1, 2), closed=True))


def _normalise(image: Gray) -> Gray:
    """Shadows and grey paper flattened out, noise smoothed: the second-chance copy."""
    k = max(15, (min(image.shape) // 20) | 1)
    background = cv2.morphologyEx(image, cv2.MORPH_CLOSE,
                                  cv2.getStructuringElement(cv2.MORPH_RECT, (k, k)))
    flat = cv2.divide(image, background, scale=255)
    return np.asarray(cv2.medianBlur(flat, 3), np.uint8)


def _reduce(image: Gray) -> tuple[Gray, tuple[float, float, float, float]]:
    """A copy at most ~`DETECT_LONG_SIDE` long, and how its pixels map back.

    Returns (copy, (ax, bx, ay, by)) with x_full = ax * x_copy + bx (same for
    y). pyrDown halves for ~1 ms where an area resize by a fraction takes ten
    times that; the last step is bilinear, never below half size, where ArUco
    does not mind the little aliasing.
    """
    small, ax, bx, ay, by = image, 1.0, 0.0, 1.0, 0.0
    while max(small.shape) >= 2 * DETECT_LONG_SIDE:
        # pyrDown's pixel x is the centre of the source's pixel 2x.
        small = np.asarray(cv2.pyrDown(small), np.uint8)
        ax, ay = 2 * ax, 2 * ay
    if max(small.shape) > DETECT_LONG_SIDE * 1.1:
        k = DETECT_LONG_SIDE / max(small.shape)
        size = (max(1, round(small.shape[1] * k)), max(1, round(small.shape[0] * k)))
        fx, fy = size[0] / small.shape[1], size[1] / small.shape[0]
        small = np.asarray(cv2.resize(small, size, interpolation=cv2.INTER_LINEAR), np.uint8)
        # resize's pixel x is the source's (x + 0.5) / f - 0.5.
        bx, by = bx + ax * (0.5 / fx - 0.5), by + ay * (0.5 / fy - 0.5)
        ax, ay = ax / fx, ay / fy
    return small, (ax, bx, ay, by)


def detect_markers(image: Gray) -> dict[int, Corners]:
    """Our fiducials in `image`: marker id -> its four corners in `image` pixels."""
    small, (ax, bx, ay, by) = _reduce(image)
    found = _search(small, _QUICK)
    if len(found) < len(MARKER_IDS):
        _merge(found, _search(small, _THOROUGH))
    if len(found) < MIN_MARKERS:
        _merge(found, _search(_normalise(small), _THOROUGH))
    scale = np.array([ax, ay], np.float32)
    offset = np.array([bx, by], np.float32)
    markers = {mid: (quad * scale + offset).astype(np.float32)
               for mid, quad in found.items()}
    if len(markers) < MIN_MARKERS and small is not image:
        # A page small in a large photo: its markers may only show at full size.
        _merge(markers, _search(image, _THOROUGH))
    if small is not image:
        _refine(image, markers)
    return dict(sorted(markers.items()))


def _refine(image: Gray, markers: dict[int, Corners]) -> None:
    """Corners found on the reduced copy, sharpened on the full image.

    A corner found at 120 dpi is good to ~0.1 of its pixel; on a 300 dpi scan
    or a large photo the full image pins it down to a few hundredths of a mm.
    The window stays inside the marker's outer cell so that no other corner
    pulls at it.
    """
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 30, 0.01)
    for mid, quad in markers.items():
        cell = _perimeter(quad) / 4 / 6
        half = max(2, min(12, round(cell * 0.4)))
        pts = quad.reshape(-1, 1, 2).copy()
        cv2.cornerSubPix(image, pts, (half, half), (-1, -1), criteria)
        markers[mid] = pts.reshape(4, 2)


def _merge(found: dict[int, Corners], more: dict[int, Corners]) -> None:
    for mid, quad in more.items():
        found.setdefault(mid, quad)


def canonical_size(dpi: float) -> tuple[int, int]:
    """(width, height) in pixels of the canonical page, as pdfium rasterises it (rounded up)."""
    k = dpi / MM_PER_INCH
    return math.ceil(PAGE_WIDTH_MM * k - 1e-6), math.ceil(PAGE_HEIGHT_MM * k - 1e-6)


def _canonical_corners(marker_id: int, dpi: float) -> npt.NDArray[np.float32]:
    fiducial = next(f for f in FIDUCIALS if f.marker_id == marker_id)
    # Millimetres measure from the page's edge; OpenCV's pixel centres sit half a pixel in.
    corners = np.array(fiducial.corners_mm(), np.float32)
    return corners * np.float32(dpi / MM_PER_INCH) - np.float32(0.5)


def find_homography(
    markers: dict[int, Corners], dpi: float
) -> tuple[Homography, tuple[int, ...], float] | str:
    """Image -> canonical homography, the marker ids it rests on and its RMS error in mm.

    Returns the reason instead when there is no trustworthy homography.
    """
    if len(markers) < MIN_MARKERS:
        listed = ", ".join(str(i) for i in sorted(markers)) or "none"
        return f"fewer than {MIN_MARKERS} fiducials found (ids {listed})"
    ids = sorted(markers)
    src = np.concatenate([markers[i] for i in ids]).astype(np.float64)
    dst = np.concatenate([_canonical_corners(i, dpi) for i in ids]).astype(np.float64)
    px_per_mm = dpi / MM_PER_INCH
    fit, mask = cv2.findHomography(src, dst, cv2.RANSAC, RANSAC_MM * px_per_mm)
    if not _is_homography(fit):
        return "homography degenerate (no consistent fit)"
    # A marker counts only if all four of its corners agree with the fit.
    agree: list[bool] = [bool(v) for v in np.asarray(mask).reshape(len(ids), 4).min(axis=1)]
    used = tuple(i for i, ok in zip(ids, agree, strict=True) if ok)
    if len(used) < MIN_MARKERS:
        listed = ", ".join(str(i) for i in used) or "none"
        return f"fewer than {MIN_MARKERS} fiducials agree (ids {listed})"
    if len(used) < len(ids):
        keep = np.repeat(np.array(agree), 4)
        src, dst = src[keep], dst[keep]
        fit, _ = cv2.findHomography(src, dst, 0)
        if not _is_homography(fit):
            return "homography degenerate (no consistent fit)"
    h = np.asarray(fit, np.float64)
    problem = _degenerate(h, dpi)
    if problem:
        return f"homography degenerate ({problem})"
    mapped = np.asarray(cv2.perspectiveTransform(src.reshape(-1, 1, 2), h)).reshape(-1, 2)
    rms_px = float(np.sqrt(np.mean(np.sum((mapped - dst) ** 2, axis=1))))
    return h, used, rms_px / px_per_mm


def _is_homography(fit: object) -> bool:
    # OpenCV returns None (or an empty array) when it finds no fit at all.
    return fit is not None and np.asarray(fit).shape == (3, 3)


def _degenerate(h: Homography, dpi: float) -> str:
    """Why `h` (image -> canonical) cannot be a photo of a page, or '' if it can."""
    if not np.all(np.isfinite(h)) or abs(np.linalg.det(h)) < 1e-12:
        return "singular"
    width, height = canonical_size(dpi)
    page = np.array([[0, 0], [width, 0], [width, height], [0, height]], np.float64)
    inverse = np.linalg.inv(h)
    w = np.hstack([page, np.ones((4, 1))]) @ inverse[2]
    if np.any(w <= 0):
        return "the page would reach the horizon"
    corners = cv2.perspectiveTransform(page.reshape(-1, 1, 2), inverse).reshape(-1, 2)
    # Clockwise on the canonical page must stay clockwise in the image: markers
    # cannot be read in a mirror image, so a flip means a wrong correspondence.
    area = 0.5 * sum(
        corners[i, 0] * corners[(i + 1) % 4, 1] - corners[(i + 1) % 4, 0] * corners[i, 1]
        for i in range(4)
    )
    if area <= 0:
        return "mirrored"
    if not cv2.isContourConvex(corners.astype(np.float32).reshape(-1, 1, 2)):
        return "not convex"
    return ""


def rotation_of(h: Homography, dpi: float) -> float:
    """How the page lies in the image: clockwise degrees of its x axis, 0..360."""
    width, height = canonical_size(dpi)
    centre = np.array([[[width / 2, height / 2]], [[width / 2 + 100, height / 2]]])
    a, b = cv2.perspectiveTransform(centre, np.linalg.inv(h)).reshape(2, 2)
    return round(math.degrees(math.atan2(b[1] - a[1], b[0] - a[0])), 2) % 360.0


def warp_to_canonical(image: Gray, h: Homography, dpi: float) -> Gray:
    """`image` resampled onto the canonical page; outside the scan is white paper."""
    size = canonical_size(dpi)
    # Shrinking by more than ~1.8 with bilinear sampling drops thin print
    # lines between samples: area-average down to about the target first.
    jac = h[:2, :2] / h[2, 2]
    shrink = math.sqrt(abs(float(np.linalg.det(jac))))
    if shrink < 0.55:
        k = shrink
        small = np.asarray(cv2.resize(image, (max(1, round(image.shape[1] * k)),
                                              max(1, round(image.shape[0] * k))),
                                      interpolation=cv2.INTER_AREA), np.uint8)
        sx, sy = small.shape[1] / image.shape[1], small.shape[0] / image.shape[0]
        h = h @ np.diag([1 / sx, 1 / sy, 1.0])
        image = small
    warped = cv2.warpPerspective(image, h, size, flags=cv2.INTER_LINEAR,
                                 borderMode=cv2.BORDER_CONSTANT, borderValue=255)
    return np.asarray(warped, np.uint8)


def align_page(
    page: PageImage,
    *,
    dpi: int = CANONICAL_DPI,
    max_error_mm: float = DEFAULT_MAX_ERROR_MM,
    markers: dict[int, Corners] | None = None,
) -> AlignedPage | AlignmentFailure:
    """The page warped upright onto the canonical A4 page at `dpi`, or why it cannot be.

    `markers` may be passed when the caller has already detected them.
    """
    found = detect_markers(page.image) if markers is None else markers
    fit = find_homography(found, dpi)
    if isinstance(fit, str):
        return AlignmentFailure(page, fit)
    h, used, error_mm = fit
    if error_mm > max_error_mm:
        return AlignmentFailure(
            page, f"reprojection error {error_mm:.2f} mm too large (limit {max_error_mm:g} mm)")
    return AlignedPage(
        page=page,
        image=warp_to_canonical(page.image, h, dpi),
        markers_found=used,
        reprojection_mm=error_mm,
        rotation_deg=rotation_of(h, dpi),
        dpi=dpi,
        homography=np.asarray(h, np.float64),
    )


def exactly_placed(page: PageImage, *, dpi: int = CANONICAL_DPI,
                   tolerance_px: float = PLACED_TOLERANCE_PX) -> AlignedPage | None:
    """A born-digital page rendered already as the canonical page, or None.

    A PDF page of A4 rendered at `dpi` with our form on it unscaled is the
    canonical page pixel for pixel: warping it would only blur it. That is
    checked, not assumed: every fiducial is looked for in its own corner
    (a few milliseconds, against ~20 for the whole-page search and the warp)
    and must sit within `tolerance_px` of its place. A page printed to PDF at
    another scale, or turned, fails the check and is aligned as a scan is.
    """
    if page.layer is None or page.image.shape[::-1] != canonical_size(dpi):
        return None
    for fiducial in FIDUCIALS:
        left, top, right, bottom = fiducial.box.inset(-PLACED_MARGIN_MM).to_pixels(dpi)
        left, top = max(left, 0), max(top, 0)
        found = _search(np.ascontiguousarray(page.image[top:bottom, left:right]), _QUICK)
        quad = found.get(fiducial.marker_id)
        if quad is None:
            return None
        where = quad + np.array([left, top], np.float32)
        if float(np.abs(where - _canonical_corners(fiducial.marker_id, dpi)).max()) > tolerance_px:
            return None
    return AlignedPage(page=page, image=page.image, markers_found=tuple(
        f.marker_id for f in FIDUCIALS), reprojection_mm=0.0, rotation_deg=0.0, dpi=dpi,
        homography=np.eye(3))


def identify_aligned(aligned: AlignedPage, qr_key: bytes) -> Identification:
    """The QR code read where the form has it, on the aligned page: the fallback to
    `identify_page` when the whole-page search found nothing (shadow, blur, a fax)."""
    reading = Identification(None, None, None, None, False, "none", "no QR code found")
    for box in dict.fromkeys(spec.qr_box for spec in FORMS.values()):
        region = box.inset(-QR_MARGIN_MM).to_pixels(aligned.dpi)
        reading = identify_region(aligned.image, region, qr_key)
        if reading.method == "qr":
            return reading
    return reading
