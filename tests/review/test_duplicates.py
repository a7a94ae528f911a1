"""Duplicates: grouping by form id and by file, closing one as a duplicate, and the page.

Submissions are put in the queue as the intake does (`queue_cases.submit`,
with the intake's `form.duplicate` finding on a form id seen before); the
page is driven through the test client of `test_pages` with real logins.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence

import pytest
from sqlmodel import Session, select

from registry import AuditEvent
from render import blankett_id
from review import ClaimedByOther, DecisionError, claim
from review.duplicates import (
    CLOSED_ACTION,
    DuplicateGroup,
    close_as_duplicate,
    duplicate_groups,
    group_of,
)
from tests.review.queue_cases import (
    NOW,
    dual_case,
    events,
    mails,
    reject_as,
    reload,
    submit,
)
from tests.review.test_pages import (
    SENDER,
    Site,
    add_submission,
    csrf_of,
    dual_values,
    site_fixture,  # noqa: F401 - the `site` fixture
)
from workqueue import (
    ImageStore,
    NewFinding,
    OutboundMail,
    Reviewer,
    Submission,
    SubmissionStatus,
)

AGAIN = [NewFinding("form.duplicate", "warning", "Blanketten har redan skickats in tidigare.")]


def twice(session: Session, store: ImageStore) -> tuple[int, int]:
    """The same issued form sent twice: the second carries the intake's finding."""
    values = dual_case().values()
    return (
        submit(session, store, "dual", values),
        submit(session, store, "dual", values, findings=AGAIN),
    )


def same_file(session: Session, first: int, second: int) -> None:
    """Make `second` the same document of the same file as `first` (`intake file` twice)."""
    one, two = reload(session, first), reload(session, second)
    two.source_sha256, two.document_index = one.source_sha256, one.document_index
    session.add(two)
    session.commit()


def ids(groups: Sequence[DuplicateGroup | None]) -> list[list[int]]:
    return [[m.id for m in g.members] if g else [] for g in groups]


# -- grouping ----------------------------------------------------------------------------------


def test_the_same_form_id_twice_is_one_group_oldest_first(
    session: Session, store: ImageStore
) -> None:
    first, second = twice(session, store)
    submit(session, store, None, {}, unreadable="Hörnen syns inte.")  # alone: no group
    groups = duplicate_groups(session, now=NOW)
    assert ids(groups) == [[first, second]]
    assert groups[0].form_ids == ["7K3QX9P2MD"]
    assert not groups[0].same_file
    assert groups[0].members[0].sender == SENDER
    assert group_of(session, second, now=NOW) is not None
    assert ids([group_of(session, first, now=NOW)]) == [[first, second]]


def test_groups_join_through_a_shared_file_and_a_split_is_no_duplicate(
    session: Session, store: ImageStore
) -> None:
    first, second = twice(session, store)
    third = submit(session, store, None, {}, unreadable="Hörnen syns inte.")
    same_file(session, second, third)
    # Another document of the same file (two forms in one PDF, or a split) is not a duplicate.
    other_doc = submit(session, store, None, {}, unreadable="Hörnen syns inte.")
    row = reload(session, other_doc)
    row.source_sha256, row.document_index = reload(session, first).source_sha256, 1
    session.add(row)
    session.commit()
    groups = duplicate_groups(session, now=NOW)
    assert ids(groups) == [[first, second, third]]
    assert groups[0].same_file and groups[0].form_ids == ["7K3QX9P2MD"]
    assert ids([group_of(session, third, now=NOW)]) == [[first, second, third]]
    assert group_of(session, other_doc, now=NOW) is None


def test_a_file_without_form_id_sent_twice_is_found_from_either_submission(
    session: Session, store: ImageStore
) -> None:
    one = submit(session, store, None, {}, unreadable="Hörnen syns inte.")
    two = submit(session, store, None, {}, unreadable="Hörnen syns inte.")
    same_file(session, one, two)
    found = group_of(session, two, now=NOW)
    assert found is not None and ids([found]) == [[one, two]] and found.same_file


