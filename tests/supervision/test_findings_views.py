"""The findings pages as their users see them: the dashboard's counts by body, rule and month, the list's
filters and Excel export, a finding's evidence links and dismissal, running the rules now, and who may see what."""

from __future__ import annotations

import datetime
import io

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from jianchama.core.audit import AuditEvent
from jianchama.core.errors import DomainError
from jianchama.core.roles import Role
from jianchama.inspections.models import InspectionCode, Scan
from jianchama.registry.models import Region
from jianchama.supervision.models import Finding, RuleRun
from jianchama.supervision.rules import RULES, run_rules
from jianchama.supervision.services import create_finding
from tests.factories import BodyFactory, RegionFactory, user_for
from tests.inspections.conftest import build_scenario


@pytest.fixture
def s(db):
    return build_scenario()


def no_code_visit(s):
    task = s.recorded()
    Scan.objects.filter(code__task=task).delete()
    InspectionCode.objects.filter(task=task).delete()
    return task


@pytest.fixture
def found(s):
    """A no-code visit of the Jinshan body found by the rules; a Minhang finding another supervisor owns."""
    task = no_code_visit(s)
    run = run_rules(s.supervisor)
    s.task = task
    s.finding = Finding.objects.get(rule="no_code")
    s.mh_finding = create_finding(
        s.mh_supervisor,
        source=Finding.Source.COMPLAINT,
        body=s.other_body,
        title="闵行投诉反映多头检查",
        period=datetime.date(2026, 2, 1),
    )
    assert run.new_findings >= 1
    return s


def test_dashboard_counts_by_body_rule_and_month(client, found):
    client.force_login(found.supervisor)
    response = client.get(reverse("supervision:dashboard"))
    assert response.status_code == 200
    page = response.content.decode()
    assert "金山区建设和管理委员会" in page and "无码检查" in page
    assert "闵行" not in page  # another region's findings are not this supervisor's
    by_body = response.context["by_body"]
    assert [(row["body__name"], row["total"], row["open"], row["high"]) for row in by_body] == [
        ("金山区建设和管理委员会", 1, 1, 1)
    ]
    rules = {row["rule"]: row for row in response.context["by_rule"]}
    assert rules["no_code"]["total"] == 1 and rules["no_code"]["high"] == 1
    assert "rule=no_code" in rules["no_code"]["url"]
    month = found.finding.period
    assert response.context["by_month"][0]["period"] == month
    assert "立即运行全部" in page


def test_dashboard_filters(client, found):
    client.force_login(found.supervisor)
    response = client.get(reverse("supervision:dashboard"), {"rule": "too_few_inspectors"})
    assert response.context["summary"]["total"] == 0
    response = client.get(reverse("supervision:dashboard"), {"month": "20-1"})
    assert "月份格式" in response.content.decode()


@pytest.mark.parametrize("role", [Role.INSPECTOR, Role.ENTERPRISE_CONTACT, Role.OBSERVER])
def test_others_may_not_see_the_dashboard(client, s, role):
    client.force_login(user_for(role))
    assert client.get(reverse("supervision:dashboard")).status_code == 403
    assert client.get(reverse("supervision:finding_list")).status_code == 403
    assert client.get(reverse("supervision:run_list")).status_code == 403


def test_district_government_sees_the_dashboard_without_the_run_button(client, found):
    client.force_login(user_for(Role.DISTRICT_GOVERNMENT, region=found.jinshan))
    response = client.get(reverse("supervision:dashboard"))
    assert response.status_code == 200 and "立即运行全部" not in response.content.decode()
    assert response.context["summary"]["total"] == 1
    assert client.post(reverse("supervision:run_rules")).status_code == 302
    assert RuleRun.objects.count() == 1  # refused: nothing ran


