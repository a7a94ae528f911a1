"""Bulk approval: which submissions are clean (each rule), and approving the chosen ones.

The rules are tested on `review.bulk` with a session (SQLite and PostgreSQL);
the page through the test client: the confirmation lists the clean ones
ticked, the POST approves exactly the ticked ones with one `submission.approved`
event each, skips with a reason what changed or was taken in between, and
refuses a POST without the CSRF token.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
import sqlalchemy as sa
from sqlmodel import Session, col, select

from forms import SURE_CONFIDENCE
from registry import AuditEvent
from review import claim
from review.bulk import approve_chosen, clean_submissions, why_not_clean
from tests.review.queue_cases import DOMAIN, FORM_URL, NOW, events, reload
from tests.review.test_pages import (
    Site,
    add_submission,
    disconnect_values,
    dual_values,
    hidden,
    signed,
    site_fixture,  # noqa: F401 - the `site` fixture
    snapshot,
)
from workqueue import (
    ImageStore,
    NewFinding,
    NewSignature,
    OverrideRequest,
    OverrideState,
    Reviewer,
    Submission,
    SubmissionField,
    SubmissionFinding,
    SubmissionStatus,
)


@pytest.fixture
def db(session: Session, registry: None) -> Session:
    """The test's session over a database with the sample registry."""
    return session


def clean_dual(
    session: Session,
    store: ImageStore,
    *,
    signatures: list[NewSignature] | None = None,
    findings: list[NewFinding] | None = None,
    confidence: float | dict[str, float] = 0.95,
) -> int:
    """A dual connection with every field sure and both signatures (clean unless changed)."""
    return add_submission(
        session, store, "dual", dual_values(), images=False, findings=findings,
        confidence=confidence,
        signatures=signed("client", "new_firm") if signatures is None else signatures,
    )  # fmt: skip


def clean_ids(session: Session, reviewer: Reviewer, now: dt.datetime = NOW) -> list[int]:
    return [c.submission.id or 0 for c in clean_submissions(session, reviewer, now=now)]


def reason(session: Session, sid: int, reviewer: Reviewer, now: dt.datetime = NOW) -> str:
    return why_not_clean(session, reload(session, sid), reviewer, now=now)[0]


# -- which are clean ---------------------------------------------------------------------------


def test_a_clean_submission_is_listed_with_its_plan(
    db: Session, store: ImageStore, alice: Reviewer
) -> None:
    session = db
    sid = clean_dual(session, store)
    other = add_submission(
        session, store, "disconnect", disconnect_values(),
        signatures=signed("client", "firm"), images=False,
    )  # fmt: skip
    cases = clean_submissions(session, alice, now=NOW)
    assert [c.submission.id for c in cases] == [sid, other]  # oldest first
    assert cases[0].plan.changes and not cases[0].plan.problems
    assert cases[0].client_name == dual_values()["client_name"]
    assert re.fullmatch(r"[0-9a-f]{64}", cases[0].token)
    assert reason(session, sid, alice) == ""


def test_findings_above_info_make_it_unclean_and_info_does_not(
    db: Session, store: ImageStore, alice: Reviewer
) -> None:
    session = db
    info = clean_dual(session, store, findings=[NewFinding("esign.valid", "info", "Signerad.")])
    warning = clean_dual(
        session, store, findings=[NewFinding("ocr.low_confidence", "warning", "Osäker läsning.")]
    )
    blocking = clean_dual(
        session, store, findings=[NewFinding("qr.invalid", "blocking", "QR-koden stämmer inte.")]
    )
    assert clean_ids(session, alice) == [info]
    assert reason(session, warning, alice) == "Ärendet har fynd att granska: Osäker läsning."
    assert reason(session, blocking, alice).startswith("Ärendet har fynd att granska")


def test_a_finding_the_counters_do_not_show_still_counts(
    db: Session, store: ImageStore, alice: Reviewer
) -> None:
    session = db
    """The counts on the row only narrow the search; the findings themselves decide."""
    sid = clean_dual(session, store)
    session.add(SubmissionFinding(submission_id=sid, code="x", severity="warning", message="Nytt."))
    session.commit()
    assert clean_ids(session, alice) == []


