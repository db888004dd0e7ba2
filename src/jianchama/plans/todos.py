"""The plan to-dos of the home pages (F-46; core/todos.py): plans to review or file, plans returned or filed
and not yet announced, draws committed and not yet revealed."""

from __future__ import annotations

from jianchama.core import todos
from jianchama.core.roles import Role

from . import services
from .models import Plan, PlanReview, RandomDraw


def plans_to_review(user, today):
    return services.awaiting_review(user)


def _open_review_due(plans):
    return (
        PlanReview.objects.filter(plan__in=plans.values("pk"), decided_at__isnull=True)
        .order_by("due")
        .values_list("due", flat=True)
        .first()
    )


def plans_returned(user, today):
    return Plan.objects.visible_to(user).filter(body_id=user.body_id, status=Plan.Status.RETURNED)


def plans_to_publish(user, today):
    return Plan.objects.visible_to(user).filter(body_id=user.body_id, status=Plan.Status.FILED)


def draws_to_reveal(user, today):
    return RandomDraw.objects.visible_to(user).filter(
        plan__body_id=user.body_id, status=RandomDraw.Status.COMMITTED, withdrawn_at__isnull=True
    )


def _has_body(user) -> bool:
    return bool(user.body_id)


todos.register(
    todos.TodoKind(
        key="plans_to_review",
        label="待审核、备案的检查计划",
        roles=frozenset({Role.CITY_REVIEWER, Role.SUPERVISOR}),
        items=plans_to_review,
        url="plans:plan_list",
        deadline=_open_review_due,
        deadline_label="办理期限",
        order=20,
    ),
    todos.TodoKind(
        key="plans_returned",
        label="被退回修改的检查计划",
        roles=frozenset({Role.BODY_ADMIN}),
        items=plans_returned,
        url="plans:plan_list",
        order=20,
        applies=_has_body,
    ),
    todos.TodoKind(
        key="plans_to_publish",
        label="已备案待公告的检查计划",
        roles=frozenset({Role.BODY_ADMIN}),
        items=plans_to_publish,
        url="plans:plan_list",
        order=21,
        applies=_has_body,
    ),
    todos.TodoKind(
        key="draws_to_reveal",
        label="已公布承诺值、待抽取的随机抽取",
        roles=frozenset({Role.BODY_ADMIN}),
        items=draws_to_reveal,
        url="draws:list",
        deadline="window_start",
        deadline_label="检查日期起",
        order=22,
        applies=_has_body,
    ),
)
