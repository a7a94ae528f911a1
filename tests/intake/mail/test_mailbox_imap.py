"""Exactly once against a real Dovecot: crashes, two pollers, UIDVALIDITY, dropped lines.

Every test ends by checking the same thing: each message once in the
database, each form once in the queue, each sender answered once, and the
mailbox with every message in Processed or Quarantine and none lost.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from devkit.localmail.smtp import LocalSmtp
from sqlalchemy import Engine

from intake.mail import ChildLimits, ImapMailbox, MailboxUnavailable, ReaderPool, ReaderSetup
from kopplingar.mailing import MailIntake
from samples.mail import torture_messages
from tests.intake.mailenv import MAILBOX, SCANS, MailEnv, make_env, message, scan
from tests.intake.tcpproxy import TcpProxy
from tests.mailboxes import MailboxUser
from workqueue import MessageState, OutboxState

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def env(engine: Engine, tmp_path: Path) -> MailEnv:
    return make_env(engine, tmp_path)


def _three(user: MailboxUser) -> dict[str, str]:
    """Two scans and a mail without one; returns sender -> expected form id ('' for none)."""
    user.deliver(message("anna@kund.se", "Blankett", [("a.pdf", scan("020-fax-pdf.pdf"))]))
    user.deliver(
        message("bo@kund.se", "Bortkoppling", [("b.jpg", scan("008-low-quality-jpeg.jpg"))])
    )
    user.deliver(message("cia@kund.se", "Glömde bilagan"))
    return {
        "anna@kund.se": SCANS["020-fax-pdf.pdf"],
        "bo@kund.se": SCANS["008-low-quality-jpeg.jpg"],
        "cia@kund.se": "",
    }


def _assert_exactly_once(env: MailEnv, user: MailboxUser, expected: dict[str, str]) -> None:
    messages = env.messages()
    assert sorted(m.sender or "" for m in messages) == sorted(expected)
    assert all(m.state is MessageState.PROCESSED for m in messages)
    assert all(m.moved_at is not None for m in messages)
    form_ids = Counter(s.form_id for s in env.submissions())
    assert form_ids == Counter(f for f in expected.values() if f)
    replies = Counter(m.recipient for m in env.outbox() if m.state is not OutboxState.SUPPRESSED)
    assert replies == Counter(list(expected))
    assert user.messages("INBOX") == []
    assert len(user.messages("Processed")) == len(expected)


def _run_child(
    env: MailEnv, user: MailboxUser, **crash: object
) -> subprocess.CompletedProcess[str]:
    config = dataclasses.asdict(user.config())
    config["ca_file"] = str(config["ca_file"])
    spec = {
        "root": str(env.root),
        "database_url": env.engine.url.render_as_string(hide_password=False),
        "mailbox": MAILBOX,
        "imap": config,
        **crash,
    }
    path = env.root / f"pollrun-{time.monotonic_ns()}.json"
    path.write_text(json.dumps(spec))
    return subprocess.run(
        [sys.executable, "-m", "tests.intake.pollrun", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def test_normal_flow_queues_moves_and_replies_by_smtp(
    env: MailEnv, mailbox_user: MailboxUser, tmp_path: Path
) -> None:
    expected = _three(mailbox_user)
    with ImapMailbox(mailbox_user.config()) as box:
        summary = env.run_pass(box)
    assert (summary.read, summary.processed, summary.moved) == (3, 3, 3)
    _assert_exactly_once(env, mailbox_user, expected)
    with LocalSmtp(tmp_path / "smtp") as smtp:
        mail = MailIntake(
            engine=env.engine,
            database_url="",
            policy=env.policy,
            intake=env.ctx,
            raw_store=env.raw_store,
            image_store=env.image_store,
            lock_dir=tmp_path,
            jobs=1,
            child_limits=ChildLimits(),
            smtp=smtp.config(),
        )
        report = mail.deliver_replies()
        assert report is not None and report.sent == 3
        received = smtp.wait_for(3)
    by_to = {str(m["To"]): m for m in received}
    assert set(by_to) == set(expected)
    receipt = by_to["anna@kund.se"]
    assert receipt["Auto-Submitted"] == "auto-replied"
    assert receipt["In-Reply-To"]
    assert "\n" not in str(receipt["Subject"])


@pytest.mark.parametrize(
    "crash",
    [
        {"crash_at": "recorded", "crash_occurrence": 2},
        {"crash_at": "scanned", "crash_occurrence": 1},
        {"crash_at": "committed", "crash_occurrence": 2},
        {"crash_at": "moving", "crash_occurrence": 1},
        {"crash_at": "moved", "crash_occurrence": 3},
        {"kill_child": True},
    ],
    ids=lambda c: str(c.get("crash_at", "child")),
)
def test_a_kill_at_any_step_then_a_new_run_ends_exactly_once(
    env: MailEnv, mailbox_user: MailboxUser, crash: dict[str, object]
) -> None:
    expected = _three(mailbox_user)
    first = _run_child(env, mailbox_user, **crash)
    if "crash_at" in crash:
        assert first.returncode == -9, first.stdout + first.stderr
        assert "dying at" in first.stdout
    else:
        assert first.returncode == 0, first.stdout + first.stderr
        assert "killing reader" in first.stdout
    second = _run_child(env, mailbox_user)
    assert second.returncode == 0, second.stdout + second.stderr
    _assert_exactly_once(env, mailbox_user, expected)


def test_two_pollers_started_together_process_each_message_once(
    env: MailEnv, mailbox_user: MailboxUser
) -> None:
    expected = _three(mailbox_user)
    results: list[subprocess.CompletedProcess[str]] = []
    threads = [
        threading.Thread(target=lambda: results.append(_run_child(env, mailbox_user)))
        for _ in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.returncode for r in results) in ([0, 0], [0, 75]), [r.stdout for r in results]
    _assert_exactly_once(env, mailbox_user, expected)


def test_a_uidvalidity_reset_loses_nothing_and_duplicates_nothing(
    env: MailEnv, mailbox_user: MailboxUser
) -> None:
    expected = _three(mailbox_user)

    class CrashError(Exception):
        pass

    def die_after_first_record(step: str, _message: int) -> None:
        if step == "recorded":
            raise CrashError

    with ImapMailbox(mailbox_user.config()) as box, pytest.raises(CrashError):
        env.run_pass(box, checkpoint=die_after_first_record)
    assert [m.state for m in env.messages()] == [MessageState.RECEIVED]
    with ImapMailbox(mailbox_user.config()) as box:
        before = box.uidvalidity()
    mailbox_user.dovecot.reset_uidvalidity(mailbox_user.username)
    with ImapMailbox(mailbox_user.config()) as box:
        assert box.uidvalidity() != before
        env.run_pass(box)
    _assert_exactly_once(env, mailbox_user, expected)

    # A person moves a processed message back into the inbox: moved out again, nothing new.
    again = mailbox_user.messages("Processed")[0]
    mailbox_user.deliver(again)
    with ImapMailbox(mailbox_user.config()) as box:
        summary = env.run_pass(box)
    assert (summary.read, summary.skipped, summary.moved) == (0, 1, 1)
    assert len(env.messages()) == 3
    assert mailbox_user.messages("INBOX") == []


def test_a_connection_dropped_mid_fetch_is_resumed(env: MailEnv, mailbox_user: MailboxUser) -> None:
    expected = _three(mailbox_user)
    config = mailbox_user.config()
    with TcpProxy(config.host, config.port) as proxy:
        box = ImapMailbox(dataclasses.replace(config, port=proxy.port), backoff=0.05)
        box.open()
        # Cut while the first message (a 21 kB scan) is on its way.
        proxy.cut_after(8_000)
        summary = env.run_pass(box)
        box.close()
        assert proxy.cuts >= 1
    assert summary.reconnects >= 1
    _assert_exactly_once(env, mailbox_user, expected)


def test_a_pass_gives_up_with_a_temporary_failure_when_the_server_stays_away(
    env: MailEnv, mailbox_user: MailboxUser
) -> None:
    mailbox_user.deliver(message("anna@kund.se", "Blankett"))
    config = mailbox_user.config()
    with TcpProxy(config.host, config.port) as proxy:
        box = ImapMailbox(dataclasses.replace(config, port=proxy.port), retries=1, backoff=0.01)
        box.open()
        proxy.close()
        with pytest.raises(MailboxUnavailable) as failure:
            env.run_pass(box)
        assert failure.value.exit_code == 75
    # Nothing was lost: the message is still there for the next run.
    assert len(mailbox_user.messages("INBOX")) == 1


def test_hostile_mail_is_recorded_and_the_poller_survives(
    env: MailEnv, mailbox_user: MailboxUser
) -> None:
    cases = torture_messages(mailbox=MAILBOX, scan=scan("020-fax-pdf.pdf"))
    assert len(cases) >= 15
    for case in cases:
        mailbox_user.deliver(case.raw)
    mailbox_user.deliver(
        message("frisk@kund.se", "Blankett", [("ok.pdf", scan("012-office-pdf.pdf"))])
    )
    setup = ReaderSetup(
        ctx=env.ctx, database_url=env.engine.url.render_as_string(hide_password=False)
    )
    started = time.monotonic()
    with (
        ReaderPool(setup, jobs=2, limits=ChildLimits(seconds=5)) as pool,
        ImapMailbox(mailbox_user.config()) as box,
    ):
        summary = env.run_pass(box, pool)
    elapsed = time.monotonic() - started
    assert summary.read == len(cases) + 1
    assert mailbox_user.messages("INBOX") == []
    messages = env.messages()
    assert len(messages) == len(cases) + 1
    states = Counter(m.state.value for m in messages)
    assert states["quarantined"] == sum(c.expect == "quarantined" for c in cases)
    assert len(mailbox_user.messages("Quarantine")) == states["quarantined"]
    assert len(mailbox_user.messages("Processed")) == states["processed"]
    # The good form among them was queued.
    assert SCANS["012-office-pdf.pdf"] in {s.form_id for s in env.submissions()}
    # Everything received is stored; a message over the size cap keeps its header.
    assert all(m.sha256 in env.raw_store for m in messages)
    by_sha = {m.sha256: m for m in messages}
    answered = {m.inbound_message_id for m in env.outbox()}
    checked = 0
    for case in cases:
        record = by_sha.get(hashlib.sha256(case.raw).hexdigest())
        if record is None:  # over the size cap: its sha256 is the header's
            continue
        checked += 1
        assert record.state.value == case.expect, case.name
        assert (record.id in answered) == case.expect_reply, case.name
    # Dovecot stores bare-LF messages with CRLF, so those few cannot be matched by hash.
    assert checked >= 20
    assert elapsed < 240, f"torture pass took {elapsed:.0f} s"
