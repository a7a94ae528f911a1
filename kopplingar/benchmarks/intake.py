"""`kopplingar bench intake --corpus DIR`: how well and how fast scans are read.

On one corpus with its `truth.json` and `issued.json` (as written by
`kopplingar samples scans`), in one run, on one core:

* our pipeline on every file (dry run: nothing queued), timed per page;
* the baseline on the same pages: a full-page `tesseract -l swe` with regular
  expressions pulling organisationsnummer and subscription numbers out of the
  text, timed per page;
* field accuracy (exact match) per field, organisationsnummer and
  subscription numbers on pre-filled forms for both, the signature confusion
  matrix, form-id accuracy on pages whose QR survived;
* number and date combs written by hand (real held-out MNIST digits): exact
  per field type and per layout (in the cells, over a cell border, beside
  the comb: truth's `hand_layout`), digit by digit, each miss with its
  confidence and whether it was flagged, and the baseline's share found
  anywhere in its text; numbers changed by hand read as the paper now says,
  split by how they were changed (a digit whited out and rewritten, or the
  whole number struck through and rewritten) and whether the new number
  passes its check, with the whited-out cells digit by digit;
* e-mail addresses the registry knows, exact, printed and handwritten;
* silent wrong values over every scored field (wrong, at or above the 0.6 at
  which validation asks a person, and named by no finding), and the
  reliability table: confidence in tenths against measured exactness.

The registry is the sample registry in a temporary SQLite database, with the
corpus's issued forms recorded, so every validation runs as in production.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import statistics
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
from sqlmodel import Session

from forms import FieldType, FormKind, form_spec
from intake.scan import (
    Calibration,
    IntakeContext,
    PageLimits,
    extract_pages,
    full_page_text,
    load_calibration,
    read_file,
)
from intake.scan.validate import LOW_CONFIDENCE
from kopplingar.benchmarks.common import sample_registry_db
from kopplingar.benchmarks.digital import report as digital_report
from kopplingar.benchmarks.digital import score as score_digital
from kopplingar.errors import MissingInput
from kopplingar.templates import RenderedTemplates
from samples import SAMPLE_QR_KEY
from samples.scans import load_truth

MAILBOX = "kopplingar@example.se"
ORGNR_RE = re.compile(r"\b(\d{6})\s*[-–]?\s*(\d{4})\b")
SUBSCRIPTION_RE = re.compile(r"(?<!\d)(\d{8})(?!\d)")
DATE_RE = re.compile(r"(?<!\d)(\d{4})\s*[-–]\s*(\d{2})\s*[-–]\s*(\d{2})(?!\d)")
LAYOUTS = ("cells", "crossing", "beside")
KEY_TYPES = (FieldType.ORGNR, FieldType.SUBSCRIPTION)
HAND_TYPES = (FieldType.ORGNR, FieldType.SUBSCRIPTION, FieldType.DATE)
SURE = LOW_CONFIDENCE  # at or above it a value is taken without a finding


class CorpusError(MissingInput):
    """The corpus folder or its truth.json is missing or unreadable."""


@dataclass
class Tally:
    right: int = 0
    total: int = 0

    def add(self, ok: bool) -> None:
        self.right += ok
        self.total += 1

    def __str__(self) -> str:
        share = 100.0 * self.right / self.total if self.total else float("nan")
        return f"{self.right}/{self.total} ({share:.1f}%)"


@dataclass
class Scores:
    per_field: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    key_forms: Tally = field(default_factory=Tally)  # every orgnr+subscription exact on a form
    key_fields: Tally = field(default_factory=Tally)
    baseline_key_fields: Tally = field(default_factory=Tally)
    form_id: Tally = field(default_factory=Tally)
    signatures: Counter[tuple[str, str]] = field(default_factory=Counter)
    blank_signed: int = 0
    hand_changes: Tally = field(default_factory=Tally)  # a finding names the changed field
    # Numbers changed by hand on pre-filled forms: read as the paper now says, in all and
    # by (style, valid), and the whited-out cells digit by digit.
    changed_as_paper: Tally = field(default_factory=Tally)
    changed_by_style: dict[tuple[str, bool], Tally] = field(
        default_factory=lambda: defaultdict(Tally))
    whiteout_digits: Tally = field(default_factory=Tally)
    emails: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    changed_misses: list[str] = field(default_factory=list)
    key_misses: list[str] = field(default_factory=list)
    # Number and date combs written by hand: exact, flagged, and digit by digit.
    hand_fields: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    hand_digits: Tally = field(default_factory=Tally)
    # (field type or "all", layout or "all") -> exact; digits by layout; the baseline by type.
    hand_grid: dict[tuple[str, str], Tally] = field(default_factory=lambda: defaultdict(Tally))
    hand_grid_digits: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    baseline_hand: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    hand_misses: list[str] = field(default_factory=list)
    # Every scored value: wrong and neither low in confidence nor named by a finding.
    silent_wrong: Tally = field(default_factory=Tally)
    silent_misses: list[str] = field(default_factory=list)
    # Confidence bins: (right, total) of every scored value, for the reliability table.
    reliability: dict[int, Tally] = field(default_factory=lambda: defaultdict(Tally))


def _load(corpus: Path) -> tuple[list[Any], dt.date]:
    try:
        truth = load_truth(corpus)
    except (OSError, ValueError, KeyError) as exc:
        raise CorpusError(f"{corpus} needs truth.json and issued.json: {exc}") from exc
    return list(truth["files"]), dt.date.fromisoformat(truth["reference_date"])


def _key_fields(kind: FormKind) -> list[str]:
    return [f.name for f in form_spec(kind).fields if f.type in KEY_TYPES]


def _baseline(
    data: bytes, name: str, limits: PageLimits, pages: set[int]
) -> tuple[list[float], str]:
    """Full-page Tesseract on the pages our pipeline read (blank separators left out)."""
    seconds, texts = [], []
    for page in extract_pages(data, name, limits=limits):
        if page.index not in pages:
            continue
        start = time.perf_counter()
        texts.append(full_page_text(page.image))
        seconds.append(time.perf_counter() - start)
    return seconds, "\n".join(texts)


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


@dataclass
class CorpusRead:
    """Our pipeline over a whole corpus: its truth entries and, per file, what was read."""

    files: list[Any]
    documents: dict[str, list[Any]]  # file -> its DocumentResults
    read_pages: dict[str, set[int]]  # file -> the pages read (blank separators left out)
    seconds: list[float]  # per page read


def read_corpus(corpus: Path, calibration: Calibration, limits: PageLimits | None = None
                ) -> CorpusRead:
    """Every file of `corpus` through `read_file` (dry run), as the bench reads it.

    The registry is the sample registry in a temporary SQLite database with the
    corpus's issued forms recorded; one core (OMP_THREAD_LIMIT=1, one OpenCV thread).
    """
    os.environ["OMP_THREAD_LIMIT"] = "1"
    cv2.setNumThreads(1)
    files, today = _load(corpus)
    out = CorpusRead(files, {}, {}, [])
    with tempfile.TemporaryDirectory(prefix="kopplingar-bench-intake-") as tmp:
        engine = sample_registry_db(Path(tmp), corpus)
        ctx = IntakeContext(
            qr_key=SAMPLE_QR_KEY, templates=RenderedTemplates(MAILBOX),
            limits=limits or PageLimits(), today=today, calibration=calibration,
        )
        for entry in files:
            with Session(engine) as session:
                result = read_file(
                    session, (corpus / entry["file"]).read_bytes(), entry["file"], ctx
                )
                session.rollback()
            out.seconds += [p.seconds for p in result.pages if not p.blank]
            out.documents[entry["file"]] = result.documents
            out.read_pages[entry["file"]] = {p.page.index for p in result.pages if not p.blank}
        engine.dispose()
    return out


def run(corpus: Path, *, baseline: bool = True, calibration: Calibration | None = None,
        digital: Path | None = None) -> str:
    """The report; `calibration` defaults to the committed one, as the product reads.

    `digital`: a born-digital corpus (`samples.digital`) read in the same run, its
    pages' seconds beside the scanned pages' (`benchmarks.digital`).
    """
    calibration = load_calibration() if calibration is None else calibration
    scores = Scores()
    theirs: list[float] = []
    limits = PageLimits()
    # Ours over the whole corpus, then the baseline over the same pages: two phases
    # rather than file by file, so neither runs in the other's wake (caches, memory).
    read = read_corpus(corpus, calibration, limits)
    files, documents, read_pages, ours = read.files, read.documents, read.read_pages, read.seconds
    for entry in files:
        base_text: str | None = None
        if baseline:
            secs, base_text = _baseline(
                (corpus / entry["file"]).read_bytes(),
                entry["file"],
                limits,
                read_pages[entry["file"]],
            )
            theirs += secs
        _score(entry, documents[entry["file"]], base_text, scores)
    report = _report(corpus, files, scores, ours, theirs, calibration)
    if digital is None:
        return report
    born = score_digital(digital, calibration)
    return "\n".join([report, "", *digital_report(born, statistics.median(ours))])


def _digits(value: str | None) -> list[str]:
    return [ch for ch in (value or "") if ch.isdigit()]


def _score_change(scores: Scores, file: str, change: dict[str, Any], got: str | None) -> None:
    """A number changed by hand: read as the paper says, by style and validity."""
    ok = got == change["hand_value"]
    scores.changed_as_paper.add(ok)
    style = change.get("style", "rewrite")
    scores.changed_by_style[(style, bool(change.get("valid", True)))].add(ok)
    want, have = _digits(change["hand_value"]), _digits(got)
    for pos in change.get("positions", []):
        scores.whiteout_digits.add(len(have) == len(want) and have[pos] == want[pos])
    if not ok:
        where = f" cells {change['positions']}" if change.get("positions") else ""
        valid = "passes its check" if change.get("valid", True) else "fails its check"
        scores.changed_misses.append(
            f"{file} {change['field']} ({style}{where}, {valid}): printed {change['printed']}, "
            f"by hand {change['hand_value']}, read {got!r}")


def _score_hand(scores: Scores, label: str, layout: str, value: str, got: str | None,
                base_values: set[str] | None) -> None:
    ok = got == value
    scores.hand_fields[label].add(ok)
    for key in ((label, layout), (label, "all"), ("all", layout), ("all", "all")):
        scores.hand_grid[key].add(ok)
    want, have = _digits(value), _digits(got)
    for i, ch in enumerate(want):
        right = len(have) == len(want) and have[i] == ch
        scores.hand_digits.add(right)
        scores.hand_grid_digits[layout].add(right)
        scores.hand_grid_digits["all"].add(right)
    if base_values is not None:
        found = value in base_values
        scores.baseline_hand[label].add(found)
        scores.baseline_hand["all"].add(found)


def document_for(truth: dict[str, Any], documents: list[Any]) -> Any:
    """The document read on a truth document's pages, or None."""
    by_page = {p: d for d in documents for p in d.pages}
    return next((by_page[p] for p in truth["pages"] if p in by_page), None)


