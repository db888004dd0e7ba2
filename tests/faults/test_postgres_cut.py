"""PostgreSQL cut in the middle of a write: the user gets a Chinese 503 page, the database holds none of it
(issue 10, faults). The connection goes through a TCP proxy the test cuts from inside the service."""

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from jianchama.inspections import workflow
from jianchama.inspections.models import Task
from tests.faults.proxy import TcpProxy
from tests.inspections.conftest import build_scenario

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def pg_proxy():
    if connection.vendor != "postgresql":
        pytest.skip("cutting the database connection needs PostgreSQL over TCP (SQLite is a local file)")
    settings_dict = connection.settings_dict
    proxy = TcpProxy(settings_dict["HOST"] or "127.0.0.1", int(settings_dict["PORT"] or 5432))
    original = (settings_dict["HOST"], settings_dict["PORT"])
    connection.close()
    settings_dict["HOST"], settings_dict["PORT"] = "127.0.0.1", str(proxy.port)
    yield proxy
    proxy.restore()
    connection.close()
    settings_dict["HOST"], settings_dict["PORT"] = original
    proxy.close()


def cut_before(monkeypatch, proxy, module, name):
    """Cut the link just before `module.name` runs, inside the service's transaction."""
    original = getattr(module, name)

    def cut_then_call(*args, **kwargs):
        proxy.cut()
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, cut_then_call)


def test_approval_cut_midway_says_nothing_was_saved_and_saves_nothing(pg_proxy, monkeypatch):
    s = build_scenario()
    task = s.submitted()
    client = Client(raise_request_exception=False)
    client.force_login(s.head)
    cut_before(monkeypatch, pg_proxy, workflow, "record")  # after the approval row is written, before audit
    response = client.post(reverse("inspections:task_action", args=[task.pk, "approve"]))
    assert response.status_code == 503
    assert "数据库暂时不可用，请稍后重试，本次操作未保存" in response.content.decode()
    pg_proxy.restore()
    connection.close()
    task.refresh_from_db()
    assert task.status == Task.Status.SUBMITTED
    assert not task.task_bodies.filter(approved_at__isnull=False).exists()
