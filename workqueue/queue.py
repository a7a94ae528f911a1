"""The queue API the intake uses: put a read document in, ask what is there.

Intake hands over plain values (`NewSubmission` and its parts), never its own
types, so the queue does not depend on how a scan was read. `enqueue` stores
the images first (content-addressed, harmless if the commit never comes),
then adds the rows to the caller's session; the caller commits, which makes
the whole submission appear at once or not at all.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlmodel import Session, select

from workqueue.models import (
    Submission,
    SubmissionField,
    SubmissionFinding,
    SubmissionPage,
    SubmissionSignature,
    SubmissionStatus,
)
from workqueue.store import ImageStore


@dataclass(frozen=True)
class NewPage:
    source_page: int
    image: bytes  # as received (PNG or JPEG)
    aligned: bytes | None = None  # the canonical page, PNG


@dataclass(frozen=True)
class NewCandidate:
    """A value the registry offers for a field: a name or an address, how alike, who."""

    value: str
    score: float  # 0..1
    note: str = ""


@dataclass(frozen=True)
class NewField:
    name: str
    value: str
    raw: str
    confidence: float
    crop: bytes | None = None
    ink_outside_print: float = 0.0
    candidates: tuple[NewCandidate, ...] = ()  # best first


@dataclass(frozen=True)
class NewSignature:
    party: str
    state: str
    ink: float
    crop: bytes | None = None


@dataclass(frozen=True)
class NewFinding:
    code: str
    severity: str
    message: str
    field: str | None = None


@dataclass(frozen=True)
class NewSubmission:
    source_kind: str
    source_name: str
    source_sha256: str
    document_index: int
    kind: str | None
    form_id: str | None
    form_version: str | None
    quality_mm: float | None
    pages: list[NewPage]
    fields: list[NewField] = field(default_factory=list)
    signatures: list[NewSignature] = field(default_factory=list)
    findings: list[NewFinding] = field(default_factory=list)
    unreadable_reason: str | None = None
    inbound_message_id: int | None = None  # the mail it came in, if it came by mail
    read_on: dt.date | None = None  # the day its dates were checked as of


def enqueue(session: Session, store: ImageStore, new: NewSubmission) -> Submission:
    """Add one submission (rows in `session`, images in `store`); the caller commits."""
    confidences = [f.confidence for f in new.fields]
    submission = Submission(
        status=SubmissionStatus.UNREADABLE if new.unreadable_reason else SubmissionStatus.QUEUED,
        kind=new.kind,
        form_id=new.form_id,
        form_version=new.form_version,
        source_kind=new.source_kind,
        source_name=new.source_name[:300],
        source_sha256=new.source_sha256,
        document_index=new.document_index,
        quality_mm=new.quality_mm,
        min_confidence=min(confidences) if confidences else None,
        unreadable_reason=(new.unreadable_reason or None) and new.unreadable_reason[:500],
        blocking_findings=sum(1 for f in new.findings if f.severity == "blocking"),
        warning_findings=sum(1 for f in new.findings if f.severity == "warning"),
        inbound_message_id=new.inbound_message_id,
        read_on=new.read_on,
    )
    session.add(submission)
    session.flush()
    assert submission.id is not None
    sid = submission.id
    for position, page in enumerate(new.pages):
        session.add(
            SubmissionPage(
                submission_id=sid,
                position=position,
                source_page=page.source_page,
                image_sha256=store.put(page.image),
                aligned_sha256=store.put(page.aligned) if page.aligned is not None else None,
            )
        )
    for f in new.fields:
        session.add(
            SubmissionField(
                submission_id=sid,
                name=f.name,
                value=f.value[:300],
                raw=f.raw[:300],
                confidence=f.confidence,
                crop_sha256=store.put(f.crop) if f.crop is not None else None,
                ink_outside_print=f.ink_outside_print,
                candidates=[
                    {"value": c.value[:300], "score": c.score, "note": c.note[:200]}
                    for c in f.candidates
                ]
                or None,
            )
        )
    for s in new.signatures:
        session.add(
            SubmissionSignature(
                submission_id=sid,
                party=s.party,
                state=s.state,
                ink=s.ink,
                crop_sha256=store.put(s.crop) if s.crop is not None else None,
            )
        )
    for finding in new.findings:
        session.add(
            SubmissionFinding(
                submission_id=sid,
                code=finding.code,
                severity=finding.severity,
                message=finding.message[:1000],
                field=finding.field,
            )
        )
    session.flush()
    return submission


def form_id_submitted(session: Session, form_id: str) -> bool:
    """True when a submission for this issued-form id is already in the queue."""
    found = session.exec(select(Submission.id).where(Submission.form_id == form_id).limit(1))
    return found.first() is not None


def queue_counts(session: Session) -> dict[str, int]:
    """Submissions per status, for the summary lines and the queue page."""
    rows = session.exec(
        select(Submission.status, sa.func.count()).group_by(Submission.status)
    ).all()
    return {str(status): int(count) for status, count in rows}
