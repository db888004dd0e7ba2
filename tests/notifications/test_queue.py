"""Sending happens on the task queue after the caller's commit, never in its request; retries go through
django-q's scheduler. These tests commit for real (transactional_db) and run the queue's own worker."""

from __future__ import annotations

import datetime
import threading

import pytest
from django.db import connection, transaction
from django.utils import timezone
from django_q.models import OrmQ, Schedule, Task
from django_q.signing import SignedPackage

from jianchama.notifications import jobs, services
from jianchama.notifications.models import Delivery, Notification
from tests.factories import EnterpriseFactory

from .conftest import run_queued_jobs, run_scheduler

pytestmark = pytest.mark.django_db(transaction=True)


def _notify(enterprise):
    return services.notify_enterprise(
        enterprise=enterprise,
        event="task.notified",
        subject="检查通知：燃气经营许可情况检查",
        body="将于2026年12月1日上午进行现场检查。",
        payload={"task": "JS-2026-0001"},
    )


def _queued_jobs() -> list[dict]:
    return [SignedPackage.loads(job.payload) for job in OrmQ.objects.order_by("pk")]


def _deliver_jobs(delivery_id: int) -> list[dict]:
    return [
        job for job in _queued_jobs() if job["func"] == services.DELIVER_JOB and job["args"] == (delivery_id,)
    ]


def test_sending_is_queued_after_commit_and_run_by_the_worker(gov_app):
    enterprise = EnterpriseFactory()
    with transaction.atomic():
        notification = _notify(enterprise)
        # Inside the caller's transaction nothing is queued yet, let alone sent.
        assert OrmQ.objects.count() == 0
    delivery = notification.deliveries.get()
    assert delivery.channel == Delivery.Channel.WEBHOOK

    # Committed: one job on the ORM broker; the government app has heard nothing.
    assert len(_deliver_jobs(delivery.pk)) == 1
    assert gov_app.requests == []

    run_queued_jobs()

    assert len(gov_app.requests) == 1
    assert gov_app.requests[0].json["id"] == notification.pk
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.SENT
    assert OrmQ.objects.count() == 0
    task = Task.objects.get(func=services.DELIVER_JOB)
    assert task.success and task.result == "sent"


def test_rolled_back_caller_queues_nothing(gov_app):
    enterprise = EnterpriseFactory()
    with pytest.raises(RuntimeError), transaction.atomic():
        _notify(enterprise)
        raise RuntimeError("审批失败")
    assert Notification.objects.count() == 0
    assert OrmQ.objects.count() == 0
    assert gov_app.requests == []


def test_retries_with_growing_backoff_until_sent(gov_app):
    gov_app.statuses.extend([500, 500])  # then 200
    with transaction.atomic():
        notification = _notify(EnterpriseFactory())
    delivery = notification.deliveries.get()
    retry_schedules = Schedule.objects.filter(func=services.DELIVER_JOB, args=repr((delivery.pk,)))

    delays = []
    for attempt in (1, 2):
        run_queued_jobs()
        delivery.refresh_from_db()
        assert (delivery.status, delivery.attempts) == (Delivery.Status.PENDING, attempt)
        last = delivery.attempt_log.get(number=attempt)
        assert (last.ok, last.http_status) == (False, 500)
        # The retry waits WEBHOOK_BACKOFF_SECONDS, doubled after each failure, and the queue's one-off
        # schedule fires exactly then.
        scheduled = retry_schedules.get()
        assert scheduled.schedule_type == Schedule.ONCE
        assert scheduled.next_run == delivery.next_attempt_at
        delay = (delivery.next_attempt_at - last.started_at).total_seconds()
        assert 30 * 2 ** (attempt - 1) <= delay < 30 * 2 ** (attempt - 1) + 5
        delays.append(delay)
        # Not due yet: the scheduler leaves it alone.
        run_scheduler()
        assert _deliver_jobs(delivery.pk) == []
        # Time passes (the due times are moved back rather than slept through), the scheduler queues it.
        past = timezone.now() - datetime.timedelta(seconds=1)
        Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=past)
        retry_schedules.update(next_run=past)
        run_scheduler()
        assert len(_deliver_jobs(delivery.pk)) == 1
        assert not retry_schedules.exists()  # a one-off schedule is deleted once it has fired
    assert delays[1] > delays[0]

    run_queued_jobs()

    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.SENT
    assert [(a.number, a.ok, a.http_status) for a in delivery.attempt_log.all()] == [
        (1, False, 500),
        (2, False, 500),
        (3, True, 200),
    ]
    assert len(gov_app.requests) == 3
    assert {r.headers["X-Jianchama-Delivery"] for r in gov_app.requests} == {str(delivery.pk)}
    assert not retry_schedules.exists()


def test_sweep_requeues_a_lost_delivery(gov_app):
    with transaction.atomic():
        notification = _notify(EnterpriseFactory())
    delivery = notification.deliveries.get()
    OrmQ.objects.all().delete()  # the job was lost (e.g. the broker was down at commit)

    assert jobs.retry_due() == {}  # within the grace period: its own job may still come
    Delivery.objects.filter(pk=delivery.pk).update(
        next_attempt_at=timezone.now() - datetime.timedelta(seconds=jobs.SWEEP_GRACE_SECONDS + 1)
    )
    assert jobs.retry_due() == {"queued": 1}
    run_queued_jobs()

    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.SENT
    assert len(gov_app.requests) == 1


def test_sweep_is_scheduled_on_the_queue():
    # Migration 0002 installs it; a transactional test may have flushed the table, so re-run its function.
    from importlib import import_module

    from django.apps import apps

    migration = import_module("jianchama.notifications.migrations.0002_retry_due_schedule")
    migration.create_schedule(apps, None)
    migration.create_schedule(apps, None)  # idempotent
    sweep = Schedule.objects.get(name="notifications.retry_due")
    assert (sweep.func, sweep.schedule_type, sweep.minutes) == (
        "jianchama.notifications.jobs.retry_due",
        Schedule.MINUTES,
        5,
    )


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL")
def test_two_workers_do_not_both_send(gov_app):
    gov_app.delay = 0.5
    with transaction.atomic():
        notification = _notify(EnterpriseFactory())
    delivery = notification.deliveries.get()
    outcomes = []

    def work():
        try:
            outcomes.append(jobs.deliver(delivery.pk))
        finally:
            connection.close()

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["already sent", "sent"]
    assert len(gov_app.requests) == 1
    assert delivery.attempt_log.count() == 1
