"""The scan page's lean path (portal/middleware.py, issue 16): a scan from a client without a session skips the
middleware it does not need, and answers with the same status, headers and page as through the whole list."""

from __future__ import annotations

import datetime
import re

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.utils import timezone

from jianchama.inspections import signing
from jianchama.inspections.models import Scan, Task
from tests.inspections.conftest import build_scenario

pytestmark = pytest.mark.django_db

FAST_PATH = "jianchama.portal.middleware.ScanFastPathMiddleware"


@pytest.fixture
def s(db):
    return build_scenario()


def scan_url(task: Task) -> str:
    return "/C/" + signing.issue_token(task.code.public_id)


def _normalised(response) -> tuple[int, dict, str]:
    """Status, headers and page, the parts that differ between any two requests (nonce, time) taken out."""
    nonce = response.wsgi_request._csp_nonce

    def plain(text: str) -> str:
        text = text.replace(nonce, "NONCE")
        text = re.sub(r"/c/report/[^/\"]+/", "/c/report/KEY/", text)  # signs the scan's own row
        return re.sub(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", "TIME", text)

    headers = {name: plain(value) for name, value in response.headers.items() if name != "Expires"}
    return response.status_code, headers, plain(response.content.decode())


def _both_paths(settings, url: str, **extra):
    lean = Client().get(url, **extra)
    settings.MIDDLEWARE = [name for name in django_settings.MIDDLEWARE if name != FAST_PATH]
    whole = Client().get(url, **extra)
    return lean, whole


def test_the_fast_path_sits_right_after_the_security_headers():
    assert django_settings.MIDDLEWARE[:3] == [
        "django.middleware.security.SecurityMiddleware",
        "jianchama.core.csp.CSPMiddleware",
        FAST_PATH,
    ]


@pytest.mark.parametrize("verdict", ["genuine", "forged", "mangled", "stale"])
def test_a_scan_without_a_session_answers_as_through_every_middleware(s, settings, verdict):
    task = s.notified()
    url = {
        "genuine": scan_url(task),
        "forged": scan_url(task)[:-3] + "AAA",
        "mangled": scan_url(task) + "===/",
        "stale": "/c/"
        + signing.issue_token(
            task.code.public_id, now=timezone.now() - datetime.timedelta(minutes=10)
        ).lower(),
    }[verdict]
    lean, whole = _both_paths(settings, url, HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9")
    assert not hasattr(lean.wsgi_request, "session")  # it took the lean path
    assert hasattr(whole.wsgi_request, "session")  # it did not
    assert _normalised(lean) == _normalised(whole)
    status, headers, _ = _normalised(lean)
    assert status == 200
    assert headers["X-Frame-Options"] == "DENY" and "'nonce-NONCE'" in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff" and headers["Referrer-Policy"] == "same-origin"
    assert "no-store" in headers["Cache-Control"] and "Set-Cookie" not in headers
    assert Scan.objects.count() == 2


def test_the_rate_limit_holds_on_the_fast_path(client, s, settings):
    settings.SCAN_RATE_LIMIT = "2/m"
    task = s.notified()
    responses = [client.get(scan_url(task)) for _ in range(3)]
    assert [r.status_code for r in responses] == [200, 200, 429]
    assert "请求过于频繁" in responses[2].content.decode()
    assert responses[2]["X-Frame-Options"] == "DENY" and "Content-Security-Policy" in responses[2]


def test_the_https_redirect_still_comes_first(client, s, settings):
    settings.SECURE_SSL_REDIRECT = True
    response = client.get(scan_url(s.notified()))
    assert response.status_code == 301 and response["Location"].startswith("https://")
    assert not Scan.objects.exists()


def test_a_signed_in_contact_takes_the_whole_path_and_starts_the_visit(client, s):
    task = s.notified()
    client.force_login(s.contact)
    response = client.get(scan_url(task))
    assert hasattr(response.wsgi_request, "session")
    assert "已记录企业到场核验，检查开始" in response.content.decode()
    task.refresh_from_db()
    assert task.status == Task.Status.IN_PROGRESS


def test_other_pages_under_c_are_not_taken_for_scans(client, s):
    for url in ("/c/report/nonsense/", "/c/result/nonsense/"):
        assert "检查码验证失败" not in client.get(url).content.decode()
    assert not Scan.objects.exists()
