"""Random draw pages: a plan's draws for its body (commit, reveal, withdraw), the public pages of every draw
(一公开) with its JSON and the standalone verifier, and the body's register of conflicts of interest.

Every change is a POST to a service in `draws.py`; the public pages need no login.
"""

from __future__ import annotations

import datetime
import json
from pathlib import Path

from django import forms
from django.conf import settings
from django.contrib import messages
from django.db.models import Prefetch
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST
from django_ratelimit.core import get_usage

from jianchama.core import todos
from jianchama.core.errors import DomainError, PermissionDenied
from jianchama.core.pages import page_view, paginate, submit_form
from jianchama.core.replica import replica_reads
from jianchama.core.roles import Role
from jianchama.core.views import rate_limited
from jianchama.inspections.models import Task
from jianchama.registry.forms import DATE, Form
from jianchama.registry.models import Enterprise, Inspector
from jianchama.registry.uscc import is_valid as uscc_is_valid

from .. import draws
from ..models import ConflictOfInterest, Plan, RandomDraw

VERIFIER = Path(settings.BASE_DIR) / "scripts" / "verify_draw.py"


def _json_rate() -> str:
    return getattr(settings, "DRAW_JSON_RATE_LIMIT", "30/m")


# --- Forms ----------------------------------------------------------------------------------------------


class CommitForm(Form):
    enterprise_count = forms.IntegerField(label="抽取企业数", min_value=1)
    inspectors_per_task = forms.IntegerField(label="每户执法人员数", min_value=2, initial=2)
    ratio_A = forms.CharField(label="A级（低风险）比例", required=False, max_length=10)
    ratio_B = forms.CharField(label="B级（一般风险）比例", required=False, max_length=10)
    ratio_C = forms.CharField(label="C级（较高风险）比例", required=False, max_length=10)
    ratio_D = forms.CharField(label="D级（高风险）比例", required=False, max_length=10)

    def strata(self) -> dict[str, str]:
        return {
            grade: self.cleaned_data[f"ratio_{grade}"].strip()
            for grade in draws.GRADES
            if self.cleaned_data.get(f"ratio_{grade}", "").strip()
        }


class RevealForm(Form):
    window_start = forms.DateField(label="检查日期起", widget=DATE)
    window_end = forms.DateField(label="检查日期止", widget=DATE)


class WithdrawForm(Form):
    reason = forms.CharField(label="撤销原因（将公开）", widget=forms.Textarea(attrs={"rows": 2}))


