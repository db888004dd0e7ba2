"""On a phone, in a real Chromium: a supervisor commits and reveals the quarter's sampling round, anyone reads
the public result without logging in; an enterprise contact finds the compliance guide on its task page."""

from __future__ import annotations

import pytest

from jianchama.registry import guides
from jianchama.supervision.models import SampledBody, SamplingRound
from tests.browser.test_inspection_code import contact_login, no_horizontal_scroll, person, staff_login
from tests.inspections.conftest import build_scenario
from tests.supervision.test_sampling import build_world

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_supervisor_draws_the_quarter_on_a_phone_and_anyone_reads_it(live_server, browser):
    w = build_world()
    base = live_server.url
    with person(browser) as page:
        staff_login(page, base, w.supervisor.username)
        page.goto(f"{base}/supervision/sampling/")
        page.click("#commit summary")
        page.fill("#id_ratio", "0.1")
        page.click("#commit button[type=submit]")
        page.wait_for_selector("text=公开种子并抽取")
        sampling_round = SamplingRound.objects.get()
        assert sampling_round.pool_hash in page.content() and sampling_round.seed not in page.content()
        assert no_horizontal_scroll(page)
        page.click("text=公开种子并抽取")
        page.wait_for_selector("#result")
        assert "抽中3家执法单位" in page.content()
        assert no_horizontal_scroll(page)
    sampling_round.refresh_from_db()
    drawn = [s.body.name for s in SampledBody.objects.filter(round=sampling_round).order_by("position")]
    with person(browser) as page:
        page.goto(f"{base}/supervision/sampling/{sampling_round.pk}/")
        assert page.locator("#seed").inner_text() == sampling_round.seed
        rows = page.locator("#result tbody tr")
        assert rows.count() == 3
        assert all(name in rows.nth(n).inner_text() for n, name in enumerate(drawn))
        assert "登记评查" not in page.content()
        assert no_horizontal_scroll(page)


def test_the_enterprise_reads_the_guide_of_its_task_on_a_phone(live_server, browser):
    s = build_scenario()
    guide = guides.create_guide(
        s.head,
        field=s.gas,
        item=s.item,
        title="燃气经营许可自查指引",
        content="一、核对燃气经营许可证是否在有效期内。\n二、核对实际经营范围是否与许可一致。",
        publish=True,
    )
    task = s.notified()
    with person(browser) as page:
        contact_login(page, live_server.url, s.contact.phone)
        page.goto(f"{live_server.url}/portal/tasks/{task.pk}/")
        page.locator("#guides").get_by_text(guide.title).click()
        page.wait_for_selector("#content")
        assert "核对实际经营范围是否与许可一致" in page.locator("#content").inner_text()
        assert no_horizontal_scroll(page)
