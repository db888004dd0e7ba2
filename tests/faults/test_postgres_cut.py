"""PostgreSQL cut in the middle of a write: the user gets a Chinese 503 page, the database holds none of it
(issue 10, faults). The connection goes through a TCP proxy the test cuts from inside the service."""

import pytest
from django.db import InterfaceError, OperationalError, connection
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


def stored_files(root) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_a_letter_cut_midway_leaves_no_file_and_no_number_used(pg_proxy, monkeypatch, settings, tmp_path):
    from jianchama.core import audit
    from jianchama.supervision import steps
    from jianchama.supervision.models import Recommendation
    from tests.supervision._steps_world import BASIS, DEMANDED, FACTS, build_world, not_rectified

    w = build_world(settings, tmp_path)
    not_rectified(w)
    before = stored_files(tmp_path)
    # The PDF is rendered and written to storage, the row saved; the link drops before the audit row.
    cut_before(monkeypatch, pg_proxy, audit, "record")
    with pytest.raises(Exception) as refused:
        steps.issue_recommendation(
            w.supervisor, finding=w.finding, facts=FACTS, legal_basis=BASIS, demanded=DEMANDED
        )
    assert "connection" in str(refused.value).lower() or "server" in str(refused.value).lower()
    monkeypatch.undo()
    pg_proxy.restore()
    connection.close()
    assert stored_files(tmp_path) == before  # no PDF without its row
    assert not Recommendation.objects.exists()
    rec = steps.issue_recommendation(
        w.supervisor, finding=w.finding, facts=FACTS, legal_basis=BASIS, demanded=DEMANDED
    )
    assert rec.number.endswith("〕1号")  # the number the failed attempt drew was not consumed
    assert len(stored_files(tmp_path)) == len(before) + 1


def test_a_result_with_evidence_cut_midway_leaves_no_file(pg_proxy, monkeypatch, settings, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from jianchama.inspections import services
    from jianchama.inspections.models import Evidence

    settings.MEDIA_ROOT = tmp_path
    s = build_scenario()
    task = s.in_progress()
    photo = SimpleUploadedFile("现场照片.png", b"\x89PNG\r\n\x1a\n" + b"0" * 64, content_type="image/png")
    cut_before(
        monkeypatch, pg_proxy, workflow, "record"
    )  # after the evidence is stored, before the audit row
    with pytest.raises((OperationalError, InterfaceError)):
        services.record_result(
            task.inspectors.first().user,
            task=task,
            outcome="no_problem",
            summary="未发现问题",
            findings=s.findings(task),
            evidence=[services.EvidenceInput("photo", photo)],
        )
    monkeypatch.undo()
    pg_proxy.restore()
    connection.close()
    assert stored_files(tmp_path) == []
    assert not Evidence.objects.exists()
    task.refresh_from_db()
    assert task.status == Task.Status.IN_PROGRESS


def test_an_import_cut_midway_saves_none_of_its_rows(pg_proxy, monkeypatch):
    from jianchama.core.roles import Role
    from jianchama.registry import importing
    from jianchama.registry.models import Enterprise, EnterpriseContact
    from tests.factories import DistrictFactory, user_for
    from tests.registry.test_import import as_csv, enterprise_row

    DistrictFactory()
    admin = user_for(Role.PLATFORM_ADMIN)
    data = as_csv([enterprise_row(n) for n in range(1, 41)])
    # Every row is written, then the link drops before the import's audit event.
    cut_before(monkeypatch, pg_proxy, importing, "_record")
    with pytest.raises((OperationalError, InterfaceError)):
        importing.import_enterprises(actor=admin, file=data, file_name="企业.csv")
    monkeypatch.undo()
    pg_proxy.restore()
    connection.close()
    assert not Enterprise.objects.exists() and not EnterpriseContact.objects.exists()
    result = importing.import_enterprises(actor=admin, file=data, file_name="企业.csv")  # the same file again
    assert result.rows == 40 and Enterprise.objects.count() == 40
