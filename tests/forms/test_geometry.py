"""The fiducials written out in forms/geometry.py are OpenCV's ArUco markers."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from forms import (
    ARUCO_DICTIONARY,
    FIDUCIALS,
    MARKER_GRID,
    PAGE_HEIGHT_MM,
    PAGE_WIDTH_MM,
    Box,
    Corner,
    Fiducial,
)


@pytest.mark.parametrize("fiducial", FIDUCIALS, ids=lambda f: f.corner.value)
def test_fiducial_bits_equal_opencv_dictionary(fiducial: Fiducial) -> None:
    dictionary = cv2.aruco.getPredefinedDictionary(getattr(cv2.aruco, ARUCO_DICTIONARY))
    # One pixel per cell: the 6x6 grid, border included, 0 = black.
    image = cv2.aruco.generateImageMarker(dictionary, fiducial.marker_id, MARKER_GRID)
    expected = {(r, c) for r, c in zip(*np.nonzero(image == 0), strict=True)}
    assert set(fiducial.black_cells()) == {(int(r), int(c)) for r, c in expected}


def test_one_distinct_marker_per_corner() -> None:
    assert sorted(f.marker_id for f in FIDUCIALS) == [0, 1, 2, 3]
    assert {f.corner for f in FIDUCIALS} == set(Corner)
    for f in FIDUCIALS:
        cx, cy = f.box.center
        assert (cx < PAGE_WIDTH_MM / 2) == ("left" in f.corner.value)
        assert (cy < PAGE_HEIGHT_MM / 2) == ("top" in f.corner.value)
        assert f.corners_mm()[0] == (f.box.x, f.box.y)
        assert f.corners_mm()[2] == (f.box.right, f.box.bottom)


def test_box_helpers() -> None:
    box = Box(10.0, 20.0, 30.0, 40.0)
    assert (box.right, box.bottom, box.center) == (40.0, 60.0, (25.0, 40.0))
    assert box.inset(5.0) == Box(15.0, 25.0, 20.0, 30.0)
    assert box.to_pixels(254.0) == (100, 200, 400, 600)
