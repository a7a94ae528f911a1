"""Deciding (`review.decide`): corrections, preview, approve (the registry changes), reject.

Every test runs on SQLite and PostgreSQL (the `engine` fixture) with the
sample registry loaded; the clients, firms and subscriptions are picked from
`samples/registry.json` by what the test needs, not by hard-coded numbers
(`tests.review.queue_cases`).
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from registry import (
    AuditEvent,
    Connection,
    ConnectionRole,
    GrantEnd,
    PermissionLevel,
    Person,
    Program,
    ProgramGrant,
    Role,
    RoleKind,
    SubscriptionPayer,
    next_billing_period,
)
from review import (
    REJECT_REASONS,
    ClaimedByOther,
    DecisionError,
    claim,
    correct_field,
    effective_values,
    open_blocking_findings,
    preview,
)
from tests.review.queue_cases import (
    FORM_URL,
    NOW,
    ON,
    SENDER,
    approve_as,
    company_id,
    counts,
    disconnect_case,
    dual_case,
    events,
    mails,
    people_with,
    reject_as,
    reload,
    sample_registry,
    submit,
)
from workqueue import (
    ImageStore,
    InboundMessage,
    NewFinding,
    Reviewer,
    SubmissionField,
    SubmissionStatus,
)

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
    data = sample_registry()
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
    new_firm = people_with(data, case.new["orgnr"], "sysadmin") | {"kontakt@ny-byra.example"}
    current = people_with(data, case.current["orgnr"], "sysadmin")
    client = people_with(data, case.client["orgnr"], "firmatecknare", "sysadmin") | {SENDER}
    assert set(sent) == new_firm | current | client
    assert all(
        not m.automatic and m.template == "approved_firm"
        for a, m in sent.items()
        if a in new_firm | current
    )
    assert {sent[a].template for a in client} == {"approved_client"}
    inbound = session.get(InboundMessage, done.inbound_message_id)
    assert inbound is not None and inbound.message_id is not None
    # Threaded under the customer's mail, as a mail client refers to it: in angle brackets.
    assert [a for a, m in sent.items() if m.in_reply_to == f"<{inbound.message_id}>"] == [SENDER]

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
    # A code not under four eyes: the override is carried out at once (see test_four_eyes.py).
    unknown = NewFinding("form.unknown_id", "blocking", "Blankett-id:t har aldrig utfärdats.", None)
    sid = submit(session, store, "dual", dual_case().values(), findings=[unknown])
    claim(session, sid, alice, now=NOW)
    session.commit()
    before = counts(session)

    for reason in (None, "   "):
        with pytest.raises(DecisionError, match="1 blockerande fynd") as refused:
            approve_as(session, sid, alice, reason)
        assert "Blankett-id:t har aldrig utfärdats." in refused.value.message
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
    assert approved.after["overridden_findings"] == ["form.unknown_id"]


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
    data = sample_registry()
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
    firm = people_with(data, case.firm["orgnr"], "sysadmin")
    client = people_with(data, case.client["orgnr"], "firmatecknare", "sysadmin") | {SENDER}
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


@pytest.mark.usefixtures("registry")
def test_a_paper_disconnection_ends_the_firms_consultants_programs_at_the_client(
    session: Session, store: ImageStore, alice: Reviewer
) -> None:
    case = disconnect_case()
    client_id = company_id(session, case.client["orgnr"])
    firm_id = company_id(session, case.firm["orgnr"])
    consultant = Person(name="Konsult Testsson", email="konsult@byra.example")
    session.add(consultant)
    session.flush()
    assert consultant.id is not None
    session.add(Role(person_id=consultant.id, company_id=firm_id, role=RoleKind.CONSULTANT))
    session.add(ProgramGrant(client_id=client_id, firm_id=firm_id, person_id=consultant.id,
                             program=Program.BOOKKEEPING, level=PermissionLevel.WRITE,
                             granted_by="klient@example.se"))  # fmt: skip
    session.commit()
    sid = submit(session, store, "disconnect", case.values())
    claim(session, sid, alice, now=NOW)
    approve_as(session, sid, alice)
    session.commit()
    grant = session.exec(select(ProgramGrant)).one()
    assert grant.ended_at is not None and grant.end_reason == GrantEnd.DISCONNECTED
    assert "grant.disconnected" in [e.action for e in session.exec(select(AuditEvent)).all()]
