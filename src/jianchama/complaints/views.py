"""Pages of the complaint ledger (F-34) and reconsideration leads (F-35): the ledger with its filters and Excel
export, a complaint's page with the actions its viewer may take and its audit timeline, the intake and the
observer's forms, and the leads' pages.

Reading goes through `visible_to` (out of scope is 404); every change is a POST to a service. Enterprises use
the portal's pages (`portal/complaint_views.py`), not these.
"""

from __future__ import annotations

import datetime

from django import forms as django_forms
from django.conf import settings
from django.contrib import messages
from django.db.models import Q, QuerySet
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.views.decorators.http import require_POST
from django_ratelimit.decorators import ratelimit

from jianchama.core import audit, exports, spreadsheets, todos
from jianchama.core.bounds import BoundedForm
from jianchama.core.errors import DomainError, PermissionDenied
from jianchama.core.pages import page_view, paginate, submit_form
from jianchama.core.roles import Role
from jianchama.core.views import rate_limited
from jianchama.core.workdays import WorkingCalendar
from jianchama.registry.importing import human_size
from jianchama.registry.models import EnforcementBody

from . import activity_views, forms, hotline, services, survey_views
from .models import Complaint, ObserverActivity, ReconsiderationLead


def _staff_only(user) -> None:
    if user.role == Role.ENTERPRISE_CONTACT:
        raise PermissionDenied("企业请在企业端查看和提交投诉举报")


def _complaint(request, pk) -> Complaint:
    return get_object_or_404(
        Complaint.objects.visible_to(request.user).select_related(
            "body", "body__region", "enterprise", "task", "registered_by", "finding", "complainant_enterprise"
        ),
        pk=pk,
    )


def filtered(user, params) -> tuple[QuerySet[Complaint], forms.ComplaintFilterForm]:
    """The user's complaints narrowed by the ledger's filters (shared by the page and the export)."""
    complaints = Complaint.objects.visible_to(user)
    bodies = EnforcementBody.objects.filter(pk__in=complaints.values("body")).order_by("name")
    form = forms.ComplaintFilterForm(params or None, bodies=bodies)
    if form.is_valid():
        data = form.cleaned_data
        if data["q"]:
            text = Q(number__icontains=data["q"]) | Q(title__icontains=data["q"])
            if services.sees_complainant(user):  # else the search would tell who complained
                text |= Q(complainant_name__icontains=data["q"])
            complaints = complaints.filter(text)
        for name in ("source", "category", "status", "body"):
            if data[name]:
                complaints = complaints.filter(**{name: data[name]})
        if data["enterprise"]:
            text = data["enterprise"].strip()
            complaints = complaints.filter(
                Q(enterprise__name__icontains=text) | Q(enterprise__uscc__iexact=text)
            )
        if data["start"]:
            complaints = complaints.filter(received_on__gte=data["start"])
        if data["end"]:
            complaints = complaints.filter(received_on__lte=data["end"])
        if data["overdue"]:
            complaints = services.overdue_filter(complaints)
    # A home page's to-do (core/todos.py) lands here on exactly the complaints it counted.
    complaints, form.todo_label = todos.narrow(user, params.get("todo", ""), complaints)
    return complaints.select_related("body", "enterprise", "task"), form


@page_view
def ledger(request):
    user = request.user
    _staff_only(user)
    complaints, filters = filtered(user, request.GET)
    page = paginate(request, complaints)
    today, between = timezone.localdate(), WorkingCalendar().between
    for complaint in page:
        complaint.timing = services.timing(complaint, today, between=between)
    sources = services.registration_sources(user)
    return render(
        request,
        "complaints/ledger.html",
        {
            "page": page,
            "filters": filters,
            "todo_label": filters.todo_label,
            "can_register": bool(sources) and Complaint.Source.OBSERVER not in sources,
            "may_import_hotline": hotline.may_import(user),
            "can_observe": Complaint.Source.OBSERVER in sources,
            "may_see_leads": services.can_register_leads(user) or user.role == Role.DISTRICT_GOVERNMENT,
            "query": request.GET.urlencode(),
        },
    )


HIDDEN_COMPLAINANT = "（投诉人信息仅受理和监督人员可见）"