def test_finding_list_filters_and_scope(client, found):
    create_finding(
        found.supervisor,
        source=found.finding.Source.OBSERVER,
        body=found.body,
        title="观察员反映未出示证件",
        period=datetime.date(2025, 1, 15),
    )
    client.force_login(found.supervisor)
    url = reverse("supervision:finding_list")
    titles = lambda response: [f.title for f in response.context["page"]]  # noqa: E731
    assert sorted(titles(client.get(url))) == sorted(["无码检查", "观察员反映未出示证件"])
    assert titles(client.get(url, {"source": "observer"})) == ["观察员反映未出示证件"]
    assert titles(client.get(url, {"rule": "no_code", "severity": "high"})) == ["无码检查"]
    assert titles(client.get(url, {"status": "dismissed"})) == []
    month = found.finding.period.strftime("%Y-%m")
    assert titles(client.get(url, {"body": found.body.pk, "month": month})) == ["无码检查"]
    assert titles(client.get(url, {"month": "2025-01"})) == ["观察员反映未出示证件"]
    assert titles(client.get(url, {"month": "2001-01"})) == []
    client.force_login(found.mh_supervisor)
    assert titles(client.get(url)) == ["闵行投诉反映多头检查"]


def test_body_admin_sees_only_warned_findings_of_its_body(client, found):
    client.force_login(found.head)
    response = client.get(reverse("supervision:finding_list"))
    assert response.status_code == 200 and list(response.context["page"]) == []  # still open: bureau's note
    Finding.objects.filter(pk=found.finding.pk).update(status=Finding.Status.WARNED)
    assert [f.pk for f in client.get(reverse("supervision:finding_list")).context["page"]] == [
        found.finding.pk
    ]
    assert client.get(reverse("supervision:finding_detail", args=[found.mh_finding.pk])).status_code == 404


