"""The task form of issue 14: sections, the enterprise found by part of its name (as you type, and without
JavaScript), the frequency answer beside the chosen enterprise, the plan picker."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from django.utils import timezone

from jianchama.inspections.models import Task
from tests.factories import EnterpriseFactory, filed_plan

pytestmark = pytest.mark.django_db


def form_data(s, enterprise_text: str, plan) -> dict:
    today = timezone.localdate()
    return {
        "enterprise_uscc": enterprise_text,
        "kind": Task.Kind.ROUTINE,
        "plan_number": plan.number,
        "mode": Task.Mode.ON_SITE,
        "items": [s.item.pk],
        "inspectors": [s.inspector.pk, s.inspector2.pk],
        "legal_basis": "《城镇燃气管理条例》",
        "window_start": today.isoformat(),
        "window_end": today.isoformat(),
    }


def test_the_form_is_in_sections_with_the_search_and_the_plan_picker(client, s):
    plan = filed_plan(s.body, items=[s.item], title="金山建管委年度计划")
    client.force_login(s.inspector_user)
    page = client.get(reverse("inspections:task_create")).content.decode()
    legends = re.findall(r"<legend>(.*?)</legend>", page)
    assert legends == [
        "1. 检查对象",
        "2. 执法单位和检查事项",
        "3. 执法人员",
        "4. 检查类型、依据和计划",
        "5. 检查时间和方式",
    ]
    assert f'hx-get="{reverse("inspections:enterprise_search")}"' in page
    assert "vendor/htmx/htmx-2.0.4.min.js" in page
    assert f'<option value="{plan.number}">金山建管委年度计划</option>' in page
    assert 'list="filed-plans"' in page


def test_search_by_part_of_the_name_or_the_start_of_the_uscc(client, s):
    client.force_login(s.inspector_user)
    url = reverse("inspections:enterprise_search")
    page = client.get(url, {"enterprise_uscc": "金山燃气"}).content.decode()
    assert s.enterprise.name in page and s.enterprise.uscc in page
    assert s.other_enterprise.name not in page  # 金山另一燃气公司 does not contain 金山燃气
    page = client.get(url, {"enterprise_uscc": s.enterprise.uscc[:10].lower()}).content.decode()
    assert s.enterprise.uscc in page
    assert (
        "pick" not in client.get(url, {"enterprise_uscc": "金"}).content.decode()
    )  # two characters at least
    assert "没有名称或代码含「无此企业」" in client.get(url, {"enterprise_uscc": "无此企业"}).content.decode()


def test_search_and_pick_are_for_task_authors_only(client, s):
    client.force_login(s.contact)
    assert client.get(reverse("inspections:enterprise_search"), {"q": "金山"}).status_code == 403
    assert client.get(reverse("inspections:enterprise_pick"), {"uscc": s.enterprise.uscc}).status_code == 403
    client.force_login(s.supervisor)
    assert client.get(reverse("inspections:enterprise_search"), {"q": "金山"}).status_code == 403


def test_search_is_rate_limited(client, s, settings):
    settings.ENTERPRISE_SEARCH_RATE = "2/m"
    client.force_login(s.inspector_user)
    url = reverse("inspections:enterprise_search")
    assert [client.get(url, {"q": "金山燃气"}).status_code for _ in range(3)] == [200, 200, 429]


def test_pick_fills_the_field_and_says_how_often_it_was_inspected(client, s):
    s.recorded()
    s.notified(s.joint_draft())
    client.force_login(s.inspector_user)
    page = client.get(reverse("inspections:enterprise_pick"), {"uscc": s.enterprise.uscc}).content.decode()
    assert f'value="{s.enterprise.uscc}"' in page and 'id="enterprise-field"' in page
    year = timezone.localdate().year
    assert f"{year}年度已被检查2次（{s.body.name}2次、{s.partner.name}1次）" in page
    assert client.get(reverse("inspections:enterprise_pick"), {"uscc": "X"}).status_code == 404


def test_without_javascript_part_of_a_unique_name_is_enough(client, s):
    plan = filed_plan(s.body, items=[s.item])
    client.force_login(s.inspector_user)
    response = client.post(reverse("inspections:task_create"), form_data(s, "金山燃气有限", plan))
    assert response.status_code == 302
    assert Task.objects.get().enterprise == s.enterprise


def test_an_ambiguous_name_lists_the_candidates_and_saves_nothing(client, s):
    plan = filed_plan(s.body, items=[s.item])
    EnterpriseFactory(name="金山燃气有限公司第二分公司", region=s.jinshan)
    client.force_login(s.inspector_user)
    response = client.post(reverse("inspections:task_create"), form_data(s, "金山燃气有限", plan))
    page = response.content.decode()
    assert response.status_code == 200 and "不止一家" in page
    assert s.enterprise.uscc in page and not Task.objects.exists()
    # The full name is one of them: it is taken.
    response = client.post(reverse("inspections:task_create"), form_data(s, s.enterprise.name, plan))
    assert response.status_code == 302


def test_a_form_sent_back_shows_the_chosen_enterprise_s_year(client, s):
    s.recorded()
    plan = filed_plan(s.body, items=[s.item])
    client.force_login(s.inspector_user)
    data = form_data(s, s.enterprise.uscc, plan) | {"legal_basis": ""}
    page = client.post(reverse("inspections:task_create"), data).content.decode()
    assert "已选择：<strong>金山燃气有限公司</strong>" in page
    assert f"{timezone.localdate().year}年度已被检查1次" in page


def test_items_are_those_the_body_and_chosen_joint_bodies_may_check(client, s):
    client.force_login(s.inspector_user)
    page = client.get(reverse("inspections:task_create")).content.decode()
    assert s.item.name in page and s.partner_item.name not in page
    page = client.get(reverse("inspections:task_create"), {"joint_bodies": s.partner.pk}).content.decode()
    assert s.item.name in page and s.partner_item.name in page


def test_inspectors_are_marked_when_their_certificate_misses_the_chosen_items_field(client, s):
    from tests.factories import CertificateFactory, InspectorFactory

    outsider = InspectorFactory(name="孙七", body=s.body)
    CertificateFactory(inspector=outsider, fields=[s.market])
    client.force_login(s.inspector_user)
    page = client.post(
        reverse("inspections:task_create"),
        {"enterprise_uscc": s.enterprise.uscc, "items": [s.item.pk], "refresh_inspectors": "1"},
    ).content.decode()
    assert (
        "孙七（金山区建设和管理委员会） · 执法证领域：市场监管【执法证不覆盖所选事项的领域：燃气管理】"
        in page
    )
    assert "张三（金山区建设和管理委员会） · 执法证领域：燃气管理<" in page


# --- The summary before submitting (issue 14) -----------------------------------------------------------------


def _text(response) -> str:
    """The page's visible text, tags dropped and whitespace squeezed."""
    page = response.content.decode()
    page = re.sub(r"<(script|style)\b.*?</\1>", "", page, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))


