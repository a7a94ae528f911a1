"""The registry's exceptions: one root, `RegistryError`, and a few specific kinds.

Each carries a sysexits(3) exit code so the CLI can end with the right status
without knowing which layer failed: 65 for bad data (the default), 66 for a
record or file that does not exist, 78 for a database that is not set up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from registry.import_report import ImportReport

EX_DATAERR = 65
EX_NOINPUT = 66
EX_CONFIG = 78


class RegistryError(Exception):
    """Root of everything the registry raises on purpose."""

    exit_code: int = EX_DATAERR

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(RegistryError):  # noqa: N818
    """A company, form or file that was asked for does not exist."""

    exit_code = EX_NOINPUT


class Conflict(RegistryError):  # noqa: N818
    """A write that would contradict what the registry already holds."""


class DatabaseNotReady(RegistryError):  # noqa: N818
    """The database URL is unusable or the schema is not at the code's revision."""

    exit_code = EX_CONFIG


class ImportFileError(RegistryError):
    """An import file that cannot be read as a whole (syntax, unknown CSV header)."""


class ImportRejected(RegistryError):  # noqa: N818
    """An import in which rows were rejected; `report` says which and why."""

    def __init__(self, message: str, report: ImportReport) -> None:
        super().__init__(message)
        self.report = report
