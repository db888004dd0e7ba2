"""Working days on the official calendar (F-40): Monday to Friday, less holidays, plus swapped working weekends.

The exceptions live in `CalendarDay`; a year is trusted only if it has a `CalendarYear` row. A deadline that
crosses a year without a loaded schedule is still computed (on weekends only) but flagged as provisional,
so no page presents a guess as a fact.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from .models import CalendarDay, CalendarYear


@dataclass(frozen=True)
class Deadline:
    date: datetime.date
    unknown_years: tuple[int, ...] = field(default=())

    @property
    def provisional(self) -> bool:
        """True when the schedule of a year this deadline depends on is not loaded."""
        return bool(self.unknown_years)

    @property
    def warning(self) -> str:
        if not self.unknown_years:
            return ""
        years = "、".join(f"{y}年" for y in self.unknown_years)
        return f"{years}的法定节假日安排尚未载入，此期限仅按周末推算，请在节假日安排公布后核对"


class WorkingCalendar:
    """The exceptions of the years a computation touches, each year loaded once, on first use. Keep one for
    many days or deadlines (a scan over a range, a page or an export of deadlines): the module's functions
    each start a new one, which reads the calendar again."""

    def __init__(self) -> None:
        self.exceptions: dict[datetime.date, str] = {}
        self.loaded_years: set[int] = set()
        self.known_years: set[int] = set()
        self.unknown_used: set[int] = set()

    def _load(self, year: int) -> None:
        # Load the rest of a plausible span at once: deadlines usually run on into the next year.
        years = range(year, year + 2)
        rows = CalendarDay.objects.filter(
            date__gte=datetime.date(year, 1, 1), date__lte=datetime.date(years[-1], 12, 31)
        ).values_list("date", "kind")
        self.exceptions.update(rows)
        self.known_years.update(CalendarYear.objects.filter(year__in=years).values_list("year", flat=True))
        self.loaded_years.update(years)

    def is_working_day(self, day: datetime.date) -> bool:
        if day.year not in self.loaded_years:
            self._load(day.year)
        if day.year not in self.known_years:
            self.unknown_used.add(day.year)
        kind = self.exceptions.get(day)
        if kind == CalendarDay.Kind.HOLIDAY:
            return False
        if kind == CalendarDay.Kind.WORKDAY:
            return True
        return day.weekday() < 5

    def deadline(self, start: datetime.date, n: int) -> Deadline:
        """The n-th working day after `start` (n >= 1), with the years whose schedule was missing."""
        if n < 1:
            raise ValueError("n must be at least 1")
        self.unknown_used = set()
        day = start
        remaining = n
        while remaining:
            day += datetime.timedelta(days=1)
            if self.is_working_day(day):
                remaining -= 1
        return Deadline(day, tuple(sorted(self.unknown_used)))

    def between(self, a: datetime.date, b: datetime.date) -> int:
        """Working days after `a` up to and including `b` (negative if `b` is before `a`)."""
        if b < a:
            return -self.between(b, a)
        count = 0
        day = a
        while day < b:
            day += datetime.timedelta(days=1)
            if self.is_working_day(day):
                count += 1
        return count


def compute_deadline(start: datetime.date, n: int) -> Deadline:
    """The n-th working day after `start` (n >= 1), with the years whose schedule was missing."""
    return WorkingCalendar().deadline(start, n)


def add_working_days(start: datetime.date, n: int) -> datetime.date:
    """The n-th working day after `start`. Use `compute_deadline` where the page must show a warning."""
    return compute_deadline(start, n).date


def working_days_between(a: datetime.date, b: datetime.date) -> int:
    """Working days after `a` up to and including `b` (negative if `b` is before `a`).

    So `working_days_between(start, compute_deadline(start, n).date) == n`.
    """
    return WorkingCalendar().between(a, b)


def is_working_day(day: datetime.date) -> bool:
    return WorkingCalendar().is_working_day(day)


def unknown_years(years: list[int]) -> list[int]:
    known = set(CalendarYear.objects.filter(year__in=years).values_list("year", flat=True))
    return [y for y in years if y not in known]
