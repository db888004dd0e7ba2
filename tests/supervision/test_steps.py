# ruff: noqa: F811  (the `world` fixture is imported from the shared module)
"""The three steps' services (F-32): warning, recommendation, rectification report, re-check, request for a
decision; their working-day deadlines, flags and the daily reminders. Seed 003 二（二）1 is the specification."""

from __future__ import annotations

import datetime
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from jianchama.core.errors import DomainError, InvalidTransition, PermissionDenied
from jianchama.core.models import AuditEvent
from jianchama.core.roles import Role
from jianchama.core.workdays import add_working_days, working_days_between
from jianchama.notifications.models import Notification
from jianchama.supervision import documents, steps
from jianchama.supervision.models import (
    DocumentNumberCounter,
    Finding,
    Recommendation,
    ReminderLog,
    SupervisionWarning,
)
from tests.factories import user_for
from tests.supervision._steps_world import (
    BASIS,
    DEMANDED,
    FACTS,
    backdate,
    new_finding,
    not_rectified,
    recommended,
    warned,
    world,  # noqa: F401
)

DAY = datetime.timedelta(days=1)


def actions(obj) -> list[str]:
    return list(
        AuditEvent.objects.filter(object_type=obj._meta.label, object_id=str(obj.pk))
        .order_by("sequence")
        .values_list("action", flat=True)
    )


def inbox(user) -> list[Notification]:
    return list(Notification.objects.filter(user=user).order_by("pk"))


def pdf_upload(name: str = "整改报告.pdf") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, b"%PDF-1.4\n%test report\n", content_type="application/pdf")


# --- Step one --------------------------------------------------------------------------------------------


def test_a_supervisor_warns_the_body_and_the_finding_follows(world):
    w = world
    warning = steps.warn_body(
        w.supervisor, finding=w.finding, channel="visit", content="走访提醒：入企检查须出示检查码"
    )
    w.finding.refresh_from_db()
    assert w.finding.status == Finding.Status.WARNED
    assert warning.outcome == SupervisionWarning.Outcome.PENDING
    assert warning.warned_on == timezone.localdate()
    assert actions(warning) == ["supervision.warning_issued"]
    assert "supervision.finding_status" in actions(w.finding)
    [note] = inbox(w.head)
    assert "预警提醒" in note.subject and "走访" in note.body


def test_warning_refuses_wrong_role_state_and_content(world):
    w = world
    for outsider in (w.mh_supervisor, w.head, w.government, w.inspector_user):
        with pytest.raises(PermissionDenied, match="金山区司法局执法监督人员"):
            steps.warn_body(outsider, finding=w.finding, channel="phone", content="x")
    with pytest.raises(DomainError) as refused:
        steps.warn_body(
            w.supervisor, finding=w.finding, channel="fax", content="  ", warned_on=timezone.localdate() + DAY
        )
    assert len(refused.value.problems) == 3
    assert "预警方式" in refused.value.message and "预警内容" in refused.value.message
    assert not SupervisionWarning.objects.exists()
    w.finding.refresh_from_db()
    assert w.finding.status == Finding.Status.OPEN
    warned(w)
    with pytest.raises(InvalidTransition, match="已预警"):
        warned(w)


def test_the_body_responds_and_the_bureau_establishes_the_outcome(world):
    w = world
    warning = warned(w)
    other_head = user_for(Role.BODY_ADMIN, body=w.partner)
    with pytest.raises(PermissionDenied):
        steps.record_warning_response(other_head, warning=warning, response="已知悉")
    with pytest.raises(DomainError, match="请填写执法单位的反馈"):
        steps.record_warning_response(w.head, warning=warning, response=" ")
    steps.record_warning_response(w.head, warning=warning, response="已组织整改，检查一律出示检查码")
    with pytest.raises(PermissionDenied):
        steps.record_warning_outcome(w.head, warning=warning, rectified=True, note="自称已整改")
    with pytest.raises(DomainError, match="核实情况"):
        steps.record_warning_outcome(w.supervisor, warning=warning, rectified=True, note="")
    steps.record_warning_outcome(
        w.supervisor, warning=warning, rectified=True, note="抽查5次检查均有扫码记录"
    )
    w.finding.refresh_from_db()
    assert w.finding.status == Finding.Status.RECTIFIED and w.finding.closed_at
    with pytest.raises(InvalidTransition, match="已整改"):
        steps.record_warning_outcome(w.supervisor, warning=warning, rectified=False, note="x")
    with pytest.raises(InvalidTransition):
        steps.record_warning_response(w.head, warning=warning, response="补充")
    assert actions(warning) == [
        "supervision.warning_issued",
        "supervision.warning_response",
        "supervision.warning_outcome",
    ]


