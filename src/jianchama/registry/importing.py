"""Bulk import of enterprises (F-03) and of inspectors with their certificates (F-02) from CSV or Excel.

All or nothing: every row is read and checked first, against data fetched in a handful of queries (never one
per row); if any row is wrong nothing is saved and every problem is returned, each naming the row number the
spreadsheet shows (the header is row 1), the column and the reason. Otherwise the rows are written with
batched inserts and updates, with one audit event for the whole import, in one transaction.

Rows already registered (same USCC, same certificate number) are updated. An empty cell in an optional
column leaves what is registered unchanged, so a partial file never erases data by accident.

A file cannot exhaust the worker that reads it (issue 10, item 5): before any parsing the upload's size, an
Excel file's uncompressed size (the zip directory's declared sizes, which zipfile enforces while inflating)
and compression ratio, and its sheet's declared row count are checked against IMPORT_MAX_* settings; while
reading, the row number is checked again (a sheet may declare fewer rows than it holds); and only the first
IMPORT_MAX_PROBLEMS problems are kept, with a count of the rest.
"""

from __future__ import annotations

import codecs
import csv
import datetime
import hashlib
import io
import logging
import os
import re
import secrets
import zipfile
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path, PurePath
from typing import IO, Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from jianchama.core import audit, cache
from jianchama.core.errors import DomainError, PermissionDenied
from jianchama.core.roles import Role
from jianchama.core.sms import send_sms

from . import uscc as uscc_rules
from .models import (
    Certificate,
    EnforcementBody,
    Enterprise,
    EnterpriseContact,
    Field,
    Inspector,
    Region,
)

logger = logging.getLogger(__name__)

WRITE_BATCH = 1000  # rows per executemany
UNNEST_BATCH = 10000  # rows per PostgreSQL INSERT/UPDATE ... unnest(arrays)
LOOKUP_CHUNK = 5000  # values per `IN (...)` when fetching what is already registered
PROGRESS_EVERY = 1000  # rows read between two progress reports of a queued import

# ---------------------------------------------------------------------------------------------------------
# What the caller gets back


@dataclass(frozen=True)
class RowProblem:
    """One thing wrong with one cell (or one row, when `column` is empty)."""

    row: int
    column: str
    reason: str

    def __str__(self) -> str:
        if self.column:
            return f"第 {self.row} 行「{self.column}」：{self.reason}"
        return f"第 {self.row} 行：{self.reason}"


class ImportRejected(DomainError):
    """The file has bad rows: nothing was saved. `row_problems` lists the problems kept (the first
    IMPORT_MAX_PROBLEMS), in row order; `total` and `bad_rows` count all of them."""

    def __init__(
        self, row_problems: list[RowProblem], *, total: int | None = None, bad_rows: int | None = None
    ):
        self.row_problems = row_problems
        self.total = len(row_problems) if total is None else total
        self.bad_rows = len({p.row for p in row_problems}) if bad_rows is None else bad_rows
        message = (
            f"文件中有 {self.bad_rows} 行存在问题（共 {self.total} 处），未导入任何数据。"
            "请按下列说明修改后重新上传整个文件。"
        )
        if self.total > len(row_problems):
            message += f"问题过多，只列出前 {len(row_problems)} 处。"
        super().__init__(message, problems=[str(p) for p in row_problems])


@dataclass(frozen=True)
class ImportResult:
    kind: str  # "enterprises" or "inspectors"
    file_name: str
    sha256: str
    rows: int
    counts: dict[str, int]

    LABELS = {
        "created": "新增企业",
        "updated": "更新企业",
        "unchanged": "内容未变的企业",
        "contacts_created": "新增法定代表人联系人",
        "contacts_updated": "更新法定代表人联系人",
        "inspectors_created": "新增执法人员",
        "inspectors_updated": "更新执法人员",
        "certificates_created": "新增执法证",
        "certificates_updated": "更新执法证",
        "certificates_unchanged": "内容未变的执法证",
    }

    @property
    def created(self) -> int:
        return self.counts.get("created", self.counts.get("certificates_created", 0))

    @property
    def updated(self) -> int:
        return self.counts.get("updated", self.counts.get("certificates_updated", 0))

    def summary(self) -> list[tuple[str, int]]:
        """(label, count) pairs in display order, for the result page."""
        return [(self.LABELS[key], value) for key, value in self.counts.items()]


# ---------------------------------------------------------------------------------------------------------
# The columns of each kind of file (also used for the templates and the help on the page)


@dataclass(frozen=True)
class Column:
    name: str
    required: bool
    help: str
    example: str = ""
    aliases: tuple[str, ...] = ()
    text_format: bool = False  # Excel must keep it as text (long digit strings, leading zeros)


ENTERPRISE_COLUMNS: tuple[Column, ...] = (
    Column(
        "统一社会信用代码", True, "18位，含校验码（GB 32100-2015）", "", ("社会信用代码", "信用代码"), True
    ),
    Column("企业名称", True, "", "上海示例燃气有限公司", ("名称", "单位名称")),
    Column("地址", False, "", "上海市金山区示例路1号"),
    Column("所在区域", True, "区划代码或区域名称，须为已登记的区域", "", ("区域",), True),
    Column("行业", False, "", "燃气生产和供应业"),
    Column("风险等级", True, "A、B、C、D 之一", "B"),
    Column("信用等级", False, "", "A"),
    Column("法定代表人", False, "", "王示例"),
    Column(
        "法定代表人手机号",
        False,
        "11位手机号；填写后登记为企业的法定代表人联系人（仅平台管理员导入时可登记或变更）",
        "13800000000",
        ("手机号",),
        True,
    ),
    Column("纬度", False, "企业登记位置（WGS-84，-90至90），与经度一并填写；用于亮码即定位", "30.741200"),
    Column("经度", False, "企业登记位置（WGS-84，-180至180），与纬度一并填写", "121.341200"),
)

INSPECTOR_COLUMNS: tuple[Column, ...] = (
    Column("姓名", True, "", "张示例"),
    Column("所属执法单位", True, "执法单位编码（或单位全称）", "", ("执法单位", "单位编码"), True),
    Column("工号", False, "与手机号一起用于识别已登记的执法人员", "0001", (), True),
    Column("手机号", False, "11位手机号", "13900000000", (), True),
    Column("执法证号", True, "已登记的证号将被更新", "31011600099999", ("证件编号", "执法证件编号"), True),
    Column("执法领域", True, "领域代码或名称，多个用“、”或“,”分隔；须在所属执法单位的执法领域内", ""),
    Column("有效期起", True, "YYYY-MM-DD 或 YYYY/MM/DD", "", (), True),
    Column("有效期止", True, "YYYY-MM-DD 或 YYYY/MM/DD", "", (), True),
)


# ---------------------------------------------------------------------------------------------------------
# Permission and scope


def may_import_enterprises(user) -> bool:
    return bool(
        user.is_authenticated and (user.is_platform_admin or (user.role == Role.BODY_ADMIN and user.body_id))
    )


def may_import_inspectors(user) -> bool:
    return may_import_enterprises(user)


@dataclass(frozen=True)
class _Scope:
    """Where a user may put enterprises: everywhere (path "") or within one district's subtree."""

    path: str
    label: str

    def covers(self, region_path: str) -> bool:
        return region_path.startswith(self.path)


