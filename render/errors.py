"""The root exception of the render package.

A render failure is never the customer's fault: the values were validated
before they got here, so what is left is a missing font, a layout that does
not fit, or a caller passing the wrong things. Hence exit code 70
(sysexits EX_SOFTWARE) and an English message for the operator.
"""

from __future__ import annotations

EXIT_SOFTWARE = 70


class RenderError(Exception):
    """A form could not be rendered."""

    exit_code: int = EXIT_SOFTWARE

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
