"""Many web and worker nodes (issue 16): two application instances (gunicorn, each a process of its own) behind
a real nginx (Debian's) that deals the requests out in turn, and two task-queue clusters, all on one database
and one Redis. The main story is driven through nginx over HTTP — a body's system creates, submits and
approves a task and takes its code through the API, a staff user logs in and reads the task, the code is
scanned, the result is recorded with an uploaded photo, the photo is downloaded — and nothing may depend on
which instance answers:

- a login made on one instance is a session on the other (sessions in the database), a logout on one ends it
  on both, and a form's CSRF token from one is accepted by the other (one SECRET_KEY);
- a rate limit counts the requests of both instances together (the counter is in Redis, not in a process);
- a file uploaded through one instance is served by the other (one media folder);
- a schedule that is due is run once, whichever of the two clusters sees it first.

The instances are processes of their own and need a database server: the SQLite leg's test database is in
memory, so there each test runs again in a pytest of its own on a PostgreSQL database made for it (the same
server the PostgreSQL leg uses), and passes only if that run passed.
"""

from __future__ import annotations

import base64
import io
import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import redis
import requests
import zxingcpp
from django.conf import settings as django_settings
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.db import connection
from django.utils import timezone
from PIL import Image

from jianchama.inspections.models import Evidence, Task
from tests.api.conftest import build_body, task_payload
from tests.api.test_story import png_bytes, result_form

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]
NGINX = shutil.which("nginx") or str(ROOT / "var" / "nginx" / "usr" / "sbin" / "nginx")
PASSWORD = "Two-Nodes-2026!"
SCAN_LIMIT = 8  # scans per address and hour, counted across both instances
REDIS_DB = 13


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"process exited with {process.returncode} before listening on {port}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError(f"nothing listens on {port} after {seconds} s")


def database_url() -> str:
    db = django_settings.DATABASES["default"]
    user, host, port = db.get("USER") or "postgres", db.get("HOST") or "127.0.0.1", db.get("PORT") or 5432
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{user}{password}@{host}:{port}/{db['NAME']}"


def run_on_a_postgresql_database(nodeid: str) -> None:
    """The SQLite leg: run this one test in a pytest of its own whose database is PostgreSQL (pytest-django
    makes and drops its test database on the server of `SERVER`), and fail with its output if it fails."""
    server = os.environ.get("TWO_INSTANCES_POSTGRES", "postgres://postgres@127.0.0.1:5432")
    env = {**os.environ, "DATABASE_URL": f"{server}/jc_two_instances_{uuid.uuid4().hex[:12]}"}
    env.pop("PYTEST_XDIST_WORKER", None)
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:xdist", "-rA", nodeid],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, f"on PostgreSQL:\n{run.stdout[-6000:]}\n{run.stderr[-2000:]}"
    assert f"PASSED {nodeid}" in run.stdout, run.stdout[-2000:]  # run, not skipped


