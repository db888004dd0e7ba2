"""Every statistics figure, defined once: its Chinese name, its definition as shown on the page, and a function
of (scope, period, filters) that reads the fact tables only (never the raw inspections). The statistics page,
its Excel export, and later the reports and open data take their numbers from here.

A figure returns a `Table`: its columns and rows (what the page shows beside the chart and exports), and which
columns the chart draws, so that the chart, the table and the export can only show the same numbers.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db import connection
from django.db.models import Count, F, Q, Sum
from django.db.models.expressions import RawSQL
from django.db.models.functions import TruncMonth
from django.utils import timezone

from jianchama.inspections.models import EvaluationRelease, InspectionRecord, Task
from jianchama.registry.models import (
    Certificate,
    EnforcementBody,
    Enterprise,
    Field,
    InspectionItem,
    Inspector,
    Region,
)

from .models import DailyFact, InspectorFact, ItemFact, MonthlyFact, ParticipationFact, VisitFact
from .scope import Filters, Period, Scope, counting

# F-26: no evaluation figure over fewer ratings than this is shown to anyone reading aggregates.
MIN_RATINGS = 5
SUPPRESSED = "<5"
EVALUATION_DIMENSIONS = [
    ("overall", "总体评价"),
    ("certificate_shown", "出示执法证件"),
    ("rights_told", "告知权利"),
    ("conduct", "文明执法"),
    ("efficiency", "检查效率"),
    ("integrity", "廉洁自律"),
]
REPEAT_WINDOWS = [(7, "7日内"), (30, "30日内"), (90, "90日内"), (366, "一年内")]


@dataclass
class Table:
    columns: list[str]
    rows: list[list[Any]]
    chart: str = "bar"  # bar, line, pie, calendar (the first column a date) or tiles (a grid of regions)
    series: list[int] = field(default_factory=lambda: [1])  # the columns the chart draws (numbers)
    note: str = ""
    # Drill-down: the filter (`body`, `region`, `field`) a row's first cell links to, and per row its value (or None).
    link: str = ""
    links: list[int | None] = field(default_factory=list)
    # What the chart needs besides the table (the calendar's range of days).
    extra: dict[str, Any] = field(default_factory=dict)
    # Not computed yet: the job queue is computing its view (snapshots.compute); the page says so and reloads.
    pending: bool = False
    # What the table says when it has no row, if not that the period has no data.
    empty: str = ""

    def chart_data(self) -> dict[str, Any]:
        """What the page's script hands to ECharts: categories (the first column; a date in ISO) and one
        series per drawn column, numbers as shown in the table."""
        return {
            "type": self.chart,
            "categories": [_category(row[0]) for row in self.rows],
            "series": [
                {"name": self.columns[i], "data": [_number(row[i]) for row in self.rows]} for i in self.series
            ],
            **self.extra,
        }


@dataclass(frozen=True)
class Figure:
    code: str
    name: str
    definition: str
    compute: Callable[[Scope, Period, Filters], Table]


FIGURES: dict[str, Figure] = {}


def figure(code: str, name: str, definition: str):
    def register(function: Callable[[Scope, Period, Filters], Table]):
        FIGURES[code] = Figure(code, name, definition, function)
        return function

    return register


def _category(value) -> str:
    if isinstance(value, datetime.date):
        return value.isoformat()
    return str(value)


def _number(value):
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, int | float):
        return value
    return None  # a suppressed or empty cell is no point on the chart


def _ratio(part: int, whole: int, scale: int = 100) -> Decimal | None:
    if not whole:
        return None
    return (Decimal(part) * scale / Decimal(whole)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def whole_months(period: Period) -> bool:
    following = period.end + datetime.timedelta(days=1)
    return period.start.day == 1 and following.day == 1


def facts(scope: Scope, period: Period, filters: Filters):
    """The fact rows of the scope, the period and the filters (participations): MonthlyFact when the period
    is whole months (a month, a quarter, a year), DailyFact for a custom range of days."""
    if whole_months(period):
        rows = MonthlyFact.objects.filter(month__range=(period.start, period.end))
    else:
        rows = DailyFact.objects.filter(day__range=(period.start, period.end))
    return rows.filter(filters.q()).filter(scope.rows)


def month_split(period: Period) -> list[Period]:
    """The period as its whole months (one part, read from MonthlyFact) and the days before and after them
    (DailyFact); the period itself when it holds no whole month or is whole months."""
    if whole_months(period):
        return [period]
    first = (
        period.start
        if period.start.day == 1
        else (period.start.replace(day=28) + datetime.timedelta(days=4)).replace(day=1)
    )
    following = period.end + datetime.timedelta(days=1)
    last = period.end if following.day == 1 else period.end.replace(day=1) - datetime.timedelta(days=1)
    if first > last:
        return [period]
    parts = [Period(first, last, "custom")]
    if period.start < first:
        parts.insert(0, Period(period.start, first - datetime.timedelta(days=1), "custom"))
    if last < period.end:
        parts.append(Period(last + datetime.timedelta(days=1), period.end, "custom"))
    return parts


def sums(scope: Scope, period: Period, filters: Filters, q: Q, **named) -> dict[str, int]:
    """`aggregate(**named)` of Sums over the period's task rows (`tasks`) narrowed by `q`, a custom range read as
    its whole months and its other days (`month_split`): 200 days of a district at 10 M inspections read
    about 740,000 daily rows (280 ms) where their months are a few thousand."""
    total: dict[str, int] = {}
    for part in month_split(period):
        for name, value in tasks(scope, part, filters).filter(q).aggregate(**named).items():
            total[name] = total.get(name, 0) + (value or 0)
    return total


def tasks(scope: Scope, period: Period, filters: Filters):
    """The same, one row per task (see scope.py)."""
    return facts(scope, period, filters).filter(counting(scope, filters))


MEASURES = [
    "inspections",
    "remote",
    "joint",
    "with_code",
    "scanned",
    "completed",
    "no_problem",
    "rectify",
    "case_opened",
    "referred",
    "findings",
    "evaluations",
    "cancelled",
]


# Several figures of one page sum the same rows; within `together()` the sums are computed once.
_TOTALS: contextvars.ContextVar[dict | None] = contextvars.ContextVar("statistics_totals", default=None)


@contextlib.contextmanager
def together():
    """Compute several figures of one scope, period and filters sharing their common sums."""
    token = _TOTALS.set({})
    try:
        yield
    finally:
        _TOTALS.reset(token)


def _totals(queryset) -> dict[str, int]:
    cache = _TOTALS.get()
    key = str(queryset.query)
    if cache is None or key not in cache:
        got = queryset.aggregate(**{name: Sum(name) for name in MEASURES})
        sums = {name: got[name] or 0 for name in MEASURES}
        if cache is None:
            return sums
        cache[key] = sums
    return dict(cache[key])


# --- The figures ---------------------------------------------------------------------------------------------


@figure(
    "summary",
    "主要指标",
    "检查次数：期间内提交审批及以后各状态（不含草稿、已取消）的检查任务数，以实际开始检查日（未开始的以计划检查"
    "日期起）计；一次联合检查计一次。检查码覆盖率＝已生成检查码的检查÷检查次数；扫码率＝企业扫码核验为真的"
    "检查÷已生成检查码的检查；每百次检查发现问题数＝不符合项数÷已录入结果的检查×100；取消＝提交后取消的任务数。",
)
def summary(scope: Scope, period: Period, filters: Filters) -> Table:
    t = _totals(tasks(scope, period, filters))
    rows = [
        ["检查次数", t["inspections"]],
        ["联合检查次数", t["joint"]],
        ["检查码覆盖率（%）", _ratio(t["with_code"], t["inspections"])],
        ["扫码率（%）", _ratio(t["scanned"], t["with_code"])],
        ["已录入结果", t["completed"]],
        ["每百次检查发现问题数", _ratio(t["findings"], t["completed"])],
        ["提交后取消", t["cancelled"]],
    ]
    return Table(["指标", "数值"], rows, chart="bar", series=[])


@figure(
    "by_kind",
    "按检查类型",
    "各检查类型（双随机抽查、专项检查、日常检查、投诉举报、触发式检查等）的检查次数。",
)
def by_kind(scope: Scope, period: Period, filters: Filters) -> Table:
    counts = dict(
        tasks(scope, period, filters)
        .values("kind")
        .annotate(n=Sum("inspections"))
        .order_by()
        .values_list("kind", "n")
    )
    rows = [[label, counts.get(kind, 0) or 0] for kind, label in Task.Kind.choices]
    return Table(["检查类型", "检查次数"], rows)


@figure(
    "by_month",
    "按月检查次数",
    "每月的检查次数，及其中现场检查、非现场检查（能非现场的不入企）和联合检查（进一次门、查多项事）的次数。",
)
def by_month(scope: Scope, period: Period, filters: Filters) -> Table:
    got = {
        row["month"]: row
        for row in _by_month(tasks(scope, period, filters))
        .annotate(
            n=Sum("inspections"),
            remote=Sum("remote"),
            joint=Sum("joint"),
        )
        .order_by("month")
    }
    rows = []
    month = period.start.replace(day=1)
    while month <= period.end:
        row = got.get(month) or got.get(datetime.datetime(month.year, month.month, 1)) or {}
        rows.append(
            [
                f"{month:%Y-%m}",
                row.get("n") or 0,
                (row.get("n") or 0) - (row.get("remote") or 0),
                row.get("remote") or 0,
                row.get("joint") or 0,
            ]
        )
        month = (month + datetime.timedelta(days=32)).replace(day=1)
    return Table(
        ["月份", "检查次数", "现场检查", "非现场检查", "联合检查"], rows, chart="line", series=[1, 2, 3, 4]
    )


def _by_month(queryset):
    if queryset.model is MonthlyFact:
        return queryset.values("month")
    return queryset.annotate(day_month=TruncMonth("day")).values(month=F("day_month"))


@figure("mode", "现场与非现场", "现场检查与非现场检查的次数及占比。")
def mode(scope: Scope, period: Period, filters: Filters) -> Table:
    t = _totals(tasks(scope, period, filters))
    counts = {Task.Mode.ON_SITE: t["inspections"] - t["remote"], Task.Mode.REMOTE: t["remote"]}
    total = t["inspections"]
    rows = [[label, counts[m], _ratio(counts[m], total)] for m, label in Task.Mode.choices]
    return Table(["检查方式", "检查次数", "占比（%）"], rows, chart="pie")


@figure("joint", "联合检查", "两个及以上执法单位一次入企共同实施的检查（联合检查）与单独检查的次数及占比。")
def joint(scope: Scope, period: Period, filters: Filters) -> Table:
    t = _totals(tasks(scope, period, filters))
    single = t["inspections"] - t["joint"]
    rows = [
        ["联合检查", t["joint"], _ratio(t["joint"], t["inspections"])],
        ["单独检查", single, _ratio(single, t["inspections"])],
    ]
    return Table(["类别", "检查次数", "占比（%）"], rows, chart="pie")


@figure(
    "code_use",
    "检查码使用",
    "已生成检查码的检查、企业扫码核验为真（真实有效）的检查；覆盖率＝已生成码÷检查次数，扫码率＝已扫码÷已生成码。",
)
def code_use(scope: Scope, period: Period, filters: Filters) -> Table:
    t = _totals(tasks(scope, period, filters))
    rows = [
        ["检查次数", t["inspections"], None],
        ["已生成检查码", t["with_code"], _ratio(t["with_code"], t["inspections"])],
        ["企业已扫码", t["scanned"], _ratio(t["scanned"], t["with_code"])],
    ]
    return Table(["项目", "次数", "比率（%）"], rows)


@figure(
    "outcomes", "检查结论", "已录入结果的检查按结论（未发现问题、责令限期整改、立案查处、移送处理）的次数。"
)
def outcomes(scope: Scope, period: Period, filters: Filters) -> Table:
    t = _totals(tasks(scope, period, filters))
    rows = [[label, t[value]] for value, label in InspectionRecord.Outcome.choices]
    return Table(["检查结论", "检查次数"], rows, chart="pie")


@figure(
    "by_body",
    "按执法单位",
    "各执法单位参与的检查次数（联合检查计入每个参与单位）、检查码覆盖率、扫码率和每百次检查发现问题数。"
    "点击单位名称查看该单位。",
)
def by_body(scope: Scope, period: Period, filters: Filters) -> Table:
    got = list(
        facts(scope, period, filters)
        .values("body_id")
        .annotate(**{name: Sum(name) for name in MEASURES})
        .order_by("-inspections", "body_id")
    )
    names = dict(EnforcementBody.objects.filter(pk__in=[r["body_id"] for r in got]).values_list("pk", "name"))
    rows = [
        [
            names.get(r["body_id"], f"#{r['body_id']}"),
            r["inspections"] or 0,
            r["joint"] or 0,
            _ratio(r["with_code"] or 0, r["inspections"] or 0),
            _ratio(r["scanned"] or 0, r["with_code"] or 0),
            _ratio(r["findings"] or 0, r["completed"] or 0),
        ]
        for r in got
    ]
    return Table(
        ["执法单位", "检查次数", "联合检查", "检查码覆盖率（%）", "扫码率（%）", "每百次检查发现问题数"],
        rows,
        link="body",
        links=[r["body_id"] for r in got],
    )


INSPECTOR_MEASURES = ["inspections", "completed", "findings", "with_code", "scanned"]
INSPECTOR_EVALUATIONS = ["evaluations", "overall_sum", "poor"]
CHOOSE_A_BODY = "请先选择一个执法单位（点击「按执法单位」表中的单位名称），再看其执法人员。"
# A certificate valid today but ending within this many days is shown as ending soon.
CERTIFICATE_ENDING_DAYS = 30


def one_body(scope: Scope, filters: Filters) -> int | None:
    """The body whose inspectors the per-inspector figure lists: the one chosen, or the scope's only body."""
    if filters.body_id:
        return filters.body_id
    if scope.level == "bodies" and len(scope.body_ids) == 1:
        return scope.body_ids[0]
    return None


