"""The statistics at scale (issues 13 and 16): the fact tables' full rebuild, the incremental refresh after
10,000 new inspections, and every statistics page and the frequency report as the city's supervisor, a
district's supervisor and one body's administrator (median, p99 and query count). Never asserts on timing.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/jcm_stats .venv/bin/python bench/bench_stats.py
    .venv/bin/python bench/bench_stats.py --skip-rebuild --runs 15       # pages only (facts already built)
    .venv/bin/python bench/bench_stats.py --skip-rebuild --live --runs 5 # repeated, most_inspected, live views
    .venv/bin/python bench/bench_stats.py --skip-rebuild --items --runs 5 # the per-item figure, a field chosen
    .venv/bin/python bench/bench_stats.py --skip-rebuild --quarter 2026-01-01  # one nightly quarter, rolled back
    .venv/bin/python bench/bench_stats.py --skip-rebuild --refresh       # the refresh, its statements timed
    .venv/bin/python bench/bench_stats.py --skip-rebuild --figures --runs 5  # each figure live, three views

The database: a copy of one filled by `generate_synthetic`, migrated (`manage.py migrate`). The 10,000 new
inspections are copies of existing tasks (their bodies and items), submitted, dated over the next 30 days,
each with its audit event as the services write it; they are rolled back after the measurement.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))


class Rollback(Exception):
    pass


def add_inspections(count: int) -> list[int]:
    """`count` new submitted tasks copied from existing ones, dated over the next 30 days, with their bodies,
    items and audit events. Returns their ids."""
    from django.db import connection
    from django.utils import timezone

    from jianchama.core import audit
    from jianchama.inspections.models import Task

    today = timezone.localdate()
    columns = [
        f.column
        for f in Task._meta.concrete_fields
        if f.column not in ("id", "number", "status", "window_start", "window_end", "started_at")
    ]
    listed = ", ".join(columns)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO inspections_task ({listed}, number, status, window_start, window_end, started_at)
            SELECT {listed}, 'B' || id, 'submitted', %s::date + CAST(id %% 30 AS integer), %s::date + CAST(id %% 30 AS integer) + 10, NULL
            FROM inspections_task WHERE status = 'closed' ORDER BY id LIMIT %s
            RETURNING id, number
            """,
            [today, today, count],
        )
        made = cursor.fetchall()
        cursor.execute(
            """
            INSERT INTO inspections_taskbody (task_id, body_id, approved_at, approved_by_id, task_created_at,
                                              task_status)
            SELECT n.id, tb.body_id, NULL, NULL, n.created_at, n.status
            FROM inspections_task n JOIN inspections_taskbody tb ON tb.task_id = CAST(substr(n.number, 2) AS bigint)
            WHERE n.number LIKE 'B%%'
            """
        )
        cursor.execute(
            """
            INSERT INTO inspections_taskbody_items (taskbody_id, inspectionitem_id)
            SELECT ntb.id, ti.inspectionitem_id
            FROM inspections_task n
            JOIN inspections_taskbody ntb ON ntb.task_id = n.id
            JOIN inspections_taskbody otb ON otb.task_id = CAST(substr(n.number, 2) AS bigint)
                                         AND otb.body_id = ntb.body_id
            JOIN inspections_taskbody_items ti ON ti.taskbody_id = otb.id
            WHERE n.number LIKE 'B%%'
            """
        )
        # Their inspectors, the copied tasks' (the per-inspector facts explode each participation by them).
        cursor.execute(
            """
            INSERT INTO inspections_task_inspectors (task_id, inspector_id)
            SELECT n.id, ti.inspector_id
            FROM inspections_task n JOIN inspections_task_inspectors ti ON ti.task_id = CAST(substr(n.number, 2) AS bigint)
            WHERE n.number LIKE 'B%%'
            """
        )
    ids = [row[0] for row in made]
    for task in Task.objects.filter(pk__in=ids).only("pk", "number", "window_start", "status"):
        audit.record(
            actor="基准测试", action="task.submitted", obj=task, before=None, after={"status": "submitted"}
        )
    return ids


