"""Plan pages: the bodies' drafts and filing, the reviewers' and supervisors' lists, plan coordination, and
the public announcement with its open data (no login, rate-limited per client address).

Reading goes through `visible_to` (out of scope is 404); every change is a POST to a service.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.db.models import Count, OuterRef, Prefetch, Q, Subquery
from django.db.models.functions import Coalesce
from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST
from django_ratelimit.core import get_usage

from jianchama.core import audit, spreadsheets, todos
from jianchama.core.errors import DomainError, PermissionDenied
from jianchama.core.pages import page_view, paginate, pk_url, submit_form
from jianchama.core.replica import replica_reads
from jianchama.core.roles import Role
from jianchama.core.views import rate_limited
from jianchama.registry.models import Enterprise, InspectionItem, Region

from .. import forms, services
from ..models import CoordinationProposal, CoordinationResponse, Plan, PlanReview

PUBLIC_RATE_LIMIT = "60/m"  # setting PUBLIC_PLANS_RATE_LIMIT overrides it


def _plan(request, pk) -> Plan:
    return get_object_or_404(
        Plan.objects.visible_to(request.user).select_related("body", "body__region", "created_by"), pk=pk
    )


def _pending_timing(plan: Plan):
    """The open filing step of a plan (from its prefetched reviews) and its deadline."""
    pending = [r for r in plan.reviews.all() if not r.decision]
    return services.step_timing(pending[-1]) if pending else None


def _with_reviews(plans):
    return plans.prefetch_related(
        Prefetch("reviews", queryset=PlanReview.objects.order_by("received_at", "pk"))
    )


# --- The bodies' and reviewers' pages ----------------------------------------------------------------


@page_view
def plan_list(request):
    user = request.user
    plans = _with_reviews(Plan.objects.visible_to(user).select_related("body"))
    filters = forms.PlanFilterForm(request.GET or None)
    if filters.is_valid():
        data = filters.cleaned_data
        if data["q"]:
            plans = plans.filter(
                Q(title__icontains=data["q"])
                | Q(number__icontains=data["q"])
                | Q(body__name__icontains=data["q"])
            )
        if data["status"]:
            plans = plans.filter(status=data["status"])
        if data["method"]:
            plans = plans.filter(method=data["method"])
    plans, todo_label = todos.narrow(user, request.GET.get("todo", ""), plans)
    page = paginate(request, plans)
    for plan in page:
        plan.timing = _pending_timing(plan)
    awaiting = list(_with_reviews(services.awaiting_review(user)))
    for plan in awaiting:
        plan.timing = _pending_timing(plan)
    return render(
        request,
        "plans/plan_list.html",
        {
            "page": page,
            "filters": filters,
            "todo_label": todo_label,
            "awaiting": awaiting,
            "can_create": services.can_create_plans(user),
            "is_supervisor": services.is_supervisor(user),
            "may_coordinate": services.may_coordinate(user),
        },
    )


def _plan_form_call(request, form, plan: Plan | None):
    data = form.cleaned_data
    fields = {
        "title": data["title"],
        "method": data["method"],
        "period_start": data["period_start"],
        "period_end": data["period_end"],
        "items": list(data["items"]),
        "expected_count": data["expected_count"],
        "description": data["description"],
        "target_industries": data["target_industries"],
        "target_regions": list(data["target_regions"]),
        "target_risk_grades": data["target_risk_grades"],
        "target_enterprises": data["target_enterprises"],
    }
    if plan is None:
        return submit_form(form, lambda: services.create_plan(request.user, **fields))
    return submit_form(form, lambda: services.update_plan(request.user, plan=plan, **fields))


@page_view
def plan_create(request):
    if not services.can_create_plans(request.user):
        raise PermissionDenied("只有执法单位的执法人员或管理员可以制定本单位的检查计划")
    today = timezone.localdate()
    initial = {"period_start": today.replace(month=1, day=1), "period_end": today.replace(month=12, day=31)}
    form = forms.PlanForm(request.POST or None, body=request.user.body, initial=initial)
    if request.method == "POST" and form.is_valid():
        plan = _plan_form_call(request, form, None)
        if plan is not None:
            messages.success(request, f"检查计划「{plan.title}」已保存为草稿，请核对后报送备案")
            return redirect("plans:plan_detail", plan.pk)
    return render(request, "plans/plan_form.html", {"form": form, "title": "制定检查计划"})


@page_view
def plan_edit(request, pk):
    plan = _plan(request, pk)
    if not services.can_edit(request.user, plan):
        raise PermissionDenied(
            f"检查计划「{plan.title}」当前状态为「{plan.get_status_display()}」，"
            "只有本单位草稿或退回修改的计划可以修改"
        )
    form = forms.PlanForm(request.POST or None, body=plan.body, initial=forms.PlanForm.initial_for(plan))
    if request.method == "POST" and form.is_valid():
        saved = _plan_form_call(request, form, plan)
        if saved is not None:
            messages.success(request, "检查计划已修改")
            return redirect("plans:plan_detail", plan.pk)
    return render(
        request,
        "plans/plan_form.html",
        {"form": form, "title": f"修改检查计划「{plan.title}」", "plan": plan},
    )


@page_view
def plan_detail(request, pk):
    plan = _plan(request, pk)
    user = request.user
    reviews = list(plan.reviews.select_related("reviewer").order_by("received_at", "pk"))
    for review in reviews:
        review.timing = services.step_timing(review)
    sees_pool = services.is_member(user, plan) or services.reviewer_step(user, plan) or user.is_platform_admin
    context = {
        "plan": plan,
        "items": plan.items.select_related("field"),
        "scope": services.describe_scope(plan),
        "pool_count": services.plan_pool(plan).count() if sees_pool else None,
        "route": [PlanReview.Step(step).label for step in services.filing_route(plan.body)],
        "reviews": reviews,
        "timeline": audit.history(plan),
        "proposals": CoordinationProposal.objects.visible_to(user).filter(plans=plan),
        "publish_due": services.publish_deadline(plan),
        "may": {
            "edit": services.can_edit(user, plan),
            "submit": services.can_submit(user, plan),
            "review": services.can_review(user, plan),
            "publish": services.can_publish(user, plan),
        },
        "comment_form": forms.CommentForm(),
    }
    return render(request, "plans/plan_detail.html", context)


# Each action: a POST that calls one service; refusals come back as a message on the detail page.
ACTIONS = {
    "submit": (lambda user, plan, data: services.submit_plan(user, plan=plan), "已报送备案"),
    "approve": (
        lambda user, plan, data: services.approve_plan(user, plan=plan, comment=data.get("comment", "")),
        "已审核通过",
    ),
    "return": (
        lambda user, plan, data: services.return_plan(user, plan=plan, comment=data.get("comment", "")),
        "已退回修改",
    ),
    "publish": (
        lambda user, plan, data: services.publish_plan(user, plan=plan),
        "已公告，公众可在计划公示页查看",
    ),
}


@require_POST
@page_view
def plan_action(request, pk, action):
    plan = _plan(request, pk)
    call, done = ACTIONS[action]
    try:
        plan = call(request.user, plan, request.POST)
    except PermissionDenied:
        raise
    except DomainError as error:
        messages.error(request, error.message)
    else:
        if action == "approve" and plan.number:
            done = f"已备案，计划编号{plan.number}"
        messages.success(request, done)
    return redirect("plans:plan_detail", pk)


@page_view
def supervision(request):
    """The supervisor's lists: plans waiting for filing (deadlines), filed plans not announced, and special
    campaigns' plans not announced within a month of filing."""
    user = request.user
    if not services.is_supervisor(user):
        raise PermissionDenied("只有司法局执法监督人员可以查看计划备案和公告的监督情况")
    awaiting = list(_with_reviews(services.awaiting_review(user)))
    for plan in awaiting:
        plan.timing = _pending_timing(plan)
    today = timezone.localdate()
    unpublished = list(services.unpublished_plans(user))
    for plan in unpublished:
        plan.days_since_filing = (today - timezone.localdate(plan.filed_at)).days if plan.filed_at else None
    return render(
        request,
        "plans/supervision.html",
        {
            "awaiting": awaiting,
            "overdue_count": sum(1 for p in awaiting if p.timing and p.timing.overdue),
            "unpublished": unpublished,
            "late_special": services.late_special_plans(user),
        },
    )


