"""Plans (F-10), their filing (F-11) and announcement (F-12) through the services: every transition for
what it allows and what it refuses, the two routes, numbering, working-day deadlines, and bad input."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection

from jianchama.core import audit
from jianchama.core.errors import DomainError, InvalidTransition, PermissionDenied
from jianchama.core.models import AuditEvent
from jianchama.plans import services
from jianchama.plans.models import Plan, PlanNumberCounter, PlanReview
from jianchama.registry.models import EnforcementBody
from tests.factories import BodyFactory, EnterpriseFactory, filed_plan, user_for
from tests.plans.conftest import names

pytestmark = pytest.mark.django_db

D = datetime.date
S = Plan.Status


def actions(plan: Plan) -> list[str]:
    return list(audit.history(plan).values_list("action", flat=True))


# --- Drafts ---------------------------------------------------------------------------------------------


def test_a_body_member_creates_a_draft(s):
    plan = s.draft(
        target_industries=[" 燃气生产和供应业 ", "", "燃气生产和供应业"],
        target_regions=[s.zhujing],
        target_risk_grades=["C", "D", "C"],
        description="重点检查经营许可",
    )
    plan.refresh_from_db()
    assert plan.status == S.DRAFT and plan.number is None and plan.body == s.body
    assert plan.created_by == s.inspector_user
    assert list(plan.items.all()) == [s.item]
    assert plan.target_industries == ["燃气生产和供应业"]
    assert plan.target_risk_grades == ["C", "D"]
    assert list(plan.target_regions.all()) == [s.zhujing]
    assert actions(plan) == ["plan.created"]
    assert audit.history(plan).get().after["expected_count"] == 20


@pytest.mark.parametrize(
    "who", ["city_reviewer", "supervisor", "government", "observer", "contact", "partner_head"]
)
def test_only_the_bodys_people_create_its_plans(s, who):
    user = getattr(s, who)
    if who == "partner_head":
        # The partner's head may create plans, but only its own body's: the gas item is not within its authority.
        with pytest.raises(DomainError, match="不在金山区市场监督管理局的职权或委托权限范围内"):
            s.draft(user)
    else:
        with pytest.raises(PermissionDenied, match="只有执法单位的执法人员或管理员"):
            s.draft(user)
    assert not Plan.objects.exists()


def test_an_inactive_body_creates_no_plan(s):
    EnforcementBody.objects.filter(pk=s.body.pk).update(is_active=False)
    s.inspector_user.refresh_from_db()
    with pytest.raises(PermissionDenied):
        s.draft()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"period_start": D(2026, 6, 1), "period_end": D(2026, 5, 31)},
            "计划期间止（2026年5月31日）不能早于计划期间起（2026年6月1日）",
        ),
        ({"period_end": None}, "请填写计划期间的起止日期"),
        ({"expected_count": 0}, "预计检查户数须至少为1户"),
        ({"expected_count": None}, "请填写预计检查户数"),
        ({"items": []}, "请至少选择一项检查事项"),
        ({"method": "weekly"}, "请选择检查方式"),
        ({"title": "  "}, "请填写计划名称"),
        ({"target_risk_grades": ["E"]}, "风险等级「E」不存在"),
    ],
)
def test_bad_input_says_what_is_wrong_and_saves_nothing(s, overrides, message):
    events = AuditEvent.objects.count()
    with pytest.raises(DomainError, match="检查计划未保存") as refusal:
        s.draft(**overrides)
    assert any(message in problem for problem in refusal.value.problems), refusal.value.problems
    assert not Plan.objects.exists()
    assert AuditEvent.objects.count() == events


def test_items_outside_the_bodys_authority_are_named(s):
    with pytest.raises(DomainError) as refusal:
        s.draft(items=[s.item, s.partner_item, s.unpublished_item])
    assert refusal.value.problems == [
        "检查事项「燃气器具产品质量检查」不在金山区建设和管理委员会的职权或委托权限范围内",
        "检查事项「燃气安全评价报告检查」不在已公布的检查事项清单中（无事项不检查）",
    ]
    assert not Plan.objects.exists()


def test_every_problem_is_listed_at_once(s):
    with pytest.raises(DomainError) as refusal:
        s.draft(items=[], expected_count=0, period_start=D(2026, 2, 1), period_end=D(2026, 1, 1))
    assert len(refusal.value.problems) == 3


def test_targets_must_lie_within_the_bodys_district(s):
    with pytest.raises(DomainError) as refusal:
        s.draft(target_regions=[s.minhang], target_enterprises=[s.mh_gas])
    assert refusal.value.problems == [
        "目标区域「闵行区」不在本单位的管辖范围（金山区）内",
        "企业「闵行燃气有限公司」不在本单位的管辖范围（金山区）内",
    ]


def test_an_entrusted_body_plans_items_within_its_entrustment_scope_and_period(s):
    year = s.plan_args()["period_start"].year
    plan = s.draft(s.entrusted_head)
    assert list(plan.items.all()) == [s.item]
    with pytest.raises(DomainError, match="不在金山区燃气安全执法大队的职权或委托权限范围内"):
        s.draft(s.entrusted_head, items=[s.second_item])
    with pytest.raises(DomainError, match=r"委托期限（\d+年1月1日至\d+年12月31日）未覆盖整个计划期间"):
        s.draft(s.entrusted_head, period_end=D(year + 1, 3, 31))


def test_a_draft_is_edited_by_its_body_and_the_change_is_logged(s):
    plan = s.draft()
    services.update_plan(s.head, plan=plan, expected_count=35, items=[s.item, s.second_item])
    plan.refresh_from_db()
    assert plan.expected_count == 35 and set(plan.items.all()) == {s.item, s.second_item}
    assert plan.title == s.plan_args()["title"]  # what was not given is kept
    event = audit.history(plan).last()
    assert event.action == "plan.updated"
    assert event.before["expected_count"] == 20 and event.after["expected_count"] == 35


def test_bad_changes_leave_the_draft_as_it_was(s):
    plan = s.draft()
    with pytest.raises(DomainError):
        services.update_plan(s.head, plan=plan, items=[s.item, s.partner_item], expected_count=0)
    plan.refresh_from_db()
    assert plan.expected_count == 20 and list(plan.items.all()) == [s.item]
    assert actions(plan) == ["plan.created"]


def test_only_the_body_edits_and_only_drafts_or_returned_plans(s):
    plan = s.draft()
    for outsider in (s.partner_head, s.city_reviewer, s.supervisor):
        with pytest.raises(PermissionDenied):
            services.update_plan(outsider, plan=plan, expected_count=1)
    s.submitted(plan)
    with pytest.raises(InvalidTransition, match="只有草稿或退回修改的计划可以修改"):
        services.update_plan(s.head, plan=plan, expected_count=1)
    with pytest.raises(TypeError):
        services.update_plan(s.head, plan=plan, number="x")


# --- Routes -------------------------------------------------------------------------------------------


def test_district_route_city_counterpart_then_bureau(s):
    plan = s.draft()
    plan = services.submit_plan(s.inspector_user, plan=plan)
    assert plan.status == S.CITY_REVIEW and plan.submitted_at is not None
    assert list(plan.reviews.values_list("step", "decision")) == [("city", "")]
    # The bureau cannot act before the city-level counterpart has.
    with pytest.raises(InvalidTransition, match="不在区司法局备案环节"):
        services.approve_plan(s.supervisor, plan=plan)
    plan = services.approve_plan(s.city_reviewer, plan=plan, comment="同意报区司法局备案")
    assert plan.status == S.BUREAU_REVIEW and plan.number is None
    plan = services.approve_plan(s.supervisor, plan=plan)
    assert plan.status == S.FILED and plan.filed_at is not None
    assert plan.number == f"金山检计备〔{plan.filed_at.year}〕1号"
    reviews = list(plan.reviews.order_by("pk"))
    assert [(r.step, r.decision, r.reviewer) for r in reviews] == [
        ("city", "approved", s.city_reviewer),
        ("bureau", "approved", s.supervisor),
    ]
    assert reviews[0].comment == "同意报区司法局备案"
    assert actions(plan) == ["plan.created", "plan.submitted", "plan.city_approved", "plan.filed"]
    assert audit.verify_chain()[1] is None


def test_town_route_goes_to_the_bureau_only(s):
    plan = s.draft(s.town_inspector)
    plan = services.submit_plan(s.town_head, plan=plan)
    assert plan.status == S.BUREAU_REVIEW
    assert list(plan.reviews.values_list("step", flat=True)) == ["bureau"]
    with pytest.raises(PermissionDenied, match="只有辖区司法局执法监督人员可以审核"):
        services.approve_plan(s.city_reviewer, plan=plan)
    plan = services.approve_plan(s.supervisor, plan=plan)
    assert plan.status == S.FILED and plan.number.startswith("金山检计备")


def test_an_entrusted_town_body_files_with_the_bureau(s):
    plan = s.submitted(s.draft(s.entrusted_head))
    assert plan.status == S.BUREAU_REVIEW
    assert s.filed(plan).status == S.FILED


def test_a_city_level_bodys_plan_is_filed_with_the_citys_justice_bureau(s):
    plan = s.submitted(s.draft(s.city_head))
    assert plan.status == S.BUREAU_REVIEW
    with pytest.raises(PermissionDenied):
        services.approve_plan(s.supervisor, plan=plan)  # a district's bureau does not contain the city
    plan = services.approve_plan(s.city_supervisor, plan=plan)
    assert plan.number == f"上海检计备〔{plan.filed_at.year}〕1号"


def test_a_district_body_without_a_city_counterpart_cannot_submit(s):
    lone = BodyFactory(name="金山区水务局", region=s.jinshan, fields=[s.gas])
    s.item.bodies.add(lone)
    plan = s.draft(user_for("body_admin", body=lone))
    with pytest.raises(DomainError, match="金山区水务局未登记市级对口单位"):
        services.submit_plan(user_for("body_admin", body=lone), plan=plan)
    plan.refresh_from_db()
    assert plan.status == S.DRAFT and not plan.reviews.exists()


def test_submission_checks_the_plan_again(s):
    plan = s.draft()
    s.item.bodies.remove(s.body)  # the item was taken from the body after the draft was saved
    with pytest.raises(DomainError, match="检查计划不能报送"):
        services.submit_plan(s.head, plan=plan)
    assert Plan.objects.get(pk=plan.pk).status == S.DRAFT


@pytest.mark.parametrize("who", ["partner_head", "city_reviewer", "supervisor", "other_head", "contact"])
def test_only_the_body_submits(s, who):
    plan = s.draft()
    with pytest.raises(PermissionDenied, match="只有制定计划的执法单位可以报送"):
        services.submit_plan(getattr(s, who), plan=plan)


def test_a_plan_under_review_is_not_submitted_again(s):
    plan = s.submitted()
    with pytest.raises(InvalidTransition, match="当前状态为「待市级执法单位审核」，不能报送"):
        services.submit_plan(s.head, plan=plan)
    assert plan.reviews.count() == 1


@pytest.mark.parametrize(
    "who", ["head", "inspector_user", "city_market_reviewer", "mh_supervisor", "government", "observer"]
)
def test_who_may_not_review(s, who):
    plan = s.submitted()
    with pytest.raises(PermissionDenied):
        services.approve_plan(getattr(s, who), plan=plan)
    with pytest.raises(PermissionDenied):
        services.return_plan(getattr(s, who), plan=plan, comment="不行")
    assert Plan.objects.get(pk=plan.pk).status == S.CITY_REVIEW


def test_reviewers_act_only_on_their_step(s):
    plan = s.draft()
    with pytest.raises(InvalidTransition, match="当前状态为「草稿」，不在市级执法单位审核环节"):
        services.approve_plan(s.city_reviewer, plan=plan)
    plan = s.filed(plan)
    with pytest.raises(InvalidTransition, match="当前状态为「已备案」"):
        services.approve_plan(s.supervisor, plan=plan)
    with pytest.raises(InvalidTransition):
        services.return_plan(s.city_reviewer, plan=plan, comment="再改改")


# --- Return and resubmission ----------------------------------------------------------------------------


def test_returning_needs_a_comment(s):
    plan = s.submitted()
    with pytest.raises(DomainError, match="退回修改须写明修改意见"):
        services.return_plan(s.city_reviewer, plan=plan, comment="  ")
    plan.refresh_from_db()
    assert plan.status == S.CITY_REVIEW
    assert plan.reviews.get().decision == ""


def test_returned_at_the_city_step_revised_and_resubmitted(s):
    plan = s.submitted()
    plan = services.return_plan(s.city_reviewer, plan=plan, comment="预计检查户数偏少，请补充")
    assert plan.status == S.RETURNED
    review = plan.reviews.get()
    assert (review.decision, review.comment, review.reviewer) == (
        "returned",
        "预计检查户数偏少，请补充",
        s.city_reviewer,
    )
    event = audit.history(plan).last()
    assert event.action == "plan.returned" and event.after["comment"] == "预计检查户数偏少，请补充"
    services.update_plan(s.inspector_user, plan=plan, expected_count=60)
    plan = services.submit_plan(s.inspector_user, plan=plan)
    assert plan.status == S.CITY_REVIEW
    assert list(plan.reviews.order_by("pk").values_list("step", "decision")) == [
        ("city", "returned"),
        ("city", ""),
    ]
    plan = s.filed(plan)
    assert plan.status == S.FILED and plan.expected_count == 60


def test_returned_by_the_bureau_starts_the_route_again(s):
    plan = s.submitted()
    plan = services.approve_plan(s.city_reviewer, plan=plan)
    plan = services.return_plan(s.supervisor, plan=plan, comment="检查依据不全")
    assert plan.status == S.RETURNED
    plan = services.submit_plan(s.head, plan=plan)
    # Whatever changed in between, the city-level counterpart sees the plan again.
    assert plan.status == S.CITY_REVIEW
    assert list(plan.reviews.order_by("pk").values_list("step", "decision")) == [
        ("city", "approved"),
        ("bureau", "returned"),
        ("city", ""),
    ]


# --- Numbering ---------------------------------------------------------------------------------------------


def test_numbers_are_sequential_per_bureau_and_year(s, at):
    at(2025, 3, 3, 9)
    first, second = s.filed(), s.filed(title="2025年燃气专项检查计划", method=Plan.Method.SPECIAL)
    town = s.filed(s.draft(s.town_inspector))
    minhang = s.filed(s.draft(s.other_head))
    assert [first.number, second.number, town.number] == [
        "金山检计备〔2025〕1号",
        "金山检计备〔2025〕2号",
        "金山检计备〔2025〕3号",
    ]
    assert minhang.number == "闵行检计备〔2025〕1号"
    at(2026, 1, 5, 9)
    assert s.filed(period_start=D(2026, 1, 1), period_end=D(2026, 12, 31)).number == "金山检计备〔2026〕1号"
    assert PlanNumberCounter.objects.get(region=s.jinshan, year=2025).last == 3


def test_a_number_already_taken_is_skipped(s, at):
    at(2025, 3, 3, 9)
    taken = filed_plan(s.body, items=[s.item])
    Plan.objects.filter(pk=taken.pk).update(number="金山检计备〔2025〕1号")  # e.g. filed before this system
    assert s.filed().number == "金山检计备〔2025〕2号"


@pytest.mark.django_db(transaction=True)
def test_two_bureau_clerks_filing_at_once_get_different_numbers(s):
    """PostgreSQL: the counter row is locked until the filing commits; the first filing of the year even
    races to create it."""
    import threading

    from django.db import connections

    if connection.vendor != "postgresql":
        pytest.skip("SQLite runs one writing transaction at a time (IMMEDIATE); the race needs PostgreSQL")
    plans = []
    for n in range(6):
        plan = s.submitted(s.draft(s.town_inspector, title=f"计划{n}"))
        plans.append(plan)
    start = threading.Barrier(len(plans))
    errors: list[Exception] = []

    def file(plan: Plan) -> None:
        try:
            start.wait()
            services.approve_plan(s.supervisor, plan=plan)
        except Exception as error:  # collected and asserted on below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=file, args=(plan,)) for plan in plans]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    numbers = sorted(Plan.objects.values_list("number", flat=True))
    year = Plan.objects.first().filed_at.year
    assert numbers == sorted(f"金山检计备〔{year}〕{n}号" for n in range(1, 7))
    assert audit.verify_chain()[1] is None


# --- Deadlines on the working-day calendar ------------------------------------------------------------


def test_each_step_has_a_deadline_in_working_days_across_national_day_2025(s, at):
    at(2025, 9, 30, 10)
    plan = s.submitted(period_start=D(2025, 10, 1), period_end=D(2025, 12, 31))
    review = plan.reviews.get()
    # 5 working days after Tuesday 09-30: the holiday runs 10-01..10-08, so 10-09, 10-10, the swapped
    # working Saturday 10-11, 10-13 and 10-14.
    assert review.due == D(2025, 10, 14)
    assert services.step_timing(review, today=D(2025, 9, 30)).text == "剩余5个工作日"
    on_saturday = services.step_timing(review, today=D(2025, 10, 11))
    assert (on_saturday.days_left, on_saturday.overdue) == (2, False)
    assert services.step_timing(review, today=D(2025, 10, 14)).text == "剩余0个工作日"
    late = services.step_timing(review, today=D(2025, 10, 15))
    assert late.overdue and late.text == "已超期1个工作日"

    at(2025, 10, 15, 16)
    plan = services.approve_plan(s.city_reviewer, plan=plan)
    city, bureau = plan.reviews.order_by("pk")
    assert services.step_timing(city).text == "逾期办理"
    # The bureau's five working days run from the day it receives the plan: 10-16, 17, 20, 21, 22.
    assert bureau.due == D(2025, 10, 22)
    at(2025, 10, 22, 9)
    assert not services.step_timing(bureau).overdue
    plan = services.approve_plan(s.supervisor, plan=plan)
    assert services.step_timing(plan.reviews.get(step="bureau")).text == "按期办理"


def test_the_number_of_working_days_is_a_setting(s, at, settings):
    settings.PLAN_REVIEW_WORKING_DAYS = 2
    at(2025, 9, 30, 10)
    # 10-09 and 10-10.
    assert s.submitted().reviews.get().due == D(2025, 10, 10)


def test_reviewers_see_what_waits_for_them(s):
    district = s.submitted()
    town = s.submitted(s.draft(s.town_inspector))
    minhang = s.submitted(s.draft(s.other_head))
    assert set(services.awaiting_review(s.city_reviewer)) == {district, minhang}
    assert set(services.awaiting_review(s.supervisor)) == {town}
    services.approve_plan(s.city_reviewer, plan=district)
    assert set(services.awaiting_review(s.supervisor)) == {town, district}
    assert set(services.awaiting_review(s.mh_supervisor)) == set()
    assert not services.awaiting_review(s.head).exists()


# --- Announcement and the supervisors' lists ------------------------------------------------------------


def test_the_body_admin_publishes_a_filed_plan(s):
    plan = s.filed()
    for who in (s.inspector_user, s.partner_head, s.supervisor, s.city_reviewer):
        with pytest.raises(PermissionDenied, match="只有制定计划的执法单位管理员可以公告"):
            services.publish_plan(who, plan=plan)
    plan = services.publish_plan(s.head, plan=plan)
    assert plan.status == S.PUBLISHED and plan.published_at is not None
    assert actions(plan)[-1] == "plan.published"
    with pytest.raises(InvalidTransition, match="只有已备案的计划可以公告"):
        services.publish_plan(s.head, plan=plan)


@pytest.mark.parametrize("state", ["draft", "submitted"])
def test_a_plan_not_yet_filed_is_not_published(s, state):
    plan = s.draft() if state == "draft" else s.submitted()
    with pytest.raises(InvalidTransition, match="只有已备案的计划可以公告"):
        services.publish_plan(s.head, plan=plan)


def test_supervisors_see_filed_plans_not_yet_published(s):
    waiting = s.filed()
    s.published(title="已公告的计划")
    s.submitted(title="审核中的计划")
    s.filed(s.draft(s.other_head))
    town = s.filed(s.draft(s.town_inspector))
    assert list(services.unpublished_plans(s.supervisor)) == [waiting, town]
    assert [p.body for p in services.unpublished_plans(s.mh_supervisor)] == [s.other_body]
    assert len(services.unpublished_plans(s.city_supervisor)) == 3
    for who in (s.head, s.city_reviewer, s.observer):
        with pytest.raises(PermissionDenied):
            services.unpublished_plans(who)


def test_special_plans_not_published_within_a_month_of_filing_are_flagged(s, at):
    at(2025, 1, 31, 10)
    unpublished = s.filed(title="燃气安全专项整治", method=Plan.Method.SPECIAL)
    published_late = s.filed(title="瓶装燃气专项检查", method=Plan.Method.SPECIAL)
    published_in_time = s.filed(title="餐饮燃气专项检查", method=Plan.Method.SPECIAL)
    routine = s.filed(title="日常检查计划")
    at(2025, 2, 28, 10)  # a month after 01-31 is 02-28: still in time
    services.publish_plan(s.head, plan=published_in_time)
    assert services.publish_deadline(unpublished) == D(2025, 2, 28)
    assert services.late_special_plans(s.supervisor) == []
    at(2025, 3, 5, 10)
    services.publish_plan(s.head, plan=published_late)
    late = services.late_special_plans(s.supervisor)
    assert [(p, p.days_late) for p in late] == [(unpublished, 5), (published_late, 5)]
    assert routine in services.unpublished_plans(s.supervisor)
    assert services.late_special_plans(s.mh_supervisor) == []


def test_add_months_keeps_to_the_end_of_shorter_months():
    assert services.add_months(D(2025, 1, 31), 1) == D(2025, 2, 28)
    assert services.add_months(D(2024, 1, 31), 1) == D(2024, 2, 29)
    assert services.add_months(D(2025, 12, 15), 1) == D(2026, 1, 15)


# --- The pool ---------------------------------------------------------------------------------------------


def test_the_pool_is_the_list_when_one_is_given(s):
    plan = s.draft(target_enterprises=[s.gas_a, s.restaurant], target_industries=["燃气生产和供应业"])
    assert names(services.plan_pool(plan)) == {"金山燃气甲公司", "金山某餐饮店"}


def test_the_pool_filters_by_industry_region_subtree_and_risk_grade(s):
    everything = {"金山燃气甲公司", "金山燃气丙公司", "金山燃气丁公司", "金山某餐饮店"}
    assert names(services.plan_pool(s.draft())) == everything  # the body's district, not Minhang
    assert names(services.plan_pool(s.draft(target_industries=["餐饮业"]))) == {"金山某餐饮店"}
    assert names(services.plan_pool(s.draft(target_regions=[s.zhujing]))) == {
        "金山燃气丙公司",
        "金山某餐饮店",
    }
    assert names(services.plan_pool(s.draft(target_risk_grades=["C", "D"]))) == {
        "金山燃气丙公司",
        "金山燃气丁公司",
    }
    combined = s.draft(
        target_industries=["燃气生产和供应业"],
        target_regions=[s.zhujing, s.fengjing],
        target_risk_grades=["D"],
    )
    assert names(services.plan_pool(combined)) == {"金山燃气丁公司"}
    # A district region takes in its towns.
    EnterpriseFactory(name="朱泾新开燃气公司", region=s.zhujing, industry="燃气生产和供应业")
    assert "朱泾新开燃气公司" in names(services.plan_pool(s.draft(target_regions=[s.jinshan])))


def test_the_pool_stays_within_the_bodys_working_region(s):
    city_plan = s.draft(s.city_head)
    assert "闵行燃气有限公司" in names(services.plan_pool(city_plan))
    town_plan = s.draft(s.town_inspector)
    # A town body works within its district.
    assert "金山燃气甲公司" in names(services.plan_pool(town_plan))
    assert "闵行燃气有限公司" not in names(services.plan_pool(town_plan))
    # A list that somehow names an outsider (written past the services) still yields only the district's.
    town_plan.target_enterprises.set([s.gas_c, s.mh_gas])
    assert names(services.plan_pool(town_plan)) == {"金山燃气丙公司"}


def test_describe_scope_keeps_listed_names_off_the_public_page(s):
    plan = s.draft(target_enterprises=[s.gas_a])
    assert services.describe_scope(plan) == "指定企业名单1家：金山燃气甲公司"
    assert services.describe_scope(plan, public=True) == "指定企业名单1家"
    assert services.describe_scope(s.draft()) == "金山区范围内本单位检查事项涉及的企业"
    scoped = s.draft(target_industries=["餐饮业"], target_risk_grades=["B"])
    assert services.describe_scope(scoped) == "行业：餐饮业；风险等级：B"


def test_review_rows_record_each_step(s):
    plan = s.filed()
    assert PlanReview.objects.filter(plan=plan).count() == 2