@contextlib.contextmanager
def _statements():
    """Each statement run meanwhile on the default connection: (seconds, rows, its SQL on one line)."""
    from django.db import connection

    timed = []

    def timing(execute, sql, params, many, context):
        started = time.perf_counter()
        result = execute(sql, params, many, context)
        timed.append(
            (time.perf_counter() - started, context["cursor"].cursor.rowcount, " ".join(sql.split()))
        )
        return result

    with connection.execute_wrapper(timing):
        yield timed


def _print_statements(timed: list, at_least: float) -> None:
    for spent, count, sql in timed:
        if spent >= at_least:
            print(f"    {spent:7.2f} s {count:>10,} rows  {sql[:90]}")


def bench_refresh(count: int, steps: bool = False) -> None:
    from django.db import transaction

    from jianchama.statistics import build

    try:
        with transaction.atomic():
            build.refresh()  # whatever was pending before, so the figure is the new inspections' alone
            started = time.perf_counter()
            ids = add_inspections(count)
            made = time.perf_counter() - started
            with _statements() as timed:
                done, seconds, backend = _timed(build.refresh)
            print(
                f"  incremental refresh after {len(ids):,} new inspections: {seconds:.2f} s "
                f"(PostgreSQL backend CPU {backend:.2f} s, load average {os.getloadavg()[0]:.2f}; "
                f"{done['tasks']:,} tasks changed, {done['participations']:,} participations counted, "
                f"{done['enterprises']:,} enterprises' visits rebuilt; making them took {made:.1f} s)"
            )
            if steps:
                _print_statements(timed, 0.1)
            started = time.perf_counter()
            nothing = build.refresh()
            print(
                f"  incremental refresh with nothing changed: {1000 * (time.perf_counter() - started):.0f} ms {nothing}"
            )
            raise Rollback
    except Rollback:
        pass


def bench_quarter(first: str) -> None:
    """One quarter of the nightly rebuild, both phases (build._rebuild_days, then build._rebuild_visits with
    the look-back's stage tables, whose quarters' first phase runs first, untimed), each statement of 0.2 s or
    more timed, in a transaction rolled back: on a shared database it leaves the facts as they were (and
    writes nothing at all when they are current). One connection: the nightly runs two such at once."""
    from django.db import transaction

    from jianchama.statistics import build

    lo = datetime.date.fromisoformat(first)
    since = lo - datetime.timedelta(days=build.GAP_LOOK_BACK_DAYS)
    chunks = [c for c in build._quarters(*build.data_range()) if c[1] >= since and c[0] <= lo]
    hi = next(c for c in chunks if c[0] <= lo <= c[1])[1]
    stages = {c: build.STAGE.format(f"bench_{n}") for n, c in enumerate(chunks)}

    def phase(name: str, run) -> None:
        with _statements() as timed:
            _, seconds, backend = _timed(run)
        print(
            f"  {name} {lo}..{hi}: {seconds:.1f} s (backend CPU {backend:.1f} s, "
            f"load average {os.getloadavg()[0]:.2f})"
        )
        _print_statements(timed, 0.2)

    try:
        with transaction.atomic():
            for chunk in chunks:
                if chunk[0] < lo:
                    build._rebuild_days(*chunk, stages[chunk])
            phase(
                "first phase (daily, monthly, staged visits)",
                lambda: build._rebuild_days(lo, hi, stages[(lo, hi)]),
            )
            earlier = [stages[c] for c in chunks if c[0] < lo]
            phase("second phase (visits)", lambda: build._rebuild_visits(lo, hi, stages[(lo, hi)], earlier))
            raise Rollback
    except Rollback:
        pass


