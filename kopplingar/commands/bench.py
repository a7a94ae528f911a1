"""`kopplingar bench ...`: measurements with a baseline from the same run."""

from __future__ import annotations

import os
from pathlib import Path

import typer

app = typer.Typer(help="Measure this machine: our figures beside a baseline.", no_args_is_help=True)


@app.command("render")
def render(
    count: int = typer.Option(500, min=2, help="Pre-filled forms to render (both kinds)."),
    http_requests: int = typer.Option(100, min=1, help="HTTP downloads to time."),
) -> None:
    """Forms rendered per second and the median HTTP download time."""
    from kopplingar.benchmarks.render import run

    print(run(count, http_requests))


@app.command("intake")
def intake(
    corpus: Path = typer.Option(
        ..., "--corpus", help="Folder with scans, truth.json and issued.json."
    ),
    no_baseline: bool = typer.Option(False, "--no-baseline", help="Skip the full-page baseline."),
    digital: Path | None = typer.Option(
        None, "--digital",
        help="Born-digital PDFs with truth.json (default: samples/digital/corpus).",
    ),
    no_digital: bool = typer.Option(False, "--no-digital", help="Skip the born-digital PDFs."),
) -> None:
    """Field accuracy, signatures, form ids and seconds per page against full-page Tesseract;
    then the born-digital PDFs, their seconds per page beside the scans'."""
    from kopplingar.benchmarks.digital import DEFAULT_CORPUS
    from kopplingar.benchmarks.intake import run

    born = None if no_digital else (digital or DEFAULT_CORPUS)
    print(run(corpus, baseline=not no_baseline, digital=born))


@app.command("mailbox")
def mailbox(
    count: int = typer.Option(500, min=1, help="Messages, one scanned form each."),
    jobs: int = typer.Option(
        os.cpu_count() or 1, min=1, help="Reader processes (default: one per core)."
    ),
    database_url: str | None = typer.Option(
        None, "--database-url", help="Queue into this database instead of a temporary SQLite."
    ),
    no_baseline: bool = typer.Option(False, "--no-baseline", help="Skip the in-process baseline."),
) -> None:
    """Messages from a local Dovecot to the queue: time per message, share spent reading."""
    from kopplingar.benchmarks.mailbox import run

    print(run(count, jobs, database_url, baseline=not no_baseline))


@app.command("review")
def review(
    count: int = typer.Option(10000, min=1, help="Submissions to seed the queue with."),
    requests: int = typer.Option(200, min=1, help="Sequential GETs timed per page kind."),
    postgresql: str | None = typer.Option(
        None,
        "--postgresql",
        help="PostgreSQL server to measure on too (a fresh database is created and dropped); "
        "default: postgresql://postgres@127.0.0.1:5432/test if it answers.",
    ),
    no_postgresql: bool = typer.Option(False, "--no-postgresql", help="Measure SQLite only."),
) -> None:
    """Median and p95 of the reviewer queue and detail pages on SQLite and PostgreSQL."""
    from kopplingar.benchmarks.review import DEFAULT_POSTGRESQL, run

    if no_postgresql:
        print(run(count, requests, None, postgresql_optional=True))
    elif postgresql:
        print(run(count, requests, postgresql, postgresql_optional=False))
    else:
        print(run(count, requests, DEFAULT_POSTGRESQL, postgresql_optional=True))
