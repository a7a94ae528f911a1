"""The rendered PDF as a file: text, metadata, fillable fields, determinism, errors."""

from __future__ import annotations

import io
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pypdf
import pytest
from pypdf.generic import ArrayObject, DictionaryObject
from reportlab.pdfbase import ttfonts

from forms import (
    FieldType,
    FormKind,
    QrPayload,
    blank_payload,
    display_form_id,
    form_spec,
    sign_payload,
)
from render import RenderError, render_form_pdf
from render.acroform import comb_field_names
from render.fonts import FONT_DIR, load_fonts
from render.page import Page, mm_to_pt
from tests.render.conftest import MAILBOX, SECRET, Rendered, rendered

A4_PT = (595.2756, 841.8898)


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def test_opens_as_one_a4_page_with_metadata(form: Rendered) -> None:
    reader = pypdf.PdfReader(io.BytesIO(form.pdf))
    assert len(reader.pages) == 1
    box = reader.pages[0].mediabox
    assert (float(box.width), float(box.height)) == pytest.approx(A4_PT, abs=0.01)
    meta = reader.metadata
    assert meta is not None
    assert meta.title == form.spec.title
    assert meta.creator == "kopplingar"
    expected = (
        "Blank blankett" if form.payload.is_blank else display_form_id(form.payload.form_id or "")
    )
    assert meta.subject == expected


def test_text_has_title_instructions_values_and_id(form: Rendered) -> None:
    text = pypdf.PdfReader(io.BytesIO(form.pdf)).pages[0].extract_text()
    flat = squash(text)
    spec = form.spec
    assert spec.title in text
    assert "å" in text and "ö" in text
    assert f"Blankettversion {spec.version}" in text
    assert squash(f"mejla den till {MAILBOX}") in flat
    for section in spec.sections:
        assert squash(section.title) in flat
    for field in spec.fields:
        assert squash(field.label) in flat
    for name, value in form.values.items():
        field = spec.field(name)
        if field.type is FieldType.CHOICE:
            continue  # a choice is an X in a box: see test_raster's marks
        assert squash(value) in flat, name
    if form.payload.form_id is None:
        assert "Blank blankett" in text
    else:
        assert display_form_id(form.payload.form_id) in text


def test_prefilled_signatory_names_and_fixed_roles_are_printed(prefilled: Rendered) -> None:
    text = pypdf.PdfReader(io.BytesIO(prefilled.pdf)).pages[0].extract_text()
    for sig in prefilled.spec.signatures:
        assert prefilled.values[sig.name_field] in text
        if sig.fixed_role:
            assert sig.fixed_role in text


def test_same_inputs_give_the_same_bytes(form: Rendered) -> None:
    again = render_form_pdf(
        form.spec,
        form.values,
        mailbox=MAILBOX,
        payload=form.payload,
        blank=form.variant != "prefilled",
        fillable=form.variant == "fillable",
    )
    assert again == form.pdf


def test_only_the_fillable_form_has_acroform_fields(form: Rendered) -> None:
    reader = pypdf.PdfReader(io.BytesIO(form.pdf))
    fields = reader.get_fields()
    if form.variant != "fillable":
        assert not fields
        return
    assert fields is not None
    expected: dict[str, str] = {}
    for field in form.spec.fields:
        if field.type is FieldType.CHOICE:
            expected[field.name] = "/Btn"
        elif field.is_comb:
            expected |= dict.fromkeys(comb_field_names(field), "/Tx")
        else:
            expected[field.name] = "/Tx"
    assert {name: f.get("/FT") for name, f in fields.items()} == expected


def test_fillable_fields_lie_on_the_printed_boxes() -> None:
    form = rendered(FormKind.DUAL, "fillable")
    reader = pypdf.PdfReader(io.BytesIO(form.pdf))
    annots = reader.pages[0]["/Annots"]
    assert isinstance(annots, ArrayObject)
    widgets = [a.get_object() for a in annots]
    by_name = {str(w["/T"]): w for w in widgets if "/T" in w}
    comb_flag = 1 << 24
    for field in form.spec.fields:
        if field.type is FieldType.CHOICE:
            states: set[str] = set()
            for w in widgets:
                if "/Parent" in w and w["/Parent"]["/T"] == field.name:
                    appearances = w["/AP"]["/N"]
                    assert isinstance(appearances, DictionaryObject)
                    states |= set(appearances)
            assert states == {"/Off"} | {f"/{o.value}" for o in field.options}
            continue
        if not field.is_comb:
            w = by_name[field.name]
            assert w["/MaxLen"] == field.max_len
            continue
        start = 0
        for name, n in zip(comb_field_names(field), field.groups, strict=True):
            cells = field.cells[start : start + n]
            start += n
            w = by_name[name]
            assert w["/Ff"] & comb_flag
            assert w["/MaxLen"] == n
            x0, y0, x1, y1 = (float(v) for v in w["/Rect"])
            assert x0 == pytest.approx(Page.x(cells[0].x), abs=0.01)
            assert x1 == pytest.approx(Page.x(cells[-1].right), abs=0.01)
            assert y1 - y0 == pytest.approx(mm_to_pt(cells[0].h), abs=0.01)


