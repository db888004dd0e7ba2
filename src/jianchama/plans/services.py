"""Every change to a plan, its filing and announcement (F-10–F-12), and plan coordination (F-13).

Each function takes the acting user first, checks permission and state, changes the data in one transaction
and appends to the audit log. `plan_pool` resolves a plan's target scope to enterprises; the random draw
and the coordination of plans both use it.

Filing routes: a district body's plan goes to its city-level counterpart, then to the justice bureau of its
district; a town or street body's plan to the justice bureau of its district; a city-level body's plan (the
documents say nothing of it) to the justice bureau of the city's region. Each step has a deadline of
PLAN_REVIEW_WORKING_DAYS working days (the documents give none; 5 by default).
"""

from __future__ import annotations

import calendar
import dataclasses
import datetime
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from jianchama.core import audit
from jianchama.core.errors import DomainError, InvalidTransition, PermissionDenied, raise_if
from jianchama.core.formats import chinese_date
from jianchama.core.numbering import take_number
from jianchama.core.roles import Role
from jianchama.core.workdays import add_working_days, working_days_between
from jianchama.registry import legal_acts
from jianchama.registry.legal_acts import LegalAct
from jianchama.registry.models import (
    EnforcementBody,
    Enterprise,
    InspectionItem,
    Region,
    enterprise_region_of,
)

from .models import (
    PROPOSAL_TRANSITIONS,
    TRANSITIONS,
    CoordinationProposal,
    CoordinationResponse,
    Plan,
    PlanNumberCounter,
    PlanReview,
)

AUDIT_ACTIONS: dict[str, str] = {
    "plan.created": "创建检查计划",
    "plan.updated": "修改检查计划",
    "plan.submitted": "报送备案",
    "plan.city_approved": "市级执法单位审核通过",
    "plan.filed": "区司法局备案通过",
    "plan.returned": "退回修改",
    "plan.published": "公告检查计划",
    "coordination.proposed": "提出联合检查建议",
    "coordination.accepted": "执法单位接受联合检查建议",
    "coordination.declined": "执法单位不接受联合检查建议",
}

PLAN_FIELDS = [
    "number",
    "body",
    "title",
    "period_start",
    "period_end",
    "method",
    "items",
    "target_industries",
    "target_regions",
    "target_risk_grades",
    "target_enterprises",
    "expected_count",
    "description",
    "status",
]

DEFAULT_REVIEW_WORKING_DAYS = 5
# A special campaign's plan is to be announced within a month of its filing (F-12).
SPECIAL_PUBLISH_MONTHS = 1

S = Plan.Status
Step = PlanReview.Step
REVIEW_STATUS = {Step.CITY: S.CITY_REVIEW, Step.BUREAU: S.BUREAU_REVIEW}
EDITABLE = (S.DRAFT, S.RETURNED)
FILED_STATES = (S.FILED, S.PUBLISHED)


def review_working_days() -> int:
    return int(getattr(settings, "PLAN_REVIEW_WORKING_DAYS", DEFAULT_REVIEW_WORKING_DAYS))


def _locked(plan: Plan) -> Plan:
    return Plan.objects.select_for_update().select_related("body", "body__region").get(pk=plan.pk)


def _transition(plan: Plan, to: str) -> None:
    if to not in TRANSITIONS[plan.status]:
        raise InvalidTransition(
            f"检查计划「{plan.title}」当前状态为「{plan.get_status_display()}」，不能变为「{S(to).label}」"
        )
    plan.status = to


def _record(actor, action: str, plan: Plan, before: dict | None, **extra: Any) -> None:
    after = audit.snapshot(plan, PLAN_FIELDS)
    after.update(extra)
    audit.record(actor=actor, action=action, obj=plan, before=before, after=after)


def add_months(day: datetime.date, months: int) -> datetime.date:
    """The same day `months` later, or the month's last day when it is shorter (1月31日 → 2月28日)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return datetime.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


# --- Routes and who may do what (views use these to show or hide buttons) --------------------------


def filing_route(body: EnforcementBody) -> list[str]:
    """The steps a plan of `body` goes through: city-level review (district bodies), then the bureau."""
    if body.level == EnforcementBody.Level.DISTRICT:
        return [Step.CITY, Step.BUREAU]
    return [Step.BUREAU]


def filing_region(body: EnforcementBody) -> Region:
    """The region whose justice bureau files the plans of `body`: its district; the city's for a city body."""
    if body.level == EnforcementBody.Level.CITY:
        return body.region
    return body.region.district() or body.region


def is_member(user, plan: Plan) -> bool:
    return (
        user.is_authenticated
        and user.role in (Role.INSPECTOR, Role.BODY_ADMIN)
        and user.body_id is not None
        and user.body_id == plan.body_id
    )


def can_create_plans(user) -> bool:
    return (
        user.is_authenticated
        and user.role in (Role.INSPECTOR, Role.BODY_ADMIN)
        and user.body_id is not None
        and user.body.is_active
    )


def can_edit(user, plan: Plan) -> bool:
    return plan.status in EDITABLE and is_member(user, plan)


