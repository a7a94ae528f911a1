"""One submission's page: what it shows, claiming, corrections, approving and rejecting."""

from __future__ import annotations

import datetime as dt
import re

import sqlalchemy as sa
from sqlmodel import col, select

from registry import AuditEvent, Company, Connection
from review import claim
from review.decide import OVERRIDE_PRESETS
from tests.review.test_pages import (
    SENDER,
    Site,
    add_submission,
    csrf_of,
    dual_values,
    site_fixture,  # noqa: F401 - the `site` fixture
    snapshot,
)
from workqueue import OutboundMail, Submission, SubmissionField, SubmissionStatus


def _submission(site: Site, sid: int) -> Submission:
    with site.session() as s:
        found = s.get(Submission, sid)
        assert found is not None
        return found


def _open_connections(site: Site, client_orgnr: str, firm_orgnr: str) -> int:
    with site.session() as s:
        client = s.exec(select(Company).where(Company.orgnr == client_orgnr)).one()
        firm = s.exec(select(Company).where(Company.orgnr == firm_orgnr)).one()
        return s.exec(
            select(sa.func.count())
            .select_from(Connection)
            .where(
                Connection.client_id == client.id,
                Connection.firm_id == firm.id,
                col(Connection.until).is_(None),
            )
        ).one()


def _mails(site: Site, sid: int) -> list[OutboundMail]:
    with site.session() as s:
        return list(s.exec(select(OutboundMail).where(OutboundMail.submission_id == sid)).all())


def test_the_page_shows_scan_fields_findings_mail_registry_and_plan(site: Site) -> None:
    client = site.logged_in("alice")
    sid = site.ids["dual"]
    values = dual_values()
    page = client.get(f"/granskning/{sid}")
    assert page.status_code == 200
    html = page.text
    # Every field's value is editable: text in an input, a choice as Swedish radio buttons.
    with site.session() as s:
        fields = s.exec(select(SubmissionField).where(SubmissionField.submission_id == sid)).all()
    for f in fields:
        if f.name.endswith("_role"):
            assert re.search(rf'name="falt.{f.name}" value="{f.value}" checked', html)
        else:
            assert re.search(rf'name="falt.{f.name}" type="text"[^>]*value="{re.escape(f.value)}"',
                             html)
    assert "> Redovisningsbyrå</label>" in html
    # Only the uncertain field asks for attention, first, with its crop and its finding;
    # the sure ones are one compact block below.
    check, sure = html.split('id="check-list"')[1].split('id="sure-block"')
    low = next(f for f in fields if f.name == "client_subscription")
    assert 'id="row-client_subscription"' in check
    assert f'src="/granskning/bild/falt/{low.id}"' in check
    assert "Osäker läsning." in check
    assert 'id="row-client_name"' in sure and 'id="row-client_name"' not in check
    # Its box on the page, for the script to highlight.
    assert 'id="box-client_subscription" class="flag"' in html
    # Finding codes are behind a details toggle, with the Swedish label.
    assert "<summary>Detaljer</summary>" in html
    assert "Signerad" in html
    assert SENDER in html and "Skannad blankett" in html
    # What the registry says now, and what approving would do.
    assert values["client_name"] in html and values["current_firm_name"] in html
    assert f'href="/granskning/register/{values["new_firm_orgnr"]}"' in html
    assert "Om ärendet godkänns" in html
    assert values["new_firm_name"] in html.split("Om ärendet godkänns")[1]
    # Keyboard legend and the help overlay are there; the script is a static file.
    assert 'id="shortcuts"' in html and 'id="help"' in html
    assert '<script src="/granskning/static/review.js" defer></script>' in html


def test_images_come_by_row_id_with_their_own_type(site: Site) -> None:
    client = site.logged_in("alice")
    page = client.get(f"/granskning/{site.ids['dual']}").text
    page_src = re.search(r'src="(/granskning/bild/sida/\d+)"', page)
    signature_src = re.search(r'src="(/granskning/bild/underskrift/\d+)"', page)
    assert page_src and signature_src
    aligned = client.get(page_src.group(1))
    original = client.get(page_src.group(1) + "?original=true")
    signature = client.get(signature_src.group(1))
    assert aligned.headers["content-type"] == "image/png"
    assert aligned.content.startswith(b"\x89PNG")
    assert original.headers["content-type"] == "image/jpeg"
    assert original.content.startswith(b"\xff\xd8")
    assert signature.headers["content-type"] == "image/png"
    assert client.get("/granskning/bild/sida/999999").status_code == 404
    # A path or a hash in the address is not an id.
    assert client.get("/granskning/bild/sida/..%2F..%2Fetc%2Fpasswd").status_code in (404, 422)


