"""The frequency control figures of the statistics page (issue 13, F-21, F-42): the submissions the rules
refused (recorded although the refused change is rolled back, through the real page and API), those that
passed on a justification, an exemption or with a warning, and the visits avoided by joining another body's
visit or by carrying out an accepted proposal to merge plans (F-13). Each equals a direct count of the raw rows
(counted here in Python, row by row) for the city, a district and a body, in two districts and several
bodies with some rows outside the period; each reader sees only his own; the page shows them by their Chinese
names and the Excel export has the same rows."""

from __future__ import annotations

import datetime
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from jianchama.core.roles import Role
from jianchama.inspections import frequency, services
from jianchama.inspections.frequency import COUNTED, FrequencyRefusal, inspection_date
from jianchama.inspections.models import Exemption, FrequencyRefusalRecord, FrequencyRule, Task
from jianchama.plans.models import CoordinationProposal
from jianchama.statistics import snapshots
from jianchama.statistics.figures import FIGURES, PAGE_FIGURES
from jianchama.statistics.scope import Filters, Period, scope_for
from tests.factories import BodyFactory, EnterpriseFactory, ItemFactory, filed_plan, user_for
from tests.inspections.conftest import inspector_with_account
from tests.inspections.test_frequency import inspection, partner_task, rule
from tests.statistics.test_views import same, table

Scope, Cycle, Action = FrequencyRule.Scope, FrequencyRule.Period, FrequencyRule.Action
Stage, Reason = FrequencyRefusalRecord.Stage, FrequencyRefusalRecord.Reason
DAY = datetime.timedelta(days=1)
CODES = ["frequency_control", "visits_avoided"]


def today() -> datetime.date:
    return timezone.localdate()


def this_year() -> Period:
    return Period.of("year", today())


def last_year() -> Period:
    return Period.of("year", today(), year=today().year - 1)


def a_year_ago(task: Task) -> None:
    """The task moved to the same days last year (its window; it has not started)."""
    Task.objects.filter(pk=task.pk).update(
        window_start=task.window_start.replace(year=task.window_start.year - 1),
        window_end=task.window_end.replace(year=task.window_end.year - 1),
    )


def refused(call, **arguments) -> FrequencyRefusal:
    with pytest.raises(FrequencyRefusal) as error:
        call(**arguments)
    return error.value


# --- The world -------------------------------------------------------------------------------------------------


