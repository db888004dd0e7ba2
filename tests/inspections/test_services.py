"""Inspection task services: each transition for what it does and what it refuses (wrong role, wrong state,
failed qualification), the code and its scans, the record, the evaluation and the statements."""

from __future__ import annotations

import datetime
import io
import re
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image

from jianchama.core import audit
from jianchama.core.errors import DomainError, InvalidTransition, PermissionDenied
from jianchama.core.models import AuditEvent, CalendarDay
from jianchama.core.workdays import add_working_days
from jianchama.inspections import services, signing
from jianchama.inspections.models import (
    CodeReport,
    Evaluation,
    Evidence,
    Finding,
    InspectionCode,
    InspectionRecord,
    Scan,
    Statement,
    Task,
    TaskBody,
)
from jianchama.notifications.models import Notification
from jianchama.registry.models import Certificate

pytestmark = pytest.mark.django_db

DAY = datetime.timedelta(days=1)
Outcome = InspectionRecord.Outcome
Result = Finding.Result


def today() -> datetime.date:
    return timezone.localdate()


def events(action: str, obj=None) -> list[AuditEvent]:
    found = AuditEvent.objects.filter(action=action)
    if obj is not None:
        found = found.filter(object_type=obj._meta.label, object_id=str(obj.pk))
    return list(found.order_by("sequence"))


def actions(obj) -> list[str]:
    return [event.action for event in audit.history(obj)]


def fresh(task: Task) -> Task:
    return Task.objects.get(pk=task.pk)


def counts() -> tuple[int, ...]:
    return (
        Task.objects.count(),
        TaskBody.objects.count(),
        InspectionCode.objects.count(),
        AuditEvent.objects.count(),
    )


def refused(exc_type, call, match: str | None = None, *, exact: bool = True):
    """Run `call`, expect `exc_type` (exactly, unless not `exact`: a plain DomainError is not a
    PermissionDenied), and check nothing was written."""
    before = counts()
    with pytest.raises(exc_type, match=match) as caught:
        call()
    if exact:
        assert type(caught.value) is exc_type, caught.value
    assert counts() == before
    return caught.value


# --- create_task ---------------------------------------------------------------------------------------


def test_create_task_makes_a_numbered_draft_with_its_body_items_and_an_audit_event(s):
    task = s.draft()
    assert task.status == Task.Status.DRAFT
    assert re.fullmatch(rf"JC{today().year}\d{{7}}", task.number)
    assert task.lead_body == s.body
    assert task.created_by == s.inspector_user
    assert set(task.inspectors.all()) == {s.inspector, s.inspector2}
    assert list(task.items.all()) == [s.item]
    [part] = task.task_bodies.all()
    assert part.body == s.body
    assert list(part.items.all()) == [s.item]
    assert part.approved_at is None
    assert not task.is_joint
    assert InspectionCode.objects.count() == 0
    [event] = events("task.created", task)
    assert event.actor == s.inspector_user
    assert event.before is None
    assert event.after["number"] == task.number
    assert event.after["status"] == "draft"
    assert event.after["inspectors"] == sorted([s.inspector.pk, s.inspector2.pk])


def test_each_task_gets_its_own_number(s):
    assert s.draft().number != s.draft().number


def test_a_body_admin_may_create_a_task_too(s):
    task = s.draft(actor=s.head)
    assert task.lead_body == s.body
    assert task.created_by == s.head


def test_joint_task_gives_each_body_the_items_it_may_check(s):
    task = s.joint_draft()
    assert task.is_joint
    parts = {part.body: set(part.items.all()) for part in task.task_bodies.all()}
    assert parts == {s.body: {s.item}, s.partner: {s.partner_item}}
    assert task.lead_body == s.body
    assert set(task.bodies.all()) == {s.body, s.partner}
    assert set(task.inspectors.all()) == {s.inspector, s.inspector2, s.partner_inspector}


def test_an_unplanned_task_with_reason_and_evidence_is_created(s):
    task = s.draft(kind=Task.Kind.COMPLAINT, reason=" 群众投诉燃气泄漏 ", evidence=" 投诉登记表1份 ")
    assert (task.reason, task.evidence) == ("群众投诉燃气泄漏", "投诉登记表1份")
    assert not task.is_planned


@pytest.mark.parametrize("who", ["contact", "supervisor", "city_reviewer", "observer"])
def test_only_body_staff_create_tasks(s, who):
    error = refused(PermissionDenied, lambda: s.draft(actor=getattr(s, who)))
    assert error.message == "只有执法单位的执法人员或管理员可以创建检查任务"


def test_an_enterprise_outside_the_bodys_scope_is_refused(s):
    error = refused(PermissionDenied, lambda: s.draft(enterprise=s.mh_enterprise))
    assert error.message == "企业闵行燃气有限公司不在本单位的检查范围内"


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"inspectors": ["inspector"]}, "执法人员不得少于两人"),
        ({"inspectors": ["inspector", "inspector"]}, "执法人员不得少于两人"),
        ({"inspectors": ["inspector", "other_inspector"]}, "执法人员赵六不属于参与检查的执法单位"),
        ({"items": ["unpublished_item"]}, "检查事项「燃气安全评价报告检查」不在已公布的检查事项清单中"),
        ({"items": []}, "请至少选择一项检查事项"),
        ({"legal_basis": "  "}, "请填写检查依据"),
        ({"kind": "whatever"}, "请选择检查类型"),
        ({"kind": Task.Kind.COMPLAINT}, "投诉类无计划检查须写明启动理由"),
        ({"kind": Task.Kind.COMPLAINT}, "投诉类无计划检查须说明证据材料"),
        ({"kind": Task.Kind.TRIGGER, "reason": "监测报警"}, "触发式检查类无计划检查须说明证据材料"),
        ({"kind": Task.Kind.TRIGGER, "evidence": "报警记录"}, "触发式检查类无计划检查须写明启动理由"),
        ({"window_end": -1}, "计划检查日期止不能早于日期起"),
        ({"window_start": -1}, "计划检查日期不能早于今天"),
        ({"window_end": 91}, "计划检查日期跨度不能超过90天"),
    ],
)
def test_create_task_refuses_bad_input_with_a_clear_message_and_saves_nothing(s, overrides, expected):
    args = {}
    for key, value in overrides.items():
        if key in ("inspectors", "items"):
            value = [getattr(s, name) for name in value]
        elif key.startswith("window_"):
            value = today() + value * DAY
        args[key] = value
    error = refused(DomainError, lambda: s.draft(**args))
    assert any(problem.startswith(expected) for problem in error.problems), error.problems
    assert error.message.startswith("检查任务未保存：")
    assert expected in error.message


def test_create_task_lists_every_problem_at_once(s):
    error = refused(
        DomainError,
        lambda: s.draft(
            kind=Task.Kind.COMPLAINT, inspectors=[s.inspector], window_end=today() - DAY, legal_basis=""
        ),
    )
    assert len(error.problems) == 5


def test_an_emergency_task_may_start_in_the_past(s):
    task = s.draft(is_emergency=True, window_start=today() - 2 * DAY)
    assert task.window_start == today() - 2 * DAY
    assert task.is_emergency


