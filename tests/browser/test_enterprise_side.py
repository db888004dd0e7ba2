"""On a 390×844 phone (issue 14): the enterprise logs in and lands on its portal, sees what waits for it and its
year's inspections against the cap, follows a to-do, and reports "有人未出示检查码来检查" with one tap."""

from __future__ import annotations

import pytest

from jianchama.complaints.models import Complaint
from jianchama.inspections.models import FrequencyRule
from tests.browser.test_inspection_code import PHONE_CONTEXT, contact_login
from tests.complaints.conftest import complaint_scenario

pytestmark = pytest.mark.django_db(transaction=True)

PHONE_390 = {**PHONE_CONTEXT, "viewport": {"width": 390, "height": 844}}


def fits(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth") <= 391


def test_enterprise_journey_on_a_phone(live_server, browser, settings):
    settings.PORTAL_COMPLAINT_RATE_LIMIT = "100/h"
    s = complaint_scenario()
    FrequencyRule.objects.create(
        name="各部门合计每年三次", scope="all_bodies", period="year", limit=3, action="warn"
    )
    upcoming = s.notified()
    s.recorded()
    base = live_server.url
    context = browser.new_context(**PHONE_390)
    page = context.new_page()
    try:
        contact_login(page, base, "13900000001")
        assert page.url == f"{base}/portal/"
        main = page.locator("main").inner_text()
        assert "待办事项" in main and "即将到来的检查" in main and "可查看结果并评议的检查" in main
        assert "年度已被检查 2 次" in main and "各级各部门合计每年不超过 3 次" in main
        assert fits(page)
        # Each to-do is a row at least 44 px high: a thumb hits it.
        assert page.locator("a.todo").first.bounding_box()["height"] >= 44
        page.click("a[data-todo=upcoming_visits]")
        page.wait_for_url(f"{base}/portal/?todo=upcoming_visits#tasks")
        assert upcoming.number in page.locator("#tasks").inner_text()
        assert fits(page)

        button = page.locator("button[data-action=report-no-code]")
        assert button.bounding_box()["height"] >= 44
        button.tap()
        page.wait_for_url(f"{base}/portal/complaints/*/")
        complaint = Complaint.objects.get()
        assert complaint.category == Complaint.Category.NO_CODE
        text = page.locator("main").inner_text()
        assert complaint.number in text and "企业有权拒绝" in text
        assert fits(page)
    finally:
        context.close()
