"""The committed corpus in samples/scans/corpus/: its files, its truth, its issued forms.

The intake tests and `kopplingar bench intake` trust this truth, so it is
checked here against the files themselves: every page decodes, every QR the
truth calls survived really decodes to its form's payload, and every
degradation and way of filling in the issue asks for is there.
"""

from __future__ import annotations

import functools
from collections import Counter
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
import zxingcpp
from PIL import Image
from sqlmodel import Session

from forms import FormKind, QrPayload, form_spec, parse_payload
from registry import IssuedForm, make_engine, upgrade_database
from samples import SAMPLE_QR_KEY
from samples.scans import (
    CORPUS_DIR,
    load_issued,
    load_truth,
    record_issued,
    truth_problems,
)
from samples.scans.output import read_pages
from samples.scans.truth import FileTruth

TRUTH = load_truth(CORPUS_DIR)
ISSUED = load_issued(CORPUS_DIR)
FILES = TRUTH["files"]
MAX_BYTES = 6_500_000


@functools.cache
def pages_of(name: str) -> list[npt.NDArray[np.uint8]]:
    return read_pages(CORPUS_DIR / name)


def test_truth_is_consistent_with_itself_and_issued_json() -> None:
    assert truth_problems(TRUTH, ISSUED) == []


def test_the_folder_holds_exactly_the_files_in_the_truth() -> None:
    listed = {f["file"] for f in FILES}
    present = {p.name for p in CORPUS_DIR.iterdir()} - {"truth.json", "issued.json", "README.md"}
    assert present == listed
    assert 25 <= len(listed) <= 40


def test_the_corpus_stays_small() -> None:
    assert sum((CORPUS_DIR / f["file"]).stat().st_size for f in FILES) < MAX_BYTES


@pytest.mark.parametrize("entry", FILES, ids=[f["file"] for f in FILES])
def test_every_page_decodes(entry: FileTruth) -> None:
    path = CORPUS_DIR / entry["file"]
    if entry["format"] == "pdf":
        assert path.read_bytes().startswith(b"%PDF")
    else:
        with Image.open(path) as im:
            assert im.format == {"jpeg": "JPEG", "png": "PNG", "tiff": "TIFF"}[entry["format"]]
            assert getattr(im, "n_frames", 1) == entry["page_count"]
            if entry["dpi"] is not None:
                assert round(im.info["dpi"][0]) == entry["dpi"]
    pages = pages_of(entry["file"])
    assert len(pages) == entry["page_count"]
    assert all(p.ndim == 2 and min(p.shape) > 1000 for p in pages)


def _payloads(page: npt.NDArray[np.uint8]) -> list[QrPayload]:
    found = zxingcpp.read_barcodes(page)
    return [parse_payload(r.text, SAMPLE_QR_KEY) for r in found if r.text.startswith("KPL1:")]


@pytest.mark.parametrize("entry", FILES, ids=[f["file"] for f in FILES])
def test_qr_survived_is_what_a_decoder_sees(entry: FileTruth) -> None:
    pages = pages_of(entry["file"])
    for doc in entry["documents"]:
        payloads = _payloads(pages[doc["pages"][0]])
        kind = FormKind(doc["kind"])
        expected = QrPayload(kind.code, form_spec(kind).version, doc["form_id"])
        read = [(p.kind_code, p.version, p.form_id) for p in payloads]
        wanted = (expected.kind_code, expected.version, expected.form_id)
        assert (wanted in read) == doc["qr_survived"], (doc["pages"], read)
    for index in entry["blank_pages"]:
        assert _payloads(pages[index]) == []


def test_every_degradation_and_way_of_filling_in_is_covered() -> None:
    seen: Counter[str] = Counter()
    for f in FILES:
        seen.update(d.split("=")[0] for d in f["degradations"])
        seen[f"format:{f['format']}"] += 1
        for doc in f["documents"]:
            seen[f"kind:{doc['kind']}"] += 1
            seen["prefilled" if doc["prefilled"] else "by hand"] += 1
            seen.update(f"signature:{s}" for s in doc["signatures"].values())
            seen["hand_changed"] += bool(doc["hand_changed"])
            seen["never issued"] += doc["form_id"] is not None and not doc["issued"]
            seen["qr lost"] += not doc["qr_survived"]
            seen["no date"] += None in doc["dates"].values()
    wanted = {"dpi", "rotate", "rotate180", "skew", "photo", "perspective", "background",
              "lighting", "shadow", "blur", "noise", "threshold", "jpeg", "multi_form",
              "blank_page", "multi_page_tiff", "qr_stain", "format:pdf", "format:jpeg",
              "format:png", "format:tiff", "kind:dual", "kind:disconnect", "prefilled",
              "by hand", "signature:signed", "signature:empty", "hand_changed",
              "never issued", "qr lost", "no date"}
    assert wanted - set(seen) == set()
    assert {f["dpi"] for f in FILES} >= {150, 200, 300, None}
    assert min(int(d.split("=")[1]) for f in FILES for d in f["degradations"]
               if d.startswith("jpeg=")) <= 35
    multi_pdf = [f for f in FILES if f["format"] == "pdf" and len(f["documents"]) > 1]
    assert any(f["blank_pages"] for f in multi_pdf)


def test_printed_values_are_the_issued_values(tmp_path: Path) -> None:
    issued = {r["form_id"]: r for r in ISSUED}
    for f in FILES:
        for doc in f["documents"]:
            if not doc["issued"] or doc["form_id"] is None:
                continue
            record = issued[doc["form_id"]]
            assert record["kind"] == doc["kind"]
            changed = {c["field"]: c["printed"] for c in doc["hand_changed"]}
            printed = {k: v for k, v in doc["fields"].items() if k not in doc["hand_written"]}
            assert record["values"] == printed | changed


def test_issued_json_loads_into_a_database(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'samples.db'}")
    upgrade_database(engine)
    with Session(engine) as session:
        assert record_issued(session, CORPUS_DIR) == len(ISSUED)
        session.commit()
    with Session(engine) as session:
        for f in FILES:
            for doc in f["documents"]:
                if doc["form_id"] is not None:
                    found = session.get(IssuedForm, doc["form_id"])
                    assert (found is not None) == doc["issued"]
    engine.dispose()
