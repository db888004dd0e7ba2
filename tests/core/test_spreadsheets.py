"""The one module every export goes through neutralises text that a spreadsheet would run as a formula."""

from __future__ import annotations

import csv
import datetime
import io

import pytest
from openpyxl import load_workbook

from jianchama.core import spreadsheets

DANGEROUS = ["=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1", '=HYPERLINK("http://x","点我")']


@pytest.mark.parametrize("text", DANGEROUS)
def test_text_that_would_start_a_formula_gets_an_apostrophe(text):
    assert spreadsheets.neutralise(text) == "'" + text


@pytest.mark.parametrize(
    "value", ["金山燃气有限公司", "a=1", "", None, 0, -5, 3.5, datetime.date(2026, 1, 2)]
)
def test_everything_else_is_left_as_it_is(value):
    assert spreadsheets.neutralise(value) == value


def test_an_excel_sheet_has_no_formula_and_keeps_numbers_and_dates():
    rows = [[text, -3, datetime.date(2026, 1, 2)] for text in DANGEROUS]
    sheet = spreadsheets.Sheet(
        "=表", ["=名称", "数", "日期"], rows, number_formats=[None, None, "yyyy-mm-dd"]
    )
    book = load_workbook(io.BytesIO(spreadsheets.workbook_bytes([sheet])))
    cells = [cell for line in book.active.iter_rows() for cell in line]
    assert [c.coordinate for c in cells if c.data_type == "f"] == []
    data = list(book.active.iter_rows(min_row=2, values_only=True))
    # A carriage return is kept in the file as OOXML's escape _x000D_ (which Excel shows as the character and
    # openpyxl reads back as written); the apostrophe is what matters.
    assert [row[0] for row in data] == ["'" + text.replace("\r", "_x000D_") for text in DANGEROUS]
    assert {row[1] for row in data} == {-3}
    assert book.active["A1"].value == "'=名称" and book.active["C2"].number_format == "yyyy-mm-dd"


def test_a_csv_file_is_utf8_with_a_bom_and_neutralised():
    raw = spreadsheets.csv_bytes(["名称", "数"], [[text, -3] for text in DANGEROUS] + [[None, 7]])
    assert raw.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    assert rows[0] == ["名称", "数"]
    assert [row[0] for row in rows[1:-1]] == ["'" + text for text in DANGEROUS]
    assert rows[-1] == ["", "7"] and {row[1] for row in rows[1:-1]} == {"-3"}


def test_control_characters_a_workbook_cannot_hold_are_dropped_not_fatal():
    """A complaint typed with a stray control character (pasted from elsewhere) must not break the ledger's
    export: openpyxl refuses such a cell, so the export drops the character and keeps the text."""
    from io import BytesIO

    from openpyxl import load_workbook

    from jianchama.core.spreadsheets import Sheet, workbook_bytes

    data = workbook_bytes([Sheet("台账", ["内容"], [["有人\x01未出示\x1f检查码"], ["=\x0bcmd"]])])
    rows = list(load_workbook(BytesIO(data)).active.values)
    assert rows == [("内容",), ("有人未出示检查码",), ("'=cmd",)]


def test_sheet_names_excel_refuses_are_made_acceptable_and_unique():
    """XlsxWriter refuses a sheet name with \\ / ? * : [ ] or longer than 31 characters, and two equal names;
    an export's sheet named from user text (a body's name) must still be written."""
    sheets = [
        spreadsheets.Sheet("检查/复查[2026]?", ["a"], [[1]]),
        spreadsheets.Sheet("检查/复查[2026]?", ["a"], [[2]]),
        spreadsheets.Sheet("长" * 40, ["a"], [[3]]),
    ]
    book = load_workbook(io.BytesIO(spreadsheets.workbook_bytes(sheets)))
    assert book.sheetnames == ["检查_复查_2026__", "检查_复查_2026___2", "长" * 31]
    assert [book[name]["A2"].value for name in book.sheetnames] == [1, 2, 3]


def test_dates_and_times_without_a_format_are_shown_as_dates_and_times():
    moment = datetime.datetime(2026, 12, 2, 9, 30)
    sheet = spreadsheets.Sheet("表", ["日", "时"], [[moment.date(), moment]])
    book = load_workbook(io.BytesIO(spreadsheets.workbook_bytes([sheet])))
    assert book.active["A2"].value == datetime.datetime(2026, 12, 2)
    assert book.active["A2"].number_format == "yyyy-mm-dd"
    assert book.active["B2"].value == moment and book.active["B2"].number_format == "yyyy-mm-dd hh:mm"
