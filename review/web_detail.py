"""One submission: the detail page, claiming, corrections, approve and reject.

GET `/granskning/{id}` only reads. It shows the page image (aligned if we
have it), each field's crop beside what was read (editable), signatures,
findings, the mail it came in, what the registry says now about the
companies involved, and exactly what approving would change. A submission
claimed by someone else, or already decided, is shown read-only.

Every POST first claims the submission for the viewer (`decide.claim`:
taking a free one, renewing one's own, refused when someone else holds it),
so a reviewer without JavaScript can act on an unclaimed submission in one
step, and nobody can act on another's. After approving or rejecting, the
handler claims the next unclaimed submission in the same queue order and
opens it: the reviewer goes from one to the next without visiting the queue.
Failures (a decision the rules refuse, a missing override reason) show the
page again with the message and nothing saved.

An override under four eyes (`review.four_eyes`) does not decide: the page
then shows who asked, when, why and for which findings, and offers every
other reviewer "Bekräfta" (`/bekrafta`, carries the approval out) and
"Avböj" (`/avboj`, with a reason), and the one who asked "Dra tillbaka"
(`/aterkalla`). Confirming one's own override is 403 whatever the form says.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session, col, select

from forms import SURE_CONFIDENCE, FieldType, FormKind, form_spec
from registry import CompanyView, RegistryError, company_view
from review.claims import ClaimedByOther, DecisionError, claim, release
from review.deadlines import deadline, local_day
from review.decide import (
    OVERRIDE_PRESETS,
    REJECT_REASONS,
    approve,
    confirm_override,
    correct_fields,
    decision_day,
    effective_values,
    open_blocking_findings,
    preset_reason,
    preview,
    reject,
)
from review.duplicates import group_of
from review.four_eyes import (
    OwnOverride,
    StaleOverride,
    code_label,
    decline_override,
    fingerprint,
    guarded_codes,
    latest_request,
    pending_request,
    request_names,
    withdraw_own,
    withdraw_stale,
)
from review.keying import keyable
from review.web_common import (
    PREFIX,
    Kit,
    OptionalRowId,
    PageError,
    Posted,
    RowId,
    Viewer,
    local_time,
    percent,
    query,
)
from review.web_keyset import fetch, row_key
from review.web_queue import QueueFilter, claim_holder, claim_next, decided_notice
from review.web_waiting import waiting_context
from workqueue import (
    InboundMessage,
    OverrideRequest,
    OverrideState,
    Reviewer,
    Submission,
    SubmissionField,
    SubmissionFinding,
    SubmissionPage,
    SubmissionSignature,
    SubmissionStatus,
)

FIELD_PREFIX = "falt."
_GROUPS = (
    ("current_firm_", "Nuvarande byrå"),
    ("new_firm_", "Ny byrå"),
    ("firm_", "Byrån"),
    ("client_", "Klienten"),
)
_SEVERITY_ORDER = {"blocking": 0, "warning": 1, "info": 2}
# Whose registry record to show, by the field holding their organisationsnummer.
_PARTIES = (
    ("client_orgnr", "Klienten"),
    ("current_firm_orgnr", "Nuvarande byrå"),
    ("new_firm_orgnr", "Ny byrå"),
    ("firm_orgnr", "Byrån"),
)


@dataclass(frozen=True)
class Offer:
    """A registry candidate as the page offers it: "1 Anna Sundberg (firmatecknare, 96 %)"."""

    value: str
    label: str


@dataclass(frozen=True)
class Choice:
    value: str
    label: str


@dataclass(frozen=True)
class FieldRow:
    row: SubmissionField
    label: str
    value: str  # the corrected value if any, else what was read
    low: bool  # read below the calibrated "sure" confidence, and nobody has confirmed it
    flagged: bool  # low, or a finding above info is about it: a person must look
    offers: tuple[Offer, ...] = ()
    # Keys 1-3 pick an offer while the input is focused: only where nobody types a digit
    # (names); an e-mail address may hold one.
    keys: bool = False
    findings: tuple[SubmissionFinding, ...] = ()  # the findings about this field
    choices: tuple[Choice, ...] = ()  # a choice field's options, in Swedish
    box: tuple[float, float, float, float] | None = None  # x, y, w, h in mm on the page
    inputmode: str = "text"

    @property
    def typed(self) -> bool:
        return self.row.corrected_value is not None

    @property
    def blocking(self) -> bool:
        return any(f.severity == "blocking" for f in self.findings)


def _field_form(kind: str | None, name: str) -> tuple[tuple[Choice, ...],
                                                      tuple[float, float, float, float] | None,
                                                      str]:
    """A field's Swedish choices, its box on the page and the keyboard a phone should offer."""
    if kind not in (FormKind.DUAL.value, FormKind.DISCONNECT.value):
        return (), None, "text"
    spec = form_spec(kind)
    if name not in spec.field_names:
        return (), None, "text"
    field = spec.field(name)
    choices = tuple(Choice(o.value, o.label) for o in field.options)
    box = (field.box.x, field.box.y, field.box.w, field.box.h)
    numeric = field.type in (FieldType.ORGNR, FieldType.SUBSCRIPTION, FieldType.DATE)
    mode = "email" if field.type is FieldType.EMAIL else "numeric" if numeric else "text"
    return choices, box, mode


