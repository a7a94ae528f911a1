"""The client's pages: connected firms, the Konsulter block, editing a consultant, expiry."""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Mapping
from typing import Any

import httpx2
import pytest
from sqlalchemy import event
from sqlmodel import Session, col, select
from starlette.testclient import TestClient

from portal import web_client
from portal.expiry import run_expiry
from portal.web_common import swedish_day
from registry import (
    AuditEvent,
    Connection,
    ConnectionRole,
    GrantEnd,
    PermissionLevel,
    Person,
    Program,
    ProgramGrant,
    session_scope,
)
from registry.grants import GrantChanges, set_grants
from tests.portal.cases import (
    ANNA,
    AUDITOR,
    CECILIA,
    CLIENT,
    CLIENT_SUB,
    COMPANY_NAMES,
    FIA,
    FIRM,
    KARIN,
    NOADMIN,
    OLOF,
    SARA,
    SVEN,
)
from tests.portal.conftest import BASE, PortalSite
from workqueue import queue_mail

PAGE = f"/mina-sidor/foretag/{CLIENT}"
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')
_TAG = re.compile(r'<span class="tag">([^<]*)</span>')


def _person_id(portal: PortalSite, email: str) -> int:
    with Session(portal.engine) as session:
        person = session.exec(select(Person).where(Person.email == email)).one()
        assert person.id is not None
        return person.id


def _edit_path(portal: PortalSite, email: str) -> str:
    return f"{PAGE}/konsulter/{_person_id(portal, email)}"


def _csrf(page: str) -> str:
    found = _CSRF.search(page)
    assert found, "no CSRF field on the page"
    return found.group(1)


def _form(**programs: tuple[str, str]) -> dict[str, str]:
    """Every program with no access, except those given as (level, last day)."""
    data = {}
    for program in Program:
        level, until = programs.get(program.value, ("", ""))
        data[f"niva-{program.value}"] = level
        data[f"till-{program.value}"] = until
    return data


def _save(
    client: TestClient, path: str, data: Mapping[str, str], *, csrf: bool = True
) -> httpx2.Response:
    form = client.get(path)
    assert form.status_code == 200, form.text
    body = dict(data)
    if csrf:
        body["csrf"] = _csrf(form.text)
    return client.post(path, data=body)


def _grants(portal: PortalSite) -> list[ProgramGrant]:
    with Session(portal.engine) as session:
        return list(session.exec(select(ProgramGrant).order_by(col(ProgramGrant.id))).all())


def _row(page: str, person_id: int) -> str:
    """The consultant's row of the Konsulter block."""
    start = page.index(f'id="konsult-{person_id}"')
    return page[start : page.index("</tr>", start)]


def test_the_client_page_shows_the_connected_firms_and_their_consultants(
    portal: PortalSite,
) -> None:
    page = portal.signed_in(SARA).get(PAGE)
    assert page.status_code == 200
    text = page.text
    assert html.escape(COMPANY_NAMES[FIRM]) in text and FIRM in text
    assert "redovisningsbyrå" in text and "1 januari 2024" in text
    assert f"Ja, {CLIENT_SUB}" in text  # the firm pays the client's subscription
    assert f"Abonnemang {CLIENT_SUB} betalas av {html.escape(COMPANY_NAMES[FIRM])}" in text
    assert COMPANY_NAMES[AUDITOR] not in text  # not connected
    konsulter = text[text.index('id="konsulter"') :]
    for email in (ANNA, KARIN, OLOF):
        row = _row(konsulter, _person_id(portal, email))
        assert "Ingen behörighet" in row
        assert f'{PAGE}/konsulter/{_person_id(portal, email)}?byra={FIRM}"' in row
    assert CECILIA not in text


