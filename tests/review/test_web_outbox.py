"""The outbox pages through the test client: list, filter, paging, preview, resending.

The site of `test_pages` (real reviewers, real argon2 logins, a real
submission queue); the outbox rows are real rows, some queued by the real
`queue_mail` from the real templates.
"""

from __future__ import annotations

import datetime as dt
import html
import itertools
import re
from typing import Any

import pytest
from sqlmodel import col, select

from registry import AuditEvent
from tests.review.test_pages import (
    MAILBOX,
    NOW,
    Site,
    csrf_of,
    site_fixture,  # noqa: F401 - the `site` fixture
)
from workqueue import (
    RESEND_ACTION,
    SEND_ANYWAY_ACTION,
    OutboundMail,
    OutboxState,
    mail_reference,
    queue_mail,
)

_n = itertools.count(1)
SMTP_550 = "recipient refused: 550 5.1.1 Mailbox unavailable"
SCRIPT = "<script>alert(1)</script>"


def add_mail(site: Site, **changes: Any) -> OutboundMail:
    n = next(_n)
    values: dict[str, Any] = {
        "created_at": NOW - dt.timedelta(minutes=n),
        "template": "receipt",
        "automatic": True,
        "recipient": f"kund{n}@exempel.se",
        "message_id": f"<utkorg-{n}@byra.example.se>",
        "subject": f"Vi har tagit emot ditt mejl (M-{n})",
        "body": f"Hej!\n\nTack för ditt mejl {n}.\n",
        "state": OutboxState.PENDING,
    } | changes
    with site.session() as session:
        mail = OutboundMail(**values)
        session.add(mail)
        session.commit()
        return mail


def stored(site: Site, mail_id: int | None) -> OutboundMail:
    with site.session() as session:
        mail = session.get(OutboundMail, mail_id)
        assert mail is not None
        return mail


def outbox_events(site: Site) -> list[AuditEvent]:
    with site.session() as session:
        return list(
            session.exec(select(AuditEvent).where(col(AuditEvent.action).like("outbox.%"))).all()
        )


def ids_listed(text: str) -> list[int]:
    return [int(i) for i in re.findall(r'<a href="/granskning/utkorg/(\d+)">U-', text)]


def test_the_pages_need_a_login(site: Site) -> None:
    mail = add_mail(site, state=OutboxState.FAILED, last_error=SMTP_550)
    anonymous = site.client()
    for path in ("/granskning/utkorg", f"/granskning/utkorg/{mail.id}"):
        response = anonymous.get(path)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/granskning/logga-in")
        assert mail.recipient not in response.text
    response = anonymous.post(f"/granskning/utkorg/{mail.id}/skicka-igen", data={"csrf": "x"})
    assert response.status_code == 303
    assert stored(site, mail.id).state is OutboxState.FAILED


def test_the_list_shows_every_state_in_swedish_newest_first(site: Site) -> None:
    submission = site.ids["dual"]
    sent = add_mail(site, state=OutboxState.SENT, attempts=1, sent_at=NOW, template="approved_firm",
                    automatic=False, submission_id=submission)  # fmt: skip
    failed = add_mail(site, state=OutboxState.FAILED, attempts=5, last_error=SMTP_550)
    held = add_mail(
        site,
        state=OutboxState.SUPPRESSED,
        last_error="rate limit: an automatic mail to this address was queued at 2026-01-01 09:00",
        subject=f"Ämne {SCRIPT}",
    )
    waiting = add_mail(site, template="rejected", automatic=False)
    page = site.logged_in("alice").get("/granskning/utkorg")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    text = page.text
    listed = ids_listed(text)
    mine = [m.id for m in (sent, failed, held, waiting)]
    assert [i for i in listed if i in mine] == mine  # newest first: each added a minute older
    for words in ("Skickat", "Misslyckades", "Spärrat", "Väntar", "Mottagningskvitto",
                  "Beslut: godkänd, till byrån", "Beslut: avslag"):  # fmt: skip
        assert words in text, words
    assert "E-postservern tog inte emot mottagaradressen (kod 550)." in text
    assert "adressen hade redan fått ett automatiskt svar" in text
    assert "Mailbox unavailable" not in text and "rate limit" not in text  # English stays out
    assert SCRIPT not in text and html.escape(SCRIPT, quote=False) in text
    assert f'<a href="/granskning/{submission}">#{submission}</a>' in text
    assert f'action="/granskning/utkorg/{failed.id}/skicka-igen"' in text
    # "Send anyway" is a deliberate act, taken on the mail's own page.
    assert f'action="/granskning/utkorg/{held.id}/skicka-igen"' not in text
    assert f'action="/granskning/utkorg/{sent.id}/skicka-igen"' not in text


