"""Four eyes on overrides: which blocking findings need a second reviewer, and the requests.

A reviewer may approve a submission despite a blocking finding by giving a
reason (`review.decide.approve`). For the finding codes under four eyes that
approval is not carried out: it becomes an `OverrideRequest` (state
`pending`) with the reviewer's reason, and the submission stays open in the
queue, marked "väntar på bekräftelse". Another reviewer (any reviewer or admin
but the one who asked) then confirms it (`review.decide.confirm_override`,
which carries out the approval as usual) or declines it here, with a reason;
the submission is then open as before. Both are audit events that name both
reviewers.

A request is for the submission as it was: `fingerprint` hashes its fields
(with corrections), findings and signatures. A confirmation of a submission
whose fingerprint differs is refused (`StaleOverride`); a correction,
a rejection or a new approval withdraws the pending request at once.

Which codes need four eyes: `DEFAULT_FOUR_EYES` (the signature findings)
unless an admin has chosen otherwise for that code (`FourEyesRule`, one row
per code changed, audited). Defaults live in code so a code added later gets
a sane one (off) without a data migration. Only blocking findings are ever
subject to it: warnings never need an override at all.

Every function takes the caller's session and never commits.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import Session, col, select

from registry import record_event
from review.claims import DecisionError, hold, load_submission
from review.finding_labels import FINDING_LABELS, finding_label
from workqueue import (
    FourEyesRule,
    OverrideRequest,
    OverrideState,
    Reviewer,
    ReviewerRole,
    Submission,
    SubmissionField,
    SubmissionFinding,
    SubmissionSignature,
    SubmissionStatus,
)

# The blocking codes an admin may put under four eyes, in the reviewers' words.
BLOCKING_CODES: dict[str, str] = {code: FINDING_LABELS[code] for code in (
    "signature.missing",
    "signatory.not_authorised",
    "qr.invalid",
    "form.unknown_id",
    "form.kind_mismatch",
    "field.missing",
    "orgnr.format",
    "orgnr.luhn",
    "subscription.format",
    "subscription.luhn",
    "client.unknown",
    "subscription.unknown",
    "subscription.mismatch",
    "firm.unknown",
    "firm.kind_mismatch",
    "firm.same_company",
    "connection.exists",
    "connection.missing",
)}
DEFAULT_FOUR_EYES = frozenset({"signature.missing", "signatory.not_authorised"})

_TEXT_MAX = 800


class OwnOverride(DecisionError):  # noqa: N818 - a refusal, like its parent
    """The reviewer who asked for the override tried to confirm it."""


class StaleOverride(DecisionError):  # noqa: N818
    """The submission changed after the override was asked for; `withdraw_stale` sends it back."""


def code_label(code: str) -> str:
    """The Swedish label of a finding code; the code itself for one not labelled."""
    return finding_label(code)


# -- the rules ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RuleRow:
    code: str
    label: str
    required: bool
    default: bool
    changed_by: str | None  # the admin's name, None while the default holds
    changed_at: dt.datetime | None


def guarded_codes(session: Session, codes: Iterable[str]) -> list[str]:
    """The codes among `codes` whose override needs a second reviewer, in their order, once."""
    wanted = list(dict.fromkeys(codes))
    if not wanted:
        return []
    chosen = {
        r.code: r.required
        for r in session.exec(select(FourEyesRule).where(col(FourEyesRule.code).in_(wanted)))
    }
    return [c for c in wanted if chosen.get(c, c in DEFAULT_FOUR_EYES)]


def rule_rows(session: Session) -> list[RuleRow]:
    """Every blocking code we know of (labelled ones, then any others seen), with its rule."""
    seen = session.exec(
        select(SubmissionFinding.code).where(col(SubmissionFinding.severity) == "blocking")
    ).all()
    rules = {r.code: r for r in session.exec(select(FourEyesRule))}
    codes = list(dict.fromkeys([*BLOCKING_CODES, *sorted(set(seen)), *sorted(rules)]))
    names = {r.id: r.name for r in session.exec(select(Reviewer))}
    out = []
    for code in codes:
        rule = rules.get(code)
        default = code in DEFAULT_FOUR_EYES
        out.append(
            RuleRow(
                code=code,
                label=code_label(code),
                required=rule.required if rule is not None else default,
                default=default,
                changed_by=names.get(rule.changed_by) if rule is not None else None,
                changed_at=rule.changed_at if rule is not None else None,
            )
        )
    return out


def set_rule(
    session: Session, code: str, required: bool, admin: Reviewer, *, now: dt.datetime
) -> bool:
    """An admin turns four eyes on or off for `code`; audited. False when nothing changed."""
    if admin.role != ReviewerRole.ADMIN or not admin.active or admin.id is None:
        raise DecisionError("Bara en administratör kan ändra reglerna för fyra ögon.")
    if code not in {r.code for r in rule_rows(session)}:
        raise DecisionError(f"Det finns inget blockerande fynd med koden ”{code[:60]}”.")
    before = guarded_codes(session, [code]) == [code]
    if before == required:
        return False
    rule = session.get(FourEyesRule, code)
    if rule is None:
        rule = FourEyesRule(code=code, required=required, changed_by=admin.id, changed_at=now)
    rule.required, rule.changed_by, rule.changed_at = required, admin.id, now
    session.add(rule)
    record_event(
        session,
        actor=admin.email,
        action="four_eyes.rule_changed",
        subject=f"finding:{code}",
        before={"required": before},
        after={"required": required},
        detail=f"Fyra ögon {'på' if required else 'av'} för ”{code_label(code)}” ({code}).",
    )
    session.flush()
    return True


# -- the requests ------------------------------------------------------------------------------


def fingerprint(session: Session, submission_id: int) -> str:
    """A hash of what a reviewer decides on: fields (with corrections), findings, signatures."""
    submission = load_submission(session, submission_id)
    fields = session.exec(
        select(SubmissionField.name, SubmissionField.value, SubmissionField.corrected_value)
        .where(col(SubmissionField.submission_id) == submission_id)
        .order_by(col(SubmissionField.name))
    ).all()
    findings = session.exec(
        select(
            SubmissionFinding.code,
            SubmissionFinding.severity,
            SubmissionFinding.field,
            SubmissionFinding.message,
        )
        .where(col(SubmissionFinding.submission_id) == submission_id)
        .order_by(col(SubmissionFinding.id))
    ).all()
    signatures = session.exec(
        select(SubmissionSignature.party, SubmissionSignature.state)
        .where(col(SubmissionSignature.submission_id) == submission_id)
        .order_by(col(SubmissionSignature.party))
    ).all()
    return fingerprint_of(submission, fields, findings, signatures)


def fingerprint_of(
    submission: Submission,
    fields: Iterable[Sequence[object]],
    findings: Iterable[Sequence[object]],
    signatures: Iterable[Sequence[object]],
) -> str:
    """`fingerprint` from rows already loaded: (name, value, corrected_value) by name,
    (code, severity, field, message) by id, (party, state) by party."""
    text = json.dumps(
        [
            submission.kind,
            submission.form_id,
            [list(r) for r in fields],
            [list(r) for r in findings],
            [list(r) for r in signatures],
        ],
        ensure_ascii=False,
    )
    return hashlib.sha256(text.encode()).hexdigest()


def pending_request(session: Session, submission_id: int) -> OverrideRequest | None:
    return session.exec(
        select(OverrideRequest).where(
            col(OverrideRequest.submission_id) == submission_id,
            col(OverrideRequest.state) == OverrideState.PENDING,
        )
    ).first()


def latest_request(session: Session, submission_id: int) -> OverrideRequest | None:
    """The submission's newest request, answered or not (the detail page shows it)."""
    return session.exec(
        select(OverrideRequest)
        .where(col(OverrideRequest.submission_id) == submission_id)
        .order_by(col(OverrideRequest.id).desc())
    ).first()


