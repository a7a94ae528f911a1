"""Submissions to decide and the reviewers who decide them, for the `review` decision tests.

The clients, firms and subscriptions are picked from `samples/registry.json`
by what a test needs (`dual_case`, `disconnect_case`), not by hard-coded
numbers; `submit` puts a read form in the queue as the intake would. The
fixtures (`session`, `registry`, `store`, `alice`, `bob`) are in `conftest.py`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from registry import AuditEvent, Company, Connection, LinkagePlan
from review import approve, reject
from workqueue import (
    ImageStore,
    InboundMessage,
    MessageState,
    NewField,
    NewFinding,
    NewPage,
    NewSubmission,
    OutboundMail,
    Reviewer,
    ReviewerRole,
    Submission,
    enqueue,
)

REGISTRY = Path(__file__).resolve().parents[2] / "samples" / "registry.json"
NOW = dt.datetime(2026, 3, 14, 9, 30, tzinfo=dt.UTC)  # after every date in the sample registry
ON = dt.date(2026, 3, 14)
FORM_URL = "https://kopplingar.example.se/blanketter"
DOMAIN = "kopplingar.example.se"
SENDER = "kund@exempel.se"
_sources = itertools.count(1)


# -- picking cases from the sample registry ----------------------------------------------------


def sample_registry() -> dict[str, list[dict[str, Any]]]:
    data: dict[str, list[dict[str, Any]]] = json.loads(REGISTRY.read_text(encoding="utf-8"))
    return data


def people_with(data: dict[str, list[dict[str, Any]]], orgnr: str, *roles: str) -> set[str]:
    return {r["person"] for r in data["roles"] if r["company"] == orgnr and r["role"] in roles}


def _open(data: dict[str, list[dict[str, Any]]], client: str) -> list[dict[str, Any]]:
    return [c for c in data["connections"] if c["client"] == client and c["until"] is None]


def _payer(data: dict[str, list[dict[str, Any]]], subscription: str, on: str) -> str | None:
    rows = sorted(
        (p for p in data["payers"] if p["subscription"] == subscription and p["from"] <= on),
        key=lambda p: str(p["from"]),
    )
    return str(rows[-1]["payer"]) if rows else None


@dataclass(frozen=True)
class DualCase:
    client: dict[str, Any]
    subscription: str
    current: dict[str, Any]  # the accounting firm already connected
    new: dict[str, Any]  # an audit firm not connected to the client

    def values(self, **changes: str) -> dict[str, str]:
        return {
            "client_name": self.client["name"],
            "client_orgnr": self.client["orgnr"],
            "client_subscription": self.subscription,
            "current_firm_name": self.current["name"],
            "current_firm_orgnr": self.current["orgnr"],
            "current_firm_role": "accounting",
            "new_firm_name": self.new["name"],
            "new_firm_orgnr": self.new["orgnr"],
            "new_firm_role": "audit",
            "new_firm_email": "kontakt@ny-byra.example",
        } | changes


@dataclass(frozen=True)
class DisconnectCase:
    client: dict[str, Any]
    subscription: str
    firm: dict[str, Any]  # the accounting firm connected, which pays the subscription

    def values(self, **changes: str) -> dict[str, str]:
        return {
            "client_name": self.client["name"],
            "client_orgnr": self.client["orgnr"],
            "client_subscription": self.subscription,
            "firm_name": self.firm["name"],
            "firm_orgnr": self.firm["orgnr"],
            "firm_role": "accounting",
            "after": "takeover",
        } | changes


def dual_case() -> DualCase:
    """A client with one subscription, an accounting firm, no audit firm, and signatories."""
    data = sample_registry()
    companies = {c["orgnr"]: c for c in data["companies"]}
    audit_firms = [c for c in data["companies"] if c["kind"] == "audit_firm"]
    for client in (c for c in data["companies"] if c["kind"] == "client"):
        subs = [s["number"] for s in data["subscriptions"] if s["orgnr"] == client["orgnr"]]
        connected = _open(data, client["orgnr"])
        accounting = [c for c in connected if c["role"] == "accounting"]
        if (
            len(subs) == 1
            and len(accounting) == 1
            and not any(c["role"] == "audit" for c in connected)
            and people_with(data, client["orgnr"], "firmatecknare", "sysadmin")
            and people_with(data, accounting[0]["firm"], "sysadmin")
        ):
            taken = {c["firm"] for c in data["connections"] if c["client"] == client["orgnr"]}
            new = next(
                f
                for f in audit_firms
                if f["orgnr"] not in taken and people_with(data, f["orgnr"], "sysadmin")
            )
            return DualCase(client, subs[0], companies[accounting[0]["firm"]], new)
    raise AssertionError("the sample registry has no client for a dual connection")


def disconnect_case() -> DisconnectCase:
    """A client whose connected accounting firm pays its only subscription today."""
    data = sample_registry()
    companies = {c["orgnr"]: c for c in data["companies"]}
    for client in (c for c in data["companies"] if c["kind"] == "client"):
        subs = [s["number"] for s in data["subscriptions"] if s["orgnr"] == client["orgnr"]]
        if len(subs) != 1:
            continue
        payer = _payer(data, subs[0], ON.isoformat())
        firms = [c["firm"] for c in _open(data, client["orgnr"]) if c["role"] == "accounting"]
        if (
            payer in firms
            and people_with(data, str(payer), "sysadmin")
            and people_with(data, client["orgnr"], "firmatecknare", "sysadmin")
        ):
            return DisconnectCase(client, subs[0], companies[str(payer)])
    raise AssertionError("the sample registry has no client paid for by its firm")



def add_reviewer(session: Session, name: str) -> Reviewer:
    reviewer = Reviewer(
        email=f"{name.lower()}@backoffice.example",
        name=name,
        role=ReviewerRole.REVIEWER,
        password_hash="$argon2id$not-used-here",
    )
    session.add(reviewer)
    session.commit()
    return reviewer



def add_message(session: Session, sender: str | None = SENDER) -> InboundMessage:
    n = next(_sources)
    message = InboundMessage(
        account="imap://kopplingar@mail.example",
        folder="INBOX",
        uidvalidity=1,
        uid=n,
        message_id=f"form-{n}@exempel.se",  # as the intake stores it: no angle brackets
        sha256=hashlib.sha256(f"message {n}".encode()).hexdigest(),
        size=1000,
        sender=sender,
        subject="Skannad blankett",
        sent_at=NOW - dt.timedelta(days=1),
        state=MessageState.PROCESSED,
    )
    session.add(message)
    session.flush()
    return message


def submit(
    session: Session,
    store: ImageStore,
    kind: str | None,
    values: dict[str, str],
    *,
    confidence: float = 0.95,
    findings: list[NewFinding] | None = None,
    by_mail: bool = True,
    unreadable: str | None = None,
) -> int:
    n = next(_sources)
    message = add_message(session) if by_mail else None
    submission = enqueue(
        session,
        store,
        NewSubmission(
            source_kind="mail" if by_mail else "file",
            source_name=f"skanning-{n}.pdf",
            source_sha256=hashlib.sha256(f"file {n}".encode()).hexdigest(),
            document_index=0,
            kind=kind,
            form_id="7K3QX9P2MD" if kind else None,
            form_version="2026.1" if kind else None,
            quality_mm=0.2,
            pages=[NewPage(source_page=0, image=f"page {n}".encode())],
            fields=[NewField(k, v, v, confidence) for k, v in values.items()],
            findings=findings or [],
            unreadable_reason=unreadable,
            inbound_message_id=message.id if message else None,
        ),
    )
    session.commit()
    assert submission.id is not None
    return submission.id


def reload(session: Session, submission_id: int) -> Submission:
    found = session.get(Submission, submission_id, populate_existing=True)
    assert found is not None
    return found


def approve_as(
    session: Session, sid: int, reviewer: Reviewer, reason: str | None = None
) -> LinkagePlan:
    return approve(
        session,
        sid,
        reviewer,
        now=NOW,
        override_reason=reason,
        form_url=FORM_URL,
        sender_domain=DOMAIN,
    ).plan


def reject_as(
    session: Session,
    sid: int,
    reviewer: Reviewer,
    code: str = "unreadable",
    text: str | None = None,
    now: dt.datetime = NOW,
) -> None:
    reject(
        session,
        sid,
        reviewer,
        reason_code=code,
        reason_text=text,
        now=now,
        form_url=FORM_URL,
        sender_domain=DOMAIN,
    )


def mails(session: Session, submission_id: int) -> list[OutboundMail]:
    return list(
        session.exec(
            select(OutboundMail)
            .where(OutboundMail.submission_id == submission_id)
            .order_by(col(OutboundMail.id))
        ).all()
    )


def events(session: Session, action: str) -> list[AuditEvent]:
    return list(
        session.exec(
            select(AuditEvent).where(AuditEvent.action == action).order_by(col(AuditEvent.id))
        ).all()
    )


def company_id(session: Session, orgnr: str) -> int:
    company = session.exec(select(Company).where(Company.orgnr == orgnr)).one()
    assert company.id is not None
    return company.id


def counts(session: Session) -> tuple[int, int, int, int]:
    return (
        session.exec(select(sa.func.count()).select_from(Connection)).one(),
        session.exec(
            select(sa.func.count())
            .select_from(Connection)
            .where(col(Connection.until).is_not(None))
        ).one(),
        session.exec(select(sa.func.count()).select_from(OutboundMail)).one(),
        session.exec(select(sa.func.count()).select_from(AuditEvent)).one(),
    )
