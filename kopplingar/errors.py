"""Errors of the composition root: settings, the command line and app assembly.

`CliError` is this layer's root under the product's one root
(`forms.KopplingarError`), which the CLI catches. Exit codes are sysexits(3)
values from `os`, so cron and systemd can tell bad input (EX_DATAERR,
EX_NOINPUT, EX_USAGE) from a broken configuration (EX_CONFIG) from a passing
failure worth retrying (EX_TEMPFAIL).
"""

from __future__ import annotations

import os

from forms import KopplingarError


class CliError(KopplingarError):
    """Root of the errors raised by settings, commands and app assembly."""

    exit_code = os.EX_SOFTWARE


class ConfigError(CliError):
    """The configuration is missing something or unsafe for the chosen mode."""

    exit_code = os.EX_CONFIG


class MissingInput(CliError):  # noqa: N818
    """A file or folder named on the command line does not exist."""

    exit_code = os.EX_NOINPUT


class UsageError(CliError):
    """Options that do not go together, found after Click parsed them."""

    exit_code = os.EX_USAGE


class BadInput(CliError):  # noqa: N818
    """A file named on the command line exists but does not hold what it should."""

    exit_code = os.EX_DATAERR


class CannotWrite(CliError):  # noqa: N818
    """An output file or folder cannot be created."""

    exit_code = os.EX_CANTCREAT
