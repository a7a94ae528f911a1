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
) -> None:
    """Field accuracy, signatures, form ids and seconds per page against full-page Tesseract."""
    from kopplingar.benchmarks.intake import run

    print(run(corpus, baseline=not no_baseline))


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
