"""The periodic supervision reports (F-37): figures equal to direct counts of the raw rows, the PDF's text and
embedded font, the workbook read back, who may read them, the freeze on issue, the numbering, the job."""

from __future__ import annotations

import datetime
import io

import pytest
from django.db.models import Q
from django.utils import timezone
from openpyxl import load_workbook

from jianchama.complaints.models import Complaint
from jianchama.core.errors import DomainError, InvalidTransition, PermissionDenied
from jianchama.core.roles import Role
from jianchama.inspections import frequency
from jianchama.inspections import services as task_services
from jianchama.inspections.models import Task
from jianchama.registry.models import Region
from jianchama.reports import contents, services
from jianchama.reports.models import SupervisionReport
from jianchama.statistics.build import rebuild_all
from jianchama.supervision.models import Finding, Severity
from tests.factories import user_for
from tests.inspections.conftest import inspector_with_account
from tests.supervision._steps_world import embedded_fonts, pdf_text


def last_month() -> tuple[datetime.date, datetime.date]:
    end = timezone.localdate().replace(day=1) - datetime.timedelta(days=1)
    return end.replace(day=1), end


def move_to(tasks: list[Task], day: datetime.date) -> None:
    """Put the tasks' inspection on `day` (the reports cover periods that have ended)."""
    moment = timezone.make_aware(datetime.datetime.combine(day, datetime.time(10)))
    for task in tasks:
        Task.objects.filter(pk=task.pk).update(
            window_start=day,
            window_end=day + datetime.timedelta(days=3),
            started_at=moment if task.started_at else None,
        )


def finding(s, *, body, rule, severity, key, day, title="无码检查", status=Finding.Status.OPEN):
    return Finding.objects.create(
        source=Finding.Source.DATA_RULE,
        rule=rule,
        key=key,
        body=body,
        title=title,
        severity=severity,
        status=status,
        period=day.replace(day=1),
    )


@pytest.fixture
def world(s):
    """Last month in Jinshan: two closed inspections (one joint with the market body), one submitted, one
    closed at a Minhang enterprise; this month one more (outside the period). Findings and complaints."""
    start, _end = last_month()
    day = start + datetime.timedelta(days=9)
    s.day = day
    s.tasks = [s.closed(), s.closed(s.joint_draft()), s.submitted()]
    move_to(s.tasks, day)
    s.later = s.submitted()  # this month: not in last month's report
    s.mh_task = task_services.create_task(
        s.other_inspector_user,
        enterprise=s.mh_enterprise,
        items=[s.item],
        inspectors=[
            s.other_inspector,
            inspector_with_account(s.other_body, "孙八"),
        ],
        legal_basis="《城镇燃气管理条例》",
        kind=Task.Kind.COMPLAINT,
        reason="投诉",
        evidence="登记表",
        window_start=timezone.localdate(),
        window_end=timezone.localdate() + datetime.timedelta(days=5),
    )
    task_services.submit_task(s.other_inspector_user, task=s.mh_task)
    move_to([Task.objects.get(pk=s.mh_task.pk)], day)
    finding(s, body=s.body, rule="no_code", severity=Severity.HIGH, key="a", day=day)
    finding(s, body=s.partner, rule="no_code", severity=Severity.HIGH, key="b", day=day)
    finding(
        s,
        body=s.body,
        rule="code_not_scanned",
        severity=Severity.MEDIUM,
        key="c",
        day=day,
        title="检查码未被扫码核验",
    )
    finding(
        s,
        body=s.body,
        rule="outside_plan",
        severity=Severity.HIGH,
        key="d",
        day=day,
        status=Finding.Status.DISMISSED,
    )
    finding(s, body=s.other_body, rule="no_code", severity=Severity.HIGH, key="e", day=day)
    for n, source in enumerate(
        [Complaint.Source.HOTLINE_12345, Complaint.Source.HOTLINE_12345, Complaint.Source.PHONE]
    ):
        Complaint.objects.create(
            number=f"TS-{n}",
            source=source,
            category="repeated_inspection",
            title="重复检查",
            body=s.body,
            received_on=day,
        )
    s.city = Region.objects.get(level=Region.Level.CITY)
    s.city_supervisor = user_for(Role.SUPERVISOR, region=s.city)
    rebuild_all()
    return s


