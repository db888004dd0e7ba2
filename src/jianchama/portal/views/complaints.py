"""The enterprise's complaints on the portal (F-34): the form (mobile first, rate-limited per client address
like the other public posts) and the enterprise's own list and pages. The ledger's services decide."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from jianchama.complaints import services
from jianchama.complaints.forms import NoCodeReportForm, PortalComplaintForm
from jianchama.complaints.models import Complaint
from jianchama.core.pages import submit_form
from jianchama.core.views import rate_limited
from jianchama.inspections.models import Task

from .portal import contact_required, limited

# Per client address, on POSTs only: setting PORTAL_COMPLAINT_RATE_LIMIT overrides it.
COMPLAINT_RATE_LIMIT = "10/h"


@contact_required
def complaint_create(request):
    user = request.user
    tasks = Task.objects.visible_to(user).select_related("lead_body").order_by("-window_start")
    initial = {"complainant_name": user.full_name, "complainant_phone": user.phone}
    task_id = request.GET.get("task", "")
    if task_id.isdigit() and tasks.filter(pk=task_id).exists():
        initial["task"] = int(task_id)
    form = PortalComplaintForm(request.POST or None, tasks=tasks, initial=initial)
    if request.method == "POST":
        if limited(
            request,
            "portal-complaint",
            getattr(settings, "PORTAL_COMPLAINT_RATE_LIMIT", COMPLAINT_RATE_LIMIT),
        ):
            return rate_limited(request)
        if form.is_valid():
            complaint = submit_form(
                form,
                lambda: services.register_complaint(
                    user, source=Complaint.Source.PORTAL, **form.cleaned_data
                ),
            )
            if complaint is not None:
                messages.success(
                    request, f"投诉已提交，编号{complaint.number}。处理结果将通过消息和短信告知。"
                )
                return redirect("portal:complaint_detail", complaint.pk)
    return render(request, "portal/complaint_form.html", {"form": form})


@contact_required
@require_http_methods(["GET", "POST"])
def report_no_code(request):
    """ "有人未出示检查码来检查": one tap on the portal registers the complaint (the two fields may stay empty);
    a GET shows the same small form on its own page (for the link on the enterprise code page)."""
    form = NoCodeReportForm(request.POST or None)
    if request.method == "POST":
        if limited(
            request,
            "portal-complaint",
            getattr(settings, "PORTAL_COMPLAINT_RATE_LIMIT", COMPLAINT_RATE_LIMIT),
        ):
            return rate_limited(request)
        if form.is_valid():
            complaint = submit_form(
                form,
                lambda: services.report_inspection_without_code(
                    request.user, who=form.cleaned_data["who"], note=form.cleaned_data["note"]
                ),
            )
            if complaint is not None:
                messages.success(
                    request,
                    f"举报已提交，编号{complaint.number}。受理人员将核查并交办，处理结果将通过消息和短信告知。"
                    "没有有效检查码的检查，企业有权拒绝。",
                )
                return redirect("portal:complaint_detail", complaint.pk)
    return render(request, "portal/report_no_code.html", {"form": form})


def _own(user):
    # The enterprise's own complaints: those it filed (portal, its code reports), not what others said of it.
    return Complaint.objects.visible_to(user).filter(complainant_enterprise_id=user.enterprise_id)


@contact_required
def complaint_list(request):
    complaints = list(_own(request.user).select_related("body")[:200])
    return render(request, "portal/complaint_list.html", {"complaints": complaints})


@contact_required
def complaint_detail(request, pk):
    complaint = get_object_or_404(_own(request.user).select_related("body", "task", "task__lead_body"), pk=pk)
    return render(request, "portal/complaint_detail.html", {"c": complaint})
