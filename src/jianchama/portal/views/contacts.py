"""The enterprise's own contacts on the portal (issue 10, item 1): the list, removing an on-site contact, and
adding one in two steps, the second with the code the registry services send to the legal representative's
phone on record. The services decide who may do what; these views only parse and render."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from jianchama.core.bounds import BoundedForm
from jianchama.core.errors import DomainError
from jianchama.registry import services
from jianchama.registry.models import EnterpriseContact

from .portal import contact_required


class NewContactForm(BoundedForm):
    name = forms.CharField(label="姓名", max_length=50)
    phone = forms.CharField(
        label="手机号",
        max_length=20,
        widget=forms.TextInput(attrs={"type": "tel", "inputmode": "numeric"}),
        help_text="新联系人凭此手机号接收验证码登录企业端",
    )


class ApprovalForm(NewContactForm):
    name = forms.CharField(max_length=50, widget=forms.HiddenInput)
    phone = forms.CharField(max_length=20, widget=forms.HiddenInput)
    code = forms.RegexField(
        label="法定代表人收到的验证码",
        regex=r"^\s*\d{6}\s*$",
        error_messages={"invalid": "验证码为6位数字", "required": "请填写法定代表人手机收到的验证码"},
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code"}),
    )


def _page(request, *, form=None, approval=None, representative=None, status=200):
    enterprise = request.user.enterprise
    representative = representative or services.legal_representative_contact(enterprise)
    return render(
        request,
        "portal/contacts.html",
        {
            "enterprise": enterprise,
            "contacts": enterprise.contacts.order_by("kind", "name"),
            "representative": representative,
            "representative_phone": services.masked_phone(representative.phone) if representative else "",
            "form": form or NewContactForm(),
            "approval": approval,
            "me": request.user.phone,
        },
        status=status,
    )


@contact_required
def contacts(request):
    return _page(request)


@require_POST
@contact_required
def contact_request(request):
    """Step one: the new contact's name and phone; the legal representative is sent a code to approve them."""
    form = NewContactForm(request.POST)
    if form.is_valid():
        try:
            representative = services.request_contact_approval(request.user, **form.cleaned_data)
        except DomainError as error:
            for problem in error.problems or [error.message]:
                form.add_error(None, problem)
        else:
            approval = ApprovalForm(initial=form.cleaned_data)
            return _page(request, form=form, approval=approval, representative=representative)
    return _page(request, form=form)


@require_POST
@contact_required
def contact_confirm(request):
    """Step two: the code the legal representative passed on; the contact is added only if it matches."""
    approval = ApprovalForm(request.POST)
    if approval.is_valid():
        data = approval.cleaned_data
        try:
            contact = services.add_contact(
                request.user,
                enterprise=request.user.enterprise,
                kind=EnterpriseContact.Kind.ON_SITE,
                name=data["name"],
                phone=data["phone"],
                representative_code=data["code"],
            )
        except DomainError as error:
            for problem in error.problems or [error.message]:
                approval.add_error(None, problem)
        else:
            messages.success(
                request,
                f"已添加联系人{contact.name}，其可凭手机号{contact.phone}接收验证码登录；"
                "法定代表人和其他联系人已收到短信通知",
            )
            return redirect("portal:contacts")
    form = NewContactForm(
        initial={"name": request.POST.get("name", ""), "phone": request.POST.get("phone", "")}
    )
    return _page(request, form=form, approval=approval)


@require_POST
@contact_required
def contact_remove(request, pk):
    contact = get_object_or_404(
        EnterpriseContact.objects.filter(enterprise_id=request.user.enterprise_id), pk=pk
    )
    name = contact.name
    try:
        services.remove_contact(request.user, contact=contact)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"已移除联系人{name}，其登录已停用；法定代表人和其他联系人已收到短信通知")
    return redirect("portal:contacts")
