"""The born-digital cases, made the way customers' software makes them.

Values come from the sample registry (`samples.scans.values`), forms from
the product's own renderer, and the customer's side from the libraries
their viewers resemble: pypdf fills AcroForm fields (generating appearance
streams, or leaving them to the reader as viewers that set NeedAppearances
do), reportlab draws what "Fill & Sign" tools add on the page (typed dates,
a pasted signature image, a white box and new digits), pypdf puts a page
scaled onto A4 as a print-to-PDF driver does, pdfium flattens fields
into the page, and pyHanko signs with a certificate authority made for the
corpus (`pki`; its root is written to `trust/`, its key never kept): a
signatory's valid signature (timestamped, the issuer's revocation list
embedded),
two signers, bytes changed after signing, a value typed in a later update,
an untrusted issuer, an expired certificate, a revoked one and a signer who
may not sign. Every case's truth says what the page shows a person: a
value typed over the print is the new value, whatever the file's text says
under it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from PIL import Image
from pyhanko.pdf_utils.generic import NameObject as HankoName
from pyhanko.pdf_utils.generic import TextStringObject as HankoText
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pypdf import PdfReader, PdfWriter, Transformation
from pypdf.annotations import FreeText
from pypdf.generic import (
    ArrayObject,
    BooleanObject,
    DictionaryObject,
    FloatObject,
    NameObject,
    StreamObject,
)
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen.canvas import Canvas

from forms import PAGE_HEIGHT_MM, PAGE_WIDTH_MM, FieldSpec, FormKind, form_spec, sign_payload
from render.acroform import comb_field_names
from render.fields import comb_characters, comb_groups
from render.issue import blank_form
from render.page import Page, mm_to_pt
from render.pdf import render_form_pdf
from samples import REGISTRY_JSON, SAMPLE_QR_KEY
from samples.digital.pki import NOW, TestCA, embed_revocation, sign_pdf
from samples.scans.corpus import REFERENCE_DATE
from samples.scans.fill import MAILBOX
from samples.scans.handwriting import InkLayer, Pen, signature
from samples.scans.values import (
    SampleRegistry,
    random_form_id,
    signatory_fields,
    signing_date,
    value_set,
)

TRUTH_FILE = "truth.json"
TRUST_DIR = "trust"  # the corpus CA's root certificate, for KOPPLINGAR_SIGNATURE_TRUST_ROOTS
ISSUED_FILE = "issued.json"
DEFAULT_SEED = 20261204
SCANNED_PAGE = Path(__file__).parent.parent / "scans" / "corpus" / "002-office-jpeg.jpg"
TYPED_FONT = ("Helvetica", 11.0)  # what a viewer's "add text" tool types in
PRINT_SCALE = 0.95  # "fit to printable area": the page shrunk and centred on A4
SIGNATURE_DPI = 300


@dataclass(frozen=True)
class DigitalSummary:
    out_dir: Path
    files: int
    seconds: float

    def line(self) -> str:
        return f"{self.out_dir}: {self.files} born-digital files in {self.seconds:.1f} s"


@dataclass
class _Doc:
    """One form of a case: its values as the page shows them, and how each should be read."""

    kind: FormKind
    form_id: str | None
    fields: dict[str, str]
    signatures: dict[str, str]
    read_from: dict[str, str]  # field -> "pdf-field" | "pdf-text" | "pixels"
    page: int = 0
    scored: bool = True
    # The digital signatures' outcomes, in the file's order (`intake.scan.esigned` codes
    # without "esign."); and whether the values count (not where the file was forged).
    esign: list[str] = dataclasses.field(default_factory=list)
    scored_fields: bool = True


# -- the customer's tools --------------------------------------------------------------------

def fill_fields(pdf: bytes, values: dict[str, str], kind: FormKind, *, appearances: bool) -> bytes:
    """`values` typed into the fillable form's fields, as a viewer saves them."""
    spec = form_spec(kind)
    typed: dict[str, str] = {}
    for field in spec.fields:
        value = values.get(field.name, "")
        if not value:
            continue
        if field.is_comb:
            chars = comb_characters(field, value)
            start = 0
            for name, cells in zip(comb_field_names(field), comb_groups(field), strict=True):
                typed[name] = chars[start:start + len(cells)]
                start += len(cells)
        elif field.options:
            typed[field.name] = f"/{value}"
        else:
            typed[field.name] = value
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf)))
    writer.update_page_form_field_values(writer.pages[0], typed, auto_regenerate=appearances)
    if not appearances:
        # A viewer that leaves drawing to the reader: values only, and NeedAppearances.
        for ref in writer.pages[0].get("/Annots", []):
            annot = ref.get_object()
            parent = annot.get("/Parent")
            ftype = annot.get("/FT") or (parent.get_object().get("/FT") if parent else None)
            if ftype == "/Tx" and "/AP" in annot:
                del annot["/AP"]
        acro = writer._root_object["/AcroForm"].get_object()
        assert isinstance(acro, DictionaryObject)
        acro[NameObject("/NeedAppearances")] = BooleanObject(True)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _signature_png(area_w: float, area_h: float, rng: np.random.Generator) -> ImageReader:
    """A signature as a phone or a scanner gives it: ink on a transparent background."""
    k = SIGNATURE_DPI / 25.4
    layer = InkLayer((round(area_h * k), round(area_w * k)), SIGNATURE_DPI, Pen.random(rng))
    w, h = area_w * float(rng.uniform(0.5, 0.8)), area_h * float(rng.uniform(0.5, 0.8))
    signature(layer, (area_w * 0.1, area_h * 0.8), w, h, rng)
    rgba = np.zeros((*layer.alpha.shape, 4), np.uint8)
    rgba[..., :3] = layer.pen.colour
    rgba[..., 3] = layer.alpha
    ok, png = cv2.imencode(".png", cv2.cvtColor(rgba, cv2.COLOR_RGBA2BGRA))
    assert ok
    return ImageReader(io.BytesIO(png.tobytes()))