def test_claiming_is_a_post_and_another_reviewer_then_sees_it_read_only(site: Site) -> None:
    alice = site.logged_in("alice")
    bob = site.logged_in("bob")
    sid = site.ids["dual"]
    assert 'id="take"' in alice.get(f"/granskning/{sid}").text
    taken = alice.post(f"/granskning/{sid}/ta", data={"csrf": csrf_of(alice), "sort": "confidence"})
    assert taken.status_code == 303
    assert taken.headers["location"] == f"/granskning/{sid}?sort=confidence"
    held = _submission(site, sid)
    assert held.claimed_by == site.reviewer("alice").id

    mine = alice.get(f"/granskning/{sid}").text
    assert "Du har ärendet till" in mine and 'id="approve-form"' in mine
    theirs = bob.get(f"/granskning/{sid}").text
    assert "Ärendet hanteras av Alice till" in theirs
    assert 'id="approve-form"' not in theirs and 'id="reject-form"' not in theirs
    assert re.search(r'name="falt.client_name" type="text"[^>]*value="[^"]*" readonly', theirs)
    # The queue says who has it.
    assert "Alice till" in bob.get("/granskning/").text

    before = snapshot(site.engine)
    csrf = csrf_of(bob)
    for path, data in (
        (f"/granskning/{sid}/godkann", {}),
        (f"/granskning/{sid}/avvisa", {"reason_code": "other", "reason_text": "Nej"}),
        (f"/granskning/{sid}/rattelse", {"falt.client_name": "Annat AB"}),
        (f"/granskning/{sid}/ta", {}),
    ):
        refused = bob.post(path, data=data | {"csrf": csrf})
        assert refused.status_code == 409, path
        assert "Ärendet hanteras av Alice" in refused.text
    assert snapshot(site.engine) == before

    # Released, Bob can take it.
    released = alice.post(f"/granskning/{sid}/slapp", data={"csrf": csrf_of(alice)})
    assert released.status_code == 303
    assert _submission(site, sid).claimed_by is None
    assert bob.post(f"/granskning/{sid}/ta", data={"csrf": csrf}).status_code == 303
    assert _submission(site, sid).claimed_by == site.reviewer("bob").id


def test_an_expired_claim_no_longer_blocks_others(site: Site) -> None:
    sid = site.ids["dual"]
    with site.session() as s:
        claim(s, sid, site.reviewer("alice"), now=dt.datetime.now(dt.UTC) - dt.timedelta(hours=2))
        s.commit()
    bob = site.logged_in("bob")
    page = bob.get(f"/granskning/{sid}").text
    assert "hanteras av" not in page and 'id="take"' in page
    assert bob.post(f"/granskning/{sid}/ta", data={"csrf": csrf_of(bob)}).status_code == 303


def test_corrections_are_saved_and_a_bad_value_saves_nothing(site: Site) -> None:
    client = site.logged_in("alice")
    sid = site.ids["dual"]
    values = dual_values()
    csrf = csrf_of(client)
    form = {f"falt.{k}": v for k, v in values.items()}
    saved = client.post(
        f"/granskning/{sid}/rattelse",
        data=form | {"csrf": csrf, "falt.client_name": "Rättat Namn AB", "kind": "dual"},
    )
    assert saved.status_code == 303
    assert saved.headers["location"] == f"/granskning/{sid}?kind=dual"
    with site.session() as s:
        corrected = {
            f.name: f.corrected_value
            for f in s.exec(select(SubmissionField).where(SubmissionField.submission_id == sid))
        }
    assert corrected["client_name"] == "Rättat Namn AB"
    assert all(v is None for k, v in corrected.items() if k != "client_name")
    page = client.get(f"/granskning/{sid}").text
    assert 'value="Rättat Namn AB"' in page and "Rättat; läst:" in page

    before = snapshot(site.engine)
    bad = client.post(
        f"/granskning/{sid}/rattelse",
        data=form
        | {"csrf": csrf, "falt.client_name": "Ännu ett namn AB", "falt.client_orgnr": "123"},
    )
    assert bad.status_code == 422
    assert 'role="alert"' in bad.text
    assert 'value="Ännu ett namn AB"' in bad.text  # what was typed is kept
    after = snapshot(site.engine)
    assert after["fields"] == before["fields"]


