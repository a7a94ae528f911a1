"""One poll pass in a process of its own, which kills itself at a chosen step.

Used by the crash tests: `python -m tests.intake.pollrun CONFIG.json`, where
the JSON names the database, the data folder, the IMAP mailbox, and where to
die: `crash_at` (a checkpoint of `intake.mail.mailbox`: recorded, scanned,
committed, moving, moved) on its `crash_occurrence`-th time, with SIGKILL,
as a power cut or the OOM killer would; or `kill_child` to SIGKILL the
reader process of the first attachment once. Exit 0 after a full pass, 75
when another pass holds the mailbox.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from intake.mail import ChildLimits, ImapConfig, ImapMailbox, MailboxBusy, MailboxPolicy, MailLimits
from intake.scan import IntakeContext
from kopplingar.mailing import MailIntake
from kopplingar.templates import RenderedTemplates
from registry import make_engine
from samples import SAMPLE_QR_KEY
from samples.scans import REFERENCE_DATE
from workqueue import ImageStore


def mail_intake(conf: dict[str, Any], engine: Engine) -> MailIntake:
    """The mailbox intake `intake poll` builds, over the config's database and data folder.

    Shared with `tests.intake.mail.faultrun`: `root` holds raw mail in `mail/`,
    page images in `images/` and the locks; `reader_seconds` and `min_free_mb`
    are optional.
    """
    root = Path(conf["root"])
    return MailIntake(
        engine=engine,
        database_url=conf["database_url"],
        policy=MailboxPolicy(
            mailbox_address=conf["mailbox"],
            form_url="https://kopplingar.example.se/",
            limits=MailLimits(),
        ),
        intake=IntakeContext(
            qr_key=SAMPLE_QR_KEY,
            templates=RenderedTemplates(conf["mailbox"]),
            today=REFERENCE_DATE,
        ),
        raw_store=ImageStore(root / "mail", suffix=".eml"),
        image_store=ImageStore(root / "images"),
        lock_dir=root / "locks",
        jobs=1,
        child_limits=ChildLimits(seconds=conf.get("reader_seconds", 60)),
        smtp=None,
        min_free_bytes=int(conf.get("min_free_mb", 0)) * 1024 * 1024,
    )


def main(path: str) -> int:
    conf = json.loads(Path(path).read_text())
    engine = make_engine(conf["database_url"])
    mail = mail_intake(conf, engine)
    crash_at = conf.get("crash_at")
    occurrence = int(conf.get("crash_occurrence", 1))
    seen = {"n": 0}

    def checkpoint(step: str, _message: int) -> None:
        if step == crash_at:
            seen["n"] += 1
            if seen["n"] == occurrence:
                print(f"pollrun: dying at {step} #{occurrence}", flush=True)
                os.kill(os.getpid(), signal.SIGKILL)

    killed: set[int] = set()

    def on_start(task: int, pid: int) -> None:
        if conf.get("kill_child") and not killed:
            killed.add(pid)
            print(f"pollrun: killing reader {pid} on task {task}", flush=True)
            os.kill(pid, signal.SIGKILL)

    source = ImapMailbox(ImapConfig(**{**conf["imap"], "ca_file": Path(conf["imap"]["ca_file"])}))
    try:
        with mail.readers(on_start=on_start) as pool:
            source.open()
            summary = mail.run_pass(source, pool, checkpoint=checkpoint)
            source.close()
    except MailboxBusy as exc:
        print(f"pollrun: {exc.message}", flush=True)
        return exc.exit_code
    print(f"pollrun: {summary.line()} at {dt.datetime.now(dt.UTC):%H:%M:%S}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