def overlay(pdf: bytes, draw: Callable[[Canvas], None]) -> bytes:
    """`pdf`'s first page with what `draw` puts on a transparent A4 sheet merged on top."""
    sheet = io.BytesIO()
    canvas = Canvas(sheet, pagesize=(mm_to_pt(PAGE_WIDTH_MM), mm_to_pt(PAGE_HEIGHT_MM)))
    draw(canvas)
    canvas.showPage()
    canvas.save()
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf)))
    writer.pages[0].merge_page(PdfReader(io.BytesIO(sheet.getvalue())).pages[0])
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _type_in_cells(canvas: Canvas, field: FieldSpec, value: str) -> None:
    canvas.setFont(*TYPED_FONT)
    canvas.setFillColorRGB(0, 0, 0)
    for cell, ch in zip(field.cells, comb_characters(field, value), strict=False):
        canvas.drawCentredString(Page.x(cell.x + cell.w / 2), Page.y(cell.y + cell.h * 0.7), ch)


def fill_and_sign(pdf: bytes, kind: FormKind, dates: dict[str, str] | None,
                  rng: np.random.Generator, *, sign: bool = True,
                  parties: tuple[str, ...] | None = None) -> bytes:
    """Per party (of `parties`, default all), the date typed into its cells (unless
    `dates` is None) and a signature image pasted into its area (unless not `sign`)."""
    spec = form_spec(kind)

    def draw(canvas: Canvas) -> None:
        for sig in spec.signatures:
            if parties is not None and sig.party not in parties:
                continue
            if dates is not None:
                _type_in_cells(canvas, spec.field(sig.date_field), dates[sig.party])
            if sign:
                a = sig.area
                canvas.drawImage(_signature_png(a.w, a.h, rng), Page.x(a.x), Page.y(a.bottom),
                                 mm_to_pt(a.w), mm_to_pt(a.h), mask="auto")
    return overlay(pdf, draw)


def paste_signatures(pdf: bytes, kind: FormKind, rng: np.random.Generator,
                     parties: tuple[str, ...] | None = None) -> bytes:
    """A signature image pasted into the signature area of each of `parties` (all)."""
    return fill_and_sign(pdf, kind, None, rng, parties=parties)