def test_not_rectified_starts_five_working_days_for_the_recommendation(world):
    w = world
    warning = not_rectified(w)
    today = timezone.localdate()
    assert warning.recommendation_due == add_working_days(today, 5)
    [deadline] = steps.warning_deadlines(warning)
    assert deadline.responsible == "bureau" and deadline.days_left == 5
    assert deadline.text == "剩余5个工作日" and not deadline.missed


# --- Step two --------------------------------------------------------------------------------------------


def test_issuing_a_recommendation_numbers_it_and_sets_the_working_day_deadlines(world):
    w = world
    rec = recommended(w)
    today = timezone.localdate()
    assert rec.number == f"金司监建〔{today.year}〕1号"
    assert rec.status == Recommendation.Status.ISSUED
    assert rec.received_on == today == rec.issued_on
    assert rec.rectify_by == add_working_days(today, 15)
    assert working_days_between(today, rec.rectify_by) == 15
    assert rec.review_due == add_working_days(rec.rectify_by, 5)
    assert rec.document.name.endswith(".pdf") and rec.document.size > 1000
    w.finding.refresh_from_db()
    assert w.finding.status == Finding.Status.RECOMMENDED
    assert "supervision.recommendation_issued" in actions(rec)
    assert any(n.subject.endswith(rec.number) for n in inbox(w.head))
    issue, rectify, review = steps.recommendation_deadlines(rec)
    assert issue.text == "按期办理" and not issue.missed
    assert rectify.days_left == 15 and rectify.responsible == "body"
    assert review.responsible == "bureau"

    second = recommended(w, new_finding(w, "未出示执法证件"))
    assert second.number == f"金司监建〔{today.year}〕2号"


def test_numbers_are_per_district(world):
    w = world
    rec = recommended(w)
    from jianchama.supervision.services import create_finding

    mh = create_finding(w.mh_supervisor, source="other", body=w.other_body, title="闵行问题")
    warning = steps.warn_body(w.mh_supervisor, finding=mh, channel="meeting", content="座谈会提醒")
    steps.record_warning_outcome(w.mh_supervisor, warning=warning, rectified=False, note="未整改")
    mh_rec = steps.issue_recommendation(
        w.mh_supervisor, finding=mh, facts=FACTS, legal_basis=BASIS, demanded=DEMANDED
    )
    assert rec.number.startswith("金司监建") and mh_rec.number.startswith("闵司监建")
    assert mh_rec.number.endswith("〕1号")


def test_recommendation_refused_before_a_not_rectified_warning_or_without_content(world):
    w = world
    with pytest.raises(InvalidTransition, match="经预警提醒、核实未整改"):
        steps.issue_recommendation(
            w.supervisor, finding=w.finding, facts=FACTS, legal_basis=BASIS, demanded=DEMANDED
        )
    warned(w)
    with pytest.raises(InvalidTransition):
        steps.issue_recommendation(
            w.supervisor, finding=w.finding, facts=FACTS, legal_basis=BASIS, demanded=DEMANDED
        )
    warning = w.finding.warnings.get()
    steps.record_warning_outcome(w.supervisor, warning=warning, rectified=False, note="未整改")
    with pytest.raises(PermissionDenied):
        steps.issue_recommendation(
            w.mh_supervisor, finding=w.finding, facts=FACTS, legal_basis=BASIS, demanded=DEMANDED
        )
    with pytest.raises(DomainError) as refused:
        steps.issue_recommendation(w.supervisor, finding=w.finding, facts=" ", legal_basis="", demanded="")
    assert refused.value.problems == ["请填写问题事实", "请填写依据", "请填写整改要求"]
    assert not Recommendation.objects.exists()
    assert not DocumentNumberCounter.objects.filter(last__gt=0).exists()


