"""The outbox for people: what went out, what did not and why, and sending one again.

The outbox page (`review.web_outbox`) reads from here. `outbox_rows` lists
mail newest first, by (`created_at`, `id`), after a keyset position, never
by OFFSET: one state is one range on `ix_outbound_mail_state_created_at`;
all states together are the newest rows of each state's range merged, so
every query stays on that index however large the table grows (no index
starts with `created_at` alone, and none is needed). `outbox_counts` counts
each state on the same index up to a cap, so it stays as cheap with a
million sent mails. Each row carries the kind of mail and the
problem as Swedish text (`mail_kind_sv`, `mail_problem_sv`): the stored
`last_error` is English for the operator (an SMTP reply, a rate limit) and
is shown to people only behind a toggle on the preview.

`preview_mail` builds the message exactly as `outbox.deliver_pending`
would (`outbox.build_message`), so the preview's headers and body are what
the recipient gets. `mail_history` is the audit events about one mail.

`resend_mail` is a reviewer's "send again": one conditional UPDATE back to
PENDING with the attempts, the claim time (`sent_at`) and the error reset,
so the next delivery pass picks it up like a new mail and gets its whole
ration of attempts, plus an audit event in the same transaction; of two
reviewers clicking at once exactly one resends it. A FAILED mail is simply
retried. A SUPPRESSED one (held back by the automatic-reply limits) is sent
only by a deliberate "send anyway", and then as a mail a person chose to
send: `automatic` is cleared, or the deliverer's own rate check would hold
it back again. That is safe because the limits exist against loops and
floods, and neither runs through a person deciding about one mail at a
time; the mail's text is our own template. A SENT mail is never resent from
here: the recipient has it already, and the same Message-ID again would be
a duplicate at best. A PENDING one is on its way already.
"""

from __future__ import annotations

import datetime as dt
import heapq
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from registry import AuditEvent, UTCDateTime, record_event
from workqueue.errors import QueueError
from workqueue.mailmodels import OutboundMail, OutboxState
from workqueue.models import Submission
from workqueue.outbox import OutboxError, build_message
from workqueue.reviewers import Reviewer

__all__ = [
    "OUTBOX_COUNT_CAP",
    "RESEND_ACTION",
    "SEND_ANYWAY_ACTION",
    "MailPreview",
    "OutboxCursor",
    "OutboxRow",
    "ResendRefused",
    "mail_history",
    "mail_kind_sv",
    "mail_problem_sv",
    "mail_reference",
    "outbox_counts",
    "outbox_row",
    "outbox_rows",
    "preview_mail",
    "resend_mail",
]

RESEND_ACTION = "outbox.resent"
SEND_ANYWAY_ACTION = "outbox.sent_anyway"
MAX_PAGE = 200
OUTBOX_COUNT_CAP = 10_000  # the page says "över 10 000" beyond

OutboxCursor = tuple[dt.datetime, int]  # (created_at, id) of the last row shown


def mail_reference(mail_id: int) -> str:
    """Our reference for an outgoing mail on the pages and in the audit log ("U-12")."""
    return f"U-{mail_id}"


# By the template it was rendered from (render/templates/mail/).
_KINDS = {
    "receipt": "Mottagningskvitto",
    "no_attachment": "Svar: ingen blankett bifogad",
    "message_rejected": "Svar: mejlet kunde inte tas emot",
    "approved_client": "Beslut: godkänd, till klienten",
    "approved_firm": "Beslut: godkänd, till byrån",
    "rejected": "Beslut: avslag",
    # The case waiting for the customer (workqueue.awaiting): asking, then reminding.
    "info_request": "Begäran om komplettering",
    "info_reminder": "Påminnelse om komplettering",
}


def mail_kind_sv(template: str) -> str:
    """What kind of mail a template makes, in Swedish; a template added later is "Annat utskick"."""
    return _KINDS.get(template, "Annat utskick")


_CODE = re.compile(r"\b([245][0-9]{2})\b")


def _code(text: str) -> str:
    found = _CODE.search(text.partition(": ")[2])
    return f" (kod {found.group(1)})" if found else ""


def mail_problem_sv(last_error: str | None) -> str | None:
    """The stored English `last_error` as a short Swedish sentence, or None when there is none.

    Only what we know the text to mean is said; an SMTP server's own words
    never reach this sentence.
    """
    if not last_error:
        return None
    text = last_error.strip()
    if text.startswith("global rate limit"):
        return (
            "Hölls tillbaka: taket för automatiska svar per timme var nått "
            "(många mejl kom in på kort tid)."
        )
    if text.startswith("rate limit"):
        return "Hölls tillbaka: adressen hade redan fått ett automatiskt svar inom en timme."
    if text.startswith("recipient refused"):
        return f"E-postservern tog inte emot mottagaradressen{_code(text)}."
    if text.startswith("sender "):
        return f"E-postservern tog inte emot vår avsändaradress{_code(text)}."
    if text.startswith("message refused"):
        return f"E-postservern tog inte emot meddelandet{_code(text)}."
    if "STARTTLS" in text:
        return "E-postservern erbjöd ingen krypterad förbindelse, så inget skickades."
    if text.startswith(("cannot talk to SMTP", "SMTP server", "sending through")):
        return "E-postservern gick inte att nå eller avbröt förbindelsen."
    if text.startswith("outbound mail"):
        return "Mejlet gick inte att bygga: adressen eller en rubrik kunde inte användas."
    return "Mejlet kunde inte skickas."


