"""`kopplingar demo`: the main job on the embedded default.

Migrates the SQLite database in the data directory, loads the sample registry
and the issued forms of the committed scan corpus and born-digital corpus
(idempotent, so the command can be run again; dated before the corpora's
signatures), writes the demo mail (`samples.mail.demo_mail`: the sample mail
made from the scan corpus, then born-digital PDFs, mostly clean) into
`data/sample-mail/` and reads it into the review queue as
`kopplingar intake poll --folder` would, but with the samples' QR key, as of
the corpora's date and trusting the born-digital corpus's e-signature root,
since that is what the samples were made with (reader processes, replies into
the outbox, messages moved to `Processed/` or `Quarantine/`), prints a client
to try the form pages with, a demo reviewer's and a demo admin's login (new
random passwords each run) and the queue's mix, and serves the form pages and
the reviewer pages on 127.0.0.1:8000, and the customer pages with the
demo's mail page (`/mina-sidor/demo-post`: the demo sends no real mail).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import secrets

import typer
import uvicorn
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from intake.mail import FolderMailbox
from kopplingar.app import create_app
from kopplingar.context import build_context
from kopplingar.database import upgrade_all
from kopplingar.errors import ConfigError
from kopplingar.mailing import build_mail_intake
from kopplingar.settings import Mode, load_settings
from registry import import_registry
from review import (
    WeakPassword,
    check_password,
    clean_submissions,
    create_reviewer,
    find_reviewer,
    set_password,
)
from samples import REGISTRY_JSON, SAMPLE_QR_KEY
from samples.digital_demo import demo_people, ensure_excluded_firms
from samples.mail import DIGITAL_DIR, DIGITAL_TRUST_DIR, build_demo_mail, demo_trust_roots
from samples.scans import CORPUS_DIR, ISSUED_AT, REFERENCE_DATE, record_issued
from workqueue import ReviewerRole, Submission, SubmissionStatus, queue_counts

DEMO_REVIEWER = "granskare@example.se"
DEMO_ADMIN = "admin@example.se"


def _demo_account(engine: Engine, email: str, name: str, role: ReviewerRole) -> str:
    """A demo account with a new random password each run (printed once).

    The password is random, so it meets the policy; one that a policy refuses
    by chance (it spelt a word) is simply drawn again.
    """
    now = dt.datetime.now(dt.UTC)
    while True:
        password = secrets.token_urlsafe(12)
        try:
            check_password(password, email=email, name=name)
        except WeakPassword:
            continue
        break
    with Session(engine) as session:
        reviewer = find_reviewer(session, email)
        if reviewer is None:
            create_reviewer(session, email=email, name=name, role=role, password=password, now=now)
        else:
            set_password(session, reviewer, password, now)
        session.commit()
    return password


def _queue_summary(engine: Engine, reviewer_email: str) -> str:
    """The open queue in one line: how many, how many clean (what "Godkänn rena ärenden"
    lists for the demo reviewer), how many with a blocking finding."""
    now = dt.datetime.now(dt.UTC)
    with Session(engine) as session:
        counts = queue_counts(session)
        queued = session.exec(
            select(Submission).where(col(Submission.status) == SubmissionStatus.QUEUED)
        ).all()
        reviewer = find_reviewer(session, reviewer_email)
        assert reviewer is not None
        clean = len(clean_submissions(session, reviewer, now=now, limit=len(queued) or 1))
    blocked = sum(1 for s in queued if s.blocking_findings > 0)
    others = ", ".join(
        f"{n} {status}" for status, n in sorted(counts.items()) if status != SubmissionStatus.QUEUED
    )
    return (
        f"review queue: {len(queued)} submissions to review: {clean} clean (approve them"
        f" together at /granskning/godkann-rena), {blocked} with blocking findings,"
        f" {len(queued) - clean - blocked} with warnings or unsure fields"
        + (f"; also {others}" if others else "")
    )


def demo(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8000, help="Port to listen on."),
    no_serve: bool = typer.Option(False, "--no-serve", help="Prepare the data and exit."),
) -> None:
    """The whole pipeline on sample data: registry, sample mail read into the queue, web app."""
    settings = load_settings()
    if settings.mode is not Mode.DEMO:
        raise ConfigError("kopplingar demo loads sample data; it refuses to run in production mode")
    ctx = build_context(settings)
    upgrade_all(ctx.engine)
    with Session(ctx.engine) as session:
        report = import_registry(session, REGISTRY_JSON)
        record_issued(session, CORPUS_DIR, skip_existing=True, issued_at=ISSUED_AT)
        record_issued(session, DIGITAL_DIR, skip_existing=True, issued_at=ISSUED_AT)
        ensure_excluded_firms(session)
        session.commit()
    print(report.summary())
    mail_dir = settings.data_dir / "sample-mail"
    written = build_demo_mail(mail_dir, mailbox=settings.mailbox_address)
    # The demo mail is the corpora's: its QR codes are sealed with the samples' key, its
    # forms were signed in the days before the corpora's date, and its e-signatures chain to
    # the born-digital corpus's own root. Read as of that day with that key and that root
    # (besides any configured), a finding in the demo is one a reviewer should act on, not
    # noise to ignore.
    mail = build_mail_intake(settings, ctx.engine, SAMPLE_QR_KEY)
    mail = dataclasses.replace(
        mail,
        follow_clock=False,
        intake=dataclasses.replace(
            mail.intake,
            today=REFERENCE_DATE,
            trust_roots=mail.intake.trust_roots + demo_trust_roots(DIGITAL_TRUST_DIR),
        ),
    )
    source = FolderMailbox(mail_dir)
    with mail.readers() as pool:
        source.open()
        summary = mail.run_pass(source, pool)
        source.close()
    print(f"sample mail: {len(written)} messages in {mail_dir}; {summary.line()}")
    password = _demo_account(ctx.engine, DEMO_REVIEWER, "Demo Granskare", ReviewerRole.REVIEWER)
    admin_password = _demo_account(ctx.engine, DEMO_ADMIN, "Demo Admin", ReviewerRole.ADMIN)
    sample = json.loads(REGISTRY_JSON.read_text(encoding="utf-8"))
    example = sample["subscriptions"][0]
    print(f"database: {settings.resolved_database_url()}")
    print(f"try: organisationsnummer {example['orgnr']}, abonnemangsnummer {example['number']}")
    print(
        f"reviewer pages: http://{host}:{port}/granskning/  log in as {DEMO_REVIEWER} / {password}"
    )
    print(
        f"admin (quarantine release, reviewers, four-eyes rules): {DEMO_ADMIN} / {admin_password}"
        " (sets up a second factor with an authenticator app at the first login)"
    )
    print(_queue_summary(ctx.engine, DEMO_REVIEWER))
    with Session(ctx.engine) as session:
        people = demo_people(session)
    if people is not None:
        print(
            f"customer pages: http://{host}:{port}/mina-sidor/  sign in as the firm administrator "
            f"{people.firm_admin.email} ({people.firm.name}) or the client administrator "
            f"{people.client_admin.email} ({people.client.name}); the demo sends no real mail, "
            f"read it at http://{host}:{port}/mina-sidor/demo-post"
        )
    if no_serve:
        return
    print(
        f"serving the form pages and the reviewer pages on http://{host}:{port}/  (Ctrl-C to stop)"
    )
    app = create_app(dataclasses.replace(ctx, demo_outbox=True))
    uvicorn.run(app, host=host, port=port, log_level="warning")
