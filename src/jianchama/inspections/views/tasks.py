"""Task pages for the bodies (create, submit, approve, list, detail) and for the inspector's phone.

Reading goes through `Task.objects.visible_to` (out of scope is 404); every change is a POST to a service.
"""

from __future__ import annotations

import base64
import re

from django.contrib import messages
from django.db import transaction
from django.db.models import Prefetch, Q
from django.forms import ModelMultipleChoiceField
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html_join
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from jianchama.core import files, todos
from jianchama.core.errors import DomainError, PermissionDenied
from jianchama.core.models import AuditEvent
from jianchama.core.pages import page_view, paginate, pk_url, submit_form
from jianchama.core.roles import Role
from jianchama.registry.models import Certificate, Enterprise, InspectionItem

from .. import field, forms, frequency, qr, scan_log, services, signing, triggers
from ..models import Evaluation, Evidence, Exemption, InspectionCode, Task


def _task(request, pk) -> Task:
    return get_object_or_404(
        Task.objects.visible_to(request.user).select_related("enterprise", "lead_body", "created_by"), pk=pk
    )


@page_view
def evidence_file(request, pk):
    """An evidence file, to whoever may see its task (out of scope: 404, as for an id that does not exist)."""
    evidence = get_object_or_404(
        Evidence.objects.filter(record__task__in=Task.objects.visible_to(request.user)), pk=pk
    )
    return files.send(request, evidence.file, files.original_name(evidence.file, evidence.original_name))


@page_view
def task_list(request):
    status = request.GET.get("status", "")
    status = status if status in Task.Status.values else ""
    query = request.GET.get("q", "").strip()[:100]
    condition, common = _search(query) if query else (None, False)
    if query and not common:
        # A rare name or a number: its few matches come from their own indexes, then sorted.
        tasks = Task.objects.visible_to(request.user)
        if status:
            tasks = tasks.filter(status=status)
    else:
        # Newest first (of one status) from an index in the list's order (see `newest_first_for`).
        tasks = Task.objects.newest_first_for(request.user, status=status)
    tasks = tasks.select_related("enterprise", "lead_body")
    if condition is not None:
        tasks = tasks.filter(condition)
    # A home page's to-do (core/todos.py) lands here on exactly the tasks it counted.
    tasks, todo_label = todos.narrow(request.user, request.GET.get("todo", ""), tasks)
    # Unsearched, the list's order (-created_at, -id) has an index: the count walks it (core/pages.py), as
    # does a search for a common name. A rarer search matches few rows, found through the trigram and the
    # enterprise's indexes, and is counted without the order.
    page = paginate(
        request, tasks, count_in_order=not query or common, cap=SEARCH_COMMON_COUNT_CAP if common else None
    )
    return render(
        request,
        "inspections/task_list.html",
        {
            "page": page,
            "statuses": Task.Status.choices,
            "status": status,
            "q": query,
            "todo_label": todo_label,
            "can_create": services.can_create_tasks(request.user),
            "evaluations": _evaluation_summary(request.user),
        },
    )


# A search naming more enterprises than this filters by a subquery instead of a list of their ids.
SEARCH_ENTERPRISES_MAX = 500
# A search naming more enterprises than this is common: a name shared by a tenth of the registry (an
# industry's word). Its tasks are then tested row by row in the list's order, which meets a match within
# a few dozen tasks, instead of hashing every matching enterprise first (124,763 of 1,000,000: 13.6 s to
# count a district's matches at ten million tasks, against 0.3 s in order; bench/README.md, pages).
SEARCH_ENTERPRISES_COMMON = 20_000
# A common name's matches are counted up to this many ("200+ 条"), not LIST_COUNT_CAP: counting walks the list
# in order and tests each task's enterprise, and the busiest body at ten million tasks walked 14,912 of its
# tasks to count 1,001 matches of 上海化学 (1.0 s, from disk), 3,401 to count 201 (0.25 s). The word names a
# tenth of the registry: the page shows its newest matches and asks for a narrower search, as a capped list does.
SEARCH_COMMON_COUNT_CAP = 200
# A task's number as services.create_task makes it: JC, the year, seven digits.
TASK_NUMBER = re.compile(r"JC\d{11,}")


