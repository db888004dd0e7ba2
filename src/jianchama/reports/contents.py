"""What a supervision report says in numbers (F-37): the sections of seed 003, each a list of tables computed
for one region and one period, as a JSON-ready snapshot.

The inspection figures are the statistics' (`statistics.figures`, read from the monthly fact tables, never from
the raw inspections); the supervision figures are grouped counts over the supervision tables (findings, the
three steps, sampling, complaints, leads, accountability measures), which are small: a district has hundreds
of them a year, not millions. Every number is defined here once; the PDF, the workbook and the detail page
all show this snapshot.
"""

from __future__ import annotations

import datetime
from collections import Counter
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db.models import Count, F, Q
from django.utils import timezone

from jianchama.complaints.models import Complaint, ReconsiderationLead
from jianchama.registry.models import Region
from jianchama.statistics import figures as stats
from jianchama.statistics.scope import Filters, Period, region_scope
from jianchama.supervision.models import (
    AccountabilityMeasure,
    Bulletin,
    Decision,
    Finding,
    GuidanceOpinion,
    Recommendation,
    SampledBody,
    SamplingReview,
    SamplingRound,
    Severity,
    SupervisionWarning,
)
from jianchama.supervision.rules import RULES

SAMPLING_TARGET = Decimal("10")  # seed 003: 每季度以不低于10%的比例……开展抽查
TYPICAL_PROBLEMS = 10

# (code, title) in the order of seed 003 and of the report.
SECTIONS = [
    ("inspections", "一、涉企行政检查和检查码应用情况"),
    ("repeated", "二、重复检查情况"),
    ("findings", "三、数据监督发现的问题"),
    ("sampling", "四、执法抽查情况"),
    ("steps", "五、监督“三步法”实施情况"),
    ("complaints", "六、投诉举报和复议线索"),
    ("accountability", "七、责任追究情况"),
    ("typical", "八、典型问题"),
]
SECTION_TITLES = dict(SECTIONS)