can_submit = can_edit


def reviewer_step(user, plan: Plan) -> str | None:
    """Which filing step `user` acts on for `plan`, whatever its state: the city-level counterpart's
    reviewer the first, a supervisor whose region contains the body's the second."""
    if not user.is_authenticated:
        return None
    if (
        user.role == Role.CITY_REVIEWER
        and user.body_id is not None
        and user.body_id == plan.body.city_counterpart_id
        and Step.CITY in filing_route(plan.body)
    ):
        return Step.CITY
    if legal_acts.may_perform(user, LegalAct.FILE_PLAN, plan.body):
        return Step.BUREAU
    return None


def can_review(user, plan: Plan) -> bool:
    step = reviewer_step(user, plan)
    return step is not None and plan.status == REVIEW_STATUS[step]


def can_publish(user, plan: Plan) -> bool:
    return (
        plan.status == S.FILED
        and user.is_authenticated
        and user.role == Role.BODY_ADMIN
        and user.body_id == plan.body_id
    )


def is_supervisor(user) -> bool:
    return user.is_authenticated and (
        user.is_platform_admin or (user.role == Role.SUPERVISOR and user.region_id is not None)
    )


# --- The target scope --------------------------------------------------------------------------------


def plan_pool(plan: Plan) -> QuerySet[Enterprise]:
    """The enterprises a plan's target scope reaches, within the region its body works on.

    A list of enterprises, if the plan names one, is the scope; otherwise industries, regions (each with its
    subtree) and risk grades narrow it, an empty criterion not restricting. Ordered as `Enterprise` is
    (by name); callers that need a stable order for hashing order by what they hash.
    """
    enterprises = Enterprise.objects.all()
    working = enterprise_region_of(plan.body)
    if working is not None:
        enterprises = enterprises.filter(region__path__startswith=working.path)
    if plan.pk is None:
        return enterprises.none()
    listed = plan.target_enterprises.values("pk")
    if listed.exists():
        return enterprises.filter(pk__in=listed)
    if plan.target_industries:
        enterprises = enterprises.filter(industry__in=plan.target_industries)
    regions = list(plan.target_regions.all())
    if regions:
        within = Q(pk__in=[])
        for region in regions:
            within |= Q(region__path__startswith=region.path)
        enterprises = enterprises.filter(within)
    if plan.target_risk_grades:
        enterprises = enterprises.filter(risk_grade__in=plan.target_risk_grades)
    return enterprises


def describe_scope(plan: Plan, *, public: bool = False, regions: Sequence[Region] | None = None) -> str:
    """The target scope in words. `public`: for the announcement, a list of enterprises is given by its size
    only, so that no enterprise learns from the public page that it is to be inspected. `regions`: the plan's
    target regions when the caller has read them already."""
    if plan.pk is None:
        return ""
    # A list read for the public (views.plans._published) arrives with the size of its enterprise list.
    if public and getattr(plan, "listed_count", None) is not None:
        if plan.listed_count:
            return f"指定企业名单{plan.listed_count}家"
        listed = []
    else:
        listed = list(plan.target_enterprises.all()[:11])
    if listed:
        count = plan.target_enterprises.count()
        if public:
            return f"指定企业名单{count}家"
        names = "、".join(e.name for e in listed[:10])
        return f"指定企业名单{count}家：{names}" + ("等" if count > 10 else "")
    parts = []
    if plan.target_industries:
        parts.append("行业：" + "、".join(plan.target_industries))
    regions = list(plan.target_regions.all()) if regions is None else regions
    if regions:
        parts.append("区域：" + "、".join(r.name for r in regions))
    if plan.target_risk_grades:
        parts.append("风险等级：" + "、".join(plan.target_risk_grades))
    working = enterprise_region_of(plan.body)
    where = working.name if working is not None else "全市"
    return "；".join(parts) if parts else f"{where}范围内本单位检查事项涉及的企业"


# --- Creating and editing drafts (F-10) ----------------------------------------------------------------


@dataclass
class PlanInput:
    title: str
    period_start: datetime.date | None
    period_end: datetime.date | None
    method: str
    items: Sequence[InspectionItem]
    expected_count: int | None
    description: str = ""
    target_industries: Sequence[str] = ()
    target_regions: Sequence[Region] = ()
    target_risk_grades: Sequence[str] = ()
    target_enterprises: Sequence[Enterprise] = ()

    def cleaned_industries(self) -> list[str]:
        return list(dict.fromkeys(i.strip() for i in self.target_industries if i and i.strip()))


