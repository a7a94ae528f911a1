"""clean_values: canonical values out, or one error that lists every wrong field."""

from __future__ import annotations

import pytest

from forms import (
    FormKind,
    FormValuesError,
    InvalidValue,
    clean_values,
    luhn_check_digit,
    parse_date,
)


def orgnr(first_nine: str) -> str:
    return first_nine + luhn_check_digit(first_nine)


CLIENT, FIRM = orgnr("556812437"), orgnr("559034128")

DISCONNECT = {
    "client_name": "  Bergström &   Ek Bygg AB ",
    "client_orgnr": f"16{CLIENT}",
    "client_subscription": "4711-2354",
    "firm_name": "Norrlands Redovisning AB",
    "firm_orgnr": FIRM,
    "firm_role": "accounting",
    "after": "takeover",
}


def test_values_come_back_canonical() -> None:
    cleaned = clean_values(FormKind.DISCONNECT, DISCONNECT)
    assert cleaned["client_name"] == "Bergström & Ek Bygg AB"
    assert cleaned["client_orgnr"] == f"{CLIENT[:6]}-{CLIENT[6:]}"
    assert cleaned["client_subscription"] == "47112354"
    assert "client_signatory_name" not in cleaned


def test_every_wrong_field_is_reported_at_once() -> None:
    values = DISCONNECT | {"client_orgnr": "556812-0000", "after": "maybe", "client_date":
                           "2026-01-15", "nonsense": "x", "firm_name": ""}
    with pytest.raises(FormValuesError) as caught:
        clean_values("disconnect", values)
    errors = caught.value.errors
    assert set(errors) == {"client_orgnr", "after", "client_date", "nonsense", "firm_name"}
    assert "Kontrollsiffran" in errors["client_orgnr"]
    assert "för hand" in errors["client_date"]
    assert caught.value.exit_code == 65


def test_a_firm_cannot_be_its_own_client() -> None:
    with pytest.raises(FormValuesError) as caught:
        clean_values("disconnect", DISCONNECT | {"firm_orgnr": CLIENT})
    assert set(caught.value.errors) == {"firm_orgnr"}


def test_parse_date() -> None:
    assert parse_date("2026-02-28").isoformat() == "2026-02-28"
    with pytest.raises(InvalidValue, match="giltigt datum"):
        parse_date("2026-02-30")
