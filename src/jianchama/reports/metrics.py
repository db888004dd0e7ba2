"""The metrics an assessment scheme may score (考核评议, F-37): a fixed registry in code, one small function per
metric, each with its Chinese name, unit and definition as the scheme page shows them.

A metric is computed for every body of a district at once (`Year`: the district's bodies and the year), from
figures that are read once per assessment and shared: the statistics' monthly facts (one grouped query: the
inspections, codes, scans, results and ratings of every body, as `statistics.figures` counts them), the
confirmed supervision findings (one grouped query by body and rule), the three steps (warnings;
recommendations and decisions), and complaints. No query is made per body, so an assessment of 30 bodies costs
what one of 3 costs.

What is counted, and why:
- a finding counts once supervision has confirmed it (warned, recommended, decided or rectified): an open
  finding is the bureau's working note, still being verified, and a dismissed one was no problem; this is also
  what the body itself sees of its findings (`Finding.visible_to`), so it can check its score;
- a finding, step, complaint belongs to the year of its month (finding), letter date (steps) or receipt
  (complaint);
- the rates divide by the body's inspections of the year (participations of counted tasks, a joint inspection
  counting for each body in it), never reward or punish the number of inspections itself: seed 003 and the
  conduct rules forbid linking an assessment to inspection frequency or fines (不得将考核考评与检查频率、罚款数额
  挂钩), so no metric here is a count of inspections or of fines;
- a rate over nothing (no inspections, no codes) and the evaluation average over fewer ratings than the
  release minimum are "not scored" (`Value.raw` None): the scheme's scoring re-spreads that item's weight
  (`scoring.py`).
"""

from __future__ import annotations

import datetime
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import cached_property

from django.conf import settings
from django.db.models import Count, Q, Sum

from jianchama.complaints.models import Complaint
from jianchama.registry.models import Region
from jianchama.statistics import figures as stats
from jianchama.statistics.scope import Filters, Period, region_scope
from jianchama.supervision.models import Decision, Finding, Recommendation, SupervisionWarning

CONFIRMED = [
    Finding.Status.WARNED,
    Finding.Status.RECOMMENDED,
    Finding.Status.DECIDED,
    Finding.Status.RECTIFIED,
]
FACT_MEASURES = ["inspections", "with_code", "scanned", "completed", "evaluations", "overall_sum"]
PLAN_RULES = ("plan_not_filed", "plan_not_published")
LATE_RECORD_RULE = "late_record"
CENT = Decimal("0.01")


def min_ratings() -> int:
    """The fewest ratings an evaluation average is computed over: F-26's release minimum, never below 5."""
    return max(stats.MIN_RATINGS, int(getattr(settings, "EVALUATION_RELEASE_MIN_RATINGS", 5)))


@dataclass(frozen=True)
class Value:
    """A body's value of a metric: the number scored (None: not scored) and how it was found, in words."""

    raw: Decimal | None
    basis: str


class Year:
    """The bodies of one district and one year, and the figures every metric reads, each read once."""

    def __init__(self, district: Region, year: int, body_ids: list[int]):
        self.district = district
        self.year = year
        self.body_ids = list(body_ids)
        self.start = datetime.date(year, 1, 1)
        self.end = datetime.date(year, 12, 31)

    @cached_property
    def facts(self) -> dict[int, dict[str, int]]:
        """Per body, the year's sums of the statistics' monthly facts (every field, each participation once)."""
        period = Period(self.start, self.end, "year")
        rows = (
            stats.facts(region_scope(self.district), period, Filters())
            .filter(body_id__in=self.body_ids)
            .values("body_id")
            .annotate(**{name: Sum(name) for name in FACT_MEASURES})
            .order_by()
        )
        got = {row["body_id"]: {name: row[name] or 0 for name in FACT_MEASURES} for row in rows}
        return {pk: got.get(pk, dict.fromkeys(FACT_MEASURES, 0)) for pk in self.body_ids}

    @cached_property
    def findings(self) -> dict[int, Counter]:
        """Per body, its confirmed findings of the year by rule ("" for those not found by a data rule)."""
        out: dict[int, Counter] = {pk: Counter() for pk in self.body_ids}
        rows = (
            Finding.objects.filter(
                body_id__in=self.body_ids, period__range=(self.start, self.end), status__in=CONFIRMED
            )
            .values("body_id", "rule")
            .annotate(n=Count("pk"))
            .order_by()
        )
        for row in rows:
            out[row["body_id"]][row["rule"]] += row["n"]
        return out

    def grouped(self, queryset) -> dict[int, int]:
        got = dict(queryset.values("body_id").annotate(n=Count("pk")).order_by().values_list("body_id", "n"))
        return {pk: got.get(pk, 0) for pk in self.body_ids}


