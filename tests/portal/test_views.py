"""The public scan page and the enterprise portal, through the Django test client."""

from __future__ import annotations

import re

import pytest

from jianchama.inspections import services, signing
from jianchama.inspections.models import CodeReport, Evaluation, Scan, Statement, Task
from tests.inspections.conftest import build_scenario

pytestmark = pytest.mark.django_db


@pytest.fixture
def s(db):
    return build_scenario()


def scan_url(task: Task, **kwargs) -> str:
    return "/C/" + signing.issue_token(task.code.public_id, **kwargs)


def test_genuine_scan_shows_bodies_inspectors_items_rights(client, s):
    task = s.notified()
    response = client.get(scan_url(task))
    page = response.content.decode()
    assert response.status_code == 200
    assert "检查码真实有效" in page
    assert s.body.name in page
    assert "张三" in page and s.inspector.certificate.number in page
    assert "李四" in page and s.inspector2.certificate.number in page
    assert s.item.name in page and "陈述权、申辩权" in page and "严禁" in page
    assert "<script" not in page and len(response.content) < 60 * 1024
    assert Scan.objects.get().outcome == Scan.Outcome.GENUINE
    task.refresh_from_db()
    assert task.status == Task.Status.NOTIFIED  # an anonymous scan does not start the visit


def test_lowercase_url_works_too(client, s):
    task = s.notified()
    token = signing.issue_token(task.code.public_id)
    assert "检查码真实有效" in client.get("/c/" + token.lower()).content.decode()


def test_the_enterprises_contact_scanning_starts_the_visit(client, s):
    task = s.notified()
    client.force_login(s.contact)
    page = client.get(scan_url(task)).content.decode()
    assert "已记录企业到场核验，检查开始" in page
    task.refresh_from_db()
    assert task.status == Task.Status.IN_PROGRESS
    scan = Scan.objects.get()
    assert scan.enterprise == s.enterprise and scan.client_hash and "127.0.0.1" not in scan.client_hash


def test_forged_code_warns_and_can_be_reported(client, s):
    task = s.notified()
    url = scan_url(task)
    flipped = url[:-5] + ("A" if url[-5] != "A" else "B") + url[-4:]
    page = client.get(flipped).content.decode()
    assert "检查码验证失败" in page and "有权拒绝" in page
    assert s.body.name not in page  # nothing of the task is shown for a forged code
    report = re.search(r'href="(/c/report/[^"]+)"', page).group(1)
    response = client.post(report, {"contact_phone": "1390000000", "description": "自称燃气检查"})
    assert "联系电话请填写11位手机号码" in response.content.decode()
    response = client.post(report, {"contact_phone": "13900000009", "description": "自称燃气检查"})
    assert "举报已收到" in response.content.decode()
    assert CodeReport.objects.get().scan.outcome == Scan.Outcome.FORGED


@pytest.mark.parametrize(
    "mangle",
    [
        pytest.param(lambda t: t + "/", id="trailing-slash"),
        pytest.param(lambda t: t + "===", id="padding"),
        pytest.param(lambda t: t + "A" * 100, id="over-long"),
        pytest.param(lambda t: t * 40, id="far-too-long"),
        pytest.param(lambda t: "", id="empty"),
    ],
)
def test_a_mangled_code_url_gets_the_plain_verdict_and_the_report_link(client, s, mangle):
    task = s.notified()
    token = signing.issue_token(task.code.public_id)
    response = client.get("/C/" + mangle(token))
    assert response.status_code == 200
    page = response.content.decode()
    assert "检查码验证失败" in page and "有权拒绝" in page
    assert s.body.name not in page
    report = re.search(r'href="(/c/report/[^"]+)"', page).group(1)
    assert client.get(report).status_code == 200
    assert Scan.objects.get().outcome == Scan.Outcome.FORGED


def test_a_tampered_report_link_is_refused(client, s):
    assert client.get("/c/report/123:abc/").status_code == 404


def test_stale_revoked_wrong_enterprise_completed(client, s):
    task = s.notified()
    stale = client.get(scan_url(task, now=signing_now(minutes=-10))).content.decode()
    assert "二维码已刷新" in stale and s.body.name in stale

    client.force_login(s.other_contact)
    assert "这不是贵企业的检查码" in client.get(scan_url(task)).content.decode()
    client.logout()

    recorded = s.recorded(enterprise=s.other_enterprise)
    page = client.get(scan_url(recorded)).content.decode()
    assert "本次检查已完成" in page and f"/portal/tasks/{recorded.pk}/" in page

    services.cancel_task(s.head, task=task, reason="企业停业")
    assert "该检查码已作废" in client.get(scan_url(task)).content.decode()
    outcomes = list(Scan.objects.order_by("pk").values_list("outcome", flat=True))
    assert outcomes == ["stale", "wrong_enterprise", "completed", "revoked"]


