"""The inspection to-dos of the home pages (F-46; core/todos.py): visits, results, approvals, statements for
the bodies; upcoming visits, results to evaluate and open statements for the enterprise (its portal)."""

from __future__ import annotations

import datetime

from django.db.models import Exists, OuterRef, Q
from django.urls import reverse

from jianchama.core import todos
from jianchama.core.roles import Role

from .models import Evaluation, Statement, Task, TaskBody

S = Task.Status
WAITING_FOR_VISIT = (S.APPROVED, S.NOTIFIED)
INSPECTOR = frozenset({Role.INSPECTOR})
BODY_ADMIN = frozenset({Role.BODY_ADMIN})
ENTERPRISE = frozenset({Role.ENTERPRISE_CONTACT})


def _mine(user):
    """The tasks the user inspects (his inspector record is on them)."""
    return Task.objects.visible_to(user).filter(inspectors__user=user)


def _end_of_week(today: datetime.date) -> datetime.date:
    return today + datetime.timedelta(days=6 - today.weekday())


def visits_today(user, today):
    return _mine(user).filter(status__in=WAITING_FOR_VISIT, window_start__lte=today, window_end__gte=today)


def visits_this_week(user, today):
    return _mine(user).filter(
        status__in=WAITING_FOR_VISIT, window_start__lte=_end_of_week(today), window_end__gte=today
    )


def results_to_record(user, today):
    return _mine(user).filter(status=S.IN_PROGRESS)


def _unanswered_statements():
    return Exists(Statement.objects.filter(task_id=OuterRef("pk"), replied_at__isnull=True))


def my_statements_open(user, today):
    return _mine(user).filter(_unanswered_statements())


def statements_to_answer(user, today):
    return Task.objects.visible_to(user).filter(_unanswered_statements())


def tasks_to_approve(user, today):
    """Submitted (or emergency tasks already under way) where the user's body has not yet approved its part."""
    waiting_part = TaskBody.objects.filter(
        task_id=OuterRef("pk"), body_id=user.body_id, approved_at__isnull=True
    )
    return Task.objects.visible_to(user).filter(
        Q(status=S.SUBMITTED) | Q(status=S.IN_PROGRESS, is_emergency=True), Exists(waiting_part)
    )


def qualification_alerts(user, today):
    return Task.objects.visible_to(user).filter(
        status__in=(S.SUBMITTED, *WAITING_FOR_VISIT), qualification_alert_at__isnull=False
    )


def upcoming_visits(user, today):
    return Task.objects.visible_to(user).filter(
        status__in=(*WAITING_FOR_VISIT, S.IN_PROGRESS), window_end__gte=today
    )


def results_to_evaluate(user, today):
    return Task.objects.visible_to(user).filter(
        ~Exists(Evaluation.objects.filter(task_id=OuterRef("pk"))),
        status__in=(S.RESULT_RECORDED, S.CLOSED),
    )


def enterprise_statements_open(user, today):
    return Task.objects.visible_to(user).filter(_unanswered_statements())


def _has_body(user) -> bool:
    return bool(user.body_id)


def _portal_link(key: str):
    return lambda user: f"{reverse('portal:home')}?todo={key}#tasks"


todos.register(
    todos.TodoKind(
        key="visits_today",
        label="今日检查",
        roles=INSPECTOR,
        items=visits_today,
        url="inspections:task_list",
        deadline="window_end",
        deadline_label="检查期限",
        order=10,
    ),
    todos.TodoKind(
        key="visits_week",
        label="本周检查",
        roles=INSPECTOR,
        items=visits_this_week,
        url="inspections:task_list",
        deadline="window_start",
        deadline_label="最近检查日期",
        order=11,
    ),
    todos.TodoKind(
        key="results_to_record",
        label="待录入检查结果",
        roles=INSPECTOR,
        items=results_to_record,
        url="inspections:task_list",
        deadline="window_end",
        deadline_label="检查期限",
        order=12,
    ),
    todos.TodoKind(
        key="my_statements_open",
        label="本人任务中待答复的陈述申辩",
        roles=INSPECTOR,
        items=my_statements_open,
        url="inspections:task_list",
        order=13,
    ),
    todos.TodoKind(
        key="tasks_to_approve",
        label="待审批的检查任务",
        roles=BODY_ADMIN,
        items=tasks_to_approve,
        url="inspections:task_list",
        deadline="window_start",
        deadline_label="最早检查日期",
        order=10,
        applies=_has_body,
    ),
    todos.TodoKind(
        key="statements_to_answer",
        label="待答复的陈述申辩",
        roles=BODY_ADMIN,
        items=statements_to_answer,
        url="inspections:task_list",
        order=14,
        applies=_has_body,
    ),
    todos.TodoKind(
        key="qualification_alerts",
        label="资格预警的任务（须调整或取消）",
        roles=INSPECTOR | BODY_ADMIN,
        items=qualification_alerts,
        url="inspections:task_list",
        deadline="window_start",
        deadline_label="检查日期",
        order=15,
        applies=_has_body,
    ),
    todos.TodoKind(
        key="upcoming_visits",
        label="即将到来的检查",
        roles=ENTERPRISE,
        items=upcoming_visits,
        url=_portal_link("upcoming_visits"),
        deadline="window_start",
        deadline_label="检查日期",
        order=10,
    ),
    todos.TodoKind(
        key="results_to_evaluate",
        label="可查看结果并评议的检查",
        roles=ENTERPRISE,
        items=results_to_evaluate,
        url=_portal_link("results_to_evaluate"),
        order=11,
    ),
    todos.TodoKind(
        key="enterprise_statements_open",
        label="待执法单位答复的陈述申辩",
        roles=ENTERPRISE,
        items=enterprise_statements_open,
        url=_portal_link("enterprise_statements_open"),
        order=12,
    ),
)
