"""Decisions on the queue: claiming, corrections, preview, approve (the registry changes), reject.

Every test runs on SQLite and PostgreSQL (the `engine` fixture) with the
sample registry loaded; the clients, firms and subscriptions are picked from
`samples/registry.json` by what the test needs, not by hard-coded numbers.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from registry import (
    AuditEvent,
    Company,
    Connection,
    ConnectionRole,
    LinkagePlan,
    SubscriptionPayer,
    import_registry,
    next_billing_period,
)
from review import (
    CLAIM_TTL,
    REJECT_REASONS,
    ClaimedByOther,
    DecisionError,
    Reviewer,
    ReviewerRole,
    approve,
    claim,
    correct_field,
    effective_values,
    next_unclaimed,
    open_blocking_findings,
    preview,
    reject,
    release,
)
from workqueue import (
    ImageStore,
    InboundMessage,
    MessageState,
    NewField,
    NewFinding,
    NewPage,
    NewSubmission,
    OutboundMail,
    Submission,
    SubmissionField,
    SubmissionStatus,
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


def _data() -> dict[str, list[dict[str, Any]]]:
    data: dict[str, list[dict[str, Any]]] = json.loads(REGISTRY.read_text(encoding="utf-8"))
    return data


def _people(data: dict[str, list[dict[str, Any]]], orgnr: str, *roles: str) -> set[str]:
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
    data = _data()
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
            and _people(data, client["orgnr"], "firmatecknare", "sysadmin")
            and _people(data, accounting[0]["firm"], "sysadmin")
        ):
            taken = {c["firm"] for c in data["connections"] if c["client"] == client["orgnr"]}
            new = next(
                f
                for f in audit_firms
                if f["orgnr"] not in taken and _people(data, f["orgnr"], "sysadmin")
            )
            return DualCase(client, subs[0], companies[accounting[0]["firm"]], new)
    raise AssertionError("the sample registry has no client for a dual connection")


def disconnect_case() -> DisconnectCase:
    """A client whose connected accounting firm pays its only subscription today."""
    data = _data()
    companies = {c["orgnr"]: c for c in data["companies"]}
    for client in (c for c in data["companies"] if c["kind"] == "client"):
        subs = [s["number"] for s in data["subscriptions"] if s["orgnr"] == client["orgnr"]]
        if len(subs) != 1:
            continue
        payer = _payer(data, subs[0], ON.isoformat())
        firms = [c["firm"] for c in _open(data, client["orgnr"]) if c["role"] == "accounting"]
        if (
            payer in firms
            and _people(data, str(payer), "sysadmin")
            and _people(data, client["orgnr"], "firmatecknare", "sysadmin")
        ):
            return DisconnectCase(client, subs[0], companies[str(payer)])
    raise AssertionError("the sample registry has no client paid for by its firm")


# -- fixtures and helpers ----------------------------------------------------------------------


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as session:
        yield session


@pytest.fixture
def registry(session: Session) -> None:
    """The sample registry, for the tests that plan or change a linkage."""
    import_registry(session, REGISTRY)
    session.commit()


@pytest.fixture
def store(tmp_path: Path) -> ImageStore:
    return ImageStore(tmp_path / "images")


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


@pytest.fixture
def alice(session: Session) -> Reviewer:
    return add_reviewer(session, "Alice")


@pytest.fixture
def bob(session: Session) -> Reviewer:
    return add_reviewer(session, "Bob")


def add_message(session: Session, sender: str | None = SENDER) -> InboundMessage:
    n = next(_sources)
    message = InboundMessage(
        account="imap://kopplingar@mail.example",
        folder="INBOX",
        uidvalidity=1,
        uid=n,
        message_id=f"<form-{n}@exempel.se>",
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
    )


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


# -- claiming ----------------------------------------------------------------------------------


def test_a_claim_is_exclusive_until_it_expires(
    session: Session, store: ImageStore, alice: Reviewer, bob: Reviewer
) -> None:
    sid = submit(session, store, "dual", dual_case().values())
    held = claim(session, sid, alice, now=NOW)
    session.commit()
    assert (held.claimed_by, held.claimed_until) == (alice.id, NOW + CLAIM_TTL)

    with pytest.raises(ClaimedByOther) as refused:
        claim(session, sid, bob, now=NOW + dt.timedelta(minutes=5))
    assert refused.value.reviewer_name == "Alice"
    assert refused.value.until == NOW + CLAIM_TTL
    assert "Alice granskar redan ärendet" in refused.value.message
    assert refused.value.exit_code == 65

    # Alice comes back: her claim is extended, not refused.
    later = NOW + dt.timedelta(minutes=10)
    assert claim(session, sid, alice, now=later).claimed_until == later + CLAIM_TTL
    session.commit()

    # Once it has run out, anyone may take it, and Alice can no longer decide it.
    expired = later + CLAIM_TTL + dt.timedelta(seconds=1)
    assert claim(session, sid, bob, now=expired).claimed_by == bob.id
    session.commit()
    with pytest.raises(ClaimedByOther):
        correct_field(session, sid, alice, "client_name", "Annat AB", now=expired)
    session.rollback()
    with pytest.raises(ClaimedByOther):
        reject_as(session, sid, alice, now=expired)
    session.rollback()
    assert reload(session, sid).status == SubmissionStatus.QUEUED


def test_a_claim_committed_in_one_session_holds_in_another(
    engine: Engine, session: Session, store: ImageStore, alice: Reviewer, bob: Reviewer
) -> None:
    sid = submit(session, store, "dual", dual_case().values())
    with Session(engine) as first:
        claim(first, sid, alice, now=NOW)
        first.commit()
    with Session(engine) as second, pytest.raises(ClaimedByOther):
        claim(second, sid, bob, now=NOW + dt.timedelta(minutes=1))


def test_of_two_claims_at_once_only_one_wins(
    engine: Engine, session: Session, store: ImageStore, alice: Reviewer, bob: Reviewer
) -> None:
    sid = submit(session, store, "dual", dual_case().values())
    outcome: dict[str, object] = {}

    def bob_claims() -> None:
        with Session(engine) as second:
            try:
                claim(second, sid, bob, now=NOW)
                second.commit()
                outcome["bob"] = "won"
            except ClaimedByOther as exc:
                outcome["bob"] = exc.reviewer_name

    with Session(engine) as first:
        claim(first, sid, alice, now=NOW)  # not committed yet: the row is Alice's to write
        thread = threading.Thread(target=bob_claims)
        thread.start()
        thread.join(0.5)
        assert thread.is_alive()  # Bob's UPDATE waits for Alice's transaction
        first.commit()
    thread.join(10)
    assert outcome == {"bob": "Alice"}
    assert reload(session, sid).claimed_by == alice.id


def test_release_gives_it_back_but_only_your_own(
    session: Session, store: ImageStore, alice: Reviewer, bob: Reviewer
) -> None:
    sid = submit(session, store, "dual", dual_case().values())
    claim(session, sid, alice, now=NOW)
    release(session, sid, bob)  # not Bob's: nothing happens
    session.commit()
    assert reload(session, sid).claimed_by == alice.id
    release(session, sid, alice)
    session.commit()
    assert reload(session, sid).claimed_by is None
    assert claim(session, sid, bob, now=NOW).claimed_by == bob.id


def test_an_unknown_submission_cannot_be_claimed(session: Session, alice: Reviewer) -> None:
    with pytest.raises(DecisionError, match="finns inte"):
        claim(session, 999_999, alice, now=NOW)


def test_an_inactive_reviewer_cannot_claim(
    session: Session, store: ImageStore, alice: Reviewer
) -> None:
    sid = submit(session, store, "dual", dual_case().values())
    alice.active = False
    session.add(alice)
    session.commit()
    with pytest.raises(DecisionError, match="avstängt"):
        claim(session, sid, alice, now=NOW)


def test_next_unclaimed_follows_the_order_and_skips_others_claims(
    session: Session, store: ImageStore, alice: Reviewer, bob: Reviewer
) -> None:
    case = dual_case()
    sure = submit(session, store, "dual", case.values(), confidence=0.9)
    unsure = submit(session, store, "dual", case.values(), confidence=0.4)
    unreadable = submit(session, store, None, {}, unreadable="Sidan är tom.")
    disconnect = submit(session, store, "disconnect", disconnect_case().values(), confidence=0.6)

    def walk(order: Any, kind: str | None = None) -> list[int]:
        seen: list[int] = []
        at = next_unclaimed(session, reviewer=alice, now=NOW, order=order, kind=kind)
        while at is not None and at not in seen:
            seen.append(at)
            at = next_unclaimed(
                session, reviewer=alice, now=NOW, after_id=at, order=order, kind=kind
            )
        return seen

    assert walk("least_sure") == [unreadable, unsure, disconnect, sure]
    assert walk("oldest") == [sure, unsure, unreadable, disconnect]
    assert walk("oldest", kind="dual") == [sure, unsure]

    claim(session, unsure, bob, now=NOW)
    claim(session, disconnect, alice, now=NOW)
    session.commit()
    assert walk("least_sure") == [unreadable, disconnect, sure]  # Bob's is skipped, hers is not
    assert (
        next_unclaimed(
            session,
            reviewer=alice,
            now=NOW + CLAIM_TTL + dt.timedelta(seconds=1),
            after_id=unreadable,
        )
        == unsure
    )  # Bob's claim ran out
    # After the last one it starts from the top; the one it came from is never the answer.
    assert next_unclaimed(session, reviewer=alice, now=NOW, after_id=sure) == unreadable
    claim(session, unreadable, alice, now=NOW)
    reject_as(session, unreadable, alice)
    session.commit()
    # A decided submission still marks the place in the queue.
    assert next_unclaimed(session, reviewer=alice, now=NOW, after_id=unreadable) == disconnect


# -- corrections -------------------------------------------------------------------------------


def test_corrections_are_validated_stored_and_audited(
    session: Session, store: ImageStore, alice: Reviewer
) -> None:
    case = dual_case()
    values = case.values()
    values.pop("new_firm_email")
    digits = case.client["orgnr"].replace("-", "")
    wrong = digits[:-1] + str((int(digits[-1]) + 1) % 10)  # the Luhn digit off by one
    sid = submit(session, store, "dual", values | {"client_orgnr": wrong})

    with pytest.raises(DecisionError, match="Ta ärendet först"):
        correct_field(session, sid, alice, "client_orgnr", digits, now=NOW)
    claim(session, sid, alice, now=NOW)

    with pytest.raises(DecisionError) as bad:
        correct_field(session, sid, alice, "client_orgnr", "123456-7890", now=NOW)
    assert bad.value.message.startswith("Organisationsnummer")
    with pytest.raises(DecisionError, match="måste fyllas i"):
        correct_field(session, sid, alice, "client_orgnr", "   ", now=NOW)
    with pytest.raises(DecisionError, match="Välj ett av alternativen"):
        correct_field(session, sid, alice, "new_firm_role", "both", now=NOW)
    with pytest.raises(DecisionError, match="inget fält"):
        correct_field(session, sid, alice, "firm_orgnr", digits, now=NOW)
    assert events(session, "submission.field_corrected") == []

    correct_field(session, sid, alice, "client_orgnr", digits, now=NOW)
    # A field the reader found nothing for gets the reviewer's value as its only one.
    correct_field(session, sid, alice, "new_firm_email", " Admin@Ny-Byra.example ", now=NOW)
    correct_field(session, sid, alice, "client_orgnr", case.client["orgnr"], now=NOW)  # same
    session.commit()

    effective = effective_values(session, sid)
    assert effective["client_orgnr"] == case.client["orgnr"]  # canonical, with the hyphen
    assert effective["new_firm_email"] == "Admin@Ny-Byra.example"  # trimmed
    row = session.exec(
        select(SubmissionField).where(
            SubmissionField.submission_id == sid, SubmissionField.name == "client_orgnr"
        )
    ).one()
    assert (row.value, row.corrected_value) == (wrong, case.client["orgnr"])
    audited = events(session, "submission.field_corrected")
    assert [(e.actor, e.subject) for e in audited] == [(alice.email, f"submission:{sid}")] * 2
    assert audited[0].before == {"field": "client_orgnr", "value": wrong}
    assert audited[0].after == {"field": "client_orgnr", "value": case.client["orgnr"]}
    assert audited[1].before is not None and audited[1].before["value"] is None


# -- preview -----------------------------------------------------------------------------------


@pytest.mark.usefixtures("registry")
def test_preview_plans_from_the_effective_values(
    session: Session, store: ImageStore, alice: Reviewer
) -> None:
    case = dual_case()
    other = disconnect_case()
    sid = submit(session, store, "dual", case.values(client_subscription=other.subscription))
    plan = preview(session, sid, on=ON)
    assert plan.kind == "dual" and plan.changes == []
    assert any(f"Abonnemangsnummer {other.subscription} hör inte till" in p for p in plan.problems)

    claim(session, sid, alice, now=NOW)
    correct_field(session, sid, alice, "client_subscription", case.subscription, now=NOW)
    plan = preview(session, sid, on=ON)
    assert plan.problems == []
    assert [c.action for c in plan.changes] == ["connection.created"]
    summary = plan.changes[0].summary
    assert case.new["name"] in summary and case.client["name"] in summary
    assert "revisionsbyrå" in summary and ON.isoformat() in summary
    assert any(case.current["name"] in note for note in plan.notes)


@pytest.mark.usefixtures("registry")
def test_preview_names_what_cannot_be_read(session: Session, store: ImageStore) -> None:
    case = disconnect_case()
    broken = submit(session, store, "disconnect", case.values(firm_orgnr="55", after=""))
    plan = preview(session, broken, on=ON)
    assert plan.changes == [] and not plan.already_done
    assert plan.problems[0].startswith("Byråns organisationsnummer: ")
    assert plan.problems[1] == "Vad som ska hända efter bortkopplingen saknas."

    unreadable = submit(session, store, None, {}, unreadable="Sidan är tom.")
    assert preview(session, unreadable, on=ON).problems == [
        "Blanketten gick inte att läsa: Sidan är tom."
    ]
    unknown = submit(session, store, "invoice", {"client_orgnr": case.client["orgnr"]})
    assert (
        "varken en Dubbelsammankoppling eller en Bortkoppling"
        in (preview(session, unknown, on=ON).problems[0])
    )


# -- approving ---------------------------------------------------------------------------------


@pytest.mark.usefixtures("registry")
def test_approve_dual_connects_audits_and_mails_everyone_involved(
    engine: Engine, session: Session, store: ImageStore, alice: Reviewer
) -> None:
    case = dual_case()
    data = _data()
    sid = submit(session, store, "dual", case.values())
    claim(session, sid, alice, now=NOW)
    session.commit()
    before = counts(session)

    plan = approve_as(session, sid, alice)
    assert [c.action for c in plan.changes] == ["connection.created"]
    assert plan.changes[0].subject.startswith("connection:")
    with Session(engine) as other:  # nothing shows before the commit
        assert counts(other) == before
    session.commit()

    client_id = company_id(session, case.client["orgnr"])
    firm_id = company_id(session, case.new["orgnr"])
    connection = session.exec(
        select(Connection).where(Connection.client_id == client_id, Connection.firm_id == firm_id)
    ).one()
    assert (connection.role, connection.since, connection.until) == (
        ConnectionRole.AUDIT,
        ON,
        None,
    )
    done = reload(session, sid)
    assert done.status == SubmissionStatus.APPLIED
    assert (done.decided_by, done.decided_at, done.applied_at) == (alice.id, NOW, NOW)
    assert (done.claimed_by, done.claimed_until, done.override_reason) == (None, None, None)

    [approved] = events(session, "submission.approved")
    assert (approved.actor, approved.subject) == (alice.email, f"submission:{sid}")
    assert approved.before == {"status": "queued"}
    assert approved.after is not None and approved.after["status"] == "applied"
    assert approved.after["changes"] == [plan.changes[0].summary]
    [created] = events(session, "connection.created")
    assert created.actor == alice.email and f"submission {sid}" in created.detail

    sent = {m.recipient: m for m in mails(session, sid)}
    new_firm = _people(data, case.new["orgnr"], "sysadmin") | {"kontakt@ny-byra.example"}
    current = _people(data, case.current["orgnr"], "sysadmin")
    client = _people(data, case.client["orgnr"], "firmatecknare", "sysadmin") | {SENDER}
    assert set(sent) == new_firm | current | client
    assert all(
        not m.automatic and m.template == "approved_firm"
        for a, m in sent.items()
        if a in new_firm | current
    )
    assert {sent[a].template for a in client} == {"approved_client"}
    inbound = session.get(InboundMessage, done.inbound_message_id)
    assert inbound is not None and inbound.message_id is not None
    assert [a for a, m in sent.items() if m.in_reply_to == inbound.message_id] == [SENDER]

    to_client = sent[SENDER]
    assert to_client.subject == f"Klart: {case.new['name']} har kopplats till {case.client['name']}"
    assert f"Nu har vi kopplat {case.new['name']} ({case.new['orgnr']})" in to_client.body
    assert "som revisionsbyrå, från och med den 14 mars 2026" in to_client.body
    assert "Administrera användare" in to_client.body
    to_firm = sent["kontakt@ny-byra.example"]
    assert f"Nu har vi kopplat klienten {case.client['name']}" in to_firm.body
    assert "fördelar klienten till konsulterna i byråns klienthantering" in to_firm.body
    to_current = sent[sorted(current)[0]]
    assert f"Nu har vi kopplat {case.new['name']} till er klient" in to_current.body
    assert "Er egen koppling till klienten ändras inte." in to_current.body


@pytest.mark.usefixtures("registry")
def test_approving_twice_changes_nothing_the_second_time(
    session: Session, store: ImageStore, alice: Reviewer, bob: Reviewer
) -> None:
    sid = submit(session, store, "dual", dual_case().values())
    claim(session, sid, alice, now=NOW)
    approve_as(session, sid, alice)
    session.commit()
    before = counts(session)

    for reviewer in (alice, bob):
        with pytest.raises(DecisionError, match="redan godkänt"):
            approve_as(session, sid, reviewer)
        session.rollback()
        with pytest.raises(DecisionError, match="redan godkänt"):
            claim(session, sid, reviewer, now=NOW)
        session.rollback()
    assert counts(session) == before

    # A second form asking for the same thing: the registry already is so, nothing is added.
    again = submit(session, store, "dual", dual_case().values())
    claim(session, again, bob, now=NOW)
    plan = approve_as(session, again, bob)
    session.commit()
    assert plan.already_done and plan.changes == []
    assert counts(session)[:2] == before[:2]
    assert reload(session, again).status == SubmissionStatus.APPLIED


@pytest.mark.usefixtures("registry")
def test_blocking_findings_need_an_override_reason(
    session: Session, store: ImageStore, alice: Reviewer
) -> None:
    missing = NewFinding("signature.missing", "blocking", "Klientens underskrift saknas.", None)
    sid = submit(session, store, "dual", dual_case().values(), findings=[missing])
    claim(session, sid, alice, now=NOW)
    session.commit()
    before = counts(session)

    for reason in (None, "   "):
        with pytest.raises(DecisionError, match="1 blockerande fynd") as refused:
            approve_as(session, sid, alice, reason)
        assert "Klientens underskrift saknas." in refused.value.message
        session.rollback()
    assert counts(session) == before
    assert reload(session, sid).status == SubmissionStatus.QUEUED

    approve_as(session, sid, alice, "Underskriften finns på sida 2.")
    session.commit()
    done = reload(session, sid)
    assert (done.status, done.override_reason) == (
        SubmissionStatus.APPLIED,
        "Underskriften finns på sida 2.",
    )
    [approved] = events(session, "submission.approved")
    assert approved.after is not None
    assert approved.after["override_reason"] == "Underskriften finns på sida 2."
    assert approved.after["overridden_findings"] == ["signature.missing"]


@pytest.mark.usefixtures("registry")
def test_a_corrected_value_settles_its_finding(
    session: Session, store: ImageStore, alice: Reviewer
) -> None:
    case = dual_case()
    other = disconnect_case()
    mismatch = NewFinding(
        "subscription.mismatch",
        "blocking",
        "Abonnemanget hör inte till klienten.",
        "client_subscription",
    )
    sid = submit(
        session,
        store,
        "dual",
        case.values(client_subscription=other.subscription),
        findings=[mismatch],
    )
    claim(session, sid, alice, now=NOW)
    with pytest.raises(DecisionError, match="hör inte till"):  # the plan's problem comes first
        approve_as(session, sid, alice, "ändå")
    session.rollback()
    assert [f.code for f in open_blocking_findings(session, sid)] == ["subscription.mismatch"]
    claim(session, sid, alice, now=NOW)
    correct_field(session, sid, alice, "client_subscription", case.subscription, now=NOW)
    assert open_blocking_findings(session, sid) == []
    approve_as(session, sid, alice)
    session.commit()
    assert reload(session, sid).status == SubmissionStatus.APPLIED


@pytest.mark.usefixtures("registry")
def test_approve_disconnect_with_takeover_switches_the_payer_next_period(
    session: Session, store: ImageStore, alice: Reviewer
) -> None:
    case = disconnect_case()
    data = _data()
    sid = submit(session, store, "disconnect", case.values())
    claim(session, sid, alice, now=NOW)
    plan = approve_as(session, sid, alice)
    session.commit()
    assert [c.action for c in plan.changes] == ["connection.ended", "payer.changed"]

    client_id = company_id(session, case.client["orgnr"])
    firm_id = company_id(session, case.firm["orgnr"])
    connection = session.exec(
        select(Connection).where(Connection.client_id == client_id, Connection.firm_id == firm_id)
    ).one()
    assert connection.until == ON
    start = next_billing_period(ON)
    payer = session.exec(
        select(SubscriptionPayer).where(SubscriptionPayer.valid_from == start)
    ).one()
    assert payer.payer_id == client_id

    sent = {m.recipient: m for m in mails(session, sid)}
    firm = _people(data, case.firm["orgnr"], "sysadmin")
    client = _people(data, case.client["orgnr"], "firmatecknare", "sysadmin") | {SENDER}
    assert set(sent) == firm | client
    to_client = sent[SENDER]
    assert to_client.template == "approved_client"
    assert to_client.subject == (
        f"Klart: {case.client['name']} har kopplats bort från {case.firm['name']}"
    )
    assert "Från och med den 1 april 2026 tar företaget över abonnemanget" in to_client.body
    to_firm = sent[sorted(firm)[0]]
    assert to_firm.template == "approved_firm"
    assert "Klienten finns inte längre i byråns klientlista" in to_firm.body
    assert "Från och med den 1 april 2026 tar företaget över betalningsansvaret" in to_firm.body


@pytest.mark.usefixtures("registry")
def test_approve_refuses_a_plan_with_problems_and_an_unreadable_form(
    session: Session, store: ImageStore, alice: Reviewer
) -> None:
    case = disconnect_case()
    dual = dual_case()
    # Disconnecting from a firm the client is not connected to.
    sid = submit(
        session,
        store,
        "disconnect",
        case.values(firm_orgnr=dual.new["orgnr"], firm_name=dual.new["name"], firm_role="audit"),
    )
    claim(session, sid, alice, now=NOW)
    session.commit()
    before = counts(session)
    with pytest.raises(DecisionError, match="Det finns ingen aktiv koppling"):
        approve_as(session, sid, alice, "ändå")
    session.rollback()
    assert counts(session) == before

    unreadable = submit(session, store, None, {}, unreadable="Sidan är tom.")
    claim(session, unreadable, alice, now=NOW)
    with pytest.raises(DecisionError, match="avvisa den"):
        approve_as(session, unreadable, alice)
    session.rollback()


# -- rejecting ---------------------------------------------------------------------------------


def test_reject_tells_the_sender_what_was_wrong_and_where_to_start_again(
    session: Session, store: ImageStore, alice: Reviewer
) -> None:
    case = dual_case()
    sid = submit(session, store, "dual", case.values())
    claim(session, sid, alice, now=NOW)
    reject_as(session, sid, alice, "signature_missing", "Den nya byrån har inte\nskrivit under.")
    session.commit()

    done = reload(session, sid)
    reason = "En underskrift saknas. Den nya byrån har inte skrivit under."
    assert (done.status, done.decision_reason) == (SubmissionStatus.REJECTED, reason)
    assert (done.decided_by, done.decided_at, done.claimed_by) == (alice.id, NOW, None)
    [rejected] = events(session, "submission.rejected")
    assert rejected.actor == alice.email
    assert rejected.after == {
        "status": "rejected",
        "reason_code": "signature_missing",
        "reason": reason,
    }
    [mail] = mails(session, sid)
    assert (mail.recipient, mail.template, mail.automatic) == (SENDER, "rejected", False)
    assert mail.subject == "Blanketten kunde inte godkännas: Skannad blankett"
    assert mail.in_reply_to is not None and mail.in_reply_to.startswith("<form-")
    assert (
        f"blanketten Dubbelsammankoppling med blankett-id 7K3Q-X9P2-MD för {case.client['name']}"
        in mail.body
    )
    assert f"Det här var fel:\n{reason}\n" in mail.body
    assert f"ny, förifylld blankett på {FORM_URL}" in mail.body
    assert session.exec(select(Connection).where(Connection.since == ON)).first() is None


def test_reject_needs_a_known_reason_and_words_for_other(
    session: Session, store: ImageStore, alice: Reviewer
) -> None:
    sid = submit(session, store, "dual", dual_case().values())
    claim(session, sid, alice, now=NOW)
    assert dict(REJECT_REASONS)["other"] == "Annat:"
    with pytest.raises(DecisionError, match="Välj ett av skälen"):
        reject_as(session, sid, alice, "bored")
    with pytest.raises(DecisionError, match="Skriv vad som var fel"):
        reject_as(session, sid, alice, "other", " \n ")
    with pytest.raises(DecisionError, match="högst 800 tecken"):
        reject_as(session, sid, alice, "other", "x" * 801)
    reject_as(session, sid, alice, "other", "Fel blankett för ärendet.")
    session.commit()
    assert reload(session, sid).decision_reason == "Fel blankett för ärendet."


def test_reject_without_the_claim_is_refused(
    session: Session, store: ImageStore, alice: Reviewer, bob: Reviewer
) -> None:
    sid = submit(session, store, "dual", dual_case().values())
    with pytest.raises(DecisionError, match="Ta ärendet först") as refused:
        reject_as(session, sid, alice)
    assert not isinstance(refused.value, ClaimedByOther)
    session.rollback()
    claim(session, sid, bob, now=NOW)
    session.commit()
    with pytest.raises(ClaimedByOther):
        reject_as(session, sid, alice)
    session.rollback()
    done = reload(session, sid)
    assert (done.status, done.decision_reason) == (SubmissionStatus.QUEUED, None)
    assert mails(session, sid) == [] and events(session, "submission.rejected") == []


def test_a_decided_submission_cannot_be_claimed_or_decided_again(
    session: Session, store: ImageStore, alice: Reviewer, bob: Reviewer
) -> None:
    sid = submit(session, store, None, {}, unreadable="Hörnmarkeringarna syns inte.", by_mail=False)
    claim(session, sid, alice, now=NOW)
    reject_as(session, sid, alice)
    session.commit()
    assert mails(session, sid) == []  # read from a file: nobody to tell
    assert reload(session, sid).decision_reason == "Blanketten gick inte att läsa."
    for reviewer in (alice, bob):
        with pytest.raises(DecisionError, match="redan avvisat"):
            claim(session, sid, reviewer, now=NOW + dt.timedelta(hours=1))
        session.rollback()
    with pytest.raises(DecisionError, match="redan avvisat"):
        reject_as(session, sid, alice, "other", "Igen.")
    session.rollback()
    assert len(events(session, "submission.rejected")) == 1
