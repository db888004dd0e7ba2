"""The city's inspection standards: the list and a version's detail for every staff user, the JSON import
for the platform administrator (registry/standards.py)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render

from jianchama.core import audit
from jianchama.core.errors import PermissionDenied
from jianchama.core.pages import page_view, submit_form

from .. import standards
from ..models import InspectionStandard
from .registry import timeline_context


class StandardImportForm(forms.Form):
    file = forms.FileField(label="标准文件（JSON，格式见 docs/standards.md）")


@page_view
def standard_list(request):
    rows = InspectionStandard.objects.visible_to(request.user).prefetch_related("entries__item")
    return render(
        request,
        "registry/standard_list.html",
        {"standards": rows, "can_import": standards.can_manage_standards(request.user)},
    )


@page_view
def standard_detail(request, pk):
    standard = get_object_or_404(InspectionStandard.objects.visible_to(request.user), pk=pk)
    return render(
        request,
        "registry/standard_detail.html",
        {
            "standard": standard,
            "entries": standard.entries.select_related("item"),
            **timeline_context(request, audit.history(standard)),
        },
    )


@page_view
def standard_import(request):
    if not standards.can_manage_standards(request.user):
        raise PermissionDenied("只有平台管理员可以登记市级行政检查标准")
    form = StandardImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        standard = submit_form(
            form, lambda: standards.import_standard(request.user, upload=form.cleaned_data["file"])
        )
        if standard is not None:
            messages.success(request, f"已登记“{standard}”，其中的检查事项已适用该版本")
            return redirect("registry:standard_detail", standard.pk)
    return render(
        request,
        "registry/form.html",
        {
            "form": form,
            "title": "登记市级行政检查标准",
            "back": ("市级行政检查标准", "registry:standard_list", None),
            "multipart": True,
        },
    )
