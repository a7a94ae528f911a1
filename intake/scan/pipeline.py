"""One input file through every stage, and the result into the queue.

`read_file` turns the bytes of one file into documents: each page is
identified (QR), aligned (fiducials), read (one Tesseract call) and checked
for signatures; then each document is validated against the registry and
its issued form. `enqueue_file` hands the documents to the review queue.

`read_file` is two halves that can run in different processes:
`scan_file` is the heavy part (pages to read documents, ~0.3 s a page) and
needs no database session, only a way to look up an issued form; its
`ScannedFile` pickles, so a reader process (`intake.mail.workers`) can run it.
`finish_file` validates in the caller's session, where the caller's own
uncommitted submissions count for "already submitted".

Nothing is dropped: a page that cannot be identified or aligned becomes a
document with `unreadable_reason` (and its image), a file that cannot be
decoded becomes one such document for the whole file. Only pages that are
blank (next to no ink) are skipped, and they are counted.

The stages get everything as arguments; the templates (what we printed) come
from a `TemplateSource` the caller provides, so intake does not render.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Protocol

import cv2
import numpy as np
import pypdfium2 as pdfium
from sqlmodel import Session

from forms import FormKind, QrPayload, display_form_id, form_spec, sign_payload
from intake.errors import InputRejected
from intake.scan.align import align_page, exactly_placed, identify_aligned
from intake.scan.calibration import Calibration
from intake.scan.digital import has_form_layer, read_digital
from intake.scan.esign import read_esignatures
from intake.scan.esigned import apply_esignatures
from intake.scan.identify import identify_page
from intake.scan.model import (
    CANONICAL_DPI,
    AlignedPage,
    AlignmentFailure,
    DocumentResult,
    FieldReading,
    Finding,
    Gray,
    Identification,
    PageImage,
    Severity,
)
from intake.scan.pages import PageLimits, extract_pages
from intake.scan.printed import identify_by_print
from intake.scan.read import edge_blur_mm, read_fields
from intake.scan.registered import resolve
from intake.scan.signatures import SignatureThresholds, read_signatures
from intake.scan.validate import validate_document
from registry import IssuedForm, get_issued_form
from workqueue import (
    ImageStore,
    NewCandidate,
    NewField,
    NewFinding,
    NewPage,
    NewSignature,
    NewSubmission,
    enqueue,
    form_id_submitted,
)

# A page with less ink than this share of its pixels is a separator sheet.
BLANK_PAGE_INK = 0.002


log = logging.getLogger(__name__)


class TemplateSource(Protocol):
    """What we printed, as canonical page images at CANONICAL_DPI."""

    def blank(self, kind: FormKind) -> Gray: ...

    def expected(self, kind: FormKind, values: Mapping[str, str], payload: QrPayload) -> Gray: ...


@dataclass(frozen=True)
class IntakeContext:
    qr_key: bytes
    templates: TemplateSource
    limits: PageLimits = field(default_factory=PageLimits)
    thresholds: SignatureThresholds = field(default_factory=SignatureThresholds)
    today: dt.date = field(default_factory=dt.date.today)
    # Each reading's confidence on the product's scale (`calibration`); the composition
    # root loads the committed table, the identity leaves confidences as read.
    calibration: Calibration = field(default_factory=Calibration.identity)
    # The roots a PDF's digital signature must chain to (PEM or DER certificates):
    # KOPPLINGAR_SIGNATURE_TRUST_ROOTS, loaded by the composition root.
    trust_roots: tuple[bytes, ...] = ()


@dataclass(frozen=True)
class IssuedFormView:
    """What reading needs of an issued form, detached from any session (it pickles)."""

    id: str
    kind: FormKind
    version: str
    values: Mapping[str, str]

    @classmethod
    def of(cls, form: IssuedForm) -> IssuedFormView:
        return cls(form.id, FormKind(form.kind), form.version, dict(form.values))


IssuedLookup = Callable[[str], IssuedFormView | None]


def lookup_in(session: Session) -> IssuedLookup:
    """Issued forms as `scan_file` looks them up, from `session`."""

    def lookup(form_id: str) -> IssuedFormView | None:
        form = get_issued_form(session, form_id)
        return IssuedFormView.of(form) if form is not None else None

    return lookup


@dataclass
class PageOutcome:
    page: PageImage
    seconds: float
    blank: bool = False


@dataclass
class FileResult:
    name: str
    sha256: str
    documents: list[DocumentResult]
    page_images: dict[int, Gray]  # source page index -> the page as received
    aligned_images: dict[int, Gray]  # source page index -> the canonical page
    pages: list[PageOutcome]
    rejected: str | None = None  # the whole file could not be decoded
    encoded: dict[str, bytes] = field(default_factory=dict)  # PNGs made ahead (image_key)
    read_on: dt.date | None = None  # the day the date checks were made as of


@dataclass(frozen=True)
class ScannedDocument:
    """A document as read, before validation.

    `document.findings` holds only what reading found; `qr_valid` is None for
    a document that is not validated (unreadable, rejected, blank), else
    whether the id it carries is vouched for (QR seal, or the registry for a
    printed id).
    """

    document: DocumentResult
    qr_valid: bool | None


@dataclass
class ScannedFile:
    """`scan_file`'s result: a `FileResult` still to be validated. Pickles."""

    name: str
    sha256: str
    documents: list[ScannedDocument]
    page_images: dict[int, Gray]
    aligned_images: dict[int, Gray]
    pages: list[PageOutcome]
    rejected: str | None = None
    encoded: dict[str, bytes] = field(default_factory=dict)