def _enterprise_scope(actor) -> _Scope:
    if not may_import_enterprises(actor):
        raise PermissionDenied("只有平台管理员和执法单位管理员可以批量导入企业。")
    if actor.is_platform_admin:
        return _Scope("", "全市")
    # The same rule as Enterprise.objects.visible_to for body roles.
    body = actor.body
    if body.level == EnforcementBody.Level.CITY:
        return _Scope("", "全市")
    district = body.region.district() or body.region
    return _Scope(district.path, district.name)


# ---------------------------------------------------------------------------------------------------------
# Reading the file: CSV (UTF-8 with or without BOM, GB18030/GBK, UTF-16) or Excel .xlsx


@dataclass
class _Table:
    header: list[Any]
    rows: Iterator[tuple[int, Sequence[Any]]]  # (row number as the spreadsheet shows it, cell values)
    epoch: datetime.datetime | None = None  # Excel's date epoch, for numeric dates
    close: Callable[[], None] = lambda: None


def _read_upload(file: IO[bytes] | bytes, file_name: str) -> tuple[bytes, str]:
    limit = settings.IMPORT_MAX_BYTES
    if isinstance(file, bytes):
        data = file
    else:
        file_name = file_name or PurePath(getattr(file, "name", "") or "").name
        size = getattr(file, "size", None)
        if size is None and hasattr(file, "seekable") and file.seekable():
            size = file.seek(0, io.SEEK_END)
        if size is not None and size > limit:
            raise DomainError(_too_large(size, limit))
        if hasattr(file, "seek"):
            file.seek(0)
        data = file.read(limit + 1)
    if len(data) > limit:
        raise DomainError(_too_large(len(data), limit).replace("（", "（超过 ", 1))
    if not data.strip():
        raise DomainError("文件是空的：请使用导入模板，第 1 行为表头，从第 2 行起每行一条记录。")
    return data, file_name


def check_limits(data: bytes, file_name: str) -> int:
    """Refuse, before parsing, a file whose content would take a worker too long or too much memory, and
    return an estimate of its data rows (for deciding whether to import it on the task queue).

    An .xlsx is a zip: its members' declared sizes bound what inflating them yields (zipfile stops at the
    declared size and fails the CRC check if the data goes on), so their sum and its ratio to the file's size
    are checked first; then the first sheet's declared dimension, read by openpyxl without reading the rows.
    """
    if not data.startswith(b"PK\x03\x04"):
        lines = data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
        return max(0, lines - 1)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError):
        raise DomainError(
            "无法读取 Excel 文件：文件可能已损坏，或不是 .xlsx 格式。请在 Excel 中重新保存后再上传。"
        ) from None
    uncompressed = sum(m.file_size for m in members)
    limit = settings.IMPORT_MAX_UNCOMPRESSED_BYTES
    if uncompressed > limit:
        raise DomainError(
            f"Excel 文件解压后有 {human_size(uncompressed)}，超过单次导入的解压后上限 {human_size(limit)}"
            "（IMPORT_MAX_UNCOMPRESSED_BYTES）：请拆分为多个文件分批导入。"
        )
    ratio = uncompressed / max(1, len(data))
    if uncompressed > 10 * 1024 * 1024 and ratio > settings.IMPORT_MAX_COMPRESSION_RATIO:
        raise DomainError(
            f"Excel 文件的压缩比异常（解压后为原文件的 {ratio:.0f} 倍，上限为 "
            f"{settings.IMPORT_MAX_COMPRESSION_RATIO} 倍，IMPORT_MAX_COMPRESSION_RATIO）：这不像正常的工作簿。"
            "请在 Excel 中重新保存，或另存为 CSV 后再上传。"
        )
    sheet_bytes = max((m.file_size for m in members if m.filename.startswith("xl/worksheets/")), default=0)
    declared = _declared_rows(data)
    if declared is not None:
        _check_rows(declared)
        return max(0, declared - 1)
    return sheet_bytes // 100  # a row of the template's nine columns takes a few hundred bytes of XML


def _declared_rows(data: bytes) -> int | None:
    """The last row number the first worksheet's <dimension> declares, or None if it has none (or the file is
    not a workbook openpyxl can open: _open_xlsx then says so). Reads the workbook part and the start of the
    sheet only: not the shared strings, not the rows."""
    from openpyxl.reader.excel import ExcelReader
    from openpyxl.worksheet._reader import WorkSheetParser

    try:
        reader = ExcelReader(io.BytesIO(data), read_only=True, keep_vba=False, data_only=True)
        try:
            reader.read_manifest()
            reader.read_workbook()
            for _sheet, rel in reader.parser.find_sheets():
                if rel.target in reader.valid_files and "chartsheet" not in rel.Type:
                    with reader.archive.open(rel.target) as source:
                        dimensions = WorkSheetParser(source, []).parse_dimensions()
                    return dimensions[3] if dimensions and dimensions[3] else None
            return None
        finally:
            reader.archive.close()
    except Exception:  # any unreadable workbook is refused by _open_xlsx, with its own message
        return None


def _check_rows(last_row: int) -> None:
    """A sheet reaching `last_row` (the header is row 1) must not hold more than IMPORT_MAX_ROWS data rows."""
    limit = settings.IMPORT_MAX_ROWS
    if last_row - 1 > limit:
        raise DomainError(
            f"文件超过单次导入的行数上限：最多 {limit} 行数据（IMPORT_MAX_ROWS），"
            f"文件{'至少' if last_row - 1 == limit + 1 else ''}有 {last_row - 1} 行。请拆分为多个文件分批导入。"
        )


def _too_large(size: int, limit: int) -> str:
    return f"文件过大（{human_size(size)}），单次导入上限为 {human_size(limit)}：请拆分为多个文件分批导入。"


def human_size(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / 1048576:.1f}".removesuffix(".0") + " MB"
    if size >= 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size} 字节"


def open_table(data: bytes, file_name: str) -> _Table:
    suffix = PurePath(file_name).suffix.lower() if file_name else ""
    if suffix == ".xls" or data.startswith(b"\xd0\xcf\x11\xe0"):
        raise DomainError(
            "不支持旧版 Excel（.xls）文件：请在 Excel 中“另存为” Excel 工作簿（.xlsx）或 CSV 文件后再上传。"
        )
    if suffix and suffix not in {".csv", ".txt", ".xlsx", ".xlsm"}:
        raise DomainError(f"不支持“{suffix}”类型的文件：请上传 CSV（.csv）或 Excel（.xlsx）文件。")
    if data.startswith(b"PK\x03\x04"):
        return _open_xlsx(data)
    if suffix in {".xlsx", ".xlsm"}:
        raise DomainError("文件扩展名为 .xlsx，但内容不是 Excel 工作簿：请在 Excel 中重新保存后再上传。")
    return _open_csv(data)


def _decode(data: bytes) -> str:
    if data.startswith(codecs.BOM_UTF8):
        try:
            return data[len(codecs.BOM_UTF8) :].decode("utf-8")
        except UnicodeDecodeError as error:
            raise DomainError(
                f"文件标明为 UTF-8 编码，但第 {error.start + 1} 个字节处无法解码："
                "请在 Excel 中重新“另存为” CSV UTF-8 后再上传。"
            ) from None
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise DomainError("文件为 UTF-16 编码但内容不完整：请重新保存为 CSV UTF-8 后再上传。") from None
    if b"\x00" in data[:4096]:
        raise DomainError("文件不是文本格式的 CSV，也不是 Excel 工作簿（.xlsx）：请使用导入模板。")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        # Excel on Chinese Windows saves "CSV (逗号分隔)" in GBK; GB18030 is its superset.
        return data.decode("gb18030")
    except UnicodeDecodeError:
        raise DomainError(
            "无法识别文件的文字编码：请保存为 UTF-8 或 GBK 编码的 CSV 文件，"
            "或直接上传 Excel 工作簿（.xlsx）。"
        ) from None


