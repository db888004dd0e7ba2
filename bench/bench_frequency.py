"""Benchmark of the frequency check (F-21) at 100,000 and at 10,000,000 inspections, and of a random draw (F-14)
over a pool of 100,000 enterprises, in PostgreSQL.

Creates a fresh database of its own ("jc_bench_frequency_<pid>" on the server of --database-url), migrates it,
seeds the demo's frequency rules through the service, and loads synthetic data with the generator behind
`manage.py generate_synthetic`: 100,000 inspections over 10,000 enterprises with 2,200 draft tasks in the coming
month. It times `check_frequency` on 2,000 of the drafts (after a warm-up on the other 200), then grows the
database to 10,000,000 inspections over 1,000,000 enterprises (the same ten per enterprise), ANALYZEs, and
times it again on new drafts. Then a draw over the 100,000 enterprises of one town: the commitment (snapshots
and hashes), the draw computation alone, and the reveal that creates the tasks. Prints figures and the
conditions; never asserts on timing. Drops the database at the end.

    make bench-frequency
    .venv/bin/python bench/bench_frequency.py --small              # 10,000 then 200,000 inspections
    .venv/bin/python bench/bench_frequency.py --keep-database      # then --reuse-database NAME skips the load
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import math
import os
import platform
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from _db import admin_sql, scalar, server_url  # noqa: E402

GOAL_P99_MS = 5.0
GOAL_RATIO = 1.5
GOAL_DRAW_SECONDS = 2.0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--database-url",
        default=os.getenv("DATABASE_URL", "") or "postgres://postgres@127.0.0.1:5432/postgres",
        help="a PostgreSQL server to create the benchmark's database on (default: $DATABASE_URL, else "
        "postgres://postgres@127.0.0.1:5432/postgres); the database it names is only connected to",
    )
    parser.add_argument("--small", action="store_true", help="10,000 then 200,000 inspections: a quick run")
    parser.add_argument("--seed", type=int, default=1, help="the generator's seed (1)")
    parser.add_argument("--candidates", type=int, default=2000, help="draft tasks timed per size (2000)")
    parser.add_argument("--warmup", type=int, default=200, help="other drafts checked first (200)")
    parser.add_argument("--draw-count", type=int, default=1000, help="enterprises drawn (1000)")
    parser.add_argument(
        "--skip-reveal", action="store_true", help="do not reveal the draw (no task creation)"
    )
    parser.add_argument(
        "--server-side-binding",
        choices=["0", "1"],
        default="1",
        help="DATABASE_SERVER_SIDE_BINDING, as the README recommends for production (1)",
    )
    parser.add_argument(
        "--keep-database", action="store_true", help="leave the loaded database for --reuse-database"
    )
    parser.add_argument(
        "--reuse-database",
        metavar="NAME",
        help="measure on a database kept by --keep-database (migrated first, not dropped): the drafts of its "
        "last load, and a new draw",
    )
    return parser.parse_args()


# ---------------------------------------------------------------- the database


def database_size() -> str:
    return scalar("select pg_size_pretty(pg_database_size(current_database()))")


# ---------------------------------------------------------------- CPU and load


def machine_busy_seconds() -> tuple[float, float]:
    """CPU seconds the whole machine has been busy, and elapsed CPU seconds (busy + idle), from /proc/stat."""
    ticks = os.sysconf("SC_CLK_TCK")
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    idle = fields[3] + fields[4]
    return (sum(fields) - idle) / ticks, sum(fields) / ticks


def process_cpu_seconds(pid: int) -> float:
    ticks = os.sysconf("SC_CLK_TCK")
    with contextlib.suppress(OSError):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / ticks
    return 0.0


class CpuMeter:
    """This process, its PostgreSQL backend (when on this machine) and the machine as a whole."""

    def __init__(self) -> None:
        self.backend = scalar("select pg_backend_pid()")

    def snapshot(self) -> tuple[float, float, float, float]:
        busy, elapsed = machine_busy_seconds()
        return time.process_time(), process_cpu_seconds(self.backend), busy, elapsed

    @staticmethod
    def spent(before, after) -> dict[str, float]:
        python, backend, busy, elapsed = (b - a for a, b in zip(before, after, strict=True))
        return {"python": python, "backend": backend, "busy": busy, "elapsed": elapsed}


# ---------------------------------------------------------------- the data


def seed_rules() -> int:
    """The demo's frequency rules, through the service as the platform administrator saves them."""
    from jianchama.core.models import User
    from jianchama.demo.story import FREQUENCY_RULES
    from jianchama.inspections.frequency import save_rule
    from jianchama.inspections.models import Exemption, FrequencyRule

    admin = User.objects.get(username="syn-platform-admin")
    for name, scope, period, limit, action, options in FREQUENCY_RULES:
        extra = dict(options)
        exemptions = extra.pop("exemptions", list(Exemption.values))
        save_rule(
            admin,
            rule=FrequencyRule(
                name=name,
                scope=scope,
                period=period,
                limit=limit,
                action=action,
                exemptions=exemptions,
                **extra,
            ),
        )
    return FrequencyRule.objects.filter(is_active=True).count()


