"""The shared rate limit on SQLite and PostgreSQL: window, all-or-none, concurrency, sweeping."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable

from sqlalchemy import Engine
from sqlmodel import Session, func, select

from workqueue import DatabaseLimiter, RateLimitHit, RateLimitKey

START = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


def rows(engine: Engine, model: type[RateLimitHit] | type[RateLimitKey]) -> int:
    with Session(engine) as session:
        return int(session.exec(select(func.count()).select_from(model)).one())


def test_the_window_slides_and_the_wait_is_until_the_oldest_hit_leaves(engine: Engine) -> None:
    clock = Clock()
    limiter = DatabaseLimiter(engine, 3, 600, clock=clock)
    assert limiter.hit(["addr:a"]) == 0.0
    clock.advance(100)
    assert limiter.hit(["addr:a"]) == 0.0
    assert limiter.hit(["addr:a"]) == 0.0
    clock.advance(50)
    assert limiter.hit(["addr:a"]) == 450.0  # the first hit leaves the window at 600 s
    assert limiter.hit(["addr:b"]) == 0.0  # another key is not affected
    clock.advance(450)
    assert limiter.hit(["addr:a"]) == 0.0
    # A refused hit is not counted: waiting out the window is enough.
    assert limiter.hit(["addr:a"]) == 100.0
    clock.advance(100)
    assert limiter.hit(["addr:a"]) == 0.0


def test_a_request_refused_on_one_key_counts_on_none(engine: Engine) -> None:
    clock = Clock()
    limiter = DatabaseLimiter(engine, 2, 600, clock=clock)
    assert limiter.hit(["addr:a", "orgnr:1"]) == 0.0
    assert limiter.hit(["addr:b", "orgnr:1"]) == 0.0
    assert limiter.hit(["addr:c", "orgnr:1"]) > 0  # the company's limit
    assert limiter.hit(["addr:c"]) == 0.0  # ... so addr:c had not been counted
    assert limiter.hit(["addr:c"]) == 0.0
    assert limiter.hit(["addr:c", "orgnr:2"]) > 0  # the address's limit
    assert limiter.hit(["orgnr:2"]) == 0.0
    assert limiter.hit(["orgnr:2"]) == 0.0


def test_concurrent_hits_never_pass_the_limit(engine: Engine) -> None:
    limiter = DatabaseLimiter(engine, 5, 600)
    results: list[float] = []
    lock = threading.Lock()
    barrier = threading.Barrier(8)

    def worker() -> None:
        barrier.wait()
        for _ in range(3):
            wait = limiter.hit(["addr:shared", "orgnr:5566778899"])
            with lock:
                results.append(wait)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(results) == 24
    assert results.count(0.0) == 5
    assert rows(engine, RateLimitHit) == 10  # five hits on each of the two keys


def test_idle_keys_are_swept(engine: Engine) -> None:
    clock = Clock()
    limiter = DatabaseLimiter(engine, 2, 60, clock=clock)
    for n in range(20):
        limiter.hit([f"addr:{n}"])
    assert rows(engine, RateLimitKey) == 20
    clock.advance(61)
    limiter.hit(["addr:new"])
    assert rows(engine, RateLimitKey) == 1
    assert rows(engine, RateLimitHit) == 1


def test_a_key_too_long_for_the_column_is_still_counted(engine: Engine) -> None:
    limiter = DatabaseLimiter(engine, 1, 60)
    key = "addr:" + "x" * 500
    assert limiter.hit([key]) == 0.0
    assert limiter.hit([key]) > 0


def test_two_limiters_on_one_database_share_the_count(engine: Engine) -> None:
    # Two processes are two limiter objects over the same tables.
    clock: Callable[[], dt.datetime] = Clock()
    first = DatabaseLimiter(engine, 2, 600, clock=clock)
    second = DatabaseLimiter(engine, 2, 600, clock=clock)
    assert first.hit(["addr:a"]) == 0.0
    assert second.hit(["addr:a"]) == 0.0
    assert first.hit(["addr:a"]) > 0
    assert second.hit(["addr:a"]) > 0