def _search(query: str) -> tuple[Q, bool]:
    """The condition for tasks whose number contains `query`, or whose enterprise's name contains it or code
    is it; and whether the name is common (see SEARCH_ENTERPRISES_COMMON).

    The enterprises are looked up first (PostgreSQL answers from the trigram index on their names), so that
    the tasks are then found through two indexes (the number's trigrams, the enterprise's tasks) instead of a
    join over every task."""
    if TASK_NUMBER.fullmatch(query.upper()):
        # A whole task number: its unique index. (Every number shares the trigrams of "JC2026", so a trigram
        # search for one reads millions of index entries at ten million tasks: 40–70 s, measured.)
        return Q(number=query.upper()), False
    named = Q(name__icontains=query) | Q(uscc=query.upper())
    # Unordered: which enterprises come first does not matter, and ordering a common name's matches by name
    # sorted 124,763 rows to return 501.
    enterprises = Enterprise.objects.filter(named).order_by().values("pk")
    ids = list(enterprises.values_list("pk", flat=True)[: SEARCH_ENTERPRISES_COMMON + 1])
    if len(ids) > SEARCH_ENTERPRISES_COMMON:
        common = Q(enterprise__name__icontains=query) | Q(enterprise__uscc=query.upper())
        return Q(number__icontains=query) | common, True
    by_enterprise = enterprises if len(ids) > SEARCH_ENTERPRISES_MAX else ids
    return Q(number__icontains=query) | Q(enterprise_id__in=by_enterprise), False


def _evaluation_summary(user) -> dict | None:
    """A body sees its evaluations only as released figures, each release at least five ratings after the
    one before (services.evaluation_summary), with the history of its releases."""
    if user.role not in (Role.INSPECTOR, Role.BODY_ADMIN) or user.body is None:
        return None
    return {
        "figures": services.evaluation_summary(user, body=user.body),
        "releases": services.evaluation_releases(user, body=user.body)[1:],
        "minimum": services.evaluation_release_size(),
    }


# The as-you-type enterprise search of the task form: per user, enough for fast typing, too few for a crawl.
ENTERPRISE_SEARCH_RATE = "120/m"
ENTERPRISE_SEARCH_RESULTS = 8


def _search_limited(request) -> bool:
    from django.conf import settings
    from django_ratelimit.core import get_usage

    rate = getattr(settings, "ENTERPRISE_SEARCH_RATE", ENTERPRISE_SEARCH_RATE)
    usage = get_usage(request, group="enterprise-search", key="user", rate=rate, increment=True)
    return bool(usage and usage["should_limit"])


@page_view
def enterprise_search(request):
    """The task form's enterprise search (HTMX partial): by part of the name (the trigram index on PostgreSQL)
    or the start of a USCC, among the enterprises the user may see; a few rows, each a button that picks it."""
    if not services.can_create_tasks(request.user):
        raise PermissionDenied("只有执法单位的执法人员或管理员可以创建检查任务")
    if _search_limited(request):
        from jianchama.core.views import rate_limited

        return rate_limited(request)
    query = request.GET.get("enterprise_uscc", request.GET.get("q", "")).strip()[:100]
    results = []
    if len(query) >= 2:
        code = query.upper()
        match = Q(name__icontains=query)
        if code.isalnum():
            match |= Q(uscc__startswith=code)
        results = list(
            Enterprise.objects.visible_to(request.user)
            .filter(match)
            .order_by("name")
            .only("pk", "name", "uscc", "region")[:ENTERPRISE_SEARCH_RESULTS]
        )
    return render(request, "inspections/_enterprise_results.html", {"results": results, "q": query})