def offers(row: SubmissionField) -> tuple[Offer, ...]:
    """The stored candidates of a field, numbered as the keys pick them."""
    out = []
    for i, c in enumerate(row.candidates or [], 1):
        value, note, score = str(c.get("value", "")), str(c.get("note", "")), c.get("score")
        share = percent(float(score)) if isinstance(score, int | float) else ""
        about = ", ".join(part for part in (note, share) if part)
        out.append(Offer(value, f"{i} {value}" + (f" ({about})" if about else "")))
    return tuple(out)


def _digit_free(kind: str | None, name: str) -> bool:
    if kind not in (FormKind.DUAL.value, FormKind.DISCONNECT.value):
        return False
    spec = form_spec(kind)
    return name in spec.field_names and spec.field(name).type is FieldType.TEXT


@dataclass(frozen=True)
class Party:
    title: str
    orgnr: str
    view: CompanyView | None  # None: not in the registry (or not an organisationsnummer)


def party_titles(kind: str | None) -> dict[str, str]:
    """Who signs, as the form calls them, by signature party."""
    if kind not in (FormKind.DUAL.value, FormKind.DISCONNECT.value):
        return {}
    return {sig.party: sig.title for sig in form_spec(kind).signatures}


def field_label(kind: str | None, name: str) -> str:
    label = name
    if kind in (FormKind.DUAL.value, FormKind.DISCONNECT.value):
        spec = form_spec(kind)
        if name in spec.field_names:
            label = spec.field(name).label
    for prefix, group in _GROUPS:
        if name.startswith(prefix):
            return f"{group}: {label}"
    return label


def _neighbours(
    session: Session, submission: Submission, flt: QueueFilter
) -> tuple[int | None, int | None]:
    """The previous and next submission in the queue the reviewer came from."""
    key = row_key(flt.sort, submission)
    found: list[int | None] = []
    for backwards in (True, False):
        rows = fetch(session, flt.where(), flt.sort, after=key, limit=1, backwards=backwards)
        found.append(rows[0][0].id if rows else None)
    return found[0], found[1]


def _parties(session: Session, values: dict[str, str]) -> list[Party]:
    out = []
    seen: set[str] = set()
    for name, title in _PARTIES:
        orgnr = values.get(name, "").strip()
        if not orgnr or orgnr in seen:
            continue
        seen.add(orgnr)
        try:
            view: CompanyView | None = company_view(session, orgnr)
        except RegistryError:
            view = None
        out.append(Party(title=title, orgnr=orgnr, view=view))
    return out


