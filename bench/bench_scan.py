"""Benchmark of the public scan page (F-24) under concurrent load, as production serves it.

Creates a fresh PostgreSQL database of its own ("jc_bench_scan_<pid>" on the server of --database-url),
loads 1,000,000 inspection codes (enterprises, bodies, inspectors with certificates, tasks told to the
enterprise with windows covering today, their bodies, inspectors and items, and a code each with a random
48-bit public id), signs tokens for a random sample of the codes with a key made in a temporary directory,
starts gunicorn with the production settings (DEBUG off, Redis cache) and drives it with wrk from a second
process: first the scan page, rotating through the signed URLs, then a no-op page (/healthz) on the same
server. Prints requests per second and latency percentiles for both, and the conditions. Never asserts on
timing. Drops the database, the temporary files and its cache keys at the end.

    make bench-scan
    .venv/bin/python bench/bench_scan.py --codes 100000 --duration 10      # a quicker run
    .venv/bin/python bench/bench_scan.py --workers 5 --worker-class sync --threads 1   # other settings
    .venv/bin/python bench/bench_scan.py --keep-database     # then --reuse-database NAME skips the load
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import platform
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from _db import admin_sql, server_url  # noqa: E402

VENV_BIN = Path(sys.executable).parent

# One wrk script for both pages: each thread walks the list of paths from its own starting point, so that
# concurrent requests ask for different codes; done() prints the figures as one JSON line for us to read.
WRK_LUA = r"""
local paths = {}
local position = 0
local thread_count = 0

setup = function(thread)
  thread_count = thread_count + 1
  thread:set("thread_index", thread_count)
end