def awaiting_ids(session: Session, submission_ids: Iterable[int]) -> set[int]:
    """Which of these submissions wait for a second reviewer."""
    ids = list(submission_ids)
    if not ids:
        return set()
    return set(
        session.exec(
            select(OverrideRequest.submission_id).where(
                col(OverrideRequest.submission_id).in_(ids),
                col(OverrideRequest.state) == OverrideState.PENDING,
            )
        ).all()
    )


def _email(session: Session, reviewer_id: int) -> str:
    found = session.get(Reviewer, reviewer_id)
    return found.email if found is not None else f"reviewer:{reviewer_id}"


def request_override(
    session: Session,
    submission: Submission,
    reviewer: Reviewer,
    *,
    reason: str,
    codes: list[str],
    now: dt.datetime,
) -> OverrideRequest:
    """Record `reviewer`'s override as pending and give the submission back to the queue.

    The caller has checked that the approval is otherwise possible (held,
    plan without problems, a reason given) and that no request is pending.
    """
    assert submission.id is not None and reviewer.id is not None
    request = OverrideRequest(
        submission_id=submission.id,
        state=OverrideState.PENDING,
        requested_by=reviewer.id,
        requested_at=now,
        reason=reason,
        codes=" ".join(codes),
        fingerprint=fingerprint(session, submission.id),
    )
    session.add(request)
    # The reviewer is done with it; whoever confirms takes it from the queue.
    submission.claimed_by = None
    submission.claimed_until = None
    session.add(submission)
    record_event(
        session,
        actor=reviewer.email,
        action="submission.override_requested",
        subject=f"submission:{submission.id}",
        before={"status": submission.status.value},
        after={"status": submission.status.value, "override_reason": reason, "codes": codes},
        detail="Godkänt trots blockerande fynd; väntar på bekräftelse av en annan granskare.",
    )
    session.flush()
    return request


