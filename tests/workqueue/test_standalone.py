"""The queue works in a process that never loads the reviewer pages (the mailbox readers)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_submissions_resolve_their_reviewer_keys_without_review() -> None:
    # A submission's claimed_by and decided_by point at reviewers: the queue must know that
    # table by itself, or every flush in an intake-only process fails.
    script = textwrap.dedent(
        """
        import sys
        import intake, workqueue
        tables = [t.name for t in workqueue.QUEUE_METADATA.sorted_tables]
        assert "review" not in sys.modules, "intake or workqueue loaded review"
        assert tables.index("reviewers") < tables.index("submissions"), tables
        print("ok")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
