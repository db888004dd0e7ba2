"""The platform administrator's to-do on the home page (F-46; core/todos.py): notifications that could not be
sent (SMS, the government app's push) in the last 30 days, which an administrator should look into (a wrong
number, a channel down), listed in the admin."""

from __future__ import annotations

import datetime

from django.urls import reverse
from django.utils import timezone

from jianchama.core import todos
from jianchama.core.roles import Role

from .models import Delivery

RECENT_DAYS = 30


def failed_deliveries(user, today):
    since = timezone.make_aware(
        datetime.datetime.combine(today - datetime.timedelta(days=RECENT_DAYS), datetime.time.min)
    )
    return Delivery.objects.visible_to(user).filter(status=Delivery.Status.FAILED, created_at__gte=since)


def _admin_list(user) -> str:
    return f"{reverse('admin:notifications_delivery_changelist')}?status__exact={Delivery.Status.FAILED}"


todos.register(
    todos.TodoKind(
        key="failed_deliveries",
        label=f"近{RECENT_DAYS}天发送失败的通知",
        roles=frozenset({Role.PLATFORM_ADMIN}),
        items=failed_deliveries,
        url=_admin_list,
        order=90,
        # The list is the admin's: only for an administrator who may open it.
        applies=lambda user: user.has_perm("notifications.view_delivery"),
    ),
)
