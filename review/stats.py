"""How the queue and the back office are doing: the numbers behind `/granskning/statistik`.

`statistics(session, now=...)` gathers, in a handful of aggregate queries:

* the queue now: open submissions by status and kind, the oldest, the
  median age and how many are older than 1, 2 and 5 days, and how many
  wait for the customer;
* per day for the last `DAYS` days (Stockholm days: the boundaries are
  computed here with the time zone, so a day across a change to or from
  summer time is 23 or 25 hours, and the same SQL runs on both databases):
  received, approved and rejected (a close as a duplicate or a join is a
  rejection too: the submission is closed without a linkage);
* per reviewer over the same days: decided, approved, rejected, fields
  corrected, the share approved without any correction, and the median
  handling time (received to decided);
* the same share and median over everyone;
* the outbox by state.

What is counted as corrected comes from the audit log: a
`submission.field_corrected` event is one corrected field, by its actor,
and a keyed submission (`submission.keyed`: every value typed by a person)
counts as corrected. Counts are exact GROUP BYs; the medians come from the
decisions themselves, read as one number each, at most `MEDIAN_SAMPLE` of
them (a back office deciding more than that in `DAYS` days has its
decisions counted by a GROUP BY and gets the medians of every k-th
decision by id). Nothing records when a reviewer first took a submission (a
claim is one column, overwritten), so there is no work-time median.

Every query is bounded by an index range (status and arrival, the audit
log's time, the outbox's state) except the decided ones, which read the
decided rows' decision time: there is no index on it.
"""

from __future__ import annotations

import bisect
import datetime as dt
import statistics as pystats
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from registry import AuditEvent
from render import SWEDISH_TIME
from review.claims import OPEN_STATUSES, aware
from workqueue import OutboundMail, OutboxState, Reviewer, Submission, SubmissionStatus

DAYS = 30
AGE_THRESHOLDS = (1, 2, 5)  # "older than N days" in the queue summary
MEDIAN_SAMPLE = 10_000
APPROVED = (SubmissionStatus.APPROVED, SubmissionStatus.APPLIED)
DECIDED = (*APPROVED, SubmissionStatus.REJECTED)
# Neither the reviewers' queue nor decided: waiting for the customer (review.waiting).
WAITING = tuple(s for s in SubmissionStatus if s not in (*OPEN_STATUSES, *DECIDED))
CORRECTED_ACTION = "submission.field_corrected"
KEYED_ACTION = "submission.keyed"


@dataclass(frozen=True)
class QueueNow:
    open: int
    by_status: dict[str, int]  # queued, unreadable
    by_kind: list[tuple[str | None, int]]  # most first; None: not known (unreadable)
    oldest: dt.datetime | None
    median_age: dt.timedelta | None
    older_than: list[tuple[int, int]]  # (days, how many open ones arrived before now - days)
    waiting: int = 0  # not open, not decided: waiting for the customer


@dataclass(frozen=True)
class Day:
    day: dt.date  # a Stockholm calendar day
    received: int
    approved: int
    rejected: int


@dataclass(frozen=True)
class ReviewerStats:
    reviewer_id: int
    name: str
    decided: int
    approved: int
    rejected: int
    corrected_fields: int  # fields this reviewer corrected in the period, on any submission
    clean_share: float | None  # of their approvals, the share with no correction at all
    median_handling: dt.timedelta | None  # received to decided, over their decisions


@dataclass(frozen=True)
class Statistics:
    at: dt.datetime
    first_day: dt.date
    queue: QueueNow
    days: list[Day]  # oldest first, `DAYS` of them, today last
    reviewers: list[ReviewerStats]  # most decided first
    decided: int
    approved: int
    rejected: int
    clean_share: float | None
    median_handling: dt.timedelta | None
    outbox: dict[str, int]  # every OutboxState value, 0 when none

    @property
    def busiest(self) -> int:
        """The largest count of any day, for scaling the chart (at least 1)."""
        return max([1, *(max(d.received, d.approved, d.rejected) for d in self.days)])


