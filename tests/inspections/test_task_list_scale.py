"""The task list costs what it shows (issue 16): its queries do not grow with its rows, its count stops at the
cap and says so, and its search finds tasks by number, enterprise name and code in any role's scope."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from jianchama.core import pages
from jianchama.inspections import services
from jianchama.inspections.models import Task, TaskBody
from tests.factories import EnterpriseFactory, make_uscc

pytestmark = pytest.mark.django_db


def add_tasks(s, count: int, *, start: int = 0, body=None, enterprise=None) -> list[Task]:
    body = body or s.body
    today = timezone.localdate()
    tasks = []
    for n in range(start, start + count):
        task = Task.objects.create(
            enterprise=enterprise or s.enterprise,
            lead_body=body,
            legal_basis="《城镇燃气管理条例》",
            kind=Task.Kind.ROUTINE,
            window_start=today + datetime.timedelta(days=1),
            window_end=today + datetime.timedelta(days=2),
            number=f"JC2026{n:07d}",
            created_by=s.head,
        )
        TaskBody.objects.create(task=task, body=body)
        tasks.append(task)
    return tasks


def queries_for(client, url: str, **query) -> tuple[int, str]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, query)
    assert response.status_code == 200
    return len(captured), response.content.decode()


@pytest.mark.parametrize("who", ["head", "supervisor", "city_reviewer"])
def test_the_task_lists_queries_do_not_grow_with_its_rows(client, s, monkeypatch, who):
    """A page of 10 tasks and a page of 100 take the same queries (no query per row)."""
    monkeypatch.setattr(pages, "PAGE_SIZE", 200)
    client.force_login(getattr(s, who))
    add_tasks(s, 10)
    client.get("/tasks/")  # the session's first request of the test also saves its last activity
    few, page = queries_for(client, "/tasks/")
    assert page.count("/tasks/") >= 10 and "共 10 条" in page
    add_tasks(s, 90, start=10)
    many, page = queries_for(client, "/tasks/")
    assert "共 100 条" in page and "JC20260000099" in page
    assert many == few


def test_the_count_stops_at_the_cap_and_says_so(client, s, settings, monkeypatch):
    monkeypatch.setattr(pages, "PAGE_SIZE", 5)
    settings.LIST_COUNT_CAP = 12
    add_tasks(s, 20)
    client.force_login(s.head)
    _, first = queries_for(client, "/tasks/")
    assert "第 1 / 3 页，共 12+ 条（只计前 12 条，请用筛选缩小范围）" in first
    # The newest first; the last page reachable is the cap's.
    assert "JC20260000019" in first
    _, last = queries_for(client, "/tasks/", page=99)
    assert "第 3 / 3 页" in last and "下一页" not in last


def test_search_by_number_name_and_code_stays_in_scope(client, s):
    mine = add_tasks(s, 3)
    named = EnterpriseFactory(name="金山精细化工有限公司", region=s.jinshan, uscc=make_uscc(777))
    by_name = add_tasks(s, 1, start=50, enterprise=named)[0]
    elsewhere = EnterpriseFactory(
        name="闵行精细化工有限公司", region=s.minhang, uscc=make_uscc(778, "310112")
    )
    others = add_tasks(s, 1, start=60, body=s.other_body, enterprise=elsewhere)[0]
    client.force_login(s.head)

    _, page = queries_for(client, "/tasks/", q=mine[1].number.lower())
    assert mine[1].number in page and mine[0].number not in page
    # Part of a number is still found (a whole one goes by the unique index, a part by the trigrams).
    _, page = queries_for(client, "/tasks/", q=mine[1].number[2:])
    assert mine[1].number in page and mine[0].number not in page
    _, page = queries_for(client, "/tasks/", q="精细化工")
    assert by_name.number in page and others.number not in page and mine[0].number not in page
    _, page = queries_for(client, "/tasks/", q=named.uscc.lower())
    assert by_name.number in page and mine[0].number not in page
    # The other district's body finds its own task by the same words, and not the first body's.
    client.force_login(s.other_head)
    _, page = queries_for(client, "/tasks/", q="精细化工")
    assert others.number in page and by_name.number not in page


def test_a_joint_task_is_listed_once(client, s):
    """The scoping used DISTINCT to undo the join over a task's bodies; the semi-join never doubles a row."""
    task = add_tasks(s, 1)[0]
    TaskBody.objects.create(task=task, body=s.partner)
    client.force_login(s.supervisor)
    _, page = queries_for(client, "/tasks/")
    assert page.count(f">{task.number}<") == 1 and "共 1 条" in page


