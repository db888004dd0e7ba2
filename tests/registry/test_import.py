"""Bulk import of enterprises (F-03) and inspectors with certificates (F-02): all or nothing, every problem named."""

import csv
import datetime
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from openpyxl import Workbook, load_workbook

from jianchama.core import sms
from jianchama.core.audit import verify_chain
from jianchama.core.errors import DomainError, PermissionDenied
from jianchama.core.models import AuditEvent
from jianchama.core.roles import Role
from jianchama.registry import uscc
from jianchama.registry.importing import ImportRejected, import_enterprises, import_inspectors
from jianchama.registry.models import (
    Certificate,
    EnforcementBody,
    Enterprise,
    EnterpriseContact,
    Inspector,
    Region,
)
from tests.factories import (
    BodyFactory,
    CertificateFactory,
    ContactFactory,
    DistrictFactory,
    EnterpriseFactory,
    FieldFactory,
    InspectorFactory,
    RegionFactory,
    UserFactory,
    make_uscc,
    user_for,
)

pytestmark = pytest.mark.django_db

ENTERPRISE_HEADER = [
    "统一社会信用代码",
    "企业名称",
    "地址",
    "所在区域",
    "行业",
    "风险等级",
    "信用等级",
    "法定代表人",
    "法定代表人手机号",
]
INSPECTOR_HEADER = ["姓名", "所属执法单位", "工号", "手机号", "执法证号", "执法领域", "有效期起", "有效期止"]


def code(n: int, region: str = "310116") -> str:
    return make_uscc(800000 + n, region)


def enterprise_row(n: int, **values) -> list:
    row = {
        "统一社会信用代码": code(n),
        "企业名称": f"上海导入燃气有限公司{n}",
        "地址": f"金山区示例路{n}号",
        "所在区域": "金山区",
        "行业": "燃气生产和供应业",
        "风险等级": "B",
        "信用等级": "A",
        "法定代表人": f"王{n}",
        "法定代表人手机号": f"139{n:08d}",
    } | values
    return [row[name] for name in ENTERPRISE_HEADER]


def as_csv(rows, header=ENTERPRISE_HEADER, encoding="utf-8", bom=False) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows([header, *rows])
    return (b"\xef\xbb\xbf" if bom else b"") + buffer.getvalue().encode(encoding)


def as_xlsx(rows, header=ENTERPRISE_HEADER) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def problems_of(excinfo) -> list[str]:
    return [str(p) for p in excinfo.value.row_problems]


@pytest.fixture
def jinshan():
    return DistrictFactory()


@pytest.fixture
def zhujing(jinshan):
    return RegionFactory(code="310116101", name="朱泾镇", level=Region.Level.TOWN, parent=jinshan)


@pytest.fixture
def pudong():
    return RegionFactory(code="310115", name="浦东新区", level=Region.Level.DISTRICT, parent=RegionFactory())


@pytest.fixture
def admin():
    return UserFactory(role=Role.PLATFORM_ADMIN)


@pytest.fixture
def body_admin(jinshan):
    return user_for(Role.BODY_ADMIN, body=BodyFactory(region=jinshan, level=EnforcementBody.Level.DISTRICT))


# ---------------------------------------------------------------------------------------------------------
# Enterprises: reading each kind of file


def test_csv_utf8_creates_enterprises_and_legal_representative_contacts(admin, jinshan, zhujing):
    data = as_csv(
        [
            enterprise_row(1),
            enterprise_row(2, 所在区域="310116101", 风险等级="d", 信用等级="", 法定代表人手机号=""),
        ]
    )

    result = import_enterprises(actor=admin, file=data, file_name="企业.csv")

    assert (result.rows, result.created, result.updated) == (2, 2, 0)
    first = Enterprise.objects.get(uscc=code(1))
    assert (
        first.name,
        first.address,
        first.region,
        first.industry,
        first.risk_grade,
        first.credit_grade,
        first.legal_representative,
    ) == ("上海导入燃气有限公司1", "金山区示例路1号", jinshan, "燃气生产和供应业", "B", "A", "王1")
    contact = first.contacts.get()
    assert (contact.kind, contact.name, contact.phone) == (
        EnterpriseContact.Kind.LEGAL_REPRESENTATIVE,
        "王1",
        "13900000001",
    )
    second = Enterprise.objects.get(uscc=code(2))
    assert (second.region, second.risk_grade, second.credit_grade) == (zhujing, "D", "")
    assert not second.contacts.exists()


def test_csv_with_bom(admin, jinshan):
    result = import_enterprises(actor=admin, file=as_csv([enterprise_row(1)], bom=True), file_name="bom.csv")
    assert result.created == 1
    assert Enterprise.objects.get(uscc=code(1)).name == "上海导入燃气有限公司1"


def test_gbk_csv_as_excel_on_chinese_windows_saves_it(admin, jinshan):
    data = as_csv(
        [enterprise_row(1, 企业名称="上海金山燃气（集团）有限公司", 地址="朱泾镇万安街１号")], encoding="gbk"
    )
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")

    import_enterprises(actor=admin, file=data, file_name="企业.csv")

    enterprise = Enterprise.objects.get(uscc=code(1))
    assert (enterprise.name, enterprise.address) == ("上海金山燃气（集团）有限公司", "朱泾镇万安街１号")


