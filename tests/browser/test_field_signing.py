"""The on-site record signed offline in the field app, in a real Chromium (F-44, F-45, issue 15): with the
context offline, the inspector checks in, records the result with a photo, and both inspectors of the joint
visit and the enterprise's person sign on the phone's canvases (signature_pad, kept by the service worker);
back online the acts go in order and the platform makes the signed PDF with the time they signed. The PDF is
read back: its text (pypdf), its three signature images, and its SHA-256 equal to the audit log's."""

from __future__ import annotations

import datetime
import hashlib
import json
import time
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import timezone

from jianchama.core.formats import chinese_datetime
from jianchama.core.models import AuditEvent
from jianchama.inspections import documents, services
from jianchama.inspections.models import FieldAct, InspectionRecord, OnsiteDocument, Task
from tests.browser.test_field_app import (
    DOOR_AT,
    ENTERPRISE_AT,
    check_every_entry_compliant,
    go_offline_and_reload,
    jpeg_bytes,
    open_app,
    wait_until,
    waiting,
)
from tests.browser.test_inspection_code import PHONE_CONTEXT, build_world, notified_task
from tests.browser.test_onsite_documents import draw
from tests.inspections.test_onsite_documents import flat, image_count, signature

pytestmark = pytest.mark.django_db(transaction=True)

SECOND = datetime.timedelta(seconds=1)


@pytest.fixture
def w(settings, live_server):
    settings.CODE_BASE_URL = live_server.url
    world = build_world()
    world.enterprise.latitude, world.enterprise.longitude = ENTERPRISE_AT
    world.enterprise.save(update_fields=["latitude", "longitude"])
    return world


def record_result_offline(page, *, onsite_person: str = "钱七") -> None:
    page.get_by_text("签到开始检查").click()
    page.wait_for_selector(".local-state")
    page.get_by_text("录入检查结果").click()
    check_every_entry_compliant(page)
    page.select_option("select[name=outcome]", InspectionRecord.Outcome.NO_PROBLEM)
    page.fill("textarea[name=summary]", "现场核查燃气经营许可证及储罐区，未发现问题")
    page.fill("input[name=onsite_person_name]", onsite_person)
    page.fill("input[name=onsite_person_phone]", "13900000007")
    page.set_input_files(
        "input[name=photos]", files=[{"name": "现场.jpg", "mimeType": "image/jpeg", "buffer": jpeg_bytes()}]
    )
    page.wait_for_selector(".photo-list img")
    page.locator("#result-form button[type=submit]").click()
    wait_until(page, "Number(document.getElementById('waiting').textContent) === 2")


def test_offline_both_sides_sign_the_record_and_it_reaches_the_platform_signed(
    w, live_server, browser, settings
):
    settings.BACKFILL_LATE_MINUTES = 0  # any delay counts as late here, so the PDF says it was signed offline
    task = notified_task(w)  # 张三 and 李四: both sign on the one phone
    context = browser.new_context(
        **PHONE_CONTEXT, geolocation=DOOR_AT, permissions=["geolocation"], service_workers="allow"
    )
    try:
        page = open_app(context, live_server.url, "inspector-101")
        go_offline_and_reload(context, page, live_server.url)
        record_result_offline(page)
        recorded = timezone.now()

        page.locator("a.btn", has_text="签署现场检查笔录").click()
        page.wait_for_selector("#sign-form canvas.signature-pad")
        assert page.locator("input[name=party_name]").input_value() == "钱七"  # from the result
        assert "未发现问题" in page.locator("#view").inner_text()  # the party reads the result first
        # A pad left blank: nothing queued, and the screen says whose signature is missing.
        draw(page, f"#pad-inspector-{w.inspector.pk}", 0)
        page.locator("#sign-form button[type=submit]").click()
        assert "请执法人员李四在签名框内签名" in page.locator("#sign-problems").inner_text()
        assert waiting(page) == 2
        draw(page, f"#pad-inspector-{w.inspector2.pk}", 4)
        page.fill("textarea[name=party_statement]", "无异议")
        draw(page, "#pad-party", 8)
        signed = timezone.now()
        page.locator("#sign-form button[type=submit]").click()
        wait_until(page, "Number(document.getElementById('waiting').textContent) === 3")
        assert "现场检查笔录已在手机上签署" in page.locator("#view").inner_text()
        assert not OnsiteDocument.objects.exists()  # nothing reached the platform
        time.sleep(2)

        back = timezone.now()
        context.set_offline(False)
        page.evaluate("window.dispatchEvent(new Event('online'))")
        # Rendering the PDF takes a few seconds, more on a loaded 2-core machine.
        wait_until(page, "Number(document.getElementById('waiting').textContent) === 0", timeout=240)
        document = OnsiteDocument.objects.get(task=task, kind=OnsiteDocument.Kind.RECORD)
        response = context.request.get(
            live_server.url + reverse("inspections:document_file", args=[task.pk, document.pk])
        )
        assert response.ok and response.headers["content-type"] == "application/pdf"
        data = response.body()
    finally:
        context.close()

    task = Task.objects.get(pk=task.pk)
    assert recorded - 3 * SECOND <= task.record.occurred_at <= recorded + SECOND
    # The times are the clicks', the arrival kept apart.
    assert signed - SECOND <= document.signed_at <= signed + SECOND
    assert document.created_at >= back and task.record.recorded_at >= back
    sign_act = FieldAct.objects.get(task=task, kind=FieldAct.Kind.SIGN_RECORD)
    assert sign_act.occurred_at == document.signed_at and sign_act.received_at >= back
    assert sign_act.user == w.inspector_user
    # The file downloaded is the one whose hash the audit log holds, with its text and three signatures.
    assert hashlib.sha256(data).hexdigest() == document.sha256
    event = AuditEvent.objects.get(action="document.issued", object_id=str(document.pk))
    assert event.after["sha256"] == document.sha256
    text = flat(data)
    for expected in [
        "现场检查笔录",
        document.number,
        "当事人：钱七",
        "无异议",
        "执法人员：张三",
        "执法人员：李四",
    ]:
        assert expected in text, expected
    assert f"签署时间：{chinese_datetime(document.signed_at)}".replace(" ", "") in text
    # The arrival said is the platform's time when the upload came in: after the network came back, no later
    # than the document's row (saved after its PDF was rendered, which may cross a minute).
    minute = back.replace(second=0, microsecond=0)
    arrivals = []
    while minute <= document.created_at:
        arrivals.append(f"离线签署，{chinese_datetime(minute)}送达平台".replace(" ", ""))
        minute += datetime.timedelta(minutes=1)
    assert any(arrival in text for arrival in arrivals), arrivals
    assert image_count(data) == 3
    assert {s.name for s in document.signatures.all()} == {"张三", "李四", "钱七"}


