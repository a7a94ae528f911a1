"""The customer pages on a test app: the registry of `cases.py`, a clock to move, the outbox.

`PortalSite.signed_in(email)` signs in the way a person does: asks for a
link, reads it from the mail in the outbox, opens it and presses the button.
The app is the real `install_portal_pages` with the real database limiter;
only the clock is the test's.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy import Engine
from sqlmodel import Session, col, select
from starlette.testclient import TestClient

from portal.web import PortalPages, install_portal_pages
from registry import Company, DigitalExclusion, import_registry
from tests.portal.cases import EXCLUDED, portal_doc
from tests.registry.helpers import write_json
from workqueue import DatabaseLimiter, OutboundMail

BASE = "http://testserver"
START = dt.datetime(2026, 12, 3, 9, 0, tzinfo=dt.UTC)
_LINK = re.compile(r"http://testserver(/mina-sidor/\S+)")


@dataclass
class Clock:
    now: dt.datetime = START

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


@dataclass
class PortalSite:
    engine: Engine
    app: FastAPI
    clock: Clock
    ids: dict[str, int] = field(default_factory=dict)

    def client(self) -> TestClient:
        return TestClient(self.app, base_url=BASE, follow_redirects=False)

    def mails(self, to: str | None = None) -> list[OutboundMail]:
        with Session(self.engine) as session:
            query = select(OutboundMail).order_by(col(OutboundMail.id))
            if to is not None:
                query = query.where(col(OutboundMail.recipient) == to.lower())
            return list(session.exec(query).all())

    def links(self, to: str) -> list[str]:
        """The paths of every link mailed to `to`, oldest first."""
        return [m for mail in self.mails(to) for m in _LINK.findall(mail.body)]

    def signed_in(self, email: str) -> TestClient:
        client = self.client()
        before = len(self.mails(email))
        asked = client.post("/mina-sidor/logga-in", data={"email": email})
        assert asked.status_code == 200, asked.text
        mails = self.mails(email)
        assert len(mails) == before + 1, f"no sign-in mail to {email}"
        [path] = _LINK.findall(mails[-1].body)
        page = client.get(path)
        assert page.status_code == 200, page.text
        done = client.post(path.split("?")[0], data={"next": "/mina-sidor/"})
        assert done.status_code == 303, done.text
        return client


def make_portal_app(engine: Engine, clock: Clock, *, sign_in_limit: int = 1000) -> FastAPI:
    app = FastAPI()
    install_portal_pages(
        app,
        PortalPages(
            engine=engine,
            limiter=DatabaseLimiter(engine, sign_in_limit, 900, clock=clock),
            client_key=lambda request: request.client.host if request.client else "unknown",
            sender_domain="kopplingar.example",
            base_url=BASE,
            form_url=BASE + "/",
            clock=clock,
            demo_outbox=True,
        ),
    )
    return app


@pytest.fixture
def portal(engine: Engine, tmp_path: Path) -> Iterator[PortalSite]:
    clock = Clock()
    with Session(engine) as session:
        assert import_registry(session, write_json(tmp_path, portal_doc())).ok
        session.commit()
        ids = {c.orgnr: c.id for c in session.exec(select(Company)).all() if c.id is not None}
        session.add(DigitalExclusion(company_id=ids[EXCLUDED], note="Erbjuds inte digitalt"))
        session.commit()
    yield PortalSite(engine=engine, app=make_portal_app(engine, clock), clock=clock, ids=ids)
