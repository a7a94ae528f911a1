"""The customer pages' exception root."""

from __future__ import annotations

import os

from forms import KopplingarError


class PortalError(KopplingarError):
    """Root of what the customer pages raise on purpose."""

    exit_code = os.EX_DATAERR