def test_sara_gives_karin_bookkeeping_until_a_date(portal: PortalSite) -> None:
    sara = portal.signed_in(SARA)
    karin = _person_id(portal, KARIN)
    path = _edit_path(portal, KARIN)
    form = sara.get(path)
    assert form.status_code == 200
    assert "Behörigheter för Karin Ek" in form.text
    for label in ("Ingen behörighet", "Läsa", "Läsa och ändra", "Administrera", "Till och med"):
        assert label in form.text
    assert form.text.count('type="radio"') == 5 * 4

    saved = _save(sara, path, _form(bokforing=("write", "2027-03-31")))
    assert saved.status_code == 303
    location = saved.headers["location"]
    assert location == f"{PAGE}?sparat={karin}#konsult-{karin}"
    page = sara.get(location.split("#")[0])
    assert "Behörigheterna för Karin Ek är sparade." in page.text
    assert _TAG.findall(_row(page.text, karin)) == [
        "Bokföring: Läsa och ändra, t.o.m. 31 mars 2027"
    ]

    [grant] = _grants(portal)
    assert (grant.program, grant.level, grant.valid_until) == (
        Program.BOOKKEEPING,
        PermissionLevel.WRITE,
        dt.date(2027, 3, 31),
    )
    assert (grant.granted_by, grant.firm_id) == (SARA, portal.ids[FIRM])
    with Session(portal.engine) as session:
        event = session.exec(select(AuditEvent).where(AuditEvent.action == "grant.given")).one()
    assert (event.actor, event.subject) == (SARA, f"grant:{grant.id}")

    [mail] = [m for m in portal.mails(KARIN) if m.template == "grant_given"]
    assert mail.subject == "Du har fått behörighet hos Nyström Musik AB"
    assert "Sara Nyström på Nyström Musik AB" in mail.body
    assert "- Bokföring: Läsa och ändra, till och med den 31 mars 2027" in mail.body

    # The form shows what is stored; changing it mails again, saving it unchanged does not.
    again = sara.get(path).text
    assert 'name="niva-bokforing" value="write" id="niva-bokforing-3" checked' in again
    assert 'value="2027-03-31"' in again
    changed = _save(sara, path, _form(bokforing=("write", ""), lon=("read", "")))
    assert changed.status_code == 303
    mails = [m for m in portal.mails(KARIN) if m.template == "grant_given"]
    assert len(mails) == 2 and mails[-1].subject.startswith("Dina behörigheter hos")
    assert "- Bokföring: Läsa och ändra, tills vidare\n- Lön: Läsa, tills vidare" in mails[-1].body
    same = _save(sara, path, _form(bokforing=("write", ""), lon=("read", "")))
    assert same.headers["location"].startswith(f"{PAGE}?oandrat={karin}")
    assert "Inget ändrades för Karin Ek." in sara.get(f"{PAGE}?oandrat={karin}").text
    assert len([m for m in portal.mails(KARIN) if m.template == "grant_given"]) == 2
    assert [(g.program, g.end_reason) for g in _grants(portal)] == [
        (Program.BOOKKEEPING, GrantEnd.REVOKED),
        (Program.BOOKKEEPING, None),
        (Program.PAYROLL, None),
    ]

    # Taking everything away tells Karin too.
    assert _save(sara, path, _form()).status_code == 303
    last = [m for m in portal.mails(KARIN) if m.template == "grant_given"][-1]
    assert "Du har inte längre någon behörighet till företagets program" in last.body
    assert "(du hade Bokföring och Lön)" in last.body
    assert [g.end_reason for g in _grants(portal)] == [GrantEnd.REVOKED] * 3


def test_a_consultant_of_a_firm_not_connected_is_not_found(portal: PortalSite) -> None:
    sara = portal.signed_in(SARA)
    path = _edit_path(portal, CECILIA)
    assert sara.get(path).status_code == 404
    csrf = _csrf(sara.get(PAGE).text)
    posted = sara.post(path, data=_form(bokforing=("read", "")) | {"csrf": csrf})
    assert posted.status_code == 404
    assert "Konsulten finns inte" in posted.text
    assert sara.get(f"{PAGE}/konsulter/999999").status_code == 404
    assert _grants(portal) == []


