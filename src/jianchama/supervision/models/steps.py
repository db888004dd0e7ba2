"""The three steps (F-32): warnings, supervision recommendations, supervision decisions; accountability (F-33).

Seed 003 二（二）1–2 is the specification: a warning by phone, visit or meeting; for a problem not rectified
after it, a recommendation (行政执法监督建议书) within 5 working days; rectification within 15 working days;
the bureau's re-check within 5 working days after that; not rectified → the district government's decision
(行政执法监督决定书) and the accountability measures. Every deadline is a date on the working-day calendar,
stored when it starts, with the moment it was first seen missed (`*_missed_at`), so a late action stays
flagged after it is done. State changes go through `supervision/steps.py`; the transitions are below.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from jianchama.core.files import RandomName
from jianchama.core.roles import Role
from jianchama.registry.models import Certificate, EnforcementBody, Inspector, Region

__all__ = [
    "DECISION_TRANSITIONS",
    "RECOMMENDATION_TRANSITIONS",
    "WARNING_TRANSITIONS",
    "AccountabilityMeasure",
    "Decision",
    "DocumentNumberCounter",
    "Recommendation",
    "ReminderLog",
    "StepsQuerySet",
    "SupervisionWarning",
]


class StepsQuerySet(models.QuerySet):
    """Scoping shared by warnings, recommendations and decisions (each has a `body`)."""

    def visible_to(self, user) -> StepsQuerySet:
        """Supervisors and the district government see their region's bodies'; a body's administrator its
        own body's; nobody else any."""
        if not user.is_authenticated:
            return self.none()
        if user.is_platform_admin:
            return self.all()
        if user.role in (Role.SUPERVISOR, Role.DISTRICT_GOVERNMENT):
            if user.region_id is None:
                return self.none()
            return self.filter(body__region__path__startswith=user.region.path)
        if user.role == Role.BODY_ADMIN and user.body_id:
            return self.filter(body_id=user.body_id)
        return self.none()


