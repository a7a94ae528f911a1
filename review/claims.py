"""Claiming a submission: who works on it, until when, and which one comes next.

One reviewer works on a submission at a time. `claim` takes it with one
conditional UPDATE that only one reviewer can win, on SQLite and PostgreSQL
alike (PostgreSQL re-checks the WHERE after the row lock, SQLite has one
writer at a time). A claim's expiry only matters to others: once it has run
out another reviewer may take the submission, but until someone does it is
still yours. Every later step (correcting, approving, rejecting: `review.decide`)
first re-asserts the claim with the same kind of UPDATE (`hold`), which also
locks the row until the caller's commit, so two decisions on one submission
cannot both land. `next_unclaimed` walks the queue past what others hold,
and past the overrides the reviewer asked for and waits for someone else to
confirm (`review.four_eyes`).

Owns `DecisionError`, the refusal of any step on a submission, since a claim
refused is the first of them. Every function takes the caller's session and
never commits.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from typing import Any, Literal

import sqlalchemy as sa
from sqlmodel import Session, col, select

from render import SWEDISH_TIME
from review.errors import ReviewError
from workqueue import OverrideRequest, OverrideState, Reviewer, Submission, SubmissionStatus

CLAIM_TTL = dt.timedelta(minutes=15)

OPEN_STATUSES = (SubmissionStatus.QUEUED, SubmissionStatus.UNREADABLE)


class DecisionError(ReviewError):
    """A decision or step that cannot be taken; `message` is Swedish, for the reviewer."""

    exit_code = os.EX_DATAERR


class ClaimedByOther(DecisionError):  # noqa: N818
    """Another reviewer holds the submission until `until`."""

    def __init__(self, reviewer_name: str, until: dt.datetime) -> None:
        local = until.astimezone(SWEDISH_TIME)
        super().__init__(f"{reviewer_name} granskar redan ärendet, till kl. {local:%H:%M}.")
        self.reviewer_name = reviewer_name
        self.until = until


def aware(now: dt.datetime) -> dt.datetime:
    """`now`, refused unless it has a time zone."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ReviewError(f"now must be an aware datetime, got {now!r}")
    return now


def _reviewer_id(reviewer: Reviewer) -> int:
    if reviewer.id is None:
        raise ReviewError("the reviewer has not been stored")
    if not reviewer.active:
        raise DecisionError("Ditt konto är avstängt.")
    return reviewer.id


def load_submission(session: Session, submission_id: int) -> Submission:
    """The submission as the database has it now; DecisionError when there is none."""
    # populate_existing: an UPDATE just ran behind the identity map's back.
    submission = session.get(Submission, submission_id, populate_existing=True)
    if submission is None:
        raise DecisionError(f"Ärende {submission_id} finns inte.")
    return submission


def _decided_text(submission: Submission) -> str:
    if submission.status == SubmissionStatus.AWAITING_CUSTOMER:
        return f"Ärende {submission.id} väntar på kunden."
    if submission.status in (SubmissionStatus.APPROVED, SubmissionStatus.APPLIED):
        return f"Ärende {submission.id} är redan godkänt."
    return f"Ärende {submission.id} är redan avvisat."


def _holder_refusal(session: Session, submission: Submission, now: dt.datetime) -> DecisionError:
    """Why a claimed step was refused when the submission is still open."""
    if (
        submission.claimed_by is not None
        and submission.claimed_until is not None
        and submission.claimed_until >= now
    ):
        holder = session.get(Reviewer, submission.claimed_by)
        name = holder.name if holder is not None else "En annan granskare"
        return ClaimedByOther(name, submission.claimed_until)
    return DecisionError("Ta ärendet först: någon annan kan ha tagit det sedan du öppnade det.")


def claim(
    session: Session,
    submission_id: int,
    reviewer: Reviewer,
    *,
    now: dt.datetime,
    ttl: dt.timedelta = CLAIM_TTL,
) -> Submission:
    """Take an open submission for `ttl` (again: extend it); ClaimedByOther when someone has it."""
    rid = _reviewer_id(reviewer)
    aware(now)
    result = session.exec(
        sa.update(Submission)
        .where(
            col(Submission.id) == submission_id,
            col(Submission.status).in_(OPEN_STATUSES),
            sa.or_(
                col(Submission.claimed_by).is_(None),
                col(Submission.claimed_by) == rid,
                col(Submission.claimed_until) < now,
            ),
        )
        .values(claimed_by=rid, claimed_until=now + ttl)
        .execution_options(synchronize_session=False)
    )
    submission = load_submission(session, submission_id)
    if result.rowcount == 1:
        return submission
    if submission.status not in OPEN_STATUSES:
        raise DecisionError(_decided_text(submission))
    raise _holder_refusal(session, submission, now)


