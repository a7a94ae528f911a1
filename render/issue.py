"""Issuing a form: check the values, record the issued form, render its PDF.

Both the public web page and `kopplingar form ...` go through here, so a form
that reaches a customer is always one that was validated and recorded; what
comes back by mail is later checked against this record.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlmodel import Session

from forms import (
    FormKind,
    FormValuesError,
    InvalidValue,
    blank_payload,
    clean_values,
    display_form_id,
    form_spec,
    new_form_id,
    parse_organisationsnummer,
    parse_subscription_number,
    sign_payload,
)
from registry import find_client_by_subscription, record_issued_form
from render.pdf import render_form_pdf

FILE_STEMS = {FormKind.DUAL: "dubbelsammankoppling", FormKind.DISCONNECT: "bortkoppling"}


@dataclass(frozen=True, slots=True)
class RenderedForm:
    kind: FormKind
    form_id: str | None
    values: dict[str, str]
    pdf: bytes

    @property
    def filename(self) -> str:
        stem = FILE_STEMS[self.kind]
        suffix = display_form_id(self.form_id) if self.form_id else "blank"
        return f"{stem}-{suffix}.pdf"


def fill_client_from_registry(session: Session, values: Mapping[str, str]) -> dict[str, str]:
    """Put the registry's name for the client in, if orgnr and subscription belong together.

    Only a matching pair reveals a name, so the page cannot be used to list
    the registry. A valid but unmatched pair is an error on the subscription
    number: a form with the wrong number would be rejected after the trip
    through the post and the mailbox anyway.
    """
    out = {k: v for k, v in values.items() if v is not None}
    orgnr_raw, sub_raw = out.get("client_orgnr", ""), out.get("client_subscription", "")
    try:
        orgnr = parse_organisationsnummer(orgnr_raw).text
        sub = parse_subscription_number(sub_raw)
    except InvalidValue:
        return out  # clean_values reports the field itself
    company = find_client_by_subscription(session, orgnr, sub)
    if company is None:
        raise FormValuesError(
            {
                "client_subscription": "Abonnemangsnumret hör inte till det organisationsnumret. "
                "Kontrollera båda mot fakturan."
            }
        )
    out["client_name"] = company.name
    return out


def _without_consequential_errors(errors: dict[str, str]) -> dict[str, str]:
    """Drop "name missing" when the name could not be looked up because the numbers are wrong.

    The person left the name for us to fill; the thing to fix is the number.
    """
    if "client_name" in errors and ({"client_orgnr", "client_subscription"} & errors.keys()):
        return {k: v for k, v in errors.items() if k != "client_name"}
    return errors


def signatories_of(values: Mapping[str, str]) -> dict[str, str]:
    return {
        k: v for k, v in values.items() if k.endswith(("_signatory_name", "_signatory_role")) and v
    }


def issue_form(
    session: Session,
    kind: FormKind | str,
    values: Mapping[str, str],
    *,
    qr_key: bytes,
    mailbox: str,
    source: str,
    check_registry: bool = True,
) -> RenderedForm:
    """Validate, record and render one pre-filled form; the caller commits the session."""
    kind = FormKind(kind)
    spec = form_spec(kind)
    given = fill_client_from_registry(session, values) if check_registry else dict(values)
    try:
        cleaned = clean_values(kind, given)
    except FormValuesError as exc:
        raise FormValuesError(_without_consequential_errors(exc.errors)) from None
    form_id = new_form_id()
    payload = sign_payload(qr_key, kind.code, spec.version, form_id)
    pdf = render_form_pdf(spec, cleaned, mailbox=mailbox, payload=payload)
    record_issued_form(
        session,
        form_id=form_id,
        kind=kind.value,
        version=spec.version,
        values=cleaned,
        signatories=signatories_of(cleaned),
        source=source,
    )
    return RenderedForm(kind, form_id, cleaned, pdf)


def blank_form(kind: FormKind | str, *, mailbox: str, fillable: bool = True) -> RenderedForm:
    """A blank form to fill by hand (and, if fillable, by typing into the PDF)."""
    kind = FormKind(kind)
    spec = form_spec(kind)
    pdf = render_form_pdf(
        spec,
        {},
        mailbox=mailbox,
        payload=blank_payload(kind.code, spec.version),
        blank=True,
        fillable=fillable,
    )
    return RenderedForm(kind, None, {}, pdf)
