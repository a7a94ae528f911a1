"""A printed digit whited out and another typed over it, read and validated honestly.

The pre-filled dual form of test_validate (numbers from the sample registry)
is rendered as issued; one cell of one number is then replaced by the same
cell of a render where that cell holds another digit (white-out and a
typewriter, in the form's own font), so the paper shows a number that fails
its check digit. The reading must be what is on the paper, never a number
"repaired" into one nobody wrote, and the findings must name the paper's and
the issued number, with the issued one only as a suggestion. Real Tesseract,
SQLite and PostgreSQL.
"""

from __future__ import annotations

import re

import cv2
import numpy as np
import pytest
from sqlmodel import Session

from forms import FormKind, clean_values, form_spec, luhn_checksum_ok, sign_payload
from intake.scan.model import CANONICAL_DPI, AlignedPage, Gray, PageImage, Severity
from intake.scan.read import read_fields
from intake.scan.validate import validate_document
from render import blank_page_image, page_image
from samples.scans.mnist import held_out
from tests.intake.scan.test_validate import (
    DUAL,
    FORM_ID,
    ISSUED_FIELDS,
    TODAY,
    issued_form,
    signed,
)

KEY = b"hand-changed-tests-key"
KIND = FormKind.DUAL
NUMBER = re.compile(r"\b\d{6}-\d{4}\b|\b\d{8}\b")
CELL_INSET_MM = 0.4  # inside the printed cell border, which stays as printed


PRINTED = {k: v for k, v in DUAL.items() if k not in ISSUED_FIELDS}  # dates are handwritten


def _render(values: dict[str, str]) -> Gray:
    spec = form_spec(KIND)
    payload = sign_payload(KEY, KIND.code, spec.version, FORM_ID)
    return page_image(KIND, clean_values(KIND, values), payload, dpi=CANONICAL_DPI)


def _with_check_digit(digits: str) -> str:
    """`digits` with its last digit set so that the number passes Luhn."""
    return next(digits[:-1] + d for d in "0123456789" if luhn_checksum_ok(digits[:-1] + d))


def _hand_changed(name: str, position: int, digit: str) -> tuple[Gray, str]:
    """The issued page with the printed digit at `position` of `name` retyped as `digit`,
    and the number the paper now shows (digits only)."""
    issued = _render(PRINTED)
    digits = "".join(ch for ch in DUAL[name] if ch.isdigit())
    paper = digits[:position] + digit + digits[position + 1:]
    assert not luhn_checksum_ok(paper)  # one digit changed always breaks the check
    other = _with_check_digit(paper)
    shown = f"{other[:6]}-{other[6:]}" if len(other) == 10 else other
    donor = _render(PRINTED | {name: shown})
    cell = form_spec(KIND).field(name).cells[position].inset(CELL_INSET_MM)
    left, top, right, bottom = cell.to_pixels(CANONICAL_DPI)
    page = issued.copy()
    page[top:bottom, left:right] = donor[top:bottom, left:right]
    return page, paper


def _aligned(image: Gray) -> AlignedPage:
    return AlignedPage(PageImage("hand.png", 0, image, float(CANONICAL_DPI)), image,
                       (0, 1, 2, 3), 0.0, 0.0)


def _shown(digits: str) -> str:
    return f"{digits[:6]}-{digits[6:]}" if len(digits) == 10 else digits


@pytest.mark.parametrize(("name", "position", "digit"), [
    ("client_orgnr", 7, "1"),  # 556969-4408 -> 556969-4108
    ("new_firm_orgnr", 3, "3"),  # 556884-8260 -> 556384-8260
    ("current_firm_orgnr", 8, "7"),  # 559245-9605 -> 559245-9675
    ("client_subscription", 5, "9"),  # 10040582 -> 10040982
])
def test_a_retyped_digit_is_read_as_on_paper_and_named_honestly(
        session: Session, name: str, position: int, digit: str) -> None:
    page, paper = _hand_changed(name, position, digit)
    fields = read_fields(_aligned(page), form_spec(KIND), expected=_render(PRINTED))
    reading = fields[name]
    assert "".join(ch for ch in reading.value if ch.isdigit()) == paper, reading
    assert reading.confidence < 0.6

    findings = validate_document(
        session, KIND, fields, signed(KIND), issued=issued_form(KIND), form_id=FORM_ID,
        qr_valid=True, already_submitted=False, today=TODAY)
    mine = [f for f in findings if f.field == name]
    check = next(f for f in mine if f.code.endswith(".luhn"))
    issued = DUAL[name]
    assert check.severity is Severity.BLOCKING
    # What the paper says, and the issued number offered only as a suggestion.
    assert _shown(paper) in check.message and f"Menade du {issued}" in check.message
    changed = next(f for f in mine if f.code == "value.changed")
    assert _shown(paper) in changed.message and issued in changed.message
    # No other number appears: nothing was made up to pass the check.
    for f in mine:
        assert set(NUMBER.findall(f.message)) <= {_shown(paper), issued}, f.message


