"""The statistics page in real Chromium: each chart's series, read back from the ECharts instance, equal the
table beside it; a filter changes both; on a phone and on a desktop the page does not scroll sideways; no CSP
violation (the charts' script is a static file reading json_script)."""

from __future__ import annotations

import datetime
import re

import pytest
from django.utils import timezone

from jianchama.core.roles import Role
from jianchama.inspections.models import Task
from jianchama.statistics.build import rebuild_all
from tests.browser.test_inspection_code import no_horizontal_scroll, staff_login
from tests.factories import user_for
from tests.inspections.conftest import build_scenario

pytestmark = pytest.mark.django_db(transaction=True)

# A point is a number, {value: …}, or [x, …, value] (the calendar's [day, n], the tiles' [column, row, n]).
SERIES = """() => Object.fromEntries(Object.entries(window.jianchamaCharts).map(([code, chart]) => {
    const option = chart.getOption();
    const point = d => {
        const v = (d !== null && typeof d === 'object' && !Array.isArray(d)) ? d.value : d;
        return Array.isArray(v) ? v[v.length - 1] : v;
    };
    const series = option.series.map(s => s.data.map(point));
    return [code, series];
}))"""

# The heat calendar's points as ECharts holds them: [ISO day, inspections], every year's series in turn.
CALENDAR = """() => window.jianchamaCharts.calendar.getOption().series.flatMap(s => s.data)"""

TABLES = """() => Object.fromEntries([...document.querySelectorAll('[data-table]')].map(table => [
    table.dataset.table,
    [...table.querySelectorAll('tbody tr')].map(tr => [...tr.querySelectorAll('td')].map(td => td.innerText.trim()))
]))"""

# The drawn columns where not just the second.
COLUMNS = {
    "by_month": [1, 2, 3, 4],
    "repeated": [1, 2],
    "supervision_findings": [2, 3, 4],
    "supervision_steps": [1, 2, 3],
    "sampling_coverage": [3, 4],
}
SPLIT = {"calendar"}  # charts drawing one column as several series (a calendar per year)


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
        if code in SPLIT:
            drawn = [[point for one in drawn for point in one]]
        for index, column in enumerate(COLUMNS.get(code, [1])):
            assert [None if v is None else float(v) for v in drawn[index]] == [
                number(row[column]) for row in rows
            ], code
    return series


def iso(shown: str) -> str:
    """A date as the page writes it (2026年12月2日) in ISO."""
    year, month, day = map(int, re.fullmatch(r"(\d+)年(\d+)月(\d+)日", shown).groups())
    return f"{year:04d}-{month:02d}-{day:02d}"


def assert_calendar_equals_table(page) -> list:
    """The calendar's [day, inspections] read back from its ECharts instance are the table's rows."""
    drawn = page.evaluate(CALENDAR)
    rows = [row for row in page.evaluate(TABLES)["calendar"] if len(row) > 1]
    assert [[day, float(n)] for day, n in drawn] == [[iso(row[0]), float(row[1])] for row in rows]
    return drawn


