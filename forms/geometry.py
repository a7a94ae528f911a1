"""Page geometry shared by rendering and reading: boxes in millimetres and the fiducials.

Coordinates have their origin at the top-left corner of the A4 page, x to the
right and y downwards, as in an image; the renderer flips them for PDF. One
millimetre at D dpi is D / 25.4 pixels.

The fiducials are ArUco markers from the 4x4_50 dictionary, one distinct id per
corner, so a reader knows which corner it sees and therefore the page's
orientation. Their bit patterns are written out here (and checked against
OpenCV's dictionary in the tests) so that this package needs no OpenCV.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

PAGE_WIDTH_MM = 210.0
PAGE_HEIGHT_MM = 297.0
MM_PER_INCH = 25.4


@dataclass(frozen=True, slots=True)
class Box:
    """An axis-aligned rectangle on the canonical page, in millimetres."""

    x: float
    y: float
    w: float
    h: float

    @property
    def right(self) -> float:
        return self.x + self.w

    @property
    def bottom(self) -> float:
        return self.y + self.h

    @property
    def center(self) -> tuple[float, float]:
        return (self.x + self.w / 2, self.y + self.h / 2)

    def inset(self, d: float) -> Box:
        return Box(self.x + d, self.y + d, self.w - 2 * d, self.h - 2 * d)

    def to_pixels(self, dpi: float) -> tuple[int, int, int, int]:
        """(left, top, right, bottom) in pixels of a page rendered at `dpi`."""
        k = dpi / MM_PER_INCH
        return (
            round(self.x * k),
            round(self.y * k),
            round(self.right * k),
            round(self.bottom * k),
        )


class Corner(StrEnum):
    TOP_LEFT = "top_left"
    TOP_RIGHT = "top_right"
    BOTTOM_RIGHT = "bottom_right"
    BOTTOM_LEFT = "bottom_left"


ARUCO_DICTIONARY = "DICT_4X4_50"
MARKER_SIZE_MM = 12.0
MARKER_MARGIN_MM = 8.0
# The marker is a 6x6 grid of cells: a black border around 4x4 data bits.
MARKER_GRID = 6

# Data bits of each id, row by row, 1 = black (border excluded).
_MARKER_BITS: dict[int, tuple[str, str, str, str]] = {
    0: ("0100", "1010", "1100", "1101"),
    1: ("1111", "0000", "0110", "0101"),
    2: ("1100", "1100", "1101", "0010"),
    3: ("0110", "0110", "1011", "1001"),
}


@dataclass(frozen=True, slots=True)
class Fiducial:
    marker_id: int
    corner: Corner
    box: Box

    def black_cells(self) -> list[tuple[int, int]]:
        """(row, col) of every black cell in the 6x6 grid, border included."""
        bits = _MARKER_BITS[self.marker_id]
        cells = []
        for r in range(MARKER_GRID):
            for c in range(MARKER_GRID):
                on_border = r in (0, MARKER_GRID - 1) or c in (0, MARKER_GRID - 1)
                if on_border or bits[r - 1][c - 1] == "1":
                    cells.append((r, c))
        return cells

    def corners_mm(self) -> tuple[tuple[float, float], ...]:
        """The marker's outer corners in ArUco order: TL, TR, BR, BL of the marker itself."""
        b = self.box
        return ((b.x, b.y), (b.right, b.y), (b.right, b.bottom), (b.x, b.bottom))


def _fiducials() -> tuple[Fiducial, ...]:
    m, s = MARKER_MARGIN_MM, MARKER_SIZE_MM
    far_x, far_y = PAGE_WIDTH_MM - m - s, PAGE_HEIGHT_MM - m - s
    return (
        Fiducial(0, Corner.TOP_LEFT, Box(m, m, s, s)),
        Fiducial(1, Corner.TOP_RIGHT, Box(far_x, m, s, s)),
        Fiducial(2, Corner.BOTTOM_RIGHT, Box(far_x, far_y, s, s)),
        Fiducial(3, Corner.BOTTOM_LEFT, Box(m, far_y, s, s)),
    )


FIDUCIALS: tuple[Fiducial, ...] = _fiducials()
