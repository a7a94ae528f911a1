"""Deciding a submission: claiming it, correcting what was read, approving or rejecting it.

One reviewer works on a submission at a time. `claim` takes it with one
conditional UPDATE that only one reviewer can win, on SQLite and PostgreSQL
alike (PostgreSQL re-checks the WHERE after the row lock, SQLite has one
writer at a time). A claim's expiry only matters to others: once it has run
out another reviewer may take the submission, but until someone does it is
still yours. Every later step (`correct_field`, `approve`, `reject`) first
re-asserts the claim with the same kind of UPDATE, which also locks the row
until the caller's commit, so two decisions on one submission cannot both
land.

What a submission asks for comes from its fields: the value the machine
read, or the reviewer's correction when there is one (`effective_values`).
A correction is checked with the form's own field validator. `preview`
turns the effective values into the registry's plan (`registry.linkage`);
`approve` applies it, records the decision and its audit event, and queues
the mails (client, the firms involved) in the caller's transaction, so one
commit makes all of it appear and a rollback leaves no trace. `reject`
records why and tells the mail's sender how to send a form we can approve.

A blocking finding from the intake needs an override reason to approve,
except a finding on a value the registry plan checks again (organisationsnummer,
subscription number, kind of firm, what happens after) once the reviewer has
corrected that value: the plan, which must have no problems, has then
checked the corrected value. Signatures and form ids are not re-checked by
anything, so their findings always need the reason.

Every function takes the caller's session and never commits. After a
`DecisionError` the caller rolls back; the checks that refuse a decision run
before anything is written, so nothing is lost by doing so.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import sqlalchemy as sa
from sqlmodel import Session, col, select

from forms import FormKind, InvalidValue, clean_field, form_spec
from registry import (
    Company,
    Conflict,
    ConnectionRole,
    LinkagePlan,
    Person,
    Role,
    RoleKind,
    apply_disconnect,
    apply_dual,
    plan_disconnect,
    plan_dual,
    record_event,
)
from render import SWEDISH_TIME
from review.authmodels import Reviewer
from review.errors import ReviewError
from workqueue import (
    InboundMessage,
    Submission,
    SubmissionField,
    SubmissionFinding,
    SubmissionStatus,
    deliverable_address,
    queue_mail,
)

CLAIM_TTL = dt.timedelta(minutes=15)

REJECT_REASONS: list[tuple[str, str]] = [
    ("signature_missing", "En underskrift saknas."),
    ("wrong_subscription", "Abonnemangsnummer och organisationsnummer hör inte ihop."),
    (
        "not_authorised",
        "Den som skrivit under är inte firmatecknare eller systemadministratör.",
    ),
    ("unreadable", "Blanketten gick inte att läsa."),
    ("old_form", "Blanketten är en gammal version som vi inte längre kan ta emot."),
    ("already_connected", "Byrån är redan kopplad till företaget."),
    ("not_connected", "Företaget och byrån är inte kopplade till varandra."),
    ("other", "Annat:"),
]

_OPEN = (SubmissionStatus.QUEUED, SubmissionStatus.UNREADABLE)
_TEXT_MAX = 800  # leaves room in the 1000-character columns for the canned sentence
# Values that the linkage plan checks against the registry again: a finding on one of
# these is settled by a correction, because the plan has then checked the new value.
_RECHECKED = frozenset(
    {
        "client_orgnr",
        "client_subscription",
        "new_firm_orgnr",
        "new_firm_role",
        "firm_orgnr",
        "firm_role",
        "after",
    }
)
# What each value is called in a problem the reviewer reads.
_WHAT = {
    FormKind.DUAL: {
        "client_orgnr": "Klientens organisationsnummer",
        "client_subscription": "Klientens abonnemangsnummer",
        "new_firm_orgnr": "Den nya byråns organisationsnummer",
        "new_firm_role": "Den nya byråns typ (redovisning eller revision)",
    },
    FormKind.DISCONNECT: {
        "client_orgnr": "Företagets organisationsnummer",
        "client_subscription": "Företagets abonnemangsnummer",
        "firm_orgnr": "Byråns organisationsnummer",
        "firm_role": "Byråns typ (redovisning eller revision)",
        "after": "Vad som ska hända efter bortkopplingen",
    },
}


class DecisionError(ReviewError):
    """A decision or step that cannot be taken; `message` is Swedish, for the reviewer."""

    exit_code = os.EX_DATAERR


class ClaimedByOther(DecisionError):  # noqa: N818
    """Another reviewer holds the submission until `until`."""

    def __init__(self, reviewer_name: str, until: dt.datetime) -> None:
        local = until.astimezone(SWEDISH_TIME)
        super().__init__(f"{reviewer_name} granskar redan ärendet, till kl. {local:%H:%M}.")
        self.reviewer_name = reviewer_name
        self.until = until


def _aware(now: dt.datetime) -> dt.datetime:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ReviewError(f"now must be an aware datetime, got {now!r}")
    return now


def _reviewer_id(reviewer: Reviewer) -> int:
    if reviewer.id is None:
        raise ReviewError("the reviewer has not been stored")
    if not reviewer.active:
        raise DecisionError("Ditt konto är avstängt.")
    return reviewer.id


def decision_day(now: dt.datetime) -> dt.date:
    """The day a decision at `now` takes effect: the date in Sweden (pass it to `preview`)."""
    return _aware(now).astimezone(SWEDISH_TIME).date()


def _load(session: Session, submission_id: int) -> Submission:
    # populate_existing: an UPDATE just ran behind the identity map's back.
    submission = session.get(Submission, submission_id, populate_existing=True)
    if submission is None:
        raise DecisionError(f"Ärende {submission_id} finns inte.")
    return submission


def _decided_text(submission: Submission) -> str:
    if submission.status in (SubmissionStatus.APPROVED, SubmissionStatus.APPLIED):
        return f"Ärende {submission.id} är redan godkänt."
    return f"Ärende {submission.id} är redan avvisat."


def _holder_refusal(session: Session, submission: Submission, now: dt.datetime) -> DecisionError:
    """Why a claimed step was refused when the submission is still open."""
    if (
        submission.claimed_by is not None
        and submission.claimed_until is not None
        and submission.claimed_until >= now
    ):
        holder = session.get(Reviewer, submission.claimed_by)
        name = holder.name if holder is not None else "En annan granskare"
        return ClaimedByOther(name, submission.claimed_until)
    return DecisionError("Ta ärendet först: någon annan kan ha tagit det sedan du öppnade det.")


def claim(
    session: Session,
    submission_id: int,
    reviewer: Reviewer,
    *,
    now: dt.datetime,
    ttl: dt.timedelta = CLAIM_TTL,
) -> Submission:
    """Take an open submission for `ttl` (again: extend it); ClaimedByOther when someone has it."""
    rid = _reviewer_id(reviewer)
    _aware(now)
    result = session.exec(
        sa.update(Submission)
        .where(
            col(Submission.id) == submission_id,
            col(Submission.status).in_(_OPEN),
            sa.or_(
                col(Submission.claimed_by).is_(None),
                col(Submission.claimed_by) == rid,
                col(Submission.claimed_until) < now,
            ),
        )
        .values(claimed_by=rid, claimed_until=now + ttl)
        .execution_options(synchronize_session=False)
    )
    submission = _load(session, submission_id)
    if result.rowcount == 1:
        return submission
    if submission.status not in _OPEN:
        raise DecisionError(_decided_text(submission))
    raise _holder_refusal(session, submission, now)


def release(session: Session, submission_id: int, reviewer: Reviewer) -> None:
    """Give a submission back to the queue; nothing happens when it is not yours."""
    rid = _reviewer_id(reviewer)
    session.exec(
        sa.update(Submission)
        .where(col(Submission.id) == submission_id, col(Submission.claimed_by) == rid)
        .values(claimed_by=None, claimed_until=None)
        .execution_options(synchronize_session=False)
    )
    session.get(Submission, submission_id, populate_existing=True)  # a loaded copy catches up


def _hold(
    session: Session,
    submission_id: int,
    reviewer: Reviewer,
    now: dt.datetime,
    statuses: Sequence[SubmissionStatus],
) -> Submission:
    """The submission, when `reviewer` holds it and its status is one of `statuses`.

    The UPDATE extends the claim and, on PostgreSQL, locks the row until the
    caller's commit, so nobody can claim or decide it in between.
    """
    rid = _reviewer_id(reviewer)
    _aware(now)
    result = session.exec(
        sa.update(Submission)
        .where(
            col(Submission.id) == submission_id,
            col(Submission.status).in_(statuses),
            col(Submission.claimed_by) == rid,
        )
        .values(claimed_until=now + CLAIM_TTL)
        .execution_options(synchronize_session=False)
    )
    submission = _load(session, submission_id)
    if result.rowcount == 1:
        return submission
    if submission.status not in _OPEN:
        raise DecisionError(_decided_text(submission))
    if submission.status not in statuses:
        raise DecisionError(
            "En blankett som inte gick att läsa kan inte godkännas eller rättas; avvisa den."
        )
    raise _holder_refusal(session, submission, now)


def next_unclaimed(
    session: Session,
    *,
    reviewer: Reviewer,
    now: dt.datetime,
    after_id: int | None = None,
    order: Literal["least_sure", "oldest"] = "least_sure",
    kind: str | None = None,
) -> int | None:
    """The next open submission nobody else holds, in the queue's order, after `after_id`.

    "least_sure" puts unreadable submissions (no confidence at all) first,
    then the lowest field confidence; "oldest" goes by arrival. Past the end
    it starts from the top again, so a skipped submission comes round again;
    `after_id` itself is never the answer.
    """
    rid = _reviewer_id(reviewer)
    _aware(now)
    if order not in ("least_sure", "oldest"):
        raise ReviewError(f"unknown queue order {order!r}")
    # Confidences are 0..1, so -1 puts the unreadable ones (no confidence) first.
    key: Any = (
        sa.func.coalesce(col(Submission.min_confidence), -1.0)
        if order == "least_sure"
        else col(Submission.created_at)
    )
    base = select(Submission.id).where(
        col(Submission.status).in_(_OPEN),
        sa.or_(
            col(Submission.claimed_by).is_(None),
            col(Submission.claimed_by) == rid,
            col(Submission.claimed_until) < now,
        ),
    )
    if kind is not None:
        base = base.where(col(Submission.kind) == kind)
    ordered = base.order_by(key, col(Submission.id)).limit(1)
    if after_id is None:
        return session.exec(ordered).first()
    here = session.exec(select(key, Submission.id).where(col(Submission.id) == after_id)).first()
    if here is not None:
        at_key, at_id = here
        found = session.exec(
            ordered.where(sa.or_(key > at_key, sa.and_(key == at_key, col(Submission.id) > at_id)))
        ).first()
        if found is not None:
            return found
    return session.exec(ordered.where(col(Submission.id) != after_id)).first()


def effective_values(session: Session, submission_id: int) -> dict[str, str]:
    """Each field's value: the reviewer's correction when there is one, else what was read."""
    _load(session, submission_id)
    rows = session.exec(
        select(SubmissionField).where(col(SubmissionField.submission_id) == submission_id)
    ).all()
    return {r.name: r.corrected_value if r.corrected_value is not None else r.value for r in rows}


def _form_kind(submission: Submission) -> FormKind | None:
    try:
        return FormKind(submission.kind) if submission.kind else None
    except ValueError:
        return None


def correct_field(
    session: Session,
    submission_id: int,
    reviewer: Reviewer,
    name: str,
    value: str,
    *,
    now: dt.datetime,
) -> None:
    """Store the reviewer's value for field `name`, checked like a form entry; audited."""
    submission = _hold(session, submission_id, reviewer, now, (SubmissionStatus.QUEUED,))
    kind = _form_kind(submission)
    if kind is None:
        raise DecisionError("Blanketten är inte identifierad, så det finns inga fält att rätta.")
    spec = form_spec(kind)
    try:
        field = spec.field(name)
    except KeyError:
        raise DecisionError(f"Blanketten {spec.title} har inget fält ”{name}”.") from None
    raw = value.strip()
    if not raw:
        if field.required:
            raise DecisionError(f"{field.label}: fältet måste fyllas i.")
        canonical = ""
    else:
        try:
            canonical = clean_field(field, raw)
        except InvalidValue as exc:
            raise DecisionError(f"{field.label}: {exc.message}") from None
    row = session.exec(
        select(SubmissionField).where(
            col(SubmissionField.submission_id) == submission_id, col(SubmissionField.name) == name
        )
    ).first()
    before = None
    if row is not None:
        before = row.corrected_value if row.corrected_value is not None else row.value
    if before == canonical:
        return
    if row is None:
        # The reader found nothing for it: the reviewer's value is the only one.
        row = SubmissionField(
            submission_id=submission_id, name=name, value="", raw="", confidence=0.0
        )
    row.corrected_value = canonical
    session.add(row)
    record_event(
        session,
        actor=reviewer.email,
        action="submission.field_corrected",
        subject=f"submission:{submission_id}",
        before={"field": name, "value": before},
        after={"field": name, "value": canonical},
    )
    session.flush()