def pages(today: datetime.date) -> list[tuple[str, str, dict]]:
    return [
        ("statistics, this year", "statistics:index", {}),
        ("statistics, last year", "statistics:index", {"period": "year", "year": str(today.year - 1)}),
        ("statistics, a quarter", "statistics:index", {"period": "quarter", "number": "1"}),
        (
            "statistics, a month, one field",
            "statistics:index",
            {"period": "month", "number": "3", "field": "1"},
        ),
        ("statistics, kind random", "statistics:index", {"kind": "random"}),
        ("statistics xlsx", "statistics:index", {"format": "xlsx"}),
        ("frequency report", "inspections:frequency_report", {}),
        ("frequency report xlsx", "inspections:frequency_report", {"format": "xlsx"}),
    ]


def figure_times(user, runs: int, period=None, filters=None, label: str = "this year") -> None:
    """Each figure's function alone, computed live (the page is their sum plus the render; a snapshot, where
    one serves the view, replaces all but snapshots.LIVE)."""
    from django.utils import timezone

    from jianchama.statistics import figures
    from jianchama.statistics.scope import Filters, Period, scope_for

    scope = scope_for(user)
    period = period or Period.of("year", timezone.localdate())
    filters = filters or Filters()
    parts = []
    total = 0.0
    for code in figures.PAGE_FIGURES:
        seconds, _ = _calls(runs, figures.FIGURES[code].compute, scope, period, filters)
        total += statistics.median(seconds)
        parts.append(f"{code} {1000 * statistics.median(seconds):.0f}")
    print(f"    figures, {label} (median ms; sum {1000 * total:.0f}): " + ", ".join(parts), flush=True)


def live_page_figures(runs: int) -> None:
    """Each figure of the pages `pages` opens that no snapshot serves (a quarter, a kind), as each user."""
    from bench_pages import users
    from django.utils import timezone

    from jianchama.statistics.scope import Filters, Period

    today = timezone.localdate()
    views = [
        ("this year", Period.of("year", today), Filters()),
        ("Q1", Period.of("quarter", today, number=1), Filters()),
        ("kind random", Period.of("year", today), Filters(kind="random")),
    ]
    for role, user in users():
        print(f"  as {role}")
        for label, period, filters in views:
            figure_times(user, runs, period, filters, label)


def _timed(run):
    """`run()`'s result, wall seconds and the PostgreSQL backend's CPU seconds spent meanwhile."""
    from django.db import connection

    with connection.cursor() as cursor:
        backend = _backend_cpu(cursor)
    started = time.perf_counter()
    result = run()
    seconds = time.perf_counter() - started
    with connection.cursor() as cursor:
        backend = _backend_cpu(cursor) - backend
    return result, seconds, backend


def _backend_cpu(cursor) -> float:
    """The PostgreSQL backend's CPU seconds so far (user + system, from /proc: the server is on this host)."""
    cursor.execute("SELECT pg_backend_pid()")
    (pid,) = cursor.fetchone()
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def live_views(today: datetime.date, user) -> list[tuple[str, object, object]]:
    """Views no snapshot serves: an earlier quarter, a field, a custom range, a body chosen."""
    from jianchama.inspections.models import TaskBody
    from jianchama.statistics.scope import Filters, Period, scope_for

    scope = scope_for(user)
    body = (
        TaskBody.objects.filter(body_id__in=scope.body_ids).values_list("body_id", flat=True).first()
        if (scope.level == "bodies")
        else None
    )
    if body is None:
        # One the page offers this user (a district's supervisor: its district's bodies).
        from jianchama.statistics.views import choices

        offered = choices(scope)["bodies"]
        body = offered[0].pk if offered else None
    year = Period.of("year", today)
    return [
        ("this year", year, Filters()),
        ("last year, Q2", Period.of("quarter", today, year=today.year - 1, number=2), Filters()),
        ("this year, field 1", year, Filters(field_id=1)),
        (
            "custom, last 200 days",
            Period(today - datetime.timedelta(days=199), today, "custom"),
            Filters(),
        ),
        ("this year, one body", year, Filters(body_id=body)),
    ]


