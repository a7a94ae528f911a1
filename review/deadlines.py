"""When a submission is due: its arrival plus the promised working days, in Sweden.

The receipt mail promises a review within `review_days` working days
(`KOPPLINGAR_REVIEW_DAYS`). A working day is a weekday, in Europe/Stockholm,
that is not a Swedish public holiday (lag 1989:253 om allmänna helgdagar) nor
one of the three eves that everyone treats as one (midsommarafton, julafton,
nyårsafton: semesterlagen 3 a § counts them as Sundays, and so do the
collective agreements). Counting starts the day after arrival: a form in on
Friday with 2 days is due on Tuesday, and one in on Saturday too.

The holidays are computed here, not taken from the `holidays` package: its
only release on the index this project installs from (0.109) requires
python-dateutil < 3, and the project's constraints pin python-dateutil 4.0.0
(pandas and matplotlib of the dev tools need it), so pip cannot resolve both.
The Swedish calendar is short: fixed dates, the days around Easter (from the
Gregorian computus), Ascension day, and the Saturdays and Friday of
midsommar and alla helgons dag (Saturdays are never working days anyway;
they are listed so the calendar is complete).

Every function is pure. `due_date` is monotonic in the arrival time, which
is what lets the queue order "overdue first" by arrival (one index) and
count the overdue with one range (`overdue_cutoff`).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from render import SWEDISH_TIME

_DAY = dt.timedelta(days=1)
# Enough to walk past any run of non-working days (the longest is jul to nyår: 5).
_MAX_WALK = 3660


def easter_sunday(year: int) -> dt.date:
    """Easter Sunday of the Gregorian calendar (the anonymous computus, Meeus/Jones/Butcher)."""
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    m = (32 + 2 * e + 2 * i - h - k) % 7
    n = (a + 11 * h + 22 * m) // 451
    month, day = divmod(h + m - 7 * n + 114, 31)
    return dt.date(year, month, day + 1)


def _saturday_between(year: int, month: int, first: int) -> dt.date:
    start = dt.date(year, month, first)
    return start + dt.timedelta(days=(5 - start.weekday()) % 7)


@functools.lru_cache(maxsize=64)
def swedish_holidays(year: int) -> Mapping[dt.date, str]:
    """The year's days off in Sweden besides ordinary weekends, each with its Swedish name."""
    easter = easter_sunday(year)
    midsummer = _saturday_between(year, 6, 20)  # midsommardagen: the Saturday 20-26 June
    days = {
        dt.date(year, 1, 1): "nyårsdagen",
        dt.date(year, 1, 6): "trettondedag jul",
        easter - 2 * _DAY: "långfredagen",
        easter: "påskdagen",
        easter + _DAY: "annandag påsk",
        dt.date(year, 5, 1): "första maj",
        easter + 39 * _DAY: "Kristi himmelsfärds dag",
        easter + 49 * _DAY: "pingstdagen",
        dt.date(year, 6, 6): "Sveriges nationaldag",
        midsummer - _DAY: "midsommarafton",
        midsummer: "midsommardagen",
        _saturday_between(year, 10, 31): "alla helgons dag",
        dt.date(year, 12, 24): "julafton",
        dt.date(year, 12, 25): "juldagen",
        dt.date(year, 12, 26): "annandag jul",
        dt.date(year, 12, 31): "nyårsafton",
    }
    return MappingProxyType(days)  # cached: nobody may change it


def is_working_day(day: dt.date) -> bool:
    return day.weekday() < 5 and day not in swedish_holidays(day.year)


def local_day(at: dt.datetime) -> dt.date:
    """The date in Sweden at the instant `at` (aware; a naive one is taken as UTC)."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=dt.UTC)
    return at.astimezone(SWEDISH_TIME).date()


def add_working_days(start: dt.date, days: int) -> dt.date:
    """The `days`-th working day after `start` (`start` itself never counts); `start` for 0."""
    if days < 0:
        raise ValueError(f"days must be at least 0, got {days}")
    day = start
    left = days
    while left:
        day += _DAY
        if is_working_day(day):
            left -= 1
    return day


def due_date(received: dt.datetime, review_days: int) -> dt.date:
    """The last day of the review promised for a submission received at `received`.

    `received` is `Submission.created_at`; the day is Sweden's. With 2 days
    a Friday arrival is due on Tuesday, one before midsommarafton on the
    Tuesday after it.
    """
    return add_working_days(local_day(received), review_days)


def days_late(due: dt.date, today: dt.date) -> int:
    """Calendar days from `due` to `today`: 0 while it is not overdue.

    Calendar days, not working days: a form due on Friday is late on the
    Saturday already (the overdue count says so), and "1 day" then reads
    right where "0 working days" would not.
    """
    return max(0, (today - due).days)


def is_overdue(received: dt.datetime, review_days: int, today: dt.date) -> bool:
    """Whether an open submission received at `received` is past its due date `today`."""
    return due_date(received, review_days) < today


def overdue_cutoff(today: dt.date, review_days: int) -> dt.datetime:
    """The instant before which every arrival is overdue on `today`, and after which none is.

    `due_date` only depends on the Swedish day of arrival and never goes
    back as that day moves on, so the overdue arrivals are exactly those
    before the start (00:00 in Sweden) of the first day whose due date is not
    before `today`. As a UTC instant, for `created_at < cutoff` on an index.
    """
    day = today
    for _ in range(_MAX_WALK):
        if add_working_days(day - _DAY, review_days) < today:
            break
        day -= _DAY
    else:  # pragma: no cover - a calendar with ten years of holidays
        raise ValueError(f"no overdue arrival within {_MAX_WALK} days of {today}")
    midnight = dt.datetime.combine(day, dt.time(0), tzinfo=SWEDISH_TIME)
    return midnight.astimezone(dt.UTC)


_WEEKDAYS = ("mån", "tis", "ons", "tors", "fre", "lör", "sön")
_MONTHS = ("jan", "feb", "mars", "apr", "maj", "juni", "juli", "aug", "sep", "okt", "nov", "dec")


def day_label(day: dt.date) -> str:
    """A due date as the queue shows it: "tis 8 dec" (Swedish, without depending on a locale)."""
    return f"{_WEEKDAYS[day.weekday()]} {day.day} {_MONTHS[day.month - 1]}"


@dataclass(frozen=True)
class Deadline:
    """A submission's due date and, on `today`, how late it is."""

    due: dt.date
    late: int  # calendar days past `due`; 0 while on time

    @property
    def label(self) -> str:
        return day_label(self.due)

    @property
    def late_text(self) -> str:
        """ "försenat 2 dagar" (text, so the mark does not rest on colour); "" on time."""
        if not self.late:
            return ""
        return f"försenat {self.late} {'dag' if self.late == 1 else 'dagar'}"


def deadline(received: dt.datetime, review_days: int, today: dt.date) -> Deadline:
    due = due_date(received, review_days)
    return Deadline(due=due, late=days_late(due, today))
