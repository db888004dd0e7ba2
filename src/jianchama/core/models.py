"""Users and roles, the working-day calendar and the hash-chained audit log."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser, UserManager
from django.core.exceptions import ValidationError
from django.db import models

from .roles import BODY_ROLES, ENTERPRISE_ROLES, REGION_ROLES, Role


class UserQuerySet(models.QuerySet):
    def people(self) -> UserQuerySet:
        """Users who are people: not the service accounts an API client acts as (integrations), so that lists of
        a body's administrators (who is told, who must acknowledge) name only those who read their messages."""
        return self.filter(is_service_account=False)


class PeopleUserManager(UserManager.from_queryset(UserQuerySet)):
    pass


class User(AbstractUser):
    """A person who logs in. Staff use a password; enterprise contacts a one-time code sent to their phone."""

    full_name = models.CharField("姓名", max_length=50, blank=True)
    role = models.CharField("角色", max_length=32, choices=Role.choices)
    phone = models.CharField("手机号", max_length=20, blank=True, db_index=True)
    body = models.ForeignKey(
        "registry.EnforcementBody",
        verbose_name="所属执法单位",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="users",
    )
    region = models.ForeignKey(
        "registry.Region",
        verbose_name="所属区域",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="users",
    )
    enterprise = models.ForeignKey(
        "registry.Enterprise",
        verbose_name="所属企业",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="users",
    )

    # The account an API client acts as (a body administrator with no password, integrations.ApiClient): it
    # acts through the services as the body's staff do, but is no person to notify or count.
    is_service_account = models.BooleanField("接口服务账号", default=False, editable=False)

    objects = PeopleUserManager()

    class Meta:
        verbose_name = "用户"
        verbose_name_plural = "用户"
        constraints = [
            models.UniqueConstraint(
                fields=["phone"],
                condition=models.Q(role="enterprise_contact"),
                name="unique_enterprise_contact_phone",
            )
        ]

    def __str__(self) -> str:
        return self.full_name or self.username

    def clean(self) -> None:
        super().clean()
        if self.role in BODY_ROLES and not self.body_id:
            raise ValidationError({"body": "该角色必须指定所属执法单位"})
        if self.role in REGION_ROLES and not self.region_id:
            raise ValidationError({"region": "该角色必须指定所属区域"})
        if self.role in ENTERPRISE_ROLES and not (self.enterprise_id and self.phone):
            raise ValidationError({"enterprise": "企业联系人必须指定所属企业和手机号"})

    def has_role(self, *roles: str) -> bool:
        return self.is_authenticated and self.role in roles

    @property
    def is_platform_admin(self) -> bool:
        return self.role == Role.PLATFORM_ADMIN or self.is_superuser