def test_excel_export_follows_the_filters(client, found):
    client.force_login(found.supervisor)
    response = client.get(reverse("supervision:finding_list"), {"rule": "no_code", "export": "xlsx"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    sheet = load_workbook(io.BytesIO(response.getvalue())).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:5] == ("编号", "所属月份", "执法单位", "来源", "规则")
    assert len(rows) == 2
    assert rows[1][2] == "金山区建设和管理委员会" and rows[1][4] == "无码检查" and rows[1][7] == "严重"
    assert found.task.number in rows[1][10]


def test_an_export_past_the_limit_is_refused_whole_never_cut_short(client, found, settings):
    """The export used to stop silently at 50,000 rows (130,012 asked for): every row or none, with why."""
    create_finding(
        found.supervisor,
        source=Finding.Source.COMPLAINT,
        body=found.finding.body,
        title="投诉反映重复检查",
        period=datetime.date(2026, 2, 1),
    )
    client.force_login(found.supervisor)
    visible = Finding.objects.visible_to(found.supervisor).count()
    assert visible >= 2
    settings.EXPORT_MAX_ROWS = visible
    whole = client.get(reverse("supervision:finding_list"), {"export": "xlsx"})
    assert len(list(load_workbook(io.BytesIO(whole.getvalue())).active.iter_rows())) == visible + 1

    settings.EXPORT_MAX_ROWS = visible - 1
    refused = client.get(reverse("supervision:finding_list"), {"export": "xlsx", "severity": ""}, follow=True)
    page = refused.content.decode()
    assert refused.status_code == 200 and refused["Content-Type"].startswith("text/html")
    assert f"符合条件的记录超过{visible - 1:,}条，一次导出不全" in page
    assert refused.redirect_chain[-1][0].startswith(reverse("supervision:finding_list") + "?")
    assert "export=" not in refused.redirect_chain[-1][0]


def test_finding_detail_links_its_evidence_and_shows_its_timeline(client, found):
    client.force_login(found.supervisor)
    response = client.get(reverse("supervision:finding_detail", args=[found.finding.pk]))
    assert response.status_code == 200
    page = response.content.decode()
    assert reverse("inspections:task_detail", args=[found.task.pk]) in page
    assert "无码检查" in page and "核销" in page and "操作记录" in page
    assert client.get(reverse("supervision:finding_detail", args=[found.mh_finding.pk])).status_code == 404


def test_dismiss_from_the_page(client, found):
    client.force_login(found.supervisor)
    url = reverse("supervision:finding_dismiss", args=[found.finding.pk])
    response = client.post(url, {"note": ""}, follow=True)
    assert "请填写核实情况" in response.content.decode()
    assert Finding.objects.get(pk=found.finding.pk).status == Finding.Status.OPEN
    response = client.post(url, {"note": "经核实为补录的历史数据"}, follow=True)
    assert "监督问题已核销" in response.content.decode()
    finding = Finding.objects.get(pk=found.finding.pk)
    assert finding.status == Finding.Status.DISMISSED and finding.close_note == "经核实为补录的历史数据"
    page = client.get(reverse("supervision:finding_detail", args=[finding.pk])).content.decode()
    assert "核销监督问题" in page  # the timeline
    client.force_login(found.mh_supervisor)
    assert client.post(url, {"note": "x"}).status_code == 404


def test_run_the_rules_now_in_the_background_with_its_progress_and_figures(
    client, s, django_capture_on_commit_callbacks
):
    from jianchama.supervision import jobs

    task = no_code_visit(s)
    client.force_login(s.supervisor)
    url = reverse("supervision:run_rules")
    with django_capture_on_commit_callbacks(execute=True) as queued:
        response = client.post(url, follow=True)
    page = response.content.decode()
    assert len(queued) == 1  # handed to the task queue's worker once the run is recorded
    run = RuleRun.objects.get()
    assert run.status == RuleRun.Status.RUNNING and run.triggered_by == s.supervisor
    assert f"数据监督规则已开始运行（{len(RULES)}条规则）" in page
    assert f"已完成 0/{len(RULES)} 条规则" in page and 'http-equiv="refresh"' in page
    # A second click while it runs starts nothing.
    again = client.post(url, follow=True).content.decode()
    assert "数据监督规则正在运行" in again and RuleRun.objects.count() == 1

    assert jobs.execute_rule_run(run.pk) == 1  # what the worker runs
    page = client.get(reverse("supervision:run_list")).content.decode()
    assert 'http-equiv="refresh"' not in page and "新发现 1 个问题" in page
    run.refresh_from_db()
    assert run.status == RuleRun.Status.DONE and run.stats["no_code"]["new"] == 1
    assert f'id="run-{run.pk}"' in page and "无码检查" in page
    assert Finding.objects.get(rule="no_code").task == task
    assert AuditEvent.objects.filter(action="supervision.rules_run").count() == 1
    with pytest.raises(DomainError):
        jobs.execute_rule_run(run.pk)  # a finished run is not run again

    with django_capture_on_commit_callbacks(execute=False):
        client.post(url, {"rule": ["no_code", "late_record"]})
    partial = RuleRun.objects.order_by("-pk").first()
    assert partial.rules == ["no_code", "late_record"]
    jobs.execute_rule_run(partial.pk)
    partial.refresh_from_db()
    assert list(partial.stats) == ["no_code", "late_record"] and partial.new_findings == 0


def test_run_button_refused_to_a_body(client, s):
    client.force_login(s.head)
    response = client.post(reverse("supervision:run_rules"), follow=True)
    assert "只有司法局执法监督人员或平台管理员" in response.content.decode()
    assert not RuleRun.objects.exists()


def test_run_requires_post(client, s):
    client.force_login(s.supervisor)
    assert client.get(reverse("supervision:run_rules")).status_code == 405


def test_platform_admin_sees_everything(client, found):
    client.force_login(user_for(Role.PLATFORM_ADMIN))
    response = client.get(reverse("supervision:dashboard"))
    assert response.context["summary"]["total"] == 2


def test_a_city_supervisor_sees_every_district_and_a_district_its_towns_bodies(client, found):
    """The region scope is the region's bodies (by id): a body of a town counts for its district, a city
    supervisor sees all the districts' findings, and a district never the other district's."""
    town = RegionFactory(code="310116101", name="朱泾镇", level=Region.Level.TOWN, parent=found.jinshan)
    town_body = BodyFactory(name="朱泾镇综合行政执法队", region=town, fields=[found.gas])
    create_finding(
        found.supervisor,
        source=Finding.Source.OBSERVER,
        body=town_body,
        title="镇执法队未出示证件",
        period=datetime.date(2026, 3, 1),
    )
    url = reverse("supervision:finding_list")
    titles = lambda response: sorted(f.title for f in response.context["page"])  # noqa: E731
    client.force_login(found.supervisor)
    assert titles(client.get(url)) == sorted(["无码检查", "镇执法队未出示证件"])
    client.force_login(user_for(Role.SUPERVISOR, region=found.city))
    assert titles(client.get(url)) == sorted(["无码检查", "闵行投诉反映多头检查", "镇执法队未出示证件"])
