"""The inbox pages, through the Django test client."""

from __future__ import annotations

import pytest
from django.urls import reverse

from jianchama.core.roles import Role
from jianchama.notifications import services
from tests.factories import EnterpriseFactory, user_for

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.notifications.urls")]


@pytest.fixture
def setting(no_webhook):
    enterprise_a, enterprise_b = EnterpriseFactory(), EnterpriseFactory()
    mine = services.notify_enterprise(
        enterprise=enterprise_a,
        event="task.notified",
        subject="检查通知：燃气经营许可情况检查",
        body="将于2026年12月1日上午进行现场检查。\n请准备燃气经营许可证。",
        payload={},
    )
    theirs = services.notify_enterprise(
        enterprise=enterprise_b, event="task.notified", subject="别家企业的通知", body="内容", payload={}
    )
    contact = user_for(Role.ENTERPRISE_CONTACT, enterprise=enterprise_a)
    return mine, theirs, contact


def test_inbox_lists_own_notifications_unread_marked(client, setting):
    mine, _theirs, contact = setting
    client.force_login(contact)

    page = client.get(reverse("notifications:inbox"))

    assert page.status_code == 200
    html = page.content.decode()
    assert "检查通知：燃气经营许可情况检查" in html
    assert "别家企业的通知" not in html
    assert "1 条未读" in html
    assert reverse("notifications:detail", args=[mine.pk]) in html


def test_detail_then_mark_read(client, setting):
    mine, _theirs, contact = setting
    client.force_login(contact)

    page = client.get(reverse("notifications:detail", args=[mine.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "请准备燃气经营许可证" in html
    assert "csrfmiddlewaretoken" in html
    mine.refresh_from_db()
    assert mine.read_at is None  # a GET changes nothing

    response = client.post(reverse("notifications:mark_read", args=[mine.pk]))
    assert response.status_code == 302
    assert response["Location"] == reverse("notifications:detail", args=[mine.pk])
    mine.refresh_from_db()
    assert mine.read_at is not None
    assert "已读" in client.get(reverse("notifications:detail", args=[mine.pk])).content.decode()
    assert "没有未读通知" in client.get(reverse("notifications:inbox")).content.decode()


def test_other_enterprise_notification_is_not_found(client, setting):
    _mine, theirs, contact = setting
    client.force_login(contact)
    assert client.get(reverse("notifications:detail", args=[theirs.pk])).status_code == 404
    assert client.post(reverse("notifications:mark_read", args=[theirs.pk])).status_code == 404
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_mark_read_needs_post_and_login(client, setting):
    mine, _theirs, contact = setting
    assert client.get(reverse("notifications:inbox")).status_code == 302  # to the login page
    client.force_login(contact)
    assert client.get(reverse("notifications:mark_read", args=[mine.pk])).status_code == 405


def test_csrf_is_enforced(setting):
    from django.test import Client

    mine, _theirs, contact = setting
    client = Client(enforce_csrf_checks=True)
    client.force_login(contact)
    assert client.post(reverse("notifications:mark_read", args=[mine.pk])).status_code == 403
    mine.refresh_from_db()
    assert mine.read_at is None


def test_admin_lists_notifications_deliveries_and_attempts_read_only(
    admin_client, setting, settings, no_proxy
):
    from jianchama.notifications import jobs

    settings.GOV_APP_WEBHOOK_URL = "http://127.0.0.1:9/hook"  # discard port: the attempt fails
    settings.GOV_APP_WEBHOOK_SECRET = "s"
    settings.WEBHOOK_TIMEOUT_SECONDS = 1
    mine, _theirs, _contact = setting
    notification = services.notify_enterprise(
        enterprise=mine.enterprise, event="task.notified", subject="推送测试", body="内容", payload={}
    )
    jobs.deliver(notification.deliveries.get().pk)
    for model in ("notification", "delivery", "deliveryattempt"):
        page = admin_client.get(reverse(f"admin:notifications_{model}_changelist"))
        assert page.status_code == 200
        assert admin_client.get(reverse(f"admin:notifications_{model}_add")).status_code == 403
    detail = admin_client.get(reverse("admin:notifications_notification_change", args=[notification.pk]))
    assert detail.status_code == 200
    assert "推送测试" in detail.content.decode()
