"""The mailbox under repeated faults: poller kills, a broken data folder, a person's retry.

The kill tests run each pass in a process of its own (`faultrun`), killed
with SIGKILL at a chosen step, over a real mail folder (`intake poll
--folder`), with the real reader processes. Every test ends by checking
that each good form is queued once and only what was itself at fault is in
quarantine.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from intake.errors import StorageUnavailable
from intake.mail import FolderMailbox
from intake.mail.storage import check_storage
from registry import AuditEvent
from tests.intake.mailenv import MAILBOX, MailEnv, make_env, message, scan
from workqueue import InboundAttachment, MessageState, ReasonCode

ROOT = Path(__file__).resolve().parents[3]
FORMS = ["020-fax-pdf.pdf", "009-fax-pdf.pdf", "012-office-pdf.pdf", "023-office-pdf.pdf"]


@pytest.fixture
def env(engine: Engine, tmp_path: Path) -> MailEnv:
    return make_env(engine, tmp_path / "data")


def _inbox(tmp_path: Path) -> Path:
    inbox = tmp_path / "inbox"
    inbox.mkdir(exist_ok=True)
    return inbox


def _drop(inbox: Path, name: str, raw: bytes) -> None:
    (inbox / f"{name}.eml").write_bytes(raw)


def _form_mail(name: str) -> bytes:
    return message(f"{name[:3]}@kund.se", f"Blankett {name}", [(name, scan(name))])


def _run(env: MailEnv, inbox: Path, **fault: object) -> subprocess.CompletedProcess[str]:
    spec = {
        "root": str(env.root),
        "database_url": env.engine.url.render_as_string(hide_password=False),
        "mailbox": MAILBOX,
        "inbox": str(inbox),
        **fault,
    }
    path = env.root.parent / f"faultrun-{time.monotonic_ns()}.json"
    path.write_text(json.dumps(spec))
    return subprocess.run(
        [sys.executable, "-m", "tests.intake.mail.faultrun", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def _queued_once(env: MailEnv, names: list[str]) -> None:
    """Each of these files is in the queue exactly once."""
    expected = Counter(hashlib.sha256(scan(n)).hexdigest() for n in names)
    assert Counter(s.source_sha256 for s in env.submissions()) == expected


def _by_subject(env: MailEnv) -> dict[str, MessageState]:
    return {m.subject or "": m.state for m in env.messages()}


def _break_images(images: Path) -> None:
    """Page images cannot be written, while the folder itself still takes a file.

    Root ignores permissions, so chmod proves nothing here: a file stands where
    each of the store's two-letter sub-folders would go, and every write of a
    page image fails with a real OSError, deep in the pass.
    """
    if images.exists():
        images.rename(images.with_name("images.kept"))
    images.mkdir(parents=True)
    for n in range(256):
        (images / f"{n:02x}").write_bytes(b"")


def _mend_images(images: Path) -> None:
    shutil.rmtree(images)
    kept = images.with_name("images.kept")
    if kept.exists():
        kept.rename(images)


@pytest.mark.slow
def test_a_message_that_kills_the_poller_is_quarantined_alone(env: MailEnv, tmp_path: Path) -> None:
    inbox = _inbox(tmp_path)
    _drop(inbox, "1", _form_mail(FORMS[0]))
    _drop(inbox, "2", _form_mail(FORMS[1]))
    _drop(inbox, "3", message("gift@kund.se", "GIFT", [("gift.pdf", scan(FORMS[3]))]))
    _drop(inbox, "4", _form_mail(FORMS[2]))
    _drop(inbox, "5", message("utan@kund.se", "Ingen bilaga"))
    runs = [_run(env, inbox, crash_at="scanned", poison_subject="GIFT") for _ in range(5)]
    codes = [r.returncode for r in runs]
    # KilledError in the batch (nobody charged), then three times with the poison alone;
    # the fifth run sets it aside and finishes.
    assert codes == [-9, -9, -9, -9, 0], [r.stdout + r.stderr for r in runs]
    _queued_once(env, FORMS[:3])
    states = _by_subject(env)
    assert states.pop("GIFT") is MessageState.QUARANTINED
    assert set(states.values()) == {MessageState.PROCESSED}
    [poison] = [m for m in env.messages() if m.subject == "GIFT"]
    assert poison.attempts == 3 and poison.reason_code == ReasonCode.KEPT_FAILING
    # The neighbours were through before the poison's second try: run 2 finished them.
    assert "2 read" not in runs[1].stdout
    box = FolderMailbox(inbox)
    assert len(box.folder_files("Processed")) == 4
    assert len(box.folder_files("Quarantine")) == 1
    assert all("Traceback" not in r.stderr for r in runs)


@pytest.mark.slow
def test_three_kills_then_three_storage_faults_then_a_healthy_run(
    env: MailEnv, tmp_path: Path
) -> None:
    """The issue's fault test: nothing lost, nothing duplicated, nobody blamed for our faults."""
    inbox = _inbox(tmp_path)
    for i, name in enumerate(FORMS[:3]):
        _drop(inbox, f"{i}", _form_mail(name))
    _drop(inbox, "3", message("utan@kund.se", "Ingen bilaga"))
    _drop(inbox, "4", message("zip@kund.se", "Arkiv", [("arkiv.pdf", b"PK\x03\x04" + b"0" * 300)]))
    _drop(inbox, "5", b"")  # empty: quarantined for its own fault
    kills = [
        _run(env, inbox, crash_at="scanned", crash_occurrence=2),  # in the batch
        _run(env, inbox, crash_at="working", crash_occurrence=1),  # a suspect, alone
        _run(env, inbox, crash_at="committed", crash_occurrence=1),
    ]
    assert [k.returncode for k in kills] == [-9, -9, -9], [k.stdout + k.stderr for k in kills]
    # New mail arrives while the images folder is broken.
    _drop(inbox, "6", _form_mail(FORMS[3]))
    images = env.root / "images"
    _break_images(images)
    charged = {m.id: m.attempts for m in env.messages()}
    faults = [_run(env, inbox) for _ in range(3)]
    for fault in faults:
        assert fault.returncode == 75, fault.stdout + fault.stderr
        lines = fault.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("kopplingar: the data folder failed")
        assert "Traceback" not in fault.stderr
    # Our fault: no message charged for it (the kills before may have charged one or two).
    assert {m.id: m.attempts for m in env.messages() if m.id in charged} == charged
    assert max(charged.values()) < env.policy.max_attempts
    _mend_images(images)
    healthy = _run(env, inbox)
    assert healthy.returncode == 0, healthy.stdout + healthy.stderr
    assert "Traceback" not in healthy.stderr
    _queued_once(env, FORMS)
    states = _by_subject(env)
    quarantined = [m for m in env.messages() if m.state is MessageState.QUARANTINED]
    assert [m.size for m in quarantined] == [0], "only the empty message, for its own fault"
    assert all(s is MessageState.PROCESSED for subject, s in states.items() if subject)
    assert all(m.moved_at is not None for m in env.messages())
    assert FolderMailbox(inbox).uids() == []
    # The rejected archive is recorded as what it was (finding: size and sha256 kept).
    with Session(env.engine) as session:
        [rejected] = session.exec(
            select(InboundAttachment).where(InboundAttachment.filename == "arkiv.pdf")
        ).all()
    data = b"PK\x03\x04" + b"0" * 300
    assert (rejected.size, rejected.sha256) == (len(data), hashlib.sha256(data).hexdigest())
    assert rejected.reason_code == ReasonCode.NOT_A_SCAN and rejected.reason_sv


