"""Frequency control (F-21): the rules evaluated for each scope and period, their filters and exemptions,
refuse vs justify vs warn, the messages naming earlier inspections, submission and approval, joining another
body's visit, remote checking, and the rules' validation."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from jianchama.core.errors import DomainError, InvalidTransition, PermissionDenied
from jianchama.core.models import AuditEvent
from jianchama.core.roles import Role
from jianchama.inspections import frequency, services
from jianchama.inspections.models import (
    Exemption,
    FrequencyRule,
    InspectionCode,
    InspectionRecord,
    Task,
    TaskBody,
)
from jianchama.registry.models import EnforcementBody
from tests.factories import EnterpriseFactory, user_for
from tests.inspections.conftest import inspector_with_account

pytestmark = pytest.mark.django_db

DAY = datetime.timedelta(days=1)
Scope, Period, Action = FrequencyRule.Scope, FrequencyRule.Period, FrequencyRule.Action
Outcome = InspectionRecord.Outcome


def today() -> datetime.date:
    return timezone.localdate()


def mid_year() -> datetime.date:
    """A day whose rolling month lies inside this year, to check windows away from the year's ends."""
    return datetime.date(today().year, 6, 15)


def fresh(task: Task) -> Task:
    return Task.objects.get(pk=task.pk)


def rule(name: str = "", **fields) -> FrequencyRule:
    values = {
        "scope": Scope.PER_BODY,
        "period": Period.YEAR,
        "limit": 2,
        "action": Action.REFUSE,
        "exemptions": [],
    } | fields
    return FrequencyRule.objects.create(name=name or f"规则{FrequencyRule.objects.count() + 1}", **values)


@pytest.fixture
def w(s):
    """The scenario with a second inspector at the partner body, so it can run tasks of its own."""
    s.partner_inspector2 = inspector_with_account(s.partner, "钱七")
    return s


def partner_task(s, **overrides) -> Task:
    args = {
        "actor": s.partner_inspector_user,
        "items": [s.partner_item],
        "inspectors": [s.partner_inspector, s.partner_inspector2],
        "legal_basis": "《产品质量法》",
    }
    return s.draft(**(args | overrides))


def inspection(
    s,
    day: datetime.date,
    *,
    partner: bool = False,
    status: str = Task.Status.APPROVED,
    outcome: str | None = None,
    started: datetime.datetime | None = None,
    **overrides,
) -> Task:
    """An earlier inspection of the enterprise on `day`, put there directly (its workflow is tested elsewhere,
    and the rules under test would otherwise stand in its way)."""
    task = partner_task(s, **overrides) if partner else s.draft(**overrides)
    Task.objects.filter(pk=task.pk).update(
        status=status, window_start=day, window_end=day, started_at=started
    )
    if outcome:
        InspectionRecord.objects.create(
            task=task, outcome=outcome, summary="检查情况", recorded_by=s.inspector_user
        )
    return fresh(task)


def numbers(breach) -> list[str]:
    return [earlier.number for earlier in breach.earlier]


# --- What counts, and the query ----------------------------------------------------------------------------


def test_without_rules_nothing_is_found_in_one_query(s):
    task = s.draft()
    with CaptureQueriesContext(connection) as queries:
        check = frequency.check_frequency(task)
    assert check.ok and check.breaches == [] and check.rules_checked == 0
    assert len(queries) == 1


def test_the_check_is_two_queries_whatever_the_rules_and_writes_nothing(w):
    s = w
    for offset in range(4):
        inspection(s, today() - offset * DAY)
        inspection(s, today() - offset * DAY, partner=True, outcome=Outcome.NO_PROBLEM)
    rule(limit=1)
    rule(scope=Scope.ALL_BODIES, period=Period.DAY, limit=1, action=Action.WARN)
    rule(scope=Scope.ALL_BODIES, period=Period.WEEK, limit=2, action=Action.WARN)
    rule(scope=Scope.ALL_BODIES, period=Period.MONTH, limit=3, action=Action.WARN)
    rule(scope=Scope.NO_FINDING, limit=3, action=Action.JUSTIFY, field=s.market)
    rule(scope=Scope.ALL_BODIES, limit=5, action=Action.JUSTIFY, risk_grade="B")
    task = fresh(s.joint_draft())
    events = AuditEvent.objects.count()
    with CaptureQueriesContext(connection) as queries:
        check = frequency.check_frequency(task)
    assert len(queries) == 2, [q["sql"] for q in queries]
    assert check.rules_checked == 6
    assert {"规则1", "规则2", "规则3", "规则4"} <= {b.rule_name for b in check.breaches}
    assert AuditEvent.objects.count() == events and fresh(task).frequency_findings == []
    # The second query reads the enterprise's tasks by (enterprise, window_start), the index on Task.
    sql = queries[1]["sql"]
    assert '"inspections_task"."enterprise_id" = ' in sql and '"inspections_task"."window_start" >= ' in sql


