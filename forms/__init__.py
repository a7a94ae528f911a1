"""What each form is: fields, validators, page layout and the signed QR payload.

Pure (no I/O, no database): both the renderer and the scan reader build on it. Its
one dependency is python-stdnum, for the arithmetic of the identity numbers
(`forms.identity` says what it does and what stays ours).
"""

from forms.errors import FormsError, FormValuesError, InvalidPayload, InvalidValue, KopplingarError
from forms.geometry import (
    ARUCO_DICTIONARY,
    FIDUCIALS,
    MARKER_GRID,
    MM_PER_INCH,
    PAGE_HEIGHT_MM,
    PAGE_WIDTH_MM,
    Box,
    Corner,
    Fiducial,
)
from forms.identity import (
    CompanyNumber,
    IdentityKind,
    luhn_check_digit,
    luhn_checksum_ok,
    make_subscription_number,
    parse_email,
    parse_organisationsnummer,
    parse_personnummer,
    parse_subscription_number,
)
from forms.payload import (
    PREFIX as PAYLOAD_PREFIX,
)
from forms.payload import (
    QrPayload,
    blank_payload,
    display_form_id,
    new_form_id,
    normalise_form_id,
    parse_payload,
    sign_payload,
)
from forms.spec import (
    FORM_VERSION,
    FORMS,
    FieldSpec,
    FieldType,
    FormKind,
    FormSpec,
    Option,
    Section,
    SignatureSpec,
    form_spec,
)
from forms.values import SURE_CONFIDENCE, clean_field, clean_values, parse_date

__all__ = [
    "ARUCO_DICTIONARY",
    "FIDUCIALS",
    "FORMS",
    "FORM_VERSION",
    "MARKER_GRID",
    "MM_PER_INCH",
    "PAGE_HEIGHT_MM",
    "PAGE_WIDTH_MM",
    "PAYLOAD_PREFIX",
    "SURE_CONFIDENCE",
    "Box",
    "CompanyNumber",
    "Corner",
    "Fiducial",
    "FieldSpec",
    "FieldType",
    "FormKind",
    "FormSpec",
    "FormValuesError",
    "FormsError",
    "IdentityKind",
    "InvalidPayload",
    "InvalidValue",
    "KopplingarError",
    "Option",
    "QrPayload",
    "Section",
    "SignatureSpec",
    "blank_payload",
    "clean_field",
    "clean_values",
    "display_form_id",
    "form_spec",
    "luhn_check_digit",
    "luhn_checksum_ok",
    "make_subscription_number",
    "new_form_id",
    "normalise_form_id",
    "parse_date",
    "parse_email",
    "parse_organisationsnummer",
    "parse_payload",
    "parse_personnummer",
    "parse_subscription_number",
    "sign_payload",
]
