"""The machine-readable marks: the four ArUco fiducials and the QR code.

Both are drawn as vector squares, so they stay sharp at any print or scan
resolution, and each gets a white quiet zone painted under it so that nothing
drawn nearby can touch the black border a detector looks for.
"""

from __future__ import annotations

import segno

from forms import MARKER_GRID, Box, Fiducial, QrPayload
from render.page import WHITE, Page

# ArUco detectors want a white margin of at least one cell around the border.
FIDUCIAL_QUIET_CELLS = 1
# Level M restores 15 % of the code: enough for a fold or a stray pen mark,
# while the modules stay large enough (~0.8 mm) for a 150 dpi fax-like scan.
QR_LEVEL = "M"
QR_QUIET_MODULES = 4  # the QR standard's quiet zone, kept inside spec.qr_box


def draw_fiducial(page: Page, fiducial: Fiducial) -> None:
    box = fiducial.box
    cell = box.w / MARKER_GRID
    page.rect(box.inset(-FIDUCIAL_QUIET_CELLS * cell), stroke=None, fill=WHITE)
    page.cells((box.x, box.y), cell, fiducial.black_cells())


def qr_modules(text: str) -> list[list[bool]]:
    """The QR code of `text` as rows of dark (True) and light modules.

    segno rather than reportlab's encoder: same standard symbol, a quarter of
    the time (the mask search dominated rendering a form). No error boost, so
    the level stays exactly M and the symbol as small as the payload allows.
    """
    code = segno.make_qr(text, error=QR_LEVEL, boost_error=False)
    return [[bool(m) for m in row] for row in code.matrix]


def draw_qr(page: Page, payload: QrPayload, box: Box) -> None:
    modules = qr_modules(payload.text())
    count = len(modules)
    size = min(box.w, box.h)
    module = size / (count + 2 * QR_QUIET_MODULES)
    page.rect(box, stroke=None, fill=WHITE)
    origin = (box.x + (box.w - size) / 2 + QR_QUIET_MODULES * module,
              box.y + (box.h - size) / 2 + QR_QUIET_MODULES * module)
    dark = [(r, c) for r, row in enumerate(modules) for c, on in enumerate(row) if on]
    page.cells(origin, module, dark)
