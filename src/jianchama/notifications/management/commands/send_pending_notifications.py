"""`manage.py send_pending_notifications`: send every pending notification delivery that is due, now.

The queue (`manage.py qcluster`) normally does this; the command is for a machine without a worker, or to
push a backlog by hand. It is safe to run while workers run: each delivery is locked while it is sent.
"""

from django.core.management.base import BaseCommand

from jianchama.notifications.jobs import retry_due

OUTCOME_LABELS = {
    "sent": "发送成功",
    "retry scheduled": "失败，已安排重试",
    "failed": "失败，不再重试",
    "error": "出错（见日志）",
}


class Command(BaseCommand):
    help = "立即发送所有到期的待发送通知（短信、政务服务应用推送）；失败的按退避时间安排重试。"

    def handle(self, *args, **options):
        outcomes = retry_due(synchronous=True)
        total = sum(outcomes.values())
        self.stdout.write(f"到期待发送的投递：{total} 条")
        for outcome, count in sorted(outcomes.items()):
            self.stdout.write(f"  {OUTCOME_LABELS.get(outcome, outcome)}：{count} 条")
