"""The complaint ledger's numbers, counted once (F-34, F-37, F-42): the complaints received in a period by source
and by category, how many were handled, how long handling took in working days and how many were handled late.
The periodic report (`reports/contents.py`) and the statistics page (`statistics/figures_supervision.py`) both
call `count_complaints`, so that a number means the same on both.

Late is the ledger's own notion (`services.timing`, `services.overdue_filter`): handled after the handling
deadline (`handle_by`, in working days from the day the body received it), or, still unhandled, past it today.
The handling time is the working days after the day the complaint was received up to the day it was handled, on
the official calendar (holidays and swapped working weekends). One query for the complaints, one or two for the
calendar: a district receives hundreds a year, not millions.
"""

from __future__ import annotations

import datetime
import statistics
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import TruncDate
from django.db.models.lookups import In
from django.utils import timezone

from jianchama.core.workdays import WorkingCalendar
from jianchama.registry.models import Enterprise

from .models import Complaint


def complaints_of(start: datetime.date, end: datetime.date) -> QuerySet[Complaint]:
    """The complaints received (受理) from `start` to `end`."""
    return Complaint.objects.filter(received_on__range=(start, end))


def about(body_ids: list[int], region_ids: list[int]) -> Q:
    """The complaints about one of the bodies or about an enterprise of one of the regions (the report's notion
    of a region's complaints: the body concerned, or the enterprise concerned, is the region's). The enterprise's
    region is read per complaint by the enterprise's key (a scalar subquery), so the cost follows the complaints:
    a join under the OR hashed the whole enterprise registry (a district's year at a million inspections: 85 ms),
    an EXISTS the district's enterprises (50,000 of them: 17 ms)."""
    region_of = Subquery(
        Enterprise.objects.filter(pk=OuterRef("enterprise_id")).order_by().values("region_id")[:1]
    )
    return Q(body_id__in=body_ids) | Q(In(region_of, list(region_ids)))


@dataclass
class Handling:
    """One group of complaints (all, one source, one category)."""

    received: int = 0
    handled: int = 0  # with a handling result (handled, closed)
    handled_late: int = 0  # the result after the handling deadline
    overdue: int = 0  # assigned, no result, the deadline passed
    days: list[int] = field(default_factory=list)  # the working days each handled one took

    @property
    def average_days(self) -> Decimal | None:
        if not self.days:
            return None
        return (Decimal(sum(self.days)) / len(self.days)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)

    @property
    def median_days(self) -> Decimal | None:
        if not self.days:
            return None
        return Decimal(str(statistics.median(self.days))).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


@dataclass
class ComplaintCounts:
    total: Handling
    by_source: dict[str, Handling]
    by_category: dict[str, Handling]


class _Days:
    """Working days between many pairs of dates on one calendar: each day's running count of working days,
    from the earliest date to the latest, computed once."""

    def __init__(self, first: datetime.date, last: datetime.date):
        calendar = WorkingCalendar()
        self.first = first
        self.running = [0]
        day = first
        while day < last:
            day += datetime.timedelta(days=1)
            self.running.append(self.running[-1] + (1 if calendar.is_working_day(day) else 0))

    def between(self, a: datetime.date, b: datetime.date) -> int:
        """Working days after `a` up to and including `b` (as `WorkingCalendar.between`)."""
        return self.running[(b - self.first).days] - self.running[(a - self.first).days]


def count_complaints(complaints: QuerySet[Complaint], today: datetime.date | None = None) -> ComplaintCounts:
    """The complaints counted in total, by source and by category: received, handled, handled late, overdue
    today, and the working days each handled one took."""
    today = today or timezone.localdate()
    S = Complaint.Status
    # The day of the result in local time, by the database (as services.overdue_filter).
    rows = list(
        complaints.order_by()
        .annotate(handled_on=TruncDate("handled_at"))
        .values_list("source", "category", "received_on", "handled_on", "handle_by", "status")
    )
    pairs = [(received, handled) for _, _, received, handled, _, _ in rows if handled and handled >= received]
    days = _Days(min(a for a, _ in pairs), max(b for _, b in pairs)) if pairs else None
    counts = ComplaintCounts(Handling(), {}, {})
    for source, category, received, handled, due, status in rows:
        for group in (
            counts.total,
            counts.by_source.setdefault(source, Handling()),
            counts.by_category.setdefault(category, Handling()),
        ):
            group.received += 1
            if handled:
                group.handled += 1
                if due and handled > due:
                    group.handled_late += 1
                # A result dated before receipt (a complaint registered afterwards) took no working day.
                group.days.append(days.between(received, handled) if handled >= received else 0)
            elif status == S.ASSIGNED and due and due < today:
                group.overdue += 1
    return counts
