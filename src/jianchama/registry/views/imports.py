"""Bulk import pages (F-02, F-03): download a template, upload a file, see the counts or every problem.

Thin views: the reading, checking and writing are in importing.py.
"""

from __future__ import annotations

import datetime
import io
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from django import forms
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET, require_http_methods
from django_ratelimit.decorators import ratelimit

from jianchama.core import spreadsheets
from jianchama.core.bounds import BoundedForm
from jianchama.core.errors import DomainError
from jianchama.core.views import rate_limited

from .. import importing, uscc
from ..importing import Column, ImportRejected
from ..models import EnforcementBody, ImportJob, Region

PROBLEMS_SHOWN = 1000  # rows of the problems table on the page; the CSV download has them all
PROBLEMS_KEPT_SECONDS = 3600


@dataclass(frozen=True)
class Kind:
    slug: str
    title: str
    noun: str
    key_label: str  # what identifies a registered record
    columns: Sequence[Column]
    service: Callable[..., importing.ImportResult]
    may: Callable[..., bool]
    example: Callable[..., dict[str, str]]
    list_url: str


def _enterprise_example(user) -> dict[str, str]:
    region = None
    if user.body_id:
        region = user.body.region.district() or user.body.region
    region = region or Region.objects.filter(level=Region.Level.DISTRICT).first() or Region.objects.first()
    region_code = (
        region.code[:6] if region and region.code[:6].isdigit() and len(region.code) >= 6 else "310116"
    )
    first17 = f"91{region_code}MA1FPX7Q3"
    return {
        "统一社会信用代码": first17 + uscc.check_character(first17),
        "所在区域": region.name if region else "金山区",
    }


def _inspector_example(user) -> dict[str, str]:
    body = user.body if user.body_id else EnforcementBody.objects.filter(is_active=True).first()
    field = body.fields.first() if body else None
    today = timezone.localdate()
    return {
        "所属执法单位": body.code if body else "B0001",
        "执法领域": field.name if field else "燃气管理",
        "有效期起": datetime.date(today.year, 1, 1).isoformat(),
        "有效期止": datetime.date(today.year + 2, 12, 31).isoformat(),
    }


KINDS = {
    "enterprises": Kind(
        slug="enterprises",
        title="批量导入企业",
        noun="企业",
        key_label="统一社会信用代码",
        columns=importing.ENTERPRISE_COLUMNS,
        service=importing.import_enterprises,
        may=importing.may_import_enterprises,
        example=_enterprise_example,
        list_url="registry:enterprise_list",
    ),
    "inspectors": Kind(
        slug="inspectors",
        title="批量导入执法人员和执法证",
        noun="执法人员",
        key_label="执法证号",
        columns=importing.INSPECTOR_COLUMNS,
        service=importing.import_inspectors,
        may=importing.may_import_inspectors,
        example=_inspector_example,
        list_url="registry:inspector_list",
    ),
}


class UploadForm(BoundedForm):
    # Empty files are let through: the service says what is wrong with them in its own words.
    file = forms.FileField(
        label="选择文件",
        allow_empty_file=True,
        widget=forms.FileInput(
            attrs={
                "accept": ".csv,.xlsx,text/csv,"
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
            }
        ),
        error_messages={"required": "请选择要上传的文件"},
    )


def _page(request, kind: Kind, status: int = 200, **context) -> HttpResponse:
    limit = settings.IMPORT_MAX_BYTES
    context = {
        "kind": kind,
        "max_bytes": limit,
        "max_size": importing.human_size(limit),
        "queue_rows": settings.IMPORT_QUEUE_ROWS,
        "max_rows": settings.IMPORT_MAX_ROWS,
        **context,
    }
    context.setdefault("form", UploadForm())
    return render(request, "registry/import.html", context, status=status)


def _import(request, kind: Kind) -> HttpResponse:
    if not kind.may(request.user):
        return _page(
            request, kind, status=403, denied=f"只有平台管理员和执法单位管理员可以批量导入{kind.noun}。"
        )
    if request.method != "POST":
        return _page(request, kind)
    if getattr(request, "limited", False):
        return rate_limited(request)
    form = UploadForm(request.POST, request.FILES)
    if not form.is_valid():
        return _page(request, kind, status=400, form=form)
    upload = form.cleaned_data["file"]
    try:
        data, file_name = importing.read_upload(upload, upload.name)
        # Before anything is parsed: sizes and row counts within the limits, or a refusal naming the limit.
        rows = importing.check_limits(data, file_name)
        if rows > settings.IMPORT_QUEUE_ROWS:
            job = importing.queue_import(
                request.user, kind=kind.slug, data=data, file_name=file_name, rows_estimate=rows
            )
            return redirect("registry_import:job", pk=job.pk)
        result = kind.service(actor=request.user, file=data, file_name=file_name)
    except ImportRejected as rejected:
        key = secrets.token_urlsafe(16)
        rows = [(p.row, p.column, p.reason) for p in rejected.row_problems]  # at most IMPORT_MAX_PROBLEMS
        cache.set(
            f"registry-import-problems:{key}",
            {"user_id": request.user.pk, "kind": kind.slug, "rows": rows},
            PROBLEMS_KEPT_SECONDS,
        )
        return _page(
            request,
            kind,
            status=400,
            rejected=rejected,
            problems_key=key,
            problems=rejected.row_problems[:PROBLEMS_SHOWN],
            problems_hidden=max(0, rejected.total - PROBLEMS_SHOWN),
            problems_kept=len(rows),
        )
    except DomainError as error:
        form.add_error("file", error.message)
        return _page(request, kind, status=400, form=form)
    return _page(request, kind, result=result)


