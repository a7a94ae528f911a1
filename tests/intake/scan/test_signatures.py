"""read_signatures: an empty area is never signed, pen strokes are, whatever the scan did."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from forms import FormKind, form_spec
from intake.scan.align import align_page
from intake.scan.model import AlignedPage, Gray, PageImage, SignatureState
from intake.scan.signatures import SignatureThresholds, read_signatures
from render import blank_page_image
from tests.intake import imaging as im

THRESHOLDS = SignatureThresholds()

DEGRADATIONS: dict[str, Callable[[Gray], Gray]] = {
    "clean": lambda p: p,
    "jpeg q30": lambda p: im.jpeg(p, 30),
    "noise": lambda p: im.noise(p, 30, 1),
    "blur": lambda p: im.blur(p, 1.5),
    "fax": lambda p: im.threshold(im.blur(p, 0.8)),
    "fax with noise": lambda p: im.threshold(im.noise(im.blur(p, 0.8), 30, 2)),
    "speckle": lambda p: im.speckle(p, 0.01, 3),
    "shadow": lambda p: im.shadow(p, 0.8, 4),
    "grey paper": lambda p: im.gray_paper(p, 150),
    "dark noisy photo": lambda p: im.noise(im.gray_paper(p, 120), 25, 5),
    "rotated": lambda p: im.rotate(p, 8)[0],
    "perspective": lambda p: im.perspective(im.rotate(p, -5)[0], 0.08, 6)[0],
    "150 dpi": lambda p: im.jpeg(im.rescale(p, 0.75)[0], 40),
    "300 dpi": lambda p: im.rescale(p, 1.5)[0],
    "phone": lambda p: im.jpeg(im.noise(im.gray_paper(
        im.shadow(im.perspective(p, 0.1, 7)[0], 0.7, 7), 190), 10, 7), 50),
}


def _aligned(image: Gray) -> AlignedPage:
    aligned = align_page(PageImage("scan.png", 0, image, None))
    assert isinstance(aligned, AlignedPage), aligned
    return aligned


def _signed(kind: FormKind, parties: set[str], **pen: int) -> Gray:
    page = im.page(kind, 200)
    for i, sig in enumerate(form_spec(kind).signatures):
        if sig.party in parties:
            page = im.scribble(page, sig.area.to_pixels(200), seed=31 + i, **pen)
    return page


@pytest.mark.parametrize("kind", list(FormKind))
@pytest.mark.parametrize("name", list(DEGRADATIONS))
def test_empty_areas_stay_empty(kind: FormKind, name: str) -> None:
    aligned = _aligned(DEGRADATIONS[name](im.page(kind, 200)))
    readings = read_signatures(aligned, form_spec(kind), blank_page_image(kind, dpi=200),
                               thresholds=THRESHOLDS)
    for reading in readings.values():
        assert reading.state is SignatureState.EMPTY, (reading.party, reading.ink)
        assert reading.ink < THRESHOLDS.empty_below / 4  # a wide margin, not a near miss


@pytest.mark.parametrize("kind", list(FormKind))
@pytest.mark.parametrize("name", list(DEGRADATIONS))
def test_pen_strokes_are_signed(kind: FormKind, name: str) -> None:
    parties = {sig.party for sig in form_spec(kind).signatures}
    aligned = _aligned(DEGRADATIONS[name](_signed(kind, parties)))
    readings = read_signatures(aligned, form_spec(kind), blank_page_image(kind, dpi=200),
                               thresholds=THRESHOLDS)
    assert set(readings) == parties
    for reading in readings.values():
        assert reading.state is SignatureState.SIGNED, (reading.party, reading.ink)


def test_each_party_on_its_own() -> None:
    spec = form_spec(FormKind.DISCONNECT)
    first = spec.signatures[0].party
    aligned = _aligned(im.jpeg(_signed(FormKind.DISCONNECT, {first}), 40))
    readings = read_signatures(aligned, spec, blank_page_image(FormKind.DISCONNECT, dpi=200),
                               thresholds=THRESHOLDS)
    assert readings[first].state is SignatureState.SIGNED
    assert readings[spec.signatures[1].party].state is SignatureState.EMPTY


def test_one_thin_grey_stroke_is_at_least_unsure() -> None:
    kind = FormKind.DUAL
    parties = {sig.party for sig in form_spec(kind).signatures}
    aligned = _aligned(_signed(kind, parties, thickness=2, ink=130, strokes=1))
    readings = read_signatures(aligned, form_spec(kind), blank_page_image(kind, dpi=200),
                               thresholds=THRESHOLDS)
    for reading in readings.values():
        assert reading.state is not SignatureState.EMPTY, reading.ink


def test_crop_is_a_png_of_the_area() -> None:
    kind = FormKind.DUAL
    aligned = _aligned(im.page(kind, 200))
    readings = read_signatures(aligned, form_spec(kind), blank_page_image(kind, dpi=200),
                               thresholds=THRESHOLDS)
    for sig in form_spec(kind).signatures:
        crop = readings[sig.party].crop
        left, top, right, bottom = sig.area.to_pixels(200)
        assert crop.shape[0] >= bottom - top and crop.shape[1] >= right - left


def test_thresholds_have_an_unsure_band() -> None:
    t = SignatureThresholds(empty_below=0.01, signed_from=0.02)
    assert t.state(0.0) is SignatureState.EMPTY
    assert t.state(0.015) is SignatureState.UNSURE
    assert t.state(0.02) is SignatureState.SIGNED


def test_template_of_another_resolution_is_refused() -> None:
    kind = FormKind.DUAL
    aligned = _aligned(im.page(kind, 200))
    with pytest.raises(ValueError, match="template"):
        read_signatures(aligned, form_spec(kind), blank_page_image(kind, dpi=150),
                        thresholds=THRESHOLDS)
