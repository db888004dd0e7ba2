"""`manage.py generate_synthetic --enterprises N --inspections M`: synthetic data at scale in the current
database, for benchmarks and load tests (see `jianchama.demo.synthetic`)."""

from django.core.management.base import BaseCommand, CommandError

from jianchama.core.errors import DomainError
from jianchama.demo import synthetic


def _count(text: str) -> int:
    """10000000, 10_000_000 or 10,000,000."""
    return int(text.replace(",", "").replace("_", ""))


class Command(BaseCommand):
    help = (
        "向当前数据库写入合成数据（区域、执法单位、执法人员、企业、检查任务及其记录），用于性能测试。"
        "PostgreSQL 用集合式 SQL 装载（一千万条检查约需数十分钟以内）；SQLite 逐批插入，只适合小规模。"
        "数据库中已有企业时拒绝写入，除非加 --append"
    )

    def add_arguments(self, parser):
        parser.add_argument("--enterprises", type=_count, required=True, help="企业数 N")
        parser.add_argument(
            "--inspections", type=_count, required=True, help="检查任务数 M（分配给这 N 家企业）"
        )
        parser.add_argument("--bodies", type=int, default=40, help="执法单位数（默认 40，至少 4）")
        parser.add_argument("--seed", type=int, default=1, help="随机种子（默认 1；同一种子生成同样的数据）")
        parser.add_argument("--years", type=int, default=3, help="检查分布在最近几年内（默认 3）")
        parser.add_argument(
            "--drafts", type=_count, default=0, help="另加若干下个月的草稿任务（频次检查的候选任务，默认 0）"
        )
        parser.add_argument("--no-codes", action="store_true", help="不生成检查码")
        parser.add_argument(
            "--supervision",
            action="store_true",
            help="PostgreSQL：另生成计划、扫码、评议、投诉及少量违反各数据监督规则的记录（供数据监督测试）",
        )
        parser.add_argument("--append", action="store_true", help="数据库已有企业时仍追加写入")
        parser.add_argument(
            "--rebuild-indexes",
            choices=["auto", "yes", "no"],
            default="auto",
            help="PostgreSQL：装载时暂时删除二级索引、装载后按原定义重建（auto：一百万条检查以上时）",
        )
        parser.add_argument("--batch", type=_count, default=1_000_000, help="PostgreSQL 每批检查任务数")

    def handle(self, *args, **options):
        rebuild = {"auto": None, "yes": True, "no": False}[options["rebuild_indexes"]]
        self.stdout.write(
            f"生成合成数据：{options['enterprises']:,} 家企业，{options['inspections']:,} 条检查，"
            f"{options['drafts']:,} 条草稿，{options['bodies']} 个执法单位，种子 {options['seed']}"
        )
        try:
            counts = synthetic.generate(
                enterprises=options["enterprises"],
                inspections=options["inspections"],
                bodies=options["bodies"],
                seed=options["seed"],
                years=options["years"],
                drafts=options["drafts"],
                codes=not options["no_codes"],
                append=options["append"],
                rebuild_indexes=rebuild,
                batch=options["batch"],
                supervision=options["supervision"],
                log=self.stdout.write,
            )
        except DomainError as error:
            raise CommandError(error.message) from error
        self.stdout.write(
            "已写入："
            + "，".join(f"{synthetic.TABLE_LABELS.get(label, label)} {n:,}" for label, n in counts.items())
        )