def _empty_plan(kind: str, *problems: str) -> LinkagePlan:
    return LinkagePlan(kind=kind, changes=[], problems=list(problems), already_done=False, notes=[])


@dataclasses.dataclass(frozen=True)
class _Request:
    """What a submission asks of the registry, its values checked."""

    kind: FormKind
    client_orgnr: str
    subscription: str
    firm_orgnr: str
    role: ConnectionRole
    takeover: bool
    current_firm_orgnr: str | None
    client_name: str | None  # as written on the form; a difference is a note in the plan
    firm_name: str | None


def _request(kind: FormKind, values: Mapping[str, str]) -> tuple[_Request | None, list[str]]:
    spec = form_spec(kind)
    problems: list[str] = []
    clean: dict[str, str] = {}
    for name, what in _WHAT[kind].items():
        raw = values.get(name, "").strip()
        if not raw:
            problems.append(f"{what} saknas.")
            continue
        try:
            clean[name] = clean_field(spec.field(name), raw)
        except InvalidValue as exc:
            problems.append(f"{what}: {exc.message}")
    if problems:
        return None, problems
    if kind is FormKind.DUAL:
        return _Request(
            kind,
            clean["client_orgnr"],
            clean["client_subscription"],
            clean["new_firm_orgnr"],
            ConnectionRole(clean["new_firm_role"]),
            takeover=False,
            # Not needed to connect: the plan only notes what it finds (or cannot read).
            current_firm_orgnr=values.get("current_firm_orgnr", "").strip() or None,
            client_name=values.get("client_name") or None,
            firm_name=values.get("new_firm_name") or None,
        ), []
    return _Request(
        kind,
        clean["client_orgnr"],
        clean["client_subscription"],
        clean["firm_orgnr"],
        ConnectionRole(clean["firm_role"]),
        takeover=clean["after"] == "takeover",
        current_firm_orgnr=None,
        client_name=values.get("client_name") or None,
        firm_name=values.get("firm_name") or None,
    ), []


