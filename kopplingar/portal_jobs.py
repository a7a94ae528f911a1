"""The customer pages' periodic work: time limits recorded and the people concerned told.

Access given until a date and digital requests and invitations past their
seven days are already treated as ended when read; this job makes the
registry say so (an audit event each) and mails the consultants and the
client's administrators whose access ended. It runs after every mailbox
pass (`kopplingar intake poll` and `watch`), so no second cron line is
needed, and alone as `kopplingar portal expire`. Running it twice, or in two
processes at once, ends each thing once (the registry's conditional UPDATEs).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlmodel import Session

from portal.expiry import run_expiry
from registry import session_scope
from registry.digital import expire_requests
from render import SWEDISH_TIME
from workqueue import queue_mail

PORTAL = "/mina-sidor"


@dataclass(frozen=True)
class PortalJobReport:
    grants_ended: int
    requests_expired: int

    def line(self) -> str:
        return (
            f"customer pages: {self.grants_ended} program grants ended on their last day, "
            f"{self.requests_expired} requests or invitations expired"
        )


def run_portal_jobs(
    engine: Engine, *, now: dt.datetime, sender_domain: str, base_url: str
) -> PortalJobReport:
    def mail(session: Session, *, to: str, template: str, context: Mapping[str, object]) -> None:
        queue_mail(session, to=to, template=template, context=context,
                   sender_domain=sender_domain, now=now, automatic=False)  # fmt: skip

    def link(path: str) -> str:
        return base_url.rstrip("/") + path

    with session_scope(engine) as session:
        expired = expire_requests(session, now=now)
        ended = run_expiry(
            session, now=now, today=now.astimezone(SWEDISH_TIME).date(), mail=mail, link=link
        )
    return PortalJobReport(grants_ended=ended, requests_expired=len(expired))