@pytest.fixture
def cluster(request, settings, tmp_path):
    """Two gunicorn instances and nginx in front of them; yields (nginx's URL, the instances' env, a starter
    of further processes, the instances' addresses). In the SQLite leg the test has then already run on
    PostgreSQL in a process of its own, and None is yielded."""
    if connection.vendor != "postgresql":
        run_on_a_postgresql_database(request.node.nodeid)
        yield None
        return
    if not os.path.exists(NGINX):
        pytest.fail("nginx is not available: run `make system-deps` (make test does it)")
    redis.Redis.from_url(f"redis://127.0.0.1:6379/{REDIS_DB}").ping()  # Redis is part of the cluster
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT / "src"),
        "DATABASE_URL": database_url(),
        "REDIS_URL": f"redis://127.0.0.1:6379/{REDIS_DB}",
        # Counters of this run only (another test may run beside it on the same Redis).
        "CACHE_KEY_PREFIX": f"two-instances-{uuid.uuid4().hex}",
        "DEBUG": "0",
        "SECRET_KEY": "two-instances-test-secret-key-0123456789abcdef",
        "SECURE_SSL_REDIRECT": "0",
        "ALLOWED_HOSTS": "127.0.0.1",
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "CODE_SIGNING_KEY_DIR": str(settings.CODE_SIGNING_KEY_DIR),
        "SCAN_RATE_LIMIT": f"{SCAN_LIMIT}/h",
        "Q_WORKERS": "1",
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    processes: list[subprocess.Popen] = []
    logs = tmp_path / "logs"
    logs.mkdir()

    def start(name: str, command: list[str]) -> subprocess.Popen:
        log = open(logs / f"{name}.log", "wb")  # noqa: SIM115 (closed with the process below)
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        process.log = log  # type: ignore[attr-defined]
        processes.append(process)
        return process

    ports = [free_port(), free_port()]
    try:
        for number, port in enumerate(ports):
            process = start(
                f"web{number}",
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "jianchama.wsgi:application",
                    "--bind",
                    f"127.0.0.1:{port}",
                    "--workers",
                    "1",
                    "--threads",
                    "2",
                ],
            )
            wait_for_port(port, process)
        run = tmp_path / "nginx"
        run.mkdir()
        port = free_port()
        temp = " ".join(
            f"{kind}_temp_path {run}/{kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        servers = " ".join(f"server 127.0.0.1:{p};" for p in ports)
        (run / "nginx.conf").write_text(f"""
user {pwd.getpwuid(os.getuid()).pw_name};
worker_processes 1;
error_log {run}/error.log;
pid {run}/nginx.pid;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_max_body_size 20m;
    {temp}
    upstream app {{ {servers} }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://app;
            proxy_set_header Host 127.0.0.1;
            add_header X-Upstream $upstream_addr always;
        }}
    }}
}}
""")
        process = start("nginx", [NGINX, "-p", str(run), "-c", str(run / "nginx.conf"), "-g", "daemon off;"])
        wait_for_port(port, process)
        yield f"http://127.0.0.1:{port}", env, start, {f"127.0.0.1:{p}" for p in ports}
    finally:
        for process in reversed(processes):
            process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            process.log.close()  # type: ignore[attr-defined]
        # The instances' connections are closed before the test database is flushed.
        connection.close()


class Browser:
    """A client that keeps its cookies over plain HTTP (the application marks them Secure when DEBUG is
    off: behind a TLS proxy in production, here nginx speaks HTTP) and notes which instance answered."""

    def __init__(self, base: str, key: str | None = None):
        self.base, self.http, self.upstreams = base, requests.Session(), []
        if key:
            self.http.headers["Authorization"] = f"Bearer {key}"

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        response = self.http.request(method, self.base + path, allow_redirects=False, timeout=30, **kwargs)
        for cookie in self.http.cookies:
            cookie.secure = False
        self.upstreams.append(response.headers.get("X-Upstream"))
        return response

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs) -> requests.Response:
        return self.request("POST", path, **kwargs)


def csrf_token(page: str) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)


