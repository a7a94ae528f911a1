"""Reviewer management, the registry pages and the audit log page."""

from __future__ import annotations

import datetime as dt
import html
import re

from sqlmodel import col, select

from registry import AuditEvent, Company, Connection, record_event
from tests.review.test_pages import (
    PASSWORD,
    Site,
    csrf_of,
    dual_values,
    login,
    site_fixture,  # noqa: F401 - the `site` fixture
)
from workqueue import Reviewer


def test_an_admin_adds_a_reviewer_who_can_then_log_in(site: Site) -> None:
    admin = site.logged_in("admin")
    csrf = csrf_of(admin)
    weak = admin.post(
        "/granskning/granskare",
        data={"csrf": csrf, "name": "Cecilia", "email": "cecilia@backoffice.example",
              "role": "reviewer", "password": "kort"},
    )  # fmt: skip
    assert weak.status_code == 422
    assert "Lösenordet måste ha minst" in weak.text
    assert 'value="cecilia@backoffice.example"' in weak.text  # kept, except the password
    assert "kort" not in re.sub(r"<[^>]+>", "", weak.text.split("Lägg till granskare")[1])
    added = admin.post(
        "/granskning/granskare",
        data={"csrf": csrf, "name": "Cecilia", "email": "Cecilia@Backoffice.example",
              "role": "reviewer", "password": PASSWORD},
    )  # fmt: skip
    assert added.status_code == 303
    with site.session() as s:
        cecilia = s.exec(
            select(Reviewer).where(Reviewer.email == "cecilia@backoffice.example")
        ).one()
        assert cecilia.role == "reviewer" and cecilia.active
    assert "Cecilia" in admin.get("/granskning/granskare").text
    client = site.client()
    assert login(client, "cecilia@backoffice.example", PASSWORD).status_code == 303
    # The admin chose that password: Cecilia is sent to choose her own before anything else.
    forced = client.get("/granskning/granskare")
    assert forced.status_code == 303
    assert forced.headers["location"] == "/granskning/konto/losenord"
    again = admin.post(
        "/granskning/granskare",
        data={"csrf": csrf, "name": "C2", "email": "cecilia@backoffice.example",
              "role": "admin", "password": PASSWORD},
    )  # fmt: skip
    assert again.status_code == 422 and "Det finns redan" in again.text


def test_an_admin_disables_and_enables_but_never_themselves(site: Site) -> None:
    admin = site.logged_in("admin")
    csrf = csrf_of(admin)
    me = site.reviewer("admin")
    own = admin.post(f"/granskning/granskare/{me.id}/inaktivera", data={"csrf": csrf})
    assert own.status_code == 409
    assert site.reviewer("admin").active
    bob = site.reviewer("bob")
    assert (
        admin.post(f"/granskning/granskare/{bob.id}/inaktivera", data={"csrf": csrf}).status_code
        == 303
    )
    assert not site.reviewer("bob").active
    assert "Inaktiverad" in admin.get("/granskning/granskare").text
    assert (
        admin.post(f"/granskning/granskare/{bob.id}/aktivera", data={"csrf": csrf}).status_code
        == 303
    )
    assert site.reviewer("bob").active
    assert (
        admin.post("/granskning/granskare/999999/aktivera", data={"csrf": csrf}).status_code == 404
    )


def test_registry_pages_show_a_firms_clients_and_a_clients_firms_with_history(
    site: Site,
) -> None:
    client = site.logged_in("alice")
    values = dual_values()
    firm_orgnr = values["current_firm_orgnr"]
    with site.session() as s:
        firm = s.exec(select(Company).where(Company.orgnr == firm_orgnr)).one()
        rows = s.exec(
            select(Connection, Company)
            .join(Company, col(Company.id) == col(Connection.client_id))
            .where(Connection.firm_id == firm.id)
        ).all()
        # One of the firm's connections ended: it must still be listed, as history.
        ended_conn, ended_client = rows[0]
        ended_conn.until = dt.date(2026, 1, 31)
        s.add(ended_conn)
        s.commit()
        names = {c.name for _, c in rows}
    page = client.get(f"/granskning/register/{firm_orgnr}")
    assert page.status_code == 200
    text = html.unescape(page.text)
    clients_table = text.split('id="clients"')[1].split("</table>")[0]
    for name in names:
        assert name in clients_table
    ended_row = re.search(
        rf'<tr class="ended">\s*<td><a href="/granskning/register/{ended_client.orgnr}">',
        page.text,
    )
    assert ended_row
    assert "2026-01-31" in clients_table

    own = client.get(f"/granskning/register/{ended_client.orgnr}")
    firms_table = html.unescape(own.text).split('id="firms"')[1].split("</table>")[0]
    assert firm.name in firms_table and "2026-01-31" in firms_table
    assert 'id="clients"' not in own.text  # a client has no client list

    assert client.get("/granskning/register/556000-0000").status_code == 404
    assert client.get("/granskning/register/inte-ett-nummer").status_code == 404


def test_the_audit_log_filters_and_pages_newest_first(site: Site) -> None:
    with site.session() as s:
        for i in range(60):
            record_event(
                s,
                actor="alice@backoffice.example" if i % 2 else "bob@backoffice.example",
                action="connection.created" if i % 3 else "payer.changed",
                subject=f"connection:{i}",
                after={"n": i},
                detail=f"händelse {i}",
            )
        s.commit()
        # Alice is no admin: the security events (her own login, say) are not hers to see.
        cases = col(AuditEvent.action).not_like("security.%")
        newest_first = [
            e.id
            for e in s.exec(select(AuditEvent).where(cases).order_by(col(AuditEvent.id).desc()))
        ]
    client = site.logged_in("alice")
    page = client.get("/granskning/logg")
    assert page.status_code == 200
    assert '<option value="payer.changed"' in page.text

    def listed(text: str) -> list[str]:
        found = re.findall(r'class="audit-event" data-action="[^"]*" data-subject="([^"]*)"', text)
        return [html.unescape(subject) for subject in found]

    seen: list[str] = []
    response = page
    while True:
        seen.extend(listed(response.text))
        link = re.search(r'<a href="([^"]+)" rel="next" id="next-page">', response.text)
        if link is None:
            break
        response = client.get(html.unescape(link.group(1)))
    with site.session() as s:
        subjects = {e.id: e.subject for e in s.exec(select(AuditEvent))}
    assert seen == [subjects[i] for i in newest_first]

    filtered = client.get(
        "/granskning/logg",
        params={"action": "payer.changed", "actor": "bob@backoffice.example"},
    )
    expected = [f"connection:{i}" for i in range(59, -1, -1) if i % 3 == 0 and i % 2 == 0]
    assert listed(filtered.text) == expected
    one = client.get("/granskning/logg", params={"subject": "connection:7"})
    assert listed(one.text) == ["connection:7"]
    assert client.get("/granskning/logg", params={"actor": "x" * 500}).status_code == 400
