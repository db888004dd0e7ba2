"""The example body system (examples/body_system/client.py, only httpx) against the platform served over real
HTTP (pytest-django's live server): the whole story a body's system runs, and the platform's events received
on the client's own HTTP server with their signatures verified, a forged one refused."""

from __future__ import annotations

import base64
import importlib.util
import io
import json
import sys
import time
from pathlib import Path

import httpx
import pytest
import zxingcpp
from django.test import Client
from PIL import Image

from jianchama.inspections.models import Evidence, InspectionRecord, Task
from jianchama.integrations import jobs
from jianchama.integrations.models import WebhookDelivery

from .test_story import png_bytes, result_form

pytestmark = pytest.mark.django_db(transaction=True)

CLIENT_PATH = Path(__file__).resolve().parents[2] / "examples" / "body_system" / "client.py"


def load_client():
    spec = importlib.util.spec_from_file_location("body_system_client", CLIENT_PATH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_the_example_body_system_runs_the_story_over_http(live_server, world, settings):
    settings.ALLOWED_HOSTS = ["localhost", "127.0.0.1", "testserver"]
    settings.API_WEBHOOK_ALLOW_HTTP = True  # the client's server is local plain HTTP; production asks https
    example = load_client()
    w = world
    system = example.BodySystem(live_server.url, w.key)
    receiver = example.Receiver()
    try:
        hook = system.register_webhook(receiver.url, ["task.status_changed", "result.recorded"])
        receiver.secret = hook["secret"]
        created = system.create_task(
            enterprise_uscc=w.enterprise.uscc,
            kind="routine",
            item_codes=[w.item.code],
            inspector_certificates=[i.number for i in w.inspectors],
            legal_basis="《城镇燃气管理条例》第十五条",
            window_start=time.strftime("%Y-%m-%d"),
            window_end=time.strftime("%Y-%m-%d", time.localtime(time.time() + 5 * 86400)),
            plan_number=w.plan.number,
        )
        number = created["number"]
        assert system.submit(number)["status"] == "submitted"
        assert system.approve(number)["status"] == "notified"

        code = system.code(number, w.inspectors[0].number)
        image = Image.open(io.BytesIO(base64.b64decode(code["png_base64"])))
        assert [r.text for r in zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)] == [
            code["qr_content"]
        ]
        # The enterprise's phone scans it: the platform's scan page says the code is genuine.
        page = Client().get("/c/" + code["token"]).content.decode()
        assert "检查码真实有效" in page

        assert system.check_in(number, w.inspectors[0].number)["status"] == "in_progress"
        recorded = system.record_result(
            number, result_form(w, number), [("现场.png", png_bytes(), "image/png")]
        )
        assert recorded["status"] == "result_recorded"
        assert system.close_task(number)["status"] == "closed"
        assert [t["number"] for t in system.tasks(status="closed")] == [number]

        # A refusal comes back as the platform's problem, in Chinese.
        with pytest.raises(example.ApiError) as refused:
            system.check_in(number, w.inspectors[0].number)
        assert refused.value.status in (409, 422) and refused.value.problem["detail"]

        # The worker sends the events (here: the job run as the worker runs it) to the client's server.
        for delivery in WebhookDelivery.objects.order_by("pk"):
            assert jobs.deliver_webhook(delivery.pk) == "sent"
        changes = [e["data"].get("to") for e in receiver.events if e["event"] == "task.status_changed"]
        assert changes == [
            "draft",
            "submitted",
            "approved",
            "notified",
            "in_progress",
            "result_recorded",
            "closed",
        ]
        assert [e["task"]["number"] for e in receiver.events if e["event"] == "result.recorded"] == [number]
        assert receiver.refused == 0

        # A request not signed with the secret is refused by the client.
        forged = json.dumps({"event": "task.status_changed"}).encode()
        answer = httpx.post(
            receiver.url,
            content=forged,
            headers={"X-Jianchama-Timestamp": str(int(time.time())), "X-Jianchama-Signature": "sha256=00"},
        )
        assert answer.status_code == 401 and receiver.refused == 1
    finally:
        receiver.stop()
        system.close()
    task = Task.objects.get(number=number)
    record = InspectionRecord.objects.get(task=task)
    assert Evidence.objects.filter(record=record).count() == 1
    assert task.status == Task.Status.CLOSED
