"""Frequency control's pages (F-21): the submit step (the check, joint visits, the remote question, the
exemption and the justification), the head's approval of a justified task, the supervisors' report and its
Excel file, and the rules' admin."""

from __future__ import annotations

import datetime
import io
import re

import pytest
from django.utils import timezone
from openpyxl import load_workbook

from jianchama.core.models import AuditEvent
from jianchama.core.roles import Role
from jianchama.inspections.models import Exemption, FrequencyRule, InspectionCode, InspectionRecord, Task
from tests.factories import user_for
from tests.inspections.test_frequency import inspection, partner_task, rule

pytestmark = pytest.mark.django_db

DAY = datetime.timedelta(days=1)
Scope, Period, Action = FrequencyRule.Scope, FrequencyRule.Period, FrequencyRule.Action


def today() -> datetime.date:
    return timezone.localdate()


def messages_of(response) -> list[str]:
    return re.findall(r'class="msg [^"]*">(.*?)<', response.content.decode())


@pytest.fixture
def w(s):
    from tests.inspections.conftest import inspector_with_account

    s.partner_inspector2 = inspector_with_account(s.partner, "钱七")
    return s


# --- The submit step ----------------------------------------------------------------------------------------


def test_the_detail_pages_plain_submit_still_submits_when_no_rule_objects(client, s):
    rule(limit=2)
    task = s.draft()
    client.force_login(s.inspector_user)
    page = client.get(f"/tasks/{task.pk}/").content.decode()
    assert f'action="/tasks/{task.pk}/submit/"' in page and "频次核查与联合检查" in page
    response = client.post(f"/tasks/{task.pk}/submit/", follow=True)
    assert "已提交审批" in messages_of(response)
    assert response.redirect_chain[-1][0] == f"/tasks/{task.pk}/"
    assert Task.objects.get(pk=task.pk).status == Task.Status.SUBMITTED


def test_a_plain_submit_that_needs_a_justification_says_so_and_leads_to_the_submit_step(client, s):
    rule("每年至多1次须说明理由", limit=1, action=Action.JUSTIFY)
    earlier = inspection(s, today())
    task = s.draft()
    client.force_login(s.inspector_user)
    response = client.post(f"/tasks/{task.pk}/submit/", follow=True)
    [message] = messages_of(response)
    assert message.startswith(
        "该任务超出检查频次规则，须填写超频次检查的理由，经执法单位负责人批准后方可检查"
    )
    assert earlier.number in message
    assert response.redirect_chain[-1][0] == f"/tasks/{task.pk}/submit/"
    assert Task.objects.get(pk=task.pk).status == Task.Status.DRAFT
    page = response.content.decode()
    assert 'name="justification"' in page and "超出以下规则，须填写超频次检查的理由" in page


def test_the_submit_step_shows_the_check_the_joint_visits_and_the_remote_question(client, w):
    s = w
    rule("每年至多1次", limit=1, exemptions=[Exemption.RECHECK])
    rule("每日超过1次提示", scope=Scope.ALL_BODIES, period=Period.DAY, limit=1, action=Action.WARN)
    earlier = inspection(s, today())
    task = s.draft()
    joinable = partner_task(s, window_start=today() + DAY, window_end=today() + 2 * DAY)
    told = inspection(s, today() + 3 * DAY, partner=True, status=Task.Status.NOTIFIED)
    client.force_login(s.inspector_user)
    page = client.get(f"/tasks/{task.pk}/submit/").content.decode()
    assert (
        "超出以下规则，不予提交" in page and earlier.number in page and "本规则的豁免情形：整改复查" in page
    )
    assert "每日超过1次提示" in page
    assert joinable.number in page and told.number in page
    assert f'name="into" value="{joinable.pk}"' in page
    assert f'name="into" value="{told.pk}"' not in page and "已批准，请与金山区市场监督管理局协商" in page
    assert "该检查能否以非现场方式进行？" in page and "能，改为非现场检查" in page
    # Previewing an exemption: the refusal is waived, and said to be.
    page = client.get(f"/tasks/{task.pk}/submit/?exemption=recheck").content.decode()
    assert "不予提交</strong>" not in page and "因「整改复查」豁免" in page
    assert '<option value="recheck" selected>' in page