def load(label: str, **options) -> dict:
    from jianchama.demo import synthetic

    print(f"\n  loading {label}", flush=True)
    started = time.perf_counter()
    counts = synthetic.generate(log=lambda line: print(f"  {line}", flush=True), **options)
    return {"counts": counts, "seconds": time.perf_counter() - started}


def table_counts() -> dict[str, int]:
    tables = {
        "enterprises": "registry_enterprise",
        "tasks": "inspections_task",
        "task bodies": "inspections_taskbody",
        "task items": "inspections_task_items",
        "task inspectors": "inspections_task_inspectors",
        "records": "inspections_inspectionrecord",
        "codes": "inspections_inspectioncode",
    }
    return {label: scalar(f"select count(*) from {table}") for label, table in tables.items()}


def last_drafts(count: int) -> list:
    """The drafts of the last load (the generator writes them last)."""
    from jianchama.inspections.models import Task

    return sorted(Task.objects.filter(status="draft").order_by("-pk")[:count], key=lambda task: task.pk)


def upcoming_sample(count: int, exclude: set[int] = frozenset()) -> list:
    """Random tasks submitted, approved or told to the enterprise whose window has not begun: checks of
    enterprises that no timed check has touched yet (for a database kept from an earlier run, whose drafts
    have been checked already)."""
    from django.utils import timezone

    from jianchama.inspections.models import Task

    upcoming = Task.objects.filter(
        status__in=["submitted", "approved", "notified"],
        window_start__gt=timezone.localdate(),
        draw__isnull=True,
    ).exclude(pk__in=exclude)
    return list(upcoming.order_by("?")[:count])


# ---------------------------------------------------------------- the frequency check


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1))]


class DatabaseTimer:
    """Time spent in cursor.execute (the round trips to PostgreSQL), summed."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.seconds += time.perf_counter() - started


def timed_pass(drafts: list) -> dict:
    """Milliseconds per check (wall clock), of them waiting on the database, and this thread's CPU time (what
    the check costs when the machine is not shared); and how many checks found a breach."""
    from django.db import connection

    from jianchama.inspections.frequency import check_frequency

    wall, in_database, cpu, breaching = [], [], [], 0
    timer = DatabaseTimer()
    with connection.execute_wrapper(timer):
        for task in drafts:
            before = timer.seconds
            started, started_cpu = time.perf_counter(), time.thread_time()
            result = check_frequency(task)
            cpu.append((time.thread_time() - started_cpu) * 1000)
            wall.append((time.perf_counter() - started) * 1000)
            in_database.append((timer.seconds - before) * 1000)
            breaching += bool(result.breaches or result.exempted)
    return {"wall": wall, "db": in_database, "cpu": cpu, "breaching": breaching}


def measure(label: str, drafts: list, warmup: list) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from jianchama.inspections.frequency import check_frequency

    print(f"\n  timing check_frequency on {len(drafts):,} candidates ({label})", flush=True)
    for task in warmup:
        check_frequency(task)
    meter = CpuMeter()
    load_before = os.getloadavg()
    before = meter.snapshot()
    first = timed_pass(drafts)
    cpu = meter.spent(before, meter.snapshot())
    second = timed_pass(drafts)
    load_after = os.getloadavg()
    sample = drafts[:100]
    with CaptureQueriesContext(connection) as captured:
        for task in sample:
            check_frequency(task)
    slowest = drafts[max(range(len(drafts)), key=first["wall"].__getitem__)]
    profile = io_profile(upcoming_sample(200, exclude={task.pk for task in drafts + warmup}))
    return {
        "io": profile,
        "label": label,
        "first": first,
        "second": second,
        "queries": len(captured) / len(sample),
        "cpu": cpu,
        "load": (load_before[0], load_after[0]),
        "slowest": slowest,
    }


def explain(task) -> list[str]:
    """EXPLAIN (ANALYZE, BUFFERS) of the check's query of the enterprise's tasks, for one task."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from jianchama.inspections.frequency import check_frequency

    with CaptureQueriesContext(connection) as captured:
        check_frequency(task)
    fetch = [q["sql"] for q in captured if "inspections_taskbody" in q["sql"]]
    if not fetch:
        return ["(no query of the enterprise's tasks was captured)"]
    with connection.cursor() as cursor:
        cursor.execute(f"explain (analyze, buffers) {fetch[0]}")
        return [row[0] for row in cursor.fetchall()]


