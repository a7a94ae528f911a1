"""The firm's pages: the client list, one client, the consultants (`portal.web_firm`)."""

from __future__ import annotations

import datetime as dt
import html
import re

import pytest
from sqlmodel import Session, col, func, select
from starlette.testclient import TestClient

from registry import (
    AuditEvent,
    ClientLabel,
    ConnectionRole,
    ConsultantClient,
    DigitalRequest,
    Person,
    RequestKind,
    Subscription,
)
from tests.portal.cases import (
    ANNA,
    AUDITOR,
    BO,
    CLIENT,
    CLIENT_SUB,
    COMPANY_NAMES,
    FIRM,
    KARIN,
    LONE,
    NOADMIN,
    OLOF,
    PER,
    SARA,
)
from tests.portal.conftest import PortalSite

CLIENTS = f"/mina-sidor/byra/{FIRM}/klienter"
CONSULTANTS = f"/mina-sidor/byra/{FIRM}/konsulter"
MANAGE_NEEDED = (
    "Du behöver vara systemadministratör eller programadministratör för klienthanteringen."
)
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def _page(client: TestClient, path: str) -> str:
    page = client.get(path)
    assert page.status_code == 200, page.text
    return page.text


def _csrf(client: TestClient) -> str:
    """The session's CSRF token, from the logout form every signed-in page has."""
    found = _CSRF.search(_page(client, "/mina-sidor/"))
    assert found is not None
    return found.group(1)


def _post(client: TestClient, path: str, **data: str) -> tuple[int, str, str]:
    answer = client.post(path, data={"csrf": _csrf(client), **data})
    return answer.status_code, answer.headers.get("location", ""), answer.text


def _name(text: str) -> str:
    return html.escape(text, quote=False)


def _person_id(portal: PortalSite, email: str) -> int:
    with Session(portal.engine) as session:
        person_id = session.exec(select(Person.id).where(Person.email == email)).one()
    assert person_id is not None
    return person_id


def _counts(portal: PortalSite) -> tuple[int, int, int]:
    with Session(portal.engine) as session:
        return (
            session.exec(select(func.count()).select_from(ClientLabel)).one(),
            session.exec(select(func.count()).select_from(ConsultantClient)).one(),
            session.exec(
                select(func.count())
                .select_from(AuditEvent)
                .where(col(AuditEvent.action).startswith("client_label"))
            ).one()
            + session.exec(
                select(func.count())
                .select_from(AuditEvent)
                .where(col(AuditEvent.action).startswith("consultant_client"))
            ).one(),
        )


def _rows(text: str) -> list[str]:
    """The client names in the list's table, in order."""
    body = text.split("<tbody>", 1)[1].split("</tbody>", 1)[0] if "<tbody>" in text else ""
    return [html.unescape(m) for m in re.findall(r'/klienter/[0-9-]+">([^<]+)</a>', body)]


# -- the list ------------------------------------------------------------------------------------


def test_a_sysadmin_sees_every_client_with_payer_and_actions(portal: PortalSite) -> None:
    anna = portal.signed_in(ANNA)
    text = _page(anna, CLIENTS)
    assert _rows(text) == [COMPANY_NAMES[NOADMIN], COMPANY_NAMES[CLIENT]]
    assert "Byrån betalar" in text and "Klienten betalar" in text
    assert "redovisningsbyrå" in text and "1 januari 2024" in text
    assert f'href="{CLIENTS}/{CLIENT}"' in text
    assert f'href="{CLIENTS}/{CLIENT}/koppla-bort"' in text
    assert f'href="{CLIENTS}/{NOADMIN}/koppla-bort"' in text
    assert f'href="/mina-sidor/byra/{FIRM}/dubbelsammankoppling"' in text
    assert "Förfrågan väntar" not in text
    assert "egen klientlista" not in text