def test_a_company_of_someone_else_is_not_found(portal: PortalSite) -> None:
    sara = portal.signed_in(SARA)
    assert sara.get(f"/mina-sidor/foretag/{NOADMIN}").status_code == 404
    assert sara.get(f"/mina-sidor/foretag/{NOADMIN}/konsulter/1").status_code == 404


def test_the_firmatecknare_may_look_but_not_grant(portal: PortalSite) -> None:
    fia = portal.signed_in(FIA)
    page = fia.get(PAGE)
    assert page.status_code == 200
    assert "Karin Ek" in page.text
    assert "/konsulter/" not in page.text  # no edit links
    path = _edit_path(portal, KARIN)
    assert fia.get(path).status_code == 403
    csrf = _csrf(page.text)  # the sign-out form carries it
    assert fia.post(path, data=_form(bokforing=("admin", "")) | {"csrf": csrf}).status_code == 403
    assert _grants(portal) == []


def test_a_date_in_the_past_or_not_a_date_is_refused_and_the_form_keeps_what_was_typed(
    portal: PortalSite,
) -> None:
    sara = portal.signed_in(SARA)
    path = _edit_path(portal, KARIN)
    refused = _save(
        sara,
        path,
        _form(bokforing=("write", "2026-12-02"), lon=("read", "31/3"), order=("admin", "")),
    )
    assert refused.status_code == 400
    text = html.unescape(refused.text)
    assert "Rätta 2 fel innan du sparar" in text
    assert "Datumet har redan passerat. Välj i dag (3 december 2026) eller senare" in text
    assert "”31/3” är inget datum. Skriv det som ÅÅÅÅ-MM-DD" in text
    assert 'type="date" id="till-bokforing" name="till-bokforing" value="2026-12-02"' in text
    assert 'type="text" id="till-lon" name="till-lon" value="31/3"' in text
    assert 'name="niva-order" value="admin" id="niva-order-4" checked' in text
    assert _grants(portal) == []
    assert [m for m in portal.mails(KARIN) if m.template == "grant_given"] == []

    # Today is the earliest last day there is.
    assert _save(sara, path, _form(bokforing=("write", "2026-12-03"))).status_code == 303


def test_a_last_day_without_a_level_is_refused(portal: PortalSite) -> None:
    sara = portal.signed_in(SARA)
    refused = _save(sara, _edit_path(portal, KARIN), _form(lon=("", "2027-01-31")))
    assert refused.status_code == 400
    assert "Välj en behörighet om du vill ange ett slutdatum" in refused.text


def test_saving_without_the_csrf_code_is_refused(portal: PortalSite) -> None:
    sara = portal.signed_in(SARA)
    refused = _save(sara, _edit_path(portal, KARIN), _form(bokforing=("admin", "")), csrf=False)
    assert refused.status_code == 403
    assert "säkerhetskod" in refused.text
    assert _grants(portal) == []


def test_signed_out_people_are_sent_to_sign_in(portal: PortalSite) -> None:
    answer = portal.client().get(PAGE)
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/mina-sidor/logga-in?next=")


def test_a_just_connected_firm_comes_first(portal: PortalSite) -> None:
    with Session(portal.engine) as session:
        session.add(
            Connection(
                client_id=portal.ids[CLIENT],
                firm_id=portal.ids[AUDITOR],
                role=ConnectionRole.AUDIT,
                since=dt.date(2026, 12, 3),
            )
        )
        session.commit()
    sara = portal.signed_in(SARA)
    plain = sara.get(PAGE).text
    assert plain.index(f'id="byra-{FIRM}"') < plain.index(f'id="byra-{AUDITOR}"')
    assert "är nu kopplad till företaget" not in plain
    page = sara.get(f"{PAGE}?byra={AUDITOR}").text
    assert page.index(f'id="byra-{AUDITOR}"') < page.index(f'id="byra-{FIRM}"')
    assert f"{COMPANY_NAMES[AUDITOR]} är nu kopplad till företaget." in page
    assert "Cecilia Strand" in page
    # A firm that is not connected is not singled out.
    assert "är nu kopplad" not in sara.get(f"{PAGE}?byra={NOADMIN}").text


