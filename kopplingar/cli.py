"""The `kopplingar` command: one Typer app with a group per capability.

Each group lives in `kopplingar/commands/`; this module wires them, sets up
logging once (`--verbose`, `--log-format`), and turns whatever ends a command
into an exit code, so a cron job, systemd or an operator sees one clear line
and never a Python traceback:

* a product error (`forms.KopplingarError`, the one root): its message and
  its sysexits code;
* a usage mistake (unknown option, missing argument): Click's usage message
  and EX_USAGE;
* Ctrl-C: 130, as a shell reports a SIGINT;
* anything else is a bug: one line naming it, the traceback only in the log
  at `--verbose`, and EX_SOFTWARE;
* a command's own `typer.Exit(code)` keeps its code.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

import typer

# Typer carries its own copy of Click and raises that copy's exceptions, not click's.
from typer._click import exceptions as click_exceptions

from forms import KopplingarError
from kopplingar.commands import bench, db, demo, form, intake, portal, registry, samples, users, web
from kopplingar.logs import LogFormat, configure_logging

EX_INTERRUPTED = 128 + 2  # what a shell reports for a command ended by SIGINT

log = logging.getLogger(__name__)

app = typer.Typer(
    name="kopplingar",
    help="Linkage forms for accounting and audit firms: render, read, review.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _options(
    verbose: int = typer.Option(
        0, "--verbose", "-v", count=True, help="More log lines on stderr: -v info, -vv debug."
    ),
    log_format: LogFormat = typer.Option(
        LogFormat.TEXT, "--log-format", help="Log lines as text or as one JSON object each."
    ),
) -> None:
    """Linkage forms for accounting and audit firms: render, read, review."""
    configure_logging(verbose=verbose, log_format=log_format)


app.add_typer(db.app, name="db")
app.add_typer(registry.app, name="registry")
app.add_typer(form.app, name="form")
app.add_typer(web.app, name="web")
app.add_typer(intake.app, name="intake")
app.add_typer(bench.app, name="bench")
app.add_typer(samples.app, name="samples")
app.add_typer(users.app, name="users")
app.add_typer(portal.app, name="portal")
app.command("demo")(demo.demo)


def run(argv: Sequence[str] | None = None) -> int:
    """Run one command line and return its exit code; nothing escapes as a traceback."""
    try:
        result = app(args=list(argv) if argv is not None else None, standalone_mode=False)
    except KopplingarError as exc:
        log.debug("command failed", exc_info=True)
        print(f"kopplingar: {exc}", file=sys.stderr)
        return exc.exit_code
    except click_exceptions.UsageError as exc:
        exc.show()
        return os.EX_USAGE
    except click_exceptions.ClickException as exc:
        exc.show()
        return exc.exit_code
    except typer.Abort:
        # End of input at a prompt; Ctrl-C does not come here (see below).
        print("kopplingar: aborted", file=sys.stderr)
        return 1
    except Exception as exc:
        # A bug: the one line below for whoever reads stderr, the traceback at --verbose.
        log.info("internal error", exc_info=True)
        print(
            f"kopplingar: internal error ({type(exc).__name__}: {exc}); "
            "run again with --verbose for the details",
            file=sys.stderr,
        )
        return os.EX_SOFTWARE
    # With standalone_mode off, Typer returns what ended the command: typer.Exit's code
    # (Ctrl-C becomes Exit(130) inside Typer), or the command's own return value (None
    # for a command that just returns).
    code = result if isinstance(result, int) else os.EX_OK
    if code == EX_INTERRUPTED:
        print("kopplingar: interrupted", file=sys.stderr)
    return code


def main() -> NoReturn:
    sys.exit(run())


if __name__ == "__main__":
    main()
