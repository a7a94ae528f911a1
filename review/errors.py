"""The review package's root exception: a reviewer account or a decision that cannot go on."""

from __future__ import annotations

import os

from forms import KopplingarError


class ReviewError(KopplingarError):
    """Something about reviewers or decisions; `exit_code` for the CLI."""

    exit_code = os.EX_SOFTWARE


class AuthError(ReviewError):
    """A reviewer account or login problem; the message can be shown to the reviewer."""

    exit_code = os.EX_DATAERR
