"""Notifications (F-23): the portal inbox message, its deliveries through the other channels, every attempt.

A `Notification` is the inbox message itself, so the inbox channel always "delivers". Each other channel
(the government app's webhook, SMS; e-mail later) gets one `Delivery` per target, sent by a queued job and
retried with back-off; each try is logged as a `DeliveryAttempt`, so "was the enterprise told?" has evidence.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from jianchama.core.roles import Role


class NotificationQuerySet(models.QuerySet):
    def visible_to(self, user) -> NotificationQuerySet:
        """An enterprise contact sees its enterprise's notifications, anyone the ones addressed to them."""
        if not user.is_authenticated:
            return self.none()
        if user.is_platform_admin:
            return self.all()
        if user.role == Role.ENTERPRISE_CONTACT and user.enterprise_id:
            return self.filter(Q(enterprise_id=user.enterprise_id) | Q(user_id=user.pk))
        return self.filter(user_id=user.pk)


class Notification(models.Model):
    """One message to an enterprise (all its contacts) or to one staff user; also its portal inbox entry."""

    enterprise = models.ForeignKey(
        "registry.Enterprise",
        verbose_name="接收企业",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="notifications",
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="接收人",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="notifications",
    )
    event = models.CharField("事件", max_length=64, db_index=True, help_text="如 task.notified")
    subject = models.CharField("标题", max_length=200)
    body = models.TextField("正文")
    # What the webhook receives as "data": the machine-readable content, for the government app's own pages.
    payload = models.JSONField("数据", default=dict, blank=True)
    # The object the message is about (a task, a recommendation …), by label and key: no generic relation,
    # so a notification outlives a refactoring of the object it names.
    object_type = models.CharField("相关对象类型", max_length=100, blank=True)
    object_id = models.CharField("相关对象编号", max_length=64, blank=True)
    created_at = models.DateTimeField("发送时间", auto_now_add=True)
    read_at = models.DateTimeField("阅读时间", null=True, blank=True)

    objects = NotificationQuerySet.as_manager()

    class Meta:
        verbose_name = "通知"
        verbose_name_plural = "通知"
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["enterprise", "-created_at"], name="notif_enterprise_recent"),
            models.Index(fields=["user", "-created_at"], name="notif_user_recent"),
            models.Index(fields=["object_type", "object_id"], name="notif_related"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(enterprise__isnull=False) | Q(user__isnull=False),
                name="notification_has_recipient",
            )
        ]

    def __str__(self) -> str:
        return self.subject

    @property
    def is_read(self) -> bool:
        return self.read_at is not None


class DeliveryQuerySet(models.QuerySet):
    def visible_to(self, user) -> DeliveryQuerySet:
        """Deliveries (targets: phones and URLs) are the platform's plumbing: only its administrator sees them,
        in the admin; a user reads his notifications, never their deliveries."""
        if user.is_authenticated and user.is_platform_admin:
            return self.all()
        return self.none()


class Delivery(models.Model):
    """The sending of one notification through one channel to one target (a webhook URL, a phone)."""

    class Channel(models.TextChoices):
        WEBHOOK = "webhook", "政务服务应用推送"
        SMS = "sms", "短信"

    class Status(models.TextChoices):
        PENDING = "pending", "待发送"
        SENT = "sent", "已发送"
        FAILED = "failed", "发送失败"

    # The allowed status changes. A failed attempt with tries left keeps the delivery pending.
    TRANSITIONS: dict[str, set[str]] = {
        Status.PENDING: {Status.SENT, Status.FAILED},
        Status.SENT: set(),
        Status.FAILED: set(),
    }

    notification = models.ForeignKey(
        Notification, verbose_name="通知", on_delete=models.CASCADE, related_name="deliveries"
    )
    channel = models.CharField("渠道", max_length=16, choices=Channel.choices)
    target = models.CharField("发送目标", max_length=500)
    status = models.CharField("状态", max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField("已尝试次数", default=0)
    # When the next try is due; the periodic sweep re-queues pending deliveries whose time has passed.
    next_attempt_at = models.DateTimeField("下次尝试时间", null=True, blank=True)
    created_at = models.DateTimeField("创建时间", auto_now_add=True)
    sent_at = models.DateTimeField("发送成功时间", null=True, blank=True)
    last_error = models.TextField("最近一次失败原因", blank=True)

    objects = DeliveryQuerySet.as_manager()

    class Meta:
        verbose_name = "通知投递"
        verbose_name_plural = "通知投递"
        ordering = ["notification", "pk"]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="delivery_due")]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} → {self.target}（{self.get_status_display()}）"


class DeliveryAttempt(models.Model):
    """One try at sending a delivery, successful or not."""

    delivery = models.ForeignKey(
        Delivery, verbose_name="投递", on_delete=models.CASCADE, related_name="attempt_log"
    )
    number = models.PositiveSmallIntegerField("第几次")
    started_at = models.DateTimeField("开始时间")
    duration_ms = models.PositiveIntegerField("耗时（毫秒）")
    ok = models.BooleanField("成功")
    http_status = models.PositiveSmallIntegerField("HTTP 状态码", null=True, blank=True)
    error = models.TextField("失败原因", blank=True)

    class Meta:
        verbose_name = "投递尝试"
        verbose_name_plural = "投递尝试"
        ordering = ["delivery", "number"]
        constraints = [
            models.UniqueConstraint(fields=["delivery", "number"], name="unique_delivery_attempt_number")
        ]

    def __str__(self) -> str:
        return f"第 {self.number} 次：{'成功' if self.ok else '失败'}"