class ExplainFetch:
    """Runs EXPLAIN (ANALYZE, BUFFERS) of the check's query of the enterprise's tasks just before the query
    itself, so that it sees the pages as the check would (the query then runs on what EXPLAIN read)."""

    def __init__(self) -> None:
        self.plans: list[dict] = []

    def __call__(self, execute, sql, params, many, context):
        import json

        from django.db import connection

        if "inspections_taskbody" in sql and not many:
            composed = connection.ops.compose_sql(sql, params)
            with connection.connection.cursor() as cursor:  # psycopg's own: not through this wrapper
                cursor.execute(f"explain (analyze, buffers, format json) {composed}")
                plan = cursor.fetchone()[0]
            self.plans.append(plan[0] if isinstance(plan, list) else json.loads(plan)[0])
        return execute(sql, params, many, context)


def io_profile(tasks: list) -> dict:
    """Pages the check's task query finds in PostgreSQL's shared buffers and those it must read (from the OS
    page cache or the disk), with the time spent reading (track_io_timing), for checks of enterprises that no
    other check has touched."""
    from django.db import DatabaseError, connection, transaction

    from jianchama.inspections.frequency import check_frequency

    timing = True
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("set track_io_timing = on")
    except DatabaseError:
        timing = False
    explain = ExplainFetch()
    with connection.execute_wrapper(explain):
        for task in tasks:
            check_frequency(task)
    plans = explain.plans
    if not plans:
        return {}

    def of(key: str) -> list[float]:
        return [float(plan["Plan"].get(key, 0.0)) for plan in plans]

    return {
        "checks": len(plans),
        "timing": timing,
        "hit": of("Shared Hit Blocks"),
        "read": of("Shared Read Blocks"),
        "io": of("I/O Read Time"),
        "execution": [plan["Execution Time"] for plan in plans],
        "planning": [plan["Planning Time"] for plan in plans],
        "rows": of("Actual Rows"),
    }


def report_io(profile: dict) -> None:
    if not profile:
        return

    def figures(values: list[float], digits: int) -> str:
        return (
            f"mean {sum(values) / len(values):.{digits}f}, p50 {percentile(values, 0.5):.{digits}f}, "
            f"p99 {percentile(values, 0.99):.{digits}f}"
        )

    print(
        f"    the task query of {profile['checks']} other first checks (EXPLAIN ANALYZE, BUFFERS"
        f"{', track_io_timing' if profile['timing'] else ''}):"
    )
    print(f"      rows              {figures(profile['rows'], 0)}")
    print(f"      pages in buffers  {figures(profile['hit'], 0)}")
    print(f"      pages read        {figures(profile['read'], 0)}")
    if profile["timing"]:
        print(f"      reading, ms       {figures(profile['io'], 2)}")
    print(f"      execution, ms     {figures(profile['execution'], 2)}")
    print(
        f"      planning, ms      {figures(profile['planning'], 2)}  (EXPLAIN plans anew; the check's prepared statement does not)"
    )