def test_the_registry_may_only_suggest(session: Session) -> None:
    """A blank form: no issued value; the registry's company one digit away is offered."""
    page, paper = _hand_changed("client_orgnr", 7, "1")
    fields = read_fields(_aligned(page), form_spec(KIND))
    findings = validate_document(
        session, KIND, fields, signed(KIND), issued=None, form_id=None, qr_valid=True,
        already_submitted=False, today=TODAY)
    check = next(f for f in findings if f.code == "orgnr.luhn")
    assert fields["client_orgnr"].value == paper
    assert "Menade du 556969-4408, Sjöberg Fastigheter AB?" in check.message
    assert "Klienten: organisationsnummer" in check.message


def test_helpers_make_the_paper_differ_only_in_that_cell() -> None:
    page, _paper = _hand_changed("new_firm_orgnr", 3, "3")
    differs = np.argwhere(page != _render(PRINTED))
    cell = form_spec(KIND).field("new_firm_orgnr").cells[3]
    left, top, right, bottom = cell.to_pixels(CANONICAL_DPI)
    assert differs.size and (differs[:, 0] >= top).all() and (differs[:, 0] < bottom).all()
    assert (differs[:, 1] >= left).all() and (differs[:, 1] < right).all()


def _blank() -> Gray:
    return blank_page_image(KIND, dpi=CANONICAL_DPI)


def _whited_out(name: str, position: int, digit: str, sample: int) -> tuple[Gray, str]:
    """The issued page with one printed digit painted out (correction fluid, a little past
    the cell's border on one side) and a held-out MNIST `digit` written there by hand."""
    page = _render(PRINTED)
    digits = "".join(ch for ch in DUAL[name] if ch.isdigit())
    cell = form_spec(KIND).field(name).cells[position]
    left, top, right, bottom = cell.inset(0.5).to_pixels(CANONICAL_DPI)
    page[top:bottom, left:right + 4] = 246  # the fluid is a shade off the paper's white
    k = CANONICAL_DPI / 25.4
    glyph = held_out()[int(digit)][sample]
    rows, cols = np.flatnonzero(glyph.max(axis=1)), np.flatnonzero(glyph.max(axis=0))
    glyph = glyph[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    ink = cv2.resize(glyph, None, fx=4.4 * k / glyph.shape[0], fy=4.4 * k / glyph.shape[0],
                     interpolation=cv2.INTER_LINEAR)
    x0 = round((cell.x + cell.w / 2) * k - ink.shape[1] / 2)
    y0 = round((cell.y + cell.h / 2) * k - ink.shape[0] / 2)
    region = page[y0:y0 + ink.shape[0], x0:x0 + ink.shape[1]]
    np.minimum(region, 255 - ink, out=region)
    return page, digits[:position] + digit + digits[position + 1:]


@pytest.mark.parametrize(("name", "position", "digit", "sample"), [
    ("client_orgnr", 7, "1", 3),
    ("new_firm_orgnr", 3, "3", 11),
    ("current_firm_orgnr", 8, "7", 25),
    ("client_subscription", 5, "9", 40),
    ("client_subscription", 0, "2", 57),
])
def test_a_digit_whited_out_and_written_by_hand_is_read_as_on_paper(
        session: Session, name: str, position: int, digit: str, sample: int) -> None:
    page, paper = _whited_out(name, position, digit, sample)
    fields = read_fields(_aligned(page), form_spec(KIND), expected=_render(PRINTED),
                         blank=_blank())
    reading = fields[name]
    assert "".join(ch for ch in reading.value if ch.isdigit()) == paper, reading
    findings = validate_document(
        session, KIND, fields, signed(KIND), issued=issued_form(KIND), form_id=FORM_ID,
        qr_valid=True, already_submitted=False, today=TODAY)
    changed = next(f for f in findings if f.field == name and f.code == "value.changed")
    assert _shown(paper) in changed.message and DUAL[name] in changed.message
    # The untouched numbers are still Tesseract's, exactly as issued.
    for other in ("client_orgnr", "new_firm_orgnr", "current_firm_orgnr", "client_subscription"):
        if other != name:
            assert fields[other].value == DUAL[other]


def test_a_retyped_digit_reads_the_same_with_the_blank_form_at_hand(session: Session) -> None:
    page, paper = _hand_changed("client_orgnr", 7, "1")
    fields = read_fields(_aligned(page), form_spec(KIND), expected=_render(PRINTED),
                         blank=_blank())
    assert "".join(ch for ch in fields["client_orgnr"].value if ch.isdigit()) == paper
    assert fields["client_orgnr"].confidence < 0.6