def _open_csv(data: bytes) -> _Table:
    text = _decode(data)
    first_line = text.split("\n", 1)[0]
    delimiter = "\t" if "\t" in first_line and "," not in first_line else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)

    def records() -> Iterator[tuple[int, Sequence[Any]]]:
        number = 0
        try:
            for number, values in enumerate(reader, start=1):
                yield number, values
        except csv.Error as error:
            raise DomainError(
                f"CSV 格式有误（第 {number + 1} 行附近）：{error}。请检查引号是否成对，或用 Excel 重新保存。"
            ) from None

    rows = records()
    header = next(rows, (1, []))[1]
    return _Table(header=list(header), rows=rows)


def _open_xlsx(data: bytes) -> _Table:
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError, TypeError):
        raise DomainError(
            "无法读取 Excel 文件：文件可能已损坏，或不是 .xlsx 格式。请在 Excel 中重新保存后再上传。"
        ) from None
    if not workbook.worksheets:
        workbook.close()
        raise DomainError("Excel 文件中没有工作表。")
    sheet = workbook.worksheets[0]
    # Some programs write a wrong <dimension>; without this, read-only mode would silently cut rows off.
    sheet.reset_dimensions()
    rows = enumerate(sheet.iter_rows(values_only=True), start=1)
    header = next(rows, (1, ()))[1]
    return _Table(header=list(header or ()), rows=rows, epoch=workbook.epoch, close=workbook.close)


def cell_text(value: Any) -> str:
    """A cell as text: Excel numbers without a trailing .0, dates as YYYY-MM-DD, spaces trimmed."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, datetime.datetime):
        return value.date().isoformat() if value.time() == datetime.time() else value.isoformat(sep=" ")
    if isinstance(value, datetime.date):
        return value.isoformat()
    return str(value).strip()


_HEADER_NOISE = re.compile(r"[\s*＊]|[（(](?:选填|必填|可选|非必填)[)）]$")


def _header_key(value: Any) -> str:
    return _HEADER_NOISE.sub("", cell_text(value).lstrip("\ufeff"))


def map_columns(header: list[Any], columns: Sequence[Column]) -> dict[str, int]:
    """Column name → position. Raises one error listing every required column that is missing."""
    names = {c.name: c.name for c in columns} | {alias: c.name for c in columns for alias in c.aliases}
    positions: dict[str, int] = {}
    for position, value in enumerate(header):
        name = names.get(_header_key(value))
        if name and name not in positions:
            positions[name] = position
    missing = [c.name for c in columns if c.required and c.name not in positions]
    if missing:
        found = "、".join(k for k in (_header_key(v) for v in header) if k) or "（空）"
        raise DomainError(
            f"缺少必需的列：{'、'.join(missing)}。第 1 行应为表头，当前表头为：{found}。请使用导入模板。"
        )
    return positions


def table_cells(table: _Table, positions: dict[str, int]) -> Iterator[tuple[int, dict[str, Any]]]:
    """Each non-empty data row as {column name: raw value}; rows with nothing in them are skipped."""
    items = list(positions.items())
    last_allowed = settings.IMPORT_MAX_ROWS + 1  # the header is row 1
    for number, values in table.rows:
        if number > last_allowed:
            _check_rows(number)  # refuses
        if not any(v is not None and (not isinstance(v, str) or v.strip()) for v in values):
            continue
        width = len(values)
        yield number, {name: (values[pos] if pos < width else None) for name, pos in items}


# ---------------------------------------------------------------------------------------------------------
# Cell checks shared by both kinds


EXAMPLE_ROW = "这是导入模板中的示例行：请删除或改为真实数据后再上传"


def _is_example(cells: dict[str, Any], columns: Sequence[Column], keys: Sequence[str]) -> bool:
    """The template's example row, uploaded unchanged, would register a made-up enterprise or certificate."""
    examples = {c.name: c.example for c in columns}
    return all(cell_text(cells.get(key)) == examples[key] for key in keys)


class _Problems:
    """The problems found: the first IMPORT_MAX_PROBLEMS kept, the rest only counted (a file of a million bad
    rows must not hold a million messages in memory)."""

    def __init__(self, columns: Sequence[Column]):
        self.items: list[RowProblem] = []
        self.total = 0
        self._rows: set[int] = set()  # at most IMPORT_MAX_ROWS numbers
        self._limit = settings.IMPORT_MAX_PROBLEMS
        self._order = {c.name: i for i, c in enumerate(columns)}

    def add(self, row: int, column: str, reason: str) -> None:
        self.total += 1
        self._rows.add(row)
        if len(self.items) < self._limit:
            self.items.append(RowProblem(row, column, reason))

    def __bool__(self) -> bool:
        return bool(self.total)

    def raise_if_any(self) -> None:
        if self.total:
            self.items.sort(key=lambda p: (p.row, self._order.get(p.column, -1)))
            raise ImportRejected(self.items, total=self.total, bad_rows=len(self._rows))


_PHONE = re.compile(r"1[3-9]\d{9}")
_PHONE_NOISE = re.compile(r"[\s\-－()（）]")
_DATE = re.compile(
    r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:\s+0?0:00(?::00)?)?|(\d{4})(\d{2})(\d{2})"
)
_SCIENTIFIC = re.compile(r"\d(?:\.\d+)?E\+\d+", re.IGNORECASE)


def phone_problem(text: str) -> tuple[str, str | None]:
    phone = _PHONE_NOISE.sub("", text)
    if phone.startswith("+86"):
        phone = phone[3:]
    elif phone.startswith("86") and len(phone) == 13:
        phone = phone[2:]
    if not _PHONE.fullmatch(phone):
        return phone, f"手机号应为以1开头的11位数字，实际为“{text}”"
    return phone, None


def _too_long(text: str, limit: int) -> str | None:
    return f"不能超过{limit}个字，实际为{len(text)}个字" if len(text) > limit else None


def cell_date(value: Any, epoch: datetime.datetime | None) -> tuple[datetime.date | None, str | None]:
    if isinstance(value, datetime.datetime):
        return value.date(), None
    if isinstance(value, datetime.date):
        return value, None
    if (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and epoch is not None
        and 1 <= value < 2958466
    ):
        from openpyxl.utils.datetime import from_excel

        return from_excel(value, epoch).date(), None
    text = cell_text(value)
    match = _DATE.fullmatch(text)
    if not match:
        return None, f"日期应写作 YYYY-MM-DD 或 YYYY/MM/DD（如 2026-03-01），实际为“{text}”"
    year, month, day = (int(g) for g in (match.groups()[:3] if match.group(1) else match.groups()[3:]))
    try:
        return datetime.date(year, month, day), None
    except ValueError:
        return None, f"日期“{text}”不存在"


def _chunks(values: Sequence, size: int = LOOKUP_CHUNK) -> Iterator[Sequence]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _write_rejected(error: IntegrityError) -> DomainError:
    return DomainError(
        "导入时数据被其他操作同时修改（例如另一份文件正在导入相同的记录），未导入任何数据。请稍后重新上传。"
    )


