"""The sign-in pages: ask for a link, open it, sign out; and the start page.

Asking for a link always answers with the same page, at once: the lookup,
the link and its mail happen in a background task after the answer is sent
(`portal.signin` says why). Requests are rate limited per client address and
per e-mail address before anything else, so the limit says nothing about
the registry either.
"""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, BackgroundTasks, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session

from portal.signin import (
    Customer,
    check_sign_in_link,
    end_customer_session,
    issue_sign_in_link,
    normalised_email,
    use_sign_in_link,
)
from portal.web_common import (
    PREFIX,
    Kit,
    Posted,
    cookie_name,
    delete_session_cookie,
    safe_next,
    set_session_cookie,
)
from registry import LinkStatus
from render.ratelimit import address_key, retry_after_header

# Link pages carry a token in their address: it must not leak through a Referer.
TOKEN_PAGE_HEADERS = {"Referrer-Policy": "no-referrer"}


def _minutes(kit: Kit) -> int:
    return int(kit.pages.policy.link_lifetime / dt.timedelta(minutes=1))


def send_sign_in_link(kit: Kit, email: str, next_path: str) -> None:
    """The background half of a sign-in request: a link to a person on record, else nothing."""
    now = kit.now()
    with Session(kit.pages.engine) as session:
        issued = issue_sign_in_link(session, email, now=now, policy=kit.pages.policy)
        if issued is None:
            return
        person, token = issued
        path = f"{PREFIX}/logga-in/lank/{token}"
        if next_path != PREFIX + "/":
            path += "?next=" + next_path
        kit.mail(
            session,
            to=person.email,
            template="sign_in_link",
            context={
                "name": person.name,
                "link": kit.link(path),
                "minutes": _minutes(kit),
                "valid_until": now + kit.pages.policy.link_lifetime,
            },
        )
        session.commit()


def add_routes(router: APIRouter, kit: Kit) -> None:
    @router.get(f"{PREFIX}/logga-in", response_class=HTMLResponse)
    def sign_in_page(
        request: Request, me: Customer | None = Depends(kit.maybe_customer)
    ) -> Response:
        next_path = safe_next(request.query_params.get("next"))
        if me is not None:
            return RedirectResponse(next_path, status_code=303)
        return kit.render("signin.html", customer=None, next=next_path, email="", error=None)

    @router.post(f"{PREFIX}/logga-in", response_class=HTMLResponse)
    def ask_for_link(
        request: Request, background: BackgroundTasks, data: dict[str, str] = Depends(kit.form)
    ) -> Response:
        typed = data.get("email", "").strip()
        next_path = safe_next(data.get("next"))
        email = normalised_email(typed)
        if email is None:
            return kit.render(
                "signin.html",
                customer=None,
                status=400,
                next=next_path,
                email=typed[:254],
                error="Skriv en e-postadress, till exempel namn@foretag.se.",
            )
        wait = kit.pages.limiter.hit(
            [address_key(kit.pages.client_key(request)), f"signin:{email}"]
        )
        if wait:
            minutes = max(1, round(wait / 60))
            return kit.render(
                "signin.html",
                customer=None,
                status=429,
                next=next_path,
                email=typed[:254],
                error=f"Du har bett om många länkar på kort tid. Försök igen om ungefär "
                f"{minutes} minut{'er' if minutes != 1 else ''}.",
                headers={"Retry-After": retry_after_header(wait)},
            )
        background.add_task(send_sign_in_link, kit, email, next_path)
        return kit.render("signin_sent.html", customer=None, minutes=_minutes(kit))

    @router.get(f"{PREFIX}/logga-in/lank/{{token}}", response_class=HTMLResponse)
    def link_page(token: str, request: Request, session: Session = Depends(kit.db)) -> Response:
        status = check_sign_in_link(session, token, kit.now())
        return kit.render(
            "signin_link.html",
            customer=None,
            status=200 if status is LinkStatus.VALID else 410,
            headers=TOKEN_PAGE_HEADERS,
            token=token,
            next=safe_next(request.query_params.get("next")),
            minutes=_minutes(kit),
            link_status=status.value,
        )

    @router.post(f"{PREFIX}/logga-in/lank/{{token}}", response_class=HTMLResponse)
    def use_link_(
        token: str,
        request: Request,
        data: dict[str, str] = Depends(kit.form),
        session: Session = Depends(kit.db),
    ) -> Response:
        status, cookie = use_sign_in_link(session, token, now=kit.now())
        if cookie is None:
            session.rollback()
            return kit.render(
                "signin_link.html",
                customer=None,
                status=410,
                headers=TOKEN_PAGE_HEADERS,
                token=token,
                next=PREFIX + "/",
                minutes=_minutes(kit),
                link_status=status.value,
            )
        session.commit()
        response = RedirectResponse(safe_next(data.get("next")), status_code=303)
        set_session_cookie(response, kit.pages, request, cookie)
        response.headers["Referrer-Policy"] = "no-referrer"
        return response

    @router.post(f"{PREFIX}/logga-ut")
    def sign_out(
        request: Request, p: Posted = Depends(kit.posted), session: Session = Depends(kit.db)
    ) -> Response:
        end_customer_session(session, request.cookies.get(cookie_name(kit.pages, request)),
                             now=kit.now())  # fmt: skip
        session.commit()
        response = RedirectResponse(f"{PREFIX}/logga-in", status_code=303)
        delete_session_cookie(response, kit.pages, request)
        del p
        return response

    @router.get(f"{PREFIX}/", response_class=HTMLResponse)
    def start(me: Customer = Depends(kit.customer)) -> Response:
        return kit.render("start.html", customer=me)

    @router.get(PREFIX, include_in_schema=False)
    def start_without_slash() -> Response:
        return RedirectResponse(f"{PREFIX}/", status_code=308)