# --- Coordination (F-13) -------------------------------------------------------------------------------


@page_view
def coordination(request):
    user = request.user
    if not services.may_coordinate(user):
        raise PermissionDenied("只有执法单位和司法局执法监督人员可以查看计划重叠情况")
    today = timezone.localdate()
    initial = {
        "region": services.default_region(user),
        "start": today.replace(month=1, day=1),
        "end": today.replace(month=12, day=31),
    }
    form = forms.CoordinationForm(request.GET or None, user=user, initial=initial)
    overlaps, query = None, None
    if form.is_bound and form.is_valid():
        query = form.cleaned_data
        try:
            overlaps = services.find_overlaps(
                user, region=query["region"], start=query["start"], end=query["end"]
            )
        except PermissionDenied:
            raise
        except DomainError as error:
            form.add_error(None, error.message)
    return render(
        request,
        "plans/coordination.html",
        {
            "form": form,
            "overlaps": overlaps,
            "query": query,
            "proposals": CoordinationProposal.objects.visible_to(user).select_related("region")[:50],
            "may_propose": user.is_platform_admin or user.role in (Role.SUPERVISOR, Role.BODY_ADMIN),
        },
    )


@require_POST
@page_view
def coordination_propose(request):
    user = request.user
    form = forms.CoordinationForm(request.POST, user=user)
    if not form.is_valid():
        messages.error(request, "请重新选择区域和期间后再提出建议")
        return redirect("plans:coordination")
    data = form.cleaned_data
    plans = Plan.objects.filter(pk__in=request.POST.getlist("plans"))
    enterprises = list(Enterprise.objects.filter(pk__in=request.POST.getlist("enterprises")))
    try:
        proposal = services.propose_merge(
            user,
            region=data["region"],
            start=data["start"],
            end=data["end"],
            plans=list(plans),
            enterprises=enterprises or None,
            comment=request.POST.get("comment", ""),
        )
    except PermissionDenied:
        raise
    except DomainError as error:
        messages.error(request, error.message)
        query = urlencode({"region": data["region"].pk, "start": data["start"], "end": data["end"]})
        return redirect(f"{reverse('plans:coordination')}?{query}")
    messages.success(request, f"已提出{proposal}，待各执法单位确认")
    return redirect("plans:proposal_detail", proposal.pk)


