"""Surveys on the portal (F-47): the open questionnaires of the enterprise's district, answered once by the
enterprise. The survey's services decide (complaints/surveys.py); what an enterprise answered is shown to
nobody, not even back to it."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render

from jianchama.complaints import surveys
from jianchama.complaints.forms import SurveyAnswerForm
from jianchama.complaints.models import Survey, SurveyResponse
from jianchama.core.pages import submit_form

from .portal import contact_required


@contact_required
def survey_list(request):
    user = request.user
    listed = list(Survey.objects.visible_to(user).select_related("region")[:50])
    done = set(
        SurveyResponse.objects.filter(enterprise_id=user.enterprise_id, survey__in=listed).values_list(
            "survey_id", flat=True
        )
    )
    for survey in listed:
        survey.answered = survey.pk in done
        survey.open_now = surveys.is_open(survey)
    return render(request, "portal/surveys.html", {"surveys": listed})


@contact_required
def survey_answer(request, pk):
    user = request.user
    survey = get_object_or_404(Survey.objects.visible_to(user), pk=pk)
    if surveys.answered(survey, user.enterprise_id):
        messages.info(request, "贵单位已填写过这份问卷，感谢参与")
        return redirect("portal:survey_list")
    if not surveys.is_open(survey):
        messages.info(request, "这份问卷已结束")
        return redirect("portal:survey_list")
    form = SurveyAnswerForm(request.POST or None, questions=survey.questions)
    if request.method == "POST" and form.is_valid():
        saved = submit_form(form, lambda: surveys.answer_survey(user, survey=survey, answers=form.answers()))
        if saved is not None:
            messages.success(request, "问卷已提交，感谢参与。回答只以汇总方式统计，不会显示贵单位名称")
            return redirect("portal:survey_list")
    return render(request, "portal/survey_answer.html", {"survey": survey, "form": form})
