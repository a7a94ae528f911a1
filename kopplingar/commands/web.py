"""`kopplingar web serve`: the public form pages and the reviewer pages under /granskning/.

One process by default. With `--workers N` uvicorn starts N processes, each
building the app from the environment (`kopplingar.app:app_from_environment`).
Everything a request depends on lives in the database (sessions, claims,
login throttling, the download and lookup limit), so any worker can answer
any request and N workers allow no more than one. uvicorn gets the limits
and the proxy settings of `kopplingar.serving.server_options`.
"""

from __future__ import annotations

import typer
import uvicorn

from kopplingar.app import create_app
from kopplingar.context import build_context
from kopplingar.database import require_all_current
from kopplingar.serving import server_options
from kopplingar.settings import load_settings

app = typer.Typer(help="Serve the web pages.", no_args_is_help=True)


@app.command("serve")
def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8000, help="Port to listen on."),
    workers: int = typer.Option(1, min=1, max=64, help="Worker processes."),
) -> None:
    """Serve the web app until interrupted."""
    # Checked here once, so a bad setting or an old schema is one line, not N worker crashes.
    ctx = build_context(load_settings())
    require_all_current(ctx.engine)
    options = server_options(ctx.trusted_proxies)
    if workers == 1:
        uvicorn.run(create_app(ctx), host=host, port=port, log_level="info", **options)
        return
    ctx.engine.dispose()
    uvicorn.run(
        "kopplingar.app:app_from_environment",
        factory=True,
        workers=workers,
        host=host,
        port=port,
        log_level="info",
        **options,
    )
