"""The field app's server side (F-44): the visits kept on the phone, the prefetched tokens of the day (each valid
only its slot; refused at the scan page once the task is cancelled), and the sync of acts done offline: once
per UUID, with the real times, refused with the reason for a cancelled task."""

from __future__ import annotations

import datetime
import hashlib
import io
import json
import uuid
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from jianchama.inspections import field, services, signing
from jianchama.inspections.models import Evidence, FieldAct, InspectionRecord, Scan, Task
from tests.inspections.conftest import DAY, inspector_with_account

pytestmark = pytest.mark.django_db

HOUR = datetime.timedelta(hours=1)


def jpeg(color="red") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), color).save(buffer, "JPEG")
    return buffer.getvalue()


def client_of(client, user):
    client.force_login(user)
    return client


def post_act(client, task, kind, *, client_id=None, occurred_at=None, files=(), **fields):
    data = {
        "client_id": str(client_id or uuid.uuid4()),
        "kind": kind,
        "task": str(task.pk),
        "occurred_at": (occurred_at or timezone.now()).isoformat(),
        **fields,
    }
    if files:
        data["evidence_files"] = list(files)
    return client.post(reverse("inspections:field_sync"), data)


def result_fields(task, result="compliant") -> dict[str, str]:
    fields = {"outcome": InspectionRecord.Outcome.NO_PROBLEM, "summary": "现场核查燃气经营许可证，未发现问题"}
    for item in task.items.all():
        for index, _entry in enumerate(item.checklist or [item.name]):
            fields[f"f_{item.pk}_{index}"] = result
    return fields


# --- What the phone keeps -----------------------------------------------------------------------------------


def test_visits_of_the_next_days_are_the_inspectors_own_in_constant_queries(s, client):
    today_task = s.notified()
    s.notified(window_start=timezone.localdate() + 3 * DAY, window_end=timezone.localdate() + 4 * DAY)
    s.notified(window_start=timezone.localdate() + 9 * DAY, window_end=timezone.localdate() + 12 * DAY)
    third = inspector_with_account(s.body, "孙七")
    s.notified(enterprise=s.other_enterprise, inspectors=[s.inspector2, third])  # his body's, not his
    client_of(client, s.inspector_user)
    response = client.get(reverse("inspections:field_visits"))
    assert response.status_code == 200
    data = response.json()
    assert data["visits"][0]["window_start"] == today_task.window_start.isoformat()
    assert (
        len(data["visits"]) == 2
    )  # today and in 3 days; not in 9 days (FIELD_VISIT_DAYS = 7), not another's
    first = data["visits"][0]
    assert first["today"] is True and first["code_active"] is True
    assert first["items"][0]["entries"][0]["name"] == f"f_{s.item.pk}_0"
    assert data["csrf"]

    for _ in range(3):
        s.notified()
    with CaptureQueriesContext(connection) as few:
        field.field_visits(s.inspector_user)
    for _ in range(6):
        s.notified()
    with CaptureQueriesContext(connection) as many:
        field.field_visits(s.inspector_user)
    assert len(many) == len(few) <= 5


def test_only_inspectors_use_the_field_app(s, client):
    for user in (s.head, s.supervisor, s.contact):
        client.force_login(user)
        assert client.get(reverse("inspections:field_app")).status_code == 403
        response = client.get(reverse("inspections:field_visits"))
        assert response.status_code == 403 and "执法人员" in response.json()["message"]
    client.logout()
    response = client.get(reverse("inspections:field_codes"))
    assert response.status_code == 403 and response.json()["login_required"] is True


