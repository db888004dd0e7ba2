"""`manage.py verify_audit`: walk the audit log's hash chain and name the first broken link (F-41), then
check the chain against the signed checkpoints of its head (core/checkpoints.py): a cut or rewritten tail
below the latest checkpoint is named. Exits 1 on anything wrong."""

import sys

from django.core.management.base import BaseCommand

from jianchama.core.audit import verify_chain
from jianchama.core.checkpoints import verify_checkpoints


class Command(BaseCommand):
    help = (
        "校验审计日志的哈希链和签名检查点：输出已校验的记录数；发现断裂、末尾被截断或改写、检查点被伪造时"
        "逐条指出并以状态 1 退出。"
    )

    def handle(self, *args, **options):
        checked, broken = verify_chain()
        self.stdout.write(f"已校验 {checked} 条审计记录")
        report = verify_checkpoints()
        problems = list(report.problems)
        if broken is not None:
            problems.insert(0, f"审计日志在第 {broken.sequence} 条记录处断裂：{broken.reason}")
        if report.latest is not None:
            self.stdout.write(
                f"已校验 {report.checked} 个签名检查点，最新检查点 {report.latest.local_time()} "
                f"记录到第 {report.latest.sequence} 条"
            )
        elif not problems:
            self.stdout.write(
                "尚无审计检查点：末尾被截断或改写无法发现（manage.py audit_checkpoint 写入检查点）"
            )
        if not problems:
            self.stdout.write(self.style.SUCCESS("审计日志完整"))
            return
        for problem in problems:
            self.stderr.write(problem)
        sys.exit(1)
