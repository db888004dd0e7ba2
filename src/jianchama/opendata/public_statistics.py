"""The public statistics page (F-43, issue 13): a district's or the city's yearly or quarterly figures, read
from the statistics' fact tables only (never a count over the raw inspections), with small cells protected.

Disclosure control, so that no published cell singles out fewer than five cases, even by differencing:
- every count from 1 to 4 is written "<5";
- every count of 5 or more is rounded to the nearest multiple of 5 (a count of 0 stays 0: "none" is public
  anyway through the published plans and sampling rounds). Two published figures of the same measure (the
  city and a district, a year and its quarters, two releases a day apart) then differ by a multiple of 5 that
  can be off by up to 4 either way, so their difference never gives a small cell's exact value;
- a rate (coverage, scan rate) is shown only when its denominator is at least 5, as a whole percentage;
- evaluations: the number and the average of the overall rating only over at least 5 evaluations, the average
  to one decimal place.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db.models import Sum
from django.utils import timezone

from jianchama.registry.models import Region
from jianchama.statistics import snapshots
from jianchama.statistics.models import MonthlyFact, VisitFact, Watermark
from jianchama.statistics.scope import Filters, Period, region_scope

SMALL = 5
HIDDEN = f"<{SMALL}"


def protect(count: int | None) -> int | str:
    """A published count: 0, "<5", or the count rounded to the nearest multiple of 5 (halves up)."""
    count = count or 0
    if count == 0:
        return 0
    if count < SMALL:
        return HIDDEN
    return (count + 2) // 5 * 5


def rate(part: int, whole: int) -> int | str:
    if whole < SMALL:
        return HIDDEN if whole else "—"
    return round(100 * part / whole)


@dataclass
class Row:
    key: str
    title: str
    value: int | str
    definition: str


METRICS = [
    (
        "inspections",
        "检查次数",
        "期间内提交审批及以后各状态（不含草稿、已取消）的检查任务数；一次联合检查计一次。",
    ),
    ("with_code", "已生成检查码的检查", "已生成检查码的检查次数。"),
    ("coverage", "检查码覆盖率（%）", "已生成检查码的检查÷检查次数，取整。"),
    ("scan_rate", "扫码率（%）", "企业扫码核验为真的检查÷已生成检查码的检查，取整。"),
    ("enterprises", "被检查企业数", "期间内至少被检查一次的企业数。"),
    ("repeated", "被重复检查的企业数", "期间内被任意执法单位检查两次及以上的企业数（一次联合检查算一次）。"),
    ("evaluations", "企业评议数", "企业对检查的评议条数。"),
    ("overall", "总体评价平均分", "总体评价（1—5分）的平均分，评议少于5条时不显示。"),
    ("poor", "不满意评议数", "总体评价2分及以下的评议数。"),
]


def regions() -> list[Region]:
    """The city and its districts, as the page's selector lists them."""
    return list(
        Region.objects.filter(level__in=(Region.Level.CITY, Region.Level.DISTRICT)).order_by("level", "code")
    )


def period_of(year: int, quarter: int | None) -> Period:
    today = timezone.localdate()
    if quarter:
        return Period.of("quarter", today, year=year, number=quarter)
    return Period.of("year", today, year=year)


def rows(region: Region, period: Period) -> list[Row]:
    scope = region_scope(region, live_evaluations=True)
    filters = Filters()
    tasks = (
        MonthlyFact.objects.filter(month__range=(period.start, period.end))
        .filter(filters.q())
        .filter(scope.rows)
        .filter(scope.tasks)
    )
    t = tasks.aggregate(
        inspections=Sum("inspections"),
        with_code=Sum("with_code"),
        scanned=Sum("scanned"),
        evaluations=Sum("evaluations"),
        overall=Sum("overall_sum"),
        poor=Sum("poor"),
    )
    t = {k: v or 0 for k, v in t.items()}
    repeated = snapshots.compute("repeated", scope, period, filters).rows
    year_repeat = repeated[-1][2] if repeated else 0
    visited = (
        VisitFact.objects.filter(day__range=(period.start, period.end), field_id=0)
        .filter(scope.rows)
        .filter(scope.tasks)
        .values("enterprise_id")
        .distinct()
        .count()
    )
    n = t["evaluations"]
    overall = f"{t['overall'] / n:.1f}" if n >= SMALL else HIDDEN if n else "—"
    values = {
        "inspections": protect(t["inspections"]),
        "with_code": protect(t["with_code"]),
        "coverage": rate(t["with_code"], t["inspections"]),
        "scan_rate": rate(t["scanned"], t["with_code"]),
        "enterprises": protect(visited),
        "repeated": protect(year_repeat),
        "evaluations": protect(n),
        "overall": overall,
        "poor": protect(t["poor"]) if n >= SMALL else HIDDEN if n else 0,
    }
    return [Row(key, title, values[key], definition) for key, title, definition in METRICS]


def as_record(region: Region, period: Period, published: list[Row]) -> dict:
    record = {
        "region_code": region.code,
        "region": region.name,
        "period": period.label,
        "start": period.start.isoformat(),
        "end": period.end.isoformat(),
    }
    record.update({r.key: r.value for r in published})
    return record


def valid_year(value: str, years: list[int]) -> int | None:
    try:
        year = int(value)
    except (TypeError, ValueError):
        return None
    return year if year in years else None


def today() -> datetime.date:
    return timezone.localdate()


def dataset_rows(request, year: int):
    """The catalogue's dataset: one record per region (the city, then each district) for the year."""
    period = period_of(year, None)
    for region in regions():
        yield as_record(region, period, rows(region, period))


def modified() -> datetime.datetime | None:
    mark = Watermark.objects.first()
    if mark is None:
        return None
    moments = [m for m in (mark.refreshed_at, mark.rebuilt_at) if m]
    return max(moments) if moments else None