def _inspector_sums(
    scope: Scope, period: Period, filters: Filters, body_id: int
) -> dict[int, dict[str, int]]:
    """Per inspector of `body_id`, the sums of the counted participations he is on in the period: its whole
    months from InspectorFact, its other days (a custom range's) from ParticipationFact's inspectors."""
    live = scope.live_evaluations
    names = INSPECTOR_MEASURES + (INSPECTOR_EVALUATIONS if live is not None else [])

    def total(name: str):
        # The evaluations of the bodies whose ratings the reader may see live (a supervisor: his district's).
        return Sum(name, filter=live) if name in INSPECTOR_EVALUATIONS and live else Sum(name)

    got: dict[int, dict[str, int]] = {}

    def add(inspector_id: int, row: dict) -> None:
        into = got.setdefault(inspector_id, dict.fromkeys(names, 0))
        for name in names:
            into[name] += row[name] or 0

    for part in month_split(period):
        if whole_months(part):
            rows = (
                InspectorFact.objects.filter(month__range=(part.start, part.end), body_id=body_id)
                .filter(filters.q())
                .filter(scope.rows)
                .values("inspector_id")
                .annotate(**{name: total(name) for name in names})
                .order_by()
            )
            for row in rows:
                add(row["inspector_id"], row)
            continue
        # A few days of one body: grouped by its sets of inspectors (a few hundred), split here.
        rows = (
            ParticipationFact.objects.filter(
                day__range=(part.start, part.end), body_id=body_id, inspections=1
            )
            .filter(filters.q())
            .filter(scope.rows)
            .exclude(inspector_ids="")
            .values("inspector_ids")
            .annotate(**{name: total(name) for name in names})
            .order_by()
        )
        for row in rows:
            for inspector_id in row["inspector_ids"].split(","):
                add(int(inspector_id), row)
    return got


