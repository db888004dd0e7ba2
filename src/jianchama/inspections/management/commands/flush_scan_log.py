"""Write the scans waiting in the scan log's stream to the table (inspections/scan_log.py): for ever, every
second (a service of its own beside the task worker), or once (`--once`)."""

import signal

from django.conf import settings
from django.core.management.base import BaseCommand

from jianchama.inspections import scan_log


class Command(BaseCommand):
    help = (
        "把扫码日志队列（Redis）中的扫码记录批量写入数据库：默认每秒一次持续运行；--once 写完当前积压即退出"
    )

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="写完当前积压的扫码记录后退出")
        parser.add_argument("--seconds", type=float, default=0, help="运行这么多秒后退出（默认持续运行）")

    def handle(self, *args, **options):
        if not scan_log.enabled():
            self.stdout.write(
                "未启用扫码日志队列（SCAN_LOG_STREAM 关闭或未配置 Redis）：扫码记录已直接写入数据库"
            )
            return
        if options["once"]:
            self.stdout.write(f"已写入 {scan_log.flush_pending()} 条扫码记录")
            return
        stopping = []
        # A stop between batches: the batch under way is written and acknowledged first.
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stopping.append(True))
        seconds = options["seconds"]
        handled = 0
        while not stopping:
            handled += scan_log.flush_for(min(seconds or 60, 60), stop=stopping)
            if seconds:
                break
        self.stdout.write(f"已写入 {handled} 条扫码记录（每 {settings.SCAN_LOG_FLUSH_SECONDS:g} 秒一批）")
