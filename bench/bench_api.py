"""Benchmark of the integration API (F-29) on PostgreSQL: task creation + submission throughput through the API
from concurrent callers, and the latency of task list pages walked by cursor at every depth.

Creates a fresh database of its own ("jc_bench_api_<pid>" on the server of --database-url), migrates it, and
either builds one body with its inspectors, items, a filed plan and --enterprises enterprises through the
factories, or (--preload N) loads N synthetic inspections over N/4 enterprises with the generator behind
`manage.py generate_synthetic` and takes one of its district bodies, with --enterprises of its enterprises that
it has not inspected this year. Either way it seeds the demo's frequency rules (as the platform administrator
saves them), files a plan for the body and registers an API client, then:
  1. create + submit --tasks tasks through /api/v1/ over --connections connections: --processes worker
     processes (as gunicorn's workers) of --connections/--processes threads each, every thread with its own
     database connection (CONN_MAX_AGE) and test client. Each task is POST /tasks with an Idempotency-Key,
     then POST /tasks/{number}/submit with a justification (the frequency check runs on every submission and
     may ask for one), each writing its audit event;
  2. walks GET /api/v1/tasks?limit=50 by cursor for --pages pages from the first, then times a page at each
     quarter of the client's tasks down to the oldest.
Requests go through Django's WSGI handler in-process (django.test.Client), not over a socket: the figures are
the application's and the database's, without a web server. It prints the CPU spent per task by the worker
processes and by the PostgreSQL backends serving them, how busy the machine was (other work included), and
how long each transaction held the audit chain's lock (core/audit.py: every audited transaction appends to one
hash chain, one at a time, from its event to its commit). It never asserts on timing and drops its database
at the end unless --keep-database.

    make bench-api                                                   # 1,000,000 tasks preloaded, 3,000 created
    .venv/bin/python bench/bench_api.py --preload 0 --tasks 400      # a quick run on an empty database
    .venv/bin/python bench/bench_api.py --preload 0 --tasks 40 --profile 40 --processes 1 --connections 1
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import multiprocessing
import os
import platform
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _db import admin_sql, scalar, server_url  # noqa: E402

JUSTIFICATION = "压测：按计划检查（超频次时的理由）"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))] if ordered else 0.0


def cpu_seconds(pids: list[int]) -> dict[int, float]:
    """User + system CPU time of each process so far."""
    ticks = os.sysconf("SC_CLK_TCK")
    spent = {}
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            spent[pid] = (int(fields[11]) + int(fields[12])) / ticks
    return spent


def machine_busy_seconds() -> tuple[float, float]:
    """CPU seconds the whole machine has been busy, and elapsed CPU seconds (busy + idle), from /proc/stat."""
    ticks = os.sysconf("SC_CLK_TCK")
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    idle = fields[3] + fields[4]
    return (sum(fields) - idle) / ticks, sum(fields) / ticks


def backends() -> list[int]:
    """The PostgreSQL backends connected to this database, but this process's own."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "select pid from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()"
        )
        return [row[0] for row in cursor.fetchall()]


# ---------------------------------------------------------------- the data


def seed_rules(admin) -> int:
    """The demo's frequency rules, through the service as the platform administrator saves them."""
    from jianchama.demo.story import FREQUENCY_RULES
    from jianchama.inspections.frequency import save_rule
    from jianchama.inspections.models import Exemption, FrequencyRule

    for name, scope, period, limit, action, options in FREQUENCY_RULES:
        extra = dict(options)
        exemptions = extra.pop("exemptions", list(Exemption.values))
        rule = FrequencyRule(
            name=name, scope=scope, period=period, limit=limit, action=action, exemptions=exemptions, **extra
        )
        save_rule(admin, rule=rule)
    return FrequencyRule.objects.filter(is_active=True).count()


