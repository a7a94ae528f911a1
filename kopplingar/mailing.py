"""Assembling the mailbox intake from settings: source, policy, readers, replies.

`kopplingar intake poll`, `intake watch`, the demo and `bench mailbox` all
build their pass here, so each runs the same code with the same checks; the
stages themselves only ever see the explicit values made here.
"""

from __future__ import annotations

import datetime as dt
import shlex
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from sqlalchemy import Engine

from intake.mail import (
    Checkpoint,
    ChildLimits,
    FolderMailbox,
    ImapConfig,
    ImapMailbox,
    MailboxPass,
    MailboxPolicy,
    MailLimits,
    MailSource,
    PollSummary,
    ReaderPool,
    ReaderSetup,
    TokenProvider,
    mailbox_lock,
)
from intake.scan import IntakeContext, load_calibration
from kopplingar.errors import ConfigError, MissingInput
from kopplingar.portal_jobs import PortalJobReport, run_portal_jobs
from kopplingar.settings import Settings
from kopplingar.templates import RenderedTemplates
from review import ReminderReport, send_reminders
from workqueue import DeliveryReport, ImageStore, SmtpConfig, SmtpSender, deliver_pending


def mail_source(settings: Settings, folder: Path | None = None) -> MailSource:
    """The configured mailbox: `folder` if given, else IMAP, else KOPPLINGAR_MAIL_FOLDER."""
    # A folder that is not there is a typo, not a passing outage: cron must not retry it.
    if folder is not None:
        if not folder.is_dir():
            raise MissingInput(f"--folder {folder}: no such directory")
        return FolderMailbox(folder)
    if settings.imap_host:
        return ImapMailbox(imap_config(settings), tokens=_tokens(settings))
    if settings.mail_folder is not None:
        if not settings.mail_folder.is_dir():
            raise ConfigError(f"KOPPLINGAR_MAIL_FOLDER={settings.mail_folder}: no such directory")
        return FolderMailbox(settings.mail_folder)
    raise ConfigError(
        "no mailbox configured: set KOPPLINGAR_IMAP_HOST (and _USERNAME, _PASSWORD or "
        "_TOKEN_COMMAND), or KOPPLINGAR_MAIL_FOLDER, or pass --folder"
    )


def imap_config(settings: Settings) -> ImapConfig:
    if not settings.imap_host or not settings.imap_username:
        raise ConfigError("KOPPLINGAR_IMAP_HOST and KOPPLINGAR_IMAP_USERNAME must both be set")
    config = ImapConfig(
        host=settings.imap_host,
        port=settings.imap_port,
        username=settings.imap_username,
        security=settings.imap_security,
        password=settings.imap_password.get_secret_value() if settings.imap_password else None,
        token_command=(
            tuple(shlex.split(settings.imap_token_command)) if settings.imap_token_command else None
        ),
        ca_file=settings.imap_ca_file,
        allow_plain_on_loopback=settings.imap_allow_plain_on_loopback,
        folder=settings.imap_folder,
    )
    config.check()
    return config


def _tokens(settings: Settings) -> TokenProvider | None:
    if not settings.imap_token_command:
        return None
    return TokenProvider(shlex.split(settings.imap_token_command))


def smtp_config(settings: Settings) -> SmtpConfig | None:
    if not settings.smtp_host:
        return None
    config = SmtpConfig(
        host=settings.smtp_host,
        port=settings.smtp_port,
        security=settings.smtp_security,
        username=settings.smtp_username,
        password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
        ca_file=settings.smtp_ca_file,
        allow_plain_on_loopback=settings.smtp_allow_plain_on_loopback,
    )
    config.check()
    return config


