"""On a phone, in a real Chromium, without logging in: anyone looks up an enterprise's yearly inspection caps
and their use this year (F-43), lists every enterprise's caps by district and downloads the list, reads a
published typical case (F-37), and downloads a dataset from the open-data catalogue."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from django.utils import timezone

from jianchama.inspections import services as inspections
from jianchama.inspections.models import FrequencyRule, Task
from jianchama.supervision.models import Bulletin
from tests.browser.test_inspection_code import no_horizontal_scroll, person
from tests.inspections.conftest import build_scenario

pytestmark = pytest.mark.django_db(transaction=True)


def test_anyone_checks_an_enterprises_caps_and_reads_a_bulletin_on_a_phone(live_server, browser):
    s = build_scenario()
    FrequencyRule.objects.create(
        name="同一部门每年不超过2次", scope="per_body", period="year", limit=2, action="justify"
    )
    FrequencyRule.objects.create(
        name="各部门合计每年不超过4次", scope="all_bodies", period="year", limit=4, action="warn"
    )
    today = timezone.localdate()
    for _ in range(2):
        task = inspections.create_task(
            s.inspector_user,
            enterprise=s.enterprise,
            items=[s.item],
            inspectors=[s.inspector, s.inspector2],
            legal_basis="《城镇燃气管理条例》",
            kind=Task.Kind.COMPLAINT,
            window_start=today,
            window_end=today + datetime.timedelta(days=3),
            reason="投诉",
            evidence="12345工单",
        )
        inspections.submit_task(s.inspector_user, task=task, justification="投诉核查")
    item = Bulletin.objects.create(
        region=s.jinshan,
        kind=Bulletin.Kind.TYPICAL_CASE,
        audience=Bulletin.Audience.PUBLIC,
        title="某执法单位无码入企检查典型案例",
        text="某执法单位在对某企业检查时未出示检查码。\n区司法局制发监督建议书，该单位已整改。",
        status=Bulletin.Status.PUBLISHED,
        created_by=s.supervisor,
        published_at=timezone.now(),
    )
    base = live_server.url
    with person(browser) as page:
        page.goto(f"{base}/open-data/caps/")
        page.fill("#c-uscc", s.enterprise.uscc)
        page.fill("#c-name", s.enterprise.name)
        page.click("button[type=submit]")
        page.wait_for_selector("#result")
        rows = page.locator("table tbody tr")
        assert rows.count() == 2
        all_bodies, per_body = rows.nth(0).inner_text(), rows.nth(1).inner_text()
        assert "4次" in all_bodies and "2次" in all_bodies  # limit 4, used 2
        assert "已达上限" in per_body  # one body inspected twice: its cap of 2 is used up
        assert no_horizontal_scroll(page)
        # A wrong name tells nothing about the enterprise.
        page.fill("#c-name", "金山燃气")
        page.click("button[type=submit]")
        page.wait_for_selector("#not-found")
        assert s.enterprise.name not in page.locator("main").inner_text()

        page.goto(f"{base}/supervision/bulletins/public/")
        page.get_by_text(item.title).click()
        page.wait_for_url(f"{base}/supervision/bulletins/public/{item.pk}/")
        assert "区司法局制发监督建议书，该单位已整改。" in page.locator("main").inner_text()
        assert no_horizontal_scroll(page)

        # The list of every enterprise's caps: the same numbers, filtered by district, on a phone.
        page.goto(f"{base}/open-data/caps/")
        page.select_option("#f-region", "310116")
        page.locator("#caps-filter button[type=submit]").click()
        page.wait_for_url("**region=310116**")
        row = page.locator(f'#caps-list tr[data-uscc="{s.enterprise.uscc}"]')
        assert "已用2次，上限4次" in row.inner_text() and "已达上限" in row.inner_text()
        assert s.mh_enterprise.name not in page.locator("main").inner_text()
        assert no_horizontal_scroll(page)
        with page.expect_download() as download:
            page.click("#caps-csv")
        data = Path(download.value.path()).read_bytes()
        assert data.startswith("\ufeff".encode()) and s.enterprise.uscc.encode() in data

        page.goto(f"{base}/open-data/")
        assert page.locator("section.dataset").count() >= 5
        assert no_horizontal_scroll(page)
        with page.expect_download() as download:
            page.locator("#bulletins").get_by_text("CSV").first.click()
        data = Path(download.value.path()).read_bytes()
        assert data.startswith("\ufeff".encode()) and item.title.encode() in data
