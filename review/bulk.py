"""Approving clean submissions together: which ones are clean, and approving a chosen set.

A submission is clean when nothing about it needs a person's eye:

* it is queued (not unreadable, not decided) and of a known kind;
* no finding is above info;
* every field is sure: read at or above `forms.SURE_CONFIDENCE` (the
  calibrated "sure" threshold), or set or confirmed by a reviewer
  (`corrected_value`), which counts as full confidence as in
  `review.revalidate`;
* it has signatures and every one is signed;
* no override request waits for a second reviewer;
* its plan has no problems and is not `already_done` (approving must change
  the registry, or there is nothing to approve in bulk);
* no other reviewer holds a live claim on it.

`clean_submissions` finds up to `BULK_LIMIT` of them, oldest first, each
with its plan and a `token`: a sha256 of what the reviewer is shown (the
four-eyes fingerprint of fields, findings and signatures, plus the plan's
changes). The database narrows the candidates with the columns it has
(status, kind, the finding counts, the least sure field, claims, pending
overrides); every rule is then checked again on the rows themselves
(`why_not_clean`), which is what decides.

`approve_chosen` approves the submissions the reviewer ticked, each exactly
as one approval on the detail page would (`review.decide.approve`: the same
registry change, the same audit events, the same mails), each in its own
transaction: claimed, checked clean again, compared with the token the page
was shown with, approved and committed, or rolled back and reported as
skipped with the reason. So one that fails undoes none of the others. This
is the one function here that commits, since one transaction per approval is
its point; everything else only reads.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from forms import SURE_CONFIDENCE
from registry import LinkagePlan
from review.claims import ClaimedByOther, DecisionError, claim
from review.decide import approve, decision_day, preview, preview_values
from review.four_eyes import fingerprint, fingerprint_of
from workqueue import (
    OverrideRequest,
    OverrideState,
    Reviewer,
    Submission,
    SubmissionField,
    SubmissionFinding,
    SubmissionSignature,
    SubmissionStatus,
)

# A page the reviewer reads through before approving; each listed case costs its registry
# plan (five queries), and 15 keep the page within 60 ms on PostgreSQL at 100,000 rows.
BULK_LIMIT = 15
KNOWN_KINDS = ("dual", "disconnect")
_BATCH = 40  # candidates looked at per query: most pass, now that the query rules out more
_MAX_CANDIDATES = 1000  # the page stays quick however many candidates fail the closer look


@dataclass(frozen=True)
class CleanCase:
    """A clean submission as the confirmation page shows it."""

    submission: Submission
    plan: LinkagePlan
    client_name: str
    token: str  # `shown_token`: posted back, compared before approving


@dataclass(frozen=True)
class Outcome:
    """What happened to one chosen submission."""

    submission_id: int
    approved: bool
    reason: str = ""  # Swedish: why it was skipped; "" when approved


def shown_token(session: Session, submission_id: int, plan: LinkagePlan) -> str:
    """A hash of what the reviewer saw: fields, findings, signatures and the plan's changes."""
    return token_of(fingerprint(session, submission_id), plan)


