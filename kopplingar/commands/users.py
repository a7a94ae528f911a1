"""`kopplingar users add|list|disable|enable|password|second-factor-reset`: reviewer accounts.

This is how the first admin comes to exist, and how an operator locks out a
reviewer at once (disabling ends every session on the server). Passwords are
typed twice at a hidden prompt, or read as one line from standard input with
`--password-stdin` for scripts; they never appear as an argument, where
`ps` and the shell history would show them. A password set here was
chosen by the operator, not the reviewer, so the reviewer must replace it
at their next login (`--no-must-change` for an operator setting their own).
`second-factor-reset` removes a reviewer's TOTP and recovery codes when
they have lost both (an admin must enrol again at the next login). Errors
(a taken e-mail address, a weak password) exit 65, an unknown reviewer 66,
each with one line. Every change is a security event in the audit log, by
`operator`.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import typer
from sqlmodel import Session, col, select

from kopplingar.context import build_context
from kopplingar.database import require_all_current
from kopplingar.settings import load_settings
from review import (
    WeakPassword,
    create_reviewer,
    get_reviewer,
    last_logins,
    record_security_event,
    remove_second_factor,
    set_active,
    set_password,
)
from workqueue import Reviewer, ReviewerRole

# The audit log's actor for what is done here: the operator at the command line.
OPERATOR = "operator"

app = typer.Typer(
    help="Add, list, disable and enable reviewers; set passwords.", no_args_is_help=True
)

PASSWORD_STDIN = typer.Option(
    False, "--password-stdin", help="Read the password as one line from standard input."
)
MUST_CHANGE = typer.Option(
    True,
    "--must-change/--no-must-change",
    help="The reviewer must choose their own password at their next login.",
)


@contextmanager
def _session() -> Iterator[Session]:
    """A session on the configured, migrated database; the caller commits."""
    engine = build_context(load_settings()).engine
    try:
        require_all_current(engine)
        with Session(engine) as session:
            yield session
    finally:
        engine.dispose()


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        password = line.removesuffix("\n").removesuffix("\r")
        if not password:
            raise WeakPassword("no password on standard input")
        return password
    typed: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return typed


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@app.command("add")
def add(
    email: str = typer.Option(..., "--email", help="The reviewer's e-mail address: the login."),
    name: str = typer.Option(..., "--name", help="The name shown on the pages and in the log."),
    role: ReviewerRole = typer.Option(
        ReviewerRole.REVIEWER, "--role", help="reviewer, or admin (may also manage reviewers)."
    ),
    password_stdin: bool = PASSWORD_STDIN,
    must_change: bool = MUST_CHANGE,
) -> None:
    """Add an active reviewer."""
    password = _read_password(password_stdin)
    with _session() as session:
        reviewer = create_reviewer(
            session,
            email=email,
            name=name,
            role=role,
            password=password,
            now=_now(),
            must_change_password=must_change,
        )
        record_security_event(
            session,
            "security.reviewer_added",
            actor=OPERATOR,
            subject=reviewer.email,
            detail=f"roll: {reviewer.role.value}",
            now=_now(),
        )
        session.commit()
        print(f"added {reviewer.email} ({reviewer.role.value})")


@app.command("list")
def list_reviewers() -> None:
    """Every reviewer: e-mail, name, role, active or disabled, last login."""
    with _session() as session:
        reviewers = session.exec(select(Reviewer).order_by(col(Reviewer.email))).all()
        logins = last_logins(session)
        for reviewer in reviewers:
            assert reviewer.id is not None
            login = logins.get(reviewer.id)
            last = login.strftime("%Y-%m-%d %H:%M UTC") if login else "never logged in"
            state = "active" if reviewer.active else "disabled"
            print(f"{reviewer.email}\t{reviewer.name}\t{reviewer.role.value}\t{state}\t{last}")
    if not reviewers:
        print(
            "no reviewers yet: kopplingar users add --email ... --name ... --role admin",
            file=sys.stderr,
        )


def _set_active(email: str, active: bool) -> None:
    with _session() as session:
        reviewer = get_reviewer(session, email)
        assert reviewer.id is not None
        set_active(session, reviewer.id, active, _now())
        record_security_event(
            session,
            "security.reviewer_enabled" if active else "security.reviewer_disabled",
            actor=OPERATOR,
            subject=reviewer.email,
            now=_now(),
        )
        session.commit()
        if active:
            print(f"enabled {reviewer.email}")
        else:
            print(f"disabled {reviewer.email}; every session of theirs has ended")


@app.command("disable")
def disable(email: str = typer.Argument(..., help="The reviewer's e-mail address.")) -> None:
    """Disable a reviewer: no more logins, and their open sessions end now."""
    _set_active(email, False)


@app.command("enable")
def enable(email: str = typer.Argument(..., help="The reviewer's e-mail address.")) -> None:
    """Enable a disabled reviewer again."""
    _set_active(email, True)


@app.command("password")
def password(
    email: str = typer.Argument(..., help="The reviewer's e-mail address."),
    password_stdin: bool = PASSWORD_STDIN,
    must_change: bool = MUST_CHANGE,
) -> None:
    """Set a reviewer's password; their open sessions end."""
    with _session() as session:
        reviewer = get_reviewer(session, email)
        new = _read_password(password_stdin)
        set_password(session, reviewer, new, _now(), must_change=must_change)
        record_security_event(
            session,
            "security.password_changed",
            actor=OPERATOR,
            subject=reviewer.email,
            detail="satt av driften" + (", byts vid nästa inloggning" if must_change else ""),
            now=_now(),
        )
        session.commit()
        print(f"password set for {reviewer.email}; every session of theirs has ended")


@app.command("second-factor-reset")
def second_factor_reset(
    email: str = typer.Argument(..., help="The reviewer's e-mail address."),
) -> None:
    """Remove a reviewer's second factor (lost phone and recovery codes); their sessions end."""
    with _session() as session:
        reviewer = get_reviewer(session, email)
        remove_second_factor(session, reviewer, now=_now())
        session.commit()
        print(f"second factor removed for {reviewer.email}; every session of theirs has ended")
