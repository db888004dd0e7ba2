"""Create a new inspection code signing key and make it current (F-22); retire and prune the old ones."""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from jianchama.inspections import signing


class Command(BaseCommand):
    help = (
        "生成新的检查码签名密钥（Ed25519）并启用；旧私钥删除，旧公钥在保留期内继续公布以便核验已签发的码；"
        "清除超过保留期的公钥"
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--if-missing", action="store_true", help="仅在尚无签名密钥时生成（首次部署、make run 使用）"
        )
        parser.add_argument("--dir", help="密钥目录（默认为 CODE_SIGNING_KEY_DIR）")

    def handle(self, *args, **options):
        directory = Path(options["dir"] or settings.CODE_SIGNING_KEY_DIR)
        if settings.CODE_SIGNING_KEY and not options["dir"]:
            # The key then comes from the environment; a key written to the directory would never sign.
            if options["if_missing"]:
                self.stdout.write("签名密钥由环境变量 CODE_SIGNING_KEY 提供，无需生成")
                return
            raise CommandError(
                "签名密钥由环境变量 CODE_SIGNING_KEY 提供：请在环境中更换密钥（并设置新的 CODE_SIGNING_KEY_ID），"
                "或去掉 CODE_SIGNING_KEY 改用密钥目录后再运行本命令。"
            )
        if options["if_missing"] and signing.has_key_in(directory):
            pruned = signing.prune_keys(directory)
            self.stdout.write(f"已有签名密钥，密钥编号 {signing.current_key_id_in(directory)}")
            if pruned:
                self.stdout.write(f"已清除超过保留期的公钥：{'、'.join(map(str, pruned))}")
            return
        result = signing.rotate_key(directory)
        self.stdout.write(self.style.SUCCESS(f"已生成并启用新的签名密钥，密钥编号 {result.new_kid}"))
        if result.retired_kids:
            keep = signing.retention()
            period = f"{keep.days} 天" if keep.days else f"{keep.seconds // 60} 分钟"
            self.stdout.write(
                f"已停用密钥 {'、'.join(map(str, result.retired_kids))}：私钥已删除，公钥继续公布 {period}"
            )
        if result.pruned_kids:
            self.stdout.write(f"已清除超过保留期的公钥：{'、'.join(map(str, result.pruned_kids))}")
