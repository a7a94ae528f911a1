"""What the mailbox tests share: a registry with the corpus's issued forms, mail, a pass.

`MailEnv` holds a migrated database with the sample registry and the
committed corpus's issued forms, the stores, and the policy; `run_pass`
runs one real `MailboxPass`. The scanner is the real reader, either in this
process (fast to start, for the flow tests) or the real `ReaderPool` (for
the tests about child processes).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import Session, col, func, select

from intake.mail.mailbox import (
    Checkpoint,
    MailboxPass,
    MailboxPolicy,
    MailSource,
    PollSummary,
    Scanner,
)
from intake.mail.workers import ReadFailure
from intake.scan.pipeline import IntakeContext, ScannedFile, lookup_in, scan_file
from kopplingar.templates import RenderedTemplates
from registry import import_registry
from samples import REGISTRY_JSON, SAMPLE_QR_KEY
from samples.scans import CORPUS_DIR, REFERENCE_DATE, record_issued
from workqueue import ImageStore, InboundMessage, OutboundMail, Submission

MAILBOX = "kopplingar@example.se"
# Small single-form scans from the committed corpus, with their form ids.
SCANS = {
    "020-fax-pdf.pdf": "FBMEX00QGB",
    "012-office-pdf.pdf": "YSH2JFKYVH",
    "008-low-quality-jpeg.jpg": "DENPDNFVWR",
}


def scan(name: str) -> bytes:
    return (CORPUS_DIR / name).read_bytes()


def message(
    sender: str,
    subject: str,
    attachments: Sequence[tuple[str, bytes]] = (),
    *,
    headers: dict[str, str] | None = None,
    body: str = "Hej! Här kommer blanketten.\n",
) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = MAILBOX
    msg["Subject"] = subject
    msg["Date"] = format_datetime(dt.datetime(2026, 1, 20, 9, 30, tzinfo=dt.UTC))
    msg["Message-ID"] = make_msgid(domain="exempel.se")
    for key, value in (headers or {}).items():
        msg[key] = value
    msg.set_content(body)
    for name, data in attachments:
        if name.endswith(".pdf"):
            msg.add_attachment(data, maintype="application", subtype="pdf", filename=name)
        else:
            msg.add_attachment(data, maintype="image", subtype="jpeg", filename=name)
    return bytes(msg)


class InProcessScanner:
    """The real reader, run in this process (no child start-up cost)."""

    def __init__(self, engine: Engine, ctx: IntakeContext) -> None:
        self.engine = engine
        self.ctx = ctx
        self.calls = 0

    def scan_many(self, items: Sequence[tuple[bytes, str]]) -> list[ScannedFile | ReadFailure]:
        self.calls += len(items)
        with Session(self.engine) as session:
            return [scan_file(d, n, self.ctx, lookup_in(session)) for d, n in items]


@dataclass
class MailEnv:
    engine: Engine
    root: Path
    ctx: IntakeContext
    policy: MailboxPolicy
    raw_store: ImageStore
    image_store: ImageStore

    def run_pass(
        self,
        source: MailSource,
        scanner: Scanner | None = None,
        *,
        checkpoint: Checkpoint | None = None,
        now: dt.datetime | None = None,
    ) -> PollSummary:
        clock = (lambda: now) if now else (lambda: dt.datetime.now(dt.UTC))
        return MailboxPass(
            source,
            self.engine,
            policy=self.policy,
            intake=self.ctx,
            scanner=scanner or InProcessScanner(self.engine, self.ctx),
            raw_store=self.raw_store,
            image_store=self.image_store,
            now=clock,
            checkpoint=checkpoint,
        ).run()

    def count(self, model: type[Submission] | type[InboundMessage] | type[OutboundMail]) -> int:
        with Session(self.engine) as session:
            return int(session.exec(select(func.count()).select_from(model)).one())

    def submissions(self) -> list[Submission]:
        with Session(self.engine) as session:
            return list(session.exec(select(Submission).order_by(col(Submission.id))).all())

    def messages(self) -> list[InboundMessage]:
        with Session(self.engine) as session:
            rows = session.exec(select(InboundMessage).order_by(col(InboundMessage.id)))
            return list(rows.all())

    def outbox(self) -> list[OutboundMail]:
        with Session(self.engine) as session:
            return list(session.exec(select(OutboundMail).order_by(col(OutboundMail.id))).all())


def make_env(engine: Engine, root: Path) -> MailEnv:
    with Session(engine) as session:
        import_registry(session, REGISTRY_JSON)
        record_issued(session, CORPUS_DIR)
        session.commit()
    return MailEnv(
        engine=engine,
        root=root,
        ctx=IntakeContext(
            qr_key=SAMPLE_QR_KEY, templates=RenderedTemplates(MAILBOX), today=REFERENCE_DATE
        ),
        policy=MailboxPolicy(mailbox_address=MAILBOX, form_url="https://kopplingar.example.se/"),
        raw_store=ImageStore(root / "mail", suffix=".eml"),
        image_store=ImageStore(root / "images"),
    )