def test_drafts_and_cancelled_tasks_are_not_inspections_submitted_ones_are(s):
    rule(limit=1)
    inspection(s, today(), status=Task.Status.DRAFT)
    inspection(s, today(), status=Task.Status.CANCELLED)
    assert frequency.check_frequency(s.draft()).ok
    submitted = inspection(s, today(), status=Task.Status.SUBMITTED)
    [breach] = frequency.check_frequency(s.draft()).breaches
    assert numbers(breach) == [submitted.number]


def test_an_inspection_is_dated_by_its_start_else_its_window(s):
    day = mid_year()
    rule(scope=Scope.ALL_BODIES, period=Period.DAY, limit=1, action=Action.WARN)
    started = timezone.make_aware(datetime.datetime.combine(day, datetime.time(23, 30)))
    late = inspection(s, day - 20 * DAY, status=Task.Status.IN_PROGRESS, started=started)
    inspection(s, day - 1 * DAY)  # the day before: not the same day
    [breach] = frequency.check_frequency(s.draft(), on=day, today=day).breaches
    assert numbers(breach) == [late.number]  # started at 23:30 Shanghai time on the day: counted on it


# --- Per body per year ------------------------------------------------------------------------------------


def test_per_body_cap_names_the_body_and_its_earlier_inspections(w):
    s = w
    day = mid_year()
    cap = rule("同一执法单位对同一企业每年至多2次", limit=2)
    first = inspection(s, day.replace(month=3, day=2))
    task = s.draft()
    assert frequency.check_frequency(task, on=day, today=day).ok  # one earlier: within the cap
    second = inspection(s, day.replace(month=9, day=5))  # later in the year, already planned: counted too
    inspection(s, day - 5 * DAY, partner=True)  # another body's: not this body's cap
    inspection(s, datetime.date(day.year - 1, 12, 30))  # last year's
    inspection(s, day, enterprise=s.other_enterprise)  # another enterprise's
    check = frequency.check_frequency(task, on=day, today=day)
    [breach] = check.breaches
    assert (breach.rule_id, breach.action, breach.count, breach.limit) == (cap.pk, "refuse", 2, 2)
    assert breach.body == "金山区建设和管理委员会"
    assert numbers(breach) == [first.number, second.number]
    assert breach.window == (datetime.date(day.year, 1, 1), datetime.date(day.year, 12, 31))
    assert breach.message == (
        f"违反规则「同一执法单位对同一企业每年至多2次」：金山区建设和管理委员会今年已于3月2日（{first.number}）、"
        f"9月5日（{second.number}）检查或安排检查该企业，共2次，本次检查将超出上限（2次）"
    )
    assert check.refusals == [breach] and not check.needs_justification and not check.warnings


def test_past_inspections_read_checked_and_other_years_are_named(s):
    day = mid_year()
    rule("每年至多1次", limit=1)
    earlier = inspection(s, day - 10 * DAY)
    [breach] = frequency.check_frequency(s.draft(), on=day, today=day.replace(year=day.year + 1)).breaches
    assert f"{day.year}年已于{day.year}年6月5日（{earlier.number}）检查过该企业" in breach.message


def test_per_body_cap_of_a_joint_task_applies_to_each_body(w):
    s = w
    rule(limit=1)
    earlier = inspection(s, today(), partner=True)
    [breach] = frequency.check_frequency(s.joint_draft()).breaches
    assert breach.body == "金山区市场监督管理局" and numbers(breach) == [earlier.number]
    inspection(s, today())
    check = frequency.check_frequency(s.joint_draft())
    assert [b.body for b in check.breaches] == ["金山区市场监督管理局", "金山区建设和管理委员会"]


def test_a_joint_inspection_counts_for_each_body_taking_part(w):
    s = w
    rule(limit=1)
    joint = inspection(s, today(), items=[s.item, s.partner_item], joint_bodies=[s.partner])
    [breach] = frequency.check_frequency(partner_task(s)).breaches
    assert breach.body == "金山区市场监督管理局" and numbers(breach) == [joint.number]


# --- All bodies, rolling windows -----------------------------------------------------------------------


def test_more_than_one_a_day_across_bodies_is_a_warning_naming_the_bodies(w):
    s = w
    day = mid_year()
    rule(
        "各部门合计每日超过1次的提示", scope=Scope.ALL_BODIES, period=Period.DAY, limit=1, action=Action.WARN
    )
    task = s.draft()
    inspection(s, day - DAY, partner=True)
    inspection(s, day + DAY)
    assert frequency.check_frequency(task, on=day, today=day).ok
    same_day = inspection(s, day, partner=True)
    [breach] = frequency.check_frequency(task, on=day, today=day).breaches
    assert breach.action == "warn" and breach.window == (day, day)
    assert breach.message == (
        f"违反规则「各部门合计每日超过1次的提示」：各执法单位6月15日当天已检查过该企业："
        f"{same_day.number}（金山区市场监督管理局），共1次，本次检查将超出上限（1次）"
    )


