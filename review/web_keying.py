"""The keying page: a reviewer types in a form no machine could read, beside its image.

GET `/granskning/{id}/skriv-in` shows the page images and, for the chosen
kind of form (`?blankett=dual|disconnect`), every field with its label:
text inputs, choices as radio buttons with their Swedish labels, and per
party a box to tick for a signature seen on the page. Typing an
organisationsnummer shows the registry's name for it
(`/granskning/uppslag/foretag?orgnr=`, JSON, for the page's script; the
page works without it, the names then show after saving).

POST claims the submission for the reviewer and stores the values through
`review.keying.key_submission`: every field checked by its validator
(refused with each field's problem, what was typed kept), then the same
findings, plan and approval as any read form, on the detail page.

POST `/{id}/sla-ihop` (with `other`) and `/{id}/dela` put pages and forms
right (`review.assemble`): another submission's pages joined to this one,
or a new submission split off for a second form on the same pages; both
then open where the reviewer keys the form.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from sqlmodel import Session, col, select

from forms import FieldType, FormKind, InvalidValue, form_spec, parse_organisationsnummer
from registry.linkage import company_by_orgnr
from review.assemble import join, split
from review.claims import ClaimedByOther, DecisionError, claim
from review.keying import KeyedValuesError, key_submission, keyable
from review.web_common import (
    PREFIX,
    Kit,
    PageError,
    Posted,
    RowId,
    Viewer,
    local_time,
)
from review.web_detail import field_label
from workqueue import Submission, SubmissionPage

FIELD_PREFIX = "falt."
SIGNED_PREFIX = "underskrift."
KIND_LABELS = {FormKind.DUAL: "Dubbelsammankoppling", FormKind.DISCONNECT: "Bortkoppling"}


def _company_name(session: Session, orgnr: str) -> str:
    try:
        canonical = parse_organisationsnummer(orgnr).text
    except InvalidValue:
        return ""
    company = company_by_orgnr(session, canonical)
    return company.name if company is not None else ""


def _fields(session: Session, kind: FormKind, posted: dict[str, str],
            errors: dict[str, str]) -> list[dict[str, Any]]:
    out = []
    for field in form_spec(kind).fields:
        value = posted.get(FIELD_PREFIX + field.name, "")
        out.append({
            "name": field.name, "label": field_label(kind.value, field.name),
            "type": field.type.value,
            "value": value, "error": errors.get(field.name, ""),
            "options": [(o.value, o.label) for o in field.options],
            "lookup": field.type is FieldType.ORGNR,
            "company": _company_name(session, value) if field.type is FieldType.ORGNR and value
            else "",
            "required": field.required,
        })
    return out


def add_keying_routes(router: APIRouter, kit: Kit) -> None:
    def load(session: Session, submission_id: int) -> Submission:
        submission = session.get(Submission, submission_id)
        if submission is None:
            raise PageError(404, f"Ärende {submission_id} finns inte.")
        if not keyable(submission):
            raise PageError(409, f"Ärende {submission_id} lästes maskinellt; rätta fälten på "
                                 "ärendets sida.")
        return submission

    def page(session: Session, submission: Submission, me: Viewer, kind: FormKind | None,
             posted: dict[str, str], *, error: str = "", errors: dict[str, str] | None = None,
             status: int = 200) -> HTMLResponse:
        sid = submission.id
        pages = session.exec(select(SubmissionPage).where(SubmissionPage.submission_id == sid)
                             .order_by(col(SubmissionPage.position))).all()
        spec = form_spec(kind) if kind else None
        return kit.render(
            "keying.html", viewer=me, status=status, s=submission, pages=pages,
            kind=kind.value if kind else "", kinds=[(k.value, label) for k, label in
                                                    KIND_LABELS.items()],
            fields=_fields(session, kind, posted, errors or {}) if kind else [],
            parties=[(g.party, g.title, posted.get(SIGNED_PREFIX + g.party) == "1")
                     for g in spec.signatures] if spec else [],
            error=error, reason=submission.unreadable_reason or "",
        )

    def kind_of(text: str) -> FormKind | None:
        try:
            return FormKind(text) if text else None
        except ValueError:
            return None

    @router.get("/uppslag/foretag", response_class=JSONResponse,
                dependencies=[Depends(kit.viewer)])  # signed-in reviewers only
    def company_name(orgnr: str = "", session: Session = Depends(kit.db)) -> JSONResponse:
        return JSONResponse({"name": _company_name(session, orgnr[:20])})

    @router.get("/{submission_id:int}/skriv-in", response_class=HTMLResponse)
    def keying_page(submission_id: RowId, blankett: str = "", me: Viewer = Depends(kit.viewer),
                    session: Session = Depends(kit.db)) -> HTMLResponse:
        submission = load(session, submission_id)
        return page(session, submission, me, kind_of(blankett or (submission.kind or "")), {})

    @router.post("/{submission_id:int}/skriv-in", response_model=None)
    def key_in(submission_id: RowId, p: Posted = Depends(kit.posted),
               session: Session = Depends(kit.db)) -> Response:
        submission = load(session, submission_id)
        kind = kind_of(p.get("blankett"))
        if kind is None:
            return page(session, submission, p.viewer, None, p.form, status=422,
                        error="Välj vilken blankett sidan är.")
        values = {k[len(FIELD_PREFIX):]: v for k, v in p.form.items()
                  if k.startswith(FIELD_PREFIX)}
        signed = {g.party: p.get(SIGNED_PREFIX + g.party) == "1"
                  for g in form_spec(kind).signatures}
        try:
            claim(session, submission_id, p.viewer.reviewer, now=kit.now())
            key_submission(session, submission_id, p.viewer.reviewer, kind, values, signed,
                           now=kit.now())
            session.commit()
        except KeyedValuesError as exc:
            session.rollback()
            return page(session, load(session, submission_id), p.viewer, kind, p.form,
                        status=422, errors=exc.errors,
                        error="Några fält behöver rättas; inget har sparats.")
        except ClaimedByOther as exc:
            session.rollback()
            return page(session, load(session, submission_id), p.viewer, kind, p.form,
                        status=409, error=f"Ärendet hanteras av {exc.reviewer_name} till "
                                          f"{local_time(exc.until, '%H:%M')}.")
        except DecisionError as exc:
            session.rollback()
            return page(session, load(session, submission_id), p.viewer, kind, p.form,
                        status=422, error=exc.message)
        return RedirectResponse(f"{PREFIX}/{submission_id}", status_code=303)

    def refused(session: Session, submission_id: int, message: str) -> Response:
        session.rollback()
        raise PageError(422, f"Ärende {submission_id}: {message}")

    @router.post("/{submission_id:int}/sla-ihop", response_model=None)
    def join_pages(submission_id: RowId, p: Posted = Depends(kit.posted),
                   session: Session = Depends(kit.db)) -> Response:
        other = p.get("other").lstrip("#")
        if not other.isdigit():
            return refused(session, submission_id, "Skriv numret på ärendet att slå ihop med.")
        try:
            claim(session, submission_id, p.viewer.reviewer, now=kit.now())
            join(session, submission_id, int(other), p.viewer.reviewer, now=kit.now())
            session.commit()
        except DecisionError as exc:
            return refused(session, submission_id, exc.message)
        return RedirectResponse(f"{PREFIX}/{submission_id}/skriv-in", status_code=303)

    @router.post("/{submission_id:int}/dela", response_model=None)
    def split_off(submission_id: RowId, p: Posted = Depends(kit.posted),
                  session: Session = Depends(kit.db)) -> Response:
        try:
            claim(session, submission_id, p.viewer.reviewer, now=kit.now())
            new = split(session, submission_id, p.viewer.reviewer, now=kit.now())
            claim(session, new, p.viewer.reviewer, now=kit.now())
            session.commit()
        except DecisionError as exc:
            return refused(session, submission_id, exc.message)
        return RedirectResponse(f"{PREFIX}/{new}/skriv-in", status_code=303)