def day_bounds(today: dt.date, days: int = DAYS) -> list[dt.datetime]:
    """The UTC instants at which each of the last `days` Stockholm days begins, and the next.

    `days + 1` instants: day i is [bounds[i], bounds[i + 1]).
    """
    first = today - dt.timedelta(days=days - 1)
    return [
        dt.datetime.combine(first + dt.timedelta(days=i), dt.time(), SWEDISH_TIME).astimezone(
            dt.UTC
        )
        for i in range(days + 1)
    ]


def _hour(session: Session, column: Any) -> Any:
    """The UTC hour `column` falls in, as the database gives it (text on SQLite).

    Stockholm is a whole number of hours from UTC all year, so an hour lies in
    one Stockholm day, and grouping by hour is far cheaper than a CASE over
    the day boundaries; `_Days` maps the few hundred hours to their days.
    """
    if session.get_bind().dialect.name == "postgresql":
        # In UTC whatever the session's time zone (one of +05:30 would cut hours at :30).
        return sa.func.date_trunc("hour", sa.func.timezone("UTC", column))
    return sa.func.substr(column, 1, 13)  # "YYYY-MM-DD HH" of the stored naive UTC


class _Days:
    """Which day of `bounds` an hour from `_hour` lies in (memoised: hours repeat)."""

    def __init__(self, bounds: Sequence[dt.datetime]) -> None:
        self.bounds = list(bounds)
        self.known: dict[object, int] = {}

    def index(self, hour: object) -> int:
        found = self.known.get(hour)
        if found is None:
            if isinstance(hour, dt.datetime):
                at = hour if hour.tzinfo else hour.replace(tzinfo=dt.UTC)
            else:
                at = dt.datetime.fromisoformat(f"{hour}:00").replace(tzinfo=dt.UTC)
            found = bisect.bisect_right(self.bounds, at) - 1
            self.known[hour] = found
        return found


def _seconds(session: Session) -> Any:
    """Received to decided, in seconds, as the database computes it."""
    decided, received = col(Submission.decided_at), col(Submission.created_at)
    if session.get_bind().dialect.name == "postgresql":
        return sa.func.extract("epoch", decided - received)
    return (sa.func.julianday(decided) - sa.func.julianday(received)) * 86400.0


def _median(values: Sequence[float]) -> dt.timedelta | None:
    return dt.timedelta(seconds=pystats.median(values)) if values else None