def printed_to_pdf(pdf: bytes, scale: float = PRINT_SCALE) -> bytes:
    """The page as a print-to-PDF driver writes it: scaled to the printable area, centred."""
    page = PdfReader(io.BytesIO(pdf)).pages[0]
    w, h = float(page.mediabox.width), float(page.mediabox.height)
    writer = PdfWriter()
    target = writer.add_blank_page(w, h)
    target.merge_transformed_page(page, Transformation().scale(scale).translate(
        w * (1 - scale) / 2, h * (1 - scale) / 2))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def flattened(pdf: bytes) -> bytes:
    """Form fields burnt into the page (pdfium's flatten, as "print as image-less PDF")."""
    doc = pdfium.PdfDocument(pdf)
    try:
        doc.init_forms()
        page = doc[0]
        pdfium_c.FPDFPage_Flatten(page, pdfium_c.FLAT_PRINT)
        page.close()
        out = io.BytesIO()
        doc.save(out)
        return out.getvalue()
    finally:
        doc.close()


def free_text_over(pdf: bytes, field: FieldSpec, text: str, shown: str | None = None) -> bytes:
    """A viewer's text box typed over a printed value: a FreeText annotation with the
    appearance stream a viewer writes (white box, the text in Helvetica). `shown`, when
    given, is drawn instead of `text`: a forged file whose box says one thing and shows
    another."""
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf)))
    box = field.box
    rect = (Page.x(box.x), Page.y(box.bottom), Page.x(box.right), Page.y(box.y))
    w, h = rect[2] - rect[0], rect[3] - rect[1]
    size = TYPED_FONT[1] + 3
    drawn = text if shown is None else shown
    escaped = drawn.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    appearance = StreamObject()
    appearance.set_data(
        f"q 1 g 0 0 {w:.2f} {h:.2f} re f 0 g BT /Helv {size} Tf 4 {(h - size * 0.7) / 2:.2f} Td "
        f"({escaped}) Tj ET Q".encode("latin-1"))
    appearance.update({
        NameObject("/Type"): NameObject("/XObject"), NameObject("/Subtype"): NameObject("/Form"),
        NameObject("/BBox"): ArrayObject([FloatObject(0), FloatObject(0), FloatObject(w),
                                          FloatObject(h)]),
        NameObject("/Resources"): DictionaryObject({NameObject("/Font"): DictionaryObject({
            NameObject("/Helv"): DictionaryObject({
                NameObject("/Type"): NameObject("/Font"),
                NameObject("/Subtype"): NameObject("/Type1"),
                NameObject("/BaseFont"): NameObject("/Helvetica")})})}),
    })
    annot = FreeText(text=text, rect=rect, font="Helvetica", font_size=f"{size}pt",
                     font_color="000000", border_color=None, background_color="ffffff")
    annot[NameObject("/AP")] = DictionaryObject({NameObject("/N"): writer._add_object(appearance)})
    writer.add_annotation(page_number=0, annotation=annot)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def white_out(pdf: bytes, field: FieldSpec, new: str) -> bytes:
    """An editor's white box over a printed number, and the new digits typed on it."""
    def draw(canvas: Canvas) -> None:
        canvas.setFillColorRGB(1, 1, 1)
        for cell in field.cells:
            c = cell.inset(0.5)
            canvas.rect(Page.x(c.x), Page.y(c.bottom), mm_to_pt(c.w), mm_to_pt(c.h),
                        stroke=0, fill=1)
        _type_in_cells(canvas, field, new)
    return overlay(pdf, draw)


def with_scanned_page(scan: Path, pdf: bytes) -> bytes:
    """A scanned page (one image over the page, as a scanner's PDF) followed by `pdf`."""
    sheet = io.BytesIO()
    size = (mm_to_pt(PAGE_WIDTH_MM), mm_to_pt(PAGE_HEIGHT_MM))
    canvas = Canvas(sheet, pagesize=size)
    canvas.drawImage(ImageReader(str(scan)), 0, 0, *size)
    canvas.showPage()
    canvas.save()
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(sheet.getvalue())))
    writer.append(PdfReader(io.BytesIO(pdf)))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


# -- the cases -------------------------------------------------------------------------------

def without_corners(image: bytes) -> bytes:
    """A scan (any image Pillow reads) with its four corners painted out, where the
    markers sit: what a photo that missed the corners gives, nothing to align it by. PNG."""
    pixels = np.array(Image.open(io.BytesIO(image)).convert("L"))
    h, w = pixels.shape
    dx, dy = int(w * 0.16), int(h * 0.11)
    for ys in (slice(0, dy), slice(h - dy, h)):
        for xs in (slice(0, dx), slice(w - dx, w)):
            pixels[ys, xs] = 255
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    return out.getvalue()