def test_rolling_week_finds_the_fullest_seven_days_around_the_inspection(w):
    s = w
    day = mid_year()
    rule("每周超过2次", scope=Scope.ALL_BODIES, period=Period.WEEK, limit=2, action=Action.WARN)
    task = s.draft()
    before = inspection(s, day - 6 * DAY, partner=True)
    inspection(s, day + 3 * DAY)
    inspection(s, day - 7 * DAY)  # outside every window that holds the day
    # Six days before and three after are never in one week with the day: one in each window.
    assert frequency.check_frequency(task, on=day, today=day).ok
    between = inspection(s, day - 2 * DAY, partner=True)
    [breach] = frequency.check_frequency(task, on=day, today=day).breaches
    assert breach.window == (day - 6 * DAY, day)
    assert numbers(breach) == [before.number, between.number]
    assert "在6月9日至6月15日的7日内已于6月9日" in breach.message
    assert "、6月13日（" in breach.message and "金山区市场监督管理局" in breach.message


def test_rolling_month_counts_thirty_days(w):
    s = w
    day = mid_year()
    rule(scope=Scope.ALL_BODIES, period=Period.MONTH, limit=3, action=Action.WARN)
    task = s.draft()
    inspection(s, day - 29 * DAY)
    inspection(s, day - 10 * DAY, partner=True)
    inspection(s, day + 29 * DAY, partner=True)  # 58 days from the first: never with it in one month
    assert frequency.check_frequency(task, on=day, today=day).ok
    inspection(s, day - 1 * DAY)
    [breach] = frequency.check_frequency(task, on=day, today=day).breaches
    assert breach.count == 3 and breach.window == (day - 29 * DAY, day)


def test_rolling_windows_cross_the_new_year_but_the_year_cap_does_not(s):
    day = datetime.date(today().year, 1, 3)
    rule("每年至多1次", limit=1)
    rule("每周超过1次", scope=Scope.ALL_BODIES, period=Period.WEEK, limit=1, action=Action.WARN)
    last_year = inspection(s, datetime.date(day.year - 1, 12, 30))
    [breach] = frequency.check_frequency(s.draft(), on=day, today=day).breaches
    assert breach.rule_name == "每周超过1次" and numbers(breach) == [last_year.number]
    assert f"{day.year - 1}年12月30日" in breach.message


# --- No finding -----------------------------------------------------------------------------------------


def test_consecutive_inspections_finding_nothing_block_the_next(w):
    s = w
    day = mid_year()
    rule("连续3次未发现问题", scope=Scope.NO_FINDING, limit=3, action=Action.JUSTIFY)
    task = s.draft()
    inspection(s, day - 100 * DAY, outcome=Outcome.RECTIFY)
    clean = [
        inspection(s, day - 90 * DAY, outcome=Outcome.NO_PROBLEM),
        inspection(s, day - 60 * DAY, partner=True, outcome=Outcome.NO_PROBLEM),
    ]
    inspection(s, day - 40 * DAY, status=Task.Status.NOTIFIED)  # not recorded yet: neither way
    assert frequency.check_frequency(task, on=day, today=day).ok
    clean.append(inspection(s, day - 30 * DAY, outcome=Outcome.NO_PROBLEM))
    [breach] = frequency.check_frequency(task, on=day, today=day).breaches
    assert breach.action == "justify" and breach.count == 3
    assert numbers(breach) == [t.number for t in clean]
    assert breach.message.startswith(
        "违反规则「连续3次未发现问题」：该企业今年已连续3次检查未发现问题：3月17日（"
    )
    # A finding since then starts the count again.
    inspection(s, day - 10 * DAY, outcome=Outcome.CASE_OPENED)
    assert frequency.check_frequency(task, on=day, today=day).ok


def test_no_finding_counts_this_year_only(s):
    day = datetime.date(today().year, 2, 1)
    rule(scope=Scope.NO_FINDING, limit=2, action=Action.REFUSE)
    inspection(s, datetime.date(day.year - 1, 12, 1), outcome=Outcome.NO_PROBLEM)
    inspection(s, day - 10 * DAY, outcome=Outcome.NO_PROBLEM)
    assert frequency.check_frequency(s.draft(), on=day, today=day).ok


# --- Which rules apply: field, body level, risk grade ---------------------------------------------------


