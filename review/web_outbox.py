"""The outbox page: every mail the product sends, one mail's preview, and "send again".

`/granskning/utkorg` lists the outbox (`workqueue.outbox_rows`) newest first,
50 a page, one state at a time or all, with a count per state. Paging is by
keyset: the "Nästa sida" link carries the last row's (created_at, id) as a
`web_keyset.Key`, so page 2,000 costs what page 1 costs. A row says what
kind of mail it is, to whom, when it was queued and sent, how many attempts
it took and, for one that did not go out, why, in Swedish; it links to the
submission it concerns.

`/granskning/utkorg/{id}` previews one mail as it is (or will be) sent: the
headers the deliverer builds, the plain-text body exactly (autoescaped), the
attachments (none today: our mails are plain text), and its history: queued,
attempts, the last error (Swedish, the server's own words behind a toggle),
and every resend from the audit log. Recipients and bodies are personal
data, so it is reviewer-only and `no-store`, like every reviewer page.

`POST /granskning/utkorg/{id}/skicka-igen` (with the CSRF token) puts a
failed mail back in the outbox, or sends a suppressed one anyway
(`workqueue.resend_mail`, audited); the next delivery pass sends it. A sent
or pending mail is refused with a Swedish 409, and the page says why before
anyone tries. "Skicka ändå" is only on the preview: a reviewer overrides the
limit on automatic replies for one mail, having seen the mail and why it was
held back.
"""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session

from review.web_common import (
    MAX_ROW_ID,
    PREFIX,
    Kit,
    OptionalRowId,
    PageError,
    Posted,
    RowId,
    Viewer,
    query,
)
from review.web_keyset import Key
from review.web_quarantine import file_size
from workqueue import (
    OUTBOX_COUNT_CAP,
    RESEND_ACTION,
    SEND_ANYWAY_ACTION,
    OutboxCursor,
    OutboxState,
    ResendRefused,
    mail_history,
    mail_problem_sv,
    mail_reference,
    message_reference,
    outbox_counts,
    outbox_row,
    outbox_rows,
    preview_mail,
    resend_mail,
)

PAGE_SIZE = 50
BASE = f"{PREFIX}/utkorg"

# Query value -> (tab label, state); "alla" is every state.
VIEWS: dict[str, tuple[str, OutboxState | None]] = {
    "alla": ("Alla", None),
    "vantar": ("Väntar", OutboxState.PENDING),
    "skickade": ("Skickade", OutboxState.SENT),
    "misslyckade": ("Misslyckade", OutboxState.FAILED),
    "sparrade": ("Spärrade", OutboxState.SUPPRESSED),
}
# One mail's state, as its badge says it.
STATE_LABELS = {
    OutboxState.PENDING: "Väntar",
    OutboxState.SENT: "Skickat",
    OutboxState.FAILED: "Misslyckades",
    OutboxState.SUPPRESSED: "Spärrat",
}
RESENDABLE = (OutboxState.FAILED, OutboxState.SUPPRESSED)
# The headers the preview names first, in Swedish; the rest are under "Alla rubriker".
MAIN_HEADERS = {
    "From": "Från",
    "To": "Till",
    "Subject": "Ämne",
    "Message-ID": "Message-ID",
    "In-Reply-To": "Svar på (In-Reply-To)",
}


def encode_cursor(cursor: OutboxCursor) -> str:
    return Key(0, cursor).encode()


def parse_cursor(text: str) -> OutboxCursor | None:
    """The position in a "next page" link, or None when it is not one of ours."""
    key = Key.decode(text)
    if key is None or key.segment != 0 or len(key.values) != 2:
        return None
    at, ident = key.values
    if not isinstance(at, dt.datetime) or type(ident) is not int:
        return None
    if not 1 <= ident <= MAX_ROW_ID or not 1970 <= at.year <= 9998:
        return None
    return (at, ident)


def count_text(n: int) -> str:
    """A state's count as the tab shows it ("över 10 000" beyond the cap)."""
    if n > OUTBOX_COUNT_CAP:
        return f"över {OUTBOX_COUNT_CAP:,}".replace(",", "\N{NO-BREAK SPACE}")
    return f"{n:,}".replace(",", "\N{NO-BREAK SPACE}")


