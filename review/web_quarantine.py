"""The quarantine page: what the mailbox set aside, its raw mail, and an admin's "try again".

`/granskning/karantan` shows one of two lists at a time, 50 rows a page,
newest first, paged by id (`before`, like the audit log): the quarantined
messages and the rejected attachments (of messages in any state). Every row
says why in Swedish (`workqueue.reasons`), never the stored English detail.
Subjects and file names come from the sender: Jinja autoescapes them, and
they are never used as a path or a file name; the download is named by our
own reference.

`/granskning/karantan/{id}/meddelande.eml` sends the raw message from the
mailbox's content store (by the sha256 in the row, never a path from the
request) to logged-in reviewers, as a `message/rfc822` attachment that is
not cached, and only for a message the page lists.

`POST /granskning/karantan/{id}/forsok-igen` (admins, with the CSRF token)
releases a quarantined message for one more try (`workqueue.release_message`,
audited); a refusal is a Swedish message with 404 or 409.
"""

from __future__ import annotations

import re

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session

from review.web_common import PREFIX, Kit, PageError, Posted, Viewer, query
from workqueue import (
    QueueError,
    ReleaseRefused,
    file_kind,
    message_reference,
    quarantine_counts,
    quarantined_messages,
    rejected_attachments,
    release_message,
    viewable_message,
)

PAGE_SIZE = 50
VIEWS = {"meddelanden": "Meddelanden i karantän", "bilagor": "Avvisade bilagor"}
_ID = re.compile(r"^[1-9][0-9]{0,17}$")  # below 2**63: every database's integer


def _row_id(text: str | None, what: str) -> int | None:
    """A positive id from the request, or None when absent; anything else is a 4xx."""
    if text is None or text == "":
        return None
    if not _ID.match(text):
        raise PageError(404 if what == "path" else 400, "Adressen pekar inte på något meddelande.")
    return int(text)


def file_size(size: int) -> str:
    """A byte count as a person reads it, in Swedish (1,2 MB; 830 kB; 512 byte)."""
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f} MB".replace(".", ",")
    if size >= 1024:
        return f"{size / 1024:.0f} kB"
    return f"{size} byte"


def add_quarantine_routes(router: APIRouter, kit: Kit) -> None:
    def page(
        session: Session,
        me: Viewer,
        *,
        view: str,
        before: int | None,
        notice: str = "",
        error: str = "",
        status: int = 200,
    ) -> HTMLResponse:
        if view == "bilagor":
            attachments = rejected_attachments(session, before=before, limit=PAGE_SIZE + 1)
            more, rows_a, rows_m = len(attachments) > PAGE_SIZE, attachments[:PAGE_SIZE], []
            last = rows_a[-1].attachment.id if rows_a else None
        else:
            messages = quarantined_messages(session, before=before, limit=PAGE_SIZE + 1)
            more, rows_m, rows_a = len(messages) > PAGE_SIZE, messages[:PAGE_SIZE], []
            last = rows_m[-1].message.id if rows_m else None
        n_messages, n_attachments = quarantine_counts(session)
        return kit.render(
            "quarantine.html",
            viewer=me,
            status=status,
            view=view,
            views=VIEWS,
            counts={"meddelanden": n_messages, "bilagor": n_attachments},
            messages=rows_m,
            attachments=rows_a,
            downloads=kit.pages.raw_mail is not None,
            size=file_size,
            kind=file_kind,
            next_url=query(f"{PREFIX}/karantan", visa=view, before=last) if more else None,
            paged=before is not None,
            notice=notice,
            error=error,
        )

    @router.get("/karantan", response_class=HTMLResponse)
    def quarantine_page(
        visa: str = "meddelanden",
        before: str = "",
        klart: str = "",
        me: Viewer = Depends(kit.viewer),
        session: Session = Depends(kit.db),
    ) -> HTMLResponse:
        released = _row_id(klart, "query")
        notice = (
            f"Meddelande {message_reference(released)} är släppt och läses igen vid nästa "
            "hämtning av e-post."
            if released is not None
            else ""
        )
        return page(
            session,
            me,
            view=visa if visa in VIEWS else "meddelanden",
            before=_row_id(before, "query"),
            notice=notice,
        )

    @router.get("/karantan/{message_id}/meddelande.eml", response_model=None)
    def raw_message(
        message_id: str, _me: Viewer = Depends(kit.viewer), session: Session = Depends(kit.db)
    ) -> Response:
        row_id = _row_id(message_id, "path")
        assert row_id is not None
        store = kit.pages.raw_mail
        message = viewable_message(session, row_id)
        if message is None or store is None:
            raise PageError(404, "Meddelandet finns inte i karantänen.")
        try:
            data = store.get(message.sha256)
        except QueueError:
            raise PageError(404, "Meddelandets original finns inte kvar i arkivet.") from None
        # Our reference, never the sender's subject, names the file.
        name = f"meddelande-{message_reference(row_id)}.eml"
        return Response(
            data,
            media_type="message/rfc822",
            headers={
                "Content-Disposition": f'attachment; filename="{name}"',
                "Cache-Control": "no-store",
            },
        )

    @router.post("/karantan/{message_id}/forsok-igen", response_model=None)
    def release(
        message_id: str, p: Posted = Depends(kit.admin_posted), session: Session = Depends(kit.db)
    ) -> Response:
        row_id = _row_id(message_id, "path")
        assert row_id is not None
        try:
            release_message(
                session,
                row_id,
                reviewer_id=p.viewer.id,
                now=kit.now(),
                raw_store=kit.pages.raw_mail,
            )
        except ReleaseRefused as exc:
            session.rollback()
            return page(
                session,
                p.viewer,
                view="meddelanden",
                before=None,
                error=exc.message,
                status=404 if exc.missing else 409,
            )
        session.commit()
        return RedirectResponse(query(f"{PREFIX}/karantan", klart=row_id), status_code=303)