@pytest.fixture
def w(s):
    """Jinshan (the gas body, its market partner) and Minhang (its gas body and a market body), this year and
    last: refusals at submission (twice for one task; a missing justification) and at approval, submissions
    passed on a justification, on two exemptions (one claimed, one a complaint's own), with warnings, a
    cancelled one; tasks joined to another body's in both districts, one of last year; joint inspections
    carrying out an accepted proposal to merge plans, one of last year, one whose partner came in by joining,
    and a joint inspection no proposal asked for."""
    s.partner_inspector2 = inspector_with_account(s.partner, "钱七")
    s.admin = user_for(Role.PLATFORM_ADMIN)
    s.mh_second = inspector_with_account(s.other_body, "孙八")
    s.mh_market = BodyFactory(name="闵行区市场监督管理局", region=s.minhang, fields=[s.market])
    s.mh_item = ItemFactory(name="燃气器具销售检查", field=s.market, bodies=[s.mh_market])
    s.mh_market_inspectors = [inspector_with_account(s.mh_market, n) for n in ("孔一", "孔二")]
    s.mh_market_user = s.mh_market_inspectors[0].user

    def other_draft(**overrides) -> Task:
        args = {
            "actor": s.other_inspector_user,
            "enterprise": s.mh_enterprise,
            "inspectors": [s.other_inspector, s.mh_second],
            "legal_basis": "《城镇燃气管理条例》",
        }
        return s.draft(**(args | overrides))

    rule("同一单位每年至多1次（燃气）", limit=1, field=s.gas, exemptions=["recheck", "complaint"])
    rule("同一单位每年第2次起须说明理由（市场）", limit=1, action=Action.JUSTIFY, field=s.market)
    rule("各单位每日超过1次提示", scope=Scope.ALL_BODIES, period=Cycle.DAY, limit=1, action=Action.WARN)

    # Jinshan's enterprise, inspected today by the gas body and by its partner.
    inspection(s, today())
    inspection(s, today(), partner=True)
    s.twice = s.draft()
    for _ in range(2):
        refused(services.submit_task, actor=s.inspector_user, task=s.twice)
    s.recheck = services.submit_task(s.inspector_user, task=s.draft(), exemption=Exemption.RECHECK)
    s.complaint = services.submit_task(
        s.inspector_user, task=s.draft(kind=Task.Kind.COMPLAINT, reason="投诉", evidence="登记表")
    )
    cancelled = services.submit_task(s.inspector_user, task=s.draft(), exemption=Exemption.RECHECK)
    services.cancel_task(s.head, task=cancelled, reason="企业停产")
    s.unjustified = partner_task(s)
    refused(services.submit_task, actor=s.partner_inspector_user, task=s.unjustified)
    s.justified = services.submit_task(s.partner_inspector_user, task=s.unjustified, justification="复查")
    a_year_ago(s.complaint)

    # Minhang: its enterprise inspected today, a refusal, and the market body joining the refused draft.
    inspection(
        s,
        today(),
        actor=s.other_inspector_user,
        enterprise=s.mh_enterprise,
        inspectors=[s.other_inspector, s.mh_second],
    )
    s.mh_refused = other_draft()
    refused(services.submit_task, actor=s.other_inspector_user, task=s.mh_refused)
    s.mh_joining = s.draft(
        actor=s.mh_market_user,
        enterprise=s.mh_enterprise,
        items=[s.mh_item],
        inspectors=s.mh_market_inspectors,
        legal_basis="《产品质量法》",
    )
    frequency.join_task(s.mh_market_user, task=s.mh_joining, into=s.mh_refused)

    # Jinshan's other enterprise: the partner joins the gas body's visit, this year and (moved) last year.
    for moved in (False, True):
        target = s.draft(enterprise=s.other_enterprise)
        source = partner_task(s, enterprise=s.other_enterprise)
        frequency.join_task(s.partner_inspector_user, task=source, into=target)
        if moved:
            a_year_ago(source)

    # Plans merged (F-13): an accepted proposal of the two bodies' plans on three enterprises.
    s.merge = [EnterpriseFactory(name=f"金山合并检查企业{n}", region=s.jinshan) for n in range(3)]
    gas_plan = filed_plan(s.body, items=[s.item])
    market_plan = filed_plan(s.partner, items=[s.partner_item])
    proposal = CoordinationProposal.objects.create(
        region=s.jinshan,
        period_start=datetime.date(today().year - 1, 1, 1),
        period_end=datetime.date(today().year, 12, 31),
        status=CoordinationProposal.Status.ACCEPTED,
        proposed_by=s.supervisor,
    )
    proposal.plans.set([gas_plan, market_plan])
    proposal.enterprises.set(s.merge)
    together = {"plan": gas_plan, "partner_plans": [market_plan]}
    s.merged = s.submitted(s.joint_draft(enterprise=s.merge[0], **together))
    moved = s.submitted(s.joint_draft(enterprise=s.merge[1], **together))
    a_year_ago(moved)
    # The partner comes in by joining: counted among the joined, not again as merged.
    target = s.submitted(s.draft(enterprise=s.merge[2], plan=gas_plan))
    joining = partner_task(s, enterprise=s.merge[2])
    frequency.join_task(s.partner_inspector_user, task=joining, into=target)
    assert (s.merged.coordination_proposal, moved.coordination_proposal) == (proposal, proposal)
    assert target.coordination_proposal is None  # one body when drafted: the partner joined later
    # A joint inspection no proposal asked for.
    s.plain = s.submitted(
        s.joint_draft(enterprise=EnterpriseFactory(name="金山联合检查企业", region=s.jinshan))
    )
    assert s.plain.coordination_proposal is None

    # Refused at approval: a refuse-rule broken since submission (a partner's visit the same day).
    s.third = EnterpriseFactory(name="金山第三燃气公司", region=s.jinshan)
    s.late = s.submitted(enterprise=s.third)
    inspection(s, today(), partner=True, enterprise=s.third)
    daily = rule("各单位每日至多1次", scope=Scope.ALL_BODIES, period=Cycle.DAY, limit=1)
    refused(services.approve_task, actor=s.head, task=s.late)
    daily.delete()

    # Across the districts: Jinshan's bodies at Minhang's enterprise, which each district counts (as in a joint
    # task led by a city body, or in data from a body's own system): made at a Jinshan enterprise, then moved.
    elsewhere = EnterpriseFactory(name="金山第四燃气公司", region=s.jinshan)
    inspection(s, today(), enterprise=elsewhere)
    s.across = s.draft(enterprise=elsewhere)
    refused(services.submit_task, actor=s.inspector_user, task=s.across)
    services.submit_task(s.inspector_user, task=s.across, exemption=Exemption.RECHECK)
    joining = partner_task(s, enterprise=elsewhere)
    frequency.join_task(s.partner_inspector_user, task=joining, into=s.across)
    Task.objects.filter(enterprise=elsewhere).update(enterprise=s.mh_enterprise)
    FrequencyRefusalRecord.objects.filter(enterprise=elsewhere).update(enterprise=s.mh_enterprise)

    # One of the two refusals of the same draft was for a day of last year.
    first = FrequencyRefusalRecord.objects.filter(task=s.twice).order_by("pk").first()
    FrequencyRefusalRecord.objects.filter(pk=first.pk).update(day=first.day.replace(year=first.day.year - 1))
    return s