# ---------------------------------------------------------------------------------------------------------
# Enterprises (F-03)


class _Regions:
    """Every region, fetched once; found by code or by (unambiguous) name."""

    def __init__(self):
        regions = list(Region.objects.only("id", "code", "name", "path"))
        self.by_id = {r.pk: r for r in regions}
        self.by_code = {r.code: r for r in regions}
        self.by_name: dict[str, list[Region]] = defaultdict(list)
        for region in regions:
            self.by_name[region.name].append(region)
        self._memo: dict[str, tuple[Region | None, str | None]] = {}

    def find(self, text: str) -> tuple[Region | None, str | None]:
        if text not in self._memo:
            self._memo[text] = self._find(text)
        return self._memo[text]

    def _find(self, text: str) -> tuple[Region | None, str | None]:
        if not text:
            return None, "不能为空：请填写区划代码或区域名称"
        if text in self.by_code:
            return self.by_code[text], None
        named = self.by_name.get(text, [])
        if len(named) == 1:
            return named[0], None
        if named:
            codes = "、".join(f"{r.code}" for r in named)
            return None, f"名称为“{text}”的区域有 {len(named)} 个（区划代码 {codes}），请填写区划代码"
        return None, f"区域“{text}”未登记：请填写已登记区域的区划代码或名称"


@dataclass(slots=True)
class _EnterpriseRow:
    row: int
    uscc: str
    name: str
    region: Region
    risk_grade: str
    address: str | None  # None: leave what is registered
    industry: str | None
    credit_grade: str | None
    legal_representative: str | None
    phone: str | None
    latitude: Decimal | None = None  # None: leave what is registered
    longitude: Decimal | None = None


_ENTERPRISE_FIELDS = (
    "name",
    "address",
    "region_id",
    "industry",
    "risk_grade",
    "credit_grade",
    "legal_representative",
    "latitude",
    "longitude",
)
_RISK_GRADES = {g.value: g.value for g in Enterprise.RiskGrade} | {
    g.label: g.value for g in Enterprise.RiskGrade
}


def _position(
    cells: dict[str, Any], bad: Callable[[str, str], None]
) -> tuple[Decimal | None, Decimal | None]:
    """The registered position (纬度, 经度): both or neither, in range; six decimals (about 0.1 m)."""
    texts = {column: cell_text(cells.get(column)) for column in ("纬度", "经度")}
    if not any(texts.values()):
        return None, None
    if not all(texts.values()):
        bad("纬度" if not texts["纬度"] else "经度", "纬度和经度须一并填写，或都不填")
        return None, None
    values = {}
    for column, limit in (("纬度", 90), ("经度", 180)):
        try:
            value = Decimal(texts[column])
        except ArithmeticError:
            bad(column, f"应为数字，实际为“{texts[column]}”")
            return None, None
        if not value.is_finite() or not -limit <= value <= limit:
            bad(column, f"应在-{limit}至{limit}之间，实际为“{texts[column]}”")
            return None, None
        values[column] = value.quantize(Decimal("0.000001"))
    return values["纬度"], values["经度"]


def _parse_enterprise(
    number: int, cells: dict[str, Any], regions: _Regions, scope: _Scope, problems: _Problems
) -> _EnterpriseRow | None:
    if _is_example(cells, ENTERPRISE_COLUMNS, ["企业名称"]):
        problems.add(number, "", EXAMPLE_ROW)
        return None
    ok = True

    def bad(column: str, reason: str) -> None:
        nonlocal ok
        ok = False
        problems.add(number, column, reason)

    raw_code = cells["统一社会信用代码"]
    code = uscc_rules.normalise(cell_text(raw_code))
    reason = uscc_rules.problem(code)
    if reason:
        if isinstance(raw_code, (int, float)) or _SCIENTIFIC.fullmatch(code):
            reason += (
                "（该单元格被 Excel 当作数字，超过15位的数字会丢失精度：请将此列设为“文本”格式后重新填写）"
            )
        bad("统一社会信用代码", reason)

    name = cell_text(cells["企业名称"])
    if not name:
        bad("企业名称", "不能为空")
    elif reason := _too_long(name, 200):
        bad("企业名称", reason)

    region, reason = regions.find(cell_text(cells["所在区域"]))
    if reason:
        bad("所在区域", reason)
    elif not scope.covers(region.path):
        bad("所在区域", f"“{region.name}”不在本单位的管辖范围（{scope.label}）内，无权导入该区域的企业")

    grade_text = cell_text(cells["风险等级"])
    risk_grade = _RISK_GRADES.get(grade_text.upper()) or _RISK_GRADES.get(grade_text)
    if not risk_grade:
        bad(
            "风险等级",
            f"应为 A、B、C、D 之一，实际为“{grade_text}”" if grade_text else "不能为空：应为 A、B、C、D 之一",
        )

    optional: dict[str, str | None] = {}
    for column, limit in (("地址", 255), ("行业", 100), ("信用等级", 10), ("法定代表人", 50)):
        text = cell_text(cells.get(column))
        optional[column] = text or None
        if text and (reason := _too_long(text, limit)):
            bad(column, reason)

    phone = None
    phone_text = cell_text(cells.get("法定代表人手机号"))
    if phone_text:
        phone, reason = phone_problem(phone_text)
        if reason:
            bad("法定代表人手机号", reason)
        elif not optional["法定代表人"]:
            bad("法定代表人", "填写了法定代表人手机号时，法定代表人姓名不能为空")

    latitude, longitude = _position(cells, bad)

    if not ok:
        return None
    return _EnterpriseRow(
        latitude=latitude,
        longitude=longitude,
        row=number,
        uscc=code,
        name=name,
        region=region,
        risk_grade=risk_grade,
        address=optional["地址"],
        industry=optional["行业"],
        credit_grade=optional["信用等级"],
        legal_representative=optional["法定代表人"],
        phone=phone,
    )


def _parse_file(
    data: bytes,
    file_name: str,
    columns,
    parse_row: Callable[[int, dict[str, Any], _Table, _Problems], Any],
    *,
    key_column: str,
    key: Callable[[Any], str],
    each: str,
    progress: Callable[[int], None] | None = None,
) -> tuple[list, int, _Problems]:
    """Every data row parsed (rows with problems left out and their problems collected), the number of data
    rows, and the problems; a row repeating an earlier row's key is refused naming the earlier row."""
    check_limits(data, file_name)
    table = open_table(data, file_name)
    try:
        positions = map_columns(table.header, columns)
        problems = _Problems(columns)
        parsed: list = []
        first_row: dict[str, int] = {}
        total = 0
        for number, cells in table_cells(table, positions):
            total += 1
            if progress is not None and total % PROGRESS_EVERY == 0:
                progress(total)
            item = parse_row(number, cells, table, problems)
            if item is None:
                continue
            earlier = first_row.setdefault(key(item), number)
            if earlier != number:
                problems.add(number, key_column, f"与第 {earlier} 行的{key_column}重复（{key(item)}）")
                continue
            parsed.append(item)
    finally:
        table.close()
    if not total:
        raise DomainError(f"文件中只有表头，没有数据行：请从第 2 行起每行填写{each}。")
    return parsed, total, problems


