"""Four eyes in the pages: the waiting override, confirming, declining, the rules page."""

from __future__ import annotations

import html
import re

import sqlalchemy as sa
from sqlmodel import col, select

from registry import AuditEvent
from tests.review.test_pages import (
    Site,
    csrf_of,
    dual_values,
    site_fixture,  # noqa: F401 - the `site` fixture
    snapshot,
)
from workqueue import (
    FourEyesRule,
    OverrideRequest,
    OverrideState,
    Submission,
    SubmissionField,
    SubmissionStatus,
)

REASON = "Klientens underskrift finns på sida 2."


def _status(site: Site, sid: int) -> SubmissionStatus:
    with site.session() as s:
        found = s.get(Submission, sid)
        assert found is not None
        return found.status


def _requests(site: Site, sid: int) -> list[OverrideRequest]:
    with site.session() as s:
        return list(
            s.exec(
                select(OverrideRequest)
                .where(OverrideRequest.submission_id == sid)
                .order_by(col(OverrideRequest.id))
            ).all()
        )


def _events(site: Site, action: str) -> list[AuditEvent]:
    with site.session() as s:
        return list(s.exec(select(AuditEvent).where(AuditEvent.action == action)).all())


def _ask(site: Site, who: str = "alice") -> int:
    """`who` approves the submission with a missing signature, giving a reason."""
    client = site.logged_in(who)
    sid = site.ids["blocking"]
    page = client.get(f"/granskning/{sid}").text
    assert 'id="four-eyes-note"' in page and "En underskrift saknas" in page
    done = client.post(
        f"/granskning/{sid}/godkann", data={"csrf": csrf_of(client), "override_reason": REASON}
    )
    assert done.status_code == 303, done.text
    assert done.headers["location"].endswith(f"klart={sid}")
    landed = client.get(done.headers["location"]).text
    assert f"Ärende #{sid}: Väntar på bekräftelse av en annan granskare." in landed
    return sid


def test_a_second_reviewer_sees_the_waiting_override_and_confirms_it(site: Site) -> None:
    sid = _ask(site)
    assert _status(site, sid) == SubmissionStatus.QUEUED
    assert _events(site, "connection.created") == []

    bob = site.logged_in("bob")
    # The queue: a group of its own, and a badge in the ordinary listing.
    waiting = bob.get("/granskning/", params={"status": "confirm"}).text
    assert re.findall(r'<td><a href="/granskning/(\d+)[?"]', waiting) == [str(sid)]
    assert "Väntar på bekräftelse <strong>1</strong>" in waiting
    assert "väntar på bekräftelse</span>" in bob.get("/granskning/").text

    page = bob.get(f"/granskning/{sid}").text
    box = page.split('id="awaiting"')[1].split("</section>")[0]
    assert "<strong>Alice</strong> godkände ärendet trots blockerande fynd" in box
    assert REASON in box and "En underskrift saknas" in box
    assert "Klientens underskrift saknas." in box
    assert 'id="confirm-form"' in box and 'id="decline-form"' in box
    assert 'id="approve-form"' not in page  # the ordinary approval waits too

    mine = site.logged_in("alice").get(f"/granskning/{sid}").text
    assert "Du begärde undantaget" in mine and 'id="confirm-form"' not in mine

    done = bob.post(f"/granskning/{sid}/bekrafta", data={"csrf": csrf_of(bob)})
    assert done.status_code == 303, done.text
    assert _status(site, sid) == SubmissionStatus.APPLIED
    assert _events(site, "connection.created")
    [approved] = _events(site, "submission.approved")
    assert approved.actor == site.emails["bob"] and approved.after is not None
    assert approved.after["override_requested_by"] == site.emails["alice"]
    assert approved.after["override_confirmed_by"] == site.emails["bob"]
    decided = bob.get(f"/granskning/{sid}").text
    assert "Undantaget begärdes av Alice och bekräftades av Bob." in decided