def client_and_template(body, admin, item, numbers: list[str]):
    from django.utils import timezone

    from jianchama.integrations import services as integrations
    from tests.factories import filed_plan

    plan = filed_plan(body, items=[item], created_by=admin)
    _, key = integrations.register_client(
        admin, name="压测系统", vendor="压测", contact="压测", scopes=["tasks:write", "tasks:read"]
    )
    today = timezone.localdate()
    template = {
        "kind": "routine",
        "item_codes": [item.code],
        "inspector_certificates": numbers,
        "legal_basis": "压测依据",
        "window_start": today.isoformat(),
        "window_end": (today + datetime.timedelta(days=5)).isoformat(),
        "plan_number": plan.number,
    }
    return key, template


def build(enterprises: int):
    """One body of the factories' with everything a task needs, and `enterprises` enterprises."""
    from jianchama.core.roles import Role
    from tests.factories import (
        BodyFactory,
        CertificateFactory,
        EnterpriseFactory,
        FieldFactory,
        InspectorFactory,
        ItemFactory,
        user_for,
    )

    field = FieldFactory()
    body = BodyFactory(fields=[field])
    item = ItemFactory(field=field, bodies=[body])
    numbers = []
    for _ in range(2):
        user = user_for(Role.INSPECTOR, body=body)
        inspector = InspectorFactory(body=body, user=user)
        numbers.append(CertificateFactory(inspector=inspector).number)
    admin = user_for(Role.BODY_ADMIN, body=body)
    uscc = [EnterpriseFactory(region=body.region).uscc for _ in range(enterprises)]
    rules = seed_rules(user_for(Role.PLATFORM_ADMIN))
    key, template = client_and_template(body, admin, item, numbers)
    return key, uscc, template, {"body": body.name, "rules": rules}


