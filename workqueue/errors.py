"""The work queue's root exception: stored images, the outbox and the SMTP sender."""

from __future__ import annotations

import os

from forms import KopplingarError


class QueueError(KopplingarError):
    """Something about the queue, its stored images or its outgoing mail."""

    exit_code = os.EX_SOFTWARE