init = function(args)
  for line in io.lines(args[1]) do paths[#paths + 1] = line end
  local index = tonumber(wrk.thread:get("thread_index")) or 1
  position = math.floor((index - 1) * #paths / 8) % #paths
end

request = function()
  position = position % #paths + 1
  return wrk.format("GET", paths[position])
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK-JSON {"requests": %d, "duration_us": %d, "bytes": %d, "mean_us": %.1f, "p50_us": %d, "p90_us": %d, '
    .. '"p99_us": %d, "max_us": %d, "connect_errors": %d, "read_errors": %d, "write_errors": %d, '
    .. '"status_errors": %d, "timeouts": %d}\n',
    summary.requests, summary.duration, summary.bytes, latency.mean, latency:percentile(50),
    latency:percentile(90), latency:percentile(99), latency.max, e.connect, e.read, e.write, e.status,
    e.timeout))
end
"""


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
    parser.add_argument(
        "--redis-url",
        default=os.getenv("REDIS_URL", "") or "redis://127.0.0.1:6379/0",
        help="Redis for the server's cache, as production has (default: $REDIS_URL, else local)",
    )
    parser.add_argument("--codes", type=int, default=1_000_000, help="inspection codes loaded (1000000)")
    parser.add_argument("--sample", type=int, default=20_000, help="distinct codes scanned (20000)")
    parser.add_argument("--duration", type=int, default=30, help="seconds of load per page (30)")
    parser.add_argument("--warmup", type=int, default=5, help="seconds of scans before measuring (5)")
    parser.add_argument("--connections", type=int, default=16, help="concurrent connections (16)")
    parser.add_argument("--wrk-threads", type=int, default=2, help="wrk threads (2)")
    # The defaults are the README's production command: gthread workers, one more process than cores.
    parser.add_argument("--workers", type=int, default=0, help="gunicorn workers (default: cores + 1)")
    parser.add_argument("--worker-class", default="gthread", help="gunicorn worker class (gthread)")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker (4)")
    parser.add_argument(
        "--gunicorn-args", default="", help="further gunicorn arguments, e.g. '--backlog 4096'"
    )
    parser.add_argument(
        "--server-side-binding",
        choices=["0", "1"],
        default="1",
        help="DATABASE_SERVER_SIDE_BINDING for the server, as the README recommends (1)",
    )
    parser.add_argument(
        "--scan-log-stream",
        choices=["0", "1"],
        default="1",
        help="SCAN_LOG_STREAM for the server: genuine scans' rows through the Redis stream and the flusher, "
        "which the bench starts and measures (1, as with REDIS_URL in production), or each written at once (0)",
    )
    parser.add_argument(
        "--cold-cards",
        action="store_true",
        help="do not build the sampled codes' scan cards before the run (production builds a code's card when "
        "its task is told to the enterprise; cold, every code's first scan builds it)",
    )
    parser.add_argument(
        "--scan-card-seconds",
        default=str(7 * 24 * 3600),
        help="SCAN_CARD_SECONDS for the server: how long a scan card is cached (0: never, each scan reads and "
        "renders its task)",
    )
    parser.add_argument(
        "--keep-database", action="store_true", help="leave the loaded database for --reuse-database"
    )
    parser.add_argument(
        "--reuse-database", metavar="NAME", help="measure on a database kept by --keep-database (not dropped)"
    )
    return parser.parse_args()


# ---------------------------------------------------------------- the database and the data


def insert_select(model, params: dict, values: dict[str, str], source: str, *, select_only=False) -> str:
    """INSERT INTO the model's table SELECT the given SQL expressions (by field name) FROM `source`; every
    other column gets the field's default (NULL, '' or its `default`), so the loader keeps up with fields
    that are added later."""
    from django.db import connection
    from django.db.models import DateField

    columns, expressions = [], []
    for model_field in model._meta.concrete_fields:
        columns.append(connection.ops.quote_name(model_field.column))
        if model_field.name in values:
            expressions.append(values[model_field.name])
        elif isinstance(model_field, DateField) and (model_field.auto_now or model_field.auto_now_add):
            expressions.append("now()")
        else:
            default = model_field.get_default()
            if default is None and not model_field.null:
                sys.exit(f"bench_scan: no value for {model.__name__}.{model_field.name}; add one to load()")
            name = f"default_{model._meta.db_table}_{model_field.column}"
            params[name] = model_field.get_db_prep_save(default, connection)
            expressions.append(f"%({name})s")
    select = f"select {', '.join(expressions)} from {source}"
    if select_only:
        return select
    return f"insert into {model._meta.db_table} ({', '.join(columns)}) {select}"


def load(codes: int) -> dict[str, int]:
    """The registry through the ORM (a few hundred rows), then the tasks and codes with set-based SQL."""
    from django.db import DatabaseError, connection
    from django.utils import timezone

    from jianchama.core.models import User
    from jianchama.core.roles import Role
    from jianchama.registry.models import (
        Certificate,
        EnforcementBody,
        Field,
        InspectionItem,
        Inspector,
        Region,
    )

    today = timezone.localdate()
    city = Region.objects.create(code="310000", name="上海市", level=Region.Level.CITY)
    district = Region.objects.create(code="310116", name="金山区", level=Region.Level.DISTRICT, parent=city)
    admin = User.objects.create(username="bench", role=Role.PLATFORM_ADMIN, full_name="基准测试")
    fields = [Field.objects.create(code=f"F{n}", name=f"执法领域{n}") for n in range(1, 6)]
    bodies, items, inspectors = [], [], []
    for n in range(1, 41):
        body = EnforcementBody.objects.create(
            code=f"B{n:03d}",
            name=f"金山区示例执法单位{n}",
            body_type=EnforcementBody.Type.ORGAN,
            level=EnforcementBody.Level.DISTRICT,
            region=district,
        )
        bodies.append(body)
        for k in range(3):
            item = InspectionItem.objects.create(
                code=f"I{n:03d}{k}",
                name=f"示例检查事项{n}-{k}（燃气经营许可条件的保持情况）",
                field=fields[n % len(fields)],
                legal_basis="《城镇燃气管理条例》第十五条",
                checklist=["检查内容一", "检查内容二"],
            )
            item.bodies.add(body)
            items.append(item)
        for k in range(10):
            inspector = Inspector.objects.create(name=f"执法员{n}-{k}", body=body, phone=f"139{n:04d}{k:04d}")
            inspectors.append(inspector)
            # A renewed certificate: an expired one and the valid one, as most inspectors have.
            Certificate.objects.create(
                number=f"31{n:03d}{k:03d}01",
                inspector=inspector,
                valid_from=today - datetime.timedelta(days=6 * 365),
                valid_until=today - datetime.timedelta(days=3 * 365),
            )
            Certificate.objects.create(
                number=f"31{n:03d}{k:03d}02",
                inspector=inspector,
                valid_from=today - datetime.timedelta(days=3 * 365),
                valid_until=today + datetime.timedelta(days=3 * 365),
            )
    enterprises = max(1, codes // 4)
    body_ids = [b.pk for b in bodies]
    item_ids = [i.pk for i in items]  # three per body, in body order
    inspector_ids = [i.pk for i in inspectors]  # ten per body, in body order
    nb = len(body_ids)
    # A bijection of the 48-bit space (an odd multiplier, then a random xor): unique, random-looking ids.
    multiplier, mask = 0x5DEECE66D, random.getrandbits(48)
    params = {
        "n": codes,
        "e": enterprises,
        "nb": nb,
        "bodies": body_ids,
        "items": item_ids,
        "inspectors": inspector_ids,
        "region": district.pk,
        "admin": admin.pk,
        "today": today,
        "mult": multiplier,
        "mask": mask,
    }
    from jianchama.inspections.models import InspectionCode, Task, TaskBody
    from jianchama.registry.models import Enterprise

    # Task i is led by body b = i % nb; every tenth task is joint with body (i + 1) % nb.
    statements = [
        (
            "enterprises",
            insert_select(
                Enterprise,
                params,
                {
                    "id": "i",
                    "uscc": "'91310116B' || lpad(i::text, 9, '0')",
                    "name": "'上海示例燃气有限公司' || i",
                    "address": "'上海市金山区示例路' || i || '号'",
                    "industry": "'燃气生产和供应业'",
                    "legal_representative": "'王' || mod(i, 1000)",
                    "region": "%(region)s",
                },
                "generate_series(1, %(e)s) i",
            ),
        ),
        (
            "tasks",
            insert_select(
                Task,
                params,
                {
                    "id": "i",
                    "number": "'JC2026' || lpad(i::text, 8, '0')",
                    "legal_basis": "'《城镇燃气管理条例》第十五条；《上海市燃气管理条例》第二十条'",
                    "kind": "(array['random', 'special', 'routine'])[1 + mod(i, 3)]",
                    "window_start": "%(today)s::date - mod(i, 3)",
                    "window_end": "%(today)s::date + 3 + mod(i, 30)",
                    "status": "'notified'",
                    "created_at": "now() - interval '3 days'",
                    "submitted_at": "now() - interval '3 days'",
                    "approved_at": "now() - interval '2 days'",
                    "notified_at": "now() - interval '2 days'",
                    "created_by": "%(admin)s",
                    "enterprise": "1 + mod(i - 1, %(e)s)",
                    "lead_body": "(%(bodies)s::bigint[])[1 + mod(i, %(nb)s)]",
                },
                "generate_series(1, %(n)s) i",
            ),
        ),
        (
            "task bodies",
            insert_select(
                TaskBody,
                params,
                {
                    "id": "i",
                    "approved_at": "now() - interval '2 days'",
                    "approved_by": "%(admin)s",
                    "task_created_at": "now() - interval '3 days'",
                    "task_status": "'notified'",
                    "body": "(%(bodies)s::bigint[])[1 + mod(i, %(nb)s)]",
                    "task": "i",
                },
                "generate_series(1, %(n)s) i",
            )
            + " union all "
            + insert_select(
                TaskBody,
                params,
                {
                    "id": "%(n)s + i / 10",
                    "approved_at": "now() - interval '2 days'",
                    "approved_by": "%(admin)s",
                    "task_created_at": "now() - interval '3 days'",
                    "task_status": "'notified'",
                    "body": "(%(bodies)s::bigint[])[1 + mod(i + 1, %(nb)s)]",
                    "task": "i",
                },
                "generate_series(10, %(n)s, 10) i",
                select_only=True,
            ),
        ),
        (
            "task body items",
            """insert into inspections_taskbody_items (taskbody_id, inspectionitem_id)
               select i, (%(items)s::bigint[])[1 + 3 * (mod(i, %(nb)s)) + mod(i, 3)] from generate_series(1, %(n)s) i
               union all
               select i, (%(items)s::bigint[])[1 + 3 * (mod(i, %(nb)s)) + mod(i + 1, 3)]
               from generate_series(1, %(n)s) i
               union all
               select %(n)s + i / 10, (%(items)s::bigint[])[1 + 3 * (mod(i + 1, %(nb)s))]
               from generate_series(10, %(n)s, 10) i""",
        ),
        (
            "task items",
            """insert into inspections_task_items (task_id, inspectionitem_id)
               select taskbody.task_id, link.inspectionitem_id
               from inspections_taskbody_items link join inspections_taskbody taskbody
                    on taskbody.id = link.taskbody_id""",
        ),
        (
            "task inspectors",
            """insert into inspections_task_inspectors (task_id, inspector_id)
               select i, (%(inspectors)s::bigint[])[1 + 10 * (mod(i, %(nb)s)) + mod(i, 10)]
               from generate_series(1, %(n)s) i
               union all
               select i, (%(inspectors)s::bigint[])[1 + 10 * (mod(i, %(nb)s)) + mod(i + 1, 10)]
               from generate_series(1, %(n)s) i
               union all
               select i, (%(inspectors)s::bigint[])[1 + 10 * (mod(i + 1, %(nb)s)) + mod(i, 10)]
               from generate_series(10, %(n)s, 10) i""",
        ),
        (
            "inspection codes",
            insert_select(
                InspectionCode,
                params,
                {
                    "id": "i",
                    "public_id": "((i * %(mult)s) & 281474976710655) # %(mask)s",
                    "valid_from": "t.window_start",
                    "valid_until": "t.window_end",
                    "status": "'active'",
                    "issued_at": "now() - interval '2 days'",
                    "enterprise": "t.enterprise_id",
                    "task": "i",
                },
                "generate_series(1, %(n)s) i join inspections_task t on t.id = i",
            ),
        ),
    ]
    counts: dict[str, int] = {}
    with connection.cursor() as cursor:
        # This loading session only: no waiting for the disk, and no foreign-key triggers (the rows are
        # consistent by construction), which more than halves the load.
        cursor.execute("set synchronous_commit = off")
        replica = True
        try:
            cursor.execute("set session_replication_role = replica")  # a superuser's right
        except DatabaseError:
            replica = False
            print("  (not a superuser: loading with foreign-key checks, which takes about twice as long)")
        for label, sql in statements:
            started = time.perf_counter()
            cursor.execute(sql, params)
            counts[label] = cursor.rowcount
            print(
                f"  loaded {label:<17} {cursor.rowcount:>10,} rows in {time.perf_counter() - started:5.1f} s"
            )
        # Explicit ids were given: move the identity sequences past them, as the application inserts too.
        for table in (
            "registry_enterprise",
            "inspections_task",
            "inspections_taskbody",
            "inspections_inspectioncode",
        ):
            cursor.execute(
                f"select setval(pg_get_serial_sequence('{table}', 'id'), (select max(id) from {table}))"
            )
        if replica:
            cursor.execute("set session_replication_role = origin")
        started = time.perf_counter()
        cursor.execute("vacuum analyze")
        print(f"  vacuum analyze                           in {time.perf_counter() - started:5.1f} s")
    return counts


def existing_counts() -> dict[str, int]:
    from django.db import connection

    tables = {
        "enterprises": "registry_enterprise",
        "tasks": "inspections_task",
        "task bodies": "inspections_taskbody",
        "task inspectors": "inspections_task_inspectors",
        "task items": "inspections_task_items",
        "inspection codes": "inspections_inspectioncode",
    }
    with connection.cursor() as cursor:
        counts = {}
        for label, table in tables.items():
            cursor.execute(f"select count(*) from {table}")
            counts[label] = cursor.fetchone()[0]
    return counts


def sample_public_ids(sample: int) -> list[int]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "select public_id from inspections_inspectioncode order by random() limit %s", [sample]
        )
        return [row[0] for row in cursor.fetchall()]


# ---------------------------------------------------------------- the server and the load


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ensure_wrk() -> str:
    """wrk from Debian, installed the way scripts/system-deps.sh installs chromium."""
    found = shutil.which("wrk")
    if found:
        return found
    print("安装系统依赖：wrk", flush=True)
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run([*sudo, "apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(
        [*sudo, "apt-get", "install", "-y", "-qq", "--no-install-recommends", "wrk"], check=True, env=env
    )
    found = shutil.which("wrk")
    if not found:
        sys.exit("wrk is not installed and could not be installed: apt-get install wrk")
    return found


def wait_until_up(url: str, process: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"gunicorn exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2) as response:
            if response.status == 200:
                return
        time.sleep(0.2)
    sys.exit(f"gunicorn did not answer {url} within {timeout:.0f} s:\n{log.read_text()[-3000:]}")


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def status_without_redirects(url: str) -> int:
    """The status a page answers with, redirects not followed."""
    try:
        with urllib.request.build_opener(_NoRedirects).open(url, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def stop(process: subprocess.Popen | None) -> None:
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)  # gunicorn's master stops its workers gracefully
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)  # its own session: the master and its workers only
        process.wait()


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of these processes so far."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    return total / ticks


def machine_busy_seconds() -> tuple[float, float]:
    """CPU seconds the whole machine has been busy, and elapsed CPU seconds (busy + idle), from /proc/stat."""
    ticks = os.sysconf("SC_CLK_TCK")
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    idle = fields[3] + fields[4]
    return (sum(fields) - idle) / ticks, sum(fields) / ticks


class CpuMeter:
    """Where the CPU goes during a run: the server's processes, the PostgreSQL backends serving it, Redis,
    wrk, and the machine as a whole (other work on it included). Counted per process, so that a backend
    replaced during the run (CONN_MAX_AGE) counts from when it appears; one that ends is lost (a little)."""

    def __init__(self, server: subprocess.Popen, redis_url: str, flusher: subprocess.Popen | None) -> None:
        self.server = server
        self.flusher = flusher
        self.redis = []
        with contextlib.suppress(Exception):
            import redis

            self.redis = [int(redis.Redis.from_url(redis_url).info("server")["process_id"])]

    @staticmethod
    def backends() -> list[int]:
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute(
                "select pid from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()"
            )
            return [row[0] for row in cursor.fetchall()]

    def snapshot(self) -> dict:
        import resource

        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        busy, elapsed = machine_busy_seconds()
        return {
            "gunicorn": {pid: cpu_seconds([pid]) for pid in server_pids(self.server.pid)},
            "flusher": {pid: cpu_seconds([pid]) for pid in ([self.flusher.pid] if self.flusher else [])},
            "postgres": {pid: cpu_seconds([pid]) for pid in self.backends()},
            "redis": {pid: cpu_seconds([pid]) for pid in self.redis},
            "wrk": children.ru_utime + children.ru_stime,
            "busy": busy,
            "elapsed": elapsed,
        }

    @staticmethod
    def spent(before: dict, after: dict) -> dict[str, float]:
        spent = {}
        for key, value in after.items():
            if isinstance(value, dict):
                spent[key] = sum(max(v - before[key].get(pid, 0.0), 0.0) for pid, v in value.items())
            else:
                spent[key] = value - before[key]
        return spent


def server_pids(master: int) -> list[int]:
    children = Path(f"/proc/{master}/task/{master}/children")
    with contextlib.suppress(OSError):
        return [master, *map(int, children.read_text().split())]
    return [master]


def run_wrk(wrk: str, script: Path, paths: Path, base: str, args: argparse.Namespace, seconds: int) -> dict:
    command = [
        wrk,
        f"-t{args.wrk_threads}",
        f"-c{args.connections}",
        f"-d{seconds}s",
        "--timeout",
        "10s",
        "-s",
        str(script),
        base,
        "--",
        str(paths),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 120)
    for line in result.stdout.splitlines():
        if line.startswith("WRK-JSON "):
            return json.loads(line[len("WRK-JSON ") :])
    sys.exit(f"wrk failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")


# ---------------------------------------------------------------- main


def main() -> None:
    args = parse_args()
    if not args.database_url.startswith(("postgres://", "postgresql://")):
        sys.exit("--database-url: a PostgreSQL URL, e.g. postgres://postgres@127.0.0.1:5432/postgres")
    wrk = ensure_wrk()
    workers = args.workers or (os.cpu_count() or 1) + 1
    name = args.reuse_database or f"jc_bench_scan_{os.getpid()}"
    url = server_url(args.database_url, name)
    workdir = Path(tempfile.mkdtemp(prefix="jc-bench-scan-"))
    key_prefix = f"jc-bench-scan-{os.getpid()}"
    environment = {
        "DATABASE_URL": url,
        "DEBUG": "0",
        "SECRET_KEY": "bench-only-not-secret-" + os.urandom(8).hex(),
        "ALLOWED_HOSTS": "127.0.0.1",
        "REDIS_URL": args.redis_url,
        "CACHE_KEY_PREFIX": key_prefix,
        "CODE_SIGNING_KEY_DIR": str(workdir / "keys"),
        "CODE_SIGNING_KEY": "",
        # All the load comes from one address, so the per-address limit (60/m in production) is lifted.
        "SCAN_RATE_LIMIT": "100000000/m",
        # Plain HTTP on loopback, as behind a TLS-terminating proxy that redirects HTTP itself (README,
        # Production); with the production default every scan would be answered by a redirect to https.
        "SECURE_SSL_REDIRECT": "0",
        "DATABASE_SERVER_SIDE_BINDING": args.server_side_binding,
        "SCAN_LOG_STREAM": args.scan_log_stream,
        "SCAN_CARD_SECONDS": args.scan_card_seconds,
        "LOG_LEVEL": "WARNING",
    }
    os.environ.update(environment)
    os.environ["DJANGO_SETTINGS_MODULE"] = "jianchama.settings"
    if not args.reuse_database:
        admin_sql(args.database_url, f"create database {name}")
    processes: list[subprocess.Popen] = []
    try:
        import django

        django.setup()
        run(args, wrk, workers, workdir, environment, processes)
    finally:
        for process in processes:
            stop(process)
        from django.db import connections

        connections.close_all()
        if args.keep_database or args.reuse_database:
            print(f"  kept the database {name}: drop database {name} when done with it")
        else:
            admin_sql(args.database_url, f"drop database if exists {name} with (force)")
        shutil.rmtree(workdir, ignore_errors=True)
        with contextlib.suppress(Exception):
            import redis

            client = redis.Redis.from_url(args.redis_url)
            keys = list(client.scan_iter(f"{key_prefix}:*", count=1000))
            if keys:
                client.delete(*keys)


def run(
    args: argparse.Namespace,
    wrk: str,
    workers: int,
    workdir: Path,
    environment: dict[str, str],
    processes: list[subprocess.Popen],
) -> None:
    from django.core.management import call_command
    from django.db import connection

    from jianchama.inspections import scan_log, signing
    from jianchama.inspections.models import Scan

    print("Scan page benchmark (F-24)", flush=True)
    if args.reuse_database:
        counts = existing_counts()
        migrate_seconds = load_seconds = 0.0
    else:
        started = time.perf_counter()
        call_command("migrate", verbosity=0)
        migrate_seconds = time.perf_counter() - started
        started = time.perf_counter()
        counts = load(args.codes)
        load_seconds = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute("show server_version")
        pg_version = cursor.fetchone()[0]
        cursor.execute("select pg_size_pretty(pg_database_size(current_database()))")
        db_size = cursor.fetchone()[0]

    signing.rotate_key(workdir / "keys")
    started = time.perf_counter()
    public_ids = sample_public_ids(args.sample)
    # Valid for an hour, so that long runs stay genuine (the phone's tokens live CODE_TOKEN_TTL_SECONDS).
    paths = workdir / "scan-paths.txt"
    paths.write_text("".join(f"/C/{signing.issue_token(pid, ttl_seconds=3600)}\n" for pid in public_ids))
    noop_paths = workdir / "noop-paths.txt"
    noop_paths.write_text("/healthz\n")
    token_seconds = time.perf_counter() - started
    card_seconds = 0.0
    if not args.cold_cards and int(args.scan_card_seconds) > 0:
        # What notification does for each task (services._notify → scan_card.refresh_on_commit), done here for
        # the sampled codes, whose tasks the loader wrote without the services.
        from jianchama.inspections import scan_card

        started = time.perf_counter()
        scan_card.refresh(public_ids)
        card_seconds = time.perf_counter() - started
    script = workdir / "rotate.lua"
    script.write_text(WRK_LUA)

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [
        str(VENV_BIN / "gunicorn"),
        "jianchama.wsgi",
        "-w",
        str(workers),
        "-k",
        args.worker_class,
        "--threads",
        str(args.threads),
        "-b",
        f"127.0.0.1:{port}",
        *args.gunicorn_args.split(),
    ]
    log = workdir / "gunicorn.log"
    with log.open("w") as log_file:
        server = subprocess.Popen(
            command,
            env={**os.environ, **environment},
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    processes.append(server)
    flusher = None
    if args.scan_log_stream == "1":
        # The scan log's flusher, as production runs it beside the task worker (inspections/scan_log.py): the
        # genuine scans' rows are written by it, a batch a second, and its CPU is counted with the scans'.
        flusher_log = workdir / "flusher.log"
        with flusher_log.open("w") as log_file:
            flusher = subprocess.Popen(
                [sys.executable, str(ROOT / "manage.py"), "flush_scan_log"],
                env={**os.environ, **environment},
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        processes.append(flusher)
    wait_until_up(f"{base}/healthz", server, log)
    first_path = paths.read_text().split("\n", 1)[0]
    status = status_without_redirects(base + first_path)
    if status != 200:
        sys.exit(
            f"the scan page answered {status} instead of 200 (a redirect or an error page would be measured):\n"
            f"{log.read_text()[-3000:]}"
        )

    def scans() -> int:
        return Scan.objects.count()

    def last_scan_id() -> int:
        return Scan.objects.order_by("-pk").values_list("pk", flat=True).first() or 0

    def drained(timeout: float = 120) -> float:
        """Seconds until the flusher has written every scan waiting in the stream."""
        started = time.monotonic()
        while scan_log.waiting() and time.monotonic() - started < timeout:
            time.sleep(0.1)
        return time.monotonic() - started

    if args.warmup:
        run_wrk(wrk, script, paths, base, args, args.warmup)
    drained()
    before_id = last_scan_id()
    cards_before = card_count(args.redis_url, environment["CACHE_KEY_PREFIX"])
    load_before = os.getloadavg()
    meter = CpuMeter(server, args.redis_url, flusher)
    before = meter.snapshot()
    scan = run_wrk(wrk, script, paths, base, args, args.duration)
    backlog = scan_log.waiting()
    drain_seconds = drained()
    scan_cpu = meter.spent(before, meter.snapshot())
    cards_built = card_count(args.redis_url, environment["CACHE_KEY_PREFIX"]) - cards_before
    outcomes = outcome_counts(before_id)
    written = sum(outcomes.values())
    before = meter.snapshot()
    noop = run_wrk(wrk, script, noop_paths, base, args, args.duration)
    noop_cpu = meter.spent(before, meter.snapshot())
    load_after = os.getloadavg()

    def rate(figures: dict) -> float:
        return figures["requests"] / (figures["duration_us"] / 1e6)

    gunicorn_version = subprocess.run(
        [str(VENV_BIN / "gunicorn"), "--version"], capture_output=True, text=True
    ).stdout.strip()
    wrk_version = subprocess.run([wrk, "--version"], capture_output=True, text=True).stdout.split(
        "Copyright"
    )[0]
    print()
    print(f"  machine   : {os.cpu_count()} cores, {platform.machine()}, {platform.platform()}")
    print(f"  python    : {platform.python_version()} ({platform.python_implementation()})")
    print(f"  database  : PostgreSQL {pg_version}, a fresh database of {db_size}")
    print(f"  cache     : Redis at {args.redis_url}")
    print(
        f"  data      : {counts['inspection codes']:,} codes, {counts['tasks']:,} tasks (status notified, "
        f"windows covering today), {counts['enterprises']:,} enterprises, {counts['task bodies']:,} task "
        f"bodies (every tenth task joint), {counts['task inspectors']:,} task inspectors, "
        f"{counts['task items']:,} task items; 40 bodies, 400 inspectors with 800 certificates, 120 items"
    )
    print(
        f"              migrated in {migrate_seconds:.1f} s, loaded in {load_seconds:.1f} s; "
        f"{len(public_ids):,} tokens signed in {token_seconds:.1f} s"
        + (
            f"; their scan cards built in {card_seconds:.1f} s, as notification builds them"
            if card_seconds
            else "; no scan card built before the run (cold)"
        )
    )
    print(f"  server    : {' '.join(Path(c).name if i == 0 else c for i, c in enumerate(command))}")
    print(
        f"              {gunicorn_version}: {workers} workers, class {args.worker_class}, "
        f"{args.threads} threads each; DEBUG=0, REDIS_URL set, CONN_MAX_AGE "
        f"{connection.settings_dict['CONN_MAX_AGE']}, DATABASE_SERVER_SIDE_BINDING={args.server_side_binding}"
    )
    print(
        f"              SCAN_CARD_SECONDS={args.scan_card_seconds}, SCAN_LOG_STREAM={args.scan_log_stream}"
        + ("; manage.py flush_scan_log beside it (a batch a second)" if args.scan_log_stream == "1" else "")
    )
    print(
        "              SCAN_RATE_LIMIT=100000000/m: all the load comes from one address, which the "
        "production limit (60/m per address) would refuse; the limiter still counts every scan in Redis"
    )
    print(
        f"  load      : {wrk_version.strip()}, {args.wrk_threads} threads, {args.connections} connections, "
        f"{args.duration} s per page after {args.warmup} s of warm-up scans, on the same machine"
    )
    print(f"              load average before {load_before[0]:.2f}, after {load_after[0]:.2f}")
    print()
    pages = (
        (f"scan /C/<token> ({len(public_ids):,} codes)", scan, scan_cpu),
        ("no-op /healthz", noop, noop_cpu),
    )
    print(
        f"  {'page':<34} {'requests/s':>10} {'p50 ms':>7} {'p90 ms':>7} {'p99 ms':>7} {'max ms':>7} {'errors':>6}"
    )
    for label, figures, _ in pages:
        errors = sum(
            figures[k] for k in ("connect_errors", "read_errors", "write_errors", "status_errors", "timeouts")
        )
        print(
            f"  {label:<34} {rate(figures):>10,.0f} {figures['p50_us'] / 1000:>7.1f} "
            f"{figures['p90_us'] / 1000:>7.1f} {figures['p99_us'] / 1000:>7.1f} {figures['max_us'] / 1000:>7.1f} "
            f"{errors:>6}"
        )
    print()
    print(
        f"  {'CPU ms per request':<34} {'gunicorn':>10} {'flusher':>8} {'postgres':>9} {'redis':>7} {'wrk':>7} "
        f"{'ours':>7} {'machine':>8}  machine busy"
    )
    for label, figures, cpu in pages:
        n = max(figures["requests"], 1)
        ours = cpu["gunicorn"] + cpu["flusher"] + cpu["postgres"] + cpu["redis"] + cpu["wrk"]
        print(
            f"  {label:<34} {1000 * cpu['gunicorn'] / n:>10.2f} {1000 * cpu['flusher'] / n:>8.2f} "
            f"{1000 * cpu['postgres'] / n:>9.2f} "
            f"{1000 * cpu['redis'] / n:>7.2f} {1000 * cpu['wrk'] / n:>7.2f} {1000 * ours / n:>7.2f} "
            f"{1000 * cpu['busy'] / n:>8.2f}  {cpu['busy'] / cpu['elapsed']:.0%} "
            f"(others' work {max(cpu['busy'] - ours, 0) / cpu['elapsed']:.0%})"
        )
    print()
    print(f"  scan / no-op throughput: {rate(scan) / rate(noop):.0%}")
    print(
        f"  scans logged during the measured run: {written:,} "
        f"({', '.join(f'{k} {v:,}' for k, v in sorted(outcomes.items()))}); "
        f"in all, with the warm-up: {scans():,}"
    )
    if args.scan_log_stream == "1":
        print(
            f"  scan log: {backlog:,} scans still in the stream when the load stopped, written by the flusher "
            f"{drain_seconds:.1f} s later (its CPU until then is in the scan row)"
        )
    print(
        f"  scan cards built (cache misses) during the measured run: {cards_built:,} of {scan['requests']:,} "
        f"scans ({cards_built / max(scan['requests'], 1):.0%}); the rest read their card from the cache"
    )
    if written < scan["requests"] * 0.9:
        print(
            f"  WARNING: {scan['requests']:,} scan requests but only {written:,} scans logged: the figures above "
            "did not measure the scan page (see the server log's answers)"
        )


def card_count(redis_url: str, prefix: str) -> int:
    """Scan cards in the cache (inspections/scan_card.py): each was built by a scan that found none."""
    import redis

    client = redis.Redis.from_url(redis_url)
    return sum(1 for _ in client.scan_iter(f"{prefix}:*:scan-card:*", count=5000))


def outcome_counts(after_id: int) -> dict[str, int]:
    """Outcomes of the scans logged after the scan `after_id`."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "select outcome, count(*) from inspections_scan where id > %s group by outcome", [after_id]
        )
        return dict(cursor.fetchall())


if __name__ == "__main__":
    main()