def test_xlsx_with_numbers_where_text_was_meant(admin, jinshan):
    """Excel stores a phone number typed into a General cell as a number; it still imports."""
    row = enterprise_row(1)
    row[ENTERPRISE_HEADER.index("法定代表人手机号")] = 13900000001
    data = as_xlsx([row, enterprise_row(2)])

    result = import_enterprises(actor=admin, file=data, file_name="企业.xlsx")

    assert result.created == 2
    assert EnterpriseContact.objects.get(enterprise__uscc=code(1)).phone == "13900000001"


def test_xlsx_rows_are_numbered_as_the_spreadsheet_shows_them(admin, jinshan):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(ENTERPRISE_HEADER)
    sheet.append(enterprise_row(1))
    sheet.append([])  # a blank row 3 is skipped, not counted
    sheet.append(enterprise_row(4, 风险等级="E"))
    buffer = io.BytesIO()
    workbook.save(buffer)

    with pytest.raises(ImportRejected) as excinfo:
        import_enterprises(actor=admin, file=buffer.getvalue(), file_name="企业.xlsx")

    assert problems_of(excinfo) == ["第 4 行「风险等级」：应为 A、B、C、D 之一，实际为“E”"]


def test_header_names_tolerate_spaces_marks_and_extra_columns(admin, jinshan):
    header = [f" {name}* " if name == "企业名称" else name for name in ENTERPRISE_HEADER] + ["备注"]
    data = as_csv([[*enterprise_row(1), "随便写点什么"]], header=header)
    assert import_enterprises(actor=admin, file=data, file_name="企业.csv").created == 1


def test_region_by_code_or_unambiguous_name(admin, jinshan, pudong):
    RegionFactory(code="310116102", name="新城街道", level=Region.Level.TOWN, parent=jinshan)
    RegionFactory(code="310115102", name="新城街道", level=Region.Level.TOWN, parent=pudong)
    data = as_csv(
        [
            enterprise_row(1, 所在区域="310115"),
            enterprise_row(2, 所在区域="新城街道"),
            enterprise_row(3, 所在区域="310116102"),
        ]
    )

    with pytest.raises(ImportRejected) as excinfo:
        import_enterprises(actor=admin, file=data, file_name="企业.csv")

    assert problems_of(excinfo) == [
        "第 3 行「所在区域」：名称为“新城街道”的区域有 2 个（区划代码 310115102、310116102），请填写区划代码"
    ]


# ---------------------------------------------------------------------------------------------------------
# Enterprises: all or nothing, every problem named


def test_every_bad_row_is_reported_and_nothing_is_saved(admin, jinshan):
    good = code(1)
    wrong_check = good[:17] + ("3" if good[17] != "3" else "4")
    rows = [
        enterprise_row(1),
        enterprise_row(2, 统一社会信用代码=wrong_check),
        enterprise_row(3, 统一社会信用代码="91310116MA1234"),
        enterprise_row(4, 企业名称=""),
        enterprise_row(5, 所在区域="火星区"),
        enterprise_row(6, 风险等级=""),
        enterprise_row(7, 法定代表人手机号="1390000"),
        enterprise_row(8, 法定代表人=""),
        enterprise_row(9, 企业名称="长" * 201),
        enterprise_row(10, 统一社会信用代码="9.13101E+17"),
        enterprise_row(11, 统一社会信用代码=good),
        enterprise_row(12, 统一社会信用代码="", 所在区域="", 风险等级="X"),
    ]

    with pytest.raises(ImportRejected) as excinfo:
        import_enterprises(actor=admin, file=as_csv(rows), file_name="企业.csv")

    assert problems_of(excinfo) == [
        f"第 3 行「统一社会信用代码」：校验码不符：第18位应为“{good[17]}”，实际为“{wrong_check[17]}”",
        "第 4 行「统一社会信用代码」：统一社会信用代码应为18位，实际为14位",
        "第 5 行「企业名称」：不能为空",
        "第 6 行「所在区域」：区域“火星区”未登记：请填写已登记区域的区划代码或名称",
        "第 7 行「风险等级」：不能为空：应为 A、B、C、D 之一",
        "第 8 行「法定代表人手机号」：手机号应为以1开头的11位数字，实际为“1390000”",
        "第 9 行「法定代表人」：填写了法定代表人手机号时，法定代表人姓名不能为空",
        "第 10 行「企业名称」：不能超过200个字，实际为201个字",
        "第 11 行「统一社会信用代码」：统一社会信用代码应为18位，实际为11位（该单元格被 Excel 当作数字，"
        "超过15位的数字会丢失精度：请将此列设为“文本”格式后重新填写）",
        f"第 12 行「统一社会信用代码」：与第 2 行的统一社会信用代码重复（{good}）",
        "第 13 行「统一社会信用代码」：统一社会信用代码不能为空",
        "第 13 行「所在区域」：不能为空：请填写区划代码或区域名称",
        "第 13 行「风险等级」：应为 A、B、C、D 之一，实际为“X”",
    ]
    assert excinfo.value.message == (
        "文件中有 11 行存在问题（共 13 处），未导入任何数据。请按下列说明修改后重新上传整个文件。"
    )
    assert not Enterprise.objects.exists()
    assert not EnterpriseContact.objects.exists()
    assert not AuditEvent.objects.exists()


def test_lower_case_and_spaces_in_uscc_are_forgiven(admin, jinshan):
    data = as_csv([enterprise_row(1, 统一社会信用代码=f"  {code(1).lower()} ")])
    import_enterprises(actor=admin, file=data, file_name="企业.csv")
    assert Enterprise.objects.filter(uscc=code(1)).exists()


