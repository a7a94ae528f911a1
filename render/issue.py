"""Issuing a form: check the values, record the issued form, render its PDF.

Both the public web page and `kopplingar form ...` go through here, so a form
that reaches a customer is always one that was validated and recorded; what
comes back by mail is later checked against this record.

A form the review would have to reject is not issued. Once the client's
organisationsnummer and subscription number match (and only then, so the
answer cannot be used to list the registry), the firms are checked against
the client's open connections, as the reader checks them when the form comes
back (`connection.current_missing`, `connection.exists`,
`connection.missing`): a Dubbelsammankoppling's current firm must be
connected to the client in the stated role and its new firm not already, and
a Bortkoppling's firm must be connected. A firm the registry does not have
gets the same answer as one that is not connected to the client.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlmodel import Session, col, select

from forms import (
    FieldType,
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
from registry import (
    Company,
    Connection,
    ConnectionRole,
    find_client_by_subscription,
    record_issued_form,
)
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


def match_client(session: Session, values: Mapping[str, str]) -> Company | None:
    """The client the values name, if orgnr and subscription number are valid and belong together.

    Raises FormValuesError on the subscription number for a valid pair that
    does not match, with the same words whether or not the company exists.
    None when either number is not valid (`clean_values` reports the field).
    """
    try:
        orgnr = parse_organisationsnummer(values.get("client_orgnr") or "").text
        sub = parse_subscription_number(values.get("client_subscription") or "")
    except InvalidValue:
        return None
    company = find_client_by_subscription(session, orgnr, sub)
    if company is None:
        raise FormValuesError(
            {
                "client_subscription": "Abonnemangsnumret hör inte till det organisationsnumret. "
                "Kontrollera båda mot fakturan."
            }
        )
    return company


def fill_client_from_registry(session: Session, values: Mapping[str, str]) -> dict[str, str]:
    """Put the registry's name for the client in, if orgnr and subscription belong together.

    Only a matching pair reveals a name, so the page cannot be used to list
    the registry. A valid but unmatched pair is an error on the subscription
    number: a form with the wrong number would be rejected after the trip
    through the post and the mailbox anyway.
    """
    out = {k: v for k, v in values.items() if v is not None}
    company = match_client(session, out)
    if company is not None:
        out["client_name"] = company.name
    return out


def _open_roles(session: Session, client: Company, firm_orgnr: str) -> set[ConnectionRole]:
    """The roles in which the firm with `firm_orgnr` is connected to `client` now (none if the
    registry does not have the firm)."""
    rows = session.exec(
        select(Connection.role)
        .join(Company, col(Company.id) == col(Connection.firm_id))
        .where(
            Connection.client_id == client.id,
            Company.orgnr == firm_orgnr,
            col(Connection.until).is_(None),
        )
    ).all()
    return {ConnectionRole(r) for r in rows}


def _firm(values: Mapping[str, str], prefix: str) -> tuple[str, ConnectionRole | None] | None:
    """A firm's canonical orgnr and stated role, None if the orgnr is not valid."""
    try:
        orgnr = parse_organisationsnummer(values.get(f"{prefix}_orgnr") or "").text
    except InvalidValue:
        return None
    try:
        role: ConnectionRole | None = ConnectionRole(values.get(f"{prefix}_role") or "")
    except ValueError:
        role = None
    return orgnr, role


def _role_label(kind: FormKind, field: str, role: ConnectionRole) -> str:
    spec = form_spec(kind).field(field)
    assert spec.type is FieldType.CHOICE
    label = next(o.label for o in spec.options if o.value == role.value)
    return label.lower()


def connection_errors(
    session: Session, kind: FormKind, client: Company, values: Mapping[str, str]
) -> dict[str, str]:
    """What the review would refuse about the form's firms and the client's connections.

    Only for a client whose orgnr and subscription number matched
    (`match_client`); a firm without a valid orgnr is left to `clean_values`.
    """
    errors: dict[str, str] = {}
    prefixes = ("current_firm", "new_firm") if kind is FormKind.DUAL else ("firm",)
    for prefix in prefixes:
        firm = _firm(values, prefix)
        if firm is None:
            continue
        orgnr, role = firm
        roles = _open_roles(session, client, orgnr)
        as_role = f" som {_role_label(kind, f'{prefix}_role', role)}" if role else ""
        if prefix == "new_firm":
            if role in roles:
                errors["new_firm_orgnr"] = (
                    f"Byrån är redan kopplad till {client.name}{as_role}, så blanketten "
                    "behövs inte."
                )
            continue
        if role in roles or (role is None and roles):
            continue
        if roles:
            other = " och ".join(sorted(_role_label(kind, f"{prefix}_role", r) for r in roles))
            errors[f"{prefix}_role"] = (
                f"Byrån är kopplad till {client.name} som {other}, inte{as_role}. "
                "Välj den typ av byrå som den är kopplad som."
            )
        elif prefix == "current_firm":
            errors["current_firm_orgnr"] = (
                f"{client.name} är inte kopplad till någon byrå med organisationsnummer "
                f"{orgnr} i vårt register. Ange den byrå som klienten är kopplad till i dag; "
                "annars avslås blanketten vid granskningen."
            )
        else:
            errors["firm_orgnr"] = (
                f"{client.name} är inte kopplad till någon byrå med organisationsnummer "
                f"{orgnr} i vårt register, så det finns ingen koppling att ta bort. "
                "Kontrollera organisationsnumret."
            )
    return errors


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
    given = {k: v for k, v in values.items() if v is not None}
    errors: dict[str, str] = {}
    if check_registry:
        try:
            client = match_client(session, given)
        except FormValuesError as exc:
            errors.update(exc.errors)  # reported with every other error, in one go
        else:
            if client is not None:
                given["client_name"] = client.name
                errors.update(connection_errors(session, kind, client, given))
    try:
        cleaned = clean_values(kind, given)
    except FormValuesError as exc:
        errors = exc.errors | errors
    if errors:
        raise FormValuesError(_without_consequential_errors(errors))
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