# --- submit_task / return_task ---------------------------------------------------------------------------


def test_a_member_of_the_body_submits_a_draft(s):
    task = services.submit_task(s.inspector2_user, task=s.draft())
    assert task.status == Task.Status.SUBMITTED
    assert fresh(task).submitted_at is not None
    [event] = events("task.submitted", task)
    assert event.actor == s.inspector2_user
    assert (event.before["status"], event.after["status"]) == ("draft", "submitted")


def test_submitting_a_submitted_task_names_both_states(s):
    task = s.submitted()
    error = refused(InvalidTransition, lambda: services.submit_task(s.inspector_user, task=task))
    assert "当前状态为「待审批」，不能变为「待审批」" in error.message
    assert task.number in error.message


@pytest.mark.parametrize(
    "who", ["other_inspector_user", "other_head", "contact", "supervisor", "city_reviewer"]
)
def test_only_a_participating_body_submits(s, who):
    task = s.draft()
    refused(PermissionDenied, lambda: services.submit_task(getattr(s, who), task=task))
    assert fresh(task).status == Task.Status.DRAFT


def test_the_head_returns_a_submitted_task_with_a_comment_and_it_can_be_resubmitted(s):
    task = services.return_task(s.head, task=s.submitted(), comment=" 检查依据请写明条款 ")
    assert task.status == Task.Status.DRAFT
    [event] = events("task.returned", task)
    assert event.after["comment"] == "检查依据请写明条款"
    assert event.actor == s.head
    assert services.submit_task(s.inspector_user, task=task).status == Task.Status.SUBMITTED


def test_returning_a_draft_names_both_states(s):
    task = s.draft()
    error = refused(InvalidTransition, lambda: services.return_task(s.head, task=task, comment="重写"))
    assert "当前状态为「草稿」，不能变为「草稿」" in error.message


@pytest.mark.parametrize("who", ["inspector_user", "other_head", "contact"])
def test_only_the_head_of_a_participating_body_returns(s, who):
    task = s.submitted()
    refused(PermissionDenied, lambda: services.return_task(getattr(s, who), task=task, comment="重写"))
    assert fresh(task).status == Task.Status.SUBMITTED


def test_returning_needs_a_reason(s):
    task = s.submitted()
    refused(
        DomainError, lambda: services.return_task(s.head, task=task, comment="  "), match="请写明退回原因"
    )
    assert fresh(task).status == Task.Status.SUBMITTED


# --- approve_task -----------------------------------------------------------------------------------------


def test_the_head_approves_issues_one_code_and_tells_the_enterprise(s):
    task = s.submitted()
    services.approve_task(s.head, task=task)
    task = fresh(task)
    assert task.status == Task.Status.NOTIFIED
    assert task.approved_at is not None
    assert task.notified_at is not None
    [part] = task.task_bodies.all()
    assert (part.approved_by, part.approved_at) == (s.head, task.approved_at)

    code = InspectionCode.objects.get(task=task)
    assert 0 < code.public_id < 2**48
    assert (code.valid_from, code.valid_until) == (task.window_start, task.window_end)
    assert code.enterprise == s.enterprise
    assert code.status == InspectionCode.Status.ACTIVE
    assert actions(code) == ["code.issued"]

    [notice] = Notification.objects.filter(enterprise=s.enterprise)
    assert notice.event == "task.notified"
    assert (notice.object_type, notice.object_id) == ("inspections.Task", str(task.pk))
    assert "金山区建设和管理委员会" in notice.subject
    assert task.number in notice.body
    assert f"张三（证号{s.inspector.certificate.number}）" in notice.body
    assert "燃气经营许可情况检查" in notice.body
    assert "陈述权、申辩权" in notice.body
    assert notice.payload["task_number"] == task.number
    assert notice.payload["window_start"] == task.window_start.isoformat()
    assert not Notification.objects.filter(enterprise=s.other_enterprise).exists()

    assert actions(task) == ["task.created", "task.submitted", "task.approved", "task.notified"]
    [approved] = events("task.approved", task)
    assert approved.actor == s.head
    assert approved.after["waiting_for_others"] is False


@pytest.mark.parametrize(
    "who", ["inspector_user", "other_head", "partner_head", "city_reviewer", "supervisor"]
)
def test_only_the_head_of_a_participating_body_approves(s, who):
    task = s.submitted()
    refused(PermissionDenied, lambda: services.approve_task(getattr(s, who), task=task))
    assert fresh(task).status == Task.Status.SUBMITTED


def test_a_draft_is_not_approved(s):
    task = s.draft()
    error = refused(InvalidTransition, lambda: services.approve_task(s.head, task=task))
    assert "当前状态为「草稿」，不能审批" in error.message


def test_an_approved_task_is_not_approved_again(s):
    task = s.notified()
    refused(InvalidTransition, lambda: services.approve_task(s.head, task=task), match="已告知企业")
    assert InspectionCode.objects.filter(task=task).count() == 1


def assert_not_approved(s, task: Task, *fragments: str, approver=None) -> DomainError:
    error = refused(DomainError, lambda: services.approve_task(approver or s.head, task=task))
    assert error.message.startswith("该任务不能批准：")
    for fragment in fragments:
        assert any(fragment in problem for problem in error.problems), (fragment, error.problems)
    task = fresh(task)
    assert task.status == Task.Status.SUBMITTED
    assert task.approved_at is None
    assert not InspectionCode.objects.filter(task=task).exists()
    assert not task.task_bodies.filter(approved_at__isnull=False).exists()
    assert not Notification.objects.filter(enterprise=task.enterprise).exists()
    return error


def test_an_expired_certificate_refuses_approval(s):
    task = s.submitted()
    certificate = s.inspector.certificate
    certificate.valid_until = today() - DAY
    certificate.save()
    day = certificate.valid_until
    assert_not_approved(
        s, task, f"执法人员张三的执法证{certificate.number}已于{day.year}年{day.month}月{day.day}日过期"
    )


def test_a_suspended_certificate_refuses_approval(s):
    task = s.submitted()
    certificate = s.inspector2.certificate
    certificate.status, certificate.status_reason = Certificate.Status.SUSPENDED, "涉嫌违纪"
    certificate.save()
    assert_not_approved(s, task, f"执法人员李四的执法证{certificate.number}已被暂停使用（涉嫌违纪）")


def test_a_body_not_authorised_for_the_item_is_refused(s):
    task = s.submitted()
    s.item.bodies.remove(s.body)
    assert_not_approved(s, task, "执法单位“金山区建设和管理委员会”无权检查事项“燃气经营许可情况检查”")


def test_fewer_than_two_inspectors_are_refused(s):
    task = s.submitted()
    task.inspectors.remove(s.inspector2)
    assert_not_approved(s, task, "现场检查的执法人员不得少于2人，当前只有1人")


def test_an_inspector_off_duty_is_refused(s):
    task = s.submitted()
    s.inspector2.is_active = False
    s.inspector2.save()
    assert_not_approved(s, task, "执法人员李四已不在岗")


