"""The queue page: filters, the three orders, keyset paging, counts, claims, and its indexes.

About 80 submissions are seeded with times, confidences, kinds, statuses and
findings drawn from a seeded random generator, with deliberate ties (same
arrival time, same confidence, no confidence at all), and every listing is
compared with the same order computed in Python from the rows themselves.
"""

from __future__ import annotations

import datetime as dt
import html
import random
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event
from sqlmodel import Session, col, select

from review import claim
from tests.review.test_pages import (
    Site,
    add_submission,
    site_fixture,  # noqa: F401 - the `site` fixture
)
from workqueue import NewFinding, Submission, SubmissionFinding

BASE = dt.datetime(2026, 11, 1, 8, 0, tzinfo=dt.UTC)
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
KINDS = ("dual", "disconnect", None)
STATUS_OF = {
    "queued": {"queued"},
    "unreadable": {"unreadable"},
    "approved": {"approved", "applied"},
    "rejected": {"rejected"},
}


@dataclass(frozen=True)
class Row:
    id: int
    created_at: dt.datetime
    min_confidence: float | None
    status: str
    kind: str | None
    codes: frozenset[str]
    blocking: bool


@pytest.fixture
def queue(site: Site) -> Iterator[list[Row]]:
    rng = random.Random(20261123)
    with site.session() as session:
        for i in range(80):
            kind = KINDS[i % 3]
            findings = []
            if rng.random() < 0.3:
                findings.append(NewFinding("signature.missing", "blocking", "Underskrift saknas."))
            if rng.random() < 0.4:
                findings.append(NewFinding("ocr.low_confidence", "warning", "Osäker läsning."))
            sid = add_submission(
                session, site.images, kind, {"client_name": f"Företag {i} AB"},
                findings=findings, images=False, by_mail=i % 2 == 0,
            )  # fmt: skip
            status = rng.choices(
                ["queued", "unreadable", "approved", "applied", "rejected"], [70, 8, 8, 6, 8]
            )[0]
            # Ties on purpose: every fifth arrives with its predecessor, confidences are coarse.
            created = BASE + dt.timedelta(minutes=(i - i % 5 * (i % 2)) * 7)
            confidence = (
                None if rng.random() < 0.15 else round(rng.choice([0.4, 0.6, 0.75, 0.9]), 2)
            )
            session.exec(
                sa.update(Submission)
                .where(col(Submission.id) == sid)
                .values(created_at=created, min_confidence=confidence, status=status)
            )
        session.commit()
    with site.session() as session:
        codes: dict[int, set[str]] = {}
        for f in session.exec(select(SubmissionFinding)):
            codes.setdefault(f.submission_id, set()).add(f.code)
        rows = [
            Row(
                s.id or 0, s.created_at, s.min_confidence, s.status, s.kind,
                frozenset(codes.get(s.id or 0, ())), s.blocking_findings > 0,
            )
            for s in session.exec(select(Submission))
        ]  # fmt: skip
    yield rows


def expected(
    rows: list[Row], *, status: str = "queued", kind: str = "", finding: str = "",
    sort: str = "oldest",
) -> list[int]:  # fmt: skip
    chosen = [
        r
        for r in rows
        if r.status in STATUS_OF[status]
        and (not kind or (r.kind is None if kind == "unknown" else r.kind == kind))
        and (not finding or finding in r.codes)
    ]
    if sort == "newest":
        chosen.sort(key=lambda r: (r.created_at, r.id), reverse=True)
    elif sort == "confidence":
        chosen.sort(key=lambda r: (r.min_confidence is not None, r.min_confidence or 0, r.id))
    else:
        chosen.sort(key=lambda r: (r.created_at, r.id))
    return [r.id for r in chosen]


_ROW_LINK = re.compile(r'<td><a href="/granskning/(\d+)[?"]')
_NEXT = re.compile(r'<a href="([^"]+)" rel="next" id="next-page">')


