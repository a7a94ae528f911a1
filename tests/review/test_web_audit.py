"""The audit log page: sentences with links, the details toggle, filters, escaping, width.

The events come from real decisions (`review.claim`, `correct_field`,
`approve`, `reject`) on the pages' test site, plus a few recorded directly
for kinds whose pages belong elsewhere (the outbox).
"""

from __future__ import annotations

import html
import re
from pathlib import Path

from registry import record_event
from review import approve, claim, correct_field, reject
from review.deadlines import local_day
from tests.review.test_pages import (
    NOW,
    Site,
    dual_values,
    site_fixture,  # noqa: F401 - the `site` fixture
)
from workqueue import Reviewer

REVIEW = Path(__file__).resolve().parents[2] / "review"
FORM_URL = "http://testserver/"


def _decide(site: Site) -> tuple[int, int]:
    """Alice corrects and approves the dual submission, and rejects the disconnect one."""
    dual, other = site.ids["dual"], site.ids["disconnect"]
    with site.session() as s:
        alice = s.get(Reviewer, site.reviewer("alice").id)
        assert alice is not None
        claim(s, dual, alice, now=NOW)
        correct_field(s, dual, alice, "client_subscription",
                      dual_values()["client_subscription"] + " ", now=NOW)  # fmt: skip
        correct_field(s, dual, alice, "new_firm_role", "accounting", now=NOW)
        correct_field(s, dual, alice, "new_firm_role", "audit", now=NOW)
        approve(s, dual, alice, now=NOW, form_url=FORM_URL, sender_domain="testserver")
        claim(s, other, alice, now=NOW)
        reject(s, other, alice, reason_code="signature_missing", reason_text=None, now=NOW,
               form_url=FORM_URL, sender_domain="testserver")  # fmt: skip
        s.commit()
    return dual, other


def _events(page: str) -> list[str]:
    """Each event's `<li>` of the log."""
    return re.findall(r'<li class="audit-event".*?</li>', page, re.S)


def _sentence(item: str) -> str:
    [inner] = re.findall(r'<p class="sentence">(.*?)</p>', item, re.S)
    return html.unescape(re.sub(r"<[^>]+>", "", inner))


def test_the_log_reads_as_sentences_that_link_to_what_they_concern(site: Site) -> None:
    dual, other = _decide(site)
    values = dual_values()
    page = site.logged_in("bob").get("/granskning/logg")
    assert page.status_code == 200
    items = _events(page.text)
    sentences = [_sentence(i) for i in items]
    approved = next(s for s in sentences if s.startswith(f"Alice godkände ärende {dual}:"))
    assert f"{values['new_firm_name']} (revisionsbyrå) kopplas till" in approved
    assert f"Alice avvisade ärende {other}: En underskrift saknas." in sentences
    assert (
        f"Alice kopplade {values['new_firm_name']} till {values['client_name']} som "
        # The linkage starts on the Swedish date, which is UTC's next day late at night.
        f"revisionsbyrå från {local_day(NOW).isoformat()} (ärende {dual})."
    ) in sentences
    assert (
        f"Alice rättade den nya byråns typ av byrå i ärende {dual} från ”Redovisningsbyrå” till "
        "”Revisionsbyrå”."
    ) in sentences
    for raw in ("True", "False", "None", "submission.", "submission:", "{", "_"):
        assert all(raw not in s for s in sentences), raw
    # What it concerns is a link: the submission, both companies' registry pages.
    [approved_item] = [i for i in items if f"Alice godkände ärende {dual}:" in _sentence(i)]
    assert f'<a href="/granskning/{dual}" class="keep">ärende {dual}</a>' in approved_item
    assert f'href="/granskning/register/{values["client_orgnr"]}"' in page.text
    assert f'href="/granskning/register/{values["new_firm_orgnr"]}"' in page.text
    # A reviewer's name links to the admin's reviewer page, for admins only.
    assert 'href="/granskning/granskare"' not in page.text.split("<main")[1]
    admin = site.logged_in("admin").get("/granskning/logg").text
    assert '<a href="/granskning/granskare" class="keep">Alice</a>' in admin


def test_the_code_and_the_stored_values_are_behind_the_details_toggle(site: Site) -> None:
    dual, _ = _decide(site)
    page = site.logged_in("alice").get("/granskning/logg").text
    [item] = [i for i in _events(page) if f"godkände ärende {dual}:" in _sentence(i)]
    details = item.split('<details class="audit-details">')[1].split("</details>")[0]
    assert "<summary>Detaljer" in details and "Ärende godkänt" in details
    assert "<code>submission.approved</code>" in details
    assert f"<code>submission:{dual}</code>" in details
    assert "&#34;already_done&#34;: false" in details  # the JSON as stored, pretty
    assert "<pre>" in details and "\n  " in details
    assert "submission.approved" not in item.split("<details")[0].split('">', 1)[1]


