# ruff: noqa: F811  (the `world` fixture is imported from the shared module)
"""Step three and accountability (F-32, F-33): the district government's decision and its measures; a
suspended or revoked certificate takes effect at once: the qualification gate refuses it, the inspector can no
longer be put on a task, and the unstarted tasks relying on it are flagged."""

from __future__ import annotations

import pytest
from django.utils import timezone

from jianchama.core.errors import DomainError, InvalidTransition, PermissionDenied
from jianchama.core.models import AuditEvent
from jianchama.inspections import services as inspections
from jianchama.inspections.models import Task
from jianchama.notifications.models import Notification
from jianchama.registry.models import Certificate
from jianchama.registry.qualification import Rule, check_qualification
from jianchama.registry.services import set_certificate_status
from jianchama.supervision import documents, steps
from jianchama.supervision.models import (
    AccountabilityMeasure,
    Decision,
    DocumentNumberCounter,
    Finding,
    Recommendation,
)
from tests.factories import CertificateFactory
from tests.supervision._steps_world import BASIS, DEMANDED, FACTS, escalated, world  # noqa: F401

Kind = AccountabilityMeasure.Kind


def decide(w, rec, *measures, actor=None, **overrides):
    args = {"facts": FACTS, "legal_basis": BASIS, "demanded": DEMANDED, **overrides}
    return steps.issue_decision(actor or w.government, recommendation=rec, measures=list(measures), **args)


def suspend(w):
    return steps.MeasureInput(kind=Kind.SUSPEND_CERTIFICATE, inspectors=[w.inspector], note="暂停三个月")


def test_the_district_government_issues_the_decision_and_it_suspends_the_certificate(world):
    w = world
    rec = escalated(w)
    decision = decide(
        w,
        rec,
        suspend(w),
        steps.MeasureInput(kind=Kind.NOTIFIED_CRITICISM, note="在全区范围内通报批评"),
        steps.MeasureInput(kind=Kind.INTERVIEW, note="约谈金山区建设和管理委员会主要负责人"),
    )
    today = timezone.localdate()
    assert decision.number == f"金府监决〔{today.year}〕1号"
    assert decision.issued_by == w.government and decision.requested_by == w.supervisor
    assert decision.deadline_working_days == 15
    rec.refresh_from_db()
    w.finding.refresh_from_db()
    assert rec.status == Recommendation.Status.DECIDED
    assert w.finding.status == Finding.Status.DECIDED
    certificate = Certificate.objects.get(inspector=w.inspector)
    assert certificate.status == Certificate.Status.SUSPENDED
    assert decision.number in certificate.status_reason
    [measure, criticism, interview] = decision.measures.order_by("pk")
    assert list(measure.certificates.all()) == [certificate]
    assert criticism.kind == Kind.NOTIFIED_CRITICISM and interview.note.startswith("约谈")
    event = AuditEvent.objects.get(action="certificate.suspend")
    assert event.actor_id == w.government.pk and event.after["decision"] == decision.number
    assert AuditEvent.objects.filter(action="supervision.measure_applied").count() == 3
    assert AuditEvent.objects.filter(action="supervision.decision_issued").count() == 1
    assert Notification.objects.filter(user=w.head, event="supervision.decision").exists()
    # The other inspector is untouched.
    assert Certificate.objects.get(inspector=w.inspector2).status == Certificate.Status.VALID


def test_the_qualification_gate_and_task_creation_refuse_the_suspended_inspector(world):
    w = world
    decision = decide(w, escalated(w), suspend(w))
    problems = check_qualification(
        bodies=[w.body], inspectors=[w.inspector, w.inspector2], items=[w.item], on=timezone.localdate()
    )
    assert [p.rule for p in problems] == [Rule.CERTIFICATE_SUSPENDED]
    assert "张三" in str(problems[0]) and decision.number in str(problems[0])
    with pytest.raises(DomainError) as refused:
        w.draft()
    assert "执法人员张三" in refused.value.message and decision.number in refused.value.message
    assert not Task.objects.filter(inspectors=w.inspector).exists()


