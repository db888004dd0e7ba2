"""Triggered inspections (F-28): the situations per field with their evidence and approver, their validation
and saving, the hint on the task form, and the statistics by situation."""

from __future__ import annotations

import datetime
import re

import pytest
from django.utils import timezone

from jianchama.core.errors import DomainError, PermissionDenied
from jianchama.core.models import AuditEvent
from jianchama.core.roles import Role
from jianchama.inspections import triggers
from jianchama.inspections.models import InspectionRecord, Task, TriggerSituation
from tests.factories import FieldFactory, user_for
from tests.inspections.conftest import inspector_with_account

pytestmark = pytest.mark.django_db

Outcome = InspectionRecord.Outcome


def today() -> datetime.date:
    return timezone.localdate()


@pytest.fixture
def t(s):
    """Gas situations (one switched off) and a safety field's, for the scenario."""
    s.leak = TriggerSituation.objects.create(
        field=s.gas, code="gas_leak_alarm", name="燃气泄漏监测报警", evidence_required="监测平台报警记录"
    )
    s.accident = TriggerSituation.objects.create(
        field=s.gas,
        code="gas_accident",
        name="发生燃气事故",
        evidence_required="事故信息报告、现场照片",
    )
    s.old = TriggerSituation.objects.create(
        field=s.gas, code="gas_old", name="已停用的情形", evidence_required="无", is_active=False
    )
    s.safety = FieldFactory(code="safety", name="安全生产")
    s.hazard = TriggerSituation.objects.create(
        field=s.safety, code="safety_hazard", name="重大事故隐患举报", evidence_required="举报材料、隐患照片"
    )
    return s


def triggered(s, situation, *, status=Task.Status.SUBMITTED, outcome=None, day=None, **overrides) -> Task:
    task = s.draft(
        kind=Task.Kind.TRIGGER,
        trigger_situation=situation,
        reason="监测平台报警",
        evidence="报警记录截图",
        **overrides,
    )
    day = day or today()
    Task.objects.filter(pk=task.pk).update(status=status, window_start=day, window_end=day)
    if outcome:
        InspectionRecord.objects.create(
            task=task, outcome=outcome, summary="检查情况", recorded_by=s.inspector_user
        )
    return task


def test_situations_by_field_lists_the_active_ones_with_evidence_and_approver(t):
    s = t
    grouped = triggers.situations_by_field()
    assert [(field.name, [x.name for x in situations]) for field, situations in grouped] == [
        ("燃气管理", ["发生燃气事故", "燃气泄漏监测报警"]),
        ("安全生产", ["重大事故隐患举报"]),
    ]
    everything = triggers.situations_by_field(active_only=False)
    assert s.old in everything[0][1]


def test_a_triggered_task_needs_its_situation_and_evidence(t):
    s = t
    with pytest.raises(DomainError, match="须选择启动情形"):
        s.draft(kind=Task.Kind.TRIGGER, reason="报警", evidence="记录")
    with pytest.raises(DomainError, match="须说明证据材料"):
        s.draft(kind=Task.Kind.TRIGGER, trigger_situation=s.leak, reason="报警")
    with pytest.raises(DomainError, match="已停用"):
        s.draft(kind=Task.Kind.TRIGGER, trigger_situation=s.old, reason="报警", evidence="记录")
    assert triggered(s, s.leak).trigger_situation == s.leak


def test_statistics_by_situation_count_tasks_submitted_onward_in_the_period(t):
    s = t
    triggered(s, s.leak)
    triggered(s, s.leak, status=Task.Status.CLOSED, outcome=Outcome.RECTIFY)
    triggered(s, s.leak, status=Task.Status.RESULT_RECORDED, outcome=Outcome.NO_PROBLEM)
    triggered(s, s.accident, status=Task.Status.NOTIFIED)
    triggered(s, s.leak, status=Task.Status.DRAFT)  # not submitted: not counted
    triggered(s, s.leak, status=Task.Status.CANCELLED)
    triggered(s, s.accident, day=datetime.date(today().year - 1, 6, 1))  # last year
    s.draft()  # not triggered
    start, end = datetime.date(today().year, 1, 1), datetime.date(today().year, 12, 31)
    stats = triggers.trigger_statistics(s.supervisor, start=start, end=end)
    figures = {stat.situation.name: (stat.total, stat.completed, stat.with_problems) for stat in stats}
    assert figures == {
        "发生燃气事故": (1, 0, 0),
        "燃气泄漏监测报警": (3, 2, 1),
        "重大事故隐患举报": (0, 0, 0),
    }
    assert [stat.situation.field.name for stat in stats] == ["燃气管理", "燃气管理", "安全生产"]
    last_year = triggers.trigger_statistics(
        s.supervisor, start=start.replace(year=start.year - 1), end=end.replace(year=end.year - 1)
    )
    assert {stat.situation.name: stat.total for stat in last_year}["发生燃气事故"] == 1