# -- the listing --------------------------------------------------------------------------------


@dataclass(frozen=True)
class OutboxRow:
    mail: OutboundMail
    submissions: tuple[int, ...]  # the submission it concerns, or those its inbound mail made

    @property
    def reference(self) -> str:
        assert self.mail.id is not None
        return mail_reference(self.mail.id)

    @property
    def kind(self) -> str:
        return mail_kind_sv(self.mail.template)

    @property
    def problem(self) -> str | None:
        return mail_problem_sv(self.mail.last_error)

    @property
    def cursor(self) -> OutboxCursor:
        assert self.mail.id is not None
        return (self.mail.created_at, self.mail.id)


def _page(limit: int) -> int:
    return max(1, min(limit, MAX_PAGE))


def _newest(
    session: Session, state: OutboxState, after: OutboxCursor | None, limit: int
) -> list[OutboundMail]:
    created, ident = col(OutboundMail.created_at), col(OutboundMail.id)
    statement = select(OutboundMail).where(col(OutboundMail.state) == state)
    if after is not None:
        # Typed, so the timestamp goes through UTCDateTime (naive UTC on SQLite) like the column.
        position = sa.tuple_(
            sa.literal(after[0], UTCDateTime()), sa.literal(after[1], sa.Integer())
        )
        statement = statement.where(sa.tuple_(created, ident) < position)
    statement = statement.order_by(created.desc(), ident.desc()).limit(limit)
    return list(session.exec(statement).all())


def _key(mail: OutboundMail) -> tuple[dt.datetime, int]:
    assert mail.id is not None
    return (mail.created_at, mail.id)


def outbox_rows(
    session: Session,
    *,
    state: OutboxState | None = None,
    after: OutboxCursor | None = None,
    limit: int = 50,
) -> list[OutboxRow]:
    """Mail in `state` (None: any), newest first, starting after `after`."""
    limit = _page(limit)
    states = [state] if state is not None else list(OutboxState)
    # Each state's newest `limit` rows are one indexed range; the newest `limit` of all
    # states together are among them.
    ranges = [_newest(session, s, after, limit) for s in states]
    mails = list(heapq.merge(*ranges, key=_key, reverse=True))[:limit]
    return _with_submissions(session, mails)


def outbox_row(session: Session, mail_id: int) -> OutboxRow | None:
    mail = session.get(OutboundMail, mail_id)
    return _with_submissions(session, [mail])[0] if mail is not None else None


def _with_submissions(session: Session, mails: Sequence[OutboundMail]) -> list[OutboxRow]:
    # A decision mail names its submission; a receipt names the inbound mail, whose
    # submissions it reported on (by the indexed submissions.inbound_message_id).
    inbound = {m.inbound_message_id for m in mails if m.submission_id is None}
    inbound.discard(None)
    made: dict[int, list[int]] = {}
    if inbound:
        rows = session.exec(
            select(Submission.inbound_message_id, Submission.id)
            .where(col(Submission.inbound_message_id).in_(inbound))
            .order_by(col(Submission.id))
        ).all()
        for message_id, submission_id in rows:
            if message_id is not None and submission_id is not None:
                made.setdefault(message_id, []).append(submission_id)
    out = []
    for mail in mails:
        if mail.submission_id is not None:
            ids: tuple[int, ...] = (mail.submission_id,)
        elif mail.inbound_message_id is not None:
            ids = tuple(made.get(mail.inbound_message_id, ()))
        else:
            ids = ()
        out.append(OutboxRow(mail=mail, submissions=ids))
    return out


def outbox_counts(session: Session, *, cap: int = OUTBOX_COUNT_CAP) -> dict[OutboxState, int]:
    """How many mails are in each state, each counted up to `cap` + 1 (more reads as "over").

    Bounded, so the count costs the same with a million sent mails: each is a
    range of at most `cap` + 1 entries on the state index.
    """
    counts = {}
    for state in OutboxState:
        # In the index's own order: without it PostgreSQL's generic plan for a rare state
        # is a scan of the whole table (bitmap or sequential), some 50 ms at 100,000 rows.
        first = (
            select(OutboundMail.created_at)
            .where(col(OutboundMail.state) == state)
            .order_by(col(OutboundMail.state), col(OutboundMail.created_at))
            .limit(cap + 1)
        ).subquery()
        counts[state] = int(session.exec(select(func.count()).select_from(first)).one())
    return counts