def _cell(value: Any) -> Any:
    """A value as JSON keeps it: numbers stay numbers (Decimal as a float of its shown digits), text text."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, int | float | str) or value is None:
        return value
    return str(value)


def _ratio(part: int, whole: int) -> float | None:
    if not whole:
        return None
    return float((Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def table(title: str, columns: list[str], rows: list[list[Any]], *, chart: int | None = None) -> dict:
    """One table; `chart` is the column drawn as bars in the PDF (None: no chart)."""
    return {
        "title": title,
        "columns": columns,
        "rows": [[_cell(c) for c in row] for row in rows],
        "chart": chart,
    }


def _stat(code: str, scope, period: Period, title: str, chart: int | None = None) -> dict:
    result = stats.FIGURES[code].compute(scope, period, Filters())
    return table(title, list(result.columns), [list(r) for r in result.rows], chart=chart)


def _quarters(start: datetime.date, end: datetime.date) -> list[tuple[int, int]]:
    quarters = []
    month = start.replace(day=1)
    while month <= end:
        q = (month.year, (month.month - 1) // 3 + 1)
        if q not in quarters:
            quarters.append(q)
        month = (month + datetime.timedelta(days=32)).replace(day=1)
    return quarters


def _aware_range(start: datetime.date, end: datetime.date) -> tuple[datetime.datetime, datetime.datetime]:
    return (
        timezone.make_aware(datetime.datetime.combine(start, datetime.time.min)),
        timezone.make_aware(datetime.datetime.combine(end + datetime.timedelta(days=1), datetime.time.min)),
    )


def compute(region: Region, start: datetime.date, end: datetime.date, kind: str) -> dict:
    """The report's figures for `region` (a district, or the city) from `start` to `end` (whole months)."""
    scope = region_scope(region)
    period = Period(start, end, kind)
    path = region.path
    in_region = Q(body__region__path__startswith=path)
    since, until = _aware_range(start, end)
    sections: dict[str, list[dict]] = {code: [] for code, _ in SECTIONS}

    with stats.together():
        sections["inspections"] = [
            _stat("summary", scope, period, "主要指标"),
            _stat("by_kind", scope, period, "按检查类型", chart=1),
            _stat("code_use", scope, period, "检查码使用"),
            _stat("outcomes", scope, period, "检查结论", chart=1),
        ]
        if kind != "month":
            sections["inspections"].append(_stat("by_month", scope, period, "按月检查次数", chart=1))
        sections["repeated"] = [_stat("repeated", scope, period, "重复检查的企业数", chart=2)]

    # Findings of the period (by the month they belong to), dismissed ones left out.
    findings = Finding.objects.filter(in_region, period__range=(start.replace(day=1), end)).exclude(
        status=Finding.Status.DISMISSED
    )
    by_rule = Counter(
        dict(findings.filter(source=Finding.Source.DATA_RULE).values_list("rule").annotate(n=Count("pk")))
    )
    severities = {
        (r["rule"], r["severity"]): r["n"]
        for r in findings.values("rule", "severity").annotate(n=Count("pk")).order_by()
    }
    severity_labels = list(Severity.choices)
    rule_rows = [
        [RULES[code].title if code in RULES else code, n]
        + [severities.get((code, value), 0) for value, _ in severity_labels]
        for code, n in sorted(by_rule.items(), key=lambda kv: (-kv[1], kv[0]))
    ]
    by_source = dict(findings.values_list("source").annotate(n=Count("pk")).order_by())
    by_severity = dict(findings.values_list("severity").annotate(n=Count("pk")).order_by())
    sections["findings"] = [
        table(
            "数据监督规则发现的问题",
            ["规则", "问题数"] + [f"{label}" for _, label in severity_labels],
            rule_rows,
            chart=1,
        ),
        table(
            "监督发现问题按来源",
            ["来源", "问题数"],
            [[label, by_source.get(value, 0)] for value, label in Finding.Source.choices],
            chart=1,
        ),
        table(
            "监督发现问题按严重程度",
            ["严重程度", "问题数"],
            [[label, by_severity.get(value, 0)] for value, label in severity_labels],
        ),
    ]

    # Sampling: the rounds of the quarters the period touches, against the 10% target.
    rounds = SamplingRound.objects.filter(region__path__startswith=path, status="revealed").select_related(
        "region"
    )
    wanted = _quarters(start, end)
    rounds = [r for r in rounds.filter(year__in={y for y, _ in wanted}) if (r.year, r.quarter) in wanted]
    sampled = dict(
        SampledBody.objects.filter(round__in=[r.pk for r in rounds])
        .values_list("round")
        .annotate(n=Count("pk"))
    )
    reviews = {
        row["sampled__round"]: row
        for row in SamplingReview.objects.filter(sampled__round__in=[r.pk for r in rounds])
        .values("sampled__round")
        .annotate(n=Count("pk"), passed=Count("pk", filter=Q(passed=True)))
        .order_by()
    }
    sampling_rows = []
    for r in sorted(rounds, key=lambda r: (r.year, r.quarter, r.region.path)):
        population = len(r.pool)
        drawn = sampled.get(r.pk, r.body_count)
        coverage = _ratio(drawn, population)
        sampling_rows.append(
            [
                f"{r.region.name}{r.year}年第{r.quarter}季度",
                population,
                drawn,
                coverage,
                "达标" if coverage is not None and Decimal(str(coverage)) >= SAMPLING_TARGET else "未达标",
                reviews.get(r.pk, {}).get("n", 0),
                reviews.get(r.pk, {}).get("passed", 0),
            ]
        )
    missing = [f"{y}年第{q}季度" for y, q in wanted if not any((r.year, r.quarter) == (y, q) for r in rounds)]
    sections["sampling"] = [
        table(
            "季度抽查（目标：每季度不低于10%）",
            ["抽查轮次", "执法单位总数", "抽取单位数", "抽查比例（%）", "对照10%目标", "已评查", "评查合格"],
            sampling_rows,
            chart=3,
        )
    ]
    if missing:
        sections["sampling"].append(table("尚未抽取的季度", ["季度"], [[m] for m in missing]))

    # The three steps: what was done in the period and whether its deadline was kept.
    warnings = SupervisionWarning.objects.filter(in_region, warned_on__range=(start, end))
    w = warnings.aggregate(n=Count("pk"), late=Count("pk", filter=Q(recommendation_missed_at__isnull=False)))
    recs = Recommendation.objects.filter(in_region, issued_on__range=(start, end))
    r = recs.aggregate(
        n=Count("pk"),
        direct=Count("pk", filter=Q(direct=True)),
        issued_late=Count("pk", filter=Q(issued_on__gt=F("issue_due"))),
        reported=Count("pk", filter=Q(reported_at__isnull=False, rectify_missed_at__isnull=True)),
        rectify_missed=Count("pk", filter=Q(rectify_missed_at__isnull=False)),
        reviewed=Count("pk", filter=Q(reviewed_at__isnull=False, review_missed_at__isnull=True)),
        review_missed=Count("pk", filter=Q(review_missed_at__isnull=False)),
    )
    decisions = Decision.objects.filter(in_region, issued_on__range=(start, end))
    d = decisions.aggregate(
        n=Count("pk"),
        closed=Count("pk", filter=Q(closed_at__isnull=False, deadline_missed_at__isnull=True)),
        missed=Count("pk", filter=Q(deadline_missed_at__isnull=False)),
    )
    sections["steps"] = [
        table(
            "三步法各环节",
            ["环节", "件数", "按期", "逾期"],
            [
                ["第一步：预警提醒", w["n"], "—", "—"],
                ["预警后制发监督建议书（5个工作日）", w["n"], w["n"] - w["late"], w["late"]],
                ["第二步：制发监督建议书", r["n"], r["n"] - r["issued_late"], r["issued_late"]],
                ["其中未经预警直接制发", r["direct"], "—", "—"],
                ["单位整改（15个工作日）", r["n"], r["reported"], r["rectify_missed"]],
                ["跟踪复查（5个工作日）", r["n"], r["reviewed"], r["review_missed"]],
                ["区政府制发监督决定书", d["n"], d["closed"], d["missed"]],
            ],
            chart=1,
        )
    ]

    # Complaints and reconsideration leads received in the period.
    complaints = Complaint.objects.filter(
        Q(body__region__path__startswith=path) | Q(enterprise__region__path__startswith=path),
        received_on__range=(start, end),
    )
    c_source = dict(complaints.values_list("source").annotate(n=Count("pk")).order_by())
    c_category = dict(complaints.values_list("category").annotate(n=Count("pk")).order_by())
    c = complaints.aggregate(n=Count("pk"), handled=Count("pk", filter=Q(handled_at__isnull=False)))
    leads = ReconsiderationLead.objects.filter(in_region, received_on__range=(start, end)).aggregate(
        n=Count("pk"), found=Count("pk", filter=Q(finding__isnull=False))
    )
    sections["complaints"] = [
        table(
            "投诉举报和复议线索",
            ["项目", "件数"],
            [
                ["受理投诉举报", c["n"]],
                ["已办理", c["handled"]],
                ["行政复议移送线索", leads["n"]],
                ["线索转为监督问题", leads["found"]],
            ],
        ),
        table(
            "投诉举报按来源",
            ["来源", "件数"],
            [[label, c_source.get(v, 0)] for v, label in Complaint.Source.choices if c_source.get(v)],
            chart=1,
        ),
        table(
            "投诉举报按类别",
            ["类别", "件数"],
            [[label, c_category.get(v, 0)] for v, label in Complaint.Category.choices if c_category.get(v)],
            chart=1,
        ),
    ]

    measures = dict(
        AccountabilityMeasure.objects.filter(
            decision__body__region__path__startswith=path, applied_at__gte=since, applied_at__lt=until
        )
        .values_list("kind")
        .annotate(n=Count("pk"))
        .order_by()
    )
    sections["accountability"] = [
        table(
            "责任追究措施",
            ["措施", "件数"],
            [[label, measures.get(v, 0)] for v, label in AccountabilityMeasure.Kind.choices],
            chart=1,
        )
    ]

    typical = list(
        findings.values("title")
        .annotate(n=Count("pk"), bodies=Count("body", distinct=True))
        .order_by("-n", "title")[:TYPICAL_PROBLEMS]
    )
    guidance = GuidanceOpinion.objects.filter(
        region__path__startswith=path, issued_at__gte=since, issued_at__lt=until
    )
    bulletins = Bulletin.objects.filter(
        region__path__startswith=path, published_at__gte=since, published_at__lt=until
    )
    sections["typical"] = [
        table(
            f"出现最多的问题（前{TYPICAL_PROBLEMS}项）",
            ["问题", "次数", "涉及执法单位数"],
            [[t["title"], t["n"], t["bodies"]] for t in typical],
            chart=1,
        ),
        table(
            "指导性意见和典型案例、通报",
            ["项目", "件数"],
            [["印发指导性意见", guidance.count()], ["发布典型案例、通报", bulletins.count()]],
        ),
    ]
    return {
        "region": region.name,
        "period": period.label,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "computed_at": timezone.localtime().isoformat(timespec="seconds"),
        "sections": [{"code": code, "title": title, "tables": sections[code]} for code, title in SECTIONS],
    }


def headline(figures: dict) -> dict[str, Any]:
    """The few numbers the list and the detail page show at a glance, from the snapshot."""
    out: dict[str, Any] = {}
    for section in figures.get("sections", []):
        if section["code"] == "inspections" and section["tables"]:
            out.update({row[0]: row[1] for row in section["tables"][0]["rows"]})
    return out