@dataclass(frozen=True)
class OverrideView:
    """An override request as the page shows it."""

    request: OverrideRequest
    asked_by: str
    answered_by: str | None
    findings: list[tuple[str, str]]  # (label, message) of each finding it overrides
    stale: bool  # the submission changed since: it cannot be confirmed

    @property
    def pending(self) -> bool:
        return self.request.state == OverrideState.PENDING


def _override_view(
    session: Session, sid: int, findings: list[SubmissionFinding]
) -> OverrideView | None:
    request = latest_request(session, sid)
    if request is None:
        return None
    asked, answered = request_names(session, request)
    codes = request.codes.split()
    return OverrideView(
        request=request,
        asked_by=asked,
        answered_by=answered,
        findings=[
            (code_label(f.code), f.message)
            for f in findings
            if f.code in codes and f.severity == "blocking"
        ],
        stale=request.state == OverrideState.PENDING
        and fingerprint(session, sid) != request.fingerprint,
    )


def detail_context(
    kit: Kit, session: Session, submission: Submission, me: Viewer, flt: QueueFilter
) -> dict[str, Any]:
    sid = submission.id
    assert sid is not None
    now = kit.now()
    pages = session.exec(
        select(SubmissionPage)
        .where(SubmissionPage.submission_id == sid)
        .order_by(col(SubmissionPage.position))
    ).all()
    findings = sorted(
        session.exec(select(SubmissionFinding).where(SubmissionFinding.submission_id == sid)),
        key=lambda f: (_SEVERITY_ORDER.get(f.severity, 3), f.id or 0),
    )
    flagged = {f.field for f in findings if f.field and f.severity != "info"}
    by_field: dict[str, list[SubmissionFinding]] = {}
    for f in findings:
        if f.field:
            by_field.setdefault(f.field, []).append(f)
    values = effective_values(session, sid)
    fields = []
    for stored in session.exec(
        select(SubmissionField)
        .where(SubmissionField.submission_id == sid)
        .order_by(col(SubmissionField.id))
    ):
        low = stored.corrected_value is None and stored.confidence < SURE_CONFIDENCE
        choices, box, mode = _field_form(submission.kind, stored.name)
        fields.append(FieldRow(
            row=stored,
            label=field_label(submission.kind, stored.name),
            value=values.get(stored.name, stored.value),
            low=low,
            flagged=low or stored.name in flagged,
            offers=offers(stored),
            keys=_digit_free(submission.kind, stored.name),
            findings=tuple(by_field.get(stored.name, ())),
            choices=choices,
            box=box,
            inputmode=mode,
        ))
    # The fields a person must look at come first, in the order the form has them.
    check = [f for f in fields if f.flagged]
    sure = [f for f in fields if not f.flagged]
    signatures = session.exec(
        select(SubmissionSignature)
        .where(SubmissionSignature.submission_id == sid)
        .order_by(col(SubmissionSignature.id))
    ).all()
    message = (
        session.get(InboundMessage, submission.inbound_message_id)
        if submission.inbound_message_id is not None
        else None
    )
    holder_row = session.get(Reviewer, submission.claimed_by) if submission.claimed_by else None
    holder = claim_holder(submission, holder_row.name if holder_row else None, now)
    mine = holder is not None and submission.claimed_by == me.id
    decider = session.get(Reviewer, submission.decided_by) if submission.decided_by else None
    keyer = session.get(Reviewer, submission.keyed_by) if submission.keyed_by else None
    open_statuses = (SubmissionStatus.QUEUED, SubmissionStatus.UNREADABLE)
    # Waiting for the customer is neither open to decide nor decided: it shows why it waits.
    waiting = submission.status == SubmissionStatus.AWAITING_CUSTOMER
    decided = submission.status not in open_statuses and not waiting
    plan = None
    plan_error = ""
    if not decided and not waiting and submission.kind is not None:
        try:
            plan = preview(session, sid, on=decision_day(now))
        except DecisionError as exc:
            plan_error = exc.message
    previous_id, next_id = _neighbours(session, submission, flt)
    open_blocking = open_blocking_findings(session, sid) if not (decided or waiting) else []
    override = _override_view(session, sid, findings)
    return {
        "s": submission,
        "pages": pages,
        "fields": fields,
        "check": check,
        "sure": sure,
        "overlay_page": next((p.id for p in pages if p.aligned_sha256), None),
        # Findings about a field stand by that field; the rest (the form, signatures) on top.
        "general_findings": [f for f in findings if f.field not in {r.row.name for r in fields}],
        "override_presets": OVERRIDE_PRESETS,
        "signatures": signatures,
        "party_titles": party_titles(submission.kind),
        "findings": findings,
        "message": message,
        "parties": _parties(session, values),
        "plan": plan,
        "open_blocking": open_blocking,
        "four_eyes": [
            code_label(c) for c in guarded_codes(session, [f.code for f in open_blocking])
        ],
        "override": override,
        "awaiting": override is not None and override.pending and not decided,
        "plan_error": plan_error,
        "holder": holder,
        "mine": mine,
        "read_only": decided or waiting or (holder is not None and not mine),
        "waiting": waiting_context(session, submission, days=kit.pages.info_reminder_days),
        "decided": decided,
        "decider": decider.name if decider else None,
        "reasons": REJECT_REASONS,
        "flt": flt,
        "filter_params": flt.params(),
        "previous_id": previous_id,
        "next_id": next_id,
        "keyable": not decided and keyable(submission),
        "keyed_by": keyer.name if keyer else None,
        "duplicates": group_of(session, sid, now=now),
        "deadline": deadline(submission.created_at, kit.pages.review_days, local_day(now)),
    }