def test_submitting_with_an_exemption_and_a_justification_through_the_step(client, w):
    s = w
    rule("每年至多1次", limit=1, exemptions=[Exemption.RECHECK])
    rule("每日至多1次须说明理由", scope=Scope.ALL_BODIES, period=Period.DAY, limit=1, action=Action.JUSTIFY)
    inspection(s, today())
    task = s.draft()
    client.force_login(s.inspector_user)
    response = client.post(
        f"/tasks/{task.pk}/submit/", {"exemption": "recheck", "justification": ""}, follow=True
    )
    assert response.redirect_chain[-1][0] == f"/tasks/{task.pk}/submit/?exemption=recheck"
    assert any("须填写超频次检查的理由" in m for m in messages_of(response))
    response = client.post(
        f"/tasks/{task.pk}/submit/",
        {"exemption": "recheck", "justification": "复查上次责令整改事项"},
        follow=True,
    )
    assert "已提交审批" in messages_of(response)
    task = Task.objects.get(pk=task.pk)
    assert (task.status, task.frequency_exemption, task.frequency_justification) == (
        Task.Status.SUBMITTED,
        "recheck",
        "复查上次责令整改事项",
    )
    # The head sees the findings and the justification, and approves on them.
    client.force_login(s.head)
    page = client.get(f"/tasks/{task.pk}/").content.decode()
    assert "批准（含超频次检查理由）" in page
    assert "复查上次责令整改事项" in page and "整改复查" in page and "每日至多1次须说明理由" in page
    response = client.post(f"/tasks/{task.pk}/approve/", follow=True)
    assert "已批准" in messages_of(response)
    assert Task.objects.get(pk=task.pk).status == Task.Status.NOTIFIED


def test_the_approver_sees_a_refusal_that_arose_since_submission(client, w):
    s = w
    task = s.submitted()
    rule("每日至多1次", scope=Scope.ALL_BODIES, period=Period.DAY, limit=1)
    meanwhile = inspection(s, today(), partner=True)
    client.force_login(s.head)
    page = client.get(f"/tasks/{task.pk}/").content.decode()
    assert "检查频次复核未通过，暂不能批准" in page and meanwhile.number in page
    assert ">批准</button>" in page  # no justification: the plain button
    response = client.post(f"/tasks/{task.pk}/approve/", follow=True)
    assert any("该任务不能批准" in m and meanwhile.number in m for m in messages_of(response))
    assert not InspectionCode.objects.filter(task=task).exists()


def test_joining_through_the_step(client, w):
    s = w
    target = s.draft()
    source = partner_task(s)
    client.force_login(s.partner_inspector_user)
    response = client.post(f"/tasks/{source.pk}/join/", {"into": target.pk}, follow=True)
    assert response.redirect_chain[-1][0] == f"/tasks/{target.pk}/"
    [message] = messages_of(response)
    assert (
        message == f"已并入联合检查任务{target.number}：一次入企、共用一个检查码；原任务{source.number}已取消"
    )
    assert "联合检查，一次入企、共用一码" in response.content.decode()
    assert Task.objects.get(pk=source.pk).status == Task.Status.CANCELLED
    # A refusal comes back as a message on the step.
    again = partner_task(s)
    approved = s.notified(s.draft())
    response = client.post(f"/tasks/{again.pk}/join/", {"into": approved.pk}, follow=True)
    assert response.redirect_chain[-1][0] == f"/tasks/{again.pk}/submit/"
    assert any("已批准的任务不能再加入执法单位" in m for m in messages_of(response))
    # Only a task the step offers: another enterprise's is not found.
    elsewhere = s.draft(enterprise=s.other_enterprise)
    assert client.post(f"/tasks/{again.pk}/join/", {"into": elsewhere.pk}).status_code == 404
    assert client.post(f"/tasks/{again.pk}/join/", {"into": "x"}).status_code == 404