def test_field_filter_applies_to_tasks_of_the_field_and_counts_only_its_inspections(w):
    s = w
    rule(scope=Scope.ALL_BODIES, period=Period.DAY, limit=1, action=Action.WARN, field=s.market)
    inspection(s, today())  # gas: not counted by a market rule
    assert frequency.check_frequency(partner_task(s)).ok
    market = inspection(s, today(), partner=True)
    assert frequency.check_frequency(s.draft()).ok  # a gas task: the market rule does not apply
    [breach] = frequency.check_frequency(partner_task(s)).breaches
    assert numbers(breach) == [market.number]


def test_body_level_filter(w):
    s = w
    rule(limit=0, body_level=EnforcementBody.Level.CITY)
    assert frequency.check_frequency(s.draft()).ok  # a district body
    rule(limit=0, body_level=EnforcementBody.Level.DISTRICT)
    [breach] = frequency.check_frequency(s.draft()).breaches
    assert breach.count == 0 and "检查上限为0次，不得检查" in breach.message


def test_risk_grade_filter(s):
    rule(scope=Scope.ALL_BODIES, limit=1, risk_grade="A")
    inspection(s, today())
    task = s.draft()
    assert frequency.check_frequency(task).ok  # a grade B enterprise
    s.enterprise.risk_grade = "A"
    s.enterprise.save()
    assert len(frequency.check_frequency(task).breaches) == 1


def test_inactive_rules_do_not_apply(s):
    rule(limit=0, is_active=False)
    assert frequency.check_frequency(s.draft()).ok


# --- Exemptions -----------------------------------------------------------------------------------------


def test_an_exemption_the_rule_lists_waives_it_and_says_so(s):
    rule("每年至多1次", limit=1, exemptions=[Exemption.RECHECK, Exemption.LICENSING])
    inspection(s, today())
    task = s.draft()
    assert len(frequency.check_frequency(task).refusals) == 1
    assert len(frequency.check_frequency(task, exemption=Exemption.ENTERPRISE_REQUEST).refusals) == 1
    check = frequency.check_frequency(task, exemption=Exemption.RECHECK)
    assert check.ok and not check.refusals
    [waived] = check.exempted
    assert waived.exempted_by == "recheck" and waived.message.endswith("；因「整改复查」豁免")
    assert check.findings()[0]["exempted_by"] == "recheck"


def test_complaint_and_report_tasks_have_the_complaint_exemption(s):
    rule(limit=1, exemptions=[Exemption.COMPLAINT])
    inspection(s, today())
    unplanned = {"reason": "12345投诉", "evidence": "工单"}
    assert frequency.check_frequency(s.draft(kind=Task.Kind.COMPLAINT, **unplanned)).ok
    assert frequency.check_frequency(s.draft(kind=Task.Kind.REPORT, **unplanned)).ok
    assert not frequency.check_frequency(s.draft(kind=Task.Kind.MEDIA, **unplanned)).ok


# --- Submission ---------------------------------------------------------------------------------------------


def snapshot_of(task: Task) -> tuple:
    task = fresh(task)
    return (
        task.status,
        task.submitted_at,
        task.frequency_findings,
        task.frequency_justification,
        task.frequency_exemption,
        AuditEvent.objects.count(),
    )


def test_a_refuse_rule_refuses_submission_naming_the_rule_the_inspections_and_the_exemptions(s):
    rule("每年至多1次", limit=1, exemptions=[Exemption.RECHECK])
    earlier = inspection(s, today())
    task = s.draft()
    before = snapshot_of(task)
    with pytest.raises(DomainError) as refused:
        services.submit_task(s.inspector_user, task=task, justification="确有必要")
    message = refused.value.message
    assert message.startswith("该任务超出检查频次规则，不予提交：违反规则「每年至多1次」：")
    assert earlier.number in message and "（本规则的豁免情形：整改复查）" in message
    assert snapshot_of(task) == before  # nothing saved


def test_a_justify_rule_needs_a_justification_then_keeps_it_with_the_findings(w):
    s = w
    rule("每年至多1次须说明理由", limit=1, action=Action.JUSTIFY)
    rule("每日超过1次提示", scope=Scope.ALL_BODIES, period=Period.DAY, limit=1, action=Action.WARN)
    earlier = inspection(s, today())
    task = s.draft()
    before = snapshot_of(task)
    for empty in ("", "   "):
        with pytest.raises(DomainError, match="须填写超频次检查的理由") as refused:
            services.submit_task(s.inspector_user, task=task, justification=empty)
        assert earlier.number in refused.value.message
        assert refused.value.problems[-1] == "请填写超频次检查的理由"
        assert snapshot_of(task) == before
    task = services.submit_task(s.inspector_user, task=task, justification="  企业申请延期复查，须当面核实  ")
    task = fresh(task)
    assert task.status == Task.Status.SUBMITTED
    assert task.frequency_justification == "企业申请延期复查，须当面核实"
    assert [(f["name"], f["action"]) for f in task.frequency_findings] == [
        ("每年至多1次须说明理由", "justify"),
        ("每日超过1次提示", "warn"),
    ]
    assert task.frequency_findings[0]["earlier"][0]["number"] == earlier.number
    assert services.can_approve(s.head, task) and frequency.has_justified_findings(task)
    [event] = AuditEvent.objects.filter(action="task.submitted", object_id=str(task.pk))
    assert event.after["frequency_justification"] == "企业申请延期复查，须当面核实"
    assert [f["action"] for f in event.after["frequency_findings"]] == ["justify", "warn"]
    assert earlier.number in event.after["frequency_findings"][0]["message"]