def test_every_qualification_problem_is_listed(s):
    task = s.submitted()
    Certificate.objects.filter(pk=s.inspector.certificate.pk).update(valid_until=today() - DAY)
    Certificate.objects.filter(pk=s.inspector2.certificate.pk).update(status=Certificate.Status.REVOKED)
    error = assert_not_approved(s, task, "张三", "李四")
    assert len(error.problems) == 2


def test_a_task_whose_window_has_passed_is_not_approved(s):
    # Approving it would issue a code already expired and tell the enterprise of a visit in the past.
    task = s.submitted()
    Task.objects.filter(pk=task.pk).update(window_start=today() - 10 * DAY, window_end=today() - DAY)
    error = assert_not_approved(s, task)
    assert "检查日期" in error.message


def test_joint_inspection_is_notified_after_every_body_approved_with_one_shared_code(s):
    task = s.submitted(s.joint_draft())
    services.approve_task(s.head, task=task)
    task = fresh(task)
    assert task.status == Task.Status.SUBMITTED
    assert task.approved_at is None
    assert task.task_bodies.get(body=s.body).approved_by == s.head
    assert task.task_bodies.get(body=s.partner).approved_at is None
    assert not InspectionCode.objects.filter(task=task).exists()
    assert not Notification.objects.filter(enterprise=s.enterprise).exists()
    [first] = events("task.approved", task)
    assert first.after["waiting_for_others"] is True
    assert first.after["approved_body"] == "金山区建设和管理委员会"

    refused(DomainError, lambda: services.approve_task(s.head, task=task), match="金山区建设和管理委员会已于")

    services.approve_task(s.partner_head, task=task)
    task = fresh(task)
    assert task.status == Task.Status.NOTIFIED
    assert InspectionCode.objects.filter(task=task).count() == 1
    assert InspectionCode.objects.count() == 1
    [notice] = Notification.objects.filter(enterprise=s.enterprise)
    assert "金山区建设和管理委员会" in notice.subject and "金山区市场监督管理局" in notice.subject
    assert "联合检查，一次入企" in notice.body
    assert [b["name"] for b in notice.payload["bodies"]] == ["金山区建设和管理委员会", "金山区市场监督管理局"]


def test_a_partner_bodys_qualification_problem_holds_the_joint_approval(s):
    task = s.submitted(s.joint_draft())
    Certificate.objects.filter(pk=s.partner_inspector.certificate.pk).update(valid_until=today() - DAY)
    assert_not_approved(s, task, "执法人员王五的执法证", approver=s.partner_head)


@pytest.fixture
def quota_rule():
    calls = []

    def rule(task: Task) -> list[str]:
        calls.append(task.pk)
        return [f"企业{task.enterprise.name}本年度同类检查已达2次上限"]

    services.register_pre_approval_check(rule)
    services.register_pre_approval_check(rule)  # registering twice keeps one
    yield calls
    services.PRE_APPROVAL_CHECKS.remove(rule)
    assert rule not in services.PRE_APPROVAL_CHECKS


def test_a_registered_pre_approval_check_refuses_approval(s, quota_rule):
    task = s.submitted()
    error = assert_not_approved(s, task, "企业金山燃气有限公司本年度同类检查已达2次上限")
    assert error.problems == ["企业金山燃气有限公司本年度同类检查已达2次上限"]
    assert quota_rule == [task.pk]


def test_a_pre_approval_check_without_problems_lets_approval_through(s):
    def rule(task: Task) -> list[str]:
        return []

    services.register_pre_approval_check(rule)
    try:
        assert services.approve_task(s.head, task=s.submitted()).status == Task.Status.NOTIFIED
    finally:
        services.PRE_APPROVAL_CHECKS.remove(rule)


# --- start_emergency --------------------------------------------------------------------------------------


def test_only_an_emergency_task_starts_before_approval(s):
    task = s.submitted()
    refused(DomainError, lambda: services.start_emergency(s.inspector_user, task=task), match="不是紧急检查")
    assert fresh(task).status == Task.Status.SUBMITTED


def test_an_emergency_starts_at_once_with_a_code_and_approval_due_in_one_working_day(s):
    task = s.draft(is_emergency=True, window_start=today() - DAY, window_end=today() + DAY)
    services.start_emergency(s.inspector_user, task=task)
    task = fresh(task)
    assert task.status == Task.Status.IN_PROGRESS
    assert task.started_at is not None
    assert task.approval_due == add_working_days(today(), 1)
    assert task.approved_at is None
    code = task.code
    assert (code.valid_from, code.valid_until) == (task.window_start, task.window_end)
    [event] = events("task.emergency_started", task)
    assert event.after["approval_due"] == task.approval_due.isoformat()
    assert actions(code) == ["code.issued"]
    claims = signing.read_token(services.current_token(s.inspector_user, task=task))
    assert claims.code_id == code.public_id

    services.approve_task(s.head, task=task)
    task = fresh(task)
    assert task.status == Task.Status.IN_PROGRESS
    assert task.approved_at is not None
    assert not task.emergency_approval_overdue
    assert InspectionCode.objects.filter(task=task).count() == 1


def test_an_emergency_starts_only_once(s):
    task = services.start_emergency(s.inspector_user, task=s.draft(is_emergency=True))
    refused(
        InvalidTransition,
        lambda: services.start_emergency(s.inspector2_user, task=task),
        match="当前状态为「检查中」，不能作为紧急检查先行开始",
    )


def test_an_emergency_code_is_valid_from_today_when_the_window_starts_later(s):
    task = s.draft(is_emergency=True, window_start=today() + 2 * DAY, window_end=today() + 3 * DAY)
    services.start_emergency(s.head, task=task)
    assert fresh(task).code.valid_from == today()


@pytest.mark.parametrize("who", ["other_inspector_user", "other_head", "contact"])
def test_only_the_tasks_people_start_an_emergency(s, who):
    task = s.draft(is_emergency=True)
    refused(PermissionDenied, lambda: services.start_emergency(getattr(s, who), task=task))
    assert fresh(task).status == Task.Status.DRAFT


def test_an_emergency_approved_after_its_deadline_is_overdue(s):
    task = s.draft(is_emergency=True)
    services.start_emergency(s.inspector_user, task=task)
    Task.objects.filter(pk=task.pk).update(approval_due=today() - DAY)
    services.approve_task(s.head, task=task)
    assert fresh(task).emergency_approval_overdue


def test_emergency_approval_overdue_property(s):
    task = s.draft(is_emergency=True)
    assert not task.emergency_approval_overdue  # not started: no deadline yet
    due = today() - 2 * DAY
    task.approval_due = due
    assert task.emergency_approval_overdue  # deadline passed, still not approved
    task.approved_at = timezone.make_aware(datetime.datetime.combine(due, datetime.time(16)))
    assert not task.emergency_approval_overdue  # approved on the due day
    task.approved_at = timezone.now()
    assert task.emergency_approval_overdue  # approved after it
    task.approved_at, task.approval_due = None, today()
    assert not task.emergency_approval_overdue  # due today: not yet late
    task.approval_due, task.is_emergency = due, False
    assert not task.emergency_approval_overdue


