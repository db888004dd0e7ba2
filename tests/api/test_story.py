"""The whole story through the API, as a body's own system runs it (issue 12): create → submit → approve →
the code (its QR decoded by zxing-cpp and scanned on the real scan page) → check-in or scan → result with a
photo → close; the lists, the scans, the audit log naming the client."""

from __future__ import annotations

import base64
import datetime
import io
import json

import pytest
import zxingcpp
from django.test import Client
from django.utils import timezone
from PIL import Image

from jianchama.core.models import AuditEvent
from jianchama.core.roles import Role
from jianchama.inspections.models import Evidence, InspectionRecord, Task
from tests.factories import user_for, valid_since_yesterday

from .conftest import task_payload

pytestmark = pytest.mark.django_db


def png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(buffer, format="PNG")
    return buffer.getvalue()


def notified(api, w) -> str:
    created = api.post("/tasks", task_payload(w))
    assert created.status_code == 201, created.content
    number = created.json()["number"]
    assert api.post(f"/tasks/{number}/submit", {}).status_code == 200
    approved = api.post(f"/tasks/{number}/approve")
    assert approved.status_code == 200, approved.content
    assert approved.json()["status"] == "notified"
    return number


def result_form(w, number, **changes):
    data = {
        "inspector_certificate": w.inspectors[0].number,
        "outcome": "rectify",
        "summary": "储罐区间距不足",
        "findings": [
            {
                "item_code": w.item.code,
                "entry": "是否取得许可证",
                "result": "not_compliant",
                "note": "许可证过期",
            }
        ],
        "rectify_working_days": 10,
        "evidence_kinds": ["photo"],
    }
    data.update(changes)
    return data


def test_the_whole_story_through_the_api(api, world):
    w = world
    created = api.post("/tasks", task_payload(w))
    assert created.status_code == 201, created.content
    task = created.json()
    assert task["status"] == "draft"
    assert task["enterprise_uscc"] == w.enterprise.uscc
    assert sorted(i["certificate"] for i in task["inspectors"]) == sorted(i.number for i in w.inspectors)
    assert task["plan_number"] == w.plan.number
    number = task["number"]

    submitted = api.post(f"/tasks/{number}/submit", {})
    assert submitted.status_code == 200 and submitted.json()["status"] == "submitted"
    assert api.post(f"/tasks/{number}/approve").json()["status"] == "notified"

    code = api.get(f"/tasks/{number}/code", {"inspector_certificate": w.inspectors[0].number})
    assert code.status_code == 200, code.content
    body = code.json()
    image = Image.open(io.BytesIO(base64.b64decode(body["png_base64"])))
    decoded = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    assert [r.text for r in decoded] == [body["qr_content"]]
    assert body["svg"].startswith("<svg") and body["url"].endswith(body["token"])

    # The enterprise scans the code the body's app shows: the real scan page starts the visit.
    contact = Client()
    contact.force_login(user_for(Role.ENTERPRISE_CONTACT, enterprise=w.enterprise))
    page = contact.get("/c/" + body["token"])
    assert page.status_code == 200
    detail = api.get(f"/tasks/{number}").json()
    assert detail["status"] == "in_progress"

    scans = api.get("/scans", {"task_number": number}).json()
    assert [s["outcome"] for s in scans["items"]] == ["genuine"]

    form = {"data": json.dumps(result_form(w, number)), "evidence": io.BytesIO(png_bytes())}
    form["evidence"].name = "现场.png"
    recorded = api.post_multipart(f"/tasks/{number}/result", form)
    assert recorded.status_code == 200, recorded.content
    assert recorded.json()["status"] == "result_recorded"
    record = InspectionRecord.objects.get(task__number=number)
    assert record.outcome == "rectify" and record.rectify_by is not None
    assert Evidence.objects.filter(record=record, kind="photo").count() == 1

    closed = api.post(f"/tasks/{number}/close")
    assert closed.json()["status"] == "closed"

    # The audit log names the client for its own acts, and the inspector (relayed by the client) for his.
    task_events = AuditEvent.objects.filter(
        object_type="inspections.Task", object_id=str(Task.objects.get(number=number).pk)
    )
    labels = {event.action: event.actor_label for event in task_events}
    assert labels["task.created"] == "接口客户端「甲执法系统」"
    assert labels["task.approved"] == "接口客户端「甲执法系统」"
    assert labels["task.closed"] == "接口客户端「甲执法系统」"
    assert labels["task.result_recorded"] == "甲执法员0"
    assert labels["api.relayed"] == "接口客户端「甲执法系统」"


