"""`kopplingar bench ...`: measurements with a baseline from the same run."""

from __future__ import annotations

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
