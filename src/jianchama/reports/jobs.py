"""The reports' scheduled job (migration 0002_schedule): every day at 06:00 it checks whether today is the month's
first working day (core.workdays), and on that day opens and generates the reports of the periods just ended."""

from __future__ import annotations


def generate_due_reports() -> int:
    import datetime

    from django.utils import timezone

    from jianchama.core.workdays import is_working_day

    from .services import generate_scheduled

    today = timezone.localdate()
    day = today.replace(day=1)
    while not is_working_day(day):
        day += datetime.timedelta(days=1)
    if today != day:
        return 0
    return len(generate_scheduled(today))