def import_enterprises(
    *,
    actor,
    file: IO[bytes] | bytes,
    file_name: str = "",
    progress: Callable[[int], None] | None = None,
) -> ImportResult:
    """Create or update enterprises (and their legal representatives' contacts) from a CSV or .xlsx file."""
    scope = _enterprise_scope(actor)
    data, file_name = _read_upload(file, file_name)
    regions = _Regions()
    parsed, total, problems = _parse_file(
        data,
        file_name,
        ENTERPRISE_COLUMNS,
        lambda number, cells, table, problems: _parse_enterprise(number, cells, regions, scope, problems),
        key_column="统一社会信用代码",
        key=lambda item: item.uscc,
        each="一家企业",
        progress=progress,
    )

    existing = _existing_enterprises([p.uscc for p in parsed])
    for item in parsed:
        found = existing.get(item.uscc)
        if found and not scope.covers(regions.by_id[found[3]].path):
            problems.add(
                item.row,
                "统一社会信用代码",
                f"该企业已登记在“{regions.by_id[found[3]].name}”，不在本单位的管辖范围（{scope.label}）内，"
                "无权修改",
            )
    if not actor.is_platform_admin:
        _refuse_contact_changes(parsed, existing, problems)
    problems.raise_if_any()

    sha256 = hashlib.sha256(data).hexdigest()
    try:
        with transaction.atomic():
            counts = _write_enterprises(parsed, existing)
            _record(
                actor, "registry.import_enterprises", Enterprise, "企业", file_name, sha256, total, counts
            )
    except IntegrityError as error:
        raise _write_rejected(error) from error
    return ImportResult("enterprises", file_name, sha256, total, counts)


def _refuse_contact_changes(parsed: list[_EnterpriseRow], existing: dict[str, tuple], problems) -> None:
    """A body admin's file may repeat the legal representative on record, never set or change it: the phone
    on record approves who logs in as the enterprise, and enforcement bodies never manage those logins."""
    rows = [item for item in parsed if item.phone]
    if not rows:
        return
    on_record: set[tuple] = set()
    for chunk in _chunks([existing[item.uscc][0] for item in rows if item.uscc in existing]):
        on_record.update(
            EnterpriseContact.objects.filter(
                enterprise_id__in=chunk, kind=EnterpriseContact.Kind.LEGAL_REPRESENTATIVE
            ).values_list("enterprise_id", "phone", "name")
        )
    for item in rows:
        found = existing.get(item.uscc)
        if found is None or (found[0], item.phone, item.legal_representative) not in on_record:
            problems.add(
                item.row,
                "法定代表人手机号",
                "法定代表人手机号用于企业联系人登录的核验，只能由平台管理员或企业本人登记和变更，"
                "执法单位不能导入；请清空本列后重新上传，或请平台管理员导入",
            )


def _existing_enterprises(codes: Sequence[str]) -> dict[str, tuple]:
    """USCC → (id, *_ENTERPRISE_FIELDS) of those already registered. Tuples: 100,000 dicts would weigh."""
    existing: dict[str, tuple] = {}
    for chunk in _chunks(codes):
        for values in Enterprise.objects.filter(uscc__in=chunk).values_list(
            "uscc", "id", *_ENTERPRISE_FIELDS
        ):
            existing[values[0]] = values[1:]
    return existing


_AS_IS = {"CharField", "TextField", "ForeignKey", "AutoField", "BigAutoField"}


def _prepared(model, fields: Sequence[str], rows: Sequence[tuple]) -> Sequence[Sequence]:
    """Rows ready for the driver: text and ids as they are; dates and times adapted by the backend."""
    targets = [model._meta.get_field(name) for name in fields]
    preps = [(i, f) for i, f in enumerate(targets) if f.get_internal_type() not in _AS_IS]
    if not preps:
        return rows
    prepared = [list(row) for row in rows]
    for row in prepared:
        for i, target in preps:
            row[i] = target.get_db_prep_save(row[i], connection)
    return prepared


def _insert_rows(model, fields: Sequence[str], rows: list[tuple]) -> None:
    """INSERT the rows (ids are not returned: callers fetch them by their natural key).

    Django's bulk_create spends most of its time compiling SQL value by value. Here PostgreSQL gets one
    statement per batch with one array per column (INSERT ... SELECT FROM unnest), and SQLite a prepared
    single-row INSERT run with executemany, the fastest form for each."""
    if rows:
        _write_rows(model, fields, rows, update=False)


def _update_rows(model, fields: Sequence[str], rows: list[tuple]) -> None:
    """UPDATE the rows given as (values..., id). Django's bulk_update builds a CASE WHEN per field per row,
    which takes minutes for 100,000 rows; this takes seconds."""
    if rows:
        _write_rows(model, [*fields, "id"], rows, update=True)


def _write_rows(model, fields: Sequence[str], rows: list[tuple], update: bool) -> None:
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    targets = [model._meta.get_field(name) for name in fields]
    columns = [quote(f.column) for f in targets]
    if connection.vendor == "postgresql":
        arrays = ", ".join(f"%s::{f.db_type(connection)}[]" for f in targets)
        names = [f"c{i}" for i in range(len(targets))]
        if update:
            assignments = ", ".join(f"{c} = v.{n}" for c, n in zip(columns[:-1], names, strict=False))
            sql = (
                f"UPDATE {table} SET {assignments} FROM unnest({arrays}) AS v({', '.join(names)}) "
                f"WHERE {table}.{columns[-1]} = v.{names[-1]}"
            )
        else:
            sql = f"INSERT INTO {table} ({', '.join(columns)}) SELECT * FROM unnest({arrays})"
        with connection.cursor() as cursor:
            for chunk in _chunks(rows, UNNEST_BATCH):
                cursor.execute(
                    sql, [list(column) for column in zip(*_prepared(model, fields, chunk), strict=True)]
                )
        return
    if update:
        assignments = ", ".join(f"{c} = %s" for c in columns[:-1])
        sql = f"UPDATE {table} SET {assignments} WHERE {columns[-1]} = %s"
    else:
        sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))})"
    with connection.cursor() as cursor:
        for chunk in _chunks(rows, WRITE_BATCH):
            cursor.executemany(sql, _prepared(model, fields, chunk))


def _write_enterprises(parsed: list[_EnterpriseRow], existing: dict[str, tuple]) -> dict[str, int]:
    new_items: list[_EnterpriseRow] = []
    updates: list[tuple] = []
    unchanged = 0
    for item in parsed:
        found = existing.get(item.uscc)
        if found is None:
            new_items.append(item)
            continue
        values = (
            item.name,
            item.address,
            item.region.pk,
            item.industry,
            item.risk_grade,
            item.credit_grade,
            item.legal_representative,
            item.latitude,
            item.longitude,
        )  # the order of _ENTERPRISE_FIELDS
        merged = tuple(old if new is None else new for new, old in zip(values, found[1:], strict=True))
        if merged == found[1:]:
            unchanged += 1
        else:
            updates.append((*merged, found[0]))

    now = timezone.now()
    _insert_rows(
        Enterprise,
        ("uscc", *_ENTERPRISE_FIELDS, "created_at"),
        [
            (
                item.uscc,
                item.name,
                item.address or "",
                item.region.pk,
                item.industry or "",
                item.risk_grade,
                item.credit_grade or "",
                item.legal_representative or "",
                item.latitude,
                item.longitude,
                now,
            )
            for item in new_items
        ],
    )
    ids: dict[str, int] = {}
    for chunk in _chunks([item.uscc for item in new_items]):
        ids.update(Enterprise.objects.filter(uscc__in=chunk).values_list("uscc", "id"))
    new_ids = set(ids.values())
    ids.update((code, found[0]) for code, found in existing.items())
    _update_rows(Enterprise, _ENTERPRISE_FIELDS, updates)
    contacts_created, contacts_updated = _write_contacts(
        [(ids[item.uscc], item) for item in parsed if item.phone], new_ids=new_ids
    )
    return {
        "created": len(new_items),
        "updated": len(updates),
        "unchanged": unchanged,
        "contacts_created": contacts_created,
        "contacts_updated": contacts_updated,
    }


