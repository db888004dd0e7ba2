"""Webhooks to a body's own system (issue 12): registered through the API, written with the change that
causes them, sent by the queue's job to a real local HTTP server that verifies the HMAC-SHA256 signature;
a failing endpoint is retried with back-off and disabled after repeated failed deliveries."""

from __future__ import annotations

import hashlib
import hmac
import http.server
import json
import threading

import pytest
from django_q.models import Schedule

from jianchama.integrations import jobs
from jianchama.integrations.models import Webhook, WebhookDelivery
from jianchama.notifications.models import Notification
from tests.factories import valid_since_yesterday

from .conftest import task_payload

pytestmark = pytest.mark.django_db


class Receiver:
    """A local HTTP server on a free port that records what it receives and answers `status`."""

    def __init__(self, status: int = 200):
        self.received: list[tuple[dict, bytes]] = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append((dict(self.headers), body))
                self.send_response(receiver.status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.status = status
        self.server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(settings):
    settings.API_WEBHOOK_ALLOW_HTTP = True
    server = Receiver()
    yield server
    server.close()


def verify(secret: str, headers: dict, body: bytes) -> bool:
    expected = hmac.new(
        secret.encode(), headers["X-Jianchama-Timestamp"].encode() + b"." + body, hashlib.sha256
    ).hexdigest()
    return hmac.compare_digest(headers["X-Jianchama-Signature"], f"sha256={expected}")


def test_events_reach_the_bodys_system_signed(api, world, receiver):
    created = api.post(
        "/webhooks", {"url": receiver.url, "events": ["task.status_changed", "result.recorded"]}
    )
    assert created.status_code == 201, created.content
    secret = created.json()["secret"]
    assert [h["url"] for h in api.get("/webhooks").json()] == [receiver.url]
    assert "secret" not in api.get("/webhooks").json()[0]

    number = api.post("/tasks", task_payload(world)).json()["number"]
    api.post(f"/tasks/{number}/submit", {})
    deliveries = list(WebhookDelivery.objects.order_by("pk"))
    assert [d.payload["data"]["to"] for d in deliveries] == ["draft", "submitted"]
    for delivery in deliveries:
        assert jobs.deliver_webhook(delivery.pk) == "sent"
    assert len(receiver.received) == 2
    for headers, body in receiver.received:
        assert verify(secret, headers, body)
        assert not verify("another secret", headers, body)
        document = json.loads(body)
        assert document["task"]["number"] == number
        assert headers["X-Jianchama-Event"] == "task.status_changed"
    assert json.loads(receiver.received[1][1])["data"]["to"] == "submitted"
    assert WebhookDelivery.objects.filter(status="sent").count() == 2
    # Sent once: a second run of the job (a lost acknowledgement) sends nothing again.
    assert jobs.deliver_webhook(deliveries[0].pk) == "nothing to do"
    # Another body's client hears nothing of this body's tasks.
    assert not WebhookDelivery.objects.exclude(webhook__client=world.client_obj).exists()


def test_a_failing_endpoint_is_retried_then_disabled(api, world, receiver, settings):
    settings.WEBHOOK_MAX_ATTEMPTS = 2
    settings.API_WEBHOOK_DISABLE_AFTER = 1
    receiver.status = 500
    api.post("/webhooks", {"url": receiver.url, "events": ["task.status_changed"]})
    api.post("/tasks", task_payload(world))
    delivery = WebhookDelivery.objects.get()
    assert jobs.deliver_webhook(delivery.pk) == "retry scheduled"
    assert Schedule.objects.filter(func="jianchama.integrations.jobs.deliver_webhook").count() == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("pending", 1, 500)
    assert jobs.deliver_webhook(delivery.pk) == "failed"
    hook = Webhook.objects.get()
    assert not hook.is_active
    assert Notification.objects.filter(user=world.admin, event="api.webhook_disabled").exists()


def test_webhook_registration_is_checked(api, world, settings):
    settings.DEBUG = False
    settings.API_WEBHOOK_ALLOW_HTTP = False
    response = api.post("/webhooks", {"url": "http://example.com/x", "events": ["nope"]})
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert "https://" in detail and "未知的事件" in detail
    ok = api.post("/webhooks", {"url": "https://example.com/x", "events": ["scan.recorded"]}).json()
    assert api.delete(f"/webhooks/{ok['id']}").status_code == 204
    assert api.delete(f"/webhooks/{ok['id']}").status_code == 404


def test_send_again_from_the_page(api, world, receiver, settings):
    from django.test import Client
    from django.urls import reverse

    settings.WEBHOOK_MAX_ATTEMPTS = 1
    receiver.status = 500
    api.post("/webhooks", {"url": receiver.url, "events": ["task.status_changed"]})
    api.post("/tasks", task_payload(world))
    delivery = WebhookDelivery.objects.get()
    assert jobs.deliver_webhook(delivery.pk) == "failed"
    admin = Client()
    admin.force_login(world.admin)
    page = admin.get(reverse("integrations:client_detail", args=[world.client_obj.pk])).content.decode()
    assert "重新推送" in page and "HTTP 500" in page
    other = Client()
    other.force_login(world.other.admin)
    assert other.post(reverse("integrations:delivery_resend", args=[delivery.pk])).status_code == 404
    admin.post(reverse("integrations:delivery_resend", args=[delivery.pk]))
    receiver.status = 200
    assert jobs.deliver_webhook(delivery.pk) == "sent"
    first_id = json.loads(receiver.received[0][1])["id"]
    assert json.loads(receiver.received[-1][1])["id"] == first_id  # the same event id: the receiver dedups


def test_events_nobody_subscribes_to_cost_no_webhook_query_and_a_new_webhook_is_heard_at_once(
    api, world, receiver
):
    """The scan page emits scan.recorded on every scan: with no active webhook subscribed to an event, the
    event reads no webhook table (the subscribed events are cached); a webhook registered, disabled or its
    client stopped changes what is heard from the next event on, not after the cache's timeout."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from jianchama.integrations import services as integrations
    from jianchama.integrations.webhooks import subscribed_events

    def webhook_queries(call) -> int:
        with CaptureQueriesContext(connection) as captured:
            call()
        return sum("integrations_webhook" in q["sql"] for q in captured.captured_queries)

    subscribed_events()  # cached: nothing subscribed
    number = api.post("/tasks", task_payload(world)).json()["number"]
    assert webhook_queries(lambda: api.post(f"/tasks/{number}/submit", {})) == 0
    assert not WebhookDelivery.objects.exists()

    created = api.post("/webhooks", {"url": receiver.url, "events": ["task.status_changed"]})
    assert created.status_code == 201
    assert subscribed_events() == {"task.status_changed"}
    api.post(f"/tasks/{number}/approve")
    assert sorted(d.payload["data"]["to"] for d in WebhookDelivery.objects.all()) == ["approved", "notified"]

    integrations.disable_client(world.admin, client=world.client_obj)
    assert subscribed_events() == frozenset()


def test_the_body_hears_of_findings_once_warned_and_of_recommendations(api, world, receiver):
    """Besides a task's events, a body's system may hear what supervision does to the body: a finding once
    the body is warned of it (before that the finding is the bureau's note, which the body does not see), and a recommendation
    letter issued to it. Another body's client hears none of it."""
    from jianchama.core.roles import Role
    from jianchama.supervision import steps
    from jianchama.supervision.models import Finding
    from jianchama.supervision.services import create_finding
    from tests.factories import user_for

    w = world
    events = ["evaluation.released", "finding.raised", "recommendation.issued"]
    created = api.post("/webhooks", {"url": receiver.url, "events": events})
    assert created.status_code == 201, created.content
    secret = created.json()["secret"]
    supervisor = user_for(Role.SUPERVISOR, region=w.body.region)
    finding = create_finding(
        supervisor,
        source=Finding.Source.OTHER,
        body=w.body,
        title="检查未使用检查码",
        description="一次检查未亮码",
    )
    assert not WebhookDelivery.objects.exists()  # not yet the body's to see
    steps.warn_body(supervisor, finding=finding, channel="phone", content="检查须出示检查码")
    warning = finding.warnings.get()
    steps.record_warning_outcome(supervisor, warning=warning, rectified=False, note="仍未整改")
    rec = steps.issue_recommendation(
        supervisor, finding=finding, facts="多次未亮码", legal_basis="《办法》第十条", demanded="立即整改"
    )

    deliveries = list(WebhookDelivery.objects.order_by("pk"))
    assert [d.event for d in deliveries] == ["finding.raised", "recommendation.issued"]
    for delivery in deliveries:
        assert jobs.deliver_webhook(delivery.pk) == "sent"
    raised, issued = (json.loads(body) for _, body in receiver.received)
    assert all(verify(secret, headers, body) for headers, body in receiver.received)
    assert raised["subject"] == {"type": "finding", "id": finding.pk}
    assert raised["data"]["title"] == "检查未使用检查码" and raised["data"]["channel"] == "phone"
    assert issued["subject"] == {"type": "recommendation", "number": rec.number}
    assert issued["data"]["rectify_by"] == rec.rectify_by.isoformat() and issued["data"]["direct"] is False
    assert not WebhookDelivery.objects.exclude(webhook__client=w.client_obj).exists()
    # (The evaluation release's event: tests/inspections/test_evaluation_release.py.)


def notified_task(api, world, **changes) -> str:
    """A task created, submitted and approved through the API: its code issued, the enterprise told."""
    number = api.post("/tasks", task_payload(world, **changes)).json()["number"]
    assert api.post(f"/tasks/{number}/submit", {}).status_code == 200
    approved = api.post(f"/tasks/{number}/approve")
    assert approved.json()["status"] == "notified", approved.json()
    return number


def delivered(receiver, secret: str, event: str) -> dict[str, dict]:
    """Send every pending delivery of `event` as the queue's job does; what the receiver got, by task number,
    each checked against the webhook's secret."""
    for delivery in WebhookDelivery.objects.filter(event=event, status="pending").order_by("pk"):
        assert jobs.deliver_webhook(delivery.pk) == "sent"
    documents = {}
    for headers, body in receiver.received:
        assert verify(secret, headers, body)
        assert headers["X-Jianchama-Event"] == event
        document = json.loads(body)
        documents[document["task"]["number"]] = document
    return documents


def test_task_started_reaches_the_bodys_system_however_the_visit_began(api, world, receiver):
    """task.started when an inspector checks in through the API, on the task's page or from the field app
    (offline, with the real time), when the enterprise's first genuine scan starts the visit, and when an
    emergency inspection starts before its approval."""
    import datetime
    import uuid

    from django.test import Client
    from django.urls import reverse
    from django.utils import timezone

    from jianchama.core.roles import Role
    from jianchama.inspections import services, signing
    from jianchama.inspections.models import InspectionCode, Task
    from tests.factories import user_for

    created = api.post("/webhooks", {"url": receiver.url, "events": ["task.started"]})
    secret = created.json()["secret"]
    by_api, on_page, in_field, by_scan = (notified_task(api, world) for _ in range(4))
    assert not WebhookDelivery.objects.exists()  # approving is not starting

    inspector = world.inspectors[0]
    answer = api.post(f"/tasks/{by_api}/check-in", {"inspector_certificate": inspector.number})
    assert answer.status_code == 200, answer.json()
    page = Client()
    page.force_login(inspector.user)
    page.post(reverse("inspections:task_action", args=[Task.objects.get(number=on_page).pk, "check_in"]))
    valid_since_yesterday(Task.objects.get(number=in_field))  # two hours ago may be yesterday in Shanghai
    arrived = timezone.now() - datetime.timedelta(hours=2)
    synced = page.post(
        reverse("inspections:field_sync"),
        {
            "client_id": str(uuid.uuid4()),
            "kind": "check_in",
            "task": str(Task.objects.get(number=in_field).pk),
            "occurred_at": arrived.isoformat(),
        },
    )
    assert synced.status_code == 200 and synced.json()["status"] == "accepted", synced.content
    code = InspectionCode.objects.get(task__number=by_scan)
    contact = user_for(Role.ENTERPRISE_CONTACT, enterprise=world.enterprise)
    assert services.scan_code(signing.issue_token(code.public_id), user=contact).started_task
    emergency = api.post("/tasks", task_payload(world, is_emergency=True)).json()["number"]
    services.start_emergency(world.admin, task=Task.objects.get(number=emergency))

    documents = delivered(receiver, secret, "task.started")
    assert set(documents) == {by_api, on_page, in_field, by_scan, emergency}
    assert {number: documents[number]["data"]["by"] for number in documents} == {
        by_api: "check_in",
        on_page: "check_in",
        in_field: "check_in",
        by_scan: "scan",
        emergency: "emergency",
    }
    for number, document in documents.items():
        task = Task.objects.get(number=number)
        assert document["task"] == {"number": number, "status": "in_progress"}
        assert datetime.datetime.fromisoformat(document["data"]["started_at"]) == task.started_at
        assert document["data"]["emergency"] is (number == emergency)
    # The field app's check-in happened two hours before the platform heard of it: both times are told.
    field_data = documents[in_field]["data"]
    assert datetime.datetime.fromisoformat(field_data["started_at"]) == arrived
    assert datetime.datetime.fromisoformat(field_data["received_at"]) > arrived
    assert documents[by_api]["data"]["received_at"] is None
    assert documents[by_scan]["data"]["how"] == "企业扫码核验"
    assert not WebhookDelivery.objects.exclude(webhook__client=world.client_obj).exists()


def test_an_overdue_result_is_announced_once_per_task_by_the_daily_job(api, world, receiver, settings):
    """result.overdue: a visit whose result is still not recorded after SUPERVISION_RECORD_WORKING_DAYS
    working days is announced by the daily job, once; a result recorded in time, or a visit still within its
    days, is not. A task found overdue while nobody listened is not announced later either."""
    import datetime

    from django.utils import timezone

    from jianchama.core.workdays import add_working_days
    from jianchama.inspections.models import Task
    from jianchama.integrations.models import OverdueResult

    settings.SUPERVISION_RECORD_WORKING_DAYS = 5
    today = timezone.localdate()
    late, recent, recorded, unheard = (notified_task(api, world) for _ in range(4))
    for number in (late, recent, recorded, unheard):
        checked_in = api.post(
            f"/tasks/{number}/check-in", {"inspector_certificate": world.inspectors[0].number}
        )
        assert checked_in.status_code == 200

    def visited(number: str, days_ago: int) -> datetime.date:
        started = timezone.now() - datetime.timedelta(days=days_ago)
        Task.objects.filter(number=number).update(started_at=started)
        return timezone.localdate(started)

    visited(unheard, 30)
    assert jobs.announce_overdue_results(today=today) == 1  # nobody subscribed yet: found, not sent
    assert not WebhookDelivery.objects.exists()

    created = api.post("/webhooks", {"url": receiver.url, "events": ["result.overdue"]})
    secret = created.json()["secret"]
    visit = visited(late, 20)
    visited(recent, 1)
    visited(recorded, 20)
    Task.objects.filter(number=recorded).update(status=Task.Status.RESULT_RECORDED)
    assert jobs.announce_overdue_results(today=today) == 1
    assert jobs.announce_overdue_results(today=today) == 0  # the next run announces nothing again

    documents = delivered(receiver, secret, "result.overdue")
    assert list(documents) == [late]
    due = add_working_days(visit, 5)
    assert documents[late]["data"] == {
        "started_at": Task.objects.get(number=late).started_at.isoformat(),
        "visit_date": visit.isoformat(),
        "due": due.isoformat(),
        "working_days": 5,
    }
    assert sorted(OverdueResult.objects.values_list("task__number", flat=True)) == sorted([late, unheard])
    # The deadline's day itself is in time: the job run that day finds nothing for a visit due then.
    visited(recent, (today - visit).days)
    assert jobs.announce_overdue_results(today=due) == 0
    schedule = Schedule.objects.get(name="integrations-overdue-results")
    assert schedule.func == "jianchama.integrations.jobs.announce_overdue_results"
