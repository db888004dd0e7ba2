"""Exports of any size (core/exports.py, issue 16): a small one is sent at once; a large one is written by the
task queue's worker into a file that only its requester downloads, from a page showing its progress, until it
expires; a second request while it runs is the same job; past the hard ceiling, refused with the reason."""

from __future__ import annotations

import datetime
import io
import os

import pytest
from django.core.files.storage import default_storage
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from jianchama.core import exports, jobs
from jianchama.core.audit import AuditEvent
from jianchama.core.models import ExportJob
from jianchama.core.roles import Role
from jianchama.supervision.models import Finding
from jianchama.supervision.services import create_finding
from tests.complaints.conftest import complaint_scenario
from tests.factories import user_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def s(db):
    s = complaint_scenario()
    for n in range(5):
        create_finding(
            s.supervisor,
            source=Finding.Source.COMPLAINT,
            body=s.body,
            title=f"金山第{n}个问题",
            period=datetime.date(2026, 1 + n, 1),
        )
    create_finding(
        s.mh_supervisor,
        source=Finding.Source.COMPLAINT,
        body=s.other_body,
        title="闵行的问题",
        period=datetime.date(2026, 1, 1),
    )
    return s


def rows_of(data: bytes) -> list[tuple]:
    return list(load_workbook(io.BytesIO(data)).active.iter_rows(values_only=True))


FINDINGS_XLSX = "/supervision/findings/?export=xlsx"


def test_a_small_export_is_sent_at_once(client, s, settings):
    settings.EXPORT_SYNC_MAX_ROWS = 5
    client.force_login(s.supervisor)
    response = client.get(FINDINGS_XLSX)
    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    rows = rows_of(response.getvalue())
    assert len(rows) == 6 and {row[5] for row in rows[1:]} == {f"金山第{n}个问题" for n in range(5)}
    assert not ExportJob.objects.exists()


def test_a_large_export_is_written_by_the_worker_for_its_requester_only(client, s, settings):
    settings.EXPORT_SYNC_MAX_ROWS = 4
    client.force_login(s.supervisor)
    response = client.get(FINDINGS_XLSX + "&severity=")
    job = ExportJob.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("core:export_job", args=[job.pk])
    assert job.status == ExportJob.Status.QUEUED and job.actor == s.supervisor
    assert AuditEvent.objects.filter(action="core.export_queued", object_id=str(job.pk)).exists()

    page = client.get(response["Location"]).content.decode()
    assert "排队中" in page and 'http-equiv="refresh"' in page and "超过 4 条" in page

    # Asked again (a reload, a double click) while it waits: the same job.
    again = client.get(FINDINGS_XLSX + "&severity=")
    assert again["Location"] == response["Location"] and ExportJob.objects.count() == 1

    # A finding added after the request is in the file: the worker reads the rows when it writes them,
    # under the requester's scope.
    create_finding(
        s.supervisor,
        source=Finding.Source.COMPLAINT,
        body=s.body,
        title="后来的问题",
        period=datetime.date(2026, 6, 1),
    )
    assert jobs.run_export(job.pk) == ExportJob.Status.DONE
    assert jobs.run_export(job.pk) == ExportJob.Status.DONE  # delivered twice, written once
    job.refresh_from_db()
    assert job.rows_done == job.rows_estimate == 6 and job.file.name.startswith("exports/")
    assert job.expires_at > timezone.now()

    page = client.get(reverse("core:export_job", args=[job.pk])).content.decode()
    assert "已生成：共 6 条记录" in page and 'http-equiv="refresh"' not in page
    download = client.get(reverse("core:export_download", args=[job.pk]))
    assert download.status_code == 200 and download["Cache-Control"] == "private, no-store"
    assert "attachment" in download["Content-Disposition"]
    rows = rows_of(download.getvalue())
    titles = {row[5] for row in rows[1:]}
    assert len(rows) == 7 and "后来的问题" in titles and "闵行的问题" not in titles

    # Another supervisor (of another district) and even one of the same district: not theirs.
    for other in (s.mh_supervisor, user_for(Role.SUPERVISOR, region=s.jinshan)):
        client.force_login(other)
        assert client.get(reverse("core:export_job", args=[job.pk])).status_code == 404
        assert client.get(reverse("core:export_download", args=[job.pk])).status_code == 404