def ratio(part: int, whole: int, scale: int = 100) -> Decimal | None:
    if not whole:
        return None
    return (Decimal(part) * scale / Decimal(whole)).quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Metric:
    code: str
    name: str
    unit: str
    definition: str
    # "count": occurrences (scored by deduction or a range); "measure": a rate or average (a range only).
    kind: str
    # The default rule a new scheme item of this metric starts from.
    default_rule: dict
    compute: Callable[[Year], dict[int, Value]]

    @property
    def rule_kinds(self) -> tuple[str, ...]:
        return ("deduct", "linear") if self.kind == "count" else ("linear",)


METRICS: dict[str, Metric] = {}


def metric(code: str, name: str, unit: str, definition: str, *, kind: str, default_rule: dict):
    def register(function: Callable[[Year], dict[int, Value]]):
        if code in METRICS:
            raise ValueError(f"metric {code} registered twice")
        METRICS[code] = Metric(code, name, unit, definition, kind, default_rule, function)
        return function

    return register


def per_hundred(part: dict[int, int], year: Year, what: str) -> dict[int, Value]:
    """`part` per 100 inspections of each body; `what` names the part with its unit, e.g. "投诉举报{}件"."""
    out = {}
    for pk in year.body_ids:
        n, inspections = part[pk], year.facts[pk]["inspections"]
        value = ratio(n, inspections)
        basis = f"{what.format(n)}，检查{inspections}次" if value is not None else "全年无检查，本项不计分"
        out[pk] = Value(value, basis)
    return out


def fact_share(year: Year, part: str, whole: str, what: str, none_basis: str) -> dict[int, Value]:
    """The share of each body's statistics fact `part` in `whole` (a percentage); `what` names both counts,
    e.g. "已扫码{part}次，已生成检查码{whole}次"; without a `whole` the body is not scored (`none_basis`)."""
    out = {}
    for pk in year.body_ids:
        f = year.facts[pk]
        value = ratio(f[part], f[whole])
        basis = what.format(part=f[part], whole=f[whole]) if value is not None else none_basis
        out[pk] = Value(value, basis)
    return out


# --- The metrics ---------------------------------------------------------------------------------------------


@metric(
    "findings_per_100",
    "每百次检查监督发现问题数",
    "个/百次",
    "年度内经核实（已预警、已制发建议书或决定书、已整改）的监督发现问题数（各来源，含数据监督规则、抽查、投诉、"
    "复议线索、观察员）÷ 本单位年度检查次数 × 100。检查次数按统计口径（提交审批及以后各状态，联合检查计入每个"
    "参与单位）。全年无检查的不计分。",
    kind="measure",
    default_rule={"kind": "linear", "full_at": 5, "zero_at": 30},
)
def findings_per_100(year: Year) -> dict[int, Value]:
    found = {pk: sum(year.findings[pk].values()) for pk in year.body_ids}
    return per_hundred(found, year, "监督发现问题{}个")


@metric(
    "warnings_not_rectified",
    "预警提醒后未整改",
    "次",
    "年度内预警提醒、经核实未整改的次数（预警日期在本年度）。",
    kind="count",
    default_rule={"kind": "deduct", "per": 1},
)
def warnings_not_rectified(year: Year) -> dict[int, Value]:
    counts = year.grouped(
        SupervisionWarning.objects.filter(
            body_id__in=year.body_ids,
            warned_on__range=(year.start, year.end),
            outcome=SupervisionWarning.Outcome.NOT_RECTIFIED,
        )
    )
    return {pk: Value(Decimal(n), f"预警后未整改{n}次") for pk, n in counts.items()}


@metric(
    "letters_not_rectified",
    "监督建议书、决定书未按期整改",
    "件",
    "年度内制发的行政执法监督建议书中，逾期未报送整改报告或复查未整改的件数，加上年度内制发的监督决定书中"
    "逾期未整改的件数。",
    kind="count",
    default_rule={"kind": "deduct", "per": 5},
)
def letters_not_rectified(year: Year) -> dict[int, Value]:
    R = Recommendation.Status
    letters = year.grouped(
        Recommendation.objects.filter(
            body_id__in=year.body_ids, issued_on__range=(year.start, year.end)
        ).filter(Q(rectify_missed_at__isnull=False) | Q(status__in=[R.NOT_RECTIFIED, R.ESCALATED, R.DECIDED]))
    )
    decisions = year.grouped(
        Decision.objects.filter(
            body_id__in=year.body_ids,
            issued_on__range=(year.start, year.end),
            deadline_missed_at__isnull=False,
        )
    )
    return {
        pk: Value(
            Decimal(letters[pk] + decisions[pk]),
            f"建议书未按期整改{letters[pk]}件，决定书逾期未整改{decisions[pk]}件",
        )
        for pk in year.body_ids
    }


