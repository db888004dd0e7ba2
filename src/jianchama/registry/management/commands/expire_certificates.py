"""Mark certificates past their validity as expired (daily job; safe to run again)."""

from django.core.management.base import BaseCommand

from jianchama.registry.services import expire_certificates


class Command(BaseCommand):
    help = "将有效期已届满的执法证件标记为已过期（可重复运行）"

    def handle(self, *args, **options):
        count = expire_certificates()
        self.stdout.write(f"已将 {count} 本执法证件标记为已过期")