def test_every_field_must_be_sure_or_set_by_a_reviewer(
    db: Session, store: ImageStore, alice: Reviewer
) -> None:
    session = db
    at_threshold = clean_dual(session, store, confidence={"new_firm_email": SURE_CONFIDENCE})
    below = clean_dual(session, store, confidence={"new_firm_email": SURE_CONFIDENCE - 0.01})
    corrected = clean_dual(session, store, confidence={"new_firm_email": 0.2})
    session.exec(
        sa.update(SubmissionField)
        .where(
            col(SubmissionField.submission_id) == corrected,
            col(SubmissionField.name) == "new_firm_email",
        )
        .values(corrected_value="kontakt@ny-byra.example")
    )
    session.commit()
    assert clean_ids(session, alice) == [at_threshold, corrected]
    assert reason(session, below, alice) == "1 fält är inte säkert läst."


def test_every_signature_must_be_signed_and_there_must_be_one(
    db: Session, store: ImageStore, alice: Reviewer
) -> None:
    session = db
    unsure = clean_dual(
        session, store,
        signatures=[*signed("client"), NewSignature("new_firm", "unsure", 0.01)],
    )  # fmt: skip
    empty = clean_dual(
        session, store, signatures=[*signed("client"), NewSignature("new_firm", "empty", 0.0)]
    )
    none = clean_dual(session, store, signatures=[])
    assert clean_ids(session, alice) == []
    assert reason(session, unsure, alice) == "En underskrift saknas eller är osäker."
    assert reason(session, empty, alice) == "En underskrift saknas eller är osäker."
    assert reason(session, none, alice) == "Ingen underskrift är registrerad."


def test_status_and_kind(db: Session, store: ImageStore, alice: Reviewer) -> None:
    session = db
    unreadable = add_submission(
        session, store, None, {}, unreadable="Hörnen syns inte.", images=False, by_mail=False
    )
    unknown = add_submission(
        session, store, None, dual_values(), signatures=signed("client"), images=False
    )
    approved = clean_dual(session, store)
    session.exec(
        sa.update(Submission).where(col(Submission.id) == approved).values(status="applied")
    )
    session.commit()
    assert clean_ids(session, alice) == []
    assert reason(session, unreadable, alice) == "Blanketten gick inte att läsa."
    assert reason(session, unknown, alice) == "Blanketten är inte identifierad."
    assert reason(session, approved, alice) == "Ärendet är redan godkänt."


def test_a_pending_override_request_makes_it_unclean(
    db: Session, store: ImageStore, alice: Reviewer, bob: Reviewer
) -> None:
    session = db
    sid = clean_dual(session, store)
    assert bob.id is not None
    session.add(
        OverrideRequest(
            submission_id=sid, state=OverrideState.PENDING, requested_by=bob.id,
            requested_at=NOW, reason="Kontrollerat.", codes="x", fingerprint="0" * 64,
        )
    )  # fmt: skip
    session.commit()
    assert clean_ids(session, alice) == []
    assert (
        reason(session, sid, alice) == "Ett undantag väntar på bekräftelse av en annan granskare."
    )


def test_a_plan_with_problems_or_nothing_to_do_is_not_clean(
    db: Session, store: ImageStore, alice: Reviewer
) -> None:
    session = db
    wrong = add_submission(
        session, store, "dual", dual_values() | {"client_subscription": "1"},
        signatures=signed("client", "new_firm"), images=False,
    )  # fmt: skip
    first = clean_dual(session, store)
    done = clean_dual(session, store)
    assert clean_ids(session, alice) == [first, done]
    assert reason(session, wrong, alice).startswith("Ändringen går inte att göra: ")
    outcome = approve_chosen(
        session, alice, [(first, token_of(session, alice, first))],
        now=NOW, form_url=FORM_URL, sender_domain=DOMAIN,
    )  # fmt: skip
    assert outcome[0].approved
    # The registry is now as the second one asks: approving it would change nothing.
    assert clean_ids(session, alice) == []
    assert (
        reason(session, done, alice) == "Registret är redan som blanketten begär; inget att ändra."
    )


