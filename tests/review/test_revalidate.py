"""Findings after a correction are the intake's checks on the values as they are now.

On SQLite and PostgreSQL, with the sample registry: a wrong check digit
corrected takes its finding away, a value confirmed as read stops asking
for attention, what no check here can reproduce (how the file was read, the
QR seal) stays, and the dates are judged as of the day the intake judged
them, not the day of the correction.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools

import pytest
from sqlmodel import Session, col, select

from review import claim
from review.decide import correct_fields
from tests.review.queue_cases import NOW, dual_case, reload
from workqueue import (
    ImageStore,
    NewField,
    NewFinding,
    NewPage,
    NewSignature,
    NewSubmission,
    Reviewer,
    SubmissionFinding,
    enqueue,
)

pytestmark = pytest.mark.usefixtures("registry")
_n = itertools.count(1)


def _submit(session: Session, store: ImageStore, values: dict[str, str], *,
            low: frozenset[str] = frozenset(), findings: list[NewFinding] | None = None,
            read_on: dt.date | None = None) -> int:
    n = next(_n)
    submission = enqueue(session, store, NewSubmission(
        source_kind="file", source_name=f"blankett-{n}.pdf",
        source_sha256=hashlib.sha256(f"revalidate {n}".encode()).hexdigest(),
        document_index=0, kind="dual", form_id=None, form_version="2026.1", quality_mm=0.2,
        pages=[NewPage(source_page=0, image=f"sida {n}".encode())],
        fields=[NewField(k, v, v, 0.3 if k in low else 0.97) for k, v in values.items()],
        signatures=[NewSignature("client", "signed", 0.05), NewSignature("new_firm", "signed",
                                                                         0.04)],
        findings=findings or [], read_on=read_on))
    session.commit()
    assert submission.id is not None
    return submission.id


def _codes(session: Session, sid: int) -> dict[str, str]:
    rows = session.exec(select(SubmissionFinding).where(
        col(SubmissionFinding.submission_id) == sid)).all()
    return {f"{r.code}@{r.field}": r.severity for r in rows}


def _values() -> dict[str, str]:
    case = dual_case()
    values = case.values()
    # Signatories the registry does not know make findings of their own; none here.
    values.pop("new_firm_email")
    return values | {"client_date": "2026-03-02", "new_firm_date": "2026-03-03"}


def test_a_corrected_number_takes_its_finding_away_and_the_counts_follow(
    session: Session, store: ImageStore, alice: Reviewer
) -> None:
    values = _values()
    digits = values["client_orgnr"].replace("-", "")
    wrong = f"{digits[:6]}-{digits[6:9]}{(int(digits[9]) + 1) % 10}"
    sid = _submit(session, store, values | {"client_orgnr": wrong}, read_on=NOW.date())
    claim(session, sid, alice, now=NOW)
    # What the intake would have stored: run the checks once on the values as read.
    correct_fields(session, sid, alice, {}, now=NOW)
    session.commit()
    assert _codes(session, sid)["orgnr.luhn@client_orgnr"] == "blocking"
    assert reload(session, sid).blocking_findings >= 1

    correct_fields(session, sid, alice, {"client_orgnr": values["client_orgnr"]}, now=NOW)
    session.commit()
    now = _codes(session, sid)
    assert not any(k.endswith("@client_orgnr") for k in now), now
    assert not any(sev == "blocking" for sev in now.values()), now
    assert reload(session, sid).blocking_findings == 0


def test_confirming_a_value_as_read_makes_it_sure(
    session: Session, store: ImageStore, alice: Reviewer
) -> None:
    values = _values()
    sid = _submit(session, store, values, low=frozenset({"client_subscription"}),
                  read_on=NOW.date())
    claim(session, sid, alice, now=NOW)
    correct_fields(session, sid, alice, {}, now=NOW)
    assert _codes(session, sid)["ocr.low_confidence@client_subscription"] == "warning"
    assert reload(session, sid).min_confidence == pytest.approx(0.3)

    # Unchanged and not confirmed: nothing is written, the finding stays.
    correct_fields(session, sid, alice, {"client_subscription": values["client_subscription"]},
                   now=NOW)
    assert "ocr.low_confidence@client_subscription" in _codes(session, sid)
    correct_fields(session, sid, alice, {"client_subscription": values["client_subscription"]},
                   now=NOW, confirmed=frozenset({"client_subscription"}))
    session.commit()
    assert "ocr.low_confidence@client_subscription" not in _codes(session, sid)
    assert reload(session, sid).min_confidence == pytest.approx(0.97)


def test_what_no_check_reproduces_stays_unless_its_field_was_typed(
    session: Session, store: ImageStore, alice: Reviewer
) -> None:
    values = _values()
    sid = _submit(session, store, values, findings=[
        NewFinding("qr.invalid", "blocking", "QR-koden har fel kontrollsumma."),
        NewFinding("file.resent", "info", "Samma fil kom förut."),
        NewFinding("pdf.field_unclear", "warning", "Det som syns är inte fältets värde.",
                   "new_firm_name"),
    ], read_on=NOW.date())
    claim(session, sid, alice, now=NOW)
    correct_fields(session, sid, alice, {}, now=NOW)
    kept = _codes(session, sid)
    assert {"qr.invalid@None", "file.resent@None", "pdf.field_unclear@new_firm_name"} <= set(kept)

    correct_fields(session, sid, alice, {"new_firm_name": values["new_firm_name"] + " "},
                   now=NOW, confirmed=frozenset({"new_firm_name"}))
    session.commit()
    now = _codes(session, sid)
    assert "pdf.field_unclear@new_firm_name" not in now  # it described a reading now replaced
    assert {"qr.invalid@None", "file.resent@None"} <= set(now)


def test_dates_are_judged_as_of_the_day_the_form_was_read(
    session: Session, store: ImageStore, alice: Reviewer
) -> None:
    values = _values()
    read_on = dt.date(2026, 3, 10)
    sid = _submit(session, store, values, read_on=read_on)
    claim(session, sid, alice, now=NOW)
    # Corrected a year later, a date ten days before the reading is still not too old...
    later = NOW + dt.timedelta(days=365)
    claim(session, sid, alice, now=later)
    correct_fields(session, sid, alice, {"client_date": "2026-02-28"}, now=later)
    session.commit()
    assert not any(k.startswith("date.") for k in _codes(session, sid))
    # ...and one after it is in the future for that day.
    correct_fields(session, sid, alice, {"client_date": "2026-03-12"}, now=later)
    assert _codes(session, sid)["date.future@client_date"] == "warning"
    # A signature whose date is taken away cannot be approved without a reason.
    correct_fields(session, sid, alice, {"new_firm_date": ""}, now=later)
    assert _codes(session, sid)["date.missing@new_firm_date"] == "blocking"