def test_approve_changes_the_registry_queues_mails_and_opens_the_next(site: Site) -> None:
    client = site.logged_in("alice")
    sid = site.ids["dual"]
    values = dual_values()
    assert _open_connections(site, values["client_orgnr"], values["new_firm_orgnr"]) == 0
    done = client.post(f"/granskning/{sid}/godkann", data={"csrf": csrf_of(client)})
    assert done.status_code == 303, done.text
    assert _open_connections(site, values["client_orgnr"], values["new_firm_orgnr"]) == 1
    decided = _submission(site, sid)
    assert decided.status in (SubmissionStatus.APPROVED, SubmissionStatus.APPLIED)
    assert decided.decided_by == site.reviewer("alice").id
    assert _mails(site, sid)
    with site.session() as s:
        assert s.exec(select(AuditEvent).where(AuditEvent.action == "connection.created")).all()
    # On to the next free submission, already claimed for Alice, saying what became of this one.
    location = done.headers["location"]
    next_id = int(location.split("?")[0].rsplit("/", 1)[1])
    assert next_id != sid
    assert _submission(site, next_id).claimed_by == site.reviewer("alice").id
    assert location.endswith(f"?klart={sid}")
    landed = client.get(location).text
    assert re.search(rf'id="notice">Ärende #{sid}: (Godkänd|Genomförd)\.</p>', landed)
    # The decided one is read-only now and says who decided.
    page = client.get(f"/granskning/{sid}").text
    assert "Beslutat" in page and "av Alice" in page and 'id="approve-form"' not in page


def test_blocking_findings_need_an_override_reason(site: Site) -> None:
    client = site.logged_in("alice")
    sid = site.ids["blocking"]
    page = client.get(f"/granskning/{sid}").text
    # A reason is one key away (a preset), or written out.
    assert '<textarea id="override_reason" name="override_reason"' in page
    assert re.search(r'<input type="radio" name="override_preset" id="preset-1" value="1">', page)
    before = snapshot(site.engine)
    refused = client.post(f"/granskning/{sid}/godkann", data={"csrf": csrf_of(client)})
    assert refused.status_code == 422
    assert "blockerande fynd" in refused.text
    after = snapshot(site.engine)
    assert {k: v for k, v in after.items() if k != "submissions"} == {
        k: v for k, v in before.items() if k != "submissions"
    }
    assert _submission(site, sid).status == SubmissionStatus.QUEUED
    done = client.post(
        f"/granskning/{sid}/godkann",
        data={"csrf": csrf_of(client), "override_reason": "Underskriften finns på sida 2."},
    )
    assert done.status_code == 303, done.text
    # A missing signature is under four eyes: it waits for a second reviewer
    # (tests/review/test_four_eyes_pages.py follows it through).
    waiting = _submission(site, sid)
    assert (waiting.status, waiting.applied_at) == (SubmissionStatus.QUEUED, None)
    assert "Underskriften finns på sida 2." in client.get(f"/granskning/{sid}").text


def test_a_preset_override_reason_is_one_key(site: Site) -> None:
    client = site.logged_in("alice")
    sid = site.ids["blocking"]
    # A number outside the presets is no reason: refused as if none was given.
    refused = client.post(f"/granskning/{sid}/godkann",
                          data={"csrf": csrf_of(client), "override_preset": "9"})
    assert refused.status_code == 422
    done = client.post(f"/granskning/{sid}/godkann",
                       data={"csrf": csrf_of(client), "override_preset": "2"})
    assert done.status_code == 303, done.text
    assert OVERRIDE_PRESETS[1] in client.get(f"/granskning/{sid}").text