def test_a_draft_made_before_cannot_be_submitted_and_unstarted_tasks_are_flagged(world):
    w = world
    draft = w.draft()
    submitted = w.submitted()
    notified = w.notified()
    started = w.in_progress()
    decision = decide(w, escalated(w), suspend(w))
    with pytest.raises(DomainError) as refused:
        inspections.submit_task(w.inspector_user, task=draft)
    assert "张三" in refused.value.message and decision.number in refused.value.message
    draft.refresh_from_db()
    assert draft.status == Task.Status.DRAFT
    for task in (submitted, notified):
        task.refresh_from_db()
        assert "张三" in task.qualification_alert and decision.number in task.qualification_alert
        assert task.qualification_alert_at is not None
        assert AuditEvent.objects.filter(
            action="task.qualification_alert", object_type="inspections.Task", object_id=str(task.pk)
        ).exists()
    started.refresh_from_db()
    draft.refresh_from_db()
    assert started.qualification_alert == "" and draft.qualification_alert == ""
    alerts = Notification.objects.filter(user=w.head, event="task.qualification_alert")
    assert alerts.count() == 2
    # The head cannot approve the flagged submitted task either.
    with pytest.raises(DomainError, match="已被暂停使用"):
        inspections.approve_task(w.head, task=submitted)


def test_revocation_and_another_valid_certificate(world):
    w = world
    spare = CertificateFactory(inspector=w.inspector2, number="310116009999")
    decide(w, escalated(w), steps.MeasureInput(kind=Kind.REVOKE_CERTIFICATE, inspectors=[w.inspector2]))
    assert {c.status for c in Certificate.objects.filter(inspector=w.inspector2)} == {
        Certificate.Status.REVOKED
    }
    spare.refresh_from_db()
    assert spare.status == Certificate.Status.REVOKED  # every certificate of the named inspector
    with pytest.raises(DomainError, match="已被收回"):
        w.draft()


def test_wrong_role_wrong_state_and_bad_measures_are_refused(world):
    w = world
    rec = escalated(w)
    for outsider in (w.supervisor, w.mh_government, w.head):
        with pytest.raises(PermissionDenied, match="金山区人民政府"):
            decide(w, rec, actor=outsider)
    outsider_inspector = w.partner_inspector
    with pytest.raises(DomainError) as refused:
        decide(
            w,
            rec,
            steps.MeasureInput(kind=Kind.SUSPEND_CERTIFICATE, inspectors=[]),
            steps.MeasureInput(kind=Kind.REVOKE_CERTIFICATE, inspectors=[outsider_inspector]),
            steps.MeasureInput(kind=Kind.INTERVIEW, note=""),
            steps.MeasureInput(kind="dismissal"),
            facts="",
            deadline_working_days=0,
        )
    problems = refused.value.problems
    assert "请填写问题事实" in problems and "整改期限须为1至60个工作日" in problems
    assert any("须指明涉及的执法人员" in p for p in problems)
    assert any("王五不属于" in p for p in problems)
    assert any("约谈主要负责人" in p for p in problems)
    assert any("dismissal" in p for p in problems)
    assert not Decision.objects.exists()
    rec.refresh_from_db()
    assert rec.status == Recommendation.Status.ESCALATED
    decide(w, rec)
    with pytest.raises(InvalidTransition, match="区司法局报请后"):
        decide(w, rec)


def test_a_failing_decision_pdf_leaves_the_certificate_valid_and_no_number_used(world, monkeypatch):
    w = world
    rec = escalated(w)

    def broken(context):
        raise OSError("字体缺失")

    monkeypatch.setattr(documents, "decision_pdf", broken)
    with pytest.raises(OSError):
        decide(w, rec, suspend(w))
    assert Certificate.objects.get(inspector=w.inspector).status == Certificate.Status.VALID
    assert not Decision.objects.exists() and not AccountabilityMeasure.objects.exists()
    assert not DocumentNumberCounter.objects.filter(kind="decision", last__gt=0).exists()
    assert not AuditEvent.objects.filter(action="certificate.suspend").exists()


def test_set_certificate_status_by_decision_is_for_its_issuer_only(world):
    w = world
    decision = decide(w, escalated(w))
    certificate = Certificate.objects.get(inspector=w.inspector2)
    for outsider in (w.supervisor, w.mh_government, w.head):
        with pytest.raises(PermissionDenied, match=decision.number):
            set_certificate_status(
                outsider, certificate=certificate, status="suspended", reason="x", by_decision=decision
            )
    with pytest.raises(DomainError, match="只能暂停使用或收回"):
        set_certificate_status(
            w.government, certificate=certificate, status="valid", reason="", by_decision=decision
        )
    other = Certificate.objects.get(inspector=w.partner_inspector)
    with pytest.raises(PermissionDenied):
        set_certificate_status(
            w.government, certificate=other, status="suspended", reason="x", by_decision=decision
        )
    # Without a decision, the district government may not touch certificates at all.
    with pytest.raises(PermissionDenied, match="平台管理员"):
        set_certificate_status(w.government, certificate=certificate, status="suspended", reason="x")