def _plan(session: Session, request: _Request, on: dt.date) -> LinkagePlan:
    if request.kind is FormKind.DUAL:
        return plan_dual(
            session,
            client_orgnr=request.client_orgnr,
            subscription=request.subscription,
            firm_orgnr=request.firm_orgnr,
            role=request.role,
            on=on,
            current_firm_orgnr=request.current_firm_orgnr,
            client_name=request.client_name,
            firm_name=request.firm_name,
        )
    return plan_disconnect(
        session,
        client_orgnr=request.client_orgnr,
        subscription=request.subscription,
        firm_orgnr=request.firm_orgnr,
        role=request.role,
        takeover=request.takeover,
        on=on,
        client_name=request.client_name,
        firm_name=request.firm_name,
    )


def _prepare(
    session: Session, submission: Submission, on: dt.date
) -> tuple[_Request | None, LinkagePlan]:
    assert submission.id is not None
    kind = _form_kind(submission)
    if submission.status == SubmissionStatus.UNREADABLE:
        reason = submission.unreadable_reason or "okänd orsak"
        return None, _empty_plan(submission.kind or "", f"Blanketten gick inte att läsa: {reason}")
    if kind is None:
        return None, _empty_plan(
            submission.kind or "",
            "Blanketten är varken en Dubbelsammankoppling eller en Bortkoppling.",
        )
    request, problems = _request(kind, effective_values(session, submission.id))
    if request is None:
        return None, _empty_plan(kind.value, *problems)
    return request, _plan(session, request, on)


