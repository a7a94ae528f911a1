"""Forms as images: the canonical page a scan is compared with.

The scan reader subtracts what we printed from what came back, so it needs
the page exactly as rendered, at its canonical resolution, in grayscale.
Blank templates are cached per kind and resolution; an expected pre-filled
page (with the issued values) is rendered on demand.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

import numpy as np
import numpy.typing as npt
import pypdfium2 as pdfium

from forms import FormKind, QrPayload, blank_payload, form_spec
from render.errors import RenderError
from render.pdf import render_form_pdf

Gray = npt.NDArray[np.uint8]
TEMPLATE_MAILBOX = "kopplingar@example.se"


def rasterise_pdf(pdf: bytes, dpi: float) -> list[Gray]:
    """Every page of `pdf` as a grayscale array at `dpi`."""
    try:
        doc = pdfium.PdfDocument(pdf)
    except pdfium.PdfiumError as exc:
        raise RenderError(f"cannot rasterise the rendered PDF: {exc}") from exc
    try:
        pages = []
        for index in range(len(doc)):
            page = doc[index]
            bitmap = page.render(scale=dpi / 72, grayscale=True)
            try:
                pixels = bitmap.to_numpy()
                if pixels.ndim == 3:
                    pixels = pixels[..., 0]
                # A copy: the bitmap's buffer is freed with it, deterministically, here.
                pages.append(np.array(pixels, dtype=np.uint8, copy=True))
            finally:
                bitmap.close()
                page.close()
        return pages
    finally:
        doc.close()


def page_image(
    kind: FormKind,
    values: Mapping[str, str],
    payload: QrPayload,
    *,
    dpi: float,
    mailbox: str = TEMPLATE_MAILBOX,
) -> Gray:
    """The pre-filled page as printed, at `dpi`."""
    pdf = render_form_pdf(form_spec(kind), values, mailbox=mailbox, payload=payload)
    return rasterise_pdf(pdf, dpi)[0]


@functools.lru_cache(maxsize=16)
def _blank(kind: FormKind, dpi: float, mailbox: str) -> Gray:
    spec = form_spec(kind)
    pdf = render_form_pdf(
        spec, {}, mailbox=mailbox, payload=blank_payload(kind.code, spec.version), blank=True
    )
    page = rasterise_pdf(pdf, dpi)[0]
    page.flags.writeable = False  # shared by every caller through the cache
    return page


def blank_page_image(kind: FormKind, *, dpi: float, mailbox: str = TEMPLATE_MAILBOX) -> Gray:
    """The blank form at `dpi`; cached, returned read-only (copy it to draw on it)."""
    return _blank(FormKind(kind), float(dpi), mailbox)
