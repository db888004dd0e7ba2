"""The open-data catalogue (F-43): each dataset defined once, with its Chinese title, definition, columns and
their meanings, licence and how its rows are read for one period (a calendar year).

A dataset's rows are read from what is already public elsewhere on the site (published plans, draws, sampling
rounds, public bulletins, the frequency rules): opening them as files adds no new disclosure. Counts are
statistics: a cell under `SMALL_COUNT` is written "<5" (issue 13: no cell may single out a few cases).

Each dataset reads its period in a fixed number of queries (a year of plans or bulletins is one query plus its
prefetches), however many rows; the number of rows per file is capped by `EXPORT_MAX_ROWS` as every export is.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db.models import Count, Max, Sum
from django.urls import reverse
from django.utils import timezone

from . import public_statistics

SMALL_COUNT = 5
LICENCE = {
    "name": "署名 4.0 国际（CC BY 4.0）",
    "url": "https://creativecommons.org/licenses/by/4.0/deed.zh-hans",
    "note": "可自由使用、复制、分发和改编，请注明来源「检查码平台开放数据」。",
}
PUBLISHER = "检查码平台（涉企行政检查执法监督）"


def small(count: int | None) -> int | str:
    """A statistic cell as published: under five is "<5", so no cell singles out one or a few cases."""
    if count is None:
        return 0
    return f"<{SMALL_COUNT}" if 0 < count < SMALL_COUNT else count


def first_year() -> int:
    return int(getattr(settings, "OPEN_DATA_FIRST_YEAR", 2025))


def years() -> list[int]:
    """The periods a dataset is published for: every calendar year from OPEN_DATA_FIRST_YEAR to this one."""
    this = timezone.localdate().year
    return list(range(this, min(first_year(), this) - 1, -1))


def _local(moment: datetime.datetime | None) -> str:
    return timezone.localtime(moment).isoformat(timespec="seconds") if moment else ""


def _year_range(year: int) -> tuple[datetime.datetime, datetime.datetime]:
    start = timezone.make_aware(datetime.datetime(year, 1, 1))
    return start, timezone.make_aware(datetime.datetime(year + 1, 1, 1))


@dataclass(frozen=True)
class Column:
    key: str
    title: str
    definition: str


@dataclass(frozen=True)
class Download:
    """A file of the dataset besides its yearly files: read live (no period), e.g. the caps list's CSV."""

    title: str
    url_name: str
    fmt: str
    description: str = ""


@dataclass(frozen=True)
class Dataset:
    slug: str
    title: str
    description: str
    columns: tuple[Column, ...]
    rows: Callable[[Any, int], Iterable[dict[str, Any]]]  # (request, year) → records
    modified: Callable[[], datetime.datetime | None]
    page: str = ""  # the site's own page of the records (URL name), if any
    keywords: tuple[str, ...] = field(default_factory=tuple)
    downloads: tuple[Download, ...] = field(default_factory=tuple)

    @property
    def header(self) -> list[str]:
        return [c.title for c in self.columns]


# --- Published plans (F-12) ------------------------------------------------------------------------------------


def _plan_rows(request, year: int):
    from jianchama.plans.models import Plan

    start, end = datetime.date(year, 1, 1), datetime.date(year, 12, 31)
    plans = (
        Plan.objects.filter(status=Plan.Status.PUBLISHED, period_start__lte=end, period_end__gte=start)
        .select_related("body")
        .prefetch_related("items")
        .order_by("published_at", "pk")
    )
    for plan in plans.iterator(chunk_size=500):
        yield {
            "number": plan.number,
            "body": plan.body.name,
            "body_code": plan.body.code,
            "title": plan.title,
            "method": plan.get_method_display(),
            "period_start": plan.period_start.isoformat(),
            "period_end": plan.period_end.isoformat(),
            "items": "；".join(item.name for item in plan.items.all()),
            "expected_count": plan.expected_count,
            "published_at": _local(plan.published_at),
            "url": request.build_absolute_uri(reverse("plans:public_detail", args=[plan.pk])),
        }


def _plans_modified():
    from jianchama.plans.models import Plan

    return Plan.objects.filter(status=Plan.Status.PUBLISHED).aggregate(m=Max("published_at"))["m"]


# --- Random draws (F-14) --------------------------------------------------------------------------------------


