"""The generator: the same seed gives the same bytes, in one process or several."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from typer.testing import CliRunner

from kopplingar.commands import samples as samples_command
from samples.scans import generate_corpus, load_issued, load_truth, truth_problems


def _contents(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_same_seed_same_bytes_whatever_the_processes(tmp_path: Path) -> None:
    one = generate_corpus(tmp_path / "one", count=3, seed=11, jobs=1)
    two = generate_corpus(tmp_path / "two", count=3, seed=11, jobs=2)
    assert (one.files, one.forms, one.pages) == (two.files, two.forms, two.pages)
    assert _contents(tmp_path / "one") == _contents(tmp_path / "two")
    truth = load_truth(tmp_path / "one")
    assert truth_problems(truth, load_issued(tmp_path / "one")) == []
    assert sum(len(f["documents"]) for f in truth["files"]) == 3


def test_another_seed_another_corpus(tmp_path: Path) -> None:
    generate_corpus(tmp_path / "a", count=1, seed=1)
    generate_corpus(tmp_path / "b", count=1, seed=2)
    a, b = _contents(tmp_path / "a"), _contents(tmp_path / "b")
    assert a.keys() == b.keys()
    assert a["truth.json"] != b["truth.json"]
    assert all(a[k] != b[k] for k in a if k not in ("truth.json", "issued.json"))


def test_cli_writes_the_corpus_and_says_what(tmp_path: Path) -> None:
    app = typer.Typer()
    app.add_typer(samples_command.app, name="samples")
    out = tmp_path / "corpus"
    result = CliRunner().invoke(app, ["samples", "scans", "--count", "2", "--out", str(out),
                                      "--seed", "4", "--jobs", "1"])
    assert result.exit_code == 0, result.output
    assert "2 forms" in result.output
    truth = json.loads((out / "truth.json").read_text(encoding="utf-8"))
    assert truth["seed"] == 4
    assert all((out / f["file"]).is_file() for f in truth["files"])