def test_duplicate_within_the_file_names_the_earlier_row(admin, jinshan):
    data = as_csv([enterprise_row(1), enterprise_row(2), enterprise_row(1, 企业名称="另一家")])
    with pytest.raises(ImportRejected) as excinfo:
        import_enterprises(actor=admin, file=data, file_name="企业.csv")
    assert problems_of(excinfo) == [
        f"第 4 行「统一社会信用代码」：与第 2 行的统一社会信用代码重复（{code(1)}）"
    ]
    assert not Enterprise.objects.exists()


def test_missing_required_columns_is_one_error_listing_them(admin, jinshan):
    header = ["统一社会信用代码", "企业名称", "地址"]
    with pytest.raises(DomainError) as excinfo:
        import_enterprises(
            actor=admin, file=as_csv([[code(1), "甲", "乙"]], header=header), file_name="a.csv"
        )
    assert not isinstance(excinfo.value, ImportRejected)
    assert excinfo.value.message.startswith("缺少必需的列：所在区域、风险等级。第 1 行应为表头，")


@pytest.mark.parametrize(
    ("data", "file_name", "message"),
    [
        (b"", "a.csv", "文件是空的"),
        (b"\r\n \r\n", "a.csv", "文件是空的"),
        (",".join(ENTERPRISE_HEADER).encode() + b"\r\n,,,\r\n", "a.csv", "文件中只有表头，没有数据行"),
        (b"%PDF-1.4 ...", "企业.pdf", "不支持“.pdf”类型的文件"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "企业.xls", "不支持旧版 Excel（.xls）文件"),
        (b"PK\x03\x04 this is not a workbook", "企业.xlsx", "无法读取 Excel 文件"),
        (b"just,some,text", "企业.xlsx", "文件扩展名为 .xlsx，但内容不是 Excel 工作簿"),
        ("统一社会信用代码\n".encode() + b"\x80\xff\xfe\x80", "a.csv", "无法识别文件的文字编码"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "a.csv", "文件不是文本格式的 CSV"),
    ],
)
def test_unreadable_files_are_refused_with_a_clear_error(admin, jinshan, data, file_name, message):
    with pytest.raises(DomainError) as excinfo:
        import_enterprises(actor=admin, file=data, file_name=file_name)
    assert message in excinfo.value.message


def test_file_too_large(admin, jinshan, settings):
    settings.IMPORT_MAX_BYTES = 1024
    data = as_csv([enterprise_row(n) for n in range(30)])
    with pytest.raises(DomainError) as excinfo:
        import_enterprises(actor=admin, file=io.BytesIO(data), file_name="a.csv")
    assert excinfo.value.message == (
        f"文件过大（{len(data) / 1024:.0f} KB），单次导入上限为 1 KB：请拆分为多个文件分批导入。"
    )
    assert not Enterprise.objects.exists()


# ---------------------------------------------------------------------------------------------------------
# Enterprises: updating what is registered


def test_existing_uscc_updates_and_empty_optional_cells_change_nothing(admin, jinshan, zhujing):
    existing = EnterpriseFactory(
        uscc=code(1),
        name="旧名称",
        address="旧地址",
        region=jinshan,
        risk_grade="A",
        credit_grade="B",
        legal_representative="王1",
    )
    ContactFactory(enterprise=existing, name="王1", phone="13900000099")
    same = EnterpriseFactory(
        uscc=code(2),
        name="上海导入燃气有限公司2",
        address="金山区示例路2号",
        region=jinshan,
        industry="燃气生产和供应业",
        risk_grade="B",
        credit_grade="A",
        legal_representative="王2",
    )
    data = as_csv(
        [
            enterprise_row(1, 地址="", 所在区域="朱泾镇", 风险等级="C", 信用等级=""),
            enterprise_row(2, 法定代表人手机号=""),
            enterprise_row(3),
        ]
    )

    result = import_enterprises(actor=admin, file=data, file_name="企业.csv")

    assert result.counts == {
        "created": 1,
        "updated": 1,
        "unchanged": 1,
        "contacts_created": 1,
        "contacts_updated": 1,
    }
    existing.refresh_from_db()
    assert (existing.name, existing.address, existing.region, existing.risk_grade, existing.credit_grade) == (
        "上海导入燃气有限公司1",
        "旧地址",
        zhujing,
        "C",
        "B",
    )
    # The legal representative's contact now has the phone the file gives; no second contact.
    assert list(existing.contacts.values_list("name", "phone")) == [("王1", "13900000001")]
    assert Enterprise.objects.get(pk=same.pk).name == "上海导入燃气有限公司2"
    assert Enterprise.objects.count() == 3


# ---------------------------------------------------------------------------------------------------------
# Enterprises: who may import what


@pytest.mark.parametrize(
    "role",
    [
        Role.INSPECTOR,
        Role.CITY_REVIEWER,
        Role.SUPERVISOR,
        Role.DISTRICT_GOVERNMENT,
        Role.ENTERPRISE_CONTACT,
        Role.COMPLAINT_INTAKE,
        Role.OBSERVER,
    ],
)
def test_other_roles_are_refused(jinshan, role):
    with pytest.raises(PermissionDenied) as excinfo:
        import_enterprises(actor=user_for(role), file=as_csv([enterprise_row(1)]), file_name="a.csv")
    assert excinfo.value.message == "只有平台管理员和执法单位管理员可以批量导入企业。"
    assert Enterprise.objects.filter(uscc=code(1)).count() == 0


