"""Making a corpus: plan it, make each file, and write truth.json and issued.json.

Each file is made from its own `FilePlan` and seed, so files can be made in
parallel processes and still come out the same. The truth of a page is
what was done to it, with one observed fact: `qr_survived` is whether
zxing-cpp decodes the right payload from the page as read back from the
written file, so the truth never claims a QR the degradations destroyed.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
import zxingcpp

from forms import form_spec
from samples.scans.degrade import blank_sheet, degradations, photo, scan
from samples.scans.fill import filled_page, payload_of
from samples.scans.output import encode, read_pages
from samples.scans.plan import DocumentPlan, FilePlan, plan_corpus
from samples.scans.values import Correction

QR_ONLY = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)
TRUTH_FILE = "truth.json"
ISSUED_FILE = "issued.json"
DEFAULT_SEED = 20260120
REFERENCE_DATE = dt.date(2026, 1, 20)  # "today" for the signing dates
# When the corpus's forms count as issued: before any of them was signed (every signing
# date is within 28 days before REFERENCE_DATE; 45 days leaves a margin).
ISSUED_AT = dt.datetime.combine(REFERENCE_DATE - dt.timedelta(days=45), dt.time(9),
                                tzinfo=dt.UTC)


@dataclass(frozen=True)
class CorpusSummary:
    out_dir: Path
    files: int
    forms: int
    pages: int
    bytes: int
    seconds: float

    def line(self) -> str:
        return (f"{self.out_dir}: {self.files} files, {self.forms} forms, {self.pages} pages, "
                f"{self.bytes / 1e6:.1f} MB in {self.seconds:.1f} s")


def _qr_text(page: np.ndarray) -> set[str]:
    return {r.text for r in zxingcpp.read_barcodes(page, formats=QR_ONLY)}


def _change(c: Correction) -> dict[str, Any]:
    out: dict[str, Any] = {"field": c.field, "printed": c.printed, "hand_value": c.hand_value}
    if c.style:
        out["style"] = c.style
    if c.positions:
        out["positions"] = list(c.positions)
    if c.valid is not None:
        out["valid"] = c.valid
    if c.registered is not None:
        out["registered"] = c.registered
    return out


def _document_truth(doc: DocumentPlan, pages: list[int], survived: bool) -> dict[str, Any]:
    spec = form_spec(doc.kind)
    return {
        "kind": doc.kind.value,
        "version": spec.version,
        "form_id": doc.form_id,
        "issued": doc.issued,
        "pages": pages,
        "prefilled": doc.prefilled,
        "fields": doc.fields(),
        "hand_written": sorted(set(doc.hand) | {c.field for c in doc.corrections}),
        "hand_changed": [_change(c) for c in doc.corrections],
        "hand_layout": dict(sorted(doc.hand_layout.items())),
        "email_registered": dict(sorted(doc.email_registered.items())),
        "signatures": {p: "signed" if s else "empty" for p, s in doc.signed.items()},
        "dates": dict(doc.dates),
        "qr_stained": doc.stain_qr,
        "qr_survived": survived,
    }


def make_file(plan: FilePlan, out_dir: Path) -> dict[str, Any]:
    """Make one file of the corpus and return its truth entry."""
    rng = np.random.default_rng(plan.seed)
    pages: list[np.ndarray] = []
    previous: np.ndarray | None = None
    for item in plan.pages:
        if item is None:
            sheet = blank_sheet(previous.shape[:2] if previous is not None else (3508, 2480),
                                previous, rng)
        else:
            _, sheet = filled_page(plan.documents[item], rng)
        previous = sheet
        pages.append(photo(sheet, plan.scan, rng) if plan.scan.photo
                     else scan(sheet, plan.scan, rng))
    data = encode(pages, plan.format, dpi=None if plan.scan.photo else plan.scan.dpi,
                  bilevel=plan.scan.threshold, jpeg_quality=plan.scan.jpeg_quality)
    path = out_dir / plan.name
    path.write_bytes(data)
    read_back = read_pages(path)
    documents = []
    for d, doc in enumerate(plan.documents):
        index = plan.pages.index(d)
        survived = payload_of(doc).text() in _qr_text(read_back[index])
        documents.append(_document_truth(doc, [index], survived))
    extra = []
    if len(plan.documents) > 1:
        extra.append("multi_form")
    if plan.blank_after:
        extra.append("blank_page")
    if plan.format == "tiff" and len(plan.pages) > 1:
        extra.append("multi_page_tiff")
    if any(d.stain_qr for d in plan.documents):
        extra.append("qr_stain")
    return {
        "file": plan.name,
        "format": plan.format,
        "profile": plan.profile,
        "page_count": len(plan.pages),
        "documents": documents,
        "blank_pages": [i for i, p in enumerate(plan.pages) if p is None],
        "degradations": degradations(plan.scan) + extra,
        "dpi": None if plan.scan.photo else plan.scan.dpi,
    }


def issued_records(plans: list[FilePlan]) -> list[dict[str, Any]]:
    """The issued-form records, as render.issue_form would have recorded them."""
    out = []
    for plan in plans:
        for doc in plan.documents:
            if doc.form_id is None or not doc.issued:
                continue
            out.append({
                "form_id": doc.form_id,
                "kind": doc.kind.value,
                "version": form_spec(doc.kind).version,
                "values": doc.printed,
                "signatories": {k: v for k, v in doc.printed.items()
                                if k.endswith(("_signatory_name", "_signatory_role"))},
            })
    return out


def _make_all(plans: list[FilePlan], out_dir: Path, jobs: int) -> Iterator[dict[str, Any]]:
    if jobs <= 1 or len(plans) == 1:
        for plan in plans:
            yield make_file(plan, out_dir)
        return
    # spawn: pdfium and OpenCV keep native state that a fork would share.
    with ProcessPoolExecutor(jobs, mp_context=get_context("spawn")) as pool:
        yield from pool.map(make_file, plans, [out_dir] * len(plans))


def generate_corpus(out_dir: Path, *, count: int, seed: int = DEFAULT_SEED, jobs: int = 1,
                    reference_date: dt.date = REFERENCE_DATE) -> CorpusSummary:
    """Write `count` simulated forms into files in `out_dir`, with truth.json and issued.json.

    The same (count, seed, reference_date) always gives the same files.
    """
    started = time.perf_counter()
    out_dir.mkdir(parents=True, exist_ok=True)
    plans = plan_corpus(count, seed, reference_date)
    files = list(_make_all(plans, out_dir, jobs))
    truth = {"seed": seed, "count": count, "reference_date": reference_date.isoformat(),
             "files": files}
    (out_dir / TRUTH_FILE).write_text(json.dumps(truth, ensure_ascii=False, indent=1) + "\n",
                                      encoding="utf-8")
    issued = {"forms": issued_records(plans)}
    (out_dir / ISSUED_FILE).write_text(json.dumps(issued, ensure_ascii=False, indent=1) + "\n",
                                       encoding="utf-8")
    size = sum((out_dir / f["file"]).stat().st_size for f in files)
    return CorpusSummary(out_dir, len(files), sum(len(f["documents"]) for f in files),
                         sum(f["page_count"] for f in files), size,
                         time.perf_counter() - started)
