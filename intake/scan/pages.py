"""Pages out of one mailed file: PDF or image bytes to grayscale page images.

This module owns the first stage of the intake and the only one that touches
untrusted file formats. The file type comes from its first bytes, never from
its name. Every cap (bytes, pages, pixels per page) is checked from headers
before anything is decoded, and Pillow's decompression-bomb warning is an
error, so a hostile or broken attachment costs milliseconds and ends in an
`InputRejected` that says why in plain words.

PDF pages are rendered with pypdfium2 at a resolution chosen from the page
size, so that an A4 page comes out at about `PageLimits.pdf_dpi`; a page that
is one scanned image is rendered at that image's own resolution instead (no
resampling of the customer's pixels), within the limits. A page drawn from
vectors is rendered with its form fields (a value typed into our fillable
form is on the image), and carries what `pdflayer` reads of it: its fields'
values, its text and its other annotations. Images go through
Pillow: JPEG, PNG, TIFF (every page), WebP and BMP, with the EXIF orientation
applied.
"""

from __future__ import annotations

import io
import logging
import warnings
from dataclasses import dataclass
from enum import StrEnum

import cv2
import numpy as np
import numpy.typing as npt
import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from PIL import Image, ImageOps, UnidentifiedImageError

from forms import MM_PER_INCH, PAGE_HEIGHT_MM
from intake.errors import InputRejected
from intake.scan.model import Gray, PageImage, PdfLayer
from intake.scan.pdflayer import read_layer

# The libraries' own words (pdfium, Pillow) go here, for the operator; the
# reasons people see are our sentences.
log = logging.getLogger(__name__)

POINTS_PER_INCH = 72.0
A4_LONG_INCH = PAGE_HEIGHT_MM / MM_PER_INCH
# A resolution outside this range in an image header is a default (72 dpi
# from a phone or an editor) or nonsense, not how the page was scanned.
PLAUSIBLE_DPI = (100.0, 2400.0)
# An image covering at least this share of the page is "the scan" of that page.
SCANNED_PAGE_COVER = 0.8
EXIF_ORIENTATION = 0x0112


@dataclass(frozen=True, slots=True)
class PageLimits:
    """What one file may cost before we refuse it; all checked before decoding."""

    max_bytes: int = 40 * 1024 * 1024
    max_pages: int = 30
    # Per page. A4 at 600 dpi is 35 Mpx and a 48 Mpx phone photo is 48 Mpx.
    max_pixels: int = 50_000_000
    # PDF rendering, as the resolution an A4 page would get.
    pdf_dpi: float = 200.0
    min_pdf_dpi: float = 100.0
    max_pdf_dpi: float = 300.0
    # JPEGs larger than this (long side, pixels) are decoded at 1/2, 1/4 ... by
    # libjpeg itself: A4 at 300 dpi needs no more, and it is several times faster.
    jpeg_draft_long_side: int = 3600


class FileType(StrEnum):
    PDF = "PDF"
    JPEG = "JPEG"
    PNG = "PNG"
    TIFF = "TIFF"
    WEBP = "WEBP"
    BMP = "BMP"


ACCEPTED = "PDF, JPEG, PNG, TIFF, WebP or BMP"
ACCEPTED_SV = "PDF, JPEG, PNG, TIFF, WebP eller BMP"


def _reject(message: str, customer_message: str) -> InputRejected:
    return InputRejected(message, customer_message=customer_message)


def sniff_type(data: bytes) -> FileType:
    """The file's type from its magic bytes; `InputRejected` if it is none we read."""
    head = data[:16]
    if data[:1024].lstrip(b"\x00\t\n\r\x0c ").startswith(b"%PDF-") or b"%PDF-" in data[:1024]:
        # PDF readers accept the header anywhere in the first kilobyte, after mail junk.
        return FileType.PDF
    if head.startswith(b"\xff\xd8\xff"):
        return FileType.JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return FileType.PNG
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return FileType.TIFF
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return FileType.WEBP
    if head.startswith(b"BM"):
        return FileType.BMP
    raise _reject(f"not a {ACCEPTED} file: {_describe(data)}",
                  f"Filen är ingen {ACCEPTED_SV}-fil och kan inte läsas.")