def confirmable(session: Session, submission_id: int, reviewer: Reviewer) -> OverrideRequest:
    """The pending request `reviewer` may confirm; refused when it is theirs or out of date."""
    request = pending_request(session, submission_id)
    if request is None:
        raise DecisionError("Ärendet väntar inte på någon bekräftelse.")
    if request.requested_by == reviewer.id:
        raise OwnOverride(
            "Du kan inte bekräfta ditt eget undantag: en annan granskare måste göra det."
        )
    if fingerprint(session, submission_id) != request.fingerprint:
        raise StaleOverride(
            "Ärendet har ändrats sedan undantaget begärdes, så det kan inte bekräftas. "
            "Det är tillbaka i kön och måste granskas igen."
        )
    return request


def answer(
    session: Session,
    request: OverrideRequest,
    reviewer: Reviewer,
    state: OverrideState,
    *,
    now: dt.datetime,
    reason: str | None = None,
) -> None:
    """Close `request` as confirmed, declined or withdrawn by `reviewer` (no audit event).

    One conditional UPDATE, so of two answers at once (a confirmation and a
    withdrawal) exactly one lands; the other is refused and rolled back.
    """
    result = session.exec(
        sa.update(OverrideRequest)
        .where(
            col(OverrideRequest.id) == request.id,
            col(OverrideRequest.state) == OverrideState.PENDING,
        )
        .values(state=state, answered_by=reviewer.id, answered_at=now, answer_reason=reason)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise DecisionError("Undantaget har redan besvarats av en annan granskare.")
    session.refresh(request)


def decline_override(
    session: Session, submission_id: int, reviewer: Reviewer, *, reason: str, now: dt.datetime
) -> None:
    """Another reviewer says no to the pending override: the submission is open again; audited."""
    text = " ".join(reason.split())
    if not text:
        raise DecisionError("Skriv varför du inte bekräftar undantaget.")
    if len(text) > _TEXT_MAX:
        raise DecisionError(f"Skälet får vara högst {_TEXT_MAX} tecken.")
    submission = hold(session, submission_id, reviewer, now, (SubmissionStatus.QUEUED,))
    request = pending_request(session, submission_id)
    if request is None:
        raise DecisionError("Ärendet väntar inte på någon bekräftelse.")
    if request.requested_by == reviewer.id:
        raise OwnOverride("Du kan inte avböja ditt eget undantag; dra tillbaka det i stället.")
    answer(session, request, reviewer, OverrideState.DECLINED, now=now, reason=text)
    submission.claimed_by = None
    submission.claimed_until = None
    session.add(submission)
    requester = _email(session, request.requested_by)
    record_event(
        session,
        actor=reviewer.email,
        action="submission.override_declined",
        subject=f"submission:{submission_id}",
        before={"override_reason": request.reason, "requested_by": requester},
        after={"status": submission.status.value, "reason": text, "declined_by": reviewer.email},
        detail=f"Undantaget som {requester} begärde bekräftades inte: {text}",
    )
    session.flush()


def withdraw_override(
    session: Session, submission_id: int, reviewer: Reviewer, *, why: str, now: dt.datetime
) -> bool:
    """Withdraw the pending request, if any (changed, decided otherwise, or asked back); audited."""
    request = pending_request(session, submission_id)
    if request is None:
        return False
    answer(session, request, reviewer, OverrideState.WITHDRAWN, now=now, reason=why)
    record_event(
        session,
        actor=reviewer.email,
        action="submission.override_withdrawn",
        subject=f"submission:{submission_id}",
        before={
            "override_reason": request.reason,
            "requested_by": _email(session, request.requested_by),
        },
        after={"reason": why},
        detail=f"Undantaget drogs tillbaka: {why}",
    )
    session.flush()
    return True


def withdraw_own(
    session: Session, submission_id: int, reviewer: Reviewer, *, now: dt.datetime
) -> None:
    """The reviewer who asked takes the override back; the submission stays open."""
    request = pending_request(session, submission_id)
    if request is None:
        raise DecisionError("Ärendet väntar inte på någon bekräftelse.")
    if request.requested_by != reviewer.id:
        raise DecisionError("Bara den som begärde undantaget kan dra tillbaka det.")
    withdraw_override(
        session, submission_id, reviewer, why="Granskaren drog tillbaka det.", now=now
    )


def withdraw_stale(
    session: Session, submission_id: int, reviewer: Reviewer, *, now: dt.datetime
) -> bool:
    """After a `StaleOverride` (and its rollback): withdraw the out-of-date request."""
    request = pending_request(session, submission_id)
    if request is None or fingerprint(session, submission_id) == request.fingerprint:
        return False
    return withdraw_override(
        session,
        submission_id,
        reviewer,
        why="Ärendet ändrades efter att undantaget begärdes.",
        now=now,
    )


def request_names(session: Session, request: OverrideRequest) -> tuple[str, str | None]:
    """Who asked for the override and who answered it, by name."""
    asked = session.get(Reviewer, request.requested_by)
    answered = session.get(Reviewer, request.answered_by) if request.answered_by else None
    return (asked.name if asked else "okänd granskare"), (answered.name if answered else None)