def test_an_emergency_already_approved_and_notified_cannot_start_as_an_emergency(s):
    # It has its code already: starting it "as an emergency" must be refused, not crash on a second code.
    task = s.notified(is_emergency=True)
    error = refused(InvalidTransition, lambda: services.start_emergency(s.inspector_user, task=task))
    assert "已告知企业" in error.message
    assert fresh(task).status == Task.Status.NOTIFIED


def test_an_emergency_does_not_bypass_the_qualification_gate(s):
    # The gate runs "on approval and before a code is issued" (registry/qualification.py): an emergency start
    # issues a code, so an expired certificate must stop it too.
    task = s.draft(is_emergency=True)
    Certificate.objects.filter(pk=s.inspector.certificate.pk).update(valid_until=today() - DAY)
    error = refused(DomainError, lambda: services.start_emergency(s.inspector2_user, task=task))
    assert "执法人员张三的执法证" in error.message
    assert fresh(task).status == Task.Status.DRAFT


def test_the_enterprise_of_an_emergency_inspection_sees_it_and_may_answer_its_result(s):
    # An emergency task never passes through "notified"; its enterprise still has the rights to be told,
    # to state its case and to evaluate (RIGHTS_TEXT).
    task = s.draft(is_emergency=True)
    services.start_emergency(s.inspector_user, task=task)
    services.approve_task(s.head, task=task)
    services.record_result(
        s.inspector_user,
        task=task,
        outcome=Outcome.NO_PROBLEM,
        summary="未发现问题",
        findings=s.findings(task),
    )
    task = fresh(task)
    assert Task.objects.visible_to(s.contact).filter(pk=task.pk).exists()
    assert Notification.objects.filter(enterprise=s.enterprise).exists()
    services.file_statement(s.contact, task=task, text="对检查时间有异议")
    services.evaluate(s.contact, task=task, scores=scores(4))


# --- check_in ----------------------------------------------------------------------------------------------


def test_an_inspector_of_the_task_checks_in_once_notified(s):
    task = services.check_in(s.inspector2_user, task=s.notified())
    assert task.status == Task.Status.IN_PROGRESS
    assert fresh(task).started_at is not None
    [event] = events("task.started", task)
    assert (event.actor, event.after["how"]) == (s.inspector2_user, "执法人员签到")
    refused(InvalidTransition, lambda: services.check_in(s.inspector_user, task=task), match="检查中")


@pytest.mark.parametrize("who", ["head", "other_inspector_user", "contact"])
def test_only_an_inspector_on_the_task_checks_in(s, who):
    task = s.notified()
    refused(PermissionDenied, lambda: services.check_in(getattr(s, who), task=task))
    assert fresh(task).status == Task.Status.NOTIFIED


@pytest.mark.parametrize("state", ["draft", "submitted"])
def test_check_in_before_approval_is_refused(s, state):
    # No approval, no code, no notice: a check-in must not start such a visit.
    task = getattr(s, state)()
    refused(InvalidTransition, lambda: services.check_in(s.inspector_user, task=task))
    assert fresh(task).status == state


@pytest.mark.parametrize("when", ["before", "after"])
def test_check_in_outside_the_codes_window_is_refused(s, when):
    # The enterprise's scan refuses to start a visit on a code not yet valid or expired (scan_code's _judge);
    # the inspector's own check-in must not be the way around it.
    if when == "before":
        task = s.notified(window_start=today() + DAY)
    else:
        task = s.notified()
        past = {"window_start": today() - 3 * DAY, "window_end": today() - DAY}
        Task.objects.filter(pk=task.pk).update(**past)
        InspectionCode.objects.filter(task=task).update(
            valid_from=past["window_start"], valid_until=past["window_end"]
        )
    refused(DomainError, lambda: services.check_in(s.inspector_user, task=task), exact=False)
    assert fresh(task).status == Task.Status.NOTIFIED


# --- current_token ------------------------------------------------------------------------------------------


def test_the_inspector_gets_a_token_for_the_tasks_code_while_notified_and_in_progress(s):
    task = s.notified()
    claims = signing.read_token(services.current_token(s.inspector_user, task=fresh(task)))
    assert claims.code_id == fresh(task).code.public_id
    assert claims.not_after - claims.not_before == datetime.timedelta(seconds=300)
    services.check_in(s.inspector_user, task=task)
    claims = signing.read_token(services.current_token(s.inspector2_user, task=fresh(task)))
    assert claims.code_id == fresh(task).code.public_id


@pytest.mark.parametrize("who", ["head", "other_inspector_user", "contact", "supervisor"])
def test_only_an_inspector_on_the_task_gets_a_token(s, who):
    task = fresh(s.notified())
    with pytest.raises(PermissionDenied, match="只有本任务的执法人员"):
        services.current_token(getattr(s, who), task=task)


@pytest.mark.parametrize("state", ["draft", "submitted", "closed"])
def test_no_token_outside_the_visit(s, state):
    task = fresh(getattr(s, state)())
    with pytest.raises(PermissionDenied):
        services.current_token(s.inspector_user, task=task)


def test_after_the_result_the_code_is_shown_for_scan_again_until_the_period_ends(s, settings):
    """Seed 000: 结果录入后，法定代表人或现场负责人再次扫码查看结果并评价 — the inspector shows the code for that
    second scan, for SCAN_AGAIN_DAYS after the result, and not after."""
    task = fresh(s.recorded())
    assert (
        signing.read_token(services.current_token(s.inspector_user, task=task)).code_id == task.code.public_id
    )
    Task.objects.filter(pk=task.pk).update(
        result_recorded_at=timezone.now() - datetime.timedelta(days=settings.SCAN_AGAIN_DAYS, minutes=1)
    )
    with pytest.raises(PermissionDenied):
        services.current_token(s.inspector_user, task=fresh(task))


def test_no_token_for_a_cancelled_task(s):
    task = services.cancel_task(s.head, task=s.notified(), reason="企业已停业")
    with pytest.raises(PermissionDenied):
        services.current_token(s.inspector_user, task=fresh(task))


# --- scan_code and report_code ------------------------------------------------------------------------------


def token_of(task: Task, **kwargs) -> str:
    return signing.issue_token(fresh(task).code.public_id, **kwargs)


def flip(token: str, at: int = 40) -> str:
    return token[:at] + ("B" if token[at] == "A" else "A") + token[at + 1 :]


def test_a_genuine_scan_by_the_enterprise_starts_the_visit(s):
    task = s.notified()
    token = services.current_token(s.inspector_user, task=fresh(task))
    result = services.scan_code(token, user=s.contact, client_address="10.0.0.8")
    assert result.outcome == Scan.Outcome.GENUINE
    assert result.started_task
    assert result.code == fresh(task).code
    assert result.task.status == Task.Status.IN_PROGRESS
    assert fresh(task).status == Task.Status.IN_PROGRESS
    scan = result.scan
    assert (scan.code, scan.outcome, scan.enterprise) == (fresh(task).code, "genuine", s.enterprise)
    assert scan.client_hash == services.client_hash("10.0.0.8") != "10.0.0.8"
    [event] = events("task.started", task)
    assert (event.actor, event.after["how"]) == (s.contact, "企业扫码核验")

    again = services.scan_code(token, user=s.contact)
    assert again.outcome == Scan.Outcome.GENUINE
    assert not again.started_task
    assert len(events("task.started", task)) == 1