def test_a_record_signed_meanwhile_refuses_the_phones_copy_and_keeps_it(w, live_server, browser):
    task = notified_task(w)
    services.check_in(w.inspector_user, task=task)
    context = browser.new_context(**PHONE_CONTEXT, accept_downloads=True)
    try:
        page = open_app(context, live_server.url, "inspector-101")
        services.record_result(
            w.inspector_user,
            task=Task.objects.get(pk=task.pk),
            outcome=InspectionRecord.Outcome.NO_PROBLEM,
            summary="现场核查，未发现问题",
            findings=[
                services.FindingInput(item=item, entry=entry, result="compliant")
                for item in task.items.all()
                for entry in item.checklist
            ],
        )
        page.reload()  # the app learns the result is recorded (online)
        wait_until(page, "document.documentElement.dataset.fieldOffline === 'ready'")
        go_offline_and_reload(context, page, live_server.url)
        page.locator("a.btn", has_text="签署现场检查笔录").click()
        page.wait_for_selector("#sign-form canvas.signature-pad")
        draw(page, f"#pad-inspector-{w.inspector.pk}", 0)
        draw(page, f"#pad-inspector-{w.inspector2.pk}", 4)
        page.fill("input[name=party_name]", "钱七")
        draw(page, "#pad-party", 8)
        page.locator("#sign-form button[type=submit]").click()
        wait_until(page, "Number(document.getElementById('waiting').textContent) === 1")

        # Meanwhile his colleague signed it on his own phone, online.
        documents.sign_onsite_record(
            w.inspector2.user,
            task=Task.objects.get(pk=task.pk),
            inspector_signatures={i.pk: signature(n) for n, i in enumerate(w.inspectors)},
            party_name="钱七",
            party_signature=signature(9),
        )
        context.set_offline(False)
        page.evaluate("window.dispatchEvent(new Event('online'))")
        page.wait_for_selector("#status.has-refused", timeout=60000)
        page.goto(f"{live_server.url}/tasks/field/#/queue")
        refused = page.locator(".act[data-state=refused]")
        assert "已签署" in refused.inner_text() and "不能重复签署" in refused.inner_text()
        with page.expect_download() as download:
            page.locator("#export").click()
        exported = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))
        [act] = [a for a in exported["acts"] if a["kind"] == "sign_record"]
        assert act["state"] == "refused" and act["fields"]["party_signature"].startswith(
            "data:image/png;base64,"
        )
    finally:
        context.close()
    assert OnsiteDocument.objects.filter(task=task, kind="record").count() == 1
    assert not FieldAct.objects.filter(kind=FieldAct.Kind.SIGN_RECORD).exists()
