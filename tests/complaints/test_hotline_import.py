"""12345 work orders arrive as data (issue 17): 「与12345热线合作对接…信息共享」. The hotline's work-order export, a
real .xlsx written with openpyxl, is uploaded through the page by the intake desk and becomes complaints of
source 12345, each row checked on its own, none registered twice."""

from __future__ import annotations

import datetime
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from openpyxl import Workbook, load_workbook

from jianchama.complaints import hotline
from jianchama.complaints.models import Complaint
from jianchama.core.errors import DomainError, PermissionDenied
from jianchama.core.models import AuditEvent

pytestmark = pytest.mark.django_db

URL = "/complaints/import-12345/"
HEADER = [
    "工单编号",
    "受理时间",
    "诉求人",
    "联系电话",
    "诉求内容",
    "涉及企业名称",
    "统一社会信用代码",
    "涉及执法单位",
    "诉求类别",
    "办理时限",
]


def xlsx(rows, header=HEADER, text_cells=()) -> bytes:
    """The hotline's export as Excel writes it: a header row, then one work order a row. Cells listed in
    `text_cells` ((row, column), 1-based data rows) are stored as text even when they start with 「=」."""
    book = Workbook()
    sheet = book.active
    sheet.append(header)
    for row in rows:
        sheet.append([row.get(name) for name in header])
    for row_number, column in text_cells:
        cell = sheet.cell(row=row_number + 1, column=header.index(column) + 1)
        cell.data_type = "s"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def work_order(number: str, **overrides):
    yesterday = timezone.localdate() - datetime.timedelta(days=1)
    row = {
        "工单编号": number,
        "受理时间": f"{yesterday.isoformat()} 09:30",
        "诉求人": "王先生",
        "联系电话": "13911112222",
        "诉求内容": "执法人员在营业高峰检查三小时，影响正常经营",
        "诉求类别": "干扰企业正常生产经营",
        "办理时限": yesterday + datetime.timedelta(days=10),
    }
    return {**row, **overrides}


def upload(client, data: bytes, name: str = "12345工单.xlsx"):
    return client.post(URL, {"file": SimpleUploadedFile(name, data)})


def hotline_complaints():
    return Complaint.objects.filter(source=Complaint.Source.HOTLINE_12345)


def test_the_intake_desk_imports_the_hotline_export_through_the_page(client, s):
    """「与12345热线合作对接…信息共享」: the work orders become complaints of source 12345, not retyped."""
    data = xlsx(
        [
            work_order("GD20260001", **{"统一社会信用代码": s.enterprise.uscc, "涉及执法单位": s.body.code}),
            work_order("GD20260002", **{"涉及企业名称": "未登记的小店", "诉求类别": "噪音扰民"}),
            work_order("GD20260003", **{"涉及企业名称": s.other_enterprise.name, "联系电话": "021-57921234"}),
        ]
    )
    client.force_login(s.intake)
    assert "导入12345工单" in client.get("/complaints/").content.decode()
    response = upload(client, data)
    text = response.content.decode()
    assert response.status_code == 200
    assert "导入完成：共 3 行，新登记 3 件，已导入过（未重复登记） 0 件" in text

    first = Complaint.objects.get(external_number="GD20260001")
    assert first.source == Complaint.Source.HOTLINE_12345 and first.status == Complaint.Status.REGISTERED
    assert first.enterprise == s.enterprise and first.body == s.body
    assert first.category == Complaint.Category.DISTURBING_BUSINESS
    assert first.received_on == timezone.localdate() - datetime.timedelta(days=1)
    assert first.external_due == first.received_on + datetime.timedelta(days=10)
    assert first.complainant_name == "王先生" and first.complainant_phone == "13911112222"
    assert (
        first.title == "执法人员在营业高峰检查三小时，影响正常经营"[:30] and first.registered_by == s.intake
    )
    second = Complaint.objects.get(external_number="GD20260002")
    assert second.enterprise is None and second.category == Complaint.Category.OTHER
    assert "【12345诉求类别：噪音扰民】" in second.content
    assert "【涉及企业（未匹配到已登记企业）：未登记的小店】" in second.content
    third = Complaint.objects.get(external_number="GD20260003")
    assert third.enterprise == s.other_enterprise and third.complainant_phone == "021-57921234"
    assert first.number in text and "GD20260003" in text

    detail = client.get(f"/complaints/{first.pk}/").content.decode()
    assert "工单编号" in detail and "GD20260001" in detail and "12345市民服务热线" in detail
    event = AuditEvent.objects.get(action="complaint.hotline_imported")
    assert event.after["created"] == 3 and event.after["rows"] == 3 and event.actor == s.intake
    assert AuditEvent.objects.filter(action="complaint.registered").count() == 3


