"""Sampling that silently falls short (seed 003 二（一）1: 「每季度以不低于10%的比例，对涉企行政执法单位开展
抽查」): a quarter's round not committed or not revealed within the settable working days, or drawn bodies left
without a review at the quarter's end, become findings of the supervisors' own work (`SamplingShortfall`),
and the sampling page shows each district's quarter against the 10% target."""

from __future__ import annotations

import datetime

import pytest
from django.test import Client, override_settings
from django.utils import timezone

from jianchama.core.audit import AuditEvent
from jianchama.core.roles import Role
from jianchama.core.workdays import add_working_days
from jianchama.notifications.models import Notification
from jianchama.supervision import jobs, sampling
from jianchama.supervision.models import Method, SampledBody, SamplingRound, SamplingShortfall
from tests.factories import user_for
from tests.supervision.test_sampling import ITEMS, build_world

pytestmark = pytest.mark.django_db
SK = SamplingShortfall.Kind
DAY = datetime.timedelta(days=1)


@pytest.fixture
def w(db):
    w = build_world()
    w.start, w.end = sampling.quarter_bounds(w.year, w.quarter)
    w.commit_due = add_working_days(w.start - DAY, 10)
    return w


def at(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime(day.year, day.month, day.day, 10, 0))


def progress(w, today, region=None):
    return sampling.quarter_progress(region or w.jinshan, w.year, w.quarter, today)


def kinds(p) -> list[str]:
    return [s["kind"] for s in p.shortfalls]


def committed_on(w, day: datetime.date) -> SamplingRound:
    r = sampling.commit_round(w.supervisor, year=w.year, quarter=w.quarter)
    SamplingRound.objects.filter(pk=r.pk).update(committed_at=at(day))
    r.refresh_from_db()
    return r


def test_每季度以不低于10_的比例_a_round_not_committed_by_the_set_working_day_is_a_shortfall(w):
    """每季度以不低于10%的比例……开展抽查: no round by the 10th working day of the quarter (the default of
    SAMPLING_COMMIT_WORKING_DAYS) is the bureau's own shortfall; on that day it is not yet."""
    assert kinds(progress(w, w.commit_due)) == []
    late = progress(w, w.commit_due + DAY)
    assert kinds(late) == [SK.NOT_COMMITTED]
    assert "至今未公布" in late.shortfalls[0]["description"]
    assert late.pool_size == 23 and late.target == 3 and late.drawn == 0 and late.missing == 3
    with override_settings(SAMPLING_COMMIT_WORKING_DAYS=30):
        assert kinds(progress(w, w.commit_due + DAY)) == []
    # Committed late: still a shortfall, saying when.
    committed_on(w, w.commit_due + 3 * DAY)
    [s] = progress(w, w.commit_due + 10 * DAY).shortfalls[:1]
    assert s["kind"] == SK.NOT_COMMITTED and "才公布" in s["description"]


def test_a_round_not_revealed_within_the_set_working_days_is_a_shortfall(w):
    r = committed_on(w, w.start)
    reveal_due = add_working_days(w.start, 5)
    assert kinds(progress(w, reveal_due)) == []
    assert kinds(progress(w, reveal_due + DAY)) == [SK.NOT_REVEALED]
    with override_settings(SAMPLING_REVEAL_WORKING_DAYS=20):
        assert kinds(progress(w, reveal_due + DAY)) == []
    r = sampling.reveal_round(w.supervisor, sampling_round=r)
    SamplingRound.objects.filter(pk=r.pk).update(revealed_at=at(reveal_due))
    assert kinds(progress(w, reveal_due + DAY)) == []
    SamplingRound.objects.filter(pk=r.pk).update(revealed_at=at(reveal_due + 2 * DAY))
    [s] = progress(w, reveal_due + 5 * DAY).shortfalls
    assert s["kind"] == SK.NOT_REVEALED and "才抽取" in s["description"]