def raw_inspections(region: Region, start, end) -> int:
    """Tasks counted by the statistics (submitted and after, by inspection day) of the region: at its
    enterprises or done by one of its bodies, each once."""
    tasks = Task.objects.filter(status__in=frequency.COUNTED, window_start__range=(start, end)).filter(
        Q(enterprise__region__path__startswith=region.path) | Q(bodies__region__path__startswith=region.path)
    )
    return tasks.distinct().count()


def tables(report: SupervisionReport) -> dict[str, dict]:
    return {t["title"]: t for section in report.figures["sections"] for t in section["tables"]}


def make(s, region, actor=None) -> SupervisionReport:
    start, _ = last_month()
    report = services.create_report(
        actor or s.supervisor, region=region, kind="month", year=start.year, number=start.month
    )
    return services.generate_report(actor or s.supervisor, report=report)


def test_the_figures_equal_direct_counts_of_the_raw_rows(world):
    s = world
    start, end = last_month()
    for region, actor in (
        (s.jinshan, s.supervisor),
        (s.minhang, s.mh_supervisor),
        (s.city, s.city_supervisor),
    ):
        report = make(s, region, actor)
        got = tables(report)
        summary = dict(got["主要指标"]["rows"])
        assert summary["检查次数"] == raw_inspections(region, start, end), region.name
        kinds = {row[0]: row[1] for row in got["按检查类型"]["rows"]}
        for value, label in Task.Kind.choices:
            direct = (
                Task.objects.filter(
                    status__in=frequency.COUNTED, window_start__range=(start, end), kind=value
                )
                .filter(
                    Q(enterprise__region__path__startswith=region.path)
                    | Q(bodies__region__path__startswith=region.path)
                )
                .distinct()
                .count()
            )
            assert kinds[label] == direct, (region.name, label)
        rules = {row[0]: row[1] for row in got["数据监督规则发现的问题"]["rows"]}
        direct_findings = (
            Finding.objects.filter(body__region__path__startswith=region.path, period=start)
            .exclude(status=Finding.Status.DISMISSED)
            .count()
        )
        assert sum(rules.values()) == direct_findings
    jinshan = tables(SupervisionReport.objects.get(region=s.jinshan))
    assert dict(jinshan["主要指标"]["rows"])["检查次数"] == 3
    assert {row[0]: row[1:] for row in jinshan["数据监督规则发现的问题"]["rows"]} == {
        "无码检查": [2, 0, 0, 2],  # count, then 一般 较重 严重
        "检查码未被扫码核验": [1, 0, 1, 0],
    }
    assert dict(jinshan["投诉举报按来源"]["rows"]) == {"12345市民服务热线": 2, "电话": 1}
    assert dict(tables(SupervisionReport.objects.get(region=s.minhang))["主要指标"]["rows"])["检查次数"] == 1
    assert dict(tables(SupervisionReport.objects.get(region=s.city))["主要指标"]["rows"])["检查次数"] == 4


def test_the_pdf_carries_the_numbers_in_an_embedded_font_and_the_workbook_the_same(world):
    s = world
    report = make(s, s.jinshan)
    services.save_narrative(
        s.supervisor, report=report, narrative={"inspections": "本月检查总体平稳。\n扫码率有待提高。"}
    )
    report = services.issue_report(s.supervisor, report=report)
    data = report.pdf.read()
    text = "".join(pdf_text(data).split())
    assert report.number in text
    assert "金山区" in text and "涉企行政检查执法监督工作报告" in text
    assert "本月检查总体平稳。" in text and "扫码率有待提高。" in text
    assert "检查次数3" in text  # the summary's row
    assert "无码检查22" in text  # the rule, its count, (一般 0, 较重 0,) 严重 2
    assert "<svg" not in text and "严重" in text
    fonts = embedded_fonts(data)
    assert fonts and all(key in ("/FontFile2", "/FontFile3") for _, key in fonts)
    book = load_workbook(io.BytesIO(report.xlsx.read()), read_only=True)
    by_title = {}
    for sheet in book.worksheets:
        rows = [list(r) for r in sheet.iter_rows(values_only=True)]
        by_title[sheet.title] = rows
    stored = tables(report)
    for number, section in enumerate(report.figures["sections"], start=1):
        for t_number, t in enumerate(section["tables"], start=1):
            name = f"{number}.{t_number} {t['title']}"[:31]
            rows = by_title[name]
            assert rows[0] == t["columns"]
            assert rows[1:] == [list(r) for r in stored[t["title"]]["rows"]], name


