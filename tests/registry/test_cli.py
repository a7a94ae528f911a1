"""`kopplingar db ...` and `kopplingar registry ...` as an operator runs them."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner, Result

from kopplingar.commands import db, registry
from registry import DatabaseNotReady, ImportRejected, NotFound, head_revision
from samples import REGISTRY_JSON
from tests.registry.helpers import small_doc, write_json

runner = CliRunner()


@pytest.fixture
def configured(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Settings that point at the test's database (and no stray .env file)."""
    monkeypatch.chdir(tmp_path)
    for name in ("DATABASE_URL", "KOPPLINGAR_MODE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("KOPPLINGAR_DATABASE_URL", db_url)
    monkeypatch.setenv("KOPPLINGAR_DATA_DIR", str(tmp_path / "data"))
    yield db_url


def invoke(app: typer.Typer, *args: str) -> Result:
    return runner.invoke(app, list(args))


def exit_code(result: Result) -> int:
    """The code kopplingar's main() exits with: a package error carries its own."""
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        return int(getattr(result.exception, "exit_code", 1))
    return result.exit_code


def test_db_upgrade_and_current(configured: str) -> None:
    head = head_revision()
    assert invoke(db.app, "current").stdout.startswith("registry: not migrated")
    first = invoke(db.app, "upgrade")
    assert exit_code(first) == 0
    lines = first.stdout.strip().splitlines()
    assert lines[0] == f"registry: database upgraded from empty to revision {head} (head)"
    assert lines[1].startswith("workqueue: database upgraded from empty to revision")
    again = invoke(db.app, "upgrade").stdout.strip().splitlines()
    assert again[0] == f"registry: database already at revision {head} (head)"
    assert invoke(db.app, "current").stdout.strip().splitlines()[0] == f"registry: {head} (head)"


def test_registry_commands_need_a_migrated_database(configured: str) -> None:
    for args in (("import", str(REGISTRY_JSON)), ("show", "556123-4567")):
        result = invoke(registry.app, *args)
        assert isinstance(result.exception, DatabaseNotReady)
        assert str(result.exception) == "database not migrated: run kopplingar db upgrade"
        assert exit_code(result) == 78


def test_import_then_show(configured: str) -> None:
    assert exit_code(invoke(db.app, "upgrade")) == 0
    first = invoke(registry.app, "import", str(REGISTRY_JSON))
    assert exit_code(first) == 0, first.output
    assert "written: 591 new records" in first.stdout
    again = invoke(registry.app, "import", str(REGISTRY_JSON))
    assert exit_code(again) == 0
    assert "nothing to write" in again.stdout

    shown = invoke(registry.app, "show", "559766-4746", "--on", "2026-01-01")
    assert exit_code(shown) == 0
    lines = shown.stdout.splitlines()
    assert lines[:3] == [
        "Eriksson & Lindgren Redovisningsbyrå AB",
        "  organisationsnummer  559766-4746",
        "  kind                 accounting firm (redovisningsbyrå)",
    ]
    assert "  10016509  paid by the company itself (no payer recorded)" in lines
    assert any("firmatecknare, consultant" in line for line in lines)
    firm_section = lines[lines.index("connections as firm (its clients)"):]
    assert any("Norrlands VVS AB (556657-3936)" in line and "2010-07-01 – 2014-02-01" in line
               and line.endswith("ended") for line in firm_section)

    client = invoke(registry.app, "show", "556657-3936", "--on", "2026-01-01").stdout
    assert "paid by the company itself since 2014-03-01" in client

    missing = invoke(registry.app, "show", "556677-8899")
    assert isinstance(missing.exception, NotFound) and exit_code(missing) == 66


def test_rejected_rows_exit_65_and_write_nothing(configured: str, tmp_path: Path) -> None:
    assert exit_code(invoke(db.app, "upgrade")) == 0
    doc = small_doc()
    doc["companies"][2]["orgnr"] = "556555-1231"
    path = write_json(tmp_path, doc)
    result = invoke(registry.app, "import", str(path))
    assert isinstance(result.exception, ImportRejected) and exit_code(result) == 65
    assert str(result.exception) == "2 rows rejected; nothing was written"
    assert f"{path}:companies[2] — organisationsnummer ”556555-1231”" in result.stdout
    assert "nothing written" in result.stdout
    assert "no company" in str(invoke(registry.app, "show", "556123-4567").exception)

    skipped = invoke(registry.app, "import", "--skip-invalid", str(path))
    assert exit_code(skipped) == 65
    assert str(skipped.exception) == "2 rows rejected; the valid rows were imported"
    assert exit_code(invoke(registry.app, "show", "556123-4567")) == 0


def test_main_exits_with_the_error_code(
    configured: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from kopplingar.cli import main

    monkeypatch.setattr(sys, "argv", ["kopplingar", "registry", "import", str(tmp_path / "x.json")])
    with pytest.raises(SystemExit) as caught:
        main()
    assert caught.value.code == 78
    assert capsys.readouterr().err == (
        "kopplingar: database not migrated: run kopplingar db upgrade\n"
    )