def test_a_group_needs_an_open_member_and_rejected_ones_are_left_out(
    session: Session, store: ImageStore, alice: Reviewer
) -> None:
    first, second = twice(session, store)
    claim(session, first, alice, now=NOW)
    reject_as(session, first, alice)
    session.commit()
    # Sent again after a rejection: the customer putting it right, not a duplicate.
    assert duplicate_groups(session, now=NOW) == []
    assert group_of(session, second, now=NOW) is None
    claim(session, second, alice, now=NOW)
    reject_as(session, second, alice)
    session.commit()
    assert duplicate_groups(session, now=NOW) == []


def test_an_approved_original_stays_in_the_group_as_the_target(
    session: Session, store: ImageStore
) -> None:
    first, second = twice(session, store)
    row = reload(session, first)
    row.status = SubmissionStatus.APPLIED
    session.add(row)
    session.commit()
    (group,) = duplicate_groups(session, now=NOW)
    assert [(m.id, m.open) for m in group.members] == [(first, False), (second, True)]
    assert [t.id for t in group.targets(second)] == [first]


# -- closing -----------------------------------------------------------------------------------


def test_closing_rejects_without_mail_and_is_audited(
    session: Session, store: ImageStore, alice: Reviewer
) -> None:
    first, second = twice(session, store)
    mails_before = len(session.exec(select(OutboundMail)).all())
    close_as_duplicate(session, second, first, alice, now=NOW)
    session.commit()
    closed = reload(session, second)
    assert closed.status == SubmissionStatus.REJECTED
    assert closed.decision_reason == f"Dubblett av ärende {first}."
    assert closed.decided_by == alice.id and closed.decided_at == NOW
    assert closed.claimed_by is None
    assert mails(session, second) == []
    assert len(session.exec(select(OutboundMail)).all()) == mails_before
    (event,) = events(session, CLOSED_ACTION)
    assert event.actor == alice.email and event.subject == f"submission:{second}"
    assert event.after == {
        "status": "rejected",
        "duplicate_of": first,
        "reason": f"Dubblett av ärende {first}.",
    }
    assert reload(session, first).status == SubmissionStatus.QUEUED  # the original is untouched
    assert duplicate_groups(session, now=NOW) == []


def test_no_cycle_the_closed_one_cannot_be_the_original(
    session: Session, store: ImageStore, alice: Reviewer
) -> None:
    first, second = twice(session, store)
    close_as_duplicate(session, second, first, alice, now=NOW)
    session.commit()
    with pytest.raises(DecisionError, match=f"redan stängt som dubblett av ärende {first}"):
        close_as_duplicate(session, first, second, alice, now=NOW)
    session.rollback()
    assert reload(session, first).status == SubmissionStatus.QUEUED


def test_refusals_change_nothing(
    session: Session, store: ImageStore, alice: Reviewer, bob: Reviewer
) -> None:
    first, second = twice(session, store)
    stranger = submit(session, store, "disconnect", {}, findings=[])
    row = reload(session, stranger)
    row.form_id = "AAAAAAAAAA"
    session.add(row)
    session.commit()
    with pytest.raises(DecisionError, match="sig självt"):
        close_as_duplicate(session, second, second, alice, now=NOW)
    with pytest.raises(DecisionError, match="inte samma blankett-id eller fil"):
        close_as_duplicate(session, second, stranger, alice, now=NOW)
    with pytest.raises(DecisionError, match="finns inte"):
        close_as_duplicate(session, second, 999_999, alice, now=NOW)
    session.rollback()
    claim(session, second, bob, now=NOW)
    session.commit()
    with pytest.raises(ClaimedByOther):
        close_as_duplicate(session, second, first, alice, now=NOW)
    session.rollback()
    assert reload(session, second).status == SubmissionStatus.QUEUED
    assert events(session, CLOSED_ACTION) == []
    # Bob holds it, so Bob may close it.
    close_as_duplicate(session, second, first, bob, now=NOW)
    session.commit()
    assert reload(session, second).decided_by == bob.id


def test_a_decided_submission_cannot_be_closed_again(
    session: Session, store: ImageStore, alice: Reviewer
) -> None:
    first, second = twice(session, store)
    close_as_duplicate(session, second, first, alice, now=NOW)
    session.commit()
    third = submit(session, store, "dual", dual_case().values(), findings=AGAIN)
    with pytest.raises(DecisionError, match=f"Ärende {second} är inte öppet"):
        close_as_duplicate(session, second, third, alice, now=NOW)
    session.rollback()
    assert reload(session, second).decision_reason == f"Dubblett av ärende {first}."