def image_key(what: str, document: int | None, name: int | str) -> str:
    """The key of one image in `encoded`: a page, an aligned page, a field or signature crop."""
    return f"{what}:{name}" if document is None else f"{what}:{document}:{name}"


def encode_images(scanned: ScannedFile) -> None:
    """PNG-encode every image the queue will store, now, where the reading happened.

    Encoding costs as much as a third of the reading; a reader process does it in
    parallel with the others, instead of the one process that commits to the queue.
    """
    for index, image in scanned.page_images.items():
        scanned.encoded[image_key("page", None, index)] = _png(image)
    for index, image in scanned.aligned_images.items():
        scanned.encoded[image_key("aligned", None, index)] = _png(image)
    for number, scanned_doc in enumerate(scanned.documents):
        doc = scanned_doc.document
        for f in doc.fields.values():
            scanned.encoded[image_key("field", number, f.name)] = _png(f.crop)
        for s in doc.signatures.values():
            scanned.encoded[image_key("signature", number, s.party)] = _png(s.crop)


def _png(image: Gray) -> bytes:
    ok, buf = cv2.imencode(".png", image, [cv2.IMWRITE_PNG_COMPRESSION, 1])
    if not ok:
        raise InputRejected("cannot encode a page image as PNG", "Sidan kunde inte sparas.")
    return bytes(buf)


def _is_blank(image: Gray) -> bool:
    # Every 4th pixel each way: a form has ink all over (combs, bands, markers), so a
    # sample cannot miss it, and sampling costs 0.3 ms where resizing a 300 dpi page costs 4.
    sample = image[::4, ::4]
    return float(np.count_nonzero(sample < 128)) / sample.size < BLANK_PAGE_INK


def _unreadable(page: PageImage, reason: str, ident: Identification | None) -> DocumentResult:
    doc = DocumentResult(
        kind=ident.kind if ident else None,
        form_id=ident.form_id if ident else None,
        pages=[page.index],
        unreadable_reason=reason,
    )
    doc.findings.append(
        Finding(
            "page.unreadable", Severity.BLOCKING, f"Sidan kunde inte läsas maskinellt: {reason}."
        )
    )
    return doc


