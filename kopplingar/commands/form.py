"""`kopplingar form dual|disconnect`: an operator issues a pre-filled (or blank) form.

Values come from options or `--from-json FILE` (options win); they go through
the same checks and the same issuing as the public page, so an operator's
form is recorded and verifiable like a customer's. Wrong values exit with
code 65 and one line per field.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer
from sqlmodel import Session

from forms import FormKind, FormValuesError, display_form_id
from kopplingar.context import build_context
from kopplingar.database import require_all_current
from kopplingar.errors import BadInput, CannotWrite, MissingInput, UsageError
from kopplingar.settings import load_settings
from render import blank_form, issue_form

app = typer.Typer(help="Issue pre-filled or blank forms as PDF.", no_args_is_help=True)

OUTPUT = typer.Option(None, "-o", "--output", help="PDF file to write (default: named by form id).")
FROM_JSON = typer.Option(None, "--from-json", help="JSON object of field values.")
BLANK = typer.Option(
    False, "--blank", help="A blank form to fill by hand; no values, not recorded."
)
NO_CHECK = typer.Option(
    False,
    "--no-registry-check",
    help="Do not require the client's orgnr and subscription to match.",
)
ROLE_HELP = "accounting (redovisningsbyrå) or audit (revisionsbyrå)"
SIGNATORY_ROLE_HELP = "firmatecknare or sysadmin"
# Every other option of a form command is a field value, named as the field.
CONTROLS = ("from_json", "blank", "output", "no_registry_check")


def _values(from_json: Path | None, options: dict[str, str | None]) -> dict[str, str]:
    values: dict[str, str] = {}
    if from_json is not None:
        try:
            loaded = json.loads(from_json.read_text(encoding="utf-8"))
        except OSError as exc:
            raise MissingInput(f"cannot read {from_json}: {exc.strerror or exc}") from exc
        except json.JSONDecodeError as exc:
            raise BadInput(f"{from_json} is not JSON: {exc}") from exc
        if not isinstance(loaded, dict) or not all(isinstance(v, str) for v in loaded.values()):
            raise BadInput(f"{from_json} must hold one JSON object of strings")
        values.update(loaded)
    values.update({k: v for k, v in options.items() if v is not None})
    return values


def _write(
    kind: FormKind,
    values: dict[str, str],
    *,
    blank: bool,
    output: Path | None,
    check_registry: bool,
) -> None:
    ctx = build_context(load_settings())
    if blank:
        if values:
            raise UsageError("--blank makes an empty form: give no values with it")
        rendered = blank_form(kind, mailbox=ctx.mailbox_address, fillable=True)
    else:
        require_all_current(ctx.engine)
        with Session(ctx.engine) as session:
            try:
                rendered = issue_form(
                    session,
                    kind,
                    values,
                    qr_key=ctx.qr_key,
                    mailbox=ctx.mailbox_address,
                    source="cli",
                    check_registry=check_registry,
                )
            except FormValuesError as exc:
                for name, message in exc.errors.items():
                    print(f"{name}: {message}", file=sys.stderr)
                raise
            session.commit()
    path = output or Path(rendered.filename)
    try:
        path.write_bytes(rendered.pdf)
    except OSError as exc:
        raise CannotWrite(f"cannot write {path}: {exc.strerror or exc}") from exc
    ident = display_form_id(rendered.form_id) if rendered.form_id else "blank"
    print(f"{path}\t{kind.value}\t{ident}")


def _from_command_line(kind: FormKind, arguments: dict[str, Any]) -> None:
    """Split a command's arguments into field values and controls, then write the form."""
    controls = {name: arguments.pop(name) for name in CONTROLS}
    _write(
        kind,
        _values(controls["from_json"], arguments),
        blank=controls["blank"],
        output=controls["output"],
        check_registry=not controls["no_registry_check"],
    )


@app.command("dual")
def dual(
    client_name: str = typer.Option(None, help="Client company name (filled from the registry)."),
    client_orgnr: str = typer.Option(None, help="Client organisationsnummer."),
    client_subscription: str = typer.Option(None, help="Client subscription number (8 digits)."),
    current_firm_name: str = typer.Option(None, help="Name of the firm already connected."),
    current_firm_orgnr: str = typer.Option(None, help="Organisationsnummer of that firm."),
    current_firm_role: str = typer.Option(None, help=ROLE_HELP),
    new_firm_name: str = typer.Option(None, help="Name of the firm to connect."),
    new_firm_orgnr: str = typer.Option(None, help="Organisationsnummer of the firm to connect."),
    new_firm_role: str = typer.Option(None, help=ROLE_HELP),
    new_firm_email: str = typer.Option(None, help="E-mail of that firm's system administrator."),
    client_signatory_name: str = typer.Option(
        None, help="Pre-printed name of the client's signatory."
    ),
    client_signatory_role: str = typer.Option(None, help=SIGNATORY_ROLE_HELP),
    new_firm_signatory_name: str = typer.Option(
        None, help="Pre-printed name of the firm's sysadmin."
    ),
    from_json: Path | None = FROM_JSON,
    blank: bool = BLANK,
    output: Path | None = OUTPUT,
    no_registry_check: bool = NO_CHECK,
) -> None:
    """Dubbelsammankoppling: connect a second firm to a client."""
    _from_command_line(FormKind.DUAL, locals())


@app.command("disconnect")
def disconnect(
    client_name: str = typer.Option(None, help="Company name (filled from the registry)."),
    client_orgnr: str = typer.Option(None, help="Company organisationsnummer."),
    client_subscription: str = typer.Option(None, help="Subscription number (8 digits)."),
    firm_name: str = typer.Option(None, help="Name of the firm to disconnect from."),
    firm_orgnr: str = typer.Option(None, help="Organisationsnummer of that firm."),
    firm_role: str = typer.Option(None, help=ROLE_HELP),
    after: str = typer.Option(
        None, help="takeover (the company takes over the subscription) or access_only"
    ),
    client_signatory_name: str = typer.Option(
        None, help="Pre-printed name of the company's signatory."
    ),
    client_signatory_role: str = typer.Option(None, help=SIGNATORY_ROLE_HELP),
    firm_signatory_name: str = typer.Option(None, help="Pre-printed name of the firm's sysadmin."),
    from_json: Path | None = FROM_JSON,
    blank: bool = BLANK,
    output: Path | None = OUTPUT,
    no_registry_check: bool = NO_CHECK,
) -> None:
    """Bortkoppling: end the connection between a company and a firm."""
    _from_command_line(FormKind.DISCONNECT, locals())
