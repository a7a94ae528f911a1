"""`kopplingar bench mailbox`: from the mailbox to the queue, timed, on this machine.

A local Dovecot (IMAPS) and a local SMTP server are started in a temporary
folder; `count` messages, each with one scanned form from the committed
corpus, are put in the inbox (every attachment made byte-distinct, so the
duplicate rule does not skip the reading); then one `poll` pass runs as cron
would run it, with the reader processes, and the replies are sent. Printed:
the wall time of the pass, messages per second, the share of that time spent
waiting for the readers, the time to send the replies; and, as the baseline
from the same run, the same attachments read one after another in this
process with `read_file` and no mailbox at all.

The two mail servers come from the development kit (`devkit.localmail`,
installed by `scripts/setup.sh test`), which the product wheel does not
carry; on a runtime-only install this command says so and exits 69.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import statistics
import tempfile
import time
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

from PIL import Image, PngImagePlugin
from sqlmodel import Session, func, select

from intake.mail import ChildLimits, ImapMailbox, MailboxPolicy, MailLimits
from intake.scan import IntakeContext, load_calibration, read_file
from kopplingar.database import upgrade_all
from kopplingar.errors import CliError
from kopplingar.mailing import MailIntake
from kopplingar.templates import RenderedTemplates
from registry import import_registry, make_engine
from samples import REGISTRY_JSON, SAMPLE_QR_KEY
from samples.scans import CORPUS_DIR, REFERENCE_DATE, load_truth, record_issued
from workqueue import ImageStore, Submission

MAILBOX = "kopplingar@example.se"
USER, PASSWORD = "kopplingar", "bench-password-1"


class DevkitMissing(CliError):  # noqa: N818
    """The local mail servers of the development kit are not installed."""

    exit_code = os.EX_UNAVAILABLE


def _distinct(data: bytes, fmt: str, n: int) -> bytes:
    """The same scan with a marker in its metadata: other bytes, same pixels."""
    tag = f"kopplingar bench {n}".encode()
    if fmt == "pdf":
        return data + b"\n%" + tag + b"\n"
    if fmt == "jpeg":
        # A COM segment right after SOI; decoders skip it.
        return data[:2] + b"\xff\xfe" + (len(tag) + 2).to_bytes(2, "big") + tag + data[2:]
    image = Image.open(io.BytesIO(data))
    out = io.BytesIO()
    if fmt == "png":
        info = PngImagePlugin.PngInfo()
        info.add_text("Comment", tag.decode())
        image.save(out, format="PNG", pnginfo=info)
    else:
        frames = []
        for index in range(getattr(image, "n_frames", 1)):
            image.seek(index)
            frames.append(image.copy())
        frames[0].save(
            out,
            format="TIFF",
            save_all=True,
            append_images=frames[1:],
            description=tag.decode(),
            compression="tiff_deflate",
        )
    return out.getvalue()


def _attachments(count: int) -> list[tuple[str, bytes]]:
    truth = load_truth(CORPUS_DIR)
    singles = [f for f in truth["files"] if len(f["documents"]) == 1]
    out = []
    for n in range(count):
        entry = singles[n % len(singles)]
        data = (CORPUS_DIR / entry["file"]).read_bytes()
        out.append((f"{n:04d}-{entry['file']}", _distinct(data, entry["format"], n)))
    return out


def _message(n: int, name: str, data: bytes) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"Kund {n} <kund{n}@exempelbolag{n % 40}.se>"
    msg["To"] = MAILBOX
    msg["Subject"] = f"Blankett {n}"
    msg["Date"] = format_datetime(dt.datetime(2026, 1, 20, 9, 0, tzinfo=dt.UTC))
    msg["Message-ID"] = make_msgid(domain=f"exempelbolag{n % 40}.se")
    msg.set_content("Hej! Här kommer den underskrivna blanketten.\n")
    subtype = {"pdf": "pdf"}.get(name.rsplit(".", 1)[-1], "octet-stream")
    maintype = "application" if subtype == "pdf" else "image"
    if maintype == "image":
        subtype = {"jpg": "jpeg", "jpeg": "jpeg", "png": "png", "tif": "tiff", "tiff": "tiff"}.get(
            name.rsplit(".", 1)[-1], "jpeg"
        )
    msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name.split("-", 1)[1])
    return bytes(msg)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run(count: int, jobs: int, database_url: str | None, baseline: bool) -> str:
    lines: list[str] = []
    try:
        from devkit.localmail.dovecot import LocalDovecot
        from devkit.localmail.smtp import LocalSmtp
    except ImportError as exc:
        raise DevkitMissing(
            f"bench mailbox needs the development kit's local mail servers ({exc.name} is "
            "missing): install it with bash scripts/setup.sh test"
        ) from None
    with tempfile.TemporaryDirectory(prefix="kopplingar-bench-mailbox-") as tmp:
        root = Path(tmp)
        url = database_url or f"sqlite:///{root / 'bench.db'}"
        engine = make_engine(url)
        upgrade_all(engine)
        with Session(engine) as session:
            import_registry(session, REGISTRY_JSON)
            record_issued(session, CORPUS_DIR)
            session.commit()
        attachments = _attachments(count)
        intake_ctx = IntakeContext(
            qr_key=SAMPLE_QR_KEY, templates=RenderedTemplates(MAILBOX), today=REFERENCE_DATE,
            calibration=load_calibration(),
        )
        with LocalDovecot(root / "dovecot") as dovecot, LocalSmtp(root / "smtp") as smtp:
            dovecot.add_user(USER, PASSWORD)
            start = time.perf_counter()
            for n, (name, data) in enumerate(attachments):
                dovecot.deliver(USER, _message(n, name, data))
            deliver_s = time.perf_counter() - start
            mail = MailIntake(
                engine=engine,
                database_url=url,
                policy=MailboxPolicy(
                    mailbox_address=MAILBOX,
                    form_url="http://127.0.0.1:8000/",
                    limits=MailLimits(),
                ),
                intake=intake_ctx,
                raw_store=ImageStore(root / "mail", suffix=".eml"),
                image_store=ImageStore(root / "images"),
                lock_dir=root / "locks",
                jobs=jobs,
                child_limits=ChildLimits(),
                smtp=smtp.config(),
            )
            source = ImapMailbox(dovecot.config(USER, PASSWORD))
            start = time.perf_counter()
            with mail.readers() as pool:
                pool.wait_ready()
                pool_s = time.perf_counter() - start
                source.open()
                pass_start = time.perf_counter()
                summary = mail.run_pass(source, pool)
                pass_s = time.perf_counter() - pass_start
                source.close()
            reply_start = time.perf_counter()
            report = mail.deliver_replies()
            reply_s = time.perf_counter() - reply_start
            with Session(engine) as session:
                queued = session.exec(select(func.count()).select_from(Submission)).one()
            processed = len(dovecot.folder_messages(USER, "Processed"))
            received = len(smtp.messages)
        lines.append(
            f"kopplingar bench mailbox: {count} messages, one scanned form each "
            f"(from {CORPUS_DIR.name}), local Dovecot over IMAPS, "
            f"{engine.dialect.name}, {jobs} reader process(es) on {os.cpu_count()} cores"
        )
        lines.append(f"  put in the inbox (APPEND, not timed below)   {deliver_s:8.1f} s")
        lines.append(f"  reader processes started                    {pool_s:8.1f} s")
        lines.append(
            f"  poll pass: mailbox -> queue -> Processed      {pass_s:8.1f} s"
            f"   {count / pass_s:6.2f} messages/s   {pass_s / count * 1000:6.0f} ms/message"
        )
        share = summary.reading_seconds / pass_s if pass_s else 0.0
        lines.append(
            f"    of which waiting for the readers          {summary.reading_seconds:8.1f} s"
            f"   {share:6.1%} of the pass"
        )
        lines.append(
            f"  replies sent by SMTP (STARTTLS)             {reply_s:8.1f} s"
            f"   {report.sent if report else 0} sent"
        )
        lines.append(
            f"  result: {summary.read} read, {queued} submissions queued, "
            f"{processed} in Processed, {received} replies received, "
            f"{summary.quarantined} quarantined"
        )
        if baseline:
            times = []
            with Session(engine) as session:
                for name, data in attachments:
                    t0 = time.perf_counter()
                    read_file(session, data, name, intake_ctx)
                    times.append(time.perf_counter() - t0)
            total = sum(times)
            lines.append(
                f"  baseline: the same {count} attachments read in this process with "
                f"read_file, one after another, no mail"
            )
            lines.append(
                f"    {total:8.1f} s   {count / total:6.2f} files/s   median "
                f"{statistics.median(times) * 1000:.0f} ms   p95 "
                f"{_percentile(times, 0.95) * 1000:.0f} ms per file"
            )
            lines.append(f"  whole mailbox pass / baseline reading: {pass_s / total:.2f}x")
        engine.dispose()
    return "\n".join(lines)
