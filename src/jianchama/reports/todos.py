"""The supervisors' to-do (F-46; core/todos.py): generated reports that wait to be issued."""

from __future__ import annotations

from jianchama.core import todos
from jianchama.core.roles import Role

from .models import SupervisionReport


def reports_to_issue(user, today):
    return SupervisionReport.objects.visible_to(user).filter(
        status=SupervisionReport.Status.DRAFT, generated_at__isnull=False
    )


todos.register(
    todos.TodoKind(
        key="reports_to_issue",
        label="已生成、待签发的执法监督工作报告",
        roles=frozenset({Role.SUPERVISOR}),
        items=reports_to_issue,
        url="reports:list",
        order=39,
    )
)
