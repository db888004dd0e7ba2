"""The statistics page in real Chromium: each chart's series, read back from the ECharts instance, equal the
table beside it; a filter changes both; on a phone and on a desktop the page does not scroll sideways; no CSP
violation (the charts' script is a static file reading json_script)."""

from __future__ import annotations

import pytest

from jianchama.core.roles import Role
from jianchama.statistics.build import rebuild_all
from tests.browser.test_inspection_code import no_horizontal_scroll, staff_login
from tests.factories import user_for
from tests.inspections.conftest import build_scenario

pytestmark = pytest.mark.django_db(transaction=True)

SERIES = """() => Object.fromEntries(Object.entries(window.jianchamaCharts).map(([code, chart]) => {
    const option = chart.getOption();
    const series = option.series.map(s => s.data.map(d => (d !== null && typeof d === 'object') ? d.value : d));
    return [code, series];
}))"""

TABLES = """() => Object.fromEntries([...document.querySelectorAll('[data-table]')].map(table => [
    table.dataset.table,
    [...table.querySelectorAll('tbody tr')].map(tr => [...tr.querySelectorAll('td')].map(td => td.innerText.trim()))
]))"""

COLUMNS = {"by_month": [1, 2, 3, 4], "repeated": [1, 2]}  # the drawn columns where not just the second


def number(text: str):
    try:
        return float(text)
    except ValueError:
        return None  # "—" or "<5": no point on the chart


def assert_charts_equal_tables(page) -> dict:
    page.wait_for_function("window.jianchamaCharts && Object.keys(window.jianchamaCharts).length > 5")
    series, tables = page.evaluate(SERIES), page.evaluate(TABLES)
    assert series, "no chart was drawn"
    for code, drawn in series.items():
        rows = [row for row in tables[code] if len(row) > 1]
        for index, column in enumerate(COLUMNS.get(code, [1])):
            assert [None if v is None else float(v) for v in drawn[index]] == [
                number(row[column]) for row in rows
            ], code
    return series


def test_the_charts_show_the_tables_numbers_and_follow_the_filters(live_server, browser, phone):
    s = build_scenario()
    s.closed()
    s.closed(s.joint_draft())
    s.submitted()
    s.notified()
    user_for(Role.SUPERVISOR, region=s.jinshan, username="tongji")
    rebuild_all()

    desktop = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN").new_page()
    staff_login(desktop, live_server.url, "tongji")
    desktop.goto(f"{live_server.url}/statistics/")
    series = assert_charts_equal_tables(desktop)
    assert sum(series["by_kind"][0]) == 4
    assert no_horizontal_scroll(desktop)
    # A filter: the market body's field only; the charts and the tables change together.
    desktop.select_option("#field", label="市场监管")
    desktop.get_by_role("button", name="统计").click()
    desktop.wait_for_url("**/statistics/?*field=*")
    series = assert_charts_equal_tables(desktop)
    assert sum(series["by_kind"][0]) == 1
    # The drill-down to a body.
    desktop.goto(f"{live_server.url}/statistics/")
    desktop.get_by_role("link", name="金山区市场监督管理局").click()
    desktop.wait_for_url("**/statistics/?*body=*")
    series = assert_charts_equal_tables(desktop)
    assert sum(series["by_kind"][0]) == 1

    staff_login(phone, live_server.url, "tongji")
    phone.goto(f"{live_server.url}/statistics/")
    assert_charts_equal_tables(phone)
    assert no_horizontal_scroll(phone)