@pytest.mark.parametrize("common", [False, True], ids=["rare name", "common name"])
def test_a_common_name_finds_the_same_tasks_as_a_rare_one(client, s, monkeypatch, common):
    """A name shared by more than SEARCH_ENTERPRISES_COMMON enterprises is tested row by row in the list's
    order instead of through the enterprises' ids: the same tasks, in scope, counted the same."""
    from jianchama.inspections.views import tasks as task_views

    if common:
        monkeypatch.setattr(task_views, "SEARCH_ENTERPRISES_COMMON", 2)
    mine = add_tasks(s, 2)
    named = [
        EnterpriseFactory(name=f"金山第{n}精细化工有限公司", region=s.jinshan, uscc=make_uscc(880 + n))
        for n in range(3)
    ]
    found = [add_tasks(s, 1, start=70 + n, enterprise=e)[0] for n, e in enumerate(named)]
    elsewhere = EnterpriseFactory(
        name="闵行精细化工有限公司", region=s.minhang, uscc=make_uscc(889, "310112")
    )
    theirs = add_tasks(s, 1, start=90, body=s.other_body, enterprise=elsewhere)[0]
    client.force_login(s.head)
    _, page = queries_for(client, "/tasks/", q="精细化工")
    assert all(t.number in page for t in found) and "共 3 条" in page
    assert theirs.number not in page and mine[0].number not in page
    # Newest first, as unsearched.
    assert page.index(found[2].number) < page.index(found[0].number)
    _, page = queries_for(client, "/tasks/", q=named[1].uscc.lower())
    assert found[1].number in page and "共 1 条" in page
    client.force_login(s.supervisor)
    _, page = queries_for(client, "/tasks/", q="精细化工")
    assert all(t.number in page for t in found) and theirs.number not in page


@pytest.mark.parametrize("who", ["head", "supervisor"])
def test_the_status_filter_lists_that_status_newest_first(client, s, who):
    """A supervisor's filter reads the task's status; a body's users read its copy on their body's rows
    (TaskBody.task_status), which the task's save keeps."""
    tasks = add_tasks(s, 4)
    for task in (tasks[0], tasks[2]):
        task.status = Task.Status.CLOSED
        task.save(update_fields=["status"])
    client.force_login(getattr(s, who))
    _, page = queries_for(client, "/tasks/", status="closed")
    assert "共 2 条" in page and tasks[1].number not in page and tasks[3].number not in page
    assert page.index(tasks[2].number) < page.index(tasks[0].number)
    _, page = queries_for(client, "/tasks/", status="draft")
    assert "共 2 条" in page and tasks[1].number in page and tasks[0].number not in page


def test_a_bodys_list_is_its_participations_newest_first(client, s):
    """A body's users read their list through their body's rows (TaskBody's index): every task the body takes
    part in, a joint one once, another body's never, newest first by the task's creation."""
    own = add_tasks(s, 3)
    theirs = add_tasks(s, 1, start=40, body=s.other_body)[0]
    joint = add_tasks(s, 1, start=50, body=s.other_body)[0]
    TaskBody.objects.create(task=joint, body=s.body)
    Task.objects.filter(pk=own[0].pk).update(created_at=timezone.now() + datetime.timedelta(hours=1))
    part = TaskBody.objects.get(task=own[0], body=s.body)
    assert part.task_created_at == own[0].created_at  # copied when the part was written, as services do
    TaskBody.objects.filter(task=own[0]).update(task_created_at=timezone.now() + datetime.timedelta(hours=1))
    client.force_login(s.head)
    _, page = queries_for(client, "/tasks/")
    assert "共 4 条" in page and theirs.number not in page
    assert page.count(f">{joint.number}<") == 1
    numbers = [own[0].number, joint.number, own[2].number, own[1].number]
    assert [page.index(n) for n in numbers] == sorted(page.index(n) for n in numbers)
    client.force_login(s.other_head)
    _, page = queries_for(client, "/tasks/")
    assert "共 2 条" in page and joint.number in page and own[0].number not in page


