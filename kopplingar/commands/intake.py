"""`kopplingar intake file|poll|watch`: scans from files or the mailbox into the queue.

Each file is read, validated and (unless `--dry-run`) put in the review queue
in its own transaction, so one bad file never holds up the others. With
`--json`, one JSON object per input file on stdout (shape in the README);
otherwise one line per document and a summary.

`poll` (cron) and `watch` (long-running) read the mailbox through
`kopplingar.mailing`; the guarantees are in `intake.mail.mailbox`. Both print one
summary line per pass and leave replies to the outbox and SMTP. After each pass
they remind, and after a second period close, the cases that wait for the
customer (`review.waiting`; idempotent), so no second cron line is needed.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
from pathlib import Path

import typer
from sqlmodel import Session

from forms import display_form_id
from intake.mail import MailSource, PollSummary, StopWatching, WatchState, WatchTiming, watch
from intake.scan import IntakeContext, enqueue_file, file_json, load_calibration, read_file
from kopplingar.context import build_context
from kopplingar.database import require_all_current
from kopplingar.errors import MissingInput
from kopplingar.mailing import MailIntake, build_mail_intake, mail_source
from kopplingar.portal_jobs import PortalJobReport
from kopplingar.settings import load_settings
from kopplingar.templates import RenderedTemplates
from review import ReminderReport
from workqueue import DeliveryReport, ImageStore

app = typer.Typer(help="Read scanned forms into the review queue.", no_args_is_help=True)


@app.command("file")
def file(
    paths: list[Path] = typer.Argument(..., help="Scans: PDF, JPEG, PNG or TIFF files."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Read and report; queue nothing."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per input file."),
) -> None:
    """Read each file, validate what it says, and queue every form found."""
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise MissingInput(f"not a file: {', '.join(missing)}")
    app_ctx = build_context(load_settings())
    require_all_current(app_ctx.engine)
    assert app_ctx.images_dir is not None
    store = ImageStore(app_ctx.images_dir)
    ctx = IntakeContext(qr_key=app_ctx.qr_key, templates=RenderedTemplates(app_ctx.mailbox_address),
                        calibration=load_calibration(), trust_roots=app_ctx.trust_roots)
    queued = unreadable = blank = 0
    for path in paths:
        with Session(app_ctx.engine) as session:
            result = read_file(session, path.read_bytes(), path.name, ctx)
            if not dry_run:
                enqueue_file(session, store, result)
                session.commit()
        blank += sum(1 for page in result.pages if page.blank)
        for doc in result.documents:
            if doc.unreadable_reason:
                unreadable += 1
            else:
                queued += 1
        if as_json:
            print(json.dumps(file_json(result), ensure_ascii=False))
        else:
            for doc in result.documents:
                what = doc.kind.value if doc.kind else "unknown"
                state = (
                    f"unreadable: {doc.unreadable_reason}"
                    if doc.unreadable_reason
                    else (f"{len(doc.findings)} findings")
                )
                shown = display_form_id(doc.form_id) if doc.form_id else "-"
                print(f"{path.name}\tpages {doc.pages}\t{what}\t{shown}\t{state}")
    verb = "read (dry run)" if dry_run else "queued"
    pages = "blank page" if blank == 1 else "blank pages"
    print(f"{len(paths)} files: {queued} forms {verb}, {unreadable} unreadable, "
          f"{blank} {pages} skipped", file=sys.stderr)


def _mail_intake(folder: Path | None) -> tuple[MailIntake, MailSource]:
    settings = load_settings()
    source = mail_source(settings, folder)
    app_ctx = build_context(settings)
    require_all_current(app_ctx.engine)
    return build_mail_intake(settings, app_ctx.engine, app_ctx.qr_key), source


def _print_delivery(report: DeliveryReport | None) -> None:
    if report is None:
        print("replies: waiting in the outbox (no SMTP server configured)", file=sys.stderr)
    else:
        print(
            f"replies: {report.sent} sent, {report.deferred} deferred, "
            f"{report.failed} failed, {report.suppressed} suppressed",
            file=sys.stderr,
        )


def _print_reminders(report: ReminderReport) -> None:
    if report.reminded or report.closed:
        print(f"waiting for customers: {report.reminded} reminded, {report.closed} closed "
              "without a reply", file=sys.stderr)


def _print_portal(report: PortalJobReport) -> None:
    if report.grants_ended or report.requests_expired:
        print(report.line(), file=sys.stderr)


@app.command("poll")
def poll(
    folder: Path | None = typer.Option(
        None, "--folder", help="Read a Maildir or a folder of .eml files instead of IMAP."
    ),
) -> None:
    """One pass over the mailbox, for cron: record, read, queue, reply, move.

    Exit 0 when the pass completed; 75 when the mailbox or the database could not
    be reached, the data directory cannot be written or is short of space
    (KOPPLINGAR_MIN_FREE_MB), or another run holds the mailbox (cron simply tries
    again, and no message is charged for it); 77 when
    the login was refused; 66 when --folder does not exist; 78 when the
    configuration is missing or unsafe.
    """
    mail, source = _mail_intake(folder)
    with mail.readers() as pool:
        source.open()
        try:
            summary = mail.run_pass(source, pool)
        finally:
            source.close()
    print(f"poll: {summary.line()}")
    _print_reminders(mail.send_reminders())
    _print_portal(mail.run_portal_jobs())
    _print_delivery(mail.deliver_replies())


@app.command("watch")
def watch_command(
    folder: Path | None = typer.Option(
        None, "--folder", help="Watch a Maildir or a folder of .eml files instead of IMAP."
    ),
) -> None:
    """Keep reading the mailbox: IMAP IDLE, with a periodic pass as a fallback.

    Stops cleanly on SIGTERM or Ctrl-C between two messages.
    """
    settings = load_settings()
    mail, source = _mail_intake(folder)
    stop = threading.Event()

    state = WatchState()

    def request_stop(signum: int, _frame: object) -> None:
        print(f"watch: signal {signum}, stopping after the current message", file=sys.stderr)
        stop.set()
        if state.idle:
            # Waiting in IDLE, nothing half done: end the wait now, not at the slice's end.
            raise StopWatching

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)

    def one_pass(src: MailSource) -> PollSummary:
        summary = mail.run_pass(src, pool, should_stop=stop.is_set)
        _print_reminders(mail.send_reminders())
        _print_portal(mail.run_portal_jobs())
        _print_delivery(mail.deliver_replies())
        return summary

    with mail.readers() as pool:
        passes = watch(
            source,
            one_pass,
            timing=WatchTiming(
                idle_seconds=settings.watch_idle_seconds,
                poll_seconds=settings.watch_poll_seconds,
            ),
            should_stop=stop.is_set,
            report=lambda line: print(f"watch: {line}", flush=True),
            state=state,
        )
    print(f"watch: stopped after {passes} passes", file=sys.stderr)
