"""The product's one error root, and the root of the forms package's errors.

`KopplingarError` lives here because `forms` is the lowest layer: every other
package's root (`RegistryError`, `RenderError`, `QueueError`, `IntakeError`,
`ReviewError`, the CLI's own `CliError`) subclasses it, so the command line
catches this one class and turns it into its message and exit code. Exit
codes are sysexits(3) values from `os`, never numbers typed out.

The forms errors are about a value a person gave us, so they carry a Swedish
message that can be shown to a customer as it is, the field it concerns, and
the exit code for bad input.
"""

from __future__ import annotations

import os


class KopplingarError(Exception):
    """Root of everything the product raises on purpose: a message and an exit code."""

    exit_code: int = os.EX_SOFTWARE

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class FormsError(KopplingarError):
    """A value or a payload that does not fit a form."""

    exit_code = os.EX_DATAERR

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
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
