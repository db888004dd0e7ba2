"""The task's standard documents (F-45): the list, the signing page on the inspector's phone, the files.

Files go through core.files.send to whoever may see the task (the enterprise included); out of scope is 404.
"""

from __future__ import annotations

from django import forms as django_forms
from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render

from jianchama.core import files
from jianchama.core.errors import DomainError, PermissionDenied
from jianchama.core.pages import page_view, submit_form

from .. import documents
from ..models import OnsiteDocument, Task


def _task(request, pk) -> Task:
    return get_object_or_404(Task.objects.visible_to(request.user).select_related("enterprise"), pk=pk)


class SignForm(django_forms.Form):
    party_name = django_forms.CharField(label="当事人（企业现场负责人）姓名", max_length=50, required=False)
    party_statement = django_forms.CharField(
        label="当事人意见（陈述、申辩）",
        max_length=2000,
        required=False,
        widget=django_forms.Textarea(attrs={"rows": 3}),
    )
    party_signature = django_forms.CharField(required=False, widget=django_forms.HiddenInput)
    refused = django_forms.BooleanField(label="当事人拒绝签字（由见证人签名）", required=False)
    witness_name = django_forms.CharField(label="见证人姓名", max_length=50, required=False)
    witness_signature = django_forms.CharField(required=False, widget=django_forms.HiddenInput)

    def __init__(self, *args, task: Task, onsite_person: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.inspectors = list(task.inspectors.order_by("id"))
        for inspector in self.inspectors:
            self.fields[f"inspector_{inspector.pk}"] = django_forms.CharField(
                required=False, widget=django_forms.HiddenInput
            )
        self.fields["party_name"].initial = onsite_person

    def signature_fields(self):
        return [(inspector, self[f"inspector_{inspector.pk}"]) for inspector in self.inspectors]


@page_view
def task_documents(request, pk):
    """The task's documents; for its inspector after the result, the on-site record to sign."""
    task = _task(request, pk)
    record = getattr(task, "record", None)
    onsite_person = record.onsite_person_name if record else ""
    may_sign = documents.may_sign(request.user, task)
    form = SignForm(request.POST or None, task=task, onsite_person=onsite_person) if may_sign else None
    if request.method == "POST":
        if form is None:
            raise PermissionDenied(
                "只有本任务的执法人员可以在录入检查结果后签署现场检查笔录（每项任务只签署一次）"
            )
        if form.is_valid():
            data = form.cleaned_data
            made = submit_form(
                form,
                lambda: documents.sign_onsite_record(
                    request.user,
                    task=task,
                    inspector_signatures={i.pk: data[f"inspector_{i.pk}"] for i in form.inspectors},
                    party_name=data["party_name"],
                    party_signature=data["party_signature"],
                    party_statement=data["party_statement"],
                    refused=data["refused"],
                    witness_name=data["witness_name"],
                    witness_signature=data["witness_signature"],
                ),
            )
            if made:
                messages.success(request, "现场检查文书已签署，并已送达企业")
                return redirect("inspections:task_documents", task.pk)
    return render(
        request,
        "inspections/documents.html",
        {
            "task": task,
            "documents": task.documents.all(),
            "form": form,
            "notice_ready": task.notified_at is not None,
        },
    )


@page_view
def document_file(request, pk, document_pk):
    task = _task(request, pk)
    document = get_object_or_404(OnsiteDocument.objects.filter(task=task), pk=document_pk)
    return files.send(request, document.file, f"{document.get_kind_display()}{document.number}.pdf")


@page_view
def notice_file(request, pk):
    """The task's 行政检查通知书: made on the first request once the enterprise has been told, then the same."""
    task = _task(request, pk)
    try:
        document = documents.issue_notice(request.user, task=task)
    except DomainError as refusal:
        raise Http404(refusal.message) from refusal
    return files.send(request, document.file, f"{document.get_kind_display()}{document.number}.pdf")