def token_of(fingerprinted: str, plan: LinkagePlan) -> str:
    text = json.dumps([fingerprinted, plan.kind, [c.summary for c in plan.changes]],
                      ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def _live_holder(
    session: Session, submission: Submission, reviewer_id: int, now: dt.datetime
) -> str:
    """The name of another reviewer with a live claim on it, or ""."""
    if (
        submission.claimed_by is None
        or submission.claimed_by == reviewer_id
        or submission.claimed_until is None
        or submission.claimed_until < now
    ):
        return ""
    holder = session.get(Reviewer, submission.claimed_by)
    return holder.name if holder is not None else "En annan granskare"


def why_not_clean(
    session: Session, submission: Submission, reviewer: Reviewer, *, now: dt.datetime
) -> tuple[str, LinkagePlan | None]:
    """Why `submission` is not clean for `reviewer` (Swedish), or "" and its plan when it is."""
    sid = submission.id
    assert sid is not None and reviewer.id is not None
    if submission.status != SubmissionStatus.QUEUED:
        if submission.status in (SubmissionStatus.APPROVED, SubmissionStatus.APPLIED):
            return "Ärendet är redan godkänt.", None
        if submission.status == SubmissionStatus.REJECTED:
            return "Ärendet är redan avvisat.", None
        return "Blanketten gick inte att läsa.", None
    if submission.kind not in KNOWN_KINDS:
        return "Blanketten är inte identifierad.", None
    holder = _live_holder(session, submission, reviewer.id, now)
    if holder:
        return f"{holder} granskar ärendet just nu.", None
    findings = session.exec(
        select(SubmissionFinding)
        .where(
            col(SubmissionFinding.submission_id) == sid,
            col(SubmissionFinding.severity) != "info",
        )
        .order_by(col(SubmissionFinding.id))
    ).all()
    if findings:
        return f"Ärendet har fynd att granska: {findings[0].message}", None
    fields = session.exec(
        select(SubmissionField).where(col(SubmissionField.submission_id) == sid)
    ).all()
    unsure = [f for f in fields if f.corrected_value is None and f.confidence < SURE_CONFIDENCE]
    if not fields:
        return "Inga fält är lästa.", None
    if unsure:
        read = "läst" if len(unsure) == 1 else "lästa"
        return f"{len(unsure)} fält är inte säkert {read}.", None
    states = session.exec(
        select(SubmissionSignature.state).where(col(SubmissionSignature.submission_id) == sid)
    ).all()
    if not states:
        return "Ingen underskrift är registrerad.", None
    if any(state != "signed" for state in states):
        return "En underskrift saknas eller är osäker.", None
    waiting = session.exec(
        select(OverrideRequest.id).where(
            col(OverrideRequest.submission_id) == sid,
            col(OverrideRequest.state) == OverrideState.PENDING,
        )
    ).first()
    if waiting is not None:
        return "Ett undantag väntar på bekräftelse av en annan granskare.", None
    plan = preview(session, sid, on=decision_day(now))
    if plan.problems:
        return "Ändringen går inte att göra: " + " ".join(plan.problems), None
    if plan.already_done:
        return "Registret är redan som blanketten begär; inget att ändra.", None
    return "", plan


def _candidates(reviewer_id: int, now: dt.datetime) -> SelectOfScalar[Submission]:
    """What the columns say may be clean, oldest first (the rows decide: `why_not_clean`)."""
    return (
        select(Submission)
        .where(
            col(Submission.status) == SubmissionStatus.QUEUED,
            col(Submission.kind).in_(KNOWN_KINDS),
            col(Submission.blocking_findings) == 0,
            col(Submission.warning_findings) == 0,
            sa.or_(
                col(Submission.min_confidence) >= SURE_CONFIDENCE,
                # Corrections and confirmations count as sure, so a stored low minimum is
                # not the last word: the rows are looked at.
                sa.exists().where(
                    col(SubmissionField.submission_id) == col(Submission.id),
                    col(SubmissionField.corrected_value).is_not(None),
                ),
            ),
            sa.or_(
                col(Submission.claimed_by).is_(None),
                col(Submission.claimed_by) == reviewer_id,
                col(Submission.claimed_until) < now,
            ),
            ~sa.exists().where(
                col(OverrideRequest.submission_id) == col(Submission.id),
                col(OverrideRequest.state) == OverrideState.PENDING,
            ),
            # A signature not signed rules most candidates out: let the database do it
            # (by the signatures' submission index) rather than three queries per row.
            ~sa.exists().where(
                col(SubmissionSignature.submission_id) == col(Submission.id),
                col(SubmissionSignature.state) != "signed",
            ),
        )
        .order_by(col(Submission.created_at), col(Submission.id))
    )


# Rows as plain tuples: the list page reads a few thousand of them, and ORM objects for
# each made it several times slower (and its garbage collections long).
_Field = tuple[str, str, str | None, float]  # name, value, corrected_value, confidence
_Finding = tuple[str, str, str | None, str]  # code, severity, field, message
_Signature = tuple[str, str]  # party, state


def _rows_by_submission(
    session: Session, ids: list[int]
) -> tuple[dict[int, list[_Field]], dict[int, list[_Finding]], dict[int, list[_Signature]]]:
    """Fields, findings and signatures of many submissions in three queries, not 3 x N."""
    fields: dict[int, list[_Field]] = {i: [] for i in ids}
    findings: dict[int, list[_Finding]] = {i: [] for i in ids}
    signatures: dict[int, list[_Signature]] = {i: [] for i in ids}
    for sid, name, value, corrected, confidence in session.execute(
            sa.select(col(SubmissionField.submission_id), col(SubmissionField.name),
                      col(SubmissionField.value), col(SubmissionField.corrected_value),
                      col(SubmissionField.confidence))
            .where(col(SubmissionField.submission_id).in_(ids))
            .order_by(col(SubmissionField.name))):
        fields[sid].append((name, value, corrected, confidence))
    for sid, code, severity, field, message in session.execute(
            sa.select(col(SubmissionFinding.submission_id), col(SubmissionFinding.code),
                      col(SubmissionFinding.severity), col(SubmissionFinding.field),
                      col(SubmissionFinding.message))
            .where(col(SubmissionFinding.submission_id).in_(ids))
            .order_by(col(SubmissionFinding.id))):
        findings[sid].append((code, severity, field, message))
    for sid, party, state in session.execute(
            sa.select(col(SubmissionSignature.submission_id), col(SubmissionSignature.party),
                      col(SubmissionSignature.state))
            .where(col(SubmissionSignature.submission_id).in_(ids))
            .order_by(col(SubmissionSignature.party))):
        signatures[sid].append((party, state))
    return fields, findings, signatures


def _clean_case(session: Session, submission: Submission, fields: list[_Field],
                findings: list[_Finding], signatures: list[_Signature],
                on: dt.date) -> CleanCase | None:
    """`why_not_clean`'s row checks on rows already loaded (the candidates' query has done
    the rest); the case with its plan and token, or None."""
    if any(severity != "info" for _, severity, _, _ in findings) or not fields or not signatures:
        return None
    if any(corrected is None and confidence < SURE_CONFIDENCE
           for _, _, corrected, confidence in fields):
        return None
    if any(state != "signed" for _, state in signatures):
        return None
    values = {name: corrected if corrected is not None else value
              for name, value, corrected, _ in fields}
    plan = preview_values(session, submission, values, on=on)
    if plan.problems or plan.already_done:
        return None
    token = token_of(fingerprint_of(
        submission, [f[:3] for f in fields], findings, signatures), plan)
    return CleanCase(submission=submission, plan=plan,
                     client_name=values.get("client_name", ""), token=token)


def clean_submissions(
    session: Session, reviewer: Reviewer, *, now: dt.datetime, limit: int = BULK_LIMIT
) -> list[CleanCase]:
    """Up to `limit` clean open submissions, oldest first, with their plans and tokens.

    The same rules as `why_not_clean`, with each batch's rows read in three
    queries rather than several per candidate: the page lists 15 with their
    plans well within what a page may take on PostgreSQL.
    """
    assert reviewer.id is not None
    found: list[CleanCase] = []
    seen = 0
    last: tuple[dt.datetime, int] | None = None
    base = _candidates(reviewer.id, now)
    on = decision_day(now)
    while len(found) < limit and seen < _MAX_CANDIDATES:
        statement = base
        if last is not None:
            statement = statement.where(
                sa.or_(
                    col(Submission.created_at) > last[0],
                    sa.and_(col(Submission.created_at) == last[0], col(Submission.id) > last[1]),
                )
            )
        batch = list(session.exec(statement.limit(_BATCH)).all())
        ids = [s.id for s in batch if s.id is not None]
        fields, findings, signatures = _rows_by_submission(session, ids)
        for submission in batch:
            assert submission.id is not None
            case = _clean_case(session, submission, fields[submission.id],
                               findings[submission.id], signatures[submission.id], on)
            if case is not None:
                found.append(case)
                if len(found) >= limit:
                    break
        seen += len(batch)
        if len(batch) < _BATCH:
            break
        last = (batch[-1].created_at, batch[-1].id or 0)
    return found


def _approve_one(
    session: Session,
    submission_id: int,
    token: str,
    reviewer: Reviewer,
    *,
    now: dt.datetime,
    form_url: str,
    sender_domain: str,
) -> str:
    """Approve one chosen submission in the session's transaction; "" or why it was skipped."""
    try:
        submission = claim(session, submission_id, reviewer, now=now)
    except ClaimedByOther as exc:
        return f"{exc.reviewer_name} granskar ärendet just nu."
    except DecisionError as exc:
        return exc.message
    reason, plan = why_not_clean(session, submission, reviewer, now=now)
    if reason or plan is None:
        return f"Inte längre rent: {reason}"
    if shown_token(session, submission_id, plan) != token:
        return "Ärendet har ändrats sedan sidan visades. Öppna det och granska det själv."
    try:
        approval = approve(
            session, submission_id, reviewer,
            now=now, form_url=form_url, sender_domain=sender_domain,
        )  # fmt: skip
    except DecisionError as exc:
        return exc.message
    if not approval.applied:  # pragma: no cover - without an override nothing waits
        return "Godkännandet väntar på en annan granskare."
    return ""


def approve_chosen(
    session: Session,
    reviewer: Reviewer,
    chosen: Sequence[tuple[int, str]],
    *,
    now: dt.datetime,
    form_url: str,
    sender_domain: str,
) -> list[Outcome]:
    """Approve each (submission id, token) chosen, one transaction each; what happened to each.

    Commits after each approval and rolls back each skipped one (its claim
    included), so the session is clean afterwards and every approval made
    stays made whatever happens to the next.
    """
    outcomes = []
    for submission_id, token in chosen[:BULK_LIMIT]:
        reason = _approve_one(
            session, submission_id, token, reviewer,
            now=now, form_url=form_url, sender_domain=sender_domain,
        )  # fmt: skip
        if reason:
            session.rollback()
        else:
            session.commit()
        outcomes.append(Outcome(submission_id, approved=not reason, reason=reason))
    return outcomes
