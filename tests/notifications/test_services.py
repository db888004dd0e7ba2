"""notify_enterprise / notify_user / mark_read, SMS to the contacts, inbox scoping, the command."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django_q.models import OrmQ
from django_q.signing import SignedPackage

from jianchama.core import audit, sms
from jianchama.core.errors import DomainError, PermissionDenied
from jianchama.core.models import AuditEvent
from jianchama.core.roles import Role
from jianchama.notifications import jobs, services
from jianchama.notifications.models import Delivery, Notification
from tests.factories import ContactFactory, EnterpriseFactory, user_for

pytestmark = pytest.mark.django_db


def _notify(enterprise, **overrides):
    fields = {
        "enterprise": enterprise,
        "event": "task.notified",
        "subject": "检查通知：燃气经营许可情况检查",
        "body": "将于2026年12月1日上午进行现场检查。",
        "payload": {"task": "JS-2026-0001"},
    }
    fields.update(overrides)
    return services.notify_enterprise(**fields)


def test_contacts_receive_the_sms(no_webhook):
    enterprise = EnterpriseFactory()
    ContactFactory(enterprise=enterprise, phone="13900000001")
    ContactFactory(enterprise=enterprise, phone="13900000002", kind="on_site", name="李主管")
    ContactFactory(phone="13900000003")  # another enterprise's contact

    notification = _notify(enterprise)

    deliveries = list(notification.deliveries.all())
    assert [(d.channel, d.target, d.status) for d in deliveries] == [
        ("sms", "13900000001", "pending"),
        ("sms", "13900000002", "pending"),
    ]
    assert sms.outbox == []  # queued, not sent by the service
    for delivery in deliveries:
        assert jobs.deliver(delivery.pk) == "sent"
    assert sorted(m.phone for m in sms.outbox) == ["13900000001", "13900000002"]
    for message in sms.outbox:
        assert "检查通知：燃气经营许可情况检查" in message.text
        assert "请登录企业端查看" in message.text
    assert jobs.deliver(deliveries[0].pk) == "already sent"
    assert len(sms.outbox) == 2


def test_webhook_delivery_only_when_configured(settings):
    enterprise = EnterpriseFactory()
    settings.GOV_APP_WEBHOOK_URL = ""
    assert not _notify(enterprise).deliveries.exists()  # inbox only: no contacts, no webhook
    settings.GOV_APP_WEBHOOK_URL = "https://app.example.gov.cn/hook"
    (delivery,) = _notify(enterprise).deliveries.all()
    assert (delivery.channel, delivery.target) == ("webhook", "https://app.example.gov.cn/hook")


def test_notification_content_audit_and_queued_jobs(no_webhook, django_capture_on_commit_callbacks):
    enterprise = EnterpriseFactory()
    ContactFactory(enterprise=enterprise)
    task_like = ContactFactory(enterprise=enterprise)  # any model instance can be the related object

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        notification = _notify(enterprise, related=task_like, subject="  检查通知  ")

    assert notification.subject == "检查通知"
    assert (notification.object_type, notification.object_id) == (
        "registry.EnterpriseContact",
        str(task_like.pk),
    )
    assert notification.payload == {"task": "JS-2026-0001"}
    assert notification.read_at is None
    event = AuditEvent.objects.get(action="notification.created")
    assert event.object_id == str(notification.pk)
    assert event.actor_label == "系统"
    assert event.after["deliveries"] == {"sms": 2}
    assert audit.action_label("notification.created") == "发送通知"
    # One queued job per delivery, each after commit.
    assert len(callbacks) == 2
    jobs_queued = [SignedPackage.loads(job.payload) for job in OrmQ.objects.all()]
    assert sorted(job["args"] for job in jobs_queued) == sorted(
        (pk,) for pk in notification.deliveries.values_list("pk", flat=True)
    )


def test_notify_refuses_incomplete_input(no_webhook):
    enterprise = EnterpriseFactory()
    with pytest.raises(DomainError) as refused:
        _notify(enterprise, subject=" ", body="")
    assert refused.value.problems == ["缺少通知标题", "缺少通知正文"]
    with pytest.raises(DomainError, match="未指定接收企业"):
        _notify(None)
    with pytest.raises(DomainError, match="事件代码不能超过 64 个字符"):
        _notify(enterprise, event="x" * 65)
    with pytest.raises(DomainError, match="JSON"):
        _notify(enterprise, payload={"when": object()})
    assert not Notification.objects.exists()


def test_long_subject_is_shortened(no_webhook):
    notification = _notify(EnterpriseFactory(), subject="检查告知：" + "上海市金山区某某执法单位、" * 30)
    assert len(notification.subject) == 200
    assert notification.subject.endswith("…")


def test_notify_user_is_inbox_only(gov_app):
    supervisor = user_for(Role.SUPERVISOR, phone="13900000077")
    notification = services.notify_user(
        user=supervisor, event="recommendation.due", subject="建议书即将到期", body="请在3个工作日内复查。"
    )
    assert notification.user == supervisor and notification.enterprise is None
    assert not notification.deliveries.exists()


def test_notify_user_with_sms_texts_the_user_s_phone_and_never_the_webhook(gov_app):
    supervisor = user_for(Role.SUPERVISOR, phone="13900000077")
    notification = services.notify_user(
        user=supervisor,
        event="recommendation.due",
        subject="建议书复查期限将至",
        body="请按期复查。",
        sms=True,
    )
    [delivery] = notification.deliveries.all()
    assert (delivery.channel, delivery.target) == ("sms", "13900000077")
    assert jobs.deliver(delivery.pk) == "sent"
    [message] = sms.outbox
    assert message.phone == "13900000077"
    assert "建议书复查期限将至" in message.text and "请登录检查码平台查看" in message.text
    # Without a phone on record, the inbox alone.
    no_phone = user_for(Role.SUPERVISOR)
    assert not services.notify_user(
        user=no_phone, event="x.y", subject="提醒", body="内容", sms=True
    ).deliveries.exists()


def test_inbox_scoping():
    enterprise_a, enterprise_b = EnterpriseFactory(), EnterpriseFactory()
    for_a = _notify(enterprise_a)
    for_b = _notify(enterprise_b)
    supervisor, other_supervisor = user_for(Role.SUPERVISOR), user_for(Role.SUPERVISOR)
    for_supervisor = services.notify_user(user=supervisor, event="x.y", subject="提醒", body="内容")
    contact_a = user_for(Role.ENTERPRISE_CONTACT, enterprise=enterprise_a)
    contact_b = user_for(Role.ENTERPRISE_CONTACT, enterprise=enterprise_b)
    inspector = user_for(Role.INSPECTOR)
    admin = user_for(Role.PLATFORM_ADMIN)
    from django.contrib.auth.models import AnonymousUser

    def visible(user):
        return set(Notification.objects.visible_to(user))

    assert visible(contact_a) == {for_a}
    assert visible(contact_b) == {for_b}
    assert visible(supervisor) == {for_supervisor}
    assert visible(other_supervisor) == set()
    assert visible(inspector) == set()
    assert visible(admin) == {for_a, for_b, for_supervisor}
    assert visible(AnonymousUser()) == set()
    # A contact account not attached to an enterprise sees nothing, not everything.
    assert visible(user_for(Role.ENTERPRISE_CONTACT, enterprise=None)) == set()


def test_mark_read():
    enterprise_a, enterprise_b = EnterpriseFactory(), EnterpriseFactory()
    notification = _notify(enterprise_a)
    contact_a = user_for(Role.ENTERPRISE_CONTACT, enterprise=enterprise_a)
    contact_b = user_for(Role.ENTERPRISE_CONTACT, enterprise=enterprise_b)

    with pytest.raises(PermissionDenied, match="无权查看这条通知"):
        services.mark_read(contact_b, notification=notification)
    notification.refresh_from_db()
    assert notification.read_at is None

    services.mark_read(contact_a, notification=notification)
    notification.refresh_from_db()
    first_read = notification.read_at
    assert first_read is not None
    event = AuditEvent.objects.get(action="notification.read")
    assert event.actor == contact_a

    services.mark_read(contact_a, notification=notification)  # reading again changes nothing
    notification.refresh_from_db()
    assert notification.read_at == first_read
    assert AuditEvent.objects.filter(action="notification.read").count() == 1


def test_command_sends_due_deliveries_without_a_worker(no_webhook, capsys):
    enterprise = EnterpriseFactory()
    ContactFactory(enterprise=enterprise, phone="13900000009")
    delivery = _notify(enterprise).deliveries.get()

    call_command("send_pending_notifications")

    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.SENT
    assert [m.phone for m in sms.outbox] == ["13900000009"]
    out = capsys.readouterr().out
    assert "到期待发送的投递：1 条" in out and "发送成功：1 条" in out

    call_command("send_pending_notifications")  # nothing left: nothing sent twice
    assert len(sms.outbox) == 1


def test_sms_backend_failure_is_recorded_and_retried(no_webhook, settings):
    settings.SMS_BACKEND = "tests.notifications.test_services.BrokenSms"
    enterprise = EnterpriseFactory()
    ContactFactory(enterprise=enterprise)
    delivery = _notify(enterprise).deliveries.get()

    assert jobs.deliver(delivery.pk) == "retry scheduled"

    (attempt,) = delivery.attempt_log.all()
    assert not attempt.ok
    assert "短信网关无响应" in attempt.error


class BrokenSms(sms.BaseBackend):
    def send(self, phone: str, text: str) -> None:
        raise ConnectionError("短信网关无响应")


def test_every_notification_event_in_the_code_reads_in_chinese():
    """The inbox and the timelines show a notification's event by its label (notifications/apps.py): every
    event the code sends (`event="…"` in the services) has one, so no raw key reaches a page."""
    import pathlib
    import re

    from jianchama.notifications.apps import event_label

    source = pathlib.Path(__file__).resolve().parents[2] / "src" / "jianchama"
    events = {
        event
        for path in source.rglob("*.py")
        if "migrations" not in path.parts
        for event in re.findall(r'\bevent="([a-z_]+\.[a-z_]+)"', path.read_text(encoding="utf-8"))
    }
    assert len(events) > 20
    assert not [event for event in sorted(events) if event_label(event) == event]
