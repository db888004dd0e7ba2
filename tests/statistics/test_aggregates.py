"""The fact tables equal a direct count over the raw rows: after a seeded random run of the real services
(create, joint tasks, submit, approve, scan, check in, record with findings, evaluate, cancel, switch mode,
move a window), refreshed incrementally after each batch, and rebuilt in full."""

from __future__ import annotations

import datetime
import itertools
import random
from collections import Counter
from decimal import Decimal

import pytest
from django.utils import timezone

from jianchama.core.errors import DomainError, InvalidTransition, PermissionDenied
from jianchama.inspections import frequency, services, signing
from jianchama.inspections.models import Evaluation, Finding, InspectionRecord, Scan, Task, TaskBody
from jianchama.statistics import build, figures
from jianchama.statistics.models import (
    DailyFact,
    InspectorFact,
    ItemFact,
    MonthlyFact,
    ParticipationFact,
    VisitFact,
)
from jianchama.statistics.scope import Filters, Period, scope_for
from tests.factories import user_for

DAY = datetime.timedelta(days=1)


def inspection_day(task: Task) -> datetime.date:
    return frequency.inspection_date(task)


def direct(tasks) -> dict[str, int]:
    """The summary's figures counted over the raw tasks."""
    counted = [t for t in tasks if t.status in frequency.COUNTED]
    records = {r.task_id: r for r in InspectionRecord.objects.filter(task__in=[t.pk for t in counted])}
    scanned = set(
        Scan.objects.filter(outcome=Scan.Outcome.GENUINE, code__task__in=[t.pk for t in counted]).values_list(
            "code__task_id", flat=True
        )
    )
    findings = Finding.objects.filter(
        record__task__in=[t.pk for t in counted], result=Finding.Result.NOT_COMPLIANT
    ).count()
    return {
        "inspections": len(counted),
        "remote": sum(1 for t in counted if t.mode == Task.Mode.REMOTE),
        "joint": sum(1 for t in counted if t.task_bodies.count() > 1),
        "with_code": sum(1 for t in counted if hasattr(t, "code")),
        "scanned": len(scanned),
        "completed": len(records),
        "no_problem": sum(1 for r in records.values() if r.outcome == "no_problem"),
        "rectify": sum(1 for r in records.values() if r.outcome == "rectify"),
        "case_opened": 0,
        "referred": 0,
        "findings": findings,
        "evaluations": Evaluation.objects.filter(task__in=[t.pk for t in counted]).count(),
        "cancelled": sum(1 for t in tasks if t.status == Task.Status.CANCELLED and t.submitted_at),
    }


def raw_tasks(user, period: Period) -> list[Task]:
    return [
        t
        for t in Task.objects.visible_to(user).select_related("code").prefetch_related("task_bodies")
        if period.start <= inspection_day(Task.objects.select_related().get(pk=t.pk)) <= period.end
    ]


def assert_facts_equal_raw(s, period: Period) -> None:
    for user in (s.admin, s.supervisor, s.mh_supervisor, s.head, s.partner_head, s.other_head):
        scope = scope_for(user)
        got = figures._totals(figures.tasks(scope, period, Filters()))
        assert got == direct(raw_tasks(user, period)), user
        # The frequency report's top enterprises: the raw count of visible counted tasks per enterprise.
        if frequency.can_view_frequency_report(user):
            report = frequency.frequency_report(user, start=period.start, end=period.end)
            expected: dict[str, int] = {}
            for t in raw_tasks(user, period):
                if t.status in frequency.COUNTED:
                    expected[t.enterprise.name] = expected.get(t.enterprise.name, 0) + 1
            assert {e.name: e.count for e in report.enterprises} == expected
            assert report.total == sum(expected.values())
            assert {e.name: len(e.tasks) for e in report.enterprises} == expected
    # The most inspected enterprises and by whom, as the city sees them: their counted tasks, and each body's
    # part in them (a joint task counts for each of its bodies), most first.
    counted = [t for t in raw_tasks(s.admin, period) if t.status in frequency.COUNTED]
    by_whom: dict[str, Counter] = {}
    for t in counted:
        by_whom.setdefault(t.enterprise.name, Counter()).update(tb.body.name for tb in t.task_bodies.all())
    expected = {
        name: [
            sum(1 for t in counted if t.enterprise.name == name),
            len(bodies),
            "、".join(f"{b}{n}次" for b, n in sorted(bodies.items(), key=lambda x: (-x[1], x[0]))),
        ]
        for name, bodies in by_whom.items()
    }
    shown = figures.FIGURES["most_inspected"].compute(scope_for(s.admin), period, Filters()).rows
    assert {row[0]: row[1:] for row in shown} == expected