def certificate_status(inspector_ids: list[int], today: datetime.date) -> dict[int, str]:
    """Each inspector's certificate as of today: valid (until when, and whether it ends within
    CERTIFICATE_ENDING_DAYS), else the latest one's status (suspended, revoked, expired), else none."""
    shown: dict[int, str] = {}
    latest: dict[int, Certificate] = {}
    for certificate in Certificate.objects.filter(inspector_id__in=inspector_ids).order_by(
        "inspector_id", "valid_until"
    ):
        latest[certificate.inspector_id] = certificate
        if (
            certificate.status == Certificate.Status.VALID
            and certificate.valid_from <= today <= certificate.valid_until
        ):
            ending = (certificate.valid_until - today).days <= CERTIFICATE_ENDING_DAYS
            shown[certificate.inspector_id] = f"有效至{certificate.valid_until:%Y-%m-%d}" + (
                "（即将到期）" if ending else ""
            )
    for inspector_id in inspector_ids:
        if inspector_id in shown:
            continue
        certificate = latest.get(inspector_id)
        shown[inspector_id] = (
            "无执法证件"
            if certificate is None
            else f"{certificate.get_effective_status_display()}（{certificate.number}）"
        )
    return shown


@figure(
    "by_inspector",
    "按执法人员",
    "所选执法单位（点击「按执法单位」表中的单位名称选择；执法单位人员看本单位）每名执法人员参与的检查次数"
    "（一次检查计入参与的每名执法人员）、已录入结果、每百次检查发现问题数、扫码率，及其执法证件今日的状态；"
    "执法监督人员另见其评议数、总体评价平均分（少于5条评议显示“<5”）和不满意评议数，执法单位看不到。",
)
def by_inspector(scope: Scope, period: Period, filters: Filters) -> Table:
    evaluated = scope.live_evaluations is not None
    columns = ["执法人员", "检查次数", "已录入结果", "每百次检查发现问题数", "扫码率（%）"]
    if evaluated:
        columns += ["评议数", "总体评价平均分", "不满意评议数"]
    columns.append("执法证件状态")
    body_id = one_body(scope, filters)
    if body_id is None:
        return Table(columns, [], empty=CHOOSE_A_BODY)
    got = _inspector_sums(scope, period, filters, body_id)
    # The body's inspectors on duty, and any other who inspected in the period (left since, or of the body's
    # tasks under another body's name: not counted here).
    people = {
        inspector.pk: inspector
        for inspector in Inspector.objects.filter(Q(body_id=body_id, is_active=True) | Q(pk__in=list(got)))
    }
    status = certificate_status(list(people), timezone.localdate())
    rows = []
    for inspector_id, inspector in people.items():
        t = got.get(inspector_id) or {}
        row = [
            inspector.name + ("" if inspector.is_active else "（已离岗）"),
            t.get("inspections", 0),
            t.get("completed", 0),
            _ratio(t.get("findings", 0), t.get("completed", 0)),
            _ratio(t.get("scanned", 0), t.get("with_code", 0)),
        ]
        if evaluated:
            n = t.get("evaluations", 0)
            row += (
                [
                    n,
                    (Decimal(t["overall_sum"]) / n).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP),
                    t["poor"],
                ]
                if n >= MIN_RATINGS
                else [SUPPRESSED, SUPPRESSED, SUPPRESSED]
            )
        row.append(status[inspector_id])
        rows.append(row)
    rows.sort(key=lambda r: (-r[1], r[0]))
    note = "按检查日期统计。"
    return Table(columns, rows, series=[1], note=note)