class SupervisionWarning(models.Model):
    """Step one (预警提醒): the bureau tells a body of a finding by phone, visit or meeting, notes the
    body's response, then establishes whether the problem was rectified. (Not `Warning`: Python's builtin.)"""

    class Channel(models.TextChoices):
        PHONE = "phone", "电话"
        VISIT = "visit", "走访"
        MEETING = "meeting", "座谈会"

    class Outcome(models.TextChoices):
        PENDING = "pending", "待核实整改情况"
        RECTIFIED = "rectified", "已整改"
        NOT_RECTIFIED = "not_rectified", "未整改"

    finding = models.ForeignKey(
        "supervision.Finding", verbose_name="监督问题", on_delete=models.PROTECT, related_name="warnings"
    )
    body = models.ForeignKey(
        EnforcementBody, verbose_name="执法单位", on_delete=models.PROTECT, related_name="+"
    )
    channel = models.CharField("预警方式", max_length=10, choices=Channel.choices)
    warned_on = models.DateField("预警日期")
    content = models.TextField("预警内容")
    response = models.TextField("执法单位反馈", blank=True)
    response_on = models.DateField("反馈日期", null=True, blank=True)
    outcome = models.CharField("整改情况", max_length=16, choices=Outcome.choices, default=Outcome.PENDING)
    outcome_on = models.DateField("核实日期", null=True, blank=True)
    outcome_note = models.TextField("核实情况", blank=True)
    # Not rectified → the recommendation is due 5 working days later (the bureau's deadline).
    recommendation_due = models.DateField("建议书制发期限", null=True, blank=True)
    recommendation_missed_at = models.DateTimeField("建议书制发逾期时间", null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="预警人", on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField("登记时间", auto_now_add=True)

    objects = StepsQuerySet.as_manager()

    class Meta:
        verbose_name = "预警提醒"
        verbose_name_plural = "预警提醒"
        ordering = ["-warned_on", "-id"]

    def __str__(self) -> str:
        return f"{self.body}的预警提醒（{self.warned_on:%Y-%m-%d}）"


WARNING_TRANSITIONS: dict[str, set[str]] = {
    SupervisionWarning.Outcome.PENDING: {
        SupervisionWarning.Outcome.RECTIFIED,
        SupervisionWarning.Outcome.NOT_RECTIFIED,
    },
    SupervisionWarning.Outcome.RECTIFIED: set(),
    SupervisionWarning.Outcome.NOT_RECTIFIED: set(),
}


class Recommendation(models.Model):
    """Step two (督促整改): the supervision recommendation (行政执法监督建议书), its official PDF, the body's
    rectification report and the bureau's re-check."""

    class Status(models.TextChoices):
        ISSUED = "issued", "已制发，待整改"
        REPORTED = "reported", "已报送整改报告，待复查"
        RECTIFIED = "rectified", "复查已整改"
        NOT_RECTIFIED = "not_rectified", "复查未整改"
        ESCALATED = "escalated", "已报请区政府制发决定书"
        DECIDED = "decided", "区政府已制发决定书"

    finding = models.OneToOneField(
        "supervision.Finding",
        verbose_name="监督问题",
        on_delete=models.PROTECT,
        related_name="recommendation",
    )
    # None for a direct letter (seed 003 二（四）2: 对问题突出的行政执法单位，及时制发执法监督建议书).
    warning = models.ForeignKey(
        SupervisionWarning,
        verbose_name="预警提醒",
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
    )
    # Issued without a prior warning to a body with prominent problems, for the reason given; the lists
    # flag it and statistics count it by this field.
    direct = models.BooleanField("未经预警直接制发", default=False, db_index=True)
    direct_reason = models.TextField("直接制发理由", blank=True)
    body = models.ForeignKey(
        EnforcementBody, verbose_name="执法单位", on_delete=models.PROTECT, related_name="+"
    )
    number = models.CharField("文号", max_length=40, unique=True)
    facts = models.TextField("问题事实")
    legal_basis = models.TextField("依据")
    demanded = models.TextField("整改要求")
    status = models.CharField("状态", max_length=16, choices=Status.choices, default=Status.ISSUED)
    issue_due = models.DateField("制发期限")
    issued_on = models.DateField("制发日期")
    issued_at = models.DateTimeField("制发时间")
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="制发人", on_delete=models.PROTECT, related_name="+"
    )
    document = models.FileField("建议书（PDF）", upload_to=RandomName("supervision/recommendations/%Y/"))
    # Delivered in the system at issue: the deadline printed on the document runs from that day; the
    # body's acknowledgement is recorded but does not move it.
    received_on = models.DateField("送达日期")
    acknowledged_at = models.DateTimeField("签收时间", null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="签收人",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    rectify_by = models.DateField("整改期限")
    rectify_missed_at = models.DateTimeField("整改逾期时间", null=True, blank=True)
    report_text = models.TextField("整改报告", blank=True)
    report_file = models.FileField(
        "整改报告附件", upload_to=RandomName("supervision/reports/%Y/%m/"), blank=True
    )
    report_file_name = models.CharField("整改报告附件原文件名", max_length=200, blank=True)
    reported_at = models.DateTimeField("报送时间", null=True, blank=True)
    reported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="报送人",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    review_due = models.DateField("复查期限")
    review_missed_at = models.DateTimeField("复查逾期时间", null=True, blank=True)
    review_note = models.TextField("复查情况", blank=True)
    reviewed_at = models.DateTimeField("复查时间", null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="复查人",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    decision_requested_at = models.DateTimeField("报请时间", null=True, blank=True)
    decision_request_note = models.TextField("报请说明", blank=True)

    objects = StepsQuerySet.as_manager()

    class Meta:
        verbose_name = "行政执法监督建议书"
        verbose_name_plural = "行政执法监督建议书"
        ordering = ["-issued_at", "-id"]
        indexes = [
            models.Index(fields=["status", "rectify_by"]),
            models.Index(fields=["status", "review_due"]),
        ]

    def __str__(self) -> str:
        return self.number


R = Recommendation.Status
RECOMMENDATION_TRANSITIONS: dict[str, set[str]] = {
    R.ISSUED: {R.REPORTED, R.RECTIFIED, R.NOT_RECTIFIED},
    R.REPORTED: {R.RECTIFIED, R.NOT_RECTIFIED},
    R.RECTIFIED: set(),
    R.NOT_RECTIFIED: {R.ESCALATED},
    R.ESCALATED: {R.DECIDED},
    R.DECIDED: set(),
}


class Decision(models.Model):
    """Step three: the district government's supervision decision (行政执法监督决定书), asked for by the
    bureau for a recommendation not complied with, with its accountability measures."""

    class Status(models.TextChoices):
        ISSUED = "issued", "已制发，待整改"
        RECTIFIED = "rectified", "已整改"

    recommendation = models.OneToOneField(
        Recommendation, verbose_name="监督建议书", on_delete=models.PROTECT, related_name="decision"
    )
    body = models.ForeignKey(
        EnforcementBody, verbose_name="执法单位", on_delete=models.PROTECT, related_name="+"
    )
    number = models.CharField("文号", max_length=40, unique=True)
    facts = models.TextField("问题事实")
    legal_basis = models.TextField("依据")
    demanded = models.TextField("整改要求")
    deadline_working_days = models.PositiveSmallIntegerField("整改期限（工作日）")
    deadline = models.DateField("整改期限")
    deadline_missed_at = models.DateTimeField("整改逾期时间", null=True, blank=True)
    status = models.CharField("状态", max_length=10, choices=Status.choices, default=Status.ISSUED)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="报请人", on_delete=models.PROTECT, related_name="+"
    )
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="制发人", on_delete=models.PROTECT, related_name="+"
    )
    issued_on = models.DateField("制发日期")
    issued_at = models.DateTimeField("制发时间")
    document = models.FileField("决定书（PDF）", upload_to=RandomName("supervision/decisions/%Y/"))
    closed_at = models.DateTimeField("确认整改时间", null=True, blank=True)
    close_note = models.TextField("整改确认情况", blank=True)

    objects = StepsQuerySet.as_manager()

    class Meta:
        verbose_name = "行政执法监督决定书"
        verbose_name_plural = "行政执法监督决定书"
        ordering = ["-issued_at", "-id"]

    def __str__(self) -> str:
        return self.number


