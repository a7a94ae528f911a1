"""identify_page: the QR code says which form and which issued id; a forged mac is caught."""

from __future__ import annotations

import numpy as np
import pytest
import segno

from forms import FormKind, blank_payload, form_spec
from intake.scan.identify import identification_from_text, identify_page
from intake.scan.model import PageImage
from render import rasterise_pdf, render_form_pdf
from tests.intake import imaging as im


def _page(image: np.ndarray) -> PageImage:
    return PageImage("scan.png", 0, image, None)


@pytest.mark.parametrize("kind", list(FormKind))
@pytest.mark.parametrize("dpi", [150, 200, 300])
def test_issued_form_is_identified(kind: FormKind, dpi: int) -> None:
    ident = identify_page(_page(im.page(kind, dpi)), qr_key=im.QR_KEY)
    payload = im.issued_form(kind).payload
    assert ident.method == "qr"
    assert ident.kind is kind
    assert ident.version == form_spec(kind).version
    assert ident.form_id == payload.form_id
    assert ident.qr_text == payload.text()
    assert ident.qr_valid
    assert ident.detail == ""


@pytest.mark.parametrize("spoil", ["upside down", "quarter turn", "jpeg q30", "fax", "shadow",
                                   "noise", "perspective"])
def test_identified_through_degradations(spoil: str) -> None:
    page = im.page(FormKind.DISCONNECT, 200)
    image = {
        "upside down": lambda: im.rotate(page, 180)[0],
        "quarter turn": lambda: im.rotate(page, 90)[0],
        "jpeg q30": lambda: im.jpeg(page, 30),
        "fax": lambda: im.threshold(im.blur(im.rescale(page, 0.75)[0], 0.8)),
        "shadow": lambda: im.gray_paper(im.shadow(page, 0.8, 1), 180),
        "noise": lambda: im.noise(page, 35, 2),
        "perspective": lambda: im.perspective(im.rotate(page, 7)[0], 0.1, 4)[0],
    }[spoil]()
    ident = identify_page(_page(image), qr_key=im.QR_KEY)
    assert (ident.kind, ident.form_id, ident.qr_valid) == (
        FormKind.DISCONNECT, im.issued_form(FormKind.DISCONNECT).payload.form_id, True)


def test_forged_mac_is_reported_not_trusted() -> None:
    forged = im.issued_form(FormKind.DUAL, key=b"someone-else's-key")
    image = rasterise_pdf(forged.pdf, 200)[0]
    ident = identify_page(_page(image), qr_key=im.QR_KEY)
    assert ident.method == "qr"
    assert ident.kind is FormKind.DUAL
    assert ident.form_id == forged.payload.form_id  # still shown to the reviewer
    assert not ident.qr_valid
    assert "signatur" in ident.detail


def test_blank_form_has_kind_but_no_id() -> None:
    spec = form_spec(FormKind.DISCONNECT)
    pdf = render_form_pdf(spec, {}, mailbox=im.MAILBOX,
                          payload=blank_payload(spec.kind.code, spec.version), blank=True)
    ident = identify_page(_page(rasterise_pdf(pdf, 200)[0]), qr_key=im.QR_KEY)
    assert ident.method == "qr"
    assert ident.kind is FormKind.DISCONNECT
    assert ident.form_id is None
    assert ident.qr_valid
    assert ident.detail == "blank form"


def test_page_without_qr() -> None:
    ident = identify_page(_page(np.full((2339, 1654), 255, np.uint8)), qr_key=im.QR_KEY)
    assert ident.method == "none"
    assert ident.kind is None and ident.qr_text is None and not ident.qr_valid
    assert ident.detail == "no QR code found"


def test_someone_elses_qr_code() -> None:
    page = np.full((1200, 900), 255, np.uint8)
    modules = np.array(segno.make_qr("https://example.se/faktura/123").matrix, bool)
    code = np.where(np.kron(modules, np.ones((8, 8), bool)), 0, 255).astype(np.uint8)
    page[100:100 + code.shape[0], 500:500 + code.shape[1]] = code
    ident = identify_page(_page(page), qr_key=im.QR_KEY)
    assert ident.method == "none" and ident.kind is None
    assert ident.qr_text == "https://example.se/faktura/123"
    assert "not ours" in ident.detail


def test_unknown_kind_code() -> None:
    ident = identification_from_text("KPL1:X:2026.1", im.QR_KEY)
    assert ident.kind is None and not ident.qr_valid
    assert "unknown form kind" in ident.detail


def test_malformed_payload() -> None:
    ident = identification_from_text("KPL1:D:2026.1:SHORT:MAC", im.QR_KEY)
    assert ident.method == "none" and ident.kind is None
    assert ident.detail.startswith("not our QR code")