def test_another_reviewers_live_claim_is_respected_an_expired_one_is_not(
    db: Session, store: ImageStore, alice: Reviewer, bob: Reviewer
) -> None:
    session = db
    bobs = clean_dual(session, store)
    mine = add_submission(
        session, store, "disconnect", disconnect_values(),
        signatures=signed("client", "firm"), images=False,
    )  # fmt: skip
    claim(session, bobs, bob, now=NOW)
    claim(session, mine, alice, now=NOW)
    session.commit()
    assert clean_ids(session, alice) == [mine]
    assert reason(session, bobs, alice) == "Bob granskar ärendet just nu."
    assert clean_ids(session, bob) == [bobs]
    later = NOW + dt.timedelta(hours=1)  # both claims have run out
    assert clean_ids(session, alice, later) == [bobs, mine]


def test_at_most_fifty_at_a_time(db: Session, store: ImageStore, alice: Reviewer) -> None:
    session = db
    first = clean_dual(session, store)
    for _ in range(4):
        clean_dual(session, store)
    assert len(clean_submissions(session, alice, now=NOW, limit=3)) == 3
    assert clean_submissions(session, alice, now=NOW, limit=1)[0].submission.id == first


# -- approving the chosen ones -----------------------------------------------------------------


def token_of(session: Session, reviewer: Reviewer, sid: int) -> str:
    return next(
        c.token for c in clean_submissions(session, reviewer, now=NOW) if c.submission.id == sid
    )


def test_approving_is_the_one_by_one_approval_each_in_its_own_transaction(
    db: Session, store: ImageStore, alice: Reviewer, bob: Reviewer
) -> None:
    session = db
    dual = clean_dual(session, store)
    disconnect = add_submission(
        session, store, "disconnect", disconnect_values(),
        signatures=signed("client", "firm"), images=False,
    )  # fmt: skip
    taken = clean_dual(session, store, findings=[])
    tokens = {c.submission.id: c.token for c in clean_submissions(session, alice, now=NOW)}
    claim(session, taken, bob, now=NOW)
    session.commit()
    before = len(session.exec(select(AuditEvent)).all())
    outcomes = approve_chosen(
        session, alice,
        [(dual, tokens[dual]), (taken, tokens[taken]), (disconnect, tokens[disconnect])],
        now=NOW, form_url=FORM_URL, sender_domain=DOMAIN,
    )  # fmt: skip
    assert [(o.submission_id, o.approved) for o in outcomes] == [
        (dual, True), (taken, False), (disconnect, True),
    ]  # fmt: skip
    assert outcomes[1].reason == "Bob granskar ärendet just nu."
    approved = events(session, "submission.approved")
    assert [e.subject for e in approved] == [f"submission:{dual}", f"submission:{disconnect}"]
    assert all(e.actor == alice.email for e in approved)
    assert reload(session, dual).status == SubmissionStatus.APPLIED
    assert reload(session, disconnect).status == SubmissionStatus.APPLIED
    held = reload(session, taken)
    assert (held.status, held.claimed_by) == (SubmissionStatus.QUEUED, bob.id)
    assert len(session.exec(select(AuditEvent)).all()) > before + 2  # the registry's own events


def test_a_changed_or_spoiled_submission_is_skipped_and_its_claim_undone(
    db: Session, store: ImageStore, alice: Reviewer
) -> None:
    session = db
    spoiled = clean_dual(session, store)
    changed = add_submission(
        session, store, "disconnect", disconnect_values(),
        signatures=signed("client", "firm"), images=False,
    )  # fmt: skip
    tokens = {c.submission.id: c.token for c in clean_submissions(session, alice, now=NOW)}
    session.add(
        SubmissionFinding(submission_id=spoiled, code="x", severity="warning", message="Nytt fynd.")
    )
    session.exec(
        sa.update(SubmissionField)
        .where(
            col(SubmissionField.submission_id) == changed,
            col(SubmissionField.name) == "client_name",
        )
        .values(corrected_value="Ett annat namn AB")
    )
    session.commit()
    chosen = [(spoiled, tokens[spoiled]), (changed, tokens[changed]), (999_999, "0" * 64)]
    outcomes = approve_chosen(
        session, alice, chosen, now=NOW, form_url=FORM_URL, sender_domain=DOMAIN
    )
    assert not any(o.approved for o in outcomes)
    assert outcomes[0].reason == "Inte längre rent: Ärendet har fynd att granska: Nytt fynd."
    assert outcomes[1].reason.startswith("Ärendet har ändrats sedan sidan visades.")
    assert outcomes[2].reason == "Ärende 999999 finns inte."
    assert events(session, "submission.approved") == []
    for sid in (spoiled, changed):
        row = reload(session, sid)
        assert (row.status, row.claimed_by) == (SubmissionStatus.QUEUED, None)


