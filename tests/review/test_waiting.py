"""Asking the customer for what is missing: the request, its mail, reminders, closing, pages."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from review import (
    DecisionError,
    ReminderReport,
    claim,
    end_waiting,
    request_info,
    send_reminders,
)
from tests.review.queue_cases import (
    DOMAIN,
    FORM_URL,
    NOW,
    SENDER,
    dual_case,
    events,
    mails,
    reload,
    submit,
)
from tests.review.test_pages import (  # noqa: F401 - the `site` fixture
    Site,
    csrf_of,
    site_fixture,
    snapshot,
)
from workqueue import (
    ImageStore,
    InboundMessage,
    OutboundMail,
    Reviewer,
    SubmissionStatus,
)
from workqueue.outbox import build_message

DAYS = 5


def _ask(session: Session, sid: int, reviewer: Reviewer, *, code: str = "signature",
         party: str | None = "new_firm", note: str | None = "Längst ner till höger.",
         now: dt.datetime = NOW) -> OutboundMail:
    return request_info(session, sid, reviewer, reason_code=code, party=party, note=note,
                        now=now, sender_domain=DOMAIN, form_url=FORM_URL, days=DAYS)


def _remind(engine: Engine, at: dt.datetime) -> ReminderReport:
    return send_reminders(engine, now=lambda: at, days=DAYS, sender_domain=DOMAIN,
                          form_url=FORM_URL)


def _waiting_case(session: Session, store: ImageStore, alice: Reviewer) -> int:
    sid = submit(session, store, "dual", dual_case().values())
    claim(session, sid, alice, now=NOW)
    _ask(session, sid, alice)
    session.commit()
    return sid


def test_asking_sends_a_threaded_mail_and_the_case_waits(
    session: Session, store: ImageStore, alice: Reviewer, bob: Reviewer
) -> None:
    sid = submit(session, store, "dual", dual_case().values())
    claim(session, sid, alice, now=NOW)
    mail = _ask(session, sid, alice)
    session.commit()

    case = reload(session, sid)
    assert case.status is SubmissionStatus.AWAITING_CUSTOMER
    assert (case.claimed_by, case.claimed_until) == (None, None)
    assert (case.info_requested_at, case.info_requested_by) == (NOW, alice.id)
    assert case.info_reason_code == "signature" and case.info_party == "new_firm"
    assert case.info_reason == (
        "Blanketten saknar underskrift av systemadministratör på byrån som ska kopplas."
    )
    assert (case.info_reminders, case.info_reminded_at) == (0, None)

    inbound = session.get(InboundMessage, case.inbound_message_id)
    assert inbound is not None and inbound.message_id is not None
    assert [m.id for m in mails(session, sid)] == [mail.id]
    assert (mail.recipient, mail.template, mail.automatic) == (SENDER, "info_request", False)
    assert mail.subject == f"Komplettering behövs: ärende {sid}, blankett 7K3Q-X9P2-MD"
    assert mail.message_id.endswith(f"@{DOMAIN}>")
    message = build_message(mail, sender="kopplingar@example.se")
    assert message["In-Reply-To"] == f"<{inbound.message_id}>" == message["References"]
    body = mail.body
    assert "Det här saknas:\nBlanketten saknar underskrift av systemadministratör på byrån som "\
        "ska kopplas.\n" in body
    assert "Handläggarens kommentar:\nLängst ner till höger.\n" in body
    assert f"Svara på det här mejlet, så hamnar ditt svar direkt i ärende {sid}." in body
    assert "senast den 24 mars 2026" in body  # two periods of five days

    [event] = events(session, "submission.info_requested")
    assert (event.actor, event.subject) == (alice.email, f"submission:{sid}")
    assert event.before == {"status": "queued"}
    assert event.after is not None and event.after["reason_code"] == "signature"
    assert event.after["party"] == "new_firm" and event.after["to"] == SENDER
    # A waiting case is nobody's to claim, and cannot be asked about twice.
    with pytest.raises(DecisionError):
        claim(session, sid, bob, now=NOW)
    session.rollback()
    with pytest.raises(DecisionError):
        _ask(session, sid, alice)
    session.rollback()
    assert len(mails(session, sid)) == 1


def test_asking_is_refused_without_an_address_a_reason_or_the_claim(
    session: Session, store: ImageStore, alice: Reviewer, bob: Reviewer
) -> None:
    from_file = submit(session, store, "dual", dual_case().values(), by_mail=False)
    claim(session, from_file, alice, now=NOW)
    with pytest.raises(DecisionError, match="kom inte med e-post"):
        _ask(session, from_file, alice)
    session.rollback()
    sid = submit(session, store, "dual", dual_case().values())
    with pytest.raises(DecisionError, match="Ta ärendet först"):
        _ask(session, sid, alice)
    session.rollback()
    claim(session, sid, alice, now=NOW)
    session.commit()
    for code, party, note, why in (
        ("nonsense", None, None, "Välj vad som saknas"),
        ("other", None, "  ", "Skriv vad som saknas"),
        ("value_unclear", None, None, "Skriv vilken uppgift"),
        ("signature", "firm", None, "Välj vems underskrift"),  # a disconnect form's party
        ("other", None, "x" * 801, "högst 800 tecken"),
    ):
        with pytest.raises(DecisionError, match=why):
            _ask(session, sid, alice, code=code, party=party, note=note)
        session.rollback()
    with pytest.raises(DecisionError):
        _ask(session, sid, bob)
    session.rollback()
    assert reload(session, sid).status is SubmissionStatus.QUEUED
    assert mails(session, sid) == [] and events(session, "submission.info_requested") == []


def test_an_unreadable_case_can_be_asked_for_a_readable_page(
    session: Session, store: ImageStore, alice: Reviewer
) -> None:
    sid = submit(session, store, None, {}, unreadable="Hörnmarkeringarna syns inte.")
    claim(session, sid, alice, now=NOW)
    mail = _ask(session, sid, alice, code="page_unreadable", party=None, note=None)
    session.commit()
    assert reload(session, sid).status is SubmissionStatus.AWAITING_CUSTOMER
    assert mail.subject == f"Komplettering behövs: ärende {sid}"
    assert "En sida av blanketten går inte att läsa." in mail.body
    assert "Skanna sidan igen i 200–300 dpi" in mail.body
    assert "Handläggarens kommentar" not in mail.body
    # Back to the queue without a reply: as it was, unreadable.
    end_waiting(session, sid, alice, now=NOW)
    session.commit()
    assert reload(session, sid).status is SubmissionStatus.UNREADABLE
    [ended] = events(session, "submission.info_withdrawn")
    assert ended.actor == alice.email and ended.after == {"status": "unreadable"}
    with pytest.raises(DecisionError, match="väntar inte på kunden"):
        end_waiting(session, sid, alice, now=NOW)


def test_one_reminder_after_the_period_then_closing_after_the_next_each_once(
    engine: Engine, session: Session, store: ImageStore, alice: Reviewer
) -> None:
    sid = _waiting_case(session, store, alice)
    [request] = mails(session, sid)
    day = dt.timedelta(days=1)

    assert _remind(engine, NOW + 5 * day - dt.timedelta(minutes=1)) == ReminderReport(0, 0)
    assert _remind(engine, NOW + 5 * day) == ReminderReport(reminded=1, closed=0)
    assert _remind(engine, NOW + 5 * day) == ReminderReport(0, 0)
    assert _remind(engine, NOW + 9 * day) == ReminderReport(0, 0)
    case = reload(session, sid)
    assert case.status is SubmissionStatus.AWAITING_CUSTOMER
    assert (case.info_reminders, case.info_reminded_at) == (1, NOW + 5 * day)
    [_, reminder] = mails(session, sid)
    assert (reminder.template, reminder.recipient, reminder.automatic) == (
        "info_reminder", SENDER, False)
    assert reminder.in_reply_to == request.message_id  # threaded under our request
    assert reminder.subject == (
        f"Påminnelse: komplettering behövs för ärende {sid}, blankett 7K3Q-X9P2-MD"
    )
    assert "Den 14 mars 2026 bad vi dig om en komplettering" in reminder.body
    assert "Längst ner till höger." in reminder.body
    assert "senast den 24 mars 2026 avslutar vi ärendet" in reminder.body
    [reminded] = events(session, "submission.info_reminded")
    assert reminded.actor == "reminders" and reminded.subject == f"submission:{sid}"

    assert _remind(engine, NOW + 10 * day) == ReminderReport(reminded=0, closed=1)
    assert _remind(engine, NOW + 30 * day) == ReminderReport(0, 0)
    case = reload(session, sid)
    assert case.status is SubmissionStatus.REJECTED
    assert case.decision_reason == "Ingen komplettering inkom."
    assert (case.decided_at, case.decided_by) == (NOW + 10 * day, None)
    [_, _, closing] = mails(session, sid)
    assert closing.template == "info_closed" and closing.subject == (
        f"Ärende {sid} avslutat: ingen komplettering inkom"
    )
    assert "och den 19 mars 2026 påminde vi dig" in closing.body
    [closed] = events(session, "submission.rejected")
    assert closed.actor == "reminders" and closed.after is not None
    assert closed.after["reason_code"] == "no_reply"


def test_reminders_run_at_once_send_each_mail_exactly_once(
    engine: Engine, session: Session, store: ImageStore, alice: Reviewer
) -> None:
    sids = [_waiting_case(session, store, alice) for _ in range(3)]
    at = NOW + dt.timedelta(days=DAYS)
    start = threading.Barrier(4)
    reports: list[ReminderReport] = []
    failures: list[BaseException] = []

    def run() -> None:
        try:
            start.wait()
            reports.append(_remind(engine, at))
        except BaseException as exc:  # reported below, in the test's thread
            failures.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert sum(r.reminded for r in reports) == 3
    for sid in sids:
        assert [m.template for m in mails(session, sid)] == ["info_request", "info_reminder"]
    assert len(events(session, "submission.info_reminded")) == 3


def test_a_request_from_the_page_needs_the_token_and_then_waits(site: Site) -> None:
    sid = site.ids["dual"]
    client = site.logged_in("alice")
    page = client.get(f"/granskning/{sid}/komplettering")
    assert page.status_code == 200
    html = page.text
    assert 'id="waiting-form"' in html and "Begär komplettering av kunden" in html
    assert "Systemadministratör på byrån som ska kopplas" in html  # the parties by their titles
    assert "kund@exempel.se" in html or "Mejlet går till" in html

    form = {"info_reason": "signature", "info_party": "client", "info_note": ""}
    refused = client.post(f"/granskning/{sid}/komplettering", data=form | {"csrf": "fel"})
    assert refused.status_code == 403
    with site.session() as s:
        assert s.exec(select(OutboundMail).where(OutboundMail.submission_id == sid)).all() == []

    csrf = csrf_of(client)
    empty = client.post(f"/granskning/{sid}/komplettering",
                        data={"csrf": csrf, "info_reason": "other", "info_note": ""})
    assert empty.status_code == 422 and "Skriv vad som saknas." in empty.text

    done = client.post(f"/granskning/{sid}/komplettering", data=form | {"csrf": csrf})
    assert done.status_code == 303 and done.headers["location"] == f"/granskning/{sid}"
    panel = client.get(f"/granskning/{sid}/komplettering").text
    assert 'id="waiting-title"' in panel and "Alice" in panel
    assert "Blanketten saknar underskrift av klientens firmatecknare" in panel
    assert "En påminnelse skickas" in panel
    assert client.get(f"/granskning/{sid}").status_code == 200  # the detail page still opens
    before = snapshot(site.engine)
    assert client.get(f"/granskning/{sid}/komplettering").status_code == 200
    assert snapshot(site.engine) == before
    anonymous = site.client().get(f"/granskning/{sid}/komplettering")
    assert anonymous.status_code == 303
    assert anonymous.headers["location"].startswith("/granskning/logga-in")
    queue = client.get("/granskning/?status=waiting")
    assert queue.status_code == 200 and f"/granskning/{sid}" in queue.text

    back = client.post(f"/granskning/{sid}/komplettering/avbryt", data={"csrf": csrf})
    assert back.status_code == 303
    with site.session() as s:
        from workqueue import Submission

        case = s.get(Submission, sid)
        assert case is not None and case.status is SubmissionStatus.QUEUED