def test_a_failing_pdf_leaves_no_number_used_and_nothing_saved(world, monkeypatch):
    w = world
    not_rectified(w)

    def broken(context):
        raise OSError("Pango 不可用")

    monkeypatch.setattr(documents, "recommendation_pdf", broken)
    with pytest.raises(OSError):
        steps.issue_recommendation(
            w.supervisor, finding=w.finding, facts=FACTS, legal_basis=BASIS, demanded=DEMANDED
        )
    assert not Recommendation.objects.exists()
    assert not DocumentNumberCounter.objects.filter(last__gt=0).exists()
    w.finding.refresh_from_db()
    assert w.finding.status == Finding.Status.WARNED
    assert not AuditEvent.objects.filter(action="supervision.recommendation_issued").exists()
    monkeypatch.undo()
    rec = steps.issue_recommendation(
        w.supervisor, finding=w.finding, facts=FACTS, legal_basis=BASIS, demanded=DEMANDED
    )
    assert rec.number.endswith("〕1号")


def test_a_late_recommendation_stays_flagged_as_the_bureaus_miss(world):
    w = world
    warning = not_rectified(w)
    past = timezone.localdate() - 20 * DAY
    backdate(warning, warned_on=past, outcome_on=past, recommendation_due=add_working_days(past, 5))
    [deadline] = steps.warning_deadlines(warning)
    assert deadline.missed and deadline.text.startswith("已逾期")
    rec = steps.issue_recommendation(
        w.supervisor, finding=w.finding, facts=FACTS, legal_basis=BASIS, demanded=DEMANDED
    )
    issue = steps.recommendation_deadlines(rec)[0]
    assert issue.missed and issue.text == "逾期办理" and issue.responsible_name == "金山区司法局"
    event = AuditEvent.objects.get(action="supervision.recommendation_issued")
    assert event.after["issued_late"] is True


def test_the_body_acknowledges_without_moving_the_deadline(world):
    w = world
    rec = recommended(w)
    with pytest.raises(PermissionDenied, match="管理员"):
        steps.acknowledge_recommendation(w.supervisor, recommendation=rec)
    with pytest.raises(PermissionDenied):
        steps.acknowledge_recommendation(w.inspector_user, recommendation=rec)
    rec = steps.acknowledge_recommendation(w.head, recommendation=rec)
    assert rec.acknowledged_by == w.head and rec.rectify_by == add_working_days(rec.issued_on, 15)
    with pytest.raises(InvalidTransition, match="已于"):
        steps.acknowledge_recommendation(w.head, recommendation=rec)


def test_the_body_reports_its_rectification_with_a_checked_file(world):
    w = world
    rec = recommended(w)
    with pytest.raises(DomainError) as refused:
        steps.submit_rectification_report(
            w.head, recommendation=rec, text="", file=SimpleUploadedFile("报告.exe", b"MZ...")
        )
    assert len(refused.value.problems) == 2 and "类型不支持" in refused.value.message
    with pytest.raises(DomainError, match="内容与扩展名不符"):
        steps.submit_rectification_report(
            w.head, recommendation=rec, text="已整改", file=SimpleUploadedFile("报告.pdf", b"not a pdf")
        )
    big = SimpleUploadedFile("大.pdf", b"%PDF-" + b"0" * (steps.REPORT_MAX_BYTES + 1))
    with pytest.raises(DomainError, match="超过20MB"):
        steps.submit_rectification_report(w.head, recommendation=rec, text="已整改", file=big)
    with pytest.raises(PermissionDenied):
        steps.submit_rectification_report(w.supervisor, recommendation=rec, text="代报")
    rec.refresh_from_db()
    assert rec.status == Recommendation.Status.ISSUED and not rec.report_file
    rec = steps.submit_rectification_report(
        w.head, recommendation=rec, text="已对全体执法人员培训，检查一律使用检查码", file=pdf_upload()
    )
    assert rec.status == Recommendation.Status.REPORTED
    assert rec.report_file.read().startswith(b"%PDF-")
    assert rec.acknowledged_at is not None  # reporting is receipt
    assert any("整改报告" in n.subject for n in inbox(w.supervisor))
    assert not any(n.subject for n in inbox(w.mh_supervisor))
    rectify = steps.recommendation_deadlines(rec)[1]
    assert rectify.text == "按期办理"
    with pytest.raises(InvalidTransition):
        steps.submit_rectification_report(w.head, recommendation=rec, text="再报一次")


