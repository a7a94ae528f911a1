"""`kopplingar samples scans|digital`: sample corpora with their ground truth.

The scan simulator lives in samples/scans/; this command only passes the
operator's choices down. The committed corpus (samples/scans/corpus/) is
this command with its defaults and `--count` given in its README.
"""

from __future__ import annotations

import os
from pathlib import Path

import typer

app = typer.Typer(help="Sample data: simulated scans and born-digital PDFs, with ground truth.",
                  no_args_is_help=True)


@app.command("scans")
def scans(
    count: int = typer.Option(..., "--count", min=1,
                              help="Forms to make (a file holds one or more, plus blank pages)."),
    out: Path = typer.Option(..., "--out", help="Folder for the files, truth.json, issued.json."),
    seed: int | None = typer.Option(None, "--seed", help="Same seed, same corpus."),
    jobs: int = typer.Option(0, "--jobs", min=0, help="Processes; 0 = one per core."),
) -> None:
    """Fill, sign and degrade forms from the sample registry; write the truth beside them."""
    from samples.scans import DEFAULT_SEED, generate_corpus

    summary = generate_corpus(out, count=count, seed=DEFAULT_SEED if seed is None else seed,
                              jobs=jobs or os.cpu_count() or 1)
    print(summary.line())


@app.command("digital")
def digital(
    out: Path = typer.Option(..., "--out", help="Folder for the PDFs, truth.json, issued.json."),
    seed: int | None = typer.Option(None, "--seed", help="Same seed, same values."),
) -> None:
    """Born-digital PDFs as customers send them: typed into the fillable form, the issued PDF
    as it is, signed with a pasted image, printed to PDF, flattened, tampered with."""
    from samples.digital import generate_digital
    from samples.digital.corpus import DEFAULT_SEED

    print(generate_digital(out, seed=DEFAULT_SEED if seed is None else seed).line())
