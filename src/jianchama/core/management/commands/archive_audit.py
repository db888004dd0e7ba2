"""`manage.py archive_audit --before 2025-01-01`: move the audit log's months that end on or before that day
out of the database into gzip CSV files (PostgreSQL's monthly partitions; core/partitions.py), each recorded
in the chain, so `verify_audit` still verifies the rest from the last archived hash. Also makes the months
ahead that are missing (what the daily job does)."""

import datetime

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from jianchama.core import partitions
from jianchama.core.audit import archive_before
from jianchama.core.errors import DomainError


class Command(BaseCommand):
    help = "审计日志按月归档：将截至指定日期（不含）的整月记录导出为 gzip CSV 文件并移出数据库（仅 PostgreSQL）。"

    def add_arguments(self, parser):
        parser.add_argument("--before", required=True, help="归档截至此日期（YYYY-MM-DD，不含）结束的整月")
        parser.add_argument("--to", default=None, help="归档文件目录（默认 PARTITION_ARCHIVE_DIR）")

    def handle(self, *args, before, to, **options):
        try:
            day = datetime.date.fromisoformat(before)
        except ValueError as error:
            raise CommandError(f"日期“{before}”无效：请写作 YYYY-MM-DD") from error
        if connection.vendor != "postgresql" or not partitions.is_partitioned("core_auditevent"):
            raise CommandError("审计日志未按月分区（仅 PostgreSQL 分区）：无可归档的月份")
        for name in partitions.ensure():
            self.stdout.write(f"已建分区 {name}")
        try:
            made = archive_before(day, to)
        except DomainError as error:
            raise CommandError(error.message) from error
        for archive in made:
            self.stdout.write(
                f"已归档 {archive.starts_on:%Y年%-m月}：第 {archive.first_sequence}–{archive.last_sequence} 条，"
                f"{archive.rows} 条，文件 {archive.file_name}，SHA-256 {archive.sha256}"
            )
        if not made:
            self.stdout.write("没有可归档的整月")
