"""The statistics area (F-42): one page of figures for the user's scope, with filters every figure follows,
charts drawn by ECharts from the same tables the page shows, and an Excel export of exactly those tables."""

from __future__ import annotations

import datetime

from django.shortcuts import render
from django.utils import timezone

from jianchama.core import spreadsheets
from jianchama.core.errors import PermissionDenied
from jianchama.core.pages import page_view
from jianchama.core.replica import replica_reads
from jianchama.inspections.models import Task
from jianchama.registry.models import EnforcementBody, Field, Region

from . import figures, snapshots
from .models import Watermark
from .scope import PERIOD_KINDS, Filters, Period, Scope, scope_for

FIRST_YEAR = 2000


def _int(value, lo: int, hi: int) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if lo <= number <= hi else None


def _date(value) -> datetime.date | None:
    try:
        return datetime.date.fromisoformat(value) if value else None
    except (TypeError, ValueError):
        return None


def read_period(params, today: datetime.date) -> tuple[Period, list[str]]:
    """The period asked for, or this year; a wrong value is said, never a 500."""
    problems = []
    kind = params.get("period") or "year"
    if kind not in PERIOD_KINDS:
        problems.append("统计期间类型无效，已按本年统计")
        kind = "year"
    year = _int(params.get("year"), FIRST_YEAR, today.year + 5) or today.year
    if kind == "custom":
        start, end = _date(params.get("start")), _date(params.get("end"))
        if not (start and end) or end < start or (end - start).days > 366 * 5:
            problems.append("自定义期间须填写开始和结束日期，结束不早于开始，且不超过5年；已按本年统计")
            return Period.of("year", today, year=year), problems
        return Period.of("custom", today, start=start, end=end), problems
    number = None
    if kind == "month":
        number = _int(params.get("number"), 1, 12)
    elif kind == "quarter":
        number = _int(params.get("number"), 1, 4)
    return Period.of(kind, today, year=year, number=number), problems


def choices(scope: Scope) -> dict:
    """What the filters offer the user: the regions, bodies and fields of the scope."""
    if scope.level == "city":
        regions = list(Region.objects.exclude(level=Region.Level.CITY).order_by("path"))
        bodies = list(EnforcementBody.objects.order_by("region__path", "name").only("name"))
    elif scope.level == "district":
        district = Region.objects.get(pk=scope.district_id)
        regions = list(district.subtree().order_by("path"))
        bodies = list(
            EnforcementBody.objects.filter(region__in=district.subtree()).order_by("name").only("name")
        )
    else:
        regions = list(Region.objects.exclude(level=Region.Level.CITY).order_by("path"))
        bodies = (
            list(EnforcementBody.objects.filter(pk__in=scope.body_ids).order_by("name").only("name"))
            if len(scope.body_ids) > 1
            else []
        )
    return {
        "regions": regions,
        "bodies": bodies,
        "fields": list(Field.objects.order_by("code").only("name")),
        "kinds": Task.Kind.choices,
    }


def read_filters(params, offered: dict) -> tuple[Filters, list[str]]:
    problems = []
    labels = {}
    region_ids: tuple[int, ...] = ()
    region = next((r for r in offered["regions"] if str(r.pk) == params.get("region")), None)
    if params.get("region") and region is None:
        problems.append("所选区域不在您的统计范围内，已忽略")
    if region is not None:
        region_ids = tuple(r.pk for r in offered["regions"] if r.path.startswith(region.path))
        labels["region"] = region.name
    field = next((f for f in offered["fields"] if str(f.pk) == params.get("field")), None)
    if params.get("field") and field is None:
        problems.append("所选执法领域不存在，已忽略")
    if field is not None:
        labels["field"] = field.name
    body = next((b for b in offered["bodies"] if str(b.pk) == params.get("body")), None)
    if params.get("body") and body is None:
        problems.append("所选执法单位不在您的统计范围内，已忽略")
    if body is not None:
        labels["body"] = body.name
    kind = params.get("kind") or ""
    if kind and kind not in Task.Kind.values:
        problems.append("检查类型无效，已忽略")
        kind = ""
    if kind:
        labels["kind"] = Task.Kind(kind).label
    filters = Filters(
        region_ids=region_ids,
        region_id=region.pk if region else None,
        field_id=field.pk if field else 0,
        body_id=body.pk if body else None,
        kind=kind,
        labels=labels,
    )
    return filters, problems


# How often a page with figures still being computed by the job queue reloads itself.
PENDING_RELOAD_SECONDS = 5


@page_view
@replica_reads
def statistics(request):
    scope = scope_for(request.user)
    if scope.is_empty:
        raise PermissionDenied("统计分析供执法单位、执法监督人员和区政府查看")
    today = timezone.localdate()
    period, problems = read_period(request.GET, today)
    offered = choices(scope)
    filters, more = read_filters(request.GET, offered)
    problems += more
    wanted = request.GET.get("figure")
    codes = [wanted] if wanted in figures.PAGE_FIGURES else figures.PAGE_FIGURES
    export = request.GET.get("format") == "xlsx"
    # An export is a file asked for, not a page: it computes what the page may still be waiting for. Asked once
    # for the page, not once per figure (a catalogue read each).
    defer = False if export else snapshots.defers(scope)
    results = [
        (figures.FIGURES[code], snapshots.compute(code, scope, period, filters, defer=defer))
        for code in codes
    ]
    if export:
        sheets = [
            spreadsheets.Sheet(figure.name[:31], table.columns, table.rows, widths=[24] * len(table.columns))
            for figure, table in results
        ]
        return spreadsheets.xlsx_response(f"统计分析_{scope.label}_{period.label}_", sheets)
    query = request.GET.copy()
    query.pop("format", None)
    query.pop("figure", None)
    without = {}
    for name in ("body", "region", "field"):
        without[name] = query.copy()
        without[name].pop(name, None)

    def drill(name: str, value) -> str:
        """The same page with the filter `name` set to `value` (a body's, a region's or a field's drill-down)."""
        rest = without[name].urlencode()
        return f"?{rest}&{name}={value}" if rest else f"?{name}={value}"

    charts = {}
    for figure, table in results:
        hrefs = [drill(table.link, value) if table.link and value else "" for value in table.links]
        hrefs += [""] * (len(table.rows) - len(hrefs))
        table.display = [
            [(table.columns[i], cell, hrefs[number] if i == 0 else "") for i, cell in enumerate(row)]
            for number, row in enumerate(table.rows)
        ]
        if table.series:
            charts[figure.code] = table.chart_data()
            if any(hrefs):
                charts[figure.code]["links"] = hrefs
    mark = Watermark.objects.filter(pk=1).first()
    return render(
        request,
        "statistics/index.html",
        {
            "scope": scope,
            "period": period,
            "filters": filters,
            "problems": problems,
            "results": results,
            "charts": charts,
            "offered": offered,
            "params": request.GET,
            "period_kinds": PERIOD_KINDS.items(),
            "years": range(today.year + 1, today.year - 6, -1),
            "query": query.urlencode(),
            "body_query": without["body"].urlencode(),
            "region_query": without["region"].urlencode(),
            "field_query": without["field"].urlencode(),
            "refreshed_at": mark.refreshed_at if mark else None,
            "pending": sum(1 for _figure, table in results if table.pending),
            "pending_reload_seconds": PENDING_RELOAD_SECONDS,
        },
    )