def raw_inspectors(body, period: Period, evaluated: bool) -> dict[str, list]:
    """The per-inspector figure counted over the raw tasks of `body` in the period: per inspector of the body on
    a counted task, its inspections, results, findings per 100, scan rate (and its evaluations)."""
    sums: dict[str, list[int]] = {}
    for task in Task.objects.filter(task_bodies__body=body, status__in=frequency.COUNTED).distinct():
        if not period.start <= inspection_day(task) <= period.end:
            continue
        record = InspectionRecord.objects.filter(task=task).first()
        findings = (
            record.findings.filter(result=Finding.Result.NOT_COMPLIANT).count() if record is not None else 0
        )
        evaluation = Evaluation.objects.filter(task=task).first()
        counts = [
            1,
            int(record is not None),
            findings,
            int(hasattr(task, "code")),
            int(Scan.objects.filter(code__task=task, outcome=Scan.Outcome.GENUINE).exists()),
            int(evaluation is not None),
            evaluation.overall if evaluation else 0,
            int(evaluation is not None and evaluation.overall <= build.POOR_AT_MOST),
        ]
        for inspector in task.inspectors.filter(body=body):
            into = sums.setdefault(inspector.name, [0] * len(counts))
            for i, n in enumerate(counts):
                into[i] += n
    shown = {}
    for name, (n, completed, findings, with_code, scanned, rated, overall, poor) in sums.items():
        row = [n, completed, figures._ratio(findings, completed), figures._ratio(scanned, with_code)]
        if evaluated:
            row += (
                [rated, round(Decimal(overall) / rated, 2), poor]
                if rated >= figures.MIN_RATINGS
                else [figures.SUPPRESSED] * 3
            )
        shown[name] = row
    return shown


def assert_inspectors_equal_raw(s, period: Period) -> None:
    """The per-inspector figure of each body, as the city sees it (a body chosen) and as the body does."""
    for body, head in ((s.body, s.head), (s.partner, s.partner_head), (s.other_body, s.other_head)):
        for scope, filters in ((scope_for(s.admin), Filters(body_id=body.pk)), (scope_for(head), Filters())):
            evaluated = scope.live_evaluations is not None
            table = figures.FIGURES["by_inspector"].compute(scope, period, filters)
            got = {row[0]: row[1:-1] for row in table.rows if row[1]}
            assert got == raw_inspectors(body, period, evaluated), (body, evaluated)


def raw_items(field, period: Period, body=None) -> dict[str, list]:
    """The per-item figure of `field` counted over the raw participations (of `body`, else every body's) in the
    period: per item a participation lists, its inspections, results, inspections that found a problem with
    it, the rate of those among the results, and its non-compliant findings."""
    parts = TaskBody.objects.filter(task__status__in=frequency.COUNTED).select_related("task")
    if body is not None:
        parts = parts.filter(body=body)
    sums: dict[str, list[int]] = {}
    for part in parts:
        if not period.start <= inspection_day(part.task) <= period.end:
            continue
        record = InspectionRecord.objects.filter(task=part.task).first()
        for item in part.items.filter(field=field):
            findings = (
                record.findings.filter(item=item, result=Finding.Result.NOT_COMPLIANT).count()
                if record is not None
                else 0
            )
            into = sums.setdefault(item.name, [0, 0, 0, 0])
            for i, n in enumerate([1, int(record is not None), int(findings > 0), findings]):
                into[i] += n
    return {
        name: [n, completed, failed, figures._ratio(failed, completed), findings]
        for name, (n, completed, failed, findings) in sums.items()
    }


