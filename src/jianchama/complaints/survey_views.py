"""The supervisors' pages of surveys (F-47): the list, a new survey, its page with the aggregate results
and the actions, and the results' Excel export. The enterprise answers on the portal (portal/views)."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from jianchama.core import audit
from jianchama.core.errors import DomainError, PermissionDenied
from jianchama.core.pages import page_view, paginate, submit_form
from jianchama.core.roles import Role
from jianchama.core.spreadsheets import Sheet, xlsx_response
from jianchama.registry.models import Region

from . import forms, surveys
from .models import Survey


def _manager_regions(user):
    if user.role != Role.SUPERVISOR or user.region_id is None:
        return Region.objects.none()
    return user.region.subtree().filter(level__in=[Region.Level.CITY, Region.Level.DISTRICT])


def _survey(request, pk) -> Survey:
    if request.user.role != Role.SUPERVISOR and not request.user.is_platform_admin:
        raise PermissionDenied("问卷调查由司法局执法监督人员发起和查看")
    return get_object_or_404(Survey.objects.visible_to(request.user).select_related("region"), pk=pk)


@page_view
def survey_list(request):
    user = request.user
    if user.role != Role.SUPERVISOR and not user.is_platform_admin:
        raise PermissionDenied("问卷调查由司法局执法监督人员发起和查看")
    page = paginate(request, Survey.objects.visible_to(user).select_related("region"))
    return render(
        request,
        "complaints/surveys/list.html",
        {"page": page, "may_create": _manager_regions(user).exists()},
    )


@page_view
def survey_create(request):
    user = request.user
    regions = _manager_regions(user)
    if not regions.exists():
        raise PermissionDenied("只有司法局执法监督人员可以发起问卷调查")
    form = forms.SurveyForm(request.POST or None, regions=regions, initial={"region": user.region_id})
    if request.method == "POST" and form.is_valid():
        survey = submit_form(form, lambda: surveys.create_survey(user, **form.cleaned_data))
        if survey is not None:
            messages.success(request, f"问卷「{survey.title}」已保存为草稿，核对后发布")
            return redirect("complaints:survey_detail", survey.pk)
    return render(request, "complaints/form.html", {"form": form, "title": "发起问卷调查", "is_survey": True})


@page_view
def survey_detail(request, pk):
    survey = _survey(request, pk)
    result = surveys.results(survey)
    if request.GET.get("export") == "xlsx":
        return _export(survey, result)
    may = surveys.may_manage(request.user, survey.region)
    return render(
        request,
        "complaints/surveys/detail.html",
        {
            "survey": survey,
            "result": result,
            "may_open": may and survey.status == Survey.Status.DRAFT,
            "may_close": may and survey.status == Survey.Status.OPEN,
            "timeline": audit.history(survey),
        },
    )


@require_POST
@page_view
def survey_action(request, pk, name):
    survey = _survey(request, pk)
    action = {"open": surveys.open_survey, "close": surveys.close_survey}.get(name)
    if action is None:
        raise PermissionDenied("没有这个操作")
    try:
        action(request.user, survey=survey)
    except PermissionDenied:
        raise
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, "问卷已发布，辖区企业可在企业端填写" if name == "open" else "问卷已结束")
    return redirect("complaints:survey_detail", survey.pk)


def _export(survey: Survey, result) -> object:
    rows = []
    for question in result.questions:
        if not result.shown:
            rows.append(
                [
                    question.number,
                    question.text,
                    question.kind_label,
                    "",
                    "",
                    f"回答不足{result.minimum}份，不显示",
                ]
            )
            continue
        if question.kind == "text":
            for text in question.texts:
                rows.append([question.number, question.text, question.kind_label, "", "", text])
        else:
            for option, count in question.counts:
                rows.append(
                    [
                        question.number,
                        question.text,
                        question.kind_label,
                        option,
                        count,
                        question.average or "",
                    ]
                )
    header = ["题号", "问题", "类型", "选项或分值", "份数", "平均分或文字回答"]
    return xlsx_response(
        f"问卷结果_{survey.title}_", [Sheet("问卷结果", header, rows, (6, 40, 12, 14, 8, 40))]
    )
