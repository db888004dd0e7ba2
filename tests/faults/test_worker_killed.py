"""The task worker killed in the middle of a rules run (issue 10, faults): a real `manage.py qcluster` on the
test database is SIGKILLed while the run is halfway, a new one is started, the queue delivers the job again
and the run finishes, each finding stored once.

The run is stopped at a known point without touching the code: the test holds an ACCESS EXCLUSIVE lock on
the scans table, which the second rule reads and the first does not; the worker finishes the first rule
(findings and figures committed) and waits on the lock, and is killed there. PostgreSQL only: SQLite's test
database lives in the test process's memory."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
from django.db import connection

from jianchama.inspections.models import InspectionCode, Scan
from jianchama.supervision import rules
from jianchama.supervision.models import Finding, RuleRun
from tests.inspections.conftest import build_scenario

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]


def dsn() -> str:
    s = connection.settings_dict
    return (
        f"postgresql://{s['USER'] or 'postgres'}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"
    )


def start_cluster(tmp_path: Path, **settings: str) -> subprocess.Popen:
    env = {
        **os.environ,
        **settings,
        "DATABASE_URL": dsn(),
        "PYTHONPATH": str(ROOT / "src"),
        "Q_WORKERS": "1",
        "Q_TIMEOUT_SECONDS": "20",
        "Q_RETRY_SECONDS": "25",
        "MEDIA_ROOT": str(tmp_path / "media"),
        "AUDIT_CHECKPOINT_KEY_FILE": str(tmp_path / "checkpoint-key.pem"),
        "AUDIT_CHECKPOINT_FILE": str(tmp_path / "checkpoints.jsonl"),
    }
    env.pop("REDIS_URL", None)
    log = open(tmp_path / "qcluster.log", "ab")  # noqa: SIM115 (closed with the process)
    return subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), "qcluster"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: the kill takes the sentinel and its workers at once
    )


def wait_for(condition, seconds: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.5)
    pytest.fail(f"{what} within {seconds:.0f} s; the worker's log:\n{log.read_text()[-3000:]}")


def blocked_on_a_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "select count(*) from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0] > 0


@pytest.mark.parametrize("one_pass", ["0", "1"], ids=["rule by rule", "one pass first"])
def test_a_rules_run_whose_worker_is_killed_halfway_finishes_once_on_the_next_worker(tmp_path, one_pass):
    """The worker is stopped while it waits on the scans' table (locked here): rule by rule, after the first
    rule finished, which the next worker then does not run again; with the one pass (the default of a full
    run), in the pass that reads the scans before any rule, so the next worker does everything. Either way the
    run finishes once, each finding written once."""
    if connection.vendor != "postgresql":
        pytest.skip("a second process needs the test database on a server (SQLite's lives in this process)")
    s = build_scenario()
    uncoded = s.recorded()
    InspectionCode.objects.filter(task=uncoded).delete()  # the first rule's hit: a visit without a code
    s.recorded()  # the second rule's hit: a code never scanned
    Scan.objects.all().delete()
    run = rules.queue_run(s.supervisor, rules=["no_code", "code_not_scanned"])
    log = tmp_path / "qcluster.log"
    finished_first = {"no_code"} if one_pass == "0" else set()

    lock = psycopg.connect(dsn())
    lock.execute("lock table inspections_scan in access exclusive mode")  # held until the rollback below
    first = start_cluster(tmp_path, SUPERVISION_ONE_PASS=one_pass)
    try:
        wait_for(
            lambda: set(RuleRun.objects.get(pk=run.pk).stats) == finished_first and blocked_on_a_lock(),
            90,
            "the worker did not reach the scans and wait for the lock",
            log,
        )
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(10)
    finally:
        lock.rollback()
        lock.close()
    halfway = RuleRun.objects.get(pk=run.pk)
    assert halfway.status == RuleRun.Status.RUNNING and set(halfway.stats) == finished_first

    second = start_cluster(tmp_path, SUPERVISION_ONE_PASS=one_pass)
    try:
        wait_for(
            lambda: RuleRun.objects.get(pk=run.pk).status != RuleRun.Status.RUNNING,
            120,
            "the job was not delivered again and finished",
            log,
        )
    finally:
        # Its work is done; a graceful stop would take django-q half a minute.
        os.killpg(second.pid, signal.SIGKILL)
        second.wait(20)
    done = RuleRun.objects.get(pk=run.pk)
    assert done.status == RuleRun.Status.DONE, done.error
    assert set(done.stats) == {"no_code", "code_not_scanned"}
    assert Finding.objects.filter(rule="no_code").count() == 1
    assert Finding.objects.filter(rule="code_not_scanned").count() == 1