def assert_items_equal_raw(s, period: Period) -> None:
    """The per-item figure of each field, as the city sees it (every body, and a body chosen) and as each body
    does; with no field chosen it asks for one."""
    assert figures.FIGURES["by_item"].compute(scope_for(s.admin), period, Filters()).empty
    for field in (s.gas, s.market):
        views = [(scope_for(s.admin), Filters(field_id=field.pk), None)]
        for body, head in ((s.body, s.head), (s.partner, s.partner_head), (s.other_body, s.other_head)):
            views.append((scope_for(s.admin), Filters(field_id=field.pk, body_id=body.pk), body))
            views.append((scope_for(head), Filters(field_id=field.pk), body))
        for scope, filters, body in views:
            table = figures.FIGURES["by_item"].compute(scope, period, filters)
            got = {row[0]: row[1:] for row in table.rows if row[1]}
            assert got == raw_items(field, period, body), (field, body, scope.label)


def _district(region) -> int:
    district = region.district() if region is not None else None
    return district.pk if district is not None else 0


def raw_repeated(user, period: Period, body_id: int | None = None) -> list[list]:
    """The repeated inspections counted over the raw tasks: per enterprise (and per enterprise and body) the
    sorted days of the counted tasks the user may see in the period; an enterprise counts for a window when
    two consecutive ones are that close."""
    scope = scope_for(user)
    any_days: dict[int, list] = {}
    body_days: dict[tuple[int, int], list] = {}
    for t in raw_tasks(user, period):
        if t.status not in frequency.COUNTED:
            continue
        parts = [tb for tb in t.task_bodies.select_related("body__region") if body_id in (None, tb.body_id)]
        if not parts:
            continue
        day = inspection_day(t)
        any_days.setdefault(t.enterprise_id, []).append(day)
        for tb in parts:
            if scope.level == "bodies" and tb.body_id not in scope.body_ids:
                continue
            if scope.level == "district" and scope.district_id not in (
                _district(tb.body.region),
                _district(t.enterprise.region),
            ):
                continue
            body_days.setdefault((t.enterprise_id, tb.body_id), []).append(day)

    def count(groups: dict, within: int) -> int:
        found = set()
        for key, days in groups.items():
            days = sorted(days)
            if any((b - a).days <= within for a, b in itertools.pairwise(days)):
                found.add(key[0] if isinstance(key, tuple) else key)
        return len(found)

    return [
        [label, count(body_days, within), count(any_days, within)] for within, label in figures.REPEAT_WINDOWS
    ]


def assert_repeated_equal_raw(s, period: Period) -> None:
    for user in (s.admin, s.supervisor, s.mh_supervisor, s.head, s.partner_head, s.other_head):
        got = figures.FIGURES["repeated"].compute(scope_for(user), period, Filters()).rows
        assert got == raw_repeated(user, period), user
    # A body chosen by the city: its own visits (the precomputed same-body column serves both columns).
    got = figures.FIGURES["repeated"].compute(scope_for(s.admin), period, Filters(body_id=s.body.pk)).rows
    assert got == raw_repeated(s.admin, period, body_id=s.body.pk)


def snapshot() -> tuple[list, ...]:
    """Every fact table's rows but their ids, sorted."""
    return tuple(
        sorted(model.objects.values_list(*(f.attname for f in model._meta.fields if f.attname != "id")))
        for model in (DailyFact, VisitFact, MonthlyFact, ParticipationFact, InspectorFact, ItemFact)
    )


def scores(rng: random.Random) -> dict[str, int]:
    return {"overall": rng.randint(1, 5), **{name: rng.randint(1, 5) for name, _ in Evaluation.DIMENSIONS}}


