"""Digital requests and invitations on the customer pages (`portal.web_requests`)."""

from __future__ import annotations

import datetime as dt
import html
import re

from sqlmodel import Session, col, func, select
from starlette.testclient import TestClient

from registry import (
    AuditEvent,
    Company,
    Connection,
    DigitalRequest,
    Person,
    RequestState,
    Role,
    RoleKind,
    Subscription,
    SubscriptionPayer,
)
from tests.portal.cases import (
    ANNA,
    AUDITOR,
    BO,
    CLIENT,
    CLIENT_SUB,
    COMPANY_NAMES,
    ERIK,
    EXCLUDED,
    EXCLUDED_CLIENT,
    EXCLUDED_CLIENT_SUB,
    FIA,
    FIRM,
    GUSTAV,
    KARIN,
    LONE,
    LONE_SUB,
    NOADMIN,
    NOADMIN_SUB,
    PER,
    SARA,
    SVEN,
)
from tests.portal.conftest import PortalSite
from tests.web.conftest import make_app

DISCONNECT = f"/mina-sidor/byra/{FIRM}/klienter/{CLIENT}/koppla-bort"
FIRM_REQUESTS = f"/mina-sidor/byra/{FIRM}/forfragningar"
CLIENT_REQUESTS = f"/mina-sidor/foretag/{CLIENT}/forfragningar"
DUAL = f"/mina-sidor/byra/{AUDITOR}/dubbelsammankoppling"
NEW_ADMIN = "maja.lindqvist@lindqvistbygg.example"
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')
_REQUEST_LINK = re.compile(r"http://testserver(/mina-sidor/forfragan/[A-Za-z0-9_-]+)")
_INVITATION_LINK = re.compile(r"http://testserver(/mina-sidor/inbjudan/[A-Za-z0-9_-]+)")


def _csrf(client: TestClient, path: str = "/mina-sidor/") -> str:
    found = _CSRF.search(client.get(path).text)
    assert found is not None
    return found.group(1)


def _post(client: TestClient, path: str, **data: str) -> tuple[int, str, str]:
    answer = client.post(path, data={"csrf": _csrf(client), **data})
    return answer.status_code, answer.headers.get("location", ""), answer.text


def _e(text: str) -> str:
    return html.escape(text, quote=False)


def _links(portal: PortalSite, to: str, pattern: re.Pattern[str] = _REQUEST_LINK) -> list[str]:
    return [m for mail in portal.mails(to) for m in pattern.findall(mail.body)]


def _templates(portal: PortalSite, *people: str) -> dict[str, list[str]]:
    return {p: [m.template for m in portal.mails(p) if m.template != "sign_in_link"]
            for p in people}  # fmt: skip


def _requests(portal: PortalSite) -> list[DigitalRequest]:
    with Session(portal.engine) as session:
        return list(session.exec(select(DigitalRequest).order_by(col(DigitalRequest.id))).all())


def _connections(portal: PortalSite, client: str) -> list[tuple[str, str, dt.date | None]]:
    with Session(portal.engine) as session:
        rows = session.exec(
            select(col(Company.orgnr), col(Connection.role), col(Connection.until))
            .join(Company, col(Company.id) == col(Connection.firm_id))
            .where(Connection.client_id == portal.ids[client])
            .order_by(col(Connection.id))
        ).all()
    return [(orgnr, str(role), until) for orgnr, role, until in rows]


def _payers(portal: PortalSite, client: str) -> list[tuple[int, dt.date]]:
    with Session(portal.engine) as session:
        rows = session.exec(
            select(col(SubscriptionPayer.payer_id), col(SubscriptionPayer.valid_from))
            .join(Subscription, col(Subscription.id) == col(SubscriptionPayer.subscription_id))
            .where(Subscription.company_id == portal.ids[client])
            .order_by(col(SubscriptionPayer.valid_from))
        ).all()
    return [(payer, day) for payer, day in rows]


def _events(portal: PortalSite, prefix: str) -> list[AuditEvent]:
    with Session(portal.engine) as session:
        rows = session.exec(select(AuditEvent).order_by(col(AuditEvent.id))).all()
    return [e for e in rows if e.action.startswith(prefix)]


