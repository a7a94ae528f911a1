"""Due dates: working days in Sweden, the holidays, the overdue cutoff, and the queue's use of them.

The date rules are pure and tested without a database; the queue page (its
"Senast" column, the overdue count, the "Förfallna först" order) through the
test client on SQLite and PostgreSQL, against the same rules applied in
Python to the rows.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlalchemy import event
from sqlmodel import Session, col, select

from kopplingar.app import create_app
from kopplingar.context import AppContext
from review.deadlines import (
    Deadline,
    add_working_days,
    day_label,
    days_late,
    deadline,
    due_date,
    easter_sunday,
    is_overdue,
    is_working_day,
    overdue_cutoff,
    swedish_holidays,
)
from tests.review.test_pages import (
    MAILBOX,
    QR_KEY,
    Site,
    add_submission,
    site_fixture,  # noqa: F401 - the `site` fixture
)
from workqueue import Submission

STOCKHOLM = ZoneInfo("Europe/Stockholm")


def at(year: int, month: int, day: int, hour: int = 10, minute: int = 0) -> dt.datetime:
    """A Swedish wall-clock time, as the UTC instant `created_at` stores."""
    return dt.datetime(year, month, day, hour, minute, tzinfo=STOCKHOLM).astimezone(dt.UTC)


def test_a_friday_receipt_is_due_on_tuesday_with_two_days() -> None:
    friday = at(2026, 12, 4)
    assert friday.astimezone(STOCKHOLM).weekday() == 4
    assert due_date(friday, 2) == dt.date(2026, 12, 8)  # Tuesday
    assert due_date(friday, 1) == dt.date(2026, 12, 7)  # Monday


def test_a_weekend_receipt_counts_from_monday() -> None:
    assert due_date(at(2026, 12, 5), 2) == dt.date(2026, 12, 8)  # Saturday
    assert due_date(at(2026, 12, 6), 2) == dt.date(2026, 12, 8)  # Sunday


def test_the_day_is_swedish_not_utc() -> None:
    # 23:30 UTC on Thursday is 00:30 on Friday in Stockholm (winter): a Friday receipt.
    late_thursday = dt.datetime(2026, 12, 3, 23, 30, tzinfo=dt.UTC)
    assert due_date(late_thursday, 2) == dt.date(2026, 12, 8)
    # 21:59 UTC on Thursday in summer is 23:59 Thursday in Stockholm.
    summer = dt.datetime(2026, 8, 6, 21, 59, tzinfo=dt.UTC)
    assert due_date(summer, 1) == dt.date(2026, 8, 7)


@pytest.mark.parametrize(
    ("year", "easter"),
    [
        (2024, dt.date(2024, 3, 31)),
        (2025, dt.date(2025, 4, 20)),
        (2026, dt.date(2026, 4, 5)),
        (2027, dt.date(2027, 3, 28)),
        (2038, dt.date(2038, 4, 25)),  # the latest possible
        (2285, dt.date(2285, 3, 22)),  # the earliest possible
    ],
)
def test_easter(year: int, easter: dt.date) -> None:
    assert easter_sunday(year) == easter


def test_pask_skips_langfredagen_and_annandag_pask() -> None:
    # 2026: långfredagen 3 April, annandag påsk 6 April.
    assert not is_working_day(dt.date(2026, 4, 3))
    assert not is_working_day(dt.date(2026, 4, 6))
    assert is_working_day(dt.date(2026, 4, 2))  # skärtorsdagen is a working day
    thursday = at(2026, 4, 2, 15)
    assert due_date(thursday, 2) == dt.date(2026, 4, 8)  # Tue 7, Wed 8


def test_midsommarafton_is_not_a_working_day() -> None:
    # 2026: midsommarafton Friday 19 June, midsommardagen Saturday 20 June.
    days = swedish_holidays(2026)
    assert days[dt.date(2026, 6, 19)] == "midsommarafton"
    assert days[dt.date(2026, 6, 20)] == "midsommardagen"
    assert due_date(at(2026, 6, 18), 1) == dt.date(2026, 6, 22)
    assert due_date(at(2026, 6, 18), 2) == dt.date(2026, 6, 23)
    # 2027: midsommarafton is Friday 25 June (the Saturday between 20 and 26 June is the 26th).
    assert not is_working_day(dt.date(2027, 6, 25))
    assert is_working_day(dt.date(2027, 6, 18))


def test_jul_and_nyar() -> None:
    # 2026: julafton Thursday, juldagen Friday; nyårsafton Thursday, nyårsdagen Friday.
    assert due_date(at(2026, 12, 23), 2) == dt.date(2026, 12, 29)
    assert due_date(at(2026, 12, 30), 2) == dt.date(2027, 1, 5)  # Mon 4, Tue 5 (6th: trettondag)
    assert due_date(at(2027, 1, 4), 2) == dt.date(2027, 1, 7)  # Tue 5, (Wed 6 off), Thu 7


def test_other_holidays() -> None:
    days = swedish_holidays(2026)
    for day, name in [
        (dt.date(2026, 5, 1), "första maj"),
        (dt.date(2026, 5, 14), "Kristi himmelsfärds dag"),
        (dt.date(2026, 6, 6), "Sveriges nationaldag"),
        (dt.date(2026, 10, 31), "alla helgons dag"),
    ]:
        assert days[day] == name
    assert len(days) == 16


def test_zero_days_is_the_day_itself_and_negative_is_refused() -> None:
    assert add_working_days(dt.date(2026, 12, 5), 0) == dt.date(2026, 12, 5)
    with pytest.raises(ValueError, match="at least 0"):
        add_working_days(dt.date(2026, 12, 5), -1)


def test_lateness_is_in_calendar_days_and_written_out() -> None:
    friday = at(2026, 12, 4)  # due Tuesday 8 December
    assert deadline(friday, 2, dt.date(2026, 12, 8)) == Deadline(dt.date(2026, 12, 8), 0)
    assert deadline(friday, 2, dt.date(2026, 12, 7)).late == 0
    on_time = deadline(friday, 2, dt.date(2026, 12, 8))
    assert (on_time.label, on_time.late_text) == ("tis 8 dec", "")
    assert deadline(friday, 2, dt.date(2026, 12, 9)).late_text == "försenat 1 dag"
    assert deadline(friday, 2, dt.date(2026, 12, 10)).late_text == "försenat 2 dagar"
    # Due on Friday, looked at on Saturday: late already, as the overdue count says.
    assert days_late(dt.date(2026, 12, 11), dt.date(2026, 12, 12)) == 1
    assert is_overdue(at(2026, 12, 9), 2, dt.date(2026, 12, 12))
    assert day_label(dt.date(2027, 6, 25)) == "fre 25 juni"


@pytest.mark.parametrize("review_days", [1, 2, 3, 5])
@pytest.mark.parametrize(
    "today",
    [
        dt.date(2026, 12, 8),
        dt.date(2026, 12, 14),  # a Monday
        dt.date(2026, 12, 28),  # after jul
        dt.date(2027, 1, 7),
        dt.date(2026, 4, 7),  # after påsk
        dt.date(2026, 6, 22),  # after midsommar
        dt.date(2026, 3, 30),  # after the clocks went forward
        dt.date(2026, 10, 26),  # after they went back
        dt.date(2026, 12, 13),  # a Sunday
    ],
)
def test_the_cutoff_splits_arrivals_exactly_where_due_dates_pass_today(
    today: dt.date, review_days: int
) -> None:
    cutoff = overdue_cutoff(today, review_days)
    assert cutoff.tzinfo is not None
    assert cutoff.astimezone(STOCKHOLM).time() == dt.time(0)
    # Every 20 minutes over the 40 days before `today`, and either side of the cutoff itself.
    start = dt.datetime.combine(today, dt.time(0), tzinfo=dt.UTC) - dt.timedelta(days=40)
    instants = [start + dt.timedelta(minutes=20 * i) for i in range(40 * 72 + 144)]
    instants += [cutoff - dt.timedelta(microseconds=1), cutoff]
    for created in instants:
        assert (created < cutoff) == is_overdue(created, review_days, today), (created, cutoff)


# -- the queue page ----------------------------------------------------------------------------


@pytest.fixture
def aged(site: Site) -> dict[str, int]:
    """Open and decided submissions received from 20 days ago to now, every 7 hours."""
    now = dt.datetime.now(dt.UTC)
    ids: dict[str, int] = {}
    with site.session() as session:
        for i in range(70):
            sid = add_submission(
                session, site.images, "dual", {"client_name": f"Företag {i} AB"}, images=False
            )
            status = "rejected" if i % 9 == 4 else "unreadable" if i % 11 == 3 else "queued"
            session.exec(
                sa.update(Submission)
                .where(col(Submission.id) == sid)
                .values(created_at=now - dt.timedelta(hours=7 * i), status=status)
            )
            ids[f"r{i}"] = sid
        session.commit()
    return ids


def _expected_overdue(site: Site, review_days: int, now: dt.datetime) -> int:
    today = now.astimezone(STOCKHOLM).date()
    with Session(site.engine) as session:
        return sum(
            1
            for s in session.exec(select(Submission))
            if s.status in ("queued", "unreadable") and is_overdue(s.created_at, review_days, today)
        )


def test_the_queue_shows_due_dates_marks_the_overdue_and_counts_them(
    site: Site, aged: dict[str, int]
) -> None:
    client = site.logged_in("alice")
    page = client.get("/granskning/")
    assert page.status_code == 200
    assert "<th>Senast</th>" in page.text
    now = dt.datetime.now(dt.UTC)
    expected = _expected_overdue(site, 2, now)
    assert expected > 10  # the fixture reaches 20 days back
    count = re.search(r'<strong id="overdue-count">(\d+)</strong>', page.text)
    assert count is not None and int(count.group(1)) == expected
    today = now.astimezone(STOCKHOLM).date()
    with Session(site.engine) as session:
        oldest = session.get(Submission, aged["r68"])
        assert oldest is not None
        d = deadline(oldest.created_at, 2, today)
    assert d.late > 0
    row = re.search(rf'<a href="/granskning/{aged["r68"]}".*?</tr>', page.text, re.S)
    assert row is not None
    assert (
        f'<td class="due">{d.label}<br><span class="badge late">{d.late_text}</span>'
        in row.group(0)
    )
    newest_first = client.get("/granskning/", params={"sort": "newest"}).text
    newest = re.search(rf'<a href="/granskning/{aged["r0"]}[?"].*?</tr>', newest_first, re.S)
    assert newest is not None and "försenat" not in newest.group(0)


def test_the_overdue_sort_is_oldest_due_first(site: Site, aged: dict[str, int]) -> None:
    client = site.logged_in("alice")
    page = client.get("/granskning/", params={"sort": "overdue"})
    assert '<option value="overdue" selected>Förfallna först</option>' in page.text
    ids = [int(i) for i in re.findall(r'<td><a href="/granskning/(\d+)[?"]', page.text)]
    today = dt.datetime.now(dt.UTC).astimezone(STOCKHOLM).date()
    with Session(site.engine) as session:
        rows = {s.id: s for s in session.exec(select(Submission))}
    dues = [due_date(rows[i].created_at, 2) for i in ids]
    assert dues == sorted(dues) and len(ids) > 10
    assert deadline(rows[ids[0]].created_at, 2, today).late > 0
    assert all(rows[i].status == "queued" for i in ids)


def test_review_days_comes_from_the_settings(site: Site, aged: dict[str, int]) -> None:
    ctx = AppContext(
        engine=site.engine, qr_key=QR_KEY, mailbox_address=MAILBOX,
        public_base_url="http://testserver", download_limit=1000, download_window_seconds=600,
        review_days=5,
    )  # fmt: skip
    site.app = create_app(ctx)
    page = site.logged_in("alice").get("/granskning/")
    count = re.search(r'<strong id="overdue-count">(\d+)</strong>', page.text)
    now = dt.datetime.now(dt.UTC)
    assert count is not None and int(count.group(1)) == _expected_overdue(site, 5, now)
    assert _expected_overdue(site, 5, now) < _expected_overdue(site, 2, now)


def test_on_sqlite_the_overdue_count_is_one_range_on_the_created_at_index(
    site: Site, aged: dict[str, int]
) -> None:
    if site.engine.dialect.name != "sqlite":
        pytest.skip("the query plan checked here is SQLite's")
    seen: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if "count(" in statement and "created_at <" in statement:
            seen.append((statement, parameters))

    client = site.logged_in("alice")
    event.listen(site.engine, "before_cursor_execute", record)
    try:
        client.get("/granskning/")
    finally:
        event.remove(site.engine, "before_cursor_execute", record)
    assert len(seen) == 1
    with site.engine.connect() as connection:
        plan = " | ".join(
            str(row[-1])
            for row in connection.exec_driver_sql("EXPLAIN QUERY PLAN " + seen[0][0], seen[0][1])
        )
    assert "USING COVERING INDEX ix_submissions_status_created_at" in plan, plan