def step(s, rng: random.Random, tasks: list[Task]) -> None:
    """One random operation through the services; refusals (a wrong state) are part of the game."""
    today = timezone.localdate()
    action = rng.choice(
        ["create", "create", "joint", "other"] + ["advance"] * 8 + ["cancel", "mode", "rate", "rate"]
    )
    try:
        if action in ("create", "joint", "other"):
            start = today if rng.random() < 0.6 else today + rng.randint(1, 20) * DAY
            args = {"window_start": start, "window_end": start + 10 * DAY}
            if action == "other":
                task = services.create_task(
                    s.other_inspector_user,
                    enterprise=s.mh_enterprise,
                    items=[s.item],
                    inspectors=[s.other_inspector, s.other_inspector2],
                    legal_basis="《城镇燃气管理条例》",
                    kind=Task.Kind.COMPLAINT,
                    reason="群众投诉燃气泄漏",
                    evidence="投诉登记表",
                    **args,
                )
            elif action == "joint":
                task = s.joint_draft(enterprise=rng.choice([s.enterprise, s.other_enterprise]), **args)
            else:
                task = s.draft(enterprise=rng.choice([s.enterprise, s.other_enterprise]), **args)
            tasks.append(task)
            return
        if not tasks:
            return
        task = Task.objects.get(pk=rng.choice(tasks).pk)
        heads = {s.body: s.head, s.partner: s.partner_head, s.other_body: s.other_head}
        lead_user = s.other_inspector_user if task.lead_body_id == s.other_body.pk else s.inspector_user
        if action == "advance":
            if task.status == Task.Status.DRAFT:
                services.submit_task(lead_user, task=task)
            elif task.status == Task.Status.SUBMITTED:
                for part in task.task_bodies.filter(approved_at__isnull=True).select_related("body"):
                    task = services.approve_task(heads[part.body], task=task)
            elif task.status == Task.Status.NOTIFIED:
                if task.enterprise_id == s.enterprise.pk and rng.random() < 0.5:
                    token = signing.issue_token(task.code.public_id)
                    services.scan_code(token, user=s.contact)
                else:
                    services.check_in(lead_user, task=task)
            elif task.status == Task.Status.IN_PROGRESS:
                bad = rng.random() < 0.5
                result = Finding.Result.NOT_COMPLIANT if bad else Finding.Result.COMPLIANT
                services.record_result(
                    lead_user,
                    task=task,
                    outcome=InspectionRecord.Outcome.RECTIFY if bad else InspectionRecord.Outcome.NO_PROBLEM,
                    summary="检查情况",
                    rectify_working_days=10 if bad else None,
                    findings=[
                        services.FindingInput(
                            item=item, entry=entry, result=result, note="不符合" if bad else ""
                        )
                        for item in task.items.all()
                        for entry in item.checklist
                    ],
                )
            elif task.status == Task.Status.RESULT_RECORDED:
                services.close_task(heads[task.lead_body], task=task)
        elif action == "cancel":
            services.cancel_task(heads[task.lead_body], task=task, reason="计划调整，取消本次检查")
        elif action == "mode":
            frequency.set_mode(lead_user, task=task, mode=rng.choice(["remote", "on_site"]))
        elif (
            action == "rate"
            and task.status in (Task.Status.RESULT_RECORDED, Task.Status.CLOSED)
            and task.enterprise_id == s.enterprise.pk
            and not hasattr(task, "evaluation")
        ):
            services.evaluate(s.contact, task=task, scores=scores(rng))
    except (DomainError, InvalidTransition, PermissionDenied) as error:
        print(action, getattr(error, "message", error))


@pytest.mark.parametrize("seed", [2026])
def test_facts_equal_direct_counts_after_random_operations(s, seed, settings):
    from tests.inspections.conftest import inspector_with_account

    settings.EVALUATION_RELEASE_MIN_RATINGS = 5
    s.admin = user_for("platform_admin")
    s.other_inspector2 = inspector_with_account(s.other_body, "孙八")
    rng = random.Random(seed)
    tasks: list[Task] = []
    today = timezone.localdate()
    period = Period(today - 40 * DAY, today + 40 * DAY, "custom")
    for _batch in range(8):
        for _ in range(30):
            step(s, rng, tasks)
        build.refresh()
        assert_facts_equal_raw(s, period)
        assert_repeated_equal_raw(s, period)
        assert_inspectors_equal_raw(s, period)
        assert_items_equal_raw(s, period)
        # This month, read from MonthlyFact (InspectorFact, ItemFact).
        assert_facts_equal_raw(s, Period.of("month", today))
        assert_repeated_equal_raw(s, Period.of("month", today))
        assert_inspectors_equal_raw(s, Period.of("month", today))
        assert_items_equal_raw(s, Period.of("month", today))
    incremental = snapshot()
    build.rebuild_all()
    assert snapshot() == incremental
    assert_facts_equal_raw(s, period)
    assert_repeated_equal_raw(s, period)
    assert_inspectors_equal_raw(s, period)
    assert_items_equal_raw(s, period)
    assert DailyFact.objects.exists() and VisitFact.objects.exists() and InspectorFact.objects.exists()
    # Items were inspected and found wanting in both fields, so the per-item comparison compared something.
    assert set(ItemFact.objects.filter(findings__gt=0).values_list("field_id", flat=True)) == {
        s.gas.pk,
        s.market.pk,
    }
    # The run reached every kind of figure, so the comparison above compared something.
    totals = figures._totals(figures.tasks(scope_for(s.admin), period, Filters()))
    print(seed, totals, sorted(set(Task.objects.values_list("status", flat=True))))
    assert all(totals[name] > 0 for name in ("inspections", "joint", "with_code", "scanned", "completed"))
    assert totals["cancelled"] > 0 and totals["findings"] > 0


