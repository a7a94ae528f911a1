"""`kopplingar intake file PATH...`: read scans from files and queue them.

Each file is read, validated and (unless `--dry-run`) put in the review queue
in its own transaction, so one bad file never holds up the others. With
`--json`, one JSON object per input file on stdout (shape in the README);
otherwise one line per document and a summary.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer
from sqlmodel import Session

from intake.pipeline import IntakeContext, enqueue_file, file_json, read_file
from kopplingar.context import build_context
from kopplingar.database import require_all_current
from kopplingar.errors import EX_NOINPUT, KopplingarError
from kopplingar.settings import load_settings
from kopplingar.templates import RenderedTemplates
from review import ImageStore

app = typer.Typer(help="Read scanned forms into the review queue.", no_args_is_help=True)


class MissingInputError(KopplingarError):
    exit_code = EX_NOINPUT


@app.command("file")
def file(
    paths: list[Path] = typer.Argument(..., help="Scans: PDF, JPEG, PNG or TIFF files."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Read and report; queue nothing."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per input file."),
) -> None:
    """Read each file, validate what it says, and queue every form found."""
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise MissingInputError(f"not a file: {', '.join(missing)}")
    app_ctx = build_context(load_settings())
    require_all_current(app_ctx.engine)
    assert app_ctx.images_dir is not None
    store = ImageStore(app_ctx.images_dir)
    ctx = IntakeContext(qr_key=app_ctx.qr_key, templates=RenderedTemplates(app_ctx.mailbox_address))
    queued = unreadable = 0
    for path in paths:
        with Session(app_ctx.engine) as session:
            result = read_file(session, path.read_bytes(), path.name, ctx)
            if not dry_run:
                enqueue_file(session, store, result)
                session.commit()
        for doc in result.documents:
            if doc.unreadable_reason:
                unreadable += 1
            else:
                queued += 1
        if as_json:
            print(json.dumps(file_json(result), ensure_ascii=False))
        else:
            for doc in result.documents:
                what = doc.kind.value if doc.kind else "unknown"
                state = (
                    f"unreadable: {doc.unreadable_reason}"
                    if doc.unreadable_reason
                    else (f"{len(doc.findings)} findings")
                )
                print(f"{path.name}\tpages {doc.pages}\t{what}\t{doc.form_id or '-'}\t{state}")
    verb = "read (dry run)" if dry_run else "queued"
    print(f"{len(paths)} files: {queued} forms {verb}, {unreadable} unreadable", file=sys.stderr)