def test_the_filter_shows_one_state_with_the_counts(site: Site) -> None:
    failed = [add_mail(site, state=OutboxState.FAILED, attempts=5) for _ in range(2)]
    sent = add_mail(site, state=OutboxState.SENT, sent_at=NOW, attempts=1)
    client = site.logged_in("alice")
    page = client.get("/granskning/utkorg", params={"visa": "misslyckade"})
    assert page.status_code == 200
    assert sorted(ids_listed(page.text)) == sorted(m.id or 0 for m in failed)
    assert sent.id not in ids_listed(page.text)
    assert re.search(r"Misslyckade <strong>2</strong>", page.text)
    assert 'aria-current="page">Misslyckade' in page.text
    # An unknown view is the whole outbox, not an error.
    every = client.get("/granskning/utkorg", params={"visa": "<x>"})
    assert every.status_code == 200 and sent.id in ids_listed(every.text)


def test_pages_follow_each_other_without_gaps_or_repeats(site: Site) -> None:
    same_time = NOW - dt.timedelta(days=1)  # ties broken by id
    made = [add_mail(site, created_at=same_time, state=OutboxState.SENT) for _ in range(57)]
    client = site.logged_in("alice")
    first = client.get("/granskning/utkorg", params={"visa": "skickade"})
    seen = ids_listed(first.text)
    assert len(seen) == 50
    found = re.search(r'href="([^"]+)" rel="next"', first.text)
    assert found and "Nästa sida" in first.text
    second = client.get(html.unescape(found.group(1)))
    assert second.status_code == 200 and 'rel="next"' not in second.text
    seen += ids_listed(second.text)
    assert seen == sorted((m.id or 0 for m in made), reverse=True)
    for bad in ("x", "0_t1", "0_i1_t1", "0_t1_i99999999999", "1_t1_i1", f"0_t{10**20}_i1"):
        response = client.get("/granskning/utkorg", params={"after": bad})
        assert response.status_code == 400, bad
        assert "Länken till nästa sida är felaktig" in response.text


def test_the_preview_shows_the_mail_as_it_is_sent(site: Site) -> None:
    with site.session() as session:
        mail = queue_mail(
            session, to="Anna.Berg@Byran.SE", template="no_attachment",
            context={"reference": "M-7", "received_at": NOW, "mailbox": MAILBOX,
                     "form_url": "https://kopplingar.example.se/blanketter"},
            sender_domain="byra.example.se", now=NOW, in_reply_to="<fråga.1@kund.example.se>",
        )  # fmt: skip
        assert mail is not None
        session.commit()
    assert mail.in_reply_to is None  # not ASCII: dropped when queued, never sent
    odd = add_mail(site, body="Rad ett\n<b>fet</b> & mer\n", in_reply_to="<orig.9@kund.se>")
    client = site.logged_in("alice")
    page = client.get(f"/granskning/utkorg/{mail.id}")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    text = page.text
    assert "Mejl " + mail_reference(mail.id or 0) in text
    assert MAILBOX in text and "anna.berg@byran.se" in text
    assert "Ingen blankett bifogad (M-7)" in text and html.escape(mail.message_id) in text
    assert "Svar: ingen blankett bifogad" in text
    assert "https://kopplingar.example.se/blanketter" in text
    assert "Inga bilagor" in text and "Auto-Submitted: auto-generated" in text
    other = client.get(f"/granskning/utkorg/{odd.id}").text
    assert "Rad ett\n&lt;b&gt;fet&lt;/b&gt; &amp; mer" in other
    assert "&lt;orig.9@kund.se&gt;" in other  # In-Reply-To
    assert client.get("/granskning/utkorg/99999999").status_code == 404
    assert client.get(f"/granskning/utkorg/{2**40}").status_code in (400, 422)


