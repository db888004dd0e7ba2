"""The statistics page: each role its scope, filters every figure follows, bad input said and never a 500,
the Excel export equal to the tables shown, the definitions on the page."""

from __future__ import annotations

import datetime
import io
import json
import re
from collections import Counter
from html import unescape

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django.utils.html import escape
from openpyxl import load_workbook

from jianchama.inspections.frequency import COUNTED, inspection_date
from jianchama.inspections.models import Task
from jianchama.registry.models import Region
from jianchama.statistics.build import rebuild_all
from jianchama.statistics.figures import CHOOSE_A_BODY, CHOOSE_A_FIELD, FIGURES, PAGE_FIGURES
from jianchama.statistics.scope import Filters, Period, scope_for
from tests.factories import EnterpriseFactory, RegionFactory


def table(page: str, code: str) -> list[list[str]]:
    body = page[page.index(f'data-table="{code}"') :]
    body = body[: body.index("</table>")]
    rows = re.findall(r"<tr>(.*?)</tr>", body[body.index("<tbody>") :], re.S)
    return [
        [
            unescape(re.sub(r"<[^>]+>", "", cell)).strip()
            for cell in re.findall(r"<td[^>]*>(.*?)</td>", r, re.S)
        ]
        for r in rows
    ]


def summary(page: str) -> dict[str, str]:
    """The summary's table as shown (HTML entities undone)."""
    return dict(table(page, "summary"))


def test_each_role_sees_its_scope(client, world):
    s = world
    client.force_login(s.supervisor)
    page = client.get("/statistics/").content.decode()
    assert "统计分析 · 金山区" in page
    assert summary(page)["检查次数"] == "3" and summary(page)["联合检查次数"] == "1"
    assert "闵行区建设和管理委员会" not in page
    bodies = {row[0]: row[1] for row in table(page, "by_body")}
    assert bodies == {"金山区建设和管理委员会": "3", "金山区市场监督管理局": "1"}
    client.force_login(s.mh_supervisor)
    assert summary(client.get("/statistics/").content.decode())["检查次数"] == "1"
    client.force_login(s.admin)
    assert summary(client.get("/statistics/").content.decode())["检查次数"] == "4"
    client.force_login(s.partner_head)
    page = client.get("/statistics/").content.decode()
    assert summary(page)["检查次数"] == "1" and "金山区建设和管理委员会" not in page
    for who in (s.contact, s.observer):
        client.force_login(who)
        assert client.get("/statistics/").status_code == 403


def test_filters_and_drill_down(client, world):
    s = world
    client.force_login(s.supervisor)
    page = client.get(f"/statistics/?field={s.market.pk}").content.decode()
    assert summary(page)["检查次数"] == "1"
    page = client.get(f"/statistics/?body={s.partner.pk}").content.decode()
    assert summary(page)["检查次数"] == "1" and "返回全部单位" in page
    page = client.get("/statistics/?kind=complaint").content.decode()
    assert summary(page)["检查次数"] == "0"
    next_year = timezone.localdate().year + 1
    page = client.get(f"/statistics/?period=year&year={next_year}").content.decode()
    assert summary(page)["检查次数"] == "0"
    month = timezone.localdate().month
    page = client.get(f"/statistics/?period=month&number={month}").content.decode()
    assert summary(page)["检查次数"] == "3"
    # The drill-down link of a body sets the body filter.
    page = client.get("/statistics/").content.decode()
    assert f"body={s.partner.pk}" in page


@pytest.mark.parametrize(
    "query",
    [
        "period=decade",
        "period=custom&start=2026-05-01&end=2026-01-01",
        "period=custom&start=x&end=y",
        "period=month&number=13&year=abc",
        "region=999999",
        "body=abc",
        "field=-1",
        "kind=<script>",
        "figure=nope&format=xlsx",
    ],
)
def test_bad_input_is_said_never_a_500(client, world, query):
    client.force_login(world.supervisor)
    response = client.get(f"/statistics/?{query}")
    assert response.status_code == 200


