"""Screenshots of the reviewer pages over the sample mail, for people reading the docs.

`python -m devkit.screenshots [--out samples/screenshots]` builds a
throwaway SQLite database with the sample registry and the committed corpus's
issued forms, writes the sample mail (`samples.mail`) to a folder and reads it
into the queue with one real mailbox pass (reader processes, as
`kopplingar intake poll --folder` does), lets a second reviewer hold one
submission, then logs in with Debian's chromium (Playwright) and saves:

- `login.png`: the login page;
- `queue.png`: the queue, least sure first, at 1440x900;
- `detail.png`: the open submission with the most blocking findings, the whole page;
- `candidates-390.png`: a submission whose fields carry registry candidates,
  on a 390 px wide phone screen, the whole page.

Nothing here is kept but the PNGs; the passwords and the QR key are sample-only.
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image
from sqlmodel import Session, col, select

from intake.mail import ChildLimits, FolderMailbox, MailboxPolicy
from intake.scan import IntakeContext
from kopplingar.app import create_app
from kopplingar.context import AppContext
from kopplingar.database import upgrade_all
from kopplingar.mailing import MailIntake
from kopplingar.serving import serve_in_thread
from kopplingar.templates import RenderedTemplates
from registry import import_registry, make_engine
from review import claim, create_reviewer
from samples import REGISTRY_JSON, SAMPLE_QR_KEY
from samples.mail import build_sample_mail
from samples.scans import CORPUS_DIR, ISSUED_AT, REFERENCE_DATE, record_issued
from workqueue import ImageStore, Reviewer, ReviewerRole, Submission, SubmissionField

if TYPE_CHECKING:
    from playwright.sync_api import Page

SCREENSHOTS = Path(__file__).resolve().parents[2] / "samples" / "screenshots"  # the docs show them
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
MAILBOX = "kopplingar@example.se"
VIEWPORT = {"width": 1440, "height": 900}
PASSWORD = "Bara för skärmbilder 2026"
ME = ("greta.granskare@example.se", "Greta Granskare")
COLLEAGUE = ("olle.kollega@example.se", "Olle Kollega")


def _reviewer(session: Session, email: str, name: str, now: dt.datetime) -> Reviewer:
    return create_reviewer(
        session, email=email, name=name, role=ReviewerRole.REVIEWER, password=PASSWORD, now=now
    )


def prepare(root: Path) -> tuple[AppContext, int, int | None]:
    """The database, the queue read from the sample mail, two reviewers; the pages' ids.

    The second id is a submission with registry candidates, None when none has any.
    """
    engine = make_engine(f"sqlite:///{root / 'screenshots.db'}")
    upgrade_all(engine)
    with Session(engine) as session:
        import_registry(session, REGISTRY_JSON)
        record_issued(session, CORPUS_DIR, issued_at=ISSUED_AT)
        session.commit()
    mail_dir = root / "mail"
    build_sample_mail(mail_dir, mailbox=MAILBOX)
    intake = MailIntake(
        engine=engine,
        database_url=engine.url.render_as_string(hide_password=False),
        policy=MailboxPolicy(mailbox_address=MAILBOX, form_url="https://kopplingar.example.se/"),
        # The corpus's date, so its signature dates read as they did when it was made.
        intake=IntakeContext(
            qr_key=SAMPLE_QR_KEY, templates=RenderedTemplates(MAILBOX), today=REFERENCE_DATE
        ),
        raw_store=ImageStore(root / "data" / "mail", suffix=".eml"),
        image_store=ImageStore(root / "data" / "images"),
        lock_dir=root / "data" / "locks",
        jobs=2,
        child_limits=ChildLimits(),
        smtp=None,
    )
    source = FolderMailbox(mail_dir)
    with intake.readers() as pool:
        source.open()
        try:
            summary = intake.run_pass(source, pool)
        finally:
            source.close()
    print(summary.line())

    now = dt.datetime.now(dt.UTC)
    with Session(engine) as session:
        _reviewer(session, *ME, now)
        colleague = _reviewer(session, *COLLEAGUE, now)
        session.flush()
        rows = session.exec(
            select(Submission).where(col(Submission.kind).is_not(None)).order_by(col(Submission.id))
        ).all()
        # The detail: most blocking findings, then least sure. The colleague holds
        # another one, so the queue shows a claim.
        detail = max(rows, key=lambda s: (s.blocking_findings, -(s.min_confidence or 0.0)))
        held = next(s for s in rows if s.id != detail.id and s.blocking_findings == 0)
        detail_id, held_id = detail.id, held.id
        assert detail_id is not None and held_id is not None
        offered = session.exec(
            select(SubmissionField.submission_id)
            .where(col(SubmissionField.candidates).is_not(None))
            .where(col(SubmissionField.submission_id) != held_id)
            .order_by(col(SubmissionField.submission_id))
        ).all()
        candidates_id = next((i for i in offered if i is not None), None)
        claim(session, held_id, colleague, now=now)
        session.commit()
    ctx = AppContext(
        engine=engine,
        qr_key=SAMPLE_QR_KEY,
        mailbox_address=MAILBOX,
        public_base_url="https://kopplingar.example.se",
        download_limit=1000,
        download_window_seconds=600,
        images_dir=root / "data" / "images",
        cookie_secure=False,  # plain http on loopback
    )
    return ctx, detail_id, candidates_id


@contextmanager
def logged_in(ctx: AppContext, chromium: str) -> Iterator[tuple[Page, str]]:
    """The app served on loopback and a chromium page logged in as the sample reviewer:
    (the page, the base URL). Every screenshot script of the reviewer pages starts here."""
    from playwright.sync_api import sync_playwright

    with serve_in_thread(create_app(ctx)) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport=VIEWPORT)  # type: ignore[arg-type]
            page.goto(f"{base}/granskning/logga-in")
            page.fill("#email", ME[0])
            page.fill("#password", PASSWORD)
            page.get_by_role("button", name="Logga in").click()
            page.wait_for_load_state("networkidle")
            yield page, base
        finally:
            browser.close()

def shrink(path: Path) -> None:
    """256 colours are plenty for a page of text and greys, and a third of the bytes."""
    with Image.open(path) as image:
        small = image.convert("RGB").quantize(colors=256, dither=Image.Dither.NONE)
    small.save(path, optimize=True)


def shoot(ctx: AppContext, detail_id: int, candidates_id: int | None, out: Path,
          chromium: str) -> list[Path]:
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    written = [out / "login.png", out / "queue.png", out / "detail.png"]
    with serve_in_thread(create_app(ctx)) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport=VIEWPORT)  # type: ignore[arg-type]
            page.goto(f"{base}/granskning/")
            page.fill("#email", ME[0])
            page.screenshot(path=str(written[0]))
            page.fill("#password", PASSWORD)
            page.get_by_role("button", name="Logga in").click()
            page.wait_for_selector("table.queue")
            page.goto(f"{base}/granskning/?sort=confidence")
            page.wait_for_selector("table.queue")
            page.screenshot(path=str(written[1]))
            page.goto(f"{base}/granskning/{detail_id}?sort=confidence")
            page.locator(".claim").get_by_role("button", name="Ta ärendet").click()
            page.wait_for_selector("#fields-form")
            page.wait_for_load_state("networkidle")
            page.screenshot(path=str(written[2]), full_page=True)
            if candidates_id is not None:
                # The same session on a phone: the suggestions must stay usable at 390 px.
                page.set_viewport_size({"width": 390, "height": 844})
                page.goto(f"{base}/granskning/{candidates_id}?sort=confidence")
                claim_button = page.locator(".claim").get_by_role("button", name="Ta ärendet")
                if claim_button.count():
                    claim_button.click()
                page.wait_for_selector("#fields-form")
                page.wait_for_load_state("networkidle")
                written.append(out / "candidates-390.png")
                page.screenshot(path=str(written[3]), full_page=True)
        finally:
            browser.close()
    for path in written:
        shrink(path)
    return written


Take = Callable[[Path, Path, str], tuple[AppContext, list[Path]]]


def cli(doc: str | None, argv: list[str] | None, take: Take) -> None:
    """The screenshot scripts' command line: `take(scratch folder, --out, --chromium)`
    builds its throwaway app and returns it with the PNGs it wrote."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0] if doc else None)
    parser.add_argument("--out", type=Path, default=SCREENSHOTS, help="folder for the PNGs")
    parser.add_argument("--chromium", default=CHROMIUM, help="the chromium executable")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="kopplingar-screenshots-") as tmp:
        ctx, written = take(Path(tmp), args.out, args.chromium)
        for path in written:
            print(f"{path}: {path.stat().st_size // 1024} KB")
        ctx.engine.dispose()


def main(argv: list[str] | None = None) -> None:
    def take(tmp: Path, out: Path, chromium: str) -> tuple[AppContext, list[Path]]:
        ctx, detail_id, candidates_id = prepare(tmp)
        return ctx, shoot(ctx, detail_id, candidates_id, out, chromium)

    cli(__doc__, argv, take)


if __name__ == "__main__":
    main()