@page_view
def enterprise_pick(request):
    """The enterprise chosen in the task form (HTMX partial): the field filled with its USCC, and how often it
    has been inspected this year against the yearly caps (the frequency check's answer, F-21)."""
    if not services.can_create_tasks(request.user):
        raise PermissionDenied("只有执法单位的执法人员或管理员可以创建检查任务")
    code = request.GET.get("uscc", "").strip().upper()[:18]
    enterprise = get_object_or_404(Enterprise.objects.visible_to(request.user), uscc=code)
    form = forms.TaskForm(user=request.user, initial={"enterprise_uscc": enterprise.uscc})
    return render(
        request,
        "inspections/_enterprise_field.html",
        {
            "field": form["enterprise_uscc"],
            "chosen": enterprise,
            "year": frequency.enterprise_year(enterprise),
        },
    )


@page_view
def task_create(request):
    if not services.can_create_tasks(request.user):
        raise PermissionDenied("只有执法单位的执法人员或管理员可以创建检查任务")
    initial = {"window_start": timezone.localdate(), "window_end": timezone.localdate()}
    # Prefilled from a link, e.g. a coordination proposal's "create the joint task" button.
    for name in ("uscc", "kind", "plan_number", "window_start", "window_end"):
        if request.GET.get(name):
            initial["enterprise_uscc" if name == "uscc" else name] = request.GET[name]
    for name in ("items", "joint_bodies"):
        if request.GET.getlist(name):
            initial[name] = [value for value in request.GET.getlist(name) if value.isdigit()]
    if request.method == "POST" and "refresh_inspectors" in request.POST:
        # The joint bodies were changed: show the form again, as filled in, with their inspectors to choose.
        unbound = forms.TaskForm(user=request.user)
        initial = {
            name: request.POST.getlist(name)
            if isinstance(field, ModelMultipleChoiceField)
            else request.POST.get(name)
            for name, field in unbound.fields.items()
            if name in request.POST
        }
        form = forms.TaskForm(user=request.user, initial=initial)
        return render(request, "inspections/task_form.html", {"form": form})
    form = forms.TaskForm(request.POST or None, user=request.user, initial=initial)
    step = request.POST.get("step", "") if request.method == "POST" else ""
    if request.method == "POST" and step == "edit":
        # Back from the summary to the form, as typed.
        return render(request, "inspections/task_form.html", {"form": form, **_chosen_enterprise(form)})
    if request.method == "POST" and form.is_valid():
        if step in ("review", "confirm"):
            return _review_or_submit(request, form, confirm=step == "confirm")
        task = submit_form(form, lambda: _create(request.user, form.cleaned_data))
        if task is not None:
            messages.success(request, f"检查任务{task.number}已保存为草稿，请核对后提交审批")
            return redirect("inspections:task_detail", task.pk)
    return render(request, "inspections/task_form.html", {"form": form, **_chosen_enterprise(form)})


def _create(user, data, **submission) -> Task:
    """The task the form describes, as a draft; with `submit=True` (and its justification and exemption)
    submitted in the same transaction."""
    return services.create_task(
        user,
        enterprise=data["enterprise_uscc"],
        items=list(data["items"]),
        inspectors=list(data["inspectors"]),
        joint_bodies=list(data["joint_bodies"]),
        legal_basis=data["legal_basis"],
        kind=data["kind"],
        mode=data["mode"],
        reason=data["reason"],
        evidence=data["evidence"],
        window_start=data["window_start"],
        window_end=data["window_end"],
        is_emergency=data["is_emergency"],
        plan=data["plan_number"],
        partner_plans=_partner_plans(data),
        trigger_situation=data["trigger_situation"],
        **submission,
    )


class _DryRun(Exception):
    """Raised to roll back the task drafted only to show the summary's frequency check."""


