"""Notification services: the only writes to notifications (the deliveries' sending is the job's, jobs.py).

`notify_enterprise` is what other apps call (the task workflow on approval, later supervision reminders).
It writes the inbox message and one delivery per channel target inside the caller's transaction, and
queues the sending only after that transaction commits: a rolled-back approval tells nobody, and a slow
SMS gateway or government app never holds up the approver's request.
"""

from __future__ import annotations

import functools
import json
import logging
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, transaction
from django.utils import timezone
from django_q.tasks import async_task

from jianchama.core import audit
from jianchama.core.errors import DomainError, PermissionDenied

from . import channels
from .models import Delivery, Notification

logger = logging.getLogger(__name__)

# Chinese labels of this app's audit actions; registered in NotificationsConfig.ready.
AUDIT_ACTIONS = {
    "notification.created": "发送通知",
    "notification.read": "阅读通知",
    "notification.delivered": "通知送达渠道",
    "notification.delivery_failed": "通知投递失败",
}

DELIVER_JOB = "jianchama.notifications.jobs.deliver"


def _json_payload(payload: dict[str, Any] | None) -> dict[str, Any]:
    if payload is None:
        return {}
    if not isinstance(payload, dict):
        raise DomainError("通知数据（payload）必须是键值对象")
    # Dates, decimals and UUIDs become strings here, so the JSON column and the webhook see the same values.
    try:
        return json.loads(json.dumps(payload, cls=DjangoJSONEncoder, ensure_ascii=False))
    except TypeError as error:
        raise DomainError(f"通知数据（payload）含有不能转为 JSON 的值：{error}") from error


def _related(related: models.Model | None) -> tuple[str, str]:
    if related is None:
        return "", ""
    return related._meta.label, str(related.pk)


SUBJECT_MAX = Notification._meta.get_field("subject").max_length
EVENT_MAX = Notification._meta.get_field("event").max_length


def _subject(subject: str) -> str:
    # A long subject (a joint inspection names every body) is shortened, not refused: the body has it all.
    subject = " ".join(subject.split())
    return subject if len(subject) <= SUBJECT_MAX else subject[: SUBJECT_MAX - 1] + "…"


def _check_text(event: str, subject: str, body: str) -> None:
    problems = []
    if not (event or "").strip():
        problems.append("缺少事件代码（如 task.notified）")
    elif len(event.strip()) > EVENT_MAX:
        problems.append(f"事件代码不能超过 {EVENT_MAX} 个字符")
    if not (subject or "").strip():
        problems.append("缺少通知标题")
    if not (body or "").strip():
        problems.append("缺少通知正文")
    if problems:
        raise DomainError("不能发送通知：" + "；".join(problems), problems=problems)


def enqueue_delivery(delivery_id: int) -> None:
    """Put one delivery on the task queue now. Called after commit; the sweep catches one that never got here."""
    async_task(
        DELIVER_JOB, delivery_id, task_name=f"notification-delivery-{delivery_id}", group="notifications"
    )


def _queue_after_commit(deliveries: list[Delivery]) -> None:
    for delivery in deliveries:
        # robust: a broker hiccup after the caller's commit must not turn its success into an error page;
        # the delivery stays pending with next_attempt_at set, and `retry_due` queues it later.
        transaction.on_commit(functools.partial(enqueue_delivery, delivery.pk), robust=True)


def _create(
    *,
    enterprise,
    user,
    event: str,
    subject: str,
    body: str,
    payload: dict[str, Any] | None,
    related: models.Model | None,
    with_channels: bool,
) -> Notification:
    _check_text(event, subject, body)
    object_type, object_id = _related(related)
    with transaction.atomic():
        notification = Notification.objects.create(
            enterprise=enterprise,
            user=user,
            event=event.strip(),
            subject=_subject(subject),
            body=body.strip(),
            payload=_json_payload(payload),
            object_type=object_type,
            object_id=object_id,
        )
        deliveries: list[Delivery] = []
        if with_channels:
            now = timezone.now()
            for name, channel in channels.CHANNELS.items():
                for target in channel.targets(notification):
                    # next_attempt_at = now: due at once; if the queued job is lost the sweep finds it.
                    deliveries.append(
                        Delivery.objects.create(
                            notification=notification, channel=name, target=target, next_attempt_at=now
                        )
                    )
        counts: dict[str, int] = {}
        for delivery in deliveries:
            counts[delivery.channel] = counts.get(delivery.channel, 0) + 1
        audit.record(
            actor="系统",
            action="notification.created",
            obj=notification,
            # Channel counts, not phone numbers: the audit log is permanent, the contacts list is not.
            after={
                "event": notification.event,
                "subject": notification.subject,
                "enterprise": enterprise.uscc if enterprise else None,
                "user": user.pk if user else None,
                "related": f"{object_type}:{object_id}" if object_type else None,
                "deliveries": counts,
            },
        )
        _queue_after_commit(deliveries)
    return notification


def notify_enterprise(
    *,
    enterprise,
    event: str,
    subject: str,
    body: str,
    payload: dict[str, Any],
    related: models.Model | None = None,
) -> Notification:
    """Tell an enterprise: its portal inbox, every registered channel (SMS to each contact, the government
    app's webhook when GOV_APP_WEBHOOK_URL is set). Call inside the caller's transaction; the sending is
    queued when that commits. `payload` is JSON data sent to the webhook as "data"; `related` the object
    the message is about (kept as its label and key)."""
    if enterprise is None or not getattr(enterprise, "pk", None):
        raise DomainError("不能发送通知：未指定接收企业")
    return _create(
        enterprise=enterprise,
        user=None,
        event=event,
        subject=subject,
        body=body,
        payload=payload,
        related=related,
        with_channels=True,
    )


def notify_user(
    *,
    user,
    event: str,
    subject: str,
    body: str,
    payload: dict[str, Any] | None = None,
    related: models.Model | None = None,
    sms: bool = False,
) -> Notification:
    """Tell one staff user through the inbox; with `sms`, also by text message to the user's phone when one
    is on record (deadline reminders: a missed deadline should not wait for the next login)."""
    if user is None or not getattr(user, "pk", None):
        raise DomainError("不能发送通知：未指定接收人")
    return _create(
        enterprise=None,
        user=user,
        event=event,
        subject=subject,
        body=body,
        payload=payload,
        related=related,
        with_channels=sms,
    )


def mark_read(user, *, notification: Notification) -> Notification:
    """Mark a notification read by `user`. Reading once is enough: a second call changes nothing.

    The read time is the notification's, not per person: for an enterprise, one contact reading it means
    the enterprise has seen it, which is what the inspection workflow needs to know."""
    with transaction.atomic():
        locked = Notification.objects.visible_to(user).select_for_update().filter(pk=notification.pk).first()
        if locked is None:
            raise PermissionDenied("您无权查看这条通知：它不是发给您或您所在企业的")
        if locked.read_at is None:
            locked.read_at = timezone.now()
            locked.save(update_fields=["read_at"])
            audit.record(
                actor=user,
                action="notification.read",
                obj=locked,
                before={"read_at": None},
                after={"read_at": locked.read_at.isoformat()},
            )
    notification.read_at = locked.read_at
    return locked
