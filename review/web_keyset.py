"""Keyset paging over the submission queue, in any of its orders, without OFFSET.

An order is a list of segments, each a WHERE clause and key columns ending in
the id: "oldest" is one segment (created_at, id), and so is "overdue"
(oldest due first: the due date is arrival plus working days, which never
goes back as the arrival moves on, so it is the same order and the same
index); "confidence" (least sure first) is two: the submissions with no
confidence at all (nothing could be read: least sure of all, so first), by
id, then the others by (min_confidence, id). Splitting on NULL keeps every
segment a plain range on an index (`ix_submissions_status_created_at`,
`ix_submissions_status_min_confidence`; SQLite keeps the rowid in every
index, so the id tie-break is free there) instead of a COALESCE no index
can serve.

A position in an order is a `Key` (segment, values); it travels in the URL as
text (`Key.encode`): timestamps as integer microseconds, floats by `repr`, so
a round trip is exact and the next page starts exactly after the last row.
The URL is the client's to change, so `parse_cursor` accepts only a key that
fits the order: a segment it has, one value per key column, each of the
column's type and within what the database holds.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col, select

from registry import UTCDateTime
from workqueue import Submission

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_INTEGER = 2**31 - 1  # what an Integer column holds on PostgreSQL
_BIGINT = 2**63 - 1


@dataclass(frozen=True)
class Segment:
    where: ColumnElement[bool] | None
    columns: tuple[Any, ...]  # instrumented columns; the last is the id
    holds: Callable[[Submission], bool]  # `where`, for a row already loaded
    descending: bool = False


@dataclass(frozen=True)
class Key:
    segment: int
    values: tuple[Any, ...]

    def encode(self) -> str:
        parts = [str(self.segment)]
        for value in self.values:
            if isinstance(value, dt.datetime):
                delta = value - _EPOCH
                parts.append(f"t{delta // dt.timedelta(microseconds=1)}")
            elif isinstance(value, float):
                parts.append(f"f{value!r}")
            else:
                parts.append(f"i{int(value)}")
        return "_".join(parts)

    @staticmethod
    def decode(text: str) -> Key | None:
        try:
            head, *rest = text.split("_")
            values: list[Any] = []
            for part in rest:
                tag, body = part[0], part[1:]
                if tag == "t":
                    values.append(_EPOCH + dt.timedelta(microseconds=int(body)))
                elif tag == "f":
                    values.append(float(body))
                elif tag == "i":
                    values.append(int(body))
                else:
                    return None
            return Key(int(head), tuple(values))
        except (ValueError, IndexError, OverflowError):
            return None


SORTS = {
    "oldest": "Äldst först",
    "newest": "Nyast först",
    "confidence": "Minst säker först",
    # Oldest due first. A due date only moves forward with the arrival (`review.deadlines`),
    # so this is arrival order and pages on the same (status, created_at) index as "oldest".
    "overdue": "Förfallna först",
}


def segments(sort: str) -> list[Segment]:
    created = col(Submission.created_at)
    ident = col(Submission.id)
    confidence = col(Submission.min_confidence)
    if sort == "newest":
        return [Segment(None, (created, ident), _always, descending=True)]
    if sort == "confidence":
        return [
            Segment(confidence.is_(None), (ident,), lambda s: s.min_confidence is None),
            Segment(
                confidence.is_not(None), (confidence, ident), lambda s: s.min_confidence is not None
            ),
        ]
    return [Segment(None, (created, ident), _always)]


def _always(_submission: Submission) -> bool:
    return True


def _fits(column: Any, value: Any) -> bool:
    kind = column.type
    if isinstance(kind, UTCDateTime | sa.DateTime):
        return isinstance(value, dt.datetime)
    if isinstance(kind, sa.Float):
        return isinstance(value, float) and math.isfinite(value)
    bound = _BIGINT if isinstance(kind, sa.BigInteger) else _INTEGER
    return type(value) is int and -bound <= value <= bound


def parse_cursor(sort: str, text: str) -> Key | None:
    """The key of a "next page" link in the order `sort`, or None if it is not one."""
    key = Key.decode(text)
    segs = segments(sort)
    if key is None or not 0 <= key.segment < len(segs):
        return None
    columns = segs[key.segment].columns
    if len(key.values) != len(columns):
        return None
    if not all(_fits(c, v) for c, v in zip(columns, key.values, strict=True)):
        return None
    return key


def row_key(sort: str, submission: Submission) -> Key:
    for index, segment in enumerate(segments(sort)):
        if segment.holds(submission):
            return Key(index, tuple(getattr(submission, c.key) for c in segment.columns))
    raise AssertionError("every submission is in one segment")


def _literal(column: Any, value: Any) -> Any:
    # Typed, so a timestamp goes through UTCDateTime (naive UTC on SQLite) like the column.
    if isinstance(value, dt.datetime):
        return sa.literal(value, UTCDateTime())
    return sa.literal(value, column.type)


def fetch(
    session: Session,
    where: Sequence[ColumnElement[bool]],
    sort: str,
    *,
    after: Key | None,
    limit: int,
    backwards: bool = False,
    entities: Sequence[Any] = (),
    joins: Sequence[tuple[Any, ColumnElement[bool]]] = (),
) -> list[Any]:
    """Up to `limit` rows after (or, `backwards`, before) `after`, in the order `sort`.

    Rows are `(Submission, *entities)` tuples, outer-joined through `joins`;
    backwards rows come nearest first.
    """
    segs = segments(sort)
    order = range(len(segs) - 1, -1, -1) if backwards else range(len(segs))
    rows: list[Any] = []
    for index in order:
        if after is not None and (index > after.segment if backwards else index < after.segment):
            continue
        if len(rows) >= limit:
            break
        seg = segs[index]
        ascending = seg.descending == backwards
        statement = select(Submission, *entities)
        for target, on in joins:
            statement = statement.outerjoin(target, on)
        conditions = list(where)
        if seg.where is not None:
            conditions.append(seg.where)
        if after is not None and index == after.segment and len(after.values) == len(seg.columns):
            mine = sa.tuple_(*seg.columns)
            theirs = sa.tuple_(
                *(_literal(c, v) for c, v in zip(seg.columns, after.values, strict=True))
            )
            conditions.append(mine > theirs if ascending else mine < theirs)
        statement = statement.where(*conditions).order_by(
            *(c.asc() if ascending else c.desc() for c in seg.columns)
        )
        found = session.exec(statement.limit(limit - len(rows))).all()
        rows.extend(found if entities else [(row,) for row in found])
    return rows
