"""The read replica (issue 16, core/replica.py), against a real streaming replica: the test starts a PostgreSQL
primary and, with pg_basebackup, a hot standby of it, both clusters of its own on free ports, then runs the
application in a process of its own on them (tests/core/replica_story.py):

- the public plans page and its JSON are read from the replica (a plan written to the primary while the
  replica's replay is paused is not on them);
- a client that has just written reads the primary (read-your-writes: that plan is on its page);
- with the replica stopped, the page still answers, from the primary.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(found[-1]).parent if found else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    def __init__(self, bin_dir: Path, data: Path, port: int):
        self.bin, self.data, self.port = bin_dir, data, port

    def as_owner(self, *command: str) -> list[str]:
        # PostgreSQL refuses to run as root; the server's own account runs it then.
        return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else list(command)

    def run(self, *command: str) -> None:
        subprocess.run(self.as_owner(*command), check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        self.run(
            str(self.bin / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.data / "log"),
            "-w",
            "start",
            "-o",
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.data}",
        )

    def stop_command(self) -> list[str]:
        return self.as_owner(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"


@pytest.fixture
def primary_and_replica():
    bin_dir = postgres_bin()
    if bin_dir is None or (os.geteuid() == 0 and shutil.which("runuser") is None):
        # As the browser tests do for Chromium: a missing engine fails the suite rather than skipping it silently.
        pytest.fail(
            "PostgreSQL's server programs (initdb, pg_ctl, pg_basebackup) and runuser are needed here"
        )
    # Directly under /tmp: pytest's own temporary folders are closed to the server's account.
    base = Path(tempfile.mkdtemp(prefix="jc-replica-"))
    if os.geteuid() == 0:
        shutil.chown(base, "postgres")
    primary = Cluster(bin_dir, base / "primary", free_port())
    replica = Cluster(bin_dir, base / "replica", free_port())
    # initdb's default pg_hba.conf trusts local replication connections with -A trust.
    primary.run(
        str(bin_dir / "initdb"), "-D", str(primary.data), "-U", "postgres", "-A", "trust", "-E", "UTF8"
    )
    primary.start()
    try:
        primary.run(
            str(bin_dir / "psql"),
            "-h",
            "127.0.0.1",
            "-p",
            str(primary.port),
            "-U",
            "postgres",
            "-c",
            "CREATE DATABASE jc",
        )
        primary.run(
            str(bin_dir / "pg_basebackup"),
            "-h",
            "127.0.0.1",
            "-p",
            str(primary.port),
            "-U",
            "postgres",
            "-D",
            str(replica.data),
            "-R",
            "-X",
            "stream",
        )
        replica.start()
        yield primary, replica
    finally:
        subprocess.run(replica.stop_command(), capture_output=True)
        subprocess.run(primary.stop_command(), capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


def test_public_pages_read_the_replica_writers_read_the_primary_and_a_stopped_replica_is_skipped(
    primary_and_replica,
):
    primary, replica = primary_and_replica
    env = {
        **os.environ,
        "DATABASE_URL": primary.url("jc"),
        "DATABASE_REPLICA_URL": replica.url("jc"),
        "DJANGO_SETTINGS_MODULE": "jianchama.settings",
        "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}",
        "DEBUG": "0",
        "SECRET_KEY": "replica-test-secret-key-0123456789abcdefghijklmnopqrstuvwxyz",
        "REDIS_URL": "",
    }
    done = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "core" / "replica_story.py"), *replica.stop_command()],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["replica_caught_up"] and seen["replica_lacks_second"]
    # Read from the replica: the plan written while its replay was paused is not there.
    assert seen["anonymous"] == {"first": True, "second": False}
    assert seen["anonymous_json"] == ["副本已有的计划"]
    assert seen["open_data"] == ["副本已有的计划"]
    assert seen["statistics"] == {"status": 200, "shown": True}
    # Read-your-writes: the client that just wrote sees the primary.
    assert seen["writer_cookie"]
    assert seen["writer"] == {"first": True, "second": True}
    # The replica is gone: the same anonymous client is answered from the primary, without an error.
    assert seen["replica_stopped"] == {"status": 200, "first": True, "second": True}
