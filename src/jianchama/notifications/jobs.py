"""Queue jobs of the notifications: send one delivery (with retries), and sweep for deliveries left behind.

Both are idempotent, so a job run twice (a lost acknowledgement, the sweep and a retry schedule firing
together) sends nothing twice: `deliver` locks the delivery's row, and only a pending delivery whose time
has come gets an attempt.

Retries: a failed attempt with tries left sets `next_attempt_at` (WEBHOOK_BACKOFF_SECONDS doubled after
each failure) and creates a one-off django-q Schedule for that moment, in the same transaction as the
attempt's record. `qcluster`'s scheduler turns it into a queued job when it is due (it looks every ~30 s).
"""

from __future__ import annotations

import datetime
import logging
import time

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_q.models import Schedule
from django_q.tasks import schedule

from jianchama.core import audit
from jianchama.core.errors import InvalidTransition

from . import channels
from .models import Delivery, DeliveryAttempt
from .services import DELIVER_JOB, enqueue_delivery

logger = logging.getLogger(__name__)

# The sweep leaves a due delivery alone this long, because its own job or retry schedule is normally about
# to run it (the scheduler looks every ~30 s); only older ones are taken as lost.
SWEEP_GRACE_SECONDS = 300


def backoff_delay(attempts: int) -> datetime.timedelta:
    """The wait after the `attempts`-th failed attempt: base, 2×base, 4×base …"""
    return datetime.timedelta(seconds=settings.WEBHOOK_BACKOFF_SECONDS * 2 ** (attempts - 1))


def _move(delivery: Delivery, status: str) -> None:
    if status not in Delivery.TRANSITIONS[delivery.status]:
        raise InvalidTransition(
            f"投递记录状态为「{Delivery.Status(delivery.status).label}」，"
            f"不能改为「{Delivery.Status(status).label}」"
        )
    delivery.status = status


def deliver(delivery_id: int) -> str:
    """Make one attempt at a pending delivery that is due. Returns what happened, for the queue's log."""
    with transaction.atomic():
        # The row stays locked while sending: a second worker on the same delivery waits, then finds it
        # sent (or not due) and does nothing.
        delivery = (
            Delivery.objects.select_for_update(of=("self",))
            .select_related("notification__enterprise")
            .filter(pk=delivery_id)
            .first()
        )
        if delivery is None:
            return "missing"
        if delivery.status != Delivery.Status.PENDING:
            return f"already {delivery.status}"
        now = timezone.now()
        if delivery.next_attempt_at and delivery.next_attempt_at > now:
            return "not due"

        channel = channels.get_channel(delivery.channel)
        started = time.monotonic()
        if channel is None:
            result = channels.SendResult(
                ok=False, error=f"未知的通知渠道：{delivery.channel}", retryable=False
            )
        else:
            result = channel.send(delivery)
        duration_ms = int((time.monotonic() - started) * 1000)

        delivery.attempts += 1
        DeliveryAttempt.objects.create(
            delivery=delivery,
            number=delivery.attempts,
            started_at=now,
            duration_ms=duration_ms,
            ok=result.ok,
            http_status=result.http_status,
            error=result.error,
        )
        if result.ok:
            _move(delivery, Delivery.Status.SENT)
            delivery.sent_at = timezone.now()
            delivery.next_attempt_at = None
            delivery.last_error = ""
            outcome = "sent"
        elif result.retryable and delivery.attempts < settings.WEBHOOK_MAX_ATTEMPTS:
            delivery.last_error = result.error
            delivery.next_attempt_at = timezone.now() + backoff_delay(delivery.attempts)
            schedule(
                DELIVER_JOB,
                delivery.pk,
                schedule_type=Schedule.ONCE,
                next_run=delivery.next_attempt_at,
                name=f"notification-delivery-{delivery.pk}-attempt-{delivery.attempts + 1}",
            )
            outcome = "retry scheduled"
        else:
            _move(delivery, Delivery.Status.FAILED)
            delivery.last_error = result.error
            delivery.next_attempt_at = None
            outcome = "failed"
        delivery.save(update_fields=["status", "attempts", "next_attempt_at", "sent_at", "last_error"])

        if outcome != "retry scheduled":
            audit.record(
                actor="系统",
                action="notification.delivered" if result.ok else "notification.delivery_failed",
                obj=delivery.notification,
                after={
                    "delivery": delivery.pk,
                    "channel": delivery.channel,
                    "status": delivery.status,
                    "attempts": delivery.attempts,
                    "error": delivery.last_error or None,
                },
            )
    if not result.ok:
        logger.warning(
            "notification delivery %s attempt %s: %s", delivery.pk, delivery.attempts, result.error
        )
    return outcome


def due_deliveries(*, grace_seconds: int = 0) -> list[int]:
    cutoff = timezone.now() - datetime.timedelta(seconds=grace_seconds)
    return list(
        Delivery.objects.filter(status=Delivery.Status.PENDING, next_attempt_at__lte=cutoff)
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)
    )


def retry_due(*, synchronous: bool = False, grace_seconds: int | None = None) -> dict[str, int]:
    """The safety net: pending deliveries whose time passed, queued again (their job or schedule was lost).

    Run every few minutes by the queue's own schedule (migration 0002). `synchronous` sends them here and
    now instead, for the management command on a machine without a worker. Returns a count per outcome.
    """
    if grace_seconds is None:
        grace_seconds = 0 if synchronous else SWEEP_GRACE_SECONDS
    outcomes: dict[str, int] = {}
    for delivery_id in due_deliveries(grace_seconds=grace_seconds):
        if not synchronous:
            enqueue_delivery(delivery_id)
            outcome = "queued"
        else:
            try:
                outcome = deliver(delivery_id)
            except Exception:  # one broken delivery must not keep the others from being sent
                logger.exception("notification delivery %s could not be attempted", delivery_id)
                outcome = "error"
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return outcomes
