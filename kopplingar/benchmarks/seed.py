"""A queue of realistic size, fast: 10,000 submissions with fields, signatures, findings.

`kopplingar bench review` needs the queue a busy back office would have;
reading that many scans would take an hour, so the rows are written
directly (bulk inserts), with the field values, confidences, findings and
statuses spread the way the corpus spreads them, and one real form page and
crop in the image store that every row points at. The reviewer pages cannot
tell the difference; only the images repeat.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from collections.abc import Iterator, Sequence
from typing import Any

import cv2
import numpy as np
import sqlalchemy as sa
from sqlalchemy import Engine

from forms import FormKind, form_spec
from samples import REGISTRY_JSON
from workqueue import (
    ImageStore,
    Submission,
    SubmissionField,
    SubmissionFinding,
    SubmissionPage,
    SubmissionSignature,
)

FINDINGS = (
    ("signature.missing", "blocking", "Underskrift saknas för kunden."),
    ("value.changed_by_hand", "warning", "Värdet har ändrats för hand jämfört med blanketten."),
    ("date.unreadable", "warning", "Datumet gick inte att läsa."),
    ("signatory.uncertain", "warning", "Namnförtydligandet gick inte att läsa säkert."),
    ("qr.unreadable", "info", "QR-koden gick inte att läsa."),
)
STATUS_WEIGHTS = (("queued", 0.7), ("unreadable", 0.05), ("applied", 0.17), ("rejected", 0.08))


def _signatories() -> dict[str, dict[str, tuple[str, str]]]:
    """Per company and role (firmatecknare, sysadmin), someone on record: (name, e-mail)."""
    data = json.loads(REGISTRY_JSON.read_text(encoding="utf-8"))
    names = {p["email"]: p["name"] for p in data["people"]}
    out: dict[str, dict[str, tuple[str, str]]] = {}
    for r in data["roles"]:
        if r["role"] in ("firmatecknare", "sysadmin"):
            out.setdefault(r["company"], {}).setdefault(r["role"], (names[r["person"]],
                                                                   r["person"]))
    return out


def _completed(kind: FormKind, values: dict[str, str],
               signers: dict[str, dict[str, tuple[str, str]]],
               day: dt.date) -> dict[str, str]:
    """A value set as a signed form has it: signatories on record, dates, the firm's address.

    So that the intake's checks, run again after a correction (review.revalidate),
    find what a real form would: nothing but what the benchmark put there.
    """
    out = dict(values)
    firm = "new_firm" if kind is FormKind.DUAL else "firm"
    # The client's firmatecknare or system administrator signs; a firm's system administrator.
    client = signers.get(values.get("client_orgnr", ""), {})
    for role in ("firmatecknare", "sysadmin"):
        if role in client:
            out["client_signatory_name"], out["client_signatory_role"] = client[role][0], role
            break
    admin = signers.get(values.get(f"{firm}_orgnr", ""), {}).get("sysadmin")
    if admin is not None:
        out[f"{firm}_signatory_name"] = admin[0]
        if kind is FormKind.DUAL:
            out["new_firm_email"] = admin[1]
    out["client_date"] = (day - dt.timedelta(days=3)).isoformat()
    out[f"{firm}_date"] = (day - dt.timedelta(days=2)).isoformat()
    return out


def _png(shape: tuple[int, int], seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    image = np.full(shape, 255, np.uint8)
    image[rng.integers(0, shape[0], 400), rng.integers(0, shape[1], 400)] = 0
    ok, buf = cv2.imencode(".png", image)
    assert ok
    return bytes(buf)


def _chunks(rows: list[dict[str, Any]], size: int = 5000) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def _insert(engine: Engine, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    with engine.begin() as conn:
        for chunk in _chunks(rows):
            conn.execute(table.insert(), chunk)


def seed_queue(
    engine: Engine,
    store: ImageStore,
    count: int,
    *,
    seed: int = 7,
    now: dt.datetime | None = None,
    sample_values: Sequence[dict[str, str]] = (),
) -> list[int]:
    """Add `count` submissions; returns their ids (in insertion order)."""
    rng = random.Random(seed)
    now = now or dt.datetime.now(dt.UTC)
    signers = _signatories() if sample_values else {}
    page = store.put(_png((2339, 1654), seed))
    crop = store.put(_png((60, 400), seed + 1))
    sig_crop = store.put(_png((120, 500), seed + 2))
    table = Submission.__table__  # type: ignore[attr-defined]
    with engine.begin() as conn:
        first = conn.execute(sa.select(sa.func.coalesce(sa.func.max(table.c.id), 0))).scalar_one()
    submissions, pages, fields, signatures, findings = [], [], [], [], []
    for n in range(count):
        sid = first + 1 + n
        status = rng.choices([s for s, _ in STATUS_WEIGHTS], [w for _, w in STATUS_WEIGHTS])[0]
        values = sample_values[n % len(sample_values)] if sample_values else {}
        # A value set is of one kind of form; without one, either kind.
        of_values = (FormKind.DUAL if "new_firm_orgnr" in values else FormKind.DISCONNECT)
        kind = None if status == "unreadable" else of_values if values else rng.choice(
            list(FormKind))
        chosen = [f for f in FINDINGS if rng.random() < 0.25] if kind else []
        confidences = [round(rng.uniform(0.55, 1.0) ** 0.3, 3) for _ in range(15)] if kind else []
        submissions.append(
            {
                "id": sid,
                "created_at": now - dt.timedelta(minutes=count - n),
                "status": status,
                "kind": kind.value if kind else None,
                # Real value sets come as blank forms: an id we never issued would be a
                # finding of its own once the checks run again.
                "form_id": f"{sid:010d}"[-10:] if kind and not values else None,
                "form_version": "2026.1" if kind else None,
                "source_kind": "mail",
                "source_name": f"skanning-{sid}.pdf",
                "source_sha256": f"{sid:064x}",
                "document_index": 0,
                "quality_mm": round(rng.uniform(0.1, 0.9), 3) if kind else None,
                "min_confidence": min(confidences) if confidences else None,
                "unreadable_reason": None if kind else "only 2 of 4 fiducial markers found",
                "blocking_findings": sum(1 for f in chosen if f[1] == "blocking")
                + (0 if kind else 1),
                "warning_findings": sum(1 for f in chosen if f[1] == "warning"),
            }
        )
        pages.append(
            {
                "submission_id": sid,
                "position": 0,
                "source_page": 0,
                "image_sha256": page,
                "aligned_sha256": page if kind else None,
            }
        )
        if kind is None:
            findings.append(
                {
                    "submission_id": sid,
                    "code": "page.unreadable",
                    "severity": "blocking",
                    "message": "Sidan kunde inte läsas maskinellt.",
                    "field": None,
                }
            )
            continue
        if values:
            values = _completed(kind, values, signers, (now - dt.timedelta(
                minutes=count - n)).date())
        spec = form_spec(kind)
        for f, confidence in zip(spec.fields, confidences, strict=False):
            value = values.get(f.name, f"{f.name}-{sid}")
            fields.append(
                {
                    "submission_id": sid,
                    "name": f.name,
                    "value": value[:300],
                    "raw": value[:300],
                    "confidence": confidence,
                    "crop_sha256": crop,
                    "ink_outside_print": 0.0,
                    "corrected_value": None,
                }
            )
        for s in spec.signatures:
            signatures.append(
                {
                    "submission_id": sid,
                    "party": s.party,
                    "state": rng.choice(("signed", "signed", "signed", "unsure", "empty")),
                    "ink": round(rng.uniform(0.0, 0.06), 4),
                    "crop_sha256": sig_crop,
                }
            )
        for code, severity, message in chosen:
            findings.append(
                {
                    "submission_id": sid,
                    "code": code,
                    "severity": severity,
                    "message": message,
                    "field": None,
                }
            )
    _insert(engine, table, submissions)
    _insert(engine, SubmissionPage.__table__, pages)  # type: ignore[attr-defined]
    _insert(engine, SubmissionField.__table__, fields)  # type: ignore[attr-defined]
    _insert(engine, SubmissionSignature.__table__, signatures)  # type: ignore[attr-defined]
    _insert(engine, SubmissionFinding.__table__, findings)  # type: ignore[attr-defined]
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            # Explicit ids leave the sequence behind; the next real submission needs it ahead.
            conn.execute(
                sa.text(
                    "SELECT setval(pg_get_serial_sequence('submissions', 'id'), "
                    "(SELECT max(id) FROM submissions))"
                )
            )
            conn.execute(sa.text("ANALYZE"))
    return [s["id"] for s in submissions]
