"""`kopplingar web serve`: the public form pages and the reviewer pages under /granskning/."""

from __future__ import annotations

import typer
import uvicorn

from kopplingar.app import create_app
from kopplingar.context import build_context
from kopplingar.database import require_all_current
from kopplingar.settings import load_settings

app = typer.Typer(help="Serve the web pages.", no_args_is_help=True)


@app.command("serve")
def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8000, help="Port to listen on."),
) -> None:
    """Serve the web app until interrupted."""
    ctx = build_context(load_settings())
    require_all_current(ctx.engine)
    uvicorn.run(create_app(ctx), host=host, port=port, log_level="info")