def report(result: dict) -> None:
    def line(name: str, figures: dict) -> None:
        wall, db, cpu = figures["wall"], figures["db"], figures["cpu"]
        print(
            f"    {name:<26} {percentile(wall, 0.5):>7.2f} {percentile(wall, 0.9):>7.2f} "
            f"{percentile(wall, 0.99):>7.2f} {max(wall):>7.2f}   {percentile(db, 0.5):>6.2f} "
            f"{percentile(db, 0.99):>6.2f}   {percentile(cpu, 0.5):>6.2f} {percentile(cpu, 0.99):>6.2f}"
        )

    n = len(result["first"]["wall"])
    cpu = result["cpu"]
    print(
        f"\n  check_frequency, {result['label']}: {n:,} candidates, {result['queries']:.1f} queries per check"
    )
    print(
        f"    {'ms per check':<26} {'p50':>7} {'p90':>7} {'p99':>7} {'max':>7}   {'db p50':>6} {'db p99':>6}"
        f"   {'cpu p50':>6} {'cpu p99':>6}"
    )
    line("first check of each", result["first"])
    line("same ones again", result["second"])
    print(
        "    (wall clock; db: of it waiting on PostgreSQL's answers; cpu: this thread's CPU time, Python only)"
    )
    print(
        f"    {result['first']['breaching']:,} of {n:,} checks found a rule broken; CPU per check in the first pass: "
        f"Python {1000 * cpu['python'] / n:.2f} ms, PostgreSQL backend {1000 * cpu['backend'] / n:.2f} ms; "
        f"machine busy {cpu['busy'] / cpu['elapsed']:.0%} (others' work "
        f"{max(cpu['busy'] - cpu['python'] - cpu['backend'], 0) / cpu['elapsed']:.0%}); "
        f"load average {result['load'][0]:.2f} → {result['load'][1]:.2f}"
    )
    report_io(result.get("io", {}))


# ---------------------------------------------------------------- the draw


