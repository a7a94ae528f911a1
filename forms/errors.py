"""The root exception of the forms package.

Every error here is about a value a person gave us, so it carries a Swedish
message that can be shown to a customer as it is, the field it concerns, and
the CLI exit code for "bad input".
"""

from __future__ import annotations

EXIT_BAD_INPUT = 65  # sysexits EX_DATAERR


class FormsError(Exception):
    """A value or a payload that does not fit a form."""

    exit_code: int = EXIT_BAD_INPUT

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


# The names read as what went wrong; an "Error" suffix would only repeat FormsError.
class InvalidValue(FormsError):  # noqa: N818
    """A field value that fails its validator."""


class InvalidPayload(FormsError):  # noqa: N818
    """A QR payload that is malformed or whose signature does not match."""


class FormValuesError(FormsError):
    """Several fields failed at once; `errors` maps field name to message."""

    def __init__(self, errors: dict[str, str]) -> None:
        self.errors = dict(errors)
        listed = "; ".join(f"{name}: {msg}" for name, msg in self.errors.items())
        super().__init__(f"Blanketten har fel i {len(self.errors)} fält: {listed}")
