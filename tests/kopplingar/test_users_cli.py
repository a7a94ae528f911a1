"""`kopplingar users ...` as an operator runs it, against the test's migrated database.

Most cases run the Typer app in-process (a real process costs seconds of
imports); `main()` is called for the exit codes it maps, and one test runs
the installed command with a password piped in, as a provisioning script would.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select
from typer.testing import CliRunner, Result

from kopplingar import cli
from registry import AuditEvent
from review.auth import (
    AuthPolicy,
    WeakPassword,
    authenticate,
    load_session,
    start_session,
    verify_password,
)
from workqueue import Reviewer, ReviewerRole

PASSWORD = "korrekt häst batteri 7"
EMAIL = "anna.granskare@kopplingar.se"
runner = CliRunner()


@pytest.fixture
def configured(engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """Settings that point at the test's database (and no stray .env file)."""
    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.startswith("KOPPLINGAR_")] + ["DATABASE_URL"]:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("KOPPLINGAR_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("KOPPLINGAR_DATA_DIR", str(tmp_path / "data"))
    yield engine


def users(*args: str, stdin: str | None = None) -> Result:
    return runner.invoke(cli.app, ["users", *args], input=stdin)


def main(monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    """What `kopplingar users ...` exits with, through the real entry point."""
    monkeypatch.setattr(sys, "argv", ["kopplingar", "users", *args])
    with pytest.raises(SystemExit) as exited:
        cli.main()
    return int(exited.value.code or 0)


def add(email: str = EMAIL, role: str = "reviewer", password: str = PASSWORD) -> Result:
    return users(
        "add",
        "--email",
        email,
        "--name",
        "Anna Granskare",
        "--role",
        role,
        "--password-stdin",
        stdin=password + "\n",
    )


def reviewers(engine: Engine) -> list[Reviewer]:
    with Session(engine) as session:
        return list(session.exec(select(Reviewer).order_by(Reviewer.email)).all())


def test_add_with_password_on_stdin_then_list(configured: Engine) -> None:
    result = add(email="Anna.Granskare@Kopplingar.se", role="admin")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"added {EMAIL} (admin)"
    assert add(email="bo@kopplingar.se").exit_code == 0
    [anna, bo] = reviewers(configured)
    assert (anna.email, anna.role, anna.active) == (EMAIL, ReviewerRole.ADMIN, True)
    assert verify_password(anna.password_hash, PASSWORD)
    assert bo.role is ReviewerRole.REVIEWER
    with Session(configured) as session:
        start_session(
            session,
            anna,
            now=dt.datetime(2026, 11, 23, 8, 15, tzinfo=dt.UTC),
            policy=AuthPolicy(),
            address=None,
            user_agent=None,
        )
        session.commit()
    listed = users("list")
    assert listed.exit_code == 0, listed.output
    assert listed.stdout.splitlines() == [
        f"{EMAIL}\tAnna Granskare\tadmin\tactive\t2026-11-23 08:15 UTC",
        "bo@kopplingar.se\tAnna Granskare\treviewer\tactive\tnever logged in",
    ]


def test_add_prompts_twice_with_hidden_input(configured: Engine) -> None:
    args = ("add", "--email", EMAIL, "--name", "Anna Granskare")
    mismatch = users(*args, stdin=f"{PASSWORD}\n{PASSWORD}x\n{PASSWORD}\n{PASSWORD}\n")
    assert mismatch.exit_code == 0, mismatch.output
    assert "do not match" in mismatch.output.lower()
    assert PASSWORD not in mismatch.output  # never echoed
    [anna] = reviewers(configured)
    assert verify_password(anna.password_hash, PASSWORD)


def test_list_with_no_reviewers_says_how_to_add_one(configured: Engine) -> None:
    listed = users("list")
    assert listed.exit_code == 0 and listed.stdout == ""
    assert "kopplingar users add" in listed.stderr


def test_a_taken_email_or_weak_password_exits_65(
    configured: Engine, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert add().exit_code == 0
    capsys.readouterr()
    stdin = f"{PASSWORD}\n"
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    args = ("add", "--email", EMAIL.upper(), "--name", "Anna", "--password-stdin")
    assert main(monkeypatch, *args) == 65
    assert capsys.readouterr().err.strip() == (
        f"kopplingar: Det finns redan en granskare med e-postadressen {EMAIL}."
    )
    monkeypatch.setattr(sys, "stdin", io.StringIO("kort\n"))
    args = ("add", "--email", "bo@kopplingar.se", "--name", "Bo", "--password-stdin")
    assert main(monkeypatch, *args) == 65
    assert "Lösenordet måste ha minst 12 tecken" in capsys.readouterr().err
    assert [r.email for r in reviewers(configured)] == [EMAIL]


def test_unknown_reviewer_exits_66(configured: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    assert main(monkeypatch, "disable", "ingen@kopplingar.se") == 66
    assert main(monkeypatch, "password", "ingen@kopplingar.se", "--password-stdin") == 66


def test_disable_ends_sessions_and_enable_lets_them_log_in_again(configured: Engine) -> None:
    assert add().exit_code == 0
    now = dt.datetime.now(dt.UTC)
    policy = AuthPolicy()
    with Session(configured) as session:
        [anna] = session.exec(select(Reviewer)).all()
        token = start_session(
            session, anna, now=now, policy=policy, address=None, user_agent=None
        ).token
        session.commit()
    disabled = users("disable", EMAIL.upper())
    assert disabled.exit_code == 0, disabled.output
    assert disabled.stdout.startswith(f"disabled {EMAIL}")
    with Session(configured) as session:
        assert load_session(session, token, now=now, policy=policy) is None
    assert "\tdisabled\t" in users("list").stdout
    enabled = users("enable", EMAIL)
    assert enabled.exit_code == 0 and enabled.stdout.strip() == f"enabled {EMAIL}"
    with Session(configured) as session:
        reviewer = authenticate(
            session, email=EMAIL, password=PASSWORD, address=None, now=now, policy=policy
        )
        assert reviewer.active


def test_password_from_stdin_replaces_the_old_one(configured: Engine) -> None:
    assert add().exit_code == 0
    new = "ett helt nytt lösenord 9"
    changed = users("password", EMAIL, "--password-stdin", stdin=new + "\n")
    assert changed.exit_code == 0, changed.output
    assert changed.stdout.startswith(f"password set for {EMAIL}")
    [anna] = reviewers(configured)
    assert verify_password(anna.password_hash, new)
    assert not verify_password(anna.password_hash, PASSWORD)


def test_empty_stdin_is_refused(configured: Engine) -> None:
    result = add(password="")
    assert isinstance(result.exception, WeakPassword) and result.exception.exit_code == 65
    assert reviewers(configured) == []


def test_help_lists_the_commands() -> None:
    result = users("--help")
    assert result.exit_code == 0
    for command in ("add", "list", "disable", "enable", "password"):
        assert command in result.stdout


@pytest.mark.slow
def test_the_installed_command_reads_a_piped_password(configured: Engine, tmp_path: Path) -> None:
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "kopplingar.cli",
            "users",
            "add",
            "--email",
            EMAIL,
            "--name",
            "Anna Granskare",
            "--role",
            "admin",
            "--password-stdin",
        ],
        input=PASSWORD + "\n",
        env=dict(os.environ),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    [anna] = reviewers(configured)
    assert anna.role is ReviewerRole.ADMIN and verify_password(anna.password_hash, PASSWORD)


def test_what_the_operator_does_is_in_the_security_log(configured: Engine) -> None:
    assert add().exit_code == 0
    assert users("disable", EMAIL).exit_code == 0
    assert users("enable", EMAIL).exit_code == 0
    new = "ett helt nytt lösenord 9\n"
    assert users("password", EMAIL, "--password-stdin", stdin=new).exit_code == 0
    with Session(configured) as session:
        events = session.exec(select(AuditEvent).order_by(col(AuditEvent.id))).all()
    assert [(e.action, e.actor, e.subject) for e in events if e.action.startswith("security.")] == [
        ("security.reviewer_added", "operator", EMAIL),
        ("security.reviewer_disabled", "operator", EMAIL),
        ("security.reviewer_enabled", "operator", EMAIL),
        ("security.password_changed", "operator", EMAIL),
    ]
