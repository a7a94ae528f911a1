"""The registry pages (every reviewer): the search and one company.

`/granskning/register?q=...` is one search box for companies (by
organisationsnummer however it is typed, subscription number, or part of
the name) and people (by name or e-mail, with their roles at companies).
The rules are `registry.search_registry`; a whole organisationsnummer or
subscription number that names one company goes straight to its page.

`/granskning/register/{orgnr}` is what the registry says about one company
now, with history: subscriptions and who pays them now and later, people
and roles, the firms it is connected to, for a firm its client list, the
forms issued naming it (and whether each came back) and the submissions
naming it. The detail page links here for every party of a form.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session

from registry import (
    CompanyKind,
    NotFound,
    RegistryError,
    client_connections,
    company_view,
    firm_clients,
    issued_forms_concerning,
    search_registry,
)
from review.web_common import PREFIX, Kit, PageError, Viewer
from workqueue import submissions_concerning, submissions_for_forms

RESULT_LIMIT = 50
COMPANY_LIST_LIMIT = 50


def add_registry_routes(router: APIRouter, kit: Kit) -> None:
    @router.get("/register", response_model=None)
    def search_page(
        q: str = "", me: Viewer = Depends(kit.viewer), session: Session = Depends(kit.db)
    ) -> Response:
        found = search_registry(session, q, limit=RESULT_LIMIT)
        if found.exact is not None:
            return RedirectResponse(f"{PREFIX}/register/{found.exact.orgnr}", status_code=303)
        return kit.render("register.html", viewer=me, found=found)

    @router.get("/register/{orgnr}", response_class=HTMLResponse)
    def company_page(
        orgnr: str, me: Viewer = Depends(kit.viewer), session: Session = Depends(kit.db)
    ) -> HTMLResponse:
        today = kit.now().date()
        try:
            view = company_view(session, orgnr, on=today)
        except NotFound:
            raise PageError(404, f"{orgnr} finns inte i registret.") from None
        except RegistryError:
            raise PageError(404, f"”{orgnr}” är inte ett organisationsnummer.") from None
        canonical = view.company.orgnr
        clients = (
            firm_clients(session, canonical, on=today)
            if CompanyKind(view.company.kind).is_firm
            else None
        )
        forms, forms_total = issued_forms_concerning(
            session, canonical, limit=COMPANY_LIST_LIMIT
        )
        submissions, submissions_total = submissions_concerning(
            session, canonical, limit=COMPANY_LIST_LIMIT
        )
        return kit.render(
            "company.html",
            viewer=me,
            v=view,
            links=client_connections(session, canonical, on=today),
            clients=clients,
            forms=forms,
            forms_total=forms_total,
            returned=submissions_for_forms(session, (f.id for f in forms)),
            submissions=submissions,
            submissions_total=submissions_total,
        )
