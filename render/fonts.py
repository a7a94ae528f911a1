"""The TrueType fonts every form uses, registered with reportlab once per process.

DejaVu (Debian's fonts-dejavu-core) covers å, ä and ö and has a monospaced
bold face whose 0/O and 1/l differ clearly, which is what OCR of a printed
and scanned value needs. Parsing a TTF costs ~50 ms, so the registration is
cached; each PDF then only embeds the subset of glyphs it uses.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFError, TTFont

from render.errors import RenderError

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")


@dataclass(frozen=True, slots=True)
class Fonts:
    """Registered reportlab font names."""

    sans: str
    bold: str
    mono: str


_FILES = {
    "sans": ("DejaVuSans", "DejaVuSans.ttf"),
    "bold": ("DejaVuSans-Bold", "DejaVuSans-Bold.ttf"),
    "mono": ("DejaVuSansMono-Bold", "DejaVuSansMono-Bold.ttf"),
}

_lock = threading.Lock()
_loaded: dict[Path, Fonts] = {}


def load_fonts(font_dir: Path = FONT_DIR) -> Fonts:
    """Register the DejaVu faces from `font_dir` (once) and return their names."""
    with _lock:
        cached = _loaded.get(font_dir)
        if cached is not None:
            return cached
        names: dict[str, str] = {}
        for role, (name, filename) in _FILES.items():
            path = font_dir / filename
            if not path.is_file():
                raise RenderError(
                    f"font file missing: {path} (install Debian's fonts-dejavu-core)"
                )
            # A font from another directory gets its own name: reportlab's registry is global.
            reg_name = name if font_dir == FONT_DIR else f"{name}@{font_dir}"
            try:
                pdfmetrics.registerFont(TTFont(reg_name, str(path)))
            except (TTFError, OSError) as exc:
                raise RenderError(f"cannot load font {path}: {exc}") from exc
            names[role] = reg_name
        fonts = Fonts(**names)
        _loaded[font_dir] = fonts
        return fonts