def add_detail_routes(router: APIRouter, kit: Kit) -> None:
    def load(session: Session, submission_id: int) -> Submission:
        submission = session.get(Submission, submission_id)
        if submission is None:
            raise PageError(404, f"Ärende {submission_id} finns inte.")
        return submission

    def show(
        session: Session,
        submission_id: int,
        me: Viewer,
        flt: QueueFilter,
        *,
        error: str = "",
        notice: str = "",
        status: int = 200,
        form: dict[str, str] | None = None,
    ) -> HTMLResponse:
        submission = load(session, submission_id)
        ctx = detail_context(kit, session, submission, me, flt)
        return kit.render(
            "detail.html",
            viewer=me,
            status=status,
            error=error,
            notice=notice,
            posted=form or {},
            **ctx,
        )

    def flt_of(form: dict[str, str]) -> QueueFilter:
        return QueueFilter.of(
            form.get("status", ""),
            form.get("kind", ""),
            form.get("finding", ""),
            form.get("sort", ""),
        )

    def undo(
        session: Session,
        submission_id: int,
        p: Posted,
        flt: QueueFilter,
        error: str,
        status: int,
        *,
        keep_form: bool = False,
    ) -> HTMLResponse:
        """A step refused: roll it back and show the page with why (and what was typed)."""
        session.rollback()
        form = p.form if keep_form else None
        return show(session, submission_id, p.viewer, flt, error=error, status=status, form=form)

    def claimed(
        session: Session, submission_id: int, p: Posted, flt: QueueFilter
    ) -> Response | None:
        """Claim (or renew) for the viewer; the read-only page (409) when someone else holds it.

        The claim is committed at once, so a step that fails afterwards leaves
        the reviewer still holding the submission to try again.
        """
        load(session, submission_id)
        try:
            claim(session, submission_id, p.viewer.reviewer, now=kit.now())
            session.commit()
        except ClaimedByOther as exc:
            message = (
                f"Ärendet hanteras av {exc.reviewer_name} till {local_time(exc.until, '%H:%M')}."
            )
            return undo(session, submission_id, p, flt, message, 409)
        except DecisionError as exc:
            return undo(session, submission_id, p, flt, exc.message, 409)
        return None

    def not_own(
        session: Session, submission_id: int, p: Posted, flt: QueueFilter
    ) -> Response | None:
        """403 before anything is claimed when the viewer asked for the pending override."""
        load(session, submission_id)
        waiting = pending_request(session, submission_id)
        if waiting is None or waiting.requested_by != p.viewer.id:
            return None
        message = (
            "Du kan inte bekräfta eller avböja ditt eget undantag: "
            "en annan granskare måste göra det."
        )
        return show(session, submission_id, p.viewer, flt, error=message, status=403)

    def to(submission_id: int | None, flt: QueueFilter) -> RedirectResponse:
        target = f"{PREFIX}/{submission_id}" if submission_id is not None else f"{PREFIX}/"
        return RedirectResponse(query(target, **flt.params()), status_code=303)

    def onwards(session: Session, p: Posted, flt: QueueFilter, after: int) -> RedirectResponse:
        """Claim the next free submission in the same order and open it (or the queue)."""
        found = claim_next(session, p.viewer.reviewer, flt, now=kit.now(), after=after)
        if found is None:
            target = query(f"{PREFIX}/", **flt.params(), tom="1", klart=after)
        else:
            target = query(f"{PREFIX}/{found}", **flt.params(), klart=after)
        return RedirectResponse(target, status_code=303)

    @router.get("/{submission_id:int}", response_class=HTMLResponse)
    def detail_page(
        submission_id: RowId,
        status: str = "",
        kind: str = "",
        finding: str = "",
        sort: str = "",
        klart: OptionalRowId = None,
        me: Viewer = Depends(kit.viewer),
        session: Session = Depends(kit.db),
    ) -> HTMLResponse:
        flt = QueueFilter.of(status, kind, finding, sort)
        return show(session, submission_id, me, flt, notice=decided_notice(session, klart))

    @router.post("/{submission_id:int}/ta", response_model=None)
    def take(
        submission_id: RowId, p: Posted = Depends(kit.posted), session: Session = Depends(kit.db)
    ) -> Response:
        flt = flt_of(p.form)
        if (refused := claimed(session, submission_id, p, flt)) is not None:
            return refused
        session.commit()
        return to(submission_id, flt)

    @router.post("/{submission_id:int}/slapp", response_model=None)
    def let_go(
        submission_id: RowId, p: Posted = Depends(kit.posted), session: Session = Depends(kit.db)
    ) -> Response:
        flt = flt_of(p.form)
        load(session, submission_id)
        try:
            release(session, submission_id, p.viewer.reviewer)
        except DecisionError as exc:
            return undo(session, submission_id, p, flt, exc.message, 409)
        session.commit()
        return to(None, flt)

    @router.post("/{submission_id:int}/rattelse", response_model=None)
    def corrections(
        submission_id: RowId, p: Posted = Depends(kit.posted), session: Session = Depends(kit.db)
    ) -> Response:
        flt = flt_of(p.form)
        if (refused := claimed(session, submission_id, p, flt)) is not None:
            return refused
        values = {
            key[len(FIELD_PREFIX) :]: value
            for key, value in p.form.items()
            if key.startswith(FIELD_PREFIX)
        }
        confirmed = frozenset(n for n in (p.get("bekrafta"),) if n and n in values)
        try:
            correct_fields(
                session, submission_id, p.viewer.reviewer, values, now=kit.now(),
                confirmed=confirmed,
            )
        except DecisionError as exc:
            return undo(session, submission_id, p, flt, exc.message, 422, keep_form=True)
        session.commit()
        return to(submission_id, flt)

    @router.post("/{submission_id:int}/godkann", response_model=None)
    def do_approve(
        submission_id: RowId, p: Posted = Depends(kit.posted), session: Session = Depends(kit.db)
    ) -> Response:
        flt = flt_of(p.form)
        if (refused := claimed(session, submission_id, p, flt)) is not None:
            return refused
        reason = p.get("override_reason") or preset_reason(p.get("override_preset"))
        try:
            approve(
                session,
                submission_id,
                p.viewer.reviewer,
                now=kit.now(),
                override_reason=reason or None,
                form_url=kit.pages.form_url,
                sender_domain=kit.pages.sender_domain,
            )
            session.commit()
        except (DecisionError, RegistryError) as exc:
            return undo(session, submission_id, p, flt, exc.message, 422, keep_form=True)
        # Carried out, or waiting for a second reviewer: either way this one is done with it.
        return onwards(session, p, flt, submission_id)

    @router.post("/{submission_id:int}/bekrafta", response_model=None)
    def do_confirm(
        submission_id: RowId, p: Posted = Depends(kit.posted), session: Session = Depends(kit.db)
    ) -> Response:
        flt = flt_of(p.form)
        if (
            refused := not_own(session, submission_id, p, flt)
            or claimed(session, submission_id, p, flt)
        ) is not None:
            return refused
        try:
            confirm_override(
                session,
                submission_id,
                p.viewer.reviewer,
                now=kit.now(),
                form_url=kit.pages.form_url,
                sender_domain=kit.pages.sender_domain,
            )
            session.commit()
        except OwnOverride as exc:
            return undo(session, submission_id, p, flt, exc.message, 403)
        except StaleOverride as exc:
            session.rollback()
            withdraw_stale(session, submission_id, p.viewer.reviewer, now=kit.now())
            session.commit()
            return show(session, submission_id, p.viewer, flt, error=exc.message, status=409)
        except (DecisionError, RegistryError) as exc:
            return undo(session, submission_id, p, flt, exc.message, 422)
        return onwards(session, p, flt, submission_id)

    @router.post("/{submission_id:int}/avboj", response_model=None)
    def do_decline(
        submission_id: RowId, p: Posted = Depends(kit.posted), session: Session = Depends(kit.db)
    ) -> Response:
        flt = flt_of(p.form)
        if (
            refused := not_own(session, submission_id, p, flt)
            or claimed(session, submission_id, p, flt)
        ) is not None:
            return refused
        try:
            decline_override(
                session,
                submission_id,
                p.viewer.reviewer,
                reason=p.get("decline_reason"),
                now=kit.now(),
            )
            session.commit()
        except DecisionError as exc:
            status = 403 if isinstance(exc, OwnOverride) else 422
            return undo(session, submission_id, p, flt, exc.message, status, keep_form=True)
        return to(submission_id, flt)

    @router.post("/{submission_id:int}/aterkalla", response_model=None)
    def do_withdraw(
        submission_id: RowId, p: Posted = Depends(kit.posted), session: Session = Depends(kit.db)
    ) -> Response:
        flt = flt_of(p.form)
        load(session, submission_id)
        try:
            withdraw_own(session, submission_id, p.viewer.reviewer, now=kit.now())
            session.commit()
        except DecisionError as exc:
            return undo(session, submission_id, p, flt, exc.message, 403)
        return to(submission_id, flt)

    @router.post("/{submission_id:int}/avvisa", response_model=None)
    def do_reject(
        submission_id: RowId, p: Posted = Depends(kit.posted), session: Session = Depends(kit.db)
    ) -> Response:
        flt = flt_of(p.form)
        if (refused := claimed(session, submission_id, p, flt)) is not None:
            return refused
        try:
            reject(
                session,
                submission_id,
                p.viewer.reviewer,
                reason_code=p.get("reason_code"),
                reason_text=p.get("reason_text"),
                now=kit.now(),
                form_url=kit.pages.form_url,
                sender_domain=kit.pages.sender_domain,
            )
            session.commit()
        except DecisionError as exc:
            return undo(session, submission_id, p, flt, exc.message, 422, keep_form=True)
        return onwards(session, p, flt, submission_id)