EXPORT_HEADERS = [
    "编号",
    "来源",
    "类别",
    "标题",
    "内容",
    "投诉人",
    "联系电话",
    "涉及企业",
    "统一社会信用代码",
    "承办执法单位",
    "检查任务",
    "状态",
    "受理日期",
    "交办日期",
    "办理期限",
    "办理日期",
    "办理结果",
    "反馈期限",
    "反馈日期",
    "反馈内容",
    "不予受理理由",
    "期限情况",
]
DATE_COLUMNS = {"受理日期", "交办日期", "办理期限", "办理日期", "反馈期限", "反馈日期"}


def _local_date(value: datetime.datetime | None) -> datetime.date | None:
    return timezone.localdate(value) if value else None


@page_view
def export(request):
    """The filtered ledger as an Excel workbook: Chinese headers, dates as dates (core/exports.py: sent at
    once, or written by the task queue's worker for a large ledger)."""
    _staff_only(request.user)
    return exports.respond(
        request, ledger_export, back=f"{reverse('complaints:ledger')}?{request.GET.urlencode()}"
    )


@exports.builder
def ledger_export(user, params) -> exports.Export:
    _staff_only(user)
    complaints, _ = filtered(user, params)
    return exports.Export(
        name="投诉举报台账", rows=complaints, sheets=lambda: [_ledger_sheet(user, complaints)]
    )


def _ledger_sheet(user, complaints) -> spreadsheets.Sheet:
    today, between = timezone.localdate(), WorkingCalendar().between
    sees_all = services.sees_complainant(user)

    def rows():
        for c in complaints.iterator(chunk_size=1000):
            shown = sees_all or services.sees_complainant(user, c)
            yield [
                c.number,
                c.get_source_display(),
                c.get_category_display(),
                c.title,
                c.content,
                c.complainant_name if shown else HIDDEN_COMPLAINANT,
                c.complainant_phone if shown else "",
                c.enterprise.name if c.enterprise else "",
                c.enterprise.uscc if c.enterprise else "",
                c.body.name if c.body else "",
                c.task.number if c.task else "",
                c.get_status_display(),
                c.received_on,
                _local_date(c.assigned_at),
                c.handle_by,
                _local_date(c.handled_at),
                c.result,
                c.feedback_by,
                _local_date(c.feedback_at),
                c.feedback,
                c.rejection_reason,
                services.timing(c, today, between=between).text,
            ]

    return spreadsheets.Sheet(
        "投诉举报台账",
        EXPORT_HEADERS,
        rows(),
        widths=[14 if header in DATE_COLUMNS else 20 for header in EXPORT_HEADERS],
        number_formats=["yyyy-mm-dd" if header in DATE_COLUMNS else None for header in EXPORT_HEADERS],
    )


COMPLAINANT_FIELDS = ("complainant_name", "complainant_phone", "complainant_enterprise")


def _without_complainant(values):
    if not isinstance(values, dict):
        return values
    return {key: value for key, value in values.items() if key.removesuffix("_id") not in COMPLAINANT_FIELDS}


@page_view
def detail(request, pk):
    user = request.user
    _staff_only(user)
    complaint = _complaint(request, pk)
    may = services.actions_for(user, complaint)
    sees = services.sees_complainant(user, complaint)
    timeline = list(audit.history(complaint))
    if not sees:
        for event in timeline:  # in memory only: the audit rows themselves are never changed
            event.before, event.after = _without_complainant(event.before), _without_complainant(event.after)
    return render(
        request,
        "complaints/detail.html",
        {
            "c": complaint,
            "timing": services.timing(complaint),
            "may": may,
            "assign_form": forms.AssignForm(user=user) if may["assign"] else None,
            "finding_form": forms.FindingForm() if may["finding"] else None,
            "timeline": timeline,
            "sees_complainant": sees,
            "hidden_complainant": HIDDEN_COMPLAINANT,
            # The visit or meeting it came out of, to whoever may read that record (not the body).
            "activity": ObserverActivity.objects.visible_to(user).filter(pk=complaint.activity_id).first()
            if complaint.activity_id
            else None,
            "finding_visible": complaint.finding_id is not None
            and user.role in (Role.SUPERVISOR, Role.DISTRICT_GOVERNMENT, Role.PLATFORM_ADMIN),
        },
    )


