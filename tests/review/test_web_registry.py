"""The registry pages: the search, its redirects, and one company's page with all its sections."""

from __future__ import annotations

import html
import re

from sqlmodel import col, select

from forms import display_form_id, new_form_id
from registry import Company, CompanyKind, Person, Role, RoleKind, Subscription, record_issued_form
from review.web_common import PERSON_ROLES
from tests.review.test_pages import (
    Site,
    dual_values,
    site_fixture,  # noqa: F401 - the `site` fixture
)
from workqueue import Submission


def text_of(page: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


def test_the_search_page_needs_a_login_and_starts_empty(site: Site) -> None:
    anonymous = site.client().get("/granskning/register?q=AB")
    assert anonymous.status_code == 303
    assert anonymous.headers["location"].startswith("/granskning/logga-in")
    page = site.logged_in("alice").get("/granskning/register")
    assert page.status_code == 200
    assert 'name="q"' in page.text and 'id="companies"' not in page.text
    assert page.headers["cache-control"] == "no-store"


def test_a_whole_orgnr_or_subscription_goes_straight_to_the_company(site: Site) -> None:
    client = site.logged_in("alice")
    values = dual_values()
    orgnr = values["client_orgnr"]
    for typed in (orgnr, orgnr.replace("-", ""), f"16{orgnr}", values["client_subscription"]):
        response = client.get("/granskning/register", params={"q": typed})
        assert response.status_code == 303, typed
        assert response.headers["location"] == f"/granskning/register/{orgnr}"


def test_a_name_search_lists_companies_and_people_with_links_and_counts(site: Site) -> None:
    client = site.logged_in("alice")
    with site.session() as s:
        for n in range(55):
            s.add(Company(orgnr=f"556{n:03d}-000{n % 10}", name=f"Öbergs Åkeri {n:02d} AB",
                          kind=CompanyKind.CLIENT))  # fmt: skip
        s.commit()
        first = s.exec(select(Company).where(Company.name == "Öbergs Åkeri 00 AB")).one()
    page = client.get("/granskning/register", params={"q": "öbergs åkeri"})
    assert page.status_code == 200
    text = text_of(page.text)
    assert "visar 50 av 55" in text
    assert f'href="/granskning/register/{first.orgnr}"' in page.text
    assert page.text.count('href="/granskning/register/556') == 50
    assert 'value="öbergs åkeri"' in page.text  # the box keeps what was typed

    nothing = client.get("/granskning/register", params={"q": "finns-inte-alls"})
    assert nothing.status_code == 200
    assert "Inget i registret matchar ”finns-inte-alls”" in text_of(nothing.text)

    wrong = client.get("/granskning/register", params={"q": "556123-4568"})
    assert wrong.status_code == 200 and "Kontrollsiffran" in text_of(wrong.text)


def test_a_person_by_e_mail_with_links_to_their_companies(site: Site) -> None:
    client = site.logged_in("alice")
    with site.session() as s:
        person, role, company = s.exec(
            select(Person, Role, Company)
            .join(Role, col(Role.person_id) == col(Person.id))
            .join(Company, col(Company.id) == col(Role.company_id))
            .order_by(col(Role.id))
        ).first()  # type: ignore[misc]
    page = client.get("/granskning/register", params={"q": person.email.upper()})
    assert page.status_code == 200
    people = page.text.split('id="people"')[1]
    assert html.escape(person.name) in people
    assert f'href="/granskning/register/{company.orgnr}"' in people
    label = PERSON_ROLES[RoleKind(role.role).value]
    # One line per company, every role there: "systemadministratör och firmatecknare på ...".
    assert re.search(
        rf'<span class="role">[^<]*\b{label}\b[^<]* på <a href="/granskning/register/'
        rf'{company.orgnr}">',
        people,
    )


def test_names_from_the_registry_are_escaped(site: Site) -> None:
    client = site.logged_in("alice")
    evil = '<script>alert("x")</script> & Söner AB'
    with site.session() as s:
        company = Company(orgnr="556999-0004", name=evil, kind=CompanyKind.CLIENT)
        s.add(company)
        s.flush()
        person = Person(name='<img src=x onerror="y">', email="evil@exempel.example")
        s.add(person)
        s.flush()
        assert company.id is not None and person.id is not None
        s.add(Role(person_id=person.id, company_id=company.id, role=RoleKind.CONSULTANT))
        s.commit()
    for page in (
        client.get("/granskning/register", params={"q": "<script>"}),
        client.get("/granskning/register", params={"q": "evil@"}),
        client.get("/granskning/register/556999-0004"),
    ):
        assert page.status_code == 200
        assert "<script>alert" not in page.text and "<img src=x" not in page.text
    company_page = client.get("/granskning/register/556999-0004").text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; Söner AB" in company_page
    query_page = client.get("/granskning/register", params={"q": '"><b>x'}).text
    assert '"><b>x' not in query_page and "&#34;&gt;&lt;b&gt;x" in query_page


def test_the_company_page_shows_forms_issued_and_submissions_about_it(site: Site) -> None:
    client = site.logged_in("alice")
    values = dual_values()
    orgnr = values["client_orgnr"]
    came_back, waiting = new_form_id(), new_form_id()
    with site.session() as s:
        for form_id in (came_back, waiting):
            record_issued_form(
                s, form_id=form_id, kind="dual", version="2026.1", values=values,
                signatories={}, source="test",
            )  # fmt: skip
        submission = s.get(Submission, site.ids["dual"])
        assert submission is not None
        submission.form_id = came_back
        s.add(submission)
        subscription = s.exec(
            select(Subscription).where(Subscription.number == values["client_subscription"])
        ).one()
        s.commit()
    page = client.get(f"/granskning/register/{orgnr}")
    assert page.status_code == 200
    issued = page.text.split('id="forms"')[1].split("</table>")[0]
    assert display_form_id(came_back) in issued and display_form_id(waiting) in issued
    assert "Dubbelsammankoppling" in issued
    row = issued.split(display_form_id(came_back))[1].split("</tr>")[0]
    assert f'href="/granskning/{site.ids["dual"]}"' in row and "i kön" in row
    assert "inte ännu" in issued.split(display_form_id(waiting))[1].split("</tr>")[0]

    cases = page.text.split('id="submissions"')[1].split("</table>")[0]
    # Both dual submissions of the site name this client; the disconnection does not.
    assert f'href="/granskning/{site.ids["dual"]}"' in cases
    assert f'href="/granskning/{site.ids["blocking"]}"' in cases
    assert f'href="/granskning/{site.ids["disconnect"]}"' not in cases
    assert "I kön" in cases

    subscriptions = text_of(page.text.split('id="subscriptions"')[1].split("</table>")[0])
    assert subscription.number in subscriptions
    assert "Betalas nu av" in subscriptions
    assert 'id="firms"' in page.text and 'id="people"' in page.text
    assert values["current_firm_name"] in text_of(page.text.split('id="firms"')[1])


def test_a_company_without_forms_or_submissions_says_so(site: Site) -> None:
    client = site.logged_in("alice")
    with site.session() as s:
        s.add(Company(orgnr="556999-0004", name="Tysta Bolaget AB", kind=CompanyKind.CLIENT))
        s.commit()
    text = text_of(client.get("/granskning/register/5569990004").text)
    assert "Inga blanketter utfärdade med 556999-0004." in text
    assert "Inga ärenden nämner 556999-0004." in text
    assert "Inga abonnemang." in text


def test_a_persons_roles_at_one_company_are_one_line(site: Site) -> None:
    client = site.logged_in("alice")
    with site.session() as s:
        company = s.exec(select(Company).where(Company.kind == CompanyKind.CLIENT)).first()
        assert company is not None and company.id is not None
        person = Person(name="Märta Öberg", email="marta.oberg@exempel.example")
        s.add(person)
        s.flush()
        assert person.id is not None
        for role in (RoleKind.FIRMATECKNARE, RoleKind.SYSADMIN):
            s.add(Role(person_id=person.id, company_id=company.id, role=role))
        s.commit()
        name = company.name
    page = client.get("/granskning/register", params={"q": "MÄRTA ÖBERG"})
    roles = text_of(page.text.split('id="people"')[1])
    assert re.search(rf"systemadministratör och firmatecknare på\s+{re.escape(name)}", roles)
    assert roles.count(name) == 1