def preview(session: Session, submission_id: int, *, on: dt.date) -> LinkagePlan:
    """What approving would do on day `on`: the registry's plan from the effective values."""
    return _prepare(session, _load(session, submission_id), on)[1]


def open_blocking_findings(session: Session, submission_id: int) -> list[SubmissionFinding]:
    """The blocking findings that still need an override reason (see the module docstring)."""
    corrected = set(
        session.exec(
            select(SubmissionField.name).where(
                col(SubmissionField.submission_id) == submission_id,
                col(SubmissionField.corrected_value).is_not(None),
            )
        ).all()
    )
    findings = session.exec(
        select(SubmissionFinding)
        .where(
            col(SubmissionFinding.submission_id) == submission_id,
            col(SubmissionFinding.severity) == "blocking",
        )
        .order_by(col(SubmissionFinding.id))
    ).all()
    return [f for f in findings if not (f.field in _RECHECKED and f.field in corrected)]


def _apply(
    session: Session, request: _Request, on: dt.date, *, actor: str, reference: str
) -> LinkagePlan:
    if request.kind is FormKind.DUAL:
        return apply_dual(
            session,
            client_orgnr=request.client_orgnr,
            subscription=request.subscription,
            firm_orgnr=request.firm_orgnr,
            role=request.role,
            on=on,
            actor=actor,
            reference=reference,
            current_firm_orgnr=request.current_firm_orgnr,
            client_name=request.client_name,
            firm_name=request.firm_name,
        )
    return apply_disconnect(
        session,
        client_orgnr=request.client_orgnr,
        subscription=request.subscription,
        firm_orgnr=request.firm_orgnr,
        role=request.role,
        takeover=request.takeover,
        on=on,
        actor=actor,
        reference=reference,
        client_name=request.client_name,
        firm_name=request.firm_name,
    )


