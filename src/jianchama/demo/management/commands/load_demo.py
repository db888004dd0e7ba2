"""`manage.py load_demo`: load the demo data once (a second run changes nothing) and list the demo logins."""

from django.core.management.base import BaseCommand

from jianchama.core.errors import DomainError
from jianchama.demo import story


class Command(BaseCommand):
    help = "载入演示数据（只载入一次，再次运行不做更改），并列出各角色的演示账号"

    def handle(self, *args, **options):
        try:
            result = story.load()
        except DomainError as error:
            # Not a failure of `make run`: the server still starts on the data that is there.
            self.stderr.write(error.message)
            return
        for line in story.summary_lines(result):
            self.stdout.write(line)
