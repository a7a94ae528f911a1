"""extract_pages: every bad file is refused with its reason; good files give every page."""

from __future__ import annotations

import io
import os
import struct
import zlib

import numpy as np
import pypdf
import pytest
from PIL import Image

from forms import FormKind
from intake import InputRejected
from intake.scan.pages import PageLimits, extract_pages, sniff_type
from tests.intake import imaging as im

LIMITS = PageLimits()


def _png_header_bomb(width: int, height: int) -> bytes:
    """A real 1-bit PNG of width×height white... that decompresses to ~110 MB."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))

    row = b"\x00" + b"\xff" * ((width + 7) // 8)
    z = zlib.compressobj(1)
    block = row * 500
    idat = b"".join(z.compress(block) for _ in range(height // 500)) + z.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat)
            + chunk(b"IEND", b""))


def _pil(image: np.ndarray, fmt: str, **params: object) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, fmt, **params)
    return buf.getvalue()


def _rejected(data: bytes, limits: PageLimits = LIMITS, name: str = "scan.pdf") -> InputRejected:
    with pytest.raises(InputRejected) as caught:
        extract_pages(data, name, limits=limits)
    error = caught.value
    assert error.exit_code == os.EX_DATAERR
    assert error.customer_message  # Swedish, for the sender
    return error


# --- refusals -----------------------------------------------------------------


def test_zero_byte_file() -> None:
    assert "empty" in _rejected(b"").message


def test_text_file_called_pdf() -> None:
    error = _rejected("Hej! Här kommer blanketten.\nMvh Anna\n".encode(), name="blankett.pdf")
    assert "not a PDF" in error.message
    assert "contains text" in error.message


def test_truncated_pdf() -> None:
    pdf = im.issued_form(FormKind.DUAL).pdf
    assert "truncated" in _rejected(pdf[: len(pdf) * 2 // 3]).message


def test_library_words_stay_in_the_log_not_in_the_reason(caplog: pytest.LogCaptureFixture) -> None:
    # pdfium and Pillow explain themselves in their own terms ("Failed to load
    # page", "image file is truncated"); the reason a person reads is ours.
    pdf = im.issued_form(FormKind.DUAL).pdf
    garbled = b"%PDF-1.7\n" + bytes(range(256)) * 8 + b"\n%%EOF\n"
    jpeg = _pil(im.page(FormKind.DUAL, 100), "JPEG", quality=80)
    caplog.set_level("INFO", logger="intake.scan.pages")
    for data, name in ((garbled, "scan.pdf"), (jpeg[: len(jpeg) // 2], "scan.jpg")):
        error = _rejected(data, name=name)
        assert "(" not in error.message and "Error" not in error.message, error.message
    assert pdf  # the issued form itself still opens (checked elsewhere); only damage is refused
    assert any("pdfium" in r.getMessage() for r in caplog.records)
    assert any("Pillow" in r.getMessage() for r in caplog.records)


def test_encrypted_pdf() -> None:
    writer = pypdf.PdfWriter()
    writer.append(pypdf.PdfReader(io.BytesIO(im.issued_form(FormKind.DUAL).pdf)))
    writer.encrypt(user_password="hemligt", owner_password="ägare", algorithm="RC4-128")
    buf = io.BytesIO()
    writer.write(buf)
    error = _rejected(buf.getvalue())
    assert "encrypted" in error.message
    assert "lösenord" in error.customer_message


def test_huge_png_is_refused_before_decoding() -> None:
    error = _rejected(_png_header_bomb(30000, 30000), name="scan.png")
    assert "pixels" in error.message


def test_unknown_type() -> None:
    assert "unknown type" in _rejected(bytes(range(256)) * 4, name="scan.jpg").message


def test_zip_document() -> None:
    assert "ZIP" in _rejected(b"PK\x03\x04" + b"\x00" * 100, name="scan.docx").message


def test_truncated_jpeg() -> None:
    data = _pil(im.page(FormKind.DUAL, 100), "JPEG", quality=80)
    assert "damaged or truncated" in _rejected(data[: len(data) // 2], name="scan.jpg").message


def test_byte_cap() -> None:
    data = im.issued_form(FormKind.DUAL).pdf
    error = _rejected(data, PageLimits(max_bytes=len(data) - 1))
    assert "the limit is" in error.message


def test_page_cap_before_decoding() -> None:
    page = Image.fromarray(im.page(FormKind.DUAL, 50))
    buf = io.BytesIO()
    page.save(buf, "TIFF", save_all=True, append_images=[page, page])
    error = _rejected(buf.getvalue(), PageLimits(max_pages=2))
    assert "3 pages" in error.message


def test_pixel_cap_on_pdf_page() -> None:
    error = _rejected(im.issued_form(FormKind.DUAL).pdf, PageLimits(max_pixels=1_000_000))
    assert "megapixels" in error.message


def test_pixel_cap_on_image_header() -> None:
    data = _pil(im.page(FormKind.DUAL, 100), "PNG")
    assert "pixels" in _rejected(data, PageLimits(max_pixels=500_000), name="a.png").message


# --- good files ------------------------------------------------------------------


def test_our_pdf_renders_at_the_a4_resolution() -> None:
    pages = extract_pages(im.issued_form(FormKind.DUAL).pdf, "form.pdf", limits=LIMITS)
    assert len(pages) == 1
    page = pages[0]
    assert page.image.dtype == np.uint8 and page.image.ndim == 2
    assert page.image.shape == (2339, 1654)
    assert page.dpi == pytest.approx(200, abs=0.1)
    assert page.source == "form.pdf" and page.index == 0


def test_multi_page_pdf_gives_every_page() -> None:
    writer = pypdf.PdfWriter()
    for kind in (FormKind.DUAL, FormKind.DISCONNECT, FormKind.DUAL):
        writer.append(pypdf.PdfReader(io.BytesIO(im.issued_form(kind).pdf)))
    buf = io.BytesIO()
    writer.write(buf)
    pages = extract_pages(buf.getvalue(), "three.pdf", limits=LIMITS)
    assert [p.index for p in pages] == [0, 1, 2]
    assert np.abs(pages[0].image.astype(int) - pages[2].image).mean() < 0.5


@pytest.mark.parametrize("rotate", [0, 90, 180, 270])
def test_scanned_pdf_at_its_own_resolution(rotate: int) -> None:
    """A scanner's PDF (one image per page) comes out at the scan's dpi, turned as shown."""
    scan = im.page(FormKind.DISCONNECT, 300)
    buf = io.BytesIO()
    Image.fromarray(scan).save(buf, "PDF", resolution=300)
    reader = pypdf.PdfReader(io.BytesIO(buf.getvalue()))
    writer = pypdf.PdfWriter()
    for pdf_page in reader.pages:
        writer.add_page(pdf_page.rotate(rotate))
    out = io.BytesIO()
    writer.write(out)
    (page,) = extract_pages(out.getvalue(), "scan.pdf", limits=LIMITS)
    assert page.dpi == pytest.approx(300, abs=0.5)
    expected = np.rot90(scan, -rotate // 90)  # /Rotate turns clockwise
    assert page.image.shape == expected.shape
    assert np.abs(page.image.astype(int) - expected).mean() < 3  # JPEG inside the PDF


def test_scanned_pdf_above_the_cap_is_reduced() -> None:
    scan = im.page(FormKind.DUAL, 300)
    data = _pil(scan, "PDF", resolution=300)
    (page,) = extract_pages(data, "scan.pdf", limits=PageLimits(max_pdf_dpi=200))
    assert page.dpi == pytest.approx(200, abs=1)
    assert abs(page.image.shape[0] - 2339) <= 2


def test_multi_page_tiff_gives_every_page() -> None:
    first = Image.fromarray(im.page(FormKind.DUAL, 100))
    fax = Image.fromarray(im.threshold(im.page(FormKind.DISCONNECT, 100))).convert("1")
    turned = first.rotate(90, expand=True)
    buf = io.BytesIO()
    first.save(buf, "TIFF", save_all=True, append_images=[fax, turned], dpi=(100, 100))
    pages = extract_pages(buf.getvalue(), "fax.tif", limits=LIMITS)
    assert [p.index for p in pages] == [0, 1, 2]
    assert pages[1].image.dtype == np.uint8
    assert set(np.unique(pages[1].image)) <= {0, 255}
    assert pages[2].image.shape == pages[0].image.shape[::-1]
    assert pages[0].dpi == 100


def test_exif_orientation_is_applied() -> None:
    upright = im.page(FormKind.DUAL, 60)
    stored = np.ascontiguousarray(np.rot90(upright, 1))  # the camera stored it on its side
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 clockwise to view"
    data = _pil(stored, "JPEG", quality=95, exif=exif.tobytes())
    (page,) = extract_pages(data, "photo.jpg", limits=LIMITS)
    assert page.image.shape == upright.shape
    assert np.abs(page.image.astype(int) - upright).mean() < 4


def test_phone_photo_dpi_is_unknown_and_a_huge_photo_is_decoded_smaller() -> None:
    photo = np.full((6000, 8000, 3), 230, np.uint8)
    data = _pil(photo, "JPEG", quality=70, dpi=(72, 72))
    (page,) = extract_pages(data, "IMG_0001.JPG", limits=LIMITS)
    assert page.dpi is None
    assert page.image.shape == (3000, 4000)  # libjpeg's 1/2 scale, still above 300 dpi A4


def test_transparent_png_is_white_paper() -> None:
    rgba = np.zeros((50, 40, 4), np.uint8)
    rgba[10:20, 10:20] = (0, 0, 0, 255)
    (page,) = extract_pages(_pil(rgba, "PNG"), "a.png", limits=LIMITS)
    assert page.image[0, 0] == 255 and page.image[15, 15] == 0


def test_sixteen_bit_png() -> None:
    deep = (np.arange(64 * 64, dtype=np.uint16).reshape(64, 64) * 16)
    buf = io.BytesIO()
    Image.fromarray(deep).save(buf, "PNG")
    (page,) = extract_pages(buf.getvalue(), "deep.png", limits=LIMITS)
    assert page.image.dtype == np.uint8
    assert page.image.min() == 0 and page.image.max() == 255


@pytest.mark.parametrize("fmt", ["PNG", "WEBP", "BMP", "JPEG"])
def test_image_formats_by_content_not_name(fmt: str) -> None:
    image = im.page(FormKind.DUAL, 60)
    params: dict[str, object] = {"lossless": True} if fmt == "WEBP" else {}
    data = _pil(image, fmt, **params)
    assert sniff_type(data).value == fmt
    (page,) = extract_pages(data, "called-a.pdf", limits=LIMITS)
    tolerance = 3 if fmt == "JPEG" else 0
    assert np.abs(page.image.astype(int) - image).mean() <= tolerance
