"""The statistics page: each role its scope, filters every figure follows, bad input said and never a 500,
the Excel export equal to the tables shown, the definitions on the page."""

from __future__ import annotations

import datetime
import io
import re
from html import unescape

import pytest
from django.utils import timezone
from django.utils.html import escape
from openpyxl import load_workbook

from jianchama.core.roles import Role
from jianchama.inspections.models import Task
from jianchama.statistics.build import rebuild_all
from jianchama.statistics.figures import FIGURES, PAGE_FIGURES
from tests.factories import user_for


@pytest.fixture
def world(s):
    """Jinshan: three closed inspections by the gas body (one joint with the market body), one submitted;
    Minhang: one by its own body."""
    s.tasks = [s.closed(), s.closed(s.joint_draft()), s.submitted()]
    from tests.inspections.conftest import inspector_with_account

    s.mh_task = Task.objects.get(
        pk=__import__("jianchama.inspections.services", fromlist=["x"])
        .create_task(
            s.other_inspector_user,
            enterprise=s.mh_enterprise,
            items=[s.item],
            inspectors=[s.other_inspector, inspector_with_account(s.other_body, "孙八")],
            legal_basis="《城镇燃气管理条例》",
            kind=Task.Kind.COMPLAINT,
            reason="投诉",
            evidence="登记表",
            window_start=timezone.localdate(),
            window_end=timezone.localdate() + datetime.timedelta(days=5),
        )
        .pk
    )
    from jianchama.inspections import services

    services.submit_task(s.other_inspector_user, task=s.mh_task)
    s.admin = user_for(Role.PLATFORM_ADMIN)
    rebuild_all()
    return s


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
    """A cell as a comparable value: numbers as numbers (Excel keeps 0.0 as 0), an empty cell as the page's —."""
    if cell is None or cell == "—":
        return "—"
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
        if shown == [["该期间没有数据。"]]:
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
