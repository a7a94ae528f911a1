"""Drawing on the canonical page in millimetres, and the house style.

forms/ measures boxes in mm from the page's top-left corner; PDF measures
points from the bottom-left. Every conversion happens in `Page`, so the rest
of render/ speaks the same units as forms/spec.py. Type sizes are in points,
as a typographer would give them; line weights too.
"""

from __future__ import annotations

from typing import Literal

from reportlab.lib.colors import Color
from reportlab.lib.utils import simpleSplit
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas

from forms import MM_PER_INCH, PAGE_HEIGHT_MM, Box
from render.errors import RenderError
from render.fonts import Fonts

Align = Literal["left", "centre", "right"]

PT_PER_MM = 72.0 / MM_PER_INCH
# DejaVu's capital letters are 0.73 em tall; centring capitals (not the em box)
# is what makes a line of text look centred in a box.
CAP_HEIGHT = 0.73

INK = Color(0, 0, 0)
WHITE = Color(1, 1, 1)
LABEL = Color(0.36, 0.36, 0.36)
HINT = Color(0.42, 0.42, 0.42)
FAINT = Color(0.62, 0.62, 0.62)
BAND = Color(0.87, 0.87, 0.87)
PANEL = Color(0.95, 0.95, 0.95)

BOX_LINE = 0.6  # pt: thin enough to look light, thick enough to survive a 150 dpi scan
RULE_LINE = 0.35
MARK_LINE = 1.6  # the X in a chosen checkbox

TITLE_SIZE = 17.0
SUBTITLE_SIZE = 8.8
BODY_SIZE = 7.8
SECTION_SIZE = 9.2
LABEL_SIZE = 6.8
HINT_SIZE = 6.6
VALUE_SIZE = 10.5
COMB_VALUE_SIZE = 12.0
ID_SIZE = 8.5
FOOTER_SIZE = 6.6
MIN_SIZE = 5.6
LEADING = 1.25


def mm_to_pt(mm: float) -> float:
    return mm * PT_PER_MM


def pt_to_mm(pt: float) -> float:
    return pt / PT_PER_MM


