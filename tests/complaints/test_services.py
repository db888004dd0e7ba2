"""The complaint ledger's services: what each does and what each refuses."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from jianchama.complaints import services
from jianchama.complaints.models import Complaint, ComplaintNumberCounter, ComplaintReminder
from jianchama.core import audit
from jianchama.core.errors import DomainError, InvalidTransition, PermissionDenied
from jianchama.core.models import AuditEvent
from jianchama.core.workdays import add_working_days
from jianchama.notifications.models import Notification
from jianchama.supervision.models import Finding
from tests.factories import BodyFactory

pytestmark = pytest.mark.django_db

C = Complaint.Status
SRC = Complaint.Source
CAT = Complaint.Category


def actions(obj) -> list[str]:
    return list(audit.history(obj).values_list("action", flat=True))


# --- Registration ------------------------------------------------------------------------------------


def test_intake_registers_with_a_yearly_sequential_number(s):
    first = s.hotline()
    second = s.hotline(title="第二件")
    year = timezone.localdate().year
    assert first.number == f"TS-{year}-000001" and second.number == f"TS-{year}-000002"
    assert first.status == C.REGISTERED and first.handle_by is None and first.registered_by == s.intake
    assert first.received_on == timezone.localdate()
    last_year = s.hotline(received_on=datetime.date(year - 1, 12, 30))
    assert last_year.number == f"TS-{year - 1}-000001"
    event = audit.history(first).get()
    assert event.action == "complaint.registered" and event.after["number"] == first.number
    assert event.actor == s.intake


def test_registration_refuses_bad_input_all_at_once_and_saves_nothing(s):
    with pytest.raises(DomainError) as refused:
        services.register_complaint(
            s.intake,
            source=SRC.PHONE,
            category="nonsense",
            title=" ",
            content="",
            complainant_phone="abc",
            received_on=timezone.localdate() + datetime.timedelta(days=1),
        )
    problems = refused.value.problems
    assert "请选择投诉类别" in problems and "请填写标题" in problems and "请填写投诉举报内容" in problems
    assert any("联系电话" in p for p in problems) and "受理日期不能晚于今天" in problems
    assert refused.value.message.startswith("投诉举报未登记：")
    assert not Complaint.objects.exists() and not ComplaintNumberCounter.objects.exists()
    assert not AuditEvent.objects.filter(action="complaint.registered").exists()


@pytest.mark.parametrize("who", ["inspector_user", "city_reviewer", "government"])
def test_roles_without_a_channel_may_not_register(s, who):
    with pytest.raises(PermissionDenied):
        s.hotline(getattr(s, who))
    assert not Complaint.objects.exists()


def test_each_role_registers_only_its_own_channels(s):
    with pytest.raises(PermissionDenied, match="法治观察员"):
        s.hotline(s.observer)
    with pytest.raises(PermissionDenied, match="执法单位投诉举报平台"):
        s.hotline(s.head)
    with pytest.raises(PermissionDenied, match="企业端"):
        s.hotline(s.contact, body=None)
    with pytest.raises(PermissionDenied, match="自动登记"):
        s.hotline(source=SRC.CODE_REPORT)
    with pytest.raises(PermissionDenied, match="系统只能"):
        s.hotline("系统")
    assert s.hotline(s.supervisor).source == SRC.HOTLINE_12345  # the bureau takes complaints too


def test_intake_may_name_only_bodies_of_its_region(s):
    with pytest.raises(DomainError, match="不属于您所在的区域"):
        s.hotline(body=s.other_body)
    assert s.hotline(s.mh_intake, body=s.other_body).body == s.other_body


def test_a_task_fills_in_its_enterprise_and_lead_body_and_must_agree_with_them(s):
    task = s.notified()
    complaint = s.hotline(body=None, task=task)
    assert complaint.enterprise == s.enterprise and complaint.body == s.body
    with pytest.raises(DomainError, match="检查对象不是「金山另一燃气公司」"):
        s.hotline(task=task, enterprise=s.other_enterprise)
    with pytest.raises(DomainError, match="未参加检查任务"):
        s.hotline(task=task, body=s.partner)
    with pytest.raises(DomainError, match="无权关联该检查任务"):
        s.hotline(s.mh_intake, body=None, task=task)


def test_intake_may_say_the_enterprise_concerned_is_the_complainant(s):
    complaint = s.hotline(enterprise=s.enterprise, complainant_enterprise=s.enterprise)
    assert complaint.complainant_enterprise == s.enterprise
    with pytest.raises(DomainError, match="投诉企业须为涉及的企业"):
        s.hotline(enterprise=s.enterprise, complainant_enterprise=s.other_enterprise)


def test_a_body_registers_from_its_own_platform_and_has_it_at_once(s):
    received = timezone.localdate() - datetime.timedelta(days=3)
    complaint = s.hotline(s.head, source=SRC.BODY_PLATFORM, body=None, received_on=received)
    assert complaint.body == s.body and complaint.status == C.ASSIGNED
    assert complaint.handle_by == add_working_days(received, 15) and complaint.assigned_by is None
    with pytest.raises(DomainError, match="本单位平台"):
        s.hotline(s.head, source=SRC.BODY_PLATFORM, body=s.partner)


def test_an_observer_files_observations_without_tasks(s):
    complaint = s.hotline(s.observer, source=SRC.OBSERVER, category=CAT.DISGUISED_INSPECTION)
    assert complaint.source == SRC.OBSERVER and complaint.registered_by == s.observer
    with pytest.raises(DomainError, match="不能关联检查任务"):
        s.hotline(s.observer, source=SRC.OBSERVER, task=s.notified())


def test_an_enterprise_complains_about_its_own_enterprise_and_tasks_only(s):
    task = s.notified()
    complaint = s.hotline(
        s.contact, source=SRC.PORTAL, body=None, task=task, complainant_name="", complainant_phone=""
    )
    assert complaint.enterprise == s.enterprise == complaint.complainant_enterprise
    assert complaint.body == s.body and complaint.task == task
    assert complaint.complainant_phone == s.contact.phone
    with pytest.raises(DomainError, match="只能就本企业"):
        s.hotline(s.contact, source=SRC.PORTAL, body=None, enterprise=s.other_enterprise)
    with pytest.raises(DomainError, match="本企业已收到告知的检查任务"):
        s.hotline(s.other_contact, source=SRC.PORTAL, body=None, task=task)
    draft = s.draft()  # not yet told to the enterprise
    with pytest.raises(DomainError, match="本企业已收到告知"):
        s.hotline(s.contact, source=SRC.PORTAL, body=None, task=draft)


# --- Assignment, handling, feedback ------------------------------------------------------------------


def test_complaints_nobody_at_intake_typed_in_are_announced_to_the_region_s_intake(s):
    def told(user):
        return list(
            Notification.objects.filter(user=user, event="complaint.received").values_list(
                "subject", flat=True
            )
        )

    typed = s.hotline()  # intake registered it itself: nobody needs telling
    assert told(s.intake) == [] and told(s.mh_intake) == []
    portal = s.hotline(s.contact, source=SRC.PORTAL, body=None)
    assert told(s.intake) == [f"新投诉举报待交办：{portal.number}"]
    assert told(s.mh_intake) == []  # another district's desk
    observed = s.hotline(s.observer, source=SRC.OBSERVER, body=None, category=CAT.DISGUISED_INSPECTION)
    assert sorted(told(s.intake)) == [f"新投诉举报待交办：{c.number}" for c in (portal, observed)]
    assert told(s.mh_intake) == []
    assert typed.number not in " ".join(told(s.intake))


def test_assignment_sets_the_deadline_and_tells_every_admin_of_the_body(s):
    complaint = s.assigned()
    assert complaint.status == C.ASSIGNED and complaint.assigned_by == s.intake
    assert complaint.handle_by == add_working_days(timezone.localdate(), 15)
    told = Notification.objects.filter(event="complaint.assigned")
    assert {n.user for n in told} == {s.head, s.head2}
    assert complaint.number in told.first().subject
    assert actions(complaint) == ["complaint.registered", "complaint.assigned"]


def test_assignment_refusals(s):
    complaint = s.hotline()
    with pytest.raises(PermissionDenied):
        services.assign_complaint(s.head, complaint=complaint, body=s.body)
    with pytest.raises(PermissionDenied):
        services.assign_complaint(s.mh_intake, complaint=complaint, body=s.other_body)
    with pytest.raises(PermissionDenied, match="不属于您所在的区域"):
        services.assign_complaint(s.intake, complaint=complaint, body=s.other_body)
    closed_body = BodyFactory(region=s.jinshan, is_active=False, name="已撤销的单位")
    with pytest.raises(DomainError, match="已停用"):
        services.assign_complaint(s.intake, complaint=complaint, body=closed_body)
    services.assign_complaint(s.intake, complaint=complaint, body=s.body)
    with pytest.raises(DomainError, match="已交办给"):
        services.assign_complaint(s.intake, complaint=complaint, body=s.body)
    about_task = s.hotline(task=s.notified(), body=None)
    with pytest.raises(DomainError, match="未参加所涉检查任务"):
        services.assign_complaint(s.intake, complaint=about_task, body=s.partner)
    complaint.refresh_from_db()
    assert complaint.body == s.body and Notification.objects.filter(event="complaint.assigned").count() == 2


def test_reassignment_to_another_body_restarts_the_deadline(s):
    complaint = s.assigned()
    Complaint.objects.filter(pk=complaint.pk).update(handle_by=timezone.localdate())
    complaint = services.assign_complaint(s.intake, complaint=complaint, body=s.partner)
    assert complaint.body == s.partner and complaint.handle_by == add_working_days(timezone.localdate(), 15)
    assert actions(complaint)[-1] == "complaint.reassigned"
    assert Notification.objects.filter(event="complaint.assigned", user=s.partner_head).exists()


def test_the_assigned_body_records_the_result(s):
    complaint = s.assigned()
    with pytest.raises(PermissionDenied):
        services.record_handling(s.partner_head, complaint=complaint, result="x")
    with pytest.raises(PermissionDenied):
        services.record_handling(s.intake, complaint=complaint, result="x")
    with pytest.raises(DomainError, match="请填写办理结果"):
        services.record_handling(s.head, complaint=complaint, result="  ")
    complaint = services.record_handling(s.head, complaint=complaint, result="已整改")
    assert complaint.status == C.HANDLED and complaint.handled_by == s.head and complaint.handled_at
    assert complaint.feedback_by == add_working_days(timezone.localdate(), 5)
    # The intake staff who registered it is told to give feedback.
    assert Notification.objects.filter(event="complaint.handled", user=s.intake).exists()
    with pytest.raises(InvalidTransition, match="当前状态为「已办理」"):
        services.record_handling(s.head, complaint=complaint, result="再次")
    event = audit.history(complaint).last()
    assert event.action == "complaint.handled" and event.actor == s.head
    assert event.before["status"] == "assigned" and event.after["status"] == "handled"
    assert event.after["result"] == "已整改" and event.after["late"] is False


def test_unassigned_complaints_cannot_be_handled(s):
    complaint = s.hotline()
    with pytest.raises(PermissionDenied):
        services.record_handling(s.head, complaint=complaint, result="x")  # the body does not have it yet


def test_feedback_closes_and_tells_an_enterprise_complainant(s):
    complaint = s.hotline(s.contact, source=SRC.PORTAL, body=s.body)
    complaint = s.handled(complaint)
    with pytest.raises(PermissionDenied):
        services.give_feedback(s.contact, complaint=complaint, feedback="x")
    with pytest.raises(PermissionDenied):
        services.give_feedback(s.mh_intake, complaint=complaint, feedback="x")
    with pytest.raises(DomainError, match="请填写向投诉人反馈的内容"):
        services.give_feedback(s.intake, complaint=complaint, feedback="")
    complaint = services.give_feedback(s.intake, complaint=complaint, feedback="已约谈检查人员")
    assert complaint.status == C.CLOSED and complaint.feedback_given_by == s.intake
    told = Notification.objects.get(event="complaint.feedback")
    assert told.enterprise == s.enterprise and "已约谈检查人员" in told.body
    assert actions(complaint)[-1] == "complaint.feedback"
    with pytest.raises(InvalidTransition, match="已反馈办结"):
        services.give_feedback(s.intake, complaint=complaint, feedback="again")


def test_the_body_may_give_feedback_and_a_third_partys_enterprise_is_not_told(s):
    complaint = s.handled(enterprise=s.enterprise)  # a citizen's complaint about an enterprise's inspection
    services.give_feedback(s.head, complaint=complaint, feedback="已办理")
    assert not Notification.objects.filter(event="complaint.feedback").exists()


def test_feedback_before_handling_is_refused(s):
    with pytest.raises(InvalidTransition, match="当前状态为「已交办」"):
        services.give_feedback(s.intake, complaint=s.assigned(), feedback="x")


def test_reject_with_a_reason(s):
    complaint = s.hotline(s.contact, source=SRC.PORTAL, body=None)
    with pytest.raises(DomainError, match="请填写不予受理的理由"):
        services.reject_complaint(s.intake, complaint=complaint, reason="")
    with pytest.raises(PermissionDenied):
        services.reject_complaint(s.head, complaint=complaint, reason="x")
    complaint = services.reject_complaint(s.intake, complaint=complaint, reason="不属于行政检查事项")
    assert complaint.status == C.REJECTED and complaint.rejected_at
    assert actions(complaint) == ["complaint.registered", "complaint.rejected"]
    assert (
        "不属于行政检查事项"
        in Notification.objects.get(event="complaint.rejected", enterprise=s.enterprise).body
    )
    with pytest.raises(InvalidTransition):
        services.assign_complaint(s.intake, complaint=complaint, body=s.body)
    with pytest.raises(InvalidTransition):
        services.reject_complaint(s.intake, complaint=s.handled(), reason="x")


def test_a_body_rejects_only_what_came_through_its_own_platform(s):
    assigned = s.assigned()
    with pytest.raises(PermissionDenied):
        services.reject_complaint(s.head, complaint=assigned, reason="x")
    own = s.hotline(s.head, source=SRC.BODY_PLATFORM)
    assert services.reject_complaint(s.head, complaint=own, reason="重复投诉").status == C.REJECTED


def test_an_observation_is_answered_in_the_observers_inbox(s):
    complaint = s.handled(s.hotline(s.observer, source=SRC.OBSERVER))
    services.give_feedback(s.intake, complaint=complaint, feedback="已核实")
    assert Notification.objects.get(event="complaint.feedback").user == s.observer


# --- A complaint becomes a finding ----------------------------------------------------------------------


def test_a_supervisor_turns_a_complaint_about_an_inspection_into_a_finding(s):
    task = s.notified()
    complaint = s.assigned(task=task, body=None)
    for refused in (s.intake, s.head, s.mh_supervisor):
        with pytest.raises(PermissionDenied):
            services.complaint_to_finding(refused, complaint=complaint)
    finding = services.complaint_to_finding(s.supervisor, complaint=complaint, severity="medium")
    assert finding.source == Finding.Source.COMPLAINT and finding.body == s.body and finding.task == task
    assert finding.evidence == [
        {"model": "complaints.Complaint", "pk": complaint.pk, "label": f"投诉举报 {complaint.number}"}
    ]
    assert finding.severity == "medium" and finding.title == "投诉举报：检查时间过长影响营业"
    complaint.refresh_from_db()
    assert complaint.finding == finding and actions(complaint)[-1] == "complaint.finding_created"
    with pytest.raises(InvalidTransition, match="已转为监督问题"):
        services.complaint_to_finding(s.supervisor, complaint=complaint)
    assert Finding.objects.count() == 1


def test_an_observation_becomes_an_observer_finding_and_a_bodiless_one_cannot(s):
    complaint = s.hotline(s.observer, source=SRC.OBSERVER)
    assert services.complaint_to_finding(s.supervisor, complaint=complaint).source == Finding.Source.OBSERVER
    with pytest.raises(DomainError, match="尚未确定涉及的执法单位"):
        services.complaint_to_finding(s.supervisor, complaint=s.hotline(body=None))
    rejected = services.reject_complaint(s.intake, complaint=s.hotline(), reason="重复")
    with pytest.raises(InvalidTransition, match="不予受理"):
        services.complaint_to_finding(s.supervisor, complaint=rejected)


# --- Timing, overdue, reminders ---------------------------------------------------------------------------


def test_settings_change_the_deadlines(s, settings):
    settings.COMPLAINT_HANDLE_WORKING_DAYS = 3
    settings.COMPLAINT_FEEDBACK_WORKING_DAYS = 1
    complaint = s.handled()
    today = timezone.localdate()
    assert complaint.handle_by == add_working_days(today, 3)
    assert complaint.feedback_by == add_working_days(today, 1)


def test_timing_shows_days_left_and_flags_missed_deadlines(s):
    today = timezone.localdate()
    complaint = s.assigned()
    assert services.timing(complaint, today).text == "办理剩余15个工作日"
    assert services.timing(complaint, complaint.handle_by).text == "办理今日到期"
    after = add_working_days(complaint.handle_by, 2)
    late = services.timing(complaint, after)
    assert late.overdue and late.days_left == -2 and late.text == "办理已逾期2个工作日"
    assert services.timing(s.hotline(), today).stage == "assign"


def test_overdue_filter_finds_pending_and_late_ones(s):
    today = timezone.localdate()
    on_time = s.assigned()
    overdue = s.assigned(title="逾期")
    Complaint.objects.filter(pk=overdue.pk).update(handle_by=today - datetime.timedelta(days=1))
    handled_late = s.handled(title="逾期办理")
    Complaint.objects.filter(pk=handled_late.pk).update(handle_by=today - datetime.timedelta(days=1))
    found = set(services.overdue_filter(Complaint.objects.all(), today))
    assert found == {overdue, handled_late} and on_time not in found
    handled_late.refresh_from_db()
    assert services.timing(handled_late, today).late


def test_reminders_go_once_before_and_once_after_the_handling_deadline(s):
    complaint = s.assigned()
    due = complaint.handle_by
    assert services.send_reminders(today=timezone.localdate()) == 0  # 15 working days ahead: too early
    two_before = next(
        d for d in (due - datetime.timedelta(days=n) for n in range(1, 10)) if add_working_days(d, 2) == due
    )
    s.head.phone = "13900000066"
    s.head.save(update_fields=["phone"])
    assert services.send_reminders(today=two_before) == 1
    assert services.send_reminders(today=two_before) == 0
    # By text message too, to the administrator with a phone on record.
    texted = Notification.objects.get(event="complaint.handle_due", user=s.head)
    assert [(d.channel, d.target) for d in texted.deliveries.all()] == [("sms", "13900000066")]
    assert not Notification.objects.get(event="complaint.handle_due", user=s.head2).deliveries.exists()
    assert services.send_reminders(today=due) == 0  # the same deadline: reminded already
    reminders = Notification.objects.filter(event="complaint.handle_due")
    assert {n.user for n in reminders} == {s.head, s.head2}
    after = due + datetime.timedelta(days=1)
    assert services.send_reminders(today=after) == 1
    assert services.send_reminders(today=after + datetime.timedelta(days=5)) == 0
    assert Notification.objects.filter(event="complaint.handle_missed").count() == 2
    assert list(ComplaintReminder.objects.values_list("kind", flat=True).order_by("pk")) == [
        "handle_due",
        "handle_missed",
    ]
    assert actions(complaint).count("complaint.reminded") == 2
    # A reassignment gives a new deadline, and the new deadline its own reminders.
    services.assign_complaint(s.intake, complaint=complaint, body=s.partner)
    complaint.refresh_from_db()
    assert services.send_reminders(today=complaint.handle_by) == 1
    assert Notification.objects.filter(event="complaint.handle_due", user=s.partner_head).exists()


def test_feedback_reminders_go_to_the_body_and_the_intake_staff(s):
    complaint = s.handled()
    assert services.send_reminders(today=complaint.feedback_by) == 1
    assert {n.user for n in Notification.objects.filter(event="complaint.feedback_due")} == {
        s.head,
        s.head2,
        s.intake,
    }
    services.give_feedback(s.intake, complaint=complaint, feedback="已反馈")
    assert services.send_reminders(today=complaint.feedback_by + datetime.timedelta(days=3)) == 0


def test_the_reminder_lead_time_is_a_setting(s, settings):
    settings.COMPLAINT_REMINDER_WORKING_DAYS = 0
    complaint = s.assigned()
    day_before = complaint.handle_by - datetime.timedelta(days=1)
    assert services.send_reminders(today=day_before) == 0
    assert services.send_reminders(today=complaint.handle_by) == 1


def test_no_admin_no_reminder_and_it_is_tried_again(s):
    complaint = s.assigned()
    type(s.head).objects.filter(pk__in=[s.head.pk, s.head2.pk]).update(is_active=False)
    assert services.send_reminders(today=complaint.handle_by) == 0
    assert not ComplaintReminder.objects.exists()
    type(s.head).objects.filter(pk=s.head.pk).update(is_active=True)
    assert services.send_reminders(today=complaint.handle_by) == 1


def test_the_job_runs_the_reminders(s):
    from jianchama.complaints.jobs import send_deadline_reminders

    complaint = s.assigned()
    Complaint.objects.filter(pk=complaint.pk).update(
        handle_by=timezone.localdate() - datetime.timedelta(days=1)
    )
    assert send_deadline_reminders() == 1
    assert send_deadline_reminders() == 0


@pytest.mark.django_db(transaction=True)
def test_intake_staff_registering_at_once_get_different_numbers(s):
    """PostgreSQL: the year's counter row is locked until the registration commits; the first registration of
    the year even races to create it."""
    import threading

    from django.db import connection, connections

    if connection.vendor != "postgresql":
        pytest.skip("SQLite runs one writing transaction at a time (IMMEDIATE); the race needs PostgreSQL")
    start = threading.Barrier(6)
    errors: list[Exception] = []

    def register(n: int) -> None:
        try:
            start.wait()
            s.hotline(title=f"同时登记{n}")
        except Exception as error:  # collected and asserted on below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=register, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    year = timezone.localdate().year
    assert sorted(Complaint.objects.values_list("number", flat=True)) == [
        f"TS-{year}-{n:06d}" for n in range(1, 7)
    ]
    assert audit.verify_chain()[1] is None
