"""Pages of observers' visits and meetings (F-47, complaints/activities.py): the list with its filters, figures
and Excel export, the form, and a record's page with the leads filed from it."""

from __future__ import annotations

from django.contrib import messages
from django.db.models import Count, Q, QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse

from jianchama.core import audit, exports, spreadsheets
from jianchama.core.errors import PermissionDenied
from jianchama.core.pages import page_view, paginate, submit_form
from jianchama.core.roles import Role

from . import activities, forms
from .models import Complaint, ObserverActivity

REFUSED = "走访座谈记录由法治观察员和司法局执法监督人员填写和查看"


def _viewer_only(user) -> None:
    if not activities.may_view(user):
        raise PermissionDenied(REFUSED)


def activity_from(request) -> ObserverActivity | None:
    """The visit or meeting named by `?activity=` that the user may see; 404 for any other value."""
    value = request.GET.get("activity", "")
    if not value:
        return None
    if not value.isdigit() or len(value) > 12:
        raise Http404
    return get_object_or_404(ObserverActivity.objects.visible_to(request.user), pk=int(value))


def filtered(user, params) -> tuple[QuerySet[ObserverActivity], forms.ActivityFilterForm]:
    """The user's visits and meetings narrowed by the list's filters (shared by the page and the export)."""
    rows = ObserverActivity.objects.visible_to(user)
    form = forms.ActivityFilterForm(params or None)
    if form.is_valid():
        data = form.cleaned_data
        if data["q"]:
            q = data["q"].strip()
            rows = rows.filter(
                Q(place__icontains=q)
                | Q(organiser__icontains=q)
                | Q(problems__icontains=q)
                | Q(suggestions__icontains=q)
            )
        if data["kind"]:
            rows = rows.filter(kind=data["kind"])
        if data["start"]:
            rows = rows.filter(held_on__gte=data["start"])
        if data["end"]:
            rows = rows.filter(held_on__lte=data["end"])
    return rows, form


@page_view
def activity_list(request):
    user = request.user
    _viewer_only(user)
    rows, filters = filtered(user, request.GET)
    page = paginate(
        request,
        rows.select_related("region", "recorded_by")
        .annotate(lead_count=Count("leads"))
        .order_by("-held_on", "-id"),
    )
    return render(
        request,
        "complaints/activities/list.html",
        {
            "page": page,
            "filters": filters,
            "totals": activities.totals(rows),
            "may_record": activities.may_record(user),
            "query": request.GET.urlencode(),
        },
    )


@page_view
def activity_export(request):
    _viewer_only(request.user)
    return exports.respond(
        request,
        activity_export_builder,
        back=f"{reverse('complaints:activity_list')}?{request.GET.urlencode()}",
    )


EXPORT_HEADERS = [
    "形式",
    "日期",
    "地点",
    "组织单位",
    "参与企业数",
    "参加人员",
    "企业反映的困难和问题",
    "意见和建议",
    "所属区域",
    "记录人",
    "据此提交的线索数",
]


@exports.builder
def activity_export_builder(user, params) -> exports.Export:
    _viewer_only(user)
    rows, _ = filtered(user, params)
    rows = rows.select_related("region", "recorded_by").annotate(lead_count=Count("leads"))
    rows = rows.order_by("-held_on", "-id")

    def sheet_rows():
        for a in rows.iterator(chunk_size=1000):
            yield [
                a.get_kind_display(),
                a.held_on,
                a.place,
                a.organiser,
                a.enterprise_count,
                a.participants,
                a.problems,
                a.suggestions,
                a.region.name,
                a.recorded_by.full_name or a.recorded_by.username,
                a.lead_count,
            ]

    return exports.Export(
        name="走访座谈记录",
        rows=rows,
        sheets=lambda: [
            spreadsheets.Sheet(
                "走访座谈记录",
                EXPORT_HEADERS,
                sheet_rows(),
                (10, 14, 24, 16, 10, 20, 50, 40, 12, 10, 10),
                [None, "yyyy-mm-dd"] + [None] * 9,
            )
        ],
    )


@page_view
def activity_create(request):
    user = request.user
    if not activities.may_record(user):
        raise PermissionDenied("只有法治观察员和司法局执法监督人员可以记录走访、座谈情况")
    form = forms.ActivityForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        activity = submit_form(form, lambda: activities.record_activity(user, **form.cleaned_data))
        if activity is not None:
            messages.success(request, f"{activity.get_kind_display()}记录已保存")
            return redirect("complaints:activity_detail", activity.pk)
    return render(
        request,
        "complaints/form.html",
        {"form": form, "title": "记录走访、座谈情况", "is_activity": True},
    )


@page_view
def activity_detail(request, pk):
    user = request.user
    _viewer_only(user)
    activity = get_object_or_404(
        ObserverActivity.objects.visible_to(user).select_related("region", "recorded_by"), pk=pk
    )
    leads = (
        Complaint.objects.visible_to(user)
        .filter(activity=activity)
        .select_related("body")
        .order_by("-received_on", "-id")
    )
    # An observer files observations; a supervisor registers what he heard like any complaint.
    lead_url = None
    if activities.may_record(user):
        name = "complaints:observe" if user.role == Role.OBSERVER else "complaints:create"
        lead_url = f"{reverse(name)}?activity={activity.pk}"
    return render(
        request,
        "complaints/activities/detail.html",
        {
            "activity": activity,
            "leads": leads[:200],
            "lead_url": lead_url,
            "timeline": audit.history(activity),
        },
    )