def test_repeated_follows_added_and_cancelled_visits_and_the_periods_first_day(s):
    """The previous-visit days kept by the refresh: a visit added between two, then cancelled (the next
    visit's gap changes each time), and a period starting between two visits (the earlier is not counted)."""
    s.admin = user_for("platform_admin")
    today = timezone.localdate()
    year = Period(today, today + 365 * DAY, "custom")

    def visit(offset: int) -> Task:
        start = today + offset * DAY
        return s.submitted(window_start=start, window_end=start + 10 * DAY)

    def shown(period: Period = year) -> list:
        build.refresh()
        assert_repeated_equal_raw(s, period)
        return figures.FIGURES["repeated"].compute(scope_for(s.admin), period, Filters()).rows

    visit(0)
    visit(60)
    assert shown() == [["7日内", 0, 0], ["30日内", 0, 0], ["90日内", 1, 1], ["一年内", 1, 1]]
    middle = visit(55)
    assert shown() == [["7日内", 1, 1], ["30日内", 1, 1], ["90日内", 1, 1], ["一年内", 1, 1]]
    # From day 30 the period holds the visits of days 55 and 60 only; from day 56, one visit.
    assert shown(Period(today + 30 * DAY, today + 365 * DAY, "custom"))[0] == ["7日内", 1, 1]
    assert shown(Period(today + 56 * DAY, today + 365 * DAY, "custom"))[3] == ["一年内", 0, 0]
    services.cancel_task(s.head, task=middle, reason="计划调整，取消本次检查")
    assert shown() == [["7日内", 0, 0], ["30日内", 0, 0], ["90日内", 1, 1], ["一年内", 1, 1]]
    build.rebuild_all()
    assert shown() == [["7日内", 0, 0], ["30日内", 0, 0], ["90日内", 1, 1], ["一年内", 1, 1]]


def test_the_refresh_counts_the_changed_tasks_alone(s):
    """Three tasks on one day of one enterprise, one of them cancelled: the refresh counts that task's one
    participation and rebuilds its enterprise's visits, not the day's other tasks (its cost grows with the
    tasks changed). What it leaves equals a full count: the cancelled task's day, month and visits summed again,
    the next visit's gap moved; and the nightly's diff puts right a row changed in each fact table."""
    s.admin = user_for("platform_admin")
    today = timezone.localdate()
    start = today + 3 * DAY
    tasks = [s.submitted(window_start=start, window_end=start + 10 * DAY) for _ in range(3)]
    later = s.submitted(window_start=start + 20 * DAY, window_end=start + 30 * DAY)
    build.rebuild_all()
    assert build.refresh() == {"tasks": 0, "participations": 0, "enterprises": 0}
    services.cancel_task(s.head, task=tasks[0], reason="计划调整，取消本次检查")
    assert build.refresh() == {"tasks": 1, "participations": 1, "enterprises": 1}
    refreshed = snapshot()
    # Rows the nightly must put right, one changed in each table (a previous-visit day set to null too).
    from django.db.models import F

    for model, change in (
        (DailyFact, {"inspections": F("inspections") + 1}),
        (ParticipationFact, {"findings": F("findings") + 5}),
        (MonthlyFact, {"scanned": F("scanned") + 1}),
        (VisitFact, {"prev_all_day": None}),
    ):
        model.objects.filter(pk=model.objects.filter(field_id=0).order_by("-pk").values("pk")[:1]).update(
            **change
        )
    assert snapshot() != refreshed
    build.rebuild_all()
    assert snapshot() == refreshed
    period = Period(today, today + 60 * DAY, "custom")
    assert_facts_equal_raw(s, period)
    assert_repeated_equal_raw(s, period)
    # The two visits left on the first day are one row of two tasks; the later visit's previous day is theirs.
    rows = VisitFact.objects.filter(enterprise_id=s.enterprise.pk, field_id=0, first_all=True).order_by("day")
    assert [(r.day, r.tasks, r.prev_all_day) for r in rows] == [
        (start, 2, start),
        (later.window_start, 1, start),
    ]


