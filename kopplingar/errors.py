"""Errors of the composition root and the exit codes the CLI uses.

Exit codes follow sysexits(3) so cron and systemd can tell bad input from a
broken configuration from a passing failure; each package's root exception
carries one of them.
"""

from __future__ import annotations

EX_OK = 0
EX_USAGE = 64
EX_DATAERR = 65
EX_NOINPUT = 66
EX_SOFTWARE = 70
EX_CANTCREAT = 73
EX_TEMPFAIL = 75
EX_CONFIG = 78


class KopplingarError(Exception):
    """Root of the errors raised by settings, CLI and app assembly."""

    exit_code: int = EX_SOFTWARE

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigError(KopplingarError):
    """The configuration is missing something or unsafe for the chosen mode."""

    exit_code = EX_CONFIG
