"""The statistics: the queue now, days across a Stockholm midnight, reviewers, shares, medians.

Submissions go in as the intake puts them (`queue_cases.submit`); decisions
are the real `approve`, `reject` and `correct_field` where the test is about
what they record, and rows given their times directly where the test is
about which day or how long (a decision's time is whatever `now` it was
given, so the rows are what a decision on that day would have left).
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import Session, col, select

import review.stats as stats_module
from registry import AuditEvent, record_event
from review import approve, claim, correct_field, reject
from review.stats import DAYS, WAITING, day_bounds, queue_now, statistics
from review.web_stats import chart_bars, duration
from tests.review.queue_cases import DOMAIN, FORM_URL, dual_case, reload, submit
from tests.review.test_pages import Site, site_fixture  # noqa: F401 - the `site` fixture
from workqueue import ImageStore, OutboundMail, OutboxState, Reviewer, SubmissionStatus

# Stockholm: summer time starts at 02:00 on Sunday 29 March 2026 (01:00 UTC).
NOW = dt.datetime(2026, 3, 31, 10, 0, tzinfo=dt.UTC)
H = dt.timedelta(hours=1)


def at(session: Session, sid: int, *, created: dt.datetime) -> None:
    row = reload(session, sid)
    row.created_at = created
    session.add(row)
    session.commit()


def decided(
    session: Session,
    store: ImageStore,
    reviewer: Reviewer,
    status: SubmissionStatus,
    *,
    created: dt.datetime,
    when: dt.datetime,
) -> int:
    """A submission as a decision at `when` leaves it."""
    sid = submit(session, store, "dual", dual_case().values())
    row = reload(session, sid)
    row.created_at, row.status, row.decided_by, row.decided_at = created, status, reviewer.id, when
    session.add(row)
    session.commit()
    return sid


def corrected_at(session: Session, sid: int, reviewer: Reviewer, when: dt.datetime) -> None:
    """A real correction, its audit event moved to `when` (record_event stamps the clock)."""
    correct_field(session, sid, reviewer, "client_name", f"Rättat namn {sid}", now=when)
    session.flush()
    event = session.exec(
        select(AuditEvent)
        .where(AuditEvent.action == "submission.field_corrected")
        .order_by(col(AuditEvent.id).desc())
    ).first()
    assert event is not None
    event.at = when
    session.add(event)
    session.commit()


def test_an_empty_database(session: Session) -> None:
    stats = statistics(session, now=NOW)
    assert stats.queue.open == 0 and stats.queue.oldest is None and stats.queue.median_age is None
    assert stats.queue.by_status == {"queued": 0, "unreadable": 0}
    assert stats.queue.older_than == [(1, 0), (2, 0), (5, 0)]
    assert len(stats.days) == DAYS and stats.days[-1].day == dt.date(2026, 3, 31)
    assert all(d.received == d.approved == d.rejected == 0 for d in stats.days)
    assert stats.reviewers == [] and stats.decided == 0
    assert stats.clean_share is None and stats.median_handling is None
    assert stats.outbox == {"pending": 0, "sent": 0, "failed": 0, "suppressed": 0}
    assert stats.busiest == 1 and all(b.height == 0 for b in chart_bars(stats))


def test_stockholm_days_have_23_hours_when_summer_time_starts() -> None:
    bounds = day_bounds(dt.date(2026, 3, 31), DAYS)
    assert len(bounds) == DAYS + 1
    assert bounds[-1] == dt.datetime(2026, 3, 31, 22, 0, tzinfo=dt.UTC)  # midnight CEST
    lengths = {
        (bounds[i].astimezone(dt.UTC) + dt.timedelta(hours=2)).date(): bounds[i + 1] - bounds[i]
        for i in range(DAYS)
    }
    assert lengths[dt.date(2026, 3, 29)] == 23 * H
    assert lengths[dt.date(2026, 3, 28)] == 24 * H


def test_counts_per_day_across_a_stockholm_midnight(
    session: Session, store: ImageStore, alice: Reviewer
) -> None:
    late = submit(session, store, "dual", {})
    at(session, late, created=dt.datetime(2026, 3, 28, 22, 30, tzinfo=dt.UTC))  # 23:30 CET, 28th
    after = submit(session, store, "dual", {})
    at(session, after, created=dt.datetime(2026, 3, 28, 23, 30, tzinfo=dt.UTC))  # 00:30 CET, 29th
    summer = submit(session, store, "dual", {})
    at(session, summer, created=dt.datetime(2026, 3, 29, 22, 30, tzinfo=dt.UTC))  # 00:30 CEST, 30th
    too_old = submit(session, store, "dual", {})
    at(session, too_old, created=dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC))  # too early
    decided(session, store, alice, SubmissionStatus.APPLIED,
            created=dt.datetime(2026, 3, 20, tzinfo=dt.UTC),
            when=dt.datetime(2026, 3, 29, 21, 59, tzinfo=dt.UTC))  # 23:59 CEST, 29th  # fmt: skip
    decided(session, store, alice, SubmissionStatus.REJECTED,
            created=dt.datetime(2026, 3, 20, tzinfo=dt.UTC),
            when=dt.datetime(2026, 3, 29, 22, 1, tzinfo=dt.UTC))  # 00:01 CEST, 30th  # fmt: skip
    stats = statistics(session, now=NOW)
    by_day = {d.day: (d.received, d.approved, d.rejected) for d in stats.days}
    assert by_day[dt.date(2026, 3, 28)] == (1, 0, 0)
    assert by_day[dt.date(2026, 3, 29)] == (1, 1, 0)
    assert by_day[dt.date(2026, 3, 30)] == (1, 0, 1)
    assert by_day[dt.date(2026, 3, 20)] == (2, 0, 0)  # the two decided ones arrived then
    assert sum(d.received for d in stats.days) == 5  # too_old is left out
    assert stats.first_day == dt.date(2026, 3, 2)


def test_the_queue_now_by_status_kind_and_age(session: Session, store: ImageStore) -> None:
    ages = {"dual": [12 * H, 36 * H], "disconnect": [72 * H], None: [6 * 24 * H]}
    for kind, spans in ages.items():
        for span in spans:
            sid = submit(session, store, kind, {}, unreadable=None if kind else "Hörnen syns inte.")
            at(session, sid, created=NOW - span)
    now = queue_now(session, now=NOW)
    assert now.open == 4
    assert now.by_status == {"queued": 3, "unreadable": 1}
    assert now.by_kind == [("dual", 2), (None, 1), ("disconnect", 1)]
    assert now.oldest == NOW - 6 * 24 * H
    assert now.older_than == [(1, 3), (2, 2), (5, 1)]
    # Four ages (12 h, 36 h, 72 h, 6 days): the lower middle one counts, 72 h.
    assert now.median_age == 72 * H
    assert now.waiting == 0
    if WAITING:  # waiting for the customer: neither open nor decided
        row = reload(session, sid)
        row.status = WAITING[0]
        session.add(row)
        session.commit()
        later = queue_now(session, now=NOW)
        assert (later.open, later.waiting, later.by_status["unreadable"]) == (3, 1, 0)


def test_per_reviewer_shares_and_medians_from_real_decisions(
    session: Session, store: ImageStore, registry: None, alice: Reviewer, bob: Reviewer
) -> None:
    now = dt.datetime.now(dt.UTC)
    values = dual_case().values()
    # Alice: one clean approval, one corrected approval, one rejection; Bob: one approval.
    clean = submit(session, store, "dual", values)
    fixed = submit(session, store, "dual", values)
    refused = submit(session, store, "dual", values)
    bobs = submit(session, store, "dual", values)
    for sid, hours in ((clean, 2), (fixed, 4), (refused, 6), (bobs, 10)):
        at(session, sid, created=now - hours * H)
    for sid in (clean, fixed, refused):
        claim(session, sid, alice, now=now)
    correct_field(session, fixed, alice, "client_name", "Rättat Namn AB", now=now)
    correct_field(session, fixed, alice, "new_firm_name", "Annan Byrå AB", now=now)
    for sid in (clean, fixed):
        approve(session, sid, alice, now=now, form_url=FORM_URL, sender_domain=DOMAIN)
    reject(session, refused, alice, reason_code="unreadable", reason_text=None, now=now,
           form_url=FORM_URL, sender_domain=DOMAIN)  # fmt: skip
    claim(session, bobs, bob, now=now)
    approve(session, bobs, bob, now=now, form_url=FORM_URL, sender_domain=DOMAIN)
    session.commit()
    for sid in (clean, fixed, bobs):
        assert reload(session, sid).status in (SubmissionStatus.APPROVED, SubmissionStatus.APPLIED)

    stats = statistics(session, now=now)
    assert [(r.name, r.decided, r.approved, r.rejected) for r in stats.reviewers] == [
        ("Alice", 3, 2, 1),
        ("Bob", 1, 1, 0),
    ]
    a, b = stats.reviewers
    assert a.corrected_fields == 2 and b.corrected_fields == 0
    assert a.clean_share == 0.5 and b.clean_share == 1.0
    assert abs(a.median_handling.total_seconds() - 4 * 3600) < 60  # type: ignore[union-attr]
    assert abs(b.median_handling.total_seconds() - 10 * 3600) < 60  # type: ignore[union-attr]
    assert stats.decided == 4 and stats.approved == 3 and stats.rejected == 1
    assert abs(stats.clean_share - 2 / 3) < 1e-9  # type: ignore[operator]
    # Four handling times, 2, 4, 6 and 10 hours: the median is halfway between 4 and 6.
    assert abs(stats.median_handling.total_seconds() - 5 * 3600) < 60  # type: ignore[union-attr]
    assert stats.days[-1].approved == 3 and stats.days[-1].rejected == 1
    assert stats.outbox["pending"] >= 1  # the decisions queued their mails


def test_a_keyed_or_corrected_approval_is_not_clean_and_old_decisions_are_out(
    session: Session, store: ImageStore, alice: Reviewer
) -> None:
    fixed = submit(session, store, "dual", dual_case().values())
    claim(session, fixed, alice, now=NOW - 3 * H)
    # A correction made before the decision counts for it.
    corrected_at(session, fixed, alice, NOW - 3 * H)
    row = reload(session, fixed)
    row.created_at = NOW - 30 * H
    row.status, row.decided_by, row.decided_at = SubmissionStatus.APPLIED, alice.id, NOW - 2 * H
    session.add(row)
    session.commit()
    keyed = decided(session, store, alice, SubmissionStatus.APPLIED,
                    created=NOW - 30 * H, when=NOW - 2 * H)  # fmt: skip
    event = record_event(session, actor=alice.email, action="submission.keyed",
                         subject=f"submission:{keyed}", after={"kind": "dual"})  # fmt: skip
    event.at = NOW - 3 * H
    session.commit()
    decided(session, store, alice, SubmissionStatus.APPLIED,
            created=NOW - 30 * H, when=NOW - 2 * H)  # fmt: skip
    decided(session, store, alice, SubmissionStatus.APPLIED,
            created=NOW - 60 * 24 * H, when=NOW - 40 * 24 * H)  # fmt: skip
    stats = statistics(session, now=NOW)
    (mine,) = stats.reviewers
    assert (mine.decided, mine.approved, mine.rejected, mine.corrected_fields) == (3, 3, 0, 1)
    assert mine.clean_share == 1 / 3
    assert mine.median_handling == 28 * H


def test_a_busy_period_is_counted_exactly_and_its_medians_sampled(
    session: Session, store: ImageStore, alice: Reviewer, monkeypatch: pytest.MonkeyPatch
) -> None:
    for n in range(7):
        decided(session, store, alice, SubmissionStatus.APPLIED if n % 3 else
                SubmissionStatus.REJECTED, created=NOW - (10 + n) * H, when=NOW - H)  # fmt: skip
    exact = statistics(session, now=NOW)
    monkeypatch.setattr(stats_module, "MEDIAN_SAMPLE", 3)
    sampled = statistics(session, now=NOW)
    assert [d.approved for d in sampled.days] == [d.approved for d in exact.days]
    assert (sampled.decided, sampled.approved, sampled.rejected) == (7, 4, 3)
    (mine,) = sampled.reviewers
    assert (mine.decided, mine.approved, mine.rejected) == (7, 4, 3)
    assert exact.median_handling == 12 * H
    assert sampled.median_handling is not None and 9 * H <= sampled.median_handling <= 15 * H


def test_the_outbox_by_state(session: Session) -> None:
    for n, state in enumerate(
        [OutboxState.SENT, OutboxState.SENT, OutboxState.FAILED, OutboxState.SUPPRESSED]
    ):
        session.add(
            OutboundMail(
                template="receipt", recipient="kund@exempel.se", message_id=f"<m{n}@test>",
                subject="Kvitto", body="Hej", state=state,
            )
        )  # fmt: skip
    session.commit()
    assert statistics(session, now=NOW).outbox == {
        "pending": 0,
        "sent": 2,
        "failed": 1,
        "suppressed": 1,
    }


def test_durations_read_as_swedish() -> None:
    assert duration(None) == "–"
    assert duration(dt.timedelta(minutes=45)) == "45 min"
    assert duration(dt.timedelta(hours=3, minutes=20)) == "3 tim 20 min"
    assert duration(dt.timedelta(days=1)) == "1 dag"
    assert duration(dt.timedelta(days=2, hours=4)) == "2 dagar 4 tim"


def test_the_page_needs_a_login_and_shows_the_numbers(site: Site) -> None:
    anonymous = site.client().get("/granskning/statistik")
    assert anonymous.status_code == 303
    page = site.logged_in("alice").get("/granskning/statistik")
    assert page.status_code == 200
    text = page.text
    assert "Kön just nu" in text
    assert 'id="per-day-chart"' in text and "<rect" in text
    assert 'href="/granskning/utkorg"' in text
    assert "style=" not in text and "<script>" not in text
    # The site's four submissions are open: the tile says so.
    assert "<strong>4</strong>" in text
    assert "Inga ärenden avgjordes" in text
