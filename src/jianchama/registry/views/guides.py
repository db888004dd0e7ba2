"""Compliance guide pages (F-36): the list (by field and item), a guide, and the body administrator's
writing, editing, publishing and withdrawing. Every change is a POST to a service in `guides.py`; every
query goes through `ComplianceGuide.objects.visible_to`."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.db.models import Q
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from jianchama.core.errors import DomainError, PermissionDenied
from jianchama.core.pages import page_view, paginate, submit_form

from .. import guides
from ..forms import Form
from ..models import ComplianceGuide, EnforcementBody, Field, InspectionItem


class GuideFilterForm(Form):
    q = forms.CharField(
        label="搜索",
        required=False,
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "标题"}),
    )
    field = forms.ModelChoiceField(
        label="执法领域", queryset=Field.objects.all(), required=False, empty_label="全部领域"
    )
    item = forms.ModelChoiceField(
        label="检查事项",
        queryset=InspectionItem.objects.filter(is_published=True),
        required=False,
        empty_label="全部事项",
    )


class GuideForm(Form):
    field = forms.ModelChoiceField(label="执法领域", queryset=Field.objects.none())
    item = forms.ModelChoiceField(
        label="检查事项",
        queryset=InspectionItem.objects.none(),
        required=False,
        empty_label="（整个执法领域适用）",
        help_text="只能选择本单位可以实施检查的事项",
    )
    title = forms.CharField(label="标题", max_length=guides.MAX_TITLE)
    content = forms.CharField(
        label="指引内容",
        widget=forms.Textarea(attrs={"rows": 14}),
        help_text="企业在检查前可自查的要点：依据、常见问题、整改方法等",
    )

    def __init__(self, *args, body: EnforcementBody, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["field"].queryset = body.fields.all()
        self.fields["item"].queryset = guides.writable_items(body)


@page_view
def guide_list(request):
    user = request.user
    rows = ComplianceGuide.objects.visible_to(user).select_related("body", "field", "item")
    filters = GuideFilterForm(request.GET or None)
    if filters.is_valid():
        data = filters.cleaned_data
        if data["q"]:
            rows = rows.filter(Q(title__icontains=data["q"]) | Q(content__icontains=data["q"]))
        if data["field"]:
            rows = rows.filter(field=data["field"])
        if data["item"]:
            # A guide for the whole field applies to the item too.
            rows = rows.filter(Q(item=data["item"]) | Q(item__isnull=True, field_id=data["item"].field_id))
    return render(
        request,
        "registry/guide_list.html",
        {"page": paginate(request, rows), "filters": filters, "can_create": guides.can_write_guides(user)},
    )


@page_view
def guide_detail(request, pk):
    guide = get_object_or_404(
        ComplianceGuide.objects.visible_to(request.user).select_related("body", "field", "item"), pk=pk
    )
    return render(
        request,
        "registry/guide_detail.html",
        {"guide": guide, "can_edit": guides.can_edit(request.user, guide)},
    )


def _body_of(user) -> EnforcementBody:
    if not guides.can_write_guides(user):
        raise PermissionDenied("只有执法单位管理员可以编写本单位的合规指引")
    return EnforcementBody.objects.get(pk=user.body_id)


@page_view
def guide_create(request):
    body = _body_of(request.user)
    form = GuideForm(request.POST or None, body=body)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        guide = submit_form(
            form,
            lambda: guides.create_guide(
                request.user,
                field=data["field"],
                item=data["item"],
                title=data["title"],
                content=data["content"],
                publish="publish" in request.POST,
            ),
        )
        if guide is not None:
            messages.success(
                request, f"合规指引「{guide.title}」已{'发布' if guide.is_published else '保存为草稿'}"
            )
            return redirect("registry:guide_detail", guide.pk)
    return render(request, "registry/guide_form.html", {"form": form, "title": "编写合规指引", "guide": None})


@page_view
def guide_edit(request, pk):
    guide = get_object_or_404(ComplianceGuide.objects.visible_to(request.user), pk=pk)
    if not guides.can_edit(request.user, guide):
        raise PermissionDenied(f"只有{guide.body.name}的管理员可以修改其合规指引")
    initial = {"field": guide.field_id, "item": guide.item_id, "title": guide.title, "content": guide.content}
    form = GuideForm(request.POST or None, initial=initial, body=guide.body)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        saved = submit_form(
            form,
            lambda: guides.update_guide(
                request.user,
                guide=guide,
                field=data["field"],
                item=data["item"],
                title=data["title"],
                content=data["content"],
            ),
        )
        if saved is not None:
            messages.success(request, f"合规指引「{saved.title}」已保存")
            return redirect("registry:guide_detail", saved.pk)
    return render(
        request,
        "registry/guide_form.html",
        {"form": form, "title": f"修改合规指引：{guide.title}", "guide": guide},
    )


def _toggle(request, pk, service, done: str):
    guide = get_object_or_404(ComplianceGuide.objects.visible_to(request.user), pk=pk)
    try:
        service(request.user, guide=guide)
    except PermissionDenied:
        raise
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"合规指引「{guide.title}」{done}")
    return redirect("registry:guide_detail", guide.pk)


@page_view
@require_POST
def guide_publish(request, pk):
    return _toggle(request, pk, guides.publish_guide, "已发布，检查前将随检查告知送达企业")


@page_view
@require_POST
def guide_unpublish(request, pk):
    return _toggle(request, pk, guides.unpublish_guide, "已撤回为草稿")
