"""The reviewer keys a form no machine could read: its kind, its values, the signatures seen.

An `unreadable` submission (no markers found, a photo with a corner cut off,
an old form from before the QR code, a letter) or one whose kind is unknown
holds a page image and nothing else. Rather than send the customer back, the
reviewer reads the page and types what it says. `key_submission` then:

* checks every value with the form's own validator (`forms.clean_field`), and
  refuses with every field's problem at once, in Swedish, saving nothing;
* stores the values as the reviewer's (corrections over an empty reading:
  `effective_values` sees them, the detail page shows them as corrected),
  and the signatures the reviewer saw, as signed or empty;
* runs the intake's own validation on them (`intake.scan.validate`: the
  registry, the signatories, the dates), so the findings, the plan and the
  approval are the same as for any read form. There is no issued form to
  compare with and no seal to check: the submission is a blank form keyed by
  hand, and an info finding says who keyed it;
* records `submission.keyed` in the audit log: who, when, the kind, every
  value and every signature seen, and why the page could not be read.

Keying again replaces what was keyed before, audited the same way.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import numpy as np
from sqlmodel import Session, col, delete, select

from forms import FormKind, InvalidValue, clean_field, form_spec
from intake.scan import FieldReading, SignatureReading, SignatureState, validate_document
from registry import record_event
from review.claims import DecisionError, hold
from workqueue import (
    Reviewer,
    Submission,
    SubmissionField,
    SubmissionFinding,
    SubmissionSignature,
    SubmissionStatus,
)

KEYABLE = (SubmissionStatus.UNREADABLE, SubmissionStatus.QUEUED)


class KeyedValuesError(DecisionError):
    """Values that do not pass their validators; `errors` says, per field, what is wrong."""

    def __init__(self, message: str, errors: dict[str, str]) -> None:
        super().__init__(message)
        self.errors = errors
_NO_CROP = np.full((1, 1), 255, np.uint8)


def keyable(submission: Submission) -> bool:
    """Whether the reviewer may key this submission: unread, or read as no known form."""
    if submission.status == SubmissionStatus.UNREADABLE:
        return True
    return submission.status == SubmissionStatus.QUEUED and (
        submission.kind not in {k.value for k in FormKind} or bool(submission.keyed_by))


def check_values(kind: FormKind, values: Mapping[str, str]) -> tuple[dict[str, str],
                                                                     dict[str, str]]:
    """The canonical values, and per field what is wrong (Swedish); empty when all is well."""
    clean: dict[str, str] = {}
    errors: dict[str, str] = {}
    for field in form_spec(kind).fields:
        raw = (values.get(field.name) or "").strip()
        if not raw:
            clean[field.name] = ""
            continue
        try:
            clean[field.name] = clean_field(field, raw)
        except InvalidValue as exc:
            errors[field.name] = exc.message
    return clean, errors


def key_submission(
    session: Session, submission_id: int, reviewer: Reviewer, kind: FormKind,
    values: Mapping[str, str], signed: Mapping[str, bool], *, now: dt.datetime,
) -> list[SubmissionFinding]:
    """Store what the reviewer read off the page (module docstring); returns the findings.

    Raises `KeyedValuesError` with every field's problem when a value does not pass
    its validator; nothing is written then.
    """
    spec = form_spec(kind)
    clean, errors = check_values(kind, values)
    if errors:
        labels = {f.name: f.label for f in spec.fields}
        raise KeyedValuesError(" ".join(f"{labels[n]}: {m}" for n, m in errors.items()),
                                 errors)
    submission = hold(session, submission_id, reviewer, now, KEYABLE)
    if not keyable(submission):
        raise DecisionError("Ärendet lästes maskinellt; rätta fälten i stället för att skriva "
                            "in blanketten.")
    before = {"status": submission.status.value, "kind": submission.kind,
              "unreadable_reason": submission.unreadable_reason}
    sid = submission_id
    for table in (SubmissionField, SubmissionSignature, SubmissionFinding):
        session.exec(delete(table).where(col(table.submission_id) == sid))
    for name, value in clean.items():
        session.add(SubmissionField(submission_id=sid, name=name, value="", raw="",
                                    confidence=0.0, corrected_value=value))
    seen = {s.party: bool(signed.get(s.party)) for s in spec.signatures}
    for party, ok in seen.items():
        session.add(SubmissionSignature(submission_id=sid, party=party,
                                        state="signed" if ok else "empty", ink=0.0))
    readings = {n: FieldReading(n, v, v, 1.0, _NO_CROP, read_by="keyed")
                for n, v in clean.items()}
    signatures = {p: SignatureReading(p, SignatureState.SIGNED if ok else SignatureState.EMPTY,
                                      0.0, _NO_CROP) for p, ok in seen.items()}
    findings = validate_document(session, kind, readings, signatures, issued=None,
                                 form_id=None, qr_valid=True, already_submitted=False,
                                 today=now.date())
    who = reviewer.name or reviewer.email
    rows = [SubmissionFinding(submission_id=sid, code="review.keyed", severity="info",
                              message=f"Blanketten kunde inte läsas maskinellt; {who} skrev in "
                                      "värdena och underskrifterna från sidans bild.")]
    rows += [SubmissionFinding(submission_id=sid, code=f.code, severity=f.severity.value,
                               message=f.message, field=f.field)
             for f in findings if f.code != "form.blank"]
    for row in rows:
        session.add(row)
    submission.kind = kind.value
    submission.form_version = spec.version
    submission.status = SubmissionStatus.QUEUED
    submission.keyed_by = reviewer.id
    submission.read_on = now.date()
    submission.unreadable_reason = None  # why it could not be read stays in the audit log
    submission.blocking_findings = sum(r.severity == "blocking" for r in rows)
    submission.warning_findings = sum(r.severity == "warning" for r in rows)
    submission.min_confidence = 1.0
    session.add(submission)
    record_event(session, actor=reviewer.email, action="submission.keyed",
                 subject=f"submission:{sid}", before=before,
                 after={"kind": kind.value, "values": clean, "signatures_seen": seen})
    session.flush()
    return list(session.exec(select(SubmissionFinding).where(
        col(SubmissionFinding.submission_id) == sid)).all())
