"""The root exception of the render package.

A render failure is never the customer's fault: the values were validated
before they got here, so what is left is a missing font, a layout that does
not fit, or a caller passing the wrong things. Hence EX_SOFTWARE and an
English message for the operator.
"""

from __future__ import annotations

import os

from forms import KopplingarError


class RenderError(KopplingarError):
    """A form could not be rendered."""

    exit_code = os.EX_SOFTWARE
