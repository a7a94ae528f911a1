"""Layout sanity for every form: everything on the page, nothing on top of anything else.

The renderer draws these boxes and the scan reader crops them, so an overlap
is a bug on paper and in reading alike.
"""

from __future__ import annotations

import itertools

import pytest

from forms import FORMS, PAGE_HEIGHT_MM, PAGE_WIDTH_MM, Box, FieldType, FormSpec
from forms.spec import LABEL_H

SPECS = list(FORMS.values())
EPS = 1e-6
# ArUco wants white around the marker; QR wants its quiet zone (kept inside qr_box).
FIDUCIAL_QUIET_MM = 2.0


def overlaps(a: Box, b: Box) -> bool:
    return (a.x < b.right - EPS and b.x < a.right - EPS
            and a.y < b.bottom - EPS and b.y < a.bottom - EPS)


def inside(inner: Box, outer: Box) -> bool:
    return (inner.x >= outer.x - EPS and inner.y >= outer.y - EPS
            and inner.right <= outer.right + EPS and inner.bottom <= outer.bottom + EPS)


def labelled(box: Box) -> Box:
    """A box with the room for its label above it."""
    return Box(box.x, box.y - LABEL_H, box.w, box.h + LABEL_H)


def page_boxes(spec: FormSpec) -> dict[str, Box]:
    """Every region the renderer draws something in, each named."""
    boxes = {
        "qr": spec.qr_box, "id": spec.id_box, "title": spec.title_box,
        "instructions": spec.instructions_box, "footer": spec.footer_box,
    }
    if spec.notes_box is not None:
        boxes["notes"] = spec.notes_box
    for fid in spec.fiducials:
        boxes[f"fiducial {fid.marker_id}"] = fid.box.inset(-FIDUCIAL_QUIET_MM)
    for s in spec.sections:
        boxes[f"section {s.number}"] = s.band
    for f in spec.fields:
        boxes[f.name] = labelled(f.box)
        if f.hint_box is not None:
            boxes[f"{f.name} hint"] = f.hint_box
    for sig in spec.signatures:
        boxes[f"{sig.party} signature header"] = sig.header_box
        boxes[f"{sig.party} signature"] = labelled(sig.area)
        if sig.role_field is None:
            boxes[f"{sig.party} fixed role"] = labelled(sig.role_box)
    return boxes


PAGE = Box(0.0, 0.0, PAGE_WIDTH_MM, PAGE_HEIGHT_MM)


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.kind.value)
def test_everything_is_on_the_page_with_a_margin(spec: FormSpec) -> None:
    printable = PAGE.inset(5.0)  # what an office printer can reach
    for name, box in page_boxes(spec).items():
        assert box.w > 0 and box.h > 0, name
        assert inside(box, printable), name


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.kind.value)
def test_nothing_overlaps(spec: FormSpec) -> None:
    boxes = page_boxes(spec)
    clashes = [(a, b) for (a, box_a), (b, box_b) in itertools.combinations(boxes.items(), 2)
               if overlaps(box_a, box_b)]
    assert clashes == []


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.kind.value)
def test_parts_sit_inside_their_field(spec: FormSpec) -> None:
    for f in spec.fields:
        for cell in f.cells:
            assert inside(cell, f.box), f.name
        for a, b in itertools.pairwise(f.cells):
            assert a.right <= b.x + EPS, f.name
        for opt in f.options:
            assert inside(opt.box, f.box), (f.name, opt.value)
        assert f.is_comb == (f.type in (FieldType.ORGNR, FieldType.SUBSCRIPTION, FieldType.DATE))
        if f.is_comb:
            assert sum(f.groups) == len(f.cells) == f.max_len
        assert (f.type is FieldType.CHOICE) == bool(f.options)


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.kind.value)
def test_fields_follow_their_section_band(spec: FormSpec) -> None:
    """The web page groups fields by the nearest band above them; so must the page."""
    bands = [s.band for s in spec.sections]
    assert all(a.bottom <= b.y for a, b in itertools.pairwise(bands))
    assert all(f.box.y > bands[0].bottom for f in spec.fields)


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.kind.value)
def test_signature_blocks_name_their_fields(spec: FormSpec) -> None:
    names = set(spec.field_names)
    for sig in spec.signatures:
        assert {sig.name_field, sig.date_field} <= names
        assert spec.field(sig.date_field).type is FieldType.DATE
        assert (sig.role_field is None) != (sig.fixed_role is None)
        if sig.role_field is not None:
            assert spec.field(sig.role_field).box == sig.role_box
        assert sig.header_box.bottom <= sig.area.y - LABEL_H + EPS
    assert len(spec.signatures) == 2


def test_field_names_are_unique_and_both_forms_share_the_furniture() -> None:
    for spec in SPECS:
        assert len(set(spec.field_names)) == len(spec.field_names)
    dual, disconnect = SPECS
    assert dual.qr_box == disconnect.qr_box
    assert dual.fiducials == disconnect.fiducials
