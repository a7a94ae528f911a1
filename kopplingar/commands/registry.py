"""`kopplingar registry import|show`: load registry records from files, look at a company.

Both refuse to work on a database that is not migrated to the code's
revision (`kopplingar db upgrade` first), rather than migrating on the side.
An import with rejected rows prints its report and exits 65; without
`--skip-invalid` nothing is written then.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import typer

from kopplingar.commands.db import open_database
from registry import (
    CompanyKind,
    CompanyView,
    ConnectionView,
    ImportRejected,
    SubscriptionView,
    company_view,
    import_registry,
    require_current,
    session_scope,
)

app = typer.Typer(help="Import registry records and show a company.", no_args_is_help=True)

KIND_LABELS = {
    CompanyKind.CLIENT: "client",
    CompanyKind.ACCOUNTING_FIRM: "accounting firm (redovisningsbyrå)",
    CompanyKind.AUDIT_FIRM: "audit firm (revisionsbyrå)",
}


@app.command("import")
def import_files(
    files: list[Path] = typer.Argument(
        ..., help="JSON or CSV files, or directories of them (see docs/registry-import.md)."
    ),
    skip_invalid: bool = typer.Option(
        False, "--skip-invalid", help="Import the valid rows even if others are rejected."
    ),
) -> None:
    """Import companies, subscriptions, people, roles, connections and payers."""
    with open_database() as engine:
        require_current(engine)
        with session_scope(engine) as session:
            report = import_registry(
                session,
                files,
                skip_invalid=skip_invalid,
                actor=f"cli:{os.environ.get('USER') or 'unknown'}",
            )
    print(report.summary())
    if report.rejections:
        outcome = "the valid rows were imported" if report.written else "nothing was written"
        raise ImportRejected(f"{len(report.rejections)} rows rejected; {outcome}", report)


def _company(name: str, orgnr: str) -> str:
    return f"{name} ({orgnr})"


def _subscription_lines(sub: SubscriptionView, view: CompanyView) -> list[str]:
    number = sub.subscription.number
    if sub.payer_since is None:
        lines = [f"  {number}  paid by the company itself (no payer recorded)"]
    elif sub.payer.id == view.company.id:
        lines = [f"  {number}  paid by the company itself since {sub.payer_since}"]
    else:
        payer = _company(sub.payer.name, sub.payer.orgnr)
        lines = [f"  {number}  paid by {payer} since {sub.payer_since}"]
    for change in sub.upcoming:
        payer = _company(change.payer.name, change.payer.orgnr)
        lines.append(f"            from {change.valid_from}: paid by {payer}")
    return lines


def _connection_lines(rows: tuple[ConnectionView, ...]) -> list[str]:
    if not rows:
        return ["  (none)"]
    lines = []
    for row in rows:
        conn = row.connection
        period = f"since {conn.since}" if conn.until is None else f"{conn.since} – {conn.until}"
        state = "open" if conn.until is None else "ended"
        lines.append(
            f"  {conn.role.value:<10}  {_company(row.other.name, row.other.orgnr):<52}  "
            f"{period:<25}  {state}"
        )
    return lines


def render_view(view: CompanyView) -> str:
    """The company as a person reads it, section by section."""
    company = view.company
    lines = [
        company.name,
        f"  organisationsnummer  {company.orgnr}",
        f"  kind                 {KIND_LABELS[company.kind]}",
        "",
        f"subscriptions (payer on {view.on})",
    ]
    for sub in view.subscriptions:
        lines.extend(_subscription_lines(sub, view))
    if not view.subscriptions:
        lines.append("  (none)")
    lines += ["", "people and roles"]
    for entry in view.people:
        roles = ", ".join(role.value for role in entry.roles)
        person = entry.person
        lines.append(f"  {person.name} <{person.email}>  {roles}")
    if not view.people:
        lines.append("  (none)")
    lines += ["", "connections as client (the firms it works with)"]
    lines += _connection_lines(view.as_client)
    if company.kind.is_firm:
        lines += ["", "connections as firm (its clients)"]
        lines += _connection_lines(view.as_firm)
    return "\n".join(lines)


@app.command("show")
def show(
    orgnr: str = typer.Argument(..., help="Organisationsnummer (personnummer for a sole trader)."),
    on: str = typer.Option(None, "--on", help="Give the payer on this day (YYYY-MM-DD)."),
) -> None:
    """Show a company: subscriptions and payer, people and roles, connections."""
    day = dt.date.fromisoformat(on) if on else None
    with open_database() as engine:
        require_current(engine)
        with session_scope(engine) as session:
            view = company_view(session, orgnr, on=day)
    print(render_view(view))
