"""Screenshots of the statistics and duplicates pages over a back office's month, for the docs.

`python -m devkit.screenshots_stats [--out samples/screenshots]` builds a
throwaway SQLite database with the sample registry and five weeks of a
small back office's work: about 25 forms a working day (fewer on Mondays
and Fridays, almost none at weekends), seeded as `kopplingar bench review`
seeds its queue (`seed_queue`) and then given their arrival times, mails
with senders, decisions by four reviewers a few hours to two days later
(some corrected first, with the audit events a correction writes), the
mails those decisions send, and a few forms that came twice (the intake's
`form.duplicate`, one of them also the same file given to `intake file`
twice). It saves, at 1440 px wide:

- `statistics.png`: `/granskning/statistik`, the whole page;
- `duplicates.png`: `/granskning/dubbletter`, the whole page.
"""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

from sqlmodel import Session, col, select

from devkit.screenshots import ME, PASSWORD, cli, logged_in, shrink
from forms import new_form_id
from kopplingar.benchmarks.render import sample_value_sets
from kopplingar.benchmarks.seed import seed_queue
from kopplingar.context import AppContext
from kopplingar.database import upgrade_all
from registry import import_registry, make_engine, record_event
from render import SWEDISH_TIME
from review import claim, create_reviewer
from samples import REGISTRY_JSON, SAMPLE_QR_KEY
from workqueue import (
    ImageStore,
    InboundMessage,
    MessageState,
    OutboundMail,
    OutboxState,
    Reviewer,
    ReviewerRole,
    Submission,
    SubmissionField,
    SubmissionFinding,
    SubmissionStatus,
)

MAILBOX = "kopplingar@example.se"
COLLEAGUES = (
    ("anna.berg@example.se", "Anna Berg", 5),
    ("olle.kollega@example.se", "Olle Kollega", 3),
    ("sara.lind@example.se", "Sara Lind", 2),
)
SENDERS = (
    "ekonomi@hallandsrevision.se", "lena.persson@bergsbokforing.se", "info@vastkustredovisning.se",
    "kontoret@tradgardsmastare-ek.se", "anders@nordbyggab.se", "faktura@lindqvistkonsult.se",
    "maria.holm@holmsrevisionsbyra.se", "post@sjobergs-el.se",
)  # fmt: skip
DAYS = 36
PER_DAY = (18, 27, 29, 26, 17, 1, 0)  # Monday to Sunday


def _arrivals(rng: random.Random, now: dt.datetime) -> list[dt.datetime]:
    today = now.astimezone(SWEDISH_TIME).date()
    times = []
    for back in range(DAYS, -1, -1):
        day = today - dt.timedelta(days=back)
        for _ in range(max(0, round(PER_DAY[day.weekday()] * rng.uniform(0.7, 1.2)))):
            local = dt.datetime.combine(day, dt.time(7), SWEDISH_TIME) + dt.timedelta(
                minutes=rng.randint(0, 11 * 60)
            )
            if local.astimezone(dt.UTC) < now:
                times.append(local.astimezone(dt.UTC))
    return sorted(times)


