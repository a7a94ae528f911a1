"""read_fields, classify_by_text and the Tesseract runner on rendered pages, real Tesseract.

Pages come from render.raster.page_image at the canonical 200 dpi, so they are
perfectly aligned; the degradations a scan adds (resolution, blur, JPEG,
specks, a fax threshold, a residual shift of 0.5 mm, shadows on grey paper)
are applied here, deterministically. Organisationsnummer and subscription
numbers must come out exact on every variant.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping

import cv2
import numpy as np
import pytest

from forms import FieldType, FormKind, FormSpec, clean_values, form_spec, sign_payload
from intake.scan import read as read_module
from intake.scan.fieldtext import typed_reading
from intake.scan.model import CANONICAL_DPI, AlignedPage, FieldReading, Gray, PageImage
from intake.scan.read import classify_by_text, read_fields
from intake.scan.tesseract import OcrChar, OcrWord, TesseractError, full_page_text, recognise_words
from kopplingar.benchmarks.render import sample_value_sets
from render import page_image
from tests.intake import imaging

KEY = b"read-tests-qr-key"
FORM_IDS = ("7K3QX9P2MD", "4HBV8WT6RC", "9PQ3ZK2M7T", "2M8XW4H6CB")
MM = CANONICAL_DPI / 25.4
KEY_TYPES = (FieldType.ORGNR, FieldType.SUBSCRIPTION)


@functools.cache
def _forms() -> tuple[tuple[FormKind, dict[str, str], Gray], ...]:
    """Four pre-filled pages (two of each kind) with realistic values, at 200 dpi."""
    out = []
    for (kind, values), form_id in zip(sample_value_sets(4), FORM_IDS, strict=True):
        spec = form_spec(kind)
        cleaned = clean_values(kind, values)
        payload = sign_payload(KEY, kind.code, spec.version, form_id)
        page = page_image(kind, cleaned, payload, dpi=CANONICAL_DPI)
        page.flags.writeable = False
        out.append((kind, cleaned, page))
    return tuple(out)


def aligned(image: Gray) -> AlignedPage:
    return AlignedPage(PageImage("test.png", 0, image, float(CANONICAL_DPI)), image,
                       (0, 1, 2, 3), 0.0, 0.0)


def read(image: Gray, kind: FormKind, expected: Gray | None = None) -> dict[str, FieldReading]:
    return read_fields(aligned(image), form_spec(kind), expected=expected)


def _at_150_dpi(page: Gray) -> Gray:
    small, _ = imaging.rescale(page, 150 / 200)
    return np.asarray(cv2.resize(small, (page.shape[1], page.shape[0]),
                                 interpolation=cv2.INTER_LINEAR), np.uint8)


def _otsu(page: Gray) -> Gray:
    _, out = cv2.threshold(imaging.blur(page, 0.8), 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    return np.asarray(out, np.uint8)


def _shift(page: Gray, dx_mm: float = 0.5, dy_mm: float = -0.5) -> Gray:
    m = np.array([[1, 0, dx_mm * MM], [0, 1, dy_mm * MM]], np.float64)
    return np.asarray(cv2.warpAffine(page, m, (page.shape[1], page.shape[0]),
                                     borderValue=255), np.uint8)


VARIANTS: dict[str, Callable[[Gray], Gray]] = {
    "clean": lambda p: p,
    "150dpi": _at_150_dpi,
    "blur": lambda p: imaging.blur(p, 1.2),
    "jpeg30": lambda p: imaging.jpeg(p, 30),
    "specks": lambda p: imaging.speckle(p, 0.01, seed=3),
    "otsu": _otsu,
    "shift": _shift,
    "150dpi+blur+jpeg30": lambda p: imaging.jpeg(imaging.blur(_at_150_dpi(p), 0.8), 30),
    "shadow+grey": lambda p: imaging.shadow(imaging.gray_paper(p, 215), 0.35, seed=5),
    "150dpi+otsu": lambda p: _otsu(_at_150_dpi(p)),
    "all": lambda p: imaging.speckle(
        imaging.jpeg(imaging.blur(_at_150_dpi(_shift(p, 0.4, 0.3)), 0.8), 30), 0.005, seed=9),
}


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_numbers_exact_and_choices_right_on_every_variant(variant: str) -> None:
    for kind, values, page in _forms():
        got = read(VARIANTS[variant](page), kind)
        spec = form_spec(kind)
        for f in spec.fields:
            want = values.get(f.name, "")
            if f.type in KEY_TYPES:
                assert got[f.name].value == want, (variant, f.name, got[f.name])
            elif f.type in (FieldType.CHOICE, FieldType.TEXT):
                assert got[f.name].value == want, (variant, f.name, got[f.name].raw)
            elif f.type is FieldType.DATE:
                assert got[f.name].value == "" and got[f.name].confidence == 1.0


def test_clean_page_confidence_and_email() -> None:
    kind, values, page = _forms()[0]
    assert kind is FormKind.DUAL
    got = read(page, kind)
    for f in form_spec(kind).fields:
        if f.type in KEY_TYPES:
            assert got[f.name].confidence >= 0.8, got[f.name]
    # The Swedish model has no "@"; the reader puts it back.
    assert got["new_firm_email"].value == values["new_firm_email"]
    assert got["new_firm_signatory_name"].value == ""  # nothing written there
    assert got["new_firm_signatory_name"].confidence == 1.0


def test_crops_are_the_field_boxes() -> None:
    kind, _values, page = _forms()[1]
    got = read(page, kind)
    spec = form_spec(kind)
    for f in spec.fields:
        crop = got[f.name].crop
        assert crop.dtype == np.uint8
        left, top, right, bottom = f.box.to_pixels(CANONICAL_DPI)
        assert crop.shape[1] >= right - left and crop.shape[0] >= bottom - top
        assert crop.shape[0] <= bottom - top + 4 * MM


def test_one_tesseract_call_per_page(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def counting(*args: object, **kwargs: object) -> object:
        calls.append(1)
        return recognise_words(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(read_module, "recognise_words", counting)
    kind, _values, page = _forms()[0]
    read(page, kind)
    assert len(calls) == 1


def _write(image: Gray, spec: FormSpec, name: str, text: str) -> Gray:
    """Handwriting-like digits, one per cell of a comb field."""
    out = image.copy()
    for cell, ch in zip(spec.field(name).cells, text, strict=False):
        left, _top, _right, bottom = cell.to_pixels(CANONICAL_DPI)
        cv2.putText(out, ch, (left + 8, bottom - 16), cv2.FONT_HERSHEY_SIMPLEX, 1.0, 30, 2,
                    cv2.LINE_AA)
    return out


def test_handwritten_date_is_read() -> None:
    kind, _values, page = _forms()[0]
    spec = form_spec(kind)
    got = read(_write(page, spec, "client_date", "20260314"), kind)
    assert got["client_date"].value == "2026-03-14"
    assert got["new_firm_date"].value == ""


def test_unreadable_date_is_empty_with_low_confidence() -> None:
    kind, _values, page = _forms()[0]
    spec = form_spec(kind)
    scrawled = page.copy()
    for cell in spec.field("client_date").cells[:5]:
        left, top, right, bottom = cell.inset(1.0).to_pixels(CANONICAL_DPI)
        cv2.line(scrawled, (left, top), (right, bottom), 20, 3)
        cv2.line(scrawled, (left, bottom), (right, top), 20, 3)
    got = read(scrawled, kind)["client_date"]
    assert got.value == "" and got.confidence <= 0.2


def _tick(image: Gray, spec: FormSpec, field: str, option: int) -> Gray:
    out = image.copy()
    box = spec.field(field).options[option].box.inset(0.8)
    left, top, right, bottom = box.to_pixels(CANONICAL_DPI)
    cv2.line(out, (left, top), (right, bottom), 0, 4)
    cv2.line(out, (left, bottom), (right, top), 0, 4)
    return out


def test_checkboxes_by_ink() -> None:
    kind, values, page = _forms()[1]
    assert kind is FormKind.DISCONNECT
    spec = form_spec(kind)
    got = read(page, kind)
    assert got["after"].value == values["after"] and got["after"].confidence > 0.9
    # Both ticked: the reader picks one but says it is unsure.
    both = read(_tick(page, spec, "after", 1), kind)["after"]
    assert both.confidence < 0.3
    # The printed tick covered with white, nothing ticked: empty, and sure of it.
    left, top, right, bottom = spec.field("after").options[0].box.inset(0.5).to_pixels(
        CANONICAL_DPI)
    blank = page.copy()
    blank[top:bottom, left:right] = 255
    none = read(blank, kind)["after"]
    assert none.value == "" and none.confidence > 0.9
    # The other option ticked by hand instead.
    other = read(_tick(blank, spec, "after", 1), kind)["after"]
    assert other.value == "access_only" and other.confidence > 0.9


def test_ink_outside_print_reveals_a_hand_correction() -> None:
    kind, _values, page = _forms()[1]
    spec = form_spec(kind)
    for variant in ("clean", "jpeg30", "shift", "150dpi+blur+jpeg30", "all"):
        got = read(VARIANTS[variant](page), kind, expected=page)
        assert max(r.ink_outside_print for r in got.values()) < 0.005, variant
    # The last digit of the firm's number struck through and another written above it.
    cell = spec.field("firm_orgnr").cells[-1]
    left, top, right, bottom = cell.to_pixels(CANONICAL_DPI)
    corrected = page.copy()
    cv2.line(corrected, (left + 6, bottom - 10), (right - 6, top + 10), 25, 3)
    corrected = _write(corrected, spec, "firm_orgnr", "")
    cv2.putText(corrected, "7", (left + 10, top + 22), cv2.FONT_HERSHEY_SIMPLEX, 0.8, 25, 2)
    got = read(corrected, kind, expected=page)
    assert got["firm_orgnr"].ink_outside_print >= 0.005
    assert got["client_orgnr"].ink_outside_print < 0.005
    assert read(page, kind)["firm_orgnr"].ink_outside_print == 0.0  # no expected page: 0


def test_classify_by_text() -> None:
    (dual_kind, _v, dual), (disc_kind, _w, disc) = _forms()[0], _forms()[1]
    assert classify_by_text(dual) is dual_kind
    assert classify_by_text(np.ascontiguousarray(np.rot90(disc, 2))) is disc_kind
    small, _ = imaging.rescale(disc, 0.6)  # a 120 dpi page, as received
    assert classify_by_text(small) is disc_kind
    assert classify_by_text(np.full((2339, 1654), 255, np.uint8)) is None


def test_tesseract_words_boxes_and_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    _kind, values, page = _forms()[0]
    left, top, right, bottom = form_spec(FormKind.DUAL).field("client_name").box.to_pixels(
        CANONICAL_DPI)
    words = recognise_words(page[top:bottom, left:right], psm=7, dpi=CANONICAL_DPI)
    assert " ".join(w.text for w in words) == values["client_name"]
    first = words[0]
    assert 0 < first.confidence <= 1 and first.left < first.right and first.top < first.bottom
    assert "".join(c.text for c in first.chars) == first.text
    assert math.isclose(first.chars[0].left, first.left, abs_tol=3)

    assert "Dubbelsammankoppling" in full_page_text(_at_150_dpi(page))

    with pytest.raises(TesseractError) as slow:
        full_page_text(page, timeout=0.01)
    assert slow.value.exit_code == 70 and "stopped" in slow.value.message
    with pytest.raises(TesseractError, match="segmentation mode"):
        recognise_words(page[:50, :50], psm=99, dpi=CANONICAL_DPI)
    with pytest.raises(TesseractError, match=r"no xx\.traineddata"):
        recognise_words(page[:50, :50], psm=7, dpi=CANONICAL_DPI, lang="xx")
    monkeypatch.setattr("intake.scan.tesseract.TESSERACT", "/nonexistent/tesseract")
    with pytest.raises(TesseractError, match="not installed"):
        full_page_text(page[:50, :50])


def _word(text: str, left: int = 0, pitch: int = 20, conf: float = 0.95) -> OcrWord:
    chars = tuple(OcrChar(ch, conf, left + i * pitch + 2, 10, left + (i + 1) * pitch - 2, 40)
                  for i, ch in enumerate(text))
    return OcrWord(text, conf, left, 10, left + len(text) * pitch, 40, 0, chars)


def _slots(n: int, pitch: int = 20) -> tuple[tuple[float, float], ...]:
    return tuple((float(i * pitch), float((i + 1) * pitch)) for i in range(n))


def test_comb_text_one_character_per_cell_and_the_check_digit() -> None:
    orgnr = form_spec(FormKind.DUAL).field("client_orgnr")
    value, raw, confidence, doubtful = typed_reading(orgnr, [_word("5569694408")], _slots(10), [])
    assert (value, raw, doubtful) == ("556969-4408", "5569694408", ()) and confidence > 0.9
    # Letters for digits are mapped in a numeric field, at a small cost.
    value, _raw, confidence, _d = typed_reading(orgnr, [_word("55696944O8")], _slots(10), [])
    assert value == "556969-4408" and 0.8 < confidence < 0.95
    # "09" on the last cell (a blurred dotted zero): the check digit chooses the 0.
    two = _word("5569694408")
    extra = OcrChar("9", 0.99, 185, 10, 198, 40)
    both = OcrWord("55696944089", 0.9, 0, 10, 200, 40, 0, (*two.chars, extra))
    value, _raw, confidence, _d = typed_reading(orgnr, [both], _slots(10), [])
    assert value == "556969-4408" and confidence < 0.6


def _chars_word(chars: list[OcrChar]) -> OcrWord:
    text = "".join(c.text for c in chars)
    return OcrWord(text, min(c.confidence for c in chars), 0, 10, len(chars) * 20, 40, 0,
                   tuple(chars))


def _cells(text: str, confidence: float = 0.99,
           unsure: Mapping[int, tuple[float, tuple[tuple[str, float], ...]]] | None = None
           ) -> OcrWord:
    """A word of one character per 20 px cell; `unsure`: position -> (confidence, choices)."""
    chars = []
    for i, ch in enumerate(text):
        conf, choices = (unsure or {}).get(i, (confidence, ((ch, confidence),)))
        chars.append(OcrChar(ch, conf, i * 20 + 2, 10, (i + 1) * 20 - 2, 40, choices))
    return _chars_word(chars)


def test_a_failing_number_is_never_repaired_into_one_nobody_read() -> None:
    sub = form_spec(FormKind.DUAL).field("client_subscription")
    # 10040582 with its first zero read as 8, and no alternative read for that cell:
    # the reading stands (it fails its check digit), the doubtful cell is marked.
    value, raw, confidence, doubtful = typed_reading(
        sub, [_cells("18040582", unsure={1: (0.93, (("8", 0.9),))})], _slots(8), [])
    assert (value, raw, doubtful) == ("18040582", "18040582", (2,)) and confidence < 0.5
    # The same 8 with Tesseract's own second choice "0": the check digit takes it.
    value, _raw, confidence, doubtful = typed_reading(
        sub, [_cells("18040582", unsure={1: (0.93, (("8", 0.9), ("0", 0.06)))})],
        _slots(8), [])
    assert value == "10040582" and confidence <= 0.5 and doubtful == (2,)
    # Read confidently, the 8 is never changed, even with a "0" among its choices.
    value, _raw, _conf, _d = typed_reading(
        sub, [_cells("18040582", unsure={1: (0.99, (("8", 0.98), ("0", 0.01)))})],
        _slots(8), [])
    assert value == "18040582"
    # Nothing written: certainly empty; ink but nothing read: empty and unsure.
    assert typed_reading(sub, [], None, []) == ("", "", 1.0, ())
    assert typed_reading(sub, [], _slots(8), []) == ("", "", 0.0, ())


def test_a_hand_changed_digit_read_confidently_stays_as_written() -> None:
    orgnr = form_spec(FormKind.DUAL).field("new_firm_orgnr")
    # 559044-3759 issued, its 7 whited out and a 1 typed: 5590443159 fails Luhn. Every
    # digit is read surely: the number stays as on the paper (the old repair made
    # 559044-3189 of it, a number on neither the paper nor the form).
    value, _raw, confidence, doubtful = typed_reading(orgnr, [_cells("5590443159")],
                                                      _slots(10), [])
    assert value == "5590443159" and confidence < 0.6 and doubtful == ()


def test_two_equally_likely_corrections_are_no_correction() -> None:
    sub = form_spec(FormKind.DUAL).field("client_subscription")
    # 10081941 read as 18081941, both 8s unsure with a "0" choice each (10081941 and
    # 18001941 both pass): no guess, the reading goes to a person as read.
    unsure: dict[int, tuple[float, tuple[tuple[str, float], ...]]] = {
        1: (0.93, (("8", 0.9), ("0", 0.05))), 3: (0.93, (("8", 0.9), ("0", 0.05)))}
    value, _raw, confidence, doubtful = typed_reading(
        sub, [_cells("18081941", unsure=unsure)], _slots(8), [])
    assert value == "18081941" and confidence < 0.5 and doubtful == (2, 4)
    # One of them clearly likelier in Tesseract's own figures: that one.
    unsure[1] = (0.90, (("8", 0.6), ("0", 0.35)))
    value, _raw, confidence, _d = typed_reading(
        sub, [_cells("18081941", unsure=unsure)], _slots(8), [])
    assert value == "10081941" and confidence <= 0.5


def test_hocr_alternatives_belong_to_their_character() -> None:
    page = np.full((80, 420), 255, np.uint8)
    cv2.putText(page, "5569694408", (10, 55), cv2.FONT_HERSHEY_SIMPLEX, 1.3, 0, 2)
    words = recognise_words(page, psm=6, dpi=150, config=read_module.OCR_CONFIG)
    chars = [c for w in words for c in w.chars]
    assert "".join(c.text for c in chars) == "5569694408"
    assert all(c.choices and c.choices[0][0] == c.text for c in chars)


def test_email_gets_its_at_back() -> None:
    email = form_spec(FormKind.DUAL).field("new_firm_email")
    text = "adminQbyran.example.se"
    value, _raw, confidence, _d = typed_reading(email, [_word(text)], _slots(1, 500),
                                                [20] * len(text))
    assert value == "admin@byran.example.se" and confidence > 0.8
    # Read as an "e": the taller glyph is the "@", not the e in "example".
    text = "adminebyran.example.se"
    heights = [14] * len(text)
    heights[5] = 22
    value, _raw, _conf, _d = typed_reading(email, [_word(text)], _slots(1, 500), heights)
    assert value == "admin@byran.example.se"


@pytest.mark.parametrize("seed", [1, 2])
def test_page_quality_tells_a_phone_photo_from_a_flat_scan(seed: int) -> None:
    """The scan simulator's flat scans (150-300 dpi) against its phone photos, aligned.

    The photos are the corpus's typical ones (samples.scans.plan: 1800-2400 px,
    blur 0.5-1.2 px). A very sharp photo (2400 px, blur 0.5) scores like a
    150 dpi scan, about 0.35 mm: the figure is how blurred the page is, which
    is what matters for reading it, not how it was taken.
    """
    from intake.scan.align import align_page
    from samples.scans.degrade import RENDER_DPI, photo, scan
    from samples.scans.plan import ScanPlan

    rgb = np.asarray(cv2.cvtColor(imaging.page(FormKind.DUAL, RENDER_DPI), cv2.COLOR_GRAY2RGB),
                     np.uint8)

    def quality(image: Gray, dpi: float | None) -> float:
        gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
        done = align_page(PageImage("q.png", 0, np.asarray(gray, np.uint8), dpi),
                          dpi=CANONICAL_DPI)
        assert isinstance(done, AlignedPage)
        return read_module.edge_blur_mm(done.image)

    rng = np.random.default_rng(seed)
    flat = [quality(scan(rgb, ScanPlan(dpi=dpi, rotation=1.0, noise=1.5), rng), dpi)
            for dpi in (150, 200, 300)]
    phone = [quality(photo(rgb, ScanPlan(photo=True, photo_long_side=side, rotation=4.0,
                                         perspective=0.05, lighting=0.2, blur=blur, noise=3.0,
                                         colour=True), rng), None)
             for side, blur in ((2200, 0.8), (1900, 1.0))]
    assert max(flat) < 0.36 and min(phone) > 0.45, (flat, phone)
    assert min(phone) > 1.3 * max(flat), (flat, phone)