def _start_disconnection(portal: PortalSite) -> TestClient:
    anna = portal.signed_in(ANNA)
    status, location, _ = _post(anna, DISCONNECT)
    assert (status, location) == (303, f"{FIRM_REQUESTS}?klart=skickad")
    return anna


# -- the digital disconnection -----------------------------------------------------------------


def test_anna_disconnects_client_sara_approves_and_svens_link_shows_it(
    portal: PortalSite,
) -> None:
    anna = portal.signed_in(ANNA)
    page = anna.get(DISCONNECT)
    assert page.status_code == 200
    text = page.text
    assert "företagets 2 systemadministratörer" in text
    assert "Kopplingen som redovisningsbyrå, sedan 1 januari 2024, upphör samma dag" in text
    assert f"Byrån betalar i dag abonnemang {CLIENT_SUB}" in text
    assert "Från och med den 1 januari 2027 tar företaget över abonnemanget" in text
    assert "Skicka förfrågan om bortkoppling" in text
    assert _requests(portal) == []  # looking sends nothing

    status, location, _ = _post(anna, DISCONNECT)
    assert (status, location) == (303, f"{FIRM_REQUESTS}?klart=skickad")
    listed = anna.get(location).text
    assert "Förfrågan är skickad till företagets systemadministratörer" in listed
    assert _e(COMPANY_NAMES[CLIENT]) in listed and "Återkalla" in listed

    [sara_link] = _links(portal, SARA)
    [sven_link] = _links(portal, SVEN)
    assert sara_link != sven_link
    [mail] = [m for m in portal.mails(SARA) if m.template == "digital_request"]
    assert mail.subject == f"Förfrågan om bortkoppling från {COMPANY_NAMES[FIRM]}"
    assert "Hej Sara Nyström!" in mail.body and "1 januari 2027" in mail.body
    assert _links(portal, FIA) == []  # a firmatecknare does not approve digitally

    sara = portal.client()  # no sign-in: the link is the proof
    opened = sara.get(sara_link)
    assert opened.status_code == 200
    assert opened.headers["referrer-policy"] == "same-origin"
    assert opened.headers["cache-control"] == "no-store"
    assert "Godkänn bortkopplingen" in opened.text
    assert "Byrån betalar i dag ert abonnemang" in opened.text
    assert "den 1 januari 2027 tar företaget över" in opened.text

    portal.clock.advance(hours=1)
    approved = sara.post(f"{sara_link}/godkann")
    assert approved.status_code == 303
    assert approved.headers["location"] == f"{sara_link}?klart=approved"
    done = sara.get(approved.headers["location"]).text
    assert "Tack! Du har godkänt förfrågan" in done
    assert "godkänd av Sara Nyström den 3 december 2026 klockan 11:00" in done

    other = portal.client().get(sven_link)
    assert other.status_code == 200
    assert "godkänd av Sara Nyström den 3 december 2026 klockan 11:00" in other.text
    assert "Godkänn bortkopplingen" not in other.text and "Tack!" not in other.text

    assert _connections(portal, CLIENT) == [(FIRM, "accounting", dt.date(2026, 12, 3))]
    assert _payers(portal, CLIENT) == [
        (portal.ids[FIRM], dt.date(2024, 1, 1)),
        (portal.ids[CLIENT], dt.date(2027, 1, 1)),
    ]
    mails = _templates(portal, ANNA, SARA, SVEN, FIA)
    assert mails == {
        ANNA: ["approved_firm"],
        SARA: ["digital_request", "approved_client"],
        SVEN: ["digital_request", "approved_client"],
        FIA: ["approved_client"],
    }
    [firm_mail] = [m for m in portal.mails(ANNA) if m.template == "approved_firm"]
    assert "Från och med den 1 januari 2027 tar företaget över betalningsansvaret" in (
        firm_mail.body
    )

    # Sven clicking after all, and Sara clicking twice, change nothing.
    for client, link in ((portal.client(), sven_link), (sara, sara_link)):
        again = client.post(f"{link}/godkann")
        assert again.status_code == 303
        assert "Tack!" not in client.get(again.headers["location"]).text
    assert len(_events(portal, "connection.ended")) == 1
    assert len(_events(portal, "digital_request.approved")) == 1
    assert len(portal.mails(FIA)) == 1


