"""Keying (`review.keying`): a reviewer types in an unreadable form; then it is like any other.

On SQLite and PostgreSQL (the `engine` fixture), with the sample registry.
"""

from __future__ import annotations

import pytest
from sqlmodel import Session, col, select

from forms import FormKind
from registry import Connection
from review import DecisionError, claim
from review.assemble import join, split
from review.keying import key_submission
from tests.review.queue_cases import (
    NOW,
    approve_as,
    dual_case,
    events,
    people_with,
    reload,
    sample_registry,
    submit,
)
from workqueue import (
    ImageStore,
    Reviewer,
    SubmissionField,
    SubmissionFinding,
    SubmissionPage,
    SubmissionSignature,
    SubmissionStatus,
)


def _signatories(case_values: dict[str, str]) -> dict[str, str]:
    data = sample_registry()
    people = {p["email"]: p["name"] for p in data["people"]}
    client = sorted(people_with(data, case_values["client_orgnr"], "firmatecknare", "sysadmin"))
    firm = sorted(people_with(data, case_values["new_firm_orgnr"], "sysadmin"))
    return {"client_signatory_name": people[client[0]], "client_signatory_role": "firmatecknare"
            if client[0] in people_with(data, case_values["client_orgnr"], "firmatecknare")
            else "sysadmin", "new_firm_signatory_name": people[firm[0]],
            "client_date": "2026-03-10", "new_firm_date": "2026-03-11"}


@pytest.fixture
def unreadable(session: Session, store: ImageStore, registry: None) -> int:
    return submit(session, store, None, {}, unreadable="no ArUco markers found")


def test_a_keyed_form_is_checked_stored_audited_and_approved_like_a_read_one(
        session: Session, unreadable: int, alice: Reviewer) -> None:
    values = dual_case().values()
    values |= _signatories(values)
    claim(session, unreadable, alice, now=NOW)
    key_submission(session, unreadable, alice, FormKind.DUAL, values,
                   {"client": True, "new_firm": True}, now=NOW)
    session.commit()
    s = reload(session, unreadable)
    assert (s.status, s.kind, s.keyed_by, s.unreadable_reason) == (
        SubmissionStatus.QUEUED, "dual", alice.id, None)
    fields = {f.name: f for f in session.exec(select(SubmissionField).where(
        SubmissionField.submission_id == unreadable))}
    assert fields["client_orgnr"].corrected_value == values["client_orgnr"]
    assert fields["client_orgnr"].value == ""  # nothing was read by a machine
    states = {g.party: g.state for g in session.exec(select(SubmissionSignature).where(
        SubmissionSignature.submission_id == unreadable))}
    assert states == {"client": "signed", "new_firm": "signed"}
    codes = {f.code: f.severity for f in session.exec(select(SubmissionFinding).where(
        SubmissionFinding.submission_id == unreadable))}
    assert codes["review.keyed"] == "info"
    assert "blocking" not in codes.values(), codes
    [event] = events(session, "submission.keyed")
    assert event.after is not None and event.before is not None
    assert event.actor == alice.email
    assert event.after["values"]["client_orgnr"] == values["client_orgnr"]
    assert event.before["unreadable_reason"] == "no ArUco markers found"
    before = len(session.exec(select(Connection)).all())
    approve_as(session, unreadable, alice)
    session.commit()
    assert reload(session, unreadable).status == SubmissionStatus.APPLIED
    assert len(session.exec(select(Connection)).all()) == before + 1


def test_every_bad_value_is_named_and_nothing_is_saved(
        session: Session, unreadable: int, alice: Reviewer) -> None:
    values = dual_case().values(client_orgnr="123456-7890", client_subscription="12")
    claim(session, unreadable, alice, now=NOW)
    with pytest.raises(DecisionError) as bad:
        key_submission(session, unreadable, alice, FormKind.DUAL, values, {}, now=NOW)
    session.rollback()
    assert "Organisationsnummer" in bad.value.message and "Abonnemangsnummer" in bad.value.message
    assert reload(session, unreadable).status == SubmissionStatus.UNREADABLE
    assert not events(session, "submission.keyed")


