"""The QR payload's signature and the issued-form id as people and OCR write it."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from forms import (
    FORM_VERSION,
    FormKind,
    InvalidPayload,
    QrPayload,
    blank_payload,
    display_form_id,
    new_form_id,
    normalise_form_id,
    parse_payload,
    sign_payload,
)
from forms.payload import CROCKFORD, ID_LENGTH, MAC_LENGTH

SECRET = b"test-secret-for-payload-tests"
QR_ALPHANUMERIC = set("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:")

form_ids = st.text(alphabet=CROCKFORD, min_size=ID_LENGTH, max_size=ID_LENGTH)
kinds = st.sampled_from([k.code for k in FormKind])


@given(kinds, form_ids)
def test_a_signed_payload_round_trips(kind: str, form_id: str) -> None:
    payload = sign_payload(SECRET, kind, FORM_VERSION, form_id)
    text = payload.text()
    assert set(text) <= QR_ALPHANUMERIC
    assert parse_payload(text, SECRET) == payload
    assert parse_payload(text) == payload


@given(kinds, form_ids, st.integers(0, MAC_LENGTH - 1), st.sampled_from(CROCKFORD))
def test_a_tampered_mac_is_rejected(kind: str, form_id: str, pos: int, ch: str) -> None:
    payload = sign_payload(SECRET, kind, FORM_VERSION, form_id)
    assert payload.mac is not None
    assume(payload.mac[pos] != ch)
    mac = payload.mac[:pos] + ch + payload.mac[pos + 1:]
    forged = QrPayload(kind, FORM_VERSION, form_id, mac)
    with pytest.raises(InvalidPayload, match="signatur"):
        parse_payload(forged.text(), SECRET)


def test_a_changed_id_kind_or_version_breaks_the_signature() -> None:
    payload = sign_payload(SECRET, "D", FORM_VERSION, "0123456789")
    assert payload.mac is not None
    for forged in (
        QrPayload("D", FORM_VERSION, "0123456788", payload.mac),
        QrPayload("B", FORM_VERSION, "0123456789", payload.mac),
        QrPayload("D", "2025.9", "0123456789", payload.mac),
    ):
        with pytest.raises(InvalidPayload):
            parse_payload(forged.text(), SECRET)
    with pytest.raises(InvalidPayload):
        parse_payload(payload.text(), b"another-deployment's-secret")


def test_a_blank_payload_has_kind_and_version_only() -> None:
    payload = blank_payload("B", FORM_VERSION)
    assert payload.is_blank
    assert payload.text() == f"KPL1:B:{FORM_VERSION}"
    assert parse_payload(payload.text(), SECRET) == payload


@pytest.mark.parametrize(
    "text",
    ["", "hello", "KPL2:D:2026.1", "KPL1:D", "KPL1:D:2026.1:0123456789",
     "KPL1:D:2026.1:012345678:ABCDEFGH", "KPL1:D:2026.1:0123456789:ABC",
     "KPL1:D:2026.1:01234567IL:ABCDEFGH"],
)
def test_malformed_payloads_are_rejected(text: str) -> None:
    with pytest.raises(InvalidPayload):
        parse_payload(text, SECRET)


def test_signing_needs_a_secret() -> None:
    with pytest.raises(InvalidPayload, match="nyckeln saknas"):
        sign_payload(b"", "D", FORM_VERSION, "0123456789")


def test_new_form_ids_are_canonical_and_distinct() -> None:
    ids = {new_form_id() for _ in range(200)}
    assert len(ids) == 200
    for form_id in ids:
        assert normalise_form_id(form_id) == form_id


@given(form_ids)
def test_normalise_undoes_how_people_write_an_id(form_id: str) -> None:
    shown = display_form_id(form_id)
    assert shown == f"{form_id[:4]}-{form_id[4:8]}-{form_id[8:]}"
    assert normalise_form_id(shown) == form_id
    assert normalise_form_id(shown.lower()) == form_id
    assert normalise_form_id(f" {form_id[:5]} {form_id[5:]} ") == form_id
    # OCR and people read 0 as O, and 1 as I or l; Crockford's alphabet has none of them.
    confused = shown.replace("0", "O").replace("1", "I")
    assert normalise_form_id(confused) == form_id
    assert normalise_form_id(shown.replace("1", "l")) == form_id


@pytest.mark.parametrize("text", ["", "0123-4567-8", "0123-4567-890", "0123-4567-8!"])
def test_an_id_of_the_wrong_shape_is_rejected(text: str) -> None:
    with pytest.raises(InvalidPayload, match="blankett-id"):
        normalise_form_id(text)
