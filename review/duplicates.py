"""Duplicates: the same form in the queue twice, and closing one as a duplicate of the other.

Two submissions are duplicates when they have the same issued-form id (the
intake's `form.duplicate`: a customer sent the signed form twice, by post
and by mail, or a second time because they heard nothing), or when they are
the same document of the same file (`source_sha256` and `document_index`: a
file given to `intake file` twice; by mail the intake already refuses the
same bytes a second time and only notes `file.resent` on the first).

What is *not* a duplicate: the other documents of one file (`document_index`
differs: two forms in one PDF, or `review.assemble.split`), and page images
shared by a split (the same pages on purpose), so page hashes are not a key.
A rejected submission is in no group: it is closed, and a form sent again
after a rejection is the customer putting it right, not a duplicate. An
approved one is, as the original an open one duplicates (and so is one
waiting for the customer). Groups are the
connected sets of these links (A and B by form id, B and C by file: one
group of three), and a group is shown only while it has two members or
more of which at least one is open.

`close_as_duplicate` closes an open submission as rejected with the reason
"Dubblett av ärende N." and no mail to the customer, who did nothing wrong
(like `review.assemble.join`). The reviewer must hold it or be able to take
it (`review.claims`). N must be another member of the same group that is
not rejected, so N was never itself closed as a duplicate of this one, and
no chain of duplicates can close on itself. Audited as
`submission.duplicate_closed`. The caller commits.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from registry import record_event
from review.claims import OPEN_STATUSES, DecisionError, aware, claim, hold
from review.four_eyes import withdraw_override
from workqueue import InboundMessage, Reviewer, Submission, SubmissionFinding, SubmissionStatus

CLOSED_ACTION = "submission.duplicate_closed"
DUPLICATE_CODE = "form.duplicate"  # the intake's finding: this form id came before
# Members of a group: every submission not rejected. Open ones can be closed; the others
# (approved, or waiting for the customer) can be the original an open one repeats.
LIVE_STATUSES = tuple(s for s in SubmissionStatus if s != SubmissionStatus.REJECTED)
_GROUP_ROUNDS = 6  # how far `group_of` follows links; real groups are two or three long
_CHUNK = 500


def duplicate_reason(original_id: int) -> str:
    """The decision reason of a submission closed as a duplicate of `original_id`."""
    return f"Dubblett av ärende {original_id}."


@dataclass(frozen=True)
class DuplicateMember:
    id: int
    status: SubmissionStatus
    received: dt.datetime
    kind: str | None
    form_id: str | None
    source_name: str
    source_sha256: str
    document_index: int
    sender: str | None
    claimed_by: str | None  # the name of whoever holds it while the claim runs
    claimed_by_id: int | None
    claimed_until: dt.datetime | None

    @property
    def open(self) -> bool:
        return self.status in OPEN_STATUSES


@dataclass
class DuplicateGroup:
    """Members oldest first; why they belong together, in Swedish."""

    members: list[DuplicateMember]
    form_ids: list[str] = field(default_factory=list)  # shared issued-form ids
    same_file: bool = False  # some members are the same document of the same file

    def targets(self, member_id: int) -> list[DuplicateMember]:
        """The members `member_id` can be closed as a duplicate of, oldest first."""
        return [m for m in self.members if m.id != member_id]

    def member(self, member_id: int) -> DuplicateMember | None:
        return next((m for m in self.members if m.id == member_id), None)


def _member_query() -> Any:
    holder = aliased(Reviewer)
    columns: list[Any] = [
        Submission.id, Submission.status, Submission.created_at, Submission.kind,
        Submission.form_id, Submission.source_name, Submission.source_sha256,
        Submission.document_index, InboundMessage.sender, holder.name, Submission.claimed_until,
        Submission.claimed_by,
    ]  # fmt: skip
    return (
        sa.select(*columns)
        .select_from(Submission)
        .outerjoin(InboundMessage, col(InboundMessage.id) == col(Submission.inbound_message_id))
        .outerjoin(holder, col(holder.id) == col(Submission.claimed_by))
    )


def _member(row: Any, now: dt.datetime) -> DuplicateMember:
    (sid, status, created, kind, form_id, name, sha, doc, sender, holder, until, holder_id) = row
    held = until is not None and until >= now and holder is not None
    return DuplicateMember(
        id=sid, status=SubmissionStatus(status), received=created, kind=kind, form_id=form_id,
        source_name=name, source_sha256=sha, document_index=doc, sender=sender,
        claimed_by=holder if held else None, claimed_until=until if held else None,
        claimed_by_id=holder_id if held else None,
    )  # fmt: skip


class _Links:
    """Union-find over submission ids: which ones are linked by a form id or a file."""

    def __init__(self) -> None:
        self.parent: dict[int, int] = {}

    def find(self, x: int) -> int:
        self.parent.setdefault(x, x)
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def join(self, ids: Iterable[int]) -> None:
        first: int | None = None
        for x in ids:
            root = self.find(x)
            if first is None:
                first = root
            elif root != first:
                self.parent[root] = first


def _groups(members: Sequence[DuplicateMember]) -> list[DuplicateGroup]:
    """The connected groups of `members` (each appears once), oldest group first."""
    links = _Links()
    by_form: dict[str, list[int]] = {}
    by_file: dict[tuple[str, int], list[int]] = {}
    for m in members:
        links.find(m.id)
        if m.form_id:
            by_form.setdefault(m.form_id, []).append(m.id)
        by_file.setdefault((m.source_sha256, m.document_index), []).append(m.id)
    for ids in (*by_form.values(), *by_file.values()):
        links.join(ids)
    grouped: dict[int, DuplicateGroup] = {}
    for m in members:
        grouped.setdefault(links.find(m.id), DuplicateGroup(members=[])).members.append(m)
    for form_id, ids in by_form.items():
        if len(ids) > 1:
            grouped[links.find(ids[0])].form_ids.append(form_id)
    for ids in by_file.values():
        if len(ids) > 1:
            grouped[links.find(ids[0])].same_file = True
    groups = [g for g in grouped.values() if len(g.members) > 1 and any(m.open for m in g.members)]
    for g in groups:
        g.members.sort(key=lambda m: (m.received, m.id))
        g.form_ids.sort()
    groups.sort(key=lambda g: (g.members[0].received, g.members[0].id))
    return groups


def duplicate_groups(session: Session, *, now: dt.datetime) -> list[DuplicateGroup]:
    """The groups of duplicates with an open member, oldest first (module docstring).

    Two queries whose cost is the number of duplicates, not the size of the
    queue: the submissions sharing a form id with one the intake marked
    `form.duplicate` (by the indexed finding code), then those sharing a file
    with any of them (by the sha256 index). Status and the exact links are
    sorted out here, among those few rows. A file given to `intake file`
    twice that has no form id is not found here (that would take a GROUP BY
    over the whole table); `group_of` finds it from either submission.
    """
    aware(now)
    marked_forms = (
        select(Submission.form_id)
        .join(SubmissionFinding, col(SubmissionFinding.submission_id) == col(Submission.id))
        .where(col(SubmissionFinding.code) == DUPLICATE_CODE)
    )
    rows = {
        row[0]: row
        for row in session.exec(_member_query().where(col(Submission.form_id).in_(marked_forms)))
    }
    shas = sorted({row[6] for row in rows.values()})
    for start in range(0, len(shas), _CHUNK):
        chunk = shas[start : start + _CHUNK]
        for row in session.exec(_member_query().where(col(Submission.source_sha256).in_(chunk))):
            rows.setdefault(row[0], row)
    live = [_member(row, now) for row in rows.values() if row[1] in LIVE_STATUSES]
    return _groups(live)


def group_of(session: Session, submission_id: int, *, now: dt.datetime) -> DuplicateGroup | None:
    """The group `submission_id` belongs to, or None: for one submission's page, a few queries.

    Follows the links outwards from the one submission (its form id and file,
    then theirs), so its cost is the size of the group, not of the queue.
    """
    aware(now)
    ids: set[int] = {submission_id}
    forms: set[str] = set()
    files: set[tuple[str, int]] = set()
    found: dict[int, DuplicateMember] = {}
    for _ in range(_GROUP_ROUNDS):
        conditions: list[Any] = [col(Submission.id).in_(sorted(ids))]
        if forms:
            conditions.append(col(Submission.form_id).in_(sorted(forms)))
        conditions += [
            sa.and_(col(Submission.source_sha256) == sha, col(Submission.document_index) == doc)
            for sha, doc in sorted(files)
        ]
        found = {
            row[0]: _member(row, now)
            for row in session.exec(_member_query().where(sa.or_(*conditions)).limit(_CHUNK))
            if row[1] in LIVE_STATUSES
        }
        if submission_id not in found:
            return None
        new_forms = {m.form_id for m in found.values() if m.form_id}
        new_files = {(m.source_sha256, m.document_index) for m in found.values()}
        if new_forms <= forms and new_files <= files and set(found) <= ids:
            break
        forms |= new_forms
        files |= new_files
        ids |= set(found)
    for group in _groups(list(found.values())):
        if group.member(submission_id) is not None:
            return group
    return None


def close_as_duplicate(
    session: Session,
    submission_id: int,
    original_id: int,
    reviewer: Reviewer,
    *,
    now: dt.datetime,
) -> Submission:
    """Close `submission_id` as rejected, a duplicate of `original_id`, without a mail."""
    aware(now)
    if original_id == submission_id:
        raise DecisionError("Ett ärende kan inte vara en dubblett av sig självt.")
    submission = session.get(Submission, submission_id)
    if submission is None:
        raise DecisionError(f"Ärende {submission_id} finns inte.")
    if submission.status not in OPEN_STATUSES:
        raise DecisionError(f"Ärende {submission_id} är inte öppet och kan inte stängas.")
    original = session.get(Submission, original_id)
    if original is None:
        raise DecisionError(f"Ärende {original_id} finns inte.")
    if original.status == SubmissionStatus.REJECTED:
        if original.decision_reason == duplicate_reason(submission_id):
            raise DecisionError(
                f"Ärende {original_id} är redan stängt som dubblett av ärende {submission_id}."
            )
        raise DecisionError(f"Ärende {original_id} är avvisat och kan inte vara originalet.")
    group = group_of(session, submission_id, now=now)
    if group is None or group.member(original_id) is None:
        raise DecisionError(
            f"Ärende {original_id} har inte samma blankett-id eller fil som ärende {submission_id}."
        )
    claim(session, submission_id, reviewer, now=now)  # ClaimedByOther when someone else has it
    submission = hold(session, submission_id, reviewer, now, OPEN_STATUSES)
    withdraw_override(session, submission_id, reviewer, why="Ärendet stängdes som dubblett.",
                      now=now)  # fmt: skip
    before = {"status": submission.status.value}
    submission.status = SubmissionStatus.REJECTED
    submission.decision_reason = duplicate_reason(original_id)
    submission.decided_by, submission.decided_at = reviewer.id, now
    submission.claimed_by = submission.claimed_until = None
    session.add(submission)
    record_event(
        session, actor=reviewer.email, action=CLOSED_ACTION,
        subject=f"submission:{submission_id}", before=before,
        after={"status": SubmissionStatus.REJECTED.value, "duplicate_of": original_id,
               "reason": submission.decision_reason},
        detail=f"Ärende {submission_id} stängdes som dubblett av ärende {original_id}.",
    )  # fmt: skip
    session.flush()
    return submission