class Page:
    """A reportlab canvas seen through the canonical page's coordinates."""

    def __init__(self, canvas: Canvas, fonts: Fonts) -> None:
        self.canvas = canvas
        self.fonts = fonts

    @staticmethod
    def x(mm: float) -> float:
        return mm * PT_PER_MM

    @staticmethod
    def y(mm: float) -> float:
        return (PAGE_HEIGHT_MM - mm) * PT_PER_MM

    # -- shapes ---------------------------------------------------------------------------

    def rect(self, box: Box, *, line: float = BOX_LINE, stroke: Color | None = INK,
             fill: Color | None = None) -> None:
        c = self.canvas
        if fill is not None:
            c.setFillColor(fill)
        if stroke is not None:
            c.setStrokeColor(stroke)
            c.setLineWidth(line)
        c.rect(self.x(box.x), self.y(box.bottom), mm_to_pt(box.w), mm_to_pt(box.h),
               stroke=int(stroke is not None), fill=int(fill is not None))

    def line(self, x1: float, y1: float, x2: float, y2: float, *, width: float = BOX_LINE,
             color: Color = INK) -> None:
        c = self.canvas
        c.setStrokeColor(color)
        c.setLineWidth(width)
        c.line(self.x(x1), self.y(y1), self.x(x2), self.y(y2))

    def cells(self, origin: tuple[float, float], cell: float,
              black: list[tuple[int, int]]) -> None:
        """Fill grid cells (row, col) of size `cell` mm as one path, merging runs in a row.

        One path keeps a rasteriser from drawing hairline seams between
        neighbouring squares, which would break a marker or QR module apart.
        """
        rows: dict[int, list[int]] = {}
        for r, col in black:
            rows.setdefault(r, []).append(col)
        c = self.canvas
        path = c.beginPath()
        k = mm_to_pt(cell)
        for r, cols in rows.items():
            cols.sort()
            runs: list[list[int]] = []
            for col in cols:
                if runs and runs[-1][1] == col:
                    runs[-1][1] = col + 1
                else:
                    runs.append([col, col + 1])
            for start, stop in runs:
                path.rect(self.x(origin[0] + start * cell), self.y(origin[1] + (r + 1) * cell),
                          (stop - start) * k, k)
        c.setFillColor(INK)
        c.drawPath(path, stroke=0, fill=1)

    # -- text -----------------------------------------------------------------------------

    @staticmethod
    def width(text: str, font: str, size: float) -> float:
        """Advance width of `text` in mm."""
        return pt_to_mm(stringWidth(text, font, size))

    def text(self, x: float, baseline: float, text: str, font: str, size: float, *,
             color: Color = INK, align: Align = "left") -> None:
        c = self.canvas
        c.setFillColor(color)
        c.setFont(font, size)
        if align == "left":
            c.drawString(self.x(x), self.y(baseline), text)
        elif align == "right":
            c.drawRightString(self.x(x), self.y(baseline), text)
        else:
            c.drawCentredString(self.x(x), self.y(baseline), text)

    def fit_size(self, text: str, font: str, size: float, width: float, *,
                 min_size: float = MIN_SIZE) -> float:
        """The largest size up to `size` at which `text` fits `width` mm, or RenderError."""
        natural = self.width(text, font, size)
        if natural <= width:
            return size
        fitted = size * width / natural
        if fitted < min_size:
            raise RenderError(
                f"{text!r} does not fit {width:.1f} mm even at {min_size} pt; "
                "widen its box in forms/spec.py"
            )
        return fitted

    @staticmethod
    def centred_baseline(box: Box, size: float) -> float:
        """The baseline that centres capitals of a `size` pt font vertically in `box`."""
        return box.y + (box.h + pt_to_mm(size) * CAP_HEIGHT) / 2

    def text_in(self, box: Box, text: str, font: str, size: float, *, color: Color = INK,
                align: Align = "left", pad: float = 0.0,
                min_size: float = MIN_SIZE) -> None:
        """One line, vertically centred in `box`, shrunk if it would not fit across."""
        size = self.fit_size(text, font, size, box.w - 2 * pad, min_size=min_size)
        baseline = self.centred_baseline(box, size)
        if align == "left":
            self.text(box.x + pad, baseline, text, font, size, color=color)
        elif align == "right":
            self.text(box.right - pad, baseline, text, font, size, color=color, align="right")
        else:
            self.text(box.center[0], baseline, text, font, size, color=color, align="centre")

    def wrap(self, text: str, font: str, size: float, width: float) -> list[str]:
        return list(simpleSplit(text, font, size, mm_to_pt(width)))

    def paragraph(self, box: Box, text: str, font: str, size: float, *, color: Color = INK,
                  valign: Literal["top", "middle"] = "top") -> None:
        """Wrap `text` into `box`, shrinking the type until it fits."""
        self.paragraphs(box, [text], font, size, color=color, valign=valign)

    def paragraphs(self, box: Box, texts: list[str], font: str, size: float, *,
                   bullet: str = "", color: Color = INK,
                   valign: Literal["top", "middle"] = "top") -> None:
        """Several paragraphs, each optionally after a hanging `bullet`, shrunk to fit `box`."""
        while True:
            indent = self.width(bullet, font, size) if bullet else 0.0
            lines: list[tuple[bool, str]] = []  # (starts a paragraph, text)
            for text in texts:
                wrapped = self.wrap(text, font, size, box.w - indent)
                lines += [(n == 0, line) for n, line in enumerate(wrapped)]
            leading = pt_to_mm(size) * LEADING
            height = leading * (len(lines) - 1) + pt_to_mm(size) * CAP_HEIGHT
            if height <= box.h or size <= MIN_SIZE:
                break
            size = max(MIN_SIZE, size - 0.3)
        if height > box.h:
            raise RenderError(f"{texts[0][:40]!r}… does not fit its {box.w}x{box.h} mm box")
        top = box.y + (box.h - height) / 2 if valign == "middle" else box.y
        baseline = top + pt_to_mm(size) * CAP_HEIGHT
        for first, line in lines:
            if first and bullet:
                self.text(box.x, baseline, bullet, font, size, color=color)
            self.text(box.x + indent, baseline, line, font, size, color=color)
            baseline += leading

    def spaced_text(self, x: float, baseline: float, text: str, font: str, size: float,
                    spacing: float) -> None:
        """`text` with `spacing` mm added after each character (one character per comb cell)."""
        c = self.canvas
        c.setFillColor(INK)
        t = c.beginText(self.x(x), self.y(baseline))
        t.setFont(font, size)
        t.setCharSpace(mm_to_pt(spacing))
        t.textOut(text)
        # Character spacing is PDF text state and outlives the text object: reset it.
        t.setCharSpace(0)
        c.drawText(t)