def build_on_synthetic(preload: int, enterprises: int):
    """`preload` synthetic inspections; then one district body of theirs, with `enterprises` of its
    enterprises it has not inspected this year (so the per-body yearly cap does not refuse the new tasks)."""
    from django.db.models import Exists, OuterRef
    from django.utils import timezone

    from jianchama.core.models import User
    from jianchama.core.roles import Role
    from jianchama.demo import synthetic
    from jianchama.inspections.models import TaskBody
    from jianchama.registry.models import Certificate, EnforcementBody, Enterprise, InspectionItem

    started = time.perf_counter()
    synthetic.generate(
        enterprises=max(preload // 4, enterprises * 4),
        inspections=preload,
        log=lambda line: print(f"  {line}", flush=True),
    )
    loaded = time.perf_counter() - started
    body = EnforcementBody.objects.filter(code__startswith="SYN-B", level="district").order_by("code").first()
    admin = User.objects.get(body=body, role=Role.BODY_ADMIN)
    item = InspectionItem.objects.filter(bodies=body).order_by("code").first()
    numbers = list(
        Certificate.objects.filter(inspector__body=body)
        .order_by("number")
        .values_list("number", flat=True)[:2]
    )
    year_start = datetime.date(timezone.localdate().year, 1, 1)
    inspected = TaskBody.objects.filter(
        task__enterprise_id=OuterRef("pk"), body=body, task__window_start__gte=year_start
    )
    uscc = list(
        Enterprise.objects.visible_to(admin)
        .exclude(Exists(inspected))
        .order_by("?")
        .values_list("uscc", flat=True)[:enterprises]
    )
    rules = seed_rules(User.objects.get(username="syn-platform-admin"))
    key, template = client_and_template(body, admin, item, numbers)
    tasks_of_body = TaskBody.objects.filter(body=body).count()
    return (
        key,
        uscc,
        template,
        {"body": body.name, "rules": rules, "load seconds": loaded, "tasks of the body": tasks_of_body},
    )


# ---------------------------------------------------------------- the load


ONE_REQUEST = False  # --one-request: POST /tasks with "submit": true (set in the parent, inherited by fork)


def create_and_submit(client, headers: dict, payload: dict, n: int) -> tuple[float, float, int, int]:
    """POST /tasks then POST /tasks/{number}/submit; with --one-request, POST /tasks with "submit": true
    (its time counted as the creation's, the submission's status taken from the answer)."""
    if ONE_REQUEST:
        started = time.perf_counter()
        created = client.post(
            "/api/v1/tasks",
            dict(payload, submit=True, justification=JUSTIFICATION),
            content_type="application/json",
            HTTP_IDEMPOTENCY_KEY=f"bench-{n}",
            **headers,
        )
        ended = time.perf_counter()
        submitted_status = (
            200 if created.status_code == 201 and created.json()["status"] == "submitted" else 0
        )
        return (ended - started) * 1000, 0.0, created.status_code, submitted_status
    started = time.perf_counter()
    created = client.post(
        "/api/v1/tasks",
        payload,
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY=f"bench-{n}",
        **headers,
    )
    middle = time.perf_counter()
    submitted_status = 0
    if created.status_code == 201:
        number = created.json()["number"]
        submitted = client.post(
            f"/api/v1/tasks/{number}/submit",
            {"justification": JUSTIFICATION},
            content_type="application/json",
            **headers,
        )
        submitted_status = submitted.status_code
    ended = time.perf_counter()
    return (middle - started) * 1000, (ended - middle) * 1000, created.status_code, submitted_status


class ChainLockMeter:
    """How long each transaction waited for the audit chain's lock and then held it (from getting it to the
    end of its commit), by wrapping `audit._lock_chain` in this process. The first lock of a transaction
    registers an on_commit callback; a later one in the same transaction finds it there."""

    def __init__(self) -> None:
        from jianchama.core import audit

        self.waits: list[float] = []
        self.holds: list[float] = []
        self.audit = audit
        self.original = audit._lock_chain
        audit._lock_chain = self.lock

    def lock(self) -> None:
        from django.db import transaction

        asked = time.perf_counter()
        self.original()
        got = time.perf_counter()
        connection = transaction.get_connection()
        if any(getattr(func, "chain_lock_marker", False) for _, func, _ in connection.run_on_commit):
            return

        def released() -> None:
            self.holds.append((time.perf_counter() - got) * 1000)

        released.chain_lock_marker = True
        self.waits.append((got - asked) * 1000)
        transaction.on_commit(released)


def worker(
    index: int, shares: list[list[int]], key: str, uscc: list[str], template: dict, sync: dict
) -> None:
    """One worker process: a thread per share of task numbers, each with its connection and client."""
    import resource

    from django.db import connections
    from django.test import Client

    meter = ChainLockMeter()
    headers = {"HTTP_AUTHORIZATION": f"Bearer {key}"}
    ready = threading.Barrier(len(shares) + 1)
    go, finish = threading.Event(), threading.Event()
    results: list[tuple[float, float, int, int]] = []
    lock = threading.Lock()

    def run(share: list[int]) -> None:
        client = Client()
        connections["default"].ensure_connection()
        ready.wait()
        go.wait()
        mine = [
            create_and_submit(client, headers, dict(template, enterprise_uscc=uscc[n % len(uscc)]), n)
            for n in share
        ]
        with lock:
            results.extend(mine)
        ready.wait()
        finish.wait()  # keep the connection (and its backend) until the parent has read the backends' CPU
        connections.close_all()

    threads = [threading.Thread(target=run, args=(share,)) for share in shares]
    for thread in threads:
        thread.start()
    ready.wait()
    sync["start"].wait()
    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    go.set()
    ready.wait()
    ended = time.perf_counter()
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    sync["results"].put(
        {
            "index": index,
            "results": results,
            "started": started,
            "ended": ended,
            "cpu": cpu,
            "waits": meter.waits,
            "holds": meter.holds,
        }
    )
    sync["sampled"].wait()
    finish.set()
    for thread in threads:
        thread.join()


def run_load(args, key: str, uscc: list[str], template: dict) -> dict:
    from django.db import connections

    processes = max(1, min(args.processes, args.connections))
    per_process = [
        args.connections // processes + (p < args.connections % processes) for p in range(processes)
    ]
    numbers = list(range(args.tasks))
    shares, position = [], 0
    for threads in per_process:
        shares.append([numbers[position + t :: args.connections] for t in range(threads)])
        position += threads
    context = multiprocessing.get_context("fork")
    sync = {
        "start": context.Barrier(processes + 1),
        "sampled": context.Barrier(processes + 1),
        "results": context.Queue(),
    }
    connections.close_all()
    workers = [
        context.Process(target=worker, args=(p, shares[p], key, uscc, template, sync))
        for p in range(processes)
    ]
    for process in workers:
        process.start()
    sync["start"].wait()
    pg_before = cpu_seconds(backends())
    busy_before = machine_busy_seconds()
    reports = [sync["results"].get() for _ in workers]
    pg_after = cpu_seconds(backends())
    busy_after = machine_busy_seconds()
    sync["sampled"].wait()
    for process in workers:
        process.join()
    started = min(r["started"] for r in reports)
    ended = max(r["ended"] for r in reports)
    return {
        "processes": processes,
        "threads": per_process,
        "results": [row for r in reports for row in r["results"]],
        "elapsed": ended - started,
        "worker_cpu": sum(r["cpu"] for r in reports),
        "postgres_cpu": sum(max(v - pg_before.get(pid, 0.0), 0.0) for pid, v in pg_after.items()),
        "busy": busy_after[0] - busy_before[0],
        "capacity": busy_after[1] - busy_before[1],
        "waits": [w for r in reports for w in r["waits"]],
        "holds": [h for r in reports for h in r["holds"]],
    }


def profile(args, key: str, uscc: list[str], template: dict) -> None:
    import cProfile
    import pstats

    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client()
    headers = {"HTTP_AUTHORIZATION": f"Bearer {key}"}
    n = args.tasks
    with CaptureQueriesContext(connection) as queries:
        create_and_submit(client, headers, dict(template, enterprise_uscc=uscc[n % len(uscc)]), n)
    print(f"one create+submit: {len(queries.captured_queries)} SQL statements")
    # This thread's CPU time, not the wall clock: on a shared machine the wall clock charges every function
    # with the time the thread waited to be scheduled back (a loaded run blamed most of it on psycopg's wait).
    profiler = cProfile.Profile(time.thread_time)
    profiler.enable()
    for k in range(1, args.profile + 1):
        create_and_submit(client, headers, dict(template, enterprise_uscc=uscc[(n + k) % len(uscc)]), n + k)
    profiler.disable()
    stats = pstats.Stats(profiler)
    print(f"profile of {args.profile} create+submit calls in one thread, its CPU time (cumulative, top 40):")
    stats.sort_stats("cumulative").print_stats(40)
    stats.sort_stats("tottime").print_stats(25)
    started = time.process_time()
    for k in range(args.profile + 1, 2 * args.profile + 1):
        create_and_submit(client, headers, dict(template, enterprise_uscc=uscc[(n + k) % len(uscc)]), n + k)
    print(
        f"unprofiled, one thread: {(time.process_time() - started) / args.profile * 1000:.1f} ms of this "
        "process's CPU per create+submit"
    )


def walk_list(key: str, pages: int) -> tuple[list[float], list[tuple[int, float]]]:
    """GET /tasks by cursor, 50 a page: the first `pages` pages in turn, then one page at each quarter of the
    client's tasks, down to the oldest (each from the cursor the page before it would have returned)."""
    from django.test import Client

    from jianchama.inspections.api import _encode_cursor
    from jianchama.inspections.models import Task
    from jianchama.integrations.models import ApiKey

    client = Client()
    headers = {"HTTP_AUTHORIZATION": f"Bearer {key}"}

    def page(cursor: str | None) -> tuple[float, str | None]:
        query = {"limit": 50, **({"cursor": cursor} if cursor else {})}
        started = time.perf_counter()
        response = client.get("/api/v1/tasks", query, **headers)
        elapsed = (time.perf_counter() - started) * 1000
        assert response.status_code == 200, response.content
        return elapsed, response.json()["next_cursor"]

    first, cursor = [], None
    for _ in range(pages):
        elapsed, cursor = page(cursor)
        first.append(elapsed)
        if not cursor:
            break
    user = ApiKey.objects.get(prefix=key.split("_")[1]).client.service_user
    visible = Task.objects.visible_to(user).order_by("-created_at", "-id")
    total = visible.count()
    deep = []
    for quarter in (1, 2, 3, 4):
        depth = max(0, min(total - 1, total * quarter // 4 - 51))
        created_at, pk = visible.values_list("created_at", "pk")[depth]
        elapsed, _ = page(_encode_cursor(created_at.isoformat(), pk))
        deep.append((depth + 1, elapsed))
    return first, deep


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--database-url",
        default=os.getenv("DATABASE_URL", "") or "postgres://postgres@127.0.0.1:5432/postgres",
    )
    parser.add_argument("--tasks", type=int, default=3000, help="tasks created and submitted (3000)")
    parser.add_argument("--connections", type=int, default=16, help="concurrent callers (16)")
    parser.add_argument(
        "--processes", type=int, default=(os.cpu_count() or 1) + 1, help="worker processes (cores + 1)"
    )
    parser.add_argument(
        "--preload",
        type=int,
        default=1_000_000,
        metavar="N",
        help="synthetic inspections loaded first (1,000,000; 0: an empty database with one body)",
    )
    parser.add_argument("--enterprises", type=int, default=5000, help="enterprises the tasks go to (5000)")
    parser.add_argument(
        "--redis-url",
        default=os.getenv("REDIS_URL", "") or "redis://127.0.0.1:6379/0",
        help="Redis for the cache and the rate limit, as production has (default: $REDIS_URL, else local; "
        "'' for process memory)",
    )
    parser.add_argument(
        "--server-side-binding",
        choices=["0", "1"],
        default="1",
        help="DATABASE_SERVER_SIDE_BINDING as README.md sets it for production (1)",
    )
    parser.add_argument("--pages", type=int, default=20, help="list pages walked from the first (20)")
    parser.add_argument(
        "--one-request",
        action="store_true",
        help='create and submit each task in one request (POST /tasks with "submit": true)',
    )
    parser.add_argument("--keep-database", action="store_true")
    parser.add_argument(
        "--database-name",
        default="",
        help="the name of the database it makes (default jc_bench_api_<pid>); it must not exist yet",
    )
    parser.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="N",
        help="first profile N create+submit calls in one thread (cProfile) and print where the time goes",
    )
    args = parser.parse_args()
    global ONE_REQUEST
    ONE_REQUEST = args.one_request
    name = args.database_name or f"jc_bench_api_{os.getpid()}"
    key_prefix = f"jc-bench-api-{os.getpid()}"
    admin_sql(args.database_url, f'CREATE DATABASE "{name}"')
    os.environ.update(
        {
            "DATABASE_URL": server_url(args.database_url, name),
            "DATABASE_SERVER_SIDE_BINDING": args.server_side_binding,
            "REDIS_URL": args.redis_url,
            "CACHE_KEY_PREFIX": key_prefix,
            "DJANGO_SETTINGS_MODULE": "jianchama.settings",
            "API_RATE_LIMIT": "1000000/m",
            # As deployed: DEBUG off (no query log kept per request), plain HTTP behind the proxy.
            "DEBUG": "0",
            "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-api-secret-key-not-for-production"),
            "SECURE_SSL_REDIRECT": "0",
            "ALLOWED_HOSTS": "testserver,127.0.0.1",
        }
    )
    try:
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        if args.preload:
            key, uscc, template, world = build_on_synthetic(args.preload, args.enterprises)
        else:
            key, uscc, template, world = build(args.enterprises)
        tasks_before = scalar("select count(*) from inspections_task")
        audit_before = scalar("select count(*) from core_auditevent")
        if args.profile:
            profile(args, key, uscc, template)
        load = run_load(args, key, uscc, template)
        pages, deep = walk_list(key, args.pages)
        results = load["results"]
        outcomes: dict[str, int] = {}
        for *_, created, submitted in results:
            label = f"create {created}" + (f" submit {submitted}" if submitted else "")
            outcomes[label] = outcomes.get(label, 0) + 1
        creates = [r[0] for r in results]
        submits = [r[1] for r in results if r[3] and not args.one_request]
        both = [r[0] + r[1] for r in results]
        elapsed, tasks = load["elapsed"], len(results)
        busy_share = load["busy"] / load["capacity"] if load["capacity"] else 0.0
        ours = load["worker_cpu"] + load["postgres_cpu"]
        others = max(load["busy"] - ours, 0.0) / load["capacity"] if load["capacity"] else 0.0
        print(
            f"\nintegration API benchmark — {platform.node()}, {os.cpu_count()} cores, Python "
            f"{platform.python_version()}, PostgreSQL {scalar('show server_version')} "
            f"(synchronous_commit {scalar('show synchronous_commit')}), database {name}"
        )
        print(
            f"data: {tasks_before:,} tasks and {audit_before:,} audit events before the run; {world}; "
            f"{len(uscc)} enterprises in turn"
        )
        print(
            f"create+submit{' (one request each)' if args.one_request else ''}: {tasks} tasks over {args.connections} connections ({load['processes']} processes "
            f"of {'/'.join(map(str, load['threads']))} threads) in {elapsed:.1f} s = {tasks / elapsed:.1f} tasks/s; "
            f"outcomes {outcomes}"
        )
        label = "create+submit in one request" if args.one_request else "create"
        print(f"  {label}  p50 {statistics.median(creates):.1f} ms  p99 {percentile(creates, 99):.1f} ms")
        if submits:
            print(f"  submit  p50 {statistics.median(submits):.1f} ms  p99 {percentile(submits, 99):.1f} ms")
        print(f"  both    p50 {statistics.median(both):.1f} ms  p99 {percentile(both, 99):.1f} ms")
        print(
            f"  CPU per task: workers {load['worker_cpu'] / tasks * 1000:.1f} ms + PostgreSQL backends "
            f"{load['postgres_cpu'] / tasks * 1000:.1f} ms = {ours / tasks * 1000:.1f} ms; machine busy "
            f"{busy_share:.0%} of {os.cpu_count()} cores, other work {others:.0%}"
        )
        waits, holds = load["waits"], load["holds"]
        if holds:
            print(
                f"  audit chain lock: {len(holds)} transactions; wait p50 {statistics.median(waits):.2f} ms "
                f"p99 {percentile(waits, 99):.1f} ms; held (event to end of commit) p50 "
                f"{statistics.median(holds):.2f} ms p99 {percentile(holds, 99):.1f} ms, mean "
                f"{statistics.mean(holds):.2f} ms; held {sum(holds) / 1000 / elapsed:.0%} of the run "
                f"(at 100 % the chain alone caps this at {1000 / statistics.mean(holds) / (len(holds) / tasks):.0f} "
                "tasks/s)"
            )
        print(
            f"list by cursor: the first {len(pages)} pages of 50: p50 {statistics.median(pages):.1f} ms  p99 "
            f"{percentile(pages, 99):.1f} ms  first {pages[0]:.1f} ms  last {pages[-1]:.1f} ms; a page after "
            + ", ".join(f"{depth:,} tasks {elapsed:.1f} ms" for depth, elapsed in deep)
        )
        print(
            "conditions: in-process WSGI (django.test.Client per thread, each thread keeping its database "
            f"connection), DEBUG off, DATABASE_SERVER_SIDE_BINDING={args.server_side_binding}, cache "
            f"{'Redis' if args.redis_url else 'in process memory'}, no web server; load average "
            f"{os.getloadavg()[0]:.1f} at the end"
        )
    finally:
        if not args.keep_database:
            from django.db import connections

            connections.close_all()
            admin_sql(args.database_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if args.redis_url:
            with contextlib.suppress(Exception):
                import redis

                client = redis.Redis.from_url(args.redis_url)
                keys = list(client.scan_iter(f"{key_prefix}:*", count=1000))
                if keys:
                    client.delete(*keys)


if __name__ == "__main__":
    main()
