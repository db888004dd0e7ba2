"""Surveys of enterprises (问卷调查; seed 003 二（一）2: 人大代表、政协委员、媒体…通过明察暗访、问卷调查等方式;
F-47): a district's supervisors write a questionnaire, open it to the enterprises of the district, who answer
it once on the portal; the answers are read only as aggregates of at least EVALUATION_RELEASE_MIN_RATINGS
responses, as evaluations are (F-26), so no answer can be traced to an enterprise.

Questions are written one a line, so that a supervisor needs no form builder:

    [评分] 检查人员是否出示了执法证件和检查码？          → rated 1 to 5
    [单选] 今年您单位接受检查的次数是否合适？｜偏多｜合适｜偏少   → one of the options
    [文字] 对改进行政检查有何建议？                      → answered in words

A line without a mark is rated. Every change is checked here and audited; refusals are in Chinese and save
nothing.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from jianchama.core import audit
from jianchama.core.errors import DomainError, InvalidTransition, PermissionDenied, raise_if
from jianchama.core.roles import Role
from jianchama.registry.models import Enterprise, Region

from .models import Survey, SurveyResponse

KINDS = {"评分": "rating", "单选": "choice", "文字": "text"}
KIND_LABELS = {"rating": "评分（1—5分）", "choice": "单选", "text": "文字"}
MAX_QUESTIONS = 30
MAX_OPTIONS = 10
MAX_TEXT_ANSWER = 500
QUESTION_RE = re.compile(r"^\s*(?:[\[【]\s*(?P<mark>[^\]】]{1,4})\s*[\]】])?\s*(?P<rest>.*)$")


def min_responses() -> int:
    return int(settings.EVALUATION_RELEASE_MIN_RATINGS)


def parse_questions(text: str) -> list[dict[str, Any]]:
    """The questions written one a line (see the module's doc); raises DomainError naming each bad line."""
    questions, problems = [], []
    lines = [line.strip() for line in (text or "").replace("\r", "").split("\n") if line.strip()]
    for number, line in enumerate(lines, start=1):
        match = QUESTION_RE.match(line)
        mark, rest = (match["mark"] or "评分").strip(), match["rest"].strip()
        kind = KINDS.get(mark)
        if kind is None:
            problems.append(f"第{number}题：类型「{mark}」不明，请用［评分］、［单选］或［文字］")
            continue
        parts = [part.strip() for part in re.split(r"[｜|]", rest)]
        question, options = parts[0], [part for part in parts[1:] if part]
        if not question:
            problems.append(f"第{number}题：请填写问题")
        elif len(question) > 200:
            problems.append(f"第{number}题：问题不超过200字")
        if kind == "choice" and not 2 <= len(options) <= MAX_OPTIONS:
            problems.append(f"第{number}题：单选题须有2至{MAX_OPTIONS}个选项，用「｜」隔开")
        if kind == "choice" and len(set(options)) != len(options):
            problems.append(f"第{number}题：选项不能重复")
        if kind != "choice" and options:
            problems.append(f"第{number}题：只有单选题带选项")
        questions.append({"text": question, "kind": kind, "options": options if kind == "choice" else []})
    if not lines:
        problems.append("请至少填写一个问题")
    if len(lines) > MAX_QUESTIONS:
        problems.append(f"问题不超过{MAX_QUESTIONS}个")
    raise_if(problems, "问卷的问题有误")
    return questions


def questions_text(questions: list[dict[str, Any]]) -> str:
    """The questions as written (parse_questions' inverse), for the edit form."""
    marks = {kind: mark for mark, kind in KINDS.items()}
    return "\n".join(
        f"[{marks[q['kind']]}] " + "｜".join([q["text"], *q.get("options", [])]) for q in questions
    )


def may_manage(user, region: Region) -> bool:
    """The supervisors of the region (or of the city above it) run its surveys; the platform administrator
    configures, he conducts no survey."""
    return (
        user.is_authenticated
        and user.role == Role.SUPERVISOR
        and user.region_id is not None
        and region.path.startswith(user.region.path)
    )


def _require_manager(actor, survey_region: Region, doing: str) -> None:
    if not may_manage(actor, survey_region):
        raise PermissionDenied(f"只有{survey_region.name}及上级的司法局执法监督人员可以{doing}")


@transaction.atomic
def create_survey(
    actor, *, region: Region, title: str, intro: str, questions: str, closes_on: datetime.date
) -> Survey:
    _require_manager(actor, region, "发起问卷调查")
    problems = []
    title, intro = (title or "").strip(), (intro or "").strip()
    if not title:
        problems.append("请填写问卷标题")
    if closes_on is None or closes_on < timezone.localdate():
        problems.append("截止日期不能早于今天")
    try:
        parsed = parse_questions(questions)
    except DomainError as error:
        problems += error.problems or [error.message]
        parsed = []
    raise_if(problems, "问卷未保存")
    survey = Survey.objects.create(
        region=region,
        title=title[:100],
        intro=intro[:2000],
        questions=parsed,
        closes_on=closes_on,
        created_by=actor,
    )
    audit.record(
        actor=actor,
        action="survey.created",
        obj=survey,
        after={"title": survey.title, "region": region.name, "questions": len(parsed)},
    )
    return survey


def _locked(survey: Survey) -> Survey:
    return Survey.objects.select_for_update().select_related("region").get(pk=survey.pk)


@transaction.atomic
def open_survey(actor, *, survey: Survey) -> Survey:
    survey = _locked(survey)
    _require_manager(actor, survey.region, "发布问卷")
    if survey.status != Survey.Status.DRAFT:
        raise InvalidTransition(f"问卷当前为「{survey.get_status_display()}」，只有草稿可以发布")
    if survey.closes_on < timezone.localdate():
        raise DomainError("截止日期已过，请先新建一份问卷")
    survey.status, survey.opened_at = Survey.Status.OPEN, timezone.now()
    survey.save(update_fields=["status", "opened_at"])
    audit.record(actor=actor, action="survey.opened", obj=survey, after={"status": survey.status})
    return survey


@transaction.atomic
def close_survey(actor, *, survey: Survey) -> Survey:
    survey = _locked(survey)
    _require_manager(actor, survey.region, "结束问卷")
    if survey.status != Survey.Status.OPEN:
        raise InvalidTransition(f"问卷当前为「{survey.get_status_display()}」，只有征集中的问卷可以结束")
    survey.status, survey.closed_at = Survey.Status.CLOSED, timezone.now()
    survey.save(update_fields=["status", "closed_at"])
    audit.record(actor=actor, action="survey.closed", obj=survey, after={"status": survey.status})
    return survey


def is_open(survey: Survey, today: datetime.date | None = None) -> bool:
    return survey.status == Survey.Status.OPEN and (today or timezone.localdate()) <= survey.closes_on


def answered(survey: Survey, enterprise_id: int) -> bool:
    return SurveyResponse.objects.filter(survey=survey, enterprise_id=enterprise_id).exists()


def answer_survey(actor, *, survey: Survey, answers: dict[int, str]) -> SurveyResponse:
    """An enterprise's contact answers for the enterprise, once. `answers` maps each question's index to
    the text given (a rating "1"–"5", an option, words); a rating or a choice must be given, words may not.
    The audit row names the survey, not the enterprise: who answered what is recorded nowhere."""
    if actor.role != Role.ENTERPRISE_CONTACT or not actor.enterprise_id:
        raise PermissionDenied("问卷由企业联系人在企业端填写")
    enterprise = Enterprise.objects.select_related("region").get(pk=actor.enterprise_id)
    survey = Survey.objects.select_related("region").get(pk=survey.pk)
    if not enterprise.region.path.startswith(survey.region.path):
        raise PermissionDenied("该问卷不面向贵单位所在区域")
    if not is_open(survey):
        raise InvalidTransition("该问卷已结束或尚未发布，不能再填写")
    values, problems = [], []
    for index, question in enumerate(survey.questions):
        given = str(answers.get(index, "") or "").strip()
        number = index + 1
        if question["kind"] == "rating":
            if given not in {"1", "2", "3", "4", "5"}:
                problems.append(f"第{number}题：请选择1至5分")
            values.append(int(given) if given in {"1", "2", "3", "4", "5"} else None)
        elif question["kind"] == "choice":
            if given not in question["options"]:
                problems.append(f"第{number}题：请选择一个选项")
            values.append(given)
        else:
            if len(given) > MAX_TEXT_ANSWER:
                problems.append(f"第{number}题：不超过{MAX_TEXT_ANSWER}字")
            values.append(given.replace("\x00", ""))
    raise_if(problems, "问卷未提交")
    try:
        with transaction.atomic():
            response = SurveyResponse.objects.create(survey=survey, enterprise=enterprise, answers=values)
    except IntegrityError as error:
        raise InvalidTransition("贵单位已填写过该问卷，每个单位只能填写一次") from error
    audit.record(actor="企业", action="survey.answered", obj=survey, after={"survey": survey.pk})
    return response


@dataclass
class QuestionResult:
    number: int
    text: str
    kind: str
    average: float | None = None
    counts: list[tuple[str, int]] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)

    @property
    def kind_label(self) -> str:
        return KIND_LABELS[self.kind]