# -- the page ----------------------------------------------------------------------------------


def _pair(site: Site) -> tuple[int, int]:
    with site.session() as session:
        one = add_submission(session, site.images, "dual", dual_values())
        two = add_submission(session, site.images, "dual", dual_values(), findings=AGAIN)
        for sid in (one, two):
            row = session.get(Submission, sid)
            assert row is not None
            row.form_id = "7K3QX9P2MD"
            session.add(row)
        session.commit()
    return one, two


def test_the_page_lists_the_group_and_closes_with_csrf(site: Site) -> None:
    one, two = _pair(site)
    client = site.logged_in("alice")
    page = client.get("/granskning/dubbletter")
    assert page.status_code == 200
    assert f"Blankett {blankett_id('7K3QX9P2MD')}" in page.text
    assert f'href="/granskning/{one}"' in page.text and f'href="/granskning/{two}"' in page.text
    assert f"Stäng som dubblett av #{one}" in page.text
    assert f"Stäng som dubblett av #{two}" in page.text  # either way round, the reviewer picks
    assert "style=" not in page.text and "<script>" not in page.text

    forged = client.post(f"/granskning/dubbletter/{two}/stang", data={"original": str(one)})
    assert forged.status_code == 403
    wrong = client.post(
        f"/granskning/dubbletter/{two}/stang", data={"original": str(one), "csrf": "x" * 43}
    )
    assert wrong.status_code == 403
    with site.session() as session:
        assert session.get(Submission, two).status == SubmissionStatus.QUEUED  # type: ignore[union-attr]

    done = client.post(
        f"/granskning/dubbletter/{two}/stang", data={"original": str(one), "csrf": csrf_of(client)}
    )
    assert done.status_code == 303
    after = client.get(done.headers["location"])
    assert f"Ärende {two} är stängt som dubblett av ärende {one}" in after.text
    assert "Inga dubbletter" in after.text
    with site.session() as session:
        row = session.get(Submission, two)
        assert row is not None and row.status == SubmissionStatus.REJECTED
        assert (
            session.exec(select(OutboundMail).where(OutboundMail.submission_id == two)).all() == []
        )
        assert (
            session.exec(select(AuditEvent).where(AuditEvent.action == CLOSED_ACTION)).one().actor
            == site.emails["alice"]
        )


def test_the_page_refuses_a_cycle_with_409_and_goes_back_to_next(site: Site) -> None:
    one, two = _pair(site)
    client = site.logged_in("alice")
    token = csrf_of(client)
    done = client.post(
        f"/granskning/dubbletter/{two}/stang",
        data={"original": str(one), "csrf": token, "next": f"/granskning/{two}"},
    )
    assert done.status_code == 303 and done.headers["location"] == f"/granskning/{two}"
    again = client.post(
        f"/granskning/dubbletter/{one}/stang", data={"original": str(two), "csrf": token}
    )
    assert again.status_code == 409
    assert re.search(r"redan stängt som dubblett av ärende \d+", again.text)
    bad = client.post(f"/granskning/dubbletter/{one}/stang", data={"original": "x", "csrf": token})
    assert bad.status_code == 400


def test_next_is_only_ever_a_path_of_ours(site: Site) -> None:
    one, two = _pair(site)
    client = site.logged_in("alice")
    done = client.post(
        f"/granskning/dubbletter/{two}/stang",
        data={"original": str(one), "csrf": csrf_of(client), "next": "https://evil.example/"},
    )
    assert done.status_code == 303 and done.headers["location"] == "/granskning/"


def test_someone_elses_claim_hides_the_button(site: Site) -> None:
    one, two = _pair(site)
    with site.session() as session:
        claim(session, two, site.reviewer("bob"), now=dt.datetime.now(dt.UTC))
        session.commit()
    page = site.logged_in("alice").get("/granskning/dubbletter")
    assert "Bob granskar det till" in page.text
    assert f'action="/granskning/dubbletter/{two}/stang"' not in page.text
    assert f'action="/granskning/dubbletter/{one}/stang"' in page.text
