"""Screenshots of the audit log after a morning's real work, for people reading the docs.

`python -m devkit.screenshots_audit [--out samples/screenshots]` builds the
same throwaway database as `devkit.screenshots` (the sample registry, the
corpus's issued forms, the sample mail read by one real mailbox pass), then
does what a reviewer does, through the same functions the pages call: Greta
approves two clean submissions, corrects the new firm's e-mail on a third
and approves it, rejects one, and asks for an override of a blocking finding. It logs in
with Debian's chromium and saves:

- `audit.png`: `/granskning/logg` at 1440x900, one entry's details open;
- `audit-390.png`: the same page on a 390 px wide phone screen.

It refuses to save a page that scrolls sideways at either width.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlmodel import Session, col, select

from devkit.screenshots import (
    ME,
    VIEWPORT,
    cli,
    logged_in,
    prepare,
    shrink,
)
from kopplingar.context import AppContext
from review import DecisionError, approve, claim, correct_field, reject
from workqueue import Reviewer, Submission, SubmissionField, SubmissionStatus

FORM_URL = "https://kopplingar.example.se/"
DOMAIN = "kopplingar.example.se"
OVERRIDE = "Underskriften finns på blanketten; läsningen missade den."


def work(ctx: AppContext) -> None:
    """A few real decisions by Greta, committed one by one as the pages do."""
    now = dt.datetime.now(dt.UTC)
    with Session(ctx.engine) as session:
        greta = session.exec(select(Reviewer).where(Reviewer.email == ME[0])).one()
        queued = session.exec(
            select(Submission)
            .where(col(Submission.status) == SubmissionStatus.QUEUED)
            .where(col(Submission.claimed_by).is_(None))
            .order_by(col(Submission.id))
        ).all()
        # A dual one first: its new firm's e-mail is the field corrected.
        clean = sorted(
            (s for s in queued if s.blocking_findings == 0), key=lambda s: s.kind != "dual"
        )
        clean_ids = [s.id for s in clean if s.id is not None]
        blocked = [s.id for s in queued if s.blocking_findings > 0 and s.id is not None]

    def decide(sid: int, step: str) -> bool:
        with Session(ctx.engine) as session:
            try:
                claim(session, sid, greta, now=now)
                if step == "correct":
                    email = session.exec(
                        select(SubmissionField.value).where(
                            SubmissionField.submission_id == sid,
                            SubmissionField.name == "new_firm_email",
                        )
                    ).first()
                    if email and "@" in email:
                        fixed = "ekonomi@" + email.split("@", 1)[1]
                        correct_field(session, sid, greta, "new_firm_email", fixed, now=now)
                if step == "reject":
                    reject(session, sid, greta, reason_code="signature_missing", reason_text=None,
                           now=now, form_url=FORM_URL, sender_domain=DOMAIN)  # fmt: skip
                else:
                    reason = OVERRIDE if step == "override" else None
                    approve(session, sid, greta, now=now, form_url=FORM_URL, sender_domain=DOMAIN,
                            override_reason=reason)  # fmt: skip
                session.commit()
                return True
            except DecisionError:
                session.rollback()
                return False

    steps = iter(["correct", "approve", "approve"])
    step = next(steps)
    for sid in clean_ids:
        if decide(sid, step) and (step := next(steps, "")) == "":
            break
    if blocked:
        decide(blocked[0], "reject")
    for sid in blocked[1:]:
        if decide(sid, "override"):
            break


def shoot(ctx: AppContext, out: Path, chromium: str) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = [out / "audit.png", out / "audit-390.png"]
    with logged_in(ctx, chromium) as (page, base):
        page.goto(f"{base}/granskning/logg")
        page.wait_for_selector("ol.audit-log")
        page.locator("details.audit-details summary").nth(1).click()
        for width, path in ((VIEWPORT["width"], written[0]), (390, written[1])):
            page.set_viewport_size({"width": width, "height": 900 if width > 390 else 844})
            scroll = page.evaluate("document.documentElement.scrollWidth")
            if scroll > width:
                raise SystemExit(f"the log is {scroll} px wide at {width} px")
            print(f"{width} px: scrollWidth {scroll}")
            page.screenshot(path=str(path), full_page=width == 390)
    for path in written:
        shrink(path)
    return written


def main(argv: list[str] | None = None) -> None:
    def take(tmp: Path, out: Path, chromium: str) -> tuple[AppContext, list[Path]]:
        ctx, _, _ = prepare(tmp)
        work(ctx)
        return ctx, shoot(ctx, out, chromium)

    cli(__doc__, argv, take)


if __name__ == "__main__":
    main()
