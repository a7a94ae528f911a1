"""The demo's mail page: what the demo would have mailed, readable in the browser.

Only when the composition root turns it on (`kopplingar demo`): the demo has
no mail server, so its sign-in links, requests and confirmations are read
here instead of in an inbox. It lists the outbox newest first, with each
mail's links clickable. Never on in production: it shows everyone's mail.
"""

from __future__ import annotations

import re

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup, escape
from sqlmodel import Session, col, select

from portal.web_common import PREFIX, Kit
from workqueue import OutboundMail

LIMIT = 100
_URL = re.compile(r"https?://[^\s<>\"]+")


def linked(body: str) -> Markup:
    """The mail's text, escaped, with its addresses as links."""
    out: list[str] = []
    last = 0
    for match in _URL.finditer(body):
        out.append(str(escape(body[last : match.start()])))
        url = escape(match.group(0))
        out.append(f'<a href="{url}">{url}</a>')
        last = match.end()
    out.append(str(escape(body[last:])))
    return Markup("".join(out))


def add_routes(router: APIRouter, kit: Kit) -> None:
    @router.get(f"{PREFIX}/demo-post", response_class=HTMLResponse)
    def demo_mail(to: str = "", session: Session = Depends(kit.db)) -> Response:
        query = select(OutboundMail).order_by(col(OutboundMail.id).desc()).limit(LIMIT)
        if to.strip():
            query = query.where(col(OutboundMail.recipient) == to.strip().lower())
        mails = session.exec(query).all()
        return kit.render(
            "demo_mail.html",
            customer=None,
            headers={"Referrer-Policy": "no-referrer"},
            mails=[(m, linked(m.body)) for m in mails],
            to=to.strip(),
        )
