"""Periodic supervision reports (执法监督工作报告, F-37): monthly, quarterly and yearly, per district and for the
city, as seed 003 二（四）1 asks (定期……形成全面、详实的监督报告，向本级政府和上级监督部门汇报).

A report is a draft until a supervisor issues it. While a draft, its figures are computed again on each
generation (from the statistics' facts and the small supervision tables, `contents.py`) and its narrative
paragraphs are edited; issuing numbers it (金司监报〔2026〕3号) and freezes it: the figures stay the JSON snapshot
taken at the last generation, the files are rendered once more with the number and never again. The PDF and the
workbook are stored under random names and sent only through `core.files.send` to those who may read them.
State changes go through `services.py`; the transitions are below.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from jianchama.core.files import RandomName
from jianchama.core.roles import Role
from jianchama.registry.models import Region


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