def queue_now(session: Session, *, now: dt.datetime) -> QueueNow:
    """The open submissions: how many, of what, how old; and how many wait for the customer."""
    aware(now)
    is_open = col(Submission.status).in_(OPEN_STATUSES)
    created = col(Submission.created_at)
    older = [
        sa.func.sum(sa.case((created < now - dt.timedelta(days=d), 1), else_=0))
        for d in AGE_THRESHOLDS
    ]
    rows = session.exec(
        select(
            col(Submission.status),
            col(Submission.kind),
            sa.func.count(),
            sa.func.min(created),
            *older,
        )
        .where(is_open)
        .group_by(col(Submission.status), col(Submission.kind))
    ).all()
    by_status: Counter[str] = Counter()
    by_kind: Counter[str | None] = Counter()
    older_counts = [0] * len(AGE_THRESHOLDS)
    oldest: dt.datetime | None = None
    for row in rows:
        status, kind, count, first = row[:4]
        over: Sequence[int | None] = row[4:]
        by_status[str(status)] += count
        by_kind[kind] += count
        oldest = first if oldest is None or first < oldest else oldest
        older_counts = [a + int(b or 0) for a, b in zip(older_counts, over, strict=True)]
    total = sum(by_status.values())
    median_age = None
    if total:
        # The middle arrival, by the (status, created_at) index: no rows leave the database.
        middle = session.exec(
            select(created).where(is_open).order_by(created).offset((total - 1) // 2).limit(1)
        ).first()
        if middle is not None:
            median_age = now - middle
    waiting = (
        session.exec(
            select(sa.func.count())
            .select_from(Submission)
            .where(col(Submission.status).in_(WAITING))
        ).one()
        if WAITING
        else 0
    )
    return QueueNow(
        open=total,
        by_status={s.value: by_status.get(s.value, 0) for s in OPEN_STATUSES},
        by_kind=sorted(by_kind.items(), key=lambda kc: (-kc[1], kc[0] or "")),
        oldest=oldest,
        median_age=median_age,
        older_than=list(zip(AGE_THRESHOLDS, older_counts, strict=True)),
        waiting=int(waiting),
    )


def _received(session: Session, bounds: Sequence[dt.datetime]) -> list[int]:
    created = col(Submission.created_at)
    hour = _hour(session, created)
    days = _Days(bounds)
    counts = [0] * (len(bounds) - 1)
    rows = session.exec(
        select(hour, sa.func.count())
        # Every status named, so the (status, created_at) index bounds the scan.
        .where(
            col(Submission.status).in_(list(SubmissionStatus)),
            created >= bounds[0],
            created < bounds[-1],
        )
        .group_by(hour)
    ).all()
    for at, count in rows:
        counts[days.index(at)] += int(count)
    return counts


def _corrections(
    session: Session, since: dt.datetime, until: dt.datetime
) -> tuple[Counter[str], set[int]]:
    """Fields corrected per actor's e-mail, and the submissions corrected or keyed."""
    rows = session.exec(
        select(
            col(AuditEvent.action), col(AuditEvent.actor), col(AuditEvent.subject), sa.func.count()
        )
        .where(
            col(AuditEvent.action).in_((CORRECTED_ACTION, KEYED_ACTION)),
            col(AuditEvent.at) >= since,
            col(AuditEvent.at) < until,
        )
        .group_by(col(AuditEvent.action), col(AuditEvent.actor), col(AuditEvent.subject))
    ).all()
    fields: Counter[str] = Counter()
    corrected: set[int] = set()
    for action, actor, subject, count in rows:
        if action == CORRECTED_ACTION:
            fields[actor] += int(count)
        kind, _, number = str(subject).partition(":")
        if kind == "submission" and number.isdigit():
            corrected.add(int(number))
    return fields, corrected


def _decisions(session: Session, where: Sequence[Any], *, limit: int) -> Sequence[Any]:
    """(id, decided_by, 1 if approved, hour decided, seconds received to decided) per row."""
    decided_at = col(Submission.decided_at)
    columns: list[Any] = [
        Submission.id,
        Submission.decided_by,
        sa.case((col(Submission.status).in_(APPROVED), 1), else_=0),
        _hour(session, decided_at),
        _seconds(session),
    ]
    # Core rather than the ORM: plain tuples, no identity map, for thousands of rows.
    return session.connection().execute(sa.select(*columns).where(*where).limit(limit)).all()


def _tally(
    rows: Sequence[Any], days_of: _Days
) -> tuple[list[int], list[int], dict[int, Counter[str]]]:
    """What `_decided_counts` counts in SQL, counted from the decisions' rows."""
    approved_day = [0] * (len(days_of.bounds) - 1)
    rejected_day = [0] * (len(days_of.bounds) - 1)
    counts: dict[int, Counter[str]] = defaultdict(Counter)
    for _sid, reviewer_id, approved, hour, _seconds in rows:
        what = "approved" if approved else "rejected"
        (approved_day if approved else rejected_day)[days_of.index(hour)] += 1
        counts[int(reviewer_id or 0)][what] += 1
    return approved_day, rejected_day, counts


def _decided_counts(
    session: Session, in_period: Sequence[Any], days_of: _Days
) -> tuple[list[int], list[int], dict[int, Counter[str]]]:
    """Approved and rejected per day, and per reviewer, as a GROUP BY: for a busy period."""
    hour = _hour(session, col(Submission.decided_at))
    approved_day = [0] * (len(days_of.bounds) - 1)
    rejected_day = [0] * (len(days_of.bounds) - 1)
    counts: dict[int, Counter[str]] = defaultdict(Counter)
    for reviewer_id, status, at, count in session.exec(
        select(col(Submission.decided_by), col(Submission.status), hour, sa.func.count())
        .where(*in_period)
        .group_by(col(Submission.decided_by), col(Submission.status), hour)
    ).all():
        what = "approved" if status in APPROVED else "rejected"
        (approved_day if what == "approved" else rejected_day)[days_of.index(at)] += int(count)
        counts[int(reviewer_id or 0)][what] += int(count)
    return approved_day, rejected_day, counts


def statistics(session: Session, *, now: dt.datetime, days: int = DAYS) -> Statistics:
    """Everything the statistics page shows (module docstring)."""
    aware(now)
    today = now.astimezone(SWEDISH_TIME).date()
    bounds = day_bounds(today, days)
    start, end = bounds[0], bounds[-1]
    decided_at = col(Submission.decided_at)
    in_period = (col(Submission.status).in_(DECIDED), decided_at >= start, decided_at < end)

    # One row per decision: the counts per day and reviewer, and one number each for
    # the medians. A busier period is counted by a GROUP BY, and its medians come
    # from every k-th decision by id (a sample spread over the whole period).
    days_of = _Days(bounds)
    rows = _decisions(session, in_period, limit=MEDIAN_SAMPLE + 1)
    if len(rows) <= MEDIAN_SAMPLE:
        approved_day, rejected_day, counts = _tally(rows, days_of)
    else:
        approved_day, rejected_day, counts = _decided_counts(session, in_period, days_of)
        total = sum(approved_day) + sum(rejected_day)
        every = -(-total // MEDIAN_SAMPLE)
        rows = _decisions(
            session, (*in_period, col(Submission.id) % every == 0), limit=MEDIAN_SAMPLE + 1
        )
    handling: dict[int, list[float]] = defaultdict(list)
    approvals: dict[int, list[int]] = defaultdict(list)
    for sid, reviewer_id, approved, _hour_of, seconds in rows:
        rid = int(reviewer_id or 0)
        # Whole seconds: SQLite's julianday arithmetic is a float, a few microseconds off.
        handling[rid].append(max(0.0, float(round(seconds))))
        if approved:
            approvals[rid].append(int(sid or 0))
    # Corrections made before the period count for approvals within it: a week's margin.
    fields, corrected = _corrections(session, start - dt.timedelta(days=7), end)

    people: dict[int | None, Reviewer] = {
        r.id: r
        for r in session.exec(
            select(Reviewer).where(col(Reviewer.id).in_(sorted(k for k in counts if k)))
        ).all()
    }
    reviewers = []
    for rid, c in counts.items():
        person = people.get(rid)
        mine = approvals.get(rid, [])
        reviewers.append(
            ReviewerStats(
                reviewer_id=rid,
                name=person.name if person else "Okänd granskare",
                decided=c["approved"] + c["rejected"],
                approved=c["approved"],
                rejected=c["rejected"],
                corrected_fields=fields.get(person.email, 0) if person else 0,
                clean_share=(sum(1 for s in mine if s not in corrected) / len(mine))
                if mine
                else None,
                median_handling=_median(handling.get(rid, [])),
            )
        )
    reviewers.sort(key=lambda r: (-r.decided, r.name))
    every_approval = [s for ids in approvals.values() for s in ids]
    outbox = dict.fromkeys((s.value for s in OutboxState), 0)
    for state, count in session.exec(
        select(col(OutboundMail.state), sa.func.count()).group_by(col(OutboundMail.state))
    ).all():
        outbox[str(state)] = int(count)
    received = _received(session, bounds)
    return Statistics(
        at=now,
        first_day=bounds[0].astimezone(SWEDISH_TIME).date(),
        queue=queue_now(session, now=now),
        days=[
            Day(
                bounds[i].astimezone(SWEDISH_TIME).date(),
                received[i],
                approved_day[i],
                rejected_day[i],
            )
            for i in range(days)
        ],
        reviewers=reviewers,
        decided=sum(approved_day) + sum(rejected_day),
        approved=sum(approved_day),
        rejected=sum(rejected_day),
        clean_share=(sum(1 for s in every_approval if s not in corrected) / len(every_approval))
        if every_approval
        else None,
        median_handling=_median([s for values in handling.values() for s in values]),
        outbox=outbox,
    )
