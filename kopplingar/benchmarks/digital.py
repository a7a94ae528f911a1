"""`kopplingar bench intake`, born-digital part: PDFs read from their fields and text.

The corpus is `samples/digital/corpus/` (`samples.digital.generate_digital`):
forms typed into the fillable PDF, the issued PDF mailed as it is, signed
with a pasted image, printed to PDF, flattened, tampered with, and one PDF
mixing a scanned page with a typed one. Each file goes through the same
`read_file` as a scan, against the sample registry with the corpus's forms
recorded as issued. Reported:

* field values exact, over every field of every scored form (the target is
  100 %), and whether each was read the way the truth says (form field,
  text layer, or the page's pixels where the file cannot vouch for what a
  person sees);
* signatures called as they are (a digital signature by a signatory on record
  counts as that party's), and every digital signature judged as the truth
  says (valid, invalid, modified, untrusted, expired, not a signatory), with
  the corpus's own CA root (`trust/`) as the trust root;
* seconds per born-digital page, beside the scanned pages' median from the
  same run (the target: at least 10x below), measured as the scans' are
  (from the page image on, decoding excluded for both); and the whole
  file's time per page, opening and rendering the PDF included.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import statistics
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
from sqlmodel import Session

from forms import FormKind, form_spec
from intake.scan.calibration import Calibration
from intake.scan.pipeline import IntakeContext, read_file
from kopplingar.benchmarks.common import sample_registry_db
from kopplingar.templates import RenderedTemplates
from samples import SAMPLE_QR_KEY

MAILBOX = "kopplingar@example.se"
DEFAULT_CORPUS = Path(__file__).resolve().parents[2] / "samples" / "digital" / "corpus"
PIXEL_WAYS = ("print", "hand", "changed")  # `read_by` of a field read from the image


@dataclass
class DigitalScores:
    fields_exact: int = 0
    fields: int = 0
    way_right: int = 0
    signatures_right: int = 0
    signatures: int = 0
    esign_right: int = 0  # files whose digital signatures were judged as the truth says
    esign: int = 0
    misses: list[str] = field(default_factory=list)
    ways: Counter[str] = field(default_factory=Counter)
    seconds: list[float] = field(default_factory=list)
    # Whole files, per page: opening and rendering the PDF, its layer, validation too.
    file_seconds: list[float] = field(default_factory=list)
    files: int = 0


def _way(read_by: str) -> str:
    return "pixels" if read_by in PIXEL_WAYS else read_by


def score(corpus: Path, calibration: Calibration) -> DigitalScores:
    """Every file of the born-digital corpus read as the product reads mail (dry run)."""
    truth: dict[str, Any] = json.loads((corpus / "truth.json").read_text(encoding="utf-8"))
    os.environ["OMP_THREAD_LIMIT"] = "1"
    cv2.setNumThreads(1)
    out = DigitalScores()
    with tempfile.TemporaryDirectory(prefix="kopplingar-bench-digital-") as tmp:
        engine = sample_registry_db(Path(tmp), corpus)
        trust = corpus / "trust"
        roots = tuple(p.read_bytes() for p in sorted(trust.glob("*.pem"))) if trust.is_dir() \
            else ()
        ctx = IntakeContext(qr_key=SAMPLE_QR_KEY, templates=RenderedTemplates(MAILBOX),
                            today=dt.date.fromisoformat(truth["reference_date"]),
                            calibration=calibration, trust_roots=roots)
        for entry in truth["files"]:
            data = (corpus / entry["file"]).read_bytes()
            start = time.perf_counter()
            with Session(engine) as session:
                result = read_file(session, data, entry["file"], ctx)
                session.rollback()
            if all(d["scored"] for d in entry["documents"]):
                out.file_seconds.append((time.perf_counter() - start) / len(result.pages))
            out.files += 1
            by_page = {d.pages[0]: d for d in result.documents if d.pages}
            digital_pages = {d["page"] for d in entry["documents"] if d["scored"]}
            out.seconds += [p.seconds for p in result.pages
                            if p.page.index in digital_pages and not p.blank]
            for doc in entry["documents"]:
                if not doc["scored"]:
                    continue
                read = by_page.get(doc["page"])
                where = f"{entry['file']} p{doc['page'] + 1}"
                spec = form_spec(FormKind(doc["kind"]))
                want_esign = doc.get("esign", [])
                if want_esign or (read is not None and read.esignatures):
                    got_esign = [f.code.removeprefix("esign.") for f in read.findings
                                 if f.code.startswith("esign.")] if read else []
                    out.esign += 1
                    out.esign_right += got_esign == want_esign
                    if got_esign != want_esign:
                        out.misses.append(f"{where} digital signatures: {got_esign}, "
                                          f"truth {want_esign}")
                for f in spec.fields if doc.get("scored_fields", True) else ():
                    want = doc["fields"].get(f.name, "")
                    got = read.fields.get(f.name) if read else None
                    value = got.value if got else None
                    out.fields += 1
                    out.fields_exact += value == want
                    if value != want:
                        out.misses.append(f"{where} {f.name}: read {value!r}, paper {want!r}")
                    way = _way(got.read_by) if got else "none"
                    out.ways[way] += 1
                    out.way_right += way == doc["read_from"].get(f.name)
                for party, state in doc["signatures"].items():
                    sig = read.signatures.get(party) if read else None
                    out.signatures += 1
                    ok = sig is not None and sig.state.value == state
                    out.signatures_right += ok
                    if not ok:
                        out.misses.append(f"{where} signature {party}: "
                                          f"{sig.state.value if sig else None}, truth {state}")
        engine.dispose()
    return out


def report(scores: DigitalScores, scanned_median: float | None) -> list[str]:
    """The born-digital lines of the intake report."""
    s = scores
    lines = [f"born-digital PDFs ({s.files} files, {len(s.seconds)} form pages)"]
    lines.append(f"  field values exact          {s.fields_exact}/{s.fields}")
    lines.append(f"  read the way the truth says {s.way_right}/{s.fields}  "
                 f"({', '.join(f'{k} {v}' for k, v in sorted(s.ways.items()))})")
    lines.append(f"  signatures right            {s.signatures_right}/{s.signatures}")
    lines.append(f"  digital signatures judged   {s.esign_right}/{s.esign}  (valid, tampered, "
                 "changed after signing, untrusted, expired, revoked, not a signatory, "
                 "two signers)")
    if s.seconds:
        ours = statistics.median(s.seconds)
        line = f"  seconds per page, median    {ours:6.3f}"
        if scanned_median:
            line += f"   scanned pages {scanned_median:6.3f} ({scanned_median / ours:.1f}x)"
        lines.append(line)
    if s.file_seconds:
        lines.append(f"  whole file per page, median {statistics.median(s.file_seconds):6.3f}"
                     "   (with opening, rendering, the PDF layer and validation)")
    lines += [f"  miss: {m}" for m in s.misses[:20]]
    return lines