def test_district_body_admin_is_refused_row_by_row_outside_its_district(body_admin, jinshan, zhujing, pudong):
    data = as_csv(
        [
            enterprise_row(1, 法定代表人手机号=""),
            enterprise_row(2, 法定代表人手机号="", 所在区域="朱泾镇"),
            enterprise_row(3, 法定代表人手机号="", 所在区域="浦东新区"),
            enterprise_row(4, 法定代表人手机号="", 所在区域="310000"),
        ]
    )

    with pytest.raises(ImportRejected) as excinfo:
        import_enterprises(actor=body_admin, file=data, file_name="a.csv")

    assert problems_of(excinfo) == [
        "第 4 行「所在区域」：“浦东新区”不在本单位的管辖范围（金山区）内，无权导入该区域的企业",
        "第 5 行「所在区域」：“上海市”不在本单位的管辖范围（金山区）内，无权导入该区域的企业",
    ]
    assert not Enterprise.objects.exists()


def test_town_body_admin_works_within_its_district(zhujing, pudong):
    town_admin = user_for(Role.BODY_ADMIN, body=BodyFactory(region=zhujing, level=EnforcementBody.Level.TOWN))
    data = as_csv(
        [
            enterprise_row(1, 法定代表人手机号="", 所在区域="金山区"),
            enterprise_row(2, 法定代表人手机号="", 所在区域="朱泾镇"),
        ]
    )
    assert import_enterprises(actor=town_admin, file=data, file_name="a.csv").created == 2


def test_district_body_admin_may_not_move_in_an_enterprise_registered_elsewhere(body_admin, jinshan, pudong):
    EnterpriseFactory(uscc=code(1), region=pudong)
    with pytest.raises(ImportRejected) as excinfo:
        import_enterprises(
            actor=body_admin, file=as_csv([enterprise_row(1, 法定代表人手机号="")]), file_name="a.csv"
        )
    assert problems_of(excinfo) == [
        "第 2 行「统一社会信用代码」：该企业已登记在“浦东新区”，不在本单位的管辖范围（金山区）内，无权修改"
    ]
    assert Enterprise.objects.get(uscc=code(1)).region == pudong


def test_city_body_admin_imports_anywhere(jinshan, pudong):
    city_admin = user_for(
        Role.BODY_ADMIN, body=BodyFactory(region=RegionFactory(), level=EnforcementBody.Level.CITY)
    )
    data = as_csv(
        [
            enterprise_row(1, 法定代表人手机号="", 所在区域="浦东新区"),
            enterprise_row(2, 法定代表人手机号="", 所在区域="金山区"),
        ]
    )
    assert import_enterprises(actor=city_admin, file=data, file_name="a.csv").created == 2


def test_body_admin_may_not_set_or_change_the_legal_representatives_phone(body_admin, jinshan):
    """Issue 10, item 1: the phone on record approves who logs in as the enterprise; a body may not set it."""
    on_record = EnterpriseFactory(uscc=code(2), region=jinshan)
    ContactFactory(enterprise=on_record, kind="legal_representative", name="王2", phone="13900000002")
    changed = EnterpriseFactory(uscc=code(3), region=jinshan)
    ContactFactory(enterprise=changed, kind="legal_representative", name="王3", phone="13900000003")
    data = as_csv(
        [
            enterprise_row(1),  # a new enterprise with a phone
            enterprise_row(2),  # the phone on record, repeated: fine
            enterprise_row(3, 法定代表人手机号="13700000003"),  # another phone
        ]
    )
    with pytest.raises(ImportRejected) as excinfo:
        import_enterprises(actor=body_admin, file=data, file_name="a.csv")
    reason = (
        "法定代表人手机号用于企业联系人登录的核验，只能由平台管理员或企业本人登记和变更，"
        "执法单位不能导入；请清空本列后重新上传，或请平台管理员导入"
    )
    assert problems_of(excinfo) == [
        f"第 2 行「法定代表人手机号」：{reason}",
        f"第 4 行「法定代表人手机号」：{reason}",
    ]
    assert not Enterprise.objects.filter(uscc=code(1)).exists()
    assert set(EnterpriseContact.objects.values_list("phone", flat=True)) == {"13900000002", "13900000003"}
    # Without the column's changes the same file goes in, the phones on record untouched.
    data = as_csv(
        [enterprise_row(1, 法定代表人手机号=""), enterprise_row(2), enterprise_row(3, 法定代表人手机号="")]
    )
    assert import_enterprises(actor=body_admin, file=data, file_name="a.csv").created == 1
    assert set(EnterpriseContact.objects.values_list("phone", flat=True)) == {"13900000002", "13900000003"}


def test_the_platform_admins_import_tells_the_phones_on_record_of_a_changed_representative(
    admin, jinshan, django_capture_on_commit_callbacks
):
    changed = EnterpriseFactory(uscc=code(2), region=jinshan)
    ContactFactory(enterprise=changed, kind="legal_representative", name="王2", phone="13900000099")
    ContactFactory(enterprise=changed, kind="on_site", name="现场", phone="13700000002")
    same = EnterpriseFactory(uscc=code(3), region=jinshan)
    ContactFactory(enterprise=same, kind="legal_representative", name="王3", phone="13900000003")
    data = as_csv([enterprise_row(1), enterprise_row(2), enterprise_row(3)])
    with django_capture_on_commit_callbacks(execute=True):
        import_enterprises(actor=admin, file=data, file_name="a.csv")
    # The new enterprise's first representative is its registration; the unchanged one is not told.
    assert sorted(m.phone for m in sms.outbox) == ["13700000002", "13900000002", "13900000099"]
    assert all("法定代表人登记为王2（手机号139****0002）" in m.text for m in sms.outbox)