def _review_or_submit(request, form, *, confirm: bool):
    """The summary before submitting (issue 14): the task as it would be drafted, and the frequency check's
    answer as submitting would give it. Confirmed, the task is drafted and submitted in one transaction: a
    refusal (or a missing justification) saves nothing and shows the summary again with the reason (the
    service records the refusal itself: `frequency.recording_refusals`)."""
    submit = forms.SubmitForm(request.POST)
    submit.is_valid()
    exemption = submit.cleaned_data.get("exemption", "")
    justification = submit.cleaned_data.get("justification", "")
    if confirm and submit.is_valid():
        try:
            task = _create(
                request.user,
                form.cleaned_data,
                submit=True,
                justification=justification,
                exemption=exemption,
            )
        except PermissionDenied:
            raise
        except DomainError as error:
            for problem in error.problems or [error.message]:
                submit.add_error(None, problem)
        else:
            messages.success(request, f"检查任务{task.number}已提交审批，待执法单位负责人审批")
            return redirect("inspections:task_detail", task.pk)
    summary = None
    try:
        with transaction.atomic():
            task = _create(request.user, form.cleaned_data)
            check = frequency.check_frequency(task, exemption=exemption)
            summary = {
                "check": check,
                "implied": sorted(frequency.effective_exemptions(task, "")),
                "bodies": [part.body for part in task.task_bodies.select_related("body").order_by("pk")],
            }
            raise _DryRun
    except _DryRun:
        pass
    except PermissionDenied:
        raise
    except DomainError as error:
        for problem in error.problems or [error.message]:
            form.add_error(None, problem)
        return render(request, "inspections/task_form.html", {"form": form, **_chosen_enterprise(form)})
    data = form.cleaned_data
    today = timezone.localdate()
    inspectors = []
    for inspector in data["inspectors"]:
        certificates = [
            c for c in inspector.certificates.all() if c.status_on(today) == Certificate.Status.VALID
        ]
        inspectors.append({"inspector": inspector, "certificates": certificates})
    hidden = [
        (name, value) for name in form.fields for value in request.POST.getlist(name) if name in request.POST
    ]
    return render(
        request,
        "inspections/task_review.html",
        {
            "form": form,
            "data": data,
            "submit": submit,
            "hidden": hidden,
            "inspectors": inspectors,
            "exemption": exemption,
            "kind": Task.Kind(data["kind"]).label,
            "mode": Task.Mode(data["mode"]).label,
            **summary,
            **_chosen_enterprise(form),
        },
    )


def _chosen_enterprise(form) -> dict:
    """The enterprise the form names, once it does, with its year's inspections (shown beside the field)."""
    chosen = getattr(form, "cleaned_data", {}).get("enterprise_uscc") if form.is_bound else None
    if not isinstance(chosen, Enterprise):
        return {}
    return {"chosen": chosen, "year": frequency.enterprise_year(chosen)}


def _partner_plans(data) -> list:
    """In a joint planned inspection the partner bodies cite their own filed plans covering the window."""
    from jianchama.plans.models import Plan

    if not data["joint_bodies"] or not data["window_start"] or not data["window_end"]:
        return []
    return list(
        Plan.objects.filter(
            body__in=data["joint_bodies"],
            status__in=[Plan.Status.FILED, Plan.Status.PUBLISHED],
            period_start__lte=data["window_start"],
            period_end__gte=data["window_end"],
        )
    )


@page_view
def task_detail(request, pk):
    task = _task(request, pk)
    if request.user.role == Role.ENTERPRISE_CONTACT:
        return redirect("portal:task_detail", task.pk)
    user = request.user
    may_approve = services.can_approve(user, task)
    parts = list(
        task.task_bodies.select_related("body", "approved_by").prefetch_related(
            Prefetch("items", queryset=InspectionItem.objects.select_related("standard"))
        )
    )
    events = AuditEvent.objects.filter(
        Q(object_type=Task._meta.label, object_id=str(task.pk))
        | Q(
            object_type=InspectionCode._meta.label,
            object_id=str(getattr(getattr(task, "code", None), "pk", "")),
        )
    ).order_by("sequence")
    record = getattr(task, "record", None)
    # With the scans still waiting in the scan log's stream: the page looked at right after a scan shows it.
    scans = scan_log.recent_scans(task.code.pk, 20) if hasattr(task, "code") else []
    context = {
        "task": task,
        "parts": parts,
        "inspectors": task.inspectors.select_related("body").prefetch_related("certificates"),
        "record": record,
        "findings": record.findings.select_related("item") if record else [],
        "evidence": record.evidence.all() if record else [],
        "statements": task.statements.all(),
        "scans": scans,
        "timeline": events,
        "field_acts": field.acts_of(task),
        "evaluation": Evaluation.objects.visible_to(user).filter(task=task).first(),
        "show_giver": services.may_see_evaluation_giver(user),
        "reply_form": forms.ReplyForm(),
        "may": {
            "submit": services.can_submit(user, task),
            "approve": may_approve,
            "return": may_approve and task.status == Task.Status.SUBMITTED,
            "start_emergency": services.can_start_emergency(user, task),
            "check_in": services.can_check_in(user, task),
            "record": services.can_record(user, task),
            "close": services.can_close(user, task),
            "cancel": services.can_cancel(user, task),
            "show_code": services.can_show_code(user, task),
            "reply": user.role == Role.BODY_ADMIN,
        },
        "pending_problems": services.approval_problems(task) if may_approve else [],
        # Frequency control (F-21): what the check found at submission, and again now for the approver.
        "frequency_findings": _findings(task.frequency_findings),
        "approve_with_justification": frequency.has_justified_findings(task),
        "frequency_now": frequency.check_frequency(task) if may_approve else None,
        "exemption_label": frequency.exemption_label(task.frequency_exemption)
        if task.frequency_exemption
        else "",
    }
    return render(request, "inspections/task_detail.html", context)