def issued_pdf(values: dict[str, str], kind: FormKind, form_id: str) -> bytes:
    spec = form_spec(kind)
    return render_form_pdf(spec, values, mailbox=MAILBOX,
                           payload=sign_payload(SAMPLE_QR_KEY, kind.code, spec.version, form_id))


def _dates(kind: FormKind, rng: np.random.Generator) -> dict[str, str]:
    return {s.party: signing_date(REFERENCE_DATE, rng) for s in form_spec(kind).signatures}


def _with_dates(kind: FormKind, values: dict[str, str], dates: dict[str, str]) -> dict[str, str]:
    out = dict(values)
    for sig in form_spec(kind).signatures:
        out[sig.date_field] = dates[sig.party]
    return out


def _how(kind: FormKind, default: str, **special: str) -> dict[str, str]:
    """How each field should be read: `default`, but a choice without a form field (a
    printed cross) by its mark's ink, and the `special` ones as given."""
    spec = form_spec(kind)
    return {f.name: special.get(f.name, "pdf-mark" if f.options and default == "pdf-text"
                                else default) for f in spec.fields}


def _cases(reg: SampleRegistry, rng: np.random.Generator
           ) -> tuple[list[tuple[str, bytes, list[_Doc]]], list[dict[str, Any]]]:
    """(file name, bytes, its documents' truth) per case, and the forms issued for them."""
    out: list[tuple[str, bytes, list[_Doc]]] = []
    issued: list[dict[str, Any]] = []

    def record(kind: FormKind, form_id: str, values: dict[str, str]) -> dict[str, Any]:
        entry = {"form_id": form_id, "kind": kind.value, "version": form_spec(kind).version,
                 "values": values,
                 "signatories": {p: values[f[0]] for p, f in signatory_fields(kind).items()}}
        issued.append(entry)
        return entry

    signed = dict.fromkeys(("client", "new_firm", "firm"), "signed")
    for kind in (FormKind.DUAL, FormKind.DISCONNECT):
        parties = [s.party for s in form_spec(kind).signatures]
        both = {p: signed[p] for p in parties}
        # Typed into the fillable blank form, with and without the viewer's appearances.
        for appearances in (True, False):
            values = _with_dates(kind, value_set(reg, kind, rng), _dates(kind, rng))
            pdf = fill_fields(blank_form(kind, mailbox=MAILBOX).pdf, values, kind,
                        appearances=appearances)
            pdf = paste_signatures(pdf, kind, rng)
            name = f"{kind.value}-typed-{'appearances' if appearances else 'values-only'}.pdf"
            out.append((name, pdf, [_Doc(kind, None, values, both,
                                         _how(kind, "pdf-field"))]))
        # The pre-filled form mailed back untouched: nothing signed, no dates.
        values = value_set(reg, kind, rng)
        form_id = random_form_id(rng)
        record(kind, form_id, values)
        out.append((f"{kind.value}-issued-as-sent.pdf", issued_pdf(values, kind, form_id),
                    [_Doc(kind, form_id, values, dict.fromkeys(parties, "empty"),
                          _how(kind, "pdf-text"))]))
        # Dates typed and a signature image pasted on ("Fill & Sign"), then printed to PDF.
        values = value_set(reg, kind, rng)
        form_id = random_form_id(rng)
        record(kind, form_id, values)
        dates = _dates(kind, rng)
        signed_pdf = fill_and_sign(issued_pdf(values, kind, form_id), kind, dates, rng)
        shown = _with_dates(kind, values, dates)
        out.append((f"{kind.value}-issued-signed.pdf", signed_pdf,
                    [_Doc(kind, form_id, shown, both, _how(kind, "pdf-text"))]))
        out.append((f"{kind.value}-printed-to-pdf.pdf", printed_to_pdf(signed_pdf),
                    [_Doc(kind, form_id, shown, both, _how(kind, "pdf-text"))]))
    # Typed, then flattened: the values are page text now, the fields gone.
    kind = FormKind.DUAL
    values = _with_dates(kind, value_set(reg, kind, rng), _dates(kind, rng))
    flat = flattened(paste_signatures(fill_fields(blank_form(kind, mailbox=MAILBOX).pdf, values,
                                              kind, appearances=True), kind, rng))
    out.append(("dual-typed-flattened.pdf", flat,
                [_Doc(kind, None, values, {"client": "signed", "new_firm": "signed"},
                      _how(kind, "pdf-text"))]))
    # Tampering: a number typed over the print, as a text box and as a white box.
    for how, make in (("free-text", free_text_over), ("white-box", white_out)):
        values = value_set(reg, kind, rng)
        form_id = random_form_id(rng)
        record(kind, form_id, values)
        other = value_set(reg, kind, rng)
        target = "client_orgnr" if how == "free-text" else "client_subscription"
        new = other[target]
        dates = _dates(kind, rng)
        pdf = make(fill_and_sign(issued_pdf(values, kind, form_id), kind, dates, rng),
                   form_spec(kind).field(target), new)
        shown = _with_dates(kind, values, dates) | {target: new}
        out.append((f"dual-issued-overtyped-{how}.pdf", pdf,
                    [_Doc(kind, form_id, shown, {"client": "signed", "new_firm": "signed"},
                          _how(kind, "pdf-text", **{
                              target: "pdf-text-box" if how == "free-text" else "pixels"}))]))
    # A scanner's page and a typed page in one PDF: each is read its own way.
    values = _with_dates(kind, value_set(reg, kind, rng), _dates(kind, rng))
    typed = paste_signatures(fill_fields(blank_form(kind, mailbox=MAILBOX).pdf, values, kind,
                                    appearances=True), kind, rng)
    scan_truth = json.loads((SCANNED_PAGE.parent / TRUTH_FILE).read_text(encoding="utf-8"))
    scanned = next(f for f in scan_truth["files"] if f["file"] == SCANNED_PAGE.name)
    first = scanned["documents"][0]
    out.append(("mixed-scan-and-typed.pdf", with_scanned_page(SCANNED_PAGE, typed), [
        _Doc(FormKind(first["kind"]), first["form_id"], first["fields"], first["signatures"],
             {}, page=0, scored=False),
        _Doc(kind, None, values, {"client": "signed", "new_firm": "signed"},
             _how(kind, "pdf-field"), page=1),
    ]))
    issued_scan = json.loads((SCANNED_PAGE.parent / ISSUED_FILE).read_text(encoding="utf-8"))
    issued += [f for f in issued_scan["forms"] if f["form_id"] == first["form_id"]]
    return out, issued


