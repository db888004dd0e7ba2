"""Surveys of enterprises (问卷调查, F-47). Seed 003 二（一）2: 「人大代表、政协委员、媒体…通过明察暗访、问卷调查
等方式」 supervise enterprise inspections; seed 000 四（二）: 「收集企业…对『检查码』运用的感受和评价」. A district's
supervisors write a questionnaire and open it; the district's enterprises answer it once on the portal; the
answers are read only as aggregates of at least five, as evaluations are, and who answered what is shown to
nobody."""

from __future__ import annotations

import datetime
import io

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from jianchama.complaints import surveys
from jianchama.complaints.models import Survey, SurveyResponse
from jianchama.core.errors import DomainError, InvalidTransition, PermissionDenied
from jianchama.core.roles import Role
from tests.factories import EnterpriseFactory, user_for

QUESTIONS = "[评分] 检查人员是否出示了执法证件和检查码？\n[单选] 检查次数是否合适？｜偏多｜合适｜偏少\n[文字] 意见建议"


def opened(s, **changes) -> Survey:
    args = {
        "region": s.jinshan,
        "title": "2026年涉企行政检查感受调查",
        "intro": "请如实填写",
        "questions": QUESTIONS,
        "closes_on": timezone.localdate() + datetime.timedelta(days=10),
        **changes,
    }
    survey = surveys.create_survey(s.supervisor, **args)
    return surveys.open_survey(s.supervisor, survey=survey)


def contact_in(region):
    return user_for(Role.ENTERPRISE_CONTACT, enterprise=EnterpriseFactory(region=region))


def page(user, url) -> str:
    client = Client()
    client.force_login(user)
    return client.get(url).content.decode()


def test_questions_are_written_one_a_line_and_bad_lines_are_named(s):
    parsed = surveys.parse_questions(QUESTIONS)
    assert [q["kind"] for q in parsed] == ["rating", "choice", "text"]
    assert parsed[1]["options"] == ["偏多", "合适", "偏少"]
    assert surveys.parse_questions(surveys.questions_text(parsed)) == parsed
    with pytest.raises(DomainError) as refused:
        surveys.parse_questions("[单选] 只有一个选项｜是\n[多选] 不支持的类型\n[评分] 带选项｜甲")
    assert refused.value.problems == [
        "第1题：单选题须有2至10个选项，用「｜」隔开",
        "第2题：类型「多选」不明，请用［评分］、［单选］或［文字］",
        "第3题：只有单选题带选项",
    ]
    with pytest.raises(DomainError):
        surveys.create_survey(
            s.supervisor,
            region=s.jinshan,
            title="",
            intro="",
            questions="",
            closes_on=timezone.localdate() - datetime.timedelta(days=1),
        )
    assert not Survey.objects.exists()


def test_only_the_district_s_supervisors_run_its_surveys(s):
    for actor in (s.mh_supervisor, s.head, s.contact):
        with pytest.raises(PermissionDenied):
            surveys.create_survey(
                actor,
                region=s.jinshan,
                title="t",
                intro="",
                questions=QUESTIONS,
                closes_on=timezone.localdate(),
            )
    survey = opened(s)
    with pytest.raises(PermissionDenied):
        surveys.close_survey(s.mh_supervisor, survey=survey)
    with pytest.raises(InvalidTransition):
        surveys.open_survey(s.supervisor, survey=survey)


def test_an_enterprise_of_the_district_answers_once_and_others_cannot(s):
    survey = opened(s)
    answers = {0: "4", 1: "偏多", 2: "检查前请提前告知"}
    surveys.answer_survey(s.contact, survey=survey, answers=answers)
    with pytest.raises(InvalidTransition, match="只能填写一次"):
        surveys.answer_survey(s.contact, survey=survey, answers=answers)
    with pytest.raises(PermissionDenied, match="不面向"):
        surveys.answer_survey(contact_in(s.minhang), survey=survey, answers=answers)
    with pytest.raises(DomainError) as refused:
        surveys.answer_survey(contact_in(s.jinshan), survey=survey, answers={0: "9", 1: "很多"})
    assert refused.value.problems == ["第1题：请选择1至5分", "第2题：请选择一个选项"]
    with pytest.raises(PermissionDenied):
        surveys.answer_survey(s.head, survey=survey, answers=answers)
    surveys.close_survey(s.supervisor, survey=survey)
    with pytest.raises(InvalidTransition, match="已结束"):
        surveys.answer_survey(contact_in(s.jinshan), survey=survey, answers=answers)
    assert SurveyResponse.objects.count() == 1


