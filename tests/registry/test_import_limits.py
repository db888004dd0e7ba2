"""Issue 10, item 5: an import file cannot exhaust a worker. Sizes and row counts are checked before parsing,
large imports run on the task queue with a progress page, and the problem list is bounded."""

import io
import re
import time
import zipfile

import pytest
from django.urls import reverse

from jianchama.core.audit import verify_chain
from jianchama.core.errors import DomainError
from jianchama.core.models import AuditEvent
from jianchama.registry import jobs
from jianchama.registry.importing import ImportRejected, import_enterprises
from jianchama.registry.models import Enterprise, ImportJob
from tests.factories import DistrictFactory, user_for
from tests.registry.test_import import as_csv, as_xlsx, enterprise_row

pytestmark = pytest.mark.django_db

SHEET = "xl/worksheets/sheet1.xml"
ROW = (
    '<row><c t="inlineStr"><is><t>91310116MA1FPX7Q3X</t></is></c><c t="inlineStr"><is><t>上海示例燃气有限公司'
    '</t></is></c><c t="inlineStr"><is><t>金山区</t></is></c><c t="inlineStr"><is><t>B</t></is></c></row>'
)


def crafted_xlsx(rows: int, *, row: str = ROW, dimension: str | None = None, padding: int = 0) -> bytes:
    """A workbook from openpyxl whose first sheet is replaced: the template's header, then `rows` copies of
    `row`, optionally a <dimension> and an XML comment of `padding` spaces. Written in a stream, so a file of
    hundreds of megabytes of XML is built without holding it."""
    template = zipfile.ZipFile(io.BytesIO(as_xlsx([])))
    header = re.search(rb"<row r=\"1\".*?</row>", template.read(SHEET)).group(0)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for name in template.namelist():
            if name != SHEET:
                archive.writestr(name, template.read(name))
        with archive.open(SHEET, "w", force_zip64=True) as sheet:
            sheet.write(b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">')
            if dimension:
                sheet.write(f'<dimension ref="{dimension}"/>'.encode())
            if padding:
                sheet.write(b"<!--" + b" " * padding + b"-->")
            sheet.write(b"<sheetData>" + header)
            chunk = (row * 4096).encode()
            for _ in range(rows // 4096):
                sheet.write(chunk)
            sheet.write((row * (rows % 4096)).encode())
            sheet.write(b"</sheetData></worksheet>")
    return out.getvalue()


@pytest.fixture(scope="module")
def bomb() -> bytes:
    """The audit's file: 2 million rows, about 480 MB of XML, in a file of about 2 MB."""
    return crafted_xlsx(2_000_000, dimension="A1:D2000001")


@pytest.fixture
def jinshan():
    return DistrictFactory()


@pytest.fixture
def admin():
    return user_for("platform_admin")


def refused(admin, data: bytes, name: str = "企业.xlsx") -> tuple[str, float]:
    started = time.perf_counter()
    with pytest.raises(DomainError) as excinfo:
        import_enterprises(actor=admin, file=data, file_name=name)
    return excinfo.value.message, time.perf_counter() - started


def nothing_saved() -> bool:
    return (
        not Enterprise.objects.exists() and not AuditEvent.objects.exists() and not ImportJob.objects.exists()
    )


def test_the_audit_s_zip_bomb_is_refused_before_parsing(admin, jinshan, bomb):
    assert len(bomb) < 4 * 1024 * 1024
    message, seconds = refused(admin, bomb)
    assert "解压后" in message and "上限 200 MB" in message and "IMPORT_MAX_UNCOMPRESSED_BYTES" in message
    assert seconds < 2, seconds  # the old code parsed it for minutes
    assert nothing_saved()


def test_the_zip_bomb_is_refused_by_the_upload_page_too(client, admin, jinshan, bomb):
    client.force_login(admin)
    started = time.perf_counter()
    response = client.post(reverse("registry_import:enterprises"), {"file": _named(bomb, "企业.xlsx")})
    assert time.perf_counter() - started < 3
    assert response.status_code == 400 and "IMPORT_MAX_UNCOMPRESSED_BYTES" in response.content.decode()
    assert nothing_saved()


def _named(data: bytes, name: str):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data)


def test_a_small_file_inflating_far_beyond_its_size_is_refused(admin, jinshan):
    # 30 MB of XML in a file of about 30 KB: under the uncompressed limit, but no workbook compresses so well.
    data = crafted_xlsx(3, padding=30 * 1024 * 1024)
    message, seconds = refused(admin, data)
    assert "压缩比异常" in message and "IMPORT_MAX_COMPRESSION_RATIO" in message and seconds < 2
    assert nothing_saved()


def test_a_sheet_declaring_more_rows_than_the_limit_is_refused_before_parsing(admin, jinshan):
    # A few kilobytes: one row far down the sheet, which a reader would fill with empty rows up to it.
    data = crafted_xlsx(0, row="", dimension="A1:D2000001")
    data = _append_far_row(data, 2_000_001)
    message, seconds = refused(admin, data)
    assert "最多 200000 行数据（IMPORT_MAX_ROWS）" in message and "有 2000000 行" in message
    assert seconds < 1 and nothing_saved()


def test_a_sheet_hiding_its_rows_from_its_dimension_is_stopped_at_the_limit(admin, jinshan, settings):
    settings.IMPORT_MAX_ROWS = 1000
    data = _append_far_row(crafted_xlsx(0, row="", dimension="A1:D2"), 2_000_001)
    message, seconds = refused(admin, data)
    assert "最多 1000 行数据（IMPORT_MAX_ROWS）" in message and seconds < 2
    data = crafted_xlsx(5000, dimension="A1:D2")  # rows that are really there, under a false dimension
    message, _ = refused(admin, data)
    assert "最多 1000 行数据（IMPORT_MAX_ROWS）" in message
    assert nothing_saved()


def _append_far_row(data: bytes, number: int) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in source.namelist():
            content = source.read(name)
            if name == SHEET:
                far = ROW.replace("<row>", f'<row r="{number}">').encode()
                content = content.replace(b"</sheetData>", far + b"</sheetData>")
            archive.writestr(name, content)
    return out.getvalue()


def test_a_csv_over_the_row_limit_is_refused_and_one_at_it_accepted(admin, jinshan, settings):
    settings.IMPORT_MAX_ROWS = 50
    message, _ = refused(admin, as_csv([enterprise_row(n) for n in range(51)]), "企业.csv")
    assert "最多 50 行数据（IMPORT_MAX_ROWS）" in message
    assert nothing_saved()
    result = import_enterprises(
        actor=admin, file=as_csv([enterprise_row(n) for n in range(50)]), file_name="企业.csv"
    )
    assert result.rows == 50 and Enterprise.objects.count() == 50


def test_the_problem_list_is_capped_and_counts_the_rest(admin, jinshan, settings):
    settings.IMPORT_MAX_PROBLEMS = 10
    rows = [enterprise_row(n, 统一社会信用代码="坏", 风险等级="Z") for n in range(30)]
    with pytest.raises(ImportRejected) as excinfo:
        import_enterprises(actor=admin, file=as_csv(rows), file_name="企业.csv")
    rejected = excinfo.value
    assert len(rejected.row_problems) == 10 and rejected.total == 60 and rejected.bad_rows == 30
    assert "文件中有 30 行存在问题（共 60 处）" in rejected.message and "只列出前 10 处" in rejected.message
    assert [p.row for p in rejected.row_problems] == [2, 2, 3, 3, 4, 4, 5, 5, 6, 6]
    assert nothing_saved()


def test_a_large_import_runs_on_the_queue_with_a_progress_page(
    client, admin, jinshan, settings, django_capture_on_commit_callbacks
):
    settings.IMPORT_QUEUE_ROWS = 3
    client.force_login(admin)
    data = as_csv([enterprise_row(n) for n in range(5)])
    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = client.post(reverse("registry_import:enterprises"), {"file": _named(data, "大批企业.csv")})
    assert len(queued) == 1  # handed to the task queue once the job is committed
    job = ImportJob.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse(
        "registry_import:job", args=[job.pk]
    )
    assert job.status == ImportJob.Status.QUEUED and job.rows_estimate == 5 and job.actor == admin
    stored = settings.IMPORT_QUEUE_DIR / job.stored_name
    assert stored.read_bytes() == data and stored.stat().st_mode & 0o777 == 0o600
    assert not str(stored).startswith(str(settings.MEDIA_ROOT))  # never under a public URL
    assert not Enterprise.objects.exists()

    page = client.get(response["Location"]).content.decode()
    assert (
        'http-equiv="refresh"' in page and "<progress" in page and "排队中" in page and "大批企业.csv" in page
    )

    assert jobs.run_import(job.pk) == "done"  # what the worker runs
    job.refresh_from_db()
    assert job.status == ImportJob.Status.DONE and job.rows_done == 5 and not job.stored_name
    assert not stored.exists()
    assert Enterprise.objects.count() == 5
    page = client.get(response["Location"]).content.decode()
    assert 'http-equiv="refresh"' not in page and "导入完成：共 5 行，新增 5，更新 0。" in page
    assert list(AuditEvent.objects.values_list("action", flat=True)) == [
        "registry.import_queued",
        "registry.import_enterprises",
    ]
    assert verify_chain()[1] is None
    assert jobs.run_import(job.pk) == "done" and Enterprise.objects.count() == 5  # not run twice

    client.force_login(user_for("platform_admin"))  # only its uploader sees it
    assert client.get(response["Location"]).status_code == 404


def test_a_queued_import_with_bad_rows_lists_them_and_saves_nothing(
    client, admin, jinshan, settings, django_capture_on_commit_callbacks
):
    settings.IMPORT_QUEUE_ROWS = 3
    settings.IMPORT_MAX_PROBLEMS = 4
    client.force_login(admin)
    data = as_csv([enterprise_row(n, 风险等级="Z") for n in range(6)])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("registry_import:enterprises"), {"file": _named(data, "企业.csv")}, follow=True
        )
    job = ImportJob.objects.get()
    assert job.status == ImportJob.Status.QUEUED
    jobs.run_import(job.pk)
    job.refresh_from_db()
    assert job.status == ImportJob.Status.REJECTED and job.problem_count == 6 and len(job.problems) == 4
    assert not (settings.IMPORT_QUEUE_DIR / "x").exists() and not any(settings.IMPORT_QUEUE_DIR.iterdir())
    page = client.get(reverse("registry_import:job", args=[job.pk])).content.decode()
    assert "文件中有 6 行存在问题（共 6 处）" in page and "第 2 行" in page and "有问题，未导入" in page
    csv_text = client.get(reverse("registry_import:job_problems_csv", args=[job.pk])).content.decode(
        "utf-8-sig"
    )
    assert csv_text.count("\r\n") == 5 and "风险等级" in csv_text
    assert not Enterprise.objects.exists()
    assert response.status_code == 200


