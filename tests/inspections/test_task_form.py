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