def test_the_longest_values_fit_their_boxes() -> None:
    for kind in FormKind:
        spec = form_spec(kind)
        values = {
            f.name: "W" * f.max_len
            for f in spec.fields
            if f.type in (FieldType.TEXT, FieldType.EMAIL)
        }
        payload = sign_payload(SECRET, kind.code, spec.version, "0123456789")
        pdf = render_form_pdf(spec, values, mailbox=MAILBOX, payload=payload)
        lines = pypdf.PdfReader(io.BytesIO(pdf)).pages[0].extract_text().splitlines()
        for value in values.values():
            assert value in lines


def test_fonts_are_parsed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    load_fonts()

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("a TTF was parsed again")

    monkeypatch.setattr(ttfonts.TTFont, "__init__", forbidden)
    assert rendered(FormKind.DUAL, "prefilled").pdf
    spec = form_spec(FormKind.DISCONNECT)
    render_form_pdf(spec, {}, mailbox=MAILBOX, payload=blank_payload("B", spec.version), blank=True)
    assert load_fonts() is load_fonts()


def test_a_missing_font_names_its_path(tmp_path: Path) -> None:
    for name in ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf"):
        (tmp_path / name).write_bytes((FONT_DIR / name).read_bytes())
    with pytest.raises(RenderError) as caught:
        load_fonts(tmp_path)
    assert str(tmp_path / "DejaVuSansMono-Bold.ttf") in caught.value.message
    assert caught.value.exit_code == 70


DUAL = form_spec(FormKind.DUAL)
SIGNED = sign_payload(SECRET, "D", DUAL.version, "0123456789")
BLANK = blank_payload("D", DUAL.version)


@pytest.mark.parametrize(
    ("values", "payload", "options", "problem"),
    [
        ({"no_such_field": "x"}, SIGNED, {}, "no such field"),
        ({}, BLANK, {}, "blank payload"),
        ({}, SIGNED, {"blank": True}, "blank payload"),
        ({"client_name": "x"}, BLANK, {"blank": True}, "no values"),
        ({}, SIGNED, {"fillable": True}, "only a blank form"),
        ({}, blank_payload("B", DUAL.version), {"blank": True}, "payload is for form B"),
        ({}, sign_payload(SECRET, "D", "1999.1", "0123456789"), {}, "1999.1"),
        ({"client_orgnr": "556677-88990"}, SIGNED, {}, "11 characters for 10 cells"),
        ({"current_firm_role": "bank"}, SIGNED, {}, "not one of its options"),
        ({"client_name": "W" * 200}, SIGNED, {}, "does not fit"),
    ],
)
def test_wrong_arguments_are_a_render_error(
    values: dict[str, str], payload: QrPayload, options: dict[str, bool], problem: str
) -> None:
    with pytest.raises(RenderError, match=re.escape(problem)) as caught:
        render_form_pdf(DUAL, values, mailbox=MAILBOX, payload=payload, **options)
    assert caught.value.exit_code == 70


def test_a_long_mailbox_still_fits() -> None:
    mailbox = "kopplingar-blanketter@redovisningstjanster.exempelforetaget.se"
    spec = form_spec(FormKind.DUAL)
    pdf = render_form_pdf(spec, {}, mailbox=mailbox, payload=BLANK, blank=True)
    assert mailbox in pypdf.PdfReader(io.BytesIO(pdf)).pages[0].extract_text()


def test_renders_in_threads_match_renders_in_sequence() -> None:
    forms = [rendered(kind, variant) for kind in FormKind for variant in ("prefilled", "blank")]

    def again(form: Rendered) -> bytes:
        return render_form_pdf(
            form.spec,
            form.values,
            mailbox=MAILBOX,
            payload=form.payload,
            blank=form.variant != "prefilled",
        )

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(again, forms * 4))
    assert results == [f.pdf for f in forms * 4]