def _describe(data: bytes) -> str:
    """What an unreadable file seems to be, for the operator's message."""
    if data[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1", b"ftyphevc"):
        return "it is a HEIC/HEIF photo"
    if data.startswith(b"PK\x03\x04"):
        return "it is a ZIP archive (perhaps a Word or Excel document)"
    try:
        text = data[:512].decode("utf-8")
    except UnicodeDecodeError:
        text = ""
    if text and all(c.isprintable() or c in "\r\n\t" for c in text):
        return "it contains text"
    return f"unknown type (starts with {data[:8].hex(' ')})"


def extract_pages(data: bytes, name: str, *, limits: PageLimits) -> list[PageImage]:
    """Every page of the file as a grayscale image; `InputRejected` says why not."""
    if not data:
        raise _reject("the file is empty (0 bytes)", "Filen är tom.")
    if len(data) > limits.max_bytes:
        raise _reject(
            f"the file is {len(data) / 1e6:.1f} MB; the limit is {limits.max_bytes / 1e6:.1f} MB",
            f"Filen är för stor ({len(data) / 1e6:.1f} MB, högst "
            f"{limits.max_bytes / 1e6:.0f} MB).",
        )
    kind = sniff_type(data)
    if kind is FileType.PDF:
        return _pdf_pages(data, name, limits)
    return _image_pages(data, name, kind, limits)


# --- PDF ---------------------------------------------------------------------


def _open_pdf(data: bytes) -> pdfium.PdfDocument:
    try:
        return pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        text = str(exc).lower()
        if "password" in text or "security" in text:
            raise _reject("the PDF is encrypted (password protected)",
                          "PDF-filen är lösenordsskyddad. Skicka den utan lösenord.") from exc
        if b"%%EOF" not in data[-2048:]:
            raise _reject("the PDF is truncated (it ends before its end-of-file marker)",
                          "PDF-filen är ofullständig. Skicka den igen.") from exc
        log.info("pdfium cannot open the PDF: %s", exc)
        raise _reject("the PDF is damaged and cannot be opened",
                      "PDF-filen är skadad och kan inte öppnas.") from exc


def _pdf_pages(data: bytes, name: str, limits: PageLimits) -> list[PageImage]:
    doc = _open_pdf(data)
    try:
        # Before any page is loaded: pages then carry their form fields, drawn and readable.
        doc.init_forms()
        count = len(doc)
        if count == 0:
            raise _reject("the PDF has no pages", "PDF-filen har inga sidor.")
        _check_page_count(count, limits)
        pages = []
        for index in range(count):
            page = doc[index]
            try:
                pixels, dpi, layer = _pdf_page(doc, page, index, limits)
            except pdfium.PdfiumError as exc:
                log.info("pdfium cannot render page %d: %s", index + 1, exc)
                raise _reject(f"page {index + 1} of the PDF cannot be rendered",
                              f"Sidan {index + 1} i PDF-filen kan inte läsas.") from exc
            finally:
                page.close()
            pages.append(PageImage(name, index, pixels, dpi, layer))
        return pages
    finally:
        doc.close()


def _pdf_page(doc: pdfium.PdfDocument, page: pdfium.PdfPage, index: int, limits: PageLimits
              ) -> tuple[Gray, float, PdfLayer | None]:
    """The page's image and resolution; for a page drawn from vectors, its layer too."""
    width, height = page.get_size()
    # Scaling by the long side makes a page of any paper size (or a photo put
    # into a PDF at 72 points per pixel) come out with about as many pixels
    # as an A4 page at `pdf_dpi`.
    a4_scale = A4_LONG_INCH / (max(width, height, 1.0) / POINTS_PER_INCH)
    scan = _scanned_image(page, width * height)
    if scan is not None:
        image, native_dpi = scan
        px_w, px_h = image.get_px_size()
        _check_pixels(index, px_w, px_h, limits)
        if limits.min_pdf_dpi <= native_dpi / a4_scale:
            extracted = _extract_scan(image, page.get_rotation())
            if extracted is not None:
                return (*_cap_resolution(extracted, native_dpi, limits.max_pdf_dpi * a4_scale),
                        None)
        dpi = min(max(native_dpi / a4_scale, limits.min_pdf_dpi), limits.max_pdf_dpi) * a4_scale
    else:
        dpi = limits.pdf_dpi * a4_scale
    _check_pixels(index, round(width / POINTS_PER_INCH * dpi),
                  round(height / POINTS_PER_INCH * dpi), limits)
    # Form fields drawn: a value typed into a field is on the page as the customer saw it.
    bitmap = page.render(scale=dpi / POINTS_PER_INCH, grayscale=True, may_draw_forms=True)
    pixels = _gray(bitmap.to_numpy())
    if scan is not None:
        return pixels, dpi, None
    return pixels, dpi, read_layer(doc, page, pixels.shape[1], pixels.shape[0])


def _gray(pixels: npt.NDArray[np.uint8]) -> Gray:
    if pixels.ndim == 3:  # pdfium's BGR or BGRx
        bgr = np.ascontiguousarray(pixels[..., :3])
        return np.asarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY), np.uint8)
    return np.ascontiguousarray(pixels, dtype=np.uint8)