# ---------------------------------------------------------------------------------------------------------
# Enterprises: audit and cost


def test_one_audit_event_with_counts_and_file_hash(admin, jinshan):
    data = as_csv([enterprise_row(n) for n in range(3)])

    result = import_enterprises(actor=admin, file=data, file_name="企业.csv")

    event = AuditEvent.objects.get()
    import hashlib

    digest = hashlib.sha256(data).hexdigest()
    assert (event.action, event.actor, event.object_type, event.object_id) == (
        "registry.import_enterprises",
        admin,
        "registry.Enterprise",
        digest,
    )
    assert event.after == {
        "file_name": "企业.csv",
        "sha256": digest,
        "rows": 3,
        "created": 3,
        "updated": 0,
        "unchanged": 0,
        "contacts_created": 3,
        "contacts_updated": 0,
    }
    assert result.sha256 == digest
    assert verify_chain() == (1, None)


def _count_queries(admin, data) -> int:
    with CaptureQueriesContext(connection) as captured:
        import_enterprises(actor=admin, file=data, file_name="a.csv")
    return len(captured)


def test_queries_do_not_grow_with_the_number_of_rows(admin, jinshan, django_assert_max_num_queries):
    small = as_csv([enterprise_row(n) for n in range(10)])
    large = as_csv([enterprise_row(n) for n in range(100, 2100)])
    large_changed = as_csv(
        [enterprise_row(n, 风险等级="C", 法定代表人手机号=f"137{n:08d}") for n in range(100, 2100)]
    )

    with django_assert_max_num_queries(20):
        import_enterprises(actor=admin, file=large, file_name="a.csv")
    with django_assert_max_num_queries(20):
        result = import_enterprises(actor=admin, file=large_changed, file_name="a.csv")
    assert result.counts["updated"] == 2000
    assert result.counts["contacts_updated"] == 2000
    assert _count_queries(admin, as_csv([enterprise_row(n) for n in range(5000, 7000)])) <= (
        _count_queries(admin, small) + 4
    )


# ---------------------------------------------------------------------------------------------------------
# Inspectors and certificates


@pytest.fixture
def gas():
    return FieldFactory(code="gas", name="燃气管理")


@pytest.fixture
def safety():
    return FieldFactory(code="safety", name="安全生产")


@pytest.fixture
def road():
    return FieldFactory(code="road", name="道路运输")


@pytest.fixture
def jianwei(jinshan, gas, safety):
    return BodyFactory(code="JS-JW", name="金山区建设和管理委员会", region=jinshan, fields=[gas, safety])


@pytest.fixture
def jiaowei(jinshan, road):
    return BodyFactory(code="JS-JT", name="金山区交通委员会", region=jinshan, fields=[road])


def inspector_row(
    name="张三",
    body="JS-JW",
    employee="001",
    phone="13800000001",
    number="31011600000001",
    fields="gas",
    start="2026-01-01",
    end="2028-12-31",
) -> list:
    return [name, body, employee, phone, number, fields, start, end]


def test_inspectors_with_certificates_from_csv(admin, jianwei, gas, safety):
    data = as_csv(
        [
            inspector_row(),
            inspector_row(
                number="31011600000002", fields="燃气管理、安全生产", start="2026/1/5", end="2027/06/30"
            ),
            inspector_row(
                name="李四", employee="002", phone="", number="31011600000003", fields="gas,safety"
            ),
        ],
        header=INSPECTOR_HEADER,
    )

    result = import_inspectors(actor=admin, file=data, file_name="执法人员.csv")

    assert result.counts == {
        "inspectors_created": 2,
        "inspectors_updated": 0,
        "certificates_created": 3,
        "certificates_updated": 0,
        "certificates_unchanged": 0,
    }
    zhang = Inspector.objects.get(name="张三")
    assert (zhang.body, zhang.employee_number, zhang.phone) == (jianwei, "001", "13800000001")
    assert sorted(zhang.certificates.values_list("number", flat=True)) == ["31011600000001", "31011600000002"]
    second = Certificate.objects.get(number="31011600000002")
    assert (second.valid_from, second.valid_until, second.status) == (
        datetime.date(2026, 1, 5),
        datetime.date(2027, 6, 30),
        Certificate.Status.VALID,
    )
    assert set(second.fields.all()) == {gas, safety}
    assert Inspector.objects.get(name="李四").phone == ""


def test_inspectors_from_xlsx_with_excel_dates_and_numbers(admin, jianwei, gas):
    row = inspector_row(employee=7, phone=13800000001, number="31011600000001")
    row[6], row[7] = datetime.datetime(2026, 3, 1), datetime.datetime(2029, 2, 28)
    data = as_xlsx([row], header=INSPECTOR_HEADER)

    import_inspectors(actor=admin, file=data, file_name="执法人员.xlsx")

    certificate = Certificate.objects.select_related("inspector").get()
    assert (certificate.valid_from, certificate.valid_until) == (
        datetime.date(2026, 3, 1),
        datetime.date(2029, 2, 28),
    )
    assert (certificate.inspector.employee_number, certificate.inspector.phone) == ("7", "13800000001")


