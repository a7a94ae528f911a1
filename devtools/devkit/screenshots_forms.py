"""Screenshots of the customer's public form pages, on a phone and on a desktop.

`python -m devkit.screenshots_forms [--out samples/screenshots] [--all]` serves
the public pages over a throwaway SQLite database with the sample registry and
saves, with Debian's chromium (Playwright), the whole page of:

- `form-390.png`: the start page on a 390 px wide phone screen;
- `form-errors-390.png`: the Dubbelsammankoppling after a failed submit
  (both firms' organisationsnummer missing, a wrong e-mail), on the phone.

With `--all` it also saves, at 390 and 1440 px, both forms empty and with
errors, the client found by the look-up, a dual form refused because its
current firm is not connected, and the 404 and 429 pages (`forms-<page>-<width>.png`).
Each page is measured too: anything wider than the screen is printed, and
the run fails, since a customer on a phone would have to scroll sideways.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlmodel import Session

from devkit.screenshots import CHROMIUM, CHROMIUM_ARGS, MAILBOX, SCREENSHOTS, shrink
from forms import FormKind
from kopplingar.app import create_app
from kopplingar.benchmarks.render import sample_value_sets
from kopplingar.context import AppContext
from kopplingar.database import upgrade_all
from kopplingar.serving import serve_in_thread
from registry import import_registry, make_engine
from samples import REGISTRY_JSON, SAMPLE_QR_KEY

WIDTHS = (390, 1440)
HEIGHT = {390: 844, 1440: 900}

# The elements wider than the viewport, as "tag.class: width"; empty when the page fits.
OVERFLOW_JS = """() => {
  const limit = document.documentElement.clientWidth;
  const wide = [];
  for (const el of document.querySelectorAll('body *')) {
    const r = el.getBoundingClientRect();
    if (r.right > limit + 0.5 || r.left < -0.5) {
      const where = `${Math.round(r.left)}..${Math.round(r.right)}`;
      wide.push(`${el.tagName.toLowerCase()}.${el.className}: ${where}`);
    }
  }
  if (document.documentElement.scrollWidth > limit) {
    wide.push(`document: ${document.documentElement.scrollWidth} > ${limit}`);
  }
  return wide;
}"""


def unconnected_firm(values: dict[str, str]) -> dict[str, Any]:
    """An accounting firm of the sample registry with no connection to the form's client,
    and not its new firm."""
    data = json.loads(REGISTRY_JSON.read_text(encoding="utf-8"))
    taken = {c["firm"] for c in data["connections"] if c["client"] == values["client_orgnr"]}
    taken.add(values["new_firm_orgnr"])
    return next(
        c for c in data["companies"] if c["kind"] == "accounting_firm" and c["orgnr"] not in taken
    )


def context(root: Path, *, limit: int = 1000) -> AppContext:
    engine = make_engine(f"sqlite:///{root / f'forms-{limit}.db'}")
    upgrade_all(engine)
    with Session(engine) as session:
        import_registry(session, REGISTRY_JSON)
        session.commit()
    return AppContext(
        engine=engine,
        qr_key=SAMPLE_QR_KEY,
        mailbox_address=MAILBOX,
        public_base_url="https://kopplingar.example.se",
        download_limit=limit,
        download_window_seconds=600,
    )


Visit = Callable[[Any, str], None]


def _goto(path: str) -> Visit:
    def visit(page: Any, base: str) -> None:
        page.goto(f"{base}{path}")

    return visit


def _submit(slug: str, values: dict[str, str], button: str) -> Visit:
    """Fill in the form in the browser and press `button`, as a customer would."""

    def visit(page: Any, base: str) -> None:
        page.goto(f"{base}/blankett/{slug}")
        for name, value in values.items():
            radios = page.locator(f'input[type=radio][name="{name}"]')
            if radios.count():
                if value:
                    radios.and_(page.locator(f'[value="{value}"]')).check()
            else:
                page.fill(f"#f-{name}", value)
        page.get_by_role("button", name=button).click()
        page.wait_for_load_state("load")

    return visit


def pages() -> dict[str, Visit]:
    """Every public page a customer can see, by screenshot name."""
    dual = next(v for k, v in sample_value_sets(4) if k is FormKind.DUAL)
    disconnect = next(v for k, v in sample_value_sets(4) if k is FormKind.DISCONNECT)
    download = "Ladda ner ifylld blankett (PDF)"
    dual_errors = dict(dual, current_firm_orgnr="", new_firm_orgnr="", new_firm_email="admin@")
    stranger = unconnected_firm(dual)
    refused = dict(dual, current_firm_name=stranger["name"], current_firm_orgnr=stranger["orgnr"])
    lookup = {k: dual[k] for k in ("client_orgnr", "client_subscription")}
    return {
        "index": _goto("/"),
        "dual": _goto("/blankett/dubbelsammankoppling"),
        "dual-errors": _submit("dubbelsammankoppling", dual_errors, download),
        "dual-empty-submit": _submit("dubbelsammankoppling", {}, download),
        "dual-found": _submit("dubbelsammankoppling", lookup, "Hämta företagets namn"),
        "dual-refused": _submit("dubbelsammankoppling", refused, download),
        "disconnect": _goto("/blankett/bortkoppling"),
        "disconnect-errors": _submit(
            "bortkoppling", dict(disconnect, firm_orgnr="", after=""), download
        ),
        "not-found": _goto("/blankett/finns-inte"),
    }


# The two committed to samples/screenshots, by page and width.
COMMITTED = {("index", 390): "form-390.png", ("dual-errors", 390): "form-errors-390.png"}


@contextmanager
def _browser(chromium: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def _shoot(browser: Any, base: str, visit: Visit, width: int, path: Path) -> list[str]:
    page = browser.new_page(viewport={"width": width, "height": HEIGHT[width]}, locale="sv-SE")
    try:
        visit(page, base)
        wide: list[str] = page.evaluate(OVERFLOW_JS)
        page.screenshot(path=str(path), full_page=True)
    finally:
        page.close()
    shrink(path)
    return wide


def shoot(root: Path, out: Path, chromium: str, *, everything: bool) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    ctx, limited = context(root), context(root, limit=1)
    written: list[Path] = []
    overflow: list[str] = []
    with _browser(chromium) as browser:
        with serve_in_thread(create_app(ctx)) as base:
            for name, visit in pages().items():
                for width in WIDTHS:
                    target = COMMITTED.get((name, width))
                    if target is None and not everything:
                        continue
                    path = out / (target or f"forms-{name}-{width}.png")
                    wide = _shoot(browser, base, visit, width, path)
                    overflow += [f"{name} @ {width}: {w}" for w in wide]
                    written.append(path)
        if everything:
            # A limit of one download: the first uses it up, the page then shows the 429.
            blank = "/blankett/bortkoppling/blank.pdf"
            with serve_in_thread(create_app(limited)) as base:
                first = browser.new_page()
                first.request.get(f"{base}{blank}")
                first.close()
                for width in WIDTHS:
                    path = out / f"forms-rate-limited-{width}.png"
                    wide = _shoot(browser, base, _goto(blank), width, path)
                    overflow += [f"rate-limited @ {width}: {w}" for w in wide]
                    written.append(path)
    for engine in (ctx.engine, limited.engine):
        engine.dispose()
    if overflow:
        raise SystemExit("wider than the screen:\n" + "\n".join(overflow))
    return written


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--out", type=Path, default=SCREENSHOTS, help="folder for the PNGs")
    parser.add_argument("--chromium", default=CHROMIUM, help="the chromium executable")
    parser.add_argument("--all", action="store_true", help="every page at both widths")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="kopplingar-screenshots-") as tmp:
        for path in shoot(Path(tmp), args.out, args.chromium, everything=args.all):
            print(f"{path}: {path.stat().st_size // 1024} KB")


if __name__ == "__main__":
    main()