def _read_page(
    page: PageImage, ctx: IntakeContext, lookup: IssuedLookup, aligned_out: dict[int, Gray]
) -> ScannedDocument:
    # Align first: on the canonical page the QR code's place is known, and decoding that
    # small region costs a fraction of searching the whole page as received.
    aligned = exactly_placed(page, dpi=CANONICAL_DPI) or align_page(page, dpi=CANONICAL_DPI)
    if isinstance(aligned, AlignmentFailure):
        ident = identify_page(page, qr_key=ctx.qr_key)
        kind = ident.kind
        reason = (
            aligned.reason
            if kind is None
            else f"{aligned.reason} (form {kind.value} identified by QR)"
        )
        return ScannedDocument(_unreadable(page, reason, ident), None)
    aligned_out[page.index] = aligned.image
    ident = identify_aligned(aligned, ctx.qr_key)
    if ident.kind is None:
        ident = identify_page(page, qr_key=ctx.qr_key)
    if ident.kind is None:
        ident = identify_by_print(aligned)
    if ident.kind is None:
        return ScannedDocument(
            _unreadable(page, f"fiducials found but {ident.detail}", ident), None
        )
    return _read_aligned(aligned, ident, ctx, lookup)


def _read_aligned(
    aligned: AlignedPage, ident: Identification, ctx: IntakeContext, lookup: IssuedLookup
) -> ScannedDocument:
    assert ident.kind is not None
    kind = ident.kind
    spec = form_spec(kind)
    issued = lookup(ident.form_id) if ident.form_id else None
    qr_valid = ident.qr_valid
    extra: list[Finding] = []
    if ident.method == "text":
        # No mac to check: the registry vouches for a printed id, or nothing does.
        qr_valid = issued is not None and FormKind(issued.kind) is kind
        extra.append(
            Finding(
                "qr.unreadable",
                Severity.INFO,
                "QR-koden gick inte att läsa. Blanketten identifierades med den "
                "tryckta rubriken och blankett-id:t.",
            )
        )
        if ident.form_id is None and ident.detail != "blank form":
            extra.append(
                Finding(
                    "form.id_unread",
                    Severity.WARNING,
                    "Blankett-id:t gick inte att läsa; jämför sidan med "
                    "utfärdade blanketter för hand.",
                )
            )
    blank = ctx.templates.blank(kind)
    layer = aligned.page.layer
    only: frozenset[str] | None = None
    fields: dict[str, FieldReading] = {}
    if layer is not None and has_form_layer(layer, spec):
        # Born digital: the values are in the file; only what it cannot vouch for is read.
        digital = read_digital(aligned, spec, layer, blank)
        fields, only = dict(digital.fields), digital.to_read
        extra.append(Finding(
            "pdf.digital", Severity.INFO,
            "Blanketten kom som PDF-fil, inte som skanning: värdena lästes direkt ur filen."))
        extra.extend(digital.findings)
    if only is None or only:
        expected = None
        if issued is not None and qr_valid:
            payload = sign_payload(ctx.qr_key, kind.code, issued.version, issued.id)
            expected = ctx.templates.expected(kind, issued.values, payload)
        fields.update(read_fields(aligned, spec, expected=expected, blank=blank,
                                  today=ctx.today, calibration=ctx.calibration, only=only))
    fields = {f.name: fields[f.name] for f in spec.fields if f.name in fields}
    signatures = read_signatures(aligned, spec, blank, thresholds=ctx.thresholds)
    document = DocumentResult(
        kind=kind,
        form_id=ident.form_id,
        pages=[aligned.page.index],
        # A render has no blur to measure; the figure describes scans.
        quality_mm=None if only is not None else edge_blur_mm(aligned.image),
        fields=dict(fields),
        signatures=dict(signatures),
        findings=extra,
    )
    return ScannedDocument(document, qr_valid)