# -- one mail -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class MailPreview:
    headers: list[tuple[str, str]]  # as they will be sent, in order
    body: str  # the plain text, exactly as sent
    attachments: list[tuple[str, int]]  # file name and size in bytes
    problem: str | None  # English, when the message cannot be built (a corrupted row)


def preview_mail(mail: OutboundMail, *, sender: str) -> MailPreview:
    """The message `deliver_pending` would send for `mail` from `sender`."""
    try:
        message = build_message(mail, sender=sender)
    except OutboxError as exc:
        headers = [
            ("To", mail.recipient),
            ("Subject", mail.subject),
            ("Message-ID", mail.message_id),
        ]
        if mail.in_reply_to:
            headers.append(("In-Reply-To", mail.in_reply_to))
        return MailPreview(headers=headers, body=mail.body, attachments=[], problem=exc.message)
    return MailPreview(
        headers=[(name, str(value)) for name, value in message.items()],
        body=_text_of(message),
        attachments=[
            (part.get_filename() or "(namnlös)", len(part.get_payload(decode=True) or b""))
            for part in message.iter_attachments()
            if isinstance(part, EmailMessage)
        ],
        problem=None,
    )


def _text_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    content = part.get_content() if isinstance(part, EmailMessage) else ""
    return content if isinstance(content, str) else ""


def mail_history(session: Session, mail_id: int) -> list[AuditEvent]:
    """The audit events about one mail (resends), oldest first."""
    return list(
        session.exec(
            select(AuditEvent)
            .where(col(AuditEvent.subject) == f"outbound_mail:{mail_id}")
            .order_by(col(AuditEvent.at), col(AuditEvent.id))
        ).all()
    )


# -- sending again ------------------------------------------------------------------------------


class ResendRefused(QueueError):  # noqa: N818 - reads as what happened, like ReleaseRefused
    """A resend that cannot be done; `message` is Swedish, for the reviewer who asked."""

    exit_code = os.EX_DATAERR

    def __init__(self, message: str, *, missing: bool = False) -> None:
        super().__init__(message)
        self.missing = missing  # no such mail (rather than one in the wrong state)


def resend_mail(
    session: Session, mail_id: int, *, reviewer_id: int, now: dt.datetime
) -> OutboundMail:
    """Put failed or suppressed mail `mail_id` back in the outbox; audited (caller commits).

    Raises `ResendRefused` for an inactive or unknown reviewer, an unknown
    mail, and one that is sent or pending.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise QueueError(f"naive datetime {now!r}: pass an aware UTC time")
    reviewer = session.get(Reviewer, reviewer_id)
    if reviewer is None or not reviewer.active:
        raise ResendRefused("Bara en aktiv granskare kan skicka ett mejl igen.")
    mail = session.get(OutboundMail, mail_id)
    reference = mail_reference(mail_id)
    if mail is None:
        raise ResendRefused(f"Mejl {reference} finns inte.", missing=True)
    if mail.state == OutboxState.SENT:
        raise ResendRefused(
            f"Mejl {reference} är redan skickat, så mottagaren har det. Det skickas inte "
            "igen härifrån: ett nytt utskick vore en dubblett."
        )
    if mail.state == OutboxState.PENDING:
        raise ResendRefused(f"Mejl {reference} väntar redan på att skickas vid nästa utskick.")
    anyway = mail.state == OutboxState.SUPPRESSED
    before: dict[str, object] = {
        "recipient": mail.recipient,  # the audit log's sentence names whom it went to
        "state": mail.state.value,
        "attempts": mail.attempts,
        "last_error": mail.last_error,
    }
    after: dict[str, object] = {"state": OutboxState.PENDING.value, "attempts": 0}
    values: dict[str, object] = {
        "state": OutboxState.PENDING,
        "attempts": 0,
        "sent_at": None,  # no claim: the next delivery pass takes it at once
        "last_error": None,  # kept in the audit event's `before`
    }
    if anyway:
        before["automatic"], after["automatic"] = mail.automatic, False
        values["automatic"] = False
    # Conditional, so of two reviewers clicking at once exactly one changes the row.
    changed = session.execute(
        sa.update(OutboundMail)
        .where(col(OutboundMail.id) == mail_id, col(OutboundMail.state) == mail.state)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        raise ResendRefused(f"Mejl {reference} har redan skickats om av någon annan.")
    what = f"{reference} ({mail_kind_sv(mail.template).lower()} till {mail.recipient})"
    detail = (
        f"{what}, som hölls tillbaka av spärren för automatiska svar, skickas ändå av "
        f"{reviewer.name}."
        if anyway
        else f"{what}, som inte gick att skicka, skickas igen av {reviewer.name}."
    )
    event = record_event(
        session,
        actor=reviewer.email,
        action=SEND_ANYWAY_ACTION if anyway else RESEND_ACTION,
        subject=f"outbound_mail:{mail_id}",
        before=before,
        after=after,
        detail=detail,
    )
    event.at = now
    session.flush()
    session.refresh(mail)
    return mail