def _personnummer(company: str, name: str) -> str | None:
    """The personnummer on record of `name`, a signatory of `company`, if any."""
    data = json.loads(REGISTRY_JSON.read_text(encoding="utf-8"))
    people = {p["email"]: p for p in data["people"]}
    for role in data["roles"]:
        person = people[role["person"]]
        if role["company"] == company and person["name"] == name:
            return str(person.get("personnummer") or "") or None
    return None


def _changed_after_signing(signed: bytes, field: str, value: str) -> bytes:
    """An incremental update after the signature that types another value into `field`."""
    writer = IncrementalPdfFileWriter(io.BytesIO(signed), strict=False)
    for ref in writer.root["/AcroForm"]["/Fields"]:
        obj = ref.get_object()
        if obj.get("/T") == field:
            obj[HankoName("/V")] = HankoText(value)
            writer.update_container(obj)
    out = io.BytesIO()
    writer.write(out)  # type: ignore[no-untyped-call]
    return out.getvalue()


def _bytes_changed(signed: bytes, old: str, new: str) -> bytes:
    """The signed bytes themselves edited: a value's digits changed in place."""
    at = signed.find(f"({old})".encode())
    assert at >= 0, old
    return signed[:at] + f"({new})".encode() + signed[at + len(old) + 2:]