def scan_file(
    data: bytes,
    name: str,
    ctx: IntakeContext,
    lookup_issued: IssuedLookup,
    *,
    clock: Callable[[], float] = time.perf_counter,
) -> ScannedFile:
    """Every form in one file, read but not validated; never raises for bad input.

    Needs no database session: `lookup_issued` gives the issued form of an
    id (the expected page is rendered from its values).
    """
    sha = hashlib.sha256(data).hexdigest()
    try:
        try:
            pages = extract_pages(data, name, limits=ctx.limits)
        except pdfium.PdfiumError as exc:
            # A PDF pdfium opened but cannot walk (a page that will not load): the file's
            # fault, said in a sentence; pdfium's own words go to the log only.
            log.info("pdfium cannot read %s: %s", name, exc)
            raise InputRejected(
                "the PDF is damaged: a page cannot be loaded",
                "PDF-filen är skadad och kan inte läsas.",
            ) from exc
    except InputRejected as exc:
        doc = DocumentResult(kind=None, form_id=None, unreadable_reason=exc.message)
        doc.findings.append(Finding("file.rejected", Severity.BLOCKING, exc.customer_message))
        return ScannedFile(
            name, sha, [ScannedDocument(doc, None)], {}, {}, [], rejected=exc.message
        )
    result = ScannedFile(name, sha, [], {}, {}, [])
    # Digital signatures sign the file: read once, given to every form found in it.
    signed = read_esignatures(data, ctx.trust_roots)
    for page in pages:
        start = clock()
        result.page_images[page.index] = page.image
        if _is_blank(page.image):
            result.pages.append(PageOutcome(page, clock() - start, blank=True))
            continue
        scanned = _read_page(page, ctx, lookup_issued, result.aligned_images)
        if signed and scanned.document.kind is not None:
            scanned = ScannedDocument(replace(scanned.document, esignatures=signed),
                                      scanned.qr_valid)
        result.documents.append(scanned)
        result.pages.append(PageOutcome(page, clock() - start))
    if not result.documents:
        doc = DocumentResult(
            kind=None,
            form_id=None,
            pages=[p.index for p in pages],
            unreadable_reason="every page is blank",
        )
        doc.findings.append(
            Finding("file.blank", Severity.BLOCKING, "Filen innehåller bara tomma sidor.")
        )
        result.documents.append(ScannedDocument(doc, None))
    return result


def _validated(session: Session, scanned: ScannedDocument, ctx: IntakeContext) -> DocumentResult:
    doc = scanned.document
    if scanned.qr_valid is None or doc.kind is None:
        return replace(doc, findings=list(doc.findings))
    # The issued form again, from the caller's session: validation sees the registry
    # as the transaction that will queue the result sees it.
    issued = get_issued_form(session, doc.form_id) if doc.form_id else None
    # Registered addresses and candidates first: validation sees the address it will use.
    issued_values = issued.values if issued and FormKind(issued.kind) is doc.kind else {}
    fields, registered = resolve(session, doc.kind, doc.fields, issued_values)
    # A digital signature by a signatory on record is that party's signature.
    signatures, signed = apply_esignatures(session, doc.kind, fields, doc.signatures,
                                           doc.esignatures)
    findings = validate_document(
        session,
        doc.kind,
        fields,
        signatures,
        issued=issued,
        form_id=doc.form_id,
        qr_valid=scanned.qr_valid,
        already_submitted=bool(doc.form_id) and form_id_submitted(session, doc.form_id or ""),
        today=ctx.today,
    )
    return replace(doc, fields=fields, signatures=signatures,
                   findings=[*doc.findings, *signed, *findings, *registered])


def finish_file(session: Session, scanned: ScannedFile, ctx: IntakeContext) -> FileResult:
    """`scanned` validated against the registry in `session` (only read): the findings."""
    return FileResult(
        scanned.name,
        scanned.sha256,
        [_validated(session, d, ctx) for d in scanned.documents],
        scanned.page_images,
        scanned.aligned_images,
        scanned.pages,
        rejected=scanned.rejected,
        encoded=scanned.encoded,
        read_on=ctx.today,
    )


def read_file(
    session: Session,
    data: bytes,
    name: str,
    ctx: IntakeContext,
    *,
    clock: Callable[[], float] = time.perf_counter,
) -> FileResult:
    """Every form in one file, read and validated; never raises for bad input."""
    scanned = scan_file(data, name, ctx, lookup_in(session), clock=clock)
    return finish_file(session, scanned, ctx)


