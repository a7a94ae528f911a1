"""`kopplingar intake poll` and `intake watch` as cron and systemd run them: exit codes, lines.

Each test runs the installed command in a process of its own against the
test's database and, where it says so, the session's Dovecot.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from devkit.localmail.smtp import LocalSmtp
from sqlalchemy import Engine

from kopplingar.database import upgrade_all
from registry import make_engine
from tests.intake.mailenv import message, scan
from tests.kopplingar.child import CLI, kopplingar
from tests.mailboxes import MailboxUser

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


def _env(engine: Engine, tmp_path: Path, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KOPPLINGAR_")}
    env.update(
        {
            "KOPPLINGAR_DATA_DIR": str(tmp_path / "data"),
            "KOPPLINGAR_DATABASE_URL": engine.url.render_as_string(hide_password=False),
            "KOPPLINGAR_READER_JOBS": "1",
            **{f"KOPPLINGAR_{k.upper()}": v for k, v in settings.items()},
        }
    )
    return env


def _imap(user: MailboxUser, **changes: str) -> dict[str, str]:
    config = user.config()
    return {
        "imap_host": config.host,
        "imap_port": str(config.port),
        "imap_username": config.username,
        "imap_password": config.password or "",
        "imap_ca_file": str(config.ca_file),
        **changes,
    }


def test_poll_a_folder_prints_a_summary_and_exits_0(engine: Engine, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "1.eml").write_bytes(message("anna@kund.se", "Blankett"))
    done = kopplingar(
        "intake", "poll", "--folder", str(inbox), env=_env(engine, tmp_path), cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert "1 read, 0 queued" in done.stdout and "1 moved" in done.stdout
    assert "waiting in the outbox" in done.stderr
    assert (inbox / "Processed" / "1.eml").exists()


def test_poll_with_a_broken_image_folder_exits_75_in_one_line_and_charges_nobody(
    engine: Engine, tmp_path: Path
) -> None:
    # Root ignores permissions, so the images folder is broken the way a full or
    # read-only disk breaks it for everyone: a file stands where each of its
    # two-letter sub-folders would go.
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    form = "020-fax-pdf.pdf"
    (inbox / "1.eml").write_bytes(message("anna@kund.se", "Blankett", [(form, scan(form))]))
    images = tmp_path / "data" / "images"
    images.mkdir(parents=True)
    for n in range(256):
        (images / f"{n:02x}").write_bytes(b"")
    env = _env(engine, tmp_path)
    for _ in range(4):  # more runs than the attempts a message is allowed
        broken = kopplingar("intake", "poll", "--folder", str(inbox), env=env, cwd=tmp_path)
        assert broken.returncode == 75, broken.stderr
        assert "Traceback" not in broken.stderr
        [line] = broken.stderr.strip().splitlines()
        assert line.startswith("kopplingar: the data folder failed"), line
        assert (inbox / "1.eml").exists()
    for entry in images.iterdir():
        entry.unlink()
    healthy = kopplingar("intake", "poll", "--folder", str(inbox), env=env, cwd=tmp_path)
    assert healthy.returncode == 0, healthy.stderr
    assert "1 queued" in healthy.stdout and "0 quarantined" in healthy.stdout, healthy.stdout
    assert (inbox / "Processed" / "1.eml").exists()


@pytest.fixture
def sqlite_only(tmp_path: Path) -> Iterator[Engine]:
    """For the tests where the database is not what is being tested."""
    engine = make_engine(f"sqlite:///{tmp_path / 'cli.db'}")
    upgrade_all(engine)
    yield engine
    engine.dispose()


def test_poll_without_a_mailbox_is_a_configuration_error(
    sqlite_only: Engine, tmp_path: Path
) -> None:
    done = kopplingar("intake", "poll", env=_env(sqlite_only, tmp_path), cwd=tmp_path)
    assert done.returncode == 78
    assert "KOPPLINGAR_IMAP_HOST" in done.stderr


def test_poll_exit_codes_say_what_happened(
    engine: Engine, tmp_path: Path, mailbox_user: MailboxUser
) -> None:
    refused = kopplingar(
        "intake",
        "poll",
        env=_env(engine, tmp_path, **_imap(mailbox_user, imap_password="wrong")),
        cwd=tmp_path,
    )
    assert refused.returncode == 77, refused.stderr
    plain = kopplingar(
        "intake",
        "poll",
        env=_env(engine, tmp_path, **_imap(mailbox_user, imap_security="plain")),
        cwd=tmp_path,
    )
    assert plain.returncode == 78, plain.stderr
    with LocalSmtp(tmp_path / "smtp") as smtp:
        mailbox_user.deliver(message("anna@kund.se", "Blankett"))
        smtp_settings = {
            "smtp_host": smtp.host,
            "smtp_port": str(smtp.port),
            "smtp_ca_file": str(smtp.ca_file),
        }
        ok = kopplingar(
            "intake",
            "poll",
            env=_env(engine, tmp_path, **_imap(mailbox_user), **smtp_settings),
            cwd=tmp_path,
        )
        assert ok.returncode == 0, ok.stderr
        assert "1 read" in ok.stdout
        assert "replies: 1 sent" in ok.stderr
        [reply] = smtp.wait_for(1)
        assert reply["To"] == "anna@kund.se"
    assert len(mailbox_user.messages("Processed")) == 1


def test_poll_of_an_unreachable_server_exits_75(sqlite_only: Engine, tmp_path: Path) -> None:
    done = kopplingar(
        "intake",
        "poll",
        env=_env(
            sqlite_only,
            tmp_path,
            imap_host="127.0.0.1",
            imap_port="9",
            imap_username="k",
            imap_password="p",
        ),
        cwd=tmp_path,
    )
    assert done.returncode == 75, done.stderr
    assert "127.0.0.1:9" in done.stderr


def test_watch_reads_new_mail_at_once_and_stops_on_sigterm(
    engine: Engine, tmp_path: Path, mailbox_user: MailboxUser
) -> None:
    env = _env(
        engine,
        tmp_path,
        **_imap(mailbox_user),
        watch_idle_seconds="120",
        watch_poll_seconds="120",
    )
    mailbox_user.deliver(message("forst@kund.se", "Först"))
    watcher = subprocess.Popen(
        [*CLI, "intake", "watch"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert watcher.stdout is not None
        first = watcher.stdout.readline()
        assert "1 read" in first, first
        # Now idle: a new message is read within seconds, not at the next periodic pass.
        delivered = time.monotonic()
        mailbox_user.deliver(message("sedan@kund.se", "Sedan"))
        second = watcher.stdout.readline()
        assert "1 read" in second, second
        assert time.monotonic() - delivered < 30
        # Idle now: SIGTERM ends the IDLE wait at once, not at the end of its 30 s slice.
        stopping = time.monotonic()
        watcher.send_signal(signal.SIGTERM)
        assert watcher.wait(timeout=60) == 0
        assert time.monotonic() - stopping < 15
    finally:
        if watcher.poll() is None:
            watcher.kill()
            watcher.wait()
        for stream in (watcher.stdout, watcher.stderr):
            if stream is not None:
                stream.close()
    assert len(mailbox_user.messages("Processed")) == 2