def test_check_in_with_a_backfilled_time(api, world):
    w = world
    number = notified(api, w)
    valid_since_yesterday(Task.objects.get(number=number))  # three hours ago may be yesterday in Shanghai
    occurred = timezone.now() - datetime.timedelta(hours=3)
    response = api.post(
        f"/tasks/{number}/check-in",
        {"inspector_certificate": w.inspectors[1].number, "occurred_at": occurred.isoformat()},
    )
    assert response.status_code == 200, response.content
    task = Task.objects.get(number=number)
    assert task.status == "in_progress"
    assert abs((task.started_at - occurred).total_seconds()) < 1
    assert task.started_received_at is not None
    # Beyond BACKFILL_WORKING_DAYS the same rule as the offline app refuses it, as a problem.
    number2 = notified(api, w)
    late = api.post(
        f"/tasks/{number2}/check-in",
        {
            "inspector_certificate": w.inspectors[1].number,
            "occurred_at": (timezone.now() - datetime.timedelta(days=40)).isoformat(),
        },
    )
    assert late.status_code == 422
    assert late["Content-Type"] == "application/problem+json"
    assert "不能补录" in late.json()["detail"]


def test_the_result_refuses_what_the_page_refuses(api, world):
    w = world
    number = notified(api, w)
    api.post(f"/tasks/{number}/check-in", {"inspector_certificate": w.inspectors[0].number})
    form = {"data": json.dumps(result_form(w, number)), "evidence": io.BytesIO(b"not a png at all")}
    form["evidence"].name = "伪装.png"
    response = api.post_multipart(f"/tasks/{number}/result", form)
    assert response.status_code == 422
    assert "内容与扩展名不符" in response.json()["detail"]
    assert Task.objects.get(number=number).status == "in_progress"
    bad = api.post_multipart(f"/tasks/{number}/result", {"data": "{not json"})
    assert bad.status_code == 422 and bad.json()["type"] == "urn:jianchama:problem:validation"


def test_an_inspector_not_on_the_task_cannot_be_named(api, world):
    number = notified(api, world)
    response = api.post(
        f"/tasks/{number}/check-in", {"inspector_certificate": world.other.inspectors[0].number}
    )
    assert response.status_code == 422
    assert "不属于任务" in response.json()["detail"]


def test_cancel_with_reason_revokes_the_code(api, world):
    number = notified(api, world)
    assert api.post(f"/tasks/{number}/cancel", {"reason": ""}).status_code == 422
    cancelled = api.post(f"/tasks/{number}/cancel", {"reason": "企业已停业"})
    assert cancelled.status_code == 200 and cancelled.json()["cancel_reason"] == "企业已停业"
    assert Task.objects.get(number=number).code.status == "revoked"
    again = api.post(f"/tasks/{number}/cancel", {"reason": "再取消"})
    assert again.status_code == 409 and again.json()["type"] == "urn:jianchama:problem:invalid-transition"


def test_list_with_filters_and_cursor(api, world):
    numbers = [api.post("/tasks", task_payload(world)).json()["number"] for _ in range(5)]
    api.post(f"/tasks/{numbers[0]}/submit", {})
    seen, cursor = [], None
    while True:
        page = api.get("/tasks", {"limit": 2, **({"cursor": cursor} if cursor else {})}).json()
        seen += [t["number"] for t in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == list(reversed(numbers))
    submitted = api.get("/tasks", {"status": "submitted"}).json()["items"]
    assert [t["number"] for t in submitted] == [numbers[0]]
    assert api.get("/tasks", {"enterprise_uscc": world.other.enterprise.uscc}).json()["items"] == []
    later = (timezone.now() + datetime.timedelta(minutes=5)).isoformat()
    assert api.get("/tasks", {"updated_since": later}).json()["items"] == []
    bad = api.get("/tasks", {"cursor": "garbage!!"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "cursor"


def test_evaluations_are_releases_only(api, world):
    response = api.get("/evaluations")
    assert response.status_code == 200 and response.json() == []
