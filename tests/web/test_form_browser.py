"""The form page's errors in a real browser (Debian's chromium through Playwright): focus goes to
the error summary after a failed submit, its links move focus to their fields, and no public
page is wider than a 390 px phone screen."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from kopplingar.database import upgrade_all
from kopplingar.serving import serve_in_thread
from registry import import_registry, make_engine
from samples import REGISTRY_JSON
from tests.web.conftest import make_app
from tests.web.test_browser import CHROMIUM, CHROMIUM_ARGS
from tests.web.test_form_errors import stranger_to

if TYPE_CHECKING:
    from playwright.sync_api import ViewportSize

pytestmark = [pytest.mark.slow, pytest.mark.browser]

PHONE: ViewportSize = {"width": 390, "height": 844}
DOWNLOAD = "Ladda ner ifylld blankett (PDF)"


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    # A real browser on one database: the client tests cover both.
    engine = make_engine(f"sqlite:///{tmp_path / 'browser.db'}")
    upgrade_all(engine)
    with Session(engine) as session:
        import_registry(session, REGISTRY_JSON)
        session.commit()
    yield engine
    engine.dispose()


@pytest.fixture
def browser_page(sqlite_engine: Engine) -> Iterator[tuple[Any, str]]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} missing: scripts/setup.sh test installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    with serve_in_thread(make_app(sqlite_engine)) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser.new_page(viewport=PHONE, locale="sv-SE"), base
        finally:
            browser.close()


def fill(page: Any, values: dict[str, str]) -> None:
    for name, value in values.items():
        radios = page.locator(f'input[type=radio][name="{name}"]')
        if radios.count():
            if value:
                radios.and_(page.locator(f'[value="{value}"]')).check()
        else:
            page.fill(f"#f-{name}", value)


def fits(page: Any) -> None:
    """Nothing on the page makes it wider than the screen."""
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{page.url} is {width} px wide"


def focused_id(page: Any) -> str:
    return str(page.evaluate("document.activeElement ? document.activeElement.id : ''"))


def test_focus_moves_to_the_summary_and_from_it_to_the_field(
    browser_page: tuple[Any, str], dual_values: dict[str, str]
) -> None:
    page, base = browser_page
    page.goto(f"{base}/blankett/dubbelsammankoppling")
    fits(page)
    fill(page, dict(dual_values, new_firm_orgnr="", new_firm_email="admin@"))
    page.get_by_role("button", name=DOWNLOAD).click()
    page.wait_for_load_state("load")  # the deferred script has run
    assert focused_id(page) == "fel"
    alert = page.get_by_role("alert")
    assert "Rätta 2 fel" in alert.inner_text()
    fits(page)

    # The summary's first link: focus on the new firm's organisationsnummer, its label in view.
    page.get_by_role("link", name="Byrån som ska kopplas: Organisationsnummer saknas").click()
    assert focused_id(page) == "f-new_firm_orgnr"
    label_top = page.evaluate(
        "document.querySelector('label[for=f-new_firm_orgnr]').getBoundingClientRect().top"
    )
    assert 0 <= label_top < PHONE["height"]

    # A choice's link lands on its first option.
    fill(page, {"new_firm_orgnr": dual_values["new_firm_orgnr"]})
    page.evaluate("document.querySelectorAll('input[name=current_firm_role]')"
                  ".forEach(r => { r.checked = false; })")
    page.get_by_role("button", name=DOWNLOAD).click()
    page.wait_for_load_state("load")
    assert focused_id(page) == "fel"
    page.get_by_role("link", name="Byrån som redan är kopplad: Välj typ av byrå").click()
    assert focused_id(page) == "f-current_firm_role"


def test_no_public_page_is_wider_than_a_phone(
    browser_page: tuple[Any, str], dual_values: dict[str, str], disconnect_values: dict[str, str]
) -> None:
    page, base = browser_page
    for path in ("/", "/blankett/dubbelsammankoppling", "/blankett/bortkoppling",
                 "/blankett/finns-inte"):
        page.goto(f"{base}{path}")
        fits(page)

    # Every field wrong at once: the longest summary there is.
    page.goto(f"{base}/blankett/dubbelsammankoppling")
    page.get_by_role("button", name=DOWNLOAD).click()
    page.wait_for_selector("#fel")
    fits(page)

    # Refused: the current firm is not connected to the client.
    stranger = stranger_to(dual_values)
    page.goto(f"{base}/blankett/dubbelsammankoppling")
    fill(page, dict(dual_values, current_firm_orgnr=stranger["orgnr"]))
    page.get_by_role("button", name=DOWNLOAD).click()
    page.wait_for_selector("#e-current_firm_orgnr")
    assert "är inte kopplad till" in page.inner_text("#fel")
    fits(page)

    page.goto(f"{base}/blankett/bortkoppling")
    fill(page, dict(disconnect_values, firm_orgnr="", after=""))
    page.get_by_role("button", name=DOWNLOAD).click()
    page.wait_for_selector("#fel")
    fits(page)

    page.goto(f"{base}/blankett/bortkoppling")
    fill(page, {k: disconnect_values[k] for k in ("client_orgnr", "client_subscription")})
    page.get_by_role("button", name="Hämta företagets namn").click()
    page.wait_for_selector(".notice")
    fits(page)
