"""Integration mode (F-29, 对接使用): the API clients a body registers for its own enforcement system, their
keys (only a hash of each secret is kept), the stored answers of idempotent requests, and webhooks."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from jianchama.core.roles import Role


class Scope(models.TextChoices):
    TASKS_WRITE = "tasks:write", "创建和办理检查任务"
    TASKS_READ = "tasks:read", "查询检查任务和检查码"
    RESULTS_WRITE = "results:write", "签到和录入检查结果"
    SCANS_READ = "scans:read", "查询扫码记录和评议汇总"
    WEBHOOKS_MANAGE = "webhooks:manage", "管理事件推送地址"


class ApiClientQuerySet(models.QuerySet):
    def visible_to(self, user) -> ApiClientQuerySet:
        """A body's administrator sees his body's clients; the platform administrator all."""
        if not user.is_authenticated:
            return self.none()
        if user.is_platform_admin:
            return self.all()
        if user.role == Role.BODY_ADMIN and user.body_id:
            return self.filter(body_id=user.body_id)
        return self.none()


class ApiClient(models.Model):
    """A body's own enforcement system, calling the API with the body's staff scope through `service_user`;
    or (kind 12345, issue 17) the 12345 hotline's system for one district, which pushes work orders into that
    district's complaint ledger and reads their handling result, as an intake desk user of the district."""

    class Kind(models.TextChoices):
        BODY = "body", "执法单位执法系统"
        HOTLINE_12345 = "12345", "12345市民服务热线"

    kind = models.CharField("客户端类型", max_length=10, choices=Kind.choices, default=Kind.BODY)
    body = models.ForeignKey(
        "registry.EnforcementBody",
        verbose_name="执法单位",
        on_delete=models.PROTECT,
        related_name="api_clients",
        null=True,
        blank=True,
    )
    # Kind 12345 only: the district whose complaint ledger the hotline's work orders go to.
    region = models.ForeignKey(
        "registry.Region",
        verbose_name="所属区域",
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
    )
    name = models.CharField("系统名称", max_length=100)
    vendor = models.CharField("承建单位", max_length=100)
    contact = models.CharField("联系人及电话", max_length=100)
    # One address or network (CIDR) a line; empty: any address.
    allowed_addresses = models.TextField("允许的来源地址", blank=True)
    scopes = models.JSONField("权限范围", default=list)
    # The user the client acts as: a body administrator of its body, with no password, marked as a service
    # account. Services see an ordinary user of the body; the audit log names the client.
    service_user = models.OneToOneField(
        settings.AUTH_USER_MODEL, verbose_name="服务账号", on_delete=models.PROTECT, related_name="api_client"
    )
    is_active = models.BooleanField("启用", default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="登记人", on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField("登记时间", auto_now_add=True)

    objects = ApiClientQuerySet.as_manager()

    class Meta:
        verbose_name = "接口客户端"
        verbose_name_plural = "接口客户端"
        ordering = ["body_id", "name"]
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(kind="body", body__isnull=False, region__isnull=True))
                | models.Q(kind="12345", body__isnull=True, region__isnull=False),
                name="api_client_body_or_hotline_region",
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_hotline(self) -> bool:
        return self.kind == self.Kind.HOTLINE_12345

    @property
    def scope_labels(self) -> list[str]:
        """The scopes in Chinese, in the order of `Scope` (the codes are the API's)."""
        return [label for value, label in Scope.choices if value in self.scopes]

    def has_scope(self, scope: str) -> bool:
        return scope in (self.scopes or [])


class ApiKey(models.Model):
    """One key of a client: `jck_<prefix>_<secret>`. The prefix finds the row; only sha256 of the whole key
    is stored. A rotated key keeps working until `expires_at` (the grace period); a revoked one never again."""

    client = models.ForeignKey(
        ApiClient, verbose_name="接口客户端", on_delete=models.CASCADE, related_name="keys"
    )
    prefix = models.CharField("前缀", max_length=16, unique=True)
    secret_hash = models.CharField("密钥哈希", max_length=64)
    created_at = models.DateTimeField("创建时间", auto_now_add=True)
    expires_at = models.DateTimeField("失效时间", null=True, blank=True)
    revoked_at = models.DateTimeField("吊销时间", null=True, blank=True)
    last_used_at = models.DateTimeField("最近使用", null=True, blank=True)

    class Meta:
        verbose_name = "接口密钥"
        verbose_name_plural = "接口密钥"
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"jck_{self.prefix}_…"

    def usable_at(self, now) -> bool:
        return self.revoked_at is None and (self.expires_at is None or now < self.expires_at)


