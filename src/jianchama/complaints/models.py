"""The complaint ledger (F-34) and reconsideration leads (F-35)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from jianchama.core import conduct
from jianchama.core.roles import Role
from jianchama.registry.models import EnforcementBody, Enterprise


class ComplaintQuerySet(models.QuerySet):
    def visible_to(self, user) -> ComplaintQuerySet:
        """Intake staff, supervisors and the district government see their region's complaints (by the body
        or the enterprise concerned, or registered by themselves); a body's administrator those assigned to
        its body; an enterprise contact its enterprise's own; an observer those it filed."""
        if not user.is_authenticated:
            return self.none()
        if user.is_platform_admin:
            return self.all()
        if user.role in (Role.SUPERVISOR, Role.DISTRICT_GOVERNMENT, Role.COMPLAINT_INTAKE):
            if user.region_id is None:
                return self.none()
            from jianchama.registry.models import EnforcementBody, Region

            # The region's regions and bodies as lists of ids (a dozen regions, a few dozen bodies), not joins
            # on the path prefix: PostgreSQL estimates one region for `path LIKE 'x%'` and, with four such
            # joins under one OR, hashed the whole enterprise registry for a few thousand complaints (a
            # district's ledger at ten million inspections: 630 ms; bench/README.md, pages).
            regions = list(
                Region.objects.filter(path__startswith=user.region.path).values_list("pk", flat=True)
            )
            bodies = list(EnforcementBody.objects.filter(region_id__in=regions).values_list("pk", flat=True))
            # A complaint naming neither body nor enterprise belongs to the region of whoever registered it
            # (an observer's); a forged code scanned anonymously, registered by the system, to every region,
            # or nobody would see it.
            return self.filter(
                Q(body_id__in=bodies)
                | Q(enterprise__region_id__in=regions)
                | Q(registered_by=user)
                | Q(
                    Q(registered_by__region_id__in=regions) | Q(registered_by__isnull=True),
                    body__isnull=True,
                    enterprise__isnull=True,
                )
            )
        if user.role == Role.BODY_ADMIN and user.body_id:
            # Only once assigned to the body (or received on its own platform): a complaint the bureau is
            # still sorting out is not yet the body's business.
            return self.filter(body_id=user.body_id, assigned_at__isnull=False)
        if user.role == Role.ENTERPRISE_CONTACT and user.enterprise_id:
            return self.filter(enterprise_id=user.enterprise_id)
        if user.role == Role.OBSERVER:
            return self.filter(registered_by=user)
        return self.none()


