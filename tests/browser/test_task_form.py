"""A new inspector drafts a correct task without knowing a USCC (issue 14): types part of the enterprise's name,
picks it from the matches (HTMX), sees how often it was inspected this year, picks the filed plan, saves."""

from __future__ import annotations

import datetime
import re

import pytest
from django.utils import timezone

from jianchama.inspections.models import Task
from tests.browser.test_inspection_code import PHONE_CONTEXT, staff_login
from tests.factories import filed_plan
from tests.inspections.conftest import build_scenario

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("viewport", [{"width": 390, "height": 844}, {"width": 1280, "height": 800}])
def test_new_inspector_drafts_a_task_by_part_of_a_name(live_server, browser, viewport):
    s = build_scenario()
    s.recorded()  # inspected once already this year
    plan = filed_plan(s.body, items=[s.item], title="金山建管委燃气年度检查计划")
    base = live_server.url
    context = browser.new_context(**{**PHONE_CONTEXT, "viewport": viewport})
    page = context.new_page()
    try:
        staff_login(page, base, s.inspector_user.username)
        page.goto(f"{base}/tasks/new/")
        page.locator("#id_enterprise_uscc").press_sequentially("金山燃气", delay=50)
        pick = page.locator(f"button.pick[data-uscc='{s.enterprise.uscc}']")
        pick.wait_for()
        assert "金山燃气有限公司" in pick.inner_text()
        pick.click()
        chosen = page.locator(".chosen-enterprise")
        chosen.wait_for()
        year = timezone.localdate().year
        assert f"{year}年度已被检查1次" in chosen.inner_text()
        assert page.input_value("#id_enterprise_uscc") == s.enterprise.uscc

        page.select_option("#id_kind", Task.Kind.ROUTINE)
        page.fill("#id_plan_number", plan.number)
        page.check(f"input[name=items][value='{s.item.pk}']")
        page.check(f"input[name=inspectors][value='{s.inspector.pk}']")
        page.check(f"input[name=inspectors][value='{s.inspector2.pk}']")
        page.fill("#id_legal_basis", "《城镇燃气管理条例》第十五条")
        today = timezone.localdate()
        page.fill("#id_window_start", today.isoformat())
        page.fill("#id_window_end", (today + datetime.timedelta(days=5)).isoformat())
        assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"] + 1
        page.click("button:has-text('保存草稿')")
        page.wait_for_url(re.compile(r"/tasks/\d+/$"))
        task = Task.objects.get(status=Task.Status.DRAFT)
        assert task.enterprise == s.enterprise and task.plan == plan
        assert f"检查任务{task.number}已保存为草稿" in page.content()
    finally:
        context.close()


@pytest.mark.parametrize(
    "viewport,javascript",
    [
        ({"width": 390, "height": 844}, True),
        ({"width": 1280, "height": 800}, True),
        ({"width": 390, "height": 844}, False),
    ],
)
def test_the_summary_before_submitting_then_back_then_submit(live_server, browser, viewport, javascript):
    from tests.inspections.test_frequency import rule

    s = build_scenario()
    earlier = s.recorded()
    rule("同一单位每年至多1次须说明理由", limit=1, action="justify")
    plan = filed_plan(s.body, items=[s.item], title="金山建管委燃气年度检查计划")
    base = live_server.url
    context = browser.new_context(
        **{**PHONE_CONTEXT, "viewport": viewport, "java_script_enabled": javascript}
    )
    page = context.new_page()
    try:
        staff_login(page, base, s.inspector_user.username)
        page.goto(f"{base}/tasks/new/")
        # Without JavaScript the whole name is typed; with it, as in the test above, the search would fill it.
        page.fill("#id_enterprise_uscc", "金山燃气有限")
        page.select_option("#id_kind", Task.Kind.ROUTINE)
        page.fill("#id_plan_number", plan.number)
        page.check(f"input[name=items][value='{s.item.pk}']")
        page.check(f"input[name=inspectors][value='{s.inspector.pk}']")
        page.check(f"input[name=inspectors][value='{s.inspector2.pk}']")
        page.fill("#id_legal_basis", "《城镇燃气管理条例》第十五条")
        today = timezone.localdate()
        page.fill("#id_window_start", today.isoformat())
        page.fill("#id_window_end", today.isoformat())
        page.click("button:has-text('下一步：核对并提交审批')")
        page.locator("h1:has-text('核对检查任务')").wait_for()
        summary = page.inner_text("main") if page.locator("main").count() else page.inner_text("body")
        assert "金山燃气有限公司" in summary and f"{today.year}年度已被检查1次" in summary
        assert s.inspector.name in summary and s.inspector2.name in summary and "执法证" in summary
        assert (
            "金山建管委燃气年度检查计划" in summary
            and f"{today.year}年{today.month}月{today.day}日" in summary
        )
        assert "须填写超频次检查的理由" in page.inner_text("#frequency-check")
        assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"] + 1
        # Back to the form: what was typed is still there.
        page.click("button:has-text('返回修改')")
        page.locator("legend:has-text('1. 检查对象')").wait_for()
        assert page.input_value("#id_enterprise_uscc") == "金山燃气有限"
        assert page.input_value("#id_legal_basis") == "《城镇燃气管理条例》第十五条"
        assert page.is_checked(f"input[name=inspectors][value='{s.inspector2.pk}']")
        assert not Task.objects.exclude(pk=earlier.pk).exists()
        page.click("button:has-text('下一步：核对并提交审批')")
        page.locator("h1:has-text('核对检查任务')").wait_for()
        # Submitting without the justification is refused and saves nothing; with it, the task is submitted.
        page.click("button:has-text('提交审批')")
        page.locator("#review-submit .errorlist").wait_for()
        assert "请填写超频次检查的理由" in page.inner_text("#review-submit")
        assert not Task.objects.exclude(pk=earlier.pk).exists()
        page.fill("#id_justification", "群众反映燃气泄漏，需再次检查")
        page.click("button:has-text('提交审批')")
        page.wait_for_url(re.compile(r"/tasks/\d+/$"))
        task = Task.objects.exclude(pk=earlier.pk).get()
        assert task.status == Task.Status.SUBMITTED and task.frequency_justification.startswith("群众反映")
        assert f"检查任务{task.number}已提交审批" in page.inner_text("body")
    finally:
        context.close()
