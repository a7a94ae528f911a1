"""The per-mailbox lock: one run at a time, across processes, released when the holder dies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine

from intake.mail import MailboxBusy, mailbox_lock
from registry import make_engine

HOLDER = """
import sys, time
from pathlib import Path
from intake.mail.lock import mailbox_lock
from registry import make_engine
engine = make_engine(sys.argv[1])
with mailbox_lock(engine, "imap://k@h:993/INBOX", lock_dir=Path(sys.argv[2])):
    print("held", flush=True)
    time.sleep(60)
"""


def test_second_holder_is_refused_until_the_first_lets_go(engine: Engine, tmp_path: Path) -> None:
    with mailbox_lock(engine, "imap://k@h:993/INBOX", lock_dir=tmp_path):
        with (
            pytest.raises(MailboxBusy) as busy,
            mailbox_lock(engine, "imap://k@h:993/INBOX", lock_dir=tmp_path),
        ):
            pass
        assert busy.value.exit_code == 75
        assert "another run" in busy.value.message
        # Another mailbox is another lock.
        with mailbox_lock(engine, "imap://k@h:993/Other", lock_dir=tmp_path):
            pass
    with mailbox_lock(engine, "imap://k@h:993/INBOX", lock_dir=tmp_path):
        pass


def test_lock_of_a_killed_process_is_free_at_once(db_url: str, tmp_path: Path) -> None:
    engine = make_engine(db_url)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, db_url, str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[3],
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        with (
            pytest.raises(MailboxBusy),
            mailbox_lock(engine, "imap://k@h:993/INBOX", lock_dir=tmp_path),
        ):
            pass
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(timeout=10)
        # PostgreSQL notices the closed connection a moment later, not never.
        deadline = time.monotonic() + 10
        while True:
            try:
                with mailbox_lock(engine, "imap://k@h:993/INBOX", lock_dir=tmp_path):
                    break
            except MailboxBusy:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()
        engine.dispose()
