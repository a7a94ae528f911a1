"""Content-addressed image storage in the data directory.

An image is stored once under the sha256 of its bytes (`ab/cd/abcd….png`),
so the same page mailed twice costs nothing more, a row can never point at
changed bytes, and files can be written before the database commit without
harm: an orphan is a few kilobytes, never a wrong image. Writes go to a
temporary file first and are renamed into place, so a crash leaves no half
image under a valid name.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path

from workqueue.errors import QueueError

_SHA = re.compile(r"^[0-9a-f]{64}$")


class ImageStore:
    """Content-addressed files under `root`; `suffix` names the kind (`.bin`, `.eml`)."""

    def __init__(self, root: Path, suffix: str = ".bin") -> None:
        self.root = root
        self.suffix = suffix

    def path(self, sha256: str) -> Path:
        if not _SHA.match(sha256):
            raise QueueError(f"not a sha256: {sha256!r}")
        return self.root / sha256[:2] / sha256[2:4] / f"{sha256}{self.suffix}"

    def put(self, data: bytes) -> str:
        sha = hashlib.sha256(data).hexdigest()
        target = self.path(sha)
        if target.exists():
            return sha
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            Path(tmp).replace(target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return sha

    def get(self, sha256: str) -> bytes:
        try:
            return self.path(sha256).read_bytes()
        except FileNotFoundError as exc:
            raise QueueError(f"image {sha256} is missing from {self.root}") from exc

    def __contains__(self, sha256: object) -> bool:
        return isinstance(sha256, str) and bool(_SHA.match(sha256)) and self.path(sha256).exists()
