"""The heavy figures computed ahead (statistics/snapshots.py): the city's and each district's year, quarter and
month read repeated inspections and the most inspected enterprises from a snapshot the job queue writes; any
other view computes live; a snapshot past its age is shown with its age and its view queued."""

from __future__ import annotations

import datetime
import itertools

import pytest
from django.db.models import Q
from django.utils import timezone
from django_q.models import Schedule

from jianchama.registry.models import EnforcementBody
from jianchama.statistics import snapshots
from jianchama.statistics.build import refresh
from jianchama.statistics.figures import FIGURES
from jianchama.statistics.figures import frequency_counts as live_frequency_counts
from jianchama.statistics.models import FigureSnapshot
from jianchama.statistics.scope import Filters, Period, Scope, region_scope, scope_for
from tests.statistics.test_views import table

URL = "/statistics/"


def page(client, user, **params) -> str:
    client.force_login(user)
    response = client.get(URL, params)
    assert response.status_code == 200
    return response.content.decode()


def plant_most_inspected(key: str, period: Period, enterprise: str, *, computed_at=None) -> FigureSnapshot:
    """A snapshot of `most_inspected` for the view, naming one enterprise no real count would."""
    return FigureSnapshot.objects.create(
        scope_key=key,
        code="most_inspected",
        start=period.start,
        end=period.end,
        table={
            "columns": ["企业", "检查次数", "执法单位数"],
            "rows": [[enterprise, 99, 1]],
            "chart": "bar",
            "series": [1],
            "note": "",
            "link": "",
            "links": [],
            "extra": {},
        },
        computed_at=computed_at or timezone.now(),
    )


def test_the_job_writes_each_standard_view_and_the_page_reads_it(client, world):
    today = timezone.localdate()
    written = snapshots.refresh_snapshots(today)
    periods = snapshots.standard_periods(today)
    # The city and its two districts, each standard period, the heavy figures and the frequency counts; each
    # body's heavy figures (a body has no frequency report).
    bodies = EnforcementBody.objects.count()
    assert bodies >= 2
    assert (
        written
        == FigureSnapshot.objects.count()
        == 3 * len(periods) * (len(snapshots.HEAVY) + 1) + (bodies * len(periods) * len(snapshots.HEAVY))
    )
    assert not FigureSnapshot.objects.filter(scope_key__startswith="body:", code=snapshots.FREQUENCY).exists()
    city, jinshan = region_scope(world.city), region_scope(world.jinshan)
    year = Period.of("year", today)
    for scope in (city, jinshan):
        for code in snapshots.HEAVY:
            stored = snapshots.compute(code, scope, year, Filters())
            live = FIGURES[code].compute(scope, year, Filters())
            assert stored.rows == [list(row) for row in live.rows] and "本项数据截至" in stored.note
        stored = snapshots.frequency_counts(scope, year.start, year.end)
        assert stored == live_frequency_counts(scope, year.start, year.end)
        assert stored.total > 0 and stored.top
    shown = page(client, world.supervisor)
    assert table(shown, "repeated") == [
        [str(cell) for cell in row] for row in FIGURES["repeated"].compute(jinshan, year, Filters()).rows
    ]
    assert "本项数据截至" in shown
    # A body's admin reads its body's snapshot, equal to its figures computed now.
    gas = scope_for(world.head)
    assert snapshots.scope_key(gas) == f"body:{world.body.pk}"
    for code in snapshots.HEAVY:
        stored = snapshots.compute(code, gas, year, Filters())
        live = FIGURES[code].compute(gas, year, Filters())
        assert stored.rows == [list(row) for row in live.rows] and "本项数据截至" in stored.note
    shown = page(client, world.head)
    assert table(shown, "most_inspected") == [
        [str(cell) for cell in row] for row in FIGURES["most_inspected"].compute(gas, year, Filters()).rows
    ]
    assert world.enterprise.name in table(shown, "most_inspected")[0][0]
    assert "本项数据截至" in shown
    assert Schedule.objects.filter(func="jianchama.statistics.jobs.refresh_snapshots").exists()