def _authority_problems(
    body: EnforcementBody,
    items: Iterable[InspectionItem],
    start: datetime.date | None,
    end: datetime.date | None,
) -> list[str]:
    """Each item must be published and within the body's authority: the body is among those that may
    check it, or (for an entrusted body) it is in the entrustment scope for the whole period."""
    problems = []
    for item in items:
        if not item.is_published:
            problems.append(f"检查事项「{item.name}」不在已公布的检查事项清单中（无事项不检查）")
        elif item.bodies.filter(pk=body.pk).exists():
            continue
        elif (
            body.body_type == EnforcementBody.Type.ENTRUSTED
            and body.entrusted_items.filter(pk=item.pk).exists()
        ):
            if start and end and not (body.entrustment_covers(start) and body.entrustment_covers(end)):
                span = (
                    f"{chinese_date(body.entrustment_start)}至{chinese_date(body.entrustment_end)}"
                    if body.entrustment_start and body.entrustment_end
                    else "未登记"
                )
                problems.append(f"检查事项「{item.name}」属于委托事项，委托期限（{span}）未覆盖整个计划期间")
        else:
            problems.append(f"检查事项「{item.name}」不在{body.name}的职权或委托权限范围内")
    return problems


def _input_problems(body: EnforcementBody, data: PlanInput) -> list[str]:
    problems = []
    if not body.is_active:
        problems.append(f"执法单位{body.name}已停用")
    if not (data.title or "").strip():
        problems.append("请填写计划名称")
    elif len(data.title.strip()) > 200:
        problems.append("计划名称不能超过200字")
    if data.method not in Plan.Method.values:
        problems.append("请选择检查方式（双随机抽查、专项检查、日常检查或其他有计划检查）")
    if data.period_start is None or data.period_end is None:
        problems.append("请填写计划期间的起止日期")
    elif data.period_end < data.period_start:
        problems.append(
            f"计划期间止（{chinese_date(data.period_end)}）不能早于计划期间起（{chinese_date(data.period_start)}）"
        )
    if not data.items:
        problems.append("请至少选择一项检查事项")
    problems += _authority_problems(body, data.items, data.period_start, data.period_end)
    if data.expected_count is None:
        problems.append("请填写预计检查户数")
    elif data.expected_count < 1:
        problems.append("预计检查户数须至少为1户")
    bad_grades = [g for g in data.target_risk_grades if g not in Enterprise.RiskGrade.values]
    if bad_grades:
        problems.append(f"风险等级「{'、'.join(map(str, bad_grades))}」不存在，可选A、B、C、D")
    working = enterprise_region_of(body)
    if working is not None:
        outside = [r.name for r in data.target_regions if not working.contains(r)]
        if outside:
            problems.append(f"目标区域「{'、'.join(outside)}」不在本单位的管辖范围（{working.name}）内")
        strangers = [e.name for e in data.target_enterprises if not working.contains(e.region)]
        if strangers:
            problems.append(f"企业「{'、'.join(strangers)}」不在本单位的管辖范围（{working.name}）内")
    return problems


def _save_input(plan: Plan, data: PlanInput) -> None:
    plan.title = data.title.strip()
    plan.period_start = data.period_start
    plan.period_end = data.period_end
    plan.method = data.method
    plan.expected_count = data.expected_count
    plan.description = (data.description or "").strip()
    plan.target_industries = data.cleaned_industries()
    plan.target_risk_grades = sorted(set(data.target_risk_grades))
    plan.save()
    plan.items.set(data.items)
    plan.target_regions.set(data.target_regions)
    plan.target_enterprises.set(data.target_enterprises)


@transaction.atomic
def create_plan(
    actor,
    *,
    title: str,
    period_start: datetime.date | None,
    period_end: datetime.date | None,
    method: str,
    items: Sequence[InspectionItem],
    expected_count: int | None,
    description: str = "",
    target_industries: Sequence[str] = (),
    target_regions: Sequence[Region] = (),
    target_risk_grades: Sequence[str] = (),
    target_enterprises: Sequence[Enterprise] = (),
) -> Plan:
    """A draft plan of the actor's body. The target scope: a list of enterprises, or any of industries,
    regions and risk grades (none of them: every enterprise the body works on)."""
    data = PlanInput(
        title=title,
        period_start=period_start,
        period_end=period_end,
        method=method,
        items=list(items),
        expected_count=expected_count,
        description=description,
        target_industries=list(target_industries),
        target_regions=list(target_regions),
        target_risk_grades=list(target_risk_grades),
        target_enterprises=list(target_enterprises),
    )
    if not can_create_plans(actor):
        raise PermissionDenied("只有执法单位的执法人员或管理员可以制定本单位的检查计划")
    body = actor.body
    raise_if(_input_problems(body, data), "检查计划未保存")
    plan = Plan(body=body, created_by=actor, status=S.DRAFT)
    _save_input(plan, data)
    _record(actor, "plan.created", plan, None)
    return plan


@transaction.atomic
def update_plan(actor, *, plan: Plan, **changes: Any) -> Plan:
    """Change a draft, or a plan returned for revision. `changes` are `create_plan`'s arguments; those not
    given keep their stored values."""
    unknown = set(changes) - set(PlanInput.__dataclass_fields__)
    if unknown:
        raise TypeError(f"update_plan() got unexpected arguments: {', '.join(sorted(unknown))}")
    plan = _locked(plan)
    if not is_member(actor, plan):
        raise PermissionDenied("只有制定计划的执法单位可以修改该计划")
    if plan.status not in EDITABLE:
        raise InvalidTransition(
            f"检查计划「{plan.title}」当前状态为「{plan.get_status_display()}」，只有草稿或退回修改的计划可以修改"
        )
    data = dataclasses.replace(input_of(plan), **changes)
    raise_if(_input_problems(plan.body, data), "检查计划未保存")
    before = audit.snapshot(plan, PLAN_FIELDS)
    _save_input(plan, data)
    _record(actor, "plan.updated", plan, before)
    return plan