def _decide(
    session: Session,
    submission: Submission,
    reviewer: Reviewer,
    status: SubmissionStatus,
    action: str,
    *,
    now: dt.datetime,
    after: dict[str, object],
) -> None:
    """The bookkeeping every decision shares: status, who and when, claim released, audit."""
    before = {"status": submission.status.value}
    submission.status = status
    submission.decided_by = reviewer.id
    submission.decided_at = now
    submission.claimed_by = None
    submission.claimed_until = None
    session.add(submission)
    record_event(
        session,
        actor=reviewer.email,
        action=action,
        subject=f"submission:{submission.id}",
        before=before,
        after={"status": status.value, **after},
    )


def approve(
    session: Session,
    submission_id: int,
    reviewer: Reviewer,
    *,
    now: dt.datetime,
    override_reason: str | None = None,
    form_url: str,
    sender_domain: str,
) -> LinkagePlan:
    """Carry out a queued submission the reviewer holds: registry, decision, audit, mails.

    Refused (DecisionError, nothing written) when it is decided already, not
    held, its plan has problems, or a blocking finding is open and no
    `override_reason` is given. Returns the plan as carried out.
    """
    submission = _hold(session, submission_id, reviewer, now, (SubmissionStatus.QUEUED,))
    on = decision_day(now)
    request, plan = _prepare(session, submission, on)
    if request is None or plan.problems:
        raise DecisionError("Ärendet kan inte godkännas: " + " ".join(plan.problems))
    override = " ".join((override_reason or "").split()) or None
    if override is not None and len(override) > _TEXT_MAX:
        raise DecisionError(f"Skälet får vara högst {_TEXT_MAX} tecken.")
    findings = open_blocking_findings(session, submission_id)
    if findings and override is None:
        listed = " ".join(f.message for f in findings[:3])
        raise DecisionError(
            f"Ärendet har {len(findings)} blockerande fynd ({listed}). "
            "Skriv varför du godkänner det ändå, eller avvisa det."
        )
    try:
        applied = _apply(
            session, request, on, actor=reviewer.email, reference=f"submission {submission_id}"
        )
    except Conflict as exc:
        raise DecisionError(exc.message) from exc
    submission.applied_at = now
    submission.override_reason = override
    _decide(
        session,
        submission,
        reviewer,
        SubmissionStatus.APPLIED,
        "submission.approved",
        now=now,
        after={
            "kind": request.kind.value,
            "changes": [c.summary for c in applied.changes],
            "already_done": applied.already_done,
            "override_reason": override,
            "overridden_findings": [f.code for f in findings],
        },
    )
    _approval_mails(
        session,
        submission,
        request,
        applied,
        on=on,
        now=now,
        form_url=form_url,
        sender_domain=sender_domain,
    )
    session.flush()
    return applied


