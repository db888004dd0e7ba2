"""Queue jobs of the integration API: send one webhook delivery, retrying with notifications' back-off."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_q.models import Schedule
from django_q.tasks import schedule

from .models import WebhookDelivery
from .webhooks import DELIVER_JOB


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


def send(delivery: WebhookDelivery) -> tuple[bool, int | None, str]:
    from jianchama.notifications.channels import sign

    body = json.dumps(delivery.payload, ensure_ascii=False).encode("utf-8")
    timestamp = str(int(time.time()))
    request = urllib.request.Request(
        delivery.webhook.url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "jianchama-webhook/1",
            "X-Jianchama-Event": delivery.event,
            "X-Jianchama-Delivery": delivery.payload.get("id", str(delivery.pk)),
            "X-Jianchama-Timestamp": timestamp,
            "X-Jianchama-Signature": sign(delivery.webhook.secret, timestamp, body),
        },
    )
    try:
        with urllib.request.build_opener(_NoRedirect).open(
            request, timeout=settings.WEBHOOK_TIMEOUT_SECONDS
        ) as r:
            status = r.status
    except urllib.error.HTTPError as error:
        return False, error.code, f"HTTP {error.code}"
    except (OSError, ValueError) as error:
        return False, None, f"无法送达：{error.__class__.__name__} {error}"[:300]
    if 200 <= status < 300:
        return True, status, ""
    return False, status, f"HTTP {status}"


def deliver_webhook(delivery_id: int) -> str:
    """One attempt at a pending delivery; a failure with tries left schedules the next after the back-off;
    `API_WEBHOOK_DISABLE_AFTER` deliveries failed in a row disable the webhook and tell the client's registrar."""
    from jianchama.notifications.jobs import backoff_delay

    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update(of=("self",))
            .select_related("webhook__client")
            .filter(pk=delivery_id, status=WebhookDelivery.Status.PENDING)
            .first()
        )
        if delivery is None:
            return "nothing to do"
        ok, status, error = send(delivery)
        delivery.attempts += 1
        delivery.last_status_code = status
        delivery.last_error = error
        webhook = delivery.webhook
        if ok:
            delivery.status = WebhookDelivery.Status.SENT
            delivery.sent_at = timezone.now()
            webhook.failures = 0
            webhook.save(update_fields=["failures"])
            outcome = "sent"
        elif delivery.attempts < settings.WEBHOOK_MAX_ATTEMPTS:
            schedule(
                DELIVER_JOB,
                delivery.pk,
                schedule_type=Schedule.ONCE,
                next_run=timezone.now() + backoff_delay(delivery.attempts),
                name=f"api-webhook-{delivery.pk}-retry-{delivery.attempts}",
            )
            outcome = "retry scheduled"
        else:
            delivery.status = WebhookDelivery.Status.FAILED
            webhook.failures += 1
            if webhook.failures >= settings.API_WEBHOOK_DISABLE_AFTER:
                webhook.is_active = False
                _tell_disabled(webhook)
            webhook.save(update_fields=["failures", "is_active"])
            outcome = "failed"
        delivery.save(update_fields=["attempts", "last_status_code", "last_error", "status", "sent_at"])
    return outcome


def _tell_disabled(webhook) -> None:
    from jianchama.notifications.services import notify_user

    client = webhook.client
    notify_user(
        user=client.created_by,
        event="api.webhook_disabled",
        subject=f"接口客户端「{client.name}」的推送地址已停用",
        body=f"推送地址 {webhook.url} 连续 {webhook.failures} 次推送失败，已自动停用。"
        "请联系承建单位检查接收服务后，通过接口重新登记推送地址。",
        related=client,
    )


def delete_expired_idempotency(now=None) -> int:
    """Remove stored answers older than API_IDEMPOTENCY_HOURS (the hourly job; a key is also cleared when it
    comes again after that): the table holds one day of POSTs, not every POST ever made. Returns how many."""
    import datetime

    from .models import IdempotentRequest

    stale = (now or timezone.now()) - datetime.timedelta(hours=settings.API_IDEMPOTENCY_HOURS)
    deleted, _ = IdempotentRequest.objects.filter(created_at__lt=stale).delete()
    return deleted


def announce_overdue_results(today=None) -> int:
    """The daily job: every task still in progress whose result is past its deadline (the visit day plus
    SUPERVISION_RECORD_WORKING_DAYS working days, by the official calendar: the data rule `late_record`'s
    deadline) is announced once, as result.overdue to its bodies' webhooks. Returns how many were announced;
    running it again the same day announces nothing more."""
    import datetime

    from django.db.models import Exists, OuterRef

    from jianchama.core.workdays import add_working_days
    from jianchama.inspections import workflow
    from jianchama.inspections.models import Task

    from .models import OverdueResult

    today = today or timezone.localdate()
    days = int(settings.SUPERVISION_RECORD_WORKING_DAYS)
    # n working days are at least n calendar days: a visit on or after today - n cannot be overdue yet.
    before = timezone.make_aware(
        datetime.datetime.combine(today - datetime.timedelta(days=days), datetime.time.min)
    )
    candidates = (
        Task.objects.filter(status=Task.Status.IN_PROGRESS, started_at__lt=before)
        .exclude(Exists(OverdueResult.objects.filter(task_id=OuterRef("pk"))))
        .order_by("pk")
        .values_list("pk", "started_at")
    )
    deadlines: dict[datetime.date, datetime.date] = {}
    announced = 0
    for pk, started_at in candidates.iterator():
        visit = timezone.localdate(started_at)
        if visit not in deadlines:
            deadlines[visit] = add_working_days(visit, days)
        due = deadlines[visit]
        if today <= due:
            continue
        with transaction.atomic():
            task = Task.objects.select_for_update().filter(pk=pk, status=Task.Status.IN_PROGRESS).first()
            if task is None:  # its result came in meanwhile
                continue
            _, new = OverdueResult.objects.get_or_create(task=task, defaults={"due_on": due})
            if not new:  # another run got there first
                continue
            workflow.emit(
                "result.overdue",
                task,
                {
                    "started_at": task.started_at.isoformat(),
                    "visit_date": visit.isoformat(),
                    "due": due.isoformat(),
                    "working_days": days,
                },
            )
            announced += 1
    return announced
