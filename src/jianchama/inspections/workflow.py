"""The task workflow's shared steps, used by the services and the frequency control alike: the allowed
transitions, the row lock, the audit record of a task, and who belongs to a task's bodies."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import transaction

from jianchama.core import audit
from jianchama.core.errors import InvalidTransition
from jianchama.core.roles import Role

from .models import TRANSITIONS, Task, TaskBody

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


# The many-to-many fields among them, recorded as sorted ids.
RELATIONS = ("bodies", "inspectors", "items")
_SCALAR_FIELDS = [name for name in TASK_FIELDS if name not in RELATIONS]


# Built once per database: the ORM's union of three querysets cost more to build than to run.
_RELATION_SQL: dict[tuple[str, str], str] = {}


def _relation_sql(connection) -> str:
    key = (connection.alias, connection.vendor)
    if key not in _RELATION_SQL:
        quote = connection.ops.quote_name
        tables = (
            (TaskBody, "body"),
            (Task.inspectors.through, "inspector"),
            (Task.items.through, "inspectionitem"),
        )
        _RELATION_SQL[key] = " UNION ALL ".join(
            f"SELECT {n}, {quote(model._meta.get_field(column).column)} FROM {quote(model._meta.db_table)} "
            f"WHERE {quote(model._meta.get_field('task').column)} = %s"
            for n, (model, column) in enumerate(tables)
        )
    return _RELATION_SQL[key]


def relation_ids(task: Task) -> dict[str, list[int]]:
    """The task's bodies, inspectors and items as its audit snapshot records them, in one query (reading the
    three relations through the ORM built every related row, three queries for a list of ids)."""
    ids: dict[str, list[int]] = {name: [] for name in RELATIONS}
    if task.pk is None:
        return ids
    connection = transaction.get_connection()
    with connection.cursor() as cursor:
        cursor.execute(_relation_sql(connection), [task.pk] * len(RELATIONS))
        for relation, pk in cursor.fetchall():
            ids[RELATIONS[relation]].append(pk)
    return {name: sorted(values) for name, values in ids.items()}


def snapshot(task: Task, relations: dict[str, list[int]] | None = None) -> dict[str, Any]:
    """The task as the audit log records it before and after each step (`audit.snapshot` of TASK_FIELDS).
    `relations`: the bodies', inspectors' and items' ids when the caller already has them."""
    data = audit.snapshot(task, _SCALAR_FIELDS)
    data.update(relation_ids(task) if relations is None else {name: relations[name] for name in RELATIONS})
    return data


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


def record(
    actor,
    action: str,
    task: Task,
    before: dict | None,
    *,
    relations: dict[str, list[int]] | None = None,
    **extra: Any,
) -> None:
    """The task's audit event. `relations`: its bodies', inspectors' and items' ids when the caller knows
    them (a step that changes none of them passes `before`); read again otherwise."""
    append(prepare(actor, action, task, before, relations=relations, **extra))


def prepare(
    actor,
    action: str,
    task: Task,
    before: dict | None,
    *,
    relations: dict[str, list[int]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A step's audit event as it stands now, its status change told to the listeners; `append` writes it.
    Apart for a transaction of two steps (create and submit): both events are written last, together, so the
    chain's lock is not held while the second step works."""
    after = snapshot(task, relations)
    after.update(extra)
    previous = (before or {}).get("status")
    if previous != task.status:
        emit("task.status_changed", task, {"from": previous, "to": task.status, "action": action})
    return {"actor": actor, "action": action, "obj": task, "before": before, "after": after}


def append(*events: dict[str, Any]) -> None:
    """Write prepared events to the audit log. Last: from the first event to the commit, every other audited
    transaction waits (core/audit.py)."""
    audit.record_all(*events)


def is_body_member(user, task: Task) -> bool:
    return (
        user.is_authenticated
        and user.role in (Role.INSPECTOR, Role.BODY_ADMIN)
        and user.body_id is not None
        and task.task_bodies.filter(body_id=user.body_id).exists()
    )
