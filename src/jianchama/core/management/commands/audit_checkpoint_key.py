"""`manage.py audit_checkpoint_key [--if-missing]`: create the key that signs the audit checkpoints."""

from django.core.management.base import BaseCommand, CommandError

from jianchama.core import checkpoints
from jianchama.core.errors import DomainError


class Command(BaseCommand):
    help = "生成审计检查点签名密钥（Ed25519，存于 AUDIT_CHECKPOINT_KEY_FILE，不在数据库中）。"

    def add_arguments(self, parser):
        parser.add_argument("--if-missing", action="store_true", help="已有密钥时什么也不做")

    def handle(self, *args, **options):
        try:
            path, created = checkpoints.create_key(if_missing=options["if_missing"])
        except DomainError as error:
            raise CommandError(error.message) from None
        if created:
            self.stdout.write(f"已生成审计检查点签名密钥：{path}（公钥 {checkpoints.public_path(path)}）")
        else:
            self.stdout.write(f"已有审计检查点签名密钥：{path}")
