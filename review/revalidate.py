"""The findings again after a reviewer's correction: the intake's checks on today's values.

The intake validates a form once, as read. A reviewer who then corrects the
new firm's organisationsnummer must not go on reading "är inget
organisationsnummer" beside the corrected value: `revalidate` runs the same
checks (`intake.scan.validate_document`, and the registered-address checks
of `intake.scan.resolve`) on the effective values and replaces the
submission's findings with what they say now, in the caller's transaction.

What goes in, and why:

* A field a person typed or confirmed (`corrected_value` set) is taken as
  exactly that, at full confidence, with no ink of its own: a person has
  compared it with the image. Every other field is what the reader stored.
* Findings no check here can reproduce stay: how the file was read
  (`pdf.*`, `file.*`, `esign.*`, `review.keyed`, ...), the QR seal and
  whether the form id came in before. One such finding about a field a person
  has since typed is dropped: it described the reading, which is gone.
* The dates are checked as of the day the intake checked them
  (`Submission.read_on`), or the day it came in for one read before that
  was recorded.
* A finding the intake made on a field nobody touched keeps its stored
  message (it may carry what OCR doubted, which is not stored).

The counts on the submission (blocking, warning, least sure field) follow,
so the queue's order and filters agree with the page.
"""

from __future__ import annotations

import numpy as np
from sqlmodel import Session, col, delete, select

from forms import FormKind
from intake.scan import (
    RESOLVE_CODES,
    VALIDATION_CODES,
    FieldReading,
    SignatureReading,
    SignatureState,
    resolve,
    validate_document,
)
from registry import get_issued_form
from render import SWEDISH_TIME
from workqueue import Submission, SubmissionField, SubmissionFinding, SubmissionSignature

_NO_CROP = np.zeros((1, 1), dtype=np.uint8)
# What resolve adds is replaced like the validation's own findings.
_RECOMPUTED = VALIDATION_CODES | RESOLVE_CODES
# Read from the stored findings, since nothing else records them.
_KEPT_AS_READ = frozenset({"qr.invalid", "form.duplicate"})


def _readings(rows: list[SubmissionField]) -> tuple[dict[str, FieldReading], set[str]]:
    readings: dict[str, FieldReading] = {}
    typed: set[str] = set()
    for row in rows:
        if row.corrected_value is not None:
            typed.add(row.name)
            value = row.corrected_value
            readings[row.name] = FieldReading(row.name, value, value, 1.0, _NO_CROP,
                                              read_by="keyed")
        else:
            readings[row.name] = FieldReading(row.name, row.value, row.raw, row.confidence,
                                              _NO_CROP, ink_outside_print=row.ink_outside_print)
    return readings, typed


def _signatures(rows: list[SubmissionSignature]) -> dict[str, SignatureReading]:
    out = {}
    for row in rows:
        try:
            state = SignatureState(row.state)
        except ValueError:
            state = SignatureState.UNSURE
        out[row.party] = SignatureReading(row.party, state, row.ink, _NO_CROP)
    return out


def revalidate(session: Session, submission: Submission) -> list[SubmissionFinding]:
    """Replace `submission`'s findings with the checks on its values as they are now.

    Does nothing for a submission of no known kind. Returns the findings now
    stored; the caller commits.
    """
    sid = submission.id
    if sid is None or submission.kind not in (FormKind.DUAL.value, FormKind.DISCONNECT.value):
        return []
    kind = FormKind(submission.kind)
    field_rows = list(session.exec(
        select(SubmissionField).where(col(SubmissionField.submission_id) == sid)).all())
    stored = list(session.exec(
        select(SubmissionFinding).where(col(SubmissionFinding.submission_id) == sid)
        .order_by(col(SubmissionFinding.id))).all())
    signature_rows = list(session.exec(
        select(SubmissionSignature).where(col(SubmissionSignature.submission_id) == sid)).all())
    readings, typed = _readings(field_rows)
    codes = {f.code for f in stored}

    issued = get_issued_form(session, submission.form_id) if submission.form_id else None
    issued_values = issued.values if issued and FormKind(issued.kind) is kind else {}
    resolved, registered = resolve(session, kind, readings, issued_values)
    for name in typed:  # a person's value is not swapped for a registered address
        resolved[name] = readings[name]
    read_on = submission.read_on or submission.created_at.astimezone(SWEDISH_TIME).date()
    checked = validate_document(
        session, kind, resolved, _signatures(signature_rows), issued=issued,
        form_id=submission.form_id, qr_valid="qr.invalid" not in codes,
        already_submitted="form.duplicate" in codes, today=read_on)

    by_key = {(f.code, f.field): f for f in stored}
    fresh: list[tuple[str, str, str, str | None]] = []
    for f in [*checked, *(r for r in registered if r.field not in typed)]:
        if f.code in _KEPT_AS_READ:
            continue
        old = by_key.get((f.code, f.field))
        message = old.message if old is not None and f.field not in typed else f.message
        fresh.append((f.code, f.severity.value, message, f.field))
    kept = [
        (f.code, f.severity, f.message, f.field) for f in stored
        if (f.code not in _RECOMPUTED or f.code in _KEPT_AS_READ)
        and not (f.field in typed and f.code not in _KEPT_AS_READ)
    ]
    session.exec(delete(SubmissionFinding).where(col(SubmissionFinding.submission_id) == sid))
    rows = [SubmissionFinding(submission_id=sid, code=code, severity=severity, message=message,
                              field=field)
            for code, severity, message, field in [*kept, *fresh]]
    session.add_all(rows)
    submission.blocking_findings = sum(r.severity == "blocking" for r in rows)
    submission.warning_findings = sum(r.severity == "warning" for r in rows)
    confidences = [1.0 if r.corrected_value is not None else r.confidence for r in field_rows]
    submission.min_confidence = min(confidences) if confidences else None
    session.add(submission)
    session.flush()
    return rows