def test_a_post_from_another_site_is_refused(portal: PortalSite) -> None:
    _start_disconnection(portal)
    [link] = _links(portal, SARA)
    client = portal.client()
    refused = client.post(f"{link}/godkann", headers={"Origin": "https://evil.example"})
    assert refused.status_code == 403
    assert "från en annan webbplats" in refused.text
    assert _requests(portal)[0].state == RequestState.PENDING
    ours = client.post(f"{link}/avsla", headers={"Origin": "http://testserver"})
    assert ours.status_code == 303
    assert _requests(portal)[0].state == RequestState.DECLINED


def test_the_excluded_firm_gets_the_paper_form(portal: PortalSite) -> None:
    erik = portal.signed_in(ERIK)
    path = f"/mina-sidor/byra/{EXCLUDED}/klienter/{EXCLUDED_CLIENT}/koppla-bort"
    page = erik.get(path).text
    assert f"Digital bortkoppling erbjuds inte för {COMPANY_NAMES[EXCLUDED]}" in page
    assert "Skicka förfrågan om bortkoppling" not in page
    assert 'action="/blankett/bortkoppling"' in page and 'href="/blankett/bortkoppling"' in page
    assert f'name="client_subscription" value="{EXCLUDED_CLIENT_SUB}"' in page
    assert f'name="firm_orgnr" value="{EXCLUDED}"' in page
    assert 'name="after" value="takeover"' in page
    assert "Bjud in" not in page  # the client has an administrator; the firm is the problem
    status, _, text = _post(erik, path)
    assert status == 409 and "erbjuds inte" in text
    assert _requests(portal) == []
    assert _links(portal, "alma.akerlund@akerlundcafe.example") == []


def test_a_client_without_admin_gets_one_confirmed_by_its_firmatecknare(
    portal: PortalSite,
) -> None:
    anna = portal.signed_in(ANNA)
    path = f"/mina-sidor/byra/{FIRM}/klienter/{NOADMIN}/koppla-bort"
    page = anna.get(path).text
    assert "Lindqvist Bygg AB har ingen systemadministratör" in page
    assert f'name="client_subscription" value="{NOADMIN_SUB}"' in page
    assert f'action="{path.removesuffix("/koppla-bort")}/bjud-in"' in page

    invite = path.removesuffix("/koppla-bort") + "/bjud-in"
    status, _, text = _post(anna, invite, namn="Maja Lindqvist", epost="inte-en-adress")
    assert status == 409 and "ser inte ut som en e-postadress" in text
    assert 'value="Maja Lindqvist"' in text  # what was typed stays
    status, location, _ = _post(anna, invite, namn="Maja Lindqvist", epost=NEW_ADMIN.upper())
    assert (status, location) == (303, f"{path}?klart=inbjudan")
    waiting = anna.get(location).text
    assert "Inbjudan är skickad till företagets firmatecknare" in waiting
    assert "väntar på att en firmatecknare hos företaget bekräftar den" in waiting
    assert portal.mails(NEW_ADMIN) == []  # not on record: nothing goes there yet
    [mail] = [m for m in portal.mails(GUSTAV) if m.template == "invitation_request"]
    assert f"Maja Lindqvist ({NEW_ADMIN})" in mail.body
    [link] = _links(portal, GUSTAV, _INVITATION_LINK)

    gustav = portal.client()
    opened = gustav.get(link)
    assert opened.status_code == 200 and opened.headers["referrer-policy"] == "same-origin"
    assert "Om du bekräftar blir Maja Lindqvist systemadministratör" in opened.text
    with Session(portal.engine) as session:
        assert session.exec(select(Person).where(Person.email == NEW_ADMIN)).first() is None
    confirmed = gustav.post(link, data={"svar": "bekrafta"})
    assert confirmed.status_code == 303
    shown = gustav.get(confirmed.headers["location"]).text
    assert "Tack! Inbjudan är bekräftad." in shown
    assert "bekräftad av Gustav Lindqvist den 3 december 2026" in shown
    assert [m.template for m in portal.mails(NEW_ADMIN)] == ["invitation_welcome"]
    assert "invitation_confirmed" in _templates(portal, ANNA)[ANNA]
    with Session(portal.engine) as session:
        maja = session.exec(select(Person).where(Person.email == NEW_ADMIN)).one()
        roles = session.exec(select(Role.role).where(Role.person_id == maja.id)).all()
    assert roles == [RoleKind.SYSADMIN]

    # Now the disconnection goes digitally, to Maja.
    assert "Skicka förfrågan om bortkoppling" in anna.get(path).text
    status, _, _ = _post(anna, path)
    assert status == 303
    [request_link] = _links(portal, NEW_ADMIN)
    maja_client = portal.client()
    assert maja_client.post(f"{request_link}/godkann").status_code == 303
    assert _connections(portal, NOADMIN) == [(FIRM, "accounting", dt.date(2026, 12, 3))]
    assert _payers(portal, NOADMIN) == []  # it paid itself, and still does