@figure("by_field", "按执法领域", "各执法领域的检查次数：一次检查涉及几个领域的事项，就计入几个领域。")
def by_field(scope: Scope, period: Period, filters: Filters) -> Table:
    base = (
        MonthlyFact.objects.filter(month__range=(period.start, period.end))
        if whole_months(period)
        else DailyFact.objects.filter(day__range=(period.start, period.end))
    ).filter(scope.rows)
    if filters.region_ids:
        base = base.filter(enterprise_region_id__in=filters.region_ids)
    if filters.body_id:
        base = base.filter(body_id=filters.body_id)
    if filters.kind:
        base = base.filter(kind=filters.kind)
    base = base.filter(field_id__gt=0)
    if filters.field_id:
        base = base.filter(field_id=filters.field_id)
    got = dict(
        base.filter(counting(scope, filters))
        .values("field_id")
        .annotate(n=Sum("inspections"))
        .order_by()
        .values_list("field_id", "n")
    )
    names = dict(Field.objects.filter(pk__in=list(got)).values_list("pk", "name"))
    ordered = sorted(
        ((names.get(k, f"#{k}"), n or 0, k) for k, n in got.items()), key=lambda r: (-r[1], r[0])
    )
    return Table(
        ["执法领域", "检查次数"],
        [[name, n] for name, n, _ in ordered],
        link="field",
        links=[k for _, _, k in ordered],
    )