def test_warnings_alone_do_not_stop_submission_and_are_kept(s):
    rule(scope=Scope.ALL_BODIES, period=Period.DAY, limit=1, action=Action.WARN)
    inspection(s, today())
    task = fresh(services.submit_task(s.inspector_user, task=s.draft()))
    assert task.status == Task.Status.SUBMITTED and task.frequency_justification == ""
    assert [f["action"] for f in task.frequency_findings] == ["warn"]
    assert not frequency.has_justified_findings(task)


def test_submission_with_an_exemption_records_it_and_what_it_waived(s):
    rule("每年至多1次", limit=1, exemptions=[Exemption.LICENSING])
    inspection(s, today())
    task = fresh(services.submit_task(s.inspector_user, task=s.draft(), exemption=Exemption.LICENSING))
    assert task.status == Task.Status.SUBMITTED and task.frequency_exemption == "licensing"
    [finding] = task.frequency_findings
    assert finding["exempted_by"] == "licensing" and not frequency.has_justified_findings(task)
    [event] = AuditEvent.objects.filter(action="task.submitted", object_id=str(task.pk))
    assert event.after["frequency_exemption"] == "licensing"


def test_an_unknown_exemption_is_refused(s):
    task = s.draft()
    with pytest.raises(DomainError, match="未知的豁免情形「holiday」"):
        services.submit_task(s.inspector_user, task=task, exemption="holiday")
    assert fresh(task).status == Task.Status.DRAFT


def test_a_clean_submission_stores_no_findings_and_adds_nothing_to_the_event(s):
    rule(limit=2)
    task = fresh(services.submit_task(s.inspector_user, task=s.draft()))
    assert task.frequency_findings == [] and task.status == Task.Status.SUBMITTED
    [event] = AuditEvent.objects.filter(action="task.submitted", object_id=str(task.pk))
    assert "frequency_findings" not in event.after


# --- Approval: the check again ----------------------------------------------------------------------------


def test_approval_refuses_when_a_refuse_rule_is_broken_since_submission(w):
    s = w
    task = s.submitted()
    rule("每日至多1次", scope=Scope.ALL_BODIES, period=Period.DAY, limit=1)
    meanwhile = inspection(s, today(), partner=True)
    with pytest.raises(DomainError, match="该任务不能批准") as refused:
        services.approve_task(s.head, task=task)
    assert meanwhile.number in refused.value.message
    task = fresh(task)
    assert task.status == Task.Status.SUBMITTED and not InspectionCode.objects.filter(task=task).exists()
    assert not task.task_bodies.filter(approved_at__isnull=False).exists()


def test_the_head_approves_a_justified_task_and_the_findings_are_brought_up_to_date(w):
    s = w
    rule("每年至多1次", limit=1, action=Action.JUSTIFY)
    inspection(s, today())
    task = services.submit_task(s.inspector_user, task=s.draft(), justification="复查整改情况")
    rule("每日超过1次提示", scope=Scope.ALL_BODIES, period=Period.DAY, limit=1, action=Action.WARN)
    task = fresh(services.approve_task(s.head, task=task))
    assert task.status == Task.Status.NOTIFIED and InspectionCode.objects.filter(task=task).count() == 1
    assert [f["action"] for f in task.frequency_findings] == ["justify", "warn"]
    [event] = AuditEvent.objects.filter(action="task.approved", object_id=str(task.pk))
    assert event.after["frequency_justification"] == "复查整改情况"


def test_approval_sends_back_a_task_that_now_needs_a_justification_it_lacks(w):
    s = w
    task = s.submitted()
    rule("每日至多1次须说明理由", scope=Scope.ALL_BODIES, period=Period.DAY, limit=1, action=Action.JUSTIFY)
    inspection(s, today(), partner=True)
    with pytest.raises(DomainError, match="请退回修改，由经办人填写超频次检查的理由后重新提交"):
        services.approve_task(s.head, task=task)
    assert fresh(task).status == Task.Status.SUBMITTED
    services.return_task(s.head, task=task, comment="请补充理由")
    services.submit_task(s.inspector_user, task=task, justification="事故隐患须再次核查")
    assert fresh(services.approve_task(s.head, task=task)).status == Task.Status.NOTIFIED


