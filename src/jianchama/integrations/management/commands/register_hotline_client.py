"""Register the 12345 hotline's API client of one district (issue 17) and print its first key, once.

The platform administrator named by --admin performs it, through the same service as any registration."""

from django.core.management.base import BaseCommand, CommandError

from jianchama.core.errors import DomainError
from jianchama.core.models import User
from jianchama.integrations.services import register_hotline_client
from jianchama.registry.models import Region


class Command(BaseCommand):
    help = "登记某区12345热线系统的接口客户端（类型12345），并显示其密钥（只显示这一次）"

    def add_arguments(self, parser):
        parser.add_argument("--admin", required=True, help="平台管理员的用户名")
        parser.add_argument("--region", required=True, help="区（县）的区划代码，如 310116")
        parser.add_argument("--name", default="12345市民服务热线工单系统", help="系统名称")
        parser.add_argument("--vendor", required=True, help="承建单位")
        parser.add_argument("--contact", required=True, help="联系人及电话")
        parser.add_argument("--allowed-addresses", default="", help="允许的来源地址（多个用逗号分隔）")

    def handle(self, *args, **options):
        admin = User.objects.filter(username=options["admin"], is_active=True).first()
        region = Region.objects.filter(code=options["region"]).first()
        if admin is None:
            raise CommandError(f"用户「{options['admin']}」不存在或已停用")
        if region is None:
            raise CommandError(f"区划代码「{options['region']}」不存在")
        try:
            client, key = register_hotline_client(
                admin,
                region=region,
                name=options["name"],
                vendor=options["vendor"],
                contact=options["contact"],
                allowed_addresses="\n".join(a.strip() for a in options["allowed_addresses"].split(",")),
            )
        except DomainError as error:
            raise CommandError(error.message) from None
        self.stdout.write(
            f"已登记接口客户端「{client.name}」（{region.name}，类型12345）。密钥（只显示这一次）："
        )
        self.stdout.write(key)