@pytest.mark.parametrize("who", [None, "inspector_user", "supervisor"])
def test_a_genuine_scan_by_anyone_else_only_verifies(s, who):
    task = s.notified()
    result = services.scan_code(token_of(task), user=getattr(s, who) if who else None)
    assert result.outcome == Scan.Outcome.GENUINE
    assert not result.started_task
    assert fresh(task).status == Task.Status.NOTIFIED
    assert result.scan.enterprise is None
    assert result.scan.code == fresh(task).code


def test_a_forged_token_is_logged_without_a_code(s):
    task = s.notified()
    result = services.scan_code(flip(token_of(task)), user=s.contact)
    assert result.outcome == Scan.Outcome.FORGED
    assert result.code is None and result.task is None
    assert (result.scan.code, result.scan.outcome, result.scan.enterprise) == (None, "forged", s.enterprise)
    assert fresh(task).status == Task.Status.NOTIFIED


def test_a_genuine_token_for_no_code_is_forged(s):
    result = services.scan_code(signing.issue_token(123456789))
    assert result.outcome == Scan.Outcome.FORGED
    assert result.scan.code is None


def test_rubbish_is_forged(s):
    assert services.scan_code("not-a-token").outcome == Scan.Outcome.FORGED


def test_a_screenshot_goes_stale(s):
    task = s.notified()
    token = token_of(task, now=timezone.now() - datetime.timedelta(minutes=10))
    result = services.scan_code(token, user=s.contact)
    assert result.outcome == Scan.Outcome.STALE
    assert not result.started_task
    assert result.scan.code == fresh(task).code
    assert fresh(task).status == Task.Status.NOTIFIED


def test_a_token_a_few_seconds_ahead_is_still_genuine(s):
    task = s.notified()
    token = token_of(task, now=timezone.now() + datetime.timedelta(seconds=30))
    assert services.scan_code(token).outcome == Scan.Outcome.GENUINE


def test_a_cancelled_tasks_code_is_revoked(s):
    task = s.notified()
    token = token_of(task)
    services.cancel_task(s.head, task=task, reason="企业已停业")
    result = services.scan_code(token, user=s.contact)
    assert result.outcome == Scan.Outcome.REVOKED
    assert not result.started_task
    assert fresh(task).status == Task.Status.CANCELLED


def test_another_enterprises_contact_scans_wrong_enterprise(s):
    task = s.notified()
    result = services.scan_code(token_of(task), user=s.other_contact)
    assert result.outcome == Scan.Outcome.WRONG_ENTERPRISE
    assert result.scan.enterprise == s.other_enterprise
    assert fresh(task).status == Task.Status.NOTIFIED


def test_a_completed_visit_scans_completed(s):
    task = s.recorded()
    assert services.scan_code(token_of(task), user=s.contact).outcome == Scan.Outcome.COMPLETED


def test_a_code_past_its_window_is_expired(s):
    task = s.notified()
    InspectionCode.objects.filter(task=task).update(valid_until=today() - DAY)
    result = services.scan_code(token_of(task), user=s.contact)
    assert result.outcome == Scan.Outcome.EXPIRED
    assert fresh(task).status == Task.Status.NOTIFIED


def test_a_code_before_its_window_is_not_yet_valid(s):
    task = s.notified(window_start=today() + DAY)
    result = services.scan_code(token_of(task), user=s.contact)
    assert result.outcome == Scan.Outcome.NOT_YET_VALID
    assert fresh(task).status == Task.Status.NOTIFIED


def test_a_genuine_scan_cannot_be_reported(s):
    scan = services.scan_code(token_of(s.notified())).scan
    with pytest.raises(DomainError, match="该检查码核验通过，无需举报"):
        services.report_code(scan=scan, contact_phone="13800000000")
    assert CodeReport.objects.count() == 0


def test_a_forged_code_is_reported(s):
    scan = services.scan_code(flip(token_of(s.notified()))).scan
    report = services.report_code(scan=scan, contact_phone=" 13800000000 ", description=" 码核验失败 ")
    assert (report.scan, report.contact_phone, report.description) == (scan, "13800000000", "码核验失败")
    [event] = events("code.reported", report)
    assert event.actor is None
    assert event.after["outcome"] == "forged"
    assert services.report_code(scan=scan).contact_phone == ""


@pytest.mark.parametrize("phone", ["12345", "1380000000a", "138000000001", "021-5555555"])
def test_a_report_needs_a_mobile_number_or_none(s, phone):
    scan = services.scan_code("rubbish").scan
    with pytest.raises(DomainError, match="联系电话请填写11位手机号码"):
        services.report_code(scan=scan, contact_phone=phone)
    assert CodeReport.objects.count() == 0


# --- record_result ------------------------------------------------------------------------------------------


def record(s, task: Task, actor=None, **overrides) -> InspectionRecord:
    args = {
        "task": task,
        "outcome": Outcome.NO_PROBLEM,
        "summary": "现场检查燃气经营许可证及经营范围",
        "findings": s.findings(task),
    }
    return services.record_result(actor or s.inspector_user, **{**args, **overrides})


def not_compliant(s, note: str = "") -> list[services.FindingInput]:
    return [
        services.FindingInput(s.item, "是否取得燃气经营许可证", Result.COMPLIANT),
        services.FindingInput(s.item, "是否按许可范围经营", Result.NOT_COMPLIANT, note),
    ]


def test_an_inspector_records_the_result_with_a_rectification_deadline(s):
    task = s.in_progress()
    result = record(
        s,
        task,
        actor=s.inspector2_user,
        outcome=Outcome.RECTIFY,
        findings=not_compliant(s, "超范围经营瓶装液化气"),
        rectify_working_days=10,
        improvement_advice=" 建立进货台账 ",
    )
    task = fresh(task)
    assert task.status == Task.Status.RESULT_RECORDED
    assert task.result_recorded_at is not None
    assert (result.recorded_by, result.improvement_advice) == (s.inspector2_user, "建立进货台账")
    assert (result.rectify_working_days, result.rectify_by) == (10, add_working_days(today(), 10))
    assert [(f.entry, f.result) for f in result.findings.all()] == [
        ("是否取得燃气经营许可证", "compliant"),
        ("是否按许可范围经营", "not_compliant"),
    ]
    [event] = events("task.result_recorded", task)
    assert event.after["outcome"] == "rectify"
    assert event.after["rectify_by"] == result.rectify_by.isoformat()
    assert event.after["findings"] == 2


