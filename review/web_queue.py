"""The queue page and "take the next one".

The queue lists one status group at a time (queued, unreadable, approved or
applied, rejected), filtered by form kind and by finding code, in one of the
orders of `web_keyset`, 50 rows a page with keyset paging: the "next page"
link carries the last row's key, so page 200 costs what page 1 costs. Who has
claimed what is shown (a claim counts until `claimed_until`); a row with a
blocking finding is marked, and so is one whose override waits for a second
reviewer; the group "Väntar på bekräftelse" lists just those.

Every row shows its due date (`review.deadlines`: arrival plus the promised
working days) and, when open and past it, how late it is in words; the
header counts the overdue open submissions with one range count on the
(status, created_at) index (`overdue_count`). "Godkänn rena ärenden" leads
to `web_bulk`.

Opening a row is a plain GET (it changes nothing). "Ta nästa" is a POST: it
claims the next unclaimed submission in the queue order and opens it, which
is the fastest way through the queue with GET staying safe.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlmodel import Session, col, select

from review.claims import OPEN_STATUSES, ClaimedByOther, claim, next_unclaimed
from review.deadlines import deadline, local_day, overdue_cutoff
from review.four_eyes import awaiting_ids, pending_request
from review.web_common import (
    PREFIX,
    STATUS_LABELS,
    Kit,
    OptionalRowId,
    PageError,
    Posted,
    Viewer,
    query,
)
from review.web_keyset import SORTS, Key, fetch, parse_cursor, row_key
from workqueue import (
    InboundMessage,
    OverrideRequest,
    OverrideState,
    Reviewer,
    Submission,
    SubmissionField,
    SubmissionFinding,
    SubmissionStatus,
)

PAGE_SIZE = 50

STATUS_GROUPS: dict[str, tuple[str, tuple[SubmissionStatus, ...]]] = {
    "queued": ("I kön", (SubmissionStatus.QUEUED,)),
    "unreadable": ("Oläsliga", (SubmissionStatus.UNREADABLE,)),
    "approved": ("Godkända", (SubmissionStatus.APPROVED, SubmissionStatus.APPLIED)),
    "rejected": ("Avslagna", (SubmissionStatus.REJECTED,)),
    # Asked the customer for what is missing (`review.waiting`).
    "waiting": ("Väntar på kund", (SubmissionStatus.AWAITING_CUSTOMER,)),
    # Queued ones whose override needs a second reviewer (`review.four_eyes`).
    "confirm": ("Väntar på bekräftelse", (SubmissionStatus.QUEUED,)),
}
COUNT_CAP = 1000  # the tabs and the overdue count say "över 1 000" beyond
CODES_TTL = dt.timedelta(minutes=1)
KINDS = {"dual": "Dubbelsammankoppling", "disconnect": "Bortkoppling", "unknown": "Okänd"}
_CODE = re.compile(r"^[a-z0-9_.]{1,60}$")
_AWAITING = sa.exists().where(
    col(OverrideRequest.submission_id) == col(Submission.id),
    col(OverrideRequest.state) == OverrideState.PENDING,
)


@dataclass(frozen=True)
class QueueFilter:
    status: str = "queued"
    kind: str = ""
    finding: str = ""
    sort: str = "oldest"

    @staticmethod
    def of(status: str, kind: str, finding: str, sort: str) -> QueueFilter:
        """The filter a request asks for; anything unknown falls back to the default."""
        return QueueFilter(
            status=status if status in STATUS_GROUPS else "queued",
            kind=kind if kind in KINDS else "",
            finding=finding if _CODE.match(finding) else "",
            sort=sort if sort in SORTS else "oldest",
        )

    def where(self) -> list[sa.ColumnElement[bool]]:
        statuses = STATUS_GROUPS[self.status][1]
        conditions: list[sa.ColumnElement[bool]] = [
            col(Submission.status) == statuses[0]
            if len(statuses) == 1
            else col(Submission.status).in_(statuses)
        ]
        if self.kind == "unknown":
            conditions.append(col(Submission.kind).is_(None))
        elif self.kind:
            conditions.append(col(Submission.kind) == self.kind)
        if self.finding:
            conditions.append(
                sa.exists().where(
                    col(SubmissionFinding.submission_id) == col(Submission.id),
                    col(SubmissionFinding.code) == self.finding,
                )
            )
        if self.status == "confirm":
            conditions.append(_AWAITING)
        return conditions

    def params(self) -> dict[str, str]:
        """As query parameters, leaving out the defaults."""
        out = {"status": self.status, "kind": self.kind, "finding": self.finding, "sort": self.sort}
        defaults = QueueFilter()
        return {k: v for k, v in out.items() if v and v != getattr(defaults, k)}


@dataclass(frozen=True)
class QueueRow:
    submission: Submission
    claimed_by: str | None  # a live claim's reviewer
    mine: bool
    sender: str | None
    client_name: str
    client_orgnr: str
    awaiting: bool = False  # an override waits for a second reviewer


KNOWN_KINDS = ("dual", "disconnect")


def decide_order(sort: str) -> Literal["least_sure", "oldest"]:
    """The order "take the next one" follows for a queue sort (work goes oldest first)."""
    return "least_sure" if sort == "confidence" else "oldest"


def claim_holder(submission: Submission, name: str | None, now: dt.datetime) -> str | None:
    live = submission.claimed_until is not None and submission.claimed_until > now
    return name if live and submission.claimed_by is not None else None


def queue_rows(
    session: Session,
    flt: QueueFilter,
    *,
    after: Key | None,
    viewer_id: int,
    now: dt.datetime,
    limit: int = PAGE_SIZE,
) -> list[QueueRow]:
    rows = fetch(
        session,
        flt.where(),
        flt.sort,
        after=after,
        limit=limit,
        entities=(Reviewer.name, InboundMessage.sender),
        joins=(
            (Reviewer, col(Reviewer.id) == col(Submission.claimed_by)),
            (InboundMessage, col(InboundMessage.id) == col(Submission.inbound_message_id)),
        ),
    )
    ids = [s.id for s, _, _ in rows]
    values: dict[tuple[int, str], str] = {}
    if ids:
        for f in session.exec(
            select(SubmissionField).where(
                col(SubmissionField.submission_id).in_(ids),
                col(SubmissionField.name).in_(("client_name", "client_orgnr")),
            )
        ):
            values[(f.submission_id, f.name)] = (
                f.corrected_value if f.corrected_value is not None else f.value
            )
    waiting = awaiting_ids(session, [i for i in ids if i is not None])
    out = []
    for submission, name, sender in rows:
        holder = claim_holder(submission, name, now)
        out.append(
            QueueRow(
                submission=submission,
                claimed_by=holder,
                mine=holder is not None and submission.claimed_by == viewer_id,
                sender=sender,
                client_name=values.get((submission.id, "client_name"), ""),
                client_orgnr=values.get((submission.id, "client_orgnr"), ""),
                awaiting=submission.id in waiting,
            )
        )
    return out


def claim_next(
    session: Session, reviewer: Reviewer, flt: QueueFilter, *, now: dt.datetime, after: int | None
) -> int | None:
    """Claim the next free open submission after `after` in the filter's order; its id.

    Another reviewer may take the one found between finding and claiming it:
    then the one after it is tried. Commits the claim.
    """
    for _ in range(20):
        found = next_unclaimed(
            session,
            reviewer=reviewer,
            now=now,
            after_id=after,
            order=decide_order(flt.sort),
            kind=flt.kind if flt.kind in KNOWN_KINDS else None,
        )
        if found is None:
            return None
        try:
            claim(session, found, reviewer, now=now)
        except ClaimedByOther:
            session.rollback()
            after = found
            continue
        session.commit()
        return found
    return None


def decided_notice(session: Session, submission_id: int | None) -> str:
    """ "Ärende #12: Genomförd." after a decision, for the page the reviewer lands on."""
    if submission_id is None:
        return ""
    submission = session.get(Submission, submission_id)
    if (
        submission is not None
        and submission.status == SubmissionStatus.QUEUED
        and pending_request(session, submission_id) is not None
    ):
        return f"Ärende #{submission_id}: Väntar på bekräftelse av en annan granskare."
    if submission is None or submission.status in (
        SubmissionStatus.QUEUED,
        SubmissionStatus.UNREADABLE,
    ):
        return ""
    return f"Ärende #{submission_id}: {STATUS_LABELS[submission.status.value]}."


def capped_count(session: Session, *where: Any) -> int:
    """How many submissions match, counted up to `COUNT_CAP + 1` only (shown "över ...").

    A plain count reads every matching index entry: on 100,000 submissions
    the tabs and the overdue count took 60 ms on PostgreSQL, for numbers no
    reviewer reads beyond their first digits.
    """
    inner = select(Submission.id).where(*where).limit(COUNT_CAP + 1).subquery()
    return int(session.exec(select(sa.func.count()).select_from(inner)).one())


def group_counts(session: Session) -> dict[str, int]:
    out = {
        code: capped_count(session, col(Submission.status).in_(statuses))
        for code, (_, statuses) in STATUS_GROUPS.items()
        if code != "confirm"
    }
    out["confirm"] = capped_count(session, *QueueFilter(status="confirm").where())
    return out


def overdue_count(session: Session, review_days: int, now: dt.datetime) -> int:
    """Open submissions past their due date: one range count on (status, created_at).

    Who is overdue is decided in Python (`review.deadlines.overdue_cutoff`:
    the working-day rule turned into one instant), so the database only
    counts index entries before it, however many rows there are.
    """
    cutoff = overdue_cutoff(local_day(now), review_days)
    return capped_count(
        session, col(Submission.status).in_(OPEN_STATUSES), col(Submission.created_at) < cutoff
    )


def finding_codes(session: Session) -> list[str]:
    return [
        str(c)
        for c in session.exec(
            select(SubmissionFinding.code).distinct().order_by(col(SubmissionFinding.code))
        )
    ]


class FindingCodes:
    """The finding filter's codes, read again at most once a minute.

    A DISTINCT over every finding costs 20 ms on 100,000 submissions, on
    every queue page, for a list that changes only when a new kind of problem
    first appears; a minute late is soon enough for that.
    """

    def __init__(self, clock: Callable[[], dt.datetime], ttl: dt.timedelta) -> None:
        self._clock, self._ttl = clock, ttl
        self._codes: list[str] = []
        self._read: dt.datetime | None = None

    def get(self, session: Session) -> list[str]:
        now = self._clock()
        if self._read is None or now - self._read >= self._ttl:
            self._codes, self._read = finding_codes(session), now
        return self._codes


def add_queue_routes(router: APIRouter, kit: Kit) -> None:
    codes = FindingCodes(kit.now, CODES_TTL)

    @router.get("/", response_class=HTMLResponse)
    def queue_page(
        status: str = "queued",
        kind: str = "",
        finding: str = "",
        sort: str = "oldest",
        after: str = "",
        tom: str = "",
        klart: OptionalRowId = None,
        me: Viewer = Depends(kit.viewer),
        session: Session = Depends(kit.db),
    ) -> HTMLResponse:
        flt = QueueFilter.of(status, kind, finding, sort)
        cursor = parse_cursor(flt.sort, after) if after else None
        if after and cursor is None:
            raise PageError(400, "Länken till nästa sida är felaktig. Börja om från första sidan.")
        rows = queue_rows(
            session, flt, after=cursor, viewer_id=me.id, now=kit.now(), limit=PAGE_SIZE + 1
        )
        more = len(rows) > PAGE_SIZE
        rows = rows[:PAGE_SIZE]
        review_days, today = kit.pages.review_days, local_day(kit.now())
        next_url = (
            query(
                f"{PREFIX}/", **flt.params(), after=row_key(flt.sort, rows[-1].submission).encode()
            )
            if more
            else None
        )
        return kit.render(
            "queue.html",
            viewer=me,
            rows=rows,
            flt=flt,
            filter_params=flt.params(),
            counts=group_counts(session),
            empty=tom == "1",
            notice=decided_notice(session, klart),
            groups=STATUS_GROUPS,
            kinds=KINDS,
            sorts=SORTS,
            codes=codes.get(session),
            next_url=next_url,
            paged=cursor is not None,
            now=kit.now(),
            deadlines={
                r.submission.id: deadline(r.submission.created_at, review_days, today) for r in rows
            },
            overdue=overdue_count(session, review_days, kit.now()),
            cap=COUNT_CAP,
            review_days=review_days,
        )

    @router.post("/nasta", response_model=None)
    def take_next(
        p: Posted = Depends(kit.posted), session: Session = Depends(kit.db)
    ) -> RedirectResponse:
        flt = QueueFilter.of("queued", p.get("kind"), "", p.get("sort"))
        found = claim_next(session, p.viewer.reviewer, flt, now=kit.now(), after=None)
        target = f"{PREFIX}/{found}" if found is not None else f"{PREFIX}/"
        return RedirectResponse(
            query(target, **flt.params(), tom="1" if found is None else ""), status_code=303
        )
