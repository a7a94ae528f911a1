"""The plan of a corpus: which forms go in which file, filled how, scanned how.

Everything random is decided here, up front, from one seed, so that a file
can then be made on its own (in any process, in any order) and the same seed
always gives the same corpus. Two cycles guarantee coverage whatever the
count: files walk through `PROFILES` (how the paper came back: office scan,
fax, phone photo, ...) and forms walk through `STYLES` (pre-filled or by
hand, signed or not, corrected, stained QR, never issued). The cycles have
different lengths, so the combinations vary.

How numbers are written by hand (in the cells, over a border, beside the
comb) and how printed numbers are changed (white-out or rewritten) come
from a second generator on the same seed, so that adding them left every
form's values and id as they were. Number changes walk through
`NUMBER_CHANGES` and white-outs through `VALID_CHANGES`, for coverage.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np

from forms import FieldType, FormKind, clean_values, form_spec
from samples.scans.values import (
    NUMBER_TYPES,
    Correction,
    SampleRegistry,
    correction,
    random_form_id,
    rewrite,
    signatory_fields,
    signing_date,
    value_set,
    whiteout,
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


# Most customers white out the one wrong digit; some strike the number and write it again.
NUMBER_CHANGES = ("whiteout", "whiteout", "rewrite", "whiteout", "whiteout")
VALID_CHANGES = (True, False, True)  # a white-out gives a number that passes its check
# A correction of a name, role or e-mail becomes a number white-out this often instead.
WHITEOUT_INSTEAD = 0.5
BESIDE_SHARE = 0.08  # handwritten combs whose number is written beside the boxes
CROSSING_SHARE = 0.3  # ... with some digits over a cell border (about 10 % of all digits)
SIDE_STREAM = 0x6D6E  # the second generator: np.random.default_rng([seed, SIDE_STREAM])


@dataclass
class _Cycles:
    changes: int = 0
    valid: int = 0

    def change(self) -> str:
        self.changes += 1
        return NUMBER_CHANGES[(self.changes - 1) % len(NUMBER_CHANGES)]

    def valid_change(self) -> bool:
        self.valid += 1
        return VALID_CHANGES[(self.valid - 1) % len(VALID_CHANGES)]


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
    # Number and date combs written by hand (dates by their field name): how they were laid out.
    hand_layout: dict[str, str] = field(default_factory=dict)
    # E-mail fields: whether the address is one the registry knows.
    email_registered: dict[str, bool] = field(default_factory=dict)

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


def _number_changes(reg: SampleRegistry, kind: FormKind, printed: dict[str, str],
                    corrections: list[Correction], side: np.random.Generator,
                    cycles: _Cycles) -> list[Correction]:
    """The corrections with number changes made the way customers make them."""
    spec = form_spec(kind)
    numbers = [f.name for f in spec.fields if f.type in NUMBER_TYPES and f.name in printed]
    out = list(corrections)
    for i, c in enumerate(out):
        taken = {x.field for j, x in enumerate(out) if j != i}
        if spec.field(c.field).type in NUMBER_TYPES:
            how = cycles.change()
        elif side.random() < WHITEOUT_INSTEAD:
            how = "whiteout"
        else:
            continue
        if how == "rewrite":
            out[i] = rewrite(reg, spec.field(c.field), c)
            continue
        free = [n for n in numbers if n not in taken]
        if not free:
            continue
        name = c.field if c.field in free else free[int(side.integers(len(free)))]
        out[i] = whiteout(reg, spec.field(name), printed[name], cycles.valid_change(), side)
    return out


def _layouts(doc: DocumentPlan, side: np.random.Generator) -> dict[str, str]:
    spec = form_spec(doc.kind)
    combs = [n for n in doc.hand if spec.field(n).type in NUMBER_TYPES]
    combs += [s.date_field for s in spec.signatures if doc.dates.get(s.party)]
    out = {}
    for name in combs:
        r = side.random()
        out[name] = "beside" if r < BESIDE_SHARE else (
            "crossing" if r < BESIDE_SHARE + CROSSING_SHARE else "cells")
    return out


def _document(reg: SampleRegistry, kind: FormKind, style: Style, rng: np.random.Generator,
              reference: dt.date, side: np.random.Generator, cycles: _Cycles) -> DocumentPlan:
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
    corrections = _number_changes(reg, kind, printed, corrections, side, cycles)
    plan = DocumentPlan(
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
    emails = {f.name: plan.fields()[f.name] in reg.emails for f in spec.fields
              if f.type is FieldType.EMAIL and f.name in plan.fields()}
    return replace(plan, hand_layout=_layouts(plan, side), email_registered=emails)


def plan_corpus(count: int, seed: int, reference: dt.date,
                registry: SampleRegistry | None = None) -> list[FilePlan]:
    """Files holding `count` forms in all, the same for the same seed."""
    if count < 1:
        raise ValueError("count must be at least 1")
    reg = registry or SampleRegistry()
    rng = np.random.default_rng(seed)
    side = np.random.default_rng([seed, SIDE_STREAM])
    cycles = _Cycles()
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
            docs.append(_document(reg, kind, style, rng, reference, side, cycles))
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
