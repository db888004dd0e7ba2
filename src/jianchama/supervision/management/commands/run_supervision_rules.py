"""Run the data rules (F-30) now, as the schedules do: `manage.py run_supervision_rules [--rule CODE …]
[--incremental]` (incremental: the daily run, docs/supervision-rules.md)."""

from django.core.management.base import BaseCommand, CommandError

from jianchama.core.errors import DomainError
from jianchama.supervision.models import RuleRun
from jianchama.supervision.rules import RULES, run_rules


class Command(BaseCommand):
    help = "运行数据监督规则（全部或指定的规则），新发现的问题登记为监督问题"

    def add_arguments(self, parser):
        parser.add_argument(
            "--rule", action="append", dest="rules", choices=list(RULES), help="只运行这条规则（可重复）"
        )
        parser.add_argument(
            "--incremental", action="store_true", help="增量运行：任务类规则只检查上次运行以来变更的任务"
        )

    def handle(self, *args, rules=None, incremental=False, **options):
        try:
            run = run_rules("系统", rules=rules, incremental=incremental)
        except DomainError as error:
            raise CommandError(str(error)) from error
        for code, figures in run.stats.items():
            if "error" in figures:
                self.stdout.write(f"  {code:<26} {RULES[code].title}：出错 {figures['error']}")
            else:
                self.stdout.write(
                    f"  {code:<26} {RULES[code].title}：命中 {figures['hits']}，新发现 {figures['new']}，"
                    f"用时 {figures['seconds']:.2f} 秒"
                    + (
                        f"（增量：{figures['tasks']} 个变更的任务）"
                        if figures.get("scope") == "incremental"
                        else ""
                    )
                )
        self.stdout.write(f"共新发现 {run.new_findings} 个问题，用时 {run.seconds:.2f} 秒")
        if run.status == RuleRun.Status.FAILED:
            raise CommandError(f"部分规则运行出错：\n{run.error}")
