"""Small helpers shared by the benchmarks: timing, a printed table, the sample database."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from sqlalchemy import Engine
from sqlmodel import Session

from kopplingar.database import upgrade_all
from registry import import_registry, make_engine
from samples import REGISTRY_JSON
from samples.scans import record_issued

T = TypeVar("T")


@dataclass(frozen=True)
class Timing:
    label: str
    seconds: list[float]

    @property
    def total(self) -> float:
        return sum(self.seconds)

    @property
    def per_second(self) -> float:
        return len(self.seconds) / self.total if self.total else float("inf")

    @property
    def median_ms(self) -> float:
        return statistics.median(self.seconds) * 1000

    @property
    def p95_ms(self) -> float:
        ordered = sorted(self.seconds)
        return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))] * 1000


def time_each(label: str, items: Sequence[T], fn: Callable[[T], object]) -> Timing:
    seconds = []
    for item in items:
        start = time.perf_counter()
        fn(item)
        seconds.append(time.perf_counter() - start)
    return Timing(label, seconds)


def table(rows: Sequence[Timing], *, rate: bool = True) -> str:
    width = max(len(r.label) for r in rows) + 2
    head = f"{'':{width}}{'n':>6}{'per s':>10}{'median ms':>12}{'p95 ms':>10}"
    lines = [head]
    for r in rows:
        per_s = f"{r.per_second:10.1f}" if rate else f"{'':>10}"
        lines.append(
            f"{r.label:{width}}{len(r.seconds):6d}{per_s}{r.median_ms:12.2f}{r.p95_ms:10.2f}"
        )
    return "\n".join(lines)


def sample_registry_db(folder: Path, corpus: Path) -> Engine:
    """A SQLite database in `folder` with the sample registry and `corpus`'s issued forms
    recorded: what a bench reads against."""
    engine = make_engine(f"sqlite:///{folder / 'bench.db'}")
    upgrade_all(engine)
    with Session(engine) as session:
        import_registry(session, REGISTRY_JSON)
        record_issued(session, corpus)
        session.commit()
    return engine