def to_new_submissions(result: FileResult, *, source_kind: str) -> list[NewSubmission]:
    def png(key: str, image: Gray) -> bytes:
        return result.encoded.get(key) or _png(image)

    out = []
    for index, doc in enumerate(result.documents):
        pages = [
            NewPage(
                source_page=p,
                image=png(image_key("page", None, p), result.page_images[p]),
                aligned=(
                    png(image_key("aligned", None, p), result.aligned_images[p])
                    if p in result.aligned_images
                    else None
                ),
            )
            for p in doc.pages
            if p in result.page_images
        ]
        spec_version = form_spec(doc.kind).version if doc.kind else None
        out.append(
            NewSubmission(
                source_kind=source_kind,
                source_name=result.name,
                source_sha256=result.sha256,
                document_index=index,
                kind=doc.kind.value if doc.kind else None,
                form_id=doc.form_id,
                form_version=spec_version,
                quality_mm=doc.quality_mm,
                read_on=result.read_on,
                pages=pages,
                fields=[
                    NewField(
                        f.name,
                        f.value,
                        f.raw,
                        f.confidence,
                        png(image_key("field", index, f.name), f.crop),
                        f.ink_outside_print,
                        tuple(NewCandidate(c.value, c.score, c.note) for c in f.candidates),
                    )
                    for f in doc.fields.values()
                ],
                signatures=[
                    NewSignature(
                        s.party,
                        s.state.value,
                        s.ink,
                        png(image_key("signature", index, s.party), s.crop),
                    )
                    for s in doc.signatures.values()
                ],
                findings=[
                    NewFinding(f.code, f.severity.value, f.message, f.field) for f in doc.findings
                ],
                unreadable_reason=doc.unreadable_reason,
            )
        )
    return out


def enqueue_file(
    session: Session, store: ImageStore, result: FileResult, *, source_kind: str = "file"
) -> list[int]:
    """Put every document of `result` in the queue; the caller commits. Returns the ids."""
    ids = []
    for new in to_new_submissions(result, source_kind=source_kind):
        submission = enqueue(session, store, new)
        assert submission.id is not None
        ids.append(submission.id)
    return ids


def document_json(doc: DocumentResult) -> dict[str, object]:
    """The stable JSON shape of one document (documented in the README)."""
    return {
        "kind": doc.kind.value if doc.kind else None,
        "form_id": doc.form_id,
        "form_id_display": display_form_id(doc.form_id) if doc.form_id else None,
        "pages": doc.pages,
        "quality_mm": None if doc.quality_mm is None else round(doc.quality_mm, 3),
        "fields": {
            n: {"value": f.value, "confidence": round(f.confidence, 3),
                "doubtful": list(f.doubtful),
                "candidates": [{"value": c.value, "score": round(c.score, 3), "note": c.note}
                               for c in f.candidates]}
            for n, f in doc.fields.items()
        },
        "signatures": {
            p: {"state": s.state.value, "ink": round(s.ink, 4)} for p, s in doc.signatures.items()
        },
        "digital_signatures": [
            {"field": e.field, "signer": e.signer, "signer_id": e.signer_id, "issuer": e.issuer,
             "signed_at": e.signed_at.isoformat() if e.signed_at else None,
             "timestamp_at": e.timestamp_at.isoformat() if e.timestamp_at else None,
             "intact": e.intact, "valid": e.valid, "changed_after": e.changed_after,
             "coverage": e.coverage, "trust": e.trust,
             "revocation_embedded": e.revocation_embedded}
            for e in doc.esignatures
        ],
        "findings": [
            {"code": f.code, "severity": f.severity.value, "field": f.field, "message": f.message}
            for f in doc.findings
        ],
        **({"unreadable": doc.unreadable_reason} if doc.unreadable_reason else {}),
    }


def blank_pages(result: FileResult) -> int:
    """How many blank (separator) pages of the file were skipped."""
    return sum(1 for p in result.pages if p.blank)


def file_json(result: FileResult) -> dict[str, object]:
    return {
        "file": result.name,
        "blank_pages_skipped": blank_pages(result),
        "documents": [document_json(d) for d in result.documents],
    }
