"""The per-inspector figure (issue 13): the body → inspector drill-down, its counts equal to the raw tasks after
the refresh and the nightly rebuild (a task joined into another gains inspectors), evaluation aggregates for
supervisors only and from five ratings, each inspector's certificate as of today."""

from __future__ import annotations

import datetime
import random

from django.utils import timezone

from jianchama.core.roles import Role
from jianchama.inspections import frequency, services
from jianchama.registry.models import Certificate
from jianchama.statistics import build, figures
from jianchama.statistics.models import InspectorFact
from jianchama.statistics.scope import Filters, Period, scope_for
from tests.factories import CertificateFactory, InspectorFactory, user_for
from tests.inspections.conftest import inspector_with_account
from tests.statistics.test_aggregates import assert_inspectors_equal_raw, scores, snapshot
from tests.statistics.test_views import table

DAY = datetime.timedelta(days=1)


def rows_of(scope, period, filters) -> dict[str, list]:
    return {row[0]: row[1:] for row in figures.FIGURES["by_inspector"].compute(scope, period, filters).rows}


def test_a_task_joined_into_another_counts_for_the_joining_inspectors_after_the_refresh(s):
    s.admin = user_for(Role.PLATFORM_ADMIN)
    today = timezone.localdate()
    window = {"window_start": today + 2 * DAY, "window_end": today + 12 * DAY}
    target = s.submitted(**window)
    source = s.draft(
        s.partner_inspector_user,
        items=[s.partner_item],
        inspectors=[s.partner_inspector, inspector_with_account(s.partner, "钱七")],
        legal_basis="《产品质量法》",
        **window,
    )
    build.rebuild_all()
    # A custom range (its days outside whole months read from ParticipationFact) and the month (InspectorFact).
    periods = [Period(today, today + 40 * DAY, "custom"), Period.of("month", target.window_start)]
    partner = scope_for(s.admin), periods[0], Filters(body_id=s.partner.pk)
    assert rows_of(*partner)["王五"][0] == 0
    frequency.join_task(s.partner_inspector_user, task=source, into=target)
    assert build.refresh()["tasks"] == 2
    for period in periods:
        assert_inspectors_equal_raw(s, period)
    assert rows_of(*partner)["王五"][0] == 1
    assert rows_of(scope_for(s.admin), periods[0], Filters(body_id=s.body.pk))["张三"][0] == 1
    services.cancel_task(s.head, task=target, reason="计划调整，取消本次检查")
    build.refresh()
    assert rows_of(*partner)["王五"][0] == 0
    assert not InspectorFact.objects.filter(inspections__gt=0).exists()
    refreshed = snapshot()
    build.rebuild_all()
    assert snapshot() == refreshed


def test_evaluations_per_inspector_show_to_supervisors_from_five_ratings(s):
    s.admin = user_for(Role.PLATFORM_ADMIN)
    rng = random.Random(13)
    given = []
    for _ in range(4):
        task = s.closed()
        given.append(scores(rng))
        services.evaluate(s.contact, task=task, scores=given[-1])
    build.refresh()
    today = timezone.localdate()
    year = Period.of("year", today)
    supervisor = scope_for(s.supervisor), year, Filters(body_id=s.body.pk)
    # Columns: inspections, results, findings per 100, scan rate, ratings, overall average, poor, certificate.
    assert rows_of(*supervisor)["张三"][4:7] == [figures.SUPPRESSED] * 3
    task = s.closed()
    given.append(scores(rng))
    services.evaluate(s.contact, task=task, scores=given[-1])
    build.refresh()
    average = round(sum(g["overall"] for g in given) / 5 + 1e-9, 2)
    poor = sum(1 for g in given if g["overall"] <= build.POOR_AT_MOST)
    shown = rows_of(*supervisor)["张三"]
    assert shown[0] == 5 and shown[4] == 5 and float(shown[5]) == average and shown[6] == poor
    # The body itself never sees its inspectors' ratings (F-26): no such column.
    table_ = figures.FIGURES["by_inspector"].compute(scope_for(s.head), year, Filters())
    assert "评议数" not in table_.columns and "总体评价平均分" not in table_.columns
    assert {row[0]: row[1] for row in table_.rows}["张三"] == 5
    # Minhang's supervisor sees the Jinshan body's inspectors' ratings no more than the body does.
    other = rows_of(scope_for(s.mh_supervisor), year, Filters(body_id=s.body.pk))
    assert all(row[4] == figures.SUPPRESSED or row[0] == 0 for row in other.values())


def test_each_inspectors_certificate_is_shown_as_of_today(s):
    today = timezone.localdate()
    ending = InspectorFactory(name="周九", body=s.body)
    CertificateFactory(inspector=ending, valid_until=today + 10 * DAY)
    lapsed = InspectorFactory(name="吴十", body=s.body)
    CertificateFactory(inspector=lapsed, number="EXP001", valid_until=today - DAY)
    suspended = InspectorFactory(name="郑十一", body=s.body)
    CertificateFactory(inspector=suspended, number="SUS001", status=Certificate.Status.SUSPENDED)
    InspectorFactory(name="冯十二", body=s.body)
    InspectorFactory(name="陈十三", body=s.body, is_active=False)
    shown = {
        row[0]: row[-1]
        for row in figures.FIGURES["by_inspector"]
        .compute(scope_for(s.head), Period.of("year", today), Filters())
        .rows
    }
    assert shown["周九"] == f"有效至{today + 10 * DAY:%Y-%m-%d}（即将到期）"
    assert shown["吴十"] == "已过期（EXP001）"
    assert shown["郑十一"] == "暂停使用（SUS001）"
    assert shown["冯十二"] == "无执法证件"
    assert shown["张三"].startswith("有效至") and "即将到期" not in shown["张三"]
    # An inspector who left and did not inspect in the period is not listed.
    assert "陈十三" not in shown


def test_the_page_drills_down_from_a_body_to_its_inspectors(client, world):
    s = world
    client.force_login(s.supervisor)
    page = client.get("/statistics/").content.decode()
    assert "按执法人员" in page
    assert table(page, "by_inspector") == [
        ["请先选择一个执法单位（点击「按执法单位」表中的单位名称），再看其执法人员。"]
    ]
    assert f"body={s.body.pk}" in page  # the by-body table's link
    page = client.get(f"/statistics/?body={s.body.pk}").content.decode()
    rows = {row[0]: row for row in table(page, "by_inspector")}
    # The world: two closed tasks and one submitted of the body, each with 张三 and 李四.
    assert rows["张三"][1] == "3" and rows["李四"][1] == "3" and rows["张三"][2] == "2"
    assert "评议数" in page
    client.force_login(s.head)
    page = client.get("/statistics/").content.decode()
    assert {row[0]: row[1] for row in table(page, "by_inspector")}["张三"] == "3"
    assert "总体评价平均分" not in page.split('data-table="by_inspector"')[1].split("</table>")[0]
