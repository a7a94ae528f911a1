"""Every exit code the README documents, from a real `kopplingar` child process.

Cron and systemd decide on these numbers alone (75 retry, 78 stop and fix), so
each is checked the way they see it: a separate process, its status, and
stderr, which must hold one clear line and never a Python traceback. Code 77
(the mailbox refused the login) needs a real IMAP server and is checked in
`test_mail_cli.py`.
"""

from __future__ import annotations

import email
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.intake.mailenv import message
from tests.kopplingar.child import CLI, clean_env, kopplingar

GOOD_SECRET = "k" * 48


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """A clean environment: demo mode, SQLite in a fresh data directory, no .env."""
    return clean_env(tmp_path / "data")


def no_traceback(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in result.stderr, result.stderr
    assert "Traceback" not in result.stdout, result.stdout


@pytest.fixture
def migrated(env: dict[str, str], tmp_path: Path) -> Iterator[dict[str, str]]:
    result = kopplingar("db", "upgrade", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    yield env


def test_help_is_0(env: dict[str, str], tmp_path: Path) -> None:
    result = kopplingar("--help", env=env, cwd=tmp_path)
    assert result.returncode == 0
    assert "intake" in result.stdout


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("intake", "file"), "Missing argument"),
        (("form", "dual", "--client-org", "x"), "No such option"),
        (("registry", "nonsense"), "No such command"),
        (("users", "add", "--role", "boss", "--email", "a@b.se", "--name", "A"), "Invalid value"),
    ],
)
def test_usage_mistakes_are_64_with_clicks_message(
    env: dict[str, str], tmp_path: Path, args: tuple[str, ...], says: str
) -> None:
    result = kopplingar(*args, env=env, cwd=tmp_path)
    assert result.returncode == os.EX_USAGE, result.stderr
    assert says in result.stderr
    assert "Usage:" in result.stderr
    no_traceback(result)


def test_bad_values_are_65_each_field_named(migrated: dict[str, str], tmp_path: Path) -> None:
    result = kopplingar(
        "form", "disconnect", "--client-orgnr", "556677-8890", env=migrated, cwd=tmp_path
    )
    assert result.returncode == os.EX_DATAERR, result.stderr
    assert "client_orgnr:" in result.stderr
    no_traceback(result)


def test_a_missing_input_is_66(migrated: dict[str, str], tmp_path: Path) -> None:
    for args in (
        ("intake", "file", str(tmp_path / "no-such-scan.pdf")),
        ("intake", "poll", "--folder", str(tmp_path / "no-such-folder")),
        ("registry", "show", "556677-8899"),
    ):
        result = kopplingar(*args, env=migrated, cwd=tmp_path)
        assert result.returncode == os.EX_NOINPUT, (args, result.stderr)
        assert result.stderr.startswith("kopplingar: ")
        no_traceback(result)


