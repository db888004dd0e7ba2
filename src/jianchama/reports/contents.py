"""What a supervision report says in numbers (F-37): the sections of seed 003, each a list of tables computed
for one region and one period, as a JSON-ready snapshot.

The inspection figures are the statistics' (`statistics.figures`, read from the monthly fact tables, never from
the raw inspections); the supervision figures are grouped counts over the supervision tables (findings, the
three steps, sampling, complaints, leads, accountability measures), which are small: a district has hundreds
of them a year, not millions. The findings, steps, sampling and complaint counts are those of
`supervision.counts` and `complaints.counts`, which the statistics page's supervision figures call too; every
other number is defined here once. The PDF, the workbook and the detail page all show this snapshot.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django.db.models import Count, Q
from django.utils import timezone

from jianchama.complaints import counts as complaint_counts
from jianchama.complaints.models import Complaint, ReconsiderationLead
from jianchama.registry.models import Region
from jianchama.statistics import figures as stats
from jianchama.statistics.scope import Filters, Period, region_scope
from jianchama.supervision import counts as supervision_counts
from jianchama.supervision.models import (
    AccountabilityMeasure,
    Bulletin,
    Finding,
    GuidanceOpinion,
    SamplingRound,
    Severity,
)

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
    # The region's supervision: its bodies' findings, steps and leads (supervision.counts, shared with the
    # statistics page's supervision figures).
    bodies = supervision_counts.body_ids_in(region)
    in_region = Q(body_id__in=bodies)
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
    findings = supervision_counts.findings_of(start, end).filter(in_region)
    found = supervision_counts.count_findings(findings)
    severity_labels = list(Severity.choices)
    sections["findings"] = [
        table(
            "数据监督规则发现的问题",
            ["规则", "问题数"] + [f"{label}" for _, label in severity_labels],
            found.rule_rows(),
            chart=1,
        ),
        table(
            "监督发现问题按来源",
            ["来源", "问题数"],
            [[label, found.by_source.get(value, 0)] for value, label in Finding.Source.choices],
            chart=1,
        ),
        table(
            "监督发现问题按严重程度",
            ["严重程度", "问题数"],
            [[label, found.by_severity.get(value, 0)] for value, label in severity_labels],
        ),
    ]

    # Sampling: the rounds of the quarters the period touches, against the 10% target.
    coverage = supervision_counts.sampling_coverage(
        SamplingRound.objects.filter(region__path__startswith=path), start, end
    )
    sampling_rows = [
        [r.label, r.population, r.drawn, r.coverage, r.verdict, r.reviews, r.passed] for r in coverage.rounds
    ]
    sections["sampling"] = [
        table(
            "季度抽查（目标：每季度不低于10%）",
            ["抽查轮次", "执法单位总数", "抽取单位数", "抽查比例（%）", "对照10%目标", "已评查", "评查合格"],
            sampling_rows,
            chart=3,
        )
    ]
    if coverage.missing:
        sections["sampling"].append(table("尚未抽取的季度", ["季度"], [[m] for m in coverage.missing]))

    # The three steps: what was done in the period and whether its deadline was kept.
    steps = supervision_counts.count_steps(in_region, start, end)
    sections["steps"] = [table("三步法各环节", supervision_counts.STEP_COLUMNS, steps.rows(), chart=1)]

    # Complaints and reconsideration leads received in the period: about the region's bodies or enterprises.
    regions = list(Region.objects.filter(path__startswith=path).values_list("pk", flat=True))
    complaints = complaint_counts.complaints_of(start, end).filter(complaint_counts.about(bodies, regions))
    c = complaint_counts.count_complaints(complaints)
    leads = ReconsiderationLead.objects.filter(in_region, received_on__range=(start, end)).aggregate(
        n=Count("pk"), found=Count("pk", filter=Q(finding__isnull=False))
    )
    sections["complaints"] = [
        table(
            "投诉举报和复议线索",
            ["项目", "件数"],
            [
                ["受理投诉举报", c.total.received],
                ["已办理", c.total.handled],
                ["行政复议移送线索", leads["n"]],
                ["线索转为监督问题", leads["found"]],
            ],
        ),
        table(
            "投诉举报按来源",
            ["来源", "件数"],
            [[label, c.by_source[v].received] for v, label in Complaint.Source.choices if v in c.by_source],
            chart=1,
        ),
        table(
            "投诉举报按类别",
            ["类别", "件数"],
            [
                [label, c.by_category[v].received]
                for v, label in Complaint.Category.choices
                if v in c.by_category
            ],
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