@metric(
    "evaluation_average",
    "企业评议总体评价平均分",
    "分",
    "年度内企业对本单位检查的总体评价（1—5分）的平均分。评议少于评议汇总的发布门槛（至少5条，"
    "与向执法单位发布评议汇总相同）的不计分，以免由分数推算出单条评议。",
    kind="measure",
    default_rule={"kind": "linear", "full_at": 4.5, "zero_at": 3},
)
def evaluation_average(year: Year) -> dict[int, Value]:
    least = min_ratings()
    out = {}
    for pk in year.body_ids:
        n, total = year.facts[pk]["evaluations"], year.facts[pk]["overall_sum"]
        if n < least:
            out[pk] = Value(None, f"评议少于{least}条，本项不计分")
        else:
            out[pk] = Value(
                (Decimal(total) / n).quantize(CENT, rounding=ROUND_HALF_UP), f"评议不少于{least}条"
            )
    return out


@metric(
    "complaints_per_100",
    "每百次检查投诉举报数",
    "件/百次",
    "年度内受理的针对本单位的投诉举报件数（不予受理的除外）÷ 本单位年度检查次数 × 100。全年无检查的不计分。",
    kind="measure",
    default_rule={"kind": "linear", "full_at": 1, "zero_at": 10},
)
def complaints_per_100(year: Year) -> dict[int, Value]:
    counts = year.grouped(
        Complaint.objects.filter(
            body_id__in=year.body_ids, received_on__range=(year.start, year.end)
        ).exclude(status=Complaint.Status.REJECTED)
    )
    return per_hundred(counts, year, "投诉举报{}件")


@metric(
    "late_records_per_100",
    "每百次检查结果逾期录入数",
    "次/百次",
    "年度内经核实的「检查结果未按时录入」问题数（数据监督规则）÷ 本单位年度检查次数 × 100。"
    "全年无检查的不计分。",
    kind="measure",
    default_rule={"kind": "linear", "full_at": 2, "zero_at": 20},
)
def late_records_per_100(year: Year) -> dict[int, Value]:
    late = {pk: year.findings[pk][LATE_RECORD_RULE] for pk in year.body_ids}
    return per_hundred(late, year, "结果逾期录入{}次")


@metric(
    "scan_rate",
    "扫码率",
    "%",
    "年度内企业扫码核验为真的检查 ÷ 已生成检查码的检查 × 100（统计口径同「统计分析」）。未生成过检查码的不计分。",
    kind="measure",
    default_rule={"kind": "linear", "full_at": 90, "zero_at": 50},
)
def scan_rate(year: Year) -> dict[int, Value]:
    return fact_share(
        year, "scanned", "with_code", "已扫码{part}次，已生成检查码{whole}次", "全年未生成检查码，本项不计分"
    )


@metric(
    "code_coverage",
    "检查码覆盖率",
    "%",
    "年度内已生成检查码的检查 ÷ 检查次数 × 100（统计口径同「统计分析」）。全年无检查的不计分。",
    kind="measure",
    default_rule={"kind": "linear", "full_at": 100, "zero_at": 80},
)
def code_coverage(year: Year) -> dict[int, Value]:
    return fact_share(
        year, "with_code", "inspections", "已生成检查码{part}次，检查{whole}次", "全年无检查，本项不计分"
    )


@metric(
    "plans_late",
    "检查计划未按时备案、公告",
    "个",
    "年度内（按计划期间开始的月份）经核实的「检查计划未备案」「检查计划未按时公告」问题数（数据监督规则）。",
    kind="count",
    default_rule={"kind": "deduct", "per": 5},
)
def plans_late(year: Year) -> dict[int, Value]:
    out = {}
    for pk in year.body_ids:
        counts = year.findings[pk]
        unfiled, unpublished = counts[PLAN_RULES[0]], counts[PLAN_RULES[1]]
        out[pk] = Value(Decimal(unfiled + unpublished), f"未备案{unfiled}个，未按时公告{unpublished}个")
    return out
