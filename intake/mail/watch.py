"""Watch mode: passes over the mailbox for as long as the process runs.

After each pass the watcher waits in IMAP IDLE, so a new message is read
seconds after it arrives; a pass also runs every `poll_seconds` whatever
IDLE says, because some servers (and some proxies in between) drop IDLE
notifications silently. A lost connection is retried with a growing pause
(capped), a busy mailbox (a cron pass running) is simply waited out, and a
stop request (SIGTERM, Ctrl-C) ends the loop between messages, never in the
middle of one.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from intake.mail.imap import MailboxAuthFailed, MailboxConfigError, MailboxError
from intake.mail.lock import MailboxBusy
from intake.mail.mailbox import MailSource, PollSummary

log = logging.getLogger(__name__)


class StopWatching(Exception):  # noqa: N818 - a request, not an error
    """Raised by a signal handler to end an IDLE wait at once (see `WatchState.idle`)."""


@dataclass
class WatchState:
    """What a signal handler may look at: while `idle`, raising `StopWatching` is safe,
    because nothing is half done; otherwise it should only ask the loop to stop."""

    idle: bool = False


@dataclass(frozen=True)
class WatchTiming:
    idle_seconds: float = 300.0  # longest IDLE before a pass runs anyway
    poll_seconds: float = 300.0  # a pass at least this often
    max_backoff: float = 300.0
    idle_slice: float = 30.0  # IDLE in slices this long, so a stop request is seen soon


def watch(
    source: MailSource,
    run_pass: Callable[[MailSource], PollSummary],
    *,
    timing: WatchTiming,
    should_stop: Callable[[], bool],
    report: Callable[[str], None],
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    state: WatchState | None = None,
) -> int:
    """Run passes until `should_stop()`; returns how many passes completed."""
    passes = 0
    failures = 0
    connected = False
    state = state or WatchState()
    while not should_stop():
        try:
            if not connected:
                source.open()
                connected = True
            summary = run_pass(source)
            passes += 1
            failures = 0
            report(summary.line())
            deadline = clock() + min(timing.idle_seconds, timing.poll_seconds)
            while not should_stop():
                left = deadline - clock()
                if left <= 0:
                    break
                try:
                    state.idle = True
                    if source.wait_for_mail(min(timing.idle_slice, left)):
                        break
                except StopWatching:
                    break
                finally:
                    state.idle = False
        except MailboxBusy as exc:
            report(f"waiting: {exc.message}")
            _sleep_unless_stopped(sleep, timing.poll_seconds, should_stop)
        except (MailboxAuthFailed, MailboxConfigError):
            # Retrying a refused password only gets the account locked.
            raise
        except MailboxError as exc:
            failures += 1
            pause = min(timing.max_backoff, 2.0 ** min(failures, 10))
            report(f"mailbox unavailable ({exc.message}); retrying in {pause:.0f} s")
            source.close()
            connected = False
            _sleep_unless_stopped(sleep, pause, should_stop)
    source.close()
    return passes


def _sleep_unless_stopped(
    sleep: Callable[[float], None], seconds: float, should_stop: Callable[[], bool]
) -> None:
    end = time.monotonic() + seconds
    while not should_stop():
        left = end - time.monotonic()
        if left <= 0:
            return
        sleep(min(1.0, left))