# --- Joining another body's visit ----------------------------------------------------------------------------


def test_join_candidates_are_other_bodies_tasks_overlapping_the_window(w):
    s = w
    task = s.draft()  # today .. today + 10
    draft = partner_task(s, window_start=today() + 2 * DAY, window_end=today() + 3 * DAY)
    approved = inspection(s, today() + 5 * DAY, partner=True)
    partner_task(s, window_start=today() + 11 * DAY, window_end=today() + 12 * DAY)  # after the window
    inspection(s, today() + 4 * DAY, partner=True, status=Task.Status.CANCELLED)
    inspection(s, today() + 4 * DAY, partner=True, status=Task.Status.IN_PROGRESS)  # under way already
    s.draft()  # the body's own other task
    partner_task(s, enterprise=s.other_enterprise)
    candidates = frequency.join_candidates(task)
    assert [(c.pk, c.joinable) for c in candidates] == [(draft.pk, True), (approved.pk, False)]


def test_join_task_merges_into_one_visit_with_one_code(w):
    s = w
    target = s.submitted()
    source = partner_task(s, window_start=today() + 2 * DAY, window_end=today() + 2 * DAY)
    joint = fresh(frequency.join_task(s.partner_inspector_user, task=source, into=target))
    assert joint.pk == target.pk
    assert joint.is_joint and joint.status == Task.Status.SUBMITTED
    assert {p.body for p in joint.task_bodies.all()} == {s.body, s.partner}
    partner_part = joint.task_bodies.get(body=s.partner)
    assert list(partner_part.items.all()) == [s.partner_item] and partner_part.approved_at is None
    assert set(joint.items.all()) == {s.item, s.partner_item}
    assert set(joint.inspectors.all()) == {
        s.inspector,
        s.inspector2,
        s.partner_inspector,
        s.partner_inspector2,
    }
    source = fresh(source)
    assert source.status == Task.Status.CANCELLED
    assert source.cancel_reason == f"已并入联合检查任务{target.number}"
    [joined] = AuditEvent.objects.filter(action="task.joined", object_id=str(target.pk))
    assert (
        joined.after["joined_from"] == source.number
        and joined.after["joined_bodies"] == "金山区市场监督管理局"
    )
    assert AuditEvent.objects.filter(action="task.cancelled", object_id=str(source.pk)).count() == 1
    # Both heads approve; one code for the one visit.
    services.approve_task(s.head, task=joint)
    joint = fresh(services.approve_task(s.partner_head, task=joint))
    assert joint.status == Task.Status.NOTIFIED
    assert InspectionCode.objects.filter(task__in=[joint, source]).count() == 1
    assert fresh(joint).code.enterprise == s.enterprise


@pytest.mark.parametrize(
    "case, expected",
    [
        ("approved", "已批准的任务不能再加入执法单位；请与金山区建设和管理委员会协商"),
        ("other_enterprise", "的检查对象不是金山燃气有限公司"),
        ("apart", "不重叠，不能合并为一次检查"),
        ("source_submitted_ok", None),
        ("source_notified", "只有草稿或待审批的任务可以并入联合检查"),
        ("same_body", "金山区市场监督管理局已参与任务"),
        ("itself", "不能把任务并入它自己"),
    ],
)
def test_join_task_refusals(w, case, expected):
    s = w
    source = partner_task(s)
    target = s.draft()
    if case == "approved":
        target = s.notified(target)
    elif case == "other_enterprise":
        target = s.draft(enterprise=s.other_enterprise)
    elif case == "apart":
        target = s.draft(window_start=today() + 20 * DAY, window_end=today() + 25 * DAY)
    elif case == "source_submitted_ok":
        source = services.submit_task(s.partner_inspector_user, task=source)
    elif case == "source_notified":
        Task.objects.filter(pk=source.pk).update(status=Task.Status.NOTIFIED)
    elif case == "same_body":
        target = s.joint_draft()
    elif case == "itself":
        target = source
    if expected is None:
        assert frequency.join_task(s.partner_inspector_user, task=source, into=target).pk == target.pk
        return
    parts, events = TaskBody.objects.count(), AuditEvent.objects.count()
    with pytest.raises(DomainError, match=expected):
        frequency.join_task(s.partner_inspector_user, task=source, into=target)
    assert (TaskBody.objects.count(), AuditEvent.objects.count()) == (parts, events)
    assert fresh(source).status != Task.Status.CANCELLED


