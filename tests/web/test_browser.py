"""The public flow once in a real browser: Debian's chromium driven by Playwright."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from pypdf import PdfReader
from sqlalchemy import Engine
from sqlmodel import Session

from kopplingar.database import upgrade_all
from kopplingar.serving import serve_in_thread
from registry import import_registry, make_engine
from samples import REGISTRY_JSON
from tests.web.conftest import make_app

CHROMIUM = os.environ.get("KOPPLINGAR_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]

pytestmark = [pytest.mark.slow, pytest.mark.browser]


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    # One real-browser run is enough: the client tests cover both databases.
    engine = make_engine(f"sqlite:///{tmp_path / 'browser.db'}")
    upgrade_all(engine)
    with Session(engine) as session:
        import_registry(session, REGISTRY_JSON)
        session.commit()
    yield engine
    engine.dispose()


def test_fill_in_and_download_in_chromium(
    sqlite_engine: Engine, dual_values: dict[str, str], tmp_path: Path
) -> None:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} missing: scripts/setup.sh test installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    with serve_in_thread(make_app(sqlite_engine)) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(accept_downloads=True)
            page.goto(f"{base}/")
            page.get_by_role("link", name="Fyll i dubbelsammankoppling").click()
            page.fill("#f-client_orgnr", dual_values["client_orgnr"])
            page.fill("#f-client_subscription", dual_values["client_subscription"])
            page.get_by_role("button", name="Hämta företagets namn").click()
            assert page.input_value("#f-client_name") == dual_values["client_name"]

            # A wrong e-mail first: the page shows the error beside the field.
            for name in (
                "current_firm_name",
                "current_firm_orgnr",
                "new_firm_name",
                "new_firm_orgnr",
                "client_signatory_name",
            ):
                page.fill(f"#f-{name}", dual_values[name])
            page.check(f"input[name=current_firm_role][value={dual_values['current_firm_role']}]")
            page.check("input[name=new_firm_role][value=accounting]")
            page.check("input[name=client_signatory_role][value=firmatecknare]")
            page.fill("#f-new_firm_email", "fel-adress")
            page.get_by_role("button", name="Ladda ner ifylld blankett (PDF)").click()
            assert "ser inte ut som en e-postadress" in page.inner_text("#e-new_firm_email")
            page.screenshot(path=str(tmp_path / "error.png"), full_page=True)

            page.fill("#f-new_firm_email", dual_values["new_firm_email"])
            with page.expect_download() as info:
                page.get_by_role("button", name="Ladda ner ifylld blankett (PDF)").click()
            download = info.value
            assert download.suggested_filename.startswith("dubbelsammankoppling-")
            target = tmp_path / download.suggested_filename
            download.save_as(target)
        finally:
            browser.close()
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(target.read_bytes())).pages)
    assert dual_values["client_name"] in text
    assert dual_values["new_firm_email"] in text