def walk(client: TestClient, params: dict[str, str]) -> tuple[list[int], int]:
    """Every id the queue lists for these filters, page by page; and the number of pages."""
    ids: list[int] = []
    response = client.get("/granskning/", params=params)
    pages = 0
    while True:
        assert response.status_code == 200
        pages += 1
        found = [int(i) for i in _ROW_LINK.findall(response.text)]
        assert len(found) <= 50
        ids.extend(found)
        link = _NEXT.search(response.text)
        if link is None:
            return ids, pages
        assert len(found) == 50  # only a full page has a next one
        response = client.get(html.unescape(link.group(1)))


FILTERS: list[dict[str, str]] = [
    {},
    {"sort": "newest"},
    {"sort": "confidence"},
    {"kind": "dual", "sort": "confidence"},
    {"kind": "unknown"},
    {"kind": "disconnect", "sort": "newest"},
    {"finding": "signature.missing"},
    {"finding": "ocr.low_confidence", "sort": "confidence"},
    {"status": "approved"},
    {"status": "rejected", "sort": "newest"},
    {"status": "unreadable", "sort": "confidence"},
]


def test_filters_orders_and_paging_list_exactly_the_right_rows(
    site: Site, queue: list[Row]
) -> None:
    client = site.logged_in("alice")
    queued = expected(queue)
    assert len(queued) > 50  # the default listing needs a second page
    for params in FILTERS:
        ids, pages = walk(client, params)
        assert ids == expected(queue, **params), params
        assert len(set(ids)) == len(ids)
        assert pages == max(1, -(-len(ids) // 50))


def test_confidence_order_puts_unread_first_then_least_sure(site: Site, queue: list[Row]) -> None:
    client = site.logged_in("alice")
    ids, _ = walk(client, {"sort": "confidence"})
    by_id = {r.id: r for r in queue}
    confidences = [by_id[i].min_confidence for i in ids]
    nulls = confidences.count(None)
    assert nulls > 0 and all(c is None for c in confidences[:nulls])
    rest = [c for c in confidences[nulls:] if c is not None]
    assert len(rest) == len(confidences) - nulls
    assert rest == sorted(rest)


def test_unknown_filter_values_fall_back_and_a_broken_cursor_is_400(
    site: Site, queue: list[Row]
) -> None:
    client = site.logged_in("alice")
    odd = client.get(
        "/granskning/",
        params={"status": "nonsense", "kind": "x'; drop", "finding": "<b>", "sort": "z"},
    )
    assert odd.status_code == 200
    assert [int(i) for i in _ROW_LINK.findall(odd.text)] == expected(queue)[:50]
    broken = client.get("/granskning/", params={"sort": "z", "after": "1_zz"})
    assert broken.status_code == 400
    assert "Börja om från första sidan" in broken.text


def test_counts_blocking_marks_and_claims_are_shown(site: Site, queue: list[Row]) -> None:
    client = site.logged_in("alice")
    page = client.get("/granskning/").text
    for status, statuses in STATUS_OF.items():
        count = sum(1 for r in queue if r.status in statuses)
        assert re.search(
            rf'href="/granskning/\?status={status}">[^<]+<strong>{count}</strong>', page
        ), status
    first = expected(queue)[0]
    with site.session() as session:
        claim(session, first, site.reviewer("bob"), now=dt.datetime.now(dt.UTC))
        session.commit()
    page = client.get("/granskning/").text
    rows = re.findall(r'<tr class="([^"]*)">\s*<td><a href="/granskning/(\d+)[?"]', page)
    by_id = {r.id: r for r in queue}
    for classes, sid in rows:
        assert ("blocking" in classes.split()) == by_id[int(sid)].blocking
        assert ("taken" in classes.split()) == (int(sid) == first)
    assert "Bob till" in page



def test_counts_beyond_the_cap_say_so_instead_of_reading_every_row(
    site: Site, queue: list[Row], monkeypatch: pytest.MonkeyPatch
) -> None:
    queued = sum(1 for r in queue if r.status in STATUS_OF["queued"])
    assert queued > 2
    monkeypatch.setattr("review.web_queue.COUNT_CAP", 2)
    page = site.logged_in("alice").get("/granskning/").text
    assert re.search(r'href="/granskning/\?status=queued">[^<]+<strong>över 2</strong>', page)

@contextmanager
def _statements(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    seen: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if "FROM submissions" in statement and "ORDER BY" in statement:
            seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_on_sqlite_each_page_is_an_index_range_without_a_sort(site: Site, queue: list[Row]) -> None:
    if site.engine.dialect.name != "sqlite":
        pytest.skip("the query plan checked here is SQLite's")
    client = site.logged_in("alice")
    cases = {
        "oldest": "ix_submissions_status_created_at",
        "newest": "ix_submissions_status_created_at",
        "confidence": "ix_submissions_status_min_confidence",
    }
    for sort, index in cases.items():
        with _statements(site.engine) as seen:
            walk(client, {"sort": sort})
        pages = [s for s in seen if "LIMIT" in s[0] and "submission_fields" not in s[0]]
        assert pages, sort
        with site.engine.connect() as connection:
            for statement, parameters in pages:
                plan = " | ".join(
                    str(row[-1])
                    for row in connection.exec_driver_sql(
                        "EXPLAIN QUERY PLAN " + statement, parameters
                    )
                )
                assert index in plan, (sort, plan)
                assert "TEMP B-TREE" not in plan, (sort, plan)


@pytest.mark.serial
@pytest.mark.slow
def test_a_deep_page_of_ten_thousand_costs_what_the_first_costs(site: Site) -> None:
    """Keyset paging: no OFFSET, so page 150 reads 51 rows like page 1."""
    rng = random.Random(7)
    rows = [
        {
            "created_at": BASE + dt.timedelta(seconds=i),
            "status": "queued",
            "kind": KINDS[i % 3],
            "source_kind": "file",
            "source_name": f"skanning-{i}.pdf",
            "source_sha256": f"{i:064x}",
            "document_index": 0,
            "min_confidence": None if i % 17 == 0 else rng.random(),
            "blocking_findings": 0,
            "warning_findings": 0,
        }
        for i in range(10_000)
    ]
    with Session(site.engine) as session:
        session.execute(sa.insert(Submission), rows)
        session.commit()
    client = site.logged_in("alice")
    queued = col(Submission.status) == "queued"
    orders = {
        "oldest": (queued, (col(Submission.created_at), col(Submission.id))),
        "confidence": (
            sa.and_(queued, col(Submission.min_confidence).is_not(None)),
            (col(Submission.min_confidence), col(Submission.id)),
        ),
    }
    for sort, (where, order) in orders.items():
        start = time.perf_counter()
        first = client.get("/granskning/", params={"sort": sort})
        first_seconds = time.perf_counter() - start
        with Session(site.engine) as session:
            # The 7,000th row in this order and the 50 after it, counted by the database.
            window = session.exec(
                select(Submission).where(where).order_by(*order).offset(7_000).limit(51)
            ).all()
        deep = window[0]
        key = (
            f"0_t{(deep.created_at - EPOCH) // dt.timedelta(microseconds=1)}_i{deep.id}"
            if sort == "oldest"
            else f"1_f{deep.min_confidence!r}_i{deep.id}"
        )
        start = time.perf_counter()
        page = client.get("/granskning/", params={"sort": sort, "after": key})
        deep_seconds = time.perf_counter() - start
        assert first.status_code == page.status_code == 200
        assert [int(i) for i in _ROW_LINK.findall(page.text)] == [s.id for s in window[1:]]
        assert deep_seconds < max(0.5, 3 * first_seconds), (sort, first_seconds, deep_seconds)
