"""Pages of the supervision reports (F-37): the list (scoped by `visible_to`, with the form to open a report of a
period), a report's page (its figures, the narrative form, 生成/重新生成 while a draft, 签发), and its files.

Reading goes through `visible_to` (out of scope is 404); every change is a POST to `services.py`, whose refusals
come back as a message (a permission refusal is a 403 page that says why).
"""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from jianchama.core import audit, files
from jianchama.core.errors import DomainError, PermissionDenied
from jianchama.core.pages import page_view, paginate
from jianchama.core.roles import Role
from jianchama.registry.models import Region

from .. import contents, documents, services
from ..models import SupervisionReport


def _may_read(user) -> bool:
    return user.is_platform_admin or user.role == Role.SUPERVISOR


def _report(request, pk) -> SupervisionReport:
    return get_object_or_404(
        SupervisionReport.objects.visible_to(request.user).select_related("region", "issued_by"), pk=pk
    )


def _regions(user) -> list[Region]:
    """The regions the user may open reports for: every district and the city, or his district."""
    if user.is_platform_admin or (user.region_id and user.region.level == Region.Level.CITY):
        return list(
            Region.objects.filter(level__in=[Region.Level.CITY, Region.Level.DISTRICT]).order_by("path")
        )
    return [services.report_region(user.region)] if user.region_id else []


def _int(value, default=None):
    try:
        return int(str(value)[:12])
    except (TypeError, ValueError):
        return default


@page_view
def report_list(request):
    user = request.user
    if not _may_read(user):
        raise PermissionDenied("执法监督工作报告供司法局执法监督人员查看")
    reports = SupervisionReport.objects.visible_to(user).select_related("region")
    kind = request.GET.get("kind") or ""
    if kind in SupervisionReport.Kind.values:
        reports = reports.filter(kind=kind)
    if request.GET.get("todo") == "reports_to_issue" or request.GET.get("status") == "draft":
        reports = reports.filter(status=SupervisionReport.Status.DRAFT)
    page = paginate(request, reports.order_by("-period_start", "kind", "region__path", "pk"))
    today = timezone.localdate()
    return render(
        request,
        "reports/list.html",
        {
            "page": page,
            "kinds": SupervisionReport.Kind.choices,
            "kind": kind,
            "regions": _regions(user),
            "years": range(today.year, today.year - 6, -1),
        },
    )


@require_POST
@page_view
def report_create(request):
    user = request.user
    if not _may_read(user):
        raise PermissionDenied("只有司法局执法监督人员可以编制执法监督工作报告")
    region = next((r for r in _regions(user) if str(r.pk) == request.POST.get("region")), None)
    year = _int(request.POST.get("year"))
    number = _int(request.POST.get("number"), 1)
    kind = request.POST.get("kind") or ""
    problem = None
    if region is None:
        problem = "请选择您所在区（或全市）"
    elif year is None or not 2000 <= year <= 2100:
        problem = "请选择年度"
    elif kind not in SupervisionReport.Kind.values:
        problem = "请选择报告类型（月度、季度或年度）"
    if problem:
        messages.error(request, f"报告未创建：{problem}")
        return redirect("reports:list")
    try:
        report = services.create_report(user, region=region, kind=kind, year=year, number=number or 1)
    except PermissionDenied:
        raise
    except DomainError as error:
        messages.error(request, f"报告未创建：{error.message}")
        return redirect("reports:list")
    messages.success(request, f"已创建{report}，请生成报告")
    return redirect("reports:detail", report.pk)


@page_view
def report_detail(request, pk):
    report = _report(request, pk)
    return render(
        request,
        "reports/detail.html",
        {
            "report": report,
            "sections": documents.prepared_sections(report),
            "may_write": report.status == SupervisionReport.Status.DRAFT
            and services.may_write(request.user, report.region),
            "timeline": audit.history(report),
        },
    )


@require_POST
@page_view
def report_action(request, pk, action):
    report = _report(request, pk)
    try:
        if action == "generate":
            report = services.generate_report(request.user, report=report)
            done = "已生成报告（PDF 和 Excel），请核对数据、补充文字后签发"
        elif action == "narrative":
            narrative = {code: request.POST.get(f"narrative_{code}", "") for code, _ in contents.SECTIONS}
            services.save_narrative(request.user, report=report, narrative=narrative)
            done = "已保存报告文字；重新生成或签发时写入 PDF"
        elif action == "issue":
            report = services.issue_report(request.user, report=report)
            done = f"已签发{report.number}，报告数据已固定"
        else:
            raise Http404
    except PermissionDenied:
        raise
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, done)
    return redirect("reports:detail", report.pk)


@page_view
def report_file(request, pk, fmt):
    report = _report(request, pk)
    field = report.pdf if fmt == "pdf" else report.xlsx
    if not field:
        raise Http404
    stem = report.number or f"{report.region.name}{report.period_label}报告（草稿）"
    return files.send(request, field, f"{stem}.{fmt}")