def _hidden(response) -> list[tuple[str, str]]:
    return re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', response.content.decode())


def test_the_summary_shows_the_whole_task_and_saves_nothing(client, s):
    from jianchama.core.models import AuditEvent
    from tests.inspections.test_frequency import rule

    s.recorded()  # inspected once this year
    rule("全市每年至多3次", scope="all_bodies", limit=3)
    plan = filed_plan(s.body, items=[s.item], title="金山建管委年度计划")
    client.force_login(s.inspector_user)
    events = AuditEvent.objects.count()
    response = client.post(
        reverse("inspections:task_create"), form_data(s, "金山燃气有限", plan) | {"step": "review"}
    )
    assert response.status_code == 200
    text = _text(response)
    year = timezone.localdate().year
    assert "核对检查任务" in text
    assert f"金山燃气有限公司 （{s.enterprise.uscc}）" in text
    assert f"{year}年度已被检查1次（{s.body.name}1次），各级各部门合计每年不超过3次" in text
    assert f"执法单位：{s.body.name}" in text
    assert s.item.name in text and "金山建管委年度计划" in text and "《城镇燃气管理条例》" in text
    for inspector in (s.inspector, s.inspector2):
        certificate = inspector.certificates.get()
        assert inspector.name in text and f"执法证{certificate.number}" in text
    assert "未超出检查频次规则（核查规则1条），可以提交" in text
    today = timezone.localdate()
    assert f"计划检查日期：{today.year}年{today.month}月{today.day}日" in text
    # A dry run: no task, no audit event, the number sequence untouched.
    assert Task.objects.count() == 1 and AuditEvent.objects.count() == events
    # What was typed travels with the summary.
    hidden = dict(_hidden(response))
    assert hidden["enterprise_uscc"] == "金山燃气有限" and hidden["plan_number"] == plan.number