def scored_values(truth: dict[str, Any], doc: Any, *, changed: bool = False
                  ) -> Iterator[tuple[str, str, Any]]:
    """(field, true value, reading or None) of every value the bench scores on a document.

    The filled fields and signing dates, not the numbers changed by hand; with
    `changed`, those too, against what the paper now says (`hand_value`).
    """
    edits = {h["field"]: h["hand_value"] for h in truth.get("hand_changed", [])}
    dates = {f"{party}_date": v for party, v in truth.get("dates", {}).items() if v}
    for name, value in {**truth.get("fields", {}), **dates}.items():
        if not value or name in edits:
            continue
        yield name, value, doc.fields.get(name) if doc else None
    if changed:
        for name, value in edits.items():
            yield name, value, doc.fields.get(name) if doc else None


def _score(entry: dict[str, Any], documents: list[Any], base_text: str | None,
           scores: Scores) -> None:
    """One file's documents against its truth; `base_text` is None without the baseline."""
    text = base_text or ""
    base_digits = {m.group(1) + "-" + m.group(2) for m in ORGNR_RE.finditer(text)}
    base_digits |= set(SUBSCRIPTION_RE.findall(text))
    base_values = None if base_text is None else base_digits | {
        "-".join(m.groups()) for m in DATE_RE.finditer(text)}
    for truth in entry["documents"]:
        doc = document_for(truth, documents)
        kind = FormKind(truth["kind"])
        if truth.get("qr_survived", True) and truth.get("form_id"):
            scores.form_id.add(doc is not None and doc.form_id == truth["form_id"])
        for party, state in truth.get("signatures", {}).items():
            read = doc.signatures[party].state.value if doc and party in doc.signatures else "none"
            scores.signatures[(state, read)] += 1
            if state == "empty" and read == "signed":
                scores.blank_signed += 1
        changed = {h["field"] for h in truth.get("hand_changed", [])}
        hand = changed | set(truth.get("hand_written", []))
        flagged = {f.field for f in doc.findings} if doc else set()
        for name in changed:
            scores.hand_changes.add(name in flagged)
        for change in truth.get("hand_changed", []):
            if form_spec(kind).field(change["field"]).type not in HAND_TYPES:
                continue
            reading = doc.fields.get(change["field"]) if doc else None
            _score_change(scores, entry["file"], change,
                          reading.value if reading is not None else None)
        spec = form_spec(kind)
        layouts = truth.get("hand_layout", {})
        for name, registered in truth.get("email_registered", {}).items():
            if registered:
                reading = doc.fields.get(name) if doc else None
                got = reading.value if reading is not None else None
                scores.emails["by hand" if name in hand else "printed"].add(
                    got == truth["fields"][name])
        dates = {f"{party}_date": v for party, v in truth.get("dates", {}).items() if v}
        for name, value, reading in scored_values(truth, doc):
            got = reading.value if reading is not None else None
            confidence = reading.confidence if reading is not None else 0.0
            flagged_here = name in flagged or confidence < SURE
            _tally_value(scores, entry["file"], name, value, got, confidence, flagged_here)
            ftype = spec.field(name).type
            if ftype in HAND_TYPES and (name in hand or name in dates):
                label = "date" if ftype is FieldType.DATE else ftype.value
                layout = layouts.get(name, "cells")
                _score_hand(scores, label, layout, value, got, base_values)
                if got != value:
                    scores.hand_misses.append(
                        f"{entry['file']} {name} [{layout}]: {value} read as {got!r} "
                        f"({confidence:.2f}{', flagged' if flagged_here else ', NOT flagged'})")
            if name in hand or name in dates:  # dates are always handwritten: in the table
                continue
            scores.per_field[name].add(got == value)
        if not truth.get("prefilled"):
            continue
        keys = [n for n in _key_fields(kind) if n not in hand and truth["fields"].get(n)]
        all_right = True
        for name in keys:
            ok = (
                doc is not None
                and name in doc.fields
                and doc.fields[name].value == truth["fields"][name]
            )
            scores.key_fields.add(ok)
            if not ok:
                got = doc.fields[name].value if doc is not None and name in doc.fields else None
                scores.key_misses.append(
                    f"{entry['file']} {name}: {truth['fields'][name]} read as {got!r} "
                    f"({', '.join(entry.get('degradations', []))})"
                )
            scores.baseline_key_fields.add(truth["fields"][name] in base_digits)
            all_right &= ok
        scores.key_forms.add(all_right)


