"""Every export, Excel and CSV: sheets of a header and rows, written by XlsxWriter in its constant-memory mode
(rows are streamed to a temporary file, not kept as cell objects), and CSV in UTF-8 with a byte order mark; both returned as a download.

Text from enterprises and the public (complaint titles, enterprise names, plan titles) ends up in these
files, so every text cell that a spreadsheet program would read as a formula is neutralised here, in the one
place all exports go through (OWASP's rule for CSV injection: a cell starting with `=`, `+`, `-`, `@`, a tab or
a carriage return gets a leading apostrophe and stays text). Numbers and dates are left as they are."""

from __future__ import annotations

import csv
import datetime
import decimal
import io
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.http import HttpResponse, StreamingHttpResponse
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
    """Write the workbook to `target`, a path or a binary file, with XlsxWriter in its constant-memory mode:
    each row goes to the sheet's temporary file as it comes and strings are written inline (no shared-string
    table), so memory stays bounded whatever the number of rows. It writes about half again as fast as
    openpyxl's write-only mode (bench/README.md, exports), and every cell is written by its type: text is
    always text, never read as a formula, a number or a link."""
    import xlsxwriter

    book = xlsxwriter.Workbook(
        target,
        {
            "constant_memory": True,
            "strings_to_numbers": False,
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "remove_timezone": True,
        },
    )
    bold = book.add_format({"bold": True})
    formats: dict[str, Any] = {}
    # A date or time in a column without a number format of its own is shown as its kind wants.
    time_formats = {
        kind: book.add_format({"num_format": code}) for kind, code in DEFAULT_TIME_FORMATS.items()
    }
    used: set[str] = set()
    for spec in sheets:
        sheet = book.add_worksheet(_sheet_name(spec.title, used))
        for number, width in enumerate(spec.widths):
            sheet.set_column(number, number, width)
        sheet.freeze_panes(1, 0)
        sheet.write_row(0, 0, [_text(neutralise(text)) for text in spec.header], bold)
        column_formats = [
            (formats.setdefault(code, book.add_format({"num_format": code})) if code else None)
            for code in spec.number_formats
        ]
        for row_number, row in enumerate(spec.rows, start=1):
            for column, value in enumerate(row):
                if value is None:
                    continue
                cell_format = column_formats[column] if column < len(column_formats) else None
                _write_cell(sheet, row_number, column, neutralise(value), cell_format, time_formats)
    book.close()


DEFAULT_TIME_FORMATS = {"datetime": "yyyy-mm-dd hh:mm", "date": "yyyy-mm-dd", "time": "hh:mm"}
SHEET_NAME_FORBIDDEN_RE = re.compile(r"[\\/?*:\[\]]")


def _sheet_name(title: str, used: set[str]) -> str:
    """A name Excel accepts: at most 31 characters, none of \\ / ? * : [ ], not starting or ending with an
    apostrophe, and unique in the book (case-insensitively)."""
    name = SHEET_NAME_FORBIDDEN_RE.sub("_", str(title)).strip("'")[:31] or "Sheet"
    candidate, number = name, 1
    while candidate.lower() in used:
        number += 1
        candidate = f"{name[: 31 - len(str(number)) - 1]}_{number}"
    used.add(candidate.lower())
    return candidate


def _text(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


def _write_cell(sheet, row: int, column: int, value: Any, cell_format, time_formats: dict) -> None:
    if isinstance(value, str):
        sheet.write_string(row, column, value, cell_format)
    elif isinstance(value, bool):
        sheet.write_boolean(row, column, value, cell_format)
    elif isinstance(value, int | float | decimal.Decimal):
        sheet.write_number(row, column, value, cell_format)
    elif isinstance(value, datetime.datetime):
        sheet.write_datetime(row, column, value, cell_format or time_formats["datetime"])
    elif isinstance(value, datetime.date):
        sheet.write_datetime(row, column, value, cell_format or time_formats["date"])
    elif isinstance(value, datetime.time):
        sheet.write_datetime(row, column, value, cell_format or time_formats["time"])
    else:
        sheet.write_string(row, column, neutralise(str(value)), cell_format)


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


def csv_chunks(
    header: Sequence[str], rows: Iterable[Sequence[Any]], rows_per_chunk: int = 500
) -> Iterator[bytes]:
    """A CSV file in UTF-8 with a byte order mark (which tells Excel the encoding), CRLF line ends, every
    text cell neutralised, as pieces of about `rows_per_chunk` rows: a streamed download holds one piece at
    a time, however long the file."""
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([neutralise(text) for text in header])
    for n, row in enumerate(rows, start=1):
        writer.writerow(["" if value is None else neutralise(value) for value in row])
        if n % rows_per_chunk == 0:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode("utf-8")


def csv_bytes(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    """The whole CSV file (see `csv_chunks`) at once."""
    return b"".join(csv_chunks(header, rows))


def csv_response(filename: str, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> HttpResponse:
    """The CSV as a download named `filename` (Chinese names encoded as RFC 5987 wants)."""
    response = HttpResponse(csv_bytes(header, rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = content_disposition_header(as_attachment=True, filename=filename)
    return response


def csv_streaming_response(
    filename: str, header: Sequence[str], rows: Iterable[Sequence[Any]]
) -> StreamingHttpResponse:
    """The CSV as a streamed download: `rows` (a generator) is read while the response is sent, so memory
    stays bounded by one piece of the file, not by its length."""
    response = StreamingHttpResponse(csv_chunks(header, rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = content_disposition_header(as_attachment=True, filename=filename)
    return response