def input_of(plan: Plan) -> PlanInput:
    """A stored plan's values, to check them again on submission."""
    return PlanInput(
        title=plan.title,
        period_start=plan.period_start,
        period_end=plan.period_end,
        method=plan.method,
        items=list(plan.items.all()),
        expected_count=plan.expected_count,
        description=plan.description,
        target_industries=list(plan.target_industries),
        target_regions=list(plan.target_regions.all()),
        target_risk_grades=list(plan.target_risk_grades),
        target_enterprises=list(plan.target_enterprises.select_related("region")),
    )


# --- Filing (F-11) -------------------------------------------------------------------------------------


def _open_review(plan: Plan, step: str, now: datetime.datetime) -> PlanReview:
    received = timezone.localdate(now)
    return PlanReview.objects.create(
        plan=plan, step=step, received_at=now, due=add_working_days(received, review_working_days())
    )


def pending_review(plan: Plan) -> PlanReview | None:
    return plan.reviews.filter(decision="").order_by("-received_at", "-pk").first()


@transaction.atomic
def submit_plan(actor, *, plan: Plan) -> Plan:
    """Send a draft (or a returned plan, from the first step again) on its filing route."""
    plan = _locked(plan)
    if not is_member(actor, plan):
        raise PermissionDenied("只有制定计划的执法单位可以报送该计划")
    if plan.status not in EDITABLE:
        raise InvalidTransition(
            f"检查计划「{plan.title}」当前状态为「{plan.get_status_display()}」，不能报送（只有草稿或退回修改的计划可以报送）"
        )
    body = plan.body
    problems = _input_problems(body, input_of(plan))
    step = filing_route(body)[0]
    if step == Step.CITY:
        counterpart = body.city_counterpart
        if counterpart is None:
            problems.append(
                f"区级执法单位的计划须先报市级对口单位审核，但{body.name}未登记市级对口单位；请平台管理员在执法单位信息中补充"
            )
        elif not counterpart.is_active:
            problems.append(f"市级对口单位{counterpart.name}已停用，请平台管理员更正执法单位信息")
    raise_if(problems, "检查计划不能报送")
    before = audit.snapshot(plan, PLAN_FIELDS)
    _transition(plan, REVIEW_STATUS[step])
    now = timezone.now()
    plan.submitted_at = now
    plan.save(update_fields=["status", "submitted_at"])
    review = _open_review(plan, step, now)
    _record(actor, "plan.submitted", plan, before, step=review.get_step_display(), due=review.due)
    return plan


def _review_context(actor, plan: Plan) -> tuple[str, PlanReview]:
    """The step the actor may act on, and the plan's pending review of that step; refuses otherwise."""
    step = reviewer_step(actor, plan)
    if step is None:
        if Step.CITY in filing_route(plan.body):
            who = "该单位的市级对口单位审核人或辖区司法局执法监督人员"
        else:
            who = "辖区司法局执法监督人员"
        raise PermissionDenied(f"只有{who}可以审核检查计划「{plan.title}」")
    if plan.status != REVIEW_STATUS[step]:
        raise InvalidTransition(
            f"检查计划「{plan.title}」当前状态为「{plan.get_status_display()}」，不在{Step(step).label}环节"
        )
    review = plan.reviews.select_for_update().filter(step=step, decision="").order_by("-received_at").first()
    if review is None:  # a state with no open step: data changed outside the services
        review = _open_review(plan, step, timezone.now())
    return step, review


@transaction.atomic
def approve_plan(actor, *, plan: Plan, comment: str = "") -> Plan:
    """The current step approves: the city-level review passes the plan to the bureau; the bureau files it
    and gives it its number."""
    plan = _locked(plan)
    step, review = _review_context(actor, plan)
    before = audit.snapshot(plan, PLAN_FIELDS)
    now = timezone.now()
    review.reviewer, review.decision = actor, PlanReview.Decision.APPROVED
    review.comment, review.decided_at = comment.strip(), now
    review.save(update_fields=["reviewer", "decision", "comment", "decided_at"])
    if step == Step.CITY:
        _transition(plan, S.BUREAU_REVIEW)
        plan.save(update_fields=["status"])
        following = _open_review(plan, Step.BUREAU, now)
        extra = {"comment": review.comment} if review.comment else {}
        _record(actor, "plan.city_approved", plan, before, next_due=following.due, **extra)
    else:
        _transition(plan, S.FILED)
        plan.number = _next_number(plan.body, timezone.localdate(now).year)
        plan.filed_at = now
        plan.save(update_fields=["status", "number", "filed_at"])
        _record(actor, "plan.filed", plan, before, **({"comment": review.comment} if review.comment else {}))
    return plan


