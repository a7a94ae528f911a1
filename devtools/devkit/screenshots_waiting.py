"""Screenshots of "Väntar på kund": asking the customer for what is missing, and the wait.

`python -m devkit.screenshots_waiting [--out samples/screenshots]` reads the
sample mail into a throwaway queue as `devkit.screenshots` does, then with
Debian's chromium at 1440 px saves:

- `waiting-request.png`: the form "Begär komplettering" for a dual form;
- `waiting-panel.png`: the same case once asked, waiting for the customer;
- `waiting-queue.png`: the queue's group "Väntar på kund".
"""

from __future__ import annotations

from pathlib import Path

from sqlmodel import Session, col, select

from devkit.screenshots import (
    cli,
    logged_in,
    prepare,
    shrink,
)
from kopplingar.context import AppContext
from workqueue import InboundMessage, Submission, SubmissionStatus


def _asked(ctx: AppContext) -> int:
    """A dual form that came by mail from an address we can answer."""
    with Session(ctx.engine) as session:
        found = session.exec(
            select(Submission.id)
            .join(InboundMessage, col(InboundMessage.id) == col(Submission.inbound_message_id))
            .where(col(Submission.kind) == "dual",
                   col(Submission.status) == SubmissionStatus.QUEUED,
                   col(Submission.claimed_by).is_(None),
                   col(InboundMessage.sender).is_not(None))
            .order_by(col(Submission.id))
        ).first()
    assert found is not None, "the sample mail has no dual form from a known sender"
    return found


def shoot(ctx: AppContext, out: Path, chromium: str) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = [out / "waiting-request.png", out / "waiting-panel.png", out / "waiting-queue.png"]
    sid = _asked(ctx)
    with logged_in(ctx, chromium) as (page, base):
        page.goto(f"{base}/granskning/{sid}/komplettering")
        page.check("#info-reason-signature")
        page.select_option("#info-party", "new_firm")
        page.fill("#info-note", "Underskriften längst ner till höger saknas.")
        page.screenshot(path=str(written[0]), full_page=True)
        page.click("#waiting-send")
        page.wait_for_load_state("networkidle")
        page.goto(f"{base}/granskning/{sid}/komplettering")
        page.wait_for_selector("#waiting-title")
        page.screenshot(path=str(written[1]), full_page=True)
        page.goto(f"{base}/granskning/?status=waiting")
        page.wait_for_selector("table.queue")
        page.screenshot(path=str(written[2]))
    for path in written:
        shrink(path)
    return written


def main(argv: list[str] | None = None) -> None:
    def take(tmp: Path, out: Path, chromium: str) -> tuple[AppContext, list[Path]]:
        ctx, _detail, _candidates = prepare(tmp)
        return ctx, shoot(ctx, out, chromium)

    cli(__doc__, argv, take)


if __name__ == "__main__":
    main()