class ConflictForm(Form):
    inspector = forms.ModelChoiceField(label="执法人员", queryset=Inspector.objects.none())
    enterprise_uscc = forms.CharField(label="企业（统一社会信用代码）", max_length=18)
    reason = forms.CharField(label="利益冲突情形", widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["inspector"].queryset = Inspector.objects.filter(body_id=user.body_id)

    def clean_enterprise_uscc(self) -> Enterprise:
        code = self.cleaned_data["enterprise_uscc"].strip().upper()
        if not uscc_is_valid(code):
            raise forms.ValidationError("统一社会信用代码不正确")
        enterprise = Enterprise.objects.filter(uscc=code).first()
        if enterprise is None:
            raise forms.ValidationError(f"企业名录中没有统一社会信用代码为{code}的企业")
        return enterprise


def _reveal_initial(plan: Plan) -> dict:
    start = max(timezone.localdate(), plan.period_start)
    return {"window_start": start, "window_end": min(plan.period_end, start + datetime.timedelta(days=30))}


# --- The plan's draws (the body) --------------------------------------------------------------------------


@page_view
def plan_draws(request, plan_pk):
    plan = get_object_or_404(Plan.objects.visible_to(request.user).select_related("body"), pk=plan_pk)
    may_draw = draws.can_draw(request.user, plan)
    form = CommitForm(request.POST or None)
    if request.method == "POST":
        if not may_draw:
            raise PermissionDenied(f"只有{plan.body.name}的管理员可以对已备案的双随机抽查计划进行随机抽取")
        if form.is_valid():
            draw = submit_form(
                form,
                lambda: draws.commit_draw(
                    request.user,
                    plan=plan,
                    enterprise_count=form.cleaned_data["enterprise_count"],
                    inspectors_per_task=form.cleaned_data["inspectors_per_task"],
                    strata=form.strata(),
                ),
            )
            if draw is not None:
                messages.success(
                    request, f"已公布随机抽取#{draw.pk}的企业库快照散列和随机种子承诺值，请在公开后进行抽取"
                )
                return redirect("draws:plan_draws", plan.pk)
    # Each revealed draw lists its tasks with their enterprises: read with the draws, not per task.
    plan_draws_list = list(
        plan.draws.order_by("-committed_at").prefetch_related(
            Prefetch("tasks", queryset=Task.objects.select_related("enterprise").order_by("pk"))
        )
    )
    for draw in plan_draws_list:
        draw.reveal_queued = draws.reveal_queued(draw)
        draw.reveal_progress = draws.reveal_progress(draw) if draw.reveal_queued else None
        draw.reveal_error = (draw.reveal_job or {}).get("error", "") if draws.is_pending(draw) else ""
    return render(
        request,
        "plans/draw_plan.html",
        {
            "reveal_running": any(d.reveal_queued for d in plan_draws_list),
            "plan": plan,
            "draws": [
                (d, draws.public_status(d), draws.PUBLIC_STATUS_LABELS[draws.public_status(d)])
                for d in plan_draws_list
            ],
            "may_draw": may_draw,
            "form": form,
            "pending": any(draws.is_pending(d) for d in plan_draws_list),
            "may_reveal": _is_admin(request.user, plan),
            "reveal_form": RevealForm(initial=_reveal_initial(plan)),
            "withdraw_form": WithdrawForm(),
        },
    )


def _is_admin(user, plan: Plan) -> bool:
    return user.role == Role.BODY_ADMIN and user.body_id == plan.body_id


def _own_draw(request, pk) -> RandomDraw:
    draw = get_object_or_404(RandomDraw.objects.select_related("plan", "plan__body"), pk=pk)
    if not Plan.objects.visible_to(request.user).filter(pk=draw.plan_id).exists():
        raise Http404
    return draw


@page_view
@require_POST
def reveal(request, pk):
    draw = _own_draw(request, pk)
    form = RevealForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return redirect("draws:plan_draws", draw.plan_id)
    window = {
        "window_start": form.cleaned_data["window_start"],
        "window_end": form.cleaned_data["window_end"],
    }
    if draw.enterprise_count > draws.reveal_sync_max():
        # Many tasks to create: the worker reveals it; the plan's draw page shows the progress.
        try:
            draws.queue_reveal(request.user, draw=draw, **window)
        except PermissionDenied:
            raise
        except DomainError as error:
            for problem in error.problems or [error.message]:
                messages.error(request, problem)
        else:
            messages.success(
                request,
                f"随机抽取#{draw.pk}共{draw.enterprise_count}户企业，正在后台公开种子、抽取并创建检查任务，"
                "本页显示进度，完成后可查看抽取结果",
            )
        return redirect("draws:plan_draws", draw.plan_id)
    try:
        draw = draws.reveal_draw(request.user, draw=draw, **window)
    except PermissionDenied:
        raise
    except DomainError as error:
        for problem in error.problems or [error.message]:
            messages.error(request, problem)
        return redirect("draws:plan_draws", draw.plan_id)
    submitted = len(draw.result) - len(draw.unsubmitted)
    messages.success(
        request, f"已抽取{len(draw.result)}户企业并创建检查任务，{submitted}项已提交审批，抽取结果已公开"
    )
    for left in draw.unsubmitted:
        messages.warning(request, f"任务{left['task']}未能提交审批，仍为草稿：{left['reason']}")
    return redirect("draws:detail", draw.pk)


@page_view
@require_POST
def withdraw(request, pk):
    draw = _own_draw(request, pk)
    form = WithdrawForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    try:
        draws.withdraw_draw(request.user, draw=draw, reason=reason)
    except PermissionDenied:
        raise
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"随机抽取#{draw.pk}已撤销，其随机种子已公开")
    return redirect("draws:plan_draws", draw.plan_id)


# --- Conflicts of interest (the body) ---------------------------------------------------------------------


