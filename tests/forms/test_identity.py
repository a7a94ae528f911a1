"""Organisationsnummer, personnummer and subscription numbers: every spelling, every typo."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from forms import (
    IdentityKind,
    InvalidValue,
    luhn_check_digit,
    luhn_checksum_ok,
    make_subscription_number,
    parse_organisationsnummer,
    parse_personnummer,
    parse_subscription_number,
)

digits = st.text(alphabet="0123456789", min_size=1, max_size=1)


@st.composite
def organisationsnummer(draw: st.DrawFn) -> str:
    """Ten digits, Luhn-valid, third digit 2 or more (a legal entity, not a birth month)."""
    body = draw(st.text(alphabet="0123456789", min_size=9, max_size=9))
    body = body[:2] + draw(st.sampled_from("23456789")) + body[3:]
    return body + luhn_check_digit(body)


@st.composite
def personnummer(draw: st.DrawFn, coordination: bool = False) -> tuple[str, str]:
    """(century, ten digits) of a valid personnummer, or a samordningsnummer (day + 60)."""
    born = draw(st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2025, 12, 31)))
    day = born.day + 60 if coordination else born.day
    body = f"{born.year % 100:02d}{born.month:02d}{day:02d}" + draw(
        st.text(alphabet="0123456789", min_size=3, max_size=3)
    )
    return str(born.year // 100), body + luhn_check_digit(body)


@given(organisationsnummer())
def test_every_spelling_of_an_organisationsnummer_parses_to_one_number(number: str) -> None:
    canonical = f"{number[:6]}-{number[6:]}"
    spellings = [number, canonical, f"16{number}", f"16{canonical}", f" {canonical} ",
                 f"{number[:6]} {number[6:]}"]
    for spelling in spellings:
        parsed = parse_organisationsnummer(spelling)
        assert parsed.text == canonical
        assert parsed.kind is IdentityKind.ORGANISATION


@given(personnummer())
def test_every_spelling_of_a_personnummer_parses(pn: tuple[str, str]) -> None:
    century, number = pn
    canonical = f"{number[:6]}-{number[6:]}"
    for spelling in (number, canonical, century + number, f"{century}{canonical}"):
        for parse in (parse_personnummer, parse_organisationsnummer):
            parsed = parse(spelling)
            assert parsed.text == canonical
            assert parsed.kind is IdentityKind.PERSONAL


@given(personnummer(coordination=True))
def test_a_samordningsnummer_parses_as_coordination_number(pn: tuple[str, str]) -> None:
    century, number = pn
    for spelling in (number, f"{number[:6]}-{number[6:]}", century + number):
        parsed = parse_organisationsnummer(spelling)
        assert parsed.digits == number
        assert parsed.kind is IdentityKind.COORDINATION


@given(organisationsnummer(), st.integers(0, 9), digits)
def test_any_single_digit_change_is_rejected(number: str, pos: int, new: str) -> None:
    assume(number[pos] != new)
    typo = number[:pos] + new + number[pos + 1:]
    with pytest.raises(InvalidValue):
        parse_organisationsnummer(typo)


def _swap(number: str, pos: int) -> str:
    return number[:pos] + number[pos + 1] + number[pos] + number[pos + 2:]


@given(organisationsnummer(), st.integers(0, 8))
def test_any_adjacent_transposition_is_rejected(number: str, pos: int) -> None:
    typo = _swap(number, pos)
    assume(typo != number)
    # Luhn's one blind spot: 0 and 9 weigh the same doubled or not (see the next test).
    assume({number[pos], number[pos + 1]} != {"0", "9"})
    with pytest.raises(InvalidValue):
        parse_organisationsnummer(typo)


def test_luhn_cannot_see_a_swapped_09() -> None:
    """Documents the limit of the check digit rather than pretending it catches everything."""
    body = "556090123"
    number = body + luhn_check_digit(body)
    swapped = _swap(number, 3)
    assert swapped != number
    assert luhn_checksum_ok(number)
    assert luhn_checksum_ok(swapped)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("", "tomt"),
        ("556677-889", "10 siffror"),
        ("55667788990", "10 siffror"),
        ("556677-88A9", "inte är siffror"),
        ("556677-8890", "Kontrollsiffran"),
        ("176556778899", "börjar på 16, 19 eller 20"),
        ("160112345678", "tredje siffra"),
        ("991332-1234", "födelsedatum"),
        ("210229-1234", "födelsedatum"),
        ("180229-1234", "födelsedatum"),
    ],
)
def test_known_bad_numbers_are_rejected_with_a_swedish_reason(value: str, problem: str) -> None:
    with pytest.raises(InvalidValue) as caught:
        parse_organisationsnummer(value, field="client_orgnr")
    assert problem in caught.value.message
    assert caught.value.field == "client_orgnr"
    assert str(caught.value).startswith("client_orgnr: ")


def test_a_personnummer_with_a_wrong_check_digit_says_so() -> None:
    body = "800101123"
    wrong = str((int(luhn_check_digit(body)) + 1) % 10)
    with pytest.raises(InvalidValue, match="Kontrollsiffran"):
        parse_personnummer(f"{body[:6]}-{body[6:]}{wrong}")


def test_a_personnummer_century_must_be_18_19_or_20() -> None:
    with pytest.raises(InvalidValue, match="kan inte börja på 21"):
        parse_personnummer("218001011234")


def test_a_plus_puts_the_birth_a_hundred_years_back() -> None:
    body = "000229123"  # 29 February: 2000 had one, 1900 did not
    number = body + luhn_check_digit(body)
    assert parse_personnummer(f"{number[:6]}-{number[6:]}").text == f"{number[:6]}-{number[6:]}"
    for parse in (parse_personnummer, parse_organisationsnummer):
        with pytest.raises(InvalidValue, match="inget giltigt födelsedatum"):
            parse(f"{number[:6]}+{number[6:]}")


@pytest.mark.parametrize("value", ["５５６６７７-８８９９", "٥٥٦٦٧٧-٨٨٩٩"])
def test_digits_of_other_scripts_are_not_taken_for_ours(value: str) -> None:
    for parse in (parse_organisationsnummer, parse_personnummer):
        with pytest.raises(InvalidValue, match="inte är siffror"):
            parse(value)
    with pytest.raises(InvalidValue, match="bara av siffror"):
        parse_subscription_number("９１０００００３４"[:8])
    assert not luhn_checksum_ok("５５６６７７８８９９")


@given(st.integers(0, 9_999_999))
def test_subscription_numbers_round_trip(serial: int) -> None:
    number = make_subscription_number(serial)
    assert len(number) == 8
    assert number.startswith(f"{serial:07d}")
    assert parse_subscription_number(number) == number
    assert parse_subscription_number(f" {number[:4]}-{number[4:]} ") == number


@given(st.integers(0, 9_999_999), st.integers(0, 7), digits)
def test_a_mistyped_subscription_number_is_caught(serial: int, pos: int, new: str) -> None:
    number = make_subscription_number(serial)
    assume(number[pos] != new)
    with pytest.raises(InvalidValue, match="Ange korrekt abonnemangsnummer"):
        parse_subscription_number(number[:pos] + new + number[pos + 1:])


@pytest.mark.parametrize(
    ("value", "problem"),
    [("", "Ange abonnemangsnumret"), ("1234567", "8 siffror"), ("1234567X", "bara av siffror")],
)
def test_bad_subscription_numbers_say_what_is_wrong(value: str, problem: str) -> None:
    with pytest.raises(InvalidValue, match=problem):
        parse_subscription_number(value)


@pytest.mark.parametrize("serial", [-1, 10_000_000])
def test_subscription_serials_out_of_range_are_a_programming_error(serial: int) -> None:
    with pytest.raises(ValueError, match="out of range"):
        make_subscription_number(serial)