def _draw_rows(request, year: int):
    from jianchama.plans import draws

    start, end = _year_range(year)
    rows = (
        draws.public_draws()
        .filter(committed_at__gte=start, committed_at__lt=end)
        .order_by("committed_at", "pk")
    )
    for draw in rows.iterator(chunk_size=500):
        yield {
            "draw": draw.pk,
            "plan_number": draw.plan.number,
            "body": draw.plan.body.name,
            "status": draws.PUBLIC_STATUS_LABELS[draws.public_status(draw)],
            "enterprise_count": draw.enterprise_count,
            "pool_hash": draw.pool_hash,
            "seed_commitment": draw.seed_commitment,
            "seed": draw.seed if draws.public_status(draw) != "committed" else "",
            "committed_at": _local(draw.committed_at),
            "revealed_at": _local(draw.revealed_at),
            "record": request.build_absolute_uri(reverse("draws:json", args=[draw.pk])),
        }


def _draws_modified():
    from jianchama.plans.models import RandomDraw

    row = RandomDraw.objects.aggregate(c=Max("committed_at"), r=Max("revealed_at"), w=Max("withdrawn_at"))
    return max((v for v in row.values() if v), default=None)


# --- Sampling rounds (F-31) -------------------------------------------------------------------------------------


def _round_rows(request, year: int):
    from jianchama.supervision.models import SamplingRound

    rounds = (
        SamplingRound.objects.filter(year=year).select_related("region").order_by("quarter", "region__path")
    )
    for r in rounds.iterator(chunk_size=500):
        yield {
            "round": r.pk,
            "region": r.region.name,
            "year": r.year,
            "quarter": r.quarter,
            "status": r.get_status_display(),
            "ratio": r.ratio,
            "population": len(r.pool),
            "body_count": r.body_count,
            "pool_hash": r.pool_hash,
            "seed_commitment": r.seed_commitment,
            "committed_at": _local(r.committed_at),
            "revealed_at": _local(r.revealed_at),
            "record": request.build_absolute_uri(reverse("supervision:sampling_json", args=[r.pk])),
        }


def _rounds_modified():
    from jianchama.supervision.models import SamplingRound

    row = SamplingRound.objects.aggregate(c=Max("committed_at"), r=Max("revealed_at"), w=Max("withdrawn_at"))
    return max((v for v in row.values() if v), default=None)


# --- Public bulletins (F-37) -------------------------------------------------------------------------------------


def _bulletin_rows(request, year: int):
    from jianchama.supervision.models import Bulletin

    start, end = _year_range(year)
    items = (
        Bulletin.objects.published_public()
        .filter(published_at__gte=start, published_at__lt=end)
        .select_related("region")
        .order_by("published_at", "pk")
    )
    for b in items.iterator(chunk_size=500):
        yield {
            "id": b.pk,
            "kind": b.get_kind_display(),
            "region": b.region.name,
            "title": b.title,
            "text": b.text,
            "published_at": _local(b.published_at),
            "url": request.build_absolute_uri(reverse("supervision:bulletin_public_detail", args=[b.pk])),
        }


def _bulletins_modified():
    from jianchama.supervision.models import Bulletin

    return Bulletin.objects.filter(status__in=["published", "withdrawn"]).aggregate(m=Max("published_at"))[
        "m"
    ]


# --- Supervision counts per district (F-37, small cells suppressed) -------------------------------------------


def _supervision_rows(request, year: int):
    """Per district: guidance opinions issued, public bulletins published, sampling rounds revealed and bodies
    sampled in the year; three grouped queries over small tables and one of the regions."""
    from jianchama.registry.models import Region
    from jianchama.supervision.models import Bulletin, GuidanceOpinion, SamplingRound

    start, end = _year_range(year)
    guidance = dict(
        GuidanceOpinion.objects.filter(status="issued", issued_at__gte=start, issued_at__lt=end)
        .values_list("region_id")
        .annotate(n=Count("pk"))
    )
    public = Bulletin.objects.published_public().filter(published_at__gte=start, published_at__lt=end)
    bulletins = dict(public.values_list("region_id").annotate(n=Count("pk")))
    rounds = {
        row["region_id"]: row
        for row in SamplingRound.objects.filter(year=year, status="revealed")
        .values("region_id")
        .annotate(n=Count("pk"), bodies=Sum("body_count"))
    }
    ids = set(guidance) | set(bulletins) | set(rounds)
    for region in Region.objects.filter(pk__in=ids).order_by("path"):
        yield {
            "region": region.name,
            "year": year,
            "guidance_issued": small(guidance.get(region.pk, 0)),
            "bulletins_published": small(bulletins.get(region.pk, 0)),
            "sampling_rounds": small(rounds.get(region.pk, {}).get("n", 0)),
            "bodies_sampled": small(rounds.get(region.pk, {}).get("bodies", 0)),
        }