class Complaint(models.Model):
    """A complaint or report about an inspection or a body, from any channel, tracked to its result and the
    feedback to the complainant."""

    class Source(models.TextChoices):
        HOTLINE_12345 = "hotline_12345", "12345市民服务热线"
        BODY_PLATFORM = "body_platform", "执法单位投诉举报平台"
        PHONE = "phone", "电话"
        LETTER = "letter", "来信"
        OBSERVER = "observer", "法治观察员"
        PORTAL = "portal", "企业端"
        CODE_REPORT = "code_report", "扫码举报（检查码异常）"
        OTHER = "other", "其他"

    # The five prohibitions (五个严禁) and the eight don'ts (八个不得) of 国办发〔2024〕54号, from their one source
    # (core/conduct.py; the first five keep the values stored before), then the platform's own kinds.
    Category = models.TextChoices(
        "Category",
        [
            *((r.code.upper(), (r.code, f"{r.short}（{r.text[:2]}）")) for r in conduct.FIVE_PROHIBITIONS),
            *((r.code.upper(), (r.code, f"{r.short}（不得）")) for r in conduct.EIGHT_DONTS),
            ("REPEATED_INSPECTION", ("repeated_inspection", "重复检查、多头检查")),
            ("NO_CODE", ("no_code", "无码检查或检查码异常")),
            ("UNQUALIFIED", ("unqualified", "无资格人员检查、未出示证件")),
            ("MISCONDUCT", ("misconduct", "执法态度作风问题")),
            ("OTHER", ("other", "其他")),
        ],
    )

    class Status(models.TextChoices):
        REGISTERED = "registered", "已登记"
        ASSIGNED = "assigned", "已交办"
        HANDLED = "handled", "已办理"
        CLOSED = "closed", "已反馈办结"
        REJECTED = "rejected", "不予受理"

    number = models.CharField("编号", max_length=32, unique=True, null=True, blank=True)
    source = models.CharField("来源", max_length=20, choices=Source.choices)
    category = models.CharField("类别", max_length=24, choices=Category.choices)
    title = models.CharField("标题", max_length=200)
    content = models.TextField("内容")
    complainant_name = models.CharField("投诉人", max_length=50, blank=True)
    complainant_phone = models.CharField("联系电话", max_length=20, blank=True)
    # Set when the complainant is an enterprise (the portal, a contact's code report, or intake saying so):
    # that enterprise, and only it, is told the result. The enterprise concerned may be another one.
    complainant_enterprise = models.ForeignKey(
        Enterprise,
        verbose_name="投诉企业",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    enterprise = models.ForeignKey(
        Enterprise,
        verbose_name="涉及企业",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="complaints",
    )
    body = models.ForeignKey(
        EnforcementBody,
        verbose_name="涉及（承办）执法单位",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="complaints",
    )
    task = models.ForeignKey(
        "inspections.Task",
        verbose_name="涉及检查任务",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="complaints",
    )
    activity = models.ForeignKey(
        "complaints.ObserverActivity",
        verbose_name="来自走访或座谈",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="leads",
    )
    code_report = models.OneToOneField(
        "inspections.CodeReport",
        verbose_name="扫码举报",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="complaint",
    )
    status = models.CharField("状态", max_length=12, choices=Status.choices, default=Status.REGISTERED)
    received_on = models.DateField("受理日期")
    handle_by = models.DateField("办理期限", null=True, blank=True)
    feedback_by = models.DateField("反馈期限", null=True, blank=True)
    assigned_at = models.DateTimeField("交办时间", null=True, blank=True)
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="交办人",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    result = models.TextField("办理结果", blank=True)
    handled_at = models.DateTimeField("办理时间", null=True, blank=True)
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="办理人",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    feedback = models.TextField("反馈内容", blank=True)
    feedback_at = models.DateTimeField("反馈时间", null=True, blank=True)
    feedback_given_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="反馈人",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    rejection_reason = models.TextField("不予受理理由", blank=True)
    rejected_at = models.DateTimeField("不予受理时间", null=True, blank=True)
    finding = models.ForeignKey(
        "supervision.Finding",
        verbose_name="转为的监督问题",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="complaints",
    )
    registered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="登记人",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField("登记时间", auto_now_add=True)
    # The number the channel gave it (12345's 工单编号) and the channel's own handling deadline (办理时限),
    # set when the complaint came as data (hotline.py); a channel's number is registered once.
    external_number = models.CharField("来源工单编号", max_length=64, blank=True)
    external_due = models.DateField("来源办理时限", null=True, blank=True)

    objects = ComplaintQuerySet.as_manager()

    class Meta:
        verbose_name = "投诉举报"
        verbose_name_plural = "投诉举报台账"
        ordering = ["-received_on", "-id"]
        indexes = [
            models.Index(fields=["status", "handle_by"]),
            models.Index(fields=["body", "status"]),
            # The ledger's order: a page reads its 50 rows from the newest, instead of joining every complaint
            # in scope to its enterprise and task and sorting (4,657 at ten million inspections: 720 ms).
            models.Index(fields=["-received_on", "-id"], name="complaint_received_desc"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "external_number"],
                condition=~Q(external_number=""),
                name="unique_complaint_external_number",
            )
        ]

    def __str__(self) -> str:
        return f"{self.number or '（未编号）'} {self.title}"


# The one table of allowed status changes. ASSIGNED → ASSIGNED is a reassignment to another body.
TRANSITIONS: dict[str, set[str]] = {
    Complaint.Status.REGISTERED: {Complaint.Status.ASSIGNED, Complaint.Status.REJECTED},
    Complaint.Status.ASSIGNED: {
        Complaint.Status.ASSIGNED,
        Complaint.Status.HANDLED,
        Complaint.Status.REJECTED,
    },
    Complaint.Status.HANDLED: {Complaint.Status.CLOSED},
    Complaint.Status.CLOSED: set(),
    Complaint.Status.REJECTED: set(),
}


class ComplaintNumberCounter(models.Model):
    """The last ledger number given in a year; the row is locked while a number is taken, so two
    registrations at once never get the same number."""

    year = models.PositiveSmallIntegerField("年度", unique=True)
    last = models.PositiveIntegerField("已用最大序号", default=0)

    class Meta:
        verbose_name = "投诉举报编号"
        verbose_name_plural = "投诉举报编号"

    def __str__(self) -> str:
        return f"{self.year}年：{self.last}"


