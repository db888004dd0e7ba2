"""The supervision numbers, counted once (F-37, F-42): the findings by rule, source and severity, the three steps
and their deadlines, the quarterly sampling against its 10% target. The periodic report (`reports/contents.py`)
and the statistics page (`statistics/figures_supervision.py`) both call these functions, so that a number means
the same on both.

The caller says whose rows are counted (a condition on the rows' `body`, e.g. the bodies `body_ids_in(region)`, or the rounds
of some regions); these functions add the period and count. A few grouped queries each, never one per row: the
tables are small (a district has hundreds of findings a year, not millions).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Count, F, Q, QuerySet

from jianchama.registry.models import EnforcementBody, Region

from .models import (
    Decision,
    Finding,
    Recommendation,
    SampledBody,
    SamplingReview,
    SamplingRound,
    Severity,
    SupervisionWarning,
)
from .rules import RULES

SAMPLING_TARGET = Decimal("10")  # seed 003: 每季度以不低于10%的比例……开展抽查


def body_ids_in(region: Region) -> list[int]:
    """The bodies registered in `region` or below it, whose findings, steps and leads are the region's
    supervision: `Q(body_id__in=…)` on a list of ids (a few dozen), not a join on the region's path prefix,
    which PostgreSQL misestimates (`Finding.visible_to`)."""
    return list(
        EnforcementBody.objects.filter(region__path__startswith=region.path).values_list("pk", flat=True)
    )


# --- Findings ----------------------------------------------------------------------------------------------


def findings_of(start: datetime.date, end: datetime.date) -> QuerySet[Finding]:
    """The findings of a period: those whose month (`Finding.period`) lies in it, the month of its first day
    included; the dismissed ones (经核实不成立) left out."""
    return Finding.objects.filter(period__range=(start.replace(day=1), end)).exclude(
        status=Finding.Status.DISMISSED
    )


@dataclass
class FindingCounts:
    by_rule: dict[str, int]  # the data rules' findings per rule code
    by_rule_severity: dict[tuple[str, str], int]  # the same per (rule code, severity)
    by_source: dict[str, int]
    by_source_severity: dict[tuple[str, str], int]
    by_severity: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.by_severity.values())

    def rule_rows(self) -> list[list]:
        """Per data rule with findings, the most found first: its title, its count, its count per severity."""
        return [
            [RULES[code].title if code in RULES else code, n]
            + [self.by_rule_severity.get((code, value), 0) for value, _ in Severity.choices]
            for code, n in sorted(self.by_rule.items(), key=lambda kv: (-kv[1], kv[0]))
        ]


def count_findings(findings: QuerySet[Finding]) -> FindingCounts:
    """The findings counted by source, data rule and severity: one grouped query."""
    rows = findings.values("source", "rule", "severity").annotate(n=Count("pk")).order_by()
    counts = FindingCounts({}, {}, {}, {}, {})
    for row in rows:
        source, rule, severity, n = row["source"], row["rule"], row["severity"], row["n"]
        if source == Finding.Source.DATA_RULE:
            counts.by_rule[rule] = counts.by_rule.get(rule, 0) + n
            key = (rule, severity)
            counts.by_rule_severity[key] = counts.by_rule_severity.get(key, 0) + n
        counts.by_source[source] = counts.by_source.get(source, 0) + n
        key = (source, severity)
        counts.by_source_severity[key] = counts.by_source_severity.get(key, 0) + n
        counts.by_severity[severity] = counts.by_severity.get(severity, 0) + n
    return counts


# --- The three steps ---------------------------------------------------------------------------------------

STEP_COLUMNS = ["环节", "件数", "按期", "逾期"]
NOT_APPLICABLE = "—"


@dataclass
class StepCounts:
    warnings: int
    warnings_late: int  # the recommendation not issued within 5 working days of "not rectified"
    recommendations: int
    direct: int  # issued without a warning
    issued_late: int
    reported: int  # the rectification report in time
    rectify_missed: int
    reviewed: int  # the re-check in time
    review_missed: int
    decisions: int
    decisions_closed: int  # rectified in time
    decisions_missed: int

    def rows(self) -> list[list]:
        """The steps' table: each step's count, kept and missed ("—" where a step has no deadline)."""
        return [
            ["第一步：预警提醒", self.warnings, NOT_APPLICABLE, NOT_APPLICABLE],
            [
                "预警后制发监督建议书（5个工作日）",
                self.warnings,
                self.warnings - self.warnings_late,
                self.warnings_late,
            ],
            [
                "第二步：制发监督建议书",
                self.recommendations,
                self.recommendations - self.issued_late,
                self.issued_late,
            ],
            ["其中未经预警直接制发", self.direct, NOT_APPLICABLE, NOT_APPLICABLE],
            ["单位整改（15个工作日）", self.recommendations, self.reported, self.rectify_missed],
            ["跟踪复查（5个工作日）", self.recommendations, self.reviewed, self.review_missed],
            ["区政府制发监督决定书", self.decisions, self.decisions_closed, self.decisions_missed],
        ]


def count_steps(where: Q, start: datetime.date, end: datetime.date) -> StepCounts:
    """The warnings given, and the recommendations and decisions issued, from `start` to `end` (by their date)
    on the bodies `where` says, with their deadlines kept and missed: three aggregate queries. A deadline is
    missed when the daily job saw it pass undone (`*_missed_at`), and stays so once done late."""
    w = SupervisionWarning.objects.filter(where, warned_on__range=(start, end)).aggregate(
        n=Count("pk"), late=Count("pk", filter=Q(recommendation_missed_at__isnull=False))
    )
    r = Recommendation.objects.filter(where, issued_on__range=(start, end)).aggregate(
        n=Count("pk"),
        direct=Count("pk", filter=Q(direct=True)),
        issued_late=Count("pk", filter=Q(issued_on__gt=F("issue_due"))),
        reported=Count("pk", filter=Q(reported_at__isnull=False, rectify_missed_at__isnull=True)),
        rectify_missed=Count("pk", filter=Q(rectify_missed_at__isnull=False)),
        reviewed=Count("pk", filter=Q(reviewed_at__isnull=False, review_missed_at__isnull=True)),
        review_missed=Count("pk", filter=Q(review_missed_at__isnull=False)),
    )
    d = Decision.objects.filter(where, issued_on__range=(start, end)).aggregate(
        n=Count("pk"),
        closed=Count("pk", filter=Q(closed_at__isnull=False, deadline_missed_at__isnull=True)),
        missed=Count("pk", filter=Q(deadline_missed_at__isnull=False)),
    )
    return StepCounts(
        warnings=w["n"],
        warnings_late=w["late"],
        recommendations=r["n"],
        direct=r["direct"],
        issued_late=r["issued_late"],
        reported=r["reported"],
        rectify_missed=r["rectify_missed"],
        reviewed=r["reviewed"],
        review_missed=r["review_missed"],
        decisions=d["n"],
        decisions_closed=d["closed"],
        decisions_missed=d["missed"],
    )


# --- Sampling ----------------------------------------------------------------------------------------------


def quarters_of(start: datetime.date, end: datetime.date) -> list[tuple[int, int]]:
    """The (year, quarter) pairs the period touches, in order."""
    quarters = []
    month = start.replace(day=1)
    while month <= end:
        quarter = (month.year, (month.month - 1) // 3 + 1)
        if quarter not in quarters:
            quarters.append(quarter)
        month = (month + datetime.timedelta(days=32)).replace(day=1)
    return quarters


def coverage_ratio(part: int, whole: int) -> Decimal | None:
    if not whole:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


@dataclass
class RoundCoverage:
    label: str  # e.g. 金山区2026年第1季度
    population: int  # the bodies in the round's pool
    drawn: int
    coverage: Decimal | None  # drawn ÷ population, a percentage to one decimal
    reviews: int
    passed: int

    @property
    def met(self) -> bool:
        return self.coverage is not None and self.coverage >= SAMPLING_TARGET

    @property
    def verdict(self) -> str:
        return "达标" if self.met else "未达标"


@dataclass
class SamplingCoverage:
    rounds: list[RoundCoverage]  # in order of year, quarter, region
    missing: list[str]  # the quarters of the period without any drawn round, e.g. 2026年第2季度


def sampling_coverage(
    rounds: QuerySet[SamplingRound], start: datetime.date, end: datetime.date
) -> SamplingCoverage:
    """The drawn (revealed) rounds among `rounds` of the quarters the period touches, each with its pool, the
    bodies drawn, its share against the 10% target and its reviews; and the quarters without one. Three
    queries."""
    wanted = quarters_of(start, end)
    chosen = [
        r
        for r in rounds.filter(status=SamplingRound.Status.REVEALED, year__in={y for y, _ in wanted})
        .select_related("region")
        .order_by()
        if (r.year, r.quarter) in wanted
    ]
    ids = [r.pk for r in chosen]
    sampled = dict(
        SampledBody.objects.filter(round__in=ids).values_list("round").annotate(n=Count("pk")).order_by()
    )
    reviews = {
        row["sampled__round"]: row
        for row in SamplingReview.objects.filter(sampled__round__in=ids)
        .values("sampled__round")
        .annotate(n=Count("pk"), passed=Count("pk", filter=Q(passed=True)))
        .order_by()
    }
    out = []
    for r in sorted(chosen, key=lambda r: (r.year, r.quarter, r.region.path)):
        population = len(r.pool)
        drawn = sampled.get(r.pk, r.body_count)
        out.append(
            RoundCoverage(
                label=f"{r.region.name}{r.year}年第{r.quarter}季度",
                population=population,
                drawn=drawn,
                coverage=coverage_ratio(drawn, population),
                reviews=reviews.get(r.pk, {}).get("n", 0),
                passed=reviews.get(r.pk, {}).get("passed", 0),
            )
        )
    missing = [f"{y}年第{q}季度" for y, q in wanted if not any((r.year, r.quarter) == (y, q) for r in chosen)]
    return SamplingCoverage(out, missing)
