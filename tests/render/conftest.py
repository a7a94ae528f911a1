"""Rendered forms of every kind and variant, made once per session, and their rasters."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pypdfium2 as pdfium
import pytest

from forms import (
    FormKind,
    FormSpec,
    QrPayload,
    blank_payload,
    clean_values,
    form_spec,
    new_form_id,
    sign_payload,
)
from render import render_form_pdf
from samples.make_previews import SAMPLE_VALUES

SECRET = b"render-tests-secret"
MAILBOX = "kopplingar@example.se"
VARIANTS = ("prefilled", "blank", "fillable")


@dataclass(frozen=True)
class Rendered:
    kind: FormKind
    variant: str
    spec: FormSpec
    values: dict[str, str]
    payload: QrPayload
    pdf: bytes

    @property
    def name(self) -> str:
        return f"{self.kind.value}-{self.variant}"


@functools.cache
def rendered(kind: FormKind, variant: str) -> Rendered:
    spec = form_spec(kind)
    if variant == "prefilled":
        values = clean_values(kind, SAMPLE_VALUES[kind])
        payload = sign_payload(SECRET, kind.code, spec.version, new_form_id())
    else:
        values = {}
        payload = blank_payload(kind.code, spec.version)
    pdf = render_form_pdf(
        spec,
        values,
        mailbox=MAILBOX,
        payload=payload,
        blank=variant != "prefilled",
        fillable=variant == "fillable",
    )
    return Rendered(kind, variant, spec, values, payload, pdf)


@functools.cache
def raster(kind: FormKind, variant: str, dpi: int) -> npt.NDArray[np.uint8]:
    """The page as 8-bit grey at `dpi`, as a scanner would deliver it."""
    doc = pdfium.PdfDocument(rendered(kind, variant).pdf)
    try:
        bitmap = doc[0].render(scale=dpi / 72, grayscale=True, may_draw_forms=True)
        image = np.array(bitmap.to_pil().convert("L"), dtype=np.uint8)
    finally:
        doc.close()
    return image


ALL = [(kind, variant) for kind in FormKind for variant in VARIANTS]


@pytest.fixture(params=ALL, ids=[f"{k.value}-{v}" for k, v in ALL])
def form(request: pytest.FixtureRequest) -> Rendered:
    kind, variant = request.param
    return rendered(kind, variant)


@pytest.fixture(params=list(FormKind), ids=[k.value for k in FormKind])
def prefilled(request: pytest.FixtureRequest) -> Rendered:
    return rendered(request.param, "prefilled")