def test_a_declined_invitation_changes_nothing(portal: PortalSite) -> None:
    anna = portal.signed_in(ANNA)
    invite = f"/mina-sidor/byra/{FIRM}/klienter/{NOADMIN}/bjud-in"
    assert _post(anna, invite, namn="Maja Lindqvist", epost=NEW_ADMIN)[0] == 303
    [link] = _links(portal, GUSTAV, _INVITATION_LINK)
    declined = portal.client().post(link, data={"svar": "avboj"})
    assert declined.status_code == 303
    assert "Du har avböjt inbjudan" in portal.client().get(declined.headers["location"]).text
    assert "invitation_declined" in _templates(portal, ANNA)[ANNA]
    assert portal.mails(NEW_ADMIN) == []
    again = portal.client().post(link, data={"svar": "bekrafta"})
    assert "avböjd av Gustav Lindqvist" in portal.client().get(again.headers["location"]).text
    with Session(portal.engine) as session:
        assert session.exec(select(Person).where(Person.email == NEW_ADMIN)).first() is None


# -- the digital dual connection ---------------------------------------------------------------


def test_bo_asks_for_a_dual_connection_and_sara_approves(portal: PortalSite) -> None:
    bo = portal.signed_in(BO)
    form = bo.get(DUAL)
    assert form.status_code == 200 and "som revisionsbyrå" in form.text
    status, location, _ = _post(bo, DUAL, orgnr=CLIENT, abonnemang=CLIENT_SUB)
    assert (status, location) == (303, f"/mina-sidor/byra/{AUDITOR}/forfragningar?klart=skickad")
    [mail] = [m for m in portal.mails(SARA) if m.template == "digital_request"]
    assert mail.subject == (
        f"Förfrågan från {COMPANY_NAMES[AUDITOR]} om att kopplas till {COMPANY_NAMES[CLIENT]}"
    )
    [link] = _links(portal, SARA)
    sara = portal.client()
    assert "Godkänn kopplingen" in sara.get(link).text
    done = sara.get(sara.post(f"{link}/godkann").headers["location"]).text
    assert "godkänd av Sara Nyström" in done
    assert f'href="/mina-sidor/foretag/{CLIENT}?byra={AUDITOR}"' in done
    assert _connections(portal, CLIENT) == [(FIRM, "accounting", None), (AUDITOR, "audit", None)]
    assert _templates(portal, BO, ANNA, SARA, SVEN, FIA) == {
        BO: ["approved_firm"],
        ANNA: ["approved_firm"],  # the firm already connected hears of the new one
        SARA: ["digital_request", "approved_client"],
        SVEN: ["digital_request", "approved_client"],
        FIA: ["approved_client"],
    }
    [told] = [m for m in portal.mails(ANNA) if m.template == "approved_firm"]
    assert told.subject == (
        f"Klart: {COMPANY_NAMES[AUDITOR]} har också kopplats till {COMPANY_NAMES[CLIENT]}"
    )


