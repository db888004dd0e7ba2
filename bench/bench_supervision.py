"""Benchmark of the data supervision rules (F-30) at 1,000,000 and 10,000,000 inspections, in PostgreSQL.

Creates a fresh database of its own ("jc_bench_supervision_<pid>" on the server of --database-url), migrates it
and loads synthetic data with the generator behind `manage.py generate_synthetic`, with its supervision data
(`supervision=True`: plans cited by the planned tasks, scans of most codes, evaluations, complaints, field-app
acts (code shown, check-in) for a fifth of the on-site visits, and a few records in a thousand planted to break
each rule). At each size, through `run_rules("系统")` as the schedules
do: a full run that finds everything and inserts the findings; a full run again (steady state, nothing new)
with the caches warm; the same with the operating system's page cache dropped first (as root; PostgreSQL's
own shared_buffers cannot be emptied without a restart, which the benchmark does not do); then a day's
changes (--day-changes tasks changed as the services change them: the row and an audit event each, one in
ten losing an inspector so that it breaks a rule) and an incremental run, cold; and last a full run, whose
new findings must be 0 (what the incremental run missed). Prints, per rule, the seconds of each run and the
hits; the total; the rows of each table and the conditions (machine, load average, RAM, PostgreSQL version
and settings). Never asserts on timing. Drops the database at the end.

    make bench-supervision
    .venv/bin/python bench/bench_supervision.py --small           # 20,000 then 200,000 inspections
    .venv/bin/python bench/bench_supervision.py --only-first      # 1,000,000 only
    .venv/bin/python bench/bench_supervision.py --keep-database   # then --reuse-database NAME skips the load
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from _db import admin_sql, scalar, server_url  # noqa: E402

GOAL_SECONDS = 60.0


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
    parser.add_argument("--small", action="store_true", help="20,000 then 200,000 inspections: a quick run")
    parser.add_argument("--only-first", action="store_true", help="the first size only (1,000,000)")
    parser.add_argument("--seed", type=int, default=1, help="the generator's seed (1)")
    parser.add_argument(
        "--keep-database", action="store_true", help="leave the database for --reuse-database"
    )
    parser.add_argument(
        "--reuse-database", metavar="NAME", help="measure on a database kept by --keep-database"
    )
    parser.add_argument(
        "--skip-warm", action="store_true", help="leave out the warm steady run (at 10,000,000: time)"
    )
    parser.add_argument(
        "--skip-cold", action="store_true", help="leave out the cold full runs (at 10,000,000: time)"
    )
    parser.add_argument(
        "--full-only",
        action="store_true",
        help="full runs only (first, warm, cold): no day of changes, no incremental run, nothing written but "
        "findings and the runs' records (for a shared database, with --reuse-database)",
    )
    parser.add_argument(
        "--compare",
        action="store_true",
        help="also the full runs without the one pass (SUPERVISION_ONE_PASS off: each rule scans on its own)",
    )
    parser.add_argument(
        "--serial",
        action="store_true",
        help="no parallel workers (max_parallel_workers_per_gather 0 for the session): the CPU figures are then "
        "the whole of PostgreSQL's work (a parallel worker's CPU is not counted)",
    )
    parser.add_argument(
        "--rule-workers",
        type=int,
        default=None,
        help="database connections a full run's rules use at once (SUPERVISION_RULE_WORKERS; default: the "
        "setting's, 2); the CPU figures add up every connection's backend",
    )
    parser.add_argument(
        "--day-changes",
        type=int,
        default=3000,
        help="tasks changed between the full and the incremental run (3,000: about a day of a city making "
        "700,000 codes a year, each task written on several days)",
    )
    return parser.parse_args()


TABLES = {
    "tasks": "inspections_task",
    "task bodies": "inspections_taskbody",
    "task body items": "inspections_taskbody_items",
    "task inspectors": "inspections_task_inspectors",
    "codes": "inspections_inspectioncode",
    "scans": "inspections_scan",
    "evaluations": "inspections_evaluation",
    "complaints": "complaints_complaint",
    "field acts": "inspections_fieldact",
    "plans": "plans_plan",
    "findings": "supervision_finding",
}


def table_counts() -> dict[str, int]:
    return {label: scalar(f"select count(*) from {table}") for label, table in TABLES.items()}


def load(label: str, **options) -> float:
    from jianchama.demo import synthetic

    print(f"\n  loading {label}", flush=True)
    started = time.perf_counter()
    synthetic.generate(log=lambda line: print(f"  {line}", flush=True), supervision=True, **options)
    return time.perf_counter() - started


def drop_caches() -> str:
    """Empty the operating system's page cache (root only); says what was done."""
    os.sync()
    try:
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
    except OSError as error:
        return f"page cache NOT dropped ({error.strerror})"
    return "page cache dropped"


