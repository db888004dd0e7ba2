"""Events to the bodies' own systems (F-29): a task's status change, a scan of its code, its result.

The inspections services `emit` each event inside their transaction (inspections/workflow.py); `on_event`
writes one delivery per subscribed webhook of the task's bodies' clients in that same transaction and queues
it after commit, so a rolled-back change sends nothing and a committed one is never lost (jobs.py retries).
The signature is notifications' (`channels.sign`: HMAC-SHA256 over "<timestamp>." + body), and so are the
back-off and the attempt limit: one implementation for every outgoing webhook."""

from __future__ import annotations

import functools
import uuid

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from django_q.tasks import async_task

from .models import Webhook, WebhookDelivery

DELIVER_JOB = "jianchama.integrations.jobs.deliver_webhook"


def enqueue(delivery_id: int) -> None:
    async_task(DELIVER_JOB, delivery_id, task_name=f"api-webhook-{delivery_id}", group="api-webhooks")


# The events some active webhook of an active client subscribes to, cached: most scans, and most bodies, have
# none, and the lookup below was a query on every scan (bench/README.md, scan page). Forgotten on commit of any
# change to a webhook or a client (signals below, and `forget_subscriptions` where rows are updated in bulk);
# the timeout is a safety net only.
SUBSCRIBED_EVENTS_KEY = "integrations:subscribed-events:v1"
SUBSCRIBED_EVENTS_SECONDS = 300


def subscribed_events() -> frozenset[str]:
    events = cache.get(SUBSCRIBED_EVENTS_KEY)
    if events is None:
        found: set[str] = set()
        for hook_events in Webhook.objects.filter(is_active=True, client__is_active=True).values_list(
            "events", flat=True
        ):
            found.update(hook_events or [])
        events = frozenset(found)
        cache.set(SUBSCRIBED_EVENTS_KEY, events, SUBSCRIBED_EVENTS_SECONDS)
    return events


def forget_subscriptions(**_kwargs) -> None:
    """Drop the cached events now and again when the change commits (a request between the two would
    otherwise cache what the transaction is about to change)."""
    cache.delete(SUBSCRIBED_EVENTS_KEY)
    transaction.on_commit(lambda: cache.delete(SUBSCRIBED_EVENTS_KEY), robust=True)


def on_event(event: str, task, data: dict) -> None:
    """A task's event (inspections.workflow): to the webhooks of every body of the task that subscribe."""
    if event not in subscribed_events():
        return
    _deliver(
        event,
        Webhook.objects.filter(client__body_id__in=task.task_bodies.values("body_id")),
        {"task": {"number": task.number, "status": task.status}, "data": data},
    )


on_event.wants = lambda event: event in subscribed_events()


def on_body_event(event: str, body_id: int, subject: dict, data: dict) -> None:
    """A body's event (core.events): to that body's webhooks that subscribe."""
    if event not in subscribed_events():
        return
    _deliver(event, Webhook.objects.filter(client__body_id=body_id), {"subject": subject, "data": data})


def _deliver(event: str, webhooks, body: dict) -> None:
    """One delivery per active webhook of an active client subscribed to `event`, written in the change's
    transaction and queued when it commits."""
    for hook in webhooks.filter(is_active=True, client__is_active=True):
        if event not in hook.events:
            continue
        delivery = WebhookDelivery.objects.create(
            webhook=hook,
            event=event,
            payload={
                "id": str(uuid.uuid4()),
                "event": event,
                "occurred_at": timezone.now().isoformat(),
                **body,
            },
        )
        transaction.on_commit(functools.partial(enqueue, delivery.pk), robust=True)
