"""Screenshots of the customer pages (`/mina-sidor/`), at 1440 and 390 px wide, for the docs.

`python -m devkit.screenshots_portal [--out samples/screenshots]` builds a
throwaway SQLite database with the sample registry and the demo's
exclusion list, the demo's firm administrator and client (`samples.digital_demo`),
labels and consultants' lists on the firm's clients, one consultant's
programs at the client and a pending digital disconnection, then signs in
through the real link mail and saves:

- `portal-clients.png`, `portal-clients-390.png`: the firm's client list;
- `portal-approval.png`, `portal-approval-390.png`: the client administrator's
  approval page, opened from the request link;
- `portal-grants.png`, `portal-grants-390.png`: one consultant's programs and
  permission levels on the client's pages.
"""

from __future__ import annotations

import datetime as dt
import re
import sys
from pathlib import Path

from playwright.sync_api import Page, sync_playwright
from sqlmodel import Session, col, select

from devkit.screenshots import CHROMIUM_ARGS, cli, shrink
from kopplingar.app import create_app
from kopplingar.context import AppContext
from kopplingar.database import upgrade_all
from kopplingar.serving import serve_in_thread
from registry import (
    Connection,
    PermissionLevel,
    Person,
    Program,
    Role,
    RoleKind,
    import_registry,
    make_engine,
)
from registry.clientlists import add_label, assign_client
from registry.digital import start_disconnection
from registry.grants import set_grants
from samples import REGISTRY_JSON, SAMPLE_QR_KEY
from samples.digital_demo import DemoPeople, demo_people, ensure_excluded_firms
from workqueue import OutboundMail

QUARTER = dt.timedelta(days=90)
LABELS = ("Bokslut mars", "Moms kvartal", "Lön", "Ny kund", "Årsredovisning")
_LINK = re.compile(r"http://screenshots(/mina-sidor/\S+)")


def _firm_clients(session: Session, firm_id: int) -> list[int]:
    rows = session.exec(
        select(Connection.client_id).where(
            col(Connection.firm_id) == firm_id, col(Connection.until).is_(None)
        )
    ).all()
    return list(rows)


def _consultants(session: Session, firm_id: int) -> list[Person]:
    return list(
        session.exec(
            select(Person)
            .join(Role, col(Role.person_id) == col(Person.id))
            .where(col(Role.company_id) == firm_id, col(Role.role) == RoleKind.CONSULTANT)
            .order_by(col(Person.name))
        ).all()
    )


def prepare(root: Path) -> tuple[AppContext, DemoPeople, Person, str]:
    """The database (module docstring); the people, a consultant, the approval link's path."""
    engine = make_engine(f"sqlite:///{root / 'portal.db'}")
    upgrade_all(engine)
    now = dt.datetime.now(dt.UTC)
    with Session(engine, expire_on_commit=False) as session:
        import_registry(session, REGISTRY_JSON)
        ensure_excluded_firms(session)
        session.commit()
        people = demo_people(session)
        assert people is not None, "the sample registry has no firm and client with administrators"
        firm, client = people.firm, people.client
        assert firm.id is not None and client.id is not None
        actor = people.firm_admin.email
        consultants = _consultants(session, firm.id)
        if not consultants:  # the firm administrator works as a consultant too
            consultants = [people.firm_admin]
            assert people.firm_admin.id is not None
            session.add(Role(person_id=people.firm_admin.id, company_id=firm.id,
                             role=RoleKind.CONSULTANT))  # fmt: skip
            session.flush()
        for n, client_id in enumerate(_firm_clients(session, firm.id)):
            add_label(session, firm_id=firm.id, client_id=client_id,
                      label=LABELS[n % len(LABELS)], actor=actor, now=now)  # fmt: skip
            consultant = consultants[n % len(consultants)]
            assert consultant.id is not None
            assign_client(session, firm_id=firm.id, consultant_id=consultant.id,
                          client_id=client_id, actor=actor, now=now)  # fmt: skip
        consultant = consultants[0]
        assert consultant.id is not None
        today = now.date()
        set_grants(session, client_id=client.id, firm_id=firm.id, person_id=consultant.id,
                   grants={Program.BOOKKEEPING: (PermissionLevel.WRITE, None),
                           Program.INVOICING: (PermissionLevel.READ, today + QUARTER)},
                   actor=people.client_admin.email, today=today, now=now)  # fmt: skip
        started = start_disconnection(session, firm=firm, client=client,
                                      requester=people.firm_admin, now=now)  # fmt: skip
        token = next(t for p, t in started.links if p.id == people.client_admin.id)
        session.commit()
    ctx = AppContext(engine=engine, qr_key=SAMPLE_QR_KEY, mailbox_address="kopplingar@example.se",
                     public_base_url="http://screenshots", download_limit=1000,
                     download_window_seconds=600)  # fmt: skip
    return ctx, people, consultant, f"/mina-sidor/forfragan/{token}"


def _sign_in(page: Page, base: str, ctx: AppContext, email: str) -> None:
    page.goto(f"{base}/mina-sidor/logga-in")
    page.fill("#email", email)
    page.get_by_role("button", name="Skicka inloggningslänk").click()
    page.wait_for_load_state("networkidle")
    with Session(ctx.engine) as session:
        mail = session.exec(
            select(OutboundMail)
            .where(col(OutboundMail.recipient) == email)
            .order_by(col(OutboundMail.id).desc())
        ).first()
    assert mail is not None, f"no sign-in mail to {email}"
    found = _LINK.search(mail.body)
    assert found is not None
    page.goto(base + found.group(1))
    page.get_by_role("button", name="Logga in").click()
    page.wait_for_load_state("networkidle")


def _both_widths(page: Page, url: str, out: Path, name: str) -> list[Path]:
    written = []
    for width, suffix in ((1440, ""), (390, "-390")):
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(url)
        page.wait_for_load_state("networkidle")
        path = out / f"{name}{suffix}.png"
        page.screenshot(path=str(path), full_page=True)
        written.append(path)
    return written


def take(root: Path, out: Path, chromium: str) -> tuple[AppContext, list[Path]]:
    ctx, people, consultant, approval = prepare(root)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    with serve_in_thread(create_app(ctx)) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            firm_page = browser.new_context().new_page()
            _sign_in(firm_page, base, ctx, people.firm_admin.email)
            clients = f"{base}/mina-sidor/byra/{people.firm.orgnr}/klienter"
            written += _both_widths(firm_page, clients, out, "portal-clients")
            link_page = browser.new_context().new_page()
            written += _both_widths(link_page, base + approval, out, "portal-approval")
            client_page = browser.new_context().new_page()
            _sign_in(client_page, base, ctx, people.client_admin.email)
            written += _both_widths(
                client_page,
                f"{base}/mina-sidor/foretag/{people.client.orgnr}/konsulter/{consultant.id}",
                out,
                "portal-grants",
            )
        finally:
            browser.close()
    for path in written:
        shrink(path)
    return ctx, written


def main(argv: list[str] | None = None) -> None:
    cli(__doc__, argv, take)


if __name__ == "__main__":
    main(sys.argv[1:])