def test_confirming_ones_own_override_is_refused_even_by_a_crafted_post(site: Site) -> None:
    sid = _ask(site)
    alice = site.logged_in("alice")
    before = snapshot(site.engine)
    for path, data in (("bekrafta", {}), ("avboj", {"decline_reason": "Jag ångrar mig."})):
        refused = alice.post(f"/granskning/{sid}/{path}", data={"csrf": csrf_of(alice), **data})
        assert refused.status_code == 403
        assert "Du kan inte bekräfta eller avböja ditt eget undantag" in html.unescape(refused.text)
    assert snapshot(site.engine) == before  # not even a claim
    assert [r.state for r in _requests(site, sid)] == [OverrideState.PENDING]


def test_a_stale_confirmation_is_refused_and_sent_back(site: Site) -> None:
    sid = _ask(site)
    with site.session() as s:
        s.exec(
            sa.update(SubmissionField)
            .where(
                col(SubmissionField.submission_id) == sid,
                col(SubmissionField.name) == "client_orgnr",
            )
            .values(corrected_value=dual_values()["current_firm_orgnr"])
        )
        s.commit()
    bob = site.logged_in("bob")
    page = bob.get(f"/granskning/{sid}").text
    assert 'id="awaiting-stale"' in page and 'id="confirm-form"' not in page
    crafted = bob.post(f"/granskning/{sid}/bekrafta", data={"csrf": csrf_of(bob)})
    assert crafted.status_code == 409
    assert "har ändrats sedan undantaget begärdes" in crafted.text
    assert _status(site, sid) == SubmissionStatus.QUEUED
    assert _events(site, "connection.created") == []
    assert [r.state for r in _requests(site, sid)] == [OverrideState.WITHDRAWN]
    assert 'id="approve-form"' in bob.get(f"/granskning/{sid}").text  # open again


def test_declining_puts_it_back_with_the_reason(site: Site) -> None:
    sid = _ask(site)
    bob = site.logged_in("bob")
    empty = bob.post(f"/granskning/{sid}/avboj", data={"csrf": csrf_of(bob)})
    assert empty.status_code == 422
    done = bob.post(
        f"/granskning/{sid}/avboj",
        data={"csrf": csrf_of(bob), "decline_reason": "Sida 2 är en annan blankett."},
    )
    assert done.status_code == 303
    page = bob.get(f"/granskning/{sid}").text
    assert "Bob avböjde" in page and "Sida 2 är en annan blankett." in page
    assert 'id="approve-form"' in page
    [declined] = _events(site, "submission.override_declined")
    assert declined.actor == site.emails["bob"]
    assert site.emails["alice"] in declined.detail


def test_an_admin_switches_a_rule_on_the_rules_page_and_a_reviewer_cannot(site: Site) -> None:
    alice = site.logged_in("alice")
    assert alice.get("/granskning/regler").status_code == 403
    forbidden = alice.post(
        "/granskning/regler",
        data={"csrf": csrf_of(alice), "code": "signature.missing", "required": "nej"},
    )
    assert forbidden.status_code == 403
    with site.session() as s:
        assert s.exec(select(FourEyesRule)).all() == []

    admin = site.logged_in("admin")
    page = admin.get("/granskning/regler").text
    row = page.split('id="rule-signature.missing"')[1].split("</tr>")[0]
    assert "En underskrift saknas" in row and "<strong>På</strong>" in row
    switched = admin.post(
        "/granskning/regler",
        data={"csrf": csrf_of(admin), "code": "signature.missing", "required": "nej"},
    )
    assert switched.status_code == 303
    after = admin.get(switched.headers["location"]).text
    assert "Fyra ögon är nu av för ”En underskrift saknas”." in after
    row = after.split('id="rule-signature.missing"')[1].split("</tr>")[0]
    assert "<strong>Av</strong>" in row and "Admin" in row
    [changed] = _events(site, "four_eyes.rule_changed")
    assert changed.actor == site.emails["admin"]

    # Off: Alice's override of a missing signature is carried out at once.
    sid = site.ids["blocking"]
    done = alice.post(
        f"/granskning/{sid}/godkann", data={"csrf": csrf_of(alice), "override_reason": REASON}
    )
    assert done.status_code == 303
    assert _status(site, sid) == SubmissionStatus.APPLIED
    assert _requests(site, sid) == []