def load_average() -> str:
    return " ".join(f"{value:.1f}" for value in os.getloadavg())


def day_of_changes(count: int) -> dict:
    """`count` visits changed as the services change tasks: each row written and an audit event recorded
    on the task; one in ten on-site visits loses an inspector (so it breaks too_few_inspectors)."""
    from django.db import connection, transaction

    from jianchama.core import audit

    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            "select id, mode from inspections_task tablesample system (1) repeatable (7) "
            "where status in ('in_progress', 'result_recorded', 'closed') limit %s",
            [count],
        )
        rows = cursor.fetchall()
    broken = [pk for index, (pk, mode) in enumerate(rows) if mode == "on_site" and index % 10 == 0]
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                "delete from inspections_task_inspectors where id in (select min(id) from "
                "inspections_task_inspectors where task_id = any(%s) group by task_id)",
                [broken],
            )
        for pk, _ in rows:
            audit.record(
                actor="基准测试",
                action="task.update",
                object_type="inspections.Task",
                object_id=str(pk),
                object_repr=f"任务#{pk}",
            )
    return {"tasks": len(rows), "broken": len(broken), "seconds": time.perf_counter() - started}


RULE_WORKERS: list[int | None] = [None]  # --rule-workers
RUNS = ("first", "warm", "cold", "incremental", "after", "warm per rule", "cold per rule")


def backend_cpu(connection) -> float:
    """CPU seconds so far of `connection`'s PostgreSQL backend (read from /proc: the server on this machine;
    nan otherwise)."""
    with connection.cursor() as cursor:
        cursor.execute("select pg_backend_pid()")
        pid = cursor.fetchone()[0]
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        return float("nan")


# The CPU of the backends of the rules' other connections (threads: SUPERVISION_RULE_WORKERS), each added as
# its thread ends; a connection is opened by its thread, so the whole of its backend's CPU is the run's.
WORKER_CPU = [0.0]


def add_worker_cpu(connection) -> None:
    WORKER_CPU[0] += backend_cpu(connection)


def cpu_seconds() -> tuple[float, float]:
    """CPU seconds so far of this process and of the PostgreSQL backends of its run's connections. A parallel
    worker's CPU is not the backend's (--serial)."""
    from django.db import connection

    return time.process_time(), backend_cpu(connection) + WORKER_CPU[0]