def test_only_a_body_of_the_task_may_join_it_elsewhere_and_not_a_joint_one(w):
    s = w
    source, target = partner_task(s), s.draft()
    with pytest.raises(PermissionDenied):
        frequency.join_task(s.inspector_user, task=source, into=target)
    joint = s.joint_draft()
    other = s.draft(
        actor=s.other_inspector_user,
        enterprise=s.mh_enterprise,
        inspectors=[s.other_inspector, inspector_with_account(s.other_body, "孙八")],
    )
    with pytest.raises(DomainError, match="已是联合检查任务"):
        frequency.join_task(s.partner_inspector_user, task=joint, into=other)
    assert not frequency.can_join(s.inspector_user, source) and frequency.can_join(
        s.partner_inspector_user, source
    )


# --- Remote instead of on site -------------------------------------------------------------------------------


def test_set_mode_switches_a_draft_to_remote(s):
    task = s.draft()
    assert frequency.can_set_mode(s.inspector2_user, task)
    task = frequency.set_mode(s.inspector2_user, task=task, mode=Task.Mode.REMOTE)
    assert fresh(task).mode == Task.Mode.REMOTE
    [event] = AuditEvent.objects.filter(action="task.mode_changed", object_id=str(task.pk))
    assert (event.before["mode"], event.after["mode"]) == ("on_site", "remote")
    frequency.set_mode(s.inspector2_user, task=task, mode=Task.Mode.REMOTE)  # no change, no event
    assert AuditEvent.objects.filter(action="task.mode_changed").count() == 1


def test_set_mode_refusals(s):
    task = s.draft()
    with pytest.raises(DomainError, match="请选择检查方式"):
        frequency.set_mode(s.inspector_user, task=task, mode="video")
    with pytest.raises(PermissionDenied):
        frequency.set_mode(s.partner_inspector_user, task=task, mode=Task.Mode.REMOTE)
    with pytest.raises(InvalidTransition, match="只有草稿可以变更检查方式"):
        frequency.set_mode(s.inspector_user, task=s.submitted(task), mode=Task.Mode.REMOTE)
    assert fresh(task).mode == Task.Mode.ON_SITE


# --- The rules: validation and saving -----------------------------------------------------------------------


def unsaved(**fields) -> FrequencyRule:
    values = {
        "name": "新规则",
        "scope": Scope.ALL_BODIES,
        "period": Period.DAY,
        "limit": 1,
        "action": Action.WARN,
        "exemptions": [],
    } | fields
    return FrequencyRule(**values)


def test_a_sensible_set_of_rules_validates():
    for fields in [
        {"scope": Scope.PER_BODY, "period": Period.YEAR, "limit": 2, "action": Action.REFUSE},
        {"period": Period.DAY, "limit": 1},
        {"period": Period.WEEK, "limit": 2},
        {"period": Period.MONTH, "limit": 3},
        {"scope": Scope.NO_FINDING, "period": Period.YEAR, "limit": 3, "action": Action.JUSTIFY},
        {"period": Period.YEAR, "limit": 4, "action": Action.REFUSE, "exemptions": list(Exemption.values)},
    ]:
        candidate = unsaved(**fields)
        assert frequency.validate_rule(candidate) == []
        candidate.save()


def test_a_day_cap_above_the_week_cap_of_the_same_scope_and_filters_contradicts_it(s):
    rule("每周至多2次", scope=Scope.ALL_BODIES, period=Period.WEEK, limit=2, action=Action.WARN)
    assert frequency.validate_rule(unsaved(limit=3)) == [
        "与已启用的规则「每周至多2次」矛盾：每日上限（3次）高于每7日上限（2次）"
    ]
    assert frequency.validate_rule(unsaved(limit=3, field=s.gas)) == []  # other filters
    assert frequency.validate_rule(unsaved(limit=3, risk_grade="A")) == []
    assert frequency.validate_rule(unsaved(limit=3, is_active=False)) == []  # not in force
    assert frequency.validate_rule(unsaved(limit=3, action=Action.REFUSE)) == []  # stricter: it still acts
    # A week's cap of 2 above a month's cap of 1: the week's could never apply.
    assert frequency.validate_rule(unsaved(period=Period.MONTH, limit=1)) == [
        "与已启用的规则「每周至多2次」矛盾：每7日上限（2次）高于每30日上限（1次）"
    ]


def test_duplicates_and_actions_that_can_never_act_are_refused():
    rule("每日超过1次提示", scope=Scope.ALL_BODIES, period=Period.DAY, limit=1, action=Action.WARN)
    assert frequency.validate_rule(unsaved()) == [
        "与已启用的规则「每日超过1次提示」重复（范围、筛选条件、期间、上限和处理方式都相同）"
    ]
    [problem] = frequency.validate_rule(unsaved(limit=0, action=Action.REFUSE))
    assert "「不予提交」的上限（0次）低于「提示」的上限（1次），后者永远不会起作用" in problem
    assert frequency.validate_rule(unsaved(limit=3, action=Action.REFUSE)) == []


