"""Registry pages: thin views over `visible_to` querysets and the services.

Reading: every object is fetched through `visible_to` (out of scope is 404). Writing: the service decides;
its PermissionDenied becomes a 403 page, its DomainError the form's errors.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Prefetch, Q
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from jianchama.core import audit, files, todos
from jianchama.core.errors import DomainError, PermissionDenied
from jianchama.core.models import AuditEvent
from jianchama.core.pages import page_view, paginate, submit_form
from jianchama.core.roles import Role

from .. import forms, importing, services
from ..models import Certificate, EnforcementBody, Enterprise, EnterpriseContact, InspectionItem, Inspector
from ..qualification import check_qualification

# --- Helpers ------------------------------------------------------------------------------------------


def timeline_context(request, events, *, show_object: bool = False) -> dict:
    """The audit timeline for a detail page; staff only (enterprise contacts see their data, not its log).
    `show_object` names each event's object, for a timeline that covers several (an inspector's certificates)."""
    if request.user.role == Role.ENTERPRISE_CONTACT:
        return {"timeline": None}
    return {"timeline": events, "show_object": show_object}


def _events_about(*objects, extra: Q | None = None):
    query = Q(pk__in=[])
    for obj in objects:
        query |= Q(object_type=obj._meta.label, object_id=str(obj.pk))
    if extra is not None:
        query |= extra
    return AuditEvent.objects.filter(query).order_by("sequence")


def _certificate_rows(certificates) -> list[Certificate]:
    today = timezone.localdate()
    rows = list(certificates)
    for certificate in rows:
        certificate.days_left = (certificate.valid_until - today).days
    return rows


# --- Bodies (F-01) ------------------------------------------------------------------------------------


@page_view
def body_list(request):
    bodies = (
        EnforcementBody.objects.visible_to(request.user).select_related("region").prefetch_related("fields")
    )
    filters = forms.BodyFilterForm(request.GET or None)
    if filters.is_valid():
        data = filters.cleaned_data
        if data["q"]:
            bodies = bodies.filter(Q(name__icontains=data["q"]) | Q(code__icontains=data["q"]))
        if data["field"]:
            bodies = bodies.filter(fields=data["field"])
        if data["region"]:
            bodies = bodies.filter(region__path__startswith=data["region"].path)
        if data["level"]:
            bodies = bodies.filter(level=data["level"])
        if data["body_type"]:
            bodies = bodies.filter(body_type=data["body_type"])
    return render(
        request,
        "registry/body_list.html",
        {
            "page": paginate(request, bodies.distinct()),
            "filters": filters,
            "can_create": services.can_manage_bodies(request.user),
        },
    )


@page_view
def body_detail(request, pk):
    body = get_object_or_404(
        EnforcementBody.objects.visible_to(request.user).select_related(
            "region", "city_counterpart", "entrusting_organ"
        ),
        pk=pk,
    )
    return render(
        request,
        "registry/body_detail.html",
        {
            "body": body,
            "items": InspectionItem.objects.visible_to(request.user)
            .filter(bodies=body)
            .select_related("field"),
            "inspector_count": Inspector.objects.visible_to(request.user).filter(body=body).count(),
            "district_counterparts": body.district_counterparts.all(),
            "can_edit": services.can_manage_bodies(request.user),
            "can_add_inspector": services.can_manage_inspectors_of(request.user, body),
            **timeline_context(request, audit.history(body)),
        },
    )


BODY_FORM_FIELDS = [
    "code",
    "name",
    "body_type",
    "level",
    "region",
    "fields",
    "city_counterpart",
    "entrusting_organ",
    "entrusted_items",
    "entrustment_start",
    "entrustment_end",
    "head_name",
    "phone",
    "is_active",
]


@page_view
def body_create(request):
    if not services.can_manage_bodies(request.user):
        raise PermissionDenied("只有平台管理员可以新增执法单位")
    form = forms.BodyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        body = submit_form(form, lambda: services.create_body(request.user, **form.cleaned_data))
        if body is not None:
            messages.success(request, f"已新增执法单位“{body}”")
            return redirect("registry:body_detail", body.pk)
    return render(
        request,
        "registry/form.html",
        {"form": form, "title": "新增执法单位", "back": ("执法单位", "registry:body_list", None)},
    )


@page_view
def body_edit(request, pk):
    body = get_object_or_404(EnforcementBody.objects.visible_to(request.user), pk=pk)
    if not services.can_manage_bodies(request.user):
        raise PermissionDenied("只有平台管理员可以修改执法单位")
    form = forms.BodyForm(request.POST or None, initial=forms.initial_from(body, BODY_FORM_FIELDS))
    if request.method == "POST" and form.is_valid():
        saved = submit_form(form, lambda: services.update_body(request.user, body=body, **form.cleaned_data))
        if saved is not None:
            messages.success(request, f"已保存执法单位“{saved}”")
            return redirect("registry:body_detail", saved.pk)
    return render(
        request,
        "registry/form.html",
        {
            "form": form,
            "title": f"修改执法单位：{body}",
            "back": (str(body), "registry:body_detail", body.pk),
        },
    )


# --- Inspectors and certificates (F-02) ---------------------------------------------------------------


@page_view
def inspector_list(request):
    visible = Inspector.objects.visible_to(request.user)
    today = timezone.localdate()
    inspectors = visible.select_related("body").prefetch_related(
        Prefetch("certificates", queryset=Certificate.objects.order_by("-valid_until"))
    )
    bodies = EnforcementBody.objects.filter(pk__in=visible.values("body_id"))
    filters = forms.InspectorFilterForm(request.GET or None, bodies=bodies)
    if filters.is_valid():
        data = filters.cleaned_data
        if data["q"]:
            q = data["q"]
            inspectors = inspectors.filter(
                Q(name__icontains=q) | Q(employee_number__icontains=q) | Q(certificates__number__icontains=q)
            )
        if data["body"]:
            inspectors = inspectors.filter(body=data["body"])
        if data["field"]:
            inspectors = inspectors.filter(certificates__fields=data["field"])
        status = data["status"]
        if status == "valid":
            inspectors = inspectors.filter(
                certificates__status=Certificate.Status.VALID, certificates__valid_until__gte=today
            )
        elif status == "expired":
            inspectors = inspectors.filter(
                Q(certificates__status=Certificate.Status.EXPIRED)
                | Q(certificates__status=Certificate.Status.VALID, certificates__valid_until__lt=today)
            )
        elif status in (Certificate.Status.SUSPENDED, Certificate.Status.REVOKED):
            inspectors = inspectors.filter(certificates__status=status)
        elif status == "none":
            inspectors = inspectors.filter(certificates__isnull=True)
    # A home page's to-do (core/todos.py) lands here on exactly the inspectors it counted.
    inspectors, todo_label = todos.narrow(request.user, request.GET.get("todo", ""), inspectors)
    can_create = EnforcementBody.objects.manageable_by(request.user).exists()
    return render(
        request,
        "registry/inspector_list.html",
        {
            "page": paginate(request, inspectors.distinct()),
            "filters": filters,
            "todo_label": todo_label,
            "can_create": can_create,
            "can_import": importing.may_import_inspectors(request.user),
            "can_check": services.can_check_qualification(request.user),
        },
    )


@page_view
def inspector_detail(request, pk):
    inspector = get_object_or_404(Inspector.objects.visible_to(request.user).select_related("body"), pk=pk)
    certificates = _certificate_rows(
        Certificate.objects.visible_to(request.user)
        .filter(inspector=inspector)
        .prefetch_related("fields")
        .order_by("-valid_until")
    )
    can_manage = services.can_manage_inspectors_of(request.user, inspector.body)
    return render(
        request,
        "registry/inspector_detail.html",
        {
            "inspector": inspector,
            "certificates": certificates,
            "can_manage": can_manage,
            "may_set_status": services.may_set_certificate_status(request.user, None),
            **timeline_context(request, _events_about(inspector, *certificates), show_object=True),
        },
    )


@page_view
def inspector_photo(request, pk):
    """The photo, to whoever may see the inspector (out of scope: 404). The public scan page links to
    `portal:inspector_photo` instead (registry/photos.py)."""
    inspector = get_object_or_404(Inspector.objects.visible_to(request.user), pk=pk)
    return files.send(request, inspector.photo, files.original_name(inspector.photo, inspector.photo_name))


INSPECTOR_FORM_FIELDS = ["body", "name", "employee_number", "phone", "is_active"]


@page_view
def inspector_create(request):
    bodies = EnforcementBody.objects.manageable_by(request.user)
    if not bodies.exists():
        raise PermissionDenied("只有执法单位管理员或平台管理员可以新增执法人员")
    initial = {"body": request.GET.get("body") or request.user.body_id}
    form = forms.InspectorForm(request.POST or None, request.FILES or None, bodies=bodies, initial=initial)
    if request.method == "POST" and form.is_valid():
        inspector = submit_form(form, lambda: services.create_inspector(request.user, **form.cleaned_data))
        if inspector is not None:
            messages.success(request, f"已新增执法人员{inspector.name}")
            return redirect("registry:inspector_detail", inspector.pk)
    return render(
        request,
        "registry/form.html",
        {
            "form": form,
            "title": "新增执法人员",
            "multipart": True,
            "back": ("执法人员", "registry:inspector_list", None),
        },
    )


@page_view
def inspector_edit(request, pk):
    inspector = get_object_or_404(Inspector.objects.visible_to(request.user).select_related("body"), pk=pk)
    if not services.can_manage_inspectors_of(request.user, inspector.body):
        raise PermissionDenied(f"只有“{inspector.body}”的执法单位管理员或平台管理员可以修改其执法人员")
    form = forms.InspectorForm(
        request.POST or None,
        request.FILES or None,
        bodies=EnforcementBody.objects.manageable_by(request.user),
        initial=forms.initial_from(inspector, INSPECTOR_FORM_FIELDS),
    )
    if request.method == "POST" and form.is_valid():
        saved = submit_form(
            form, lambda: services.update_inspector(request.user, inspector=inspector, **form.cleaned_data)
        )
        if saved is not None:
            messages.success(request, f"已保存执法人员{saved.name}的信息")
            return redirect("registry:inspector_detail", saved.pk)
    return render(
        request,
        "registry/form.html",
        {
            "form": form,
            "title": f"修改执法人员：{inspector.name}",
            "multipart": True,
            "back": (inspector.name, "registry:inspector_detail", inspector.pk),
        },
    )


@page_view
def certificate_create(request, pk):
    inspector = get_object_or_404(Inspector.objects.visible_to(request.user).select_related("body"), pk=pk)
    if not services.can_manage_inspectors_of(request.user, inspector.body):
        raise PermissionDenied(f"只有“{inspector.body}”的执法单位管理员或平台管理员可以登记其执法证件")
    form = forms.CertificateForm(request.POST or None, inspector=inspector)
    if request.method == "POST" and form.is_valid():
        certificate = submit_form(
            form, lambda: services.add_certificate(request.user, inspector=inspector, **form.cleaned_data)
        )
        if certificate is not None:
            messages.success(request, f"已登记执法证{certificate.number}")
            return redirect("registry:inspector_detail", inspector.pk)
    return render(
        request,
        "registry/form.html",
        {
            "form": form,
            "title": f"登记执法证件：{inspector.name}",
            "back": (inspector.name, "registry:inspector_detail", inspector.pk),
        },
    )


@page_view
def certificate_edit(request, pk):
    certificate = get_object_or_404(
        Certificate.objects.visible_to(request.user).select_related("inspector__body"), pk=pk
    )
    inspector = certificate.inspector
    if not services.can_manage_inspectors_of(request.user, inspector.body):
        raise PermissionDenied(f"只有“{inspector.body}”的执法单位管理员或平台管理员可以修改其执法证件")
    form = forms.CertificateForm(
        request.POST or None,
        inspector=inspector,
        initial=forms.initial_from(certificate, ["number", "fields", "valid_from", "valid_until"]),
    )
    if request.method == "POST" and form.is_valid():
        saved = submit_form(
            form,
            lambda: services.update_certificate(request.user, certificate=certificate, **form.cleaned_data),
        )
        if saved is not None:
            messages.success(request, f"已保存执法证{saved.number}")
            return redirect("registry:inspector_detail", inspector.pk)
    return render(
        request,
        "registry/form.html",
        {
            "form": form,
            "title": f"修改执法证件：{certificate.number}",
            "back": (inspector.name, "registry:inspector_detail", inspector.pk),
        },
    )


@page_view
def certificate_status(request, pk):
    certificate = get_object_or_404(
        Certificate.objects.visible_to(request.user).select_related("inspector__body"), pk=pk
    )
    if not services.may_set_certificate_status(request.user, certificate):
        raise PermissionDenied("只有平台管理员可以暂停、收回或恢复执法证件（依据问责决定办理）")
    form = forms.CertificateStatusForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        saved = submit_form(
            form,
            lambda: services.set_certificate_status(
                request.user, certificate=certificate, **form.cleaned_data
            ),
        )
        if saved is not None:
            messages.success(request, f"执法证{saved.number}现为“{saved.get_status_display()}”")
            return redirect("registry:inspector_detail", certificate.inspector_id)
    return render(
        request,
        "registry/form.html",
        {
            "form": form,
            "title": f"变更执法证件状态：{certificate.number}（当前：{certificate.get_effective_status_display()}）",
            "back": (certificate.inspector.name, "registry:inspector_detail", certificate.inspector_id),
        },
    )


# --- Enterprises and contacts (F-03) ------------------------------------------------------------------


@page_view
def enterprise_list(request):
    enterprises = Enterprise.objects.visible_to(request.user).select_related("region")
    filters = forms.EnterpriseFilterForm(request.GET or None)
    if filters.is_valid():
        data = filters.cleaned_data
        if data["q"]:
            q = data["q"].strip()
            enterprises = enterprises.filter(Q(name__icontains=q) | Q(uscc__icontains=q.upper()))
        if data["region"]:
            enterprises = enterprises.filter(region__path__startswith=data["region"].path)
        if data["risk_grade"]:
            enterprises = enterprises.filter(risk_grade=data["risk_grade"])
        if data["industry"]:
            enterprises = enterprises.filter(industry__icontains=data["industry"])
    return render(
        request,
        "registry/enterprise_list.html",
        {
            "page": paginate(request, enterprises),
            "filters": filters,
            "can_create": services.can_create_enterprises(request.user),
            "can_import": importing.may_import_enterprises(request.user),
        },
    )


@page_view
def enterprise_detail(request, pk):
    enterprise = get_object_or_404(
        Enterprise.objects.visible_to(request.user).select_related("region"), pk=pk
    )
    contacts = list(enterprise.contacts.order_by("kind", "name"))
    contact_events = Q(object_type=EnterpriseContact._meta.label) & (
        Q(after__enterprise_id=enterprise.pk) | Q(before__enterprise_id=enterprise.pk)
    )
    return render(
        request,
        "registry/enterprise_detail.html",
        {
            "enterprise": enterprise,
            "contacts": contacts,
            "can_edit": services.can_manage_enterprise(request.user, enterprise),
            "can_manage_contacts": services.may_register_contacts(request.user),
            "own_enterprise": services.is_own_contact(request.user, enterprise),
            **timeline_context(request, _events_about(enterprise, extra=contact_events), show_object=True),
        },
    )


@login_required
def enterprise_detail_own(request):
    if not request.user.enterprise_id:
        return redirect("registry:enterprise_list")
    return enterprise_detail(request, request.user.enterprise_id)


ENTERPRISE_FORM_FIELDS = [
    "uscc",
    "name",
    "region",
    "address",
    "industry",
    "risk_grade",
    "credit_grade",
    "legal_representative",
    "latitude",
    "longitude",
]


@page_view
def enterprise_create(request):
    if not services.can_create_enterprises(request.user):
        raise PermissionDenied("只有平台管理员或执法单位管理员可以登记企业")
    form = forms.EnterpriseForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        enterprise = submit_form(form, lambda: services.create_enterprise(request.user, **form.cleaned_data))
        if enterprise is not None:
            messages.success(request, f"已登记企业“{enterprise}”")
            return redirect("registry:enterprise_detail", enterprise.pk)
    return render(
        request,
        "registry/form.html",
        {"form": form, "title": "登记企业", "back": ("企业", "registry:enterprise_list", None)},
    )


@page_view
def enterprise_edit(request, pk):
    enterprise = get_object_or_404(Enterprise.objects.visible_to(request.user), pk=pk)
    if not services.can_manage_enterprise(request.user, enterprise):
        raise PermissionDenied(f"您不能修改企业“{enterprise}”的信息")
    form = forms.EnterpriseForm(
        request.POST or None,
        user=request.user,
        initial=forms.initial_from(enterprise, ENTERPRISE_FORM_FIELDS),
    )
    if request.method == "POST" and form.is_valid():
        saved = submit_form(
            form, lambda: services.update_enterprise(request.user, enterprise=enterprise, **form.cleaned_data)
        )
        if saved is not None:
            messages.success(request, f"已保存企业“{saved}”")
            return redirect("registry:enterprise_detail", saved.pk)
    return render(
        request,
        "registry/form.html",
        {
            "form": form,
            "title": f"修改企业：{enterprise}",
            "back": (str(enterprise), "registry:enterprise_detail", enterprise.pk),
        },
    )


@page_view
def contact_create(request, pk):
    enterprise = get_object_or_404(Enterprise.objects.visible_to(request.user), pk=pk)
    if not services.may_register_contacts(request.user):
        # The enterprise adds its contacts on the portal, with its legal representative's code.
        raise PermissionDenied(services.CONTACTS_REFUSAL.format(enterprise=enterprise))
    form = forms.ContactForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        contact = submit_form(
            form, lambda: services.add_contact(request.user, enterprise=enterprise, **form.cleaned_data)
        )
        if contact is not None:
            messages.success(
                request, f"已添加联系人{contact.name}，其可凭手机号{contact.phone}接收验证码登录"
            )
            return redirect("registry:enterprise_detail", enterprise.pk)
    return render(
        request,
        "registry/form.html",
        {
            "form": form,
            "title": f"添加联系人：{enterprise}",
            "back": (str(enterprise), "registry:enterprise_detail", enterprise.pk),
        },
    )


@require_POST
@page_view
def contact_remove(request, pk):
    contact = get_object_or_404(
        EnterpriseContact.objects.filter(enterprise__in=Enterprise.objects.visible_to(request.user)), pk=pk
    )
    enterprise_pk, name = contact.enterprise_id, contact.name
    if not services.may_register_contacts(request.user):
        raise PermissionDenied(services.CONTACTS_REFUSAL.format(enterprise=contact.enterprise))
    try:
        services.remove_contact(request.user, contact=contact)
    except PermissionDenied:
        raise
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"已移除联系人{name}，其登录账号已停用")
    return redirect("registry:enterprise_detail", enterprise_pk)


# --- Items (F-04) -------------------------------------------------------------------------------------


@page_view
def item_list(request):
    items = InspectionItem.objects.visible_to(request.user).select_related("field")
    filters = forms.ItemFilterForm(request.GET or None)
    if filters.is_valid():
        data = filters.cleaned_data
        if data["q"]:
            items = items.filter(Q(code__icontains=data["q"]) | Q(name__icontains=data["q"]))
        if data["field"]:
            items = items.filter(field=data["field"])
        if data["body"]:
            items = items.filter(bodies=data["body"])
    return render(
        request,
        "registry/item_list.html",
        {
            "page": paginate(request, items.distinct()),
            "filters": filters,
            "can_create": services.can_manage_items(request.user),
        },
    )


@page_view
def item_detail(request, pk):
    item = get_object_or_404(
        InspectionItem.objects.visible_to(request.user).select_related("field", "standard"), pk=pk
    )
    return render(
        request,
        "registry/item_detail.html",
        {
            "item": item,
            "standard_entry": item.standard_entry(),
            "bodies": item.bodies.select_related("region"),
            "entrusted_bodies": item.entrusted_bodies.all(),
            "can_edit": services.can_manage_items(request.user),
            **timeline_context(request, audit.history(item)),
        },
    )


@page_view
def item_create(request):
    if not services.can_manage_items(request.user):
        raise PermissionDenied("只有平台管理员可以新增检查事项")
    form = forms.ItemForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        item = submit_form(form, lambda: services.create_item(request.user, **form.cleaned_data))
        if item is not None:
            messages.success(request, f"已新增检查事项“{item.name}”")
            return redirect("registry:item_detail", item.pk)
    return render(
        request,
        "registry/form.html",
        {"form": form, "title": "新增检查事项", "back": ("检查事项", "registry:item_list", None)},
    )


@page_view
def item_edit(request, pk):
    item = get_object_or_404(InspectionItem.objects.visible_to(request.user), pk=pk)
    if not services.can_manage_items(request.user):
        raise PermissionDenied("只有平台管理员可以修改检查事项")
    form = forms.ItemForm(request.POST or None, initial=forms.ItemForm.initial_for(item))
    if request.method == "POST" and form.is_valid():
        saved = submit_form(form, lambda: services.update_item(request.user, item=item, **form.cleaned_data))
        if saved is not None:
            messages.success(request, f"已保存检查事项“{saved.name}”")
            return redirect("registry:item_detail", saved.pk)
    return render(
        request,
        "registry/form.html",
        {
            "form": form,
            "title": f"修改检查事项：{item.name}",
            "back": (item.name, "registry:item_detail", item.pk),
        },
    )


# --- Qualification check (F-05) -----------------------------------------------------------------------


@page_view
def qualification_check(request):
    """Try the gate before planning a task: which rules would these bodies, inspectors and items break?"""
    user = request.user
    if not services.can_check_qualification(user):
        raise PermissionDenied("只有执法单位管理员或平台管理员可以进行资格核验")
    form = forms.QualificationForm(
        request.GET if "on" in request.GET else None,
        bodies=EnforcementBody.objects.visible_to(user),
        inspectors=Inspector.objects.visible_to(user).select_related("body"),
        items=InspectionItem.objects.visible_to(user).select_related("field"),
    )
    problems = None
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        problems = check_qualification(
            bodies=list(data["bodies"]),
            inspectors=list(data["inspectors"]),
            items=list(data["items"]),
            on=data["on"],
        )
    return render(request, "registry/qualification.html", {"form": form, "problems": problems})