class ComplaintReminder(models.Model):
    """One reminder sent to one body about one deadline of one complaint: the daily job sends each at most
    once, and a new deadline or body (after a reassignment) gets its own."""

    class Kind(models.TextChoices):
        HANDLE_DUE = "handle_due", "办理期限即将届满"
        HANDLE_MISSED = "handle_missed", "办理期限已过"
        FEEDBACK_DUE = "feedback_due", "反馈期限即将届满"
        FEEDBACK_MISSED = "feedback_missed", "反馈期限已过"

    complaint = models.ForeignKey(Complaint, on_delete=models.CASCADE, related_name="reminders")
    # The body reminded: a complaint reassigned the same day keeps its deadline, and the new body is reminded.
    body = models.ForeignKey(EnforcementBody, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField("提醒类型", max_length=16, choices=Kind.choices)
    deadline = models.DateField("期限")
    recipients = models.PositiveSmallIntegerField("提醒人数", default=0)
    sent_at = models.DateTimeField("提醒时间", auto_now_add=True)

    class Meta:
        verbose_name = "投诉举报期限提醒"
        verbose_name_plural = "投诉举报期限提醒"
        constraints = [
            models.UniqueConstraint(
                fields=["complaint", "body", "kind", "deadline"], name="unique_complaint_reminder"
            )
        ]

    def __str__(self) -> str:
        return f"{self.complaint} {self.get_kind_display()} {self.deadline}"


class ReconsiderationLeadQuerySet(models.QuerySet):
    def visible_to(self, user) -> ReconsiderationLeadQuerySet:
        """Supervisors, the district government and the reconsideration office (线索互通: both sides see the
        leads and what became of them) see their region's leads; nobody else does."""
        if not user.is_authenticated:
            return self.none()
        if user.is_platform_admin:
            return self.all()
        if (
            user.role in (Role.SUPERVISOR, Role.DISTRICT_GOVERNMENT, Role.RECONSIDERATION_OFFICE)
            and user.region_id
        ):
            return self.filter(body__region__path__startswith=user.region.path)
        return self.none()


class ReconsiderationLead(models.Model):
    """A problem found in administrative reconsideration, passed to supervision (and, the other way, a
    supervision result passed back to the reconsideration case)."""

    class Status(models.TextChoices):
        REGISTERED = "registered", "已登记"
        ACCEPTED = "accepted", "已转为监督问题"
        RETURNED = "returned", "已反馈复议机构"

    case_number = models.CharField("复议案号", max_length=60)
    body = models.ForeignKey(
        EnforcementBody,
        verbose_name="被申请执法单位",
        on_delete=models.PROTECT,
        related_name="reconsideration_leads",
    )
    task = models.ForeignKey(
        "inspections.Task",
        verbose_name="涉及检查任务",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="reconsideration_leads",
    )
    description = models.TextField("问题线索")
    received_on = models.DateField("收到日期")
    status = models.CharField("状态", max_length=12, choices=Status.choices, default=Status.REGISTERED)
    finding = models.ForeignKey(
        "supervision.Finding",
        verbose_name="转为的监督问题",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="reconsideration_leads",
    )
    returned_note = models.TextField("反馈复议机构的情况", blank=True)
    returned_at = models.DateTimeField("反馈时间", null=True, blank=True)
    registered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="登记人",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField("登记时间", auto_now_add=True)

    objects = ReconsiderationLeadQuerySet.as_manager()

    class Meta:
        verbose_name = "行政复议线索"
        verbose_name_plural = "行政复议线索"
        ordering = ["-received_on", "-id"]

    def __str__(self) -> str:
        return f"{self.case_number} {self.body}"


LEAD_TRANSITIONS: dict[str, set[str]] = {
    ReconsiderationLead.Status.REGISTERED: {
        ReconsiderationLead.Status.ACCEPTED,
        ReconsiderationLead.Status.RETURNED,
    },
    # Back to the reconsideration side once supervision has a result.
    ReconsiderationLead.Status.ACCEPTED: {ReconsiderationLead.Status.RETURNED},
    ReconsiderationLead.Status.RETURNED: set(),
}


# --- Surveys of enterprises (问卷调查, F-47; seed 003 二（一）2) ------------------------------------------------


class SurveyQuerySet(models.QuerySet):
    def visible_to(self, user) -> SurveyQuerySet:
        """The district's supervisors (and the city's, over their subtree) see its surveys; an enterprise's
        contact sees the open and closed surveys of the districts above its enterprise (to answer the open
        ones); nobody else does. Who answered is never shown to anyone (SurveyResponse)."""
        if not user.is_authenticated:
            return self.none()
        if user.is_platform_admin:
            return self.all()
        if user.role == Role.SUPERVISOR and user.region_id:
            return self.filter(region__path__startswith=user.region.path)
        if user.role == Role.ENTERPRISE_CONTACT and user.enterprise_id:
            path = (
                Enterprise.objects.filter(pk=user.enterprise_id)
                .values_list("region__path", flat=True)
                .first()
            )
            if not path:
                return self.none()
            # The enterprise's region and every region above it: "310000/", "310000/310116/", ...
            above = [path[: i + 1] for i, char in enumerate(path) if char == "/"]
            return self.exclude(status=Survey.Status.DRAFT).filter(region__path__in=above)
        return self.none()


class Survey(models.Model):
    """A questionnaire the district's supervisors send to the enterprises of the district through the portal:
    questions rated 1–5, of one choice, or answered in words. Answers are shown only as aggregates of at
    least EVALUATION_RELEASE_MIN_RATINGS responses, as evaluations are (F-26)."""

    class Status(models.TextChoices):
        DRAFT = "draft", "草稿"
        OPEN = "open", "征集中"
        CLOSED = "closed", "已结束"

    region = models.ForeignKey(
        "registry.Region", verbose_name="调查范围", on_delete=models.PROTECT, related_name="surveys"
    )
    title = models.CharField("标题", max_length=100)
    intro = models.TextField("说明", blank=True)
    # [{"text": "...", "kind": "rating" | "choice" | "text", "options": ["...", ...]}]
    questions = models.JSONField("问题", default=list)
    status = models.CharField("状态", max_length=8, choices=Status.choices, default=Status.DRAFT)
    closes_on = models.DateField("截止日期")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="发起人", on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField("创建时间", auto_now_add=True)
    opened_at = models.DateTimeField("发布时间", null=True, blank=True)
    closed_at = models.DateTimeField("结束时间", null=True, blank=True)

    objects = SurveyQuerySet.as_manager()

    class Meta:
        verbose_name = "问卷调查"
        verbose_name_plural = "问卷调查"
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.title


class SurveyResponse(models.Model):
    """One enterprise's answers to one survey (once). The enterprise is kept only so that it answers once;
    no page, export or figure shows it."""

    survey = models.ForeignKey(
        Survey, verbose_name="问卷", on_delete=models.CASCADE, related_name="responses"
    )
    enterprise = models.ForeignKey(
        Enterprise, verbose_name="企业", on_delete=models.PROTECT, related_name="+"
    )
    answers = models.JSONField("回答", default=list)
    submitted_at = models.DateTimeField("提交时间", auto_now_add=True)

    class Meta:
        verbose_name = "问卷回答"
        verbose_name_plural = "问卷回答"
        constraints = [
            models.UniqueConstraint(fields=["survey", "enterprise"], name="one_response_per_enterprise")
        ]

    def __str__(self) -> str:
        return f"{self.survey} 的一份回答"


class ObserverActivityQuerySet(models.QuerySet):
    def visible_to(self, user) -> ObserverActivityQuerySet:
        """An observer sees the visits and meetings he recorded; the supervisors of a region those of its
        subtree; the platform administrator all. Bodies, the enterprises and everyone else see none: what
        enterprises said there reaches a body only as a lead the bureau followed up."""
        if not user.is_authenticated:
            return self.none()
        if user.is_platform_admin:
            return self.all()
        if user.role == Role.OBSERVER:
            return self.filter(recorded_by=user)
        if user.role == Role.SUPERVISOR and user.region_id:
            return self.filter(region__path__startswith=user.region.path)
        return self.none()


class ObserverActivity(models.Model):
    """A visit to enterprises (走访) or a meeting with them (座谈会) by a rule-of-law observer or the bureau
    (seed 003 二（一）2: 通过定期召开座谈会、聘请法治观察员等方式，了解企业在接受行政检查过程中遇到的困难和问题，
    及时收集企业对行政检查工作的意见和建议). It records how many enterprises were heard and what they raised, never
    which enterprise said what; a problem to follow up becomes a lead (a Complaint of source observer with
    `activity` set)."""

    class Kind(models.TextChoices):
        VISIT = "visit", "走访企业"
        MEETING = "meeting", "座谈会"

    kind = models.CharField("形式", max_length=8, choices=Kind.choices)
    region = models.ForeignKey(
        "registry.Region", verbose_name="所属区域", on_delete=models.PROTECT, related_name="+"
    )
    held_on = models.DateField("日期")
    place = models.CharField("地点", max_length=200)
    organiser = models.CharField("组织单位", max_length=100, blank=True)
    enterprise_count = models.PositiveIntegerField("参与企业数")
    participants = models.CharField("参加人员", max_length=500, blank=True)
    problems = models.TextField("企业反映的困难和问题")
    suggestions = models.TextField("意见和建议", blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="记录人", on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField("记录时间", auto_now_add=True)

    objects = ObserverActivityQuerySet.as_manager()

    class Meta:
        verbose_name = "走访座谈记录"
        verbose_name_plural = "走访座谈记录"
        ordering = ["-held_on", "-id"]
        indexes = [models.Index(fields=["region", "held_on"], name="activity_region_day")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.held_on:%Y-%m-%d} {self.place}"