def test_a_signature_not_seen_blocks_as_on_paper(
        session: Session, unreadable: int, alice: Reviewer) -> None:
    values = dual_case().values()
    values |= _signatories(values)
    claim(session, unreadable, alice, now=NOW)
    key_submission(session, unreadable, alice, FormKind.DUAL, values,
                   {"client": True, "new_firm": False}, now=NOW)
    session.commit()
    blocking = [f.code for f in session.exec(select(SubmissionFinding).where(
        SubmissionFinding.submission_id == unreadable)) if f.severity == "blocking"]
    assert blocking == ["signature.missing"]


def test_a_form_read_by_the_machine_cannot_be_keyed_over(
        session: Session, store: ImageStore, registry: None, alice: Reviewer) -> None:
    values = dual_case().values()
    sid = submit(session, store, "dual", values)
    claim(session, sid, alice, now=NOW)
    with pytest.raises(DecisionError, match="lästes maskinellt"):
        key_submission(session, sid, alice, FormKind.DUAL, values, {}, now=NOW)


def test_keying_needs_the_claim(session: Session, unreadable: int, alice: Reviewer,
                                bob: Reviewer) -> None:
    claim(session, unreadable, bob, now=NOW)
    session.commit()
    with pytest.raises(DecisionError):
        key_submission(session, unreadable, alice, FormKind.DUAL, dual_case().values(), {},
                       now=NOW)


# -- pages and forms put right (`review.assemble`) ---------------------------------------------

def test_two_halves_of_one_form_are_joined_then_keyed(
        session: Session, store: ImageStore, registry: None, alice: Reviewer) -> None:
    top = submit(session, store, None, {}, unreadable="no ArUco markers found")
    bottom = submit(session, store, None, {}, unreadable="no ArUco markers found")
    claim(session, top, alice, now=NOW)
    join(session, top, bottom, alice, now=NOW)
    session.commit()
    pages = session.exec(select(SubmissionPage).where(SubmissionPage.submission_id == top)
                         .order_by(col(SubmissionPage.position))).all()
    assert [p.position for p in pages] == [0, 1]
    gone = reload(session, bottom)
    assert gone.status == SubmissionStatus.REJECTED and str(top) in (gone.decision_reason or "")
    assert not session.exec(select(SubmissionPage).where(
        SubmissionPage.submission_id == bottom)).all()
    [event] = events(session, "submission.joined")
    assert event.after is not None and event.after["joined"] == bottom
    values = dual_case().values()
    values |= _signatories(values)
    key_submission(session, top, alice, FormKind.DUAL, values,
                   {"client": True, "new_firm": True}, now=NOW)
    session.commit()
    assert reload(session, top).status == SubmissionStatus.QUEUED


def test_a_second_form_on_the_same_page_is_split_off_to_be_keyed(
        session: Session, store: ImageStore, registry: None, alice: Reviewer) -> None:
    first = submit(session, store, "dual", dual_case().values())
    claim(session, first, alice, now=NOW)
    second = split(session, first, alice, now=NOW)
    session.commit()
    new = reload(session, second)
    assert new.status == SubmissionStatus.UNREADABLE and new.inbound_message_id is not None
    assert [p.image_sha256 for p in session.exec(select(SubmissionPage).where(
        SubmissionPage.submission_id == second))] == [p.image_sha256 for p in session.exec(
            select(SubmissionPage).where(SubmissionPage.submission_id == first))]
    assert reload(session, first).status == SubmissionStatus.QUEUED  # keeps what it has
    assert events(session, "submission.split")


def test_a_decided_submission_cannot_be_joined(
        session: Session, store: ImageStore, registry: None, alice: Reviewer) -> None:
    a = submit(session, store, None, {}, unreadable="x")
    b = submit(session, store, None, {}, unreadable="y")
    claim(session, b, alice, now=NOW)
    claim(session, a, alice, now=NOW)
    join(session, a, b, alice, now=NOW)
    session.commit()
    c = submit(session, store, None, {}, unreadable="z")
    claim(session, c, alice, now=NOW)
    with pytest.raises(DecisionError, match="avgjort"):
        join(session, c, b, alice, now=NOW)
    with pytest.raises(DecisionError, match="sig självt"):
        join(session, c, c, alice, now=NOW)
