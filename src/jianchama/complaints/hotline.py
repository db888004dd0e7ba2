"""12345 work orders as data (issue 17: 「与12345热线合作对接…信息共享」): the import of the hotline's work-order
export (Excel .xlsx, or CSV) into the complaint ledger, as complaints of source 12345. The columns are in
`HOTLINE_COLUMNS` and `docs/hotline-import.md`.

The file is checked as the registry's imports check theirs, with the same code (registry/importing.py): its
size, an Excel file's inflated size and compression ratio and declared row count against IMPORT_MAX_*, then
the header. A file that fails any of these is refused whole, with a Chinese reason, and nothing is saved.

Then row by row, unlike the registry's all-or-nothing imports: a daily export of hundreds of work orders must
not wait for one bad row, and a row fixed later is simply imported again. Each row is read and checked; a row
with problems is skipped and every problem of it named (row, column, reason); a good row is registered through
`services.register_complaint` (its checks, number, audit event) in its own savepoint, so a row is saved whole
or not at all. A work order whose 工单编号 is already in the ledger (from an earlier import, or an earlier row
of the same file) is not registered again: it is reported as already imported. One audit event records the
import itself (file name, hash, counts).

Text is stored as the hotline wrote it: a cell that looks like a formula (「=HYPERLINK(...)」) is kept as text,
shown escaped on the pages and neutralised by `core.spreadsheets` in every export. A formula cell proper is
read as the value Excel last computed for it (what the hotline's staff saw), never evaluated here.
"""

from __future__ import annotations

import datetime
import hashlib
from dataclasses import dataclass, field
from typing import IO, Any

from django.conf import settings
from django.db import IntegrityError, transaction

from jianchama.core import audit
from jianchama.core.errors import DomainError, PermissionDenied, raise_if
from jianchama.core.roles import Role

# The registry owns the reading of uploaded spreadsheets and their safety limits; the work-order import
# reuses them rather than keep a second copy of the zip-bomb and row-count checks.
from jianchama.registry import uscc as uscc_rules
from jianchama.registry.importing import (
    Column,
    RowProblem,
    cell_date,
    cell_text,
    check_limits,
    map_columns,
    open_table,
    phone_problem,
    read_upload,
    table_cells,
)
from jianchama.registry.models import EnforcementBody, Enterprise

from . import services
from .models import Complaint

SOURCE = Complaint.Source.HOTLINE_12345
DEFAULT_MAX_ROWS = 5000
TITLE_FROM_CONTENT = 30  # characters of 诉求内容 that make the title when the export has none

HOTLINE_COLUMNS: tuple[Column, ...] = (
    Column("工单编号", True, "12345热线的工单编号；同一工单只登记一次", "", ("工单号", "工单编码"), True),
    Column("受理时间", True, "YYYY-MM-DD，可带时分（如 2026-03-01 09:30）", "", ("受理日期", "来电时间")),
    Column("诉求人", False, "", "", ("来电人", "诉求人姓名")),
    Column("联系电话", False, "手机号或座机（可带“-”）", "", ("来电号码", "诉求人电话"), True),
    Column("诉求标题", False, f"留空则取诉求内容的前{TITLE_FROM_CONTENT}个字", "", ("工单标题", "标题")),
    Column("诉求内容", True, "", "", ("工单内容", "诉求描述")),
    Column("涉及企业名称", False, "与已登记企业的名称完全一致时关联该企业", "", ("企业名称", "被反映企业")),
    Column(
        "统一社会信用代码",
        False,
        "18位，含校验码；填写时须为已登记的企业",
        "",
        ("涉及企业统一社会信用代码", "社会信用代码", "信用代码"),
        True,
    ),
    Column("涉及执法单位", False, "执法单位编码或全称；须为本区域的单位", "", ("被反映单位", "承办单位")),
    Column("诉求类别", False, "投诉举报台账的类别名称；其他类别登记为“其他”并在内容中注明", "", ("类别",)),
    Column("办理时限", False, "YYYY-MM-DD；12345热线要求的办结日期", "", ("办结时限",)),
)


def max_rows() -> int:
    """Rows of one work-order file (default 5000, HOTLINE_IMPORT_MAX_ROWS): each row is one registration with
    its own number and audit event, read while the page waits; a larger export is imported in parts."""
    return int(getattr(settings, "HOTLINE_IMPORT_MAX_ROWS", DEFAULT_MAX_ROWS))


def may_import(user) -> bool:
    """The intake desk (投诉受理人员) of a region registers what the hotline passes on; nobody else."""
    return bool(user.is_authenticated and user.role == Role.COMPLAINT_INTAKE and user.region_id is not None)