def reject(
    session: Session,
    submission_id: int,
    reviewer: Reviewer,
    *,
    reason_code: str,
    reason_text: str | None,
    now: dt.datetime,
    form_url: str,
    sender_domain: str,
) -> None:
    """Reject an open submission the reviewer holds, and tell the mail's sender why.

    `reason_code` is one of `REJECT_REASONS`; `reason_text` adds to its
    sentence, and is the whole reason for "other". A submission read from a
    file has no sender, so no mail goes out.
    """
    reasons = dict(REJECT_REASONS)
    if reason_code not in reasons:
        raise DecisionError("Välj ett av skälen.")
    text = " ".join((reason_text or "").split())
    if reason_code == "other" and not text:
        raise DecisionError("Skriv vad som var fel.")
    if len(text) > _TEXT_MAX:
        raise DecisionError(f"Förklaringen får vara högst {_TEXT_MAX} tecken.")
    submission = _hold(session, submission_id, reviewer, now, _OPEN)
    reason = text if reason_code == "other" else f"{reasons[reason_code]} {text}".strip()
    submission.decision_reason = reason
    _decide(
        session,
        submission,
        reviewer,
        SubmissionStatus.REJECTED,
        "submission.rejected",
        now=now,
        after={"reason_code": reason_code, "reason": reason},
    )
    message = _inbound(session, submission)
    if message is not None and message.sender:
        kind = _form_kind(submission)
        queue_mail(
            session,
            to=message.sender,
            template="rejected",
            context={
                "original_subject": message.subject,
                "received_at": message.sent_at or message.recorded_at,
                "kind": kind.value if kind else None,
                "form_id": submission.form_id,
                "client_name": effective_values(session, submission_id).get("client_name") or None,
                "reason": reason,
                "form_url": form_url,
            },
            sender_domain=sender_domain,
            now=now,
            automatic=False,
            in_reply_to=message.message_id,
            inbound_message_id=message.id,
            submission_id=submission_id,
        )
    session.flush()


# -- the mails after an approval ---------------------------------------------------------------


def _inbound(session: Session, submission: Submission) -> InboundMessage | None:
    if submission.inbound_message_id is None:
        return None
    return session.get(InboundMessage, submission.inbound_message_id)