def test_the_same_work_order_imported_twice_is_registered_once(client, s):
    data = xlsx([work_order("GD20260010"), work_order("GD20260011"), work_order("GD20260010")])
    client.force_login(s.intake)
    text = upload(client, data).content.decode()
    assert "共 3 行，新登记 2 件，已导入过（未重复登记） 1 件" in text
    assert hotline_complaints().count() == 2
    again = upload(client, data).content.decode()
    assert "共 3 行，新登记 0 件，已导入过（未重复登记） 3 件" in again
    assert hotline_complaints().count() == 2
    assert Complaint.objects.filter(external_number="GD20260010").count() == 1
    # The same number from another channel is another channel's work order.
    letter = s.hotline(source=Complaint.Source.LETTER, external_number="GD20260010")
    assert letter.external_number == "GD20260010"
    with pytest.raises(DomainError, match="12345市民服务热线工单GD20260010已登记，不重复登记"):
        s.hotline(external_number="GD20260010")


def test_each_bad_row_is_named_in_chinese_and_left_out_whole(client, s):
    tomorrow = timezone.localdate() + datetime.timedelta(days=1)
    data = xlsx(
        [
            work_order("GD20260020"),
            work_order("GD20260021", **{"诉求内容": None}),
            work_order("GD20260022", **{"受理时间": "昨天上午"}),
            work_order("GD20260023", **{"统一社会信用代码": "91310116MA1FPX7Q3X"}),
            work_order("GD20260024", **{"涉及执法单位": s.other_body.code}),
            work_order("GD20260025", **{"受理时间": tomorrow.isoformat(), "联系电话": "打不通"}),
            work_order(None),
        ]
    )
    client.force_login(s.intake)
    response = upload(client, data)
    text = response.content.decode()
    assert "共 7 行，新登记 1 件，已导入过（未重复登记） 0 件，有问题未导入 6 行" in text
    assert "诉求内容" in text and "必须填写" in text
    assert "日期应写作 YYYY-MM-DD" in text and "昨天上午" in text
    assert "校验码不符" in text
    assert "「闵行区建设和管理委员会」不属于您所在的区域" in text
    assert "受理日期不能晚于今天" not in text  # the phone's problem stops the row before the service
    assert "应为手机号或座机号码" in text and "打不通" in text
    assert "第 8 行" in text and "工单编号" in text
    assert list(hotline_complaints().values_list("external_number", flat=True)) == ["GD20260020"]

    # Fixed and uploaded again: the good row is not doubled, the fixed rows come in.
    fixed = xlsx([work_order("GD20260020"), work_order("GD20260021"), work_order("GD20260025")])
    assert "新登记 2 件，已导入过（未重复登记） 1 件" in upload(client, fixed).content.decode()
    assert hotline_complaints().count() == 3


def test_a_future_receipt_date_is_refused_by_the_service_for_that_row_only(s):
    tomorrow = timezone.localdate() + datetime.timedelta(days=1)
    data = xlsx([work_order("GD20260030", **{"受理时间": tomorrow.isoformat()}), work_order("GD20260031")])
    result = hotline.import_work_orders(s.intake, file=data, file_name="工单.xlsx")
    assert [str(p) for p in result.problems] == ["第 2 行：受理日期不能晚于今天"]
    assert [order for _row, order, _number in result.created] == ["GD20260031"]


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (b"this is not a workbook at all", "工单.xlsx", "内容不是 Excel 工作簿"),
        (b"PK\x03\x04broken zip", "工单.xlsx", "无法读取 Excel 文件"),
        (b"", "工单.xlsx", "文件是空的"),
        (b"\xd0\xcf\x11\xe0old excel", "工单.xls", "不支持旧版 Excel（.xls）文件"),
    ],
)
def test_a_malformed_file_is_refused_in_chinese_and_nothing_is_saved(client, s, data, name, message):
    client.force_login(s.intake)
    response = upload(client, data, name)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not hotline_complaints().exists()
    assert not AuditEvent.objects.filter(action__startswith="complaint.").exists()


