"""One poll pass over a mail folder in a process of its own, for the fault tests.

`python -m tests.intake.mail.faultrun CONFIG.json`, where the JSON names the
database, the data folder (`root`: raw mail in `mail/`, page images in
`images/`, as `intake poll` lays them out), the mail folder, and what goes
wrong: `crash_at` (a checkpoint of `intake.mail.mailbox`) on its
`crash_occurrence`-th time, or every time the pass reaches `crash_at` for the
message whose subject is `poison_subject` (a message that kills the poller),
with SIGKILL, as a power cut or the OOM killer would. A product error ends
the run as the command line does: one line on stderr and its exit code.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

from sqlmodel import Session

from forms import KopplingarError
from intake.mail import FolderMailbox
from kopplingar.logs import LogFormat, configure_logging
from registry import make_engine
from tests.intake.pollrun import mail_intake
from workqueue import InboundMessage


def main(path: str) -> int:
    conf = json.loads(Path(path).read_text())
    configure_logging(verbose=0, log_format=LogFormat.TEXT)  # as `kopplingar intake poll`
    engine = make_engine(conf["database_url"])
    mail = mail_intake(conf, engine)
    crash_at = conf.get("crash_at")
    occurrence = int(conf.get("crash_occurrence", 1))
    poison = conf.get("poison_subject")
    seen = {"n": 0}

    def die(step: str) -> None:
        print(f"faultrun: dying at {step}", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)

    def checkpoint(step: str, record_id: int) -> None:
        if step != crash_at:
            return
        if poison is not None:
            with Session(engine) as session:
                record = session.get(InboundMessage, record_id)
                if record is not None and record.subject == poison:
                    die(step)
            return
        seen["n"] += 1
        if seen["n"] == occurrence:
            die(step)

    source = FolderMailbox(Path(conf["inbox"]))
    try:
        with mail.readers() as pool:
            source.open()
            summary = mail.run_pass(source, pool, checkpoint=checkpoint)
            source.close()
    except KopplingarError as exc:
        print(f"kopplingar: {exc}", file=sys.stderr)
        return exc.exit_code
    print(f"faultrun: {summary.line()}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