def measure(
    label: str,
    day_changes: int,
    skip_warm: bool = False,
    full_only: bool = False,
    compare: bool = False,
    skip_cold: bool = False,
) -> dict:
    from django.test.utils import override_settings

    from jianchama.supervision import rules
    from jianchama.supervision.rules import run_rules

    rules.on_worker_done = add_worker_cpu
    workers = {} if RULE_WORKERS[0] is None else {"SUPERVISION_RULE_WORKERS": RULE_WORKERS[0]}

    result = {"label": label, "runs": {}, "loads": {}}
    steps = [
        ("first", "first run (finds and inserts)", False, False),
        ("warm", "steady full run, caches warm", False, False),
        ("cold", "steady full run, cold", True, False),
    ]
    if compare:
        steps += [
            ("warm per rule", "steady full run without the one pass, caches warm", False, False),
            ("cold per rule", "steady full run without the one pass, cold", True, False),
        ]
    if not full_only:
        steps += [
            ("changes", "", False, False),
            ("incremental", "incremental run after a day's changes, cold", True, True),
            (
                "after",
                "full run after the incremental (its new findings: what the incremental missed)",
                False,
                False,
            ),
        ]
    for key, what, cold, incremental in steps:
        if (key == "warm" and skip_warm) or (cold and not incremental and skip_cold):
            continue
        if key == "changes":
            result["changes"] = changes = day_of_changes(day_changes)
            print(
                f"\n  {label}: changed {changes['tasks']:,} tasks ({changes['broken']:,} losing an inspector) "
                f"in {changes['seconds']:.1f} s",
                flush=True,
            )
            continue
        cache = drop_caches() if cold else "caches as left by the previous run"
        result["loads"][key] = load_average()
        process, backend = cpu_seconds()
        with override_settings(SUPERVISION_ONE_PASS="per rule" not in key, **workers):
            run = run_rules("系统", incremental=incremental)
        process_after, backend_after = cpu_seconds()
        result["runs"][key] = {
            "what": what,
            "stats": run.stats,
            "seconds": run.seconds,
            "new": run.new_findings,
            "cpu": (process_after - process, backend_after - backend),
        }
        print(
            f"\n  {label}, {what}: {run.seconds:.1f} s, {run.new_findings:,} new findings ({cache}; load "
            f"average before {result['loads'][key]}); CPU {process_after - process:.1f} s this process + "
            f"{backend_after - backend:.1f} s its PostgreSQL backend",
            flush=True,
        )
        if run.error:
            print(f"  ERRORS: {run.error}")
    result["counts"] = table_counts()
    result["size"] = scalar("select pg_size_pretty(pg_database_size(current_database()))")
    report(result)
    return result


def report(result: dict) -> None:
    from jianchama.supervision.rules import RULES

    runs = result["runs"]
    keys = [key for key in RUNS if key in runs]
    print(f"\n  {result['label']} — database {result['size']}")
    print(
        "    " + f"{'rule':<28}" + "".join(f"{key + ' s':>14}" for key in keys) + f"{'hits':>10}{'scope':>14}"
    )
    for code in RULES:
        figures = [runs[key]["stats"].get(code, {}) for key in keys]
        incremental = runs.get("incremental", {"stats": {}})["stats"].get(code, {})
        scope = (
            f"{incremental.get('tasks', 0):,} tasks" if incremental.get("scope") == "incremental" else "full"
        )
        print(
            f"    {code:<28}"
            + "".join(f"{f.get('seconds', 0):>14.2f}" for f in figures)
            + f"{figures[0].get('hits', 0):>10,}{scope:>14}"
        )
    print(
        "    "
        + f"{'(the one pass)':<28}"
        + "".join(
            f"{sum(f.get('one_pass_seconds', 0) for f in runs[key]['stats'].values()):>14.2f}" for key in keys
        )
    )
    print("    " + f"{'total':<28}" + "".join(f"{runs[key]['seconds']:>14.2f}" for key in keys))
    print("    " + f"{'CPU s, this process':<28}" + "".join(f"{runs[key]['cpu'][0]:>14.1f}" for key in keys))
    print(
        "    "
        + f"{'CPU s, PostgreSQL backend':<28}"
        + "".join(f"{runs[key]['cpu'][1]:>14.1f}" for key in keys)
    )
    print("    " + f"{'new findings':<28}" + "".join(f"{runs[key]['new']:>14,}" for key in keys))
    print(
        "    "
        + f"{'load average (1 min) before':<28}"
        + "".join(f"{result['loads'][key].split()[0]:>14}" for key in keys)
    )