class LoginCode(models.Model):
    """A one-time code sent by SMS: to log an enterprise contact in, or for the holder of a phone to approve
    one named action (the legal representative approving a new contact). Only its hash is stored; an approval
    code's hash covers what it approves, so it cannot be spent on anything else."""

    class Purpose(models.TextChoices):
        LOGIN = "login", "登录"
        CONTACT_ADD = "contact_add", "法定代表人同意添加企业联系人"
        RESULT_VIEW = "result_view", "扫码查看检查结果并评议"

    phone = models.CharField(max_length=20, db_index=True)
    purpose = models.CharField(max_length=20, choices=Purpose.choices, default=Purpose.LOGIN)
    code_hash = models.CharField(max_length=128)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)

    class Meta:
        verbose_name = "登录验证码"
        verbose_name_plural = "登录验证码"
        indexes = [models.Index(fields=["phone", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.phone} {self.created_at:%Y-%m-%d %H:%M:%S}" if self.created_at else self.phone


class CalendarYear(models.Model):
    """A year whose official holiday schedule is loaded. A year without a row is not trusted."""

    year = models.PositiveSmallIntegerField("年份", unique=True)
    source = models.CharField("来源", max_length=100)
    loaded_at = models.DateTimeField("载入时间", auto_now=True)

    class Meta:
        verbose_name = "已载入节假日安排的年份"
        verbose_name_plural = "已载入节假日安排的年份"
        ordering = ["year"]

    def __str__(self) -> str:
        return f"{self.year}年（{self.source}）"


class CalendarDay(models.Model):
    """An exception to the Monday-to-Friday week: a holiday on a weekday, or a swapped working weekend (调休)."""

    class Kind(models.TextChoices):
        HOLIDAY = "holiday", "法定节假日（休息）"
        WORKDAY = "workday", "调休上班日"

    date = models.DateField("日期", unique=True)
    kind = models.CharField("类型", max_length=10, choices=Kind.choices)
    name = models.CharField("名称", max_length=50, blank=True)

    class Meta:
        verbose_name = "节假日与调休"
        verbose_name_plural = "节假日与调休"
        ordering = ["date"]

    def __str__(self) -> str:
        return f"{self.date} {self.get_kind_display()} {self.name}"


class AuditEvent(models.Model):
    """One state change, chained to the previous one by hash. Rows are only ever appended."""

    # Unique by the append lock (audit.record) and checked by verify_chain, not by a unique index: on
    # PostgreSQL the table is partitioned by month of occurred_at (core/partitions.py), and a partitioned
    # table's unique indexes must include the partition column.
    sequence = models.PositiveBigIntegerField("序号", db_index=True)
    occurred_at = models.DateTimeField("时间")
    # PROTECT: the actor's id is part of the hash, so a user who acted is deactivated, never deleted.
    actor = models.ForeignKey(
        User, verbose_name="操作人", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_label = models.CharField("操作人（记录时）", max_length=150)
    action = models.CharField("操作", max_length=100, db_index=True)
    object_type = models.CharField("对象类型", max_length=100)
    object_id = models.CharField("对象编号", max_length=64)
    object_repr = models.CharField("对象", max_length=255)
    before = models.JSONField("变更前", null=True, blank=True)
    after = models.JSONField("变更后", null=True, blank=True)
    prev_hash = models.CharField("前一条哈希", max_length=64)
    hash = models.CharField("哈希", max_length=64)

    class Meta:
        verbose_name = "审计日志"
        verbose_name_plural = "审计日志"
        ordering = ["sequence"]
        indexes = [models.Index(fields=["object_type", "object_id", "sequence"])]

    def __str__(self) -> str:
        return f"#{self.sequence} {self.action} {self.object_repr}"


class AuditArchive(models.Model):
    """A month of the audit log moved out of the database into a file (core/partitions.py, `manage.py
    archive_audit`). The archives are the chain's first links, in order: the chain in the database starts
    after the last one's last sequence, from its hash; each archive is itself an event of the chain
    ("audit.archived", with these figures), so an archive row cannot be made up without breaking it."""

    first_sequence = models.PositiveBigIntegerField("起始序号", unique=True)
    last_sequence = models.PositiveBigIntegerField("截止序号", unique=True)
    last_hash = models.CharField("截止记录哈希", max_length=64)
    starts_on = models.DateField("起始月")
    ends_on = models.DateField("截止日（不含）")
    file_name = models.CharField("归档文件", max_length=200)
    sha256 = models.CharField("文件 SHA-256", max_length=64)
    rows = models.PositiveBigIntegerField("记录数")
    archived_at = models.DateTimeField("归档时间", auto_now_add=True)

    class Meta:
        verbose_name = "审计日志归档"
        verbose_name_plural = "审计日志归档"
        ordering = ["first_sequence"]

    def __str__(self) -> str:
        return f"第 {self.first_sequence}–{self.last_sequence} 条（{self.file_name}）"


class ExportJobQuerySet(models.QuerySet):
    def visible_to(self, user) -> ExportJobQuerySet:
        """Only the person who asked for an export sees it and its file: the rows in it were chosen by his
        scope (core/exports.py)."""
        if not user.is_authenticated:
            return self.none()
        return self.filter(actor=user)


class ExportJob(models.Model):
    """A large export (more rows than EXPORT_SYNC_MAX_ROWS) written by the task queue's worker into a file
    for its requester, with its progress for the page that waits on it; the file expires after
    EXPORT_KEEP_HOURS (core/exports.py)."""

    class Status(models.TextChoices):
        QUEUED = "queued", "排队中"
        RUNNING = "running", "生成中"
        DONE = "done", "已生成"
        FAILED = "failed", "失败"
        EXPIRED = "expired", "已过期"

    title = models.CharField("导出内容", max_length=100)
    # The export's builder (a function marked by core.exports.builder; set by the code, never by a user) and
    # the page's filters it is called with again by the worker, under the requester's scope.
    builder = models.CharField("生成函数", max_length=200)
    params = models.JSONField("筛选条件", default=dict, blank=True)
    fingerprint = models.CharField("导出标识", max_length=64, db_index=True)
    actor = models.ForeignKey(User, verbose_name="申请人", on_delete=models.PROTECT, related_name="+")
    status = models.CharField("状态", max_length=10, choices=Status.choices, default=Status.QUEUED)
    rows_estimate = models.PositiveIntegerField("预计行数", default=0)
    rows_done = models.PositiveIntegerField("已写入行数", default=0)
    file = models.FileField("文件", max_length=200, blank=True)
    file_name = models.CharField("下载文件名", max_length=200, blank=True)
    message = models.TextField("说明", blank=True)
    created_at = models.DateTimeField("申请时间", auto_now_add=True)
    finished_at = models.DateTimeField("完成时间", null=True, blank=True)
    expires_at = models.DateTimeField("过期时间", null=True, blank=True)

    objects = ExportJobQuerySet.as_manager()

    class Meta:
        verbose_name = "导出任务"
        verbose_name_plural = "导出任务"
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "expires_at"])]

    def __str__(self) -> str:
        return f"导出 {self.title}（{self.pk}）"

    @property
    def is_pending(self) -> bool:
        return self.status in (self.Status.QUEUED, self.Status.RUNNING)

    @property
    def percent(self) -> int:
        if not self.rows_estimate:
            return 0
        return min(100, self.rows_done * 100 // self.rows_estimate)
