"""The root exception of the intake package, and its input rejections.

A file that cannot be read as pages is the sender's problem, not ours, so it
is a data error (EX_DATAERR) like a bad form value. It carries an English
message for the operator and the log, and a Swedish one that can be put in
front of the customer or the reviewer as it is.
"""

from __future__ import annotations

import os

from forms import KopplingarError


class IntakeError(KopplingarError):
    """Something in what was mailed to us that the intake cannot go on with."""

    exit_code = os.EX_DATAERR


# The name reads as what happened to the file; an "Error" suffix would only repeat it.
class InputRejected(IntakeError):  # noqa: N818
    """A file that is not a readable PDF or image, or one over the size caps.

    `message` says why in plain English; `customer_message` says the same in
    Swedish for the person who sent it.
    """

    def __init__(self, message: str, customer_message: str) -> None:
        super().__init__(message)
        self.customer_message = customer_message


class StorageUnavailable(IntakeError):  # noqa: N818 - reads as the state, like InputRejected
    """Our own storage failed: the data directory (full, unwritable) or the database.

    Not the fault of any message, so none is charged an attempt for it; exit 75
    and cron tries again once it is fixed.
    """

    exit_code = os.EX_TEMPFAIL
