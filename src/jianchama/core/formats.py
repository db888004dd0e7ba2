"""How the interface writes things: one place, so every message and page says a date the same way."""

import datetime


def chinese_date(day: datetime.date) -> str:
    """2026年3月1日."""
    return f"{day.year}年{day.month}月{day.day}日"


def chinese_datetime(moment: datetime.datetime) -> str:
    """2026年3月1日 09:30, in the platform's time zone."""
    from django.utils import timezone

    local = timezone.localtime(moment)
    return f"{chinese_date(local.date())} {local:%H:%M}"