def test_a_switched_off_situation_still_shows_its_tasks(t):
    s = t
    task = triggered(s, s.leak)
    Task.objects.filter(pk=task.pk).update(trigger_situation=s.old)
    start, end = datetime.date(today().year, 1, 1), datetime.date(today().year, 12, 31)
    stats = {
        stat.situation.name: stat.total for stat in triggers.trigger_statistics(s.head, start=start, end=end)
    }
    assert stats["已停用的情形"] == 1


def test_statistics_are_scoped_and_refused_to_other_roles(t):
    s = t
    triggered(s, s.leak)
    other = inspector_with_account(s.other_body, "孙八")
    triggered(
        s,
        s.leak,
        actor=s.other_inspector_user,
        enterprise=s.mh_enterprise,
        inspectors=[s.other_inspector, other],
    )
    start, end = datetime.date(today().year, 1, 1), datetime.date(today().year, 12, 31)

    def leaks(user) -> int:
        stats = triggers.trigger_statistics(user, start=start, end=end)
        return next(stat.total for stat in stats if stat.situation == s.leak)

    assert leaks(s.supervisor) == 1 and leaks(s.mh_supervisor) == 1 and leaks(s.head) == 1
    assert leaks(s.other_head) == 1 and leaks(s.city_reviewer) == 1
    assert leaks(user_for(Role.PLATFORM_ADMIN)) == 2
    assert leaks(s.partner_head) == 0
    for who in (s.inspector_user, s.contact, s.observer):
        with pytest.raises(PermissionDenied):
            triggers.trigger_statistics(who, start=start, end=end)
    with pytest.raises(DomainError, match="结束日期不能早于开始日期"):
        triggers.trigger_statistics(s.supervisor, start=end, end=start)


def test_the_trigger_page(client, t):
    s = t
    triggered(s, s.leak, status=Task.Status.CLOSED, outcome=Outcome.RECTIFY)
    client.force_login(s.head)
    page = client.get("/tasks/triggers/").content.decode()
    stats = page[page.index('id="trigger-stats"') :]
    row = stats[stats.index("燃气泄漏监测报警") : stats.index("</tr>", stats.index("燃气泄漏监测报警"))]
    assert [int(n) for n in re.findall(r">(\d+)</td>", row)] == [1, 1, 1]
    assert "须提供：事故信息报告、现场照片" in page and "审批：执法单位负责人<" in page
    assert "共1次触发式检查" in page
    client.force_login(s.inspector_user)
    assert client.get("/tasks/triggers/").status_code == 403


def test_the_task_form_shows_each_situations_evidence(client, t):
    s = t
    client.force_login(s.inspector_user)
    page = client.get("/tasks/new/").content.decode()
    hint = page[page.index('id="trigger-evidence"') :]
    assert "<strong>燃气泄漏监测报警</strong>（燃气管理，由执法单位负责人审批）：监测平台报警记录" in hint
    assert "<strong>重大事故隐患举报</strong>（安全生产" in hint
    assert "已停用的情形" not in page


# --- Validation and saving -----------------------------------------------------------------------------------


def test_validate_situation_says_what_is_wrong(t):
    s = t
    assert (
        triggers.validate_situation(
            TriggerSituation(field=s.gas, code="gas_new", name="新情形", evidence_required="材料")
        )
        == []
    )
    problems = triggers.validate_situation(
        TriggerSituation(code="Gas Leak!", name=" ", evidence_required="", approver="张三")
    )
    assert problems == [
        "请选择执法领域",
        "代码须为2至32位小写字母、数字或下划线，并以字母开头，例如 safety_accident",
        "请填写启动情形",
        "请写明该情形须提供的证据材料",
        "请选择审批人的角色（执法单位负责人）：审批是其在平台上的操作，不能填写姓名",
    ]
    assert triggers.validate_situation(
        TriggerSituation(
            field=s.gas, code="gas_leak_alarm", name="燃气泄漏监测报警", evidence_required="材料"
        )
    ) == [
        "代码「gas_leak_alarm」已被其他启动情形使用",
        "该执法领域已有名为「燃气泄漏监测报警」的启用中的启动情形",
    ]
    assert triggers.validate_situation(s.leak) == []  # itself is no clash