def test_a_planted_snapshot_shows_only_in_the_standard_view(client, world):
    """The page reads the snapshot for the district's year; under a filter or a custom period it computes live,
    and another scope (a body's, another district's) reads its own."""
    today = timezone.localdate()
    year = Period.of("year", today)
    plant_most_inspected(f"district:{world.jinshan.pk}", year, "快照里的企业")
    assert "快照里的企业" in page(client, world.supervisor)
    assert "快照里的企业" not in page(client, world.supervisor, field=world.gas.pk)
    assert "快照里的企业" not in page(
        client,
        world.supervisor,
        period="custom",
        start=year.start.isoformat(),
        end=year.end.isoformat(),
    )
    assert "快照里的企业" not in page(client, world.head)
    assert "快照里的企业" not in page(client, world.mh_supervisor)


def test_a_bodys_snapshot_shows_to_its_own_staff_only(client, world):
    """A snapshot planted for the gas body's year shows on its admin's and its inspector's page; not to the
    district's supervisor, nor to the other body's staff, nor under a filter."""
    year = Period.of("year", timezone.localdate())
    plant_most_inspected(f"body:{world.body.pk}", year, "本单位快照里的企业")
    assert "本单位快照里的企业" in page(client, world.head)
    assert "本单位快照里的企业" in page(client, world.inspector_user)
    assert "本单位快照里的企业" not in page(client, world.head, kind="complaint")
    assert "本单位快照里的企业" not in page(client, world.supervisor)
    assert "本单位快照里的企业" not in page(client, world.other_inspector_user)


@pytest.mark.django_db(transaction=True)
def test_a_bodys_stale_view_is_queued_and_its_job_computes_it(client, world):
    from django.core.cache import cache
    from django_q.models import OrmQ
    from django_q.signing import SignedPackage

    from tests.notifications.conftest import run_queued_jobs

    cache.clear()
    OrmQ.objects.all().delete()  # the scenario's notifications
    year = Period.of("year", timezone.localdate())
    key = f"body:{world.body.pk}"
    plant_most_inspected(
        key, year, "旧快照里的企业", computed_at=timezone.now() - datetime.timedelta(hours=2)
    )
    shown = page(client, world.head)
    assert "旧快照里的企业" in shown and "120分钟前" in shown and "正在重新计算" in shown
    jobs = [SignedPackage.loads(job.payload) for job in OrmQ.objects.all()]
    assert [job["args"] for job in jobs] == [(key, "year", year.start.isoformat(), year.end.isoformat())]
    assert run_queued_jobs() == 1
    shown = page(client, world.head)
    assert "旧快照里的企业" not in shown and "正在重新计算" not in shown
    live = FIGURES["most_inspected"].compute(scope_for(world.head), year, Filters()).rows
    assert table(shown, "most_inspected") == [[str(cell) for cell in row] for row in live]
    assert set(FigureSnapshot.objects.filter(scope_key=key).values_list("code", flat=True)) == set(
        snapshots.HEAVY
    )


