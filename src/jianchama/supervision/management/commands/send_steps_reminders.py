"""Send the three steps' deadline reminders now, as the daily schedule does: `manage.py send_steps_reminders
[--date YYYY-MM-DD]`. Idempotent: a reminder already sent is never sent again."""

import datetime

from django.core.management.base import BaseCommand, CommandError

from jianchama.supervision.steps import send_reminders


class Command(BaseCommand):
    help = "发送三步法（预警提醒、监督建议书、监督决定书）的期限提醒，并标记逾期"

    def add_arguments(self, parser):
        parser.add_argument("--date", help="按该日期计算（默认今天），格式 YYYY-MM-DD")

    def handle(self, *args, date=None, **options):
        try:
            today = datetime.date.fromisoformat(date) if date else None
        except ValueError as error:
            raise CommandError(f"日期“{date}”格式不正确，请按 YYYY-MM-DD 填写") from error
        sent = send_reminders(today)
        self.stdout.write(f"已发送 {sent} 条期限提醒")
