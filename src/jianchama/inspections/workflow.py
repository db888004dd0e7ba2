"""The task workflow's shared steps, used by the services and the frequency control alike: the allowed
transitions, the row lock, the audit record of a task, and who belongs to a task's bodies."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from jianchama.core import audit
from jianchama.core.errors import InvalidTransition
from jianchama.core.roles import Role

from .models import TRANSITIONS, Task

# A task's fields as the audit log records them before and after each step.
TASK_FIELDS = [
    "number",
    "enterprise",
    "lead_body",
    "legal_basis",
    "kind",
    "mode",
    "reason",
    "evidence",
    "plan",
    "draw",
    "trigger_situation",
    "window_start",
    "window_end",
    "is_emergency",
    "status",
    "bodies",
    "inspectors",
    "items",
]


def transition(task: Task, to: str) -> None:
    if to not in TRANSITIONS[task.status]:
        raise InvalidTransition(
            f"任务{task}当前状态为「{task.get_status_display()}」，不能变为「{Task.Status(to).label}」"
        )
    task.status = to


def locked(task: Task) -> Task:
    return Task.objects.select_for_update().get(pk=task.pk)


# Who hears of a task's events (the integration API's webhooks register here): each is called inside the
# service's transaction and queues its own side effects on commit. Not signals: the services call `emit`.
LISTENERS: list[Callable[[str, Task, dict[str, Any]], None]] = []


def register_listener(listener: Callable[[str, Task, dict[str, Any]], None]) -> None:
    if listener not in LISTENERS:
        LISTENERS.append(listener)


def emit(event: str, task: Task, data: dict[str, Any]) -> None:
    for listener in LISTENERS:
        listener(event, task, data)


def listening(event: str) -> list[Callable[[str, Task, dict[str, Any]], None]]:
    """The listeners that want `event` now: a listener may say so by a `wants(event)` attribute, so that a batch
    of events (the scan log's, scan_log.py) asks once instead of once per event."""
    return [
        listener
        for listener in LISTENERS
        if getattr(listener, "wants", None) is None or listener.wants(event)
    ]


def record(actor, action: str, task: Task, before: dict | None, **extra: Any) -> None:
    after = audit.snapshot(task, TASK_FIELDS)
    after.update(extra)
    audit.record(actor=actor, action=action, obj=task, before=before, after=after)
    previous = (before or {}).get("status")
    if previous != task.status:
        emit("task.status_changed", task, {"from": previous, "to": task.status, "action": action})


def is_body_member(user, task: Task) -> bool:
    return (
        user.is_authenticated
        and user.role in (Role.INSPECTOR, Role.BODY_ADMIN)
        and user.body_id is not None
        and task.task_bodies.filter(body_id=user.body_id).exists()
    )
