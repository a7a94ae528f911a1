"""The statistics page: how the queue and the back office are doing (`review.stats`).

`/granskning/statistik`, for every reviewer: the queue now, a bar chart of
received, approved and rejected per Stockholm day for the last 30 days
(inline SVG sized by its own attributes, coloured by classes in
`review.css`: the CSP allows no inline style), the numbers per reviewer and
over everyone, and the outbox by state with a link to `/granskning/utkorg`.

The numbers are computed at most once every `CACHE_SECONDS` per process and
shared by every reviewer (they are the same for all of them): on a queue of
100,000 submissions one computation costs a few hundred milliseconds on
SQLite, and a page that several people keep open should not pay that on
each load. The page says when they were computed.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse
from sqlmodel import Session

from review.stats import DAYS, Statistics, statistics
from review.web_common import Kit, Viewer

CACHE_SECONDS = 60.0
CHART_HEIGHT = 180  # px of the tallest bar
BAR_WIDTH = 10
DAY_WIDTH = 3 * BAR_WIDTH + 12
CHART_LEFT = 40  # room for the scale
CHART_BOTTOM = 22  # room for the dates
OUTBOX_LABELS = {
    "pending": "Väntar på att skickas",
    "sent": "Skickade",
    "failed": "Misslyckades",
    "suppressed": "Stoppade",
}
WEEKDAYS = ("mån", "tis", "ons", "tor", "fre", "lör", "sön")


def duration(value: dt.timedelta | None) -> str:
    """A length of time as a person says it, in Swedish: 45 min, 3 tim 20 min, 2 dagar 4 tim."""
    if value is None:
        return "–"
    minutes = max(0, int(value.total_seconds() // 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        day_text = f"{days} {'dag' if days == 1 else 'dagar'}"
        return f"{day_text} {hours} tim" if hours else day_text
    if hours:
        return f"{hours} tim {mins} min" if mins else f"{hours} tim"
    return f"{mins} min"


def share(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.0f} %"


@dataclass(frozen=True)
class Bar:
    x: int
    y: int
    height: int
    series: str  # received, approved, rejected
    label: str


def chart_bars(stats: Statistics) -> list[Bar]:
    """The chart's bars in SVG coordinates (y grows downwards)."""
    top = stats.busiest
    bars = []
    names = {"received": "inkomna", "approved": "godkända", "rejected": "avslagna"}
    for i, day in enumerate(stats.days):
        for j, (series, value) in enumerate(
            (("received", day.received), ("approved", day.approved), ("rejected", day.rejected))
        ):
            height = round(value / top * CHART_HEIGHT)
            if value and height < 1:
                height = 1
            bars.append(
                Bar(
                    x=CHART_LEFT + i * DAY_WIDTH + j * BAR_WIDTH,
                    y=CHART_HEIGHT - height,
                    height=height,
                    series=series,
                    label=f"{day.day.day}/{day.day.month}: {value} {names[series]}",
                )
            )
    return bars


def scale(top: int) -> list[tuple[int, int]]:
    """Up to four round values on the chart's axis, with their y."""
    step = max(1, top // 4)
    for nice in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10_000):
        if nice >= step:
            step = nice
            break
    return [(v, CHART_HEIGHT - round(v / top * CHART_HEIGHT)) for v in range(0, top + 1, step)]


class _Cache:
    """The last computation, shared by every request of this process for `seconds`."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self.clock = clock
        self.lock = threading.Lock()
        self.value: Statistics | None = None
        self.taken = 0.0

    def get(self, compute: Callable[[], Statistics]) -> Statistics:
        with self.lock:  # one computation at a time; the others wait for it and share it
            if self.value is None or self.clock() - self.taken >= self.seconds:
                self.value = compute()
                self.taken = self.clock()
            return self.value


def add_stats_routes(router: APIRouter, kit: Kit, *, cache_seconds: float = CACHE_SECONDS) -> None:
    cache = _Cache(cache_seconds)

    @router.get("/statistik", response_class=HTMLResponse)
    def stats_page(
        me: Viewer = Depends(kit.viewer), session: Session = Depends(kit.db)
    ) -> HTMLResponse:
        stats = cache.get(lambda: statistics(session, now=kit.now()))
        return kit.render(
            "stats.html",
            viewer=me,
            stats=stats,
            days=DAYS,
            bars=chart_bars(stats),
            scale=scale(stats.busiest),
            chart_height=CHART_HEIGHT,
            chart_width=CHART_LEFT + DAYS * DAY_WIDTH,
            chart_left=CHART_LEFT,
            chart_bottom=CHART_BOTTOM,
            day_width=DAY_WIDTH,
            bar_width=BAR_WIDTH,
            weekdays=WEEKDAYS,
            outbox_labels=OUTBOX_LABELS,
            duration=duration,
            share=share,
            cache_seconds=int(cache_seconds),
        )