@dataclass
class HotlineImportResult:
    file_name: str
    sha256: str
    rows: int = 0
    created: list[tuple[int, str, str]] = field(default_factory=list)  # (row, 工单编号, ledger number)
    duplicates: list[tuple[int, str, str]] = field(default_factory=list)  # (row, 工单编号, ledger number)
    problems: list[RowProblem] = field(default_factory=list)
    problem_rows: int = 0


def _categories() -> dict[str, str]:
    """Every way the export may name a ledger category: its code, its label, the label without the bracket."""
    names: dict[str, str] = {}
    for value, label in Complaint.Category.choices:
        names[value] = value
        names[str(label)] = value
        names[str(label).split("（", 1)[0]] = value
    return names


def _received(value: Any, epoch) -> tuple[datetime.date | None, str | None]:
    if isinstance(value, str):
        # 「2026-03-01 09:30」「2026/3/1 9:30:00」: the day is what the ledger keeps.
        value = value.strip().replace("T", " ").split(" ", 1)[0]
    return cell_date(value, epoch)


def _body(text: str) -> EnforcementBody | None:
    return (
        EnforcementBody.objects.filter(code=text).first() or EnforcementBody.objects.filter(name=text).first()
    )


def _parse_row(number: int, cells: dict[str, Any], epoch, categories: dict[str, str]):
    """The arguments of `register_complaint` for one row, and the row's problems (column, reason)."""
    problems: list[tuple[str, str]] = []
    order = cell_text(cells.get("工单编号"))
    if not order:
        problems.append(("工单编号", "必须填写"))
    elif len(order) > 64:
        problems.append(("工单编号", f"不能超过64个字符，实际为{len(order)}个"))
    received_on = None
    if cells.get("受理时间") in (None, ""):
        problems.append(("受理时间", "必须填写"))
    else:
        received_on, reason = _received(cells.get("受理时间"), epoch)
        if reason:
            problems.append(("受理时间", reason))
    content = cell_text(cells.get("诉求内容"))
    if not content:
        problems.append(("诉求内容", "必须填写"))
    title = cell_text(cells.get("诉求标题")) or content.replace("\n", " ")[:TITLE_FROM_CONTENT]
    if len(title) > 200:
        problems.append(("诉求标题", f"不能超过200个字，实际为{len(title)}个字"))
    name = cell_text(cells.get("诉求人"))
    if len(name) > 50:
        problems.append(("诉求人", f"不能超过50个字，实际为{len(name)}个字"))
    phone = cell_text(cells.get("联系电话"))
    if phone and not services.PHONE.match(phone):
        mobile, reason = phone_problem(phone)
        if reason:
            problems.append(("联系电话", f"应为手机号或座机号码（数字，座机可带“-”），实际为“{phone}”"))
        else:
            phone = mobile
    due = None
    if cells.get("办理时限") not in (None, ""):
        due, reason = _received(cells.get("办理时限"), epoch)
        if reason:
            problems.append(("办理时限", reason))
    notes: list[str] = []
    category_text = cell_text(cells.get("诉求类别"))
    category = categories.get(category_text, Complaint.Category.OTHER) if category_text else "other"
    if category_text and category_text not in categories:
        notes.append(f"12345诉求类别：{category_text}")
    enterprise = None
    code = uscc_rules.normalise(cell_text(cells.get("统一社会信用代码")))
    enterprise_name = cell_text(cells.get("涉及企业名称"))
    if code:
        reason = uscc_rules.problem(code)
        if reason:
            problems.append(("统一社会信用代码", reason))
        else:
            enterprise = Enterprise.objects.filter(uscc=code).first()
            if enterprise is None:
                problems.append(("统一社会信用代码", f"{code}不是已登记的企业：请先登记该企业，或清空此格"))
    elif enterprise_name:
        matches = list(Enterprise.objects.filter(name=enterprise_name)[:2])
        if len(matches) == 1:
            enterprise = matches[0]
        else:
            # Not registered (or two of that name): the complaint is registered, the name kept in its text.
            notes.append(f"涉及企业（未匹配到已登记企业）：{enterprise_name}")
    body = None
    body_text = cell_text(cells.get("涉及执法单位"))
    if body_text:
        body = _body(body_text)
        if body is None:
            problems.append(("涉及执法单位", f"“{body_text}”不是已登记的执法单位编码或名称"))
    if notes and content:
        content = content + "\n\n" + "\n".join(f"【{note}】" for note in notes)
    arguments = {
        "source": SOURCE,
        "category": category,
        "title": title,
        "content": content,
        "complainant_name": name,
        "complainant_phone": phone,
        "enterprise": enterprise,
        "body": body,
        "received_on": received_on,
        "external_number": order,
        "external_due": due,
    }
    return order, arguments, problems