def _refusal(page: str) -> str:
    found = re.search(r'<p class="error" id="abonnemang-fel">([^<]*)</p>', page)
    assert found is not None, page
    return found.group(1)


def test_a_wrong_subscription_number_reads_like_an_unknown_company(portal: PortalSite) -> None:
    bo = portal.signed_in(BO)
    answers = []
    for orgnr, number in ((CLIENT, LONE_SUB), ("556000-1249", CLIENT_SUB), (LONE, CLIENT_SUB)):
        status, _, text = _post(bo, DUAL, orgnr=orgnr, abonnemang=number)
        assert status == 422
        assert COMPANY_NAMES[CLIENT] not in text and COMPANY_NAMES[LONE] not in text
        answers.append(_refusal(text))
    assert answers == ["Abonnemangsnumret hör inte till det organisationsnumret. Kontrollera "
                       "båda mot fakturan."] * 3  # fmt: skip
    assert _requests(portal) == []
    # Once the pair matches, the answer may be specific.
    anna = portal.signed_in(ANNA)
    status, _, text = _post(anna, f"/mina-sidor/byra/{FIRM}/dubbelsammankoppling",
                            orgnr=CLIENT, abonnemang=CLIENT_SUB)  # fmt: skip
    assert status == 409
    assert f"{_e(COMPANY_NAMES[FIRM])} är redan kopplad till {_e(COMPANY_NAMES[CLIENT])}" in text


def test_a_client_without_admin_is_sent_to_the_paper_dual_form(portal: PortalSite) -> None:
    bo = portal.signed_in(BO)
    status, _, text = _post(bo, DUAL, orgnr=NOADMIN, abonnemang=NOADMIN_SUB)
    assert status == 409
    assert "har ingen systemadministratör" in text
    assert 'href="/blankett/dubbelsammankoppling"' in text


# -- withdrawing, declining, expiry ------------------------------------------------------------


def test_anna_withdraws_and_the_links_say_so(portal: PortalSite) -> None:
    anna = _start_disconnection(portal)
    [request] = _requests(portal)
    status, location, _ = _post(anna, f"{FIRM_REQUESTS}/{request.id}/aterkalla")
    assert (status, location) == (303, f"{FIRM_REQUESTS}?klart=aterkallad")
    page = anna.get(location).text
    assert "Förfrågan är återkallad" in page and "Inga förfrågningar väntar på svar." in page
    assert _templates(portal, SARA, SVEN) == {
        SARA: ["digital_request", "digital_withdrawn"],
        SVEN: ["digital_request", "digital_withdrawn"],
    }
    [link] = _links(portal, SARA)
    shown = portal.client().get(link)
    assert shown.status_code == 410
    assert "Byrån drog tillbaka förfrågan den 3 december 2026" in shown.text
    late = portal.client().post(f"{link}/godkann")
    assert late.status_code == 303
    assert _connections(portal, CLIENT) == [(FIRM, "accounting", None)]
    status, location, _ = _post(anna, f"{FIRM_REQUESTS}/{request.id}/aterkalla")
    assert "var redan besvarad" in anna.get(location).text


def test_sven_declines(portal: PortalSite) -> None:
    _start_disconnection(portal)
    [link] = _links(portal, SVEN)
    sven = portal.client()
    done = sven.get(sven.post(f"{link}/avsla").headers["location"]).text
    assert "Du har avböjt förfrågan. Ingenting har ändrats." in done
    assert "avböjd av Sven Nyström den 3 december 2026" in done
    [mail] = [m for m in portal.mails(ANNA) if m.template == "digital_declined"]
    assert mail.subject == f"{COMPANY_NAMES[CLIENT]} avböjde bortkopplingen"
    [sara_link] = _links(portal, SARA)
    assert "avböjd av Sven Nyström" in portal.client().get(sara_link).text
    assert _connections(portal, CLIENT) == [(FIRM, "accounting", None)]