# --- Direct counts of the raw rows, row by row ---------------------------------------------------------------


def in_district(region, district) -> bool:
    return region.path.startswith(district.path)


def task_in(task: Task, who) -> bool:
    """Whose the task is: "city", a district (Region) or a set of body ids."""
    bodies = list(task.bodies.all())
    if who == "city":
        return True
    if isinstance(who, set):
        return any(b.pk in who for b in bodies)
    return in_district(task.enterprise.region, who) or any(in_district(b.region, who) for b in bodies)


def record_in(record: FrequencyRefusalRecord, who) -> bool:
    if who == "city":
        return True
    if isinstance(who, set):
        return record.body_id in who
    return in_district(record.enterprise.region, who) or in_district(record.body.region, who)


def task_passes(task: Task, filters: Filters) -> bool:
    if filters.kind and task.kind != filters.kind:
        return False
    if filters.body_id and filters.body_id not in {b.pk for b in task.bodies.all()}:
        return False
    if filters.field_id and filters.field_id not in {i.field_id for i in task.items.all()}:
        return False
    return not filters.region_ids or task.enterprise.region_id in filters.region_ids


def record_passes(record: FrequencyRefusalRecord, filters: Filters) -> bool:
    if filters.kind and record.kind != filters.kind:
        return False
    if filters.body_id and record.body_id != filters.body_id:
        return False
    if filters.field_id and filters.field_id not in {f.pk for f in record.fields.all()}:
        return False
    return not filters.region_ids or record.enterprise.region_id in filters.region_ids


def direct_control(who, period: Period, filters: Filters | None = None) -> list[list]:
    filters = filters or Filters()

    def inside(day) -> bool:
        return period.start <= day <= period.end

    records = [
        r
        for r in FrequencyRefusalRecord.objects.select_related("enterprise__region", "body__region")
        if inside(r.day) and record_in(r, who) and record_passes(r, filters)
    ]
    tasks = [
        t
        for t in Task.objects.select_related("enterprise__region")
        if t.status in COUNTED and inside(inspection_date(t)) and task_in(t, who) and task_passes(t, filters)
    ]

    def waiver(task) -> str | None:
        """The exemption an inspection counts under: the first that waived a refuse- or justify-rule."""
        waived = (f["exempted_by"] for f in task.frequency_findings if f["action"] in ("refuse", "justify"))
        return next((code for code in waived if code), None)

    return [
        [
            "拒绝提交：超出频次不予提交",
            sum(r.stage == "submission" and r.reason == "refused" for r in records),
        ],
        [
            "拒绝提交：须说明理由而未说明",
            sum(r.stage == "submission" and r.reason == "justification_missing" for r in records),
        ],
        ["批准时复核未通过", sum(r.stage == "approval" for r in records)],
        ["说明理由后提交", sum(bool(t.frequency_justification) for t in tasks)],
        *(
            [f"依豁免情形提交：{label}", sum(waiver(t) == code for t in tasks)]
            for code, label in Exemption.choices
        ),
        [
            "超频次提示后提交",
            sum(
                any(f["action"] == "warn" and not f["exempted_by"] for f in t.frequency_findings)
                for t in tasks
            ),
        ],
    ]


