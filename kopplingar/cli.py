"""The `kopplingar` command: one Typer app with a group per capability.

Each group lives in `kopplingar/commands/`; this module only wires them and
turns every package's root exception into its message and exit code, so a
cron job or an operator sees one clear line instead of a traceback.
"""

from __future__ import annotations

import sys

import typer

from forms import FormsError
from intake.errors import IntakeError
from kopplingar.commands import bench, db, demo, form, intake, registry, samples, users, web
from kopplingar.errors import KopplingarError
from registry import RegistryError
from render import RenderError
from review import ReviewError

app = typer.Typer(
    name="kopplingar",
    help="Linkage forms for accounting and audit firms: render, read, review.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(db.app, name="db")
app.add_typer(registry.app, name="registry")
app.add_typer(form.app, name="form")
app.add_typer(web.app, name="web")
app.add_typer(intake.app, name="intake")
app.add_typer(bench.app, name="bench")
app.add_typer(samples.app, name="samples")
app.add_typer(users.app, name="users")
app.command("demo")(demo.demo)

_HANDLED = (FormsError, RegistryError, RenderError, IntakeError, ReviewError, KopplingarError)


def main() -> None:
    try:
        app(standalone_mode=False)
    except _HANDLED as exc:
        print(f"kopplingar: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except typer.Abort:
        print("kopplingar: aborted", file=sys.stderr)
        sys.exit(1)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except SystemExit:
        raise
    except Exception as exc:
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        raise


if __name__ == "__main__":
    main()