def prepare(root: Path) -> AppContext:
    """The database and its month of work (module docstring)."""
    engine = make_engine(f"sqlite:///{root / 'stats.db'}")
    upgrade_all(engine)
    now = dt.datetime.now(dt.UTC)
    rng = random.Random(2026)
    images = ImageStore(root / "images")
    with Session(engine, expire_on_commit=False) as session:
        import_registry(session, REGISTRY_JSON)
        me = create_reviewer(session, email=ME[0], name=ME[1], role=ReviewerRole.REVIEWER,
                             password=PASSWORD, now=now)  # fmt: skip
        people = [(me, 6)] + [
            (create_reviewer(session, email=e, name=n, role=ReviewerRole.REVIEWER,
                             password=PASSWORD, now=now), w)
            for e, n, w in COLLEAGUES
        ]  # fmt: skip
        session.commit()
    arrivals = _arrivals(rng, now)
    values = [v for _, v in sample_value_sets(60)]
    ids = seed_queue(engine, images, len(arrivals), seed=5, now=now, sample_values=values)
    with Session(engine) as session:
        reviewers = [r for r, _ in people]
        weights = [w for _, w in people]
        for n, (sid, arrived) in enumerate(zip(ids, arrivals, strict=True)):
            row = session.get(Submission, sid)
            assert row is not None
            message = InboundMessage(
                account=f"maildir:/srv/{MAILBOX}", folder="INBOX", uidvalidity=1, uid=n + 1,
                message_id=f"<scan-{n}@kund.example>", sha256=f"{n:064x}", size=180_000,
                sender=rng.choice(SENDERS), subject="Blankett", recorded_at=arrived,
                processed_at=arrived, state=MessageState.PROCESSED,
            )  # fmt: skip
            session.add(message)
            session.flush()
            row.inbound_message_id = message.id
            row.created_at = arrived
            if row.form_id is not None:
                row.form_id = new_form_id()  # as issued, not the seed's serial number
            age = now - arrived
            waiting = age < dt.timedelta(hours=rng.uniform(4, 60)) or rng.random() < 0.03
            unreadable = row.status == SubmissionStatus.UNREADABLE
            if not waiting and (not unreadable or rng.random() < 0.8):
                handling = dt.timedelta(minutes=rng.lognormvariate(5.6, 0.8))
                decided = min(arrived + handling, now - dt.timedelta(minutes=5))
                who = rng.choices(reviewers, weights)[0]
                rejected = unreadable or rng.random() < 0.12
                row.status = SubmissionStatus.REJECTED if rejected else SubmissionStatus.APPLIED
                row.decided_by, row.decided_at = who.id, decided
                if rejected:
                    row.decision_reason = (
                        "Blanketten gick inte att läsa." if unreadable else "En underskrift saknas."
                    )
                if not unreadable and rng.random() < 0.22:
                    fields = session.exec(
                        select(SubmissionField).where(col(SubmissionField.submission_id) == sid)
                    ).all()
                    for field in rng.sample(
                        list(fields), k=min(len(fields), rng.choice((1, 1, 2)))
                    ):
                        field.corrected_value = field.value
                        session.add(field)
                        event = record_event(
                            session, actor=who.email, action="submission.field_corrected",
                            subject=f"submission:{sid}", before={"field": field.name},
                            after={"field": field.name},
                        )  # fmt: skip
                        event.at = decided - dt.timedelta(minutes=3)
                for k in range(1 if rejected else 2):
                    state = rng.choices(
                        [OutboxState.SENT, OutboxState.FAILED, OutboxState.SUPPRESSED], [96, 3, 1]
                    )[0]  # fmt: skip
                    session.add(OutboundMail(
                        created_at=decided, template="decision", automatic=False,
                        recipient=rng.choice(SENDERS), message_id=f"<d{sid}-{k}@example.se>",
                        subject="Beslut", body="…", state=state,
                        sent_at=decided if state == OutboxState.SENT else None,
                    ))  # fmt: skip
            elif not unreadable:
                row.status = SubmissionStatus.QUEUED
            session.add(row)
        session.commit()
        _duplicates(session, rng, now)
        # Three asked the customer for a missing signature and wait for the answer.
        for row in session.exec(
            select(Submission)
            .where(col(Submission.status) == SubmissionStatus.QUEUED)
            .where(col(Submission.created_at) < now - dt.timedelta(days=2))
            .order_by(col(Submission.id))
            .limit(3)
        ).all():
            row.status = SubmissionStatus.AWAITING_CUSTOMER
            session.add(row)
        # The receipts of the last hour's mail are still on their way.
        for n in range(4):
            session.add(OutboundMail(
                created_at=now - dt.timedelta(minutes=5 * n), template="receipt",
                recipient=SENDERS[n], message_id=f"<r{n}@example.se>", subject="Kvitto",
                body="…", state=OutboxState.PENDING,
            ))  # fmt: skip
        session.commit()
    return AppContext(
        engine=engine, qr_key=SAMPLE_QR_KEY, mailbox_address=MAILBOX,
        public_base_url="https://kopplingar.example.se", download_limit=1000,
        download_window_seconds=600, images_dir=root / "images", cookie_secure=False,
    )  # fmt: skip


def _duplicates(session: Session, rng: random.Random, now: dt.datetime) -> None:
    """A few forms that came twice: the later one open, with the intake's finding."""
    rows = session.exec(
        select(Submission).where(col(Submission.kind).is_not(None)).order_by(col(Submission.id))
    ).all()
    open_rows = [s for s in rows if s.status == SubmissionStatus.QUEUED]
    earlier = [s for s in rows if s.status == SubmissionStatus.APPLIED]
    pairs = [(rng.choice(earlier[-80:]), s) for s in open_rows[-12::4]]
    pairs.append((open_rows[-14], open_rows[-2]))  # both still open
    for original, again in pairs:
        assert again.id is not None
        again.form_id, again.kind = original.form_id, original.kind
        message = session.get(InboundMessage, again.inbound_message_id)
        first = session.get(InboundMessage, original.inbound_message_id)
        if message is not None and first is not None:
            message.sender = first.sender  # the same customer, sending it again
            session.add(message)
        session.add(again)
        session.add(SubmissionFinding(
            submission_id=again.id, code="form.duplicate", severity="warning",
            message="Blanketten har redan skickats in tidigare. Kontrollera att det inte är en "
                    "dubblett.",
        ))  # fmt: skip
    # The last pair's form also given to `intake file` a second time: a group of three.
    original, again = pairs[-1]
    third = open_rows[-1]
    third.source_sha256, third.document_index = again.source_sha256, again.document_index
    third.form_id, third.kind = again.form_id, again.kind
    third.source_name, third.inbound_message_id = again.source_name, None
    third.source_kind = "file"
    session.add(third)
    colleague = session.exec(select(Reviewer).where(Reviewer.email == COLLEAGUES[0][0])).one()
    session.commit()
    assert pairs[0][1].id is not None
    claim(session, pairs[0][1].id, colleague, now=now)
    session.commit()


def shoot(ctx: AppContext, out: Path, chromium: str) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = [out / "statistics.png", out / "duplicates.png"]
    with logged_in(ctx, chromium) as (page, base):
        page.goto(f"{base}/granskning/statistik")
        page.wait_for_selector("#per-day-chart")
        page.screenshot(path=str(written[0]), full_page=True)
        page.goto(f"{base}/granskning/dubbletter")
        page.wait_for_selector("h1")
        page.screenshot(path=str(written[1]), full_page=True)
    for path in written:
        shrink(path)
    return written


def main(argv: list[str] | None = None) -> None:
    def take(tmp: Path, out: Path, chromium: str) -> tuple[AppContext, list[Path]]:
        ctx = prepare(tmp)
        return ctx, shoot(ctx, out, chromium)

    cli(__doc__, argv, take)


if __name__ == "__main__":
    main()
