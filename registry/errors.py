"""The registry's exceptions: one root, `RegistryError`, and a few specific kinds.

Each carries a sysexits(3) exit code so the CLI can end with the right status
without knowing which layer failed: EX_DATAERR for bad data (the default),
EX_NOINPUT for a record or file that does not exist, EX_CONFIG for a schema
that is not at the code's revision, EX_TEMPFAIL for a database that cannot be
reached right now (cron tries again later).
"""

from __future__ import annotations

import os

from forms import KopplingarError


class RegistryError(KopplingarError):
    """Root of everything the registry raises on purpose."""

    exit_code = os.EX_DATAERR


class NotFound(RegistryError):  # noqa: N818
    """A company, form or file that was asked for does not exist."""

    exit_code = os.EX_NOINPUT


class Conflict(RegistryError):  # noqa: N818
    """A write that would contradict what the registry already holds."""


class DatabaseNotReady(RegistryError):  # noqa: N818
    """The database URL is unusable or the schema is not at the code's revision."""

    exit_code = os.EX_CONFIG


class DatabaseUnavailable(RegistryError):  # noqa: N818
    """The database server cannot be reached or refused the connection; try again later."""

    exit_code = os.EX_TEMPFAIL


class ImportFileError(RegistryError):
    """An import file that cannot be read as a whole (syntax, unknown CSV header)."""
