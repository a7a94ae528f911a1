"""Names as the pipeline leaves them: a printed name read with an OCR slip, a signatory's
name that is no plain name or that no registry check can reach.

Each case runs `registered.resolve` and then `validate.validate_document`, as the
pipeline does, on the sample registry (SQLite and PostgreSQL). The rule the bench
measures is checked directly: a value that may be wrong is never sure and unflagged.
"""

from __future__ import annotations

from collections.abc import Mapping

import pytest
from sqlmodel import Session

from forms import FormKind, form_spec
from intake.scan.calibration import SURE
from intake.scan.model import FieldReading, Finding, Severity, SignatureReading, SignatureState
from intake.scan.naming import stray_characters
from intake.scan.registered import resolve
from intake.scan.validate import validate_document
from tests.intake.scan.test_validate import (
    DISCONNECT,
    DUAL,
    FORM_ID,
    TODAY,
    codes,
    issued_form,
    only,
    readings,
    signed,
)

VALUES = {FormKind.DUAL: DUAL, FormKind.DISCONNECT: DISCONNECT}


def kind_of(values: Mapping[str, str]) -> FormKind:
    return FormKind.DUAL if "new_firm_orgnr" in values else FormKind.DISCONNECT


def run(session: Session, values: Mapping[str, str], *, prefilled: bool = True,
        issued_values: Mapping[str, str] | None = None,
        fields: dict[str, FieldReading] | None = None,
        signatures: dict[str, SignatureReading] | None = None,
        ) -> tuple[dict[str, FieldReading], list[Finding]]:
    """What the pipeline keeps of one form: the readings after `resolve`, and every finding."""
    kind = kind_of(values)
    issued = issued_form(kind, issued_values) if prefilled else None
    read = fields if fields is not None else readings(values)
    out, registered = resolve(session, kind, read, issued.values if issued else {})
    findings = validate_document(
        session, kind, out, signatures if signatures is not None else signed(kind),
        issued=issued, form_id=FORM_ID if prefilled else None, qr_valid=True,
        already_submitted=False, today=TODAY)
    return out, [*findings, *registered]


def on(findings: list[Finding], field: str) -> dict[str, Severity]:
    return {f.code: f.severity for f in findings if f.field == field}


# -- a printed name read with an OCR slip is the issued name ----------------------------------

@pytest.mark.parametrize(("field", "slip"), [
    ("firm_name", "Janssons Redovisningsbyra AB"),  # å read as a
    ("firm_name", "JANSSONS REDOVISNINGSBYRÅ  AB"),  # case, spacing
    ("client_name", "Sjoberg Fastigheter AB"),  # ö read as o
    ("client_name", "Sjöberg Fastigheter A8"),  # B read as 8
    ("client_signatory_name", "Karin Aberg"),  # a pre-printed signatory
])
def test_a_print_read_with_an_ocr_slip_takes_the_issued_value(session: Session, field: str,
                                                              slip: str) -> None:
    issued = DISCONNECT[field]
    fields, findings = run(session, DISCONNECT | {field: slip})
    assert fields[field].value == issued
    assert fields[field].raw == slip  # what was read is kept
    f = only(findings, "value.print_slip")
    assert (f.severity, f.field) == (Severity.INFO, field)
    assert f"”{slip.strip()}”" in f.message and f"”{issued}”" in f.message
    assert "Trycket är oförändrat, så det utfärdade värdet används." in f.message
    assert "value.changed" not in codes(findings)


def test_a_slip_names_the_party_of_its_field(session: Session) -> None:
    fields, findings = run(session, DUAL | {"new_firm_name": "Lapplands Redovisningsbyra AB"})
    assert fields["new_firm_name"].value == "Lapplands Redovisningsbyrå AB"
    f = only(findings, "value.print_slip")
    assert f.message.startswith("”Byrån som ska kopplas: byråns namn”")


@pytest.mark.parametrize("other", [
    "Janssons Redovisningsbyrå! AB",  # a character added, even one OCR confuses
    "Janssons Redovisningsbyrå",  # a word dropped
    "Janssons Revisionsbyrå AB",  # another word
    "Jansons Redovisningsbyra AB",  # a letter lost, beside a slip
])
def test_more_than_a_slip_stays_as_read_and_is_a_change(session: Session, other: str) -> None:
    fields, findings = run(session, DISCONNECT | {"firm_name": other})
    assert fields["firm_name"].value == other
    assert "value.print_slip" not in codes(findings)
    f = only(findings, "value.changed")
    assert (f.severity, f.field) == (Severity.WARNING, "firm_name")


def test_a_slip_with_ink_beside_the_print_is_not_taken(session: Session) -> None:
    slip = "Janssons Redovisningsbyra AB"
    fields, findings = run(session, DISCONNECT, fields=readings(
        DISCONNECT | {"firm_name": slip}, ink={"firm_name": 0.03}))
    assert fields["firm_name"].value == slip
    assert "value.print_slip" not in codes(findings)
    assert only(findings, "value.changed").field == "firm_name"