def test_answering_yes_to_the_remote_question_switches_the_mode(client, s):
    task = s.draft()
    client.force_login(s.inspector_user)
    response = client.post(f"/tasks/{task.pk}/mode/", {"mode": "remote"}, follow=True)
    assert "检查方式已改为「非现场检查」" in messages_of(response)
    assert "本任务为非现场检查" in response.content.decode()
    assert Task.objects.get(pk=task.pk).mode == Task.Mode.REMOTE


def test_the_step_is_for_drafts_of_ones_own_body(client, s):
    task = s.submitted()
    client.force_login(s.inspector_user)
    response = client.get(f"/tasks/{task.pk}/submit/", follow=True)
    assert response.redirect_chain[-1][0] == f"/tasks/{task.pk}/"
    assert any("无需提交" in m for m in messages_of(response))
    client.force_login(s.other_inspector_user)
    assert client.get(f"/tasks/{task.pk}/submit/").status_code == 404
    assert client.post(f"/tasks/{task.pk}/mode/", {"mode": "remote"}).status_code == 404


# --- The supervisors' report --------------------------------------------------------------------------------


@pytest.fixture
def busy(w):
    """The Jinshan enterprise inspected three times (twice by the gas body, once by the market body), another
    Jinshan enterprise once, a Minhang enterprise once; a draft and a cancelled task that do not count."""
    s = w
    s.busy = [
        inspection(s, today()),
        inspection(s, today(), status=Task.Status.CLOSED, outcome=InspectionRecord.Outcome.NO_PROBLEM),
        inspection(s, today(), partner=True, status=Task.Status.SUBMITTED),
    ]
    s.quiet = inspection(s, today(), enterprise=s.other_enterprise)
    inspection(s, today(), status=Task.Status.DRAFT)
    inspection(s, today(), status=Task.Status.CANCELLED)
    from tests.inspections.conftest import inspector_with_account

    s.minhang_task = inspection(
        s,
        today(),
        actor=s.other_inspector_user,
        enterprise=s.mh_enterprise,
        inspectors=[s.other_inspector, inspector_with_account(s.other_body, "孙八")],
    )
    # The report reads the statistics' aggregates, which the job queue keeps (statistics.build); the tasks
    # above were put in place directly, so the facts are rebuilt as the nightly job would.
    from jianchama.statistics.build import rebuild_all

    rebuild_all()
    return s


def test_the_supervisor_sees_its_regions_most_inspected_enterprises_by_body_and_field(client, busy):
    s = busy
    client.force_login(s.supervisor)
    page = client.get("/tasks/frequency/").content.decode()
    table = page[page.index('id="top-enterprises"') :]
    assert table.index("金山燃气有限公司") < table.index("金山另一燃气公司")
    assert "闵行燃气有限公司" not in page
    assert "金山区建设和管理委员会 2次" in page and "金山区市场监督管理局 1次" in page
    assert "燃气管理 2次" in page and "市场监管 1次" in page
    for task in s.busy:
        task.refresh_from_db()
        day = timezone.localdate(task.started_at) if task.started_at else task.window_start
        # Each inspection a line: its number linked, its day, its bodies, its kind and status.
        assert f'<a href="/tasks/{task.pk}/">{task.number}</a> {day.month}月{day.day}日 ' in page
    assert (
        f'<span class="muted">{s.busy[0].get_kind_display()} · {s.busy[0].get_status_display()}</span>'
        in page
    )
    assert "共4次检查" in page


def test_each_role_sees_its_own_scope(client, busy):
    s = busy
    from jianchama.inspections.frequency import frequency_report

    start, end = datetime.date(today().year, 1, 1), datetime.date(today().year, 12, 31)

    def seen(user) -> dict[str, int]:
        return {e.name: e.count for e in frequency_report(user, start=start, end=end).enterprises}

    assert seen(s.supervisor) == {"金山燃气有限公司": 3, "金山另一燃气公司": 1}
    assert seen(s.mh_supervisor) == {"闵行燃气有限公司": 1}
    # The city-level reviewer: its district counterparts' tasks (the gas body's), not the market body's.
    assert seen(s.city_reviewer) == {"金山燃气有限公司": 2, "金山另一燃气公司": 1}
    admin = user_for(Role.PLATFORM_ADMIN)
    assert seen(admin) == {"金山燃气有限公司": 3, "金山另一燃气公司": 1, "闵行燃气有限公司": 1}
    for who in (s.head, s.inspector_user, s.contact, s.observer):
        client.force_login(who)
        assert client.get("/tasks/frequency/").status_code == 403