def register_work_order(actor, *, cells: dict[str, Any]) -> tuple[Complaint, bool]:
    """One work order pushed by the hotline's API client (kind 12345, POST /api/v1/work-orders): the export's
    columns (`cells` by column name), checks and service, for one order. Returns the complaint and whether it
    was registered now; a number already in the ledger returns its complaint unchanged (False), so the
    hotline may push an order again safely. Refuses with every problem of the order, nothing saved."""
    if not may_import(actor):
        raise PermissionDenied("只有投诉受理人员（或12345热线的接口客户端）可以登记12345热线工单")
    order, arguments, problems = _parse_row(0, cells, None, _categories())
    if order:
        existing = Complaint.objects.filter(source=SOURCE, external_number=order).first()
        if existing is not None:
            return existing, False
    raise_if([f"「{column}」{reason}" if column else reason for column, reason in problems], "工单未登记")
    try:
        with transaction.atomic():
            return services.register_complaint(actor, **arguments), True
    except IntegrityError:
        return Complaint.objects.get(source=SOURCE, external_number=order), False


def work_order(actor, number: str) -> Complaint | None:
    """The complaint of a work order the actor may see (the hotline's client: those of its district, or that
    it pushed), for reading its handling result; None if there is none."""
    return (
        Complaint.objects.visible_to(actor)
        .select_related("body")
        .filter(source=SOURCE, external_number=number)
        .first()
    )


def import_work_orders(actor, *, file: IO[bytes] | bytes, file_name: str = "") -> HotlineImportResult:
    """Import the 12345 hotline's work-order export (see the module's text for what is saved and when).

    Refuses (DomainError, nothing saved) a user other than the intake desk, a file over the limits or not a
    spreadsheet, a header without the required columns, and a file of more than HOTLINE_IMPORT_MAX_ROWS rows.
    """
    if not may_import(actor):
        raise PermissionDenied("只有投诉受理人员可以导入12345热线工单")
    data, file_name = read_upload(file, file_name)
    estimate = check_limits(data, file_name)
    limit = max_rows()
    if estimate > limit:
        raise DomainError(
            f"文件约有 {estimate} 行，超过单次导入12345工单的上限 {limit} 行（HOTLINE_IMPORT_MAX_ROWS）："
            "请按受理日期拆分为多个文件分批导入。"
        )
    table = open_table(data, file_name)
    result = HotlineImportResult(file_name=file_name, sha256=hashlib.sha256(data).hexdigest())
    try:
        positions = map_columns(table.header, HOTLINE_COLUMNS)
        rows = []
        for number, cells in table_cells(table, positions):
            if len(rows) >= limit:
                raise DomainError(
                    f"文件超过单次导入12345工单的上限 {limit} 行（HOTLINE_IMPORT_MAX_ROWS）：请拆分后分批导入。"
                )
            rows.append((number, cells))
    finally:
        table.close()
    if not rows:
        raise DomainError("文件中没有工单：第 1 行为表头，从第 2 行起每行一张工单。")

    categories = _categories()
    orders = [cell_text(cells.get("工单编号")) for _number, cells in rows]
    known = dict(
        Complaint.objects.filter(source=SOURCE, external_number__in=[o for o in orders if o]).values_list(
            "external_number", "number"
        )
    )
    bad_rows: set[int] = set()
    for number, cells in rows:
        result.rows += 1
        order, arguments, problems = _parse_row(number, cells, table.epoch, categories)
        if order and order in known:
            result.duplicates.append((number, order, known[order]))
            continue
        if not problems:
            try:
                with transaction.atomic():
                    complaint = services.register_complaint(actor, **arguments)
            except PermissionDenied:
                raise
            except DomainError as error:
                problems = [("", reason) for reason in (error.problems or [error.message])]
            except IntegrityError:
                # The same number registered at this moment by another import: it is in the ledger once.
                existing = Complaint.objects.filter(source=SOURCE, external_number=order).first()
                result.duplicates.append((number, order, existing.number if existing else ""))
                continue
            else:
                known[order] = complaint.number
                result.created.append((number, order, complaint.number))
                continue
        bad_rows.add(number)
        result.problems.extend(RowProblem(number, column, reason) for column, reason in problems)
    result.problem_rows = len(bad_rows)
    audit.record(
        actor=actor,
        action="complaint.hotline_imported",
        object_type=Complaint._meta.label,
        object_id=result.sha256,
        object_repr=f"导入12345热线工单：{file_name or '（未命名文件）'}（{result.rows} 行）",
        after={
            "file_name": file_name,
            "sha256": result.sha256,
            "rows": result.rows,
            "created": len(result.created),
            "duplicates": len(result.duplicates),
            "problem_rows": result.problem_rows,
        },
    )
    return result