@dataclass
class SurveyResults:
    responses: int
    shown: bool  # False below the minimum: nothing but the count "<N" is shown
    minimum: int
    questions: list[QuestionResult]

    @property
    def responses_text(self) -> str:
        return str(self.responses) if self.shown else f"<{self.minimum}"


def results(survey: Survey) -> SurveyResults:
    """The answers as aggregates: each rating's average and spread, each choice's count, the words given
    (sorted, so that their order tells nothing of who answered when) — only from the minimum number of
    responses on; below it, not even the exact count."""
    minimum = min_responses()
    rows = list(SurveyResponse.objects.filter(survey=survey).values_list("answers", flat=True))
    shown = len(rows) >= minimum
    questions = []
    for index, question in enumerate(survey.questions):
        result = QuestionResult(index + 1, question["text"], question["kind"])
        if shown:
            values = [row[index] for row in rows if index < len(row) and row[index] not in (None, "")]
            if question["kind"] == "rating":
                result.counts = [(str(score), values.count(score)) for score in range(1, 6)]
                result.average = round(sum(values) / len(values), 2) if values else None
            elif question["kind"] == "choice":
                result.counts = [(option, values.count(option)) for option in question["options"]]
            else:
                result.texts = sorted(values)
        questions.append(result)
    return SurveyResults(len(rows), shown, minimum, questions)