def test_existing_certificate_number_updates_and_keeps_its_status(admin, jianwei, gas, safety):
    holder = InspectorFactory(body=jianwei, name="张三", employee_number="001", phone="13800000001")
    certificate = CertificateFactory(
        number="31011600000001",
        inspector=holder,
        fields=[gas],
        status=Certificate.Status.SUSPENDED,
        valid_until=datetime.date(2026, 12, 31),
    )
    data = as_csv(
        [inspector_row(name="张叁", fields="gas、safety", end="2029-12-31")], header=INSPECTOR_HEADER
    )

    result = import_inspectors(actor=admin, file=data, file_name="a.csv")

    assert result.counts == {
        "inspectors_created": 0,
        "inspectors_updated": 1,
        "certificates_created": 0,
        "certificates_updated": 1,
        "certificates_unchanged": 0,
    }
    certificate.refresh_from_db()
    assert certificate.valid_until == datetime.date(2029, 12, 31)
    assert (
        certificate.status == Certificate.Status.SUSPENDED
    )  # suspension comes from accountability, not a file
    assert set(certificate.fields.all()) == {gas, safety}
    holder.refresh_from_db()
    assert holder.name == "张叁"
    again = import_inspectors(actor=admin, file=data, file_name="a.csv")
    assert again.counts["certificates_unchanged"] == 1
    assert again.counts["inspectors_updated"] == 0


def test_a_new_certificate_goes_to_the_registered_inspector_with_that_employee_number(admin, jianwei, gas):
    holder = InspectorFactory(body=jianwei, name="张三", employee_number="001", phone="")
    CertificateFactory(number="OLD-1", inspector=holder, fields=[gas])
    data = as_csv([inspector_row(number="NEW-1")], header=INSPECTOR_HEADER)

    result = import_inspectors(actor=admin, file=data, file_name="a.csv")

    assert result.counts["inspectors_created"] == 0
    assert sorted(holder.certificates.values_list("number", flat=True)) == ["NEW-1", "OLD-1"]
    holder.refresh_from_db()
    assert holder.phone == "13800000001"


def test_every_bad_inspector_row_is_reported_and_nothing_is_saved(admin, jianwei, jiaowei, gas, road):
    EnforcementBody.objects.filter(pk=jiaowei.pk).update(is_active=False)
    data = as_csv(
        [
            inspector_row(),
            inspector_row(number="C2", body="NOPE"),
            inspector_row(number="C3", fields="road"),
            inspector_row(number="C4", fields="gas、消防"),
            inspector_row(number="C5", start="2026-02-30", end="明年"),
            inspector_row(number="C6", start="2026-05-01", end="2026-04-30"),
            inspector_row(number="C7", name="", phone="12345"),
            inspector_row(number="31011600000001"),
            inspector_row(number="C9", body="JS-JT", fields="road"),
            inspector_row(number="C10", name="张四"),
            inspector_row(number="", fields=""),
        ],
        header=INSPECTOR_HEADER,
    )

    with pytest.raises(ImportRejected) as excinfo:
        import_inspectors(actor=admin, file=data, file_name="a.csv")

    assert problems_of(excinfo) == [
        "第 3 行「所属执法单位」：执法单位“NOPE”未登记：请填写已登记执法单位的编码",
        "第 4 行「执法领域」：“道路运输”不在金山区建设和管理委员会的执法领域（安全生产、燃气管理）内",
        "第 5 行「执法领域」：执法领域“消防”未登记",
        "第 6 行「有效期起」：日期“2026-02-30”不存在",
        "第 6 行「有效期止」：日期应写作 YYYY-MM-DD 或 YYYY/MM/DD（如 2026-03-01），实际为“明年”",
        "第 7 行「有效期止」：有效期止（2026-04-30）早于有效期起（2026-05-01）",
        "第 8 行「姓名」：不能为空",
        "第 8 行「手机号」：手机号应为以1开头的11位数字，实际为“12345”",
        "第 9 行「执法证号」：与第 2 行的执法证号重复（31011600000001）",
        "第 10 行「所属执法单位」：执法单位“金山区交通委员会”已停用",
        "第 11 行「姓名」：与第 2 行是同一名执法人员，但姓名不一致",
        "第 12 行「执法证号」：不能为空",
        "第 12 行「执法领域」：不能为空：请填写执法领域的代码或名称，多个用“、”分隔",
    ]
    assert not Inspector.objects.exists()
    assert not Certificate.objects.exists()
    assert not AuditEvent.objects.exists()


def test_body_admin_imports_only_its_own_inspectors(jianwei, jiaowei, gas, road):
    own_admin = user_for(Role.BODY_ADMIN, body=jianwei)
    elsewhere = InspectorFactory(body=jiaowei, name="王五")
    CertificateFactory(number="JT-1", inspector=elsewhere, fields=[road])
    data = as_csv(
        [
            inspector_row(),
            inspector_row(name="赵六", body="JS-JT", employee="", phone="", number="JT-2", fields="road"),
            inspector_row(name="王五", employee="", phone="", number="JT-1", fields="gas"),
        ],
        header=INSPECTOR_HEADER,
    )

    with pytest.raises(ImportRejected) as excinfo:
        import_inspectors(actor=own_admin, file=data, file_name="a.csv")

    assert problems_of(excinfo) == [
        "第 3 行「所属执法单位」：只能导入本单位（金山区建设和管理委员会，编码 JS-JW）的执法人员，"
        "不能导入“金山区交通委员会”的",
        "第 4 行「执法证号」：该执法证已登记在金山区交通委员会的执法人员王五名下，无权修改",
    ]
    assert (
        import_inspectors(
            actor=own_admin, file=as_csv([inspector_row()], header=INSPECTOR_HEADER), file_name="a.csv"
        ).counts["certificates_created"]
        == 1
    )