def _scanned_image(page: pdfium.PdfPage, page_area: float) -> tuple[pdfium.PdfImage, float] | None:
    """The one image that makes up a scanned page, and its resolution, if it is one.

    A scanner's PDF is one image per page, perhaps with an invisible OCR text
    layer on top; a page drawn from vectors (like our own forms) has none.
    """
    images = list(page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE], max_depth=2))
    if len(images) != 1:
        return None
    image = images[0]
    left, bottom, right, top = image.get_bounds()
    placed_w, placed_h = right - left, top - bottom
    if placed_w <= 0 or placed_h <= 0 or placed_w * placed_h < SCANNED_PAGE_COVER * page_area:
        return None
    px_w, px_h = image.get_px_size()
    # Compare long side with long side: a scan placed at 90 degrees swaps them.
    return image, float(max(px_w, px_h) / (max(placed_w, placed_h) / POINTS_PER_INCH))


def _extract_scan(image: pdfium.PdfImage, page_rotation: int) -> Gray | None:
    """The scan's own pixels, turned as the page shows them; None if not a plain placement.

    Rendering would resample the whole image through pdfium (~140 ms for an
    A4 page at 300 dpi); taking the decoded pixels and turning them with
    numpy is ~15 ms. Only quarter turns and flips are handled here; anything
    else (a skewed placement, a Form XObject with clipping) is rendered.
    """
    if not isinstance(image, pdfium.PdfImage):
        return None
    m = image.get_matrix()
    a, b, c, d = m.a, m.b, m.c, m.d
    axis_aligned = (abs(b) + abs(c) < 1e-3 * (abs(a) + abs(d))) or (
        abs(a) + abs(d) < 1e-3 * (abs(b) + abs(c)))
    if not axis_aligned:
        return None
    pixels = _gray(image.get_bitmap(render=False).to_numpy())
    # Directions of the image's columns and rows on the device (x right, y down):
    # PDF image space puts the first row at the top of the unit square, and
    # the page's y axis points up.
    col = (_sign(a), -_sign(b))
    row = (-_sign(c), _sign(d))
    for _ in range((page_rotation // 90) % 4):  # /Rotate turns the page clockwise
        col, row = (-col[1], col[0]), (-row[1], row[0])
    if col[0] == 0:  # columns run down the page: the array is on its side
        pixels = pixels.T
        down, across = col, row
    else:
        down, across = row, col
    if down[1] < 0:
        pixels = pixels[::-1]
    if across[0] < 0:
        pixels = pixels[:, ::-1]
    return np.ascontiguousarray(pixels)


def _sign(v: float) -> int:
    return 0 if abs(v) < 1e-9 else (1 if v > 0 else -1)


def _cap_resolution(pixels: Gray, dpi: float, max_dpi: float) -> tuple[Gray, float]:
    if dpi <= max_dpi * 1.05:
        return pixels, dpi
    k = max_dpi / dpi
    size = (max(1, round(pixels.shape[1] * k)), max(1, round(pixels.shape[0] * k)))
    return np.asarray(cv2.resize(pixels, size, interpolation=cv2.INTER_AREA), np.uint8), max_dpi


# --- images ------------------------------------------------------------------


def _check_page_count(count: int, limits: PageLimits) -> None:
    if count > limits.max_pages:
        raise _reject(f"the file has {count} pages; the limit is {limits.max_pages}",
                      f"Filen har {count} sidor, högst {limits.max_pages} tas emot.")


def _check_pixels(index: int, width: int, height: int, limits: PageLimits) -> None:
    if width * height > limits.max_pixels:
        raise _reject(
            f"page {index + 1} is {width}×{height} pixels ({width * height / 1e6:.0f} "
            f"megapixels); the limit is {limits.max_pixels / 1e6:.0f} megapixels",
            f"Sidan {index + 1} är för stor ({width}×{height} bildpunkter).",
        )


def _image_pages(data: bytes, name: str, kind: FileType, limits: PageLimits) -> list[PageImage]:
    # Pillow's bomb check compares against this global on open; with the
    # warning made an error, anything over our own cap fails there too (our
    # header check below is the first line, this the second).
    Image.MAX_IMAGE_PIXELS = limits.max_pixels
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data), formats=[kind.value])
            # Only TIFF means "pages" by its frames; a phone's MPO JPEG or an
            # animated PNG carries previews and frames, not further pages.
            count = getattr(image, "n_frames", 1) if kind is FileType.TIFF else 1
            _check_page_count(count, limits)
            pages = []
            for index in range(count):
                if index:
                    image.seek(index)
                _check_pixels(index, image.width, image.height, limits)
                gray, dpi = _decode_frame(image, kind, limits)
                pages.append(PageImage(name, index, gray, dpi))
            return pages
        except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
            log.info("Pillow refuses the image: %s", exc)
            raise _reject("the image has too many pixels",
                          "Bilden är för stor för att läsas.") from exc
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
            log.info("Pillow cannot decode the %s image: %s", kind.value, exc)
            raise _reject(f"the {kind.value} image is damaged or truncated",
                          "Bildfilen är skadad eller ofullständig. Skicka den igen.") from exc


