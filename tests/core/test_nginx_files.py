"""The README's nginx location, run: a real nginx (Debian's) in front of the live test server with
SENDFILE_BACKEND=nginx. The application checks the scope and answers X-Accel-Redirect; nginx sends the file
with the application's type, Content-Disposition and Cache-Control and its own nosniff; the internal location
cannot be reached from outside. The location block is read from the README, so the two cannot drift apart."""

from __future__ import annotations

import io
import os
import pwd
import re
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path
from urllib.error import HTTPError
from urllib.parse import quote

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django_sendfile.utils import _get_sendfile

from jianchama.inspections.models import Evidence
from tests.inspections.conftest import build_scenario
from tests.inspections.test_evidence_files import NAME, link_on_task_page, png_bytes, with_evidence

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]
# Installed, or Debian's package unpacked by `make system-deps` (scripts/system-deps.sh).
NGINX = shutil.which("nginx") or str(ROOT / "var" / "nginx" / "usr" / "sbin" / "nginx")


def readme_location(media_root: Path) -> str:
    readme = (ROOT / "README.md").read_text()
    [block] = re.findall(r"```nginx\n(.*?)```", readme, re.S)
    # The README's example path is the deployment's MEDIA_ROOT; here it is the test's.
    return re.sub(r"alias [^;]+;", f"alias {media_root}/;", block)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def fetch(url: str, session: str | None = None):
    request = urllib.request.Request(url, headers={"Cookie": f"sessionid={session}"} if session else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers, response.read()
    except HTTPError as error:
        return error.code, error.headers, error.read()


@pytest.fixture
def nginx(settings, live_server, tmp_path):
    if not os.path.exists(NGINX):
        pytest.fail("nginx is not available: run `make system-deps` (make test does it)")
    settings.SENDFILE_BACKEND = "django_sendfile.backends.nginx"
    settings.SENDFILE_URL = "/protected-media"
    settings.SENDFILE_ROOT = settings.MEDIA_ROOT
    _get_sendfile.cache_clear()
    run = tmp_path / "nginx"
    run.mkdir()
    port = free_port()
    upstream = live_server.url.removeprefix("http://").replace("localhost", "127.0.0.1")
    temp = " ".join(
        f"{kind}_temp_path {run}/{kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    (run / "nginx.conf").write_text(f"""
user {pwd.getpwuid(os.getuid()).pw_name};
worker_processes 1;
error_log {run}/error.log;
pid {run}/nginx.pid;
events {{ worker_connections 64; }}
http {{
    types {{ image/png png; application/pdf pdf; }}
    default_type application/octet-stream;
    access_log off;
    {temp}
    upstream app {{ server {upstream}; keepalive 4; }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://app;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host 127.0.0.1;
        }}
{readme_location(Path(django_settings.MEDIA_ROOT))}
    }}
}}
""")
    process = subprocess.Popen([NGINX, "-p", str(run), "-c", str(run / "nginx.conf"), "-g", "daemon off;"])
    try:
        for _ in range(100):
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)
        _get_sendfile.cache_clear()


def session_of(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


def test_nginx_sends_the_file_the_application_allowed(nginx):
    s = build_scenario()
    task, evidence = with_evidence(s)
    href = link_on_task_page(Client(), s.head, task)
    head = session_of(s.head)
    for _ in range(3):  # over the same keep-alive connection to the application
        status, headers, body = fetch(nginx + href, head)
        assert status == 200 and body == png_bytes()
        assert headers["Content-Type"] == "image/png"
        assert headers["Content-Disposition"] == f"inline; filename*=utf-8''{quote(NAME)}"
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Cache-Control"] == "private, no-store"
        assert "X-Accel-Redirect" not in headers
    status, headers, body = fetch(nginx + href, session_of(s.other_head))
    assert status == 404 and body != png_bytes()
    # The internal location is not reachable from outside, whatever the path.
    assert fetch(f"{nginx}/protected-media/{evidence.file.name}", head)[0] == 404
    # A file stored before random names (a Chinese name with a space) goes through nginx as well.
    old = evidence.file.storage.save("evidence/2025/06/旧的 现场照片.png", io.BytesIO(b"\x89PNG old"))
    Evidence.objects.filter(pk=evidence.pk).update(file=old)
    status, _, body = fetch(nginx + href, head)
    assert status == 200 and body == b"\x89PNG old"
