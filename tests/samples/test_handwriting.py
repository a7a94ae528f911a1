"""What people put on the form lands where the form says, and a stain really hides the QR."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import zxingcpp

from forms import FormKind, form_spec
from samples.scans.degrade import RENDER_DPI
from samples.scans.fill import filled_page, printed_page, sign, write_value
from samples.scans.handwriting import InkLayer, Pen
from samples.scans.plan import DocumentPlan
from samples.scans.values import SampleRegistry, random_form_id, value_set

SPEC = form_spec(FormKind.DUAL)
SHAPE = (round(297 * RENDER_DPI / 25.4), round(210 * RENDER_DPI / 25.4))


def _ink_bbox_mm(layer: InkLayer) -> tuple[float, float, float, float]:
    ys, xs = np.nonzero(layer.alpha > 64)
    k = RENDER_DPI / 25.4
    return xs.min() / k, ys.min() / k, (xs.max() + 1) / k, (ys.max() + 1) / k


@pytest.mark.parametrize("seed", range(12))
def test_a_signature_stays_in_its_area_give_or_take_a_few_mm(seed: int) -> None:
    rng = np.random.default_rng(seed)
    layer = InkLayer(SHAPE, RENDER_DPI, Pen.random(rng))
    area = SPEC.signatures[0].area
    sign(layer, area, rng)
    left, top, right, bottom = _ink_bbox_mm(layer)
    assert left >= area.x - 1 and right <= area.right + 6
    assert top >= area.y - 6 and bottom <= area.bottom + 8
    ink = layer.alpha[area.to_pixels(RENDER_DPI)[1]:area.to_pixels(RENDER_DPI)[3],
                      area.to_pixels(RENDER_DPI)[0]:area.to_pixels(RENDER_DPI)[2]]
    assert (ink > 64).sum() > 0.8 * (layer.alpha > 64).sum()


@pytest.mark.parametrize("name", ["client_name", "client_orgnr", "new_firm_email",
                                  "current_firm_role", "client_date"])
def test_a_handwritten_value_stays_in_its_box(name: str) -> None:
    rng = np.random.default_rng(3)
    layer = InkLayer(SHAPE, RENDER_DPI, Pen.random(rng))
    values = {"client_name": "Åkesson & Öberg Trädgård HB", "client_orgnr": "556969-4408",
              "new_firm_email": "ingrid.sundberg@lapplandsredovisningsbyra.example",
              "current_firm_role": "audit", "client_date": "2026-01-14"}
    field = SPEC.field(name)
    write_value(layer, field, values[name], rng)
    left, top, right, bottom = _ink_bbox_mm(layer)
    box = field.box
    assert box.x - 1.5 <= left and right <= box.right + 1.5
    assert box.y - 2.5 <= top and bottom <= box.bottom + 2.5


def test_a_stained_qr_no_longer_decodes_and_an_unstained_one_does() -> None:
    reg = SampleRegistry()
    rng = np.random.default_rng(5)
    values = value_set(reg, FormKind.DUAL, rng)
    parties = {s.party: True for s in SPEC.signatures}
    plans = [DocumentPlan(FormKind.DUAL, random_form_id(rng), True, values, {}, (), parties,
                          dict.fromkeys(parties), stain) for stain in (False, True)]
    decoded = []
    for plan in plans:
        _, page = filled_page(plan, np.random.default_rng(1))
        gray = cv2.cvtColor(page, cv2.COLOR_RGB2GRAY)
        decoded.append(bool(zxingcpp.read_barcodes(gray)))
        # Filling in never touches what was printed outside the writing areas.
        printed = printed_page(plan)
        top = SPEC.title_box.to_pixels(RENDER_DPI)
        assert np.abs(gray[top[1]:top[3], top[0]:top[2]].astype(int)
                      - printed[top[1]:top[3], top[0]:top[2]]).max() < 8
    assert decoded == [True, False]