@pytest.mark.parametrize("role", [Role.INSPECTOR, Role.SUPERVISOR, Role.ENTERPRISE_CONTACT])
def test_inspector_import_refuses_other_roles(jianwei, role):
    with pytest.raises(PermissionDenied):
        import_inspectors(
            actor=user_for(role), file=as_csv([inspector_row()], header=INSPECTOR_HEADER), file_name="a.csv"
        )
    assert not Certificate.objects.exists()


def test_inspector_import_writes_one_audit_event(admin, jianwei, gas):
    import_inspectors(
        actor=admin, file=as_csv([inspector_row()], header=INSPECTOR_HEADER), file_name="人员.csv"
    )
    event = AuditEvent.objects.get()
    assert event.action == "registry.import_inspectors"
    assert event.after["certificates_created"] == 1
    assert event.after["inspectors_created"] == 1
    assert event.after["file_name"] == "人员.csv"


# ---------------------------------------------------------------------------------------------------------
# The pages


@pytest.fixture
def admin_client(client, admin):
    client.force_login(admin)
    return client


def upload(client, url, data: bytes, name: str, **extra):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return client.post(url, {"file": SimpleUploadedFile(name, data)}, **extra)


def test_import_page_offers_templates_and_explains_the_columns(admin_client, jinshan):
    page = admin_client.get("/registry/import/enterprises/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "下载 CSV 模板" in text and "下载 Excel 模板" in text
    assert "统一社会信用代码" in text and "法定代表人手机号" in text
    assert 'enctype="multipart/form-data"' in text
    assert "正在校验和导入…" in text


def read_table(content: bytes, fmt: str) -> list[list]:
    if fmt == "csv":
        return list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    return [list(row) for row in load_workbook(io.BytesIO(content)).active.iter_rows(values_only=True)]


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_enterprise_template_parses_and_its_example_row_is_not_imported_by_mistake(
    admin_client, admin, jinshan, fmt
):
    response = admin_client.get(f"/registry/import/enterprises/template.{fmt}")
    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]
    if fmt == "csv":
        assert response.content.startswith(b"\xef\xbb\xbf" + "统一社会信用代码,企业名称".encode())
    header, example = read_table(response.content, fmt)
    assert header == [
        *ENTERPRISE_HEADER,
        "纬度",
        "经度",
    ]  # the position: tests/registry/test_import_positions.py

    with pytest.raises(ImportRejected) as excinfo:
        import_enterprises(actor=admin, file=response.content, file_name=f"模板.{fmt}")
    assert problems_of(excinfo) == ["第 2 行：这是导入模板中的示例行：请删除或改为真实数据后再上传"]

    example[1] = "上海真实燃气有限公司"
    filled = as_csv([example]) if fmt == "csv" else as_xlsx([example])
    assert import_enterprises(actor=admin, file=filled, file_name=f"企业.{fmt}").created == 1
    assert uscc.is_valid(Enterprise.objects.get().uscc)


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_inspector_template_parses_and_its_example_row_is_not_imported_by_mistake(client, jianwei, fmt):
    own_admin = user_for(Role.BODY_ADMIN, body=jianwei)
    client.force_login(own_admin)
    response = client.get(f"/registry/import/inspectors/template.{fmt}")
    assert response.status_code == 200
    header, example = read_table(response.content, fmt)
    assert header == INSPECTOR_HEADER

    with pytest.raises(ImportRejected) as excinfo:
        import_inspectors(actor=own_admin, file=response.content, file_name=f"模板.{fmt}")
    assert problems_of(excinfo) == ["第 2 行：这是导入模板中的示例行：请删除或改为真实数据后再上传"]

    example[0] = "张真实"
    filled = as_csv([example], header=INSPECTOR_HEADER) if fmt == "csv" else as_xlsx([example], header=header)
    result = import_inspectors(actor=own_admin, file=filled, file_name=f"人员.{fmt}")
    assert result.counts["certificates_created"] == 1
    assert Certificate.objects.get().inspector.body == jianwei


def test_upload_a_good_file_shows_the_counts(admin_client, jinshan):
    EnterpriseFactory(uscc=code(1), name="旧名称", region=jinshan)
    data = as_csv([enterprise_row(1), enterprise_row(2), enterprise_row(3)])

    response = upload(admin_client, "/registry/import/enterprises/", data, "企业.csv")

    assert response.status_code == 200
    text = response.content.decode()
    assert "导入完成：共 3 行，新增 2，更新 1。" in text
    assert "<dt>新增企业</dt><dd>2</dd>" in text
    assert Enterprise.objects.count() == 3


def test_upload_a_bad_file_shows_every_problem_and_saves_nothing(admin_client, admin, jinshan):
    data = as_csv([enterprise_row(1), enterprise_row(2, 风险等级="Z"), enterprise_row(3, 所在区域="火星区")])

    response = upload(admin_client, "/registry/import/enterprises/", data, "企业.csv")

    assert response.status_code == 400
    text = response.content.decode()
    assert "文件中有 2 行存在问题（共 2 处），未导入任何数据。" in text
    assert (
        '<td data-label="行号">第 3 行</td><td data-label="列">风险等级</td>'
        '<td data-label="问题">应为 A、B、C、D 之一，实际为“Z”</td>'
    ) in text
    assert '<td data-label="行号">第 4 行</td><td data-label="列">所在区域</td>' in text
    assert not Enterprise.objects.exists()

    download = response.context["problems_key"]
    problems = admin_client.get(f"/registry/import/problems/{download}.csv")
    assert problems.status_code == 200
    rows = list(csv.reader(io.StringIO(problems.content.decode("utf-8-sig"))))
    assert rows[0] == ["行号", "列", "问题"]
    assert rows[1] == ["3", "风险等级", "应为 A、B、C、D 之一，实际为“Z”"]
    admin_client.force_login(UserFactory(role=Role.PLATFORM_ADMIN))
    assert admin_client.get(f"/registry/import/problems/{download}.csv").status_code == 404