def test_a_body_outside_the_scope_cannot_be_chosen(client, world):
    s = world
    client.force_login(s.supervisor)
    page = client.get(f"/statistics/?body={s.other_body.pk}").content.decode()
    assert "所选执法单位不在您的统计范围内，已忽略" in page
    assert summary(page)["检查次数"] == "3"


def test_every_figure_is_shown_with_its_definition(client, world):
    client.force_login(world.supervisor)
    page = client.get("/statistics/").content.decode()
    for code in PAGE_FIGURES:
        figure = FIGURES[code]
        assert f"<h2>{figure.name}</h2>" in page and escape(figure.definition) in page


def same(cell):
    """A cell as a comparable value: numbers as numbers (Excel keeps 0.0 as 0), an empty cell as the page's —,
    a date as the page writes it (Excel keeps a date cell)."""
    if cell is None or cell == "—":
        return "—"
    if isinstance(cell, datetime.date):
        return f"{cell.year}年{cell.month}月{cell.day}日"
    try:
        return float(cell)
    except (TypeError, ValueError):
        return str(cell)


def test_the_export_is_exactly_the_tables_shown(client, world):
    client.force_login(world.supervisor)
    page = client.get("/statistics/").content.decode()
    response = client.get("/statistics/?format=xlsx")
    workbook = load_workbook(io.BytesIO(response.content))
    assert workbook.sheetnames == [FIGURES[code].name for code in PAGE_FIGURES]
    for code in PAGE_FIGURES:
        rows = list(workbook[FIGURES[code].name].iter_rows(min_row=2, values_only=True))
        shown = table(page, code)
        if shown in ([["该期间没有数据。"]], [[CHOOSE_A_BODY]], [[CHOOSE_A_FIELD]]):
            shown = []
        assert [[same(c) for c in r] for r in rows] == [[same(c) for c in r] for r in shown], code
    one = load_workbook(io.BytesIO(client.get("/statistics/?figure=by_kind&format=xlsx").content))
    assert one.sheetnames == ["按检查类型"]


def test_evaluations_are_suppressed_below_five_and_bodies_see_releases_only(client, world):
    s = world
    client.force_login(s.supervisor)
    rows = dict(table(client.get("/statistics/").content.decode(), "evaluations"))
    assert rows["评议数"] == "<5"
    client.force_login(s.head)
    page = client.get("/statistics/").content.decode()
    assert "尚无发布的评议汇总" in page


# --- The heat calendar and the region tiles ---------------------------------------------------------------

DAY = datetime.timedelta(days=1)