def signing_now(*, minutes: int):
    from django.utils import timezone

    return timezone.now() + timezone.timedelta(minutes=minutes)


def test_scan_page_is_rate_limited_per_client(client, s, settings):
    settings.SCAN_RATE_LIMIT = "3/m"
    task = s.notified()
    codes = [client.get(scan_url(task)).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    assert Scan.objects.count() == 3


def test_portal_lists_tasks_and_the_enterprise_code(client, s):
    s.notified()
    client.force_login(s.contact)
    page = client.get("/portal/").content.decode()
    assert s.enterprise.name in page and s.body.name in page
    assert "企业码" in page and "<svg" in page


def test_contact_sees_the_result_evaluates_once_and_files_a_statement(client, s):
    task = s.recorded()
    client.force_login(s.contact)
    page = client.get(f"/portal/tasks/{task.pk}/").content.decode()
    assert "检查结果" in page and "未发现问题" in page and "提交评议" in page
    scores = {
        "overall": 5,
        "certificate_shown": 5,
        "rights_told": 4,
        "conduct": 5,
        "efficiency": 4,
        "integrity": 5,
    }
    response = client.post(f"/portal/tasks/{task.pk}/", {"form": "evaluation", **scores}, follow=True)
    assert "感谢您的评议" in response.content.decode()
    assert "提交评议" not in response.content.decode()
    assert Evaluation.objects.get(task=task).rights_told == 4
    response = client.post(f"/portal/tasks/{task.pk}/", {"form": "evaluation", **scores})
    assert Evaluation.objects.count() == 1
    response = client.post(
        f"/portal/tasks/{task.pk}/", {"form": "statement", "text": "对检查结论无异议，补充说明"}, follow=True
    )
    assert "陈述申辩已提交" in response.content.decode()
    assert Statement.objects.get().task == task


def test_incomplete_evaluation_says_which_dimension_is_missing(client, s):
    task = s.recorded()
    client.force_login(s.contact)
    page = client.post(f"/portal/tasks/{task.pk}/", {"form": "evaluation", "overall": 5}).content.decode()
    assert "这个字段是必填项" in page or "必填" in page
    assert not Evaluation.objects.exists()


def test_portal_is_for_enterprise_contacts_only(client, s):
    task = s.recorded()
    client.force_login(s.other_contact)
    assert client.get(f"/portal/tasks/{task.pk}/").status_code == 404
    client.force_login(s.inspector_user)
    assert client.get("/portal/").status_code == 403
    client.logout()
    assert client.get("/portal/").status_code == 302


def test_enterprise_code_leads_its_contact_to_the_portal(client, s):
    url = f"/e/{s.enterprise.uscc}/"
    assert "/login/phone/" in client.get(url)["Location"]
    client.force_login(s.contact)
    assert client.get(url)["Location"] == "/portal/"
    client.force_login(s.other_contact)
    assert client.get(url).status_code == 403


def test_the_enterprise_code_url_does_not_tell_whether_an_enterprise_is_registered(client, s):
    """/e/<uscc>/ answered 404 for an unregistered code and a login redirect for a registered one."""
    from tests.factories import EnterpriseFactory

    registered = f"/e/{s.enterprise.uscc}/"
    unregistered_uscc = EnterpriseFactory.build().uscc  # a valid code, never saved
    unregistered = f"/e/{unregistered_uscc}/"
    for url in (registered, unregistered, "/e/not-a-code/"):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/login/phone/?next=")
    client.force_login(s.other_contact)
    answers = [client.get(url) for url in (registered, unregistered, "/e/not-a-code/")]
    assert {r.status_code for r in answers} == {403}
    # The same page each time, but for the logout form's CSRF token (masked afresh on every response).
    pages = {re.sub(r'value="[A-Za-z0-9]{64}"', "", r.content.decode()) for r in answers}
    assert len(pages) == 1


def test_another_enterprise_scanning_a_finished_code_is_told_it_is_not_theirs(client, s):
    task = s.recorded()
    client.force_login(s.other_contact)
    page = client.get(scan_url(task)).content.decode()
    assert "这不是贵企业的检查码" in page and f"/portal/tasks/{task.pk}/" not in page


def test_the_scan_page_lists_the_five_prohibitions_and_folds_the_eight_donts(client, s):
    """Where the enterprise reads its rights: “五个严禁” in view, “八个不得” in a section it opens, no script."""
    from jianchama.core import conduct

    page = client.get(scan_url(s.notified())).content.decode()
    for p in conduct.FIVE_PROHIBITIONS:
        assert f"<li>{p.text}</li>" in page
    folded = page[page.index('<details id="donts">') : page.index("</details>")]
    for d in conduct.EIGHT_DONTS:
        assert d.text in folded
    assert "国办发〔2024〕54号" in folded and "<script" not in page
