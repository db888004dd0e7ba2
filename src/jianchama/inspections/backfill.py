"""When an act done on site reaches the platform later than it happened: the one backfill rule (F-44, F-29).

An inspector without network at the enterprise checks in and records the result on his phone; the phone (or a
body's own enforcement system through the API) sends them when the network returns, with the time each act
happened. The platform keeps both times: when it happened (`occurred_at`) and when it arrived. It accepts a
late arrival only within `BACKFILL_WORKING_DAYS` working days of the act (Guangdong's rules allow a backfill
within ten days after a system failure; the official calendar's working days here, as every deadline of the
platform), and never an act in the future beyond a small clock difference of the phone
(`BACKFILL_CLOCK_SKEW_SECONDS`). The offline app and the API both call this; no second rule exists.
"""

from __future__ import annotations

import datetime

from django.conf import settings
from django.utils import timezone

from jianchama.core.formats import chinese_datetime
from jianchama.core.workdays import working_days_between


def late_after() -> datetime.timedelta:
    """An act that arrives this long after it happened is shown as backfilled (补录) to supervisors."""
    return datetime.timedelta(minutes=settings.BACKFILL_LATE_MINUTES)


def occurred_problems(
    occurred_at: datetime.datetime | None, *, now: datetime.datetime, what: str
) -> list[str]:
    """Why `occurred_at` cannot be accepted as the time of `what` (e.g. 「签到」), as sentences for the user."""
    if occurred_at is None:
        return []
    if timezone.is_naive(occurred_at):
        return [f"{what}时间须带时区（例如 2026-12-02T09:30:00+08:00）"]
    if occurred_at > now + datetime.timedelta(seconds=settings.BACKFILL_CLOCK_SKEW_SECONDS):
        return [f"{what}时间（{chinese_datetime(occurred_at)}）晚于当前时间，请检查手机时间是否准确"]
    days = working_days_between(timezone.localdate(occurred_at), timezone.localdate(now))
    if days > settings.BACKFILL_WORKING_DAYS:
        return [
            f"{what}发生于{chinese_datetime(occurred_at)}，已超过{settings.BACKFILL_WORKING_DAYS}个工作日，"
            "不能补录；请向本单位法制审核机构说明情况"
        ]
    return []


def is_late(occurred_at: datetime.datetime | None, arrived_at: datetime.datetime | None) -> bool:
    return bool(occurred_at and arrived_at and arrived_at - occurred_at > late_after())