@dataclass(frozen=True)
class MailIntake:
    """Everything a pass needs except the open source, built once per process."""

    engine: Engine
    database_url: str
    policy: MailboxPolicy
    intake: IntakeContext
    raw_store: ImageStore
    image_store: ImageStore
    lock_dir: Path
    jobs: int
    child_limits: ChildLimits
    smtp: SmtpConfig | None
    # Validation dates ("signed in the future") follow the calendar in a watcher that
    # runs for weeks; benchmarks and tests pin the date of their corpus instead.
    follow_clock: bool = False
    min_free_bytes: int = 0  # a pass refuses to start with less free in the data folders
    info_reminder_days: int = 5  # cases waiting for the customer (review.waiting)

    @contextmanager
    def readers(self, on_start: Callable[[int, int], None] | None = None) -> Iterator[ReaderPool]:
        setup = ReaderSetup(ctx=self.intake, database_url=self.database_url)
        with ReaderPool(setup, jobs=self.jobs, limits=self.child_limits, on_start=on_start) as pool:
            yield pool

    def run_pass(
        self,
        source: MailSource,
        pool: ReaderPool,
        *,
        checkpoint: Checkpoint | None = None,
        should_stop: Callable[[], bool] = lambda: False,
    ) -> PollSummary:
        """One locked pass over `source` (already open)."""
        with mailbox_lock(self.engine, f"{source.account}/{source.folder}", lock_dir=self.lock_dir):
            return MailboxPass(
                source,
                self.engine,
                policy=self.policy,
                intake=(
                    replace(self.intake, today=dt.date.today())
                    if self.follow_clock
                    else self.intake
                ),
                scanner=pool,
                raw_store=self.raw_store,
                image_store=self.image_store,
                should_stop=should_stop,
                checkpoint=checkpoint,
                min_free_bytes=self.min_free_bytes,
            ).run()

    def send_reminders(self) -> ReminderReport:
        """Remind or close the cases that waited for the customer long enough.

        Run after each pass and before the outbox is sent: a reply read in the
        pass has joined its case before the case could be closed, and the
        reminders leave with the pass's replies. Idempotent (`review.waiting`).
        """
        return send_reminders(
            self.engine,
            now=lambda: dt.datetime.now(dt.UTC),
            days=self.info_reminder_days,
            sender_domain=self.policy.reply_domain,
            form_url=self.policy.form_url,
        )

    def run_portal_jobs(self) -> PortalJobReport:
        """The customer pages' time limits (`kopplingar.portal_jobs`), before the outbox is sent."""
        return run_portal_jobs(
            self.engine,
            now=dt.datetime.now(dt.UTC),
            sender_domain=self.policy.reply_domain,
            base_url=self.policy.form_url,
        )

    def deliver_replies(self) -> DeliveryReport | None:
        """Send what waits in the outbox; None when no SMTP server is configured."""
        if self.smtp is None:
            return None
        with SmtpSender(self.smtp) as sender:
            # Everything one pass can have queued, so the replies go out with the pass
            # instead of 200 at a time over several cron runs.
            return deliver_pending(
                self.engine,
                sender,
                from_address=self.policy.mailbox_address,
                now=lambda: dt.datetime.now(dt.UTC),
                limit=5000,
                min_interval=self.policy.reply_interval,
            )


def build_mail_intake(settings: Settings, engine: Engine, qr_key: bytes) -> MailIntake:
    data = settings.ensure_data_dir()
    limits = MailLimits(max_bytes=settings.mail_max_mb * 1024 * 1024)
    return MailIntake(
        engine=engine,
        database_url=settings.resolved_database_url(),
        policy=MailboxPolicy(
            mailbox_address=settings.mailbox_address,
            form_url=settings.public_base_url.rstrip("/") + "/",
            processed_folder=settings.processed_folder,
            quarantine_folder=settings.quarantine_folder,
            limits=limits,
            review_days=settings.review_days,
            reply_max_per_hour=settings.autoreply_max_per_hour,
        ),
        intake=IntakeContext(qr_key=qr_key, templates=RenderedTemplates(settings.mailbox_address),
                             calibration=load_calibration(), trust_roots=settings.trust_roots()),
        raw_store=ImageStore(data / "mail", suffix=".eml"),
        image_store=ImageStore(data / "images"),
        lock_dir=data / "locks",
        jobs=settings.reader_jobs,
        child_limits=ChildLimits(
            seconds=settings.reader_seconds, memory_bytes=settings.reader_memory_mb * 1024 * 1024
        ),
        smtp=smtp_config(settings),
        follow_clock=True,
        min_free_bytes=settings.min_free_mb * 1024 * 1024,
        info_reminder_days=settings.info_reminder_days,
    )