@page_view
def conflicts(request):
    user = request.user
    may_record = user.role == Role.BODY_ADMIN and user.body_id is not None
    form = ConflictForm(request.POST or None, user=user) if may_record else None
    if request.method == "POST":
        if form is None:
            raise PermissionDenied("只有执法单位管理员可以登记利益冲突")
        if form.is_valid():
            conflict = submit_form(
                form,
                lambda: draws.record_conflict(
                    user,
                    inspector=form.cleaned_data["inspector"],
                    enterprise=form.cleaned_data["enterprise_uscc"],
                    reason=form.cleaned_data["reason"],
                ),
            )
            if conflict is not None:
                messages.success(
                    request,
                    f"已登记：随机抽取不会再派{conflict.inspector.name}检查{conflict.enterprise.name}",
                )
                return redirect("draws:conflicts")
    records = ConflictOfInterest.objects.visible_to(user).select_related(
        "inspector", "enterprise", "recorded_by"
    )
    page = paginate(request, records)
    return render(request, "plans/draw_conflicts.html", {"page": page, "form": form})


# --- Public pages (一公开) --------------------------------------------------------------------------------


def _limited(request, group: str, rate: str) -> bool:
    usage = get_usage(request, group=group, key="ip", rate=rate, increment=True)
    return bool(usage and usage["should_limit"])


@replica_reads
def draw_list(request):
    rows = draws.public_draws().order_by("-committed_at")
    rows, todo_label = todos.narrow(request.user, request.GET.get("todo", ""), rows)
    page = paginate(request, rows)
    page.object_list = [(d, draws.PUBLIC_STATUS_LABELS[draws.public_status(d)]) for d in page.object_list]
    return render(request, "plans/draw_list.html", {"page": page, "todo_label": todo_label})


@replica_reads
def draw_detail(request, pk):
    draw = get_object_or_404(draws.public_draws(), pk=pk)
    status = draws.public_status(draw)
    names = {draws.inspector_key(i): i["name"] for i in draw.inspector_pool}
    rows = []
    if status == "revealed":
        tasks = {t.enterprise.uscc: t for t in Task.objects.filter(draw=draw).select_related("enterprise")}
        visible = set(Task.objects.visible_to(request.user).filter(draw=draw).values_list("pk", flat=True))
        for position, entry in enumerate(draw.result, start=1):
            task = tasks.get(entry["uscc"])
            rows.append(
                {
                    "position": position,
                    "uscc": entry["uscc"],
                    "grade": entry["risk_grade"],
                    "enterprise": task.enterprise.name if task else "",
                    "inspectors": [f"{names.get(key, '')}（{key}）" for key in entry["inspectors"]],
                    "task": task,
                    "task_visible": task is not None and task.pk in visible,
                }
            )
    exclusions = [
        {**e, "name": names.get(e["inspector"], ""), "everywhere": e["uscc"] == draws.ALL_ENTERPRISES}
        for e in draw.late_exclusions
    ]
    return render(
        request,
        "plans/draw_detail.html",
        {
            "draw": draw,
            "status": status,
            "status_label": draws.PUBLIC_STATUS_LABELS[status],
            "pool_size": RandomDraw.objects.filter(pk=draw.pk)
            .values_list("pool", flat=True)
            .first()
            .__len__(),
            "inspector_pool": draw.inspector_pool,
            "rows": rows,
            "exclusions": exclusions,
            "committed_at": draws.timestamp(draw.committed_at),
            "may_manage": request.user.is_authenticated and _is_admin(request.user, draw.plan),
        },
    )


@replica_reads
def draw_json(request, pk):
    if _limited(request, "draw_json", _json_rate()):
        return rate_limited(request)
    draw = get_object_or_404(draws.public_draws(), pk=pk)
    try:
        record = draws.published_record(draw)
    except DomainError as refusal:
        return HttpResponse(refusal.message, status=409, content_type="text/plain; charset=utf-8")
    body = json.dumps(record, ensure_ascii=False, separators=(",", ":"))
    response = HttpResponse(body, content_type="application/json; charset=utf-8")
    response["Content-Disposition"] = f'inline; filename="draw-{draw.pk}.json"'
    response["Cache-Control"] = "public, max-age=60"
    response["Access-Control-Allow-Origin"] = "*"
    return response


def verifier(request):
    """The standalone verifier, so that the page's instructions work without a copy of the repository."""
    if not VERIFIER.is_file():
        raise Http404
    response = HttpResponse(VERIFIER.read_bytes(), content_type="text/x-python; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="verify_draw.py"'
    return response
