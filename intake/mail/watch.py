"""Watch mode: passes over the mailbox for as long as the process runs.

After each pass the watcher waits in IMAP IDLE, so a new message is read
seconds after it arrives; a pass also runs every `poll_seconds` whatever
IDLE says, because some servers (and some proxies in between) drop IDLE
notifications silently. A lost connection is retried (tenacity) with a
pause that doubles from 2 s up to `max_backoff`, counted afresh after every
pass that went through; a busy mailbox (a cron pass running) is simply
waited out; a refused login or a configuration that cannot work ends the
watch. A stop request (SIGTERM, Ctrl-C) ends the loop between messages,
never in the middle of one, and cuts a wait or a pause short.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from tenacity import RetryCallState, Retrying, retry_if_exception, wait_exponential

from intake.mail.mailbox import PollSummary
from intake.mail.types import (
    MailboxAuthFailed,
    MailboxBusy,
    MailboxConfigError,
    MailboxError,
    MailSource,
)


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
    watcher = _Watcher(source, run_pass, timing, should_stop, report, clock, state or WatchState())
    retrying = Retrying(
        retry=retry_if_exception(_reconnect_helps),
        wait=wait_exponential(multiplier=2, max=timing.max_backoff),  # 2, 4, 8 ... s
        stop=lambda _attempt: should_stop(),
        sleep=lambda seconds: _sleep_unless_stopped(sleep, clock, seconds, should_stop),
        before_sleep=watcher.lost,
        retry_error_callback=lambda _attempt: None,  # asked to stop while failing: just stop
    )
    while not should_stop():
        try:
            retrying(watcher.cycle)
        except MailboxBusy as exc:
            report(f"waiting: {exc.message}")
            _sleep_unless_stopped(sleep, clock, timing.poll_seconds, should_stop)
    source.close()
    return watcher.passes


def _reconnect_helps(exc: BaseException) -> bool:
    # Retrying a refused password only gets the account locked; a busy mailbox is
    # waited out at the pace of the passes, not the backoff.
    return isinstance(exc, MailboxError) and not isinstance(
        exc, MailboxAuthFailed | MailboxConfigError | MailboxBusy
    )


@dataclass
class _Watcher:
    source: MailSource
    run_pass: Callable[[MailSource], PollSummary]
    timing: WatchTiming
    should_stop: Callable[[], bool]
    report: Callable[[str], None]
    clock: Callable[[], float]
    state: WatchState
    passes: int = 0
    connected: bool = False
    waiting: bool = False  # a pass went through: wait for mail before the next one

    def cycle(self) -> None:
        """Wait for new mail (after a pass), then one pass; retried after a failure.

        The wait comes first so that every call ends with a pass that went
        through, and the backoff counts the failures since the last one.
        """
        if self.waiting:
            self.waiting = False
            self._wait_for_mail()
        if self.should_stop():  # asked to while waiting for mail, or during a pause
            return
        if not self.connected:
            self.source.open()
            self.connected = True
        summary = self.run_pass(self.source)
        self.passes += 1
        self.report(summary.line())
        self.waiting = True

    def lost(self, attempt: RetryCallState) -> None:
        """Before the pause: say why, and drop the connection to open a new one after it."""
        assert attempt.outcome is not None and attempt.next_action is not None
        exc = attempt.outcome.exception()
        assert isinstance(exc, MailboxError)
        pause = attempt.next_action.sleep
        self.report(f"mailbox unavailable ({exc.message}); retrying in {pause:.0f} s")
        self.source.close()
        self.connected = False

    def _wait_for_mail(self) -> None:
        deadline = self.clock() + min(self.timing.idle_seconds, self.timing.poll_seconds)
        while not self.should_stop():
            left = deadline - self.clock()
            if left <= 0:
                return
            try:
                self.state.idle = True
                if self.source.wait_for_mail(min(self.timing.idle_slice, left)):
                    return
            except StopWatching:
                return
            finally:
                self.state.idle = False


def _sleep_unless_stopped(
    sleep: Callable[[float], None],
    clock: Callable[[], float],
    seconds: float,
    should_stop: Callable[[], bool],
) -> None:
    end = clock() + seconds
    while not should_stop():
        left = end - clock()
        if left <= 0:
            return
        sleep(min(1.0, left))
