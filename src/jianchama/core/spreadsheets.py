"""Excel exports: sheets of a header and rows, written in openpyxl's write-only mode (rows are streamed, not
kept as cell objects), returned as a download named with the day's date."""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.http import HttpResponse
from django.utils import timezone
from django.utils.http import content_disposition_header

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass
class Sheet:
    title: str
    header: Sequence[str]
    rows: Iterable[Sequence[Any]]
    widths: Sequence[int] = field(default=())


def workbook_bytes(sheets: Iterable[Sheet]) -> bytes:
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
            cell = WriteOnlyCell(sheet, value=text)
            cell.font = bold
            header.append(cell)
        sheet.append(header)
        for row in spec.rows:
            sheet.append(list(row))
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def xlsx_response(name: str, sheets: Iterable[Sheet]) -> HttpResponse:
    """The workbook as a download named 「<name><YYYYMMDD>.xlsx」."""
    response = HttpResponse(workbook_bytes(sheets), content_type=XLSX)
    stamp = timezone.localdate().strftime("%Y%m%d")
    response["Content-Disposition"] = content_disposition_header(
        as_attachment=True, filename=f"{name}{stamp}.xlsx"
    )
    return response