def _tally_value(scores: Scores, file: str, name: str, value: str, got: str | None,
                 confidence: float, flagged: bool) -> None:
    right = got == value
    scores.reliability[min(int(confidence * 10), 9)].add(right)
    silent = not right and not flagged
    scores.silent_wrong.add(silent)
    if silent:
        scores.silent_misses.append(f"{file} {name}: {value} read as {got!r} ({confidence:.2f})")


def _report(
    corpus: Path, files: list[dict[str, Any]], s: Scores, ours: list[float], theirs: list[float],
    calibration: Calibration,
) -> str:
    fitted = (f"{len(calibration.sure_raw)} reading kinds, {calibration.source}"
              if calibration.sure_raw else "none (confidences as the readers give them)")
    lines = [
        f"kopplingar bench intake: {corpus} — {len(files)} files, {len(ours)} pages read "
        "(one core, OMP_THREAD_LIMIT=1)",
        f"confidence calibration: {fitted}",
        "",
    ]
    lines.append("seconds per page            median     p95")
    lines.append(
        f"  ours (whole pipeline)     {statistics.median(ours):6.3f}  {_quantile(ours, 0.95):6.3f}"
    )
    if theirs:
        lines.append(
            f"  baseline (tesseract page) {statistics.median(theirs):6.3f}  "
            f"{_quantile(theirs, 0.95):6.3f}"
        )
        ratio = statistics.median(theirs) / statistics.median(ours)
        lines.append(f"  ratio baseline/ours       {ratio:6.1f}x")
    lines += ["", "organisationsnummer + subscription numbers on pre-filled forms (exact)"]
    lines.append(f"  ours:     fields {s.key_fields}   forms with all right {s.key_forms}")
    lines += [f"    miss: {miss}" for miss in s.key_misses]
    if theirs:
        lines.append(f"  baseline: fields {s.baseline_key_fields}  (found anywhere in the text)")
    lines += [
        "",
        f"form id read where the QR survived: {s.form_id}",
        f"values changed by hand that a finding names: {s.hand_changes}",
        "",
        f"numbers changed by hand, read as the paper says: {s.changed_as_paper}",
    ]
    names = {"whiteout": "one digit whited out, rewritten", "rewrite": "whole number rewritten"}
    for (style, valid), tally in sorted(s.changed_by_style.items(), key=lambda kv: (
            kv[0][0] != "whiteout", not kv[0][1])):
        check = "passes its check" if valid else "fails its check"
        lines.append(f"  {names.get(style, style) + ', ' + check:50} {tally}")
    if s.whiteout_digits.total:
        lines.append(f"  {'whited-out cells, digit by digit':50} {s.whiteout_digits}")
    lines += [f"    miss: {miss}" for miss in s.changed_misses]
    lines += ["", "e-mail addresses the registry knows (exact)"]
    for where in sorted(s.emails):
        lines.append(f"  {where:28} {s.emails[where]}")
    lines += ["", *_hand_table(s)]
    lines += [f"    miss: {miss}" for miss in s.hand_misses]
    lines += [
        "",
        f"silent wrong values (wrong, confidence >= {SURE}, no finding): "
        f"{s.silent_wrong.right} of {s.silent_wrong.total}",
    ]
    lines += [f"    silent: {miss}" for miss in s.silent_misses]
    lines += ["", "reliability: confidence bin → exact"]
    for b in sorted(s.reliability):
        lines.append(f"  {b / 10:.1f}-{(b + 1) / 10:.1f}   {s.reliability[b]}")
    lines += [
        "",
        "field accuracy (exact), fields written or changed by hand (and dates) excluded",
    ]
    for name in sorted(s.per_field):
        lines.append(f"  {name:28} {s.per_field[name]}")
    lines += ["", "signatures: truth → read"]
    states = ["signed", "empty", "unsure", "none"]
    lines.append("  " + " " * 8 + "".join(f"{r:>9}" for r in states))
    for t in ("signed", "empty"):
        lines.append(f"  {t:8}" + "".join(f"{s.signatures[(t, r)]:9d}" for r in states))
    lines.append(f"  blank signature areas reported as signed: {s.blank_signed}")
    return "\n".join(lines)


def _hand_table(s: Scores) -> list[str]:
    """Handwritten combs exact by field type (rows) and layout (columns), then digits."""
    columns = [c for c in LAYOUTS if any(k[1] == c for k in s.hand_grid)] + ["all"]
    baseline = bool(s.baseline_hand)
    head = "".join(f"{c:>17}" for c in columns) + (f"{'baseline':>17}" if baseline else "")
    out = ["number and date combs written by hand, held-out MNIST digits (exact)",
           f"  {'':14}{head}"]
    for label in [*sorted(s.hand_fields), "all"]:
        row = "".join(f"{_cell(s.hand_grid.get((label, c))):>17}" for c in columns)
        if baseline:
            row += f"{_cell(s.baseline_hand.get(label)):>17}"
        out.append(f"  {label:14}{row}")
    digits = "".join(f"{_cell(s.hand_grid_digits.get(c)):>17}" for c in columns)
    out.append(f"  {'digits':14}{digits}")
    if baseline:
        out.append("  (baseline: the value found anywhere in the page's full-page text)")
    return out


def _cell(tally: Tally | None) -> str:
    if tally is None or not tally.total:
        return "-"
    return f"{tally.right}/{tally.total} {100.0 * tally.right / tally.total:.0f}%"