@page_view
def create(request):
    """The intake form; for an observer, the observation form."""
    user = request.user
    sources = services.registration_sources(user)
    if not sources or user.role == Role.ENTERPRISE_CONTACT:
        raise PermissionDenied(
            "只有投诉受理人员、司法局执法监督人员、执法单位管理员和法治观察员可以在此登记投诉举报"
        )
    is_observer = user.role == Role.OBSERVER
    # A lead out of a visit or meeting (?activity=<id>): one the user may see, else 404.
    activity = activity_views.activity_from(request)
    form = forms.ComplaintForm(request.POST or None, user=user)
    if request.method == "POST" and form.is_valid():
        complaint = submit_form(
            form,
            lambda: services.register_complaint(user, activity=activity, **form.service_arguments()),
        )
        if complaint is not None:
            messages.success(request, f"已登记，编号{complaint.number}")
            return redirect("complaints:detail", complaint.pk)
    title = "提交观察情况" if is_observer else "登记投诉举报"
    return render(
        request,
        "complaints/form.html",
        {"form": form, "title": title, "is_observer": is_observer, "activity": activity},
    )


@require_POST
@page_view
def action(request, pk, name):
    user = request.user
    _staff_only(user)
    complaint = _complaint(request, pk)
    text = request.POST.get("text", "")
    try:
        if name == "assign":
            form = forms.AssignForm(request.POST, user=user)
            if not form.is_valid():
                raise DomainError("请选择本区域内的承办执法单位")
            services.assign_complaint(user, complaint=complaint, body=form.cleaned_data["body"])
            done = f"已交办{form.cleaned_data['body'].name}"
        elif name == "handle":
            services.record_handling(user, complaint=complaint, result=text)
            done = "办理结果已录入"
        elif name == "feedback":
            services.give_feedback(user, complaint=complaint, feedback=text)
            done = "已反馈投诉人，投诉举报办结"
        elif name == "reject":
            services.reject_complaint(user, complaint=complaint, reason=text)
            done = "已作出不予受理"
        elif name == "finding":
            form = forms.FindingForm(request.POST)
            if not form.is_valid():
                raise DomainError("请选择严重程度")
            services.complaint_to_finding(
                user,
                complaint=complaint,
                title=form.cleaned_data["title"],
                severity=form.cleaned_data["severity"],
            )
            done = "已转为监督问题"
        else:
            return HttpResponse(status=404)
    except PermissionDenied:
        raise
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, done)
    return redirect("complaints:detail", complaint.pk)


# --- 12345 work orders ----------------------------------------------------------------------------------


