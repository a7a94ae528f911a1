"""Pages to files the way scanners and phones write them, and back to pixels.

PDF (one image per page, JPEG inside, or CCITT G4 for black and white),
JPEG, PNG and TIFF (multi-page; G4 for fax pages, JPEG for grey). Each
scan carries its resolution; a photo says nothing about dpi, like a phone.
Writing is deterministic: the PDF's dates are fixed, so the same pages give
the same bytes. `read_pages` decodes a file back into grey pages (PDF via
pypdfium2, as the intake does), for the truth's QR check and for tests.
"""

from __future__ import annotations

import io
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pypdfium2 as pdfium
from PIL import Image, ImageSequence

Gray = npt.NDArray[np.uint8]
# Scanners stamp the scan time; ours is fixed so that a seed gives the same bytes.
FIXED_TIME = time.struct_time((2026, 1, 20, 9, 0, 0, 1, 20, 0))
PDF_READ_DPI = 200  # a photo in a PDF has no dpi of its own; read it at this


def to_pil(page: npt.NDArray[np.uint8], bilevel: bool) -> Image.Image:
    if bilevel:
        return Image.fromarray(page).convert("1", dither=Image.Dither.NONE)
    return Image.fromarray(page)


def encode(pages: Sequence[npt.NDArray[np.uint8]], fmt: str, *, dpi: int | None,
           bilevel: bool, jpeg_quality: int | None) -> bytes:
    """The file's bytes; single-image formats take exactly one page."""
    images = [to_pil(p, bilevel) for p in pages]
    if fmt in ("jpeg", "png") and len(images) != 1:
        raise ValueError(f"{fmt} holds one page, not {len(images)}")
    buf = io.BytesIO()
    first, rest = images[0], images[1:]
    quality = jpeg_quality or 85
    res: dict[str, object] = {"dpi": (dpi, dpi)} if dpi else {}
    if fmt == "pdf":
        # Pillow's PDF writer JPEG-encodes grey and colour pages, G4-encodes 1-bit ones.
        jpeg: dict[str, object] = {} if bilevel else {"quality": quality}
        for im in images:
            im.encoderinfo = dict(jpeg)  # appended pages are encoded with their own info
        first.save(buf, "PDF", save_all=True, append_images=rest, resolution=float(dpi or 72),
                   **jpeg, title="Skannad blankett", creator="Scanner",
                   producer="samples.scans", creationDate=FIXED_TIME, modDate=FIXED_TIME)
    elif fmt == "tiff":
        compression = "group4" if bilevel else ("jpeg" if jpeg_quality else "tiff_deflate")
        extra: dict[str, object] = {"quality": quality} if compression == "jpeg" else {}
        first.save(buf, "TIFF", save_all=True, append_images=rest, compression=compression,
                   **res, **extra)
    elif fmt == "jpeg":
        first.save(buf, "JPEG", quality=quality, **res)
    elif fmt == "png":
        first.save(buf, "PNG", compress_level=9, **res)
    else:
        raise ValueError(f"unknown format {fmt!r}")
    return buf.getvalue()


def read_pages(path: Path) -> list[Gray]:
    """Every page of a written file as grey pixels (PDF pages at their own dpi)."""
    data = path.read_bytes()
    if data.startswith(b"%PDF"):
        doc = pdfium.PdfDocument(data)
        try:
            out = []
            for page in doc:
                # One image per page, placed at its own resolution: render 1:1.
                scale = _pdf_image_scale(page) or PDF_READ_DPI / 72
                bitmap = page.render(scale=scale, grayscale=True)
                pixels = bitmap.to_numpy()
                out.append(np.ascontiguousarray(pixels[..., 0] if pixels.ndim == 3 else pixels))
            return out
        finally:
            doc.close()
    with Image.open(io.BytesIO(data)) as im:
        return [np.array(frame.convert("L"), dtype=np.uint8) for frame in
                ImageSequence.Iterator(im)]


def _pdf_image_scale(page: pdfium.PdfPage) -> float | None:
    """Pixels per point of the page's one image, so that rendering neither blurs nor bloats."""
    for obj in page.get_objects():
        if obj.type == pdfium.raw.FPDF_PAGEOBJ_IMAGE:
            px_w, _ = obj.get_px_size()
            return float(px_w) / float(page.get_width())
    return None