def test_a_program_admin_sees_the_list_without_the_sysadmins_actions(portal: PortalSite) -> None:
    text = _page(portal.signed_in(PER), CLIENTS)
    assert _rows(text) == [COMPANY_NAMES[NOADMIN], COMPANY_NAMES[CLIENT]]
    assert "koppla-bort" not in text and "dubbelsammankoppling" not in text


def test_a_consultant_sees_only_their_own_list(portal: PortalSite) -> None:
    karin = portal.signed_in(KARIN)
    empty = _page(karin, CLIENTS)
    assert _rows(empty) == []
    assert "Du ser klienterna i din egen klientlista." in empty
    assert "Din klientlista är tom." in empty
    assert 'id="konsult"' not in empty  # no choosing someone else's list

    anna = portal.signed_in(ANNA)
    status, _, _ = _post(anna, f"{CONSULTANTS}/{_person_id(portal, KARIN)}/klienter", klient=CLIENT)
    assert status == 303
    assert _post(anna, f"{CLIENTS}/{CLIENT}/markningar", markning="Moms")[0] == 303
    assert _post(anna, f"{CLIENTS}/{NOADMIN}/markningar", markning="Hemlig")[0] == 303
    mine = _page(karin, CLIENTS)
    assert _rows(mine) == [COMPANY_NAMES[CLIENT]]
    # The label choices are those on her own clients only.
    assert '<option value="Moms">' in mine and "Hemlig" not in mine
    assert '<option value="Hemlig">' in _page(anna, CLIENTS)
    # Asking for another consultant's list changes nothing.
    assert _rows(_page(karin, f"{CLIENTS}?konsult={_person_id(portal, OLOF)}")) == [
        COMPANY_NAMES[CLIENT]
    ]
    own = _page(karin, f"{CLIENTS}/{CLIENT}")
    assert "Ny märkning" not in own and "Ta bort" not in own and "koppla-bort" not in own
    other = karin.get(f"{CLIENTS}/{NOADMIN}")
    assert other.status_code == 404 and "Klienten finns inte i din klientlista." in other.text


def test_filters_by_label_consultant_and_search(portal: PortalSite) -> None:
    anna = portal.signed_in(ANNA)
    olof = _person_id(portal, OLOF)
    assert _post(anna, f"{CLIENTS}/{CLIENT}/markningar", markning="Moms")[0] == 303
    assert _post(anna, f"{CLIENTS}/{NOADMIN}/konsulter", konsult=str(olof))[0] == 303
    assert _rows(_page(anna, f"{CLIENTS}?markning=Moms")) == [COMPANY_NAMES[CLIENT]]
    assert _rows(_page(anna, f"{CLIENTS}?konsult={olof}")) == [COMPANY_NAMES[NOADMIN]]
    assert _rows(_page(anna, f"{CLIENTS}?sok=nyström")) == [COMPANY_NAMES[CLIENT]]
    assert _rows(_page(anna, f"{CLIENTS}?sok={NOADMIN.replace('-', '')}")) == [
        COMPANY_NAMES[NOADMIN]
    ]
    none = _page(anna, f"{CLIENTS}?markning=Moms&konsult={olof}")
    assert _rows(none) == [] and "Inga klienter stämmer med filtret." in none
    assert _rows(_page(anna, f"{CLIENTS}?konsult=inte-ett-id")) == [
        COMPANY_NAMES[NOADMIN],
        COMPANY_NAMES[CLIENT],
    ]
    chosen = _page(anna, f"{CLIENTS}?markning=Moms")
    assert '<option value="Moms" selected>Moms</option>' in chosen
    assert f'<option value="{olof}">Olof Lind</option>' in chosen