def live_figures(runs: int) -> None:
    """`repeated` and `most_inspected` computed live (what a page does when no snapshot serves the view):
    median and slowest wall ms, and CPU ms per call of this process and of the PostgreSQL backend."""
    from bench_pages import users
    from django.db import connection
    from django.utils import timezone

    from jianchama.statistics import figures

    today = timezone.localdate()
    print(f"  live figures: {runs} calls each; wall median / slowest ms; CPU ms per call: python + backend")
    for role, user in users():
        print(f"  as {role}")
        for name, period, filters in live_views(today, user):
            from jianchama.statistics.scope import scope_for

            scope = scope_for(user)
            parts = []
            for code in ("repeated", "most_inspected"):
                walls = []
                with connection.cursor() as cursor:
                    backend = _backend_cpu(cursor)
                process = time.process_time()
                for _ in range(runs):
                    started = time.perf_counter()
                    figures.FIGURES[code].compute(scope, period, filters)
                    walls.append(time.perf_counter() - started)
                process = (time.process_time() - process) / runs
                with connection.cursor() as cursor:
                    backend = (_backend_cpu(cursor) - backend) / runs
                parts.append(
                    f"{code} {1000 * statistics.median(walls):.0f} / {1000 * max(walls):.0f}"
                    f" (cpu {1000 * process:.0f} + {1000 * backend:.0f})"
                )
            print(f"    {name:<24} " + "; ".join(parts), flush=True)