def test_bad_numbers_and_codes_get_clear_messages():
    assert frequency.validate_rule(unsaved(limit=0, action=Action.WARN)) == [
        "上限为0次表示一律不得检查，超出时只能选择「不予提交」；如只需提示或说明理由，请把上限设为1次以上"
    ]
    [problem] = frequency.validate_rule(unsaved(exemptions=["complaint", "holiday"]))
    assert problem.startswith("未知的豁免情形：holiday；可选的豁免情形为：投诉举报核查（complaint）")
    assert frequency.validate_rule(unsaved(exemptions="complaint")) == ["豁免情形应为豁免代码的列表"]
    assert frequency.validate_rule(unsaved(scope=Scope.NO_FINDING, period=Period.MONTH, limit=0)) == [
        "上限为0次表示一律不得检查，超出时只能选择「不予提交」；如只需提示或说明理由，请把上限设为1次以上",
        "「连续检查未发现问题」规则按自然年计算，期间请选择「自然年」",
        "「连续检查未发现问题」规则的次数至少为1次",
    ]
    assert frequency.validate_rule(unsaved(name=" ", limit=-1, scope="x", period="y", action="z")) == [
        "请填写规则名称",
        "请选择规则范围",
        "请选择期间（日、周、月或自然年）",
        "请选择超出上限时的处理方式",
        "请填写上限次数（0或正整数）",
    ]


def test_save_rule_is_for_the_platform_admin_validates_and_is_audited(s):
    admin = user_for(Role.PLATFORM_ADMIN)
    with pytest.raises(PermissionDenied):
        frequency.save_rule(s.head, rule=unsaved())
    with pytest.raises(DomainError, match="检查频次规则未保存：上限为0次"):
        frequency.save_rule(admin, rule=unsaved(limit=0))
    assert not FrequencyRule.objects.exists() and not AuditEvent.objects.filter(
        action__startswith="frequency"
    )
    saved = frequency.save_rule(
        admin, rule=unsaved(name=" 每日提示 ", exemptions=["recheck", "complaint", "recheck"])
    )
    assert saved.name == "每日提示" and saved.exemptions == ["complaint", "recheck"]
    saved.limit = 2
    frequency.save_rule(admin, rule=saved)
    created, changed = AuditEvent.objects.filter(action__startswith="frequency_rule").order_by("sequence")
    assert (created.action, created.before, created.after["limit"]) == ("frequency_rule.created", None, 1)
    assert (changed.action, changed.before["limit"], changed.after["limit"]) == (
        "frequency_rule.changed",
        1,
        2,
    )
    assert changed.actor == admin


def test_the_rule_in_force_is_checked_against_others_only_when_active(s):
    active = rule("每周至多2次", scope=Scope.ALL_BODIES, period=Period.WEEK, limit=2, action=Action.WARN)
    active.is_active = False
    active.save()
    assert frequency.validate_rule(unsaved(limit=3)) == []
    # a task on another enterprise with the rules above is unaffected
    assert frequency.check_frequency(s.draft(enterprise=EnterpriseFactory(region=s.jinshan))).ok


def test_the_compiled_query_reads_what_the_orm_query_reads(w, monkeypatch):
    """The fetch's SQL is compiled once per database (it is on the benchmark's path); the ORM's own query, used
    when the compiled one cannot be trusted, finds the same."""
    s = w
    day = mid_year()
    rule(scope=Scope.ALL_BODIES, period=Period.MONTH, limit=1, action=Action.WARN)
    rule(scope=Scope.NO_FINDING, limit=1, action=Action.JUSTIFY)
    rule(limit=1)
    started = timezone.make_aware(datetime.datetime.combine(day - DAY, datetime.time(9)))
    inspection(s, day - 30 * DAY, status=Task.Status.CLOSED, started=started, outcome=Outcome.NO_PROBLEM)
    inspection(s, day - 3 * DAY, partner=True, items=[s.partner_item])
    inspection(s, day, items=[s.item, s.partner_item], joint_bodies=[s.partner])
    task = s.joint_draft(window_start=today(), window_end=today())
    key = (connection.alias, connection.vendor)
    frequency.check_frequency(task)
    assert frequency._FETCH_SQL[key] is not None
    compiled = frequency.check_frequency(task, on=day, today=day).findings()
    assert [(f["scope"], f["action"]) for f in compiled] == [
        ("per_body", "refuse"),
        ("per_body", "refuse"),
        ("no_finding", "justify"),
        ("all_bodies", "warn"),
    ]
    monkeypatch.setitem(frequency._FETCH_SQL, key, None)
    assert frequency.check_frequency(task, on=day, today=day).findings() == compiled
    assert any(e["date"] == (day - DAY).isoformat() for f in compiled for e in f["earlier"])