@transaction.atomic
def return_plan(actor, *, plan: Plan, comment: str) -> Plan:
    """The current step returns the plan to its body for revision, saying what to change."""
    plan = _locked(plan)
    step, review = _review_context(actor, plan)
    if not (comment or "").strip():
        raise DomainError("退回修改须写明修改意见，告诉执法单位要改什么")
    before = audit.snapshot(plan, PLAN_FIELDS)
    review.reviewer, review.decision = actor, PlanReview.Decision.RETURNED
    review.comment, review.decided_at = comment.strip(), timezone.now()
    review.save(update_fields=["reviewer", "decision", "comment", "decided_at"])
    _transition(plan, S.RETURNED)
    plan.save(update_fields=["status"])
    _record(actor, "plan.returned", plan, before, step=Step(step).label, comment=review.comment)
    return plan


def short_name(region: Region) -> str:
    """金山区 → 金山, 浦东新区 → 浦东, 上海市 → 上海: the prefix of a filing number."""
    for suffix in ("新区", "区", "市", "县"):
        if region.name.endswith(suffix) and len(region.name) > len(suffix) + 1:
            return region.name[: -len(suffix)]
    return region.name


def _next_number(body: EnforcementBody, year: int) -> str:
    """The next filing number of the bureau filing `body`'s plans, e.g. 金山检计备〔2025〕3号.

    The counter row is locked until the filing commits, so two bureaus' clerks filing at once wait for each
    other instead of taking the same number; the loop skips numbers taken outside the counter.
    """
    region = filing_region(body)
    prefix = short_name(region)
    return take_number(
        PlanNumberCounter, {"region": region, "year": year}, Plan, lambda n: f"{prefix}检计备〔{year}〕{n}号"
    )


@dataclass(frozen=True)
class StepTiming:
    """A filing step's deadline seen from a day: working days left (negative when overdue) while pending,
    and whether it was (or is being) handled late."""

    due: datetime.date
    pending: bool
    days_left: int | None
    overdue: bool

    @property
    def text(self) -> str:
        if not self.pending:
            return "逾期办理" if self.overdue else "按期办理"
        if self.overdue:
            return f"已超期{-self.days_left}个工作日" if self.days_left else "已超期"
        return f"剩余{self.days_left}个工作日"


def step_timing(review: PlanReview, today: datetime.date | None = None) -> StepTiming:
    today = today or timezone.localdate()
    if review.decision:
        decided = timezone.localdate(review.decided_at) if review.decided_at else today
        return StepTiming(due=review.due, pending=False, days_left=None, overdue=decided > review.due)
    return StepTiming(
        due=review.due,
        pending=True,
        days_left=working_days_between(today, review.due),
        overdue=today > review.due,
    )


def awaiting_review(actor) -> QuerySet[Plan]:
    """Plans waiting for the actor's step: the city-level reviewer's or the supervisor's."""
    plans = Plan.objects.visible_to(actor).select_related("body")
    if not actor.is_authenticated:
        return plans.none()
    if actor.role == Role.CITY_REVIEWER and actor.body_id:
        return plans.filter(status=S.CITY_REVIEW, body__city_counterpart_id=actor.body_id)
    if actor.role == Role.SUPERVISOR and actor.region_id:
        return plans.filter(status=S.BUREAU_REVIEW, body__region__path__startswith=actor.region.path)
    return plans.none()


# --- Announcement (F-12) -------------------------------------------------------------------------------


@transaction.atomic
def publish_plan(actor, *, plan: Plan) -> Plan:
    """The body announces its filed plan on the public page and in the open data."""
    plan = _locked(plan)
    if not (actor.is_authenticated and actor.role == Role.BODY_ADMIN and actor.body_id == plan.body_id):
        raise PermissionDenied("只有制定计划的执法单位管理员可以公告该计划")
    if plan.status != S.FILED:
        raise InvalidTransition(
            f"检查计划「{plan.title}」当前状态为「{plan.get_status_display()}」，只有已备案的计划可以公告"
        )
    before = audit.snapshot(plan, PLAN_FIELDS)
    _transition(plan, S.PUBLISHED)
    plan.published_at = timezone.now()
    plan.save(update_fields=["status", "published_at"])
    _record(actor, "plan.published", plan, before)
    return plan


def publish_deadline(plan: Plan) -> datetime.date | None:
    """By when a special campaign's plan is to be announced: a month after filing."""
    if plan.method != Plan.Method.SPECIAL or plan.filed_at is None:
        return None
    return add_months(timezone.localdate(plan.filed_at), SPECIAL_PUBLISH_MONTHS)


def _supervised(actor) -> QuerySet[Plan]:
    """The plans of the bodies in the supervisor's region (published plans of other regions are public,
    but not this supervisor's to watch)."""
    if not is_supervisor(actor):
        raise PermissionDenied("只有司法局执法监督人员可以查看计划备案和公告的监督情况")
    plans = Plan.objects.visible_to(actor).select_related("body")
    if actor.is_platform_admin:
        return plans
    return plans.filter(body__region__path__startswith=actor.region.path)