def _company(session: Session, orgnr: str | None) -> Company | None:
    if not orgnr:
        return None
    return session.exec(select(Company).where(Company.orgnr == orgnr)).first()


def _addresses(session: Session, company: Company, roles: Sequence[RoleKind]) -> list[str]:
    """The e-mail addresses of the company's people holding one of `roles`."""
    rows = session.exec(
        select(Person.email)
        .join(Role, col(Role.person_id) == col(Person.id))
        .where(col(Role.company_id) == company.id, col(Role.role).in_(roles))
        .order_by(col(Person.email))
    ).all()
    return list(dict.fromkeys(rows))


def _payer_from(plan: LinkagePlan) -> dt.date | None:
    """The billing period from which the client pays, when the plan switched the payer."""
    for change in plan.changes:
        if change.action == "payer.changed" and change.after is not None:
            return dt.date.fromisoformat(str(change.after["valid_from"]))
    return None


@dataclasses.dataclass(frozen=True)
class _Mail:
    to: str
    template: str
    context: dict[str, object]


def _approval_mails(
    session: Session,
    submission: Submission,
    request: _Request,
    plan: LinkagePlan,
    *,
    on: dt.date,
    now: dt.datetime,
    form_url: str,
    sender_domain: str,
) -> None:
    """Queue the mails: the firm that changed, the firm already connected, then the client.

    Each address gets one mail, the first in that order that concerns it: a
    firm's administrator who also signs for the client hears as the firm.
    The mail's sender hears as the client unless it is one of the firms'
    people; whichever mail the sender gets is a reply to the mail it sent.
    """
    client = _company(session, request.client_orgnr)
    firm = _company(session, request.firm_orgnr)
    assert client is not None and firm is not None  # the plan had no problems
    common: dict[str, object] = {
        "kind": request.kind.value,
        "client_name": client.name,
        "client_orgnr": client.orgnr,
        "role": request.role.value,
        "on": on,
        "payer_from": _payer_from(plan),
        "form_id": submission.form_id,
        "form_url": form_url,
    }
    firm_context = common | {"firm_name": firm.name, "new_firm_name": None}
    mails: list[_Mail] = []
    firm_people = _addresses(session, firm, [RoleKind.SYSADMIN])
    if request.kind is FormKind.DUAL:
        given = effective_values(session, submission.id or 0).get("new_firm_email", "")
        firm_people.append(given)
    mails += [_Mail(a, "approved_firm", firm_context) for a in firm_people]
    if request.kind is FormKind.DUAL:
        current = _company(session, _canonical_orgnr(request.current_firm_orgnr))
        if current is not None and current.id not in (firm.id, client.id):
            context = common | {"firm_name": current.name, "new_firm_name": firm.name}
            people = _addresses(session, current, [RoleKind.SYSADMIN])
            mails += [_Mail(a, "approved_firm", context) for a in people]
    client_context = common | {
        "firm_name": firm.name,
        "firm_orgnr": firm.orgnr,
        "takeover": request.takeover,
    }
    client_people = _addresses(session, client, [RoleKind.FIRMATECKNARE, RoleKind.SYSADMIN])
    mails += [_Mail(a, "approved_client", client_context) for a in client_people]
    message = _inbound(session, submission)
    sender = deliverable_address(message.sender or "") if message is not None else None
    if sender is not None:
        mails.append(_Mail(sender, "approved_client", client_context))

    seen: set[str] = set()
    for mail in mails:
        to = deliverable_address(mail.to)
        if to is None or to in seen:
            continue
        seen.add(to)
        replying = message is not None and to == sender
        queue_mail(
            session,
            to=to,
            template=mail.template,
            context=mail.context,
            sender_domain=sender_domain,
            now=now,
            automatic=False,
            in_reply_to=message.message_id if replying and message is not None else None,
            inbound_message_id=message.id if replying and message is not None else None,
            submission_id=submission.id,
        )


def _canonical_orgnr(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return clean_field(form_spec(FormKind.DUAL).field("current_firm_orgnr"), value)
    except InvalidValue:
        return None
