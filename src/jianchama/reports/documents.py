"""A report's files: the PDF (WeasyPrint through core.pdf, the embedded CJK font, each chart an inline SVG of
horizontal bars built here) and the Excel workbook (core.spreadsheets), both from the same snapshot."""

from __future__ import annotations

from typing import Any

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from jianchama.core import spreadsheets
from jianchama.core.pdf import FONT_FAMILY, render_pdf

from .contents import SECTIONS

BAR_WIDTH = 300  # user units of the bars' longest
LABEL_WIDTH = 190
ROW_HEIGHT = 20


def bar_svg(categories: list[str], values: list[Any]) -> SafeString:
    """Horizontal bars, one per category, with each value written at its bar's end; text cells are no bars."""
    points = [(str(c), v) for c, v in zip(categories, values, strict=False) if isinstance(v, int | float)]
    if not points or not any(v for _, v in points):
        return mark_safe("")
    top = max(v for _, v in points) or 1
    height = ROW_HEIGHT * len(points) + 6
    width = LABEL_WIDTH + BAR_WIDTH + 60
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" font-family="{FONT_FAMILY}" font-size="10">'
    ]
    for i, (label, value) in enumerate(points):
        y = 3 + i * ROW_HEIGHT
        length = max(0.0, BAR_WIDTH * float(value) / float(top))
        shown = label if len(label) <= 16 else label[:15] + "…"
        parts.append(
            f'<text x="{LABEL_WIDTH - 6}" y="{y + 13}" text-anchor="end">{escape(shown)}</text>'
            f'<rect x="{LABEL_WIDTH}" y="{y + 2}" width="{length:.1f}" height="{ROW_HEIGHT - 6}" fill="#3a6ea5"/>'
            f'<text x="{LABEL_WIDTH + length + 4:.1f}" y="{y + 13}">{escape(cell_text(value))}</text>'
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))


def cell_text(value: Any) -> str:
    """A cell as the PDF and the page print it: an empty ratio is a dash; a ratio keeps one decimal."""
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def prepared_sections(report) -> list[dict[str, Any]]:
    """The snapshot's sections with the narrative's paragraphs, each table's printed cells and its chart."""
    out = []
    stored = {s["code"]: s for s in report.figures.get("sections", [])}
    for code, title in SECTIONS:
        section = stored.get(code) or {"code": code, "title": title, "tables": []}
        tables = []
        for t in section["tables"]:
            column = t.get("chart")
            chart = (
                bar_svg([r[0] for r in t["rows"]], [r[column] for r in t["rows"]])
                if column is not None and t["rows"]
                else ""
            )
            tables.append({**t, "cells": [[cell_text(c) for c in row] for row in t["rows"]], "svg": chart})
        text = report.narrative.get(code, "")
        paragraphs = [line.strip() for line in text.splitlines() if line.strip()]
        out.append({**section, "tables": tables, "paragraphs": paragraphs})
    return out


def report_pdf(report) -> bytes:
    return render_pdf(
        "reports/pdf/report.html",
        {
            "report": report,
            "title": report.title,
            "number": report.number or "（草稿）",
            "sections": prepared_sections(report),
            "issuer": f"{report.region.name}司法局",
        },
    )


def report_xlsx(report) -> bytes:
    """One sheet per table, named by its section's number and title; numbers as numbers."""
    sheets = [
        spreadsheets.Sheet(
            "说明",
            ["项目", "内容"],
            [
                ["报告", report.title],
                ["文号", report.number or "草稿"],
                ["统计期间", f"{report.period_start:%Y-%m-%d}至{report.period_end:%Y-%m-%d}"],
                ["数据生成时间", report.figures.get("computed_at", "")],
            ],
            widths=[16, 60],
        )
    ]
    for s_number, section in enumerate(report.figures.get("sections", []), start=1):
        for t_number, t in enumerate(section["tables"], start=1):
            sheets.append(
                spreadsheets.Sheet(
                    f"{s_number}.{t_number} {t['title']}",
                    t["columns"],
                    t["rows"],
                    widths=[30] + [14] * (len(t["columns"]) - 1),
                )
            )
    return spreadsheets.workbook_bytes(sheets)