def test_a_pending_request_shows(portal: PortalSite) -> None:
    with Session(portal.engine) as session:
        sub = session.exec(select(Subscription).where(Subscription.number == CLIENT_SUB)).one()
        assert sub.id is not None
        session.add(
            DigitalRequest(
                kind=RequestKind.DISCONNECT,
                client_id=portal.ids[CLIENT],
                firm_id=portal.ids[FIRM],
                role=ConnectionRole.ACCOUNTING,
                subscription_id=sub.id,
                requested_by=_person_id(portal, ANNA),
                expires_at=portal.clock.now + dt.timedelta(days=7),
            )
        )
        session.commit()
    anna = portal.signed_in(ANNA)
    text = _page(anna, CLIENTS)
    row = text.split(f'{CLIENTS}/{CLIENT}"', 1)[1].split("</tr>", 1)[0]
    assert "Förfrågan väntar" in row
    assert text.count("Förfrågan väntar") == 1
    assert "Förfrågan väntar" in _page(anna, f"{CLIENTS}/{CLIENT}")


# -- who may see and do what ---------------------------------------------------------------------


@pytest.mark.parametrize("email", [BO, SARA])
def test_someone_elses_firm_is_not_found(portal: PortalSite, email: str) -> None:
    other = portal.signed_in(email)
    for path in (CLIENTS, f"{CLIENTS}/{CLIENT}", CONSULTANTS):
        answer = other.get(path)
        assert answer.status_code == 404, path
        assert "Företaget finns inte bland dina företag." in answer.text
    status, _, _ = _post(other, f"{CLIENTS}/{CLIENT}/markningar", markning="Moms")
    assert status == 404
    assert _counts(portal) == (0, 0, 0)


def test_a_client_company_has_no_client_list(portal: PortalSite) -> None:
    answer = portal.signed_in(SARA).get(f"/mina-sidor/byra/{CLIENT}/klienter")
    assert answer.status_code == 404 and "ingen byrå" in answer.text


def test_a_client_not_connected_to_the_firm_is_not_found(portal: PortalSite) -> None:
    anna = portal.signed_in(ANNA)
    for orgnr in (LONE, AUDITOR, "000000-0000", "nonsense"):
        answer = anna.get(f"{CLIENTS}/{orgnr}")
        assert answer.status_code == 404 and "Klienten finns inte bland byråns klienter." in (
            answer.text
        )
    assert _post(anna, f"{CLIENTS}/{LONE}/markningar", markning="Moms")[0] == 404
    assert _counts(portal) == (0, 0, 0)


def test_signing_in_is_needed(portal: PortalSite) -> None:
    answer = portal.client().get(CLIENTS)
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/mina-sidor/logga-in?next=")


def test_a_consultant_cannot_manage(portal: PortalSite) -> None:
    karin = portal.signed_in(KARIN)
    olof = str(_person_id(portal, OLOF))
    for path, data in (
        (f"{CLIENTS}/{CLIENT}/markningar", {"markning": "Moms"}),
        (f"{CLIENTS}/{CLIENT}/markningar/ta-bort", {"markning": "Moms"}),
        (f"{CLIENTS}/{CLIENT}/konsulter", {"konsult": olof}),
        (f"{CLIENTS}/{CLIENT}/konsulter/ta-bort", {"konsult": olof}),
        (f"{CONSULTANTS}/{olof}/klienter", {"klient": CLIENT}),
        (f"{CONSULTANTS}/{olof}/klienter/ta-bort", {"klient": CLIENT}),
    ):
        status, _, text = _post(karin, path, **data)
        assert status == 403, path
        assert MANAGE_NEEDED in text
    assert _counts(portal) == (0, 0, 0)
    consultants = _page(karin, CONSULTANTS)
    assert "Karin Ek" in consultants and "Olof Lind" not in consultants  # only their own
    assert "Lägg till klient" not in consultants


def test_a_post_without_the_csrf_token_is_refused(portal: PortalSite) -> None:
    anna = portal.signed_in(ANNA)
    for data in ({"markning": "Moms"}, {"markning": "Moms", "csrf": "fel"}):
        answer = anna.post(f"{CLIENTS}/{CLIENT}/markningar", data=data)
        assert answer.status_code == 403
        assert "säkerhetskod" in answer.text
    answer = anna.post(
        f"{CONSULTANTS}/{_person_id(portal, OLOF)}/klienter", data={"klient": CLIENT}
    )
    assert answer.status_code == 403
    assert _counts(portal) == (0, 0, 0)