def page_date(day: datetime.date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def chart_data(page: str) -> dict:
    source = re.search(r'<script id="chart-data" type="application/json">(.*?)</script>', page, re.S)
    return json.loads(source.group(1))


def links(page: str, code: str) -> dict[str, str]:
    """The first column's links of a figure's table: cell text → href."""
    body = page[page.index(f'data-table="{code}"') :]
    body = body[: body.index("</table>")]
    return {
        unescape(text): unescape(href)
        for href, text in re.findall(r'<td data-label="[^"]*"><a href="([^"]+)">(.*?)</a></td>', body)
    }


@pytest.fixture
def towns(world):
    """Two towns of Jinshan, two more tasks at an enterprise of one of them, and the tasks spread over days
    (a custom period of the last 40 days holds them all)."""
    s = world
    s.zhujing = RegionFactory(code="310116100", name="朱泾镇", level=Region.Level.TOWN, parent=s.jinshan)
    s.fengjing = RegionFactory(code="310116101", name="枫泾镇", level=Region.Level.TOWN, parent=s.jinshan)
    s.zj_enterprise = EnterpriseFactory(name="朱泾燃气有限公司", region=s.zhujing)
    s.town_tasks = [s.closed(enterprise=s.zj_enterprise), s.submitted(enterprise=s.zj_enterprise)]
    today = timezone.localdate()
    noon = timezone.make_aware(datetime.datetime.combine(today, datetime.time(12)))
    Task.objects.filter(pk=s.tasks[0].pk).update(started_at=noon - 1 * DAY)
    Task.objects.filter(pk=s.tasks[2].pk).update(window_start=today - 35 * DAY, window_end=today - 30 * DAY)
    Task.objects.filter(pk=s.town_tasks[1].pk).update(window_start=today - DAY, window_end=today + 5 * DAY)
    rebuild_all()
    s.jinshan_tasks = [Task.objects.get(pk=t.pk) for t in s.tasks + s.town_tasks]
    s.all_tasks = [*s.jinshan_tasks, Task.objects.get(pk=s.mh_task.pk)]
    s.period = f"period=custom&start={today - 40 * DAY}&end={today}"
    return s


def by_day(tasks) -> dict[str, str]:
    """Inspections per day counted from the tasks themselves, as the page writes them."""
    counted = Counter(inspection_date(t) for t in tasks if t.status in COUNTED)
    return {page_date(day): str(n) for day, n in sorted(counted.items())}


def body_tasks(s, body) -> list:
    return [t for t in s.all_tasks if t.task_bodies.filter(body=body).exists()]


def test_the_calendar_counts_each_days_inspections(client, towns):
    s = towns
    for user, tasks in (
        (s.supervisor, s.jinshan_tasks),
        (s.admin, s.all_tasks),
        (s.mh_supervisor, [Task.objects.get(pk=s.mh_task.pk)]),
    ):
        client.force_login(user)
        page = client.get(f"/statistics/?{s.period}").content.decode()
        assert dict(table(page, "calendar")) == by_day(tasks)
        assert len(by_day(tasks)) >= (3 if user == s.supervisor else 1)
        # The chart draws the table: ISO dates and the same numbers, over the period's range.
        data = chart_data(page)["calendar"]
        assert data["type"] == "calendar"
        assert data["range"] == [str(timezone.localdate() - 40 * DAY), str(timezone.localdate())]
        assert [page_date(datetime.date.fromisoformat(d)) for d in data["categories"]] == list(by_day(tasks))
        assert [str(n) for n in data["series"][0]["data"]] == list(by_day(tasks).values())
    # The year view reads the same daily facts (other figures read the monthly ones), with the filters.
    client.force_login(s.supervisor)
    this_year = [t for t in s.jinshan_tasks if inspection_date(t).year == timezone.localdate().year]
    assert dict(table(client.get("/statistics/").content.decode(), "calendar")) == by_day(this_year)
    page = client.get(f"/statistics/?{s.period}&field={s.market.pk}").content.decode()
    assert dict(table(page, "calendar")) == by_day([s.jinshan_tasks[1]])
    page = client.get(f"/statistics/?{s.period}&region={s.zhujing.pk}").content.decode()
    assert dict(table(page, "calendar")) == by_day(s.jinshan_tasks[3:])


def test_the_region_tiles_count_by_region_and_drill_down(client, towns):
    s = towns
    # A district's supervisor: its towns (the empty one too), then its enterprises not placed in a town.
    client.force_login(s.supervisor)
    page = client.get(f"/statistics/?{s.period}").content.decode()
    at = Counter(t.enterprise.region_id for t in s.jinshan_tasks)
    assert table(page, "by_region") == [
        ["朱泾镇", str(at[s.zhujing.pk])],
        ["枫泾镇", "0"],
        ["金山区（未细分到街镇）", str(at[s.jinshan.pk])],
    ]
    assert sum(int(n) for _, n in table(page, "by_region")) == int(summary(page)["检查次数"]) == 5
    # Each tile links to the same page filtered to its region; the chart's tiles carry the table's links.
    tiles = links(page, "by_region")
    assert set(tiles) == {"朱泾镇", "枫泾镇"}
    assert tiles["朱泾镇"].endswith(f"&region={s.zhujing.pk}") and s.period.split("&")[1] in tiles["朱泾镇"]
    data = chart_data(page)["by_region"]
    assert data["type"] == "tiles" and data["categories"] == [row[0] for row in table(page, "by_region")]
    assert data["links"] == [tiles["朱泾镇"], tiles["枫泾镇"], ""]
    town = client.get(f"/statistics/{tiles['朱泾镇']}").content.decode()
    assert "返回全部区域" in town and summary(town)["检查次数"] == "2"
    assert table(town, "by_region") == [["朱泾镇", "2"]] and links(town, "by_region") == {}
    # Down to the enterprises: the town's most inspected are its own, and its repeated inspections theirs.
    # And by whom: each body's inspections of it, most first (a joint task counts for each of its bodies).
    by_whom = Counter(
        tb.body.name for t in s.jinshan_tasks[3:] for tb in t.task_bodies.select_related("body")
    )
    said = "、".join(f"{name}{n}次" for name, n in sorted(by_whom.items(), key=lambda b: (-b[1], b[0])))
    assert table(town, "most_inspected") == [["朱泾燃气有限公司", "2", str(len(by_whom)), said]]
    assert [row[0] for row in table(page, "most_inspected")][:2] == ["金山燃气有限公司", "朱泾燃气有限公司"]
    assert table(town, "repeated")[3] == ["一年内", "1", "1"]
    fengjing = client.get(f"/statistics/{tiles['枫泾镇']}").content.decode()
    assert table(fengjing, "most_inspected") == [["该期间没有数据。"]]

    # The city: its districts, each a link to the district, whose page shows its towns.
    client.force_login(s.admin)
    page = client.get(f"/statistics/?{s.period}").content.decode()
    assert table(page, "by_region") == [["闵行区", "1"], ["金山区", str(len(s.jinshan_tasks))]]
    district = client.get(f"/statistics/{links(page, 'by_region')['金山区']}").content.decode()
    assert summary(district)["检查次数"] == "5"
    assert [row[0] for row in table(district, "by_region")] == ["朱泾镇", "枫泾镇", "金山区（未细分到街镇）"]


def test_a_body_sees_only_its_own_days_and_regions(client, towns):
    s = towns
    client.force_login(s.partner_head)  # the market body: the joint inspection only
    page = client.get(f"/statistics/?{s.period}").content.decode()
    mine = body_tasks(s, s.partner)
    assert len(mine) == 1
    assert dict(table(page, "calendar")) == by_day(mine)
    assert table(page, "by_region") == [["朱泾镇", "0"], ["枫泾镇", "0"], ["金山区（未细分到街镇）", "1"]]
    client.force_login(s.head)  # the gas body: every Jinshan task
    page = client.get(f"/statistics/?{s.period}").content.decode()
    assert dict(table(page, "calendar")) == by_day(body_tasks(s, s.body))
    assert sum(int(n) for _, n in table(page, "by_region")) == len(body_tasks(s, s.body)) == 5
    client.force_login(s.other_head)  # Minhang's body: its one task, in a district without towns
    page = client.get(f"/statistics/?{s.period}").content.decode()
    assert dict(table(page, "calendar")) == by_day(body_tasks(s, s.other_body))
    assert table(page, "by_region") == [["闵行区", "1"]]


@pytest.mark.parametrize("code", ["calendar", "by_region"])
@pytest.mark.parametrize("period", ["year", "custom"])
def test_the_new_figures_cost_one_query_on_the_facts(towns, code, period):
    s = towns
    today = timezone.localdate()
    scopes = [scope_for(s.admin), scope_for(s.supervisor), scope_for(s.head)]
    when = Period.of(period, today, start=today - 40 * DAY, end=today)
    for scope in scopes:
        with CaptureQueriesContext(connection) as queries:
            FIGURES[code].compute(scope, when, Filters())
        on_facts = [
            q["sql"] for q in queries if "statistics_dailyfact" in q["sql"] or "monthlyfact" in q["sql"]
        ]
        assert len(on_facts) == 1, on_facts
        assert len(queries) <= 4
