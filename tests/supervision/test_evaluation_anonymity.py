"""Evaluation anonymity (F-26) in supervision: a poor-evaluation finding, once the body is warned, tells the
body what month and dimension it is about, never which enterprise said what (no enterprise, task, score or
comment, no link to the task), on the page, in the list, in the export and in the warning it is sent; the
bureau's supervisors keep every evaluation behind it."""

from __future__ import annotations

import datetime
import io

import pytest
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from jianchama.core.roles import Role
from jianchama.inspections import services as tasks
from jianchama.inspections.models import Evaluation
from jianchama.notifications.models import Notification
from jianchama.supervision import steps
from jianchama.supervision.models import Finding
from jianchama.supervision.rules import run_rules
from tests.factories import user_for
from tests.inspections.conftest import build_scenario

COMMENT = "检查人员态度生硬，要求请吃饭"


@pytest.fixture
def s(db):
    return build_scenario()


def last_month_moment() -> datetime.datetime:
    """A moment in the month before this one (the rule looks at months that are over)."""
    first = timezone.localdate().replace(day=1)
    return timezone.make_aware(
        datetime.datetime.combine(first - datetime.timedelta(days=3), datetime.time(10))
    )


def scores(overall: int) -> dict[str, int]:
    return {"overall": overall, **{name: 3 for name, _ in Evaluation.DIMENSIONS}}


@pytest.fixture
def warned(s):
    """The enterprise rated one inspection 1 of 5 last month; the rules found it; the bureau warned the body."""
    task = s.recorded()
    evaluation = tasks.evaluate(s.contact, task=task, scores=scores(1), comment=COMMENT)
    Evaluation.objects.filter(pk=evaluation.pk).update(created_at=last_month_moment())
    run_rules(s.supervisor)
    finding = Finding.objects.get(rule="poor_evaluation")
    steps.warn_body(s.supervisor, finding=finding, channel="phone", content=finding.title)
    s.task, s.finding = task, finding
    return s


def rater_details(s) -> list[str]:
    """What would single out the rater: the enterprise, the task, the single score, the comment."""
    return [s.enterprise.name, s.task.number, "1分", "非常不满意", COMMENT[:6]]


def export_text(client) -> str:
    response = client.get(reverse("supervision:finding_list"), {"export": "xlsx"})
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.getvalue())).active
    return "\n".join(str(cell) for row in sheet.iter_rows(values_only=True) for cell in row if cell)


def test_the_warned_body_reads_no_rater_detail_of_a_poor_evaluation(client, warned):
    client.force_login(warned.head)
    detail = client.get(reverse("supervision:finding_detail", args=[warned.finding.pk]))
    assert detail.status_code == 200
    listing = client.get(reverse("supervision:finding_list"))
    assert [f.pk for f in listing.context["page"]] == [warned.finding.pk]
    for text in (detail.content.decode(), listing.content.decode(), export_text(client)):
        assert "企业评议不满意" in text  # what it is about
        for detail_text in rater_details(warned):
            assert detail_text not in text
    page = detail.content.decode()
    assert reverse("inspections:task_detail", args=[warned.task.pk]) not in page
    assert f"{warned.finding.period:%Y}年{warned.finding.period.month}月" in page  # the period
    assert "总体评价" in page  # the dimension
    notice = Notification.objects.filter(user=warned.head, event="supervision.warning").get()
    for detail_text in rater_details(warned):
        assert detail_text not in notice.subject + notice.body


@pytest.mark.parametrize("role", [Role.DISTRICT_GOVERNMENT])
def test_who_is_not_a_supervisor_reads_no_rater_detail_either(client, warned, role):
    client.force_login(user_for(role, region=warned.jinshan))
    page = client.get(reverse("supervision:finding_detail", args=[warned.finding.pk])).content.decode()
    assert "企业评议不满意" in page
    for detail_text in rater_details(warned):
        assert detail_text not in page


def test_the_supervisor_keeps_every_evaluation_behind_the_finding(client, warned):
    client.force_login(warned.supervisor)
    page = client.get(reverse("supervision:finding_detail", args=[warned.finding.pk])).content.decode()
    for detail_text in rater_details(warned):
        assert detail_text in page
    assert reverse("inspections:task_detail", args=[warned.task.pk]) in page
    exported = export_text(client)
    for detail_text in (warned.enterprise.name, warned.task.number, "1分", COMMENT[:6]):
        assert detail_text in exported


def test_one_finding_per_body_and_month_whatever_the_number_of_poor_ratings(s):
    """The body's finding is the month's aggregate: two poor ratings do not make two findings (their number
    and the moment each was found would tell the body when each rating came)."""
    for overall in (2, 1):
        evaluation = tasks.evaluate(s.contact, task=s.recorded(), scores=scores(overall))
        Evaluation.objects.filter(pk=evaluation.pk).update(created_at=last_month_moment())
    this_month = tasks.evaluate(s.contact, task=s.recorded(), scores=scores(1))  # the month is not over
    run_rules(s.supervisor)
    [finding] = Finding.objects.filter(rule="poor_evaluation")
    assert finding.body == s.body and finding.period == last_month_moment().date().replace(day=1)
    assert finding.task is None and finding.confidential
    assert len([e for e in finding.evidence if e["model"] == "inspections.Evaluation"]) == 2
    assert str(this_month.pk) not in {str(e["pk"]) for e in finding.evidence if "Evaluation" in e["model"]}


def test_the_recommendation_s_facts_start_from_what_the_body_may_read(warned):
    """The supervision recommendation goes to the body: its facts are prefilled with the body's text."""
    facts = steps.finding_panel(warned.supervisor, warned.finding)["steps"]["default_facts"]
    assert "企业评议不满意" in facts
    for detail_text in rater_details(warned):
        assert detail_text not in facts


def test_findings_made_one_by_one_before_become_confidential_and_are_not_found_again(s):
    """Findings of poor evaluations stored before the rule grouped them by month (keyed by the task, naming the
    enterprise): the migration hides their detail from the body; the rule does not find their evaluations
    again."""
    from importlib import import_module

    from django.apps import apps

    task = s.recorded()
    evaluation = tasks.evaluate(s.contact, task=task, scores=scores(1), comment=COMMENT)
    Evaluation.objects.filter(pk=evaluation.pk).update(created_at=last_month_moment())
    old = Finding.objects.create(
        source=Finding.Source.DATA_RULE,
        rule="poor_evaluation",
        key=str(task.pk),
        body=s.body,
        title="企业评议不满意",
        description=f"企业对检查任务{task.number}（{s.enterprise.name}）的总体评价为1分（非常不满意）：{COMMENT}",
        period=timezone.localdate().replace(day=1),
        task=task,
    )
    import_module("jianchama.supervision.migrations.0004_confidential_findings").hide_raters(apps, None)
    old.refresh_from_db()
    assert old.confidential and "企业评议" in old.body_description
    for detail_text in rater_details(type("S", (), {"enterprise": s.enterprise, "task": task})):
        assert detail_text not in old.body_description
    assert run_rules(s.supervisor, rules=["poor_evaluation"]).new_findings == 0