def test_the_upload_page_states_the_limits(client, admin, jinshan):
    client.force_login(admin)
    page = client.get(reverse("registry_import:enterprises")).content.decode()
    assert "超过 5000 行的文件由后台任务队列导入" in page and "单次最多 200000 行" in page


def test_the_upload_page_says_the_problem_list_was_capped(client, admin, jinshan, settings, monkeypatch):
    from jianchama.registry.views import imports as import_views

    monkeypatch.setattr(import_views, "PROBLEMS_SHOWN", 5)
    settings.IMPORT_MAX_PROBLEMS = 10
    client.force_login(admin)
    rows = [enterprise_row(n, 统一社会信用代码="坏", 风险等级="Z") for n in range(30)]
    response = client.post(reverse("registry_import:enterprises"), {"file": _named(as_csv(rows), "企业.csv")})
    page = response.content.decode()
    assert response.status_code == 400 and "共 60 处" in page and "只列出前 10 处" in page
    assert "下表只列出前 5 处问题，其余 55 处请下载问题清单查看（问题过多，清单只列出前 10 处）" in page
    key = re.search(r"/registry/import/problems/([^/]+)\.csv", page).group(1)
    listed = client.get(reverse("registry_import:problems_csv", args=[key])).content.decode("utf-8-sig")
    assert listed.count("\r\n") == 11  # the header and the 10 kept
