"""The digital path end to end in Debian's chromium, with mail through a real SMTP server.

Every link is opened in the browser from a mail the SMTP server received (the
outbox delivers through `workqueue.deliver_pending`); the app is the real one
(`kopplingar.app.create_app`). Its mails name the address the tests serve as
"http://testserver", which the test swaps for the address it really serves on.

1. A firm administrator signs in by link, labels a client and puts it in a
   consultant's personal client list.
2. They start a digital disconnection; one of the client's two administrators
   approves, the other's link shows it done; the payer changes from the next
   billing period and the confirmations arrive.
3. An audit firm asks for a dual connection; the client approves and grants
   its consultant Bokföring until a date; after that date the access is gone.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

import pytest
from devkit.localmail.smtp import LocalSmtp
from playwright.sync_api import Browser, Page, expect, sync_playwright
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from kopplingar.app import create_app
from kopplingar.context import AppContext
from kopplingar.database import upgrade_all
from kopplingar.portal_jobs import run_portal_jobs
from kopplingar.serving import serve_in_thread
from registry import (
    Company,
    Connection,
    DigitalExclusion,
    Person,
    ProgramGrant,
    SubscriptionPayer,
    import_registry,
    make_engine,
)
from tests.portal.cases import (
    ANNA,
    AUDITOR,
    BO,
    CECILIA,
    CLIENT,
    CLIENT_SUB,
    EXCLUDED,
    FIRM,
    KARIN,
    NAMES,
    SARA,
    SVEN,
    portal_doc,
)
from tests.registry.helpers import write_json
from tests.web.test_browser import CHROMIUM, CHROMIUM_ARGS
from workqueue import SmtpSender, deliver_pending

pytestmark = [pytest.mark.slow, pytest.mark.browser]

MAILBOX = "kopplingar@kopplingar.example"
_LINK: re.Pattern[str] = re.compile(r"http://testserver(/mina-sidor/\S+)")


@dataclass
class Digital:
    engine: Engine
    smtp: LocalSmtp
    base: str = ""

    def deliver(self) -> None:
        with SmtpSender(self.smtp.config()) as sender:
            report = deliver_pending(self.engine, sender, from_address=MAILBOX,
                                     now=lambda: dt.datetime.now(dt.UTC))  # fmt: skip
        assert report.failed == 0 and report.deferred == 0

    def mails_to(self, address: str) -> list[EmailMessage]:
        self.deliver()
        return [m for m in self.smtp.messages if m["To"] == address]

    def link_in(self, address: str, index: int = -1, *, containing: str = "") -> str:
        """The link in the `index`-th mail to `address` (whose subject contains `containing`)."""
        mails = [m for m in self.mails_to(address) if containing in str(m["Subject"])]
        assert mails, f"no mail to {address} about {containing!r}"
        body = str(mails[index].get_content())
        found: list[str] = _LINK.findall(body)
        assert found, body
        return self.base + found[0]


@pytest.fixture
def digital(tmp_path: Path) -> Iterator[Digital]:
    engine = make_engine(f"sqlite:///{tmp_path / 'portal.db'}")
    upgrade_all(engine)
    with Session(engine) as session:
        assert import_registry(session, write_json(tmp_path, portal_doc())).ok
        excluded = session.exec(select(Company).where(col(Company.orgnr) == EXCLUDED)).one()
        assert excluded.id is not None
        session.add(DigitalExclusion(company_id=excluded.id))
        session.commit()
    with LocalSmtp(tmp_path / "smtp") as smtp:
        yield Digital(engine=engine, smtp=smtp)
    engine.dispose()


def sign_in(page: Page, d: Digital, email: str) -> None:
    page.goto(d.base + "/mina-sidor/logga-in")
    page.get_by_label("E-postadress").fill(email)
    page.get_by_role("button", name="Skicka inloggningslänk").click()
    expect(page.get_by_role("heading", name="Kolla din e-post")).to_be_visible()
    page.goto(d.link_in(email, containing="inloggningslänk"))
    page.get_by_role("button", name="Logga in").click()
    expect(page.get_by_role("heading", name="Mina företag")).to_be_visible()


def test_the_digital_path_in_chromium(digital: Digital) -> None:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} missing: scripts/setup.sh test installs Debian's chromium")
    ctx = AppContext(engine=digital.engine, qr_key=b"portal-browser-test-key-0123456789abcdef",
                     mailbox_address=MAILBOX, public_base_url="http://testserver",
                     download_limit=1000, download_window_seconds=600)  # fmt: skip
    with serve_in_thread(create_app(ctx)) as base, sync_playwright() as pw:
        digital.base = base
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            anna = browser.new_context().new_page()
            _label_and_assign(anna, digital)
            _disconnect(browser, anna, digital)
            _dual_and_grant(browser, digital)
        finally:
            browser.close()


def _label_and_assign(page: Page, d: Digital) -> None:
    sign_in(page, d, ANNA)
    page.get_by_role("link", name="Berg & Dal Redovisning AB").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Klienter")
    page.get_by_role("link", name="Nyström Musik AB").first.click()
    page.get_by_label("Ny märkning").fill("Bokslut mars")
    page.get_by_role("button", name="Lägg till märkning").click()
    expect(page.locator(".tag", has_text="Bokslut mars").first).to_be_visible()
    page.get_by_label("Lägg till i klientlistan för").select_option(label=NAMES[KARIN])
    page.get_by_role("button", name="Lägg till", exact=True).click()
    expect(page.get_by_text(NAMES[KARIN]).first).to_be_visible()
    # The list filters by the label and by the consultant.
    page.goto(f"{d.base}/mina-sidor/byra/{FIRM}/klienter")
    page.get_by_label("Märkning").select_option(label="Bokslut mars")
    page.get_by_role("button", name="Visa").click()
    rows = page.locator("tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Nyström Musik AB")
    expect(rows.first).to_contain_text(NAMES[KARIN])


def _disconnect(browser: Browser, anna: Page, d: Digital) -> None:
    before = _payers(d.engine)
    anna.goto(f"{d.base}/mina-sidor/byra/{FIRM}/klienter")
    row = anna.locator("tbody tr", has_text="Nyström Musik AB")
    row.get_by_role("link", name="Koppla bort").click()
    anna.get_by_role("button", name="Skicka förfrågan om bortkoppling").click()
    expect(anna.locator(".notice").first).to_be_visible()
    # Both of the client's administrators got their own link; Sara approves.
    sara_link = d.link_in(SARA, containing="bortkoppling")
    sven_link = d.link_in(SVEN, containing="bortkoppling")
    assert sara_link != sven_link
    sara = browser.new_context().new_page()
    sara.goto(sara_link)
    expect(sara.get_by_text("Det här händer om du godkänner")).to_be_visible()
    expect(sara.get_by_text("tar företaget över abonnemanget")).to_be_visible()
    sara.get_by_role("button", name="Godkänn bortkopplingen").click()
    expect(sara.get_by_text(f"godkänd av {NAMES[SARA]}")).to_be_visible()
    # Sven's link shows what was done, by whom and when; it decides nothing any more.
    sven = browser.new_context().new_page()
    sven.goto(sven_link)
    expect(sven.get_by_text(f"Förfrågan är godkänd av {NAMES[SARA]} den")).to_be_visible()
    expect(sven.get_by_role("button", name="Godkänn bortkopplingen")).to_have_count(0)
    with Session(d.engine) as session:
        ended = session.exec(select(Connection).where(col(Connection.firm_id) == _id(session, FIRM),
                             col(Connection.client_id) == _id(session, CLIENT))).one()  # fmt: skip
        assert ended.until is not None
        client_id = _id(session, CLIENT)
    after = _payers(d.engine)
    assert len(after) == len(before) + 1
    new_payer, valid_from = after[-1]
    assert new_payer == client_id and valid_from.day == 1 and valid_from > dt.date.today()
    # The confirmations: the firm's administrator and the client's people.
    assert any("kopplats bort" in str(m["Subject"]) for m in d.mails_to(ANNA))
    assert any("kopplats bort" in str(m["Subject"]) for m in d.mails_to(SVEN))


def _dual_and_grant(browser: Browser, d: Digital) -> None:
    bo = browser.new_context().new_page()
    sign_in(bo, d, BO)
    bo.goto(f"{d.base}/mina-sidor/byra/{AUDITOR}/dubbelsammankoppling")
    bo.get_by_label("Företagets organisationsnummer").fill(CLIENT)
    bo.get_by_label("Abonnemangsnummer (8 siffror)").fill(CLIENT_SUB)
    bo.get_by_role("button", name="Skicka förfrågan").click()
    expect(bo.locator(".notice").first).to_be_visible()
    sara = browser.new_context().new_page()
    sara.goto(d.link_in(SARA, containing="Hallands"))
    sara.get_by_role("button", name="Godkänn kopplingen").click()
    sara.get_by_role("link", name="Ge byråns konsulter behörighet").click()
    # Not signed in yet: the link leads through the sign-in and back.
    if "logga-in" in sara.url:
        sara.get_by_label("E-postadress").fill(SARA)
        sara.get_by_role("button", name="Skicka inloggningslänk").click()
        sara.goto(d.link_in(SARA, containing="inloggningslänk"))
        sara.get_by_role("button", name="Logga in").click()
    expect(sara.get_by_text(NAMES[CECILIA]).first).to_be_visible()
    with Session(d.engine) as session:
        cecilia = _person(session, CECILIA)
    sara.goto(f"{d.base}/mina-sidor/foretag/{CLIENT}/konsulter/{cecilia}")
    today = dt.date.today()
    sara.locator('input[name="niva-bokforing"][value="write"]').check()
    sara.fill("#till-bokforing", today.isoformat())
    sara.get_by_role("button", name="Spara behörigheter").click()
    expect(sara.locator(".notice").first).to_be_visible()
    page = sara.goto(f"{d.base}/mina-sidor/foretag/{CLIENT}")
    assert page is not None
    expect(sara.get_by_text("Bokföring").first).to_be_visible()
    assert any(NAMES[CECILIA] in m.get_content() or "Bokföring" in m.get_content()
               for m in d.mails_to(CECILIA))  # fmt: skip
    # The day after its last day the access is gone, and the job says so to the people concerned.
    tomorrow = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    report = run_portal_jobs(d.engine, now=tomorrow, sender_domain="kopplingar.example",
                             base_url="http://testserver")  # fmt: skip
    assert report.grants_ended == 1
    with Session(d.engine) as session:
        grant = session.exec(select(ProgramGrant)).one()
        assert grant.end_reason == "expired"
    assert any("behörighet" in str(m["Subject"]).lower() for m in d.mails_to(CECILIA)[1:])
    sara.reload()
    expect(sara.locator("body")).not_to_contain_text("Läsa och ändra")


def _id(session: Session, orgnr: str) -> int:
    company = session.exec(select(Company).where(col(Company.orgnr) == orgnr)).one()
    assert company.id is not None
    return company.id


def _person(session: Session, email: str) -> int:
    person = session.exec(select(Person).where(col(Person.email) == email)).one()
    assert person.id is not None
    return person.id


def _payers(engine: Engine) -> list[tuple[int, dt.date]]:
    with Session(engine) as session:
        rows = session.exec(select(SubscriptionPayer).order_by(col(SubscriptionPayer.id))).all()
        return [(p.payer_id, p.valid_from) for p in rows]
