"""Events to the bodies' own systems (F-29): a task's status change, a scan of its code, its result.

The inspections services `emit` each event inside their transaction (inspections/workflow.py); `on_event`
writes one delivery per subscribed webhook of the task's bodies' clients in that same transaction and queues
it after commit, so a rolled-back change sends nothing and a committed one is never lost (jobs.py retries).
The signature is notifications' (`channels.sign`: HMAC-SHA256 over "<timestamp>." + body), and so are the
back-off and the attempt limit: one implementation for every outgoing webhook."""

from __future__ import annotations

import functools
import uuid

from django.db import transaction
from django.utils import timezone
from django_q.tasks import async_task

from .models import Webhook, WebhookDelivery

DELIVER_JOB = "jianchama.integrations.jobs.deliver_webhook"


def enqueue(delivery_id: int) -> None:
    async_task(DELIVER_JOB, delivery_id, task_name=f"api-webhook-{delivery_id}", group="api-webhooks")


def on_event(event: str, task, data: dict) -> None:
    hooks = [
        hook
        for hook in Webhook.objects.filter(
            is_active=True,
            client__is_active=True,
            client__body_id__in=task.task_bodies.values("body_id"),
        )
        if event in hook.events
    ]
    for hook in hooks:
        delivery = WebhookDelivery.objects.create(
            webhook=hook,
            event=event,
            payload={
                "id": str(uuid.uuid4()),
                "event": event,
                "occurred_at": timezone.now().isoformat(),
                "task": {"number": task.number, "status": task.status},
                "data": data,
            },
        )
        transaction.on_commit(functools.partial(enqueue, delivery.pk), robust=True)