def _proposal(request, pk) -> CoordinationProposal:
    return get_object_or_404(
        CoordinationProposal.objects.visible_to(request.user).select_related("region", "proposed_by"), pk=pk
    )


@page_view
def proposal_detail(request, pk):
    proposal = _proposal(request, pk)
    user = request.user
    responses = list(proposal.responses.select_related("body", "responder"))
    mine = next((r for r in responses if r.body_id == user.body_id), None) if user.body_id else None
    enterprises = list(proposal.enterprises.select_related("region"))
    lead = mine.body if mine else None
    if (
        proposal.status == CoordinationProposal.Status.ACCEPTED
        and lead is not None
        and user.role in (Role.INSPECTOR, Role.BODY_ADMIN)
    ):
        base = reverse("inspections:task_create")
        for enterprise in enterprises:
            args = services.joint_task_args(proposal, enterprise, lead=lead)
            enterprise.task_url = (
                base
                + "?"
                + urlencode(
                    {
                        "uscc": enterprise.uscc,
                        "kind": args["kind"],
                        "plan_number": args["plan"].number,
                        "joint_bodies": [b.pk for b in args["joint_bodies"]],
                        "items": [i.pk for i in args["items"]],
                        "window_start": args["window_start"].isoformat(),
                        "window_end": args["window_end"].isoformat(),
                    },
                    doseq=True,
                )
            )
    may_respond = (
        proposal.status == CoordinationProposal.Status.PROPOSED
        and user.role == Role.BODY_ADMIN
        and mine is not None
        and mine.decision == CoordinationResponse.Decision.PENDING
    )
    return render(
        request,
        "plans/proposal_detail.html",
        {
            "proposal": proposal,
            "plans": proposal.plans.select_related("body"),
            "responses": responses,
            "enterprises": enterprises,
            "may_respond": may_respond,
            "timeline": audit.history(proposal),
        },
    )


PROPOSAL_ACTIONS = {
    "accept": (services.accept_proposal, "本单位已接受联合检查建议"),
    "decline": (services.decline_proposal, "本单位已表示不接受联合检查建议"),
}


@require_POST
@page_view
def proposal_action(request, pk, action):
    proposal = _proposal(request, pk)
    call, done = PROPOSAL_ACTIONS[action]
    try:
        proposal = call(request.user, proposal=proposal, comment=request.POST.get("comment", ""))
    except PermissionDenied:
        raise
    except DomainError as error:
        messages.error(request, error.message)
    else:
        if proposal.status == CoordinationProposal.Status.ACCEPTED:
            done += "；各单位均已接受，可为重叠企业创建联合检查任务"
        messages.success(request, done)
    return redirect("plans:proposal_detail", pk)


# --- The public announcement and open data (F-12, F-43) --------------------------------------------------


def _limited(request) -> bool:
    rate = getattr(settings, "PUBLIC_PLANS_RATE_LIMIT", PUBLIC_RATE_LIMIT)
    usage = get_usage(request, group="plans-public", key="ip", rate=rate, increment=True)
    return bool(usage and usage["should_limit"])


