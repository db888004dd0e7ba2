"""A large export through the task queue (core/exports.py, issue 16): time and memory of the worker.

On a database filled by `generate_synthetic` (DATABASE_URL, PostgreSQL), as the city's supervisor, it asks for
the finding list's Excel export (every finding of the city), which is queued as an `ExportJob`; then it runs
the job as the worker does (`jianchama.core.jobs.run_export`) in a fresh Python process, and prints that
process's wall time and peak resident memory (ru_maxrss), beside the peak of the same process doing nothing
but start Django (the floor), the rows and the file's size. Goal (issue 16): 100,000 rows within 30 s using
< 200 MB. Never asserts on timing.

If the database holds fewer findings than --rows, findings of a rule of its own ("bench_export", keys
"bench-<n>") are added first, one per task, with a description and evidence as long as the data rules write;
`--drop` removes them again.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/jcm_scale .venv/bin/python bench/bench_export.py
    .venv/bin/python bench/bench_export.py --rows 100000 --runs 3
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

WORKER = """
import os, sys, time, resource
import django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jianchama.settings")
django.setup()
from jianchama.core import jobs
job = int(sys.argv[1])
started = time.perf_counter()
if job:
    status = jobs.run_export(job)
else:
    status = "idle"
print(status, round(time.perf_counter() - started, 3), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jianchama.settings")
    # The files written go to a directory of the bench's own, not the developer's var/media.
    os.environ.setdefault("MEDIA_ROOT", tempfile.mkdtemp(prefix="bench_export_"))
    import django

    django.setup()


def fill(rows: int) -> int:
    """Findings up to `rows` in all (added one per task, a rule of the bench's own); returns how many now."""
    from django.db import connection

    from jianchama.supervision.models import Finding

    have = Finding.objects.count()
    if have >= rows:
        return have
    missing = rows - have
    print(f"adding {missing:,} findings (rule bench_export) …", flush=True)
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            insert into supervision_finding (source, rule, key, body_id, title, description, confidential,
                body_description, severity, status, period, evidence, task_id, found_at, close_note)
            select 'data_rule', 'bench_export', 'bench-' || t.id, t.lead_body_id, '检查码从未扫码',
                '任务' || t.number || '于' || to_char(t.window_start, 'YYYY年MM月DD日')
                    || '开展检查，检查码自签发至今从未被企业扫码核验，请核实是否亮码检查。',
                false, '', 'medium', 'open', date_trunc('month', t.window_start)::date,
                jsonb_build_array(jsonb_build_object('model', 'inspections.Task', 'pk', t.id,
                    'label', '检查任务' || t.number)),
                t.id, now(), ''
            from inspections_task t
            where not exists (select 1 from supervision_finding f where f.rule = 'bench_export'
                              and f.key = 'bench-' || t.id)
            order by t.id
            limit %s
            """,
            [missing],
        )
    print(f"  {time.perf_counter() - started:.1f} s", flush=True)
    return Finding.objects.count()


def city_supervisor():
    from jianchama.core.models import User
    from jianchama.core.roles import Role
    from jianchama.registry.models import Region

    city = Region.objects.filter(parent__isnull=True).first()
    return User.objects.filter(role=Role.SUPERVISOR, region=city).first() or User.objects.create_user(
        username="bench_supervisor_city", role=Role.SUPERVISOR, region=city, password=None
    )


def worker(job_id: int) -> tuple[str, float, int, float]:
    """Run the worker's function in a fresh process: (status, seconds in the job, peak RSS KiB, wall s)."""
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", WORKER, str(job_id)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
        check=True,
    )
    wall = time.perf_counter() - started
    status, seconds, rss = out.stdout.split()[-3:]
    return status, float(seconds), int(rss), wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000, help="findings in the export (100,000)")
    parser.add_argument("--runs", type=int, default=3, help="exports written (3)")
    parser.add_argument("--drop", action="store_true", help="remove the bench's findings and exit")
    args = parser.parse_args()
    setup()
    from django.conf import settings
    from django.db import connection
    from django.test import Client

    from jianchama.core.models import ExportJob
    from jianchama.supervision.models import Finding

    if args.drop:
        print(Finding.objects.filter(rule="bench_export").delete())
        return
    total = fill(args.rows)
    user = city_supervisor()
    client = Client()
    client.force_login(user)
    with connection.cursor() as cursor:
        cursor.execute("select version()")
        version = cursor.fetchone()[0].split(",")[0]
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, {version}"
    )
    print(f"findings in the database: {total:,}; export as the city's supervisor")
    print(
        f"EXPORT_SYNC_MAX_ROWS={settings.EXPORT_SYNC_MAX_ROWS:,} EXPORT_MAX_ROWS={settings.EXPORT_MAX_ROWS:,}"
    )
    _, _, floor, _ = worker(0)
    print(f"worker process, Django started, nothing done: peak RSS {floor / 1024:.0f} MB")
    for run in range(args.runs):
        ExportJob.objects.filter(actor=user).delete()
        started = time.perf_counter()
        response = client.get("/supervision/findings/", {"export": "xlsx"})
        asked = time.perf_counter() - started
        job = ExportJob.objects.filter(actor=user).order_by("-pk").first()
        assert response.status_code == 302 and job is not None, response.status_code
        status, seconds, rss, wall = worker(job.pk)
        job.refresh_from_db()
        size = os.path.getsize(job.file.path) if job.file else 0
        print(
            f"run {run + 1}: request (count, queue) {asked * 1000:.0f} ms; worker {status}: {job.rows_done:,} rows "
            f"in {seconds:.1f} s (process {wall:.1f} s), peak RSS {rss / 1024:.0f} MB; file {size / 1e6:.1f} MB",
            flush=True,
        )
        if job.file:
            os.remove(job.file.path)


if __name__ == "__main__":
    main()
