"""The values that flow between the intake stages.

Each stage is a plain function from one of these to the next:

    file bytes ──pages.extract_pages──▶ [PageImage]
    PageImage ──identify.identify_page──▶ Identification
    PageImage + Identification ──align.align_page──▶ AlignedPage | AlignmentFailure
    AlignedPage ──read.read_fields──▶ {name: FieldReading}
    AlignedPage ──signatures.read_signatures──▶ {party: SignatureReading}
    everything ──validate.validate_document──▶ [Finding]

Images are numpy arrays: `uint8`, grayscale (H×W), 0 = black. An aligned
page is the canonical A4 page at `CANONICAL_DPI`, upright, so a box from
`forms.spec` maps to pixels with `Box.to_pixels(CANONICAL_DPI)`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from forms import FormKind
from intake.scan.esign import ESignature

CANONICAL_DPI = 200
Gray = npt.NDArray[np.uint8]


PixelBox = tuple[float, float, float, float]  # left, top, right, bottom in image pixels


@dataclass(frozen=True)
class PdfWidget:
    """One AcroForm widget of a born-digital page (`pdflayer`)."""

    name: str  # the field's full name: our spec's field name, or a comb group's
    kind: str  # "text", "check", "radio", "choice", "signature", "other"
    value: str  # the field's value ("Off" for an unticked box, as PDF says)
    checked: bool  # for a check box or radio button: this widget is on
    export: str  # for a check box or radio button: the value it stands for
    box: PixelBox


@dataclass(frozen=True)
class PdfChar:
    """One character of a born-digital page's text layer."""

    text: str
    box: PixelBox
    visible: bool  # drawn so a person sees it (not render mode 3, not white on white)


@dataclass(frozen=True)
class PdfOverlay:
    """An annotation that is not a form field or a link: free text, a stamp, ink..."""

    subtype: str
    box: PixelBox
    text: str = ""  # its /Contents: what a text box says it shows


@dataclass(frozen=True)
class PdfLayer:
    """What a born-digital PDF page holds besides its pixels, in pixels of its image."""

    widgets: tuple[PdfWidget, ...]
    chars: tuple[PdfChar, ...]
    overlays: tuple[PdfOverlay, ...]


@dataclass(frozen=True)
class PageImage:
    """One page out of an input file, as decoded, before any geometry."""

    source: str  # file name (never used as a path)
    index: int  # 0-based page number within the file
    image: Gray
    dpi: float | None  # from the file when it says; None for a photo
    # A PDF page drawn from vectors (not one scanned image): its fields and text.
    layer: PdfLayer | None = None


@dataclass(frozen=True)
class Identification:
    """What the QR code (or, failing that, the markers and printed text) says the page is."""

    kind: FormKind | None
    version: str | None
    form_id: str | None  # canonical 10 characters; None for a blank form or unread QR
    qr_text: str | None
    qr_valid: bool  # the mac matched (False when there was no QR or it was forged)
    method: str  # "qr", "markers", "text", "none"
    detail: str = ""


@dataclass(frozen=True)
class AlignedPage:
    page: PageImage
    image: Gray  # canonical page at CANONICAL_DPI, upright
    markers_found: tuple[int, ...]  # ArUco ids used for the homography
    reprojection_mm: float  # RMS reprojection error of the markers: how well the fit holds
    rotation_deg: float  # how the page was turned (0, 90, 180, 270 plus skew), for the reviewer
    dpi: int = CANONICAL_DPI  # resolution of `image`; boxes map with Box.to_pixels(dpi)
    # The page image's pixels onto `image`'s (3x3); the text layer's boxes go through it.
    homography: npt.NDArray[np.float64] | None = None


@dataclass(frozen=True)
class AlignmentFailure:
    page: PageImage
    reason: str  # English, for operators; the Finding carries the Swedish message


@dataclass(frozen=True)
class Candidate:
    """A value from the registry offered to the reviewer for a field, never taken silently."""

    value: str  # what the field would hold: a person's or company's name, an address
    score: float  # how alike it is to what was read, 0..1
    note: str = ""  # Swedish, who or what it is: "firmatecknare", "556969-4408"


@dataclass(frozen=True)
class FieldReading:
    name: str
    value: str  # canonical where it parsed (e.g. NNNNNN-NNNN), else the raw OCR text
    raw: str  # what OCR produced, before any clean-up
    confidence: float  # 0..1
    crop: Gray  # the field's crop from the aligned page, for the reviewer (encoded when queued)
    ink_outside_print: float = 0.0  # share of the box with ink that the issued print lacks
    # 1-based positions of comb digits OCR was unsure of, where the number as read fails
    # its check digit (or the check digit chose among OCR's own candidates).
    doubtful: tuple[int, ...] = ()
    # The registry's likeliest values for a name or e-mail field, best first (registered).
    candidates: tuple[Candidate, ...] = ()
    # How the value was read, the calibration's unit with the field type: "print" (as
    # issued), "hand" (written on the form) or "changed" (a printed number changed by hand).
    read_by: str = ""


class SignatureState(StrEnum):
    SIGNED = "signed"
    EMPTY = "empty"
    UNSURE = "unsure"


@dataclass(frozen=True)
class SignatureReading:
    party: str
    state: SignatureState
    ink: float  # share of the signature area covered by ink not in the template
    crop: Gray  # the signature area, for the reviewer (encoded when queued)


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    BLOCKING = "blocking"


@dataclass(frozen=True)
class Finding:
    code: str  # stable, e.g. "orgnr.luhn", "signature.missing"
    severity: Severity
    message: str  # Swedish, for the reviewer and (where relevant) the sender
    field: str | None = None


@dataclass
class DocumentResult:
    """One form found in an input file: possibly several pages, read and validated."""

    kind: FormKind | None
    form_id: str | None
    pages: list[int] = field(default_factory=list)
    # How blurred the page's printed edges are, in mm (read.edge_blur_mm): a flat scan
    # ~0.25-0.35, a phone photo ~0.45 and more.
    quality_mm: float | None = None
    fields: dict[str, FieldReading] = field(default_factory=dict)
    signatures: dict[str, SignatureReading] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    unreadable_reason: str | None = None
    # The file's digital signatures (`esign`): they sign the file, so every form in it.
    esignatures: tuple[ESignature, ...] = ()
