"""intake.mail.watch: passes, IDLE, the backoff after a lost connection, a busy mailbox, a stop.

A scripted source and pass on a fake clock: every pause is seen in what the
watcher reports, and nothing really sleeps.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest

from intake.mail import (
    MailboxAuthFailed,
    MailboxBusy,
    MailboxConfigError,
    MailboxError,
    MailboxUnavailable,
    MailSource,
    MessageMeta,
    PollSummary,
    StopWatching,
    WatchTiming,
    watch,
)

LOST = MailboxUnavailable("IMAP imap.example.se:993: cannot connect: connection refused")


class Clock:
    """Monotonic seconds that move only when the watcher sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.slept += seconds


class Source:
    """A mailbox whose `open` and `wait_for_mail` do what the script says, in turn."""

    account = "imap://kopplingar@imap.example.se:993"
    folder = "INBOX"

    def __init__(
        self,
        clock: Clock,
        opens: Sequence[MailboxError | None] = (),
        waits: Sequence[BaseException | bool] = (),
    ) -> None:
        self.clock = clock
        self.opens = list(opens)
        self.waits = list(waits)
        self.opened = 0
        self.closed = 0

    def open(self) -> None:
        self.opened += 1
        failure = self.opens.pop(0) if self.opens else None
        if failure is not None:
            raise failure

    def close(self) -> None:
        self.closed += 1

    def reconnect(self) -> None:
        self.close()
        self.open()

    def wait_for_mail(self, seconds: float) -> bool:
        outcome = self.waits.pop(0) if self.waits else False
        if isinstance(outcome, BaseException):
            raise outcome
        if not outcome:
            self.clock.sleep(seconds)  # no mail: IDLE ran out
        return outcome

    def uidvalidity(self) -> int:
        return 1

    def uids(self) -> list[int]:
        return []

    def meta(self, uids: Sequence[int]) -> dict[int, MessageMeta]:
        return {}

    def fetch(self, uid: int) -> bytes:
        raise NotImplementedError

    def fetch_header(self, uid: int) -> bytes:
        raise NotImplementedError

    def ensure_folder(self, name: str) -> None:
        return None

    def move(self, uid: int, folder: str) -> None:
        raise NotImplementedError

    def take_back(self, folder: str, sha256: str, size: int, to_folder: str) -> bool:
        raise NotImplementedError


class Passes:
    """The pass: raises what the script says, in turn, else goes through."""

    def __init__(self, failures: Sequence[MailboxError | None] = ()) -> None:
        self.failures = list(failures)
        self.done = 0

    def __call__(self, source: MailSource) -> PollSummary:
        failure = self.failures.pop(0) if self.failures else None
        if failure is not None:
            raise failure
        self.done += 1
        return PollSummary(source.account, source.folder)


def _watch(
    source: Source,
    passes: Passes,
    clock: Clock,
    should_stop: Callable[[], bool],
    reports: list[str],
    timing: WatchTiming = WatchTiming(),
) -> int:
    return watch(
        source,
        passes,
        timing=timing,
        should_stop=should_stop,
        report=reports.append,
        sleep=clock.sleep,
        clock=clock,
    )


def test_lost_connections_back_off_doubling_to_the_cap_and_start_over_after_a_pass() -> None:
    clock = Clock()
    source = Source(clock, opens=[LOST, LOST, LOST, LOST, None, None], waits=[LOST])
    passes = Passes()
    reports: list[str] = []
    done = _watch(
        source,
        passes,
        clock,
        lambda: passes.done >= 2,
        reports,
        WatchTiming(max_backoff=5.0),
    )
    assert done == 2
    retrying = [line for line in reports if "retrying" in line]
    assert retrying == [
        f"mailbox unavailable ({LOST.message}); retrying in {pause} s"
        for pause in (2, 4, 5, 5, 2)  # the last after a pass that went through
    ]
    assert reports.count(PollSummary(source.account, source.folder).line()) == 2
    assert source.opened == 6
    assert source.closed == len(retrying) + 1  # before each pause, and at the end
    assert clock.slept == pytest.approx(2 + 4 + 5 + 5 + 2)


@pytest.mark.parametrize(
    "refusal",
    [
        MailboxAuthFailed("IMAP imap.example.se:993 refused the login of kopplingar"),
        MailboxConfigError("IMAP imap.example.se:993: folder INBOX does not exist"),
    ],
    ids=["login refused", "configuration"],
)
def test_a_refused_login_or_a_bad_configuration_ends_the_watch(refusal: MailboxError) -> None:
    clock = Clock()
    source = Source(clock, opens=[refusal])
    reports: list[str] = []
    with pytest.raises(type(refusal)):
        _watch(source, Passes(), clock, lambda: False, reports)
    assert reports == []
    assert clock.slept == 0


def test_a_busy_mailbox_is_waited_out_at_the_pace_of_the_passes() -> None:
    clock = Clock()
    source = Source(clock)
    busy = MailboxBusy("another run is reading imap://kopplingar@imap.example.se:993/INBOX")
    passes = Passes([busy, busy, None])
    reports: list[str] = []
    timing = WatchTiming(poll_seconds=120.0)
    assert _watch(source, passes, clock, lambda: passes.done >= 1, reports, timing) == 1
    assert reports[:2] == [f"waiting: {busy.message}"] * 2
    assert clock.slept == pytest.approx(2 * 120.0)
    assert source.opened == 1  # the connection was fine all along


def test_new_mail_or_the_poll_interval_starts_the_next_pass() -> None:
    clock = Clock()
    source = Source(clock, waits=[True, False, False])
    passes = Passes()
    timing = WatchTiming(idle_seconds=300.0, poll_seconds=60.0, idle_slice=30.0)
    assert _watch(source, passes, clock, lambda: passes.done >= 3, [], timing) == 3
    # New mail at once after the first pass; after the second, two slices of IDLE
    # make up the poll interval.
    assert clock.now == pytest.approx(60.0)
    assert source.opened == 1


def test_a_stop_ends_an_idle_wait_and_a_backoff_at_once() -> None:
    clock = Clock()
    stop = [False]

    class SignalledInIdle(Source):
        def wait_for_mail(self, seconds: float) -> bool:
            stop[0] = True  # what the SIGTERM handler does while the watcher is idle
            raise StopWatching

    passes = Passes()
    assert _watch(SignalledInIdle(clock), passes, clock, lambda: stop[0], []) == 1
    assert passes.done == 1 and clock.slept == 0

    clock = Clock()
    stop = [False]
    reports: list[str] = []

    def report(line: str) -> None:
        reports.append(line)
        stop[0] = True  # the signal comes during the pause

    source = Source(clock, opens=[LOST] * 10)
    done = watch(
        source,
        Passes(),
        timing=WatchTiming(),
        should_stop=lambda: stop[0],
        report=report,
        sleep=clock.sleep,
        clock=clock,
    )
    assert done == 0
    assert len(reports) == 1 and "retrying in 2 s" in reports[0]
    assert clock.slept == 0
    assert source.opened == 1  # no new connection once asked to stop
    assert source.closed >= 1
