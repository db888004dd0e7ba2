"""The home page's to-dos (F-46): per role, the waiting item is counted on the home page, with its deadline,
and its link lands on a list showing exactly it. Each count is a fixed number of queries."""

from __future__ import annotations

import datetime
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from jianchama.complaints import services as complaint_services
from jianchama.complaints.models import Complaint
from jianchama.core import todos
from jianchama.core.roles import Role
from jianchama.inspections import services
from jianchama.inspections.models import Task
from jianchama.plans.models import Plan, PlanReview
from tests.factories import CertificateFactory, filed_plan, user_for
from tests.supervision._steps_world import escalated, not_rectified, recommended

DAY = datetime.timedelta(days=1)


@pytest.fixture
def s(db, settings, tmp_path):
    from tests.supervision._steps_world import build_world

    return build_world(settings, tmp_path)


def todo_link(client, user, key: str) -> tuple[str, str]:
    """Open the home page as `user`; return the to-do `key`'s count text and link (fails if not shown)."""
    client.force_login(user)
    response = client.get(reverse("core:home"), follow=True)
    assert response.status_code == 200
    html = response.content.decode()
    match = re.search(
        rf'<a class="todo" href="([^"]+)" data-todo="{key}">\s*<span class="todo-count"[^>]*>([^<]+)</span>',
        html,
    )
    assert match, f"to-do {key} not on the home page"
    return match.group(2), match.group(1).replace("&amp;", "&")