@pytest.mark.django_db(transaction=True)
def test_a_snapshot_past_its_age_is_shown_with_its_age_and_its_view_queued(client, world, settings):
    """Past STATISTICS_SNAPSHOT_MAX_AGE_MINUTES the page still shows the snapshot, saying when it was computed
    and how long ago, and queues its view (once, however often the page is opened) instead of computing it in
    the request; once the worker has run the job, the page shows the figures of the facts, which equal the raw
    counts (test_aggregates)."""
    from django.core.cache import cache
    from django_q.models import OrmQ
    from django_q.signing import SignedPackage

    from tests.notifications.conftest import run_queued_jobs

    cache.clear()
    OrmQ.objects.all().delete()  # the scenario's notifications
    today = timezone.localdate()
    year = Period.of("year", today)
    snapshots.refresh_snapshots(today)
    jinshan = region_scope(world.jinshan)
    planted = FigureSnapshot.objects.get(
        scope_key=f"district:{world.jinshan.pk}", code="most_inspected", start=year.start, end=year.end
    )
    planted.table = {**planted.table, "rows": [["快照里的企业", 99, 9]]}
    planted.computed_at = timezone.now() - datetime.timedelta(minutes=45)
    planted.save()
    shown = page(client, world.supervisor)
    assert "快照里的企业" in shown
    stamp = timezone.localtime(planted.computed_at)
    assert f"数据更新于{stamp.year}年{stamp.month}月{stamp.day}日{stamp:%H:%M}，45分钟前" in shown
    assert "正在重新计算" in shown
    # The other figures of the view are fresh: said as before.
    assert "本项数据截至" in shown
    jobs = [SignedPackage.loads(job.payload) for job in OrmQ.objects.all()]
    assert [(job["func"], job["args"]) for job in jobs] == [
        (
            snapshots.VIEW_JOB,
            (f"district:{world.jinshan.pk}", "year", year.start.isoformat(), year.end.isoformat()),
        )
    ]
    page(client, world.supervisor)  # opened again while queued: not queued twice
    assert OrmQ.objects.count() == 1
    assert run_queued_jobs() == 1
    shown = page(client, world.supervisor)
    assert "快照里的企业" not in shown and "正在重新计算" not in shown
    live = FIGURES["most_inspected"].compute(jinshan, year, Filters()).rows
    assert table(shown, "most_inspected") == [[str(cell) for cell in row] for row in live]
    assert snapshots.compute("most_inspected", jinshan, year, Filters()).rows == [list(r) for r in live]
    assert OrmQ.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_a_view_without_any_snapshot_is_computed_live_and_nothing_queued(client, world):
    from django_q.models import OrmQ

    OrmQ.objects.all().delete()  # the scenario's notifications
    shown = page(client, world.supervisor)
    assert world.enterprise.name in shown and "数据更新于" not in shown and "本项数据截至" not in shown
    assert OrmQ.objects.count() == 0


def test_the_frequency_report_reads_the_snapshot_for_a_calendar_period_of_all_fields(client, world):
    today = timezone.localdate()
    year = Period.of("year", today)
    FigureSnapshot.objects.create(
        scope_key=f"district:{world.jinshan.pk}",
        code=snapshots.FREQUENCY,
        start=year.start,
        end=year.end,
        table={"top": [], "by_body": [["快照里的执法单位", 77, 7]], "by_field": [], "total": 77},
        computed_at=timezone.now(),
    )
    scope = region_scope(world.jinshan)
    assert snapshots.frequency_counts(scope, year.start, year.end).total == 77
    assert snapshots.frequency_counts(scope, year.start, year.end, field_id=world.gas.pk).total != 77
    assert snapshots.frequency_counts(scope, year.start, year.end - datetime.timedelta(days=1)).total != 77
    client.force_login(world.supervisor)
    shown = client.get(
        "/tasks/frequency/", {"start": year.start.isoformat(), "end": year.end.isoformat()}
    ).content.decode()
    assert "快照里的执法单位" in shown
    stamp = timezone.localtime(FigureSnapshot.objects.get(code=snapshots.FREQUENCY).computed_at)
    assert f"检查次数截至{stamp:%H:%M}" in shown


