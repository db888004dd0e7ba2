"""Every export, Excel and CSV: sheets of a header and rows, written in openpyxl's write-only mode (rows are
streamed, not kept as cell objects), and CSV in UTF-8 with a byte order mark; both returned as a download.

Text from enterprises and the public (complaint titles, enterprise names, plan titles) ends up in these
files, so every text cell that a spreadsheet program would read as a formula is neutralised here, in the one
place all exports go through (OWASP's rule for CSV injection: a cell starting with `=`, `+`, `-`, `@`, a tab or
a carriage return gets a leading apostrophe and stays text). Numbers and dates are left as they are."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.http import HttpResponse
from django.utils import timezone
from django.utils.http import content_disposition_header

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# What openpyxl refuses in a cell (XML 1.0 forbids these control characters); tab, CR and LF are allowed.
ILLEGAL_CHARACTERS_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def neutralise(value: Any) -> Any:
    """The value as a spreadsheet must show it: text that would start a formula gets a leading apostrophe, and
    the control characters a workbook cannot hold (typed or pasted into a form somewhere) are dropped, so an
    export never fails on one user's text; anything else (numbers, dates, None, safe text) is unchanged."""
    if isinstance(value, str):
        value = ILLEGAL_CHARACTERS_RE.sub("", value)
        if value.startswith(FORMULA_STARTS):
            return "'" + value
    return value


@dataclass
class Sheet:
    title: str
    header: Sequence[str]
    rows: Iterable[Sequence[Any]]
    widths: Sequence[int] = field(default=())
    # Per column, an Excel number format (e.g. "yyyy-mm-dd") or None.
    number_formats: Sequence[str | None] = field(default=())


def workbook_bytes(sheets: Iterable[Sheet]) -> bytes:
    buffer = io.BytesIO()
    write_workbook(sheets, buffer)
    return buffer.getvalue()


def write_workbook(sheets: Iterable[Sheet], target) -> None:
    """Write the workbook to `target`, a path or a binary file: row by row, each sheet's rows going to a
    temporary file as they come (write-only mode), so memory stays bounded whatever the number of rows."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    book = Workbook(write_only=True)
    bold = Font(bold=True)
    for spec in sheets:
        sheet = book.create_sheet(spec.title[:31])  # Excel's limit on a sheet's name
        for number, width in enumerate(spec.widths, start=1):
            sheet.column_dimensions[get_column_letter(number)].width = width
        sheet.freeze_panes = "A2"
        header = []
        for text in spec.header:
            cell = WriteOnlyCell(sheet, value=neutralise(text))
            cell.font = bold
            header.append(cell)
        sheet.append(header)
        formats = list(spec.number_formats)
        for row in spec.rows:
            values = [neutralise(value) for value in row]
            for index, number_format in enumerate(formats):
                if number_format and index < len(values) and values[index] is not None:
                    cell = WriteOnlyCell(sheet, value=values[index])
                    cell.number_format = number_format
                    values[index] = cell
            sheet.append(values)
    book.save(target)


def too_many_to_export(rows) -> str | None:
    """Why `rows` (a queryset) cannot be exported whole, or None if it can.

    An export never drops rows silently: past `EXPORT_MAX_ROWS` it is refused with the reason, and the user
    narrows the filters. Counts at most the limit + 1 rows."""
    from django.conf import settings

    limit = settings.EXPORT_MAX_ROWS
    if rows.order_by()[: limit + 1].count() > limit:
        return f"符合条件的记录超过{limit:,}条，一次导出不全。请缩小筛选范围（如按月份、单位）后分批导出。"
    return None


def xlsx_response(name: str, sheets: Iterable[Sheet]) -> HttpResponse:
    """The workbook as a download named 「<name><YYYYMMDD>.xlsx」."""
    response = HttpResponse(workbook_bytes(sheets), content_type=XLSX)
    stamp = timezone.localdate().strftime("%Y%m%d")
    response["Content-Disposition"] = content_disposition_header(
        as_attachment=True, filename=f"{name}{stamp}.xlsx"
    )
    return response


def csv_bytes(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    """A CSV file in UTF-8 with a byte order mark (which tells Excel the encoding), CRLF line ends, every
    text cell neutralised."""
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([neutralise(text) for text in header])
    for row in rows:
        writer.writerow(["" if value is None else neutralise(value) for value in row])
    return buffer.getvalue().encode("utf-8")


def csv_response(filename: str, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> HttpResponse:
    """The CSV as a download named `filename` (Chinese names encoded as RFC 5987 wants)."""
    response = HttpResponse(csv_bytes(header, rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = content_disposition_header(as_attachment=True, filename=filename)
    return response
