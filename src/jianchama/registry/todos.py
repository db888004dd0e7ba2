"""The registry's to-do of the home pages (F-46; core/todos.py): the body's inspectors whose certificates
expire within `CERTIFICATE_EXPIRY_NOTICE_DAYS` days (60), to be renewed before tasks are refused for them."""

from __future__ import annotations

import datetime

from jianchama.core import todos
from jianchama.core.roles import Role

from .models import Certificate, Inspector

CERTIFICATE_EXPIRY_NOTICE_DAYS = 60


def _expiring(today: datetime.date):
    return Certificate.objects.filter(
        status=Certificate.Status.VALID,
        valid_until__gte=today,
        valid_until__lte=today + datetime.timedelta(days=CERTIFICATE_EXPIRY_NOTICE_DAYS),
    )


def certificates_expiring(user, today):
    """Active inspectors of the user's body holding a certificate that expires within the notice period."""
    return Inspector.objects.visible_to(user).filter(
        body_id=user.body_id,
        is_active=True,
        pk__in=_expiring(today).filter(inspector__body_id=user.body_id).values("inspector_id"),
    )


def _first_expiry(inspectors):
    from django.utils import timezone

    return (
        _expiring(timezone.localdate())
        .filter(inspector__in=inspectors.values("pk"))
        .order_by("valid_until")
        .values_list("valid_until", flat=True)
        .first()
    )


todos.register(
    todos.TodoKind(
        key="certificates_expiring",
        label=f"{CERTIFICATE_EXPIRY_NOTICE_DAYS}天内执法证到期的执法人员",
        roles=frozenset({Role.BODY_ADMIN}),
        items=certificates_expiring,
        url="registry:inspector_list",
        deadline=_first_expiry,
        deadline_label="最早到期",
        order=50,
        applies=lambda user: bool(user.body_id),
    )
)