def _write_contacts(rows: list[tuple[int, _EnterpriseRow]], new_ids: set[int]) -> tuple[int, int]:
    """The legal representative's contact: the one with this phone, else the current one, else a new one."""
    kind = EnterpriseContact.Kind.LEGAL_REPRESENTATIVE
    by_enterprise: dict[int, list[list]] = defaultdict(list)
    known = [eid for eid, _ in rows if eid not in new_ids]
    for chunk in _chunks(known):
        for contact in (
            EnterpriseContact.objects.filter(enterprise_id__in=chunk)
            .order_by("id")
            .values_list("enterprise_id", "id", "kind", "name", "phone")
        ):
            by_enterprise[contact[0]].append(list(contact[1:]))
    to_create: list[tuple[int, _EnterpriseRow]] = []
    updates: list[tuple] = []
    changed: list[tuple[_EnterpriseRow, set[str]]] = []
    for enterprise_id, item in rows:
        contacts = by_enterprise.get(enterprise_id, ())
        contact = next((c for c in contacts if c[3] == item.phone), None) or next(
            (c for c in contacts if c[1] == kind), None
        )
        is_change = contact is None or contact[1:] != [kind, item.legal_representative, item.phone]
        if is_change and enterprise_id not in new_ids:
            changed.append((item, {c[3] for c in contacts}))
        if contact is None:
            to_create.append((enterprise_id, item))
        elif contact[1:] != [kind, item.legal_representative, item.phone]:
            contact[1:] = [kind, item.legal_representative, item.phone]
            updates.append((kind, item.legal_representative, item.phone, contact[0]))
    _insert_rows(
        EnterpriseContact,
        ("enterprise_id", "kind", "name", "phone"),
        [(eid, kind, item.legal_representative, item.phone) for eid, item in to_create],
    )
    _update_rows(EnterpriseContact, ["kind", "name", "phone"], updates)
    _tell_contact_changes(changed)
    return len(to_create), len(updates)


def _tell_contact_changes(changed: list[tuple[_EnterpriseRow, set[str]]]) -> None:
    """The phones on record of an enterprise already registered are told, after commit, when the import
    changes its legal representative's contact (issue 10, item 1: every change of who approves the
    enterprise's logins is told). A new enterprise's first representative is its registration: nobody to
    tell. Only the platform administrator's imports get here with changes (`_refuse_contact_changes`)."""
    notices: list[tuple[str, str]] = []
    for item, phones in changed:
        phone = item.phone or ""
        text = (
            f"【检查码】平台管理员通过批量导入将“{item.name}”的法定代表人登记为{item.legal_representative}"
            f"（手机号{phone[:3]}****{phone[-4:]}），该手机号用于核验添加企业联系人。"
            "如有异议，请联系平台管理员。"
        )
        notices.extend((target, text) for target in sorted(phones | {phone}))
    if notices:
        transaction.on_commit(lambda: [send_sms(target, text) for target, text in notices])


def _record(
    actor, action: str, model, noun: str, file_name: str, sha256: str, rows: int, counts: dict[str, int]
) -> None:
    """The one audit event of an import: who, which file (by its hash) and what it changed."""
    audit.record(
        actor=actor,
        action=action,
        object_type=model._meta.label,
        object_id=sha256,
        object_repr=f"批量导入{noun}：{file_name or '（未命名文件）'}（{rows} 行）",
        after={"file_name": file_name, "sha256": sha256, "rows": rows, **counts},
    )


# ---------------------------------------------------------------------------------------------------------
# Inspectors and their certificates (F-02)


def _inspector_scope(actor) -> int | None:
    """The one body whose inspectors `actor` may import, or None for any body."""
    if not may_import_inspectors(actor):
        raise PermissionDenied("只有平台管理员和执法单位管理员可以批量导入执法人员。")
    return None if actor.is_platform_admin else actor.body_id


class _Bodies:
    """Every body with its fields, and every field: fetched once, found by code or name."""

    def __init__(self):
        bodies = list(
            EnforcementBody.objects.prefetch_related("fields").only("id", "code", "name", "is_active")
        )
        self.by_id = {b.pk: b for b in bodies}
        self.by_key = {b.name: b for b in bodies} | {b.code: b for b in bodies}
        self.fields_of = {b.pk: {f.pk for f in b.fields.all()} for b in bodies}
        fields = list(Field.objects.all())
        self.field_by_id = {f.pk: f for f in fields}
        self.field_by_key = {f.name: f for f in fields} | {f.code: f for f in fields}


@dataclass(slots=True)
class _InspectorRow:
    row: int
    name: str
    body_id: int
    employee_number: str | None
    phone: str | None
    number: str
    field_ids: frozenset[int]
    valid_from: datetime.date
    valid_until: datetime.date
    ref: tuple = ()  # which inspector the row is about, once resolved


_FIELD_SEPARATORS = re.compile(r"[、,，;；/\s]+")


def _parse_inspector(
    number: int,
    cells: dict[str, Any],
    bodies: _Bodies,
    only_body: int | None,
    epoch: datetime.datetime | None,
    problems: _Problems,
) -> _InspectorRow | None:
    if _is_example(cells, INSPECTOR_COLUMNS, ["姓名", "执法证号"]):
        problems.add(number, "", EXAMPLE_ROW)
        return None
    ok = True

    def bad(column: str, reason: str) -> None:
        nonlocal ok
        ok = False
        problems.add(number, column, reason)

    name = cell_text(cells["姓名"])
    if not name:
        bad("姓名", "不能为空")
    elif reason := _too_long(name, 50):
        bad("姓名", reason)

    body_text = cell_text(cells["所属执法单位"])
    body = bodies.by_key.get(body_text)
    if not body_text:
        bad("所属执法单位", "不能为空：请填写执法单位编码")
    elif body is None:
        bad("所属执法单位", f"执法单位“{body_text}”未登记：请填写已登记执法单位的编码")
    elif only_body is not None and body.pk != only_body:
        own = bodies.by_id[only_body]
        bad(
            "所属执法单位",
            f"只能导入本单位（{own.name}，编码 {own.code}）的执法人员，不能导入“{body.name}”的",
        )
        body = None
    elif not body.is_active:
        bad("所属执法单位", f"执法单位“{body.name}”已停用")

    employee_number = cell_text(cells.get("工号")) or None
    if employee_number and (reason := _too_long(employee_number, 32)):
        bad("工号", reason)
    phone = None
    if phone_text := cell_text(cells.get("手机号")):
        phone, reason = phone_problem(phone_text)
        if reason:
            bad("手机号", reason)

    certificate_number = cell_text(cells["执法证号"])
    if not certificate_number:
        bad("执法证号", "不能为空")
    elif reason := _too_long(certificate_number, 32):
        bad("执法证号", reason)
    elif isinstance(cells["执法证号"], float) or _SCIENTIFIC.fullmatch(certificate_number):
        bad(
            "执法证号",
            f"“{certificate_number}”被 Excel 当作数字，可能已丢失位数：请将此列设为“文本”格式后重新填写",
        )

    field_ids: set[int] = set()
    fields_text = cell_text(cells["执法领域"])
    if not fields_text:
        bad("执法领域", "不能为空：请填写执法领域的代码或名称，多个用“、”分隔")
    for key in filter(None, _FIELD_SEPARATORS.split(fields_text)):
        found = bodies.field_by_key.get(key)
        if found is None:
            bad("执法领域", f"执法领域“{key}”未登记")
        elif body is not None and found.pk not in bodies.fields_of[body.pk]:
            allowed = "、".join(sorted(bodies.field_by_id[f].name for f in bodies.fields_of[body.pk])) or "无"
            bad("执法领域", f"“{found.name}”不在{body.name}的执法领域（{allowed}）内")
        else:
            field_ids.add(found.pk)

    valid_from, reason = cell_date(cells["有效期起"], epoch)
    if reason:
        bad("有效期起", reason)
    valid_until, reason = cell_date(cells["有效期止"], epoch)
    if reason:
        bad("有效期止", reason)
    elif valid_from and valid_until < valid_from:
        bad("有效期止", f"有效期止（{valid_until.isoformat()}）早于有效期起（{valid_from.isoformat()}）")

    if not ok:
        return None
    return _InspectorRow(
        row=number,
        name=name,
        body_id=body.pk,
        employee_number=employee_number,
        phone=phone,
        number=certificate_number,
        field_ids=frozenset(field_ids),
        valid_from=valid_from,
        valid_until=valid_until,
    )