def _query(period, filters) -> dict:
    """The page's query string for a view of `live_views`."""
    if period.kind == "custom":
        query = {"period": "custom", "start": period.start.isoformat(), "end": period.end.isoformat()}
    else:
        query = {"period": period.kind, "year": str(period.start.year)}
        if period.kind != "year":
            months = 3 if period.kind == "quarter" else 1
            query["number"] = str((period.start.month - 1) // months + 1)
    if filters.field_id:
        query["field"] = str(filters.field_id)
    if filters.body_id:
        query["body"] = str(filters.body_id)
    return query


def deferred_views(runs: int) -> None:
    """The views no standard snapshot serves, as the city's and a district's supervisor, where the page does
    not compute them (snapshots.defers): the first open (pending: it queues the view), the queued job
    (snapshots.refresh_view_of) and the page after it (`runs` requests: median and slowest). The view's
    snapshots are deleted first, and the jobs the pages queued taken off the queue after."""
    from bench_pages import users
    from django.test import Client
    from django.urls import reverse
    from django.utils import timezone
    from django_q.models import OrmQ

    from jianchama.statistics import snapshots
    from jianchama.statistics.models import FigureSnapshot
    from jianchama.statistics.scope import scope_for

    today = timezone.localdate()
    url = reverse("statistics:index")
    queued = OrmQ.objects.order_by("-id").values_list("id", flat=True).first() or 0
    print(f"  views computed by the job queue: {runs} requests after the job; ms")
    for role, user in users():
        scope = scope_for(user)
        if not snapshots.defers(scope):
            print(f"  as {role}: computed in the request (snapshots.defers is false)")
            continue
        client = Client()
        client.force_login(user)
        print(f"  as {role}")
        for name, period, filters in live_views(today, user)[1:]:
            FigureSnapshot.objects.filter(
                scope_key=snapshots.scope_key(scope),
                filters=snapshots.filters_key(filters),
                start=period.start,
                end=period.end,
            ).delete()
            query = _query(period, filters)
            started = time.perf_counter()
            response = client.get(url, query)
            first = time.perf_counter() - started
            pending = response.content.decode().count("data-pending=")
            _, job, backend = _timed(lambda: snapshots.refresh_view_of(scope, period, filters))  # noqa: B023
            after = []
            for _ in range(runs):
                started = time.perf_counter()
                response = client.get(url, query)
                after.append(time.perf_counter() - started)
            left = response.content.decode().count("data-pending=")
            print(
                f"    {name:<24} first open {1000 * first:.0f} ({pending} pending); job {job:.1f} s "
                f"(backend CPU {backend:.1f} s); after {1000 * statistics.median(after):.0f} / "
                f"{1000 * max(after):.0f} ({left} pending)",
                flush=True,
            )
    OrmQ.objects.filter(id__gt=queued).delete()


def _calls(runs: int, call, *args) -> tuple[list[float], object]:
    """`call(*args)` made `runs` times: the wall seconds of each, and the last result."""
    walls = []
    for _ in range(runs):
        started = time.perf_counter()
        result = call(*args)
        walls.append(time.perf_counter() - started)
    return walls, result


def inspector_figures(runs: int) -> None:
    """The per-inspector figure (computed in every request: figures.by_inspector) on each view of
    `live_views` with a body chosen (a body's administrator: his own): median and slowest wall ms."""
    from bench_pages import users
    from django.utils import timezone

    from jianchama.statistics import figures, views
    from jianchama.statistics.scope import Filters, scope_for

    today = timezone.localdate()
    print(f"  per-inspector figure: {runs} calls each; wall median / slowest ms (rows shown)")
    for role, user in users():
        scope = scope_for(user)
        body = figures.one_body(scope, Filters())
        if body is None:
            offered = views.choices(scope)["bodies"]
            body = offered[0].pk if offered else None
        print(f"  as {role} (body #{body})")
        for name, period, _filters in live_views(today, user)[:4]:
            filters = Filters(body_id=body)
            walls, table = _calls(runs, figures.FIGURES["by_inspector"].compute, scope, period, filters)
            print(
                f"    {name:<24} {1000 * statistics.median(walls):.0f} / {1000 * max(walls):.0f} "
                f"({len(table.rows)} inspectors)",
                flush=True,
            )


def item_figures(runs: int) -> None:
    """The per-item figure (computed in every request: figures.by_item) on the views of `live_views` with the
    field of the most items chosen, as each user of `users` (a body's administrator: his own body's rows):
    median and slowest wall ms."""
    from bench_pages import users
    from django.db.models import Count
    from django.utils import timezone

    from jianchama.registry.models import Field
    from jianchama.statistics import figures
    from jianchama.statistics.scope import Filters, scope_for

    today = timezone.localdate()
    print(
        f"  per-item figure, the field of the most items (a body's: of its fields): {runs} calls each; wall median / slowest ms"
    )
    for role, user in users():
        scope = scope_for(user)
        fields = Field.objects.all()
        body = figures.one_body(scope, Filters())
        if body is not None:
            fields = fields.filter(bodies=body)
        field = fields.annotate(n=Count("items")).order_by("-n", "pk").first()
        print(f"  as {role}, {field.name} ({field.n} items)")
        for name, period, _filters in live_views(today, user)[:4]:
            filters = Filters(field_id=field.pk)
            walls, table = _calls(runs, figures.FIGURES["by_item"].compute, scope, period, filters)
            print(
                f"    {name:<24} {1000 * statistics.median(walls):.0f} / {1000 * max(walls):.0f} "
                f"({len(table.rows)} items, {sum(row[1] for row in table.rows):,} inspections)",
                flush=True,
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=9, help="requests per page and user (9)")
    parser.add_argument("--new", type=int, default=10_000, help="new inspections for the refresh (10,000)")
    parser.add_argument("--skip-rebuild", action="store_true", help="do not time the full rebuild")
    parser.add_argument("--only", default="", help="only pages whose name contains this")
    parser.add_argument(
        "--quarter",
        default="",
        help="only time the nightly rebuild of the quarter starting on this day (YYYY-MM-DD), rolled back",
    )
    parser.add_argument(
        "--figures",
        action="store_true",
        help="only time each figure computed live, on this year, its first quarter and kind random (no pages)",
    )
    parser.add_argument(
        "--refresh",
        action="store_true",
        help="only time the incremental refresh, each of its statements of 0.1 s or more (no pages)",
    )
    parser.add_argument(
        "--live",
        action="store_true",
        help="only time repeated and most_inspected on views no snapshot serves (no pages, no refresh)",
    )
    parser.add_argument(
        "--inspectors",
        action="store_true",
        help="only time the per-inspector figure on the views of --live with a body chosen (no refresh)",
    )
    parser.add_argument(
        "--items",
        action="store_true",
        help="only time the per-item figure on the views of --live with a field chosen (no refresh)",
    )
    parser.add_argument(
        "--deferred",
        action="store_true",
        help="only time the views the job queue computes: first open, the job, the page after (no refresh)",
    )
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jianchama.settings")
    import django

    django.setup()
    from bench_pages import measure, users
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.urls import reverse
    from django.utils import timezone

    from jianchama.statistics import build
    from jianchama.statistics.models import DailyFact, VisitFact

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    if connection.vendor != "postgresql":
        sys.exit("bench_stats: DATABASE_URL must name a PostgreSQL database filled by generate_synthetic")
    with connection.cursor() as cursor:
        cursor.execute("select count(*) from inspections_task")
        tasks = cursor.fetchone()[0]
        cursor.execute("show server_version")
        version = cursor.fetchone()[0]
        cursor.execute("select pg_size_pretty(pg_database_size(current_database()))")
        size = cursor.fetchone()[0]
        cursor.execute("show shared_buffers")
        shared_buffers = cursor.fetchone()[0]
    print("Statistics at scale (issues 13 and 16)")
    print(f"  machine  : {os.cpu_count()} cores, {platform.machine()}, load average {os.getloadavg()[0]:.2f}")
    print(f"  database : PostgreSQL {version}, {size}, shared_buffers {shared_buffers}")
    print(f"  data     : {tasks:,} tasks")
    if args.quarter:
        bench_quarter(args.quarter)
        return
    if not args.skip_rebuild:
        started = time.perf_counter()
        rows = build.rebuild_all(progress=lambda line: print(f"    {line}", flush=True))
        print(f"  full rebuild: {time.perf_counter() - started:.1f} s, {rows:,} participations")
    print(
        f"  facts    : {DailyFact.objects.count():,} DailyFact rows, {VisitFact.objects.count():,} VisitFact rows"
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE statistics_dailyfact; ANALYZE statistics_visitfact")
    if args.deferred:
        print(f"  load average {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
        deferred_views(args.runs)
        print(f"  load average {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
        return
    if args.inspectors:
        print(f"  load average {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
        inspector_figures(args.runs)
        print(f"  load average {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
        return
    if args.items:
        print(f"  load average {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
        item_figures(args.runs)
        print(f"  load average {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
        return
    if args.live:
        print(f"  load average {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
        live_figures(args.runs)
        print(f"  load average {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
        return
    if args.figures:
        live_page_figures(args.runs)
        return
    if args.refresh:
        bench_refresh(args.new, steps=True)
        return
    if args.new:
        bench_refresh(args.new)
    print(f"  pages    : Django test client in-process, {args.runs} requests each; median, p99 (the slowest")
    print("             of the runs when fewer than 100), queries of the last request")
    print()
    today = timezone.localdate()
    for role, user in users():
        client = Client()
        client.force_login(user)
        print(f"  as {role}")
        print(f"  {'page':<34} {'status':>6} {'median ms':>10} {'p99 ms':>8} {'queries':>8} {'bytes':>10}")
        for name, url_name, query in pages(today):
            if args.only and args.only not in name:
                continue
            if "frequency" in name and "body admin" in role:
                continue  # the report is for supervisors, city-level reviewers and the platform admin
            seconds, queries, status, size = measure(client, reverse(url_name), query, args.runs)
            ordered = sorted(seconds)
            p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
            print(
                f"  {name:<34} {status:>6} {1000 * statistics.median(seconds):>10.0f} "
                f"{1000 * p99:>8.0f} {queries:>8} {size:>10,}"
            )
        figure_times(user, 3)
        print()


if __name__ == "__main__":
    main()