def test_an_internal_error_is_70_with_one_line(env: dict[str, str], tmp_path: Path) -> None:
    # A command with a bug in it, run through the real entry point.
    script = textwrap.dedent(
        """
        import sys
        from kopplingar.cli import app, run

        @app.command("broken")
        def broken() -> None:
            raise RuntimeError("a bug")

        sys.exit(run(["broken"]))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, cwd=tmp_path, capture_output=True, text=True
    )
    assert result.returncode == os.EX_SOFTWARE
    assert result.stderr.strip() == (
        "kopplingar: internal error (RuntimeError: a bug); run again with --verbose for the details"
    )
    verbose = subprocess.run(
        [sys.executable, "-c", script.replace('run(["broken"])', 'run(["-v", "broken"])')],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert verbose.returncode == os.EX_SOFTWARE
    assert "RuntimeError: a bug" in verbose.stderr and "internal error" in verbose.stderr


def test_an_output_that_cannot_be_written_is_73(env: dict[str, str], tmp_path: Path) -> None:
    target = tmp_path / "no-such-dir" / "blank.pdf"
    result = kopplingar("form", "dual", "--blank", "-o", str(target), env=env, cwd=tmp_path)
    assert result.returncode == os.EX_CANTCREAT, result.stderr
    assert f"cannot write {target}" in result.stderr
    no_traceback(result)


@pytest.mark.parametrize(
    "args",
    [("registry", "show", "556677-8899"), ("intake", "poll", "--folder", "."), ("db", "current")],
)
def test_a_database_that_cannot_be_reached_is_75(
    env: dict[str, str], tmp_path: Path, args: tuple[str, ...]
) -> None:
    env["KOPPLINGAR_DATABASE_URL"] = f"postgresql://kopplingar:hemligt@127.0.0.1:{closed_port()}/x"
    result = kopplingar(*args, env=env, cwd=tmp_path)
    assert result.returncode == os.EX_TEMPFAIL, result.stderr
    assert "cannot be reached" in result.stderr
    assert "hemligt" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    no_traceback(result)


def test_an_unmigrated_database_is_78_from_db_current(env: dict[str, str], tmp_path: Path) -> None:
    result = kopplingar("db", "current", env=env, cwd=tmp_path)
    assert result.returncode == os.EX_CONFIG
    assert result.stdout.startswith("registry: not migrated")
    assert "run kopplingar db upgrade" in result.stderr
    upgraded = kopplingar("db", "upgrade", env=env, cwd=tmp_path)
    assert upgraded.returncode == 0
    assert kopplingar("db", "current", env=env, cwd=tmp_path).returncode == 0


@pytest.mark.parametrize(
    ("settings", "first_word"),
    [
        ({"KOPPLINGAR_MODE": "prod"}, "KOPPLINGAR_MODE='prod': Input should be 'demo' or"),
        ({"KOPPLINGAR_READER_JOBS": "many"}, "KOPPLINGAR_READER_JOBS='many':"),
        ({"KOPPLINGAR_MODE": "production"}, "KOPPLINGAR_QR_SECRET is not set"),
        (
            {
                "KOPPLINGAR_MODE": "production",
                "KOPPLINGAR_QR_SECRET": GOOD_SECRET,
                "KOPPLINGAR_MAILBOX_ADDRESS": "kopplingar@byra.se",
            },
            "KOPPLINGAR_PUBLIC_BASE_URL='http://127.0.0.1:8000': production needs https",
        ),
    ],
)
def test_bad_configuration_is_78_naming_the_variable(
    env: dict[str, str], tmp_path: Path, settings: dict[str, str], first_word: str
) -> None:
    env.update(settings)
    result = kopplingar("registry", "show", "556677-8899", env=env, cwd=tmp_path)
    assert result.returncode == os.EX_CONFIG, result.stderr
    assert result.stderr.startswith("kopplingar: " + first_word), result.stderr
    no_traceback(result)


# read(2)'s number, to see a child blocked on its stdin in /proc/PID/syscall.
READ_SYSCALL = {"x86_64": 0, "aarch64": 63}.get(platform.machine())


def wait_until_reading_stdin(pid: int, timeout: float = 60.0) -> None:
    """Until the child sits in read(0, ...): its imports are done, Ctrl-C now hits the command."""
    if READ_SYSCALL is None:
        time.sleep(10.0)
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            fields = Path(f"/proc/{pid}/syscall").read_text().split()
        except OSError:
            fields = []
        if len(fields) > 1 and fields[0] == str(READ_SYSCALL) and int(fields[1], 16) == 0:
            return
        time.sleep(0.05)
    raise AssertionError("the child never waited on its stdin")


def test_ctrl_c_is_130(migrated: dict[str, str], tmp_path: Path) -> None:
    # Waiting for a password on stdin: the operator presses Ctrl-C.
    child = subprocess.Popen(
        [*CLI, "users", "add", "--email", "a@byra.se",
         "--name", "A", "--password-stdin"],
        env=migrated,
        cwd=tmp_path,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_until_reading_stdin(child.pid)
    child.send_signal(signal.SIGINT)
    out, err = child.communicate(timeout=30)
    assert child.returncode == 130, err
    assert "interrupted" in err
    assert "Traceback" not in err + out


def test_a_typer_exit_code_is_kept(env: dict[str, str], tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import sys
        import typer
        from kopplingar.cli import app, run

        @app.command("three")
        def three() -> None:
            raise typer.Exit(3)

        sys.exit(run(["three"]))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, cwd=tmp_path, capture_output=True, text=True
    )
    assert result.returncode == 3, result.stderr


def test_a_pass_logs_json_events_an_operator_can_follow(
    migrated: dict[str, str], tmp_path: Path
) -> None:
    folder = tmp_path / "mail"
    folder.mkdir()
    raw = message("anna@byra.se", "Blankett", [("skanning.jpg", b"not a picture at all")])
    (folder / "1.eml").write_bytes(raw)
    message_id = email.message_from_bytes(raw)["Message-ID"]
    result = kopplingar(
        "--log-format", "json", "-v", "intake", "poll", "--folder", str(folder),
        env=migrated, cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("poll: ")
    events = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    mine = [e for e in events if e.get("message_id") == message_id]
    assert {e["event"] for e in mine} >= {"message.recorded", "message.moved"}, events
    assert all({"time", "level", "logger", "message"} <= set(e) for e in events)
