"""The backfill rule (inspections/backfill.py): an act done on site without network reaches the platform later,
with the time it happened; accepted within BACKFILL_WORKING_DAYS working days, never from the future, and both
times kept (the real one for the record, the arrival for supervision)."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from jianchama.core.errors import DomainError
from jianchama.core.models import AuditEvent
from jianchama.core.workdays import add_working_days
from jianchama.inspections import services
from jianchama.inspections.models import InspectionRecord, Task

pytestmark = pytest.mark.django_db

HOUR = datetime.timedelta(hours=1)


def at_local(day: datetime.date, hour: int) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour, 0)))


def test_check_in_keeps_the_time_on_site_and_the_arrival(s):
    task = s.told_yesterday()
    on_site = timezone.now() - 2 * HOUR
    services.check_in(s.inspector_user, task=task, occurred_at=on_site)
    task = Task.objects.get(pk=task.pk)
    assert task.status == Task.Status.IN_PROGRESS
    assert task.started_at == on_site
    assert task.started_received_at is not None and task.started_received_at > on_site + HOUR
    event = AuditEvent.objects.filter(action="task.started").latest("sequence")
    # The audit row keeps both, to the millisecond (JSON's precision).
    millis = datetime.timedelta(milliseconds=1)
    assert abs(datetime.datetime.fromisoformat(event.after["occurred_at"]) - on_site) < millis
    assert (
        abs(datetime.datetime.fromisoformat(event.after["received_at"]) - task.started_received_at) < millis
    )


def test_check_in_online_has_no_arrival_time(s):
    task = s.in_progress()
    assert task.started_received_at is None


def test_a_result_recorded_offline_is_marked_backfilled_with_its_real_time(s):
    task = s.told_yesterday()
    services.check_in(s.inspector_user, task=task, occurred_at=timezone.now() - 3 * HOUR)
    made = timezone.now() - 2 * HOUR
    record = services.record_result(
        s.inspector_user,
        task=Task.objects.get(pk=task.pk),
        outcome=InspectionRecord.Outcome.RECTIFY,
        summary="燃气瓶存放不规范",
        findings=[
            services.FindingInput(item=f.item, entry=f.entry, result="not_compliant", note="存放不规范")
            for f in s.findings(task)
        ],
        rectify_working_days=5,
        occurred_at=made,
    )
    record.refresh_from_db()
    assert record.occurred_at == made
    assert record.happened_at == made
    assert record.backfilled
    # The rectification deadline counts from the day the result was made on site.
    assert record.rectify_by == add_working_days(timezone.localdate(made), 5)


def test_a_result_recorded_online_is_not_backfilled(s):
    task = s.recorded()
    record = InspectionRecord.objects.get(task=task)
    assert record.occurred_at is None and not record.backfilled


def test_an_act_older_than_the_allowed_working_days_is_refused(s, settings):
    settings.BACKFILL_WORKING_DAYS = 10
    task = s.notified()
    long_ago = at_local(timezone.localdate() - datetime.timedelta(days=30), 10)
    with pytest.raises(DomainError, match="已超过10个工作日，不能补录"):
        services.check_in(s.inspector_user, task=task, occurred_at=long_ago)
    assert Task.objects.get(pk=task.pk).status == Task.Status.NOTIFIED


def test_an_act_from_the_future_is_refused(s):
    task = s.notified()
    with pytest.raises(DomainError, match="晚于当前时间"):
        services.check_in(s.inspector_user, task=task, occurred_at=timezone.now() + HOUR)
    assert Task.objects.get(pk=task.pk).status == Task.Status.NOTIFIED


def test_a_phone_clock_slightly_ahead_is_accepted(s):
    task = s.notified()
    services.check_in(
        s.inspector_user, task=task, occurred_at=timezone.now() + datetime.timedelta(seconds=30)
    )
    assert Task.objects.get(pk=task.pk).status == Task.Status.IN_PROGRESS


def test_a_time_without_a_zone_is_refused(s):
    task = s.notified()
    with pytest.raises(DomainError, match="须带时区"):
        services.check_in(s.inspector_user, task=task, occurred_at=datetime.datetime(2026, 12, 1, 9, 0))


def test_a_result_made_before_the_check_in_is_refused(s):
    task = s.told_yesterday()
    services.check_in(s.inspector_user, task=task, occurred_at=timezone.now() - HOUR)
    with pytest.raises(DomainError, match="早于开始检查的时间"):
        services.record_result(
            s.inspector_user,
            task=Task.objects.get(pk=task.pk),
            outcome=InspectionRecord.Outcome.NO_PROBLEM,
            summary="未发现问题",
            findings=s.findings(task),
            occurred_at=timezone.now() - 2 * HOUR,
        )
    assert not InspectionRecord.objects.filter(task=task).exists()


def test_the_task_page_shows_a_backfilled_result(s, client):
    task = s.told_yesterday()
    services.check_in(s.inspector_user, task=task, occurred_at=timezone.now() - 3 * HOUR)
    services.record_result(
        s.inspector_user,
        task=Task.objects.get(pk=task.pk),
        outcome=InspectionRecord.Outcome.NO_PROBLEM,
        summary="未发现问题",
        findings=s.findings(task),
        occurred_at=timezone.now() - 2 * HOUR,
    )
    client.force_login(s.supervisor)
    page = client.get(f"/tasks/{task.pk}/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "现场形成" in text and "补录" in text and "上传于" in text