def test_who_may_read_a_report_and_its_files(world, client):
    s = world
    report = make(s, s.jinshan)
    for fmt in ("pdf", "xlsx"):
        client.force_login(s.supervisor)
        assert client.get(f"/reports/{report.pk}/report.{fmt}").status_code == 200
        client.force_login(s.city_supervisor)
        assert client.get(f"/reports/{report.pk}/report.{fmt}").status_code == 200
        client.force_login(s.mh_supervisor)
        assert client.get(f"/reports/{report.pk}/report.{fmt}").status_code == 404
        client.force_login(s.head)
        assert client.get(f"/reports/{report.pk}/report.{fmt}").status_code == 404
    client.force_login(s.mh_supervisor)
    assert client.get(f"/reports/{report.pk}/").status_code == 404
    assert "金山区" not in client.get("/reports/").content.decode()
    assert client.post(f"/reports/{report.pk}/issue/").status_code == 404
    client.force_login(s.head)
    refused = client.get("/reports/")
    assert refused.status_code == 403 and "执法监督人员" in refused.content.decode()
    assert client.get(f"/reports/{report.pk}/").status_code == 404
    client.logout()
    assert client.get(f"/reports/{report.pk}/report.pdf").status_code == 302
    with pytest.raises(PermissionDenied):
        services.generate_report(s.mh_supervisor, report=report)
    with pytest.raises(PermissionDenied):
        services.issue_report(user_for(Role.DISTRICT_GOVERNMENT, region=s.jinshan), report=report)
    SupervisionReport.objects.get(pk=report.pk, status="draft", number="")


def test_an_issued_report_is_frozen(world):
    s = world
    report = services.issue_report(s.supervisor, report=make(s, s.jinshan))
    figures, pdf_name = report.figures, report.pdf.name
    extra = s.submitted()
    move_to([extra], s.day)
    finding(s, body=s.body, rule="no_code", severity=Severity.HIGH, key="later", day=s.day)
    rebuild_all()
    with pytest.raises(InvalidTransition, match="已签发"):
        services.generate_report(s.supervisor, report=report)
    with pytest.raises(InvalidTransition):
        services.save_narrative(s.supervisor, report=report, narrative={"typical": "改"})
    with pytest.raises(InvalidTransition):
        services.issue_report(s.supervisor, report=report)
    report.refresh_from_db()
    assert report.figures == figures and report.pdf.name == pdf_name
    assert dict(tables(report)["主要指标"]["rows"])["检查次数"] == 3
    # A report made now counts the new inspection: the freeze is the issued one's, not the data's.
    fresh = make(s, s.city, s.city_supervisor)
    assert dict(tables(fresh)["主要指标"]["rows"])["检查次数"] == 5


def test_numbers_are_unique_and_in_sequence(world):
    s = world
    start, _ = last_month()
    first = services.issue_report(s.supervisor, report=make(s, s.jinshan))
    year = timezone.localdate().year
    assert first.number == f"金司监报〔{year}〕1号"
    quarter = services.create_report(s.supervisor, region=s.jinshan, kind="year", year=start.year - 1)
    quarter = services.issue_report(
        s.supervisor, report=services.generate_report(s.supervisor, report=quarter)
    )
    assert quarter.number == f"金司监报〔{year}〕2号"
    mh = services.issue_report(s.mh_supervisor, report=make(s, s.minhang, s.mh_supervisor))
    assert mh.number == f"闵司监报〔{year}〕1号"
    with pytest.raises(DomainError, match="已存在"):
        services.create_report(
            s.supervisor, region=s.jinshan, kind="month", year=start.year, number=start.month
        )