def unpublished_plans(actor) -> QuerySet[Plan]:
    """Filed plans of the supervisor's region not yet announced, longest waiting first."""
    return _supervised(actor).filter(status=S.FILED).order_by("filed_at", "pk")


def late_special_plans(actor, today: datetime.date | None = None) -> list[Plan]:
    """Special campaigns' plans not announced within a month of filing: still unannounced past the month, or
    announced after it. Each carries `publish_due` and `days_late` (calendar days)."""
    plans = (
        _supervised(actor)
        .filter(method=Plan.Method.SPECIAL, status__in=FILED_STATES, filed_at__isnull=False)
        .order_by("filed_at", "pk")
    )
    today = today or timezone.localdate()
    late = []
    for plan in plans:
        due = publish_deadline(plan)
        announced = timezone.localdate(plan.published_at) if plan.published_at else None
        if (announced or today) > due:
            plan.publish_due = due
            plan.days_late = ((announced or today) - due).days
            late.append(plan)
    return late


# --- Coordination (F-13) -------------------------------------------------------------------------------


@dataclass
class Overlap:
    """Plans of two or more bodies reaching the same enterprises in a common period."""

    plans: list[Plan]
    enterprises: list[Enterprise]
    start: datetime.date
    end: datetime.date
    proposal: CoordinationProposal | None = None
    bodies: list[EnforcementBody] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.bodies:
            self.bodies = list({p.body_id: p.body for p in self.plans}.values())

    @property
    def plan_ids(self) -> list[int]:
        return [p.pk for p in self.plans]


def may_coordinate(user) -> bool:
    return user.is_authenticated and (
        user.is_platform_admin
        or (user.role == Role.SUPERVISOR and user.region_id is not None)
        or (user.role in (Role.INSPECTOR, Role.BODY_ADMIN, Role.CITY_REVIEWER) and user.body_id is not None)
    )


def default_region(user) -> Region | None:
    if user.role == Role.SUPERVISOR:
        return user.region
    if user.body_id:
        return enterprise_region_of(user.body) or user.body.region
    return Region.objects.filter(parent__isnull=True).first()


def _reaches(body: EnforcementBody, region: Region) -> bool:
    working = enterprise_region_of(body)
    return working is None or working.contains(region) or region.contains(working)


def _period_groups(plans: list[Plan], start: datetime.date, end: datetime.date) -> list[list[Plan]]:
    """The largest sets of `plans` whose periods (within start..end) share at least one day."""
    spans = {p.pk: (max(p.period_start, start), min(p.period_end, end)) for p in plans}
    candidates = []
    for plan in plans:
        day = spans[plan.pk][0]
        group = frozenset(p.pk for p in plans if spans[p.pk][0] <= day <= spans[p.pk][1])
        if group not in candidates:
            candidates.append(group)
    maximal = [g for g in candidates if not any(g < other for other in candidates)]
    by_pk = {p.pk: p for p in plans}
    return [sorted((by_pk[pk] for pk in group), key=lambda p: p.pk) for group in maximal]


def _check_coordination_scope(actor, region: Region, start, end) -> None:
    if not may_coordinate(actor):
        raise PermissionDenied("只有执法单位和司法局执法监督人员可以查看计划重叠情况")
    if start is None or end is None:
        raise DomainError("请填写期间的起止日期")
    if end < start:
        raise DomainError(f"期间止（{chinese_date(end)}）不能早于期间起（{chinese_date(start)}）")
    if actor.role == Role.SUPERVISOR and not actor.region.contains(region):
        raise PermissionDenied(
            f"只能查看本辖区（{actor.region.name}）内的计划重叠情况，{region.name}不在其中"
        )


def _coordinable_plans(actor, start, end) -> QuerySet[Plan]:
    return (
        Plan.objects.visible_to(actor)
        .filter(status__in=FILED_STATES, period_start__lte=end, period_end__gte=start)
        .select_related("body", "body__region")
    )


def find_overlaps(actor, *, region: Region, start: datetime.date, end: datetime.date) -> list[Overlap]:
    """Enterprises of `region` in the target scopes of filed plans of two or more bodies whose periods
    overlap within start..end, grouped by the plans that share them, most enterprises first. Each overlap
    carries the open proposal already made for the same plans, if any."""
    _check_coordination_scope(actor, region, start, end)
    plans = [p for p in _coordinable_plans(actor, start, end) if _reaches(p.body, region)]
    covering: dict[int, list[Plan]] = defaultdict(list)
    for plan in plans:
        for enterprise_id in (
            plan_pool(plan).filter(region__path__startswith=region.path).values_list("pk", flat=True)
        ):
            covering[enterprise_id].append(plan)
    groups: dict[tuple[int, ...], list[int]] = defaultdict(list)
    for enterprise_id, its_plans in covering.items():
        if len({p.body_id for p in its_plans}) < 2:
            continue
        for group in _period_groups(its_plans, start, end):
            if len({p.body_id for p in group}) >= 2:
                groups[tuple(p.pk for p in group)].append(enterprise_id)
    enterprises = Enterprise.objects.in_bulk([e for ids in groups.values() for e in ids])
    by_pk = {p.pk: p for p in plans}
    open_proposals = _open_proposals([pk for key in groups for pk in key])
    overlaps = []
    for key, enterprise_ids in groups.items():
        members = [by_pk[pk] for pk in key]
        overlaps.append(
            Overlap(
                plans=members,
                enterprises=sorted((enterprises[e] for e in enterprise_ids), key=lambda e: e.name),
                start=max([start] + [p.period_start for p in members]),
                end=min([end] + [p.period_end for p in members]),
                proposal=open_proposals.get(frozenset(key)),
            )
        )
    overlaps.sort(key=lambda o: (-len(o.enterprises), o.plan_ids))
    return overlaps


