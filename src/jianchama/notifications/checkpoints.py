"""The audit checkpoints' inbox backend (core/checkpoints.py names it by path): each signed checkpoint of the
audit chain's head is also sent to the supervisors and platform administrators."""

from __future__ import annotations

from django.db.models import Q

from jianchama.core.checkpoints import Checkpoint
from jianchama.core.models import User
from jianchama.core.roles import Role

from .services import notify_user


class InboxBackend:
    """A message to every active supervisor and platform administrator: a copy held by people. It is in the
    database, so verification does not read it back; it lets a person compare by eye."""

    name = "inbox"

    def append(self, checkpoint: Checkpoint) -> None:
        readers = User.objects.filter(is_active=True).filter(
            Q(role__in=[Role.SUPERVISOR, Role.PLATFORM_ADMIN]) | Q(is_superuser=True)
        )
        for reader in readers:
            notify_user(
                user=reader,
                event="audit.checkpoint",
                subject=f"审计日志检查点：第 {checkpoint.sequence} 条",
                body=(
                    f"{checkpoint.local_time()} 审计日志共 {checkpoint.sequence} 条，"
                    f"末条哈希 {checkpoint.hash}。签名 {checkpoint.signature}"
                ),
            )

    def read(self) -> tuple[list[Checkpoint], list[str]]:
        return [], []
