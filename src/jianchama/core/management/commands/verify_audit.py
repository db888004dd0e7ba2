"""`manage.py verify_audit`: walk the audit log's hash chain and name the first broken link (F-41)."""

import sys

from django.core.management.base import BaseCommand

from jianchama.core.audit import verify_chain


class Command(BaseCommand):
    help = "校验审计日志的哈希链：输出已校验的记录数；发现断裂时指出第一处断裂并以状态 1 退出。"

    def handle(self, *args, **options):
        checked, broken = verify_chain()
        self.stdout.write(f"已校验 {checked} 条审计记录")
        if broken is None:
            self.stdout.write(self.style.SUCCESS("审计日志完整"))
            return
        self.stderr.write(f"审计日志在第 {broken.sequence} 条记录处断裂：{broken.reason}")
        sys.exit(1)