def test_the_rectification_deadline_counts_working_days_over_national_day(s, monkeypatch):
    # 2025-09-30 is a Tuesday; 1–8 October are holidays and Saturday 11 October is a working day (seeded).
    assert CalendarDay.objects.filter(date=datetime.date(2025, 10, 11), kind="workday").exists()
    task = s.in_progress()
    real_localdate = timezone.localdate

    def localdate(value=None, timezone=None):
        return datetime.date(2025, 9, 30) if value is None else real_localdate(value, timezone)

    monkeypatch.setattr("django.utils.timezone.localdate", localdate)
    result = record(
        s, task, outcome=Outcome.RECTIFY, findings=not_compliant(s, "无台账"), rectify_working_days=3
    )
    assert result.rectify_by == datetime.date(2025, 10, 11)


def test_a_joint_tasks_partner_inspector_may_record(s):
    task = services.check_in(s.partner_inspector_user, task=s.notified(s.joint_draft()))
    result = record(s, task, actor=s.partner_inspector_user)
    assert result.findings.count() == 3


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"findings": []}, "以下检查事项尚无检查结果：燃气经营许可情况检查"),
        (
            {"findings": "not_compliant", "outcome": Outcome.CASE_OPENED},
            "「是否按许可范围经营」不符合，请写明具体问题",
        ),
        ({"findings": "not_compliant_noted"}, "有不符合项时，检查结论不能为「未发现问题」"),
        (
            {"findings": "not_compliant_noted", "outcome": Outcome.RECTIFY},
            "责令整改须写明整改期限（1至60个工作日）",
        ),
        (
            {"findings": "not_compliant_noted", "outcome": Outcome.RECTIFY, "rectify_working_days": 61},
            "责令整改须写明整改期限（1至60个工作日）",
        ),
        (
            {
                "findings": "not_compliant_noted",
                "outcome": Outcome.RECTIFY,
                "rectify_working_days": 5,
                "lenient": True,
            },
            "适用首违不罚或轻微免罚的，请写明理由和依据",
        ),
        ({"lenient": True, "lenient_note": "首次违法"}, "未发现问题时不适用首违不罚"),
        ({"summary": " "}, "请填写检查情况"),
        ({"outcome": "fine"}, "请选择检查结论"),
        ({"findings": "foreign_item"}, "「燃气器具产品质量检查」不是本任务的检查事项"),
    ],
)
def test_record_result_refuses_incomplete_or_contradictory_results(s, overrides, expected):
    task = s.in_progress()
    overrides = dict(overrides)
    findings = overrides.get("findings")
    if findings == "not_compliant":
        overrides["findings"] = not_compliant(s)
    elif findings == "not_compliant_noted":
        overrides["findings"] = not_compliant(s, "超范围经营")
    elif findings == "foreign_item":
        foreign = services.FindingInput(s.partner_item, "燃气器具是否有合格证明", Result.COMPLIANT)
        overrides["findings"] = [*s.findings(task), foreign]
    error = refused(DomainError, lambda: record(s, task, **overrides))
    assert expected in error.problems
    assert error.message.startswith("检查结果未保存：")
    assert fresh(task).status == Task.Status.IN_PROGRESS
    assert InspectionRecord.objects.count() == 0


@pytest.mark.parametrize("who", ["head", "other_inspector_user", "contact"])
def test_only_an_inspector_on_the_task_records(s, who):
    task = s.in_progress()
    refused(PermissionDenied, lambda: record(s, task, actor=getattr(s, who)))
    assert InspectionRecord.objects.count() == 0


@pytest.mark.parametrize("state", ["notified", "recorded"])
def test_a_result_is_recorded_only_during_the_visit(s, state):
    task = getattr(s, state)()
    refused(InvalidTransition, lambda: record(s, task), match="检查开始后方可录入结果")


def png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture
def media(settings, tmp_path) -> Path:
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def stored_files(root: Path) -> list[Path]:
    return [path for path in root.rglob("*") if path.is_file()]


def test_a_real_photo_is_stored_as_evidence(s, media):
    task = s.in_progress()
    content = png_bytes()
    photo = SimpleUploadedFile("现场照片.png", content, content_type="image/png")
    result = record(s, task, evidence=[services.EvidenceInput("photo", photo)])
    [evidence] = result.evidence.all()
    assert (evidence.kind, evidence.original_name, evidence.size) == ("photo", "现场照片.png", len(content))
    [stored] = stored_files(media)
    assert stored.read_bytes() == content
    assert Path(evidence.file.path) == stored
    assert events("task.result_recorded", task)[0].after["evidence"] == 1


@pytest.mark.parametrize(
    ("name", "kind", "content", "expected"),
    [
        ("伪装照片.png", "photo", b"MZ\x90\x00\x03\x00\x00\x00 not a picture", "的内容与扩展名不符"),
        ("tool.exe", "document", b"MZ\x90\x00\x03", "类型不支持"),
        ("无扩展名", "photo", b"\x89PNG\r\n\x1a\n", "类型不支持"),
        ("巨大照片.png", "photo", "oversize", "超过20MB"),
        ("现场照片.png", "document", "png", "是照片，与所选类型「文书」不符"),
    ],
)
def test_evidence_is_checked_by_its_content_not_its_name(s, media, name, kind, content, expected):
    task = s.in_progress()
    if content == "png":
        content = png_bytes()
    elif content == "oversize":  # a real PNG header, one byte past the limit
        content = png_bytes().ljust(services.EVIDENCE_MAX_BYTES + 1, b"\0")
    upload = SimpleUploadedFile(name, content)
    error = refused(DomainError, lambda: record(s, task, evidence=[services.EvidenceInput(kind, upload)]))
    assert any(name in problem and expected in problem for problem in error.problems), error.problems
    assert Evidence.objects.count() == 0
    assert stored_files(media) == []
    assert fresh(task).status == Task.Status.IN_PROGRESS


# --- close_task / cancel_task -------------------------------------------------------------------------------


def test_the_lead_bodys_head_closes_a_recorded_task(s):
    task = services.close_task(s.head, task=s.recorded())
    assert task.status == Task.Status.CLOSED
    assert fresh(task).closed_at is not None
    [event] = events("task.closed", task)
    assert event.actor == s.head


@pytest.mark.parametrize("state", ["draft", "notified", "in_progress"])
def test_only_a_recorded_task_is_closed(s, state):
    task = getattr(s, state)()
    refused(InvalidTransition, lambda: services.close_task(s.head, task=task), match="不能变为「已办结」")


def test_a_closed_task_is_not_closed_again(s):
    task = s.closed()
    refused(InvalidTransition, lambda: services.close_task(s.head, task=task))


@pytest.mark.parametrize("who", ["inspector_user", "partner_head", "other_head", "contact"])
def test_only_the_lead_bodys_head_closes(s, who):
    task = s.recorded(s.joint_draft())
    refused(
        PermissionDenied, lambda: services.close_task(getattr(s, who), task=task), match="牵头执法单位负责人"
    )
    assert fresh(task).status == Task.Status.RESULT_RECORDED


