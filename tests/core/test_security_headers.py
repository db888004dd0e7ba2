"""Production headers and staff sessions (issue 10, item 9): the Content-Security-Policy on every page,
HSTS and the HTTPS redirect when DEBUG is off, and the idle and working-day limits of a staff session."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.urls import reverse

from jianchama.core.middleware import SEEN_KEY, STARTED_KEY
from jianchama.core.roles import Role
from tests.factories import user_for

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]


def directives(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in header.split(";") if part.strip()}


def test_every_page_has_a_policy_without_unsafe_inline(client):
    for url in (reverse("core:login"), reverse("core:phone_login"), reverse("admin:login")):
        policy = directives(client.get(url))
        assert policy["default-src"] == ["'self'"]
        assert "'unsafe-inline'" not in policy["script-src"] and "'unsafe-eval'" not in policy["script-src"]
        assert "'unsafe-inline'" not in policy["style-src"]
        assert policy["object-src"] == ["'none'"] and policy["frame-ancestors"] == ["'none'"]


def test_an_inline_script_carries_the_nonce_of_its_response(client):
    supervisor = user_for(Role.SUPERVISOR)
    client.force_login(supervisor)
    response = client.get(reverse("supervision:run_list"))
    page = response.content.decode()
    nonces = re.findall(r'<script nonce="([^"]+)"', page)
    assert nonces and "<script>" not in page
    assert f"'nonce-{nonces[0]}'" in directives(response)["script-src"]
    again = client.get(reverse("supervision:run_list"))
    assert re.findall(r'<script nonce="([^"]+)"', again.content.decode())[0] != nonces[0]


def test_the_scan_page_style_carries_the_nonce(client):
    response = client.get("/c/NOT-A-CODE")
    nonce = re.search(r'<style nonce="([^"]+)"', response.content.decode()).group(1)
    assert f"'nonce-{nonce}'" in directives(response)["style-src"]


def test_no_template_has_a_style_attribute_or_an_inline_handler():
    templates = [
        p for p in (ROOT / "src" / "jianchama").rglob("templates/**/*.html") if "/pdf/" not in str(p)
    ]
    assert templates
    for path in templates:
        text = path.read_text()
        assert not re.search(r"\sstyle=", text), path
        assert not re.search(r"\son[a-z]+=", text), path
        for tag in re.findall(r"<(?:script|style)\b[^>]*>", text):
            assert "nonce=" in tag or "src=" in tag, (path, tag)


def production_settings(**extra) -> dict:
    """The settings module read afresh in another process with DEBUG=0, as a production server reads it."""
    env = {**os.environ, "DEBUG": "0", "SECRET_KEY": "x" * 50, "PYTHONPATH": str(ROOT / "src"), **extra}
    code = (
        "import json, jianchama.settings as s; print(json.dumps({k: getattr(s, k) for k in "
        "('SECURE_SSL_REDIRECT', 'SECURE_HSTS_SECONDS', 'SECURE_PROXY_SSL_HEADER', 'SESSION_COOKIE_SECURE',"
        " 'SESSION_IDLE_MINUTES', 'SESSION_MAX_HOURS')}))"
    )
    import json

    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def test_production_turns_on_https_redirect_and_hsts():
    prod = production_settings()
    assert prod["SECURE_SSL_REDIRECT"] is True
    assert prod["SECURE_HSTS_SECONDS"] >= 31536000
    assert prod["SESSION_COOKIE_SECURE"] is True
    assert prod["SESSION_IDLE_MINUTES"] == 30 and prod["SESSION_MAX_HOURS"] == 10
    behind_proxy = production_settings(
        SECURE_SSL_REDIRECT="0", SECURE_PROXY_SSL_HEADER="HTTP_X_FORWARDED_PROTO,https"
    )
    assert behind_proxy["SECURE_SSL_REDIRECT"] is False
    assert behind_proxy["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]


def test_hsts_and_redirect_on_a_response(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 31536000
    response = client.get(reverse("core:login"))
    assert response.status_code == 301 and response["Location"].startswith("https://")
    secure = client.get(reverse("core:login"), secure=True)
    assert secure.status_code == 200
    assert secure["Strict-Transport-Security"] == "max-age=31536000"
    assert client.get(reverse("core:healthz")).status_code == 200  # the load balancer's check


# --- Staff sessions ----------------------------------------------------------------------------------


@pytest.fixture
def staff(client):
    user = user_for(Role.BODY_ADMIN, full_name="张三")
    client.force_login(user)
    assert client.get(reverse("core:home")).status_code == 200  # the first request starts the clock
    return user


def age_session(client, key: str, seconds: float) -> None:
    session = client.session
    session[key] = int(time.time() - seconds)
    session.save()


def test_an_idle_staff_session_ends_with_a_chinese_message(client, staff, settings):
    settings.SESSION_IDLE_MINUTES = 30
    age_session(client, SEEN_KEY, 29 * 60)
    assert client.get(reverse("core:home")).status_code == 200  # within the limit, and it counts as activity
    age_session(client, SEEN_KEY, 30 * 60 + 1)
    response = client.get(reverse("core:calendar"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("core:login") + "?next=")
    assert "_auth_user_id" not in client.session
    page = client.get(response["Location"]).content.decode()
    assert "已有 30 分钟没有操作，为保护账号安全已自动退出，请重新登录" in page


def test_a_staff_session_ends_after_a_working_day_however_busy(client, staff, settings):
    settings.SESSION_MAX_HOURS = 10
    age_session(client, STARTED_KEY, 10 * 3600 - 60)
    assert client.get(reverse("core:home")).status_code == 200
    age_session(client, STARTED_KEY, 10 * 3600)
    response = client.get(reverse("core:home"))
    assert response.status_code == 302 and "_auth_user_id" not in client.session
    page = client.get(response["Location"]).content.decode()
    assert "本次登录已超过 10 小时，为保护账号安全已自动退出，请重新登录" in page


def test_activity_keeps_a_staff_session_alive(client, staff, settings):
    settings.SESSION_IDLE_MINUTES = 30
    for _ in range(3):
        age_session(client, SEEN_KEY, 20 * 60)
        assert client.get(reverse("core:home")).status_code == 200


def test_enterprise_contacts_are_not_timed_out_by_the_staff_limits(client):
    contact = user_for(Role.ENTERPRISE_CONTACT)
    client.force_login(contact)
    client.get("/portal/")
    age_session(client, SEEN_KEY, 24 * 3600)
    age_session(client, STARTED_KEY, 24 * 3600)
    assert client.get("/portal/").status_code == 200
