"""`kopplingar bench review` as an operator runs it: a real process, a small queue.

On PostgreSQL too when TEST_DATABASE_URL is set; the fresh database the
benchmark creates must be gone afterwards.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from registry import make_engine

BENCH = [sys.executable, "-m", "kopplingar.cli", "bench", "review"]
COUNT = 300
REQUESTS = 5
ROW = re.compile(r"^(?P<label>\S.*?)\s+(?P<n>\d+)\s+(?P<median>\d+\.\d\d)\s+(?P<p95>\d+\.\d\d)$")


def _bench_databases(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            names = connection.execute(
                sa.text("SELECT datname FROM pg_database WHERE datname LIKE 'kopplingar_bench_%'")
            ).scalars()
            return set(names)
    finally:
        engine.dispose()


@pytest.mark.slow
def test_bench_review_times_every_page_kind_on_each_database(tmp_path: Path) -> None:
    pg_url = os.environ.get("TEST_DATABASE_URL")
    databases = ["--postgresql", pg_url] if pg_url else ["--no-postgresql"]
    before = _bench_databases(pg_url) if pg_url else set()
    result = subprocess.run(
        [*BENCH, "--count", str(COUNT), "--requests", str(REQUESTS), *databases],
        cwd=tmp_path,
        env=os.environ | {"KOPPLINGAR_DATA_DIR": str(tmp_path / "data")},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    parts = result.stdout.split("\n\n")[1:]
    sections = [p for p in parts if "queued, seeded" in p]
    deciding = [p for p in parts if ": deciding" in p]
    assert len(sections) == len(deciding) == (2 if pg_url else 1), result.stdout
    for part in deciding:
        # Every decision was made for real (the benchmark fails otherwise) and timed.
        for flow in ("clean approval", "one correction, then approval",
                     "override with a preset reason", "bulk approval of"):
            assert re.search(rf"^{flow}.*\d+\.\d$", part, re.M), part
    assert sections[0].startswith("SQLite:")
    if pg_url:
        assert sections[1].startswith("PostgreSQL ")
        assert _bench_databases(pg_url) == before  # the benchmark's database was dropped
    for section in sections:
        queued = int(re.search(r": (\d+) queued", section).group(1))  # type: ignore[union-attr]
        assert 0 < queued < COUNT
        rows = [m for line in section.splitlines() if (m := ROW.match(line))]
        labels = [m["label"] for m in rows]
        assert labels[0].startswith("baseline")
        assert any(label.startswith("detail") for label in labels)
        assert sum(label.startswith("queue") for label in labels) >= 5
        # Followed "Nästa sida" past the first page of 50 rows.
        pages = [int(p.group(1)) for label in labels if (p := re.search(r"page (\d+)", label))]
        assert pages and set(pages) == {-(-queued // 50)}
        for m in rows:
            assert int(m["n"]) == REQUESTS
            assert 0 < float(m["median"]) <= float(m["p95"])