def test_upload_errors_about_the_file_are_shown_on_the_form(admin_client, jinshan):
    response = upload(
        admin_client, "/registry/import/enterprises/", b"\xd0\xcf\x11\xe0" + b"\x00" * 64, "旧.xls"
    )
    assert response.status_code == 400
    assert "不支持旧版 Excel（.xls）文件" in response.content.decode()
    response = admin_client.post("/registry/import/enterprises/", {})
    assert response.status_code == 400
    assert "请选择要上传的文件" in response.content.decode()


def test_inspector_page_flow(client, jianwei, gas):
    client.force_login(user_for(Role.BODY_ADMIN, body=jianwei))
    response = upload(
        client, "/registry/import/inspectors/", as_csv([inspector_row()], header=INSPECTOR_HEADER), "人员.csv"
    )
    assert response.status_code == 200
    assert "<dt>新增执法证</dt><dd>1</dd>" in response.content.decode()


@pytest.mark.parametrize("role", [Role.INSPECTOR, Role.SUPERVISOR, Role.ENTERPRISE_CONTACT])
def test_pages_refuse_other_roles(client, jinshan, role):
    client.force_login(user_for(role))
    for url in ("/registry/import/enterprises/", "/registry/import/inspectors/"):
        assert client.get(url).status_code == 403
        response = upload(client, url, as_csv([enterprise_row(1)]), "a.csv")
        assert response.status_code == 403
    assert not Enterprise.objects.filter(uscc=code(1)).exists()


def test_pages_need_login(client):
    response = client.get("/registry/import/enterprises/")
    assert response.status_code == 302
    assert "/login" in response["Location"]


def test_uploads_are_rate_limited(admin_client, jinshan):
    for _ in range(10):
        assert admin_client.post("/registry/import/enterprises/", {}).status_code == 400
    response = admin_client.post("/registry/import/enterprises/", {})
    assert response.status_code == 429
    assert admin_client.get("/registry/import/enterprises/").status_code == 200


# ---------------------------------------------------------------------------------------------------------
# In a real browser, on a phone: the upload with JavaScript (progress, then the result swapped in) and without

from tests.browser.conftest import fits_screen  # noqa: E402


def _log_in(page, live_server, user):
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", "demo-pass-123")
    page.click("main button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")


@pytest.mark.django_db(transaction=True)
def test_upload_in_the_browser_shows_progress_then_the_result_in_place(live_server, phone, admin, jinshan):
    _log_in(phone, live_server, admin)
    phone.goto(f"{live_server.url}/registry/import/enterprises/")
    assert fits_screen(phone)
    phone.evaluate("window.stillThisPage = true")
    phone.evaluate("""() => {
        const bar = document.querySelector("progress"), status = document.querySelector("[data-status]");
        window.seen = [];
        new MutationObserver(() => window.seen.push(status.textContent + (bar.hidden ? "" : "|bar")))
            .observe(status, {childList: true, characterData: true, subtree: true});
    }""")
    phone.set_input_files(
        "#id_file",
        files=[
            {
                "name": "企业.csv",
                "mimeType": "text/csv",
                "buffer": as_csv([enterprise_row(1), enterprise_row(2)]),
            }
        ],
    )
    phone.click("form[data-upload] button[type=submit]")
    phone.wait_for_selector("text=导入完成：共 2 行，新增 2，更新 0。")

    assert phone.evaluate("window.stillThisPage") is True  # swapped in by the script, not a page load
    seen = phone.evaluate("window.seen")
    assert any(s.startswith("正在上传") and s.endswith("|bar") for s in seen)
    assert "正在校验和导入…|bar" in seen
    assert fits_screen(phone)
    assert Enterprise.objects.count() == 2

    phone.set_input_files(
        "#id_file",
        files=[
            {"name": "企业.csv", "mimeType": "text/csv", "buffer": as_csv([enterprise_row(3, 风险等级="Z")])}
        ],
    )
    phone.click("form[data-upload] button[type=submit]")
    phone.wait_for_selector("table.problems-table")
    assert "应为 A、B、C、D 之一，实际为“Z”" in phone.locator("table.problems-table").inner_text()
    assert fits_screen(phone)
    assert Enterprise.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_upload_works_without_javascript(live_server, browser, admin, jinshan):
    context = browser.new_context(java_script_enabled=False, viewport={"width": 375, "height": 740})
    page = context.new_page()
    try:
        _log_in(page, live_server, admin)
        page.goto(f"{live_server.url}/registry/import/enterprises/")
        page.set_input_files(
            "#id_file",
            files=[{"name": "企业.csv", "mimeType": "text/csv", "buffer": as_csv([enterprise_row(1)])}],
        )
        page.click("form[data-upload] button[type=submit]")
        page.wait_for_selector("text=导入完成：共 1 行，新增 1，更新 0。")
        assert fits_screen(page)
    finally:
        context.close()