def test_bad_input_is_refused_and_saves_nothing(world, client):
    s = world
    today = timezone.localdate()
    with pytest.raises(DomainError, match="尚未结束"):
        services.create_report(
            s.supervisor, region=s.jinshan, kind="month", year=today.year, number=today.month
        )
    with pytest.raises(DomainError, match="月份"):
        services.create_report(s.supervisor, region=s.jinshan, kind="month", year=2025, number=13)
    report = services.create_report(s.supervisor, region=s.jinshan, kind="year", year=today.year - 1)
    with pytest.raises(DomainError, match="尚未生成"):
        services.issue_report(s.supervisor, report=report)
    with pytest.raises(DomainError, match="超过5000字"):
        services.save_narrative(s.supervisor, report=report, narrative={"typical": "字" * 5001})
    report.refresh_from_db()
    assert report.narrative == {} and report.status == "draft"
    client.force_login(s.supervisor)
    for data in (
        {"region": "x", "kind": "month", "year": "2025"},
        {"region": str(s.minhang.pk), "kind": "month", "year": "2025"},
        {"region": str(s.jinshan.pk), "kind": "week", "year": "2025"},
        {"region": str(s.jinshan.pk), "kind": "month", "year": "abc"},
        {"region": str(s.jinshan.pk), "kind": "month", "year": "2025", "number": "99"},
    ):
        answer = client.post("/reports/new/", data, follow=True)
        assert answer.status_code == 200 and "报告未创建" in answer.content.decode(), data
    assert SupervisionReport.objects.count() == 1
    assert client.post(f"/reports/{report.pk}/frobnicate/").status_code == 404
    assert client.get(f"/reports/{report.pk}/report.pdf").status_code == 404  # not generated yet


def test_the_pages_open_generate_edit_and_issue_a_report(world, client):
    s = world
    start, _ = last_month()
    client.force_login(s.supervisor)
    page = client.post(
        "/reports/new/",
        {"region": s.jinshan.pk, "kind": "month", "year": start.year, "number": start.month},
        follow=True,
    ).content.decode()
    report = SupervisionReport.objects.get()
    assert "报告尚未生成" in page
    page = client.post(f"/reports/{report.pk}/generate/", follow=True).content.decode()
    assert "已生成报告" in page and "无码检查" in page
    page = client.post(
        f"/reports/{report.pk}/narrative/", {"narrative_typical": "无码检查仍较突出。"}, follow=True
    ).content.decode()
    assert "已保存报告文字" in page and "无码检查仍较突出。" in page
    page = client.post(f"/reports/{report.pk}/issue/", follow=True).content.decode()
    report.refresh_from_db()
    assert report.status == "issued" and report.number in page and "重新生成" not in page
    assert report.narrative == {"typical": "无码检查仍较突出。"}
    assert "无码检查仍较突出。" in "".join(pdf_text(report.pdf.read()).split())
    menu = client.get("/").content.decode()
    assert "执法监督工作报告" in menu


def test_the_job_makes_the_reports_of_the_periods_just_ended(world):
    s = world
    start, _ = last_month()
    today = (start + datetime.timedelta(days=40)).replace(day=1)  # first day of this month
    made = services.generate_scheduled(today)
    regions = {r.region.name for r in made}
    assert {"金山区", "闵行区", s.city.name} <= regions
    assert all(r.generated_at and r.pdf and r.status == "draft" for r in made)
    kinds = {r.kind for r in made}
    assert "month" in kinds
    assert ("quarter" in kinds) == (start.month % 3 == 0)
    jinshan = SupervisionReport.objects.get(region=s.jinshan, kind="month")
    assert dict(tables(jinshan)["主要指标"]["rows"])["检查次数"] == 3
    assert services.generate_scheduled(today) == []  # idempotent
    assert [k for k, _, _ in services.due_periods(datetime.date(2027, 1, 4))] == ["month", "quarter", "year"]
    assert services.due_periods(datetime.date(2027, 2, 1)) == [("month", 2027, 1)]
    # A supervisor is told a generated draft waits for issue.
    from jianchama.core import todos

    lines = {t.kind.key: t.count for t in todos.for_user(s.supervisor)}
    assert lines.get("reports_to_issue", 0) >= 1


def test_every_section_of_seed_003_is_there(world):
    s = world
    report = make(s, s.jinshan)
    assert [sec["title"] for sec in report.figures["sections"]] == [t for _, t in contents.SECTIONS]
    assert all(sec["tables"] for sec in report.figures["sections"])