def direct_joined(who, period: Period, filters: Filters | None = None) -> int:
    filters = filters or Filters()
    return sum(
        1
        for t in Task.objects.filter(joined_into__isnull=False).select_related("enterprise__region")
        if period.start <= t.window_start <= period.end and task_in(t, who) and task_passes(t, filters)
    )


def compute(code: str, user, period: Period | None = None, filters: Filters | None = None):
    return FIGURES[code].compute(scope_for(user), period or this_year(), filters or Filters())


# --- Refusals are recorded through the real submission paths ---------------------------------------------------


def test_a_refused_submission_through_the_page_is_recorded_and_the_task_stays_a_draft(client, s):
    rule("同一单位每年至多1次", limit=1, exemptions=["recheck"])
    earlier = inspection(s, today())
    task = s.draft()
    client.force_login(s.inspector_user)
    response = client.post(f"/tasks/{task.pk}/submit/", {"justification": "确有必要"})
    assert response.status_code == 302
    assert Task.objects.get(pk=task.pk).status == Task.Status.DRAFT  # the submission was rolled back
    [record] = FrequencyRefusalRecord.objects.all()
    assert (record.task_id, record.enterprise_id, record.body_id, record.kind) == (
        task.pk,
        s.enterprise.pk,
        s.body.pk,
        Task.Kind.ROUTINE,
    )
    assert (record.stage, record.reason, record.day) == (Stage.SUBMISSION, Reason.REFUSED, task.window_start)
    assert record.refused_by == s.inspector_user and list(record.fields.all()) == [s.gas]
    assert [b["name"] for b in record.breaches] == ["同一单位每年至多1次"]
    assert record.breaches[0]["earlier"][0]["number"] == earlier.number
    assert record.message.startswith("该任务超出检查频次规则，不予提交")
    # A missing justification is recorded as such; the submission with one is not a refusal.
    FrequencyRule.objects.update(action=Action.JUSTIFY)
    client.post(f"/tasks/{task.pk}/submit/", {"justification": ""})
    client.post(f"/tasks/{task.pk}/submit/", {"justification": "整改复查"})
    assert Task.objects.get(pk=task.pk).status == Task.Status.SUBMITTED
    assert list(FrequencyRefusalRecord.objects.order_by("pk").values_list("reason", flat=True)) == [
        Reason.REFUSED,
        Reason.JUSTIFICATION_MISSING,
    ]


def test_a_refused_draft_and_submit_in_one_step_is_recorded_without_a_task(client, s):
    from tests.inspections.test_task_form import form_data

    s.recorded()
    rule("同一单位每年至多1次", limit=1)
    plan = filed_plan(s.body, items=[s.item])
    client.force_login(s.inspector_user)
    tasks = Task.objects.count()
    response = client.post(
        reverse("inspections:task_create"), form_data(s, s.enterprise.uscc, plan) | {"step": "confirm"}
    )
    assert response.status_code == 200 and "不予提交" in response.content.decode()
    assert Task.objects.count() == tasks  # nothing drafted
    [record] = FrequencyRefusalRecord.objects.all()
    assert record.task is None and record.enterprise == s.enterprise and record.body == s.body
    assert record.kind == Task.Kind.ROUTINE and list(record.fields.all()) == [s.gas]


def test_a_refusal_at_approval_through_the_page_is_recorded(client, s):
    s.partner_inspector2 = inspector_with_account(s.partner, "钱七")
    task = s.submitted()
    rule("各单位每日至多1次", scope=Scope.ALL_BODIES, period=Cycle.DAY, limit=1)
    inspection(s, today(), partner=True)
    client.force_login(s.head)
    client.post(f"/tasks/{task.pk}/approve/")
    assert Task.objects.get(pk=task.pk).status == Task.Status.SUBMITTED
    [record] = FrequencyRefusalRecord.objects.all()
    assert (record.task_id, record.body_id, record.stage, record.reason) == (
        task.pk,
        s.body.pk,
        Stage.APPROVAL,
        Reason.REFUSED,
    )
    assert record.refused_by == s.head and record.message.startswith("该任务不能批准")


