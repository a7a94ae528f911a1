"""Deciding a submission the reviewer holds: correcting what was read, approving or rejecting it.

Holding the submission is `review.claims`': every step here first
re-asserts the reviewer's claim, which also locks the row until the
caller's commit, so two decisions on one submission cannot both land.

What a submission asks for comes from its fields: the value the machine
read, or the reviewer's correction when there is one (`effective_values`).
A correction is checked with the form's own field validator. `preview`
turns the effective values into a request to the registry
(`registry.DualConnectionRequest`, `registry.DisconnectionRequest`) and
that into the registry's plan; `approve` applies it, records the decision
and its audit event, and queues the mails (`review.decision_mails`) in the
caller's transaction, so one commit makes all of it appear and a rollback
leaves no trace. `reject` records why and tells the mail's sender how to
send a form we can approve.

A blocking finding from the intake needs an override reason to approve,
except a finding on a value the registry plan checks again (organisationsnummer,
subscription number, kind of firm, what happens after) once the reviewer has
corrected that value: the plan, which must have no problems, has then
checked the corrected value. Signatures and form ids are not re-checked by
anything, so their findings always need the reason. When a finding's code is
under four eyes (`review.four_eyes`), the approval is not carried out but
waits for another reviewer: `confirm_override` carries it out then, exactly
as `approve` would have, and names both reviewers in the audit event.

Every function takes the caller's session and never commits. After a
`DecisionError` the caller rolls back; the checks that refuse a decision run
before anything is written, so nothing is lost by doing so.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from sqlmodel import Session, col, select

from forms import FormKind, InvalidValue, clean_field, form_spec
from registry import (
    Company,
    Conflict,
    DisconnectionRequest,
    DualConnectionRequest,
    LinkagePlan,
    apply_disconnect,
    apply_dual,
    end_grants_of_connection,
    plan_disconnect,
    plan_dual,
    record_event,
)
from render import SWEDISH_TIME
from review.claims import OPEN_STATUSES, DecisionError, aware, hold, load_submission
from review.decision_mails import queue_approval_mails, queue_rejection_mail
from review.four_eyes import (
    answer,
    confirmable,
    guarded_codes,
    pending_request,
    request_override,
    withdraw_override,
)
from review.revalidate import revalidate
from workqueue import (
    OverrideRequest,
    OverrideState,
    Reviewer,
    Submission,
    SubmissionField,
    SubmissionFinding,
    SubmissionStatus,
)

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

# One key picks a reason for approving despite a finding (the reviewer may write their own).
OVERRIDE_PRESETS: list[str] = [
    "Kontrollerat mot bilden: uppgifterna stämmer.",
    "Underskriften finns på blanketten; läsningen missade den.",
    "Datumet syns på bilden men kunde inte läsas maskinellt.",
    "Kunden har bekräftat uppgifterna.",
]
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

_Request = DualConnectionRequest | DisconnectionRequest


@dataclass(frozen=True)
class Approval:
    """What `approve` did: the plan carried out, or the override waiting for a second reviewer."""

    plan: LinkagePlan  # as carried out, or as it stands while the override waits
    awaiting: OverrideRequest | None = None  # set: nothing applied yet

    @property
    def applied(self) -> bool:
        return self.awaiting is None


def decision_day(now: dt.datetime) -> dt.date:
    """The day a decision at `now` takes effect: the date in Sweden (pass it to `preview`)."""
    return aware(now).astimezone(SWEDISH_TIME).date()


def effective_values(session: Session, submission_id: int) -> dict[str, str]:
    """Each field's value: the reviewer's correction when there is one, else what was read."""
    load_submission(session, submission_id)
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
    confirm: bool = False,
) -> None:
    """Store the reviewer's value for field `name`, checked like a form entry; audited.

    An unchanged value is a no-op, unless `confirm`: then the value as read
    is recorded as the reviewer's (they compared it with the image), so it
    counts as sure from now on (`review.revalidate`).
    """
    submission = hold(session, submission_id, reviewer, now, (SubmissionStatus.QUEUED,))
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
    if row is None:
        # The reader found nothing for it: the reviewer's value is the only one.
        row = SubmissionField(
            submission_id=submission_id, name=name, value="", raw="", confidence=0.0
        )
    confirming = row.corrected_value is None and before == canonical
    if before == canonical and not (confirm and confirming):
        return
    row.corrected_value = canonical
    session.add(row)
    record_event(
        session,
        actor=reviewer.email,
        action="submission.field_confirmed" if confirming else "submission.field_corrected",
        subject=f"submission:{submission_id}",
        before={"field": name, "value": before},
        after={"field": name, "value": canonical},
    )
    # What a pending override was asked for is no longer what the submission says.
    withdraw_override(
        session, submission_id, reviewer, why="Ett fält rättades efter begäran.", now=now
    )
    session.flush()


def correct_fields(
    session: Session,
    submission_id: int,
    reviewer: Reviewer,
    values: Mapping[str, str],
    *,
    now: dt.datetime,
    confirmed: frozenset[str] = frozenset(),
) -> list[SubmissionFinding]:
    """Correct (and confirm) several fields, then check the submission again; its findings.

    Only the fields whose value differs from the current one, or that are
    named in `confirmed`, are written. The findings are then the intake's
    checks on the values as they are now (`review.revalidate`), so the page
    never shows a finding about a value that has since been corrected.
    """
    current = effective_values(session, submission_id)
    for name, value in values.items():
        if name not in current and not value.strip():
            continue
        if value.strip() != current.get(name) or name in confirmed:
            correct_field(
                session, submission_id, reviewer, name, value, now=now, confirm=name in confirmed
            )
    submission = load_submission(session, submission_id)
    return revalidate(session, submission)


def preset_reason(choice: str) -> str:
    """The override reason a preset's number ("1".."4") stands for; "" for anything else."""
    if choice.isdigit() and 1 <= int(choice) <= len(OVERRIDE_PRESETS):
        return OVERRIDE_PRESETS[int(choice) - 1]
    return ""


