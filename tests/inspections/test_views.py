"""The body's and the inspector's task pages, through the Django test client."""

from __future__ import annotations

import base64
import io
import re

import pytest
import zxingcpp
from django.utils import timezone
from PIL import Image

from jianchama.inspections import services, signing
from jianchama.inspections.models import InspectionCode, Task
from jianchama.notifications.models import Notification
from tests.factories import filed_plan
from tests.inspections.conftest import inspector_with_account

pytestmark = pytest.mark.django_db


def messages_of(response) -> list[str]:
    return re.findall(r'class="msg [^"]*">(.*?)<', response.content.decode())


def test_inspector_creates_a_task_from_the_form(client, s):
    client.force_login(s.inspector_user)
    today = timezone.localdate()
    response = client.post(
        "/tasks/new/",
        {
            "enterprise_uscc": s.enterprise.uscc.lower(),
            "kind": Task.Kind.ROUTINE,
            "plan_number": filed_plan(s.body, items=[s.item]).number,
            "mode": Task.Mode.ON_SITE,
            "items": [s.item.pk],
            "inspectors": [s.inspector.pk, s.inspector2.pk],
            "legal_basis": "《城镇燃气管理条例》",
            "window_start": today.isoformat(),
            "window_end": today.isoformat(),
        },
        follow=True,
    )
    task = Task.objects.get()
    assert response.redirect_chain[-1][0] == f"/tasks/{task.pk}/"
    assert f"检查任务{task.number}已保存为草稿" in messages_of(response)[0]
    assert task.enterprise == s.enterprise and task.status == Task.Status.DRAFT
    assert "提交审批" in response.content.decode()