def test_a_late_report_is_accepted_and_stays_flagged(world):
    w = world
    rec = recommended(w)
    backdate(rec, rectify_by=timezone.localdate() - 3 * DAY)
    rec = steps.submit_rectification_report(w.head, recommendation=rec, text="逾期整改完毕")
    assert rec.rectify_missed_at is not None
    rectify = steps.recommendation_deadlines(rec)[1]
    assert rectify.missed and rectify.text == "逾期办理" and rectify.responsible_name == w.body.name


def test_the_review_waits_for_the_report_or_the_deadline(world):
    w = world
    rec = recommended(w)
    with pytest.raises(InvalidTransition, match="尚未届满"):
        steps.review_recommendation(w.supervisor, recommendation=rec, rectified=False, note="未整改")
    steps.submit_rectification_report(w.head, recommendation=rec, text="已整改")
    with pytest.raises(PermissionDenied):
        steps.review_recommendation(w.head, recommendation=rec, rectified=True, note="自查已整改")
    with pytest.raises(DomainError, match="复查情况"):
        steps.review_recommendation(w.supervisor, recommendation=rec, rectified=True, note="")
    rec = steps.review_recommendation(w.supervisor, recommendation=rec, rectified=True, note="现场复查已整改")
    assert rec.status == Recommendation.Status.RECTIFIED
    w.finding.refresh_from_db()
    assert w.finding.status == Finding.Status.RECTIFIED
    with pytest.raises(InvalidTransition, match="复查已整改"):
        steps.request_decision(w.supervisor, recommendation=rec, note="报请")
    assert actions(rec) == [
        "supervision.recommendation_issued",
        "supervision.rectification_reported",
        "supervision.recommendation_reviewed",
    ]


def test_no_report_by_the_deadline_then_not_rectified_then_the_request(world):
    w = world
    rec = recommended(w)
    past = timezone.localdate() - 30 * DAY
    backdate(
        rec,
        issued_on=past,
        received_on=past,
        rectify_by=add_working_days(past, 15),
        review_due=add_working_days(add_working_days(past, 15), 5),
    )
    rec = steps.review_recommendation(
        w.supervisor, recommendation=rec, rectified=False, note="未报送，现场仍未整改"
    )
    assert rec.status == Recommendation.Status.NOT_RECTIFIED
    assert rec.rectify_missed_at is not None
    deadlines = steps.recommendation_deadlines(rec)
    assert deadlines[1].missed  # the body's
    assert deadlines[2].missed == (timezone.localdate() > rec.review_due)  # the bureau's own, if late
    with pytest.raises(DomainError, match="报请说明"):
        steps.request_decision(w.supervisor, recommendation=rec, note="")
    with pytest.raises(PermissionDenied):
        steps.request_decision(w.government, recommendation=rec, note="x")
    government_inbox_before = len(inbox(w.government))
    rec = steps.request_decision(w.supervisor, recommendation=rec, note="建议约谈主要负责人")
    assert rec.status == Recommendation.Status.ESCALATED and rec.decision_requested_at
    assert len(inbox(w.government)) == government_inbox_before + 1
    assert not inbox(w.mh_government)


# --- Reminders -------------------------------------------------------------------------------------------