def run(args: argparse.Namespace) -> None:
    from django.core.management import call_command
    from django.db import connection

    sizes = (
        [(2_000, 20_000), (20_000, 200_000)]
        if args.small
        else [(100_000, 1_000_000), (1_000_000, 10_000_000)]
    )
    if args.only_first:
        sizes = sizes[:1]
    print("Data supervision rules benchmark (F-30)", flush=True)
    if not args.reuse_database:
        call_command("migrate", verbosity=0)  # a kept database is not migrated (a shared one must not be)
    RULE_WORKERS[0] = args.rule_workers
    if args.serial:
        # every connection of the run, its worker threads' too
        os.environ["PGOPTIONS"] = (
            f"{os.environ.get('PGOPTIONS', '')} -c max_parallel_workers_per_gather=0".strip()
        )
        with connection.cursor() as cursor:
            cursor.execute("set max_parallel_workers_per_gather = 0")
    conditions = {
        "version": scalar("show server_version"),
        "settings": {
            key: scalar(f"show {key}")
            for key in (
                "shared_buffers",
                "work_mem",
                "max_parallel_workers_per_gather",
                "effective_cache_size",
                "jit",
            )
        },
    }
    results, loads = [], []
    if args.reuse_database:
        results.append(
            measure(
                f"{scalar('select count(*) from inspections_task'):,} tasks (kept database)",
                args.day_changes,
                args.skip_warm,
                args.full_only,
                args.compare,
                args.skip_cold,
            )
        )
    else:
        done_e = done_i = 0
        for enterprises, inspections in sizes:
            seconds = load(
                f"{inspections - done_i:,} inspections over {enterprises - done_e:,} enterprises (to {inspections:,})",
                enterprises=enterprises - done_e,
                inspections=inspections - done_i,
                seed=args.seed,
                append=bool(done_e),
            )
            loads.append((inspections, seconds))
            done_e, done_i = enterprises, inspections
            results.append(
                measure(
                    f"{inspections:,} inspections",
                    args.day_changes,
                    args.skip_warm,
                    args.full_only,
                    args.compare,
                    args.skip_cold,
                )
            )

    print("\n" + "=" * 100)
    print(f"  machine   : {os.cpu_count()} cores, {platform.machine()}, {platform.platform()}")
    print(f"  python    : {platform.python_version()}, DEBUG=0")
    memory = Path("/proc/meminfo").read_text().splitlines()[0] if Path("/proc/meminfo").exists() else "?"
    print(f"  memory    : {memory}; load average at the end {load_average()}")
    print(
        f"  database  : PostgreSQL {conditions['version']} on {connection.settings_dict['HOST']}, "
        + ", ".join(f"{k} {v}" for k, v in conditions["settings"].items())
    )
    for inspections, seconds in loads:
        print(f"  loaded    : to {inspections:,} inspections in {seconds:.0f} s")
    for result in results:
        rows = ", ".join(f"{label} {n:,}" for label, n in result["counts"].items())
        print(f"  at {result['label']}: {rows}; database {result['size']}")
    for result in results:
        report(result)
    for result in results:
        if "incremental" not in result["runs"]:
            print(
                f"\n  {result['label']}: "
                + ", ".join(f"{key} {run['seconds']:.1f} s" for key, run in result["runs"].items())
            )
            continue
        cold = result["runs"]["cold"]["seconds"]
        warm = result["runs"].get("warm", {}).get("seconds", float("nan"))
        goal = ""
        if result["counts"]["tasks"] >= 10_000_000:
            goal = f" (goal < {GOAL_SECONDS:.0f} s cold: {'met' if cold < GOAL_SECONDS else 'NOT met'})"
        print(
            f"\n  {result['label']}: full run cold {cold:.1f} s, warm {warm:.1f} s{goal}; incremental after "
            f"{result['changes']['tasks']:,} changed tasks {result['runs']['incremental']['seconds']:.1f} s; "
            f"the full run after it found {result['runs']['after']['new']:,} new (0: the incremental missed none)"
        )
    if len(results) == 2:
        small, large = (r["runs"]["cold"]["seconds"] for r in results)
        ratio = results[1]["counts"]["tasks"] / results[0]["counts"]["tasks"]
        print(
            f"  growth: {large / small:.1f}x the time (cold) for {ratio:.0f}x the data; linear would be {ratio:.0f}x"
        )


def main() -> None:
    args = parse_args()
    if not args.database_url.startswith(("postgres://", "postgresql://")):
        sys.exit("--database-url: a PostgreSQL URL, e.g. postgres://postgres@127.0.0.1:5432/postgres")
    name = args.reuse_database or f"jc_bench_supervision_{os.getpid()}"
    os.environ.update(
        {
            "DATABASE_URL": server_url(args.database_url, name),
            "DEBUG": "0",
            "SECRET_KEY": "bench-only-not-secret-" + os.urandom(8).hex(),
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


if __name__ == "__main__":
    main()
