"""Exports of any size (issue 16): a small one is written at once and sent; a large one is written by the
task queue's worker into a file its requester downloads from a progress page; a huge one is refused.

An export is described by a *builder*: a function of an app, marked with `@builder`, that takes the user and
the page's filters (a QueryDict) and returns an `Export`: the rows to count (the scoped, filtered queryset)
and the sheets to write (their rows read lazily, `.iterator()`). The page calls `respond`; the worker calls
the same builder again with the requester and the same filters, so the rows are chosen by the requester's
scope at the time they are written, never by anyone else's.

- up to `EXPORT_SYNC_MAX_ROWS` rows (10,000): written in the request, into a temporary file (openpyxl's
  write-only mode keeps no cells in memory), and sent;
- up to `EXPORT_MAX_ROWS` (1,000,000; Excel's sheet holds 1,048,576; counted by the worker, the request
  counts only to EXPORT_SYNC_MAX_ROWS + 1): an `ExportJob`, written by the worker
  into the media folder under a random name; the page `exports/<id>/` shows its progress and then the
  download link, which serves the file (core.files.send) to its requester only until `EXPORT_KEEP_HOURS`
  after it was written; `delete_expired` (hourly) removes the file;
- beyond: refused with the reason (on the job's page; at once when the ceiling is below the sync size): an
  export never drops rows silently.

The same export asked for again while its job is queued or running is the same job (a double click, a
reload, a second tab), and asked for again after it is done, within its expiry, is that file.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import QuerySet
from django.http import FileResponse, HttpResponse, QueryDict
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.module_loading import import_string

from . import audit
from .errors import DomainError
from .files import RandomName
from .models import ExportJob, User
from .spreadsheets import XLSX, Sheet, write_workbook

# A queued export may take longer than the cluster's default task timeout (a million rows: minutes); it is
# claimed once, so a broker's redelivery does not write it twice.
QUEUED_EXPORT_TIMEOUT = 1800
# The progress is written back every this many rows.
PROGRESS_EVERY = 2000
# Filters that do not change what is exported.
IGNORED_PARAMS = frozenset({"page", "export"})

STORED_NAME = RandomName("exports/%Y/%m/")


@dataclass
class Export:
    """What a builder returns: `name` (the download's name, before its date), the rows to count, and the
    sheets (their rows lazy)."""

    name: str
    rows: QuerySet
    sheets: Callable[[], Iterable[Sheet]]


def builder(function: Callable[[Any, QueryDict], Export]) -> Callable[[Any, QueryDict], Export]:
    """Mark a function as an export builder: only marked functions are run by the worker, whatever a job
    row says."""
    function.is_export_builder = True  # type: ignore[attr-defined]
    return function


def dotted_path(function: Callable) -> str:
    return f"{function.__module__}.{function.__qualname__}"


def resolve(path: str) -> Callable[[Any, QueryDict], Export]:
    function = import_string(path)
    if not getattr(function, "is_export_builder", False):
        raise DomainError(f"{path} 不是导出函数")
    return function


def sync_max_rows() -> int:
    return int(settings.EXPORT_SYNC_MAX_ROWS)


def keep_hours() -> float:
    return float(settings.EXPORT_KEEP_HOURS)


def _params(query: QueryDict) -> dict[str, list[str]]:
    return {key: values for key, values in sorted(query.lists()) if key not in IGNORED_PARAMS}


def _query(params: dict[str, list[str]]) -> QueryDict:
    query = QueryDict(mutable=True)
    for key, values in params.items():
        query.setlist(key, list(values))
    return query


def count_up_to(rows: QuerySet, limit: int) -> int:
    """The number of rows, counted up to limit + 1 (past the ceiling, how many more does not matter)."""
    return rows.order_by()[: limit + 1].count()


def refusal(count: int) -> str | None:
    limit = settings.EXPORT_MAX_ROWS
    if count > limit:
        return f"符合条件的记录超过{limit:,}条，一次导出不全。请缩小筛选范围（如按月份、单位）后分批导出。"
    return None


def file_name(name: str) -> str:
    return f"{name}{timezone.localdate():%Y%m%d}.xlsx"


class _Counted:
    """The rows of a sheet, counted as they are written: the worker writes its progress back every
    PROGRESS_EVERY rows."""

    def __init__(self, rows: Iterable, on_progress: Callable[[int], None] | None, start: int = 0):
        self.rows, self.on_progress, self.done = rows, on_progress, start

    def __iter__(self) -> Iterator:
        for row in self.rows:
            yield row
            self.done += 1
            if self.on_progress is not None and self.done % PROGRESS_EVERY == 0:
                self.on_progress(self.done)


def write(export: Export, path: str, on_progress: Callable[[int], None] | None = None) -> int:
    """Write the export's workbook to `path`; returns the rows written (headers not counted)."""
    counted: list[_Counted] = []

    def sheets():
        done = 0
        for sheet in export.sheets():
            rows = _Counted(sheet.rows, on_progress, done)
            counted.append(rows)
            yield Sheet(sheet.title, sheet.header, rows, sheet.widths, sheet.number_formats)
            done = rows.done

    write_workbook(sheets(), path)
    return counted[-1].done if counted else 0


def respond(request, function: Callable[[Any, QueryDict], Export], *, back: str) -> HttpResponse:
    """The answer to a page's "export" link: the file itself, or the queued job's progress page, or the
    page `back` with the reason the export is refused."""
    from django.contrib import messages

    export = function(request.user, request.GET)
    # Counted only as far as the choice needs: the whole count of a city's rows (to the ceiling) took
    # seconds (bench/README.md); the worker counts them, and refuses past the ceiling.
    count = count_up_to(export.rows, min(sync_max_rows(), settings.EXPORT_MAX_ROWS))
    reason = refusal(count)
    if reason is not None:
        messages.error(request, reason)
        return redirect(back)
    if count <= sync_max_rows():
        return send_now(export)
    job = queue(request.user, function=function, query=request.GET, title=export.name, rows_estimate=0)
    return redirect("core:export_job", job.pk)


def send_now(export: Export) -> FileResponse:
    """A small export written in the request to a temporary file (deleted when sent) and sent."""
    handle = tempfile.TemporaryFile(suffix=".xlsx")  # noqa: SIM115 (FileResponse closes it once sent)
    write(export, handle)
    handle.seek(0)
    response = FileResponse(handle, content_type=XLSX)
    response["Content-Disposition"] = content_disposition_header(True, file_name(export.name))
    response["Cache-Control"] = "private, no-store"
    return response


def fingerprint(path: str, params: dict[str, list[str]]) -> str:
    return hashlib.sha256(json.dumps([path, params], ensure_ascii=False, sort_keys=True).encode()).hexdigest()


def queue(actor, *, function: Callable, query: QueryDict, title: str, rows_estimate: int) -> ExportJob:
    """Record an export for the worker, or give back the same export already queued, running, or written
    and not expired (for this user and these filters)."""
    from django_q.tasks import async_task

    path = dotted_path(resolve(dotted_path(function)))
    params = _params(query)
    key = fingerprint(path, params)
    with transaction.atomic():
        # The user's row locked: two requests at once for the same export make one job.
        User.objects.select_for_update().filter(pk=actor.pk).first()
        same = (
            ExportJob.objects.filter(actor=actor, fingerprint=key)
            .filter(status__in=(ExportJob.Status.QUEUED, ExportJob.Status.RUNNING))
            .first()
        ) or (
            ExportJob.objects.filter(
                actor=actor, fingerprint=key, status=ExportJob.Status.DONE, expires_at__gt=timezone.now()
            )
            # A file written before rows were added since is still what was asked for at its time; a new
            # request made after it was written gets it only while it is at most a few minutes old.
            .filter(finished_at__gt=timezone.now() - datetime.timedelta(minutes=5))
            .first()
        )
        if same is not None:
            return same
        job = ExportJob.objects.create(
            title=title[:100],
            builder=path,
            params=params,
            fingerprint=key,
            actor=actor,
            rows_estimate=rows_estimate,
        )
        audit.record(
            actor=actor,
            action="core.export_queued",
            obj=job,
            after={"title": title, "params": params, "rows_estimate": rows_estimate},
        )
        transaction.on_commit(
            lambda: async_task(
                "jianchama.core.jobs.run_export",
                job.pk,
                task_name=f"export-{job.pk}",
                timeout=QUEUED_EXPORT_TIMEOUT,
            )
        )
    return job


def run(job_id: int) -> str:
    """What the worker does with a queued export: claim it (once), write the file with its progress, and
    record it done (or failed with the reason); returns the final status."""
    claimed = ExportJob.objects.filter(pk=job_id, status=ExportJob.Status.QUEUED).update(
        status=ExportJob.Status.RUNNING
    )
    job = ExportJob.objects.select_related("actor").get(pk=job_id)
    if not claimed:
        return job.status
    name = STORED_NAME(job, "export.xlsx")
    path = default_storage.path(name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    try:
        export = resolve(job.builder)(job.actor, _query(job.params))
        count = count_up_to(export.rows, settings.EXPORT_MAX_ROWS)
        reason = refusal(count)
        if reason is not None:
            ExportJob.objects.filter(pk=job_id).update(
                status=ExportJob.Status.FAILED, message=reason, finished_at=timezone.now()
            )
            return ExportJob.Status.FAILED
        ExportJob.objects.filter(pk=job_id).update(rows_estimate=count)
        rows = write(export, path, lambda done: ExportJob.objects.filter(pk=job_id).update(rows_done=done))
    except Exception as error:  # recorded on the job for its page; the worker goes on
        if os.path.exists(path):
            os.remove(path)
        ExportJob.objects.filter(pk=job_id).update(
            status=ExportJob.Status.FAILED,
            message=f"导出失败（{type(error).__name__}），请稍后重试或缩小筛选范围。",
            finished_at=timezone.now(),
        )
        raise
    now = timezone.now()
    ExportJob.objects.filter(pk=job_id).update(
        status=ExportJob.Status.DONE,
        rows_done=rows,
        file=name,
        file_name=file_name(export.name),
        finished_at=now,
        expires_at=now + datetime.timedelta(hours=keep_hours()),
    )
    return ExportJob.Status.DONE


def delete_expired(now: datetime.datetime | None = None) -> int:
    """Remove the files of exports past their expiry (the hourly job); returns how many."""
    now = now or timezone.now()
    count = 0
    for job in ExportJob.objects.filter(status=ExportJob.Status.DONE, expires_at__lte=now):
        if job.file:
            default_storage.delete(job.file.name)
        ExportJob.objects.filter(pk=job.pk).update(status=ExportJob.Status.EXPIRED, file="")
        count += 1
    return count
