"""`manage.py audit_checkpoint`: sign the audit chain's head now and append it to the checkpoint backends
(the task queue does the same every hour)."""

from django.core.management.base import BaseCommand, CommandError

from jianchama.core import checkpoints
from jianchama.core.errors import DomainError


class Command(BaseCommand):
    help = "为审计日志当前的末条记录写一个签名检查点（任务队列每小时自动写一次）。"

    def handle(self, *args, **options):
        try:
            checkpoint = checkpoints.write_checkpoint()
        except DomainError as error:
            raise CommandError(error.message) from None
        self.stdout.write(
            f"已写入审计检查点：第 {checkpoint.sequence} 条，哈希 {checkpoint.hash[:16]}…（{checkpoint.local_time()}）"
        )
