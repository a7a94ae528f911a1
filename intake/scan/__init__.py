"""Reading a scan: file bytes to pages, pages to forms, forms to values and findings.

The stages, each a plain function (see `model` for the values between them):
`pages` (PDF or image to page images), `identify` (QR code), `align`
(fiducials to the canonical page), `printed` (the id in print when the QR is
gone), `read` with `fieldtext` and `tesseract` (one OCR call per page, field
values), `signatures` (ink in each signature area) and `validate` (findings
against the registry and the issued form). `pipeline` runs them for one file
and hands the result to the work queue. This is the public API; the modules
are private.
"""

from intake.scan.calibration import (
    Calibration,
    CalibrationError,
    load_calibration,
)
from intake.scan.model import (
    CANONICAL_DPI,
    FieldReading,
    Gray,
    SignatureReading,
    SignatureState,
)
from intake.scan.pages import (
    PageLimits,
    extract_pages,
)
from intake.scan.pipeline import (
    FileResult,
    IntakeContext,
    IssuedFormView,
    ScannedFile,
    encode_images,
    enqueue_file,
    file_json,
    finish_file,
    read_file,
    scan_file,
    to_new_submissions,
)
from intake.scan.read import (
    TESSERACT_PSM,
)
from intake.scan.registered import RESOLVE_CODES, resolve
from intake.scan.tesseract import (
    full_page_text,
    recognise_words,
)
from intake.scan.validate import VALIDATION_CODES, validate_document

__all__ = [
    "CANONICAL_DPI",
    "RESOLVE_CODES",
    "TESSERACT_PSM",
    "VALIDATION_CODES",
    "Calibration",
    "CalibrationError",
    "FieldReading",
    "FileResult",
    "Gray",
    "IntakeContext",
    "IssuedFormView",
    "PageLimits",
    "ScannedFile",
    "SignatureReading",
    "SignatureState",
    "encode_images",
    "enqueue_file",
    "extract_pages",
    "file_json",
    "finish_file",
    "full_page_text",
    "load_calibration",
    "read_file",
    "recognise_words",
    "resolve",
    "scan_file",
    "to_new_submissions",
    "validate_document",
]