def test_the_report_by_field_and_period(client, busy):
    s = busy
    client.force_login(s.supervisor)
    page = client.get(f"/tasks/frequency/?field={s.market.pk}").content.decode()
    assert "共1次检查" in page and "金山另一燃气公司" not in page
    next_year = today().year + 1
    page = client.get(f"/tasks/frequency/?start={next_year}-01-01&end={next_year}-12-31").content.decode()
    assert "共0次检查" in page and "该期间没有检查" in page
    response = client.get("/tasks/frequency/?start=2026-05-01&end=2026-04-01", follow=True)
    assert "统计期间的结束日期不能早于开始日期" in messages_of(response)


def test_the_report_exports_to_excel(client, busy):
    s = busy
    client.force_login(s.supervisor)
    response = client.get("/tasks/frequency/?format=xlsx")
    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert "attachment" in response["Content-Disposition"]
    workbook = load_workbook(io.BytesIO(response.content))
    assert workbook.sheetnames == ["检查频次最高的企业", "检查明细", "按执法单位", "按执法领域"]
    rows = list(workbook["检查频次最高的企业"].iter_rows(values_only=True))
    assert rows[0] == ("企业名称", "统一社会信用代码", "检查次数", "按执法单位", "按执法领域")
    assert rows[1][:3] == ("金山燃气有限公司", s.enterprise.uscc, 3)
    assert rows[1][3] == "金山区建设和管理委员会 2次；金山区市场监督管理局 1次"
    assert rows[2][:3] == ("金山另一燃气公司", s.other_enterprise.uscc, 1)
    details = list(workbook["检查明细"].iter_rows(values_only=True))
    assert len(details) == 1 + 4
    numbers = {row[2] for row in details[1:]}
    assert numbers == {t.number for t in s.busy} | {s.quiet.number}
    first = next(row for row in details if row[2] == s.busy[1].number)
    assert first[3].date() == today() and first[6] == "日常检查" and first[7] == "已办结"
    bodies = list(workbook["按执法单位"].iter_rows(values_only=True))
    assert bodies[1:] == [("金山区建设和管理委员会", 3, 2), ("金山区市场监督管理局", 1, 1)]
    fields = list(workbook["按执法领域"].iter_rows(values_only=True))
    assert fields[1:] == [("燃气管理", 3, 2), ("市场监管", 1, 1)]


def test_the_menu_shows_the_pages_to_whom_they_are_for(client, s):
    client.force_login(s.supervisor)
    page = client.get("/tasks/").content.decode()
    assert 'href="/tasks/frequency/"' in page and 'href="/tasks/triggers/"' in page
    client.force_login(s.inspector_user)
    page = client.get("/tasks/").content.decode()
    assert 'href="/tasks/frequency/"' not in page and 'href="/tasks/triggers/"' not in page


# --- The rules' admin --------------------------------------------------------------------------------------


@pytest.fixture
def admin_client(client):
    admin = user_for(Role.PLATFORM_ADMIN, is_staff=True)
    client.force_login(admin)
    client.admin = admin
    return client


def rule_form(**fields) -> dict:
    return {
        "name": "每周超过2次的提示",
        "scope": "all_bodies",
        "period": "week",
        "limit": "2",
        "action": "warn",
        "field": "",
        "body_level": "",
        "risk_grade": "",
        "is_active": "on",
    } | fields