ITEM_MEASURES = ["inspections", "completed", "failed", "findings"]
CHOOSE_A_FIELD = "请先选择一个执法领域（点击「按执法领域」表中的领域名称，或在上方筛选），再看其检查事项。"


def _item_sums(scope: Scope, period: Period, filters: Filters) -> dict[int, dict[str, int]]:
    """Per item of the field chosen, the sums of the counted participations listing it in the period: its whole
    months from ItemFact, its other days (a custom range's) from ParticipationFact's items of the field."""
    got: dict[int, dict[str, int]] = {}

    def add(item_id: int, row: dict) -> None:
        into = got.setdefault(item_id, dict.fromkeys(ITEM_MEASURES, 0))
        for name in ITEM_MEASURES:
            into[name] += row[name] or 0

    for part in month_split(period):
        if whole_months(part):
            rows = (
                ItemFact.objects.filter(month__range=(part.start, part.end))
                .filter(filters.q())
                .filter(scope.rows)
                .values("item_id")
                .annotate(**{name: Sum(name) for name in ITEM_MEASURES})
                .order_by()
            )
            for row in rows:
                add(row["item_id"], row)
            continue
        # A few days of one field: grouped by its participations' lists of items and findings, split here.
        rows = (
            ParticipationFact.objects.filter(day__range=(part.start, part.end), inspections=1)
            .filter(filters.q())
            .filter(scope.rows)
            .exclude(item_findings="")
            .values("item_findings")
            .annotate(n=Sum("inspections"), completed=Sum("completed"))
            .order_by()
        )
        for row in rows:
            for pair in row["item_findings"].split(","):
                item_id, findings = (int(x) for x in pair.split(":"))
                add(
                    item_id,
                    {
                        "inspections": row["n"],
                        "completed": row["completed"],
                        "failed": row["n"] if findings else 0,
                        "findings": findings * row["n"],
                    },
                )
    return got


@figure(
    "by_item",
    "按检查事项",
    "所选执法领域（点击「按执法领域」表中的领域名称选择）每个检查事项的检查次数（一次检查计入其列出的每个事项；"
    "联合检查中两个单位都列出同一事项的，各计一次）、已录入结果、发现问题的检查（该事项有不符合项）、"
    "问题发现率（发现问题的检查占已录入结果的比例）和该事项的不符合项数。",
)
def by_item(scope: Scope, period: Period, filters: Filters) -> Table:
    columns = ["检查事项", "检查次数", "已录入结果", "发现问题的检查", "问题发现率（%）", "不符合项"]
    if not filters.field_id:
        return Table(columns, [], empty=CHOOSE_A_FIELD)
    got = _item_sums(scope, period, filters)
    # The field's published items the body in view may check (every body's when none is), and any other one
    # inspected in the period.
    listed = InspectionItem.objects.filter(field_id=filters.field_id, is_published=True)
    body_id = one_body(scope, filters)
    if body_id is not None:
        listed = listed.filter(bodies=body_id)
    items = {item.pk: item for item in InspectionItem.objects.filter(Q(pk__in=listed) | Q(pk__in=list(got)))}
    rows = []
    for item_id, item in items.items():
        t = got.get(item_id) or dict.fromkeys(ITEM_MEASURES, 0)
        rows.append(
            [
                item.name,
                t["inspections"],
                t["completed"],
                t["failed"],
                _ratio(t["failed"], t["completed"]),
                t["findings"],
            ]
        )
    rows.sort(key=lambda r: (-r[1], r[0]))
    return Table(columns, rows, series=[1], note="按检查日期统计；只计已提交且未取消的检查。")