def shown(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, url
    return response.content.decode()


# --- Inspector -------------------------------------------------------------------------------------------


def test_inspector_sees_todays_visit_and_its_link_lists_it(client, s):
    today_task = s.notified()
    later = s.notified(
        window_start=timezone.localdate() + 20 * DAY, window_end=timezone.localdate() + 25 * DAY
    )
    count, url = todo_link(client, s.inspector_user, "visits_today")
    assert count == "1"
    assert url == reverse("inspections:task_list") + "?todo=visits_today"
    page = shown(client, url)
    assert today_task.number in page and later.number not in page
    assert "仅显示待办" in page and "今日检查" in page


def test_inspector_results_to_record(client, s):
    task = s.in_progress()
    count, url = todo_link(client, s.inspector_user, "results_to_record")
    assert count == "1"
    assert task.number in shown(client, url)
    # Another body's inspector has nothing of it.
    client.force_login(s.other_inspector_user)
    assert "results_to_record" not in shown(client, reverse("core:home"))


# --- Body administrator ----------------------------------------------------------------------------------


def test_head_sees_task_to_approve_with_overdue_deadline_in_red(client, s):
    task = s.submitted()
    # Its visit was due to start three days ago and it is still not approved.
    Task.objects.filter(pk=task.pk).update(window_start=timezone.localdate() - 3 * DAY)
    client.force_login(s.head)
    html = shown(client, reverse("core:home"))
    assert 'data-todo="tasks_to_approve"' in html
    row = html.split('data-todo="tasks_to_approve"')[1].split("</a>")[0]
    assert "todo-deadline overdue" in row and "已逾期" in row
    count, url = todo_link(client, s.head, "tasks_to_approve")
    assert count == "1"
    assert task.number in shown(client, url)
    services.approve_task(s.head, task=task)
    client.force_login(s.head)
    assert 'data-todo="tasks_to_approve"' not in shown(client, reverse("core:home"))


def test_head_statement_to_answer(client, s):
    task = s.recorded()
    services.file_statement(s.contact, task=task, text="对检查结论有异议")
    count, url = todo_link(client, s.head, "statements_to_answer")
    assert count == "1"
    assert task.number in shown(client, url)


def test_head_certificates_expiring_within_60_days(client, s):
    expiring = CertificateFactory(
        inspector=s.inspector2, valid_until=timezone.localdate() + 10 * DAY
    ).inspector
    count, url = todo_link(client, s.head, "certificates_expiring")
    assert count == "1"
    page = shown(client, url)
    assert expiring.name in page and s.inspector.name not in page


def test_head_plan_returned(client, s):
    plan = filed_plan(s.body, items=[s.item], status=Plan.Status.RETURNED, title="被退回的年度计划")
    count, url = todo_link(client, s.head, "plans_returned")
    assert count == "1"
    assert plan.title in shown(client, url)


def test_head_recommendation_to_rectify(client, s):
    rec = recommended(s)
    count, url = todo_link(client, s.head, "recommendations_to_rectify")
    assert count == "1"
    assert rec.number in shown(client, url)


# --- City reviewer, supervisor, district government, intake ----------------------------------------------


def test_city_reviewer_plan_to_review_with_deadline(client, s):
    plan = filed_plan(s.body, items=[s.item], status=Plan.Status.CITY_REVIEW, title="待市级审核的计划")
    due = timezone.localdate() + 7 * DAY
    PlanReview.objects.create(plan=plan, step=PlanReview.Step.CITY, received_at=timezone.now(), due=due)
    client.force_login(s.city_reviewer)
    html = shown(client, reverse("core:home"))
    row = html.split('data-todo="plans_to_review"')[1].split("</a>")[0]
    assert f"{due.year}年{due.month}月{due.day}日" in row and "还剩" in row
    count, url = todo_link(client, s.city_reviewer, "plans_to_review")
    assert count == "1"
    assert plan.title in shown(client, url)


def test_supervisor_findings_and_recommendations_to_issue(client, s):
    count, url = todo_link(client, s.supervisor, "findings_to_check")
    assert count == "1"
    assert s.finding.title in shown(client, url)
    not_rectified(s)
    count, url = todo_link(client, s.supervisor, "recommendations_to_issue")
    assert count == "1"
    assert s.body.name in shown(client, url)


def test_district_government_decision_to_issue(client, s):
    rec = escalated(s)
    count, url = todo_link(client, s.government, "decisions_to_issue")
    assert count == "1"
    assert rec.number in shown(client, url)


def test_intake_complaint_to_assign(client, s):
    intake = user_for(Role.COMPLAINT_INTAKE, region=s.jinshan)
    complaint = complaint_services.register_complaint(
        intake,
        source=Complaint.Source.HOTLINE_12345,
        category="no_code",
        title="检查人员未出示检查码",
        content="今天上午有人来检查，没有出示检查码",
        complainant_name="王先生",
        complainant_phone="13900000009",
        body=s.body,
    )
    count, url = todo_link(client, intake, "complaints_to_assign")
    assert count == "1"
    assert complaint.number in shown(client, url)


# --- Enterprise: the portal is its home --------------------------------------------------------------------


def test_enterprise_goes_to_portal_and_sees_its_todos(client, s):
    upcoming = s.notified()
    done = s.recorded(window_start=timezone.localdate(), window_end=timezone.localdate() + 2 * DAY)
    client.force_login(s.contact)
    response = client.get(reverse("core:home"))
    assert response.status_code == 302 and response.url == reverse("portal:home")
    count, url = todo_link(client, s.contact, "upcoming_visits")
    assert count == "1"
    page = shown(client, url)
    section = page.split('id="tasks"')[1].split("</section>")[0]
    assert upcoming.number in section and done.number not in section
    count, url = todo_link(client, s.contact, "results_to_evaluate")
    assert count == "1"
    assert done.number in shown(client, url).split('id="tasks"')[1].split("</section>")[0]


# --- Cost ---------------------------------------------------------------------------------------------------


def test_home_query_count_does_not_grow_with_items(client, s, django_assert_max_num_queries):
    s.submitted()
    client.force_login(s.head)
    kinds = len(todos.kinds_for(s.head))
    # Session, user, two per kind (count, nearest deadline), the calendar, the template's own.
    budget = 2 * kinds + 12
    with django_assert_max_num_queries(budget):
        client.get(reverse("core:home"))
    for _ in range(5):
        s.submitted()
    with django_assert_max_num_queries(budget):
        client.get(reverse("core:home"))


def test_count_is_capped(db, s, settings):
    settings.TODO_COUNT_CAP = 2
    for _ in range(3):
        s.submitted()
    [todo] = [t for t in todos.for_user(s.head) if t.kind.key == "tasks_to_approve"]
    assert todo.count_text == "2+"


def test_unknown_or_foreign_todo_key_leaves_list_alone(client, s):
    task = s.submitted()
    client.force_login(s.head)
    for key in ("nope", "visits_today", "upcoming_visits"):
        assert task.number in shown(client, reverse("inspections:task_list") + f"?todo={key}")


def test_tasks_not_visible_are_never_counted(client, s):
    s.submitted()
    assert Task.objects.filter(status=Task.Status.SUBMITTED).count() == 1
    client.force_login(s.other_head)
    assert 'data-todo="tasks_to_approve"' not in shown(client, reverse("core:home"))


def test_supervisor_sampled_bodies_to_review_until_each_is_reviewed(client, db):
    """抽中待评查: the bodies drawn in the quarter's revealed round wait for their review on the district's
    supervisors' home, with the quarter's end as the deadline; a supervisor of another district does not see
    them, and a reviewed body leaves the count."""
    from jianchama.supervision import sampling
    from jianchama.supervision.models import Method, SampledBody
    from tests.supervision.test_sampling import ITEMS, build_world

    w = build_world()
    r = sampling.commit_round(w.supervisor, year=w.year, quarter=w.quarter)
    r = sampling.reveal_round(w.supervisor, sampling_round=r)
    drawn = list(SampledBody.objects.filter(round=r).order_by("position"))
    assert len(drawn) == 3
    count, url = todo_link(client, w.supervisor, "sampled_to_review")
    assert count == "3"
    assert str(r) in shown(client, url)
    html = shown(client, reverse("core:home"))
    end = sampling.quarter_bounds(w.year, w.quarter)[1]
    assert f"季度末 {end.year}年{end.month}月{end.day}日" in html

    sheet = sampling.create_score_sheet(
        w.supervisor, name="案卷评查评分表", method=Method.CASE_FILE_REVIEW, items=ITEMS
    )
    sampling.record_review(
        w.supervisor,
        sampled=drawn[0],
        method=Method.CASE_FILE_REVIEW,
        sheet=sheet,
        scores={item["name"]: item["max"] for item in ITEMS},
    )
    assert todo_link(client, w.supervisor, "sampled_to_review")[0] == "2"

    client.force_login(w.mh_supervisor)
    assert 'data-todo="sampled_to_review"' not in shown(client, reverse("core:home"))