def test_the_admin_saves_a_rule_through_the_service(admin_client):
    response = admin_client.post(
        "/admin/inspections/frequencyrule/add/", rule_form(exemptions=["complaint", "recheck"])
    )
    assert response.status_code == 302, response.content.decode()
    saved = FrequencyRule.objects.get()
    assert saved.exemptions == ["complaint", "recheck"] and saved.limit == 2
    [event] = AuditEvent.objects.filter(action="frequency_rule.created")
    assert event.actor == admin_client.admin
    page = admin_client.get("/admin/inspections/frequencyrule/").content.decode()
    assert "投诉举报核查、整改复查" in page


def test_the_admin_shows_contradictions_and_saves_nothing(admin_client):
    rule("每周至多2次", scope=Scope.ALL_BODIES, period=Period.WEEK, limit=2, action=Action.WARN)
    response = admin_client.post(
        "/admin/inspections/frequencyrule/add/", rule_form(name="每日至多3次", period="day", limit="3")
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert "与已启用的规则「每周至多2次」矛盾：每日上限（3次）高于每7日上限（2次）" in page
    response = admin_client.post(
        "/admin/inspections/frequencyrule/add/", rule_form(name="零次提示", period="year", limit="0")
    )
    assert "上限为0次表示一律不得检查" in response.content.decode()
    response = admin_client.post(
        "/admin/inspections/frequencyrule/add/", rule_form(name="未知豁免", exemptions=["holiday"])
    )
    assert response.status_code == 200 and "holiday" in response.content.decode()
    assert FrequencyRule.objects.count() == 1
    assert not AuditEvent.objects.filter(action__startswith="frequency_rule").exists()


def test_the_rules_admin_is_for_the_platform_admin_only(client, s):
    staff_head = user_for(Role.BODY_ADMIN, body=s.body, is_staff=True)
    client.force_login(staff_head)
    assert client.get("/admin/inspections/frequencyrule/").status_code == 403
    assert client.get("/admin/inspections/triggersituation/").status_code == 403


def test_the_demo_draft_breaks_the_per_body_cap(client):
    """The demo seeds the rules and a draft that a rule refuses; submitting it says which and why."""
    from io import StringIO

    from django.core.management import call_command

    from jianchama.core.models import User

    call_command("load_demo", stdout=StringIO())
    assert FrequencyRule.objects.filter(is_active=True).count() == 6
    # The frequency story's draft is the demo's last (another story may leave a task returned to draft).
    draft = Task.objects.filter(status=Task.Status.DRAFT, kind=Task.Kind.ROUTINE).latest("pk")
    client.force_login(User.objects.get(username="inspector"))
    response = client.post(f"/tasks/{draft.pk}/submit/", follow=True)
    [message] = messages_of(response)
    assert "违反规则「同一执法单位对同一企业每年至多2次」：金山区应急管理局" in message
    assert Task.objects.get(pk=draft.pk).status == Task.Status.DRAFT
    # The demo's warning: its second task on the featured enterprise the same day.
    warned = Task.objects.get(status=Task.Status.RESULT_RECORDED)
    assert [f["name"] for f in warned.frequency_findings] == ["各部门合计每日超过1次的提示"]
    from jianchama.inspections.models import TriggerSituation

    assert set(TriggerSituation.objects.values_list("field__name", "name")) == {
        ("安全生产", "经核实的投诉举报"),
        ("安全生产", "发生生产安全事故"),
        ("安全生产", "监测预警系统报警"),
        ("安全生产", "重大事故隐患举报"),
    }


def test_the_report_export_writes_an_enterprise_name_as_text_never_as_a_formula(client, busy):
    s = busy
    # Names come from enterprises' registration and imports: one shaped as a formula must stay text.
    type(s.other_enterprise).objects.filter(pk=s.other_enterprise.pk).update(name="=1+2")
    client.force_login(s.supervisor)
    workbook = load_workbook(io.BytesIO(client.get("/tasks/frequency/?format=xlsx").content))
    names = [row[0] for row in workbook["检查频次最高的企业"].iter_rows(min_row=2, values_only=True)]
    assert "'=1+2" in names
    formulas = [
        c.coordinate for sheet in workbook for line in sheet.iter_rows() for c in line if c.data_type == "f"
    ]
    assert formulas == []