ACTION_LABELS = {"refuse": "不予提交", "justify": "须说明理由", "warn": "提示"}


def _findings(findings: list[dict]) -> list[dict]:
    """The stored findings with the labels the page shows."""
    return [
        {
            **finding,
            "label": "已豁免" if finding.get("exempted_by") else ACTION_LABELS.get(finding.get("action"), ""),
        }
        for finding in findings or []
    ]


# Each action: a POST that calls one service; refusals come back as a message on the detail page.
# Submitting has a page of its own (`task_submit`): the frequency check comes first.
ACTIONS = {
    "approve": (lambda user, task, data: services.approve_task(user, task=task), "已批准"),
    "return": (
        lambda user, task, data: services.return_task(user, task=task, comment=data.get("reason", "")),
        "已退回修改",
    ),
    "start_emergency": (
        lambda user, task, data: services.start_emergency(user, task=task),
        "紧急检查已开始，请在一个工作日内补办审批",
    ),
    "check_in": (lambda user, task, data: services.check_in(user, task=task), "已签到，检查开始"),
    "close": (lambda user, task, data: services.close_task(user, task=task), "任务已办结"),
    "cancel": (
        lambda user, task, data: services.cancel_task(user, task=task, reason=data.get("reason", "")),
        "任务已取消，检查码已作废",
    ),
}


@require_POST
@page_view
def task_action(request, pk, action):
    task = _task(request, pk)
    if action not in ACTIONS:
        return HttpResponse(status=404)
    call, done = ACTIONS[action]
    try:
        call(request.user, task, request.POST)
    except PermissionDenied:
        raise
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, done)
    return redirect("inspections:task_detail", task.pk)


# --- Frequency control (F-21): the submit step, joining another body's visit, remote checking -------------


@page_view
def task_submit(request, pk):
    """The submit step: the frequency check, other bodies' visits to join, whether a remote check will do,
    an exemption and a justification. A plain POST (the detail page's button) submits when no rule objects."""
    task = _task(request, pk)
    user = request.user
    if request.method == "POST":
        # Passed as typed: the service says what is wrong with an exemption or a missing justification.
        data = {name: request.POST.get(name, "") for name in ("justification", "exemption")}
        try:
            services.submit_task(
                user, task=task, justification=data["justification"], exemption=data["exemption"]
            )
        except PermissionDenied:
            raise
        except DomainError as error:
            messages.error(request, error.message)
            task.refresh_from_db()
            if services.can_submit(user, task):
                # Back to the submit step, where the justification and the exemption are asked for.
                query = f"?exemption={data['exemption']}" if data["exemption"] in Exemption.values else ""
                return redirect(reverse("inspections:task_submit", args=[task.pk]) + query)
        else:
            messages.success(request, "已提交审批")
        return redirect("inspections:task_detail", task.pk)
    if not services.can_submit(user, task):
        messages.info(request, f"任务{task}当前状态为「{task.get_status_display()}」，无需提交")
        return redirect("inspections:task_detail", task.pk)
    exemption = request.GET.get("exemption", "")
    if exemption not in Exemption.values:
        exemption = ""
    check = frequency.check_frequency(task, exemption=exemption)
    form = forms.SubmitForm(initial={"exemption": exemption})
    return render(
        request,
        "inspections/task_submit.html",
        {
            "task": task,
            "check": check,
            "implied": sorted(frequency.effective_exemptions(task, "")),
            "candidates": frequency.join_candidates(task),
            "may_join": frequency.can_join(user, task) and not task.is_joint,
            "may_set_mode": frequency.can_set_mode(user, task),
            "form": form,
            "exemption": exemption,
            "exemptions": Exemption.choices,
        },
    )