@pytest.mark.django_db(transaction=True)
def test_the_frequency_reports_stale_counts_are_shown_with_their_age_and_queued(client, world):
    """Past its age the frequency report's snapshot is still shown, with when it was computed, and its view
    queued once; after the job the report's counts are the facts' again."""
    from django.core.cache import cache
    from django_q.models import OrmQ

    from tests.notifications.conftest import run_queued_jobs

    cache.clear()
    OrmQ.objects.all().delete()  # the scenario's notifications
    year = Period.of("year", timezone.localdate())
    computed = timezone.now() - datetime.timedelta(minutes=75)
    FigureSnapshot.objects.create(
        scope_key=f"district:{world.jinshan.pk}",
        code=snapshots.FREQUENCY,
        start=year.start,
        end=year.end,
        table={"top": [], "by_body": [["旧快照里的执法单位", 77, 7]], "by_field": [], "total": 77},
        computed_at=computed,
    )
    client.force_login(world.supervisor)
    params = {"start": year.start.isoformat(), "end": year.end.isoformat()}
    shown = client.get("/tasks/frequency/", params).content.decode()
    stamp = timezone.localtime(computed)
    assert "旧快照里的执法单位" in shown and "共77次检查" in shown
    assert f"数据更新于{stamp.year}年{stamp.month}月{stamp.day}日{stamp:%H:%M}，75分钟前" in shown
    client.get("/tasks/frequency/", params)
    assert OrmQ.objects.count() == 1
    assert run_queued_jobs() == 1
    shown = client.get("/tasks/frequency/", params).content.decode()
    live = live_frequency_counts(region_scope(world.jinshan), year.start, year.end)
    assert "旧快照里的执法单位" not in shown and "正在重新计算" not in shown
    assert f"共{live.total}次检查" in shown and live.total != 77


def test_a_snapshot_lags_until_the_next_run_then_follows_the_facts(world):
    today = timezone.localdate()
    scope, year = region_scope(world.jinshan), Period.of("year", today)
    snapshots.refresh_snapshots(today)
    before = snapshots.compute("most_inspected", scope, year, Filters()).rows
    world.closed()  # one more inspection of the featured enterprise
    refresh()
    assert snapshots.compute("most_inspected", scope, year, Filters()).rows == before
    live = FIGURES["most_inspected"].compute(scope, year, Filters()).rows
    assert live != before
    snapshots.refresh_snapshots(today)
    assert snapshots.compute("most_inspected", scope, year, Filters()).rows == [list(r) for r in live]


@pytest.mark.parametrize("kind", ["year", "quarter", "month"])
def test_only_the_standard_views_are_snapshotted(world, kind):
    today = timezone.localdate()
    period = Period.of(kind, today)
    assert snapshots.is_standard(region_scope(world.city), period, Filters())
    assert snapshots.is_standard(scope_for(world.supervisor), period, Filters())
    assert snapshots.is_standard(scope_for(world.head), period, Filters())
    assert snapshots.is_standard(scope_for(world.inspector_user), period, Filters())
    # A city-level reviewer's several bodies compute live.
    reviewer = Scope("审核", Q(), Q(), "bodies", body_ids=(world.body.pk, world.other_body.pk))
    assert not snapshots.is_standard(reviewer, period, Filters())
    assert not snapshots.is_standard(scope_for(world.head), period, Filters(kind="complaint"))
    assert not snapshots.is_standard(region_scope(world.city), period, Filters(field_id=world.gas.pk))
    custom = Period.of("custom", today, start=period.start, end=period.end)
    assert not snapshots.is_standard(region_scope(world.city), custom, Filters())