def _decode_frame(
    image: Image.Image, kind: FileType, limits: PageLimits
) -> tuple[Gray, float | None]:
    dpi = _header_dpi(image)
    if kind is FileType.JPEG:
        # libjpeg decodes straight to grey (skipping colour conversion) and, for a
        # photo far larger than A4 at 300 dpi needs, at 1/2 or 1/4 scale.
        k = min(1.0, limits.jpeg_draft_long_side / max(image.size))
        before = image.width
        image.draft("L", (max(1, round(image.width * k)), max(1, round(image.height * k))))
        if dpi is not None:
            dpi *= image.width / before
    image.load()
    # exif_transpose copies the whole image even when there is nothing to turn.
    if image.getexif().get(EXIF_ORIENTATION, 1) != 1:
        image = ImageOps.exif_transpose(image)
    return _to_gray(image), dpi


def _header_dpi(image: Image.Image) -> float | None:
    raw = image.info.get("dpi")
    try:
        dpi = float(raw[0]) if isinstance(raw, tuple) else None
    except (TypeError, ValueError):
        return None
    if dpi is None or not PLAUSIBLE_DPI[0] <= dpi <= PLAUSIBLE_DPI[1]:
        return None
    return dpi


def _to_gray(image: Image.Image) -> Gray:
    mode = image.mode
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in image.info):
        # Transparent pixels are paper: composite on white, not on black.
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(white, rgba)
        mode = image.mode
    if mode.startswith("I") or mode == "F":
        # 16-bit and float scans: stretch the actual range onto 0..255.
        values = np.asarray(image, dtype=np.float64)
        low, high = float(values.min()), float(values.max())
        scaled = (values - low) * (255.0 / (high - low)) if high > low else values * 0 + 255
        return np.ascontiguousarray(scaled.round(), dtype=np.uint8)
    if mode != "L":
        image = image.convert("L")
    return np.array(image, dtype=np.uint8)