def test_sampled_bodies_left_without_a_review_at_the_quarters_end_are_shortfalls(w):
    """Each drawn body without any review dated within the quarter, once the quarter is over."""
    r = committed_on(w, w.start)
    r = sampling.reveal_round(w.supervisor, sampling_round=r)
    SamplingRound.objects.filter(pk=r.pk).update(revealed_at=at(w.start))
    first, *others = SampledBody.objects.filter(round=r).order_by("position")
    sheet = sampling.create_score_sheet(
        w.supervisor, name="案卷评查评分表", method=Method.CASE_FILE_REVIEW, items=ITEMS
    )
    sampling.record_review(
        w.supervisor,
        sampled=first,
        method=Method.CASE_FILE_REVIEW,
        sheet=sheet,
        scores={item["name"]: item["max"] for item in ITEMS},
    )
    during = progress(w, w.end)
    assert kinds(during) == [] and during.drawn == 3 and during.reviewed == 1
    after = progress(w, w.end + DAY)
    assert kinds(after) == [SK.NOT_REVIEWED, SK.NOT_REVIEWED]
    assert [s["sampled"] for s in after.shortfalls] == others
    assert others[0].body.name in after.shortfalls[0]["description"]


def test_the_daily_job_records_each_shortfall_once_and_tells_the_districts_supervisors(w):
    town_supervisor = user_for(Role.SUPERVISOR, region=w.town)
    city_supervisor = user_for(Role.SUPERVISOR, region=w.city)
    today = w.commit_due + DAY
    with override_settings(SAMPLING_SHORTFALLS_SINCE=w.start.isoformat()):  # last quarter not checked
        new = sampling.record_shortfalls(today)
    by_region = {s.region.code: s for s in new}
    assert set(by_region) == {"310116", "310112"}  # Jinshan and Minhang, both without a round
    assert {(s.kind, s.year, s.quarter) for s in new} == {(SK.NOT_COMMITTED, w.year, w.quarter)}
    with override_settings(SAMPLING_SHORTFALLS_SINCE=w.start.isoformat()):
        assert sampling.record_shortfalls(today) == []  # idempotent
    assert SamplingShortfall.objects.count() == 2
    assert AuditEvent.objects.filter(action="sampling.shortfall").count() == 2
    told = set(
        Notification.objects.filter(event="supervision.sampling_shortfall").values_list("user", flat=True)
    )
    assert told == {w.supervisor.pk, town_supervisor.pk, w.mh_supervisor.pk}
    assert city_supervisor.pk not in told
    # Scoped: Jinshan's supervisor sees Jinshan's, the city's both, a body's head none.
    assert list(SamplingShortfall.objects.visible_to(w.supervisor)) == [by_region["310116"]]
    assert SamplingShortfall.objects.visible_to(city_supervisor).count() == 2
    head = user_for(Role.BODY_ADMIN, body=w.bodies[0])
    assert not SamplingShortfall.objects.visible_to(head).exists()
    # Without the setting, the last quarter is checked too (no round in it either).
    assert {(s.year, s.quarter) for s in sampling.record_shortfalls(today)} == {
        sampling._previous_quarter(w.year, w.quarter)
    }


def test_the_job_function_is_scheduled_and_callable(w):
    from django_q.models import Schedule

    assert Schedule.objects.filter(func="jianchama.supervision.jobs.record_sampling_shortfalls").exists()
    assert jobs.record_sampling_shortfalls() >= 0


def test_the_sampling_page_shows_each_quarter_against_the_10_percent_target(w):
    client = Client()
    client.force_login(w.supervisor)
    page = client.get("/supervision/sampling/").content.decode()
    table = page[page.index('id="sampling-progress"') :]
    table = table[: table.index("</table>")]
    assert "金山区" in table and "闵行区" not in table  # the supervisor's own district only
    assert "应抽取（≥10%）" in table and ">23<" in table and ">3<" in table
    anonymous = Client().get("/supervision/sampling/").content.decode()
    assert 'id="sampling-progress"' not in anonymous
