"""Where a scan's CPU goes, in-process: the scan page through Django's test client (the whole WSGI handler and
middleware, no HTTP server) on a database `bench_scan.py --keep-database` left, with the production settings
(DEBUG off, Redis cache, prepared statements). Times N scans of one signed URL, N scans of different codes and
N requests to /healthz, then profiles the scans with cProfile and prints the functions that cost the most.

    .venv/bin/python bench/bench_scan.py --codes 100000 --duration 5 --keep-database
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/jc_bench_scan_<pid> .venv/bin/python bench/profile_scan.py

Never asserts on timing; it adds scans to the database it is given (use a bench database, never one in use).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scans", type=int, default=500, help="scans per measurement (500)")
    parser.add_argument("--top", type=int, default=40, help="functions printed (40)")
    parser.add_argument("--sort", default="cumulative", help="pstats sort key (cumulative)")
    args = parser.parse_args()
    if not os.getenv("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        sys.exit("DATABASE_URL: the PostgreSQL database bench_scan.py --keep-database left")
    workdir = Path(tempfile.mkdtemp(prefix="jc-profile-scan-"))
    os.environ.update(
        {
            "DEBUG": "0",
            "SECRET_KEY": "profile-only-not-secret",
            "ALLOWED_HOSTS": "testserver",
            "REDIS_URL": os.getenv("REDIS_URL", "redis://127.0.0.1:6379/0"),
            "CACHE_KEY_PREFIX": f"jc-profile-scan-{os.getpid()}",
            "CODE_SIGNING_KEY_DIR": str(workdir / "keys"),
            "CODE_SIGNING_KEY": "",
            "SCAN_RATE_LIMIT": "100000000/m",
            "SECURE_SSL_REDIRECT": "0",
            "DATABASE_SERVER_SIDE_BINDING": os.getenv("DATABASE_SERVER_SIDE_BINDING", "1"),
            "LOG_LEVEL": "WARNING",
            "DJANGO_SETTINGS_MODULE": "jianchama.settings",
        }
    )
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.test import Client

    from jianchama.inspections import scan_log, signing

    settings.ALLOWED_HOSTS = ["testserver"]
    signing.rotate_key(workdir / "keys")
    with connection.cursor() as cursor:
        cursor.execute(
            "select public_id from inspections_inspectioncode order by random() limit %s", [args.scans]
        )
        public_ids = [row[0] for row in cursor.fetchall()]
    paths = [f"/C/{signing.issue_token(pid, ttl_seconds=3600)}" for pid in public_ids]
    client = Client()

    def timed(label: str, urls: list[str]) -> float:
        started_cpu, started = time.process_time(), time.perf_counter()
        for url in urls:
            response = client.get(url)
            assert response.status_code == 200, (url, response.status_code)
        cpu = (time.process_time() - started_cpu) / len(urls) * 1000
        wall = (time.perf_counter() - started) / len(urls) * 1000
        print(f"  {label:<40} CPU {cpu:6.3f} ms   wall {wall:6.3f} ms per request")
        return cpu

    one = [paths[0]] * args.scans

    def flushed(label: str) -> None:
        """The scan log's batched rows (scan_log.py), written as the flusher does, per scan."""
        started_cpu = time.process_time()
        rows = scan_log.flush_pending()
        if rows:
            cpu = (time.process_time() - started_cpu) / rows * 1000
            print(f"  {label:<38} CPU {cpu:6.3f} ms per scan ({rows} rows)")

    for _ in range(2):  # warm: connections, prepared statements, templates, caches
        timed("(warm-up) one code", one[:100])
    print(f"{args.scans} requests each, in-process (Django's test client):")
    timed("scan, one code again and again", one)
    flushed("  of which writing their log rows later")
    timed("scan, a different code each time", paths)
    flushed("  of which writing their log rows later")
    timed("scan, the same codes again", paths)
    flushed("  of which writing their log rows later")
    timed("no-op /healthz", ["/healthz"] * args.scans)
    for label, urls in (("one code", one), ("different codes", paths)):
        profiler = cProfile.Profile(time.process_time)  # CPU, not waiting
        profiler.enable()
        for url in urls:
            client.get(url)
        profiler.disable()
        scan_log.flush_pending()
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats(args.sort).print_stats(args.top)
        print(f"\ncProfile (CPU time), {args.scans} scans, {label} (times include the profiler's overhead):")
        print(out.getvalue())


if __name__ == "__main__":
    main()