def test_a_file_without_the_required_columns_is_refused_whole(client, s):
    data = xlsx([{"工单编号": "GD1", "诉求内容": "x"}], header=["工单编号", "诉求内容"])
    client.force_login(s.intake)
    response = upload(client, data)
    assert response.status_code == 400
    assert "缺少必需的列：受理时间" in response.content.decode()
    assert not hotline_complaints().exists()


def test_the_registry_imports_size_limits_apply_to_work_orders(client, s, settings):
    rows = [work_order(f"GD2026{n:04d}") for n in range(5)]
    client.force_login(s.intake)
    settings.HOTLINE_IMPORT_MAX_ROWS = 3
    response = upload(client, xlsx(rows))
    assert response.status_code == 400 and "超过单次导入12345工单的上限 3 行" in response.content.decode()
    settings.HOTLINE_IMPORT_MAX_ROWS = 5000
    settings.IMPORT_MAX_UNCOMPRESSED_BYTES = 1000
    response = upload(client, xlsx(rows))
    assert response.status_code == 400 and "IMPORT_MAX_UNCOMPRESSED_BYTES" in response.content.decode()
    settings.IMPORT_MAX_UNCOMPRESSED_BYTES = 200 * 1024 * 1024
    settings.IMPORT_MAX_BYTES = 100
    response = upload(client, xlsx(rows))
    assert response.status_code == 400 and "文件过大" in response.content.decode()
    assert not hotline_complaints().exists()


def test_formula_looking_text_is_stored_as_text_and_exported_neutralised(client, s):
    formula = '=HYPERLINK("http://evil.example","点我")'
    data = xlsx(
        [work_order("GD20260040", **{"诉求内容": formula, "诉求人": "@王先生"})],
        text_cells=[(1, "诉求内容")],
    )
    # The cell really is text in the file, not a formula.
    assert load_workbook(io.BytesIO(data)).active["E2"].data_type == "s"
    client.force_login(s.intake)
    assert "新登记 1 件" in upload(client, data).content.decode()
    complaint = Complaint.objects.get(external_number="GD20260040")
    assert complaint.content == formula and complaint.complainant_name == "@王先生"
    detail = client.get(f"/complaints/{complaint.pk}/").content.decode()
    assert "=HYPERLINK(&quot;http://evil.example&quot;,&quot;点我&quot;)" in detail
    sheet = load_workbook(io.BytesIO(client.get("/complaints/export.xlsx").getvalue())).active
    rows = list(sheet.iter_rows(values_only=True))
    row = dict(zip(rows[0], rows[1], strict=True))
    assert row["标题"] == "'" + formula[:30]
    assert all(cell.data_type != "f" for line in sheet.iter_rows() for cell in line)


def test_a_body_administrator_cannot_import_work_orders(client, s):
    data = xlsx([work_order("GD20260050")])
    for user in (s.head, s.supervisor, s.observer):
        client.force_login(user)
        assert client.get(URL).status_code == 403
        response = upload(client, data)
        assert response.status_code == 403
        assert "只有投诉受理人员可以导入12345热线工单" in response.content.decode()
    client.force_login(s.head)
    assert "导入12345工单" not in client.get("/complaints/").content.decode()
    with pytest.raises(PermissionDenied, match="只有投诉受理人员可以导入12345热线工单"):
        hotline.import_work_orders(s.head, file=data, file_name="工单.xlsx")
    assert not hotline_complaints().exists()


def test_the_intake_desk_downloads_the_template_with_the_documented_columns(client, s):
    client.force_login(s.intake)
    response = client.get(URL, {"template": "xlsx"})
    assert response.status_code == 200
    header = next(load_workbook(io.BytesIO(response.getvalue())).active.iter_rows(values_only=True))
    assert list(header) == [c.name for c in hotline.HOTLINE_COLUMNS]
    assert "工单编号" in client.get(URL).content.decode()