def test_a_failed_mail_is_resent_with_csrf_and_the_log_says_who(site: Site) -> None:
    mail = add_mail(site, state=OutboxState.FAILED, attempts=5, last_error=SMTP_550)
    client = site.logged_in("alice")
    path = f"/granskning/utkorg/{mail.id}/skicka-igen"
    assert client.post(path, data={"csrf": "forged"}).status_code == 403
    assert stored(site, mail.id).state is OutboxState.FAILED
    response = client.post(
        path, data={"csrf": csrf_of(client), "fran": "lista", "visa": "misslyckade"}
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"/granskning/utkorg?visa=misslyckade&klart={mail.id}"
    back = stored(site, mail.id)
    assert (back.state, back.attempts, back.sent_at, back.last_error) == (
        OutboxState.PENDING,
        0,
        None,
        None,
    )
    [event] = outbox_events(site)
    assert event.action == RESEND_ACTION and event.actor == site.emails["alice"]
    assert event.subject == f"outbound_mail:{mail.id}"
    landing = client.get(response.headers["location"])
    assert f"Mejl {mail_reference(mail.id or 0)} ligger i utkorgen igen" in landing.text
    preview = client.get(f"/granskning/utkorg/{mail.id}").text
    assert "Skickades igen av alice@backoffice.example" in preview
    assert "Före det: 5 försök" in preview
    log = client.get("/granskning/logg", params={"action": RESEND_ACTION})
    assert mail.recipient in log.text and mail_reference(mail.id or 0) in log.text


def test_a_sent_mail_cannot_be_resent_and_the_page_says_why(site: Site) -> None:
    mail = add_mail(site, state=OutboxState.SENT, attempts=1, sent_at=NOW)
    client = site.logged_in("alice")
    page = client.get(f"/granskning/utkorg/{mail.id}").text
    assert "skicka-igen" not in page
    assert "mottagaren har det redan" in page
    response = client.post(
        f"/granskning/utkorg/{mail.id}/skicka-igen", data={"csrf": csrf_of(client)}
    )
    assert response.status_code == 409
    assert "redan skickat" in response.text and "dubblett" in response.text
    assert stored(site, mail.id).state is OutboxState.SENT
    assert outbox_events(site) == []
    missing = client.post("/granskning/utkorg/99999999/skicka-igen", data={"csrf": csrf_of(client)})
    assert missing.status_code == 404


def test_a_suppressed_mail_is_sent_anyway_from_its_page(site: Site) -> None:
    mail = add_mail(
        site,
        state=OutboxState.SUPPRESSED,
        last_error="global rate limit: 30 automatic mails in the last hour, the cap is 30",
    )
    client = site.logged_in("bob")
    page = client.get(f"/granskning/utkorg/{mail.id}").text
    assert "Skicka ändå" in page and "taket för automatiska svar" in page
    response = client.post(
        f"/granskning/utkorg/{mail.id}/skicka-igen", data={"csrf": csrf_of(client)}
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"/granskning/utkorg/{mail.id}?klart=1"
    back = stored(site, mail.id)
    assert back.state is OutboxState.PENDING and back.automatic is False
    [event] = outbox_events(site)
    assert event.action == SEND_ANYWAY_ACTION and event.actor == site.emails["bob"]
    after = client.get(response.headers["location"]).text
    assert "ligger i utkorgen igen" in after and "Skickades ändå av bob@backoffice.example" in after
    again = client.post(f"/granskning/utkorg/{mail.id}/skicka-igen", data={"csrf": csrf_of(client)})
    assert again.status_code == 409 and "väntar redan" in again.text


@pytest.mark.parametrize("path", ["/granskning/utkorg/0", "/granskning/utkorg/-1"])
def test_ids_out_of_range_are_refused_before_any_query(site: Site, path: str) -> None:
    assert site.logged_in("alice").get(path).status_code in (400, 422)