def add_outbox_routes(router: APIRouter, kit: Kit) -> None:
    def list_page(
        session: Session,
        me: Viewer,
        *,
        view: str,
        after: OutboxCursor | None,
        notice: str = "",
    ) -> HTMLResponse:
        state = VIEWS[view][1]
        rows = outbox_rows(session, state=state, after=after, limit=PAGE_SIZE + 1)
        more = len(rows) > PAGE_SIZE
        rows = rows[:PAGE_SIZE]
        counts = outbox_counts(session)
        total = sum(counts.values())
        tabs = [
            (
                code,
                label,
                count_text(total if s is None else counts[s]),
                # Misslyckade is what needs a person: it stands out while there is any.
                s is OutboxState.FAILED and counts[s] > 0,
            )
            for code, (label, s) in VIEWS.items()
        ]
        next_url = (
            query(BASE, visa=_visa(view), after=encode_cursor(rows[-1].cursor)) if more else None
        )
        return kit.render(
            "outbox.html",
            viewer=me,
            view=view,
            tabs=tabs,
            rows=rows,
            states=STATE_LABELS,
            resendable=RESENDABLE,
            next_url=next_url,
            first_url=query(BASE, visa=_visa(view)),
            paged=after is not None,
            notice=notice,
        )

    @router.get("/utkorg", response_class=HTMLResponse)
    def outbox_page(
        visa: str = "alla",
        after: str = "",
        klart: OptionalRowId = None,
        me: Viewer = Depends(kit.viewer),
        session: Session = Depends(kit.db),
    ) -> HTMLResponse:
        cursor = parse_cursor(after) if after else None
        if after and cursor is None:
            raise PageError(400, "Länken till nästa sida är felaktig. Börja om från första sidan.")
        notice = (
            f"Mejl {mail_reference(klart)} ligger i utkorgen igen och skickas vid nästa utskick."
            if klart is not None
            else ""
        )
        return list_page(
            session, me, view=visa if visa in VIEWS else "alla", after=cursor, notice=notice
        )

    def mail_page(
        session: Session,
        me: Viewer,
        mail_id: int,
        *,
        notice: str = "",
        error: str = "",
        status: int = 200,
    ) -> HTMLResponse:
        row = outbox_row(session, mail_id)
        if row is None:
            raise PageError(404, "Mejlet finns inte i utkorgen.")
        mail = row.mail
        sender = kit.pages.mailbox_address
        preview = preview_mail(mail, sender=sender or f"kopplingar@{kit.pages.sender_domain}")
        headers = [(n, v) for n, v in preview.headers if n != "From" or sender]
        main = [(MAIN_HEADERS[n], v) for n, v in headers if n in MAIN_HEADERS]
        events = [
            (
                e.at,
                e.actor,
                "Skickades ändå" if e.action == SEND_ANYWAY_ACTION else "Skickades igen",
                e.detail,
                mail_problem_sv(str((e.before or {}).get("last_error") or "")),
                (e.before or {}).get("attempts"),
            )
            for e in mail_history(session, mail_id)
            if e.action in (RESEND_ACTION, SEND_ANYWAY_ACTION)
        ]
        return kit.render(
            "outbox_mail.html",
            viewer=me,
            status=status,
            row=row,
            mail=mail,
            state_label=STATE_LABELS[mail.state],
            resendable=mail.state in RESENDABLE,
            main_headers=main,
            all_headers=headers,
            sender_known=bool(sender),
            preview=preview,
            events=events,
            inbound_ref=(
                message_reference(mail.inbound_message_id) if mail.inbound_message_id else None
            ),
            size=file_size,
            notice=notice,
            error=error,
        )

    @router.get("/utkorg/{mail_id}", response_class=HTMLResponse)
    def outbox_mail(
        mail_id: RowId,
        klart: str = "",
        me: Viewer = Depends(kit.viewer),
        session: Session = Depends(kit.db),
    ) -> HTMLResponse:
        notice = (
            f"Mejl {mail_reference(mail_id)} ligger i utkorgen igen och skickas vid nästa utskick."
            if klart == "1"
            else ""
        )
        return mail_page(session, me, mail_id, notice=notice)

    @router.post("/utkorg/{mail_id}/skicka-igen", response_model=None)
    def resend(
        mail_id: RowId, p: Posted = Depends(kit.posted), session: Session = Depends(kit.db)
    ) -> Response:
        try:
            resend_mail(session, mail_id, reviewer_id=p.viewer.id, now=kit.now())
        except ResendRefused as exc:
            session.rollback()
            if exc.missing:
                raise PageError(404, exc.message) from None
            return mail_page(session, p.viewer, mail_id, error=exc.message, status=409)
        session.commit()
        if p.get("fran") == "lista":
            view = p.get("visa")
            target = query(BASE, visa=_visa(view if view in VIEWS else "alla"), klart=mail_id)
        else:
            target = query(f"{BASE}/{mail_id}", klart=1)
        return RedirectResponse(target, status_code=303)


def _visa(view: str) -> str:
    return "" if view == "alla" else view
