"""`kopplingar demo --no-serve`: the README's first command gives a queue worth reviewing.

A demo whose every submission carries the same false alarms teaches reviewers
to ignore findings. The sample mail is the corpus's, sealed with the samples'
QR key and signed before the corpus's date, so the demo reads it with that
key, as of that day, against forms issued before it: what remains is the
corpus's own problems (unsigned forms, numbers changed by hand, an unknown
client) on some submissions, and the rest clean.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
NOISE = ("qr.invalid", "date.too_old", "date.before_issue")


def test_the_demo_queue_has_no_false_alarms_and_real_problems_on_some(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("KOPPLINGAR_") and k != "DATABASE_URL"}
    env["KOPPLINGAR_DATA_DIR"] = str(tmp_path / "data")
    done = subprocess.run([sys.executable, "-m", "kopplingar.cli", "demo", "--no-serve"],
                          env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    db = sqlite3.connect(tmp_path / "data" / "kopplingar.db")
    try:
        codes = dict(db.execute(
            "select code, count(distinct submission_id) from submission_findings "
            "group by code").fetchall())
        total, blocked = db.execute(
            "select count(*), sum(blocking_findings > 0) from submissions").fetchone()
    finally:
        db.close()
    assert not {c: codes[c] for c in NOISE if c in codes}
    assert total >= 10 and 0 < blocked < total
    assert codes.get("signature.missing") and codes.get("value.changed")