def _outbox_mailer(
    session: Session, *, to: str, template: str, context: Mapping[str, object]
) -> None:
    queue_mail(
        session,
        to=to,
        template=template,
        context=context,
        sender_domain="kopplingar.example",
        now=dt.datetime(2026, 12, 11, 2, 0, tzinfo=dt.UTC),
        automatic=False,
    )


def test_access_ends_on_its_last_day_and_the_expiry_job_tells_everyone(
    portal: PortalSite,
) -> None:
    sara = portal.signed_in(SARA)
    karin = _person_id(portal, KARIN)
    path = _edit_path(portal, KARIN)
    saved = _save(sara, path, _form(bokforing=("write", "2026-12-10"), fakturering=("read", "")))
    assert saved.status_code == 303

    # The day after the last day the page no longer shows it, whether or not the job ran.
    portal.clock.now = dt.datetime(2026, 12, 11, 8, 0, tzinfo=dt.UTC)
    page = portal.signed_in(SVEN).get(PAGE).text
    assert _TAG.findall(_row(page, karin)) == ["Fakturering: Läsa"]

    now = portal.clock.now
    with Session(portal.engine) as session:
        ended = run_expiry(
            session, now=now, today=swedish_day(now), mail=_outbox_mailer, link=BASE.__add__
        )
        session.commit()
    assert ended == 1
    with Session(portal.engine) as session:
        assert run_expiry(session, now=now, today=swedish_day(now), mail=_outbox_mailer) == 0
        session.commit()

    [to_karin] = [m for m in portal.mails(KARIN) if m.template == "grant_expired"]
    assert to_karin.subject == "Din behörighet hos Nyström Musik AB har upphört"
    assert "- Bokföring (Läsa och ändra), till och med den 10 december 2026" in to_karin.body
    for admin in (SARA, SVEN):
        [mail] = [m for m in portal.mails(admin) if m.template == "grant_expired"]
        assert mail.subject == "Behörighet har upphört för Karin Ek hos Nyström Musik AB"
        assert f"Mina sidor: {BASE}{PAGE}" in mail.body
    assert [m for m in portal.mails(FIA) if m.template == "grant_expired"] == []
    assert [(g.program, g.end_reason) for g in _grants(portal)] == [
        (Program.BOOKKEEPING, GrantEnd.EXPIRED),
        (Program.INVOICING, None),
    ]


def test_two_administrators_saving_at_once_the_later_is_told_to_reload(
    portal: PortalSite, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = set_grants

    def racing(session: Session, **asked: Any) -> GrantChanges:
        @event.listens_for(session, "before_flush", once=True)
        def rival(*_: object) -> None:
            with session_scope(portal.engine) as other:
                real(other, **asked | {"actor": SVEN})

        return real(session, **asked)

    monkeypatch.setattr(web_client, "set_grants", racing)
    sara = portal.signed_in(SARA)
    lost = _save(sara, _edit_path(portal, KARIN), _form(bokforing=("admin", "2027-01-31")))
    assert lost.status_code == 409
    assert "Någon annan ändrade konsultens behörigheter samtidigt" in html.unescape(lost.text)
    assert 'value="2027-01-31"' in lost.text  # what Sara chose is still there
    assert [(g.granted_by, g.level) for g in _grants(portal)] == [(SVEN, PermissionLevel.ADMIN)]
    assert [m for m in portal.mails(KARIN) if m.template == "grant_given"] == []