@figure(
    "calendar",
    "检查日历热力图",
    "期间内每日的检查次数（口径同「检查次数」：以实际开始检查日、未开始的以计划检查日期起计，一次联合检查计一次），"
    "颜色越深当日检查越多；表中只列有检查的日期。",
)
def heat_calendar(scope: Scope, period: Period, filters: Filters) -> Table:
    # Always the daily facts, whatever the period: one GROUP BY day over the period's rows.
    got = (
        DailyFact.objects.filter(day__range=(period.start, period.end))
        .filter(filters.q())
        .filter(scope.rows)
        .filter(counting(scope, filters))
        .values("day")
        .annotate(n=Sum("inspections"))
        .filter(n__gt=0)
        .order_by("day")
        .values_list("day", "n")
    )
    rows = [[_as_date(day), n] for day, n in got]
    return Table(
        ["日期", "检查次数"],
        rows,
        chart="calendar",
        extra={"range": [period.start.isoformat(), period.end.isoformat()]},
    )


def _as_date(value) -> datetime.date:
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, str):  # a backend handing the grouped date back as text
        return datetime.date.fromisoformat(value[:10])
    return value


def region_root(scope: Scope, filters: Filters) -> Region | None:
    """The region whose parts the region figure shows: the region chosen, else the scope's district, else the
    district all of the scope's bodies are in, else the city."""
    if filters.region_id:
        return Region.objects.filter(pk=filters.region_id).first()
    if scope.level == "district":
        return Region.objects.filter(pk=scope.district_id).first()
    if scope.level == "bodies":
        regions = list(
            Region.objects.filter(bodies__pk__in=scope.body_ids).select_related("parent").distinct()
        )
        districts = {region.district() for region in regions}
        if len(districts) == 1 and None not in districts:
            return districts.pop()
    return Region.objects.filter(level=Region.Level.CITY).order_by("path").first()


@figure(
    "by_region",
    "区划分布",
    "按企业所在区划的检查次数：全市看各区，一个区看其街镇（一次检查计一次）。点击区划查看该区划（下钻）。"
    "企业登记在本区划而未细分到下级区划的、以及本区划以外企业的检查（本区执法单位跨区检查）另列一行。",
)
def by_region(scope: Scope, period: Period, filters: Filters) -> Table:
    columns = ["区划", "检查次数"]
    root = region_root(scope, filters)
    if root is None:
        return Table(columns, [], chart="tiles")
    parts = list(Region.objects.filter(parent=root).order_by("path")) or [root]
    city = root.level == Region.Level.CITY
    key = "enterprise_district_id" if city else "enterprise_region_id"
    got = (
        tasks(scope, period, filters)
        .values(key)
        .annotate(n=Sum("inspections"))
        .order_by()
        .values_list(key, "n")
    )
    counts = {part.pk: 0 for part in parts}
    unplaced = outside = 0
    for region_id, n in got:
        if region_id in counts:
            counts[region_id] += n or 0
        elif region_id == root.pk or (city and not region_id):
            unplaced += n or 0
        else:
            outside += n or 0
    rows: list[list[Any]] = [[part.name, counts[part.pk]] for part in parts]
    links: list[int | None] = [part.pk if part.pk != root.pk else None for part in parts]
    if unplaced:
        rows.append([f"{root.name}（未细分到{'区' if city else '街镇'}）", unplaced])
        links.append(None)
    if outside:
        rows.append([f"{root.name}以外", outside])
        links.append(None)
    return Table(columns, rows, chart="tiles", link="region", links=links)


def _gap_sql(vendor: str) -> str:
    if vendor == "postgresql":
        return "day - LAG(day) OVER (PARTITION BY {part} ORDER BY day)"
    return "CAST(julianday(day) - julianday(LAG(day) OVER (PARTITION BY {part} ORDER BY day)) AS INTEGER)"


def _previous_day(scope: Scope, filters: Filters, key: str) -> str | None:
    """The VisitFact column (or expression) holding, for the rows `repeated` partitions by enterprise, the
    previous visit's day of the same partition; None when no precomputed column matches (a city-level
    reviewer's several bodies without a body filter: the window is used)."""
    if key == "body" or filters.body_id or (scope.level == "bodies" and len(scope.body_ids) == 1):
        # One body's visits of an enterprise (the scope and the filters keep or drop them whole).
        return "prev_body_day"
    if scope.level == "city":
        return "prev_all_day"
    if scope.level == "district" and scope.district_id is not None:
        # counting(): the first_all rows at the district's enterprises, the district's bodies' first_district
        # rows elsewhere.
        return (
            f"CASE WHEN enterprise_district_id = {int(scope.district_id)} THEN prev_all_day "
            "ELSE prev_district_day END"
        )
    return None