def test_back_to_the_form_keeps_what_was_typed(client, s):
    plan = filed_plan(s.body, items=[s.item])
    client.force_login(s.inspector_user)
    summary = client.post(
        reverse("inspections:task_create"), form_data(s, s.enterprise.uscc, plan) | {"step": "review"}
    )
    data: dict[str, list[str]] = {}
    for name, value in _hidden(summary):
        data.setdefault(name, []).append(value)
    page = client.post(reverse("inspections:task_create"), data | {"step": "edit"}).content.decode()
    assert "<legend>1. 检查对象</legend>" in page and "errorlist" not in page
    assert f'value="{s.enterprise.uscc}"' in page and f'value="{plan.number}"' in page
    assert "《城镇燃气管理条例》</textarea>" in page
    assert re.search(rf'value="{s.item.pk}"[^>]*checked', page)
    assert re.search(rf'value="{s.inspector2.pk}"[^>]*checked', page)
    assert Task.objects.count() == 0


def test_confirming_the_summary_drafts_and_submits_the_task(client, s):
    plan = filed_plan(s.body, items=[s.item])
    client.force_login(s.inspector_user)
    summary = client.post(
        reverse("inspections:task_create"), form_data(s, s.enterprise.uscc, plan) | {"step": "review"}
    )
    data: dict[str, list[str]] = {}
    for name, value in _hidden(summary):
        data.setdefault(name, []).append(value)
    response = client.post(reverse("inspections:task_create"), data | {"step": "confirm"}, follow=True)
    task = Task.objects.get()
    assert task.status == Task.Status.SUBMITTED and task.plan == plan
    assert response.redirect_chain[-1][0] == f"/tasks/{task.pk}/"
    assert f"检查任务{task.number}已提交审批" in response.content.decode()


def test_the_summary_says_refused_and_a_forced_confirm_saves_nothing(client, s):
    from tests.inspections.test_frequency import rule

    s.recorded()
    rule("同一单位每年至多1次", limit=1, exemptions=["complaint"])
    plan = filed_plan(s.body, items=[s.item])
    client.force_login(s.inspector_user)
    data = form_data(s, s.enterprise.uscc, plan)
    summary = client.post(reverse("inspections:task_create"), data | {"step": "review"})
    text = _text(summary)
    assert "超出以下规则，不予提交" in text and "本规则的豁免情形：投诉举报核查" in text
    assert re.search(r'<button type="submit" name="step" value="confirm" disabled>', summary.content.decode())
    response = client.post(reverse("inspections:task_create"), data | {"step": "confirm"})
    assert response.status_code == 200 and "不予提交" in _text(response)
    assert Task.objects.count() == 1  # the recorded one only


def test_the_summary_asks_for_a_justification_and_submits_with_it(client, s):
    from tests.inspections.test_frequency import rule

    s.recorded()
    rule("同一单位每年至多1次须说明理由", limit=1, action="justify")
    plan = filed_plan(s.body, items=[s.item])
    client.force_login(s.inspector_user)
    data = form_data(s, s.enterprise.uscc, plan)
    summary = client.post(reverse("inspections:task_create"), data | {"step": "review"})
    assert "须填写超频次检查的理由" in _text(summary)
    response = client.post(reverse("inspections:task_create"), data | {"step": "confirm"})
    assert response.status_code == 200 and "请填写超频次检查的理由" in _text(response)
    assert Task.objects.count() == 1
    response = client.post(
        reverse("inspections:task_create"), data | {"step": "confirm", "justification": "群众反映燃气泄漏"}
    )
    assert response.status_code == 302
    task = Task.objects.exclude(status=Task.Status.APPROVED).exclude(record__isnull=False).get()
    assert task.status == Task.Status.SUBMITTED and task.frequency_justification == "群众反映燃气泄漏"


def test_the_summary_shows_a_warning_and_may_be_submitted(client, s):
    from tests.inspections.test_frequency import rule

    s.recorded()
    rule("同一单位每年第2次起提示", limit=1, action="warn")
    plan = filed_plan(s.body, items=[s.item])
    client.force_login(s.inspector_user)
    summary = client.post(
        reverse("inspections:task_create"), form_data(s, s.enterprise.uscc, plan) | {"step": "review"}
    )
    assert "可以提交，但请注意" in _text(summary)
    assert '<button type="submit" name="step" value="confirm">' in summary.content.decode()