def test_an_export_expires_and_its_file_is_deleted(client, s, settings):
    settings.EXPORT_SYNC_MAX_ROWS = 1
    settings.EXPORT_KEEP_HOURS = 2
    client.force_login(s.supervisor)
    client.get(FINDINGS_XLSX)
    job = ExportJob.objects.get()
    jobs.run_export(job.pk)
    job.refresh_from_db()
    path = default_storage.path(job.file.name)
    assert os.path.exists(path)
    assert datetime.timedelta(hours=1.9) < job.expires_at - timezone.now() <= datetime.timedelta(hours=2)

    assert jobs.delete_expired_exports() == 0
    ExportJob.objects.filter(pk=job.pk).update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    # Past its time the link is gone even before the hourly job has run.
    assert client.get(reverse("core:export_download", args=[job.pk])).status_code == 404
    assert "已过期" in client.get(reverse("core:export_job", args=[job.pk])).content.decode()
    assert jobs.delete_expired_exports() == 1
    assert not os.path.exists(path) and ExportJob.objects.get().status == ExportJob.Status.EXPIRED

    # Asked for again: a new job.
    client.get(FINDINGS_XLSX)
    assert ExportJob.objects.filter(status=ExportJob.Status.QUEUED).count() == 1


def test_past_the_hard_ceiling_an_export_is_refused_whole_with_the_reason(client, s, settings):
    settings.EXPORT_SYNC_MAX_ROWS = 1
    settings.EXPORT_MAX_ROWS = 4
    client.force_login(s.supervisor)
    # The request counts only to the sync size; the worker counts to the ceiling and refuses.
    client.get(FINDINGS_XLSX)
    job = ExportJob.objects.get()
    assert jobs.run_export(job.pk) == ExportJob.Status.FAILED
    job.refresh_from_db()
    assert not job.file and job.rows_done == 0
    page = client.get(reverse("core:export_job", args=[job.pk])).content.decode()
    assert "符合条件的记录超过4条，一次导出不全" in page
    assert client.get(reverse("core:export_download", args=[job.pk])).status_code == 404

    # A ceiling below the sync size is refused at once.
    settings.EXPORT_SYNC_MAX_ROWS = 10
    response = client.get(FINDINGS_XLSX, follow=True)
    assert "符合条件的记录超过4条，一次导出不全" in response.content.decode()
    assert ExportJob.objects.count() == 1


def test_a_job_that_fails_says_so(client, s, settings, monkeypatch):
    settings.EXPORT_SYNC_MAX_ROWS = 1
    client.force_login(s.supervisor)
    client.get(FINDINGS_XLSX)
    job = ExportJob.objects.get()

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(exports, "write_workbook", broken)
    with pytest.raises(OSError):
        jobs.run_export(job.pk)
    job.refresh_from_db()
    assert job.status == ExportJob.Status.FAILED and not job.file
    assert "导出失败" in client.get(reverse("core:export_job", args=[job.pk])).content.decode()


def test_only_marked_builders_are_run():
    with pytest.raises(Exception, match="不是导出函数"):
        exports.resolve("os.remove")


def test_the_complaint_ledger_is_queued_too(client, s, settings):
    for n in range(3):
        s.assigned(title=f"第{n}件投诉", complainant_name="王先生")
    settings.EXPORT_SYNC_MAX_ROWS = 2
    client.force_login(s.head)  # a body's administrator: the complainant is not his to read
    response = client.get("/complaints/export.xlsx")
    job = ExportJob.objects.get()
    assert response["Location"] == reverse("core:export_job", args=[job.pk])
    jobs.run_export(job.pk)
    rows = rows_of(client.get(reverse("core:export_download", args=[job.pk])).getvalue())
    assert len(rows) == 4 and "王先生" not in {row[5] for row in rows[1:]}