def test_an_exact_print_and_a_blank_form_take_nothing(session: Session) -> None:
    _, exact = run(session, DISCONNECT)
    assert "value.print_slip" not in codes(exact)
    # Nothing issued: the registry's spelling is only named (`name.spelling`), not taken.
    slip = "Janssons Redovisningsbyra AB"
    fields, blank = run(session, DISCONNECT | {"firm_name": slip}, prefilled=False)
    assert fields["firm_name"].value == slip
    assert "value.print_slip" not in codes(blank)
    assert only(blank, "name.spelling").field == "firm_name"


# -- a signatory's name that is no plain name ------------------------------------------------

def test_stray_characters() -> None:
    for plain in ("Karin Åberg", "Anna-Karin Lindqvist", "Sean O'Neill", "K. Åberg",
                  "Zoë Müller", "  Olof  Sjöberg "):
        assert stray_characters(plain) == "", plain
    assert stray_characters("Olof Sjöberg 3") == "3"
    assert stray_characters("Olof | Sjöberg!") == "|!"
    assert stray_characters("O1of Sjöberg 1") == "1"


@pytest.mark.parametrize("stray", ["Olof Sjöberg 3", "Olof Sjöberg |", "0lof Sjöberg",
                                   "Olof Sjöb€rg", "Olof_Sjöberg"])
def test_a_signatory_name_with_characters_no_name_has_is_flagged_and_never_sure(
        session: Session, stray: str) -> None:
    field = "firm_signatory_name"
    fields, findings = run(session, DISCONNECT | {field: stray})
    assert fields[field].value == stray  # as read: the reviewer decides
    assert fields[field].confidence < SURE
    f = only(findings, "signatory.name_characters")
    assert (f.severity, f.field) == (Severity.WARNING, field)
    title = next(s.title for s in form_spec(FormKind.DISCONNECT).signatures if s.party == "firm")
    assert f.message.startswith(f"{title}: namnförtydligandet lästes")
    assert f"”{stray}”" in f.message and "tecken som inte hör till ett namn" in f.message


def test_a_plain_signatory_name_keeps_its_confidence(session: Session) -> None:
    fields, findings = run(session, DISCONNECT)
    assert fields["firm_signatory_name"].confidence == pytest.approx(0.97)
    assert "signatory.name_characters" not in codes(findings)
    assert "signatory.unchecked" not in codes(findings)


# -- a signatory whose company is not known --------------------------------------------------

UNRESOLVED = {
    "misread": {"client_orgnr": "559153-8507"},  # fails its check digit
    "unknown": {"client_orgnr": "556677-8899"},  # valid, nobody's
    "missing": {"client_orgnr": ""},
}


@pytest.mark.parametrize("how", list(UNRESOLVED))
@pytest.mark.parametrize("state", [SignatureState.SIGNED, SignatureState.EMPTY])
def test_a_signatory_of_an_unresolved_company_is_said_to_be_unchecked(
        session: Session, how: str, state: SignatureState) -> None:
    kind = FormKind.DUAL
    values = DUAL | UNRESOLVED[how]
    _, findings = run(session, values, prefilled=False,
                      signatures=signed(kind, client=state))
    f = only(findings, "signatory.unchecked")
    assert (f.severity, f.field) == (Severity.WARNING, "client_signatory_name")
    assert "”Karin Åberg”" in f.message and "”Klienten: organisationsnummer”" in f.message
    assert "för klienten" in f.message
    # The other party's signatory is checked as ever.
    assert "signatory.unchecked" not in on(findings, "new_firm_signatory_name")
    assert "signatory.matched" in on(findings, "new_firm_signatory_name")


def test_an_unresolved_firms_signatory_is_unchecked_too(session: Session) -> None:
    _, findings = run(session, DISCONNECT | {"firm_orgnr": "556677-8899"}, prefilled=False)
    f = only(findings, "signatory.unchecked")
    assert f.field == "firm_signatory_name" and "för byrån" in f.message


@pytest.mark.parametrize("kind", list(FormKind))
@pytest.mark.parametrize("name", ["Karin Åberg", "Karin Åberg 3", "Nobody Atall", "K|rin"])
def test_a_signatory_name_is_never_sure_and_unflagged_without_a_check(
        session: Session, kind: FormKind, name: str) -> None:
    """Whatever is read, with the company's number unreadable: the name is not silent."""
    values = VALUES[kind] | {"client_orgnr": "559153-8507", "client_signatory_name": name}
    fields, findings = run(session, values, prefilled=False)
    reading = fields["client_signatory_name"]
    assert on(findings, "client_signatory_name") or reading.confidence < SURE
    assert any(f.severity is not Severity.INFO for f in findings
               if f.field == "client_signatory_name")