def test_bad_task_form_says_what_is_wrong_and_saves_nothing(client, s):
    client.force_login(s.inspector_user)
    today = timezone.localdate()
    response = client.post(
        "/tasks/new/",
        {
            "enterprise_uscc": s.enterprise.uscc,
            "kind": Task.Kind.COMPLAINT,
            "mode": Task.Mode.ON_SITE,
            "items": [s.item.pk],
            "inspectors": [s.inspector.pk],
            "legal_basis": "依据",
            "window_start": today.isoformat(),
            "window_end": today.isoformat(),
        },
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert "执法人员不得少于两人" in page
    assert "须写明启动理由" in page
    assert Task.objects.count() == 0


def test_new_task_form_lists_only_the_users_body_and_the_chosen_partners_inspectors(client, s):
    """The form offered every active inspector of the city, names and bodies: a body's people read every
    district's roster (found by the role matrix). Now it lists its own body's, and a joint body's once chosen."""
    client.force_login(s.head)
    page = client.get("/tasks/new/").content.decode()
    assert "张三（金山区建设和管理委员会）" in page and "李四（金山区建设和管理委员会）" in page
    assert "王五" not in page and "赵六" not in page and "闵行区建设和管理委员会）" not in page

    # Choosing the partner body and asking for its inspectors keeps what was typed and lists its people.
    refreshed = client.post(
        "/tasks/new/",
        {"enterprise_uscc": s.enterprise.uscc, "joint_bodies": [s.partner.pk], "refresh_inspectors": "1"},
    )
    page = refreshed.content.decode()
    assert refreshed.status_code == 200 and "王五（金山区市场监督管理局）" in page
    assert "赵六" not in page and s.enterprise.uscc in page
    assert "errorlist" not in page and not Task.objects.exists()

    # A prefilled link (a coordination proposal's button) lists the partner's people too.
    assert "王五" in client.get(f"/tasks/new/?joint_bodies={s.partner.pk}").content.decode()


def test_an_inspector_outside_the_tasks_bodies_is_refused_by_the_form(client, s):
    client.force_login(s.head)
    today = timezone.localdate()
    response = client.post(
        "/tasks/new/",
        {
            "enterprise_uscc": s.enterprise.uscc,
            "kind": Task.Kind.ROUTINE,
            "plan_number": filed_plan(s.body, items=[s.item]).number,
            "mode": Task.Mode.ON_SITE,
            "items": [s.item.pk],
            "inspectors": [s.inspector.pk, s.other_inspector.pk],
            "legal_basis": "《城镇燃气管理条例》",
            "window_start": today.isoformat(),
            "window_end": today.isoformat(),
        },
    )
    assert (
        response.status_code == 200
        and "所选执法人员不属于本单位或所选的联合检查单位" in response.content.decode()
    )
    assert not Task.objects.exists()


def test_unknown_uscc_is_refused_in_the_form(client, s):
    client.force_login(s.inspector_user)
    response = client.post("/tasks/new/", {"enterprise_uscc": "91310000MA1FL0000X"})
    assert "统一社会信用代码无效" in response.content.decode() or "没有这个统一社会信用代码" in (
        response.content.decode()
    )


def test_enterprise_contact_may_not_create_tasks(client, s):
    client.force_login(s.contact)
    response = client.get("/tasks/new/")
    assert response.status_code == 403
    assert "只有执法单位的执法人员或管理员可以创建检查任务" in response.content.decode()


def test_submit_approve_through_the_pages(client, s):
    task = s.draft()
    client.force_login(s.inspector_user)
    response = client.post(f"/tasks/{task.pk}/submit/", follow=True)
    assert "已提交审批" in messages_of(response)
    client.force_login(s.head)
    page = client.get(f"/tasks/{task.pk}/").content.decode()
    assert "批准" in page and "退回修改" in page
    response = client.post(f"/tasks/{task.pk}/approve/", follow=True)
    assert "已批准" in messages_of(response)
    task.refresh_from_db()
    assert task.status == Task.Status.NOTIFIED
    assert "已告知企业" in response.content.decode()
    assert Notification.objects.filter(enterprise=s.enterprise).count() == 1


def test_failed_qualification_is_shown_before_and_at_approval(client, s):
    certificate = s.inspector2.certificate
    certificate.valid_until = timezone.localdate() - timezone.timedelta(days=1)
    certificate.save()
    task = s.submitted()
    client.force_login(s.head)
    page = client.get(f"/tasks/{task.pk}/").content.decode()
    assert "执法资格核验未通过" in page and "李四" in page
    response = client.post(f"/tasks/{task.pk}/approve/", follow=True)
    assert any("该任务不能批准" in m and "李四" in m for m in messages_of(response))
    task.refresh_from_db()
    assert task.status == Task.Status.SUBMITTED
    assert not InspectionCode.objects.exists()


def test_wrong_state_action_is_a_clear_message(client, s):
    task = s.submitted()
    client.force_login(s.inspector_user)
    response = client.post(f"/tasks/{task.pk}/submit/", follow=True)
    assert any("当前状态为「待审批」" in m for m in messages_of(response))


def test_other_bodies_do_not_see_the_task(client, s):
    task = s.draft()
    client.force_login(s.other_inspector_user)
    assert client.get(f"/tasks/{task.pk}/").status_code == 404
    assert client.post(f"/tasks/{task.pk}/submit/").status_code == 404
    assert task.number not in client.get("/tasks/").content.decode()


def test_cancel_needs_a_reason_and_revokes_the_code(client, s):
    task = s.notified()
    client.force_login(s.head)
    response = client.post(f"/tasks/{task.pk}/cancel/", {"reason": ""}, follow=True)
    assert "请写明取消原因" in messages_of(response)
    response = client.post(f"/tasks/{task.pk}/cancel/", {"reason": "企业已停业"}, follow=True)
    assert "任务已取消，检查码已作废" in messages_of(response)
    assert InspectionCode.objects.get(task=task).status == InspectionCode.Status.REVOKED


def test_my_today_lists_the_inspectors_tasks_only(client, s):
    mine = s.notified()
    colleague = inspector_with_account(s.body, "钱七")
    s.draft(enterprise=s.other_enterprise, inspectors=[s.inspector2, colleague])
    client.force_login(s.inspector_user)
    page = client.get("/tasks/today/").content.decode()
    assert s.enterprise.name in page and "出示检查码" in page
    assert s.other_enterprise.name not in page
    assert f"/tasks/{mine.pk}/code/" in page


def test_show_code_renders_a_qr_that_decodes_to_a_verifiable_url(client, s, settings):
    task = s.notified()
    client.force_login(s.inspector_user)
    response = client.get(f"/tasks/{task.pk}/code/")
    page = response.content.decode()
    assert response.status_code == 200
    assert f'content="{settings.CODE_REFRESH_SECONDS}"' in page  # the page reloads itself: a new token
    assert "no-cache" in response["Cache-Control"]
    # Decode the very image the page shows with a real decoder, and verify the token in it.
    png = base64.b64decode(re.search(r'id="qr" src="data:image/png;base64,([^"]+)"', page).group(1))
    decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)), formats=zxingcpp.BarcodeFormat.QRCode)[
        0
    ].text
    assert decoded.startswith(settings.CODE_BASE_URL.upper() + "/C/")
    claims = signing.read_token(signing.token_from_url(decoded))
    assert claims.code_id == task.code.public_id
    assert claims.not_after - claims.not_before == timezone.timedelta(seconds=settings.CODE_TOKEN_TTL_SECONDS)


