"""The plan of a corpus: which forms go in which file, filled how, scanned how.

Everything random is decided here, up front, from one seed, so that a file
can then be made on its own (in any process, in any order) and the same seed
always gives the same corpus. Two cycles guarantee coverage whatever the
count: files walk through `PROFILES` (how the paper came back: office scan,
fax, phone photo, ...) and forms walk through `STYLES` (pre-filled or by
hand, signed or not, corrected, stained QR, never issued). The cycles have
different lengths, so the combinations vary.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from forms import FormKind, clean_values, form_spec
from samples.scans.values import (
    Correction,
    SampleRegistry,
    correction,
    random_form_id,
    signatory_fields,
    signing_date,
    value_set,
)

Format = Literal["pdf", "jpeg", "png", "tiff"]
EXTENSIONS: dict[str, str] = {"pdf": "pdf", "jpeg": "jpg", "png": "png", "tiff": "tif"}


@dataclass(frozen=True)
class Style:
    """How one form comes back."""

    prefilled: bool = True
    unsigned: int = 0  # how many parties did not sign
    corrections: int = 0
    stain_qr: bool = False
    issued: bool = True  # False: a pre-filled form whose id was never recorded


STYLES = (
    Style(),
    Style(prefilled=False),
    Style(unsigned=1),
    Style(corrections=1),
    Style(stain_qr=True),
    Style(unsigned=2),
    Style(prefilled=False, unsigned=1),
    Style(corrections=2),
    Style(issued=False),
    Style(),
    Style(prefilled=False, stain_qr=True),
    Style(corrections=1, unsigned=1),
)


@dataclass(frozen=True)
class DocumentPlan:
    kind: FormKind
    form_id: str | None  # None: a blank form filled in by hand
    issued: bool
    printed: dict[str, str]  # canonical values printed on the form
    hand: dict[str, str]  # values written by hand into fields left empty
    corrections: tuple[Correction, ...]
    signed: dict[str, bool]  # party -> signed
    dates: dict[str, str | None]  # party -> YYYY-MM-DD written by hand
    stain_qr: bool

    @property
    def prefilled(self) -> bool:
        return self.form_id is not None

    def fields(self) -> dict[str, str]:
        """What the form says once the person is done: printed, added and corrected."""
        out = self.printed | self.hand
        for c in self.corrections:
            out[c.field] = c.hand_value
        return dict(sorted(out.items()))


@dataclass(frozen=True)
class ScanPlan:
    """How the paper became pixels."""

    photo: bool = False
    dpi: int = 200  # scans: output resolution; photos: ignored
    photo_long_side: int = 2400
    rotation: float = 0.0  # degrees, anticlockwise
    upside_down: bool = False
    shear: float = 0.0
    perspective: float = 0.0  # photos: how far corners move, as a share of the page
    lighting: float = 0.0  # strength of uneven light, 0..0.5
    shadow: bool = False
    blur: float = 0.0  # Gaussian sigma in output pixels
    noise: float = 0.0  # Gaussian sigma in grey levels
    threshold: bool = False  # black and white, like a fax
    colour: bool = False
    jpeg_quality: int | None = None  # JPEG (or JPEG inside PDF/TIFF) quality
    grey_levels: int | None = None  # a 4-bit grey scan has 16


@dataclass(frozen=True)
class FilePlan:
    index: int
    profile: str
    format: Format
    documents: tuple[DocumentPlan, ...]
    blank_after: tuple[int, ...]  # a blank page follows these documents (0-based)
    scan: ScanPlan
    seed: int
    pages: tuple[int | None, ...] = field(default=())  # per page: document index, None = blank

    @property
    def name(self) -> str:
        return f"{self.index + 1:03d}-{self.profile}.{EXTENSIONS[self.format]}"


def _u(rng: np.random.Generator, lo: float, hi: float) -> float:
    return round(float(rng.uniform(lo, hi)), 2)


def _profile(name: str, rng: np.random.Generator) -> tuple[Format, int, bool, ScanPlan]:
    """(format, number of forms, blank page between, scan) for one profile."""
    r = rng
    if name == "office-pdf":
        # Office copiers scan to PDF in grey or, as often, in black and white.
        bw = bool(r.random() < 0.5)
        return "pdf", 1, False, ScanPlan(dpi=300, rotation=_u(r, -1.5, 1.5), noise=_u(r, 0.5, 1.5),
                                         jpeg_quality=None if bw else int(r.integers(45, 70)),
                                         lighting=0.05, threshold=bw)
    if name == "office-jpeg":
        return "jpeg", 1, False, ScanPlan(dpi=int(r.choice([150, 200])), rotation=_u(r, -3, 3),
                                          noise=_u(r, 1, 2), jpeg_quality=int(r.integers(50, 75)),
                                          colour=True)
    if name == "fax-tiff":
        return "tiff", int(r.integers(2, 4)), r.random() < 0.5, ScanPlan(
            dpi=200, rotation=_u(r, -2, 2), threshold=True, noise=_u(r, 4, 8), blur=0.6)
    if name == "phone-photo":
        return "jpeg", 1, False, ScanPlan(
            photo=True, photo_long_side=int(r.integers(1800, 2400)), rotation=_u(r, -8, 8),
            perspective=_u(r, 0.03, 0.08), lighting=_u(r, 0.15, 0.3), blur=_u(r, 0.5, 1.2),
            noise=_u(r, 2, 5), colour=True, jpeg_quality=int(r.integers(70, 88)))
    if name == "crooked-png":
        return "png", 1, False, ScanPlan(dpi=150, rotation=_u(r, -8, 8), shear=_u(r, -0.02, 0.02),
                                         grey_levels=16)
    if name == "upside-down-pdf":
        return "pdf", 1, False, ScanPlan(dpi=200, rotation=_u(r, -2, 2), upside_down=True,
                                         noise=_u(r, 1, 3), jpeg_quality=int(r.integers(40, 60)))
    if name == "multi-pdf":
        return "pdf", int(r.integers(2, 4)), True, ScanPlan(
            dpi=150, rotation=_u(r, -2.5, 2.5), noise=_u(r, 1, 2.5),
            jpeg_quality=int(r.integers(35, 55)))
    if name == "low-quality-jpeg":
        return "jpeg", 1, False, ScanPlan(dpi=150, rotation=_u(r, -4, 4), blur=_u(r, 0.8, 1.4),
                                          noise=_u(r, 5, 9), jpeg_quality=int(r.integers(30, 40)),
                                          lighting=0.2)
    if name == "fax-pdf":
        return "pdf", 1, False, ScanPlan(dpi=150, rotation=_u(r, -3, 3), shear=_u(r, -0.015, 0.015),
                                         threshold=True, noise=_u(r, 4, 8), blur=0.5)
    if name == "photo-shadow":
        return "jpeg", 1, False, ScanPlan(
            photo=True, photo_long_side=int(r.integers(1600, 2200)), rotation=_u(r, -6, 6),
            upside_down=r.random() < 0.5, perspective=_u(r, 0.05, 0.1),
            lighting=_u(r, 0.25, 0.4), shadow=True, blur=_u(r, 0.6, 1.5), noise=_u(r, 3, 6),
            colour=True, jpeg_quality=int(r.integers(55, 80)))
    if name == "gray-tiff":
        return "tiff", int(r.integers(2, 4)), False, ScanPlan(
            dpi=150, rotation=_u(r, -2, 2), upside_down=r.random() < 0.3, noise=_u(r, 1, 2.5),
            jpeg_quality=int(r.integers(40, 60)))
    raise ValueError(f"unknown profile {name!r}")


PROFILES = ("office-pdf", "office-jpeg", "fax-tiff", "phone-photo", "crooked-png",
            "upside-down-pdf", "multi-pdf", "low-quality-jpeg", "fax-pdf", "photo-shadow",
            "gray-tiff")


def _document(reg: SampleRegistry, kind: FormKind, style: Style, rng: np.random.Generator,
              reference: dt.date) -> DocumentPlan:
    values = value_set(reg, kind, rng)
    spec = form_spec(kind)
    parties = [s.party for s in spec.signatures]
    unsigned = set(rng.choice(parties, style.unsigned, replace=False).tolist())
    signed = {p: p not in unsigned for p in parties}
    by_party = signatory_fields(kind)
    if style.prefilled:
        # Whoever downloads the form may name the signatories, or leave it to them.
        left_out = {f for p in parties if rng.random() < 0.4 for f in by_party[p]}
        printed = clean_values(kind, {k: v for k, v in values.items() if k not in left_out})
        hand = {f: values[f] for p in parties if signed[p] for f in by_party[p]
                if f not in printed and f in values}
    else:
        printed = {}
        blank_block = {f for p in parties if not signed[p] for f in by_party[p]}
        hand = {k: v for k, v in values.items() if k not in blank_block}
    corrections: list[Correction] = []
    for _ in range(style.corrections if style.prefilled else 0):
        c = correction(reg, kind, printed, rng, {x.field for x in corrections})
        if c is not None:
            corrections.append(c)
    dates = {p: signing_date(reference, rng) if signed[p] and rng.random() < 0.9 else None
             for p in parties}
    return DocumentPlan(
        kind=kind,
        form_id=random_form_id(rng) if style.prefilled else None,
        issued=style.issued and style.prefilled,
        printed=printed,
        hand=hand,
        corrections=tuple(corrections),
        signed=signed,
        dates=dates,
        stain_qr=style.stain_qr,
    )


def plan_corpus(count: int, seed: int, reference: dt.date,
                registry: SampleRegistry | None = None) -> list[FilePlan]:
    """Files holding `count` forms in all, the same for the same seed."""
    if count < 1:
        raise ValueError("count must be at least 1")
    reg = registry or SampleRegistry()
    rng = np.random.default_rng(seed)
    kinds = tuple(FormKind)
    plans: list[FilePlan] = []
    made = 0
    while made < count:
        i = len(plans)
        profile = PROFILES[i % len(PROFILES)]
        fmt, n, blank, scan = _profile(profile, rng)
        n = min(n, count - made)
        docs = []
        for _ in range(n):
            style = STYLES[made % len(STYLES)]
            # Shifted every cycle, so each style meets both kinds.
            kind = kinds[(made + made // len(STYLES)) % len(kinds)]
            docs.append(_document(reg, kind, style, rng, reference))
            made += 1
        blank_after = (int(rng.integers(0, n - 1)),) if blank and n > 1 else ()
        pages: list[int | None] = []
        for d in range(n):
            pages.append(d)
            if d in blank_after:
                pages.append(None)
        plans.append(FilePlan(i, profile, fmt, tuple(docs), blank_after, scan,
                              int(rng.integers(2**31)), tuple(pages)))
    return plans
