"""Our own storage before and during a mailbox pass: the data directory and the database.

A pass writes raw mail and page images under the data directory and rows to
the database; when either fails, the fault is ours, not the message's.
`check_storage` runs before a pass: each store's folder must take a file
(written, synced and removed again, the only test that also holds for root
and read-only mounts) and have at least `min_free_bytes` free.
`storage_fault` turns an `OSError` or a database error met half-way through
a pass into `StorageUnavailable` (exit 75), one line naming what failed.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa

from intake.errors import StorageUnavailable

__all__ = ["OUR_FAULTS", "check_storage", "storage_fault"]

# What a pass meets only when our side is broken: the parent never writes a file of the
# sender's choosing, and a reader's own failures come back as ReadFailure, not raised.
OUR_FAULTS: tuple[type[BaseException], ...] = (OSError, sa.exc.SQLAlchemyError)


def _mib(n: int) -> str:
    return f"{n / 1024**2:.0f} MiB"


def check_storage(roots: Sequence[Path], min_free_bytes: int) -> None:
    """Refuse (StorageUnavailable) unless every root takes a file and has room left."""
    for root in roots:
        try:
            root.mkdir(parents=True, exist_ok=True)
            fd, probe = tempfile.mkstemp(dir=root, prefix=".probe-")
            try:
                os.write(fd, b"kopplingar")
                os.fsync(fd)
            finally:
                os.close(fd)
                Path(probe).unlink(missing_ok=True)
            stats = os.statvfs(root)
        except OSError as exc:
            raise StorageUnavailable(
                f"the data folder {root} cannot be written ({exc.strerror or exc}); "
                "nothing was read this time"
            ) from exc
        free = stats.f_bavail * stats.f_frsize
        if free < min_free_bytes:
            raise StorageUnavailable(
                f"the data folder {root} has {_mib(free)} free, under the minimum of "
                f"{_mib(min_free_bytes)} (KOPPLINGAR_MIN_FREE_MB); nothing was read this time"
            )


def storage_fault(exc: BaseException) -> StorageUnavailable:
    """One line for a fault of our own met during a pass."""
    if isinstance(exc, OSError):
        where = f" ({exc.filename})" if exc.filename else ""
        what = f"the data folder failed: {exc.strerror or type(exc).__name__}{where}"
    else:
        orig = getattr(exc, "orig", None)
        name = type(orig).__name__ if orig is not None else type(exc).__name__
        what = f"the database failed ({name})"
    return StorageUnavailable(
        f"{what}; the pass stopped, no message was charged for it, the next run carries on"
    )
