"""The government app's webhook (F-23) against a real local HTTP server: payload, signature, retries."""

from __future__ import annotations

import datetime
import hashlib
import hmac
import json
import socket
import time

import pytest
from django.utils import timezone
from django_q.models import Schedule

from jianchama.core.models import AuditEvent
from jianchama.notifications import jobs, services
from jianchama.notifications.models import Delivery
from tests.factories import EnterpriseFactory

from .conftest import WEBHOOK_SECRET

pytestmark = pytest.mark.django_db


def _notify(enterprise=None, **overrides):
    enterprise = enterprise or EnterpriseFactory(name="上海金山燃气有限公司")
    fields = {
        "enterprise": enterprise,
        "event": "task.notified",
        "subject": "检查通知：燃气经营许可情况检查",
        "body": "金山区城市管理行政执法局将于2026年12月1日上午对贵单位进行现场检查。",
        "payload": {"task": "JS-2026-0001", "date": datetime.date(2026, 12, 1), "items": ["燃气经营许可"]},
    }
    fields.update(overrides)
    return services.notify_enterprise(**fields)


def _webhook_delivery(notification) -> Delivery:
    return notification.deliveries.get(channel=Delivery.Channel.WEBHOOK)


def _expected_signature(timestamp: str, body: bytes) -> str:
    digest = hmac.new(WEBHOOK_SECRET.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def _time_passes(delivery: Delivery) -> None:
    """Make the delivery's retry due now (instead of sleeping through the back-off)."""
    past = timezone.now() - datetime.timedelta(seconds=1)
    Delivery.objects.filter(pk=delivery.pk, status=Delivery.Status.PENDING).update(next_attempt_at=past)


def test_payload_headers_and_signature(gov_app):
    notification = _notify()
    delivery = _webhook_delivery(notification)
    before = int(time.time())

    assert jobs.deliver(delivery.pk) == "sent"

    assert len(gov_app.requests) == 1
    request = gov_app.requests[0]
    assert request.path == "/jianchama/webhook"
    headers = {k.lower(): v for k, v in request.headers.items()}
    assert headers["content-type"] == "application/json; charset=utf-8"
    assert headers["x-jianchama-event"] == "task.notified"
    assert headers["x-jianchama-delivery"] == str(delivery.pk)
    timestamp = headers["x-jianchama-timestamp"]
    assert before <= int(timestamp) <= int(time.time())

    # UTF-8 as is, not \u escapes.
    assert "上海金山燃气有限公司".encode() in request.body
    assert request.json == {
        "id": notification.pk,
        "event": "task.notified",
        "created_at": notification.created_at.isoformat(),
        "enterprise": {"uscc": notification.enterprise.uscc, "name": "上海金山燃气有限公司"},
        "subject": "检查通知：燃气经营许可情况检查",
        "body": "金山区城市管理行政执法局将于2026年12月1日上午对贵单位进行现场检查。",
        "data": {"task": "JS-2026-0001", "date": "2026-12-01", "items": ["燃气经营许可"]},
    }

    # The receiver recomputes the HMAC with the shared secret: it verifies, and a changed body does not.
    signature = headers["x-jianchama-signature"]
    assert hmac.compare_digest(signature, _expected_signature(timestamp, request.body))
    tampered = request.body.replace("12月1日".encode(), "12月2日".encode())
    assert tampered != request.body
    assert not hmac.compare_digest(signature, _expected_signature(timestamp, tampered))
    assert not hmac.compare_digest(signature, _expected_signature(str(int(timestamp) + 60), request.body))

    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.SENT
    assert delivery.sent_at is not None
    (attempt,) = delivery.attempt_log.all()
    assert (attempt.number, attempt.ok, attempt.http_status, attempt.error) == (1, True, 200, "")
    assert AuditEvent.objects.filter(action="notification.delivered", object_id=str(notification.pk)).exists()


def test_sent_delivery_is_not_sent_again(gov_app):
    delivery = _webhook_delivery(_notify())
    assert jobs.deliver(delivery.pk) == "sent"
    assert jobs.deliver(delivery.pk) == "already sent"
    assert len(gov_app.requests) == 1
    assert delivery.attempt_log.count() == 1


def test_server_that_always_fails_gives_up_after_max_attempts(gov_app, settings):
    settings.WEBHOOK_MAX_ATTEMPTS = 3
    gov_app.default_status = 503
    delivery = _webhook_delivery(_notify())

    outcomes = []
    for _ in range(3):
        outcomes.append(jobs.deliver(delivery.pk))
        _time_passes(delivery)
    assert outcomes == ["retry scheduled", "retry scheduled", "failed"]
    assert jobs.deliver(delivery.pk) == "already failed"

    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.FAILED
    assert delivery.attempts == 3
    assert delivery.next_attempt_at is None
    assert delivery.last_error.startswith("HTTP 503")
    assert "服务暂不可用" in delivery.last_error
    assert [(a.ok, a.http_status) for a in delivery.attempt_log.all()] == [(False, 503)] * 3
    assert len(gov_app.requests) == 3
    # Retries were scheduled after the first two failures only.
    assert Schedule.objects.filter(func=services.DELIVER_JOB, args=repr((delivery.pk,))).count() == 2
    failed = AuditEvent.objects.get(action="notification.delivery_failed")
    assert failed.after["attempts"] == 3


def test_not_due_delivery_is_left_alone(gov_app):
    gov_app.default_status = 500
    delivery = _webhook_delivery(_notify())
    assert jobs.deliver(delivery.pk) == "retry scheduled"
    # A duplicate job (the sweep and the schedule together) before the back-off is over does nothing.
    assert jobs.deliver(delivery.pk) == "not due"
    assert len(gov_app.requests) == 1


def test_connection_refused_is_a_failure_with_its_reason(webhook_settings):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    webhook_settings.GOV_APP_WEBHOOK_URL = f"http://127.0.0.1:{port}/hook"  # nobody listens
    delivery = _webhook_delivery(_notify())

    assert jobs.deliver(delivery.pk) == "retry scheduled"

    delivery.refresh_from_db()
    (attempt,) = delivery.attempt_log.all()
    assert not attempt.ok
    assert attempt.http_status is None
    assert attempt.error.startswith("无法连接")
    assert "refused" in attempt.error.lower()
    assert delivery.status == Delivery.Status.PENDING
    assert delivery.last_error == attempt.error


def test_timeout_is_a_failure_with_its_reason(gov_app, settings):
    settings.WEBHOOK_TIMEOUT_SECONDS = 0.3
    gov_app.delay = 1.5
    delivery = _webhook_delivery(_notify())

    assert jobs.deliver(delivery.pk) == "retry scheduled"

    (attempt,) = delivery.attempt_log.all()
    assert not attempt.ok
    assert attempt.http_status is None
    assert "超时" in attempt.error
    assert 250 <= attempt.duration_ms < 1500


def test_redirect_is_not_followed(gov_app):
    gov_app.statuses.append(302)
    delivery = _webhook_delivery(_notify())
    assert jobs.deliver(delivery.pk) == "retry scheduled"
    (attempt,) = delivery.attempt_log.all()
    assert (attempt.ok, attempt.http_status) == (False, 302)


def test_missing_secret_fails_at_once_without_sending(gov_app, settings):
    settings.GOV_APP_WEBHOOK_SECRET = ""
    delivery = _webhook_delivery(_notify())
    assert jobs.deliver(delivery.pk) == "failed"
    assert gov_app.requests == []
    delivery.refresh_from_db()
    assert "GOV_APP_WEBHOOK_SECRET" in delivery.last_error


def test_backoff_doubles(settings):
    settings.WEBHOOK_BACKOFF_SECONDS = 30
    assert [jobs.backoff_delay(n).total_seconds() for n in (1, 2, 3, 4)] == [30, 60, 120, 240]


def test_webhook_body_is_json_of_the_notification(gov_app):
    notification = _notify(payload={})
    from jianchama.notifications.channels import webhook_body

    assert json.loads(webhook_body(notification))["data"] == {}


def test_a_delivery_given_up_is_a_to_do_for_the_platform_administrator_only(gov_app, settings, client):
    """The platform administrator's home shows 近30天发送失败的通知 once a delivery is given up; the link opens the
    admin's list of failed deliveries with it. No other role sees deliveries (their phone numbers and URLs)."""
    import re

    from jianchama.core.roles import Role
    from jianchama.notifications.models import Delivery as D
    from tests.factories import user_for

    admin = user_for(Role.PLATFORM_ADMIN, is_staff=True, is_superuser=True)
    client.force_login(admin)
    home = client.get("/", follow=True).content.decode()
    assert 'data-todo="failed_deliveries"' not in home
    settings.WEBHOOK_MAX_ATTEMPTS = 1
    gov_app.default_status = 503
    delivery = _webhook_delivery(_notify())
    assert jobs.deliver(delivery.pk) == "failed"
    home = client.get("/", follow=True).content.decode()
    link = re.search(
        r'<a class="todo" href="([^"]+)" data-todo="failed_deliveries">\s*<span[^>]*>1</span>', home
    )
    assert link, "the failed delivery is not on the administrator's home"
    listed = client.get(link.group(1).replace("&amp;", "&"))
    assert listed.status_code == 200 and "HTTP 503" in listed.content.decode()
    supervisor = user_for(Role.SUPERVISOR)
    assert not D.objects.visible_to(supervisor).exists() and D.objects.visible_to(admin).count() == 1