def _open_proposals(plan_ids: Iterable[int]) -> dict[frozenset[int], CoordinationProposal]:
    """Open (proposed or accepted) proposals touching these plans, by their exact set of plans."""
    proposals = (
        CoordinationProposal.objects.filter(
            plans__in=set(plan_ids),
            status__in=[CoordinationProposal.Status.PROPOSED, CoordinationProposal.Status.ACCEPTED],
        )
        .distinct()
        .prefetch_related("plans")
    )
    return {frozenset(p.pk for p in proposal.plans.all()): proposal for proposal in proposals}


def _shared_enterprises(plans: Sequence[Plan], region: Region) -> set[int]:
    shared: set[int] | None = None
    for plan in plans:
        ids = set(plan_pool(plan).filter(region__path__startswith=region.path).values_list("pk", flat=True))
        shared = ids if shared is None else shared & ids
    return shared or set()


@transaction.atomic
def propose_merge(
    actor,
    *,
    region: Region,
    start: datetime.date,
    end: datetime.date,
    plans: Sequence[Plan],
    enterprises: Sequence[Enterprise] | None = None,
    comment: str = "",
) -> CoordinationProposal:
    """Propose that the bodies of `plans` inspect their shared enterprises jointly. A supervisor of the region
    or the administrator of one of the bodies proposes; the proposer's body counts as having accepted."""
    _check_coordination_scope(actor, region, start, end)
    plan_ids = sorted({p.pk for p in plans})
    # Locking the plans makes two proposals for the same plans wait for each other (no duplicates).
    locked = list(Plan.objects.select_for_update().filter(pk__in=plan_ids).order_by("pk"))
    members = list(_coordinable_plans(actor, start, end).filter(pk__in=plan_ids).order_by("pk"))
    bodies = {p.body_id: p.body for p in members}
    proposer_body = None
    if actor.role == Role.BODY_ADMIN and actor.body_id in bodies:
        proposer_body = bodies[actor.body_id]
    elif not (actor.is_platform_admin or actor.role == Role.SUPERVISOR):
        raise PermissionDenied("只有辖区司法局执法监督人员或涉及计划的执法单位管理员可以提出联合检查建议")
    problems = []
    if len(members) < len(locked) or len(locked) < len(plan_ids):
        problems.append("所选检查计划中有未备案、不可见或期间不在所选范围内的计划")
    if len(bodies) < 2:
        problems.append("联合检查建议须涉及两个以上执法单位的检查计划")
    window_start = max([start] + [p.period_start for p in members])
    window_end = min([end] + [p.period_end for p in members])
    if members and window_end < window_start:
        problems.append("所选检查计划的期间没有共同的日期")
    raise_if(problems, "不能提出联合检查建议")
    shared = _shared_enterprises(members, region)
    if enterprises is None:
        chosen = list(Enterprise.objects.filter(pk__in=shared))
    else:
        chosen = list(dict.fromkeys(enterprises))
        outside = [e.name for e in chosen if e.pk not in shared]
        if outside:
            problems.append(f"企业「{'、'.join(outside)}」不在所选各计划共同的检查范围内")
    if not chosen and not problems:
        problems.append(f"所选检查计划在{region.name}没有共同的检查对象")
    existing = _open_proposals(plan_ids).get(frozenset(plan_ids))
    if existing is not None:
        problems.append(f"已有涉及相同检查计划的{existing}（{existing.get_status_display()}）")
    raise_if(problems, "不能提出联合检查建议")
    proposal = CoordinationProposal.objects.create(
        region=region,
        period_start=window_start,
        period_end=window_end,
        comment=(comment or "").strip(),
        proposed_by=actor,
    )
    proposal.plans.set(members)
    proposal.enterprises.set(chosen)
    now = timezone.now()
    for body in sorted(bodies.values(), key=lambda b: b.code):
        mine = proposer_body is not None and body.pk == proposer_body.pk
        CoordinationResponse.objects.create(
            proposal=proposal,
            body=body,
            decision=CoordinationResponse.Decision.ACCEPTED
            if mine
            else CoordinationResponse.Decision.PENDING,
            responder=actor if mine else None,
            responded_at=now if mine else None,
            comment="提出建议的单位" if mine else "",
        )
    audit.record(
        actor=actor,
        action="coordination.proposed",
        obj=proposal,
        after={
            "region": region.name,
            "period": [window_start, window_end],
            "plans": [p.number for p in members],
            "bodies": [b.name for b in bodies.values()],
            "enterprises": [e.uscc for e in chosen],
            "comment": proposal.comment,
        },
    )
    return proposal