def test_refusals_through_the_api_are_recorded(db):
    from tests.api.conftest import Api, build_body, task_payload

    world = build_body("甲", 31011600100)
    api = Api(world.key)
    FrequencyRule.objects.create(
        name="同一单位每年一次", scope="per_body", period="year", limit=1, action="justify", exemptions=[]
    )
    assert api.post("/tasks", task_payload(world, submit=True)).status_code == 201
    draft = api.post("/tasks", task_payload(world)).json()["number"]
    answer = api.post(f"/tasks/{draft}/submit", {})
    assert answer.status_code == 422 and "frequency-justification-required" in answer.json()["type"]
    assert api.post("/tasks", task_payload(world, submit=True)).status_code == 422
    records = list(FrequencyRefusalRecord.objects.order_by("pk"))
    assert [(r.task_id, r.reason) for r in records] == [
        (Task.objects.get(number=draft).pk, Reason.JUSTIFICATION_MISSING),
        (None, Reason.JUSTIFICATION_MISSING),
    ]
    assert {r.body_id for r in records} == {world.body.pk} and {r.enterprise_id for r in records} == {
        world.enterprise.pk
    }


@pytest.mark.django_db(transaction=True)
def test_the_record_is_committed_although_the_refused_submission_is_rolled_back(client, s):
    """Without the test's own transaction around it: the submission's transaction really rolls back, the
    record's really commits."""
    rule("同一单位每年至多1次", limit=1)
    inspection(s, today())
    task = s.draft()
    client.force_login(s.inspector_user)
    client.post(f"/tasks/{task.pk}/submit/")
    task.refresh_from_db()
    assert task.status == Task.Status.DRAFT and task.submitted_at is None and task.frequency_findings == []
    assert FrequencyRefusalRecord.objects.filter(task=task, reason=Reason.REFUSED).count() == 1


def test_a_join_marks_the_joined_task(s):
    s.partner_inspector2 = inspector_with_account(s.partner, "钱七")
    target = s.draft()
    source = partner_task(s)
    frequency.join_task(s.partner_inspector_user, task=source, into=target)
    source.refresh_from_db()
    assert source.joined_into_id == target.pk and source.status == Task.Status.CANCELLED
    target.refresh_from_db()
    assert target.joined_into_id is None


# --- The figures equal the raw rows -------------------------------------------------------------------------


def test_frequency_control_equals_the_raw_rows_for_each_scope_and_period(w):
    s = w
    readers = {
        "city": (s.admin, "city"),
        "jinshan": (s.supervisor, s.jinshan),
        "minhang": (s.mh_supervisor, s.minhang),
        "gas body": (s.head, {s.body.pk}),
        "partner": (s.partner_head, {s.partner.pk}),
    }
    got = {}
    for name, (user, who) in readers.items():
        for period in (this_year(), last_year()):
            rows = compute("frequency_control", user, period).rows
            assert rows == direct_control(who, period), (name, period)
            got[name, period.start.year] = dict(rows)
    year = today().year
    city, jinshan, minhang = got["city", year], got["jinshan", year], got["minhang", year]
    # The rows have something to count, and the scopes split it.
    assert city["依豁免情形提交：整改复查"] == 2  # Jinshan's, across; the cancelled one is no inspection
    assert city["说明理由后提交"] == 1 and city["超频次提示后提交"] == 3  # the two rechecks, the justified
    # Jinshan's second refusal of its draft, Minhang's own, and the gas body's at Minhang's enterprise (both
    # districts count that one: its body is Jinshan's, its enterprise Minhang's).
    assert city["拒绝提交：超出频次不予提交"] == 3
    assert jinshan["拒绝提交：超出频次不予提交"] == 2 and minhang["拒绝提交：超出频次不予提交"] == 2
    assert got["gas body", year]["拒绝提交：超出频次不予提交"] == 2
    assert jinshan["依豁免情形提交：整改复查"] == 2 and minhang["依豁免情形提交：整改复查"] == 1
    assert jinshan["批准时复核未通过"] == 1 and minhang["批准时复核未通过"] == 0
    assert got["partner", year]["拒绝提交：须说明理由而未说明"] == 1
    assert got["gas body", year]["拒绝提交：须说明理由而未说明"] == 0
    assert got["partner", year]["说明理由后提交"] == 1 and got["gas body", year]["说明理由后提交"] == 0
    # Last year: the complaint's own exemption and the first refusal of the draft.
    before = got["city", year - 1]
    assert before["依豁免情形提交：投诉举报核查"] == 1 and city["依豁免情形提交：投诉举报核查"] == 0
    assert before["拒绝提交：超出频次不予提交"] == 1
    assert got["minhang", year - 1]["拒绝提交：超出频次不予提交"] == 0