def test_expired_used_and_unknown_links_say_so(portal: PortalSite) -> None:
    _start_disconnection(portal)
    [link] = _links(portal, SARA)
    portal.clock.advance(days=7)  # exactly at the deadline: expired
    shown = portal.client().get(link)
    assert shown.status_code == 410
    assert "Förfrågan har gått ut: den gällde till den 10 december 2026 klockan 10:00" in (
        shown.text
    )
    late = portal.client().post(f"{link}/godkann")
    assert "har gått ut" in portal.client().get(late.headers["location"]).text
    assert _connections(portal, CLIENT) == [(FIRM, "accounting", None)]
    assert "Inga förfrågningar väntar på svar." in portal.signed_in(ANNA).get(FIRM_REQUESTS).text

    unknown = portal.client().get("/mina-sidor/forfragan/not-a-real-token")
    assert unknown.status_code == 404 and "Länken är inte giltig" in unknown.text
    assert unknown.headers["referrer-policy"] == "same-origin"
    assert portal.client().get("/mina-sidor/inbjudan/nope").status_code == 404


def test_a_used_link_shows_what_was_done(portal: PortalSite) -> None:
    _start_disconnection(portal)
    [link] = _links(portal, SARA)
    client = portal.client()
    client.post(f"{link}/godkann")
    again = client.get(link)
    assert again.status_code == 200
    assert "godkänd av Sara Nyström" in again.text and "Godkänn" not in again.text


# -- the lists ---------------------------------------------------------------------------------


def test_the_client_lists_what_waits_and_its_admin_opens_it(portal: PortalSite) -> None:
    _start_disconnection(portal)
    fia = portal.signed_in(FIA)
    listed = fia.get(CLIENT_REQUESTS).text
    assert _e(COMPANY_NAMES[FIRM]) in listed and "Öppna" not in listed
    sara = portal.signed_in(SARA)
    page = sara.get(CLIENT_REQUESTS).text
    assert "Bortkoppling" in page and "10 december 2026 klockan 10:00" in page
    [request] = _requests(portal)
    status, location, _ = _post(sara, f"{CLIENT_REQUESTS}/{request.id}/oppna")
    assert status == 303 and location.startswith("/mina-sidor/forfragan/")
    assert "Godkänn bortkopplingen" in sara.get(location).text
    status, _, _ = _post(fia, f"{CLIENT_REQUESTS}/{request.id}/oppna")
    assert status == 403


def test_only_the_firms_sysadmin_starts_and_only_for_its_clients(portal: PortalSite) -> None:
    for email in (KARIN, PER):
        assert portal.signed_in(email).get(DISCONNECT).status_code == 403
    assert portal.signed_in(BO).get(DISCONNECT).status_code == 404
    anna = portal.signed_in(ANNA)
    not_ours = anna.get(f"/mina-sidor/byra/{FIRM}/klienter/{LONE}/koppla-bort")
    unknown = anna.get(f"/mina-sidor/byra/{FIRM}/klienter/556000-1249/koppla-bort")
    assert not_ours.status_code == unknown.status_code == 404
    assert not_ours.text == unknown.text
    assert anna.post(DISCONNECT, data={"csrf": "wrong"}).status_code == 403
    assert _requests(portal) == []
    assert portal.signed_in(KARIN).get(FIRM_REQUESTS).status_code == 200  # reading is fine
    with Session(portal.engine) as session:
        assert session.exec(select(func.count()).select_from(DigitalRequest)).one() == 0


def test_the_paper_form_opens_filled_in_on_the_public_page(portal: PortalSite) -> None:
    page = portal.signed_in(ANNA).get(f"/mina-sidor/byra/{FIRM}/klienter/{NOADMIN}/koppla-bort")
    start = page.text.index('action="/blankett/bortkoppling"')
    form = page.text[start : page.text.index("</form>", start)]
    values = {n: html.unescape(v) for n, v in re.findall(r'name="(\w+)" value="([^"]*)"', form)}
    assert values["action"] == "lookup"
    with TestClient(make_app(portal.engine)) as public:
        filled = public.post("/blankett/bortkoppling", data=values)
    assert filled.status_code == 200
    assert f"Företaget hittades: {COMPANY_NAMES[NOADMIN]}" in filled.text
    for name in ("client_orgnr", "client_subscription", "firm_orgnr", "firm_signatory_name"):
        assert f'value="{html.escape(values[name])}"' in filled.text, name