def _esigned_cases(reg: SampleRegistry, rng: np.random.Generator, ca: TestCA
                   ) -> list[tuple[str, bytes, list[_Doc]]]:
    """Typed forms signed digitally by the client (the firm's signature pasted as an image,
    or also digital), and the ways such a signature fails."""
    kind = FormKind.DUAL
    out: list[tuple[str, bytes, list[_Doc]]] = []
    stranger = TestCA.create("Okänd utfärdare AB")
    years = NOW + dt.timedelta(days=3650)  # the committed corpus stays valid for a decade
    tsa = ca.issue("Testbankens tidsstämpling", timestamps=True, valid_to=years)
    for case in ("valid", "both", "tampered", "updated", "untrusted", "expired", "revoked",
                 "not_signatory"):
        values = _with_dates(kind, value_set(reg, kind, rng), _dates(kind, rng))
        client = values["client_signatory_name"]
        pnr = _personnummer(values["client_orgnr"], client)
        typed = fill_fields(blank_form(kind, mailbox=MAILBOX).pdf, values, kind,
                            appearances=True)
        paper = paste_signatures(typed, kind, rng, parties=() if case == "both" else
                                 ("new_firm",))
        signer = {
            "untrusted": stranger.issue(client, pnr, valid_to=years),
            "expired": ca.issue(client, pnr, valid_from=NOW - dt.timedelta(days=400),
                                valid_to=NOW - dt.timedelta(days=30)),
            "not_signatory": ca.issue("Sven Obehörig", "19121212-1212", valid_to=years),
        }.get(case) or ca.issue(client, pnr, valid_to=years)
        pdf = sign_pdf(paper, signer, "Klienten", timestamps=tsa if case == "valid" else None)
        outcomes = [{"valid": "valid", "both": "valid", "untrusted": "untrusted",
                     "expired": "expired", "revoked": "revoked",
                     "not_signatory": "not_signatory"}.get(case, "")]
        shown = dict(values)
        if case == "both":
            firm = values["new_firm_signatory_name"]
            pdf = sign_pdf(pdf, ca.issue(firm, _personnummer(values["new_firm_orgnr"], firm),
                                         valid_to=years), "Byran")
            outcomes = ["valid", "valid"]
        elif case == "tampered":
            other = "10099997" if values["client_subscription"] != "10099997" else "10099989"
            pdf = _bytes_changed(pdf, values["client_subscription"], other)
            outcomes = ["invalid"]
        elif case == "updated":
            pdf = _changed_after_signing(pdf, "client_subscription", "10099997")
            outcomes = ["modified"]
        elif case in ("valid", "revoked"):
            # Long-term validation data, as a PAdES-LT service adds it: the issuer's list,
            # with this signer on it in the revoked case.
            pdf = embed_revocation(pdf, ca, ca.crl((signer,) if case == "revoked" else ()))
        client_state = "signed" if case in ("valid", "both") else "empty"
        doc = _Doc(kind, None, shown, {"client": client_state, "new_firm": "signed"},
                   _how(kind, "pdf-field"), esign=outcomes,
                   scored_fields=case not in ("tampered", "updated"))
        out.append((f"dual-esigned-{case.replace('_', '-')}.pdf", pdf, [doc]))
    return out


def generate_digital(out_dir: Path, *, seed: int = DEFAULT_SEED) -> DigitalSummary:
    """Every case into `out_dir`, with truth.json and issued.json; same seed, same files
    (but for the PDFs' own creation dates and ids, which no reader looks at)."""
    start = time.perf_counter()
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    reg = SampleRegistry()
    cases, issued = _cases(reg, rng)
    # A certificate authority made for this corpus: its root (public) is written beside the
    # files for the bench to trust; its key is never kept.
    ca = TestCA.create()
    cases += _esigned_cases(reg, rng, ca)
    (out_dir / TRUST_DIR).mkdir(exist_ok=True)
    (out_dir / TRUST_DIR / "root.pem").write_bytes(ca.pem())
    files = []
    for name, data, docs in cases:
        (out_dir / name).write_bytes(data)
        files.append({"file": name, "documents": [
            {"page": d.page, "kind": d.kind.value, "form_id": d.form_id, "fields": d.fields,
             "signatures": d.signatures, "read_from": d.read_from, "scored": d.scored,
             "esign": d.esign, "scored_fields": d.scored_fields}
            for d in docs]})
    truth = {"seed": seed, "reference_date": REFERENCE_DATE.isoformat(), "files": files}
    (out_dir / TRUTH_FILE).write_text(json.dumps(truth, ensure_ascii=False, indent=1) + "\n",
                                      encoding="utf-8")
    (out_dir / ISSUED_FILE).write_text(
        json.dumps({"forms": issued}, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return DigitalSummary(out_dir, len(files), time.perf_counter() - start)