DECISION_TRANSITIONS: dict[str, set[str]] = {
    Decision.Status.ISSUED: {Decision.Status.RECTIFIED},
    Decision.Status.RECTIFIED: set(),
}


class AccountabilityMeasure(models.Model):
    """One accountability measure of a decision (F-33), recorded once; a certificate measure names the
    inspectors and keeps the certificates it suspended or revoked."""

    class Kind(models.TextChoices):
        NOTIFIED_CRITICISM = "notified_criticism", "通报批评"
        INTERVIEW = "interview", "约谈主要负责人"
        CRITICISM_EDUCATION = "criticism_education", "批评教育"
        SUSPEND_CERTIFICATE = "suspend_certificate", "暂停使用执法证件"
        REVOKE_CERTIFICATE = "revoke_certificate", "收回执法证件"
        REFERRAL = "referral", "移送纪检监察机关"

    CERTIFICATE_KINDS = frozenset({Kind.SUSPEND_CERTIFICATE, Kind.REVOKE_CERTIFICATE})

    decision = models.ForeignKey(
        Decision, verbose_name="监督决定书", on_delete=models.PROTECT, related_name="measures"
    )
    kind = models.CharField("措施", max_length=24, choices=Kind.choices)
    inspectors = models.ManyToManyField(Inspector, verbose_name="涉及执法人员", blank=True, related_name="+")
    certificates = models.ManyToManyField(
        Certificate, verbose_name="涉及执法证件", blank=True, related_name="accountability_measures"
    )
    note = models.TextField("说明", blank=True)
    applied_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="决定人", on_delete=models.PROTECT, related_name="+"
    )
    applied_at = models.DateTimeField("决定时间", auto_now_add=True)

    class Meta:
        verbose_name = "责任追究措施"
        verbose_name_plural = "责任追究措施"
        ordering = ["applied_at", "id"]

    def __str__(self) -> str:
        return f"{self.decision}：{self.get_kind_display()}"


class DocumentNumberCounter(models.Model):
    """The last number a district gave to a kind of supervision document in a year; locked while a number
    is taken, so two documents issued at once never share one."""

    class Kind(models.TextChoices):
        RECOMMENDATION = "recommendation", "监督建议书"
        DECISION = "decision", "监督决定书"
        GUIDANCE = "guidance", "指导性意见"

    region = models.ForeignKey(Region, verbose_name="区域", on_delete=models.PROTECT, related_name="+")
    kind = models.CharField("文书", max_length=16, choices=Kind.choices)
    year = models.PositiveSmallIntegerField("年度")
    last = models.PositiveIntegerField("已用最大序号", default=0)

    class Meta:
        verbose_name = "监督文书编号"
        verbose_name_plural = "监督文书编号"
        constraints = [
            models.UniqueConstraint(fields=["region", "kind", "year"], name="unique_supervision_doc_counter")
        ]

    def __str__(self) -> str:
        return f"{self.region} {self.year}年{self.get_kind_display()}：{self.last}"


class ReminderLog(models.Model):
    """One reminder sent for one deadline; the unique key makes the daily job send each at most once."""

    key = models.CharField("提醒标识", max_length=120, unique=True)
    sent_at = models.DateTimeField("发送时间", auto_now_add=True)
    recipients = models.PositiveIntegerField("接收人数", default=0)

    class Meta:
        verbose_name = "期限提醒记录"
        verbose_name_plural = "期限提醒记录"

    def __str__(self) -> str:
        return self.key