def test_results_are_aggregates_of_at_least_five_and_never_name_an_enterprise(s):
    """Like evaluations (F-26): below five responses not even the exact count is shown; from five on the
    ratings' average and spread, the choices' counts, and the words sorted (their order tells nothing)."""
    survey = opened(s)
    url = reverse("complaints:survey_detail", args=[survey.pk])
    given = [("5", "偏多", "请提前告知"), ("4", "合适", ""), ("3", "偏多", "检查时间太长"), ("5", "偏少", "")]
    contacts = [s.contact] + [contact_in(s.jinshan) for _ in range(4)]
    for contact, (score, choice, words) in zip(contacts, given, strict=False):
        surveys.answer_survey(contact, survey=survey, answers={0: score, 1: choice, 2: words})
    shown = page(s.supervisor, url)
    assert (
        "回答不足5份" in shown
        and '<strong id="responses">&lt;5</strong>' in shown
        and "请提前告知" not in shown
    )
    surveys.answer_survey(contacts[4], survey=survey, answers={0: "2", 1: "偏多", 2: "多头检查"})
    result = surveys.results(survey)
    assert result.shown and result.responses == 5
    rating, choice, words = result.questions
    assert rating.average == 3.8 and dict(rating.counts) == {"1": 0, "2": 1, "3": 1, "4": 1, "5": 2}
    assert dict(choice.counts) == {"偏多": 3, "合适": 1, "偏少": 1}
    assert words.texts == sorted(["请提前告知", "检查时间太长", "多头检查"])
    shown = page(s.supervisor, url)
    assert "3.8" in shown and "多头检查" in shown
    for contact in contacts:
        assert contact.enterprise.name not in shown
    # The export holds exactly the aggregates: no enterprise, no time.
    client = Client()
    client.force_login(s.supervisor)
    book = load_workbook(io.BytesIO(client.get(url + "?export=xlsx").content))
    cells = [str(c) for row in book.active.iter_rows(values_only=True) for c in row if c is not None]
    assert "多头检查" in cells and not any(c.enterprise.name in cells for c in contacts)


def test_the_pages_for_supervisors_and_enterprises(s):
    supervisor = Client()
    supervisor.force_login(s.supervisor)
    response = supervisor.post(
        reverse("complaints:survey_create"),
        {
            "region": s.jinshan.pk,
            "title": "检查码使用感受调查",
            "intro": "",
            "questions": QUESTIONS,
            "closes_on": (timezone.localdate() + datetime.timedelta(days=7)).isoformat(),
        },
    )
    survey = Survey.objects.get()
    assert response.status_code == 302 and survey.status == Survey.Status.DRAFT
    assert "检查码使用感受调查" not in page(s.contact, reverse("portal:survey_list"))  # a draft is not sent
    supervisor.post(reverse("complaints:survey_action", args=[survey.pk, "open"]))
    listed = page(s.contact, reverse("portal:survey_list"))
    assert "检查码使用感受调查" in listed and "填写问卷" in listed
    contact = Client()
    contact.force_login(s.contact)
    answer_url = reverse("portal:survey_answer", args=[survey.pk])
    refused = contact.post(answer_url, {"q0": "", "q1": "偏多"}).content.decode()
    assert "请选择1至5分" in refused and not SurveyResponse.objects.exists()
    assert contact.post(answer_url, {"q0": "5", "q1": "合适", "q2": ""}).status_code == 302
    assert "已填写" in page(s.contact, reverse("portal:survey_list"))
    assert contact.get(answer_url).status_code == 302  # once only
    # Out of scope: another district's supervisor and enterprise, a body, an observer.
    assert "检查码使用感受调查" not in page(s.mh_supervisor, reverse("complaints:survey_list"))
    other = Client()
    other.force_login(s.mh_supervisor)
    assert other.get(reverse("complaints:survey_detail", args=[survey.pk])).status_code == 404
    outsider = Client()
    outsider.force_login(contact_in(s.minhang))
    assert outsider.get(answer_url).status_code == 404
    body = Client()
    body.force_login(s.head)
    assert body.get(reverse("complaints:survey_list")).status_code == 403
