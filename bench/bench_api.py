"""Benchmark of the integration API (F-29) on PostgreSQL: task creation + submission throughput through the API
from concurrent callers, and the latency of task list pages walked by cursor at every depth.

Creates a fresh database of its own ("jc_bench_api_<pid>" on the server of --database-url), migrates it, builds
one body with its inspectors, items, a filed plan, --enterprises enterprises and an API client (through the
services), then:
  1. create + submit --tasks tasks through /api/v1/ from --threads threads (each POST /tasks then
     POST /tasks/{number}/submit, with the frequency check and the audit rows, each with an Idempotency-Key);
  2. walks GET /api/v1/tasks?limit=50 by cursor from the first page to the last and times every page.
Requests go through Django's WSGI handler in-process (django.test.Client, one per thread), not over a socket:
the figures are the application's and the database's, without a web server. Prints figures and conditions;
never asserts on timing. Drops the database at the end unless --keep-database.

    make bench-api
    .venv/bin/python bench/bench_api.py --tasks 5000 --threads 8
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _db import admin_sql, server_url  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def build(enterprises: int):
    from django.utils import timezone

    from jianchama.core.roles import Role
    from jianchama.integrations import services as integrations
    from tests.factories import (
        BodyFactory,
        CertificateFactory,
        EnterpriseFactory,
        FieldFactory,
        InspectorFactory,
        ItemFactory,
        filed_plan,
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
    plan = filed_plan(body, items=[item])
    uscc = [EnterpriseFactory(region=body.region).uscc for _ in range(enterprises)]
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
    return key, uscc, template


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--database-url",
        default=os.getenv("DATABASE_URL", "") or "postgres://postgres@127.0.0.1:5432/postgres",
    )
    parser.add_argument("--tasks", type=int, default=3000)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--enterprises", type=int, default=1000)
    parser.add_argument("--keep-database", action="store_true")
    parser.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="N",
        help="first profile N create+submit calls in one thread (cProfile) and print where the time goes",
    )
    args = parser.parse_args()
    name = f"jc_bench_api_{os.getpid()}"
    admin_sql(args.database_url, f'CREATE DATABASE "{name}"')
    os.environ.update(
        {
            "DATABASE_URL": server_url(args.database_url, name),
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
        from django.db import connections
        from django.test import Client

        call_command("migrate", verbosity=0)
        key, uscc, template = build(args.enterprises)
        headers = {"HTTP_AUTHORIZATION": f"Bearer {key}"}
        connections.close_all()

        def create_and_submit(n: int) -> tuple[float, float, int]:
            client = Client()
            payload = dict(template, enterprise_uscc=uscc[n % len(uscc)])
            started = time.perf_counter()
            created = client.post(
                "/api/v1/tasks",
                payload,
                content_type="application/json",
                HTTP_IDEMPOTENCY_KEY=f"bench-{n}",
                **headers,
            )
            middle = time.perf_counter()
            number = created.json()["number"]
            submitted = client.post(
                f"/api/v1/tasks/{number}/submit", {}, content_type="application/json", **headers
            )
            ended = time.perf_counter()
            # Each thread keeps its database connection, as a web worker's thread does (CONN_MAX_AGE).
            return (
                (middle - started) * 1000,
                (ended - middle) * 1000,
                created.status_code * 1000 + submitted.status_code,
            )

        if args.profile:
            import cProfile
            import pstats

            profiler = cProfile.Profile()
            profiler.enable()
            for n in range(args.profile):
                create_and_submit(args.tasks + n)
            profiler.disable()
            stats = pstats.Stats(profiler)
            print(f"profile of {args.profile} create+submit calls in one thread (cumulative, top 40):")
            stats.sort_stats("cumulative").print_stats(40)
            stats.sort_stats("tottime").print_stats(25)

        started = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(args.threads) as pool:
            results = list(pool.map(create_and_submit, range(args.tasks)))
        elapsed = time.perf_counter() - started
        statuses = {status for *_, status in results}
        creates = [r[0] for r in results]
        submits = [r[1] for r in results]
        both = [r[0] + r[1] for r in results]

        client = Client()
        pages, cursor, seen = [], None, 0
        while True:
            query = {"limit": 50, **({"cursor": cursor} if cursor else {})}
            t0 = time.perf_counter()
            response = client.get("/api/v1/tasks", query, **headers)
            pages.append((time.perf_counter() - t0) * 1000)
            body = response.json()
            seen += len(body["items"])
            cursor = body["next_cursor"]
            if not cursor:
                break
        print(
            f"integration API benchmark — {platform.node()}, {os.cpu_count()} cores, Python {platform.python_version()}, PostgreSQL database {name}"
        )
        print(
            f"create+submit: {args.tasks} tasks from {args.threads} threads in {elapsed:.1f} s = {args.tasks / elapsed:.0f} tasks/s; statuses {sorted(statuses)}"
        )
        print(f"  create  p50 {statistics.median(creates):.1f} ms  p99 {percentile(creates, 99):.1f} ms")
        print(f"  submit  p50 {statistics.median(submits):.1f} ms  p99 {percentile(submits, 99):.1f} ms")
        print(f"  both    p50 {statistics.median(both):.1f} ms  p99 {percentile(both, 99):.1f} ms")
        print(
            f"list by cursor: {len(pages)} pages of 50 ({seen} tasks): p50 {statistics.median(pages):.1f} ms  p99 {percentile(pages, 99):.1f} ms  first {pages[0]:.1f} ms  last {pages[-1]:.1f} ms"
        )
        print(
            "conditions: in-process WSGI (django.test.Client per thread, each thread keeping its database connection), DEBUG off, no web server; no frequency rules; one body"
        )
    finally:
        if not args.keep_database:
            from django.db import connections

            connections.close_all()
            admin_sql(args.database_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
