"""A supervisor on a phone: the data supervision dashboard, running the rules now, the finding a rule found,
its evidence linking to the task, and dismissing it."""

from __future__ import annotations

import pytest
from django.urls import reverse

from jianchama.core.roles import Role
from jianchama.inspections.models import InspectionCode, Scan
from jianchama.supervision import jobs
from jianchama.supervision.models import Finding, RuleRun
from tests.browser.test_inspection_code import no_horizontal_scroll, staff_login
from tests.factories import user_for
from tests.inspections.conftest import build_scenario

pytestmark = pytest.mark.django_db(transaction=True)


def test_supervisor_runs_the_rules_and_works_a_finding_on_a_phone(live_server, phone):
    s = build_scenario()
    task = s.recorded()
    Scan.objects.filter(code__task=task).delete()
    InspectionCode.objects.filter(task=task).delete()  # a visit without a code
    supervisor = user_for(Role.SUPERVISOR, region=s.jinshan, username="jiandu")
    page = phone
    staff_login(page, live_server.url, "jiandu")

    page.goto(f"{live_server.url}/supervision/")
    assert page.locator("h1").inner_text() == "数据监督"
    assert "数据监督规则尚未运行过" in page.content()
    page.get_by_role("button", name="立即运行全部").click()
    page.wait_for_url("**/supervision/rules/runs/**")
    assert "数据监督规则已开始运行" in page.locator(".messages").inner_text()
    assert page.locator("progress.run-progress").is_visible()
    # The task queue's worker takes the run (here the test does what the worker does); the page, refreshing
    # itself every 3 seconds, shows the figures once it is done.
    jobs.execute_rule_run(RuleRun.objects.get().pk)
    page.wait_for_selector("text=新发现 1 个问题", timeout=10_000)
    assert not page.locator("progress.run-progress").count()
    assert page.locator("section.card table").first.get_by_text("无码检查").is_visible()
    assert no_horizontal_scroll(page)

    page.goto(f"{live_server.url}/supervision/")
    page.get_by_role("link", name="无码检查").click()
    page.wait_for_url("**/supervision/findings/?*rule=no_code*")
    assert no_horizontal_scroll(page)
    page.get_by_role("link", name="无码检查").first.click()
    finding = Finding.objects.get(rule="no_code")
    page.wait_for_url(f"**/supervision/findings/{finding.pk}/")
    assert no_horizontal_scroll(page)
    evidence = page.locator("ul.evidence a").first
    assert task.number in evidence.inner_text()
    assert evidence.get_attribute("href") == reverse("inspections:task_detail", args=[task.pk])

    page.fill("#dismiss-note", "经核实为系统故障期间补录的数据")
    page.get_by_role("button", name="核销：经核实不成立").click()
    page.wait_for_selector(".messages")
    assert "监督问题已核销" in page.locator(".messages").inner_text()
    assert Finding.objects.get(pk=finding.pk).status == Finding.Status.DISMISSED
    assert supervisor.pk