def test_reject_records_the_reason_and_mails_the_sender(site: Site) -> None:
    client = site.logged_in("alice")
    sid = site.ids["disconnect"]
    page = client.get(f"/granskning/{sid}").text
    assert 'name="reason_code"' in page
    code = re.findall(r'<option value="([a-z_]+)"', page.split('id="reason_code"')[1])[0]
    done = client.post(
        f"/granskning/{sid}/avvisa",
        data={
            "csrf": csrf_of(client),
            "reason_code": code,
            "reason_text": "Skicka en ny skanning.",
        },
    )
    assert done.status_code == 303, done.text
    rejected = _submission(site, sid)
    assert rejected.status == SubmissionStatus.REJECTED
    assert rejected.decision_reason and "Skicka en ny skanning." in rejected.decision_reason
    mails = _mails(site, sid)
    assert [m.recipient for m in mails] == [SENDER]


def test_take_next_claims_in_queue_order_and_neighbour_links_follow_the_filter(
    site: Site,
) -> None:
    client = site.logged_in("alice")
    csrf = csrf_of(client)
    first = client.post("/granskning/nasta", data={"csrf": csrf})
    assert first.status_code == 303
    opened = int(first.headers["location"].split("?")[0].rsplit("/", 1)[1])
    with site.session() as s:
        oldest_open = s.exec(
            select(Submission.id)
            .where(col(Submission.status).in_(("queued", "unreadable")))
            .order_by(col(Submission.created_at), col(Submission.id))
        ).first()
    assert opened == oldest_open
    assert _submission(site, opened).claimed_by == site.reviewer("alice").id

    # In the dual-only queue, oldest first, the two dual submissions link to each other.
    dual, blocking = site.ids["dual"], site.ids["blocking"]
    page = client.get(f"/granskning/{dual}?kind=dual").text
    assert f'id="next-link" rel="next" href="/granskning/{blocking}?kind=dual"' in page
    assert 'id="prev-link"' not in page
    back = client.get(f"/granskning/{blocking}?kind=dual").text
    assert f'id="prev-link" rel="prev" href="/granskning/{dual}?kind=dual"' in back
    assert 'id="next-link"' not in back


def test_an_unknown_submission_is_404(site: Site) -> None:
    client = site.logged_in("alice")
    missing = client.get("/granskning/999999")
    assert missing.status_code == 404
    assert "finns inte" in missing.text
    refused = client.post("/granskning/999999/godkann", data={"csrf": csrf_of(client)})
    assert refused.status_code == 404


def test_an_unreadable_submission_shows_why_and_can_only_be_rejected(site: Site) -> None:
    client = site.logged_in("alice")
    sid = site.ids["unreadable"]
    page = client.get(f"/granskning/{sid}").text
    assert "Kunde inte läsas: Hörnmarkeringarna syns inte." in page
    assert 'id="approve-form"' not in page and 'id="reject-form"' in page
    done = client.post(
        f"/granskning/{sid}/avvisa",
        data={"csrf": csrf_of(client), "reason_code": "unreadable", "reason_text": ""},
    )
    assert done.status_code == 303, done.text
    assert _submission(site, sid).status == SubmissionStatus.REJECTED


def test_a_plan_with_problems_is_shown_in_red_and_cannot_be_approved(site: Site) -> None:
    values = dual_values()
    # The accounting firm already connected, named as an audit firm: the registry rules refuse it.
    already = values | {
        "new_firm_name": values["current_firm_name"],
        "new_firm_orgnr": values["current_firm_orgnr"],
        "new_firm_role": "audit",
    }
    with site.session() as s:
        sid = add_submission(s, site.images, "dual", already, images=False)
    client = site.logged_in("alice")
    page = client.get(f"/granskning/{sid}").text
    problems = re.findall(r'<p class="error problem">([^<]+)</p>', page)
    assert len(problems) == 1 and values["current_firm_orgnr"] in problems[0]
    before = snapshot(site.engine)
    refused = client.post(f"/granskning/{sid}/godkann", data={"csrf": csrf_of(client)})
    assert refused.status_code == 422
    assert "kan inte godkännas" in refused.text
    after = snapshot(site.engine)
    for table in ("connections", "payers", "audit", "outbox"):
        assert after[table] == before[table], table
    assert _submission(site, sid).status == SubmissionStatus.QUEUED
