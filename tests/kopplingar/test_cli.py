"""The `kopplingar` command as an operator runs it: a real process, real files."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pypdf import PdfReader

from forms import FormKind
from kopplingar.benchmarks.render import sample_value_sets
from samples import REGISTRY_JSON

KOPPLINGAR = [sys.executable, "-m", "kopplingar.cli"]


def run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*KOPPLINGAR, *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    cwd = tmp_path_factory.mktemp("cli")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("KOPPLINGAR_") and k != "DATABASE_URL"
    }
    env["KOPPLINGAR_DATA_DIR"] = str(cwd / "data")
    assert run(["db", "upgrade"], env, cwd).returncode == 0
    imported = run(["registry", "import", str(REGISTRY_JSON)], env, cwd)
    assert imported.returncode == 0, imported.stderr
    return cwd, env


def test_help_lists_the_groups(workdir: tuple[Path, dict[str, str]]) -> None:
    cwd, env = workdir
    out = run(["--help"], env, cwd)
    assert out.returncode == 0
    for group in ("db", "registry", "form", "web", "bench", "demo"):
        assert group in out.stdout


def test_form_dual_from_options(workdir: tuple[Path, dict[str, str]]) -> None:
    cwd, env = workdir
    values = next(v for k, v in sample_value_sets(2) if k is FormKind.DUAL)
    args = ["form", "dual", "-o", "dual.pdf"]
    for name, value in values.items():
        args += [f"--{name.replace('_', '-')}", value]
    out = run(args, env, cwd)
    assert out.returncode == 0, out.stderr
    path, kind, form_id = out.stdout.strip().split("\t")
    assert (path, kind) == ("dual.pdf", "dual") and len(form_id) == 12
    text = PdfReader(io.BytesIO((cwd / "dual.pdf").read_bytes())).pages[0].extract_text()
    assert values["client_name"] in text and form_id in text


def test_form_disconnect_from_json(workdir: tuple[Path, dict[str, str]]) -> None:
    cwd, env = workdir
    values = next(v for k, v in sample_value_sets(2) if k is FormKind.DISCONNECT)
    (cwd / "values.json").write_text(json.dumps(values), encoding="utf-8")
    out = run(["form", "disconnect", "--from-json", "values.json", "-o", "b.pdf"], env, cwd)
    assert out.returncode == 0, out.stderr
    assert (cwd / "b.pdf").read_bytes().startswith(b"%PDF-")


def test_bad_values_exit_65_naming_each_field(workdir: tuple[Path, dict[str, str]]) -> None:
    cwd, env = workdir
    values = next(v for k, v in sample_value_sets(2) if k is FormKind.DISCONNECT)
    values |= {"firm_orgnr": "123", "after": "sometimes"}
    (cwd / "bad.json").write_text(json.dumps(values), encoding="utf-8")
    out = run(["form", "disconnect", "--from-json", "bad.json", "-o", "x.pdf"], env, cwd)
    assert out.returncode == 65
    assert "firm_orgnr: Ett organisationsnummer har 10 siffror" in out.stderr
    assert "after: Välj ett av alternativen" in out.stderr
    assert not (cwd / "x.pdf").exists()


def test_blank_form(workdir: tuple[Path, dict[str, str]]) -> None:
    cwd, env = workdir
    out = run(["form", "dual", "--blank", "-o", "blank.pdf"], env, cwd)
    assert out.returncode == 0, out.stderr
    assert PdfReader(io.BytesIO((cwd / "blank.pdf").read_bytes())).get_fields()


def test_missing_json_exits_66(workdir: tuple[Path, dict[str, str]]) -> None:
    cwd, env = workdir
    out = run(["form", "dual", "--from-json", "nope.json"], env, cwd)
    assert out.returncode == 66
    assert "nope.json" in out.stderr


def test_production_without_secret_exits_78(workdir: tuple[Path, dict[str, str]]) -> None:
    cwd, env = workdir
    out = run(
        ["form", "dual", "--blank", "-o", "p.pdf"], env | {"KOPPLINGAR_MODE": "production"}, cwd
    )
    assert out.returncode == 78
    assert "KOPPLINGAR_QR_SECRET" in out.stderr


def test_unmigrated_database_is_named_with_the_fix(tmp_path: Path) -> None:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("KOPPLINGAR_") and k != "DATABASE_URL"
    }
    env["KOPPLINGAR_DATA_DIR"] = str(tmp_path / "empty")
    values = next(v for k, v in sample_value_sets(2) if k is FormKind.DUAL)
    (tmp_path / "v.json").write_text(json.dumps(values), encoding="utf-8")
    out = run(["form", "dual", "--from-json", "v.json"], env, tmp_path)
    assert out.returncode == 78
    assert "kopplingar db upgrade" in out.stderr
