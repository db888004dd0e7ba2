"""A reveal of many enterprises leaves the request (issue 16): the worker reveals it in one transaction, the
plan's draw page shows its progress, a second request while queued is the same job, a redelivered job does
nothing, and a refusal found by the worker is shown on the page with nothing created."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.urls import reverse

from jianchama.core.audit import AuditEvent
from jianchama.inspections.models import Task
from jianchama.plans import draws, jobs
from jianchama.plans.models import RandomDraw
from tests.plans.test_draw_views import dates, plan_url
from tests.plans.test_draws import build_world

pytestmark = pytest.mark.django_db


@pytest.fixture
def w(db, settings):
    settings.DRAW_REVEAL_SYNC_MAX = 2  # a draw of 3 enterprises is "many"
    return build_world()


def test_a_large_reveal_is_queued_with_progress_and_done_by_the_worker(client, w):
    draw = draws.commit_draw(w.head, plan=w.plan, enterprise_count=3)
    client.force_login(w.head)
    response = client.post(reverse("draws:reveal", args=[draw.pk]), dates(), follow=True)
    assert response.redirect_chain[-1][0] == plan_url(w)
    assert "正在后台公开种子、抽取并创建检查任务" in response.text and "正在排队" in response.text
    assert 'http-equiv="refresh"' in response.text
    draw.refresh_from_db()
    assert draw.status == RandomDraw.Status.COMMITTED and not Task.objects.exists()
    assert AuditEvent.objects.filter(action="draw.reveal_queued", object_id=str(draw.pk)).exists()

    # Asked again (a double click, a retry) while queued: the same job, nothing new.
    again = client.post(reverse("draws:reveal", args=[draw.pk]), dates(), follow=True)
    assert "正在排队" in again.text
    assert AuditEvent.objects.filter(action="draw.reveal_queued").count() == 1

    # While the worker creates the tasks, the page shows how far it is.
    cache.set(draws.progress_key(draw.pk), {"done": 1, "total": 3}, 60)
    assert "已创建 1 项，共 3 项" in client.get(plan_url(w)).text
    cache.delete(draws.progress_key(draw.pk))

    seen = []
    real = draws.reveal_draw

    def watched(*args, progress=None, **kwargs):
        return real(
            *args, progress=lambda done, total: (seen.append((done, total)), progress(done, total)), **kwargs
        )

    draws.reveal_draw, saved = watched, draws.reveal_draw
    try:
        assert jobs.reveal_queued_draw(draw.pk) == "revealed"
    finally:
        draws.reveal_draw = saved
    assert seen == [(0, 3), (1, 3), (2, 3)]
    assert jobs.reveal_queued_draw(draw.pk) == "skipped"  # redelivered: nothing more
    draw.refresh_from_db()
    assert draw.status == RandomDraw.Status.REVEALED and Task.objects.filter(draw=draw).count() == 3
    assert AuditEvent.objects.get(action="draw.revealed").actor == w.head  # the requester's act
    page = client.get(plan_url(w)).text
    assert 'http-equiv="refresh"' not in page
    assert all(task.number in page for task in Task.objects.filter(draw=draw))


def test_a_refusal_found_by_the_worker_is_shown_and_nothing_is_created(client, w):
    draw = draws.commit_draw(w.head, plan=w.plan, enterprise_count=3)
    client.force_login(w.head)
    client.post(reverse("draws:reveal", args=[draw.pk]), dates())
    # The pool changed after the commitment: the worker's reveal refuses it, whole.
    RandomDraw.objects.filter(pk=draw.pk).update(pool_hash="0" * 64)
    assert jobs.reveal_queued_draw(draw.pk) == "refused"
    draw.refresh_from_db()
    assert draw.status == RandomDraw.Status.COMMITTED and not Task.objects.exists()
    page = client.get(plan_url(w)).text
    assert "上次后台抽取未完成" in page and "公开种子并抽取" in page  # may be asked again (or withdrawn)


def test_what_can_be_checked_at_once_is_refused_at_once(client, w):
    draw = draws.commit_draw(w.head, plan=w.plan, enterprise_count=3)
    client.force_login(w.inspector_user)
    assert client.post(reverse("draws:reveal", args=[draw.pk]), dates()).status_code == 403
    client.force_login(w.head)
    from django.utils import timezone

    today = timezone.localdate()
    response = client.post(
        reverse("draws:reveal", args=[draw.pk]),
        {"window_start": today.isoformat(), "window_end": (today - timezone.timedelta(days=1)).isoformat()},
        follow=True,
    )
    assert "检查日期止不能早于日期起" in response.text
    draw.refresh_from_db()
    assert not draw.reveal_job