def test_the_charts_show_the_tables_numbers_and_follow_the_filters(live_server, browser, phone):
    s = build_scenario()
    first = s.closed()
    s.closed(s.joint_draft())
    s.submitted()
    notified = s.notified()
    user_for(Role.SUPERVISOR, region=s.jinshan, username="tongji")
    # Two of the inspections on an earlier day of this year, so that the calendar has two days.
    today = timezone.localdate()
    earlier = max(today - datetime.timedelta(days=9), today.replace(month=1, day=1))
    Task.objects.filter(pk__in=[first.pk, notified.pk]).update(
        started_at=timezone.make_aware(datetime.datetime.combine(earlier, datetime.time(10))),
        window_start=earlier,
    )
    rebuild_all()

    desktop = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN").new_page()
    staff_login(desktop, live_server.url, "tongji")
    desktop.goto(f"{live_server.url}/statistics/")
    series = assert_charts_equal_tables(desktop)
    assert sum(series["by_kind"][0]) == 4
    days = assert_calendar_equals_table(desktop)
    assert sum(n for _, n in days) == 4 and len(days) == (2 if earlier < today else 1)
    assert no_horizontal_scroll(desktop)
    # A filter: the market body's field only; the charts and the tables change together.
    desktop.select_option("#field", label="市场监管")
    desktop.get_by_role("button", name="统计").click()
    desktop.wait_for_url("**/statistics/?*field=*")
    series = assert_charts_equal_tables(desktop)
    assert sum(series["by_kind"][0]) == 1
    # The drill-down from a field to its items: the field's one item on the joint inspection, as its table says.
    desktop.goto(f"{live_server.url}/statistics/")
    desktop.locator("#figure-by_field").get_by_role("link", name="市场监管").click()
    desktop.wait_for_url("**/statistics/?*field=*")
    series = assert_charts_equal_tables(desktop)
    assert series["by_item"] == [[1]]
    assert desktop.locator("#all-fields").is_visible()
    # The drill-down to a body.
    desktop.goto(f"{live_server.url}/statistics/")
    desktop.get_by_role("link", name="金山区市场监督管理局").click()
    desktop.wait_for_url("**/statistics/?*body=*")
    series = assert_charts_equal_tables(desktop)
    assert sum(series["by_kind"][0]) == 1
    # And on to its inspectors: the body's one inspector (王五) on the joint inspection, drawn as the table says.
    assert series["by_inspector"] == [[1]]

    staff_login(phone, live_server.url, "tongji")
    phone.goto(f"{live_server.url}/statistics/")
    assert_charts_equal_tables(phone)
    assert no_horizontal_scroll(phone)


def test_a_view_computed_by_the_job_queue_reloads_itself_until_its_charts_are_there(
    live_server, browser, phone, settings
):
    """At a scale where a district's filtered view is not computed in the request (the limit set to always),
    the page says its figures are being computed, draws only the evaluations and fits a phone; once the
    worker has run the queued job, the page reloads itself and draws every chart, equal to its table."""
    from django.core.cache import cache
    from django_q.models import OrmQ

    from tests.notifications.conftest import run_queued_jobs

    s = build_scenario()
    s.closed()
    s.closed(s.joint_draft())
    user_for(Role.SUPERVISOR, region=s.jinshan, username="tongji")
    rebuild_all()
    cache.clear()
    OrmQ.objects.all().delete()  # the scenario's notifications
    settings.STATISTICS_LIVE_MAX_VISIT_FACTS = -1

    staff_login(phone, live_server.url, "tongji")
    phone.goto(f"{live_server.url}/statistics/?field={s.item.field_id}")
    assert "项指标正由后台计算" in phone.locator("#statistics-pending").inner_text()
    assert phone.locator("[data-pending]").count() > 5
    # The evaluations, the per-inspector and per-item figures and the supervision figures (read live: a few rows
    # whoever reads them) are the charts drawn.
    from jianchama.statistics.figures import PAGE_FIGURES
    from jianchama.statistics.snapshots import LIVE

    assert (
        phone.eval_on_selector_all("[data-chart]", "charts => charts.map(c => c.dataset.chart)")
        == [
            "by_inspector",
            "by_item",
            "evaluations",
            "supervision_findings",
            "supervision_steps",
            "sampling_coverage",
            "complaints",
        ]
        == [code for code in PAGE_FIGURES if code in LIVE]
    )
    assert no_horizontal_scroll(phone)
    assert run_queued_jobs() == 1
    # The page's own reload (every 5 s) brings the figures.
    phone.wait_for_selector("#statistics-pending", state="detached", timeout=15_000)
    series = assert_charts_equal_tables(phone)
    assert sum(series["by_kind"][0]) == 2
    assert phone.locator("[data-pending]").count() == 0