def import_inspectors(
    *,
    actor,
    file: IO[bytes] | bytes,
    file_name: str = "",
    progress: Callable[[int], None] | None = None,
) -> ImportResult:
    """Create or update inspectors and their certificates from a CSV or .xlsx file (one certificate a row)."""
    only_body = _inspector_scope(actor)
    data, file_name = _read_upload(file, file_name)
    bodies = _Bodies()
    parsed, total, problems = _parse_file(
        data,
        file_name,
        INSPECTOR_COLUMNS,
        lambda number, cells, table, problems: _parse_inspector(
            number, cells, bodies, only_body, table.epoch, problems
        ),
        key_column="执法证号",
        key=lambda item: item.number,
        each="一本执法证",
        progress=progress,
    )

    certificates = _existing_certificates([p.number for p in parsed])
    inspectors = _Inspectors(
        {p.body_id for p in parsed} | {c["inspector__body_id"] for c in certificates.values()}
    )
    _resolve_inspectors(parsed, certificates, inspectors, bodies, only_body, problems)
    problems.raise_if_any()

    sha256 = hashlib.sha256(data).hexdigest()
    try:
        with transaction.atomic():
            counts = _write_inspectors(parsed, certificates, inspectors)
            _record(
                actor, "registry.import_inspectors", Certificate, "执法人员", file_name, sha256, total, counts
            )
    except IntegrityError as error:
        raise _write_rejected(error) from error
    return ImportResult("inspectors", file_name, sha256, total, counts)


