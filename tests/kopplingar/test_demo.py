"""`kopplingar demo --no-serve`: the README's first command gives a queue worth reviewing.

A demo whose every submission carries the same false alarms teaches reviewers
to ignore findings, and one where most submissions are broken teaches them
nothing about a normal day. The demo mail is the scan corpus's sample mail,
sealed with the samples' QR key and signed before the corpus's date, followed
by born-digital PDFs whose e-signatures chain to the digital corpus's root;
the demo reads it with that key and that root, as of that day, against forms
issued before it. What remains is a real Monday: mostly clean submissions
(some for "Godkänn rena ärenden"), and a few of each real problem (unsigned
forms, numbers changed by hand, an e-signature with a revoked certificate).

The demo runs once for the module (about 20-35 s on a loaded two-core box).
"""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlmodel import Session

from kopplingar.commands.demo import DEMO_REVIEWER
from review import clean_submissions, find_reviewer

pytestmark = pytest.mark.slow
NOISE = ("qr.invalid", "date.too_old", "date.before_issue")


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """The data directory after one `kopplingar demo --no-serve`, and what it printed."""
    tmp_path = tmp_path_factory.mktemp("demo")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("KOPPLINGAR_") and k != "DATABASE_URL"}
    env["KOPPLINGAR_DATA_DIR"] = str(tmp_path / "data")
    done = subprocess.run([sys.executable, "-m", "kopplingar.cli", "demo", "--no-serve"],
                          env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    yield tmp_path / "data", done.stdout


def _codes(data: Path) -> dict[str, int]:
    """Submissions per finding code."""
    db = sqlite3.connect(data / "kopplingar.db")
    try:
        return dict(db.execute(
            "select code, count(distinct submission_id) from submission_findings "
            "group by code").fetchall())
    finally:
        db.close()


def test_the_demo_queue_has_no_false_alarms_and_real_problems_on_some(
    demo_run: tuple[Path, str],
) -> None:
    data, _ = demo_run
    codes = _codes(data)
    db = sqlite3.connect(data / "kopplingar.db")
    try:
        total, blocked = db.execute(
            "select count(*), sum(blocking_findings > 0) from submissions").fetchone()
    finally:
        db.close()
    assert not {c: codes[c] for c in NOISE if c in codes}
    assert total >= 10 and 0 < blocked < total
    assert codes.get("signature.missing") and codes.get("value.changed")


def test_the_demo_queue_is_mostly_clean_with_a_few_of_each_problem(
    demo_run: tuple[Path, str],
) -> None:
    data, printed = demo_run
    db = sqlite3.connect(data / "kopplingar.db")
    try:
        total, blocked = db.execute(
            "select count(*), sum(blocking_findings > 0) from submissions "
            "where status = 'queued'").fetchone()
        esign_blocking = db.execute(
            "select count(distinct submission_id) from submission_findings "
            "where code like 'esign.%' and severity = 'blocking'").fetchone()[0]
    finally:
        db.close()
    assert total - blocked >= total / 2
    engine = create_engine(f"sqlite:///{data / 'kopplingar.db'}")
    try:
        with Session(engine) as session:
            reviewer = find_reviewer(session, DEMO_REVIEWER)
            assert reviewer is not None
            clean = clean_submissions(session, reviewer, now=dt.datetime.now(dt.UTC))
    finally:
        engine.dispose()
    assert len(clean) >= 3
    codes = _codes(data)
    assert codes.get("signature.missing") and codes.get("value.changed")
    assert esign_blocking >= 1 and codes.get("esign.revoked")
    assert codes.get("form.duplicate")
    # The operator is told the mix, as the page will show it.
    assert (f"review queue: {total} submissions to review: {len(clean)} clean" in printed
            and f"{blocked} with blocking findings" in printed)
