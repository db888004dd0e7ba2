"""Findings: every problem supervision knows of, whatever found it (a data rule, sampling, a complaint, a
reconsideration lead, an observer), and the runs of the data rules that produce most of them."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from jianchama.core.roles import Role
from jianchama.registry.models import EnforcementBody

__all__ = ["Finding", "FindingQuerySet", "RuleRun", "Severity"]


class Severity(models.TextChoices):
    LOW = "low", "一般"
    MEDIUM = "medium", "较重"
    HIGH = "high", "严重"


class FindingQuerySet(models.QuerySet):
    def visible_to(self, user) -> FindingQuerySet:
        """Supervisors and the district government see the findings on their region's bodies; a body's
        administrator sees its own body's findings once supervision has warned it (before that a finding is
        the bureau's working note, still being verified)."""
        if not user.is_authenticated:
            return self.none()
        if user.is_platform_admin:
            return self.all()
        if user.role in (Role.SUPERVISOR, Role.DISTRICT_GOVERNMENT):
            if user.region_id is None:
                return self.none()
            # The region's bodies as a list of ids (a few dozen at most), not a join on the region's path
            # prefix: PostgreSQL estimates one region for `path LIKE 'x%'` where the city's prefix matches
            # thirteen, and plans the 100,000-finding list for one body's rows.
            bodies = EnforcementBody.objects.filter(region__path__startswith=user.region.path)
            return self.filter(body_id__in=list(bodies.values_list("pk", flat=True)))
        if user.role == Role.BODY_ADMIN and user.body_id:
            return self.filter(body_id=user.body_id).exclude(
                status__in=[Finding.Status.OPEN, Finding.Status.DISMISSED]
            )
        return self.none()


class Finding(models.Model):
    """One problem of one body. A data rule's finding carries the rule's code and a key naming what it is
    about (e.g. the task's id); (rule, key) is unique, so running the rules again adds no duplicate."""

    class Source(models.TextChoices):
        DATA_RULE = "data_rule", "数据监督"
        SAMPLING = "sampling", "抽查"
        COMPLAINT = "complaint", "投诉举报"
        RECONSIDERATION = "reconsideration", "行政复议线索"
        OBSERVER = "observer", "法治观察员"
        OTHER = "other", "其他"

    class Status(models.TextChoices):
        OPEN = "open", "待核实"
        WARNED = "warned", "已预警"
        RECOMMENDED = "recommended", "已制发监督建议书"
        DECIDED = "decided", "已制发监督决定书"
        RECTIFIED = "rectified", "已整改"
        DISMISSED = "dismissed", "经核实不成立"

    source = models.CharField("来源", max_length=20, choices=Source.choices)
    rule = models.CharField("规则", max_length=40, blank=True, db_index=True)
    key = models.CharField("问题标识", max_length=120, blank=True)
    body = models.ForeignKey(
        EnforcementBody,
        verbose_name="执法单位",
        on_delete=models.PROTECT,
        related_name="supervision_findings",
    )
    title = models.CharField("问题", max_length=200)
    description = models.TextField("问题描述", blank=True)
    # A confidential finding's description and evidence would single out an enterprise that evaluated the body
    # (F-26): only the bureau's supervisors of its region (and platform administrators) read them; anyone
    # else, the body first, reads `body_description` (period, dimension, no enterprise, task, score or
    # comment) and no evidence (`services.redact_for`).
    confidential = models.BooleanField("仅执法监督人员可见详情", default=False)
    body_description = models.TextField("执法单位可见的问题描述", blank=True)
    severity = models.CharField("严重程度", max_length=8, choices=Severity.choices, default=Severity.LOW)
    status = models.CharField("状态", max_length=12, choices=Status.choices, default=Status.OPEN)
    # The month the problem belongs to (first day), for the dashboard's by-month view.
    period = models.DateField("所属月份", db_index=True)
    # The records that prove it: [{"model": "inspections.Task", "pk": 12, "label": "任务 JS-2026-0001"}, …]
    evidence = models.JSONField("证据记录", default=list, blank=True)
    task = models.ForeignKey(
        "inspections.Task",
        verbose_name="涉及检查任务",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="supervision_findings",
    )
    run = models.ForeignKey(
        "RuleRun",
        verbose_name="规则运行",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="findings",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="登记人",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    found_at = models.DateTimeField("发现时间", auto_now_add=True)
    closed_at = models.DateTimeField("办结时间", null=True, blank=True)
    close_note = models.TextField("办结说明", blank=True)

    objects = FindingQuerySet.as_manager()

    class Meta:
        verbose_name = "监督发现的问题"
        verbose_name_plural = "监督发现的问题"
        ordering = ["-found_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["rule", "key"], condition=~Q(rule=""), name="unique_rule_finding"
            ),
        ]
        indexes = [
            models.Index(fields=["body", "status"]),
            models.Index(fields=["period", "rule"]),
            # The finding list's order: a page reads its rows from the newest and keeps those of the scope's
            # bodies, instead of reading every finding of those bodies and sorting them (a district's 45,807
            # of 129,663 at ten million inspections: 457 ms → 0.4 ms at the database).
            models.Index(fields=["-found_at", "-id"], name="finding_found_desc"),
        ]

    def __str__(self) -> str:
        return f"{self.body}：{self.title}"


class RuleRun(models.Model):
    """One run of the data rules, scheduled (monthly) or asked for by a supervisor."""

    class Status(models.TextChoices):
        RUNNING = "running", "运行中"
        DONE = "done", "已完成"
        FAILED = "failed", "失败"

    started_at = models.DateTimeField("开始时间", auto_now_add=True)
    finished_at = models.DateTimeField("结束时间", null=True, blank=True)
    triggered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="发起人",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    status = models.CharField("状态", max_length=10, choices=Status.choices, default=Status.RUNNING)
    # Per rule: {"<code>": {"hits": n, "new": m, "seconds": s}}
    stats = models.JSONField("各规则结果", default=dict, blank=True)
    new_findings = models.PositiveIntegerField("新发现问题数", default=0)
    error = models.TextField("错误信息", blank=True)
    # The codes of the rules run, in order (all of them for the monthly run).
    rules = models.JSONField("运行的规则", default=list, blank=True)
    seconds = models.FloatField("用时（秒）", null=True, blank=True)
    # Incremental (rules.py, docs/supervision-rules.md): the task rules look only at the tasks changed since
    # the last run that ran them, read from the audit log after `audit_sequence` — the head of the audit
    # log when that run started, kept by every run.
    incremental = models.BooleanField("增量运行", default=False)
    audit_sequence = models.PositiveBigIntegerField("开始时审计日志序号", null=True, blank=True)

    class Meta:
        verbose_name = "数据监督规则运行"
        verbose_name_plural = "数据监督规则运行"
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"数据监督 {self.started_at:%Y-%m-%d %H:%M}"
