"""Rebuild the statistics' fact tables now, as the nightly schedule does: `manage.py rebuild_statistics`
(everything, a quarter per transaction in two phases, a progress line each), or `--refresh` for the incremental
step only (the tasks changed since the last run)."""

import time

from django.core.management.base import BaseCommand, CommandError

from jianchama.statistics.build import RebuildRunning, rebuild_all, refresh


class Command(BaseCommand):
    help = "重建统计汇总表（全部，逐季度一个事务，分两阶段），或 --refresh 只重新统计上次以来变动的任务"

    def add_arguments(self, parser):
        parser.add_argument("--refresh", action="store_true", help="只做增量刷新")

    def handle(self, *args, refresh_only=False, **options):
        started = time.perf_counter()
        if options.get("refresh"):
            done = refresh()
            self.stdout.write(
                f"增量刷新：{done['tasks']}个任务变动，重新统计{done['participations']}条参与记录、"
                f"{done['enterprises']}家企业的检查间隔，用时{time.perf_counter() - started:.2f}秒"
            )
            return
        try:
            total = rebuild_all(progress=lambda line: self.stdout.write(f"  {line}", ending="\n"))
        except RebuildRunning as running:
            raise CommandError(str(running)) from running
        self.stdout.write(f"全量重建完成：{total}条参与记录，用时{time.perf_counter() - started:.2f}秒")