def _supervision_modified():
    from jianchama.supervision.models import Bulletin, GuidanceOpinion

    values = [
        GuidanceOpinion.objects.aggregate(m=Max("issued_at"))["m"],
        Bulletin.objects.aggregate(m=Max("published_at"))["m"],
        _rounds_modified(),
    ]
    return max((v for v in values if v), default=None)


# --- Yearly inspection caps (F-21, 国办发〔2024〕54号) -------------------------------------------------------------


def _cap_rows(request, year: int):
    from . import caps

    for rule in caps.yearly_rules():
        yield caps.rule_record(rule)


DATASETS: dict[str, Dataset] = {
    d.slug: d
    for d in [
        Dataset(
            slug="plans",
            title="涉企行政检查计划",
            description="各执法单位已备案并公告的检查计划；按计划期间与所选年度有交集取数。",
            columns=(
                Column("number", "计划编号", "备案编号，如 金山检计备〔2026〕3号"),
                Column("body", "执法单位", "制定计划的执法单位名称"),
                Column("body_code", "执法单位编码", "平台中执法单位的唯一编码"),
                Column("title", "计划名称", ""),
                Column("method", "检查方式", "双随机、专项、日常或其他"),
                Column("period_start", "计划期间起", "ISO 8601 日期"),
                Column("period_end", "计划期间止", "ISO 8601 日期"),
                Column("items", "检查事项", "以「；」分隔"),
                Column("expected_count", "预计检查户数", ""),
                Column("published_at", "公告时间", "ISO 8601，北京时间"),
                Column("url", "详情", "公告页面"),
            ),
            rows=_plan_rows,
            modified=_plans_modified,
            page="plans:public_list",
            keywords=("检查计划", "备案", "公告"),
        ),
        Dataset(
            slug="draws",
            title="双随机抽取记录",
            description="每次随机抽取的承诺值、企业库散列、种子和结果记录的链接；按承诺时间所在年度取数。",
            columns=(
                Column("draw", "抽取编号", ""),
                Column("plan_number", "计划编号", ""),
                Column("body", "执法单位", ""),
                Column("status", "状态", "已公布承诺值，待抽取／已抽取并公开／已撤销"),
                Column("enterprise_count", "抽取企业数", ""),
                Column("pool_hash", "企业库快照散列", "SHA-256"),
                Column("seed_commitment", "随机种子承诺值", "SHA-256"),
                Column("seed", "随机种子", "抽取或撤销后公开"),
                Column("committed_at", "承诺时间", "ISO 8601，北京时间"),
                Column("revealed_at", "抽取时间", "ISO 8601，北京时间"),
                Column("record", "完整记录（JSON）", "可用 verify_draw.py 复核"),
            ),
            rows=_draw_rows,
            modified=_draws_modified,
            page="draws:list",
            keywords=("双随机", "一公开", "抽取"),
        ),
        Dataset(
            slug="sampling-rounds",
            title="执法监督季度抽查",
            description="各区司法局每季度按不低于10%的比例抽取执法单位的记录（金司〔2025〕26号）。",
            columns=(
                Column("round", "抽查编号", ""),
                Column("region", "监督区域", ""),
                Column("year", "年度", ""),
                Column("quarter", "季度", ""),
                Column("status", "状态", ""),
                Column("ratio", "抽查比例", ""),
                Column("population", "执法单位总数", "抽取时库中执法单位数"),
                Column("body_count", "抽取单位数", ""),
                Column("pool_hash", "执法单位库快照散列", "SHA-256"),
                Column("seed_commitment", "随机种子承诺值", "SHA-256"),
                Column("committed_at", "承诺时间", "ISO 8601，北京时间"),
                Column("revealed_at", "抽取时间", "ISO 8601，北京时间"),
                Column("record", "完整记录（JSON）", "可用 verify_sampling.py 复核"),
            ),
            rows=_round_rows,
            modified=_rounds_modified,
            page="supervision:sampling_list",
            keywords=("执法监督", "抽查"),
        ),
        Dataset(
            slug="bulletins",
            title="典型案例与通报",
            description="区司法局向社会公开发布的典型案例、通报和通报批评；按发布时间所在年度取数，撤回的不再列出。",
            columns=(
                Column("id", "编号", ""),
                Column("kind", "类别", "典型案例、通报或通报批评"),
                Column("region", "发布机关所在区", ""),
                Column("title", "标题", ""),
                Column("text", "正文", "不含企业名称，除非起草人确认可以公开"),
                Column("published_at", "发布时间", "ISO 8601，北京时间"),
                Column("url", "详情", "公开页面"),
            ),
            rows=_bulletin_rows,
            modified=_bulletins_modified,
            page="supervision:bulletin_public_list",
            keywords=("典型案例", "通报"),
        ),
        Dataset(
            slug="supervision-counts",
            title="执法监督工作量（按区）",
            description="各区当年印发的指导性意见、社会公开的典型案例与通报、已抽取的季度抽查轮次及抽取的执法单位数。"
            f"小于{SMALL_COUNT}的数值显示为「<{SMALL_COUNT}」。",
            columns=(
                Column("region", "区", ""),
                Column("year", "年度", ""),
                Column("guidance_issued", "印发指导性意见数", "当年印发的指导性意见"),
                Column("bulletins_published", "公开典型案例与通报数", "当年社会公开发布（未撤回）的"),
                Column("sampling_rounds", "季度抽查轮次", "当年已抽取的轮次"),
                Column("bodies_sampled", "抽取执法单位数", "当年各轮抽取的执法单位合计"),
            ),
            rows=_supervision_rows,
            modified=_supervision_modified,
            keywords=("执法监督", "统计"),
        ),
        Dataset(
            slug="public-statistics",
            title="涉企行政检查统计（全市及各区）",
            description="全市及各区当年的检查次数、检查码覆盖率与扫码率、被检查及被重复检查的企业数、企业评议汇总，"
            f"取自统计汇总表。1—4写作「<{SMALL_COUNT}」，5及以上按5取整（防止两个公布数相减推算出小数值）；"
            "分母小于5的比率不显示。",
            columns=(
                Column("region_code", "区划代码", ""),
                Column("region", "区域", ""),
                Column("period", "期间", ""),
                Column("start", "起始日期", "ISO 8601"),
                Column("end", "截止日期", "ISO 8601"),
                *(Column(k, t, d) for k, t, d in public_statistics.METRICS),
            ),
            rows=public_statistics.dataset_rows,
            modified=public_statistics.modified,
            page="opendata:statistics",
            keywords=("检查统计", "检查码", "扫码率"),
        ),
        Dataset(
            slug="inspection-caps",
            title="涉企行政检查年度频次上限",
            description="现行的按自然年计算的检查频次上限规则（国办发〔2024〕54号要求公开）。每家企业今年适用的"
            "上限和已用次数见「企业检查频次上限公开」（网页版，可按区和名称筛选）及其 CSV。各年度文件均为查询时现行的规则。",
            columns=(
                Column("name", "规则名称", ""),
                Column("scope", "范围", "同一执法单位对同一企业，或各级各部门对同一企业合计"),
                Column("limit", "每年上限（次）", "自然年内"),
                Column("field", "执法领域", "空为全部领域"),
                Column("body_level", "执法单位层级", "空为全部层级"),
                Column("risk_grade", "企业风险等级", "空为全部等级"),
                Column("action", "超出时", "不予提交、须说明理由并经负责人批准，或提示"),
                Column("exemptions", "豁免情形", "以「；」分隔"),
            ),
            rows=_cap_rows,
            modified=lambda: None,
            page="opendata:caps",
            keywords=("检查频次", "上限"),
            downloads=(
                Download(
                    "各企业今年适用的年度上限与已用次数",
                    "opendata:caps_csv",
                    "csv",
                    "全部企业，按统一社会信用代码排序，每家企业每项适用上限一行（无适用上限的企业一行，上限各列为空），"
                    "截至下载时；可加 ?region=<区划代码>&q=<企业名称或统一社会信用代码开头> 筛选。",
                ),
            ),
        ),
    ]
}