@pytest.mark.django_db(transaction=True)
def test_a_filtered_view_past_the_live_limit_is_computed_by_the_job_queue(client, world, settings):
    """Past STATISTICS_LIVE_MAX_VISIT_FACTS (here -1: always), a district's view that no standard snapshot
    serves — a field chosen — is not computed in the request: the page shows its evaluations, says how many
    figures are being computed and reloads itself, and the view is queued once with its filters. The Excel
    export computes them (a file asked for). After the worker has run the job, the page shows the figures of
    the view, equal to the live ones; a body's view of the same field computes live."""
    import io

    from django.core.cache import cache
    from django_q.models import OrmQ
    from django_q.signing import SignedPackage
    from openpyxl import load_workbook

    from tests.notifications.conftest import run_queued_jobs

    cache.clear()
    OrmQ.objects.all().delete()  # the scenario's notifications
    settings.STATISTICS_LIVE_MAX_VISIT_FACTS = -1
    year = Period.of("year", timezone.localdate())
    field = world.item.field_id
    chosen = Filters(field_id=field)
    jinshan = region_scope(world.jinshan)
    live = {code: FIGURES[code].compute(jinshan, year, chosen).rows for code in snapshots.HEAVY}
    assert live["most_inspected"] and live["summary"]

    shown = page(client, world.supervisor, field=field)
    assert 'http-equiv="refresh"' in shown and 'id="statistics-pending"' in shown
    assert f"{len(snapshots.HEAVY)}项指标正由后台计算" in shown
    assert shown.count("data-pending=") == len(snapshots.HEAVY)
    assert 'data-table="evaluations"' in shown and 'data-table="most_inspected"' not in shown
    jobs = [SignedPackage.loads(job.payload) for job in OrmQ.objects.all()]
    assert [(job["func"], job["args"][:4]) for job in jobs] == [
        (
            snapshots.VIEW_JOB,
            (f"district:{world.jinshan.pk}", "year", year.start.isoformat(), year.end.isoformat()),
        )
    ]
    assert jobs[0]["args"][4]["field_id"] == field
    page(client, world.supervisor, field=field)  # opened again while queued: not queued twice
    assert OrmQ.objects.count() == 1

    response = client.get(URL, {"field": field, "figure": "most_inspected", "format": "xlsx"})
    rows = list(load_workbook(io.BytesIO(response.content)).active.iter_rows(min_row=2, values_only=True))
    assert [list(row) for row in rows] == [list(row) for row in live["most_inspected"]]
    assert OrmQ.objects.count() == 1

    assert run_queued_jobs() == 1
    stored = FigureSnapshot.objects.filter(scope_key=f"district:{world.jinshan.pk}", filters=f"field={field}")
    assert stored.count() == len(snapshots.HEAVY)
    shown = page(client, world.supervisor, field=field)
    assert 'http-equiv="refresh"' not in shown and "data-pending=" not in shown
    assert "本项数据截至" in shown
    for code in ("most_inspected", "summary", "repeated"):
        assert table(shown, code) == [[str(cell) for cell in row] for row in live[code]], code
    assert OrmQ.objects.count() == 0
    # A body's own rows are few: its view of the field is computed in the request.
    shown = page(client, world.head, field=field)
    assert "data-pending=" not in shown and 'data-table="most_inspected"' in shown
    assert OrmQ.objects.count() == 0
    # A standard view the job has no snapshot of (an earlier year's quarter) is deferred alike.
    shown = page(client, world.supervisor, period="quarter", year=year.start.year - 1, number=2)
    assert shown.count("data-pending=") == len(snapshots.HEAVY)
    assert OrmQ.objects.count() == 1


def test_a_custom_range_sums_its_whole_months_and_its_other_days(world):
    """`figures.sums` reads a custom range as its whole months (MonthlyFact) and the days around them
    (DailyFact): the parts are contiguous and cover the range, and the sums equal one sum of the daily rows."""
    from django.db.models import Sum

    from jianchama.statistics import figures
    from jianchama.statistics.models import DailyFact

    today = timezone.localdate()
    period = Period(today - datetime.timedelta(days=75), today + datetime.timedelta(days=40), "custom")
    parts = figures.month_split(period)
    assert parts[0].start == period.start and parts[-1].end == period.end and len(parts) in (2, 3)
    for before, after in itertools.pairwise(parts):
        assert after.start == before.end + datetime.timedelta(days=1)
    assert sum(figures.whole_months(part) for part in parts) == 1
    scope = region_scope(world.jinshan)
    named = {"n": Sum("inspections"), "scanned": Sum("scanned"), "findings": Sum("findings")}
    got = figures.sums(scope, period, Filters(), Q(), **named)
    daily = (
        DailyFact.objects.filter(day__range=(period.start, period.end))
        .filter(Filters().q())  # every field's row
        .filter(scope.rows)
        .filter(figures.counting(scope, Filters()))
        .aggregate(**named)
    )
    assert got == {name: value or 0 for name, value in daily.items()} and got["n"] > 0
    # A range inside one month, and whole months, are read in one part.
    assert figures.month_split(Period(today, today, "custom")) == [Period(today, today, "custom")]
    year = Period.of("year", today)
    assert figures.month_split(year) == [year]