class HotlineUploadForm(BoundedForm):
    # Empty files are let through: the service says what is wrong with them in its own words.
    file = django_forms.FileField(
        label="选择文件",
        allow_empty_file=True,
        widget=django_forms.FileInput(
            attrs={"accept": ".xlsx,.csv,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
        ),
        error_messages={"required": "请选择要上传的12345工单导出文件"},
    )


def _hotline_page(request, status: int = 200, **context) -> HttpResponse:
    context = {
        "columns": hotline.HOTLINE_COLUMNS,
        "max_rows": hotline.max_rows(),
        "max_size": human_size(settings.IMPORT_MAX_BYTES),
        **context,
    }
    context.setdefault("form", HotlineUploadForm())
    return render(request, "complaints/hotline_import.html", context, status=status)


@page_view
@ratelimit(key="user", rate="10/m", method="POST", block=False)
def hotline_import(request):
    """The intake desk uploads the 12345 hotline's work-order export; the page shows what was registered,
    what was already in the ledger, and every problem of the rows left out."""
    if not hotline.may_import(request.user):
        raise PermissionDenied("只有投诉受理人员可以导入12345热线工单")
    if request.method == "GET" and request.GET.get("template") == "xlsx":
        sheet = spreadsheets.Sheet(
            title="12345工单", header=[c.name for c in hotline.HOTLINE_COLUMNS], rows=[]
        )
        return spreadsheets.xlsx_response("12345工单导入模板", [sheet])
    if request.method != "POST":
        return _hotline_page(request)
    if getattr(request, "limited", False):
        return rate_limited(request)
    form = HotlineUploadForm(request.POST, request.FILES)
    if not form.is_valid():
        return _hotline_page(request, status=400, form=form)
    upload = form.cleaned_data["file"]
    try:
        result = hotline.import_work_orders(request.user, file=upload, file_name=upload.name)
    except PermissionDenied:
        raise
    except DomainError as error:
        form.add_error("file", error.message)
        return _hotline_page(request, status=400, form=form)
    return _hotline_page(request, result=result)


# --- Reconsideration leads ------------------------------------------------------------------------------


def _lead(request, pk) -> ReconsiderationLead:
    return get_object_or_404(
        ReconsiderationLead.objects.visible_to(request.user).select_related("body", "task", "finding"), pk=pk
    )


@page_view
def lead_list(request):
    user = request.user
    leads = ReconsiderationLead.objects.visible_to(user).select_related("body", "task", "finding")
    filters = forms.LeadFilterForm(request.GET or None)
    if filters.is_valid() and filters.cleaned_data["status"]:
        leads = leads.filter(status=filters.cleaned_data["status"])
    # A home page's to-do (complaints/todos.py) lands here on exactly the leads it counted.
    leads, todo_label = todos.narrow(user, request.GET.get("todo", ""), leads)
    page = paginate(request, leads)
    return render(
        request,
        "complaints/lead_list.html",
        {
            "page": page,
            "filters": filters,
            "todo_label": todo_label,
            "can_register": services.can_register_leads(user),
        },
    )


@page_view
def lead_create(request):
    user = request.user
    if not services.can_register_leads(user):
        raise PermissionDenied("只有司法局执法监督人员或行政复议机构可以登记行政复议线索")
    form = forms.LeadForm(request.POST or None, bodies=services.lead_bodies(user))
    if request.method == "POST" and form.is_valid():
        lead = submit_form(form, lambda: services.register_lead(user, **form.cleaned_data))
        if lead is not None:
            messages.success(request, f"行政复议线索{lead.case_number}已登记")
            return redirect("complaints:lead_detail", lead.pk)
    return render(
        request, "complaints/form.html", {"form": form, "title": "登记行政复议线索", "is_lead": True}
    )


@page_view
def lead_detail(request, pk):
    lead = _lead(request, pk)
    may = services.can_register_leads(request.user) and services.is_supervisor_of(request.user, lead.body)
    return render(
        request,
        "complaints/lead_detail.html",
        {
            "lead": lead,
            "may_accept": may and lead.status == ReconsiderationLead.Status.REGISTERED,
            "may_return": may and lead.status != ReconsiderationLead.Status.RETURNED,
            "finding_form": forms.FindingForm(),
            # The office follows the lead (the finding's title and where it stands) but does not open the
            # bureau's finding page.
            "finding_link": not services.is_reconsideration_office(request.user),
            "timeline": audit.history(lead),
        },
    )


@require_POST
@page_view
def lead_action(request, pk, name):
    user = request.user
    lead = _lead(request, pk)
    try:
        if name == "accept":
            form = forms.FindingForm(request.POST)
            if not form.is_valid():
                raise DomainError("请选择严重程度")
            services.accept_lead(
                user, lead=lead, title=form.cleaned_data["title"], severity=form.cleaned_data["severity"]
            )
            done = "已转为监督问题"
        elif name == "return":
            services.return_lead(user, lead=lead, note=request.POST.get("text", ""))
            done = "已反馈复议机构"
        else:
            return HttpResponse(status=404)
    except PermissionDenied:
        raise
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, done)
    return redirect("complaints:lead_detail", lead.pk)


urlpatterns = [
    path("activities/", activity_views.activity_list, name="activity_list"),
    path("activities/export.xlsx", activity_views.activity_export, name="activity_export"),
    path("activities/new/", activity_views.activity_create, name="activity_create"),
    path("activities/<int:pk>/", activity_views.activity_detail, name="activity_detail"),
    path("surveys/", survey_views.survey_list, name="survey_list"),
    path("surveys/new/", survey_views.survey_create, name="survey_create"),
    path("surveys/<int:pk>/", survey_views.survey_detail, name="survey_detail"),
    path("surveys/<int:pk>/<slug:name>/", survey_views.survey_action, name="survey_action"),
    path("", ledger, name="ledger"),
    path("export.xlsx", export, name="export"),
    path("new/", create, name="create"),
    path("import-12345/", hotline_import, name="hotline_import"),
    path("observe/", create, name="observe"),
    path("<int:pk>/", detail, name="detail"),
    path("<int:pk>/<slug:name>/", action, name="action"),
    path("leads/", lead_list, name="lead_list"),
    path("leads/new/", lead_create, name="lead_create"),
    path("leads/<int:pk>/", lead_detail, name="lead_detail"),
    path("leads/<int:pk>/<slug:name>/", lead_action, name="lead_action"),
]