def test_a_storage_fault_charges_no_message_and_the_next_run_reads_it(
    env: MailEnv, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    inbox = _inbox(tmp_path)
    _drop(inbox, "1", _form_mail(FORMS[0]))
    images = env.root / "images"
    _break_images(images)
    for _ in range(4):  # more than max_attempts: still nobody's fault but ours
        with FolderMailbox(inbox) as box, pytest.raises(StorageUnavailable) as fault:
            env.run_pass(box)
        assert fault.value.exit_code == os.EX_TEMPFAIL
        assert "Errno" not in fault.value.message and "\n" not in fault.value.message
    [record] = env.messages()
    assert record.state is MessageState.RECEIVED and record.attempts == 0
    assert record.working_since is None and record.reading_since is None
    _mend_images(images)
    with FolderMailbox(inbox) as box:
        summary = env.run_pass(box)
    assert (summary.processed, summary.quarantined) == (1, 0)
    _queued_once(env, FORMS[:1])


def test_a_pass_refuses_to_start_without_a_writable_data_folder_or_free_space(
    env: MailEnv, tmp_path: Path
) -> None:
    inbox = _inbox(tmp_path)
    _drop(inbox, "1", _form_mail(FORMS[0]))
    images = env.root / "images"
    images.parent.mkdir(parents=True, exist_ok=True)
    images.write_bytes(b"")  # a file where the folder should be
    with pytest.raises(StorageUnavailable) as unwritable:
        check_storage([env.raw_store.root, images], 0)
    assert "cannot be written" in unwritable.value.message
    images.unlink()
    with pytest.raises(StorageUnavailable) as full:
        check_storage([env.raw_store.root, images], 1 << 60)
    assert (
        "under the minimum" in full.value.message and "KOPPLINGAR_MIN_FREE_MB" in full.value.message
    )
    check_storage([env.raw_store.root, images], 1024)
    # Refused before anything was read: the message is not even recorded.
    from intake.mail.mailbox import MailboxPass
    from tests.intake.mailenv import InProcessScanner

    with FolderMailbox(inbox) as box, pytest.raises(StorageUnavailable):
        MailboxPass(
            box,
            env.engine,
            policy=env.policy,
            intake=env.ctx,
            scanner=InProcessScanner(env.engine, env.ctx),
            raw_store=env.raw_store,
            image_store=env.image_store,
            min_free_bytes=1 << 60,
        ).run()
    assert env.messages() == []


def test_a_quarantined_message_moved_back_by_hand_is_tried_once_more(
    env: MailEnv, tmp_path: Path
) -> None:
    inbox = _inbox(tmp_path)
    _drop(inbox, "1", _form_mail(FORMS[0]))
    images = env.root / "images"

    class KilledError(Exception):
        pass

    def die(step: str, _record: int) -> None:
        if step == "scanned":
            raise KilledError

    for _ in range(4):  # killed in a batch, then three times alone: quarantined
        with FolderMailbox(inbox) as box, pytest.raises(KilledError):
            env.run_pass(box, checkpoint=die)
    with FolderMailbox(inbox) as box:
        env.run_pass(box)
    [record] = env.messages()
    assert record.state is MessageState.QUARANTINED
    [kept] = FolderMailbox(inbox).folder_files("Quarantine")
    # A person moves it back to the inbox: one more try, recorded in the audit log.
    kept.rename(inbox / kept.name)
    with FolderMailbox(inbox) as box:
        summary = env.run_pass(box)
    [record] = env.messages()
    assert record.state is MessageState.PROCESSED, record.detail
    assert summary.processed == 1 and summary.quarantined == 0
    _queued_once(env, FORMS[:1])
    assert len(FolderMailbox(inbox).folder_files("Processed")) == 1
    with Session(env.engine) as session:
        events = session.exec(select(AuditEvent).where(AuditEvent.action == "mail.moved_back"))
        assert [e.subject for e in events] == [f"inbound_message:{record.id}"]
    assert images.is_dir()


def test_a_released_message_that_fails_again_goes_back_after_one_try(
    env: MailEnv, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    inbox = _inbox(tmp_path)
    _drop(inbox, "1", _form_mail(FORMS[0]))
    _drop(inbox, "2", _form_mail(FORMS[1]))

    class KilledError(Exception):
        pass

    poison: set[int] = set()

    def die(step: str, record: int) -> None:
        if step == "scanned" and (not poison or record in poison):
            poison.add(record)
            raise KilledError

    for _ in range(4):
        with FolderMailbox(inbox) as box, pytest.raises(KilledError):
            env.run_pass(box, checkpoint=die)
    with FolderMailbox(inbox) as box:
        env.run_pass(box)
    [bad] = [m for m in env.messages() if m.state is MessageState.QUARANTINED]
    assert bad.id in poison
    # A reviewer releases it (what workqueue.quarantine.release_message writes); it stays
    # in the Quarantine folder and is read from its stored bytes.
    with Session(env.engine) as session:
        record = session.get(type(bad), bad.id)
        assert record is not None
        record.state, record.attempts = MessageState.RECEIVED, 0
        record.released_at = record.recorded_at
        session.add(record)
        session.commit()
    with FolderMailbox(inbox) as box, pytest.raises(KilledError):
        env.run_pass(box, checkpoint=die)  # it fails again, alone
    with FolderMailbox(inbox) as box:
        summary = env.run_pass(box, checkpoint=die)
    [again] = [m for m in env.messages() if m.id == bad.id]
    assert again.state is MessageState.QUARANTINED and summary.quarantined == 1
    # Released once more and this time healthy: processed from its stored bytes.
    with Session(env.engine) as session:
        record = session.get(type(bad), bad.id)
        assert record is not None
        record.state, record.attempts = MessageState.RECEIVED, 0
        record.released_at = record.recorded_at
        session.add(record)
        session.commit()
    with FolderMailbox(inbox) as box:
        summary = env.run_pass(box)
    [done] = [m for m in env.messages() if m.id == bad.id]
    assert done.state is MessageState.PROCESSED and summary.processed == 1
    # And filed: out of Quarantine, into Processed, found there by its bytes.
    box = FolderMailbox(inbox)
    assert box.folder_files("Quarantine") == [] and len(box.folder_files("Processed")) == 2
    assert done.destination == "Processed" and summary.moved == 1
    _queued_once(env, FORMS[:2])
    assert not any(r.levelno >= logging.ERROR for r in caplog.records)