@require_POST
@page_view
def task_join(request, pk):
    task = _task(request, pk)
    # Only a task offered on the submit step: other bodies' tasks are not otherwise visible.
    offered = {str(candidate.pk): candidate for candidate in frequency.join_candidates(task)}
    into = offered.get(request.POST.get("into", ""))
    if into is None:
        raise Http404("该任务不在可联合检查的任务之列")
    try:
        joint = frequency.join_task(request.user, task=task, into=into)
    except PermissionDenied:
        raise
    except DomainError as error:
        messages.error(request, error.message)
        return redirect("inspections:task_submit", task.pk)
    messages.success(
        request, f"已并入联合检查任务{joint.number}：一次入企、共用一个检查码；原任务{task.number}已取消"
    )
    return redirect("inspections:task_detail", joint.pk)


@require_POST
@page_view
def task_set_mode(request, pk):
    task = _task(request, pk)
    try:
        task = frequency.set_mode(request.user, task=task, mode=request.POST.get("mode", ""))
    except PermissionDenied:
        raise
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"检查方式已改为「{task.get_mode_display()}」")
    return redirect("inspections:task_submit", task.pk)


@page_view
def frequency_report(request):
    """The enterprises inspected most often (supervisors, city-level reviewers, the platform admin)."""
    from django.utils.http import content_disposition_header

    from jianchama.registry.models import Field

    if not frequency.can_view_frequency_report(request.user):
        raise PermissionDenied("只有执法监督人员、市级执法单位审核人和平台管理员可以查看检查频次统计")
    today = timezone.localdate()
    form = forms.PeriodForm(request.GET or None)
    start, end = form.period(today)
    fields = list(Field.objects.order_by("code"))
    chosen = next((f for f in fields if str(f.pk) == request.GET.get("field")), None)
    try:
        report = frequency.frequency_report(request.user, start=start, end=end, field=chosen)
    except PermissionDenied:
        raise
    except DomainError as error:
        messages.error(request, error.message)
        return redirect("inspections:frequency_report")
    if request.GET.get("format") == "xlsx":
        response = HttpResponse(
            frequency.frequency_report_xlsx(report),
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
        response["Content-Disposition"] = content_disposition_header(
            as_attachment=True, filename=f"检查频次统计_{start:%Y%m%d}-{end:%Y%m%d}.xlsx"
        )
        return response
    query = request.GET.copy()
    query["format"] = "xlsx"
    # Each listed enterprise's inspections, up to a thousand rows on a page: built here in one pass rather
    # than by the template's loop and `{% url %}` per row, which took 0.8 of the page's 0.9 s (profiled).
    task_url = pk_url("inspections:task_detail")
    for enterprise in report.enterprises:
        enterprise.details = format_html_join(
            "",
            '<li><a href="{}">{}</a> {} {} <span class="muted">{} · {}</span></li>',
            (
                (
                    task_url(t.pk),
                    t.number,
                    f"{t.date.month}月{t.date.day}日",
                    "、".join(t.bodies),
                    t.kind_label,
                    t.status_label,
                )
                for t in enterprise.tasks
            ),
        )
    return render(
        request,
        "inspections/frequency_report.html",
        {
            "report": report,
            "form": form,
            "fields": fields,
            "field": chosen,
            "xlsx_query": query.urlencode(),
        },
    )


@page_view
def trigger_report(request):
    """Triggered inspections by situation, and the situations of each field with their evidence (F-28)."""
    if not triggers.can_view_trigger_statistics(request.user):
        raise PermissionDenied(
            "只有执法单位管理员、市级执法单位审核人、执法监督人员和平台管理员可以查看触发式检查统计"
        )
    form = forms.PeriodForm(request.GET or None)
    start, end = form.period(timezone.localdate())
    try:
        stats = triggers.trigger_statistics(request.user, start=start, end=end)
    except PermissionDenied:
        raise
    except DomainError as error:
        messages.error(request, error.message)
        return redirect("inspections:trigger_report")
    return render(
        request,
        "inspections/trigger_report.html",
        {
            "stats": stats,
            "total": sum(stat.total for stat in stats),
            "form": form,
            "start": start,
            "end": end,
            "by_field": triggers.situations_by_field(),
        },
    )


@require_POST
@page_view
def statement_reply(request, pk, statement_pk):
    task = _task(request, pk)
    statement = get_object_or_404(task.statements, pk=statement_pk)
    try:
        services.reply_statement(request.user, statement=statement, reply=request.POST.get("reply", ""))
    except PermissionDenied:
        raise
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, "已答复")
    return redirect("inspections:task_detail", task.pk)


