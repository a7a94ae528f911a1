"""The daily expiry of consultants' grants: end what passed its last day and tell the people.

`registry.grants.expire_grants` ends the grants; this module turns what it
ended into `grant_expired` mails, one per consultant and client (listing
every program that ended) to the consultant, and the same to each of the
client's system administrators. The mail function is the caller's (the CLI
hands over one that queues in the outbox), so nothing here needs settings.
The caller commits: the ended grants, their audit events and the queued
mails land together, and a second run the same day finds nothing to do.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Protocol

from sqlmodel import Session

from portal.web_common import LEVEL_NAMES, PREFIX, PROGRAM_NAMES
from registry.grants import ExpiredGrant, expire_grants


class Mailer(Protocol):
    def __call__(
        self, session: Session, *, to: str, template: str, context: Mapping[str, object]
    ) -> None: ...


def run_expiry(
    session: Session,
    *,
    now: dt.datetime,
    today: dt.date,
    mail: Mailer,
    link: Callable[[str], str] | None = None,
) -> int:
    """End every grant whose last day is before `today`, queue the mails; how many ended.

    `link` makes an absolute address of a path on Mina sidor, for the
    administrators' mail; without it the mail names the page only.
    """
    expired = expire_grants(session, today=today, now=now)
    groups: dict[tuple[int, int], list[ExpiredGrant]] = {}
    for grant in expired:
        assert grant.client.id is not None and grant.person.id is not None
        groups.setdefault((grant.client.id, grant.person.id), []).append(grant)
    for found in groups.values():
        first = found[0]
        context: dict[str, object] = {
            "consultant_name": first.person.name,
            "firm_name": first.firm.name,
            "client_name": first.client.name,
            "client_orgnr": first.client.orgnr,
            "grants": [
                {
                    "program": PROGRAM_NAMES[g.program.value],
                    "level": LEVEL_NAMES[g.level.value],
                    "valid_until": g.valid_until,
                }
                for g in found
            ],
        }
        mail(
            session,
            to=first.person.email,
            template="grant_expired",
            context=context | {"audience": "consultant", "link": None},
        )
        page = f"{PREFIX}/foretag/{first.client.orgnr}"
        for admin in first.client_admins:
            if admin.id == first.person.id:
                continue  # told once already, as the consultant
            mail(
                session,
                to=admin.email,
                template="grant_expired",
                context=context | {"audience": "admin", "link": link(page) if link else None},
            )
    return len(expired)
