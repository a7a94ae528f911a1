"""Hostile and odd attachments for the torture mail, made in milliseconds and nothing committed.

* `zip_bomb`: a 1 MB zip holding one 1 GiB file of zeros (never to be opened).
* `pdf_bomb`: a valid one-page PDF whose image is 100 000 x 100 000 pixels, a
  1.2 MB stream that inflates to 1.25 GB; the page caps must refuse it.
* `slow_pdf`: a 1 KB PDF whose page is a function shading with a long
  PostScript calculator function, evaluated for every device pixel: pdfium
  needs minutes to render it at 200 dpi (`SLOW_PDF_OPS` sets how long).
* small stand-ins by magic bytes: a 1x1 PNG, an .exe stub, a HEIC header, a
  .docx, a zip of a file.

The bombs' streams are built from one compressed block repeated: after a
full flush, deflate output for the same input is the same bytes, so a
gigabyte of zeros is compressed by compressing one mebibyte.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from functools import cache

MIB = 1 << 20
ZIP_BOMB_BYTES = 1 << 30
PDF_BOMB_PIXELS = 100_000  # per side, 1 bit per pixel
# pdfium runs the function once per device pixel, ~19 ns per operator here: A4
# at 200 dpi is 3.9 Mpx, so 2000 operators took 187 s to render (pypdfium2,
# one core). The time grows linearly with the count; no other limit applies.
SLOW_PDF_OPS = 2000
ZIP_TIME = (2026, 1, 19, 10, 30, 0)


@cache
def _zeros_deflate(size: int) -> bytes:
    """A raw deflate stream of `size` zero bytes, without compressing all of them."""
    zeros = bytes(MIB)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    again = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    full, rest = divmod(size, MIB)
    out = [first, again * (full - 1)] if full else []
    if rest:
        out.append(compressor.compress(bytes(rest)) + compressor.flush(zlib.Z_FULL_FLUSH))
    out.append(compressor.flush())
    return b"".join(out)


@cache
def _zeros_crc32(size: int) -> int:
    zeros = bytes(MIB)
    crc = 0
    for _ in range(size // MIB):
        crc = zlib.crc32(zeros, crc)
    return zlib.crc32(bytes(size % MIB), crc)


def _dos_time() -> tuple[int, int]:
    year, month, day, hour, minute, second = ZIP_TIME
    return hour << 11 | minute << 5 | second // 2, (year - 1980) << 9 | month << 5 | day


def zip_bomb(name: str = "blankett.pdf", size: int = ZIP_BOMB_BYTES) -> bytes:
    """A valid zip with one deflated member of `size` zero bytes."""
    data = _zeros_deflate(size)
    crc = _zeros_crc32(size)
    encoded = name.encode("ascii")
    time, date = _dos_time()
    local = (
        struct.pack(
            "<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, time, date, crc, len(data), size, len(encoded), 0
        )
        + encoded
    )
    central = (
        struct.pack(
            "<IHHHHHHIIIHHHHHII",
            0x02014B50,
            20,
            20,
            0,
            8,
            time,
            date,
            crc,
            len(data),
            size,
            len(encoded),
            0,
            0,
            0,
            0,
            0,
            0,
        )
        + encoded
    )
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(central), len(local) + len(data), 0)
    return local + data + central + end


def pdf(objects: list[bytes]) -> bytes:
    """A PDF file of these objects (numbered from 1, the first the catalog) with its xref."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def pdf_stream(entries: bytes, data: bytes) -> bytes:
    return b"<< " + entries + b" /Length %d >>\nstream\n" % len(data) + data + b"\nendstream"


def _one_page(contents: bytes, resources: bytes) -> list[bytes]:
    return [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R"
        b" /Resources " + resources + b" >>",
        pdf_stream(b"", contents),
    ]


def pdf_bomb(side: int = PDF_BOMB_PIXELS) -> bytes:
    """An A4 page covered by one side x side 1-bit image of zeros, Flate in zlib form."""
    size = (side + 7) // 8 * side
    # zlib framing around the raw deflate: header, data, Adler-32 of `size` zeros.
    stream = b"\x78\xda" + _zeros_deflate(size) + struct.pack(">I", (size % 65521) << 16 | 1)
    image = pdf_stream(
        b"/Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray"
        b" /BitsPerComponent 1 /Decode [1 0] /Filter /FlateDecode" % (side, side),
        stream,
    )
    return pdf(
        [*_one_page(b"q 595 0 0 842 0 0 cm /Im0 Do Q\n", b"<< /XObject << /Im0 5 0 R >> >>"), image]
    )


def slow_pdf(ops: int = SLOW_PDF_OPS) -> bytes:
    """An A4 page painted by a shading whose colour function is `ops` PostScript operators."""
    program = b"{ " + b"dup sin pop " * ops + b"}"
    shading = (
        b"<< /ShadingType 1 /ColorSpace /DeviceGray /Domain [0 1 0 1]"
        b" /Matrix [595 0 0 842 0 0] /Function 6 0 R >>"
    )
    function = pdf_stream(
        b"/FunctionType 4 /Domain [0 1 0 1] /Range [0 1] /Filter /FlateDecode",
        zlib.compress(program, 9),
    )
    page = _one_page(b"q 0 0 595 842 re W n /Sh0 sh Q\n", b"<< /Shading << /Sh0 5 0 R >> >>")
    return pdf([*page, shading, function])


def tiny_png() -> bytes:
    """A 1x1 white PNG, like the logo in a mail signature."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00\xff", 9))
        + chunk(b"IEND", b"")
    )


def exe_stub() -> bytes:
    """The start of a Windows program: an MZ header and the DOS stub's message. Not runnable."""
    head = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00"
    return (
        head
        + bytes(48)
        + b"\x0e\x1f\xba\x0e\x00\xb4\x09\xcd\x21"
        + b"This program cannot be run in DOS mode.\r\r\n$"
        + bytes(400)
    )


def heic_header() -> bytes:
    """The first bytes of an iPhone HEIC photo (ftyp box), padded; no image."""
    return struct.pack(">I", 24) + b"ftypheic" + bytes(4) + b"mif1heic" + bytes(1000)


def _zip(members: list[tuple[str, bytes]]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return out.getvalue()


def zip_of(name: str, data: bytes) -> bytes:
    return _zip([(name, data)])


def docx() -> bytes:
    """A minimal Word document: the zip members that make it one."""
    types = (
        b'<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.'
        b'org/package/2006/content-types"/>'
    )
    document = (
        b'<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="http://schemas.'
        b'openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>'
        b"Blankett</w:t></w:r></w:p></w:body></w:document>"
    )
    return _zip([("[Content_Types].xml", types), ("word/document.xml", document)])