def _empty_plan(kind: str, *problems: str) -> LinkagePlan:
    return LinkagePlan(kind=kind, changes=[], problems=list(problems), already_done=False, notes=[])


def _request(
    kind: FormKind, values: Mapping[str, str], on: dt.date
) -> tuple[_Request | None, list[str]]:
    """The registry request the values make, or the problems that stop one, named per field.

    The values the plan needs are checked here first, so that the reviewer
    reads which field is wrong in the form's own words.
    """
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
    cleaned = {**values, **clean}
    if kind is FormKind.DUAL:
        return DualConnectionRequest.from_values(cleaned, on=on), []
    return DisconnectionRequest.from_values(cleaned, on=on), []


def _prepare(
    session: Session, submission: Submission, values: Mapping[str, str], on: dt.date
) -> tuple[_Request | None, LinkagePlan]:
    kind = _form_kind(submission)
    if submission.status == SubmissionStatus.UNREADABLE:
        reason = submission.unreadable_reason or "okänd orsak"
        return None, _empty_plan(submission.kind or "", f"Blanketten gick inte att läsa: {reason}")
    if kind is None:
        return None, _empty_plan(
            submission.kind or "",
            "Blanketten är varken en Dubbelsammankoppling eller en Bortkoppling.",
        )
    request, problems = _request(kind, values, on)
    if request is None:
        return None, _empty_plan(kind.value, *problems)
    if isinstance(request, DualConnectionRequest):
        return request, plan_dual(session, request)
    return request, plan_disconnect(session, request)


def preview(session: Session, submission_id: int, *, on: dt.date) -> LinkagePlan:
    """What approving would do on day `on`: the registry's plan from the effective values."""
    submission = load_submission(session, submission_id)
    return _prepare(session, submission, effective_values(session, submission_id), on)[1]


def preview_values(
    session: Session, submission: Submission, values: Mapping[str, str], *, on: dt.date
) -> LinkagePlan:
    """`preview` with the effective values already read (a page listing many)."""
    return _prepare(session, submission, values, on)[1]


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


def _checked(
    session: Session, submission: Submission, now: dt.datetime
) -> tuple[_Request, dict[str, str], LinkagePlan]:
    """The request, the values and the plan of an approval, refused when the plan says no."""
    assert submission.id is not None
    values = effective_values(session, submission.id)
    request, plan = _prepare(session, submission, values, decision_day(now))
    if request is None or plan.problems:
        raise DecisionError("Ärendet kan inte godkännas: " + " ".join(plan.problems))
    return request, values, plan


def _end_consultant_access(
    session: Session, request: DisconnectionRequest, now: dt.datetime
) -> None:
    """A firm disconnected on paper takes its consultants' program grants at the client with it."""
    rows = session.exec(
        select(Company.orgnr, Company.id).where(
            col(Company.orgnr).in_([request.client_orgnr, request.firm_orgnr])
        )
    ).all()
    ids: dict[str, int | None] = dict(rows)
    client, firm = ids.get(request.client_orgnr), ids.get(request.firm_orgnr)
    if client is not None and firm is not None:
        end_grants_of_connection(session, client_id=client, firm_id=firm, now=now)


