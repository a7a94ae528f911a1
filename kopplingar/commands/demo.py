"""`kopplingar demo`: the main job on the embedded default.

Migrates the SQLite database in the data directory, loads the sample registry
(idempotent, so the command can be run again), prints a client to try the
pages with, and serves the web app on 127.0.0.1:8000.
"""

from __future__ import annotations

import json

import typer
import uvicorn
from sqlmodel import Session

from kopplingar.app import create_app
from kopplingar.context import build_context
from kopplingar.database import upgrade_all
from kopplingar.errors import ConfigError
from kopplingar.settings import Mode, load_settings
from registry import import_registry
from samples import REGISTRY_JSON


def demo(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8000, help="Port to listen on."),
    no_serve: bool = typer.Option(False, "--no-serve", help="Prepare the data and exit."),
) -> None:
    """Load the sample registry into the embedded database and serve the form pages."""
    settings = load_settings()
    if settings.mode is not Mode.DEMO:
        raise ConfigError("kopplingar demo loads sample data; it refuses to run in production mode")
    ctx = build_context(settings)
    upgrade_all(ctx.engine)
    with Session(ctx.engine) as session:
        report = import_registry(session, REGISTRY_JSON)
        session.commit()
    print(report.summary())
    sample = json.loads(REGISTRY_JSON.read_text(encoding="utf-8"))
    example = sample["subscriptions"][0]
    print(f"database: {settings.resolved_database_url()}")
    print(f"try: organisationsnummer {example['orgnr']}, abonnemangsnummer {example['number']}")
    if no_serve:
        return
    print(f"serving the form pages on http://{host}:{port}/  (Ctrl-C to stop)")
    uvicorn.run(create_app(ctx), host=host, port=port, log_level="warning")
