"""Lists, reports and exports as their users open them, on a database filled by `generate_synthetic` (issue 16).

Each page is requested in-process through Django's test client (the whole view, templates and queries; no
HTTP server, no network), logged in as a body's administrator (the busiest body), a district's supervisor
and the city's supervisor (made here if the data has none), several times; it prints the median, the
slowest run and the query count of each page. Never asserts on timing.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/jcm_pages .venv/bin/python bench/bench_pages.py
    .venv/bin/python bench/bench_pages.py --runs 9 --only task    # pages whose name contains "task"

Fill the database first (PostgreSQL, a database of its own):

    .venv/bin/python manage.py migrate
    .venv/bin/python manage.py generate_synthetic --enterprises 200000 --inspections 1000000 --supervision
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

# A page slower than this is requested once only (its figure is then that one run).
SLOW_SECONDS = 5.0


def pages(task_number: str, name_fragment: str) -> list[tuple[str, str, dict]]:
    """(name, URL name, query) of every page measured."""
    return [
        ("task list", "inspections:task_list", {}),
        ("task list, status closed", "inspections:task_list", {"status": "closed"}),
        # A rare status: few tasks of it among the newest, the hardest case for an index in another order.
        ("task list, status submitted", "inspections:task_list", {"status": "submitted"}),
        ("task list, page 20 (the last counted)", "inspections:task_list", {"page": "20"}),
        ("task list, search enterprise name", "inspections:task_list", {"q": name_fragment}),
        ("task list, search task number", "inspections:task_list", {"q": task_number}),
        ("frequency report", "inspections:frequency_report", {}),
        ("finding list", "supervision:finding_list", {}),
        ("finding list xlsx", "supervision:finding_list", {"export": "xlsx"}),
        ("steps list", "supervision:steps", {}),
        ("steps list, only overdue", "supervision:steps", {"flagged": "1"}),
        ("steps list xlsx", "supervision:steps", {"export": "xlsx"}),
        ("statistics (this year)", "statistics:index", {}),
        ("complaint ledger", "complaints:ledger", {}),
        ("plan list", "plans:plan_list", {}),
        ("enterprise list", "registry:enterprise_list", {}),
        ("public plans (anonymous)", "plans:public_list", {}),
        ("public plans CSV (anonymous)", "plans:public_csv", {}),
        ("public plans JSON (anonymous)", "plans:public_json", {}),
        ("open data catalogue (anonymous)", "opendata:catalogue", {}),
        ("open data index.json (anonymous)", "opendata:index_json", {}),
    ]


def users():
    """The three users the pages are opened as: the busiest body's admin, a district's supervisor, the city's."""
    from django.db.models import Count

    from jianchama.core.models import User
    from jianchama.core.roles import Role
    from jianchama.inspections.models import TaskBody
    from jianchama.registry.models import Region

    busiest = TaskBody.objects.values("body").annotate(n=Count("id")).order_by("-n").first()["body"]
    admin = User.objects.filter(role=Role.BODY_ADMIN, body_id=busiest).first() or User.objects.create_user(
        username=f"bench_admin_{busiest}", role=Role.BODY_ADMIN, body_id=busiest, password=None
    )
    city = Region.objects.filter(parent__isnull=True).first()
    district = Region.objects.filter(parent=city).order_by("code").first()
    district_supervisor = User.objects.filter(
        role=Role.SUPERVISOR, region=district
    ).first() or User.objects.create_user(
        username=f"bench_supervisor_{district.code}", role=Role.SUPERVISOR, region=district, password=None
    )
    city_supervisor = User.objects.filter(
        role=Role.SUPERVISOR, region=city
    ).first() or User.objects.create_user(
        username="bench_supervisor_city", role=Role.SUPERVISOR, region=city, password=None
    )
    return [
        (f"body admin ({admin.body.name})", admin),
        (f"district supervisor ({district.name})", district_supervisor),
        ("city supervisor", city_supervisor),
    ]


def measure(client, url: str, query: dict, runs: int) -> tuple[list[float], int, int, int]:
    """Seconds of each run, the query count, the status and the response's size in bytes."""
    from django.db import connection, reset_queries
    from django.test.utils import CaptureQueriesContext

    seconds = []
    queries = status = size = 0
    for run in range(runs):
        reset_queries()  # the log keeps 9,000 queries; a full one would count none
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            response = client.get(url, query)
            body = b"".join(response.streaming_content) if response.streaming else response.content
            seconds.append(time.perf_counter() - started)
        queries, status, size = len(captured), response.status_code, len(body)
        if run == 0 and seconds[0] > SLOW_SECONDS:
            break
    return seconds, queries, status, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="requests per page and user (7)")
    parser.add_argument("--only", default="", help="only pages whose name contains this")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jianchama.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.urls import reverse

    from jianchama.inspections.models import Task
    from jianchama.registry.models import Enterprise

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    if connection.vendor != "postgresql":
        sys.exit("bench_pages: DATABASE_URL must name a PostgreSQL database filled by generate_synthetic")
    with connection.cursor() as cursor:
        cursor.execute("select count(*) from inspections_task")
        tasks = cursor.fetchone()[0]
        cursor.execute("show server_version")
        version = cursor.fetchone()[0]
        cursor.execute("select pg_size_pretty(pg_database_size(current_database()))")
        size = cursor.fetchone()[0]
        cursor.execute("show shared_buffers")
        shared_buffers = cursor.fetchone()[0]
        cursor.execute("show work_mem")
        work_mem = cursor.fetchone()[0]
    task_number = Task.objects.order_by("pk").values_list("number", flat=True)[tasks // 2]
    name_fragment = Enterprise.objects.order_by("pk").values_list("name", flat=True)[1000][:4]
    print("Pages at scale (issue 16)")
    print(f"  machine  : {os.cpu_count()} cores, {platform.machine()}, load average {os.getloadavg()[0]:.2f}")
    print(f"  database : PostgreSQL {version}, {size}, shared_buffers {shared_buffers}, work_mem {work_mem}")
    print(
        f"  data     : {tasks:,} tasks; searches: enterprise name {name_fragment!r}, task number {task_number}"
    )
    print(f"  method   : Django test client in-process, {args.runs} requests per page and user (one if the")
    print(
        f"             first takes over {SLOW_SECONDS:.0f} s); median and slowest; queries of the last request"
    )
    print()
    anonymous = Client()
    for role, user in users():
        client = Client()
        client.force_login(user)
        print(f"  as {role}")
        print(f"  {'page':<38} {'status':>6} {'median ms':>10} {'max ms':>9} {'queries':>8} {'bytes':>11}")
        for name, url_name, query in pages(task_number, name_fragment):
            if args.only and args.only not in name:
                continue
            who = anonymous if "anonymous" in name else client
            seconds, queries, status, size = measure(who, reverse(url_name), query, args.runs)
            print(
                f"  {name:<38} {status:>6} {1000 * statistics.median(seconds):>10.0f} "
                f"{1000 * max(seconds):>9.0f} {queries:>8} {size:>11,}"
            )
        print()


if __name__ == "__main__":
    main()
