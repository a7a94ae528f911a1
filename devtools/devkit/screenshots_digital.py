"""Screenshots of the reviewer pages for born-digital and unreadable forms.

`python -m devkit.screenshots_digital [--out samples/screenshots]` reads two
files into a throwaway SQLite queue (the sample registry, the born-digital
corpus's issued forms and its CA root as the trust root): a typed form the
client signed digitally (`samples/digital/corpus/dual-esigned-valid.pdf`)
and a committed scan with its corners cut off (unreadable). It then saves:

- `esign-detail.png`: the signed form's page, its digital signature named in
  the findings (who, when, issuer, trust), the whole page;
- `keying.png`: the keying page of the unreadable scan, its values typed in,
  at 1440x900 (the whole page);
- `keying-390.png`: the same page on a 390 px wide phone screen.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from sqlmodel import Session

from devkit.screenshots import (
    MAILBOX,
    ME,
    _reviewer,
    cli,
    logged_in,
    shrink,
)
from forms import FormSpec, form_spec
from intake.scan import IntakeContext, enqueue_file, read_file
from kopplingar.benchmarks.digital import DEFAULT_CORPUS
from kopplingar.context import AppContext
from kopplingar.database import upgrade_all
from kopplingar.templates import RenderedTemplates
from registry import import_registry, make_engine
from samples import REGISTRY_JSON, SAMPLE_QR_KEY
from samples.digital.corpus import without_corners
from samples.scans import CORPUS_DIR, record_issued
from workqueue import ImageStore

SIGNED = "dual-esigned-valid.pdf"
UNREADABLE = "016-crooked-png.png"


def prepare(root: Path) -> tuple[AppContext, list[int], dict[str, str]]:
    engine = make_engine(f"sqlite:///{root / 'screenshots.db'}")
    upgrade_all(engine)
    images = ImageStore(root / "images")
    roots = tuple(p.read_bytes() for p in sorted((DEFAULT_CORPUS / "trust").glob("*.pem")))
    ctx = IntakeContext(qr_key=SAMPLE_QR_KEY, templates=RenderedTemplates(MAILBOX),
                        trust_roots=roots)
    ids: list[int] = []
    with Session(engine) as session:
        import_registry(session, REGISTRY_JSON)
        record_issued(session, DEFAULT_CORPUS)
        _reviewer(session, *ME, dt.datetime.now(dt.UTC))
        session.commit()
        for name, data in ((SIGNED, (DEFAULT_CORPUS / SIGNED).read_bytes()),
                           ("foto.png", without_corners((CORPUS_DIR / UNREADABLE).read_bytes()))):
            result = read_file(session, data, name, ctx)
            ids += list(enqueue_file(session, images, result))
            session.commit()
    truth = next(f for f in json.loads((CORPUS_DIR / "truth.json").read_text())["files"]
                 if f["file"] == UNREADABLE)["documents"][0]
    spec = form_spec(truth["kind"])
    values = dict(truth["fields"]) | {s.date_field: truth["dates"][s.party]
                                      for s in spec.signatures}
    app = AppContext(engine=engine, qr_key=SAMPLE_QR_KEY, mailbox_address=MAILBOX,
                     public_base_url="https://kopplingar.example.se", download_limit=1000,
                     download_window_seconds=600, images_dir=root / "images",
                     cookie_secure=False)
    return app, ids, values | {"kind": truth["kind"]}


def fill_keying(page: Any, spec: FormSpec, values: dict[str, str]) -> None:
    """Type `values` into the keying page's fields, as a reviewer does (radio buttons for
    choices); the page is a Playwright page showing `spec`'s fields."""
    for field in spec.fields:
        value = values.get(field.name, "")
        if not value:
            continue
        if field.options:
            page.locator(f"input[name='falt.{field.name}'][value='{value}']").check()
        else:
            page.fill(f"#field-{field.name}", value)


def shoot(app: AppContext, ids: list[int], values: dict[str, str], out: Path,
          chromium: str) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    signed_id, unreadable_id = ids
    written = [out / "esign-detail.png", out / "keying.png", out / "keying-390.png"]
    spec = form_spec(values["kind"])
    with logged_in(app, chromium) as (page, base):
        page.goto(f"{base}/granskning/{signed_id}")
        page.wait_for_load_state("networkidle")
        page.screenshot(path=str(written[0]), full_page=True)
        page.goto(f"{base}/granskning/{unreadable_id}/skriv-in?blankett={values['kind']}")
        fill_keying(page, spec, values)
        page.wait_for_timeout(600)  # the registry's names, looked up as typed
        # From the top, as the page opens: the image is sticky beside the fields.
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(written[1]), full_page=True)
        page.set_viewport_size({"width": 390, "height": 844})
        page.evaluate("window.scrollTo(0, 0)")
        page.wait_for_timeout(200)
        page.screenshot(path=str(written[2]), full_page=True)
    for path in written:
        shrink(path)
    return written


def main(argv: list[str] | None = None) -> None:
    def take(tmp: Path, out: Path, chromium: str) -> tuple[AppContext, list[Path]]:
        app, ids, values = prepare(tmp)
        return app, shoot(app, ids, values, out, chromium)

    cli(__doc__, argv, take)


if __name__ == "__main__":
    main()
