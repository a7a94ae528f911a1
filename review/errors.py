"""The review package's root exception."""

from __future__ import annotations


class ReviewError(Exception):
    """Something about the queue or its stored images; `exit_code` for the CLI."""

    exit_code: int = 70

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