def _published(request):
    """Published plans with what their open record needs, read in a fixed number of queries however many
    there are: the body and its region (for the scope's words), items and regions prefetched, and the size of
    the enterprise list counted in the same query (the public is told its size, never the names)."""
    listed = (
        Plan.target_enterprises.through.objects.filter(plan_id=OuterRef("pk"))
        .order_by()
        .values("plan_id")
        .annotate(n=Count("*"))
        .values("n")
    )
    plans = (
        Plan.objects.filter(status=Plan.Status.PUBLISHED)
        .select_related("body", "body__region", "body__region__parent")
        # As plain lists (to_attr): `plan.items.all()` on a prefetched relation still builds a manager and
        # clones a queryset per call, a third of the open data's time for the city's 968 plans.
        .prefetch_related(
            Prefetch(
                "items", queryset=InspectionItem.objects.only("pk", "code", "name"), to_attr="open_items"
            ),
            Prefetch(
                "target_regions", queryset=Region.objects.only("pk", "code", "name"), to_attr="open_regions"
            ),
        )
        .annotate(listed_count=Coalesce(Subquery(listed), 0))
        .order_by("-published_at", "-pk")
    )
    filters = forms.PublicFilterForm(request.GET or None)
    return filters.apply(plans), filters


@replica_reads
def public_list(request):
    if _limited(request):
        return rate_limited(request)
    plans, filters = _published(request)
    page = paginate(request, plans)
    query = urlencode({k: v for k, v in request.GET.items() if k != "page"})
    return render(request, "plans/public_list.html", {"page": page, "filters": filters, "query": query})


@replica_reads
def public_detail(request, pk):
    if _limited(request):
        return rate_limited(request)
    plan = get_object_or_404(
        Plan.objects.filter(status=Plan.Status.PUBLISHED).select_related("body", "body__region"), pk=pk
    )
    return render(
        request,
        "plans/public_detail.html",
        {
            "plan": plan,
            "items": plan.items.select_related("field"),
            "scope": services.describe_scope(plan, public=True),
        },
    )


OPEN_DATA_COLUMNS = [
    "计划编号",
    "执法单位",
    "执法单位编码",
    "计划名称",
    "检查方式",
    "计划期间起",
    "计划期间止",
    "检查事项",
    "检查对象范围",
    "预计检查户数",
    "备案时间",
    "公告时间",
    "详情",
]


def _open_record(plan: Plan, detail_url: Callable[[int], str]) -> dict:
    items = plan.open_items
    return {
        "number": plan.number,
        "body": {"code": plan.body.code, "name": plan.body.name},
        "title": plan.title,
        "method": plan.method,
        "method_label": plan.get_method_display(),
        "period_start": plan.period_start.isoformat(),
        "period_end": plan.period_end.isoformat(),
        "items": [{"code": item.code, "name": item.name} for item in items],
        "target_scope": services.describe_scope(plan, public=True, regions=plan.open_regions),
        "target": {
            "industries": list(plan.target_industries),
            "regions": [{"code": r.code, "name": r.name} for r in plan.open_regions],
            "risk_grades": list(plan.target_risk_grades),
            "listed_enterprises": plan.listed_count,
        },
        "expected_count": plan.expected_count,
        "filed_at": timezone.localtime(plan.filed_at).isoformat() if plan.filed_at else None,
        "published_at": timezone.localtime(plan.published_at).isoformat() if plan.published_at else None,
        "url": detail_url(plan.pk),
    }


@replica_reads
def public_csv(request):
    if _limited(request):
        return rate_limited(request)
    plans, _ = _published(request)

    detail_url = pk_url("plans:public_detail", request)

    def rows():
        for plan in plans.iterator(chunk_size=500):
            record = _open_record(plan, detail_url)
            yield [
                record["number"],
                record["body"]["name"],
                record["body"]["code"],
                record["title"],
                record["method_label"],
                record["period_start"],
                record["period_end"],
                "；".join(item["name"] for item in record["items"]),
                record["target_scope"],
                record["expected_count"],
                record["filed_at"] or "",
                record["published_at"] or "",
                record["url"],
            ]

    return spreadsheets.csv_response("published-plans.csv", OPEN_DATA_COLUMNS, rows())


@replica_reads
def public_json(request):
    if _limited(request):
        return rate_limited(request)
    plans, _ = _published(request)
    count = plans.count()
    detail_url = pk_url("plans:public_detail", request)

    def chunks():
        # Streamed record by record, so memory stays flat however many plans are published; one plan a line,
        # each compact (an indented dump runs json's pure-Python encoder: a quarter of the time, for 968 plans).
        head = {"generated_at": timezone.localtime().isoformat(), "count": count}
        yield json.dumps(head, ensure_ascii=False)[:-1] + ', "plans": ['
        for n, plan in enumerate(plans.iterator(chunk_size=500)):
            record = json.dumps(_open_record(plan, detail_url), ensure_ascii=False)
            yield ("," if n else "") + "\n" + record
        yield "\n]}\n"

    return StreamingHttpResponse(chunks(), content_type="application/json")
