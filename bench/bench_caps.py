"""The public list of every enterprise's yearly caps (F-43, issue 13) on a database filled by `generate_synthetic`.

Each page and the CSV are requested in-process through Django's test client (the whole view, template, queries
and, for the CSV, every streamed byte; no HTTP server), anonymously, `--runs` times; it prints the median, the
slowest run, the query count, the status and the size of each, the growth of the process's peak memory while the
CSVs stream, and the plans of a page's two big queries. Never asserts on timing.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/jc_caps .venv/bin/python bench/bench_caps.py
    .venv/bin/python bench/bench_caps.py --runs 9 --only page        # only what contains "page"

Fill the database first (PostgreSQL, a database of its own):

    .venv/bin/python manage.py migrate
    .venv/bin/python manage.py generate_synthetic --enterprises 200000 --inspections 1000000

Without active yearly frequency rules (the generator writes none) it saves the demo's rules through the service
first, as `bench_frequency.py` does: the only thing it writes.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))


def cases() -> list[tuple[str, str, dict]]:
    """(name, URL name, query) of every request measured."""
    from jianchama.registry.models import Enterprise, Region

    codes = Enterprise.objects.order_by("uscc").values_list("uscc", flat=True)
    total = Enterprise.objects.count()  # the bench's own figures; the page never counts
    deep = codes[total * 9 // 10]  # a page nine tenths of the way through
    last_page = codes[max(total - 20, 0)]
    first, *_, last = Region.objects.filter(level="district").order_by("code")
    mine = Enterprise.objects.filter(region__path__startswith=last.path)
    in_last = mine.count()
    deep_in_last = mine.order_by("uscc").values_list("uscc", flat=True)[in_last * 9 // 10]
    name, code = Enterprise.objects.order_by("uscc").values_list("name", "uscc")[total // 2]
    return [
        ("page: first", "opendata:caps", {}),
        (f"page: deep (after the {total * 9 // 10 + 1:,}th)", "opendata:caps", {"after": deep}),
        ("page: the last (20 rows)", "opendata:caps", {"after": last_page}),
        (f"page: district {first.name}, first", "opendata:caps", {"region": first.code}),
        (f"page: district {last.name} (codes sort last), first", "opendata:caps", {"region": last.code}),
        (
            f"page: district {last.name}, deep (after its {in_last * 9 // 10 + 1:,}th)",
            "opendata:caps",
            {"region": last.code, "after": deep_in_last},
        ),
        (f"page: name prefix {name[:4]!r} (common)", "opendata:caps", {"q": name[:4]}),
        (f"page: name prefix {name[:-4]!r} (rare)", "opendata:caps", {"q": name[:-4]}),
        (f"page: USCC prefix {code[:10]!r} (common)", "opendata:caps", {"q": code[:10]}),
        (f"page: USCC prefix {code[:16]!r} (rare)", "opendata:caps", {"q": code[:16]}),
        ("page: nothing matches", "opendata:caps", {"q": "不存在的企业"}),
        ("lookup: one enterprise (USCC + name)", "opendata:caps", {"uscc": code, "name": name}),
        (f"csv: district {first.name}", "opendata:caps_csv", {"region": first.code}),
        ("csv: every enterprise", "opendata:caps_csv", {}),
    ]


def seed_rules_if_none() -> int:
    """The yearly caps the list shows (seeded if there are none)."""
    from jianchama.opendata import caps

    if not caps.yearly_rules():
        from bench_frequency import seed_rules

        seed_rules()
    return len(caps.yearly_rules())


def measure(client, url: str, query: dict, runs: int) -> tuple[list[float], int, int, int]:
    """Seconds of each run, the query count (one more run, counted), the status and the size in bytes."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    seconds = []
    status = size = 0
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get(url, query)
        size = 0
        if response.streaming:
            for chunk in response.streaming_content:
                size += len(chunk)
        else:
            size = len(response.content)
        seconds.append(time.perf_counter() - started)
        status = response.status_code
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, query)
        if response.streaming:
            for _ in response.streaming_content:
                pass
    return seconds, len(captured), status, size


def explain(query: dict) -> list[str]:
    """EXPLAIN (ANALYZE, BUFFERS) of the page's enterprises query and of its tasks query."""
    from django.db import connection
    from django.utils import timezone

    from jianchama.opendata import caps

    regions = caps.Regions()
    found, _ = caps.list_filter(regions, query.get("region"), query.get("q"))
    after, _ = caps.list_after(query.get("after"))
    page = caps.page_query(found, after, caps.PAGE_SIZE + 1)
    ids = [row.pk for row in caps._enterprises(found, after, caps.PAGE_SIZE + 1)]
    tasks = caps.tasks_query(ids, timezone.localdate().year)
    lines = []
    with connection.cursor() as cursor:
        for label, rows in (("enterprises", page), ("tasks of the page's enterprises", tasks)):
            sql, params = rows.query.sql_with_params()
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
            lines += [f"{label}:"] + ["    " + r[0] for r in cursor.fetchall()]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="requests per case (5)")
    parser.add_argument("--only", default="", help="only cases whose name contains this")
    parser.add_argument("--explain", action="store_true", help="print the plans of the first and a deep page")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jianchama.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.urls import reverse

    from jianchama.registry.models import Enterprise

    settings.DEBUG = False
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    settings.OPEN_DATA_RATE_LIMIT = "100000000/m"  # one address asks everything here
    if connection.vendor != "postgresql":
        sys.exit("bench_caps: DATABASE_URL must name a PostgreSQL database filled by generate_synthetic")
    rules = seed_rules_if_none()
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
    enterprises = Enterprise.objects.count()
    print("Public caps list (F-43, issue 13)")
    print(f"  machine  : {os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}")
    print(f"  load avg : {os.getloadavg()[0]:.2f} at the start")
    print(f"  database : PostgreSQL {version}, {size}, shared_buffers {shared_buffers}, work_mem {work_mem}")
    print(
        f"  data     : {tasks:,} tasks, {enterprises:,} enterprises, {rules} yearly caps (active yearly rules per body or across bodies)"
    )
    print(f"  method   : Django test client in-process, anonymous, {args.runs} requests per case")
    print("             (every streamed byte read); median and slowest; queries of one more request")
    print()
    client = Client()
    print(f"  {'case':<52} {'status':>6} {'median ms':>10} {'max ms':>9} {'queries':>8} {'bytes':>12}")
    for name, url_name, query in cases():
        if args.only and args.only not in name:
            continue
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        seconds, queries, status, body = measure(client, reverse(url_name), query, args.runs)
        grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
        note = f"  (peak RSS +{grown / 1024:.0f} MB)" if url_name.endswith("csv") else ""
        print(
            f"  {name:<52} {status:>6} {1000 * statistics.median(seconds):>10.0f} "
            f"{1000 * max(seconds):>9.0f} {queries:>8} {body:>12,}{note}"
        )
    print(f"\n  peak RSS of the process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    print(f"  load avg : {os.getloadavg()[0]:.2f} at the end")
    if args.explain:
        codes = Enterprise.objects.order_by("uscc").values_list("uscc", flat=True)
        from jianchama.registry.models import Region

        district = Region.objects.filter(level="district").order_by("-code").first()
        for label, query in (
            ("first page", {}),
            ("deep page", {"after": codes[enterprises * 9 // 10]}),
            (f"district {district.name}, first page", {"region": district.code}),
        ):
            print(f"\n  plans, {label}:")
            for line in explain(query):
                print("  " + line)


if __name__ == "__main__":
    main()
