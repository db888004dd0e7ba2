"""Benchmark of the data supervision rules (F-30) at 1,000,000 and 10,000,000 inspections, in PostgreSQL.

Creates a fresh database of its own ("jc_bench_supervision_<pid>" on the server of --database-url), migrates it
and loads synthetic data with the generator behind `manage.py generate_synthetic`, with its supervision data
(`supervision=True`: plans cited by the planned tasks, scans of most codes, evaluations, complaints, field-app
acts (code shown, check-in) for a fifth of the on-site visits, and a few records in a thousand planted to break
each rule). At each size it runs every rule twice through
`run_rules("系统")`, as the monthly schedule does: the first run finds everything and inserts the findings, the
second finds the same and inserts nothing (the steady state of a monthly run: the rules read all the data,
the findings are deduplicated by key). Prints, per rule, the seconds, the hits and the new findings; the total;
the rows of each table and the conditions (machine, PostgreSQL version and settings). Never asserts on timing.
Drops the database at the end.

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


def measure(label: str) -> dict:
    from jianchama.supervision.rules import run_rules

    result = {"label": label, "runs": []}
    for attempt in ("first run (finds and inserts)", "second run (steady state, nothing new)"):
        run = run_rules("系统")
        result["runs"].append(
            {"what": attempt, "stats": run.stats, "seconds": run.seconds, "status": run.status}
        )
        print(f"\n  {label}, {attempt}: {run.seconds:.1f} s, {run.new_findings:,} new findings", flush=True)
        if run.error:
            print(f"  ERRORS: {run.error}")
    result["counts"] = table_counts()
    result["size"] = scalar("select pg_size_pretty(pg_database_size(current_database()))")
    report(result)
    return result


def report(result: dict) -> None:
    from jianchama.supervision.rules import RULES

    first, second = result["runs"]
    print(f"\n  {result['label']} — database {result['size']}")
    print(f"    {'rule':<26}{'first s':>9}{'query s':>9}{'again s':>9}{'hits':>10}{'new':>10}")
    for code in RULES:
        a, b = first["stats"].get(code, {}), second["stats"].get(code, {})
        print(
            f"    {code:<26}{a.get('seconds', 0):>9.2f}{a.get('query_seconds', 0):>9.2f}"
            f"{b.get('seconds', 0):>9.2f}{a.get('hits', 0):>10,}{a.get('new', 0):>10,}"
        )
    print(f"    {'total':<26}{first['seconds']:>9.2f}{'':>9}{second['seconds']:>9.2f}")


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
    call_command("migrate", verbosity=0)
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
        results.append(measure(f"{scalar('select count(*) from inspections_task'):,} tasks (kept database)"))
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
            results.append(measure(f"{inspections:,} inspections"))

    print("\n" + "=" * 100)
    print(f"  machine   : {os.cpu_count()} cores, {platform.machine()}, {platform.platform()}")
    print(f"  python    : {platform.python_version()}, DEBUG=0")
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
    if len(results) == 2:
        small, large = (r["runs"][1]["seconds"] for r in results)
        first_small, first_large = (r["runs"][0]["seconds"] for r in results)
        ratio = results[1]["counts"]["tasks"] / results[0]["counts"]["tasks"]
        print(
            f"\n  steady run at {results[1]['label']}: {large:.1f} s (goal < {GOAL_SECONDS:.0f} s: "
            f"{'met' if large < GOAL_SECONDS else 'NOT met'}); first run {first_large:.1f} s"
        )
        print(
            f"  growth: {large / small:.1f}x the time for {ratio:.0f}x the data (steady), "
            f"{first_large / first_small:.1f}x (first run); linear would be {ratio:.0f}x"
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
