"""Checking what a person entered for a form, field by field.

`clean_values` is used by the web page, the CLI and the scan reader:
it returns canonical values (organisationsnummer as NNNNNN-NNNN, subscription
number as eight digits, choices as their codes) or raises one error that lists
every field that is wrong, each with a Swedish message, so a person can fix
them all in one go.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from forms.errors import FormValuesError, InvalidValue
from forms.identity import parse_email, parse_organisationsnummer, parse_subscription_number
from forms.spec import FieldSpec, FieldType, FormKind, form_spec

# A stored confidence at or above this is sure: shown as confirmed, no finding asks a
# person to look. Readers' raw scores are calibrated onto it (intake.scan.calibration).
SURE_CONFIDENCE = 0.6


def parse_date(value: str, *, field: str | None = None) -> dt.date:
    compact = "".join(ch for ch in value if ch.isdigit())
    if len(compact) != 8:
        raise InvalidValue("Skriv datumet som ÅÅÅÅ-MM-DD.", field=field)
    try:
        return dt.date(int(compact[:4]), int(compact[4:6]), int(compact[6:]))
    except ValueError:
        raise InvalidValue(f"{value.strip()} är inget giltigt datum.", field=field) from None


def clean_field(spec: FieldSpec, raw: str) -> str:
    """The canonical text of one non-empty value, or InvalidValue."""
    name = spec.name
    if spec.type is FieldType.ORGNR:
        return parse_organisationsnummer(raw, field=name).text
    if spec.type is FieldType.SUBSCRIPTION:
        return parse_subscription_number(raw, field=name)
    if spec.type is FieldType.EMAIL:
        return parse_email(raw, field=name)
    if spec.type is FieldType.DATE:
        return parse_date(raw, field=name).isoformat()
    if spec.type is FieldType.CHOICE:
        allowed = {o.value: o for o in spec.options}
        if raw not in allowed:
            labels = ", ".join(o.label for o in spec.options)
            raise InvalidValue(f"Välj ett av alternativen: {labels}.", field=name)
        return raw
    text = " ".join(raw.split())
    if len(text) > spec.max_len:
        raise InvalidValue(
            f"Högst {spec.max_len} tecken får plats, du skrev {len(text)}.", field=name
        )
    if any(ord(ch) < 32 for ch in text):
        raise InvalidValue("Fältet innehåller otillåtna tecken.", field=name)
    return text


PREFILL_NEVER = FieldType.DATE  # a date is written by hand when signing


def clean_values(kind: FormKind | str, values: Mapping[str, str | None]) -> dict[str, str]:
    """Validate a pre-filled form's values; unknown keys are an error too."""
    spec = form_spec(kind)
    errors: dict[str, str] = {}
    cleaned: dict[str, str] = {}
    known = set(spec.field_names)
    for key in values:
        if key not in known:
            errors[key] = "Okänt fält för den här blanketten."
    for f in spec.fields:
        raw = (values.get(f.name) or "").strip()
        if not raw:
            if f.required:
                errors[f.name] = "Fältet måste fyllas i."
            continue
        if f.type is PREFILL_NEVER:
            errors[f.name] = "Datumet skrivs för hand när blanketten skrivs under."
            continue
        try:
            cleaned[f.name] = clean_field(f, raw)
        except InvalidValue as exc:
            errors[f.name] = exc.message
    _cross_checks(FormKind(kind), cleaned, errors)
    if errors:
        raise FormValuesError(errors)
    return cleaned


def _cross_checks(kind: FormKind, cleaned: dict[str, str], errors: dict[str, str]) -> None:
    if kind is FormKind.DUAL:
        client, current, new = (cleaned.get(f"{p}_orgnr") for p in ("client", "current_firm",
                                                                     "new_firm"))
        if new and current and new == current and "new_firm_orgnr" not in errors:
            errors["new_firm_orgnr"] = "Den nya byrån är samma som byrån som redan är kopplad."
        if new and client and new == client and "new_firm_orgnr" not in errors:
            errors["new_firm_orgnr"] = "Byrån kan inte vara samma företag som klienten."
    else:
        client, firm = cleaned.get("client_orgnr"), cleaned.get("firm_orgnr")
        if client and firm and client == firm and "firm_orgnr" not in errors:
            errors["firm_orgnr"] = "Byrån kan inte vara samma företag som det som kopplas bort."