def test_reminders_before_each_deadline_and_once_when_missed(world, settings):
    w = world
    settings.SUPERVISION_REMINDER_WORKING_DAYS = 2
    today = timezone.localdate()
    rec = recommended(w)
    assert steps.send_reminders() == 0  # 15 working days left: nothing yet
    backdate(rec, rectify_by=add_working_days(today, 1))
    w.head.phone = "13900000055"
    w.head.save(update_fields=["phone"])
    assert steps.send_reminders() == 1
    [reminder] = [n for n in inbox(w.head) if n.event == "supervision.deadline"]
    assert "整改并报送整改报告" in reminder.subject and "还剩1个工作日" in reminder.subject
    # Also by text message to whoever has a phone on record.
    assert [(d.channel, d.target) for d in reminder.deliveries.all()] == [("sms", "13900000055")]
    assert steps.send_reminders() == 0  # never twice
    backdate(rec, rectify_by=today - 5 * DAY, review_due=add_working_days(today, 2))
    sent = steps.send_reminders()
    # The body's missed deadline, and the bureau's review within 2 working days.
    assert sent == 2
    rec.refresh_from_db()
    assert rec.rectify_missed_at is not None
    missed = [n for n in inbox(w.head) if n.subject.startswith("已逾期")]
    assert len(missed) == 1 and w.body.name in missed[0].body
    assert any("跟踪复查" in n.subject for n in inbox(w.supervisor))
    assert not inbox(w.mh_supervisor)
    assert steps.send_reminders() == 0
    assert ReminderLog.objects.count() == 3
    assert AuditEvent.objects.filter(action="supervision.deadline_missed").count() == 1
    # The late report later does not clear the flag.
    rec = steps.submit_rectification_report(w.head, recommendation=rec, text="已整改")
    assert steps.recommendation_deadlines(rec)[1].missed


def test_the_bureaus_own_missed_deadline_is_reminded_to_its_supervisors(world):
    w = world
    warning = not_rectified(w)
    past = timezone.localdate() - 15 * DAY
    backdate(warning, outcome_on=past, recommendation_due=add_working_days(past, 5))
    assert steps.send_reminders() == 1
    warning.refresh_from_db()
    assert warning.recommendation_missed_at is not None
    [note] = [n for n in inbox(w.supervisor) if n.event == "supervision.deadline"]
    assert "制发监督建议书" in note.subject and "金山区司法局" in note.body
    assert not [n for n in inbox(w.head) if n.event == "supervision.deadline"]
    assert steps.send_reminders() == 0


def test_the_reminder_setting_is_read(world, settings):
    w = world
    rec = recommended(w)
    backdate(rec, rectify_by=add_working_days(timezone.localdate(), 4))
    settings.SUPERVISION_REMINDER_WORKING_DAYS = 3
    assert steps.send_reminders() == 0
    settings.SUPERVISION_REMINDER_WORKING_DAYS = 4
    assert steps.send_reminders() == 1


def test_the_job_calls_the_reminders(world):
    from jianchama.supervision.jobs import send_deadline_reminders

    w = world
    rec = recommended(w)
    backdate(rec, rectify_by=timezone.localdate() - DAY)
    assert send_deadline_reminders() == 1
    assert send_deadline_reminders() == 0


def test_the_panel_shows_what_each_role_may_do(world):
    w = world
    panel = steps.finding_panel(w.supervisor, w.finding)["steps"]
    assert panel["may"]["warn"] and not panel["may"]["recommend"]
    not_rectified(w)
    w.finding.refresh_from_db()
    panel = steps.finding_panel(w.supervisor, w.finding)["steps"]
    assert panel["may"]["recommend"] and panel["pending_issue"].days_left == 5
    head_panel = steps.finding_panel(w.head, w.finding)["steps"]
    assert not head_panel["may"]["recommend"] and not head_panel["may"]["warn"]


def test_the_command_sends_the_reminders_once(world):
    from django.core.management import call_command

    w = world
    rec = recommended(w)
    backdate(rec, rectify_by=timezone.localdate() - DAY)
    out = io.StringIO()
    call_command("send_steps_reminders", stdout=out)
    assert "已发送 1 条" in out.getvalue()
    out = io.StringIO()
    call_command("send_steps_reminders", stdout=out)
    assert "已发送 0 条" in out.getvalue()


def test_a_deadline_into_a_year_without_a_holiday_schedule_says_so(world):
    from jianchama.core.models import CalendarYear

    w = world
    rec = recommended(w)
    rectify = steps.recommendation_deadlines(rec)[1]
    CalendarYear.objects.filter(year=rec.rectify_by.year).delete()
    assert f"{rec.rectify_by.year}年的法定节假日安排尚未载入" in rectify.calendar_warning