@login_required
@require_http_methods(["GET", "POST"])
@ratelimit(key="user", rate="10/m", method="POST", block=False)
def enterprise_import(request):
    return _import(request, KINDS["enterprises"])


@login_required
@require_http_methods(["GET", "POST"])
@ratelimit(key="user", rate="10/m", method="POST", block=False)
def inspector_import(request):
    return _import(request, KINDS["inspectors"])


def _template(request, kind: Kind, fmt: str) -> HttpResponse:
    """The header and one example row, as CSV (UTF-8 with BOM, which Excel opens correctly) or .xlsx."""
    if fmt not in ("csv", "xlsx"):
        raise Http404("模板只有 CSV 和 Excel（.xlsx）两种格式")
    example = {c.name: c.example for c in kind.columns} | kind.example(request.user)
    header = [c.name for c in kind.columns]
    row = [example[name] for name in header]
    if fmt == "csv":
        content, content_type = spreadsheets.csv_bytes(header, [row]), "text/csv; charset=utf-8"
    else:
        content = _xlsx_template(kind.columns, header, row)
        content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = content_disposition_header(
        as_attachment=True, filename=f"{kind.noun}导入模板.{fmt}"
    )
    return response


def _xlsx_template(columns: Sequence[Column], header: list[str], row: list[str]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "导入"
    sheet.append([spreadsheets.neutralise(text) for text in header])
    sheet.append([spreadsheets.neutralise(text) for text in row])
    for index, column in enumerate(columns, start=1):
        letter = get_column_letter(index)
        sheet.column_dimensions[letter].width = max(12, len(column.name) * 2 + 4, len(row[index - 1]) + 4)
        sheet.cell(1, index).font = Font(bold=True)
        if column.text_format:
            # Text cells keep USCCs, phone numbers and dates exactly as typed.
            sheet.column_dimensions[letter].number_format = "@"
            sheet.cell(2, index).number_format = "@"
    sheet.freeze_panes = "A2"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


@login_required
@require_GET
def enterprise_template(request, fmt: str):
    return _template(request, KINDS["enterprises"], fmt)


@login_required
@require_GET
def inspector_template(request, fmt: str):
    return _template(request, KINDS["inspectors"], fmt)


@login_required
@require_GET
def problems_csv(request, key: str):
    """Every problem of the last rejected file, for whoever has to fix it. Only its uploader may fetch it."""
    kept = cache.get(f"registry-import-problems:{key}")
    if not kept or kept["user_id"] != request.user.pk:
        raise Http404("问题清单不存在或已过期，请重新上传文件")
    return spreadsheets.csv_response(
        f"{KINDS[kept['kind']].noun}导入问题清单.csv", ["行号", "列", "问题"], kept["rows"]
    )


@login_required
@require_GET
def import_job(request, pk: int):
    """A queued import: a progress bar that refreshes itself until the worker is done, then the counts or the
    problems, as the upload page shows them."""
    job = get_object_or_404(ImportJob.objects.visible_to(request.user), pk=pk)
    kind = KINDS[job.kind]
    problems = [importing.RowProblem(*p) for p in job.problems[:PROBLEMS_SHOWN]]
    result = None
    if job.status == ImportJob.Status.DONE:
        result = importing.ImportResult(
            job.kind, job.file_name, job.sha256, job.result["rows"], job.result["counts"]
        )
    return render(
        request,
        "registry/import_job.html",
        {
            "job": job,
            "kind": kind,
            "result": result,
            "problems": problems,
            "problems_hidden": max(0, job.problem_count - len(problems)),
            "problems_not_listed": max(0, job.problem_count - len(job.problems)),
        },
    )


@login_required
@require_GET
def import_job_problems(request, pk: int):
    """The problems kept of a queued import that was refused, as CSV."""
    job = get_object_or_404(
        ImportJob.objects.visible_to(request.user), pk=pk, status=ImportJob.Status.REJECTED
    )
    return spreadsheets.csv_response(
        f"{KINDS[job.kind].noun}导入问题清单.csv", ["行号", "列", "问题"], job.problems
    )