def _respond(actor, proposal: CoordinationProposal, decision: str, comment: str) -> CoordinationProposal:
    proposal = CoordinationProposal.objects.select_for_update().get(pk=proposal.pk)
    if not (actor.is_authenticated and actor.role == Role.BODY_ADMIN and actor.body_id):
        raise PermissionDenied("只有涉及的执法单位管理员可以确认联合检查建议")
    response = proposal.responses.select_for_update().filter(body_id=actor.body_id).first()
    if response is None:
        raise PermissionDenied(f"{actor.body.name}不是{proposal}涉及的执法单位")
    target = (
        CoordinationProposal.Status.DECLINED
        if decision == CoordinationResponse.Decision.DECLINED
        else CoordinationProposal.Status.ACCEPTED
    )
    if target not in PROPOSAL_TRANSITIONS[proposal.status]:
        raise InvalidTransition(f"{proposal}当前状态为「{proposal.get_status_display()}」，不能再确认")
    if response.decision != CoordinationResponse.Decision.PENDING:
        raise DomainError(
            f"{actor.body.name}已于{timezone.localtime(response.responded_at):%Y-%m-%d %H:%M}"
            f"表示「{response.get_decision_display()}」"
        )
    if decision == CoordinationResponse.Decision.DECLINED and not (comment or "").strip():
        raise DomainError("不接受联合检查建议须写明理由")
    now = timezone.now()
    response.decision, response.comment = decision, (comment or "").strip()
    response.responder, response.responded_at = actor, now
    response.save(update_fields=["decision", "comment", "responder", "responded_at"])
    before = proposal.status
    if decision == CoordinationResponse.Decision.DECLINED:
        proposal.status, proposal.decided_at = CoordinationProposal.Status.DECLINED, now
    elif not proposal.responses.exclude(decision=CoordinationResponse.Decision.ACCEPTED).exists():
        proposal.status, proposal.decided_at = CoordinationProposal.Status.ACCEPTED, now
    proposal.save(update_fields=["status", "decided_at"])
    audit.record(
        actor=actor,
        action=f"coordination.{decision}",
        obj=proposal,
        before={"status": before},
        after={"status": proposal.status, "body": actor.body.name, "comment": response.comment},
    )
    return proposal


@transaction.atomic
def accept_proposal(actor, *, proposal: CoordinationProposal, comment: str = "") -> CoordinationProposal:
    """The actor's body accepts; when every body concerned has, the proposal is accepted."""
    return _respond(actor, proposal, CoordinationResponse.Decision.ACCEPTED, comment)


@transaction.atomic
def decline_proposal(actor, *, proposal: CoordinationProposal, comment: str) -> CoordinationProposal:
    """The actor's body declines, saying why; the proposal is then declined."""
    return _respond(actor, proposal, CoordinationResponse.Decision.DECLINED, comment)


def joint_task_args(
    proposal: CoordinationProposal, enterprise: Enterprise, *, lead: EnforcementBody | None = None
) -> dict[str, Any]:
    """What `jianchama.inspections.services.create_task` needs, besides inspectors and legal basis, to
    inspect `enterprise` jointly as an accepted proposal says: the other bodies, every plan's items, the lead
    body's plan and its method as the task's kind, and a window within the proposal's period.

    `lead` (by default the first body) is the body whose user will create the task."""
    from jianchama.inspections.services import MAX_WINDOW_DAYS

    if proposal.status != CoordinationProposal.Status.ACCEPTED:
        raise DomainError(f"{proposal}尚未被各执法单位接受，不能据以创建联合检查任务")
    if not proposal.enterprises.filter(pk=enterprise.pk).exists():
        raise DomainError(f"企业{enterprise.name}不在{proposal}的重叠企业中")
    plans = list(proposal.plans.select_related("body").prefetch_related("items").order_by("body__code", "pk"))
    bodies = list({p.body_id: p.body for p in plans}.values())
    lead = lead or bodies[0]
    if lead.pk not in {b.pk for b in bodies}:
        raise DomainError(f"{lead.name}不是{proposal}涉及的执法单位")
    lead_plan = next(p for p in plans if p.body_id == lead.pk)
    items = list({item.pk: item for p in plans for item in p.items.all()}.values())
    window_start = max(proposal.period_start, timezone.localdate())
    window_end = min(proposal.period_end, window_start + datetime.timedelta(days=MAX_WINDOW_DAYS))
    return {
        "enterprise": enterprise,
        "joint_bodies": [b for b in bodies if b.pk != lead.pk],
        "items": items,
        "kind": lead_plan.method,
        "plan": lead_plan,
        "partner_plans": [p for p in plans if p.body_id != lead.pk],
        "window_start": window_start,
        "window_end": window_end,
    }
