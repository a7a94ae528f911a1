"""Screenshots of the outbox page (Utkorg) over the sample mail, for people reading the docs.

`python -m devkit.screenshots_outbox [--out samples/screenshots]` builds the
database of `devkit.screenshots` (one real mailbox pass over the sample
mail, whose receipts land in the outbox), rejects two submissions so their
decision mails are queued too, then runs one real delivery pass against the
local SMTP relay (`devkit.localmail`) that refuses one recipient for good
and so leaves a mix of sent, failed, suppressed and, queued after the pass,
pending mail. It saves, at 1440x900:

- `outbox.png`: the outbox, every state;
- with `--all` (for looking at, not committed), the whole page of the failed
  mail's preview (`outbox-mail.png`) and of a suppressed one's
  (`outbox-suppressed.png`).
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
from pathlib import Path

from sqlmodel import Session, col, select

from devkit.localmail.smtp import LocalSmtp
from devkit.screenshots import (
    CHROMIUM,
    COLLEAGUE,
    MAILBOX,
    ME,
    SCREENSHOTS,
    logged_in,
    prepare,
    shrink,
)
from kopplingar.context import AppContext
from review import claim, reject
from workqueue import (
    OutboundMail,
    OutboxState,
    Reviewer,
    SmtpSender,
    Submission,
    SubmissionStatus,
    deliver_pending,
)

FORM_URL = "https://kopplingar.example.se/"


def fill_outbox(ctx: AppContext, root: Path) -> int:
    """Decision mails, one delivery pass with one refused recipient; the failed mail's id."""
    engine = ctx.engine
    now = dt.datetime.now(dt.UTC)
    with Session(engine) as session:
        me = session.exec(select(Reviewer).where(Reviewer.email == ME[0])).one()
        queued = session.exec(
            select(Submission)
            .where(col(Submission.status) == SubmissionStatus.QUEUED)
            .where(col(Submission.claimed_by).is_(None))
            .order_by(col(Submission.id))
        ).all()
        for submission in queued[:2]:
            assert submission.id is not None
            claim(session, submission.id, me, now=now)
            reject(
                session, submission.id, me, reason_code="signature_missing", reason_text=None,
                now=now, form_url=FORM_URL, sender_domain=ctx.sender_domain,
            )  # fmt: skip
        session.commit()
        # The oldest pending mail's recipient is refused for good: a failed mail to show.
        first = session.exec(
            select(OutboundMail)
            .where(col(OutboundMail.state) == OutboxState.PENDING)
            .order_by(col(OutboundMail.created_at), col(OutboundMail.id))
        ).first()
        assert first is not None and first.id is not None
        refused, failed_id = first.recipient, first.id
    with LocalSmtp(root / "smtp") as relay:
        relay.refuse(refused, 550)
        with SmtpSender(relay.config()) as sender:
            report = deliver_pending(
                engine, sender, from_address=MAILBOX, now=lambda: dt.datetime.now(dt.UTC)
            )
    print(f"delivery: {report}")
    # Queued after the pass, so the list shows pending mail too.
    with Session(engine) as session:
        colleague = session.exec(select(Reviewer).where(Reviewer.email == COLLEAGUE[0])).one()
        later = session.exec(
            select(Submission)
            .where(col(Submission.status) == SubmissionStatus.QUEUED)
            .where(col(Submission.claimed_by).is_(None))
            .order_by(col(Submission.id).desc())
        ).first()
        if later is not None and later.id is not None:
            claim(session, later.id, colleague, now=dt.datetime.now(dt.UTC))
            reject(
                session, later.id, colleague, reason_code="unreadable", reason_text=None,
                now=dt.datetime.now(dt.UTC), form_url=FORM_URL, sender_domain=ctx.sender_domain,
            )  # fmt: skip
            session.commit()
    return failed_id


def shoot(ctx: AppContext, failed_id: int, out: Path, chromium: str, *, every: bool) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = [out / "outbox.png"]
    if every:
        written += [out / "outbox-mail.png", out / "outbox-suppressed.png"]
    with logged_in(ctx, chromium) as (page, base):
        page.goto(f"{base}/granskning/utkorg")
        page.wait_for_selector("table.outbox")
        page.screenshot(path=str(written[0]))
        if every:
            page.goto(f"{base}/granskning/utkorg/{failed_id}")
            page.wait_for_selector("pre.mail-body")
            page.screenshot(path=str(written[1]), full_page=True)
            page.goto(f"{base}/granskning/utkorg?visa=sparrade")
            page.locator("table.outbox a").first.click()
            page.wait_for_selector("pre.mail-body")
            page.screenshot(path=str(written[2]), full_page=True)
    for path in written:
        shrink(path)
    return written


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=SCREENSHOTS, help="folder for the PNGs")
    parser.add_argument("--chromium", default=CHROMIUM, help="the chromium executable")
    parser.add_argument("--all", action="store_true", help="the preview too")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="kopplingar-screenshots-") as tmp:
        ctx, _detail, _candidates = prepare(Path(tmp))
        failed_id = fill_outbox(ctx, Path(tmp))
        for path in shoot(ctx, failed_id, args.out, args.chromium, every=args.all):
            print(f"{path}: {path.stat().st_size // 1024} KB")
        ctx.engine.dispose()


if __name__ == "__main__":
    main()