class IdempotentRequest(models.Model):
    """The first answer to a POST with an `Idempotency-Key`, replayed for the same key and body."""

    client = models.ForeignKey(ApiClient, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=200)
    request_hash = models.CharField(max_length=64)
    status = models.PositiveSmallIntegerField()
    content_type = models.CharField(max_length=100)
    body = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = "幂等请求"
        verbose_name_plural = "幂等请求"
        constraints = [models.UniqueConstraint(fields=["client", "key"], name="unique_idempotency_key")]

    def __str__(self) -> str:
        return self.key


class Webhook(models.Model):
    """Where a client wants events pushed, signed with its own secret (HMAC-SHA256, as notifications sign)."""

    class Event(models.TextChoices):
        TASK_STATUS_CHANGED = "task.status_changed", "任务状态变化"
        TASK_STARTED = "task.started", "开始检查（签到、企业扫码或紧急检查先行开始）"
        SCAN_RECORDED = "scan.recorded", "企业扫码"
        RESULT_RECORDED = "result.recorded", "录入检查结果"
        RESULT_OVERDUE = "result.overdue", "检查结果逾期未录入"
        EVALUATION_RELEASED = "evaluation.released", "评议汇总发布"
        FINDING_RAISED = "finding.raised", "监督问题（已预警提醒本单位）"
        RECOMMENDATION_ISSUED = "recommendation.issued", "收到监督建议书"

    client = models.ForeignKey(ApiClient, on_delete=models.CASCADE, related_name="webhooks")
    url = models.URLField("推送地址", max_length=500)
    events = models.JSONField("事件", default=list)
    secret = models.CharField("签名密钥", max_length=64)
    is_active = models.BooleanField("启用", default=True)
    failures = models.PositiveIntegerField("连续失败次数", default=0)
    created_at = models.DateTimeField("登记时间", auto_now_add=True)

    class Meta:
        verbose_name = "事件推送地址"
        verbose_name_plural = "事件推送地址"
        ordering = ["pk"]

    def __str__(self) -> str:
        return self.url

    @property
    def event_labels(self) -> list[str]:
        """The events in Chinese, as the client's page lists them (the codes are the API's)."""
        return [event_label(event) for event in self.events]


def event_label(event: str) -> str:
    return dict(Webhook.Event.choices).get(event, event)


class WebhookDelivery(models.Model):
    """One event to one webhook, and every attempt's outcome (the delivery log)."""

    class Status(models.TextChoices):
        PENDING = "pending", "待发送"
        SENT = "sent", "已送达"
        FAILED = "failed", "发送失败"

    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField("事件", max_length=40)
    payload = models.JSONField("内容")
    status = models.CharField("状态", max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField("已尝试次数", default=0)
    last_status_code = models.PositiveSmallIntegerField("最近响应码", null=True, blank=True)
    last_error = models.CharField("最近错误", max_length=300, blank=True)
    created_at = models.DateTimeField("创建时间", auto_now_add=True)
    sent_at = models.DateTimeField("送达时间", null=True, blank=True)

    class Meta:
        verbose_name = "事件推送记录"
        verbose_name_plural = "事件推送记录"
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["webhook", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.event} → {self.webhook_id}"

    @property
    def event_label(self) -> str:
        return event_label(self.event)


class OverdueResult(models.Model):
    """A task whose result was not recorded within SUPERVISION_RECORD_WORKING_DAYS working days of its visit,
    as the daily job (`jobs.announce_overdue_results`) found it: it announces result.overdue once per task,
    whether or not a webhook listened that day, so a webhook registered later hears of new ones only."""

    task = models.OneToOneField(
        "inspections.Task", verbose_name="检查任务", on_delete=models.CASCADE, related_name="+"
    )
    due_on = models.DateField("录入期限")
    found_at = models.DateTimeField("发现时间", auto_now_add=True)

    class Meta:
        verbose_name = "逾期未录入结果"
        verbose_name_plural = "逾期未录入结果"

    def __str__(self) -> str:
        return f"{self.task_id} → {self.due_on}"