def test_service_worker_is_scoped_to_the_app_and_never_cached(client):
    response = client.get(reverse("inspections:field_sw"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    assert response["Service-Worker-Allowed"] == reverse("inspections:field_app") == "/tasks/field/"
    assert response["Cache-Control"] == "no-cache"
    text = response.content.decode()
    assert "const SCOPE = '/tasks/field/'" in text and "/static/field/app.js" in text
    manifest = client.get(reverse("inspections:field_manifest")).json()
    assert manifest["scope"] == manifest["start_url"] == "/tasks/field/"
    assert {icon["sizes"] for icon in manifest["icons"]} == {"192x192", "512x512"}


# --- The code offline --------------------------------------------------------------------------------------


def test_prefetched_tokens_each_valid_only_their_slot(s, settings):
    settings.FIELD_CODE_SLOT_SECONDS = 300
    settings.FIELD_CODE_PREFETCH_COUNT = 10
    task = s.notified()
    now = timezone.make_aware(datetime.datetime.combine(timezone.localdate(), datetime.time(9, 2, 30)))
    data = field.code_series(s.inspector_user, now=now)
    [series] = data["codes"]
    assert series["task"] == task.pk and data["slot_seconds"] == 300
    tokens = series["tokens"]
    assert len(tokens) == 10  # the count setting caps it
    first = tokens[0]
    assert first["not_before"] == int(signing.slot_start(now, 300).timestamp())
    assert datetime.datetime.fromtimestamp(first["not_before"]).minute == 0  # 09:00 local, the slot's start
    for index, token in enumerate(tokens):
        claims = signing.read_token(signing.token_from_url(token["url"]))
        assert claims.code_id == task.code.public_id
        assert int(claims.not_before.timestamp()) == first["not_before"] + 300 * index
        assert claims.not_after - claims.not_before == datetime.timedelta(seconds=300)
        assert token["svg"].startswith("<svg")
    # A slot's token is stale at the scan page once its slot (and the clock skew) is over.
    later = signing.read_token(signing.token_from_url(tokens[0]["url"]))
    assert later.window_status(now) == "current"
    assert later.window_status(now + datetime.timedelta(seconds=300 + signing.CLOCK_SKEW_SECONDS)) == "stale"


def test_prefetch_covers_at_most_the_hours_setting_and_never_past_the_day(s, settings):
    settings.FIELD_CODE_SLOT_SECONDS = 300
    settings.FIELD_CODE_PREFETCH_COUNT = 1000
    settings.FIELD_CODE_PREFETCH_HOURS = 2
    s.notified()
    morning = timezone.make_aware(datetime.datetime.combine(timezone.localdate(), datetime.time(8, 0)))
    assert len(field.code_series(s.inspector_user, now=morning)["codes"][0]["tokens"]) == 24
    evening = timezone.make_aware(datetime.datetime.combine(timezone.localdate(), datetime.time(23, 30)))
    assert len(field.code_series(s.inspector_user, now=evening)["codes"][0]["tokens"]) == 6


def test_slot_tokens_are_never_longer_lived_than_a_token_shown_online(settings):
    settings.CODE_TOKEN_TTL_SECONDS = 300
    with pytest.raises(ValueError):
        signing.slot_tokens(1, start=timezone.now(), count=2, slot_seconds=301)
    settings.FIELD_CODE_SLOT_SECONDS = 3600
    assert field.slot_seconds() == 300


def test_a_cancelled_tasks_prefetched_tokens_fail_at_the_scan_page(s, client):
    task = s.notified()
    tokens = field.code_series(s.inspector_user)["codes"][0]["tokens"]
    token = signing.token_from_url(tokens[0]["url"])
    assert services.scan_code(token).outcome == Scan.Outcome.GENUINE
    services.cancel_task(s.head, task=task, reason="企业已停业")
    assert services.scan_code(token).outcome == Scan.Outcome.REVOKED
    page = client.get(f"/c/{token}")
    assert "作废" in page.content.decode()
    assert field.code_series(s.inspector_user)["codes"] == []  # and the phone gets no more of them


# --- Acts sent back -----------------------------------------------------------------------------------------


def test_offline_check_in_and_result_keep_their_real_times(s, client):
    task = s.told_yesterday()
    client_of(client, s.inspector_user)
    arrived = timezone.now() - 3 * HOUR
    response = post_act(
        client,
        task,
        "check_in",
        occurred_at=arrived,
        location_allowed="1",
        latitude="30.741234",
        longitude="121.341234",
        accuracy="12",
    )
    assert response.status_code == 200 and response.json()["status"] == "accepted"
    made = timezone.now() - 2 * HOUR
    response = post_act(
        client,
        task,
        "result",
        occurred_at=made,
        files=[SimpleUploadedFile(f"现场{i}.jpg", jpeg(), content_type="image/jpeg") for i in range(2)],
        **result_fields(task),
    )
    assert response.status_code == 200, response.json()
    task = Task.objects.get(pk=task.pk)
    assert task.status == Task.Status.RESULT_RECORDED
    assert task.started_at == arrived and task.started_received_at > arrived
    assert task.record.occurred_at == made
    assert Evidence.objects.filter(record=task.record, kind="photo").count() == 2
    check_in = FieldAct.objects.get(task=task, kind="check_in")
    assert (check_in.latitude, check_in.longitude, check_in.accuracy_m) == (
        Decimal("30.741234"),
        Decimal("121.341234"),
        12,
    )


def test_a_retried_sync_makes_one_record(s, client):
    task = s.in_progress()
    client_of(client, s.inspector_user)
    act = uuid.uuid4()
    fields = result_fields(task)
    photo = jpeg()
    first = post_act(
        client, task, "result", client_id=act, files=[SimpleUploadedFile("a.jpg", photo)], **fields
    )
    again = post_act(
        client, task, "result", client_id=act, files=[SimpleUploadedFile("a.jpg", photo)], **fields
    )
    assert first.json()["status"] == "accepted" and again.json()["status"] == "duplicate"
    assert again.status_code == 200
    assert InspectionRecord.objects.filter(task=task).count() == 1
    assert Evidence.objects.filter(record__task=task).count() == 1
    assert FieldAct.objects.filter(client_id=act).count() == 1


def test_a_cancelled_tasks_sync_is_refused_with_the_reason(s, client):
    task = s.notified()
    services.cancel_task(s.head, task=task, reason="企业已注销")
    client_of(client, s.inspector_user)
    response = post_act(client, task, "check_in")
    assert response.status_code == 409
    message = response.json()["message"]
    assert "已取消" in message and "企业已注销" in message and "保存在手机上" in message
    assert not FieldAct.objects.exists()


def test_a_check_in_after_the_enterprise_scanned_is_kept_as_the_arrival(s, client):
    task = s.in_progress()  # the visit has started already
    client_of(client, s.inspector2_user)
    response = post_act(client, task, "check_in")
    assert response.status_code == 200 and "已开始" in response.json()["message"]
    assert FieldAct.objects.filter(task=task, kind="check_in", user=s.inspector2_user).exists()


def test_backfill_rule_applies_to_each_act(s, client, settings):
    settings.BACKFILL_WORKING_DAYS = 2
    task = s.notified()
    client_of(client, s.inspector_user)
    response = post_act(client, task, "code_shown", occurred_at=timezone.now() + HOUR)
    assert response.status_code == 409 and "晚于当前时间" in response.json()["message"]
    response = post_act(client, task, "check_in", occurred_at=timezone.now() - 10 * DAY)
    assert response.status_code == 409 and "工作日" in response.json()["message"]


def test_another_bodys_inspector_cannot_sync_into_a_task(s, client):
    task = s.notified()
    client_of(client, s.other_inspector_user)
    assert post_act(client, task, "check_in").status_code == 404
    client_of(client, s.partner_inspector_user)  # a partner body's inspector, not on this task
    assert post_act(client, task, "check_in").status_code == 404


def test_bad_input_is_a_400_never_a_500(s, client):
    task = s.notified()
    client_of(client, s.inspector_user)
    assert post_act(client, task, "check_in", client_id="not-a-uuid").status_code == 400
    assert post_act(client, task, "dance").status_code == 400
    assert post_act(client, task, "check_in", latitude="91", longitude="0").status_code == 400
    assert post_act(client, task, "check_in", latitude="abc", longitude="0").status_code == 400
    bad_time = client.post(
        reverse("inspections:field_sync"),
        {
            "client_id": str(uuid.uuid4()),
            "kind": "check_in",
            "task": str(task.pk),
            "occurred_at": "yesterday",
        },
    )
    assert bad_time.status_code == 400
    assert json.loads(bad_time.content)["message"]


# --- 亮码即定位: the timeline and the data rules -----------------------------------------------------------


def test_distance_shown_on_the_timeline_and_far_check_ins_found(s, client, settings):
    from jianchama.supervision.rules import RULES, Context

    settings.FIELD_LOCATION_MAX_DISTANCE_METERS = 1000
    settings.FIELD_LOCATION_MAX_ACCURACY_METERS = 100
    s.enterprise.latitude, s.enterprise.longitude = Decimal("30.741200"), Decimal("121.341200")
    s.enterprise.save()
    near, far, vague = s.notified(), s.notified(), s.notified()
    client_of(client, s.inspector_user)
    at = {"location_allowed": "1", "accuracy": "20"}
    post_act(client, near, "check_in", latitude="30.741700", longitude="121.341500", **at)  # ~63 m
    post_act(client, far, "check_in", latitude="30.760000", longitude="121.341200", **at)  # ~2.09 km
    post_act(
        client,
        vague,
        "check_in",
        latitude="30.760000",
        longitude="121.341200",
        location_allowed="1",
        accuracy="800",
    )
    post_act(client, near, "code_shown", location_allowed="1")  # allowed, but no position came
    post_act(client, far, "code_shown", location_allowed="0")  # not allowed: nothing to say

    page = client.get(reverse("inspections:task_detail", args=[near.pk])).content.decode()
    assert "距企业登记位置" in page and "63 米" in page and "已允许定位但无位置" in page

    ctx = Context(today=timezone.localdate(), now=timezone.now())
    far_hits = list(RULES["check_in_far_away"].find(ctx))
    assert [hit.task_id for hit in far_hits] == [far.pk]
    assert "2090米" in far_hits[0].description or "约209" in far_hits[0].description
    assert far_hits[0].body_id == s.body.pk
    silent = list(RULES["code_shown_without_position"].find(ctx))
    assert [hit.task_id for hit in silent] == [near.pk]


# --- The on-site record signed on the phone, offline too (F-45) ---------------------------------------------


def sign_fields(task, *, blank_party=False, **overrides) -> dict[str, str]:
    from tests.inspections.test_onsite_documents import signature

    fields = {
        f"inspector_{inspector.pk}": signature(n)
        for n, inspector in enumerate(task.inspectors.order_by("id"))
    }
    fields.update(
        party_name="钱七", party_signature=signature(9, blank=blank_party), party_statement="无异议"
    )
    fields.update(overrides)
    return fields


def offline_result(client, task, made):
    response = post_act(client, task, "result", occurred_at=made, **result_fields(task))
    assert response.status_code == 200, response.json()
    return Task.objects.get(pk=task.pk)


def test_the_record_signed_offline_is_made_with_its_signing_time_and_its_arrival(s, client):
    from jianchama.core.formats import chinese_datetime
    from jianchama.core.models import AuditEvent
    from jianchama.inspections.models import DocumentSignature, OnsiteDocument
    from tests.inspections.test_onsite_documents import flat, image_count

    task = s.told_yesterday()
    client_of(client, s.inspector_user)
    assert post_act(client, task, "check_in", occurred_at=timezone.now() - 3 * HOUR).status_code == 200
    task = offline_result(client, task, timezone.now() - 2 * HOUR)
    signed = timezone.now() - 2 * HOUR + datetime.timedelta(minutes=7)
    act = uuid.uuid4()
    response = post_act(client, task, "sign_record", client_id=act, occurred_at=signed, **sign_fields(task))
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "accepted" and f"{task.number}-BL" in response.json()["message"]
    document = OnsiteDocument.objects.get(task=task, kind=OnsiteDocument.Kind.RECORD)
    assert document.signed_at == signed and document.created_at > signed + HOUR  # signed, then arrived
    assert set(DocumentSignature.objects.filter(document=document).values_list("signed_at", flat=True)) == {
        signed
    }
    data = document.file.read()
    text = flat(data)
    assert f"签署时间：{chinese_datetime(signed)}".replace(" ", "") in text
    assert (
        "离线签署" in text
        and "当事人：钱七" in text
        and "执法人员：张三" in text
        and "执法人员：李四" in text
    )
    assert image_count(data) == 3
    event = AuditEvent.objects.get(action="document.issued", object_id=str(document.pk))
    assert event.after["sha256"] == hashlib.sha256(data).hexdigest() and event.after["signed_at"]
    sign_act = FieldAct.objects.get(client_id=act)
    assert sign_act.kind == "sign_record" and sign_act.occurred_at == signed

    # The answer lost and the act sent again: the same documents, nothing made twice.
    again = post_act(client, task, "sign_record", client_id=act, occurred_at=signed, **sign_fields(task))
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    assert OnsiteDocument.objects.filter(task=task).count() == 1
    # The phone learns it is signed.
    [visit] = [
        v for v in client.get(reverse("inspections:field_visits")).json()["visits"] if v["id"] == task.pk
    ]
    assert visit["record_signed"] is True


def test_the_record_signed_online_says_no_offline_signing(s, client):
    from jianchama.inspections.models import OnsiteDocument
    from tests.inspections.test_onsite_documents import flat

    task = s.recorded()
    client_of(client, s.inspector_user)
    visits = client.get(reverse("inspections:field_visits")).json()["visits"]
    [visit] = [v for v in visits if v["id"] == task.pk]
    assert visit["record_signed"] is False
    assert [i["name"] for i in visit["inspectors"]] == ["张三", "李四"]
    response = post_act(client, task, "sign_record", **sign_fields(task))
    assert response.status_code == 200, response.json()
    text = flat(OnsiteDocument.objects.get(task=task, kind="record").file.read())
    assert "离线签署" not in text


def test_a_refusal_to_sign_offline_is_witnessed(s, client):
    from jianchama.inspections.models import OnsiteDocument
    from tests.inspections.test_onsite_documents import signature

    task = s.recorded()
    client_of(client, s.inspector_user)
    fields = sign_fields(task, party_name="", party_signature="", refused="1", witness_name="周八")
    fields["witness_signature"] = signature(5)
    response = post_act(client, task, "sign_record", **fields)
    assert response.status_code == 200, response.json()
    document = OnsiteDocument.objects.get(task=task, kind="record")
    assert document.party_refused and document.witness_name == "周八"


@pytest.mark.parametrize(
    "change, message",
    [
        ({"blank_party": True}, "签名框是空白的"),
        ({"party_name": ""}, "请填写当事人"),
        ({"refused": "1", "party_signature": ""}, "见证人"),
        ({"inspector_missing": True}, "请执法人员李四在签名框内签名"),
    ],
)
def test_a_signing_refused_keeps_nothing_and_says_why(s, client, change, message):
    from jianchama.inspections.models import OnsiteDocument

    task = s.recorded()
    client_of(client, s.inspector_user)
    fields = sign_fields(
        task,
        blank_party=change.pop("blank_party", False),
        **{k: v for k, v in change.items() if k != "inspector_missing"},
    )
    if "inspector_missing" in change:
        del fields[f"inspector_{s.inspector2.pk}"]
    response = post_act(client, task, "sign_record", **fields)
    assert response.status_code == 409 and message in response.json()["message"], response.json()
    assert "未签署" in response.json()["message"]
    assert not OnsiteDocument.objects.exists() and not FieldAct.objects.filter(kind="sign_record").exists()


def test_a_signing_is_refused_when_already_signed_too_late_or_before_the_result(s, client, settings):
    from jianchama.inspections.models import OnsiteDocument

    settings.BACKFILL_WORKING_DAYS = 2
    task = s.recorded()
    client_of(client, s.inspector_user)
    too_late = post_act(
        client, task, "sign_record", occurred_at=timezone.now() - 10 * DAY, **sign_fields(task)
    )
    assert too_late.status_code == 409 and "不能补录" in too_late.json()["message"]
    early = post_act(client, task, "sign_record", occurred_at=timezone.now() - HOUR, **sign_fields(task))
    assert early.status_code == 409 and "早于检查结果" in early.json()["message"]
    assert not OnsiteDocument.objects.exists()
    assert post_act(client, task, "sign_record", **sign_fields(task)).status_code == 200
    twice = post_act(client, task, "sign_record", **sign_fields(task))  # another phone's copy
    assert twice.status_code == 409 and "已签署" in twice.json()["message"]
    assert OnsiteDocument.objects.filter(task=task, kind="record").count() == 1


def test_a_signing_before_the_result_or_on_a_cancelled_task_is_refused(s, client):
    task = s.in_progress()
    client_of(client, s.inspector_user)
    response = post_act(client, task, "sign_record", **sign_fields(task))
    assert response.status_code == 409 and "录入检查结果后" in response.json()["message"]
    services.cancel_task(s.head, task=task, reason="企业已注销")
    response = post_act(client, task, "sign_record", **sign_fields(task))
    assert response.status_code == 409 and "已取消" in response.json()["message"]
    assert not FieldAct.objects.filter(kind="sign_record").exists()