def _carry_out(
    session: Session,
    submission: Submission,
    reviewer: Reviewer,
    request: _Request,
    values: dict[str, str],
    *,
    override: str | None,
    findings: list[SubmissionFinding],
    now: dt.datetime,
    form_url: str,
    sender_domain: str,
    audit: Mapping[str, object],
) -> LinkagePlan:
    """Apply the linkage, record the decision and queue the mails (an approval's writes)."""
    reference = f"submission {submission.id}"
    try:
        if isinstance(request, DualConnectionRequest):
            applied = apply_dual(session, request, actor=reviewer.email, reference=reference)
        else:
            applied = apply_disconnect(session, request, actor=reviewer.email, reference=reference)
            _end_consultant_access(session, request, now)
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
            "kind": applied.kind,
            "changes": [c.summary for c in applied.changes],
            "already_done": applied.already_done,
            "override_reason": override,
            "overridden_findings": [f.code for f in findings],
            **audit,
        },
    )
    queue_approval_mails(
        session,
        submission,
        request,
        applied,
        values=values,
        now=now,
        form_url=form_url,
        sender_domain=sender_domain,
    )
    session.flush()
    return applied


def approve(
    session: Session,
    submission_id: int,
    reviewer: Reviewer,
    *,
    now: dt.datetime,
    override_reason: str | None = None,
    form_url: str,
    sender_domain: str,
) -> Approval:
    """Carry out a queued submission the reviewer holds: registry, decision, audit, mails.

    Refused (DecisionError, nothing written) when it is decided already, not
    held, its plan has problems, a blocking finding is open and no
    `override_reason` is given, or an override already waits for confirmation.
    An override of a finding under four eyes is recorded and waits instead
    (`Approval.awaiting`); nothing else is written then.
    """
    submission = hold(session, submission_id, reviewer, now, (SubmissionStatus.QUEUED,))
    request, values, plan = _checked(session, submission, now)
    override = " ".join((override_reason or "").split()) or None
    if override is not None and len(override) > _TEXT_MAX:
        raise DecisionError(f"Skälet får vara högst {_TEXT_MAX} tecken.")
    if pending_request(session, submission_id) is not None:
        raise DecisionError(
            "Ärendet väntar redan på att en annan granskare bekräftar ett undantag."
        )
    findings = open_blocking_findings(session, submission_id)
    if findings and override is None:
        listed = " ".join(f.message for f in findings[:3])
        raise DecisionError(
            f"Ärendet har {len(findings)} blockerande fynd ({listed}). "
            "Skriv varför du godkänner det ändå, eller avvisa det."
        )
    codes = [f.code for f in findings]
    if override is not None and guarded_codes(session, codes):
        waiting = request_override(
            session, submission, reviewer, reason=override, codes=codes, now=now
        )
        return Approval(plan=plan, awaiting=waiting)
    applied = _carry_out(
        session, submission, reviewer, request, values,
        override=override, findings=findings, now=now,
        form_url=form_url, sender_domain=sender_domain, audit={},
    )  # fmt: skip
    return Approval(plan=applied)


def confirm_override(
    session: Session,
    submission_id: int,
    reviewer: Reviewer,
    *,
    now: dt.datetime,
    form_url: str,
    sender_domain: str,
) -> LinkagePlan:
    """A second reviewer confirms the pending override: the approval is carried out.

    Refused (nothing written) when `reviewer` asked for it (`OwnOverride`),
    when the submission changed since (`StaleOverride`: the caller then rolls
    back and calls `four_eyes.withdraw_stale`), or as `approve` would refuse.
    """
    submission = hold(session, submission_id, reviewer, now, (SubmissionStatus.QUEUED,))
    waiting = confirmable(session, submission_id, reviewer)
    request, values, _ = _checked(session, submission, now)
    requester = session.get(Reviewer, waiting.requested_by)
    answer(session, waiting, reviewer, OverrideState.CONFIRMED, now=now)
    return _carry_out(
        session, submission, reviewer, request, values,
        override=waiting.reason, findings=open_blocking_findings(session, submission_id),
        now=now, form_url=form_url, sender_domain=sender_domain,
        audit={
            "override_requested_by": requester.email if requester else None,
            "override_requested_at": waiting.requested_at.isoformat(),
            "override_confirmed_by": reviewer.email,
        },
    )  # fmt: skip


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
    submission = hold(session, submission_id, reviewer, now, OPEN_STATUSES)
    client_name = effective_values(session, submission_id).get("client_name") or None
    reason = text if reason_code == "other" else f"{reasons[reason_code]} {text}".strip()
    withdraw_override(session, submission_id, reviewer, why="Ärendet avvisades.", now=now)
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
    queue_rejection_mail(
        session,
        submission,
        kind=_form_kind(submission),
        client_name=client_name,
        reason=reason,
        now=now,
        form_url=form_url,
        sender_domain=sender_domain,
    )
    session.flush()