def test_cancelling_revokes_the_code(s):
    task = s.notified()
    services.cancel_task(s.head, task=task, reason=" 企业已停业 ")
    task = fresh(task)
    assert task.status == Task.Status.CANCELLED
    assert task.cancel_reason == "企业已停业"
    assert task.cancelled_at is not None
    code = task.code
    assert code.status == InspectionCode.Status.REVOKED
    assert code.revoked_at == task.cancelled_at
    assert code.revoke_reason == "任务取消：企业已停业"
    [revoked] = events("code.revoked", code)
    assert revoked.actor == s.head
    assert actions(code) == ["code.issued", "code.revoked"]
    [cancelled] = events("task.cancelled", task)
    assert cancelled.after["reason"] == "企业已停业"
    [notice] = Notification.objects.filter(enterprise=s.enterprise, event="task.cancelled")
    assert (notice.object_type, notice.object_id) == ("inspections.Task", str(task.pk))
    assert "企业已停业" in notice.body


@pytest.mark.parametrize("state", ["draft", "submitted", "in_progress", "recorded"])
def test_the_lead_bodys_head_cancels_before_closing(s, state):
    task = services.cancel_task(s.head, task=getattr(s, state)(), reason="计划调整")
    assert task.status == Task.Status.CANCELLED


def test_the_creator_cancels_a_draft_without_any_code_to_revoke(s):
    task = services.cancel_task(s.inspector_user, task=s.draft(), reason="重复创建")
    assert task.status == Task.Status.CANCELLED
    assert events("code.revoked") == []
    assert not Notification.objects.exists()  # the enterprise was never told of it


def test_the_creator_cannot_cancel_once_submitted_nor_another_inspector_a_draft(s):
    submitted = s.submitted()
    refused(PermissionDenied, lambda: services.cancel_task(s.inspector_user, task=submitted, reason="不查了"))
    draft = s.draft()
    refused(PermissionDenied, lambda: services.cancel_task(s.inspector2_user, task=draft, reason="不查了"))


@pytest.mark.parametrize("who", ["partner_head", "other_head", "contact", "supervisor"])
def test_only_the_lead_body_cancels_a_joint_task(s, who):
    task = s.notified(s.joint_draft())
    refused(PermissionDenied, lambda: services.cancel_task(getattr(s, who), task=task, reason="不查了"))
    assert fresh(task).code.status == InspectionCode.Status.ACTIVE


def test_cancelling_needs_a_reason(s):
    task = s.notified()
    refused(DomainError, lambda: services.cancel_task(s.head, task=task, reason=" "), match="请写明取消原因")
    assert fresh(task).status == Task.Status.NOTIFIED
    assert fresh(task).code.status == InspectionCode.Status.ACTIVE


def test_a_closed_or_cancelled_task_is_not_cancelled(s):
    closed = s.closed()
    refused(
        InvalidTransition,
        lambda: services.cancel_task(s.head, task=closed, reason="x"),
        match="「已办结」，不能取消",
    )
    cancelled = services.cancel_task(s.head, task=s.draft(), reason="x")
    refused(
        InvalidTransition,
        lambda: services.cancel_task(s.head, task=cancelled, reason="x"),
        match="「已取消」，不能取消",
    )


# --- evaluate / evaluation_summary ------------------------------------------------------------------------


def scores(value: int = 5, **overrides) -> dict[str, int]:
    names = ["overall"] + [name for name, _ in Evaluation.DIMENSIONS]
    return {**dict.fromkeys(names, value), **overrides}


def test_the_enterprise_evaluates_a_completed_inspection_once(s):
    task = s.recorded()
    evaluation = services.evaluate(s.contact, task=task, scores=scores(4, integrity=5), comment=" 很规范 ")
    assert (evaluation.overall, evaluation.integrity, evaluation.comment) == (4, 5, "很规范")
    assert evaluation.given_by == s.contact
    [event] = events("evaluation.given", evaluation)
    assert event.after["task"] == task.number
    refused(
        DomainError, lambda: services.evaluate(s.contact, task=task, scores=scores(1)), match="只能评议一次"
    )
    assert Evaluation.objects.get().overall == 4


def test_a_closed_inspection_may_still_be_evaluated(s):
    assert services.evaluate(s.contact, task=s.closed(), scores=scores()).overall == 5


@pytest.mark.parametrize("who", ["other_contact", "head", "inspector_user", "supervisor"])
def test_only_the_inspected_enterprise_evaluates(s, who):
    task = s.recorded()
    refused(PermissionDenied, lambda: services.evaluate(getattr(s, who), task=task, scores=scores()))


def test_no_evaluation_before_the_result(s):
    task = s.in_progress()
    refused(
        InvalidTransition,
        lambda: services.evaluate(s.contact, task=task, scores=scores()),
        match="检查结果录入后",
    )


@pytest.mark.parametrize(
    ("bad", "label"),
    [
        ({"overall": 0}, "总体评价"),
        ({"overall": 6}, "总体评价"),
        ({"conduct": "5"}, "文明执法"),
        ({"integrity": None}, "廉洁自律"),
    ],
)
def test_scores_are_whole_numbers_from_one_to_five(s, bad, label):
    task = s.recorded()
    error = refused(DomainError, lambda: services.evaluate(s.contact, task=task, scores=scores(**bad)))
    assert error.problems == [f"请为「{label}」选择1至5分"]


def test_a_missing_dimension_is_refused(s):
    task = s.recorded()
    partial = scores()
    del partial["efficiency"]
    error = refused(DomainError, lambda: services.evaluate(s.contact, task=task, scores=partial))
    assert error.problems == ["请为「检查效率」选择1至5分"]


def evaluated_tasks(s, overall_scores: list[int]) -> None:
    for overall in overall_scores:
        services.evaluate(s.contact, task=s.recorded(), scores=scores(4, overall=overall))


def test_a_body_sees_no_summary_of_fewer_than_five_evaluations(s):
    evaluated_tasks(s, [5, 4, 3, 5])
    assert services.evaluation_summary(s.head, body=s.body) is None


def test_a_body_sees_averages_of_five_evaluations(s):
    evaluated_tasks(s, [5, 4, 3, 5, 4])
    summary = services.evaluation_summary(s.head, body=s.body)
    assert summary["count"] == 5
    assert summary["overall"] == pytest.approx(4.2)
    assert summary["conduct"] == pytest.approx(4.0)
    assert services.evaluation_summary(s.inspector_user, body=s.body) == summary
    assert not summary["live"]  # the body's is the release (test_evaluation_release.py)
    live = services.evaluation_summary(s.supervisor, body=s.body)
    assert live["live"] and {k: live[k] for k in ("count", "overall", "conduct")} == {
        k: summary[k] for k in ("count", "overall", "conduct")
    }
    assert services.evaluation_summary(s.other_head, body=s.other_body) is None


@pytest.mark.parametrize("who", ["other_head", "partner_head", "contact", "mh_supervisor"])
def test_a_body_summary_is_refused_to_others(s, who):
    with pytest.raises(PermissionDenied, match="只能查看本单位"):
        services.evaluation_summary(getattr(s, who), body=s.body)


def test_a_summary_needs_a_login(s):
    from django.contrib.auth.models import AnonymousUser

    with pytest.raises(PermissionDenied, match="请先登录"):
        services.evaluation_summary(AnonymousUser(), body=s.body)


# --- file_statement / reply_statement ---------------------------------------------------------------------