# -- labels and consultants on the client's page -------------------------------------------------


def test_labels_are_added_and_removed_with_a_notice(portal: PortalSite) -> None:
    anna = portal.signed_in(ANNA)
    page = f"{CLIENTS}/{CLIENT}"
    status, location, _ = _post(anna, f"{page}/markningar", markning="  Bokslut 2026 ")
    assert (status, location) == (303, f"{page}?klart=markning-tillagd")
    shown = _page(anna, location)
    assert "Märkningen är tillagd." in shown
    assert '<span class="tag">Bokslut 2026</span>' in shown
    assert _post(anna, f"{page}/markningar", markning="Bokslut 2026")[1] == (
        f"{page}?klart=markning-fanns"
    )
    assert '<span class="tag">Bokslut 2026</span>' in _page(anna, CLIENTS)
    assert _counts(portal) == (1, 0, 1)
    status, location, _ = _post(anna, f"{page}/markningar/ta-bort", markning="Bokslut 2026")
    assert (status, location) == (303, f"{page}?klart=markning-borttagen")
    assert "Märkningen är borttagen." in _page(anna, location)
    assert _counts(portal) == (0, 0, 2)


def test_a_program_admin_manages_too(portal: PortalSite) -> None:
    per = portal.signed_in(PER)
    assert _post(per, f"{CLIENTS}/{NOADMIN}/markningar", markning="Lön")[0] == 303
    with Session(portal.engine) as session:
        event = session.exec(
            select(AuditEvent).where(AuditEvent.action == "client_label.added")
        ).one()
    assert event.actor == PER and event.subject == f"company:{portal.ids[NOADMIN]}"


def test_a_bad_label_shows_the_page_again_with_the_reason(portal: PortalSite) -> None:
    anna = portal.signed_in(ANNA)
    status, _, text = _post(anna, f"{CLIENTS}/{CLIENT}/markningar", markning="<b>" + "x" * 40)
    assert status == 400
    assert "Märkningen får vara högst 40 tecken." in text
    assert 'value="&lt;b&gt;xxxx' in text and "<b>xxx" not in text
    status, _, text = _post(anna, f"{CLIENTS}/{CLIENT}/markningar", markning="   ")
    assert status == 400 and "Skriv en märkning." in text
    assert _counts(portal) == (0, 0, 0)


def test_a_label_is_escaped_everywhere(portal: PortalSite) -> None:
    anna = portal.signed_in(ANNA)
    label = "<script>alert(1)</script>"
    assert _post(anna, f"{CLIENTS}/{CLIENT}/markningar", markning=label)[0] == 303
    for path in (CLIENTS, f"{CLIENTS}/{CLIENT}"):
        text = _page(anna, path)
        assert "<script>" not in text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    # The notice is chosen by a code; anything else shows nothing.
    text = _page(anna, f"{CLIENTS}?klart=%3Cscript%3Ealert(2)%3C/script%3E")
    assert "alert(2)" not in text and 'class="notice"' not in text
    search = _page(anna, f"{CLIENTS}?sok=%3Cscript%3E")
    assert "<script>" not in search and 'value="&lt;script&gt;"' in search