def test_save_situation_is_for_the_platform_admin_and_audited(t):
    s = t
    admin = user_for(Role.PLATFORM_ADMIN)
    new = TriggerSituation(
        field=s.safety, code="safety_alarm", name=" 监测预警报警 ", evidence_required="报警记录"
    )
    with pytest.raises(PermissionDenied):
        triggers.save_situation(s.head, situation=new)
    with pytest.raises(DomainError, match="启动情形未保存：请写明该情形须提供的证据材料"):
        triggers.save_situation(admin, situation=TriggerSituation(field=s.safety, code="x_y", name="无证据"))
    saved = triggers.save_situation(admin, situation=new)
    assert saved.pk and saved.name == "监测预警报警"
    saved.evidence_required = "报警记录及处置情况"
    triggers.save_situation(admin, situation=saved)
    created, changed = AuditEvent.objects.filter(action__startswith="trigger_situation").order_by("sequence")
    assert created.action == "trigger_situation.created" and created.before is None
    assert (
        changed.before["evidence_required"] == "报警记录"
        and changed.after["evidence_required"] == "报警记录及处置情况"
    )


def test_the_situations_admin_validates_and_saves_through_the_service(client, t):
    s = t
    admin = user_for(Role.PLATFORM_ADMIN, is_staff=True)
    client.force_login(admin)
    form = {
        "field": s.safety.pk,
        "code": "safety_accident",
        "name": "生产安全事故",
        "evidence_required": "",
        "approver": "body_admin",
        "is_active": "on",
    }
    response = client.post(
        "/admin/inspections/triggersituation/add/",
        form | {"code": "Safety Accident", "evidence_required": "快报"},
    )
    assert response.status_code == 200 and "代码须为2至32位小写字母" in response.content.decode()
    response = client.post(
        "/admin/inspections/triggersituation/add/", form | {"evidence_required": "事故快报"}
    )
    assert response.status_code == 302
    assert TriggerSituation.objects.get(code="safety_accident").evidence_required == "事故快报"
    assert AuditEvent.objects.filter(action="trigger_situation.created").count() == 1


# --- The approver: a role in the body, the approval an act in the platform (seed 003 二（三）3, 5) ---------


def test_触发式行政检查实施_the_approver_is_a_role_in_the_body_not_free_text(t):
    """「监督……触发式行政检查实施」: the situation names who approves as a role of the body (the body's head,
    whose account is the body administrator's); a typed-in name is refused."""
    s = t
    assert s.leak.approver == Role.BODY_ADMIN
    assert s.leak.get_approver_display() == "执法单位负责人"
    problems = triggers.validate_situation(
        TriggerSituation(
            field=s.gas, code="gas_new", name="新情形", evidence_required="材料", approver="王科长"
        )
    )
    assert problems == ["请选择审批人的角色（执法单位负责人）：审批是其在平台上的操作，不能填写姓名"]


def test_a_triggered_inspection_is_approved_in_the_platform_before_the_visit(t):
    """The approval is an act in the platform before the visit: the inspector cannot approve it, another body's
    head cannot, the body's head does — and the audit names who approved as what."""
    from jianchama.inspections import services

    s = t
    task = services.submit_task(s.inspector_user, task=triggered(s, s.leak, status=Task.Status.DRAFT))
    assert not services.can_approve(s.inspector_user, task)
    assert not services.can_approve(s.other_head, task)
    for outsider in (s.inspector_user, s.other_head):
        with pytest.raises(PermissionDenied):
            services.approve_task(outsider, task=task)
    assert Task.objects.get(pk=task.pk).status == Task.Status.SUBMITTED
    assert services.can_approve(s.head, task)
    services.approve_task(s.head, task=task)
    task.refresh_from_db()
    assert task.status == Task.Status.NOTIFIED and task.approved_at is not None
    [event] = AuditEvent.objects.filter(action="task.approved", object_id=str(task.pk))
    assert event.after["trigger_approver"] == "执法单位负责人"
    assert task.task_bodies.get().approved_by == s.head


def test_an_emergency_triggered_inspection_is_approved_within_the_deadline_after(t):
    """「紧急……可先行检查」: an emergency starts before approval; the approval follows in the platform within
    one working day. Approved later, it is still recorded, marked 'after the deadline', and the data rule
    emergency_unapproved makes it a finding."""
    from jianchama.core.workdays import add_working_days
    from jianchama.inspections import services

    s = t
    on_time = triggered(s, s.leak, status=Task.Status.DRAFT, is_emergency=True)
    services.start_emergency(s.inspector_user, task=on_time)
    on_time.refresh_from_db()
    assert on_time.approval_due == add_working_days(today(), 1)
    services.approve_task(s.head, task=on_time)
    [event] = AuditEvent.objects.filter(action="task.approved", object_id=str(on_time.pk))
    assert "approved_after_deadline" not in event.after

    late = triggered(s, s.leak, status=Task.Status.DRAFT, is_emergency=True)
    services.start_emergency(s.inspector_user, task=late)
    Task.objects.filter(pk=late.pk).update(approval_due=today() - datetime.timedelta(days=3))
    late.refresh_from_db()
    services.approve_task(s.head, task=late)
    [event] = AuditEvent.objects.filter(action="task.approved", object_id=str(late.pk))
    assert event.after["approved_after_deadline"] is True
    late.refresh_from_db()
    assert late.emergency_approval_overdue