def draw_benchmark(args: argparse.Namespace, town_index: int = 0) -> dict:
    from django.utils import timezone

    from jianchama.core.errors import DomainError
    from jianchama.core.models import User
    from jianchama.core.roles import Role
    from jianchama.demo.synthetic import DISTRICTS
    from jianchama.inspections.models import FrequencyRule, Task
    from jianchama.plans import draws
    from jianchama.plans.models import Plan
    from jianchama.plans.services import plan_pool
    from jianchama.registry.models import EnforcementBody, Region

    district_code, _name, towns = DISTRICTS[0]
    town = Region.objects.get(code=towns[town_index][0])
    body = (
        EnforcementBody.objects.filter(code__startswith="SYN-B", level="district", region__code=district_code)
        .order_by("code")
        .first()
    )
    admin = User.objects.get(body=body, role=Role.BODY_ADMIN)
    today = timezone.localdate()
    plan = Plan.objects.create(
        number=f"SYN-PLAN-{os.getpid()}-{int(time.time())}",
        body=body,
        title=f"{today.year}年{town.name}双随机抽查计划（合成数据）",
        period_start=today,
        period_end=today + datetime.timedelta(days=120),
        method=Plan.Method.RANDOM,
        expected_count=args.draw_count,
        status=Plan.Status.FILED,
        created_by=admin,
        filed_at=timezone.now(),
    )
    plan.items.set(body.items.all())
    plan.target_regions.set([town])
    pool = plan_pool(plan).count()
    strata = {"A": "0.3", "B": "0.5", "C": "0.1", "D": "0.1"}
    count = min(args.draw_count, pool // 20)
    print(
        f"\n  drawing {count:,} of the {pool:,} enterprises of {town.name} for {body.name} "
        f"(strata by risk grade {strata}, {body.inspectors.count()} inspectors)",
        flush=True,
    )
    result = {"pool": pool, "count": count, "body": body.name}
    started = time.perf_counter()
    draw = draws.commit_draw(admin, plan=plan, enterprise_count=count, strata=strata)
    result["commit"] = time.perf_counter() - started
    record = draws.record_of(draw)
    started = time.perf_counter()
    drawn = draws.run_draw(record)
    result["compute"] = time.perf_counter() - started
    result["drawn"] = len(drawn)
    if args.skip_reveal:
        return result
    start = today + datetime.timedelta(days=7)
    end = start + datetime.timedelta(days=14)
    tasks_before = Task.objects.count()
    started = time.perf_counter()
    try:
        draws.reveal_draw(admin, draw=draw, window_start=start, window_end=end)
        result["reveal"] = time.perf_counter() - started
        result["reveal_rules"] = "with the frequency rules in force"
    except DomainError as error:
        result["refused"] = (time.perf_counter() - started, error.message)
        # The same reveal with the rules switched off, for the time it takes to create the tasks.
        active = list(FrequencyRule.objects.filter(is_active=True).values_list("pk", flat=True))
        FrequencyRule.objects.filter(pk__in=active).update(is_active=False)
        try:
            started = time.perf_counter()
            draws.reveal_draw(admin, draw=draw, window_start=start, window_end=end)
            result["reveal"] = time.perf_counter() - started
            result["reveal_rules"] = "with the frequency rules switched off"
        finally:
            FrequencyRule.objects.filter(pk__in=active).update(is_active=True)
    result["tasks"] = Task.objects.count() - tasks_before
    return result


def report_draw(result: dict) -> None:
    total = result["commit"] + result["compute"]
    print(f"\n  random draw over a pool of {result['pool']:,} enterprises ({result['count']:,} drawn):")
    print(f"    commit (pool and inspector snapshots, hashes, stored)   {result['commit']:8.2f} s")
    print(f"    draw computation (run_draw, no database)                {result['compute']:8.3f} s")
    print(
        f"    commit + computation                                    {total:8.2f} s  "
        f"(goal < {GOAL_DRAW_SECONDS:.0f} s: {'met' if total < GOAL_DRAW_SECONDS else 'NOT met'})"
    )
    if "refused" in result:
        seconds, message = result["refused"]
        print(f"    reveal with the frequency rules in force: refused after {seconds:.1f} s:")
        print(f"      {message[:400]}")
    if "reveal" in result:
        per_task = 1000 * result["reveal"] / max(result["tasks"], 1)
        print(
            f"    reveal {result['reveal_rules']}: {result['reveal']:.1f} s for {result['tasks']:,} tasks "
            f"created and submitted ({per_task:.0f} ms per task)"
        )


# ---------------------------------------------------------------- main


def main() -> None:
    args = parse_args()
    if not args.database_url.startswith(("postgres://", "postgresql://")):
        sys.exit("--database-url: a PostgreSQL URL, e.g. postgres://postgres@127.0.0.1:5432/postgres")
    name = args.reuse_database or f"jc_bench_frequency_{os.getpid()}"
    os.environ.update(
        {
            "DATABASE_URL": server_url(args.database_url, name),
            "DEBUG": "0",
            "SECRET_KEY": "bench-only-not-secret-" + os.urandom(8).hex(),
            "DATABASE_SERVER_SIDE_BINDING": args.server_side_binding,
            "LOG_LEVEL": "WARNING",
        }
    )
    os.environ["DJANGO_SETTINGS_MODULE"] = "jianchama.settings"
    if not args.reuse_database:
        admin_sql(args.database_url, f"create database {name}")
    try:
        import django

        django.setup()
        run(args)
    finally:
        from django.db import connections

        connections.close_all()
        if args.keep_database or args.reuse_database:
            print(f"\n  kept the database {name}: drop database {name} when done with it")
        else:
            admin_sql(args.database_url, f"drop database if exists {name} with (force)")


def code_version() -> str:
    """The commit measured, and whether the check's module differs from it (it may be edited meanwhile)."""
    import hashlib
    import subprocess

    module = ROOT / "src" / "jianchama" / "inspections" / "frequency.py"
    digest = hashlib.sha256(module.read_bytes()).hexdigest()[:12]
    try:
        head = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        changed = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--", str(module)],
            capture_output=True,
            text=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return f"frequency.py sha256 {digest}"
    return f"commit {head}, frequency.py {'changed since' if changed else 'as committed'} (sha256 {digest})"


def run(args: argparse.Namespace) -> None:
    from django.core.management import call_command
    from django.db import connection

    sizes = (
        [(1_000, 10_000), (20_000, 200_000)] if args.small else [(10_000, 100_000), (1_000_000, 10_000_000)]
    )
    drafts = args.candidates + args.warmup
    version = code_version()
    print("Frequency check and random draw benchmark (F-21, F-14)", flush=True)
    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    migrate_seconds = time.perf_counter() - started
    conditions = {
        "version": scalar("show server_version"),
        "settings": {
            key: scalar(f"show {key}")
            for key in ("shared_buffers", "work_mem", "effective_cache_size", "random_page_cost", "jit")
        },
    }
    results, loads = [], []
    if args.reuse_database:
        candidates = upcoming_sample(drafts)
        counts = table_counts()
        label = f"{counts['tasks']:,} tasks (kept database, upcoming tasks as candidates)"
        result = measure(label, candidates[args.warmup :], candidates[: args.warmup])
        result["counts"], result["size"] = counts, database_size()
        result["explain"] = explain(result["slowest"])
        results.append(result)
        report(result)
    else:
        rules = None
        done_enterprises = done_inspections = 0
        for enterprises, inspections in sizes:
            loaded = load(
                f"{inspections - done_inspections:,} inspections over {enterprises - done_enterprises:,} "
                f"enterprises (to {inspections:,})",
                enterprises=enterprises - done_enterprises,
                inspections=inspections - done_inspections,
                drafts=drafts,
                seed=args.seed,
                append=bool(done_enterprises),
            )
            loads.append(loaded)
            done_enterprises, done_inspections = enterprises, inspections
            if rules is None:
                rules = seed_rules()
                print(f"  {rules} frequency rules in force (the demo's)")
            candidates = last_drafts(drafts)
            label = f"{inspections:,} inspections"
            result = measure(label, candidates[args.warmup :], candidates[: args.warmup])
            result["counts"], result["size"] = table_counts(), database_size()
            result["explain"] = explain(result["slowest"])
            results.append(result)
            report(result)
    draw = None
    try:
        draw = draw_benchmark(args)
    except Exception:  # the frequency figures stand on their own; say what went wrong with the draw
        print("\n  the draw failed:")
        traceback.print_exc(file=sys.stdout)

    print("\n" + "=" * 100)
    print(f"  machine   : {os.cpu_count()} cores, {platform.machine()}, {platform.platform()}")
    print(f"  python    : {platform.python_version()} ({platform.python_implementation()}), DEBUG=0")
    print(f"  code      : {version}")
    print(
        f"  database  : PostgreSQL {conditions['version']} on {connection.settings_dict['HOST']}, "
        + ", ".join(f"{k} {v}" for k, v in conditions["settings"].items())
        + f"; DATABASE_SERVER_SIDE_BINDING={args.server_side_binding}; migrated in {migrate_seconds:.1f} s"
    )
    for loaded in loads:
        rows = ", ".join(f"{label} {n:,}" for label, n in loaded["counts"].items())
        print(f"  loaded    : {rows} in {loaded['seconds']:.0f} s")
    for result in results:
        rows = ", ".join(f"{label} {n:,}" for label, n in result["counts"].items())
        print(f"  at {result['label']}: {rows}; database {result['size']}")
    for result in results:
        report(result)
        if result.get("explain"):
            print(
                f"\n    EXPLAIN (ANALYZE, BUFFERS) of the slowest first check's task query, at {result['label']}:"
            )
            for row in result["explain"]:
                print(f"      {row}")
    if len(results) == 2:
        small, large = (percentile(r["first"]["wall"], 0.99) for r in results)
        hot_small, hot_large = (percentile(r["second"]["wall"], 0.99) for r in results)
        print(
            f"\n  p99 at {results[1]['label']}: {large:.2f} ms first check, {hot_large:.2f} ms again "
            f"(goal < {GOAL_P99_MS:.0f} ms: {'met' if large < GOAL_P99_MS else 'NOT met'})"
        )
        print(
            f"  p99({results[1]['label']}) / p99({results[0]['label']}): {large / small:.2f} first check, "
            f"{hot_large / hot_small:.2f} again (goal < {GOAL_RATIO}: "
            f"{'met' if large / small < GOAL_RATIO else 'NOT met'})"
        )
    if draw is not None:
        report_draw(draw)


if __name__ == "__main__":
    main()