@figure(
    "repeated",
    "重复检查",
    "期间内被检查两次及以上、且相邻两次检查间隔不超过7日、30日、90日或一年的企业数：「同一执法单位」指同一单位"
    "的两次检查；「所有执法单位合计」指不论哪个单位的任意两次检查（一次联合检查算一次）。",
)
def repeated(scope: Scope, period: Period, filters: Filters) -> Table:
    """Counted over the period's visits only (a visit before the period's first day is not a previous one).
    Read from VisitFact's previous-visit days (build.update_gaps): a row counts when its previous visit is in
    the period too and the gap is within the window — the same consecutive pairs the window over the
    period's rows sees, since the period is a range of days."""
    base = (
        VisitFact.objects.filter(day__range=(period.start, period.end))
        .filter(filters.visit_q())
        .filter(scope.rows)
    )
    vendor = connection.vendor
    gap = _gap_sql(vendor)
    results = {}
    for key, q, part in (
        ("body", Q(), "enterprise_id, body_id"),
        ("any", counting(scope, filters), "enterprise_id"),
    ):
        previous = _previous_day(scope, filters, key)
        if previous is None:
            inner_sql, params = (
                base.filter(q).values("enterprise_id", "body_id", "day", "tasks").query.sql_with_params()
            )
            inner = (
                f"SELECT enterprise_id, CASE WHEN tasks > 1 THEN 0 ELSE {gap.format(part=part)} END AS gap "
                f"FROM ({inner_sql}) v"
            )
        else:
            inner_sql, params = (
                base.filter(q)
                .annotate(previous=RawSQL(previous, ()))
                .values("enterprise_id", "day", "previous")
                .query.sql_with_params()
            )
            days = (
                "(day - previous)"
                if vendor == "postgresql"
                else "CAST(julianday(day) - julianday(previous) AS INTEGER)"
            )
            # Kept when the previous visit lies in the period.
            inner = f"SELECT enterprise_id, {days} AS gap FROM ({inner_sql}) v WHERE previous >= %s"
            params = (*params, connection.ops.adapt_datefield_value(period.start))
        columns = ", ".join(
            f"COUNT(DISTINCT CASE WHEN gap <= {days} THEN enterprise_id END)" for days, _ in REPEAT_WINDOWS
        )
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {columns} FROM ({inner}) g", params)
            results[key] = cursor.fetchone()
    rows = [
        [label, results["body"][i] or 0, results["any"][i] or 0]
        for i, (_, label) in enumerate(REPEAT_WINDOWS)
    ]
    return Table(
        ["间隔", "同一执法单位重复检查的企业数", "所有执法单位合计重复检查的企业数"], rows, series=[1, 2]
    )


@figure(
    "most_inspected",
    "检查次数最多的企业",
    "期间内检查次数最多的20家企业，检查过它的执法单位及各单位的检查次数（联合检查计入每个参与单位）；选择区划（点击「区划分布」中的区划，下钻到街镇）即看该区划的"
    "企业。本表与「重复检查」不按检查类型筛选。",
)
def most_inspected(scope: Scope, period: Period, filters: Filters) -> Table:
    base = (
        VisitFact.objects.filter(day__range=(period.start, period.end))
        .filter(filters.visit_q())
        .filter(scope.rows)
    )
    top = list(
        base.filter(counting(scope, filters))
        .values("enterprise_id")
        .annotate(n=Sum("tasks"))
        .order_by("-n", "enterprise_id")[:20]
    )
    ids = [r["enterprise_id"] for r in top]
    # By whom: each body's inspections of those enterprises in the scope (its participations; a joint task
    # counts once for each of its bodies), most first.
    visits = list(
        base.filter(enterprise_id__in=ids)
        .values_list("enterprise_id", "body_id")
        .annotate(n=Sum("tasks"))
        .order_by()
    )
    body_names = dict(
        EnforcementBody.objects.filter(pk__in={b for _, b, _ in visits}).values_list("pk", "name")
    )
    by_whom: dict[int, list[tuple[int, str]]] = {}
    for enterprise_id, body_id, n in visits:
        by_whom.setdefault(enterprise_id, []).append((n, body_names.get(body_id, "")))
    names = dict(Enterprise.objects.filter(pk__in=ids).values_list("pk", "name"))
    rows = []
    for r in top:
        bodies = sorted(by_whom.get(r["enterprise_id"], []), key=lambda b: (-b[0], b[1]))
        said = "、".join(f"{name}{n}次" for n, name in bodies)
        rows.append([names.get(r["enterprise_id"], ""), r["n"], len(bodies), said])
    return Table(["企业", "检查次数", "执法单位数", "检查的执法单位"], rows)