def test_visits_avoided_equal_the_raw_rows_for_each_scope_and_period(w):
    s = w
    # The merged joint inspections, by hand: this year's on the first enterprise (the gas body and its partner,
    # one visit saved), last year's on the second; the third's partner joined, the plain one is no proposal's.
    merged = {"city": 1, "jinshan": 1, "minhang": 0, "gas body": 1, "partner": 1}
    readers = {
        "city": (s.admin, "city"),
        "jinshan": (s.supervisor, s.jinshan),
        "minhang": (s.mh_supervisor, s.minhang),
        "gas body": (s.head, {s.body.pk}),
        "partner": (s.partner_head, {s.partner.pk}),
    }
    for name, (user, who) in readers.items():
        for period in (this_year(), last_year()):
            joined = direct_joined(who, period)
            rows = compute("visits_avoided", user, period).rows
            assert rows == [
                ["并入联合检查", joined, joined],
                ["计划合并的联合检查", merged[name], merged[name]],
                ["合计", joined + merged[name], joined + merged[name]],
            ], (name, period)
    year = this_year()
    # Minhang's, Jinshan's partner at Minhang's enterprise, Jinshan's other enterprise, the merge's third.
    assert direct_joined("city", year) == 4
    assert direct_joined(s.jinshan, year) == 3 and direct_joined(s.minhang, year) == 2
    assert direct_joined({s.body.pk}, year) == 0 and direct_joined({s.partner.pk}, year) == 3
    assert direct_joined("city", last_year()) == 1


def test_the_filters_narrow_both_figures_as_the_raw_rows(w):
    s = w
    cases = [
        Filters(field_id=s.market.pk),
        Filters(field_id=s.gas.pk),
        Filters(kind=Task.Kind.COMPLAINT),
        Filters(body_id=s.partner.pk),
        Filters(region_ids=(s.minhang.pk,), region_id=s.minhang.pk),
    ]
    for filters in cases:
        for period in (this_year(), last_year()):
            assert compute("frequency_control", s.admin, period, filters).rows == direct_control(
                "city", period, filters
            ), filters
            joined = direct_joined("city", period, filters)
            assert compute("visits_avoided", s.admin, period, filters).rows[0] == [
                "并入联合检查",
                joined,
                joined,
            ]
    # The filters do cut: the market field keeps the partner's justification, not the gas body's refusals.
    market = dict(compute("frequency_control", s.admin, filters=cases[0]).rows)
    gas = dict(compute("frequency_control", s.admin, filters=cases[1]).rows)
    assert market["说明理由后提交"] == 1 and gas["说明理由后提交"] == 0
    assert market["拒绝提交：超出频次不予提交"] == 0 and gas["拒绝提交：超出频次不予提交"] == 3
    merged = compute("visits_avoided", s.admin, filters=Filters(kind=Task.Kind.COMPLAINT)).rows[1]
    assert merged == ["计划合并的联合检查", 0, 0]