def test_the_story_through_two_instances_behind_nginx(cluster):
    if cluster is None:  # the SQLite leg: it ran on PostgreSQL (asserted in the fixture)
        return
    base, _env, _start, instances = cluster
    w = build_body("甲", 31011600100)
    # Hashed as the instances hash (the tests' settings use a fast hasher the instances do not know).
    w.admin.password = PBKDF2PasswordHasher().encode(PASSWORD, PBKDF2PasswordHasher().salt())
    w.admin.save()

    # A body's system, through the API: create, submit, approve, take the code.
    system = Browser(base, key=w.key)
    created = system.post("/api/v1/tasks", json=task_payload(w))
    assert created.status_code == 201, created.text
    number = created.json()["number"]
    assert system.post(f"/api/v1/tasks/{number}/submit", json={}).json()["status"] == "submitted"
    assert system.post(f"/api/v1/tasks/{number}/approve", json={}).json()["status"] == "notified"
    code = system.get(
        f"/api/v1/tasks/{number}/code", params={"inspector_certificate": w.inspectors[0].number}
    )
    assert code.status_code == 200, code.text
    image = Image.open(io.BytesIO(base64.b64decode(code.json()["png_base64"])))
    [decoded] = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    token = decoded.text.rsplit("/", 1)[-1]

    # A staff user logs in: the login page from one instance, its form posted to the other.
    staff = Browser(base)
    login_page = staff.get("/login/")
    posted = staff.post(
        "/login/",
        data={
            "csrfmiddlewaretoken": csrf_token(login_page.text),
            "username": w.admin.username,
            "password": PASSWORD,
        },
        headers={"Referer": base + "/login/"},
    )
    assert posted.status_code == 302, re.findall(r"errorlist[^<]*<li>([^<]*)", posted.text)
    assert staff.upstreams[0] != staff.upstreams[1]
    task = Task.objects.get(number=number)
    for _ in range(4):
        page = staff.get(f"/tasks/{task.pk}/")
        assert page.status_code == 200 and number in page.text and "已告知企业" in page.text
    assert set(staff.upstreams) == instances

    # The code scanned at the door: genuine on either instance; the scans of one address are counted
    # together, so the limit holds however the requests are dealt out.
    door = Browser(base)
    scans = [door.get(f"/c/{token}") for _ in range(SCAN_LIMIT + 2)]
    assert [scan.status_code for scan in scans] == [200] * SCAN_LIMIT + [429, 429]
    assert all("检查码真实有效" in scan.text for scan in scans[:SCAN_LIMIT])
    assert set(door.upstreams) == instances

    # Check-in and the result with a photo, uploaded through one instance...
    checked_in = system.post(
        f"/api/v1/tasks/{number}/check-in", json={"inspector_certificate": w.inspectors[0].number}
    )
    assert checked_in.status_code == 200, checked_in.text
    recorded = system.post(
        f"/api/v1/tasks/{number}/result",
        data={"data": json.dumps(result_form(w, number))},
        files={"evidence": ("现场.png", png_bytes(), "image/png")},
    )
    assert recorded.status_code == 200, recorded.text
    assert Evidence.objects.filter(record__task=task).count() == 1
    # ... and downloaded through both.
    page = staff.get(f"/tasks/{task.pk}/").text
    [href] = re.findall(r'<a href="([^"]+)">现场\.png</a>', page)
    served_by = set()
    for _ in range(4):
        photo = staff.get(href)
        assert photo.status_code == 200 and photo.content == png_bytes()
        served_by.add(photo.headers["X-Upstream"])
    assert served_by == instances

    # A logout on one instance ends the session on both.
    staff.post("/logout/", data={"csrfmiddlewaretoken": csrf_token(page)}, headers={"Referer": base + "/"})
    for _ in range(2):
        assert staff.get(f"/tasks/{task.pk}/").status_code == 302


def test_a_due_schedule_runs_once_with_two_clusters(cluster):
    """Two task-queue clusters (django-q2) on one database: the scheduler takes the due schedule's row with
    SELECT … FOR UPDATE, so a schedule runs once however many clusters start."""
    from django_q.models import Schedule, Success

    if cluster is None:  # the SQLite leg: it ran on PostgreSQL (asserted in the fixture)
        return
    _base, _env, start, _instances = cluster
    Schedule.objects.all().delete()  # the application's own schedules are not what is counted here
    schedule = Schedule.objects.create(
        name="two-clusters-once",
        func="math.floor",
        args="2.5",
        schedule_type=Schedule.MINUTES,
        minutes=60,
        next_run=timezone.now(),
    )
    clusters = [start(f"qcluster{n}", [sys.executable, "manage.py", "qcluster"]) for n in range(2)]
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and not Success.objects.filter(func=schedule.func).exists():
        assert all(c.poll() is None for c in clusters)
        time.sleep(0.5)
    time.sleep(5)  # time for a second run, were the other cluster to take it too
    schedule.refresh_from_db()
    assert [run.result for run in Success.objects.filter(func=schedule.func)] == [2]
    assert schedule.next_run > timezone.now()
