"""Redis cut: the scan page and the logins keep working; the per-address limits pause, as documented, and
never turn into "everyone refused" (issue 10, faults). The cache reaches the real Redis through a TCP proxy
that the test cuts and restores."""

from __future__ import annotations

import logging
import re
import uuid

import pytest
from django.core.cache import cache
from django.test import TestCase
from django.urls import reverse

from jianchama.core import sms
from jianchama.core.roles import Role
from jianchama.inspections import signing
from tests.factories import EnterpriseFactory, user_for
from tests.faults.proxy import TcpProxy
from tests.inspections.conftest import build_scenario

pytestmark = pytest.mark.django_db

PASSWORD = "demo-pass-123"  # tests.factories.UserFactory


@pytest.fixture
def redis_proxy(settings):
    proxy = TcpProxy("127.0.0.1", 6379)
    settings.CACHES = {
        "default": {
            "BACKEND": "jianchama.core.cache.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{proxy.port}/0",
            "KEY_PREFIX": f"jcm-faults-{uuid.uuid4().hex}",
            "OPTIONS": {"socket_connect_timeout": 0.25, "socket_timeout": 0.25},
        }
    }
    yield proxy
    proxy.restore()
    cache.clear()
    proxy.close()


def test_with_redis_cut_scans_and_logins_still_work_and_limits_resume_after(
    client, settings, redis_proxy, caplog
):
    s = build_scenario()
    task = s.notified()
    staff = user_for(Role.BODY_ADMIN, username="wangwu", full_name="王五")
    EnterpriseFactory()
    settings.SCAN_RATE_LIMIT = "3/m"
    url = "/C/" + signing.issue_token(task.code.public_id)

    # Redis up: the fourth scan from one address is limited.
    pages = [client.get(url) for _ in range(4)]
    assert [p.status_code for p in pages[:3]] == [200, 200, 200] and pages[3].status_code == 429

    redis_proxy.cut()
    with caplog.at_level(logging.WARNING, logger="jianchama.core.cache"):
        # The scan page answers, genuine, every time: no limit is counted while Redis is away.
        for _ in range(5):
            page = client.get(url)
            assert page.status_code == 200 and "检查码真实有效" in page.content.decode()
        # A staff password login and an enterprise's SMS-code login both go through.
        response = client.post(reverse("core:login"), {"username": "wangwu", "password": PASSWORD})
        assert response.status_code == 302 and client.session.get("_auth_user_id") == str(staff.pk)
        client.logout()
        with TestCase.captureOnCommitCallbacks(execute=True):
            client.post(reverse("core:phone_login"), {"phone": s.contact.phone})
        code = re.search(r"\d{6}", sms.outbox[-1].text).group()
        response = client.post(reverse("core:phone_login"), {"phone": s.contact.phone, "code": code})
        assert response.status_code == 302 and client.session.get("_auth_user_id") == str(s.contact.pk)
    assert any("Redis 不可达" in record.getMessage() for record in caplog.records)

    # Redis back: counting resumes (a new window for this address, since nothing was counted meanwhile).
    redis_proxy.restore()
    client.logout()
    settings.SCAN_RATE_LIMIT = "1/m"
    cache.clear()
    statuses = [client.get(url).status_code for _ in range(2)]
    assert statuses == [200, 429]
