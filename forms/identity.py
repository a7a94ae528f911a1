"""Swedish identity numbers: organisationsnummer, personnummer, subscription numbers.

A company on our forms is identified by a ten-digit number with a Luhn check
digit. Legal entities have an organisationsnummer whose third digit is 2 or
more; sole traders (enskild firma) use the owner's personnummer. People write
these numbers in many ways (with or without hyphen, with a century prefix:
16 for legal entities, 19/20 for people, "+" for people over 100), so the
parsers accept all of them and normalise to one canonical text.

The subscription number (abonnemangsnummer) is our own: eight digits, the last
a Luhn check digit over the first seven, so a misread or mistyped digit is
caught before anyone looks it up.

python-stdnum does the arithmetic and the national rules: the Luhn check and
check digit (`stdnum.luhn`), the organisationsnummer's check
(`stdnum.se.orgnr`), and a personnummer's birth date, with its century from
the prefix or else from the "+" and the age (`stdnum.se.personnummer`).
What stays here, and why:

* the spellings we accept (any spaces and dashes, the 16 prefix, 18/19/20
  before a personnummer) and what each means, since stdnum knows neither the
  16 prefix nor that a company number may be a sole trader's personnummer
  (the third digit below 2 is a birth month);
* the samordningsnummer (birth day plus 60): stdnum 2.2 rejects its day, so
  it is given the birth date, and the check digit, which is over the number
  as written, is checked here;
* the Swedish messages: stdnum raises English exception classes, so length
  and characters are checked here first, where the message can say how many
  digits there were, and stdnum's checksum and date errors are translated;
* ASCII digits only (`str.isdigit` alone also takes other scripts' digits,
  which stdnum cannot read);
* the canonical text, always ten digits as NNNNNN-NNNN (what the registry
  stores), and the subscription number, which is ours.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from stdnum import luhn
from stdnum.exceptions import InvalidChecksum, ValidationError
from stdnum.se import orgnr, personnummer

from forms.errors import InvalidValue

SUBSCRIPTION_DIGITS = 8

_SEPARATORS = re.compile(r"[\s\-–—+]")


def _is_digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


def luhn_checksum_ok(digits: str) -> bool:
    """True when the digit string passes the Luhn (mod 10) check."""
    return _is_digits(digits) and luhn.is_valid(digits)


def luhn_check_digit(digits: str) -> str:
    """The digit that, appended to `digits`, makes a Luhn-valid string."""
    if digits and not _is_digits(digits):
        raise ValueError(f"not a string of digits: {digits!r}")
    return luhn.calc_check_digit(digits)


class IdentityKind(StrEnum):
    ORGANISATION = "organisation"
    PERSONAL = "personal"
    COORDINATION = "coordination"


@dataclass(frozen=True, slots=True)
class CompanyNumber:
    """A normalised ten-digit identity; `text` is the canonical NNNNNN-NNNN form."""

    digits: str
    kind: IdentityKind

    @property
    def text(self) -> str:
        return f"{self.digits[:6]}-{self.digits[6:]}"

    def __str__(self) -> str:
        return self.text


def _strip(value: str, field: str | None) -> tuple[str, bool]:
    raw = value.strip()
    if not raw:
        raise InvalidValue("Fältet är tomt.", field=field)
    plus = "+" in raw
    compact = _SEPARATORS.sub("", raw)
    if not _is_digits(compact):
        raise InvalidValue(
            f"”{raw}” innehåller tecken som inte är siffror. "
            "Skriv bara siffror och ett bindestreck.",
            field=field,
        )
    return compact, plus


def _valid_birth_date(digits10: str, century: str | None, plus: bool) -> bool:
    day = int(digits10[4:6])
    # A samordningsnummer's day is the birth day plus 60; stdnum wants the birth date.
    born = f"{digits10[:4]}{day - 60:02d}{digits10[6:]}" if day > 60 else digits10
    try:
        personnummer.get_birth_date(f"{century or ''}{born[:6]}{'+' if plus else '-'}{born[6:]}")
    except ValidationError:
        return False
    return True


def parse_personnummer(value: str, *, field: str | None = None) -> CompanyNumber:
    """Parse a personnummer or samordningsnummer (YYMMDD-NNNN or YYYYMMDDNNNN)."""
    compact, plus = _strip(value, field)
    century: str | None = None
    if len(compact) == 12:
        century, compact = compact[:2], compact[2:]
        if century not in ("18", "19", "20"):
            raise InvalidValue(
                f"Ett personnummer kan inte börja på {century}. Skriv ÅÅMMDD-NNNN.", field=field
            )
    if len(compact) != 10:
        raise InvalidValue(
            f"Ett personnummer har 10 siffror (ÅÅMMDD-NNNN), ”{value.strip()}” har {len(compact)}.",
            field=field,
        )
    if not _valid_birth_date(compact, century, plus):
        raise InvalidValue(
            f"{compact[:6]} är inget giltigt födelsedatum. Kontrollera personnumret.", field=field
        )
    if not luhn.is_valid(compact):
        raise InvalidValue(
            "Kontrollsiffran stämmer inte. Kontrollera att personnumret är rätt skrivet.",
            field=field,
        )
    kind = IdentityKind.COORDINATION if int(compact[4:6]) > 60 else IdentityKind.PERSONAL
    return CompanyNumber(compact, kind)


def parse_organisationsnummer(value: str, *, field: str | None = None) -> CompanyNumber:
    """Parse the number that identifies a company on our forms.

    Accepts an organisationsnummer (NNNNNN-NNNN, optionally prefixed with 16)
    or, for a sole trader, the owner's personnummer (prefixed 19/20 or not).
    """
    compact, _plus = _strip(value, field)
    if len(compact) == 12:
        prefix = compact[:2]
        if prefix == "16":
            compact = compact[2:]
            if int(compact[2]) < 2:
                raise InvalidValue(
                    "Med prefixet 16 ska det vara ett organisationsnummer, "
                    "och dess tredje siffra är 2 eller högre.",
                    field=field,
                )
        elif prefix in ("19", "20"):
            return parse_personnummer(value, field=field)
        else:
            raise InvalidValue(
                f"Ett organisationsnummer med 12 siffror börjar på 16, 19 eller 20, inte {prefix}.",
                field=field,
            )
    if len(compact) != 10:
        raise InvalidValue(
            f"Ett organisationsnummer har 10 siffror (NNNNNN-NNNN), ”{value.strip()}” "
            f"har {len(compact)}.",
            field=field,
        )
    if int(compact[2]) < 2:
        # Third digit below 2 means a birth month: this is a personnummer (as written: a
        # "+" in it says which century).
        return parse_personnummer(value, field=field)
    try:
        return CompanyNumber(orgnr.validate(compact), IdentityKind.ORGANISATION)
    except InvalidChecksum:
        raise InvalidValue(
            "Kontrollsiffran (sista siffran) stämmer inte. "
            "Kontrollera att organisationsnumret är rätt skrivet.",
            field=field,
        ) from None


def parse_subscription_number(value: str, *, field: str | None = None) -> str:
    """Parse an abonnemangsnummer: eight digits, the last a Luhn check digit."""
    raw = value.strip()
    if not raw:
        raise InvalidValue("Ange abonnemangsnumret.", field=field)
    compact = _SEPARATORS.sub("", raw)
    if not _is_digits(compact):
        raise InvalidValue(
            f"Abonnemangsnumret består bara av siffror, ”{raw}” innehåller annat.", field=field
        )
    if len(compact) != SUBSCRIPTION_DIGITS:
        raise InvalidValue(
            f"Abonnemangsnumret har {SUBSCRIPTION_DIGITS} siffror, ”{raw}” har {len(compact)}. "
            "Du hittar det på fakturan och under Inställningar > Abonnemang.",
            field=field,
        )
    if not luhn.is_valid(compact):
        raise InvalidValue(
            "Abonnemangsnumret är felskrivet (kontrollsiffran stämmer inte). "
            "Ange korrekt abonnemangsnummer.",
            field=field,
        )
    return compact


def make_subscription_number(serial: int) -> str:
    """The subscription number for a seven-digit serial: the serial plus its check digit."""
    if not 0 <= serial < 10 ** (SUBSCRIPTION_DIGITS - 1):
        raise ValueError(f"serial {serial} out of range")
    body = f"{serial:0{SUBSCRIPTION_DIGITS - 1}d}"
    return body + luhn_check_digit(body)


_EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+"
    r"@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)


def parse_email(value: str, *, field: str | None = None) -> str:
    """A plain, single e-mail address (no display name, no list)."""
    raw = value.strip()
    if not raw:
        raise InvalidValue("Ange en e-postadress.", field=field)
    if len(raw) > 254 or not _EMAIL.match(raw):
        raise InvalidValue(
            f"”{raw}” ser inte ut som en e-postadress (till exempel namn@byran.se).", field=field
        )
    return raw
