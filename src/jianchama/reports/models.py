"""Periodic supervision reports (执法监督工作报告, F-37): monthly, quarterly and yearly, per district and for the
city, as seed 003 二（四）1 asks (定期……形成全面、详实的监督报告，向本级政府和上级监督部门汇报).

A report is a draft until a supervisor issues it. While a draft, its figures are computed again on each
generation (from the statistics' facts and the small supervision tables, `contents.py`) and its narrative
paragraphs are edited; issuing numbers it (金司监报〔2026〕3号) and freezes it: the figures stay the JSON snapshot
taken at the last generation, the files are rendered once more with the number and never again. The PDF and the
workbook are stored under random names and sent only through `core.files.send` to those who may read them.
State changes go through `services.py`; the transitions are below.

The assessment of bodies (考核评议) lives here too: its schemes (versioned, frozen once active), the yearly
assessments of a district and each body's score with its breakdown; `assessment.py` writes them.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q

from jianchama.core.files import RandomName
from jianchama.core.roles import Role
from jianchama.registry.models import EnforcementBody, Region


class ReportQuerySet(models.QuerySet):
    def visible_to(self, user) -> ReportQuerySet:
        """The city's supervisors (and platform administrators) see every report; a district's supervisors (a
        town's included) their district's; nobody else any (bodies are reported on, they do not read these)."""
        if not user.is_authenticated:
            return self.none()
        if user.is_platform_admin:
            return self.all()
        if user.role != Role.SUPERVISOR or user.region_id is None:
            return self.none()
        region = user.region
        if region.level == Region.Level.CITY:
            return self.all()
        district = region.district() or region
        return self.filter(region_id=district.pk)


class SupervisionReport(models.Model):
    class Kind(models.TextChoices):
        MONTH = "month", "月度"
        QUARTER = "quarter", "季度"
        YEAR = "year", "年度"

    class Status(models.TextChoices):
        DRAFT = "draft", "草稿"
        ISSUED = "issued", "已签发"

    region = models.ForeignKey(Region, verbose_name="区域", on_delete=models.PROTECT, related_name="+")
    kind = models.CharField("报告类型", max_length=8, choices=Kind.choices)
    period_start = models.DateField("期间起")
    period_end = models.DateField("期间止")
    status = models.CharField("状态", max_length=8, choices=Status.choices, default=Status.DRAFT)
    number = models.CharField("文号", max_length=40, blank=True)
    # {"sections": [{"code", "title", "tables": [{"title", "columns", "rows", "chart"}]}], "computed_at": …}
    figures = models.JSONField("统计数据快照", default=dict, blank=True)
    # {section code: text}; paragraphs are the text's non-empty lines.
    narrative = models.JSONField("报告文字", default=dict, blank=True)
    generated_at = models.DateTimeField("生成时间", null=True, blank=True)
    pdf = models.FileField("报告（PDF）", upload_to=RandomName("reports/%Y/"), blank=True)
    xlsx = models.FileField("数据（Excel）", upload_to=RandomName("reports/%Y/"), blank=True)
    issued_on = models.DateField("签发日期", null=True, blank=True)
    issued_at = models.DateTimeField("签发时间", null=True, blank=True)
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="签发人",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField("创建时间", auto_now_add=True)

    objects = ReportQuerySet.as_manager()

    class Meta:
        verbose_name = "执法监督工作报告"
        verbose_name_plural = "执法监督工作报告"
        ordering = ["-period_start", "kind", "region__path"]
        constraints = [
            models.UniqueConstraint(fields=["region", "kind", "period_start"], name="unique_report_period"),
            models.UniqueConstraint(fields=["number"], condition=~Q(number=""), name="unique_report_number"),
        ]

    def __str__(self) -> str:
        return self.number or f"{self.region.name}{self.period_label}执法监督工作报告"

    @property
    def period_label(self) -> str:
        s = self.period_start
        if self.kind == self.Kind.YEAR:
            return f"{s.year}年"
        if self.kind == self.Kind.QUARTER:
            return f"{s.year}年第{(s.month - 1) // 3 + 1}季度"
        return f"{s.year}年{s.month}月"

    @property
    def title(self) -> str:
        return f"{self.region.name}{self.period_label}涉企行政检查执法监督工作报告"


REPORT_TRANSITIONS: dict[str, set[str]] = {
    SupervisionReport.Status.DRAFT: {SupervisionReport.Status.ISSUED},
    SupervisionReport.Status.ISSUED: set(),
}


class ReportNumberCounter(models.Model):
    """The last number a region gave to its reports in a year; locked while a number is taken."""

    region = models.ForeignKey(Region, verbose_name="区域", on_delete=models.PROTECT, related_name="+")
    year = models.PositiveSmallIntegerField("年度")
    last = models.PositiveIntegerField("已用最大序号", default=0)

    class Meta:
        verbose_name = "报告编号"
        verbose_name_plural = "报告编号"
        constraints = [models.UniqueConstraint(fields=["region", "year"], name="unique_report_counter")]

    def __str__(self) -> str:
        return f"{self.region} {self.year}年：{self.last}"


# --- The assessment of bodies (考核评议, F-37) ------------------------------------------------------------
# Seed 003 二（四）2: 将监督结果与…领导班子绩效考核挂钩. A scheme says what is scored and how (items over the
# metrics of `metrics.py`, each with its weight and rule); an assessment scores every body of a district for a
# year under one version of a scheme; issuing freezes it. `assessment.py` owns every write.


def _district_of(region: Region | None) -> Region | None:
    if region is None:
        return None
    if region.level == Region.Level.CITY:
        return region
    return region.district() or region


class AssessmentSchemeQuerySet(models.QuerySet):
    def visible_to(self, user) -> AssessmentSchemeQuerySet:
        """The city's supervisors (and platform administrators) see every scheme; a district's supervisors the
        city-wide ones and their district's, drafts included; the district government and a body's
        administrator the city-wide and their district's schemes once in use (active or retired), so that a
        body can read the rules it was scored by. Nobody else any."""
        if not user.is_authenticated:
            return self.none()
        if user.is_platform_admin:
            return self.all()
        if user.role in (Role.SUPERVISOR, Role.DISTRICT_GOVERNMENT) and user.region_id:
            region = _district_of(user.region)
        elif user.role == Role.BODY_ADMIN and user.body_id:
            region = _district_of(user.body.region)
        else:
            return self.none()
        scoped = self
        if user.role != Role.SUPERVISOR:
            scoped = scoped.exclude(status=AssessmentScheme.Status.DRAFT)
        if region.level == Region.Level.CITY:
            return scoped if user.role != Role.BODY_ADMIN else scoped.filter(region__isnull=True)
        return scoped.filter(Q(region__isnull=True) | Q(region_id=region.pk))


class AssessmentScheme(models.Model):
    """One version of an assessment scheme: the city-wide default (no region) or a district's own. A draft is
    edited; once active it is never changed again: a change is a new version (a new row), and activating it
    retires the version before, so every score keeps the items it was computed with."""

    class Status(models.TextChoices):
        DRAFT = "draft", "草稿"
        ACTIVE = "active", "启用中"
        RETIRED = "retired", "已停用"

    region = models.ForeignKey(
        Region,
        verbose_name="适用区域（空为全市默认）",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    name = models.CharField("方案名称", max_length=100)
    version = models.PositiveIntegerField("版本")
    year_from = models.PositiveSmallIntegerField("适用起始年度")
    # [{"code", "name", "weight", "rule": {"kind": "linear", "full_at", "zero_at"} | {"kind": "deduct", "per"}}]
    items = models.JSONField("考核项目", default=list)
    status = models.CharField("状态", max_length=8, choices=Status.choices, default=Status.DRAFT)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="制定人",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField("创建时间", auto_now_add=True)
    activated_at = models.DateTimeField("启用时间", null=True, blank=True)
    retired_at = models.DateTimeField("停用时间", null=True, blank=True)

    objects = AssessmentSchemeQuerySet.as_manager()

    class Meta:
        verbose_name = "考核评议方案"
        verbose_name_plural = "考核评议方案"
        ordering = ["region__path", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["region", "version"], name="unique_scheme_version"),
            models.UniqueConstraint(
                fields=["version"], condition=Q(region__isnull=True), name="unique_city_scheme_version"
            ),
            models.UniqueConstraint(
                fields=["region"], condition=Q(status="active"), name="one_active_scheme_per_region"
            ),
            models.UniqueConstraint(
                fields=["status"],
                condition=Q(region__isnull=True, status="active"),
                name="one_active_city_scheme",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name}（第{self.version}版）"

    @property
    def scope_label(self) -> str:
        return self.region.name if self.region_id else "全市（默认）"

    @property
    def total_weight(self) -> Decimal:
        return sum((Decimal(str(item["weight"])) for item in self.items), Decimal(0))


SCHEME_TRANSITIONS: dict[str, set[str]] = {
    AssessmentScheme.Status.DRAFT: {AssessmentScheme.Status.ACTIVE},
    AssessmentScheme.Status.ACTIVE: {AssessmentScheme.Status.RETIRED},
    AssessmentScheme.Status.RETIRED: set(),
}


class AssessmentQuerySet(models.QuerySet):
    def visible_to(self, user) -> AssessmentQuerySet:
        """The city's supervisors (and platform administrators) see every assessment, a district's supervisors
        their district's, drafts included; the district government its district's issued ones (the city's
        government every issued one); a body's administrator the issued assessments his body was scored in
        (and there only his body's row: `AssessmentScore.visible_to`). Nobody else any."""
        if not user.is_authenticated:
            return self.none()
        if user.is_platform_admin:
            return self.all()
        issued = Assessment.Status.ISSUED
        if user.role in (Role.SUPERVISOR, Role.DISTRICT_GOVERNMENT) and user.region_id:
            scoped = self if user.role == Role.SUPERVISOR else self.filter(status=issued)
            region = _district_of(user.region)
            if region.level == Region.Level.CITY:
                return scoped
            return scoped.filter(region_id=region.pk)
        if user.role == Role.BODY_ADMIN and user.body_id:
            return self.filter(status=issued, scores__body_id=user.body_id)
        return self.none()


class Assessment(models.Model):
    """The yearly assessment of a district's bodies under one scheme version: a draft is computed (again) from
    the figures; issuing freezes it, scores, ranks and breakdowns as they were computed."""

    class Status(models.TextChoices):
        DRAFT = "draft", "草稿"
        ISSUED = "issued", "已签发"

    scheme = models.ForeignKey(
        AssessmentScheme,
        verbose_name="考核方案（版本）",
        on_delete=models.PROTECT,
        related_name="assessments",
    )
    region = models.ForeignKey(Region, verbose_name="区", on_delete=models.PROTECT, related_name="+")
    year = models.PositiveSmallIntegerField("考核年度")
    status = models.CharField("状态", max_length=8, choices=Status.choices, default=Status.DRAFT)
    computed_at = models.DateTimeField("计算时间", null=True, blank=True)
    body_count = models.PositiveIntegerField("参加考核的执法单位数", default=0)
    ranked_count = models.PositiveIntegerField("参与排名的执法单位数", default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="创建人", on_delete=models.PROTECT, null=True, related_name="+"
    )
    created_at = models.DateTimeField("创建时间", auto_now_add=True)
    issued_at = models.DateTimeField("签发时间", null=True, blank=True)
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="签发人",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )

    objects = AssessmentQuerySet.as_manager()

    class Meta:
        verbose_name = "执法单位考核评议"
        verbose_name_plural = "执法单位考核评议"
        ordering = ["-year", "region__path", "-scheme__version"]
        constraints = [
            # One per scheme version, district and year: a draft is computed again in place, an issued one
            # is final (a revised scheme is a new version, assessed anew).
            models.UniqueConstraint(fields=["scheme", "region", "year"], name="unique_assessment"),
        ]

    def __str__(self) -> str:
        return f"{self.region.name}{self.year}年度执法单位考核评议"


ASSESSMENT_TRANSITIONS: dict[str, set[str]] = {
    Assessment.Status.DRAFT: {Assessment.Status.ISSUED},
    Assessment.Status.ISSUED: set(),
}


class AssessmentScoreQuerySet(models.QuerySet):
    def visible_to(self, user) -> AssessmentScoreQuerySet:
        """The scores of the assessments the user sees; a body's administrator only his own body's."""
        if not user.is_authenticated:
            return self.none()
        scoped = self.filter(assessment__in=Assessment.objects.visible_to(user))
        if user.is_platform_admin or user.role in (Role.SUPERVISOR, Role.DISTRICT_GOVERNMENT):
            return scoped
        if user.role == Role.BODY_ADMIN and user.body_id:
            return scoped.filter(body_id=user.body_id)
        return self.none()


class AssessmentScore(models.Model):
    """One body's score in an assessment: the total, the rank within the district (equal totals share a rank;
    none when no item could be scored) and, per item, the raw value, the points and the scheme item used."""

    assessment = models.ForeignKey(
        Assessment, verbose_name="考核评议", on_delete=models.CASCADE, related_name="scores"
    )
    body = models.ForeignKey(
        EnforcementBody, verbose_name="执法单位", on_delete=models.PROTECT, related_name="+"
    )
    total = models.DecimalField("总分", max_digits=6, decimal_places=2, null=True, blank=True)
    rank = models.PositiveIntegerField("名次", null=True, blank=True)
    # [{"item": {the scheme item}, "raw", "basis", "scored", "base_points", "weight_used", "points"}]
    breakdown = models.JSONField("得分明细", default=list)

    objects = AssessmentScoreQuerySet.as_manager()

    class Meta:
        verbose_name = "执法单位考核得分"
        verbose_name_plural = "执法单位考核得分"
        ordering = ["assessment", "rank", "body__code"]
        constraints = [models.UniqueConstraint(fields=["assessment", "body"], name="unique_assessment_body")]

    def __str__(self) -> str:
        return f"{self.body}：{self.total if self.total is not None else '不计分'}"
