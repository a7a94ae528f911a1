"""Four eyes on overrides (`review.four_eyes`, `review.decide`): a second reviewer confirms.

Every test runs on SQLite and PostgreSQL with the sample registry; the cases
are picked from `samples/registry.json` (`tests.review.queue_cases`).
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlmodel import Session, col, select

from review import (
    DEFAULT_FOUR_EYES,
    Approval,
    DecisionError,
    OwnOverride,
    StaleOverride,
    approve,
    claim,
    confirm_override,
    correct_field,
    decline_override,
    guarded_codes,
    next_unclaimed,
    pending_request,
    set_rule,
    withdraw_own,
    withdraw_stale,
)
from review.four_eyes import answer, rule_rows
from tests.review.queue_cases import (
    DOMAIN,
    FORM_URL,
    NOW,
    add_reviewer,
    counts,
    dual_case,
    events,
    mails,
    reject_as,
    reload,
    submit,
)
from workqueue import (
    FourEyesRule,
    ImageStore,
    NewFinding,
    OverrideRequest,
    OverrideState,
    Reviewer,
    ReviewerRole,
    SubmissionField,
    SubmissionStatus,
)

MISSING = NewFinding("signature.missing", "blocking", "Underskrift saknas: Klienten.", "client")
REASON = "Klienten har skrivit under på baksidan, sida 2."

pytestmark = pytest.mark.usefixtures("registry")


@pytest.fixture
def admin(session: Session) -> Reviewer:
    reviewer = add_reviewer(session, "Admin")
    reviewer.role = ReviewerRole.ADMIN
    session.add(reviewer)
    session.commit()
    return reviewer


def _approve(session: Session, sid: int, reviewer: Reviewer, reason: str | None) -> Approval:
    return approve(
        session,
        sid,
        reviewer,
        now=NOW,
        override_reason=reason,
        form_url=FORM_URL,
        sender_domain=DOMAIN,
    )


def _confirm(session: Session, sid: int, reviewer: Reviewer) -> None:
    claim(session, sid, reviewer, now=NOW)
    confirm_override(session, sid, reviewer, now=NOW, form_url=FORM_URL, sender_domain=DOMAIN)


def _requested(session: Session, store: ImageStore, reviewer: Reviewer) -> int:
    """A submission with a missing signature whose override `reviewer` has asked for."""
    sid = submit(session, store, "dual", dual_case().values(), findings=[MISSING])
    claim(session, sid, reviewer, now=NOW)
    waiting = _approve(session, sid, reviewer, REASON)
    session.commit()
    assert not waiting.applied
    return sid


def _requests(session: Session, sid: int) -> list[OverrideRequest]:
    return list(
        session.exec(
            select(OverrideRequest)
            .where(OverrideRequest.submission_id == sid)
            .order_by(col(OverrideRequest.id))
        ).all()
    )


def test_the_signature_findings_are_under_four_eyes_by_default(session: Session) -> None:
    assert {"signature.missing", "signatory.not_authorised"} == DEFAULT_FOUR_EYES
    codes = ["form.unknown_id", "signatory.not_authorised", "signature.missing", "orgnr.luhn"]
    assert guarded_codes(session, codes) == ["signatory.not_authorised", "signature.missing"]
    # A code nobody has labelled yet (added to the intake later) is off until an admin says so.
    assert guarded_codes(session, ["signature.smudged"]) == []
    rows = {r.code: r for r in rule_rows(session)}
    assert rows["signature.missing"].label == "En underskrift saknas"
    assert rows["signature.missing"].required and not rows["orgnr.luhn"].required


def test_an_override_of_a_missing_signature_does_not_apply(
    session: Session, store: ImageStore, alice: Reviewer
) -> None:
    sid = submit(session, store, "dual", dual_case().values(), findings=[MISSING])
    claim(session, sid, alice, now=NOW)
    session.commit()
    before = counts(session)

    waiting = _approve(session, sid, alice, f"  {REASON}\n")
    session.commit()

    assert waiting.awaiting is not None and not waiting.applied
    assert [c.action for c in waiting.plan.changes] == ["connection.created"]  # what B will do
    submission = reload(session, sid)
    assert submission.status == SubmissionStatus.QUEUED
    assert (submission.applied_at, submission.decided_by, submission.claimed_by) == (
        None,
        None,
        None,
    )
    # Nothing in the registry, no mail: only the request and its audit event.
    connections, ended, outbox, audit = counts(session)
    assert (connections, ended, outbox, audit) == (*before[:3], before[3] + 1)
    assert mails(session, sid) == []
    [request] = _requests(session, sid)
    assert (request.state, request.requested_by, request.reason, request.codes) == (
        OverrideState.PENDING,
        alice.id,
        REASON,
        "signature.missing",
    )
    [asked] = events(session, "submission.override_requested")
    assert (asked.actor, asked.subject) == (alice.email, f"submission:{sid}")
    assert asked.after is not None and asked.after["override_reason"] == REASON
    assert events(session, "submission.approved") == []

    # While it waits, nobody approves it again by the ordinary way.
    claim(session, sid, alice, now=NOW)
    with pytest.raises(DecisionError, match="väntar redan"):
        _approve(session, sid, alice, "Ett annat skäl.")
    session.rollback()


def test_a_second_reviewer_confirms_and_the_audit_names_both(
    session: Session, store: ImageStore, alice: Reviewer, bob: Reviewer
) -> None:
    sid = _requested(session, store, alice)
    before = counts(session)

    _confirm(session, sid, bob)
    session.commit()

    done = reload(session, sid)
    assert (done.status, done.override_reason, done.decided_by) == (
        SubmissionStatus.APPLIED,
        REASON,
        bob.id,
    )
    assert done.applied_at == NOW and done.claimed_by is None
    assert counts(session)[0] == before[0] + 1  # the connection exists now
    assert {m.template for m in mails(session, sid)} == {"approved_client", "approved_firm"}
    [approved] = events(session, "submission.approved")
    assert approved.actor == bob.email
    assert approved.after is not None
    assert approved.after["override_requested_by"] == alice.email
    assert approved.after["override_confirmed_by"] == bob.email
    assert approved.after["override_reason"] == REASON
    assert approved.after["overridden_findings"] == ["signature.missing"]
    [request] = _requests(session, sid)
    assert (request.state, request.answered_by, request.answered_at) == (
        OverrideState.CONFIRMED,
        bob.id,
        NOW,
    )
    assert pending_request(session, sid) is None


def test_the_reviewer_who_asked_cannot_confirm_or_decline(
    session: Session, store: ImageStore, alice: Reviewer, admin: Reviewer
) -> None:
    for asker, other in ((alice, admin), (admin, alice)):  # an admin counts as any reviewer
        sid = _requested(session, store, asker)
        before = counts(session)
        with pytest.raises(OwnOverride, match="ditt eget undantag"):
            _confirm(session, sid, asker)
        session.rollback()
        claim(session, sid, asker, now=NOW)
        with pytest.raises(OwnOverride):
            decline_override(session, sid, asker, reason="Ändrade mig.", now=NOW)
        session.rollback()
        assert counts(session) == before
        assert reload(session, sid).status == SubmissionStatus.QUEUED
        _confirm(session, sid, other)
        session.commit()
        assert reload(session, sid).status == SubmissionStatus.APPLIED


def test_a_stale_confirmation_is_refused_and_the_request_goes_back(
    session: Session, store: ImageStore, alice: Reviewer, bob: Reviewer
) -> None:
    sid = _requested(session, store, alice)
    # The submission changes behind the request (not through a correction, which withdraws
    # the request itself: see below), e.g. a field rewritten by another path.
    session.exec(
        sa.update(SubmissionField)
        .where(
            col(SubmissionField.submission_id) == sid, col(SubmissionField.name) == "client_name"
        )
        .values(value="Något annat AB")
    )
    session.commit()
    before = counts(session)

    with pytest.raises(StaleOverride, match="har ändrats"):
        _confirm(session, sid, bob)
    session.rollback()
    assert counts(session) == before
    assert reload(session, sid).status == SubmissionStatus.QUEUED

    assert withdraw_stale(session, sid, bob, now=NOW)
    session.commit()
    [request] = _requests(session, sid)
    assert request.state == OverrideState.WITHDRAWN
    assert [e.actor for e in events(session, "submission.override_withdrawn")] == [bob.email]
    with pytest.raises(DecisionError, match="väntar inte"):
        _confirm(session, sid, bob)
    session.rollback()


def test_a_correction_or_a_rejection_withdraws_the_request(
    session: Session, store: ImageStore, alice: Reviewer, bob: Reviewer
) -> None:
    case = dual_case()
    corrected = _requested(session, store, alice)
    claim(session, corrected, bob, now=NOW)
    correct_field(
        session, corrected, bob, "client_name", case.client["name"] + " i Sverige", now=NOW
    )
    session.commit()
    assert [r.state for r in _requests(session, corrected)] == [OverrideState.WITHDRAWN]
    with pytest.raises(DecisionError, match="väntar inte"):
        _confirm(session, corrected, bob)
    session.rollback()

    rejected = _requested(session, store, alice)
    claim(session, rejected, bob, now=NOW)
    reject_as(session, rejected, bob, "signature_missing")
    session.commit()
    assert [r.state for r in _requests(session, rejected)] == [OverrideState.WITHDRAWN]
    assert reload(session, rejected).status == SubmissionStatus.REJECTED


def test_declining_opens_it_again_with_the_reason_for_the_one_who_asked(
    session: Session, store: ImageStore, alice: Reviewer, bob: Reviewer
) -> None:
    sid = _requested(session, store, alice)
    before = counts(session)
    claim(session, sid, bob, now=NOW)
    with pytest.raises(DecisionError, match="Skriv varför"):
        decline_override(session, sid, bob, reason="  ", now=NOW)
    decline_override(session, sid, bob, reason="Underskriften på sida 2 är en annans.", now=NOW)
    session.commit()

    assert counts(session)[:3] == before[:3]
    submission = reload(session, sid)
    assert (submission.status, submission.claimed_by) == (SubmissionStatus.QUEUED, None)
    [request] = _requests(session, sid)
    assert (request.state, request.answered_by, request.answer_reason) == (
        OverrideState.DECLINED,
        bob.id,
        "Underskriften på sida 2 är en annans.",
    )
    [declined] = events(session, "submission.override_declined")
    assert declined.actor == bob.email
    assert declined.before is not None and declined.before["requested_by"] == alice.email
    assert alice.email in declined.detail and "en annans" in declined.detail
    # Open as before: a new override is a new request.
    claim(session, sid, alice, now=NOW)
    assert not _approve(session, sid, alice, REASON).applied
    session.commit()
    assert [r.state for r in _requests(session, sid)] == [
        OverrideState.DECLINED,
        OverrideState.PENDING,
    ]


def test_an_admin_switches_a_code_off_and_the_override_applies_at_once(
    session: Session, store: ImageStore, alice: Reviewer, admin: Reviewer
) -> None:
    assert set_rule(session, "signature.missing", False, admin, now=NOW)
    session.commit()
    assert not set_rule(session, "signature.missing", False, admin, now=NOW)  # no change
    [changed] = events(session, "four_eyes.rule_changed")
    assert (changed.actor, changed.subject) == (admin.email, "finding:signature.missing")
    assert (changed.before, changed.after) == ({"required": True}, {"required": False})

    sid = submit(session, store, "dual", dual_case().values(), findings=[MISSING])
    claim(session, sid, alice, now=NOW)
    done = _approve(session, sid, alice, REASON)
    session.commit()
    assert done.applied and reload(session, sid).status == SubmissionStatus.APPLIED
    assert _requests(session, sid) == []

    # And on again for a code that is off by default.
    assert set_rule(session, "form.unknown_id", True, admin, now=NOW)
    session.commit()
    assert guarded_codes(session, ["form.unknown_id", "signature.missing"]) == ["form.unknown_id"]


def test_a_reviewer_cannot_switch_a_rule(
    session: Session, alice: Reviewer, admin: Reviewer
) -> None:
    with pytest.raises(DecisionError, match="Bara en administratör"):
        set_rule(session, "signature.missing", False, alice, now=NOW)
    session.rollback()
    with pytest.raises(DecisionError, match="inget blockerande fynd"):
        set_rule(session, "ocr.low_confidence", True, admin, now=NOW)
    session.rollback()
    assert session.exec(select(FourEyesRule)).all() == []
    assert events(session, "four_eyes.rule_changed") == []
    assert guarded_codes(session, ["signature.missing"]) == ["signature.missing"]


def test_only_blocking_findings_are_ever_subject(
    session: Session, store: ImageStore, alice: Reviewer
) -> None:
    # The same code as a warning needs no override at all, so no second reviewer either.
    warning = NewFinding("signature.missing", "warning", "Underskriften är svag.", "client")
    sid = submit(session, store, "dual", dual_case().values(), findings=[warning])
    claim(session, sid, alice, now=NOW)
    assert _approve(session, sid, alice, None).applied
    session.commit()
    assert reload(session, sid).status == SubmissionStatus.APPLIED


def test_take_next_skips_ones_own_request_but_offers_it_to_others(
    session: Session, store: ImageStore, alice: Reviewer, bob: Reviewer
) -> None:
    sid = _requested(session, store, alice)
    assert next_unclaimed(session, reviewer=alice, now=NOW, order="oldest") != sid
    assert next_unclaimed(session, reviewer=bob, now=NOW, order="oldest") == sid


def test_of_two_answers_at_once_only_one_lands(
    engine: sa.Engine, session: Session, store: ImageStore, alice: Reviewer, bob: Reviewer
) -> None:
    sid = _requested(session, store, alice)
    seen = pending_request(session, sid)  # B's page: still pending
    assert seen is not None
    with Session(engine) as other:  # meanwhile A takes it back
        withdraw_own(other, sid, alice, now=NOW)
        other.commit()
    with pytest.raises(DecisionError, match="redan besvarats"):
        answer(session, seen, bob, OverrideState.CONFIRMED, now=NOW)
    session.rollback()
    assert [r.state for r in _requests(session, sid)] == [OverrideState.WITHDRAWN]
