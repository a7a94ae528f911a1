"""The QR payload and the issued-form id.

A pre-filled form's QR code says `KPL1:<kind>:<version>:<id>:<mac>`; a blank
form's says `KPL1:<kind>:<version>`. Every character is in the QR
alphanumeric set (upper-case, digits, ``:`` and ``.``), which keeps the code
small enough to read from a 150 dpi fax-like scan.

The id is ten Crockford base-32 characters (50 random bits), printed for people
as ``XXXX-XXXX-XX``; Crockford's alphabet has no I, L, O or U, so a person
copying it cannot confuse 1/I/L or 0/O. The mac is the first 40 bits of
HMAC-SHA256 over kind, version and id under the deployment's secret: a forged
or mistyped id is caught without a database lookup.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from forms.errors import InvalidPayload

PREFIX = "KPL1"
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
ID_LENGTH = 10
MAC_LENGTH = 8

_ID_RE = re.compile(rf"^[{CROCKFORD}]{{{ID_LENGTH}}}$")
_CONFUSABLE = str.maketrans({"I": "1", "L": "1", "O": "0", "U": "V"})


def _b32(data: bytes, length: int) -> str:
    n = int.from_bytes(data, "big")
    bits = len(data) * 8
    out = []
    for i in range(length):
        shift = bits - 5 * (i + 1)
        out.append(CROCKFORD[(n >> shift) & 31] if shift >= 0 else CROCKFORD[(n << -shift) & 31])
    return "".join(out)


def new_form_id() -> str:
    """A fresh random issued-form id (50 bits)."""
    return _b32(secrets.token_bytes(7), ID_LENGTH)


def normalise_form_id(text: str) -> str:
    """The canonical id from what a person typed or OCR read (hyphens, case, I/L/O)."""
    compact = re.sub(r"[\s\-]", "", text).upper().translate(_CONFUSABLE)
    if not _ID_RE.match(compact):
        raise InvalidPayload(f"”{text}” är inget giltigt blankett-id (XXXX-XXXX-XX).")
    return compact


def display_form_id(form_id: str) -> str:
    return f"{form_id[:4]}-{form_id[4:8]}-{form_id[8:]}"


def _mac(secret: bytes, kind_code: str, version: str, form_id: str) -> str:
    digest = hmac.new(secret, f"{kind_code}|{version}|{form_id}".encode(), hashlib.sha256).digest()
    return _b32(digest[:5], MAC_LENGTH)


@dataclass(frozen=True, slots=True)
class QrPayload:
    kind_code: str
    version: str
    form_id: str | None = None
    mac: str | None = None

    @property
    def is_blank(self) -> bool:
        return self.form_id is None

    def text(self) -> str:
        parts = [PREFIX, self.kind_code, self.version]
        if self.form_id is not None:
            parts += [self.form_id, self.mac or ""]
        return ":".join(parts)


def sign_payload(secret: bytes, kind_code: str, version: str, form_id: str) -> QrPayload:
    if not secret:
        raise InvalidPayload("QR-nyckeln saknas.")
    return QrPayload(kind_code, version, form_id, _mac(secret, kind_code, version, form_id))


def blank_payload(kind_code: str, version: str) -> QrPayload:
    return QrPayload(kind_code, version)


def parse_payload(text: str, secret: bytes | None = None) -> QrPayload:
    """Parse QR text; with `secret`, also check the mac of a pre-filled form's payload."""
    parts = text.strip().split(":")
    if len(parts) not in (3, 5) or parts[0] != PREFIX:
        raise InvalidPayload("QR-koden kommer inte från någon av våra blanketter.")
    _, kind_code, version = parts[:3]
    if len(parts) == 3:
        return QrPayload(kind_code, version)
    form_id, mac = parts[3], parts[4]
    if not _ID_RE.match(form_id) or len(mac) != MAC_LENGTH:
        raise InvalidPayload("QR-koden har ett felaktigt blankett-id.")
    if secret is not None and not hmac.compare_digest(
        mac, _mac(secret, kind_code, version, form_id)
    ):
        raise InvalidPayload("QR-kodens signatur stämmer inte: blanketten är inte utfärdad av oss.")
    return QrPayload(kind_code, version, form_id, mac)
