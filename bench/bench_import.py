"""Benchmark of the enterprise bulk import (F-03): 100,000 rows from CSV and from .xlsx.

Runs on a fresh database of its own: a temporary SQLite file by default, or, given a PostgreSQL URL
(--database-url or DATABASE_URL), a new database "test_<name>" created next to the named one and dropped
afterwards (the named database itself is never touched). Prints figures; never asserts on timing.

    .venv/bin/python bench/bench_import.py
    .venv/bin/python bench/bench_import.py --database-url postgres://postgres@127.0.0.1:5432/jc_bench_import
    .venv/bin/python bench/bench_import.py --rows 20000
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import platform
import resource
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--database-url",
        default=os.getenv("DATABASE_URL", ""),
        help="PostgreSQL URL (default: $DATABASE_URL; empty: a temporary SQLite file)",
    )
    parser.add_argument("--rows", type=int, default=100_000, help="rows per file (default 100000)")
    parser.add_argument("--skip-xlsx", action="store_true", help="only the CSV runs")
    return parser.parse_args()


MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
XML_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'


def excel_style_xlsx(rows: list[list[str]]) -> bytes:
    """An .xlsx laid out the way Excel and WPS save one: text in the shared-strings table, a <dimension> first.

    openpyxl's write-only mode (like Apache POI's streaming writer) stores inline strings instead, which
    openpyxl reads about twice as slowly; the benchmark measures both."""
    from xml.sax.saxutils import escape

    from openpyxl.utils import get_column_letter

    strings: dict[str, int] = {}
    width = max(len(r) for r in rows)
    letters = [get_column_letter(i + 1) for i in range(width)]
    sheet = io.StringIO()
    sheet.write(
        f'{XML_HEAD}<worksheet xmlns="{MAIN_NS}"><dimension ref="A1:{letters[-1]}{len(rows)}"/><sheetData>'
    )
    for number, row in enumerate(rows, start=1):
        sheet.write(f'<row r="{number}">')
        for letter, value in zip(letters, row, strict=False):
            index = strings.setdefault(value, len(strings))
            sheet.write(f'<c r="{letter}{number}" t="s"><v>{index}</v></c>')
        sheet.write("</row>")
    sheet.write("</sheetData></worksheet>")
    shared = "".join(f"<si><t>{escape(text)}</t></si>" for text in strings)
    cells = sum(len(r) for r in rows)
    content_types = (
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/worksheets/sheet1.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        '<Override PartName="/xl/sharedStrings.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>'
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", XML_HEAD + content_types)
        archive.writestr(
            "_rels/.rels",
            f'{XML_HEAD}<Relationships xmlns="{PKG_NS}"><Relationship Id="rId1" '
            f'Type="{REL_NS}/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        )
        archive.writestr(
            "xl/workbook.xml",
            f'{XML_HEAD}<workbook xmlns="{MAIN_NS}" xmlns:r="{REL_NS}"><sheets>'
            '<sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>',
        )
        archive.writestr(
            "xl/_rels/workbook.xml.rels",
            f'{XML_HEAD}<Relationships xmlns="{PKG_NS}">'
            f'<Relationship Id="rId1" Type="{REL_NS}/worksheet" Target="worksheets/sheet1.xml"/>'
            f'<Relationship Id="rId2" Type="{REL_NS}/sharedStrings" Target="sharedStrings.xml"/>'
            "</Relationships>",
        )
        archive.writestr("xl/worksheets/sheet1.xml", sheet.getvalue())
        archive.writestr(
            "xl/sharedStrings.xml",
            f'{XML_HEAD}<sst xmlns="{MAIN_NS}" count="{cells}" uniqueCount="{len(strings)}">{shared}</sst>',
        )
    return buffer.getvalue()


def main() -> None:
    args = parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="jc-bench-import-"))
    url = args.database_url if args.database_url.startswith(("postgres://", "postgresql://")) else ""
    if args.database_url and not url:
        sys.exit("--database-url: only PostgreSQL URLs are supported; leave it empty for SQLite")
    os.environ["DATABASE_URL"] = url or f"sqlite:///{workdir / 'bench.sqlite3'}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jianchama.settings")
    # Production-like: with DEBUG on, Django keeps (and on SQLite re-quotes) every statement it runs.
    os.environ["DEBUG"] = "0"
    os.environ.setdefault("SECRET_KEY", "bench-only-not-secret")

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    if url:
        # Django's test-database machinery: a fresh "test_<name>", migrated, dropped at the end.
        old_name = connection.settings_dict["NAME"]
        connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    else:
        call_command("migrate", verbosity=0)
    try:
        run(args, workdir)
    finally:
        if url:
            connection.creation.destroy_test_db(old_name, verbosity=0)


def run(args: argparse.Namespace, workdir: Path) -> None:
    from django.db import connection

    from jianchama.core.models import AuditEvent, User
    from jianchama.core.roles import Role
    from jianchama.registry import importing, uscc
    from jianchama.registry.models import Enterprise, EnterpriseContact, Region

    city = Region.objects.create(code="310000", name="上海市", level=Region.Level.CITY)
    district = Region.objects.create(code="310116", name="金山区", level=Region.Level.DISTRICT, parent=city)
    towns = [
        Region.objects.create(
            code=f"310116{n:03d}", name=f"示例镇{n}", level=Region.Level.TOWN, parent=district
        )
        for n in range(1, 12)
    ]
    admin = User.objects.create(username="bench", role=Role.PLATFORM_ADMIN, full_name="基准测试")
    region_cells = [district.name] + [t.code for t in towns]

    def row(n: int, grade: str = "B") -> list[str]:
        first17 = f"91310116MA{n:07d}"
        return [
            first17 + uscc.check_character(first17),
            f"上海示例燃气有限公司{n}",
            f"上海市金山区示例路{n}号",
            region_cells[n % len(region_cells)],
            "燃气生产和供应业",
            grade,
            "A",
            f"王{n % 1000}",
            f"139{n:08d}",
        ]

    header = [c.name for c in importing.ENTERPRISE_COLUMNS]
    started = time.perf_counter()
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(row(n) for n in range(args.rows))
    csv_bytes = ("\ufeff" + text.getvalue()).encode("utf-8")
    changed = io.StringIO()
    writer = csv.writer(changed, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(row(n, grade="C") for n in range(args.rows))
    changed_bytes = changed.getvalue().encode("gb18030")
    csv_seconds = time.perf_counter() - started

    xlsx_files: list[tuple[str, bytes, float]] = []
    if not args.skip_xlsx:
        from openpyxl import Workbook

        started = time.perf_counter()
        data = excel_style_xlsx([header] + [row(n) for n in range(args.rows)])
        xlsx_files.append(("XLSX as Excel saves it (shared strings)", data, time.perf_counter() - started))
        started = time.perf_counter()
        workbook = Workbook(write_only=True)
        sheet = workbook.create_sheet()
        sheet.append(header)
        for n in range(args.rows):
            sheet.append(row(n))
        buffer = io.BytesIO()
        workbook.save(buffer)
        xlsx_files.append(
            ("XLSX by openpyxl/POI (inline strings)", buffer.getvalue(), time.perf_counter() - started)
        )

    vendor = connection.vendor
    with connection.cursor() as cursor:
        cursor.execute("select sqlite_version()" if vendor == "sqlite" else "show server_version")
        db_version = cursor.fetchone()[0]
    print("Enterprise bulk import benchmark (F-03)")
    print(f"  machine   : {os.cpu_count()} cores, {platform.machine()}, {platform.platform()}")
    print(f"  python    : {platform.python_version()} ({platform.python_implementation()})")
    print(f"  database  : {vendor} {db_version} ({connection.settings_dict['NAME']})")
    print(f"  files     : {args.rows:,} rows each")
    print(f"              CSV UTF-8: {len(csv_bytes) / 1048576:.1f} MB (generated in {csv_seconds:.1f} s)")
    for label, data, seconds in xlsx_files:
        print(f"              {label}: {len(data) / 1048576:.1f} MB (generated in {seconds:.1f} s)")
    print()
    print(f"  {'run':<52} {'rows':>8} {'seconds':>8} {'rows/s':>9}  result")

    def timed(label: str, data: bytes, file_name: str) -> None:
        started = time.perf_counter()
        result = importing.import_enterprises(actor=admin, file=data, file_name=file_name)
        seconds = time.perf_counter() - started
        counts = ", ".join(f"{k}={v}" for k, v in result.counts.items() if v)
        print(
            f"  {label:<52} {result.rows:>8,} {seconds:>8.2f} {result.rows / seconds:>9,.0f}  {counts}",
            flush=True,
        )

    def empty() -> None:
        EnterpriseContact.objects.all().delete()
        Enterprise.objects.all().delete()

    timed("CSV UTF-8, new enterprises", csv_bytes, "bench.csv")
    timed("CSV UTF-8, same file again (nothing changes)", csv_bytes, "bench.csv")
    timed("CSV GB18030, every row changed (updates)", changed_bytes, "bench-gbk.csv")
    for label, data, _ in xlsx_files:
        empty()
        timed(f"{label}, new", data, "bench.xlsx")
    print()
    print(
        f"  enterprises: {Enterprise.objects.count():,}, contacts: {EnterpriseContact.objects.count():,}, "
        f"audit events: {AuditEvent.objects.count()}"
    )
    print(f"  peak memory (max RSS): {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
