"""`manage.py archive_months --table integrations_webhookdelivery --before 2025-01-01`: move a partitioned
log's whole months before that day out of the database into gzip CSV files (core/partitions.py). The audit
log has its own command, `archive_audit`, which records each month in the chain."""

import datetime

from django.core.management.base import BaseCommand, CommandError

from jianchama.core import partitions


class Command(BaseCommand):
    help = (
        "按月归档分区表（仅 PostgreSQL）：将截至指定日期（不含）结束的整月导出为 gzip CSV 文件并移出数据库。"
    )

    def add_arguments(self, parser):
        parser.add_argument("--table", required=True, help="分区表名（审计日志请用 archive_audit）")
        parser.add_argument("--before", required=True, help="归档截至此日期（YYYY-MM-DD，不含）结束的整月")
        parser.add_argument("--to", default=None, help="归档文件目录（默认 PARTITION_ARCHIVE_DIR）")

    def handle(self, *args, table, before, to, **options):
        try:
            day = datetime.date.fromisoformat(before)
        except ValueError as error:
            raise CommandError(f"日期“{before}”无效：请写作 YYYY-MM-DD") from error
        if table == "core_auditevent":
            raise CommandError("审计日志请用 manage.py archive_audit（归档记入审计链）")
        if table not in partitions.PARTITIONED:
            raise CommandError(
                f"“{table}”不是按月分区的表；可归档的表：{'、'.join(sorted(partitions.PARTITIONED))}"
            )
        if not partitions.is_partitioned(table):
            raise CommandError(f"“{table}”未按月分区（仅 PostgreSQL 分区）：无可归档的月份")
        made = partitions.archive(table, day, to)
        for archived in made:
            self.stdout.write(
                f"已归档 {archived.start:%Y年%-m月}：{archived.rows} 条，文件 {archived.path.name}，"
                f"SHA-256 {archived.sha256}"
            )
        if not made:
            self.stdout.write("没有可归档的整月")