@page_view
def record_result(request, pk):
    task = _task(request, pk)
    if not services.can_record(request.user, task):
        raise PermissionDenied("只有本任务的执法人员可以在检查开始后录入检查结果")
    form = forms.RecordForm(request.POST or None, task=task)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        findings = [
            services.FindingInput(item=item, entry=entry, result=data[name], note=data[f"{name}_note"])
            for name, item, entry in form.entries
        ]
        files = [
            services.EvidenceInput(kind=data["evidence_kind"] or "photo", file=upload)
            for upload in request.FILES.getlist("evidence_files")
        ]
        record = submit_form(
            form,
            lambda: services.record_result(
                request.user,
                task=task,
                outcome=data["outcome"],
                summary=data["summary"],
                findings=findings,
                rectify_working_days=data["rectify_working_days"],
                lenient=data["lenient"],
                lenient_note=data["lenient_note"],
                improvement_advice=data["improvement_advice"],
                evidence=files,
                onsite_person_name=data["onsite_person_name"],
                onsite_person_phone=data["onsite_person_phone"],
            ),
        )
        if record is not None:
            messages.success(request, "检查结果已录入，企业扫码即可查看并评议")
            return redirect("inspections:task_detail", task.pk)
    return render(request, "inspections/record_form.html", {"task": task, "form": form})


# --- The inspector's phone ---------------------------------------------------------------------------


@page_view
def my_today(request):
    """The inspector's tasks for today and the days ahead, on a phone."""
    user = request.user
    today = timezone.localdate()
    tasks = (
        Task.objects.visible_to(user)
        .filter(inspectors__user=user, window_end__gte=today)
        .exclude(status__in=[Task.Status.CLOSED, Task.Status.CANCELLED])
        .select_related("enterprise", "lead_body")
        .order_by("window_start", "pk")
        .distinct()
    )
    today_tasks = [t for t in tasks if t.window_start <= today]
    later = [t for t in tasks if t.window_start > today]
    return render(
        request, "inspections/my_today.html", {"today_tasks": today_tasks, "later": later, "today": today}
    )


@never_cache
@page_view
def show_code(request, pk):
    """The QR the inspector shows at the door: a fresh token at each refresh (every CODE_REFRESH_SECONDS)."""
    from django.conf import settings

    task = _task(request, pk)
    token = services.current_token(request.user, task=task)
    content = signing.qr_content(token)
    return render(
        request,
        "inspections/show_code.html",
        {
            "task": task,
            # A PNG rather than SVG: crisp at any size on a phone, and any camera reads it off the screen.
            "qr_png": base64.b64encode(qr.qr_png(content, scale=6)).decode(),
            "url": signing.code_url(token),
            "refresh": settings.CODE_REFRESH_SECONDS,
            "issued": timezone.localtime(),
        },
    )
