"""Logging, configured once by the command line for every module's `__name__` logger.

Text for a person at a terminal; `--log-format json` for the poller and the
watcher under cron or systemd, one JSON object per line that a log shipper
can index. Whatever a module passes in `extra=` (the mailbox pass passes
`event`, `message_id`, `uid`, `outcome`, `reason`...) becomes a key of that
object, so an operator can follow one message by its Message-ID.

Written here rather than taken from a library (python-json-logger,
structlog) because it is one small formatter over the standard `logging`
and the product needs nothing more.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
from enum import StrEnum
from typing import Any, TextIO

# The attributes every LogRecord has; anything else on a record came from `extra=`.
_STANDARD = frozenset(
    vars(logging.LogRecord("", logging.INFO, "", 0, "", None, None)).keys()
    | {"message", "asctime", "taskName"}
)


class LogFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


def record_extras(record: logging.LogRecord) -> dict[str, Any]:
    """The fields a caller passed with `extra=`, in the order given."""
    return {k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")}


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, the extras, the traceback."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(record_extras(record))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """`time level logger: message key=value ...`, the extras after the message."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s", "%Y-%m-%d %H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extras = record_extras(record)
        if not extras:
            return line
        head, sep, tail = line.partition("\n")
        pairs = " ".join(
            f"{k}={json.dumps(v, ensure_ascii=False, default=str)}" for k, v in extras.items()
        )
        return f"{head} {pairs}{sep}{tail}"


def configure_logging(
    *, verbose: int = 0, log_format: LogFormat = LogFormat.TEXT, stream: TextIO | None = None
) -> None:
    """Root handler on stderr: warnings by default, info at -v, debug at -vv."""
    level = logging.WARNING if verbose <= 0 else logging.INFO if verbose == 1 else logging.DEBUG
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format is LogFormat.JSON else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # Libraries' own chatter (SQL statements, multipart parsing) stays at warnings below -vvv.
    for noisy in ("sqlalchemy", "alembic", "multipart", "httpx", "httpcore", "PIL", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if verbose >= 3 else logging.WARNING)