@figure(
    "evaluations",
    "企业评议",
    "企业对检查的评议（1—5分）按维度的平均分，及不满意（总体评价2分及以下）的评议数。少于5条评议的不显示（"
    "“<5”）；执法单位看到的是本单位最近一次发布的汇总（每批至少5条新评议发布一次，无法由两次发布推算出单条评议）。",
)
def evaluations(scope: Scope, period: Period, filters: Filters) -> Table:
    if scope.live_evaluations is None:
        return _released(scope)
    got = sums(
        scope,
        period,
        filters,
        scope.live_evaluations,
        n=Sum("evaluations"),
        poor=Sum("poor"),
        **{name: Sum(f"{name}_sum") for name, _ in EVALUATION_DIMENSIONS},
    )
    n = got["n"] or 0
    if n < MIN_RATINGS:
        rows = [[label, SUPPRESSED] for _, label in EVALUATION_DIMENSIONS] + [
            ["评议数", SUPPRESSED],
            ["不满意评议数", SUPPRESSED],
        ]
    else:
        rows = [
            [label, (Decimal(got[name] or 0) / n).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)]
            for name, label in EVALUATION_DIMENSIONS
        ] + [["评议数", n], ["不满意评议数", got["poor"] or 0]]
    return Table(["维度", "平均分"], rows, series=[1], note="按检查日期统计；监督人员看到实时数据。")


def _released(scope: Scope) -> Table:
    """A body's (or a reviewer's bodies') latest release: F-26's figures, never live ones."""
    rows = []
    for body_id in scope.body_ids:
        release = EvaluationRelease.objects.filter(body_id=body_id).order_by("-count").first()
        if release is None:
            continue
        rows = [[label, getattr(release, name)] for name, label in EVALUATION_DIMENSIONS] + [
            ["评议数", release.count]
        ]
        note = f"{release.body}截至{release.period_end:%Y-%m-%d}发布的评议汇总（不随统计期间变化）。"
        return Table(["维度", "平均分"], rows, series=[1], note=note)
    rows = [[label, SUPPRESSED] for _, label in EVALUATION_DIMENSIONS]
    return Table(["维度", "平均分"], rows, series=[1], note="尚无发布的评议汇总（每满5条新评议发布一次）。")


PAGE_FIGURES = [
    "summary",
    "by_month",
    "calendar",
    "by_kind",
    "mode",
    "joint",
    "code_use",
    "outcomes",
    "by_body",
    "by_inspector",
    "by_region",
    "by_field",
    "by_item",
    "repeated",
    # The frequency control figures (figures_frequency.py): refusals, exceptions and visits avoided (F-21).
    "frequency_control",
    "visits_avoided",
    "most_inspected",
    "evaluations",
    # The supervision figures (figures_supervision.py): for supervisors, and a body's administrator his own.
    "supervision_findings",
    "supervision_steps",
    "sampling_coverage",
    "complaints",
]


# --- The frequency report's counts (F-21, inspections.frequency.frequency_report) ---------------------------


@dataclass
class FrequencyCounts:
    top: list[tuple[int, int]]  # enterprise id, inspections
    by_body: list[tuple[str, int, int]]  # body name, inspections, enterprises
    by_field: list[tuple[str, int, int]]  # field name, inspections, enterprises
    total: int
    # When the counts were computed, if not now (a snapshot's time and age, snapshots.frequency_counts).
    note: str = field(default="", compare=False)


def frequency_counts(
    scope: Scope, start: datetime.date, end: datetime.date, *, field_id: int = 0, limit: int = 50
) -> FrequencyCounts:
    """The enterprises inspected most often, the inspections by body and by field, and the total, from
    VisitFact alone: a handful of aggregate queries over one index, whatever the size of the task table."""
    period = VisitFact.objects.filter(day__range=(start, end)).filter(scope.rows)
    rows = period.filter(field_id=field_id)
    once = rows.filter(scope.tasks)
    top = [
        (r["enterprise_id"], r["n"])
        for r in once.values("enterprise_id").annotate(n=Sum("tasks")).order_by("-n", "enterprise_id")[:limit]
    ]
    total = once.aggregate(n=Sum("tasks"))["n"] or 0
    bodies = list(
        rows.values("body_id")
        .annotate(n=Sum("tasks"), e=Count("enterprise_id", distinct=True))
        .order_by("-n", "body_id")
    )
    body_names = dict(
        EnforcementBody.objects.filter(pk__in=[r["body_id"] for r in bodies]).values_list("pk", "name")
    )
    fielded = period.filter(field_id=field_id) if field_id else period.filter(field_id__gt=0)
    fields = list(
        fielded.values("field_id")
        .annotate(
            n=Sum("tasks", filter=scope.tasks if scope.tasks else None),
            e=Count("enterprise_id", distinct=True),
        )
        .order_by()
    )
    field_names = dict(Field.objects.filter(pk__in=[r["field_id"] for r in fields]).values_list("pk", "name"))
    return FrequencyCounts(
        top=top,
        by_body=sorted(
            ((body_names.get(r["body_id"], ""), r["n"], r["e"]) for r in bodies), key=lambda r: (-r[1], r[0])
        ),
        by_field=sorted(
            ((field_names.get(r["field_id"], ""), r["n"] or 0, r["e"]) for r in fields),
            key=lambda r: (-r[1], r[0]),
        ),
        total=total,
    )