def test_the_enterprise_files_a_statement_and_the_head_replies(s):
    task = s.recorded()
    statement = services.file_statement(s.contact, task=task, text=" 整改期限过短，请求延长 ")
    assert (statement.author, statement.text) == (s.contact, "整改期限过短，请求延长")
    [filed] = events("statement.filed", statement)
    assert filed.after["task"] == task.number
    statement = services.reply_statement(s.head, statement=statement, reply=" 经复核，维持原期限 ")
    assert (statement.reply, statement.replied_by) == ("经复核，维持原期限", s.head)
    assert statement.replied_at is not None
    [replied] = events("statement.replied", statement)
    assert replied.actor == s.head
    refused(
        DomainError,
        lambda: services.reply_statement(s.head, statement=statement, reply="再答"),
        match="已答复",
    )


def test_a_statement_may_be_filed_on_a_closed_task_too(s):
    assert services.file_statement(s.contact, task=s.closed(), text="有异议").pk


@pytest.mark.parametrize("state", ["draft", "notified", "in_progress"])
def test_no_statement_before_the_result(s, state):
    task = getattr(s, state)()
    exc = PermissionDenied if state == "draft" else InvalidTransition  # a draft is not even the enterprise's
    refused(exc, lambda: services.file_statement(s.contact, task=task, text="有异议"))


@pytest.mark.parametrize("who", ["other_contact", "inspector_user", "head"])
def test_only_the_inspected_enterprise_files_a_statement(s, who):
    task = s.recorded()
    refused(PermissionDenied, lambda: services.file_statement(getattr(s, who), task=task, text="有异议"))


def test_a_statement_needs_text(s):
    task = s.recorded()
    refused(
        DomainError,
        lambda: services.file_statement(s.contact, task=task, text="  "),
        match="请填写陈述申辩的内容",
    )
    assert Statement.objects.count() == 0


@pytest.mark.parametrize("who", ["inspector_user", "other_head", "contact"])
def test_only_a_participating_bodys_head_replies(s, who):
    statement = services.file_statement(s.contact, task=s.recorded(), text="有异议")
    refused(
        PermissionDenied, lambda: services.reply_statement(getattr(s, who), statement=statement, reply="答")
    )
    statement.refresh_from_db()
    assert statement.replied_at is None


def test_a_joint_partners_head_may_reply(s):
    statement = services.file_statement(s.contact, task=s.recorded(s.joint_draft()), text="有异议")
    assert (
        services.reply_statement(s.partner_head, statement=statement, reply="已复核").replied_by
        == s.partner_head
    )


def test_a_reply_needs_text(s):
    statement = services.file_statement(s.contact, task=s.recorded(), text="有异议")
    refused(
        DomainError,
        lambda: services.reply_statement(s.head, statement=statement, reply=" "),
        match="请填写答复内容",
    )


# --- The audit trail of a whole visit ----------------------------------------------------------------------


def test_a_whole_visit_leaves_an_unbroken_chain_and_an_ordered_history(s):
    task = s.draft()
    services.submit_task(s.inspector_user, task=task)
    services.approve_task(s.head, task=task)
    assert services.scan_code(token_of(task), user=s.contact).started_task
    record(s, task, outcome=Outcome.RECTIFY, findings=not_compliant(s, "无台账"), rectify_working_days=5)
    task = services.close_task(s.head, task=task)
    services.evaluate(s.contact, task=task, scores=scores())
    statement = services.file_statement(s.contact, task=task, text="已整改")
    services.reply_statement(s.head, statement=statement, reply="收悉")

    checked, broken = audit.verify_chain()
    assert broken is None
    assert checked == AuditEvent.objects.count()
    history = list(audit.history(task))
    assert [event.action for event in history] == [
        "task.created",
        "task.submitted",
        "task.approved",
        "task.notified",
        "task.started",
        "task.result_recorded",
        "task.closed",
    ]
    assert [event.actor for event in history] == [
        s.inspector_user,
        s.inspector_user,
        s.head,
        s.head,
        s.contact,
        s.inspector_user,
        s.head,
    ]
    assert [event.after["status"] for event in history] == [
        "draft",
        "submitted",
        "approved",
        "notified",
        "in_progress",
        "result_recorded",
        "closed",
    ]


def test_a_returned_task_is_approved_again_by_every_body(s):
    task = s.submitted(s.joint_draft())
    services.approve_task(s.head, task=task)
    services.return_task(s.partner_head, task=task, comment="检查事项需调整")
    services.submit_task(s.inspector_user, task=task)
    task = services.approve_task(s.partner_head, task=task)
    assert task.status == Task.Status.SUBMITTED  # the lead body's earlier approval no longer counts
    task = services.approve_task(s.head, task=task)
    assert task.status == Task.Status.NOTIFIED


def test_a_certificate_lapsing_within_the_window_refuses_approval(s):
    certificate = s.inspector2.certificate
    certificate.valid_until = timezone.localdate() + 3 * DAY
    certificate.save()
    task = s.submitted(window_end=timezone.localdate() + 10 * DAY)
    with pytest.raises(DomainError, match="李四"):
        services.approve_task(s.head, task=task)


def test_a_planned_inspection_must_cite_a_filed_plan_of_its_body(s):
    from jianchama.plans.models import Plan
    from tests.factories import filed_plan

    cases = [
        (None, "须引用本单位已备案的检查计划"),
        (filed_plan(s.body, items=[s.item], status=Plan.Status.CITY_REVIEW), "尚未备案"),
        (filed_plan(s.other_body, items=[s.item]), "不是本单位的计划"),
        (filed_plan(s.body, items=[s.item], method=Task.Kind.SPECIAL), "与所选检查类型不符"),
        (filed_plan(s.body, items=[s.partner_item]), "不在检查计划"),
        (filed_plan(s.body, items=[s.item], end=timezone.localdate() + DAY), "超出检查计划"),
    ]
    for plan, message in cases:
        with pytest.raises(DomainError, match=message):
            s.draft(plan=plan)
    assert not Task.objects.exists()
    assert s.draft().plan.status == Plan.Status.FILED


def test_a_triggered_inspection_names_its_situation(s):
    from jianchama.inspections.models import TriggerSituation

    situation = TriggerSituation.objects.create(
        field=s.gas, code="gas-leak", name="燃气泄漏报警", evidence_required="监测报警记录"
    )
    elsewhere = TriggerSituation.objects.create(
        field=s.market, code="quality", name="产品质量投诉核实", evidence_required="投诉记录"
    )
    unplanned = {"kind": Task.Kind.TRIGGER, "reason": "监测平台报警", "evidence": "报警记录截图"}
    with pytest.raises(DomainError, match="须选择启动情形"):
        s.draft(**unplanned)
    with pytest.raises(DomainError, match="不属于所选检查事项的执法领域"):
        s.draft(trigger_situation=elsewhere, **unplanned)
    with pytest.raises(DomainError, match="只有触发式检查需要选择触发情形"):
        s.draft(trigger_situation=situation)
    assert s.draft(trigger_situation=situation, **unplanned).trigger_situation == situation