def release(session: Session, submission_id: int, reviewer: Reviewer) -> None:
    """Give a submission back to the queue; nothing happens when it is not yours."""
    rid = _reviewer_id(reviewer)
    session.exec(
        sa.update(Submission)
        .where(col(Submission.id) == submission_id, col(Submission.claimed_by) == rid)
        .values(claimed_by=None, claimed_until=None)
        .execution_options(synchronize_session=False)
    )
    session.get(Submission, submission_id, populate_existing=True)  # a loaded copy catches up


def hold(
    session: Session,
    submission_id: int,
    reviewer: Reviewer,
    now: dt.datetime,
    statuses: Sequence[SubmissionStatus],
) -> Submission:
    """The submission, when `reviewer` holds it and its status is one of `statuses`.

    The UPDATE extends the claim and, on PostgreSQL, locks the row until the
    caller's commit, so nobody can claim or decide it in between.
    """
    rid = _reviewer_id(reviewer)
    aware(now)
    result = session.exec(
        sa.update(Submission)
        .where(
            col(Submission.id) == submission_id,
            col(Submission.status).in_(statuses),
            col(Submission.claimed_by) == rid,
        )
        .values(claimed_until=now + CLAIM_TTL)
        .execution_options(synchronize_session=False)
    )
    submission = load_submission(session, submission_id)
    if result.rowcount == 1:
        return submission
    if submission.status not in OPEN_STATUSES:
        raise DecisionError(_decided_text(submission))
    if submission.status not in statuses:
        raise DecisionError(
            "En blankett som inte gick att läsa kan inte godkännas eller rättas; avvisa den."
        )
    raise _holder_refusal(session, submission, now)


def next_unclaimed(
    session: Session,
    *,
    reviewer: Reviewer,
    now: dt.datetime,
    after_id: int | None = None,
    order: Literal["least_sure", "oldest"] = "least_sure",
    kind: str | None = None,
) -> int | None:
    """The next open submission nobody else holds, in the queue's order, after `after_id`.

    "least_sure" puts unreadable submissions (no confidence at all) first,
    then the lowest field confidence; "oldest" goes by arrival. Past the end
    it starts from the top again, so a skipped submission comes round again;
    `after_id` itself is never the answer.
    """
    rid = _reviewer_id(reviewer)
    aware(now)
    if order not in ("least_sure", "oldest"):
        raise ReviewError(f"unknown queue order {order!r}")
    # Confidences are 0..1, so -1 puts the unreadable ones (no confidence) first.
    key: Any = (
        sa.func.coalesce(col(Submission.min_confidence), -1.0)
        if order == "least_sure"
        else col(Submission.created_at)
    )
    base = select(Submission.id).where(
        col(Submission.status).in_(OPEN_STATUSES),
        sa.or_(
            col(Submission.claimed_by).is_(None),
            col(Submission.claimed_by) == rid,
            col(Submission.claimed_until) < now,
        ),
        # Only another reviewer can confirm an override: it is not this one's next.
        ~sa.exists().where(
            col(OverrideRequest.submission_id) == col(Submission.id),
            col(OverrideRequest.state) == OverrideState.PENDING,
            col(OverrideRequest.requested_by) == rid,
        ),
    )
    if kind is not None:
        base = base.where(col(Submission.kind) == kind)
    ordered = base.order_by(key, col(Submission.id)).limit(1)
    if after_id is None:
        return session.exec(ordered).first()
    here = session.exec(select(key, Submission.id).where(col(Submission.id) == after_id)).first()
    if here is not None:
        at_key, at_id = here
        found = session.exec(
            ordered.where(sa.or_(key > at_key, sa.and_(key == at_key, col(Submission.id) > at_id)))
        ).first()
        if found is not None:
            return found
    return session.exec(ordered.where(col(Submission.id) != after_id)).first()