def _existing_certificates(numbers: list[str]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for chunk in _chunks(numbers):
        for values in Certificate.objects.filter(number__in=chunk).values(
            "id", "number", "inspector_id", "valid_from", "valid_until", "inspector__body_id"
        ):
            values["field_ids"] = set()
            found[values["number"]] = values
    by_id = {v["id"]: v for v in found.values()}
    through = Certificate.fields.through
    for chunk in _chunks(list(by_id)):
        for certificate_id, field_id in through.objects.filter(certificate_id__in=chunk).values_list(
            "certificate_id", "field_id"
        ):
            by_id[certificate_id]["field_ids"].add(field_id)
    return found


class _Inspectors:
    """The inspectors of the bodies in the file, by id and by (body, employee number) / (body, phone)."""

    def __init__(self, body_ids: Iterable[int]):
        self.by_id: dict[int, dict[str, Any]] = {}
        self.by_employee_number: dict[tuple[int, str], list[int]] = defaultdict(list)
        self.by_phone: dict[tuple[int, str], list[int]] = defaultdict(list)
        for values in Inspector.objects.filter(body_id__in=list(body_ids)).values(
            "id", "name", "body_id", "employee_number", "phone"
        ):
            self.by_id[values["id"]] = values
            if values["employee_number"]:
                self.by_employee_number[values["body_id"], values["employee_number"]].append(values["id"])
            if values["phone"]:
                self.by_phone[values["body_id"], values["phone"]].append(values["id"])


def _resolve_inspectors(
    parsed: list[_InspectorRow],
    certificates: dict[str, dict[str, Any]],
    inspectors: _Inspectors,
    bodies: _Bodies,
    only_body: int | None,
    problems: _Problems,
) -> None:
    """Decide which inspector each row is about: the certificate's holder if the certificate is registered,
    else the body's inspector with that employee number (or phone), else a new one. Rows about the same
    person must agree on who that is."""
    first_of: dict[tuple, _InspectorRow] = {}
    for item in parsed:
        certificate = certificates.get(item.number)
        if certificate is not None:
            holder = inspectors.by_id[certificate["inspector_id"]]
            if only_body is not None and holder["body_id"] != only_body:
                problems.add(
                    item.row,
                    "执法证号",
                    f"该执法证已登记在{bodies.by_id[holder['body_id']].name}的执法人员{holder['name']}名下，"
                    "无权修改",
                )
                continue
            item.ref = ("id", holder["id"])
        else:
            ref = None
            for column, key, index in (
                ("工号", item.employee_number, inspectors.by_employee_number),
                ("手机号", item.phone, inspectors.by_phone),
            ):
                matches = index.get((item.body_id, key), []) if key else []
                if len(matches) > 1:
                    problems.add(
                        item.row,
                        column,
                        f"{bodies.by_id[item.body_id].name}有 {len(matches)} 名执法人员的"
                        f"{column}为“{key}”，无法确定是哪一位：请先在系统中更正",
                    )
                    ref = ()
                    break
                if matches:
                    ref = ("id", matches[0])
                    break
            if ref == ():
                continue
            if ref is None:
                if item.employee_number:
                    ref = ("new", item.body_id, "工号", item.employee_number)
                elif item.phone:
                    ref = ("new", item.body_id, "手机号", item.phone)
                else:
                    ref = ("row", item.row)
            item.ref = ref
        earlier = first_of.setdefault(item.ref, item)
        if earlier is item:
            continue
        for column, mine, theirs in (
            ("姓名", item.name, earlier.name),
            ("所属执法单位", item.body_id, earlier.body_id),
            ("工号", item.employee_number, earlier.employee_number),
            ("手机号", item.phone, earlier.phone),
        ):
            if mine and theirs and mine != theirs:
                problems.add(item.row, column, f"与第 {earlier.row} 行是同一名执法人员，但{column}不一致")


def _write_inspectors(
    parsed: list[_InspectorRow], certificates: dict[str, dict[str, Any]], inspectors: _Inspectors
) -> dict[str, int]:
    # One inspector per ref: the file's values, where given, over what is registered.
    people: dict[tuple, dict[str, Any]] = {}
    for item in parsed:
        person = people.setdefault(item.ref, {})
        person.setdefault("name", item.name)
        person.setdefault("body_id", item.body_id)
        if item.employee_number:
            person.setdefault("employee_number", item.employee_number)
        if item.phone:
            person.setdefault("phone", item.phone)

    person_fields = ("name", "body_id", "employee_number", "phone")
    new_people: dict[tuple, Inspector] = {}
    changed_people: list[tuple] = []
    for ref, values in people.items():
        if ref[0] != "id":
            new_people[ref] = Inspector(**values)
            continue
        current = inspectors.by_id[ref[1]]
        merged = tuple(values.get(k, current[k]) for k in person_fields)
        if merged != tuple(current[k] for k in person_fields):
            changed_people.append((*merged, ref[1]))
    Inspector.objects.bulk_create(list(new_people.values()), batch_size=WRITE_BATCH)
    if any(p.pk is None for p in new_people.values()):
        raise DomainError("当前数据库不支持批量写入后返回编号，无法导入执法人员。")
    _update_rows(Inspector, person_fields, changed_people)

    new_certificates: list[tuple[Certificate, frozenset[int]]] = []
    changed_certificates: list[tuple] = []
    refield: dict[int, frozenset[int]] = {}
    unchanged = 0
    for item in parsed:
        current = certificates.get(item.number)
        if current is None:
            inspector_id = item.ref[1] if item.ref[0] == "id" else new_people[item.ref].pk
            new_certificates.append(
                (
                    Certificate(
                        number=item.number,
                        inspector_id=inspector_id,
                        valid_from=item.valid_from,
                        valid_until=item.valid_until,
                        status=Certificate.Status.VALID,
                    ),
                    item.field_ids,
                )
            )
            continue
        dates_changed = (current["valid_from"], current["valid_until"]) != (item.valid_from, item.valid_until)
        if dates_changed:
            changed_certificates.append((item.valid_from, item.valid_until, current["id"]))
        if item.field_ids != current["field_ids"]:
            refield[current["id"]] = item.field_ids
        if not dates_changed and item.field_ids == current["field_ids"]:
            unchanged += 1
    Certificate.objects.bulk_create([c for c, _ in new_certificates], batch_size=WRITE_BATCH)
    _update_rows(Certificate, ["valid_from", "valid_until"], changed_certificates)

    through = Certificate.fields.through
    for chunk in _chunks(list(refield)):
        through.objects.filter(certificate_id__in=chunk).delete()
    links = [through(certificate_id=c.pk, field_id=f) for c, field_ids in new_certificates for f in field_ids]
    links += [
        through(certificate_id=cid, field_id=f) for cid, field_ids in refield.items() for f in field_ids
    ]
    through.objects.bulk_create(links, batch_size=WRITE_BATCH)
    if new_certificates or changed_certificates or changed_people:
        # Written past the models' signals: whatever shows people and certificates (the scan page's cached
        # cards) rebuilds, now and when this commits.
        cache.bump([cache.REGISTRY_GENERATION_KEY])
        transaction.on_commit(lambda: cache.bump([cache.REGISTRY_GENERATION_KEY]), robust=True)

    updated_certificates = len({c[-1] for c in changed_certificates} | set(refield))
    return {
        "inspectors_created": len(new_people),
        "inspectors_updated": len(changed_people),
        "certificates_created": len(new_certificates),
        "certificates_updated": updated_certificates,
        "certificates_unchanged": unchanged,
    }


# ---------------------------------------------------------------------------------------------------------
# Large imports on the task queue (issue 10, item 5)

# A queued import may take longer than the cluster's default task timeout (bench: 100,000 rows of an .xlsx
# written with inline strings took 150 s); it is claimed once, so a broker's redelivery does not run it twice.
QUEUED_IMPORT_TIMEOUT = 1800

SERVICES: dict[str, Callable[..., ImportResult]] = {
    "enterprises": import_enterprises,
    "inspectors": import_inspectors,
}


def read_upload(file: IO[bytes] | bytes, file_name: str = "") -> tuple[bytes, str]:
    """The upload's bytes (refused over IMPORT_MAX_BYTES, or empty) and its name."""
    return _read_upload(file, file_name)


def _queue_path(stored_name: str):
    return Path(settings.IMPORT_QUEUE_DIR) / stored_name


@transaction.atomic
def queue_import(actor, *, kind: str, data: bytes, file_name: str, rows_estimate: int):
    """Record an import for the task queue's worker and keep its file where no URL reaches it; the page
    `import_job` shows its progress. The limits were checked by the caller (check_limits)."""
    from django_q.tasks import async_task

    from .models import ImportJob

    if kind not in SERVICES:
        raise DomainError(f"不支持的导入类型“{kind}”")
    (_enterprise_scope if kind == "enterprises" else _inspector_scope)(actor)
    directory = Path(settings.IMPORT_QUEUE_DIR)
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    stored_name = secrets.token_hex(16) + (PurePath(file_name).suffix.lower()[:10] if file_name else "")
    descriptor = os.open(directory / stored_name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
    sha256 = hashlib.sha256(data).hexdigest()
    job = ImportJob.objects.create(
        kind=kind,
        actor=actor,
        file_name=file_name[:255],
        stored_name=stored_name,
        sha256=sha256,
        rows_estimate=rows_estimate,
    )
    audit.record(
        actor=actor,
        action="registry.import_queued",
        obj=job,
        after={"kind": kind, "file_name": file_name, "sha256": sha256, "rows_estimate": rows_estimate},
    )
    # The file is deleted if the transaction rolls back; the worker starts only once the job is committed.
    transaction.on_commit(
        lambda: async_task(
            "jianchama.registry.jobs.run_import",
            job.pk,
            task_name=f"import-{job.pk}",
            timeout=QUEUED_IMPORT_TIMEOUT,
        )
    )
    return job


def run_import_job(job_id: int) -> str:
    """What the worker does with a queued import: run it, record its progress, its counts or its problems,
    and delete the stored file whatever happens. A job that is no longer queued is not run again."""
    from .models import ImportJob

    claimed = ImportJob.objects.filter(pk=job_id, status=ImportJob.Status.QUEUED).update(
        status=ImportJob.Status.RUNNING
    )
    job = ImportJob.objects.select_related("actor").get(pk=job_id)
    if not claimed:
        return job.status
    path = _queue_path(job.stored_name)
    fields: dict[str, Any] = {}
    try:
        data = path.read_bytes()
        result = SERVICES[job.kind](
            actor=job.actor,
            file=data,
            file_name=job.file_name,
            progress=lambda rows: ImportJob.objects.filter(pk=job_id).update(rows_done=rows),
        )
        fields = {
            "status": ImportJob.Status.DONE,
            "rows_done": result.rows,
            "result": {"rows": result.rows, "counts": result.counts},
        }
    except ImportRejected as rejected:
        fields = {
            "status": ImportJob.Status.REJECTED,
            "message": rejected.message,
            "problems": [[p.row, p.column, p.reason] for p in rejected.row_problems],
            "problem_count": rejected.total,
        }
    except DomainError as error:
        fields = {"status": ImportJob.Status.FAILED, "message": error.message}
    except FileNotFoundError:
        fields = {
            "status": ImportJob.Status.FAILED,
            "message": "上传的文件已不在暂存目录中，未导入任何数据：请重新上传。",
        }
    except Exception:
        logger.exception("import job %s failed", job_id)
        fields = {
            "status": ImportJob.Status.FAILED,
            "message": "导入时发生系统错误，未导入任何数据。请稍后重新上传；如仍失败，请联系平台管理员。",
        }
    finally:
        path.unlink(missing_ok=True)
        ImportJob.objects.filter(pk=job_id).update(stored_name="", finished_at=timezone.now(), **fields)
    return fields["status"]