def test_only_the_tasks_inspectors_may_show_its_code(client, s):
    task = s.notified()
    client.force_login(s.head)
    assert client.get(f"/tasks/{task.pk}/code/").status_code == 403
    client.force_login(s.partner_inspector_user)
    assert client.get(f"/tasks/{task.pk}/code/").status_code == 404


def test_record_page_saves_the_findings(client, s, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    task = s.in_progress()
    client.force_login(s.inspector_user)
    page = client.get(f"/tasks/{task.pk}/record/").content.decode()
    names = sorted(set(re.findall(r'name="(f_\d+_\d+)"', page)))
    assert names and len(names) == len(s.item.checklist)
    data = {name: "compliant" for name in names}
    data.update(outcome="no_problem", summary="现场检查未发现问题")
    response = client.post(f"/tasks/{task.pk}/record/", data, follow=True)
    assert "检查结果已录入" in messages_of(response)[0]
    task.refresh_from_db()
    assert task.status == Task.Status.RESULT_RECORDED
    assert task.record.findings.count() == len(names)


def test_record_page_refuses_a_disguised_file(client, s, settings, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.MEDIA_ROOT = tmp_path
    task = s.in_progress()
    client.force_login(s.inspector_user)
    page = client.get(f"/tasks/{task.pk}/record/").content.decode()
    data = {name: "compliant" for name in set(re.findall(r'name="(f_\d+_\d+)"', page))}
    data.update(outcome="no_problem", summary="未发现问题", evidence_kind="photo")
    data["evidence_files"] = SimpleUploadedFile("现场.png", b"MZ\x90\x00 not a png", content_type="image/png")
    response = client.post(f"/tasks/{task.pk}/record/", data)
    assert "内容与扩展名不符" in response.content.decode()
    task.refresh_from_db()
    assert task.status == Task.Status.IN_PROGRESS


def test_jwks_is_published(client):
    response = client.get("/.well-known/jwks.json")
    keys = response.json()["keys"]
    assert keys and keys[0]["kty"] == "OKP" and keys[0]["crv"] == "Ed25519"


def test_the_body_sees_evaluations_only_as_an_aggregate_of_five(client, s):
    scores = {
        "overall": 4,
        "certificate_shown": 5,
        "rights_told": 5,
        "conduct": 4,
        "efficiency": 3,
        "integrity": 5,
    }
    for n in range(5):
        task = s.recorded()
        services.evaluate(s.contact, task=task, scores={**scores, "overall": 5 if n == 0 else 4})
        if n == 3:
            client.force_login(s.head)
            page = client.get("/tasks/").content.decode()
            assert "满5条后显示汇总" in page
            # Nor does the task's own page show what this enterprise said.
            assert "企业评议" not in client.get(f"/tasks/{task.pk}/").content.decode()
    page = client.get("/tasks/").content.decode()
    assert "（5条，5分制）：总体 4.2" in page


def test_cancelling_a_notified_task_tells_the_enterprise(s):
    task = s.notified()
    services.cancel_task(s.head, task=task, reason="企业已停业")
    notice = Notification.objects.filter(enterprise=s.enterprise).latest("pk")
    assert notice.event == "task.cancelled" and "企业已停业" in notice.body