def test_a_measure_added_later_and_the_confirmed_rectification(world):
    w = world
    decision = decide(w, escalated(w))
    pdf_before = decision.document.read()
    with pytest.raises(PermissionDenied):
        steps.apply_measure(w.supervisor, decision=decision, kind=Kind.REFERRAL, note="移送区纪委监委")
    measure = steps.apply_measure(w.government, decision=decision, kind=Kind.REFERRAL, note="移送区纪委监委")
    assert measure.get_kind_display() == "移送纪检监察机关"
    with pytest.raises(DomainError, match="已登记"):
        steps.apply_measure(w.government, decision=decision, kind=Kind.REFERRAL, note="再次移送")
    steps.apply_measure(
        w.government, decision=decision, kind=Kind.SUSPEND_CERTIFICATE, inspectors=[w.inspector]
    )
    assert Certificate.objects.get(inspector=w.inspector).status == Certificate.Status.SUSPENDED
    decision.refresh_from_db()
    assert decision.document.read() == pdf_before  # the official text as issued never changes
    with pytest.raises(PermissionDenied):
        steps.confirm_decision_rectified(w.government, decision=decision, note="已整改")
    with pytest.raises(DomainError, match="整改确认情况"):
        steps.confirm_decision_rectified(w.supervisor, decision=decision, note="")
    decision = steps.confirm_decision_rectified(w.supervisor, decision=decision, note="复查已整改")
    assert decision.status == Decision.Status.RECTIFIED
    w.finding.refresh_from_db()
    assert w.finding.status == Finding.Status.RECTIFIED
    assert not steps.decision_deadlines(decision)[0].missed
    with pytest.raises(InvalidTransition):
        steps.confirm_decision_rectified(w.supervisor, decision=decision, note="再次确认")


def test_the_decision_deadline_is_reminded_and_flagged(world):
    w = world
    decision = decide(w, escalated(w), deadline_working_days=2)
    assert steps.decision_deadlines(decision)[0].days_left == 2
    assert steps.send_reminders() == 1
    assert Notification.objects.filter(user=w.head, event="supervision.deadline").count() == 1
    Decision.objects.filter(pk=decision.pk).update(deadline=timezone.localdate() - timezone.timedelta(days=3))
    assert steps.send_reminders() == 1
    decision.refresh_from_db()
    assert decision.deadline_missed_at is not None
    decision = steps.confirm_decision_rectified(w.supervisor, decision=decision, note="逾期整改完成")
    assert steps.decision_deadlines(decision)[0].text == "逾期办理"


def test_a_notified_visit_cannot_start_and_its_scan_page_says_the_certificate_is_suspended(world, client):
    from jianchama.inspections import signing

    w = world
    notified = w.notified()
    decide(w, escalated(w), suspend(w))
    with pytest.raises(DomainError) as refused:
        inspections.check_in(w.inspector_user, task=notified)
    assert "不能签到开始检查" in refused.value.message and "张三" in refused.value.message
    notified.refresh_from_db()
    assert notified.status == Task.Status.NOTIFIED and notified.started_at is None
    # The enterprise scanning the code sees it plainly and is told it may refuse.
    token = signing.issue_token(notified.code.public_id)
    page = client.get(f"/c/{token}").content.decode()
    assert "执法证件状态：暂停使用" in page and "该人员不得实施检查，企业有权拒绝" in page
    assert page.count("执法证件状态") == 1  # the colleague's certificate is valid


def test_the_decision_s_timeline_reads_in_words(world):
    from jianchama.core import audit

    w = world
    decision = decide(w, escalated(w), suspend(w))
    issued = audit.history(decision).get(action="supervision.decision_issued")
    shown = {c.label: c.after for c in audit.changes(issued)}
    assert shown["问责措施"] == "暂停使用执法证件"
    assert shown["执法单位"] == w.body.name and shown["状态"] == decision.get_status_display()
    assert shown["文号"] == decision.number and "年" in shown["制发日期"]


def test_the_new_task_form_marks_the_suspended_inspector_before_saving(world):
    from django.test import Client

    w = world
    decide(w, escalated(w), suspend(w))
    client = Client()
    client.force_login(w.head)
    page = client.get("/tasks/new/").content.decode()
    assert f"{w.inspector.name}（{w.body.name}）【执法证暂停使用，不能安排】" in page
    colleague = next(i for i in w.body.inspectors.all() if i != w.inspector)
    assert f"{colleague.name}（{w.body.name}）" in page and f"{colleague.name}（{w.body.name}）【" not in page