def _listed(client, user, status: str) -> str:
    client.force_login(user)
    return queries_for(client, "/tasks/", status=status)[1]


def test_every_step_of_a_joint_task_keeps_its_status_on_both_bodies_lists(client, s):
    """The status copied on each body's row follows the task through the services, so that each body's list
    filtered by a status shows the task exactly under its status: draft to closed, joined and cancelled."""
    seen = []

    def check(task: Task) -> None:
        task = Task.objects.get(pk=task.pk)
        copies = set(TaskBody.objects.filter(task=task).values_list("body_id", "task_status"))
        assert copies == {(s.body.pk, task.status), (s.partner.pk, task.status)}
        seen.append(task.status)
        for user in (s.head, s.partner_head):
            assert task.number in _listed(client, user, task.status)
            other = Task.Status.DRAFT if task.status != Task.Status.DRAFT else Task.Status.CLOSED
            assert task.number not in _listed(client, user, other)

    joint = s.joint_draft()
    check(joint)
    check(s.submitted(joint))
    check(services.approve_task(s.head, task=Task.objects.get(pk=joint.pk)))
    for step in (s.notified, s.in_progress, s.recorded, s.closed):
        check(step(joint))
    assert seen == [
        Task.Status.DRAFT,
        Task.Status.SUBMITTED,
        Task.Status.SUBMITTED,  # approved by one of its two bodies: still waiting for the other
        Task.Status.NOTIFIED,
        Task.Status.IN_PROGRESS,
        Task.Status.RESULT_RECORDED,
        Task.Status.CLOSED,
    ]
    cancelled = services.cancel_task(s.head, task=s.submitted(), reason="企业已停产")
    assert set(TaskBody.objects.filter(task=cancelled).values_list("task_status", flat=True)) == {
        Task.Status.CANCELLED
    }
    assert cancelled.number in _listed(client, s.head, Task.Status.CANCELLED)
    assert cancelled.number not in _listed(client, s.head, Task.Status.SUBMITTED)


def test_a_common_names_matches_are_counted_to_a_smaller_cap_and_say_so(client, s, monkeypatch):
    """A common name's count stops at SEARCH_COMMON_COUNT_CAP (it walks the list testing each task's
    enterprise); the page says how far it counted and shows the newest matches; a rare name is counted as
    any list is."""
    from jianchama.inspections.views import tasks as task_views

    monkeypatch.setattr(pages, "PAGE_SIZE", 2)
    monkeypatch.setattr(task_views, "SEARCH_ENTERPRISES_COMMON", 2)
    monkeypatch.setattr(task_views, "SEARCH_COMMON_COUNT_CAP", 4)
    named = [
        EnterpriseFactory(name=f"金山第{n}精细化工有限公司", region=s.jinshan, uscc=make_uscc(870 + n))
        for n in range(3)
    ]
    found = [add_tasks(s, 1, start=70 + n, enterprise=named[n % 3])[0] for n in range(6)]
    client.force_login(s.head)
    _, page = queries_for(client, "/tasks/", q="精细化工")
    assert "共 4+ 条（只计前 4 条，请用筛选缩小范围）" in page and "第 1 / 2 页" in page
    assert found[5].number in page and found[4].number in page and found[0].number not in page
    _, page = queries_for(client, "/tasks/", q="第1精细化工")  # names one enterprise: not common
    assert "共 2 条" in page and found[1].number in page and found[4].number in page