def test_the_refresh_changes_the_months_by_difference(s):
    """MonthlyFact's cells changed by the difference of a task's new and old participations: a month whose one
    task is cancelled after submission keeps its cells (they count the cancellation, no inspection), a month
    whose one task goes back to draft loses them, a month untouched is not rewritten; all as the nightly."""
    today = timezone.localdate()

    def month_start(months: int) -> datetime.date:
        first = today.replace(day=1)
        return (first + datetime.timedelta(days=32 * months)).replace(day=1)

    cancelled, returned, kept = (
        s.submitted(window_start=month_start(n) + 2 * DAY, window_end=month_start(n) + 12 * DAY)
        for n in (2, 3, 4)
    )
    build.refresh()
    untouched = set(MonthlyFact.objects.filter(month=month_start(4)).values_list("pk", flat=True))
    assert untouched
    services.cancel_task(s.head, task=cancelled, reason="计划调整，取消本次检查")
    services.return_task(s.head, task=returned, comment="请补充检查依据")
    assert build.refresh()["tasks"] == 2

    def month(n: int) -> list[tuple]:
        return list(
            MonthlyFact.objects.filter(month=month_start(n))
            .order_by("field_id")
            .values_list("field_id", "inspections", "cancelled")
        )

    assert month(2) == [(0, 0, 1), (s.gas.pk, 0, 1)]
    assert month(3) == []
    assert set(MonthlyFact.objects.filter(month=month_start(4)).values_list("pk", flat=True)) == untouched
    refreshed = snapshot()
    build.rebuild_all()
    assert snapshot() == refreshed
    assert month(4) == [(0, 1, 0), (s.gas.pk, 1, 0)]
    assert kept.status == Task.Status.SUBMITTED


def test_facts_built_before_participations_are_rebuilt_by_the_next_refresh(s):
    """A database whose facts were counted before ParticipationFact existed (migration 0009 marks its
    watermark): the next refresh cannot sum a cell from participations that are not there, and rebuilds
    everything once; then it counts changed tasks alone again."""
    from jianchama.statistics.models import Watermark

    today = timezone.localdate()
    task = s.submitted(window_start=today + DAY, window_end=today + 10 * DAY)
    s.submitted(window_start=today + DAY, window_end=today + 10 * DAY)
    build.rebuild_all()
    counted = snapshot()
    ParticipationFact.objects.all().delete()
    Watermark.objects.update(participations_built=False)
    services.cancel_task(s.head, task=task, reason="计划调整，取消本次检查")
    done = build.refresh()
    assert done["rebuilt"] == 1 and done["participations"] == 2
    assert Watermark.objects.get().participations_built
    assert len(snapshot()[3]) == len(counted[3])
    assert snapshot() != counted  # the cancellation is counted
    refreshed = snapshot()
    build.rebuild_all()
    assert snapshot() == refreshed
    assert build.refresh() == {"tasks": 0, "participations": 0, "enterprises": 0}


@pytest.mark.django_db(transaction=True)
def test_the_nightly_rebuild_leaves_the_fact_tables_vacuumed(world):
    """Outside a transaction, as the schedule runs it, the rebuild ends with VACUUM (ANALYZE) of the facts on
    PostgreSQL (their index-only scans read the heap until then); SQLite has nothing to do."""
    from django.db import connection

    build.rebuild_all()
    assert VisitFact.objects.exists()
    if connection.vendor != "postgresql":
        pytest.skip("VACUUM and its statistics are PostgreSQL's")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname, last_vacuum IS NOT NULL, last_analyze IS NOT NULL FROM pg_stat_user_tables "
            "WHERE relname IN ('statistics_dailyfact', 'statistics_monthlyfact', 'statistics_visitfact', "
            "'statistics_participationfact')"
        )
        done = {name: (vacuumed, analysed) for name, vacuumed, analysed in cursor.fetchall()}
    assert done == {name: (True, True) for name in done} and len(done) == 4


