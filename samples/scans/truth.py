"""The ground truth of a corpus: its schema, loading it, and loading issued.json into a database.

truth.json::

    {"seed": int, "count": int, "reference_date": "YYYY-MM-DD",
     "files": [{
        "file": name beside truth.json, "format": "pdf|jpeg|png|tiff", "profile": str,
        "page_count": int, "dpi": int | null (null: a phone photo),
        "blank_pages": [page index, ...],
        "degradations": ["dpi=200", "rotate=-3.10", "rotate180", "skew=+0.010", "photo",
                         "perspective=0.05", "background", "lighting=0.20", "shadow",
                         "blur=1.1", "noise=6.0", "threshold", "speckle", "grey_levels=16",
                         "jpeg=35",
                         "multi_form", "blank_page", "multi_page_tiff", "qr_stain"],
        "documents": [{
           "kind": "dual|disconnect", "version": str, "form_id": str | null (hand-filled blank),
           "issued": bool (false: valid QR mac, but the id is not in issued.json),
           "pages": [page index], "prefilled": bool,
           "fields": {name: canonical value the form says (printed, or by hand)},
           "hand_written": [names of fields whose value is in handwriting],
           "hand_changed": [{"field", "printed", "hand_value",
                             optional for numbers: "style": "whiteout|rewrite",
                             "positions": [comb cell index whited out and rewritten],
                             "valid": bool (hand_value passes the field's check),
                             "registered": bool (the registry knows hand_value)}],
           "hand_layout" (optional): {number or date comb written by hand (dates by
                                      their field name): "cells|crossing|beside"},
           "email_registered" (optional): {e-mail field: the registry knows the address},
           "signatures": {party: "signed|empty"},
           "dates": {party: "YYYY-MM-DD" | null},
           "qr_stained": bool, "qr_survived": bool (zxing-cpp reads it from the file)}]}]}

Page indices are 0-based within the file. Date fields are not in "fields";
their values are under "dates". A value changed by hand need not pass its
check digit ("valid": false); every other value in "fields" is valid.
issued.json is {"forms": [{"form_id", "kind", "version", "values",
"signatories"}]}.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any, NotRequired, TypedDict

from sqlmodel import Session

from forms import (
    FieldSpec,
    FieldType,
    FormKind,
    FormSpec,
    InvalidValue,
    clean_field,
    clean_values,
    form_spec,
    parse_date,
)
from registry import get_issued_form, record_issued_form

SIGNATURE_STATES = ("signed", "empty")
LAYOUTS = ("cells", "crossing", "beside")
CHANGE_STYLES = ("whiteout", "rewrite")
FORMATS = ("pdf", "jpeg", "png", "tiff")


class HandChange(TypedDict):
    field: str
    printed: str
    hand_value: str
    style: NotRequired[str]
    positions: NotRequired[list[int]]
    valid: NotRequired[bool]
    registered: NotRequired[bool]


class DocumentTruth(TypedDict):
    kind: str
    version: str
    form_id: str | None
    issued: bool
    pages: list[int]
    prefilled: bool
    fields: dict[str, str]
    hand_written: list[str]
    hand_changed: list[HandChange]
    signatures: dict[str, str]
    dates: dict[str, str | None]
    qr_stained: bool
    qr_survived: bool
    hand_layout: NotRequired[dict[str, str]]
    email_registered: NotRequired[dict[str, bool]]


class FileTruth(TypedDict):
    file: str
    format: str
    profile: str
    page_count: int
    documents: list[DocumentTruth]
    blank_pages: list[int]
    degradations: list[str]
    dpi: int | None


class Truth(TypedDict):
    seed: int
    count: int
    reference_date: str
    files: list[FileTruth]


class IssuedRecord(TypedDict):
    form_id: str
    kind: str
    version: str
    values: dict[str, str]
    signatories: dict[str, str]


def _document_problems(where: str, doc: DocumentTruth, pages: int) -> list[str]:
    problems = []
    kind = FormKind(doc["kind"])
    spec = form_spec(kind)
    parties = {s.party for s in spec.signatures}
    dates = {s.date_field for s in spec.signatures}
    fields = {k: v for k, v in doc["fields"].items() if k not in dates}
    if fields != doc["fields"]:
        problems.append(f"{where}: date fields belong under 'dates'")
    # A number changed by hand may fail its check; the rest must be valid form values.
    invalid = {c["field"]: c["printed"] for c in doc["hand_changed"] if c.get("valid") is False}
    try:
        canonical = clean_values(kind, fields | invalid)
    except Exception as exc:  # FormValuesError, or anything a broken file causes
        problems.append(f"{where}: fields are not valid form values: {exc}")
    else:
        if canonical != fields | invalid:
            problems.append(f"{where}: fields are not canonical")
    problems += _change_problems(where, doc, spec)
    problems += _layout_problems(where, doc, spec)
    if doc["prefilled"] != (doc["form_id"] is not None):
        problems.append(f"{where}: prefilled and form_id disagree")
    if any(not 0 <= p < pages for p in doc["pages"]) or not doc["pages"]:
        problems.append(f"{where}: page indices {doc['pages']} outside 0..{pages - 1}")
    if set(doc["signatures"]) != parties or not set(doc["signatures"].values()) <= set(
            SIGNATURE_STATES):
        problems.append(f"{where}: signatures must be {sorted(parties)} -> signed|empty")
    if set(doc["dates"]) != parties:
        problems.append(f"{where}: dates must name {sorted(parties)}")
    for date in doc["dates"].values():
        if date is not None and parse_date(date).isoformat() != date:
            problems.append(f"{where}: date {date} is not YYYY-MM-DD")
    for change in doc["hand_changed"]:
        if doc["fields"].get(change["field"]) != change["hand_value"]:
            problems.append(f"{where}: {change['field']} changed by hand but fields disagree")
    if not set(doc["hand_written"]) <= set(doc["fields"]):
        problems.append(f"{where}: hand_written names a field with no value")
    if doc["qr_stained"] and doc["qr_survived"]:
        problems.append(f"{where}: a stained QR code cannot have survived")
    return problems


def _change_problems(where: str, doc: DocumentTruth, spec: FormSpec) -> list[str]:
    problems = []
    for c in doc["hand_changed"]:
        name = c["field"]
        if name not in spec.field_names:
            problems.append(f"{where}: {name} changed by hand is not a field")
            continue
        field = spec.field(name)
        if "style" in c and c["style"] not in CHANGE_STYLES:
            problems.append(f"{where}: {name} style {c['style']!r} unknown")
        if "valid" in c and c["valid"] != _passes(field, c["hand_value"]):
            problems.append(f"{where}: {name} valid={c['valid']} but the check disagrees")
        if "positions" in c:
            old = [ch for ch in c["printed"] if ch.isdigit()]
            new = [ch for ch in c["hand_value"] if ch.isdigit()]
            differ = [i for i, (a, b) in enumerate(zip(old, new, strict=False)) if a != b]
            if (len(old) != len(new) or len(new) != len(field.cells)
                    or sorted(c["positions"]) != differ):
                problems.append(f"{where}: {name} positions {c['positions']} are not the "
                                f"cells that differ {differ}")
    return problems


def _passes(field: FieldSpec, value: str) -> bool:
    try:
        return clean_field(field, value) == value
    except InvalidValue:
        return False


def _layout_problems(where: str, doc: DocumentTruth, spec: FormSpec) -> list[str]:
    problems = []
    combs = {n for n in doc["hand_written"] if n in spec.field_names and spec.field(n).is_comb}
    combs -= {c["field"] for c in doc["hand_changed"]}
    combs |= {s.date_field for s in spec.signatures if doc["dates"].get(s.party)}
    layout = doc.get("hand_layout")
    if layout is not None:
        if set(layout) != combs:
            problems.append(f"{where}: hand_layout names {sorted(layout)}, the handwritten "
                            f"combs are {sorted(combs)}")
        if not set(layout.values()) <= set(LAYOUTS):
            problems.append(f"{where}: hand_layout values must be {'|'.join(LAYOUTS)}")
    emails = doc.get("email_registered")
    if emails is not None:
        wanted = {n for n in doc["fields"] if spec.field(n).type is FieldType.EMAIL}
        if set(emails) != wanted:
            problems.append(f"{where}: email_registered must name {sorted(wanted)}")
    return problems


def truth_problems(truth: Truth, issued: list[IssuedRecord]) -> list[str]:
    """Everything inconsistent in a truth file and its issued records; empty when sound."""
    problems: list[str] = []
    issued_ids = {r["form_id"] for r in issued}
    for f in truth["files"]:
        name = f["file"]
        if f["format"] not in FORMATS:
            problems.append(f"{name}: unknown format {f['format']!r}")
        used = set(f["blank_pages"])
        for i, doc in enumerate(f["documents"]):
            where = f"{name} document {i}"
            problems += _document_problems(where, doc, f["page_count"])
            if used & set(doc["pages"]):
                problems.append(f"{where}: a page belongs to two documents")
            used |= set(doc["pages"])
            if doc["form_id"] is not None and doc["issued"] != (doc["form_id"] in issued_ids):
                problems.append(f"{where}: issued={doc['issued']} but issued.json disagrees")
        if used != set(range(f["page_count"])):
            problems.append(f"{name}: pages {sorted(used)} do not cover 0..{f['page_count'] - 1}")
    return problems


def load_truth(directory: Path) -> Truth:
    data: Truth = json.loads((directory / "truth.json").read_text(encoding="utf-8"))
    return data


def load_issued(directory: Path) -> list[IssuedRecord]:
    data: dict[str, Any] = json.loads((directory / "issued.json").read_text(encoding="utf-8"))
    forms: list[IssuedRecord] = data["forms"]
    return forms


def record_issued(
    session: Session, directory: Path, *, source: str = "samples", skip_existing: bool = False,
    issued_at: dt.datetime | None = None,
) -> int:
    """Record every form of the corpus's issued.json; the caller commits. Returns the count.

    With `skip_existing`, forms already recorded are left as they are (the demo runs again).
    `issued_at` dates them (default now): the demo dates them before the corpus's
    signatures, as they were when the forms were filled in.
    """
    forms = load_issued(directory)
    if skip_existing:
        forms = [r for r in forms if get_issued_form(session, r["form_id"]) is None]
    for r in forms:
        record_issued_form(session, form_id=r["form_id"], kind=r["kind"], version=r["version"],
                           values=r["values"], signatories=r["signatories"], source=source,
                           issued_at=issued_at)
    return len(forms)
