"""Asking the customer for what is missing, and what happens while the case waits.

"Begär komplettering" (`request_info`): instead of rejecting a form that
lacks a signature, has a page nobody can read or a value that is unclear, a
reviewer who holds it asks the mail's sender for the missing part. The case
becomes `awaiting_customer` (claim released, any pending override request
withdrawn), the request is stored on it (when, by whom, why: the code and
the Swedish sentence the customer reads), audited `submission.info_requested`,
and the templated mail `info_request` goes to the sender of the original
message through the outbox, in the caller's transaction. It answers that
message (In-Reply-To and References), names the case and the form id in the
subject, and asks the customer to reply with the missing part attached: the
reply joins the case in the mailbox pass (`workqueue.awaiting`). A form that
came as a file, or from a sender we cannot write to, cannot be asked about.

`send_reminders`: a case that waited `days` is reminded once (`info_reminder`,
threaded under the request, audited `submission.info_reminded`); one that
waited `days` more after the reminder is closed as rejected, "Ingen
komplettering inkom.", with the mail `info_closed` (audited
`submission.rejected`, actor `reminders`). The composition root runs it
after every mailbox pass (`kopplingar intake poll` and `watch`), so the
reminders leave with that run's outbox and a reply read in the same run
joins before its case could be closed. Each step is one conditional UPDATE
that only one process can win (PostgreSQL re-checks the WHERE after the row
lock, SQLite has one writer at a time), committed with its mail: running it
twice, or in two processes at once, sends every mail exactly once.

These mails are not automatic replies (`automatic=False`): a reviewer chose
to write to this address, at most three mails go out per request, and the
per-address limit on receipts must not swallow a reminder before a case is
closed for want of an answer.

`end_waiting`: a reviewer takes a waiting case back to the queue without a
reply by mail (the customer phoned, or answered from elsewhere); audited
`submission.info_withdrawn`.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from forms import FormKind, form_spec
from registry import record_event
from render import SWEDISH_TIME
from review.claims import OPEN_STATUSES, DecisionError, aware, hold, load_submission
from review.decide import effective_values
from review.decision_mails import inbound_message
from review.four_eyes import withdraw_override
from workqueue import (
    InboundMessage,
    OutboundMail,
    Reviewer,
    Submission,
    SubmissionStatus,
    deliverable_address,
    queue_mail,
)

log = logging.getLogger(__name__)

INFO_REASONS: list[tuple[str, str]] = [
    ("signature", "En underskrift saknas"),
    ("page_unreadable", "En sida går inte att läsa"),
    ("value_unclear", "En uppgift är otydlig"),
    ("other", "Annat"),
]
NO_REPLY_REASON = "Ingen komplettering inkom."
DEFAULT_DAYS = 5
REMINDERS_ACTOR = "reminders"
NOTE_MAX = 800
_SENTENCES = {
    "page_unreadable": "En sida av blanketten går inte att läsa.",
    "value_unclear": "En uppgift på blanketten är otydlig.",
}
# Texts a reviewer must add a word to: what is unclear, or what "other" is.
_NEEDS_NOTE = {
    "value_unclear": "Skriv vilken uppgift som är otydlig.",
    "other": "Skriv vad som saknas.",
}


@dataclass(frozen=True)
class ReminderReport:
    reminded: int = 0
    closed: int = 0


def signature_parties(kind: str | None) -> list[tuple[str, str]]:
    """Who signs the form (party, the form's Swedish title); none for an unknown kind."""
    if kind not in {k.value for k in FormKind}:
        return []
    return [(sig.party, sig.title) for sig in form_spec(FormKind(kind)).signatures]


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def info_reason(kind: str | None, reason_code: str, party: str | None, note: str) -> str:
    """The Swedish sentence the customer is sent for `reason_code` (and the party)."""
    if reason_code == "signature":
        titles = dict(signature_parties(kind))
        if party and party in titles:
            return f"Blanketten saknar underskrift av {_lower_first(titles[party])}."
        return "Blanketten saknar en underskrift."
    if reason_code == "other":
        return note
    return _SENTENCES[reason_code]


def _party_title(kind: str | None, party: str | None) -> str | None:
    """Who must sign, as a sentence goes on ("låt systemadministratör på byrån ...")."""
    title = dict(signature_parties(kind)).get(party or "")
    return _lower_first(title) if title else None


def _thread_id(message: InboundMessage) -> str | None:
    mid = message.message_id
    if not mid:
        return None
    return mid if mid.startswith("<") else f"<{mid}>"


def recipient(session: Session, submission: Submission) -> tuple[InboundMessage, str] | None:
    """The customer's original message and the address to ask, when we can write to them."""
    message = inbound_message(session, submission)
    if message is None:
        return None
    to = deliverable_address(message.sender or "")
    return None if to is None else (message, to)


def _local_day(at: dt.datetime) -> dt.date:
    return at.astimezone(SWEDISH_TIME).date()


def _context(
    session: Session, submission: Submission, message: InboundMessage, *, form_url: str
) -> dict[str, object]:
    assert submission.id is not None
    return {
        "case": submission.id,
        "kind": submission.kind,
        "form_id": submission.form_id,
        "client_name": effective_values(session, submission.id).get("client_name") or None,
        "received_at": message.recorded_at,
        "reason_code": submission.info_reason_code or "other",
        "party": _party_title(submission.kind, submission.info_party),
        "reason": submission.info_reason or "",
        # For "other" the note is the reason itself: said once.
        "note": submission.info_note if submission.info_reason_code != "other" else None,
        "form_url": form_url,
    }


def request_info(
    session: Session,
    submission_id: int,
    reviewer: Reviewer,
    *,
    reason_code: str,
    party: str | None,
    note: str | None,
    now: dt.datetime,
    sender_domain: str,
    form_url: str,
    days: int = DEFAULT_DAYS,
) -> OutboundMail:
    """Ask the sender of an open submission the reviewer holds for what is missing."""
    reasons = dict(INFO_REASONS)
    if reason_code not in reasons:
        raise DecisionError("Välj vad som saknas.")
    text = " ".join((note or "").split())
    if len(text) > NOTE_MAX:
        raise DecisionError(f"Kommentaren får vara högst {NOTE_MAX} tecken.")
    if reason_code in _NEEDS_NOTE and not text:
        raise DecisionError(_NEEDS_NOTE[reason_code])
    submission = hold(session, submission_id, reviewer, aware(now), OPEN_STATUSES)
    titles = dict(signature_parties(submission.kind))
    if reason_code == "signature" and titles and party not in titles:
        raise DecisionError("Välj vems underskrift som saknas.")
    found = recipient(session, submission)
    if found is None:
        raise DecisionError(
            "Ärendet kom inte med e-post från en adress vi kan svara till, så kunden kan inte "
            "tillfrågas härifrån. Avvisa det eller kontakta kunden på annat sätt."
        )
    message, to = found
    reason = info_reason(submission.kind, reason_code, party, text)
    withdraw_override(session, submission_id, reviewer, why="Kunden ombads komplettera.",
                      now=now)
    before = {"status": submission.status.value}
    submission.status = SubmissionStatus.AWAITING_CUSTOMER
    submission.info_requested_at = now
    submission.info_requested_by = reviewer.id
    submission.info_reason_code = reason_code
    submission.info_reason = reason[:1000]
    submission.info_party = party if reason_code == "signature" and party in titles else None
    submission.info_note = text or None
    submission.info_reminders = 0
    submission.info_reminded_at = None
    submission.claimed_by = submission.claimed_until = None
    session.add(submission)
    record_event(
        session,
        actor=reviewer.email,
        action="submission.info_requested",
        subject=f"submission:{submission_id}",
        before=before,
        after={
            "status": SubmissionStatus.AWAITING_CUSTOMER.value,
            "reason_code": reason_code,
            "party": party if reason_code == "signature" else None,
            "reason": reason,
            "note": text or None,
            "to": to,
        },
    )
    context = _context(session, submission, message, form_url=form_url) | {
        "deadline": _local_day(now + dt.timedelta(days=2 * days)),
    }
    mail = queue_mail(
        session,
        to=to,
        template="info_request",
        context=context,
        sender_domain=sender_domain,
        now=now,
        automatic=False,
        in_reply_to=_thread_id(message),
        inbound_message_id=message.id,
        submission_id=submission_id,
    )
    assert mail is not None  # `to` is deliverable
    session.flush()
    return mail


def end_waiting(session: Session, submission_id: int, reviewer: Reviewer, *,
                now: dt.datetime) -> None:
    """Put a waiting case back in the queue without a reply by mail."""
    aware(now)
    if not reviewer.active:
        raise DecisionError("Ditt konto är avstängt.")
    submission = load_submission(session, submission_id)
    status = (SubmissionStatus.UNREADABLE if submission.unreadable_reason
              else SubmissionStatus.QUEUED)
    taken = session.exec(
        sa.update(Submission)
        .where(col(Submission.id) == submission_id,
               col(Submission.status) == SubmissionStatus.AWAITING_CUSTOMER)
        .values(status=status)
        .execution_options(synchronize_session=False)
    )
    if taken.rowcount != 1:
        raise DecisionError(f"Ärende {submission_id} väntar inte på kunden längre.")
    load_submission(session, submission_id)
    record_event(
        session,
        actor=reviewer.email,
        action="submission.info_withdrawn",
        subject=f"submission:{submission_id}",
        before={"status": SubmissionStatus.AWAITING_CUSTOMER.value},
        after={"status": status.value},
    )
    session.flush()


def _due(session: Session, *conditions: sa.ColumnElement[bool]) -> list[int]:
    rows = session.exec(
        select(Submission.id)
        .where(col(Submission.status) == SubmissionStatus.AWAITING_CUSTOMER, *conditions)
        .order_by(col(Submission.id))
    ).all()
    return [r for r in rows if r is not None]


def _request_mail(session: Session, submission_id: int) -> OutboundMail | None:
    return session.exec(
        select(OutboundMail)
        .where(col(OutboundMail.submission_id) == submission_id,
               col(OutboundMail.template) == "info_request")
        .order_by(col(OutboundMail.id).desc())
        .limit(1)
    ).first()


def _remind(session: Session, submission_id: int, cutoff: dt.datetime, *, now: dt.datetime,
            days: int, sender_domain: str, form_url: str) -> bool:
    won = session.exec(
        sa.update(Submission)
        .where(col(Submission.id) == submission_id,
               col(Submission.status) == SubmissionStatus.AWAITING_CUSTOMER,
               col(Submission.info_reminders) == 0,
               col(Submission.info_requested_at) <= cutoff)
        .values(info_reminders=1, info_reminded_at=now)
        .execution_options(synchronize_session=False)
    )
    if won.rowcount != 1:
        return False
    submission = load_submission(session, submission_id)
    found = recipient(session, submission)
    request = _request_mail(session, submission_id)
    if found is not None and submission.info_requested_at is not None:
        message, to = found
        queue_mail(
            session,
            to=to,
            template="info_reminder",
            context=_context(session, submission, message, form_url=form_url) | {
                "asked_at": submission.info_requested_at,
                "deadline": _local_day(now + dt.timedelta(days=days)),
            },
            sender_domain=sender_domain,
            now=now,
            automatic=False,
            # Under our request, so the customer's client threads it and a reply names both.
            in_reply_to=request.message_id if request is not None else _thread_id(message),
            inbound_message_id=message.id,
            submission_id=submission_id,
        )
    record_event(session, actor=REMINDERS_ACTOR, action="submission.info_reminded",
                 subject=f"submission:{submission_id}", before={"reminders": 0},
                 after={"reminders": 1, "mailed": found is not None})
    return True


def _close(session: Session, submission_id: int, cutoff: dt.datetime, *, now: dt.datetime,
           form_url: str, sender_domain: str) -> bool:
    won = session.exec(
        sa.update(Submission)
        .where(col(Submission.id) == submission_id,
               col(Submission.status) == SubmissionStatus.AWAITING_CUSTOMER,
               col(Submission.info_reminders) >= 1,
               col(Submission.info_reminded_at) <= cutoff)
        .values(status=SubmissionStatus.REJECTED, decision_reason=NO_REPLY_REASON,
                decided_at=now, decided_by=None, claimed_by=None, claimed_until=None)
        .execution_options(synchronize_session=False)
    )
    if won.rowcount != 1:
        return False
    submission = load_submission(session, submission_id)
    found = recipient(session, submission)
    if found is not None:
        message, to = found
        context = _context(session, submission, message, form_url=form_url)
        queue_mail(
            session,
            to=to,
            template="info_closed",
            context={k: context[k] for k in ("case", "kind", "form_id", "client_name",
                                             "reason", "form_url")}
            | {"asked_at": submission.info_requested_at or now,
               "reminded_at": submission.info_reminded_at},
            sender_domain=sender_domain,
            now=now,
            automatic=False,
            in_reply_to=_thread_id(message),
            inbound_message_id=message.id,
            submission_id=submission_id,
        )
    record_event(session, actor=REMINDERS_ACTOR, action="submission.rejected",
                 subject=f"submission:{submission_id}",
                 before={"status": SubmissionStatus.AWAITING_CUSTOMER.value},
                 after={"status": SubmissionStatus.REJECTED.value, "reason_code": "no_reply",
                        "reason": NO_REPLY_REASON, "mailed": found is not None})
    return True


def send_reminders(
    engine: Engine,
    *,
    now: Callable[[], dt.datetime],
    days: int,
    sender_domain: str,
    form_url: str,
) -> ReminderReport:
    """Remind the cases that waited `days`, close those reminded `days` ago; each committed."""
    at = aware(now())
    cutoff = at - dt.timedelta(days=days)
    with Session(engine) as session:
        to_close = _due(session, col(Submission.info_reminders) >= 1,
                        col(Submission.info_reminded_at) <= cutoff)
        to_remind = _due(session, col(Submission.info_reminders) == 0,
                         col(Submission.info_requested_at) <= cutoff)
    closed = reminded = 0
    # Closing first: a case reminded in this run must wait its second period.
    for submission_id in to_close:
        with Session(engine) as session:
            if _close(session, submission_id, cutoff, now=at, form_url=form_url,
                      sender_domain=sender_domain):
                session.commit()
                closed += 1
    for submission_id in to_remind:
        with Session(engine) as session:
            if _remind(session, submission_id, cutoff, now=at, days=days,
                       sender_domain=sender_domain, form_url=form_url):
                session.commit()
                reminded += 1
    if closed or reminded:
        log.info("%d reminded, %d closed without a reply", reminded, closed,
                 extra={"event": "waiting.reminders", "reminded": reminded, "closed": closed})
    return ReminderReport(reminded=reminded, closed=closed)