@pytest.mark.django_db(transaction=True)
def test_the_nightly_rebuild_on_two_connections_writes_what_one_does(s, settings, monkeypatch):
    """On PostgreSQL outside a transaction, as the schedule runs it, the rebuild's two phases run on two
    connections at once. Visits over five quarters, each within a year of others: the facts written on two
    connections equal those written on one, and from empty tables too; they equal the raw counts (the
    previous-visit days crossed quarters, read from the other quarters' stage tables); no stage table is left."""
    import threading

    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("other connections see the rows only on PostgreSQL outside a transaction")
    s.admin = user_for("platform_admin")
    today = timezone.localdate()
    for offset in (0, 40, 95, 130, 200, 290, 300, 355):
        start = today + offset * DAY
        s.submitted(window_start=start, window_end=start + 10 * DAY)
    threads: set[int] = set()
    meet = threading.Barrier(2, timeout=30)
    real = build._rebuild_days

    def spied(*args, **kwargs):
        first = threading.get_ident() not in threads
        threads.add(threading.get_ident())
        if settings.STATISTICS_REBUILD_WORKERS == 2 and first:
            meet.wait()  # each thread's first range waits for the other's: both connections at work at once
        return real(*args, **kwargs)

    monkeypatch.setattr(build, "_rebuild_days", spied)
    settings.STATISTICS_REBUILD_WORKERS = 1
    build.rebuild_all()
    one = snapshot()
    assert len(threads) == 1 and len(one[1]) >= 8
    threads.clear()
    settings.STATISTICS_REBUILD_WORKERS = 2
    build.rebuild_all()
    assert len(threads) == 2 and snapshot() == one
    for model in (DailyFact, VisitFact, MonthlyFact, ParticipationFact):
        model.objects.all().delete()
    # Cleared again: a new worker thread may or may not reuse the last one's ident, and a thread seen before
    # does not wait at the barrier (the worker then waited 30 s for this thread, which never came: a flake).
    threads.clear()
    build.rebuild_all()
    assert len(threads) == 2 and snapshot() == one
    period = Period(today, today + 400 * DAY, "custom")
    assert_facts_equal_raw(s, period)
    assert_repeated_equal_raw(s, period)
    # Every gap (40 to 90 days, several across quarters) is within the year.
    assert figures.FIGURES["repeated"].compute(scope_for(s.admin), period, Filters()).rows[3][1] > 0
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM pg_tables WHERE tablename LIKE 'statistics_stage_%%'")
        assert cursor.fetchone() == (0,)


def test_a_second_nightly_rebuild_stops_while_one_is_at_work(s):
    """PostgreSQL: the rebuild's stage tables have fixed names, so a second full rebuild (the schedule's while
    one is run by hand, or a job delivered again) stops at once, writing nothing, and says so; the lock is
    released after a rebuild, so the next one runs."""
    from django.core.management import CommandError, call_command
    from django.db import connection, connections

    from jianchama.statistics import jobs

    if connection.vendor != "postgresql":
        pytest.skip("the advisory lock is PostgreSQL's; SQLite has one writer at a time")
    s.submitted()
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", [build.REBUILD_LOCK])
        with pytest.raises(build.RebuildRunning):
            build.rebuild_all()
        assert not DailyFact.objects.exists() and not ParticipationFact.objects.exists()
        assert jobs.rebuild_statistics() == "另一次统计全量重建正在进行，本次未执行。"
        with pytest.raises(CommandError, match="另一次统计全量重建正在进行"):
            call_command("rebuild_statistics")
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [build.REBUILD_LOCK])
    finally:
        other.close()
    assert build.rebuild_all() == 1
    assert build.rebuild_all() == 1  # released after the first
    assert DailyFact.objects.filter(field_id=0).values_list("inspections", flat=True)[::1] == [1]