def test_a_body_sees_only_its_own_and_a_district_not_anothers(w):
    s = w
    minhang = dict(compute("frequency_control", s.mh_supervisor).rows)
    jinshan = dict(compute("frequency_control", s.supervisor).rows)
    city = dict(compute("frequency_control", s.admin).rows)
    # Minhang's supervisor: its own refusal and the one at its enterprise, none of Jinshan's at Jinshan's.
    assert minhang["拒绝提交：超出频次不予提交"] == 2 and city["拒绝提交：超出频次不予提交"] == 3
    assert minhang["批准时复核未通过"] == 0 and minhang["说明理由后提交"] == 0
    assert jinshan["批准时复核未通过"] == 1 and jinshan["说明理由后提交"] == 1
    avoided = {user: compute("visits_avoided", user).rows[0][1] for user in (s.supervisor, s.mh_supervisor)}
    assert avoided == {s.supervisor: 3, s.mh_supervisor: 2}
    # The Minhang market body sees its own join only; the Minhang gas body none of Jinshan's.
    mh_market_admin = user_for(Role.BODY_ADMIN, body=s.mh_market)
    assert compute("visits_avoided", mh_market_admin).rows[0] == ["并入联合检查", 1, 1]
    assert dict(compute("frequency_control", s.other_head).rows)["拒绝提交：超出频次不予提交"] == 1
    assert compute("visits_avoided", s.other_head).rows[1] == ["计划合并的联合检查", 0, 0]


def test_each_figure_costs_a_few_queries_whatever_the_rows(w):
    s = w
    scope = scope_for(s.supervisor)
    for code, most in (("frequency_control", 5), ("visits_avoided", 11)):
        with CaptureQueriesContext(connection) as queries:
            FIGURES[code].compute(scope, this_year(), Filters())
        assert len(queries) <= most, (code, [q["sql"] for q in queries])


# --- On the page and in the export -------------------------------------------------------------------------------


def test_the_figures_are_on_the_page_with_their_names_and_in_the_export(client, w):
    s = w
    assert PAGE_FIGURES.index("frequency_control") == PAGE_FIGURES.index("repeated") + 1
    for code in CODES:
        assert code in snapshots.HEAVY and code not in snapshots.LIVE
    client.force_login(s.supervisor)
    page = client.get("/statistics/").content.decode()
    for code, name in (("frequency_control", "频次控制"), ("visits_avoided", "减少入企")):
        assert f'<section class="figure" id="figure-{code}">\n  <h2>{name}</h2>' in page
        assert FIGURES[code].definition[:30] in page
        shown = table(page, code)
        assert shown == [[str(cell) for cell in row] for row in compute(code, s.supervisor).rows]
    workbook = load_workbook(io.BytesIO(client.get("/statistics/?format=xlsx").content))
    for code in CODES:
        rows = list(workbook[FIGURES[code].name].iter_rows(values_only=True))
        assert list(rows[0]) == FIGURES[code].compute(scope_for(s.supervisor), this_year(), Filters()).columns
        assert [[same(c) for c in row] for row in rows[1:]] == [
            [same(c) for c in row] for row in compute(code, s.supervisor).rows
        ]
    # One figure alone, for a body: its own numbers.
    client.force_login(s.partner_head)
    one = load_workbook(io.BytesIO(client.get("/statistics/?figure=frequency_control&format=xlsx").content))
    assert one.sheetnames == ["频次控制"]
    rows = [list(r) for r in one["频次控制"].iter_rows(min_row=2, values_only=True)]
    assert rows == compute("frequency_control", s.partner_head).rows


def test_the_standard_views_read_what_the_job_computed_and_show_new_refusals_after_it(client, w):
    """Heavy figures: the page shows the snapshot of its view (computed by the job queue), equal to the live
    count; a refusal recorded since shows once the job has computed the view again."""
    s = w
    scope, year = scope_for(s.supervisor), this_year()
    snapshots.refresh_view_of(scope, year)
    client.force_login(s.supervisor)
    page = client.get("/statistics/").content.decode()
    for code in CODES:
        assert table(page, code) == [[str(c) for c in row] for row in compute(code, s.supervisor).rows]
    assert "本项数据截至" in page[page.index('id="figure-frequency_control"') :][:2000]
    before = dict(compute("frequency_control", s.supervisor).rows)["拒绝提交：超出频次不予提交"]
    refused(services.submit_task, actor=s.inspector_user, task=s.twice)
    assert dict(compute("frequency_control", s.supervisor).rows)["拒绝提交：超出频次不予提交"] == before + 1
    shown = dict(table(client.get("/statistics/").content.decode(), "frequency_control"))
    assert shown["拒绝提交：超出频次不予提交"] == str(before)
    snapshots.refresh_view_of(scope, year)
    shown = dict(table(client.get("/statistics/").content.decode(), "frequency_control"))
    assert shown["拒绝提交：超出频次不予提交"] == str(before + 1)