# -- the page ----------------------------------------------------------------------------------

_PICK = re.compile(r'<input type="checkbox" name="v(\d+)" value="1" id="v\d+" checked')


def test_the_page_lists_the_clean_ones_ticked_and_approves_exactly_the_ticked(site: Site) -> None:
    with site.session() as session:
        extra = add_submission(
            session, site.images, "dual", dual_values() | {"new_firm_email": "ny@byra.example"},
            signatures=signed("client", "new_firm"),
        )  # fmt: skip
    client = site.logged_in("alice")
    queue = client.get("/granskning/")
    assert 'href="/granskning/godkann-rena"' in queue.text
    page = client.get("/granskning/godkann-rena")
    assert page.status_code == 200
    listed = [int(i) for i in _PICK.findall(page.text)]
    # The site's dual has a warning, "blocking" a blocking finding, "unreadable" is unreadable.
    assert listed == [site.ids["disconnect"], extra]
    assert "Det här ändras" in page.text
    form = {
        "csrf": hidden(page.text, "csrf"),
        **{f"t{i}": hidden(page.text, f"t{i}") for i in listed},
        f"v{site.ids['disconnect']}": "1",  # the other one is unticked
    }
    done = client.post("/granskning/godkann-rena", data=form)
    assert done.status_code == 200
    assert (
        "Godkända: <strong>1</strong>. Överhoppade: <strong>0</strong>. Inte valda: 1." in done.text
    )
    with site.session() as session:
        assert reload(session, site.ids["disconnect"]).status == SubmissionStatus.APPLIED
        assert reload(session, extra).status == SubmissionStatus.QUEUED
        approved = events(session, "submission.approved")
        assert [e.subject for e in approved] == [f"submission:{site.ids['disconnect']}"]


def test_the_page_skips_what_changed_or_was_taken_after_it_was_shown(site: Site) -> None:
    with site.session() as session:
        taken = add_submission(
            session, site.images, "dual", dual_values(), signatures=signed("client", "new_firm")
        )
    client = site.logged_in("alice")
    page = client.get("/granskning/godkann-rena")
    listed = [int(i) for i in _PICK.findall(page.text)]
    assert listed == [site.ids["disconnect"], taken]
    with site.session() as session:
        claim(session, taken, site.reviewer("bob"), now=dt.datetime.now(dt.UTC))
        session.add(
            SubmissionFinding(
                submission_id=site.ids["disconnect"], code="x", severity="warning",
                message="Betalaren har bytts.",
            )
        )  # fmt: skip
        session.commit()
    form = {"csrf": hidden(page.text, "csrf")}
    for i in listed:
        form |= {f"t{i}": hidden(page.text, f"t{i}"), f"v{i}": "1"}
    done = client.post("/granskning/godkann-rena", data=form)
    assert "Godkända: <strong>0</strong>. Överhoppade: <strong>2</strong>." in done.text
    assert "Inte längre rent: Ärendet har fynd att granska: Betalaren har bytts." in done.text
    assert "Bob granskar ärendet just nu." in done.text
    with site.session() as session:
        assert events(session, "submission.approved") == []


def test_the_post_needs_the_csrf_token(site: Site) -> None:
    client = site.logged_in("alice")
    page = client.get("/granskning/godkann-rena")
    sid = site.ids["disconnect"]
    before = snapshot(site.engine)
    refused = client.post(
        "/granskning/godkann-rena",
        data={f"t{sid}": hidden(page.text, f"t{sid}"), f"v{sid}": "1", "csrf": "fel"},
    )
    assert refused.status_code == 403
    assert snapshot(site.engine) == before
    with site.session() as session:
        assert reload(session, sid).status == SubmissionStatus.QUEUED


def test_the_page_needs_a_login(site: Site) -> None:
    assert site.client().get("/granskning/godkann-rena").status_code == 303
