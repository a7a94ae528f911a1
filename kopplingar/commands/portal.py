"""`kopplingar portal ...`: the customer pages' jobs for the operator."""

from __future__ import annotations

import datetime as dt

import typer

from kopplingar.context import build_context
from kopplingar.database import require_all_current
from kopplingar.portal_jobs import run_portal_jobs
from kopplingar.settings import load_settings

app = typer.Typer(
    help="The customer pages (Mina sidor): their periodic jobs.", no_args_is_help=True
)


@app.command("expire")
def expire() -> None:
    """End grants past their last day and requests past seven days; mail whom it concerns.

    Also runs after every mailbox pass. Exit 0; 75 when the database cannot be reached.
    """
    ctx = build_context(load_settings())
    require_all_current(ctx.engine)
    report = run_portal_jobs(
        ctx.engine,
        now=dt.datetime.now(dt.UTC),
        sender_domain=ctx.sender_domain,
        base_url=ctx.public_base_url,
    )
    print(report.line())