def test_filters_by_submission_and_by_kind_with_swedish_groups(site: Site) -> None:
    dual, other = _decide(site)
    client = site.logged_in("alice")
    page = client.get("/granskning/logg").text
    select = page.split('name="action"')[1].split("</select>")[0]
    assert '<optgroup label="Ärenden">' in select and '<optgroup label="Registret">' in select
    assert '<option value="submission.approved">Ärende godkänt</option>' in select
    assert '<option value="connection.created">Koppling skapad</option>' in select
    assert ">submission." not in select and ">connection." not in select

    # One submission: its own events and the registry changes its approval made, no other's.
    mine = client.get("/granskning/logg", params={"arende": dual}).text
    actions = re.findall(r'class="audit-event" data-action="([^"]*)"', mine)
    assert set(actions) == {"submission.field_corrected", "submission.approved",
                            "connection.created"}  # fmt: skip
    assert all(f"ärende {other}" not in _sentence(i) for i in _events(mine))
    assert f'<a href="/granskning/{dual}">ärende {dual}</a>, dess blankett' in mine
    only = client.get("/granskning/logg", params={"action": "submission.rejected"}).text
    assert [_sentence(i) for i in _events(only)] == [
        f"Alice avvisade ärende {other}: En underskrift saknas."
    ]
    assert client.get("/granskning/logg", params={"arende": "x"}).status_code in (400, 422)
    assert client.get("/granskning/logg", params={"arende": 2**40}).status_code in (400, 422)


def test_names_and_values_are_escaped(site: Site) -> None:
    with site.session() as s:
        eve = s.get(Reviewer, site.reviewer("bob").id)
        assert eve is not None
        eve.name = 'Eva <b>"&</b> Ek'
        s.add(eve)
        record_event(s, actor=eve.email, action="submission.rejected", subject="submission:1",
                     after={"reason": "<script>alert(1)</script> & co"})  # fmt: skip
        s.commit()
    page = site.logged_in("admin").get("/granskning/logg").text
    assert "<script>alert" not in page and "<b>" not in page
    assert "Eva &lt;b&gt;&#34;&amp;&lt;/b&gt; Ek" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in page


def test_an_outbox_event_links_to_the_mail(site: Site) -> None:
    with site.session() as s:
        record_event(s, actor=site.emails["alice"], action="outbox.resent",
                     subject="outbound_mail:3", before={"state": "failed"},
                     after={"state": "pending"})  # fmt: skip
        record_event(s, actor="mailbox", action="something.new", subject="submission:1",
                     after={"flag": True, "none": None})  # fmt: skip
        s.commit()
    page = site.logged_in("alice").get("/granskning/logg").text
    sentences = [_sentence(i) for i in _events(page)]
    assert "Alice skickade mejl U-3 igen." in sentences
    assert '<a href="/granskning/utkorg/3" class="keep">mejl U-3</a>' in page
    # A kind added later still reads, and is filtered under a label, not its code.
    assert "Posthanteringen gjorde en ändring som gäller ärende 1." in sentences
    assert '<option value="something.new">Annan händelse</option>' in page


def test_nothing_on_the_page_has_a_fixed_width_over_1440_px() -> None:
    template = (REVIEW / "templates" / "audit.html").read_text(encoding="utf-8")
    assert "style=" not in template and not re.search(r"\bwidth=", template)
    assert "<table" not in template  # a table of values was what made it 1,655 px wide
    css = (REVIEW / "static" / "review.css").read_text(encoding="utf-8")
    widths = re.findall(
        r"(?:^|[;{\s])(?:min-)?(?:width|flex-basis|grid-template-columns)\s*:\s*([^;}]*)", css
    )
    for value in widths:
        for number, unit in re.findall(r"([\d.]+)(px|rem|em|vw)\b", value):
            px = float(number) * {"px": 1, "rem": 16, "em": 16, "vw": 0}[unit]
            assert px <= 1440, value
    # The log wraps long values instead of widening the page.
    rules = {k.strip(): v for k, v in re.findall(r"([^{}]+)\{([^}]*)\}", css)}
    assert "overflow-wrap: anywhere" in rules[".audit-event .sentence"]
    assert "pre-wrap" in rules[".audit-details pre"]
