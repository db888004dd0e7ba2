"""Inspection tasks (F-20), their one code (F-22), scans (F-24), records (F-25) and evaluations (F-26).

One visit to one enterprise is one `Task` with one `InspectionCode`, shared by every body of a joint
inspection. State changes go through `services.py`; the allowed transitions are `TRANSITIONS` below.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from jianchama.core.files import RandomName
from jianchama.core.roles import Role
from jianchama.registry.models import EnforcementBody, Enterprise, Field, InspectionItem, Inspector


class TaskQuerySet(models.QuerySet):
    def visible_to(self, user) -> TaskQuerySet:
        """Bodies see the tasks they take part in; a city-level reviewer also its district counterparts';
        supervisors their region's; an enterprise its own once it has been told of them.

        Written as semi-joins (EXISTS over the task's bodies, IN over a region's few ids) rather than joins
        and DISTINCT, so that a list ordered by an indexed column stops after the rows it shows: its cost
        grows with the page, not with the millions of tasks behind it."""
        from jianchama.registry.models import Region

        if not user.is_authenticated:
            return self.none()
        if user.is_platform_admin:
            return self.all()
        if user.role in (Role.INSPECTOR, Role.BODY_ADMIN):
            if not user.body_id:
                return self.none()
            return self.filter(Exists(TaskBody.objects.filter(task_id=OuterRef("pk"), body_id=user.body_id)))
        if user.role == Role.CITY_REVIEWER:
            if user.body_id is None:
                return self.none()
            bodies = EnforcementBody.objects.filter(
                Q(pk=user.body_id) | Q(city_counterpart_id=user.body_id)
            ).values("pk")
            return self.filter(Exists(TaskBody.objects.filter(task_id=OuterRef("pk"), body_id__in=bodies)))
        if user.role in (Role.SUPERVISOR, Role.DISTRICT_GOVERNMENT, Role.COMPLAINT_INTAKE):
            if user.region_id is None:
                return self.none()
            regions = Region.objects.filter(path__startswith=user.region.path).values("pk")
            bodies = EnforcementBody.objects.filter(region_id__in=regions).values("pk")
            return self.filter(
                Q(enterprise__region_id__in=regions)
                | Exists(TaskBody.objects.filter(task_id=OuterRef("pk"), body_id__in=bodies))
            )
        if user.role == Role.ENTERPRISE_CONTACT:
            if user.enterprise_id is None:
                return self.none()
            return self.filter(enterprise_id=user.enterprise_id, notified_at__isnull=False)
        return self.none()

    def newest_first_for(self, user, status: str = "") -> TaskQuerySet:
        """`visible_to(user)` newest first. For a body's users the same tasks (its participations) are read
        through a join on the body's rows of the index on TaskBody (body, -task_created_at, -task): at ten
        million tasks the busiest body has one in twenty, and the global order (-created_at, -id) walked
        twenty tasks of other bodies for each of its own (a page 20 deep: 407 ms; bench/README.md, pages).
        The join is the scope itself, not beside `visible_to`'s EXISTS: with both, PostgreSQL takes them for
        independent conditions, expects one row in twenty to pass and sorts the body's every row instead.

        `status`: only the tasks in that status, read the same way from the index on TaskBody (body,
        task_status, -task_created_at, -task) for a body's users, and for everyone else from Task's (status,
        -created_at, -id), written as a range of one value and ordered with the status first: with `status =
        …` PostgreSQL drops the status from the order as a constant, finds both of Task's indexes equally
        cheap and walks (-created_at, -id), skipping the newest tasks of other statuses (334,313 rows before
        the 1,001st closed task at ten million: 3 s a page against 60 ms; bench/README.md, pages)."""
        if (
            user.is_authenticated
            and not user.is_platform_admin
            and user.role in (Role.INSPECTOR, Role.BODY_ADMIN)
        ):
            if not user.body_id:
                return self.none()
            own = Q(task_bodies__body_id=user.body_id)
            if status:
                own &= Q(task_bodies__task_status=status)
            return self.filter(own).order_by("-task_bodies__task_created_at", "-task_bodies__task_id")
        tasks = self.visible_to(user)
        if status:
            tasks = tasks.filter(status__gte=status, status__lte=status).order_by(
                "status", "-created_at", "-id"
            )
        return tasks


# The unplanned kinds (Task.UNPLANNED_KINDS) in a fixed order, and what such a task lacks when it gives no
# reason or evidence: the data rule `unplanned_without_reason` filters with exactly these, so that PostgreSQL
# reads the partial index defined with them (a set's order would differ from one process to the next).
# (Equalities joined by OR, not IN: PostgreSQL prints an IN over a varchar column as a cast array that it
# then reads back differently, and the synthetic loader checks that it recreates each index identically.)
UNPLANNED_KIND_LIST = ["assigned", "complaint", "media", "report", "trigger"]
UNPLANNED_KIND = (
    Q(kind="assigned") | Q(kind="complaint") | Q(kind="media") | Q(kind="report") | Q(kind="trigger")
)
LACKING_REASON = Q(reason="") | Q(evidence="") | Q(kind="trigger", trigger_situation__isnull=True)


class Task(models.Model):
    """One inspection visit to one enterprise by one or more bodies (a joint inspection)."""

    class Kind(models.TextChoices):
        RANDOM = "random", "双随机抽查"
        SPECIAL = "special", "专项检查"
        ROUTINE = "routine", "日常检查"
        OTHER_PLANNED = "other_planned", "其他有计划检查"
        COMPLAINT = "complaint", "投诉"
        REPORT = "report", "举报"
        MEDIA = "media", "媒体曝光"
        TRIGGER = "trigger", "触发式检查"
        ASSIGNED = "assigned", "上级交办"

    PLANNED_KINDS = frozenset({Kind.RANDOM, Kind.SPECIAL, Kind.ROUTINE, Kind.OTHER_PLANNED})
    UNPLANNED_KINDS = frozenset({Kind.COMPLAINT, Kind.REPORT, Kind.MEDIA, Kind.TRIGGER, Kind.ASSIGNED})
    assert set(UNPLANNED_KIND_LIST) == UNPLANNED_KINDS

    class Mode(models.TextChoices):
        ON_SITE = "on_site", "现场检查"
        REMOTE = "remote", "非现场检查"

    class Status(models.TextChoices):
        DRAFT = "draft", "草稿"
        SUBMITTED = "submitted", "待审批"
        APPROVED = "approved", "已批准"
        NOTIFIED = "notified", "已告知企业"
        IN_PROGRESS = "in_progress", "检查中"
        RESULT_RECORDED = "result_recorded", "已录入结果"
        CLOSED = "closed", "已办结"
        CANCELLED = "cancelled", "已取消"

    number = models.CharField("任务编号", max_length=20, unique=True, null=True, blank=True)
    enterprise = models.ForeignKey(
        Enterprise, verbose_name="检查对象", on_delete=models.PROTECT, related_name="tasks"
    )
    lead_body = models.ForeignKey(
        EnforcementBody, verbose_name="牵头执法单位", on_delete=models.PROTECT, related_name="led_tasks"
    )
    bodies = models.ManyToManyField(
        EnforcementBody, verbose_name="执法单位", through="TaskBody", related_name="tasks"
    )
    inspectors = models.ManyToManyField(Inspector, verbose_name="执法人员", related_name="tasks")
    items = models.ManyToManyField(InspectionItem, verbose_name="检查事项", related_name="tasks")
    legal_basis = models.TextField("检查依据")
    kind = models.CharField("检查类型", max_length=16, choices=Kind.choices)
    mode = models.CharField("检查方式", max_length=10, choices=Mode.choices, default=Mode.ON_SITE)
    reason = models.TextField("启动理由", blank=True)
    evidence = models.TextField("证据材料说明", blank=True)
    # A planned task cites its filed plan (by number); a drawn one also names its draw.
    plan = models.ForeignKey(
        "plans.Plan",
        verbose_name="检查计划",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="tasks",
    )
    draw = models.ForeignKey(
        "plans.RandomDraw",
        verbose_name="随机抽取",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="tasks",
    )
    trigger_situation = models.ForeignKey(
        "TriggerSituation",
        verbose_name="触发情形",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="tasks",
    )
    # Frequency control (F-21): what the check found at submission, the exemption claimed, the justification.
    frequency_exemption = models.CharField("频次豁免情形", max_length=20, blank=True)
    frequency_justification = models.TextField("超频次检查的理由", blank=True)
    frequency_findings = models.JSONField("频次检查结果", default=list, blank=True)
    window_start = models.DateField("计划检查日期起")
    window_end = models.DateField("计划检查日期止")
    is_emergency = models.BooleanField("紧急检查", default=False)
    approval_due = models.DateField("补批截止日", null=True, blank=True)
    status = models.CharField(
        "状态", max_length=16, choices=Status.choices, default=Status.DRAFT, db_index=True
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="创建人", on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField("创建时间", auto_now_add=True)
    submitted_at = models.DateTimeField("提交时间", null=True, blank=True)
    approved_at = models.DateTimeField("批准时间", null=True, blank=True)
    notified_at = models.DateTimeField("告知时间", null=True, blank=True)
    started_at = models.DateTimeField("开始检查时间", null=True, blank=True)
    # Set only when the check-in reached the platform later than it happened (offline app, API backfill):
    # started_at is then the real time on site, this the arrival (inspections/backfill.py).
    started_received_at = models.DateTimeField("签到上传时间", null=True, blank=True)
    result_recorded_at = models.DateTimeField("结果录入时间", null=True, blank=True)
    closed_at = models.DateTimeField("办结时间", null=True, blank=True)
    cancelled_at = models.DateTimeField("取消时间", null=True, blank=True)
    cancel_reason = models.TextField("取消原因", blank=True)
    # Set when the task was cancelled by joining another body's task on the same enterprise (frequency.join_task,
    # 进一次门、查多项事): the joint task it went into. Not the reason's text, which a body may word alike. No
    # index of its own: the few joined tasks are read from the partial index `task_joined`.
    joined_into = models.ForeignKey(
        "self",
        verbose_name="并入的联合检查任务",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="joined_from",
        db_index=False,
    )
    # Set when the task, a joint inspection, carries out an accepted proposal to merge plans (F-13, 计划合并;
    # `services.create_task`): its plan is one of the proposal's, its enterprise one of the proposal's, another
    # of its bodies one of the proposal's. Read from the partial index `task_coordinated`, like `joined_into`.
    coordination_proposal = models.ForeignKey(
        "plans.CoordinationProposal",
        verbose_name="实施的联合检查建议",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="tasks",
        db_index=False,
    )
    # Set when something the approval relied on is withdrawn before the visit (e.g. an inspector's certificate
    # suspended by an accountability decision): the task must be changed or cancelled before it goes ahead.
    qualification_alert = models.TextField("资格预警", blank=True)
    qualification_alert_at = models.DateTimeField("资格预警时间", null=True, blank=True)

    objects = TaskQuerySet.as_manager()

    class Meta:
        verbose_name = "检查任务"
        verbose_name_plural = "检查任务"
        ordering = ["-created_at", "-id"]
        indexes = [
            # The frequency check reads an enterprise's tasks in a date range from this index alone (an
            # index-only scan; INCLUDE is PostgreSQL's, other databases get the plain index).
            models.Index(
                fields=["enterprise", "window_start"],
                include=["id", "status", "started_at", "number"],
                name="task_enterprise_window_cover",
            ),
            models.Index(fields=["lead_body", "status"]),
            # The task list's order, and its status filter in that order: a page reads its rows in order
            # and stops (the search's trigram indexes are PostgreSQL's, in migration 0008).
            models.Index(fields=["-created_at", "-id"], name="task_created_desc"),
            models.Index(fields=["status", "-created_at", "-id"], name="task_status_created_desc"),
            # The statistics' rebuild of a range of days finds its tasks by their window (statistics.build).
            models.Index(fields=["window_start"], name="task_window_start"),
            # The data rules (supervision/rules.py): the first and last visit day read at the ends of this
            # index; the few rows some rules look for read from small partial indexes instead of the table.
            models.Index(fields=["started_at"], name="task_started_at"),
            models.Index(
                fields=["started_at"],
                condition=Q(result_recorded_at__isnull=True, started_at__isnull=False),
                name="task_visit_unrecorded",
            ),
            models.Index(fields=["approval_due"], condition=Q(is_emergency=True), name="task_emergency"),
            models.Index(
                fields=["kind"],
                condition=UNPLANNED_KIND & LACKING_REASON,
                name="task_unplanned_lacking",
            ),
            # The statistics' frequency control (F-21, F-42) counts live the few tasks whose frequency check
            # found something (a warning, a justified or an exempted breach: a few in a hundred) by their
            # inspection day, as `frequency.inspected_between` reads it: the unstarted by their window, the
            # started by their start.
            models.Index(
                fields=["started_at", "window_start"],
                condition=~Q(frequency_findings=[]),
                name="task_frequency_noted",
            ),
            # And the visits avoided by joining another body's task, by the joined task's planned day, and by
            # carrying out a proposal to merge plans, by the inspection day.
            models.Index(fields=["window_start"], condition=Q(joined_into__isnull=False), name="task_joined"),
            models.Index(
                fields=["started_at", "window_start"],
                condition=Q(coordination_proposal__isnull=False),
                name="task_coordinated",
            ),
        ]

    def __str__(self) -> str:
        return self.number or f"草稿任务#{self.pk}"

    def save(self, *args, **kwargs):
        adding = self._state.adding
        super().save(*args, **kwargs)
        fields = kwargs.get("update_fields")
        if not adding and (fields is None or "status" in fields):
            # The copy of the status on the task's bodies (TaskBody.task_status), in the same transaction.
            TaskBody.objects.filter(task_id=self.pk).exclude(task_status=self.status).update(
                task_status=self.status
            )

    @property
    def is_planned(self) -> bool:
        return self.kind in self.PLANNED_KINDS

    @property
    def is_joint(self) -> bool:
        return self.task_bodies.count() > 1

    @property
    def is_completed(self) -> bool:
        return self.status in (self.Status.RESULT_RECORDED, self.Status.CLOSED)

    @property
    def emergency_approval_overdue(self) -> bool:
        """An emergency task started before approval must be approved within one working day."""
        if not self.is_emergency or self.approval_due is None:
            return False
        from django.utils import timezone

        if self.approved_at is None:
            return timezone.localdate() > self.approval_due
        return timezone.localdate(self.approved_at) > self.approval_due


# One table of allowed transitions (CONVENTIONS.md). Cancelling is allowed from any state before closed.
S = Task.Status
TRANSITIONS: dict[str, set[str]] = {
    S.DRAFT: {S.SUBMITTED, S.IN_PROGRESS, S.CANCELLED},
    S.SUBMITTED: {S.APPROVED, S.DRAFT, S.IN_PROGRESS, S.CANCELLED},
    S.APPROVED: {S.NOTIFIED, S.CANCELLED},
    S.NOTIFIED: {S.IN_PROGRESS, S.CANCELLED},
    S.IN_PROGRESS: {S.RESULT_RECORDED, S.CANCELLED},
    S.RESULT_RECORDED: {S.CLOSED, S.CANCELLED},
    S.CLOSED: set(),
    S.CANCELLED: set(),
}


class TaskBody(models.Model):
    """A body taking part in a task, the items it inspects, and its head's approval."""

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="task_bodies")
    body = models.ForeignKey(EnforcementBody, verbose_name="执法单位", on_delete=models.PROTECT)
    items = models.ManyToManyField(InspectionItem, verbose_name="检查事项", related_name="+")
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="审批人",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    approved_at = models.DateTimeField("批准时间", null=True, blank=True)
    # The task's `created_at`, copied here (it never changes) so that a body's task list — the page its
    # inspectors and head open all day — is read in the list's order from the body's own rows of the index
    # below, instead of walking every body's tasks newest first and keeping the body's one in twenty.
    task_created_at = models.DateTimeField("任务创建时间", editable=False)
    # The task's status, copied here too, for the same list filtered by a status: through the body's rows it
    # skipped the newest tasks of other statuses, through the status index it kept the body's one in twenty,
    # either way about 20,000 index probes for the busiest body at ten million tasks (624 ms). Unlike the
    # creation time it changes: `Task.save` writes it whenever it saves the task's status (and every status
    # change is a service's `workflow.transition` followed by that save); tests/inspections/
    # test_task_list_scale.py checks the copy after every transition.
    task_status = models.CharField("任务状态", max_length=16, choices=Task.Status.choices, editable=False)

    class Meta:
        verbose_name = "参与执法单位"
        verbose_name_plural = "参与执法单位"
        constraints = [models.UniqueConstraint(fields=["task", "body"], name="unique_task_body")]
        indexes = [
            # The frequency check's bodies of each task without visiting the table (see Task's indexes).
            models.Index(fields=["task"], include=["body", "id"], name="taskbody_task_cover"),
            # A body's tasks newest first, as Task's (-created_at, -id) orders everyone's.
            models.Index(fields=["body", "-task_created_at", "-task"], name="taskbody_body_newest"),
            # A body's tasks of one status newest first (the list's status filter).
            models.Index(
                fields=["body", "task_status", "-task_created_at", "-task"],
                name="taskbody_body_status_newest",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.task} · {self.body}"

    def save(self, *args, **kwargs):
        if self.task_created_at is None:
            self.task_created_at = self.task.created_at
        if not self.task_status:
            self.task_status = self.task.status
        super().save(*args, **kwargs)


class InspectionCode(models.Model):
    """The one signed code of a visit. Tokens shown in the QR carry `public_id`, never the task's data."""

    class Status(models.TextChoices):
        ACTIVE = "active", "有效"
        REVOKED = "revoked", "已作废"

    task = models.OneToOneField(Task, verbose_name="检查任务", on_delete=models.PROTECT, related_name="code")
    public_id = models.BigIntegerField("码标识", unique=True)
    enterprise = models.ForeignKey(Enterprise, verbose_name="绑定企业", on_delete=models.PROTECT)
    valid_from = models.DateField("有效期起")
    valid_until = models.DateField("有效期止")
    status = models.CharField("状态", max_length=10, choices=Status.choices, default=Status.ACTIVE)
    issued_at = models.DateTimeField("签发时间", auto_now_add=True)
    revoked_at = models.DateTimeField("作废时间", null=True, blank=True)
    revoke_reason = models.CharField("作废原因", max_length=200, blank=True)

    class Meta:
        verbose_name = "检查码"
        verbose_name_plural = "检查码"

    def __str__(self) -> str:
        return f"检查码 {self.task}"


class Scan(models.Model):
    """One scan of a code (arrival check-in when genuine). Forged tokens are logged without a code."""

    class Outcome(models.TextChoices):
        GENUINE = "genuine", "真实有效"
        STALE = "stale", "二维码已刷新"
        NOT_YET_VALID = "not_yet_valid", "未到检查时间"
        EXPIRED = "expired", "已过有效期"
        REVOKED = "revoked", "已作废"
        WRONG_ENTERPRISE = "wrong_enterprise", "非本企业检查码"
        COMPLETED = "completed", "检查已完成"
        FORGED = "forged", "验证失败（疑似伪造）"

    code = models.ForeignKey(
        InspectionCode, null=True, blank=True, on_delete=models.PROTECT, related_name="scans"
    )
    scanned_at = models.DateTimeField("扫码时间", db_index=True)
    outcome = models.CharField("结果", max_length=20, choices=Outcome.choices)
    enterprise = models.ForeignKey(
        Enterprise,
        verbose_name="扫码企业",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="登录的企业联系人所属企业",
    )
    client_hash = models.CharField("客户端标识（散列）", max_length=64)
    # The scan log's entry for a scan written later in a batch (scan_log.py): a replayed batch finds its rows
    # by it and adds none twice. Empty for a scan written at once.
    log_id = models.CharField("扫码日志编号", max_length=40, null=True, blank=True, editable=False)

    class Meta:
        verbose_name = "扫码记录"
        verbose_name_plural = "扫码记录"
        indexes = [models.Index(fields=["code", "scanned_at"])]
        constraints = [
            models.UniqueConstraint(
                fields=["log_id"], condition=Q(log_id__isnull=False), name="scan_log_id_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_outcome_display()} {self.scanned_at:%Y-%m-%d %H:%M}"


class FieldAct(models.Model):
    """One act of an inspector on site, done in the field app (F-44) and kept on his phone until sent: the
    code shown, the check-in, the result. `client_id` is the phone's own UUID of the act, unique: a retried
    sync finds it and changes nothing. Position (亮码即定位) when the inspector allowed the browser's
    geolocation; `location_allowed` says he had, so a missing position then is itself a fact."""

    class Kind(models.TextChoices):
        CODE_SHOWN = "code_shown", "出示检查码"
        CHECK_IN = "check_in", "签到开始检查"
        RESULT = "result", "录入检查结果"
        # The on-site record signed on the phone (F-45), offline too: applied by documents.sign_onsite_record
        # with the signing time as `occurred_at`.
        SIGN_RECORD = "sign_record", "签署现场检查笔录"

    client_id = models.UUIDField("手机端编号", unique=True)
    task = models.ForeignKey(
        Task, verbose_name="检查任务", on_delete=models.PROTECT, related_name="field_acts"
    )
    kind = models.CharField("操作", max_length=12, choices=Kind.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="执法人员", on_delete=models.PROTECT, related_name="+"
    )
    occurred_at = models.DateTimeField("发生时间", help_text="手机记录的实际操作时间")
    received_at = models.DateTimeField("送达平台时间", auto_now_add=True)
    location_allowed = models.BooleanField("已允许定位", default=False)
    latitude = models.DecimalField("纬度", max_digits=9, decimal_places=6, null=True, blank=True)
    longitude = models.DecimalField("经度", max_digits=9, decimal_places=6, null=True, blank=True)
    accuracy_m = models.PositiveIntegerField("定位精度（米）", null=True, blank=True)

    class Meta:
        verbose_name = "现场操作"
        verbose_name_plural = "现场操作"
        indexes = [models.Index(fields=["task", "occurred_at"]), models.Index(fields=["kind", "occurred_at"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.occurred_at:%Y-%m-%d %H:%M}"

    @property
    def has_position(self) -> bool:
        return self.latitude is not None and self.longitude is not None


class CodeReport(models.Model):
    """An enterprise's report of a code that failed verification (to the complaints ledger later)."""

    scan = models.ForeignKey(Scan, on_delete=models.PROTECT, related_name="reports")
    reported_at = models.DateTimeField("举报时间", auto_now_add=True)
    contact_phone = models.CharField("联系电话", max_length=20, blank=True)
    description = models.TextField("情况说明", blank=True)

    class Meta:
        verbose_name = "可疑检查码举报"
        verbose_name_plural = "可疑检查码举报"

    def __str__(self) -> str:
        return f"可疑检查码举报#{self.pk}"


class InspectionRecord(models.Model):
    """What the inspectors found (F-25)."""

    class Outcome(models.TextChoices):
        NO_PROBLEM = "no_problem", "未发现问题"
        RECTIFY = "rectify", "责令限期整改"
        CASE_OPENED = "case_opened", "立案查处"
        REFERRED = "referred", "移送处理"

    task = models.OneToOneField(Task, on_delete=models.PROTECT, related_name="record")
    outcome = models.CharField("检查结论", max_length=16, choices=Outcome.choices)
    summary = models.TextField("检查情况")
    rectify_working_days = models.PositiveSmallIntegerField("整改期限（工作日）", null=True, blank=True)
    rectify_by = models.DateField("整改截止日", null=True, blank=True)
    lenient = models.BooleanField("首违不罚/轻微免罚", default=False)
    lenient_note = models.TextField("包容审慎处理说明", blank=True)
    improvement_advice = models.TextField("改进建议", blank=True)
    # Seed 000's "scan again": the person in charge on site (现场负责人) named with the result; that phone,
    # verified by an SMS code, may see this one task's result and evaluate it (services.request_result_code).
    onsite_person_name = models.CharField("现场负责人", max_length=50, blank=True)
    onsite_person_phone = models.CharField("现场负责人手机号", max_length=20, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="录入人", on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField("录入时间", auto_now_add=True)
    # When the result was made on site, if it reached the platform later (offline app, API backfill); else
    # empty and the record's time is recorded_at (inspections/backfill.py).
    occurred_at = models.DateTimeField("现场形成时间", null=True, blank=True)

    class Meta:
        verbose_name = "检查记录"
        verbose_name_plural = "检查记录"
        # The frequency check's outcome of each task without visiting the table (see Task's indexes).
        indexes = [models.Index(fields=["task"], include=["outcome"], name="record_task_outcome_cover")]

    def __str__(self) -> str:
        return f"{self.task}的检查记录"

    @property
    def happened_at(self):
        return self.occurred_at or self.recorded_at

    @property
    def backfilled(self) -> bool:
        """Arrived later than it happened (补录): shown to supervisors."""
        from jianchama.inspections.backfill import is_late

        return is_late(self.occurred_at, self.recorded_at)


class Finding(models.Model):
    """The finding for one checklist entry of one item."""

    class Result(models.TextChoices):
        COMPLIANT = "compliant", "符合"
        NOT_COMPLIANT = "not_compliant", "不符合"
        NOT_APPLICABLE = "not_applicable", "不适用"

    record = models.ForeignKey(InspectionRecord, on_delete=models.CASCADE, related_name="findings")
    item = models.ForeignKey(InspectionItem, verbose_name="检查事项", on_delete=models.PROTECT)
    entry = models.CharField("检查内容", max_length=300)
    result = models.CharField("结果", max_length=16, choices=Result.choices)
    note = models.CharField("说明", max_length=500, blank=True)

    class Meta:
        verbose_name = "检查结果明细"
        verbose_name_plural = "检查结果明细"
        ordering = ["pk"]

    def __str__(self) -> str:
        return f"{self.entry}：{self.get_result_display()}"


class Evidence(models.Model):
    """A file supporting the record: a photo, a document, audio or video."""

    class Kind(models.TextChoices):
        PHOTO = "photo", "照片"
        DOCUMENT = "document", "文书"
        AUDIO = "audio", "录音"
        VIDEO = "video", "录像"

    record = models.ForeignKey(InspectionRecord, on_delete=models.CASCADE, related_name="evidence")
    kind = models.CharField("类型", max_length=10, choices=Kind.choices)
    file = models.FileField("文件", upload_to=RandomName("evidence/%Y/%m/"))
    original_name = models.CharField("原文件名", max_length=200)
    size = models.PositiveIntegerField("大小（字节）")
    uploaded_at = models.DateTimeField("上传时间", auto_now_add=True)

    class Meta:
        verbose_name = "证据材料"
        verbose_name_plural = "证据材料"

    def __str__(self) -> str:
        return self.original_name


class EvaluationQuerySet(models.QuerySet):
    def visible_to(self, user) -> EvaluationQuerySet:
        """Individual evaluations: the enterprise its own, supervisors their region's. Inspecting bodies see
        aggregates only (`services.evaluation_summary`), never which enterprise said what."""
        if not user.is_authenticated:
            return self.none()
        if user.is_platform_admin:
            return self.all()
        if user.role == Role.ENTERPRISE_CONTACT:
            return self.filter(task__enterprise_id=user.enterprise_id) if user.enterprise_id else self.none()
        if user.role in (Role.SUPERVISOR, Role.DISTRICT_GOVERNMENT):
            return self.filter(task__in=Task.objects.visible_to(user))
        return self.none()


class Evaluation(models.Model):
    """The enterprise's rating of one inspection, given once (F-26)."""

    DIMENSIONS = [
        ("certificate_shown", "出示执法证件"),
        ("rights_told", "告知权利"),
        ("conduct", "文明执法"),
        ("efficiency", "检查效率"),
        ("integrity", "廉洁自律"),
    ]
    SCORES = [(5, "非常满意"), (4, "满意"), (3, "基本满意"), (2, "不满意"), (1, "非常不满意")]

    class GivenAs(models.TextChoices):
        LEGAL_REPRESENTATIVE = "legal_representative", "法定代表人"
        CONTACT = "contact", "企业联系人"
        ONSITE_PERSON = "onsite_person", "现场负责人"

    task = models.OneToOneField(Task, on_delete=models.PROTECT, related_name="evaluation")
    # A portal contact's user; empty when the rating came by "scan again" from a phone verified by SMS
    # (the on-site person or legal representative, who need not be a contact of the enterprise).
    given_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="评议人账号",
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
    )
    # Who gave it: shown to supervisors only, never to the inspected body (services.evaluation_giver).
    given_as = models.CharField("评议人身份", max_length=24, choices=GivenAs.choices, default=GivenAs.CONTACT)
    giver_name = models.CharField("评议人姓名", max_length=50, blank=True)
    giver_phone = models.CharField("评议人手机号", max_length=20, blank=True)
    overall = models.PositiveSmallIntegerField("总体评价", choices=SCORES)
    certificate_shown = models.PositiveSmallIntegerField("出示执法证件", choices=SCORES)
    rights_told = models.PositiveSmallIntegerField("告知权利", choices=SCORES)
    conduct = models.PositiveSmallIntegerField("文明执法", choices=SCORES)
    efficiency = models.PositiveSmallIntegerField("检查效率", choices=SCORES)
    integrity = models.PositiveSmallIntegerField("廉洁自律", choices=SCORES)
    comment = models.TextField("意见建议", blank=True)
    created_at = models.DateTimeField("评议时间", auto_now_add=True)

    objects = EvaluationQuerySet.as_manager()

    class Meta:
        verbose_name = "评议"
        verbose_name_plural = "评议"
        # The release check reads the ratings newer than a body's last release (services.release_evaluations).
        indexes = [models.Index(fields=["created_at"], name="evaluation_created")]

    def __str__(self) -> str:
        return f"{self.task}的评议"


class Statement(models.Model):
    """The enterprise's statement or defence (陈述申辩) on a result, and the body's reply."""

    task = models.ForeignKey(Task, on_delete=models.PROTECT, related_name="statements")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="提交人", on_delete=models.PROTECT, related_name="+"
    )
    text = models.TextField("陈述申辩内容")
    created_at = models.DateTimeField("提交时间", auto_now_add=True)
    reply = models.TextField("答复", blank=True)
    replied_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="答复人",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    replied_at = models.DateTimeField("答复时间", null=True, blank=True)

    class Meta:
        verbose_name = "陈述申辩"
        verbose_name_plural = "陈述申辩"
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"{self.task}的陈述申辩#{self.pk}"


class Exemption(models.TextChoices):
    """Situations a frequency rule may exempt."""

    COMPLAINT = "complaint", "投诉举报核查"
    REFERRED_CASE = "referred_case", "移送案件"
    RECHECK = "recheck", "整改复查"
    LICENSING = "licensing", "行政许可现场核查"
    ENTERPRISE_REQUEST = "enterprise_request", "企业自主申请"
    SPECIAL_CAMPAIGN = "special_campaign", "上级部署的专项检查"


class FrequencyRule(models.Model):
    """A cap on how often one enterprise is inspected (F-21), set by the platform administrator."""

    class Scope(models.TextChoices):
        PER_BODY = "per_body", "同一执法单位对同一企业"
        ALL_BODIES = "all_bodies", "各级各部门对同一企业合计"
        NO_FINDING = "no_finding", "对同一企业连续检查未发现问题"

    class Period(models.TextChoices):
        DAY = "day", "日（滚动）"
        WEEK = "week", "周（滚动7日）"
        MONTH = "month", "月（滚动30日）"
        YEAR = "year", "自然年"

    class Action(models.TextChoices):
        REFUSE = "refuse", "不予提交"
        JUSTIFY = "justify", "须说明理由并经负责人批准"
        WARN = "warn", "提示"

    name = models.CharField("规则名称", max_length=100)
    scope = models.CharField("范围", max_length=12, choices=Scope.choices)
    period = models.CharField("期间", max_length=8, choices=Period.choices)
    limit = models.PositiveSmallIntegerField("上限（次）")
    action = models.CharField("超出时", max_length=8, choices=Action.choices)
    field = models.ForeignKey(
        Field, verbose_name="执法领域（空为全部）", null=True, blank=True, on_delete=models.PROTECT
    )
    body_level = models.CharField(
        "执法单位层级（空为全部）", max_length=10, choices=EnforcementBody.Level.choices, blank=True
    )
    risk_grade = models.CharField(
        "企业风险等级（空为全部）", max_length=1, choices=Enterprise.RiskGrade.choices, blank=True
    )
    exemptions = models.JSONField("豁免情形", default=list, blank=True)
    is_active = models.BooleanField("启用", default=True)

    class Meta:
        verbose_name = "检查频次规则"
        verbose_name_plural = "检查频次规则"
        ordering = ["scope", "period", "pk"]

    def __str__(self) -> str:
        return self.name


class FrequencyRefusalRecord(models.Model):
    """A submission (or an approval) the frequency rules refused (F-21): a refuse-rule broken, or a justify-rule
    broken without the justification it needs. The refused change itself is rolled back; this record is written
    after that rollback, in a transaction of its own (`frequency.record_refusal`, called by the services when
    they let a `FrequencyRefusal` out), so that the statistics can count the visits the rules stopped.

    `task` is empty when the task was drafted and submitted in one step (`create_task(submit=True)`): it was
    never saved. What the statistics filter by is kept here for that case: the enterprise, the kind, the
    fields of the items; `day` is the inspection date the check was about (`frequency.inspection_date`)."""

    class Stage(models.TextChoices):
        SUBMISSION = "submission", "提交审批"
        APPROVAL = "approval", "审批时复核"

    class Reason(models.TextChoices):
        REFUSED = "refused", "超出频次不予提交"
        JUSTIFICATION_MISSING = "justification_missing", "须说明理由而未说明"

    task = models.ForeignKey(
        Task,
        verbose_name="检查任务",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="frequency_refusals",
    )
    enterprise = models.ForeignKey(
        Enterprise, verbose_name="检查对象", on_delete=models.PROTECT, related_name="+"
    )
    # The body of the user who submitted (or approved): whose request was refused.
    body = models.ForeignKey(
        EnforcementBody, verbose_name="执法单位", on_delete=models.PROTECT, related_name="+"
    )
    kind = models.CharField("检查类型", max_length=16, choices=Task.Kind.choices)
    fields = models.ManyToManyField(Field, verbose_name="执法领域", related_name="+", blank=True)
    stage = models.CharField("环节", max_length=12, choices=Stage.choices)
    reason = models.CharField("原因", max_length=24, choices=Reason.choices)
    day = models.DateField("检查日期")
    # The rules broken, as the check found them (each `Breach.as_json()`: rule id, name, action, counts, message).
    breaches = models.JSONField("违反的频次规则", default=list)
    message = models.TextField("拒绝理由")
    refused_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="操作人", on_delete=models.PROTECT, related_name="+"
    )
    refused_at = models.DateTimeField("拒绝时间", default=timezone.now)

    class Meta:
        verbose_name = "频次拒绝记录"
        verbose_name_plural = "频次拒绝记录"
        ordering = ["-refused_at", "-pk"]
        indexes = [
            # The statistics read a period's records, a body's own from its rows.
            models.Index(fields=["day"], name="frequencyrefusal_day"),
            models.Index(fields=["body", "day"], name="frequencyrefusal_body_day"),
        ]

    def __str__(self) -> str:
        return f"{self.get_stage_display()}：{self.get_reason_display()}（检查日期{self.day}）"


# The roles that may approve a triggered inspection, as the situation names them. Only the body's head
# (his account has the body administrator's role) approves tasks in the platform today.
TRIGGER_APPROVER_CHOICES = [(Role.BODY_ADMIN.value, "执法单位负责人")]


class TriggerSituation(models.Model):
    """A situation that allows a triggered inspection in a field (F-28), the evidence it needs, who approves."""

    field = models.ForeignKey(Field, verbose_name="执法领域", on_delete=models.PROTECT, related_name="+")
    code = models.CharField("代码", max_length=32, unique=True)
    name = models.CharField("启动情形", max_length=200)
    evidence_required = models.TextField("须提供的证据材料")
    # Seed 003 二（三）3/5: the approval of a triggered inspection is an act in the platform by a user with this
    # role in a participating body (not a name typed in): before the visit, or for an emergency within the
    # approval deadline after it (`services.approve_task`).
    approver = models.CharField(
        "审批人", max_length=100, choices=TRIGGER_APPROVER_CHOICES, default=Role.BODY_ADMIN.value
    )
    is_active = models.BooleanField("启用", default=True)

    class Meta:
        verbose_name = "触发式检查启动情形"
        verbose_name_plural = "触发式检查启动情形"
        ordering = ["field__code", "code"]

    def __str__(self) -> str:
        return self.name


class EvaluationRelease(models.Model):
    """A body's evaluations as it is allowed to see them (F-26): averages over every rating given up to the
    release, published only when at least `EVALUATION_RELEASE_MIN_RATINGS` (never fewer than five) new ratings
    have come since the body's previous release. Two releases therefore differ by a batch of at least five
    ratings and no comparison of them isolates one enterprise's rating; the body never sees live figures
    (`services.evaluation_summary`). Made by the monthly job and when the body reads its figures."""

    body = models.ForeignKey(
        EnforcementBody, verbose_name="执法单位", on_delete=models.PROTECT, related_name="evaluation_releases"
    )
    released_at = models.DateTimeField("发布时间")
    # The evaluations given from period_start (the previous release's day) to period_end (this release's day).
    period_start = models.DateField("期间起")
    period_end = models.DateField("期间止")
    count = models.PositiveIntegerField("评议总数")
    new_count = models.PositiveIntegerField("本次新增评议数")
    overall = models.DecimalField("总体评价", max_digits=3, decimal_places=2)
    certificate_shown = models.DecimalField("出示执法证件", max_digits=3, decimal_places=2)
    rights_told = models.DecimalField("告知权利", max_digits=3, decimal_places=2)
    conduct = models.DecimalField("文明执法", max_digits=3, decimal_places=2)
    efficiency = models.DecimalField("检查效率", max_digits=3, decimal_places=2)
    integrity = models.DecimalField("廉洁自律", max_digits=3, decimal_places=2)

    class Meta:
        verbose_name = "评议汇总发布"
        verbose_name_plural = "评议汇总发布"
        ordering = ["-released_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["body", "count"], name="unique_release_count")]

    def __str__(self) -> str:
        return f"{self.body}评议汇总（{self.count}条）"


class OnsiteDocument(models.Model):
    """A standard inspection document of one task (F-45), after the Ministry of Justice's basic formats of
    2025 (司法部办公厅《行政检查文书基本格式文本（试行）》): the notice (检查通知书), the on-site record
    (现场检查笔录) signed on site by the inspectors and the enterprise's person (or his refusal, with a
    witness), and the rectification notice (责令改正通知书) where the outcome asks for one. Generated once as a
    PDF and never changed; its SHA-256 is in the audit log (inspections/documents.py)."""

    class Kind(models.TextChoices):
        NOTICE = "notice", "行政检查通知书"
        RECORD = "record", "现场检查笔录"
        RECTIFICATION = "rectification", "责令改正通知书"

    task = models.ForeignKey(Task, on_delete=models.PROTECT, related_name="documents")
    kind = models.CharField("文书种类", max_length=16, choices=Kind.choices)
    number = models.CharField("文书编号", max_length=40, unique=True)
    file = models.FileField("文件", upload_to=RandomName("documents/%Y/%m/"))
    sha256 = models.CharField("SHA-256", max_length=64)
    # The enterprise's person on site: signed, or refused to sign (then a witness signs).
    party_name = models.CharField("当事人签名人", max_length=50, blank=True)
    party_statement = models.TextField("当事人意见", blank=True)
    party_refused = models.BooleanField("当事人拒绝签字", default=False)
    witness_name = models.CharField("见证人", max_length=50, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="制作人", on_delete=models.PROTECT, related_name="+"
    )
    # When the signed documents were signed on site (the phone's time, offline too); `created_at` is when they
    # reached the platform and were made. Empty for the unsigned notice.
    signed_at = models.DateTimeField("现场签署时间", null=True, blank=True)
    created_at = models.DateTimeField("制作时间", auto_now_add=True)

    class Meta:
        verbose_name = "检查文书"
        verbose_name_plural = "检查文书"
        ordering = ["created_at", "id"]
        constraints = [models.UniqueConstraint(fields=["task", "kind"], name="one_document_per_kind")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}{self.number}"


class DocumentSignature(models.Model):
    """A handwritten signature drawn on the phone's screen for one document: an inspector's, the enterprise's
    person's, or a witness's when that person refused."""

    class Signer(models.TextChoices):
        INSPECTOR = "inspector", "执法人员"
        PARTY = "party", "当事人"
        WITNESS = "witness", "见证人"

    document = models.ForeignKey(OnsiteDocument, on_delete=models.CASCADE, related_name="signatures")
    signer = models.CharField("签名人身份", max_length=10, choices=Signer.choices)
    name = models.CharField("签名人", max_length=50)
    inspector = models.ForeignKey(
        Inspector, verbose_name="执法人员", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    image = models.FileField("签名图像", upload_to=RandomName("signatures/%Y/%m/"))
    # The time of signing on site, which an offline phone sends later (documents.sign_onsite_record).
    signed_at = models.DateTimeField("签名时间", default=timezone.now)

    class Meta:
        verbose_name = "文书签名"
        verbose_name_plural = "文书签名"
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.get_signer_display()}{self.name}"
