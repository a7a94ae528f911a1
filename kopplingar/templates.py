"""The intake's `TemplateSource`, made from the renderer.

Intake compares a scan with what we printed but does not render; the
composition root gives it this adapter over `render.raster`.
"""

from __future__ import annotations

from collections.abc import Mapping

from forms import FormKind, QrPayload
from intake.scan import CANONICAL_DPI, Gray
from render import blank_page_image, page_image


class RenderedTemplates:
    """Blank pages cached per kind; an expected pre-filled page rendered per document."""

    def __init__(self, mailbox: str, dpi: int = CANONICAL_DPI) -> None:
        self.mailbox = mailbox
        self.dpi = dpi

    def blank(self, kind: FormKind) -> Gray:
        return blank_page_image(kind, dpi=self.dpi, mailbox=self.mailbox)

    def expected(self, kind: FormKind, values: Mapping[str, str], payload: QrPayload) -> Gray:
        return page_image(kind, values, payload, dpi=self.dpi, mailbox=self.mailbox)