def test_consultants_are_assigned_on_the_clients_page(portal: PortalSite) -> None:
    anna = portal.signed_in(ANNA)
    page = f"{CLIENTS}/{CLIENT}"
    karin, olof, per = (_person_id(portal, e) for e in (KARIN, OLOF, PER))
    before = _page(anna, page)
    assert f'<option value="{karin}">Karin Ek</option>' in before
    assert f'<option value="{per}">' not in before  # a program admin, not a consultant
    status, location, _ = _post(anna, f"{page}/konsulter", konsult=str(karin))
    assert (status, location) == (303, f"{page}?klart=konsult-tillagd")
    after = _page(anna, location)
    assert "Klienten finns nu i konsultens klientlista." in after
    assert f'<option value="{karin}">' not in after and f'<option value="{olof}">' in after
    listed = _page(anna, CLIENTS).split(f'{page}"', 1)[1].split("</tr>", 1)[0]
    assert "Karin Ek" in listed
    # Someone who is no consultant of the firm, or no number at all: refused, nothing written.
    for value in (str(per), str(_person_id(portal, BO)), "x"):
        status, _, text = _post(anna, f"{page}/konsulter", konsult=value)
        assert status == 400 and "Personen är inte konsult på byrån." in text
    assert _counts(portal) == (0, 1, 1)
    status, location, _ = _post(anna, f"{page}/konsulter/ta-bort", konsult=str(karin))
    assert (status, location) == (303, f"{page}?klart=konsult-borttagen")
    assert _counts(portal) == (0, 0, 2)


def test_the_history_tells_what_happened(portal: PortalSite) -> None:
    anna = portal.signed_in(ANNA)
    page = f"{CLIENTS}/{CLIENT}"
    _post(anna, f"{page}/markningar", markning="Moms")
    portal.clock.advance(minutes=5)
    _post(anna, f"{page}/konsulter", konsult=str(_person_id(portal, KARIN)))
    text = _page(anna, page)
    history = text.split('id="historik"', 1)[1]
    assert "1 januari 2024" in history and "pågår" in history
    added = "Anna Berg lade till märkningen ”Moms”."
    assigned = "Anna Berg lade till klienten i klientlistan för Karin Ek."
    assert added in history and assigned in history
    assert history.index(assigned) < history.index(added)  # newest first
    assert "2026-12-03 10:00" in history and "2026-12-03 10:05" in history


# -- the consultants' page -----------------------------------------------------------------------


def test_the_consultants_page_lists_and_changes_personal_lists(portal: PortalSite) -> None:
    anna = portal.signed_in(ANNA)
    olof = _person_id(portal, OLOF)
    text = _page(anna, CONSULTANTS)
    for name in ("Anna Berg", "Karin Ek", "Olof Lind"):
        assert f">{name}</h2>" in text
    assert ">Per Holm</h2>" not in text  # program admin without the consultant role
    assert text.count("Klientlistan är tom.") == 3
    status, location, _ = _post(anna, f"{CONSULTANTS}/{olof}/klienter", klient=NOADMIN)
    assert (status, location) == (303, f"{CONSULTANTS}?klart=konsult-tillagd")
    shown = _page(anna, location)
    assert "Klienten finns nu i konsultens klientlista." in shown
    section = shown.split('id="konsult-' + str(olof) + '"', 1)[1].split("</section>", 1)[0]
    assert _name(COMPANY_NAMES[NOADMIN]) in section
    assert _post(anna, f"{CONSULTANTS}/{olof}/klienter", klient=NOADMIN)[1] == (
        f"{CONSULTANTS}?klart=konsult-fanns"
    )
    # Not the firm's client, or no company at all: the same answer.
    for orgnr in (LONE, "000000-0000"):
        status, _, text = _post(anna, f"{CONSULTANTS}/{olof}/klienter", klient=orgnr)
        assert status == 400 and "Klienten är inte kopplad till byrån." in text
    # Not a consultant of this firm.
    for person in (str(_person_id(portal, PER)), str(_person_id(portal, BO)), "x"):
        status, _, _ = _post(anna, f"{CONSULTANTS}/{person}/klienter", klient=NOADMIN)
        assert status == 404
    status, location, _ = _post(anna, f"{CONSULTANTS}/{olof}/klienter/ta-bort", klient=NOADMIN)
    assert (status, location) == (303, f"{CONSULTANTS}?klart=konsult-borttagen")
    assert _post(anna, f"{CONSULTANTS}/{olof}/klienter/ta-bort", klient=LONE)[1] == (
        f"{CONSULTANTS}?klart=konsult-saknades"
    )
    assert _counts(portal) == (0, 0, 2)
