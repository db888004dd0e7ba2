"""On a phone (390×844), in a real Chromium, without logging in: anyone reads a district's inspection statistics
(F-43), picks the year, sees the small cells written "<5", and nothing scrolls sideways."""

from __future__ import annotations

import pytest
from django.utils import timezone

from jianchama.inspections import services
from jianchama.statistics import build
from tests.browser.test_inspection_code import no_horizontal_scroll
from tests.inspections.conftest import build_scenario

pytestmark = pytest.mark.django_db(transaction=True)


def test_anyone_reads_a_districts_statistics_on_a_phone(live_server, browser):
    s = build_scenario()
    for _ in range(6):
        services.submit_task(s.inspector_user, task=s.draft(enterprise=s.enterprise))
    build.rebuild_all()
    year = timezone.localdate().year
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
    page = context.new_page()
    try:
        page.goto(f"{live_server.url}/open-data/statistics/")
        page.get_by_role("link", name=s.jinshan.name).click()
        page.wait_for_url(f"{live_server.url}/open-data/statistics/{s.jinshan.code}/")
        page.select_option("#s-year", str(year))
        page.click("#stat-form button[type=submit]")
        page.wait_for_selector("#period")
        assert page.locator("#period").inner_text() == f"{year}年"
        assert page.locator('tr[data-key="inspections"] .value').inner_text() == "5"  # 6 rounded to 5
        assert page.locator('tr[data-key="enterprises"] .value').inner_text() == "<5"
        assert no_horizontal_scroll(page)
    finally:
        context.close()
