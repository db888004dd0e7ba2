"""Triggered inspections (F-28): the situations that allow one in each field, the evidence each needs and who
approves it; their validation and saving (the platform administrator, in the Django admin); and the statistics
of triggered tasks by situation.

`create_task` already requires a triggered task to name an active situation of its items' field and to
describe its evidence; a task counts here as it does for frequency control (`frequency.COUNTED`: submitted
onward), dated the same way (its start, else the first day of its window).
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Count, Q

from jianchama.core import audit
from jianchama.core.errors import DomainError, PermissionDenied
from jianchama.core.roles import Role
from jianchama.registry.models import Field

from .frequency import counted_tasks
from .models import TRIGGER_APPROVER_CHOICES, InspectionRecord, Task, TriggerSituation

AUDIT_ACTIONS = {
    "trigger_situation.created": "新增触发式检查启动情形",
    "trigger_situation.changed": "修改触发式检查启动情形",
}
audit.register_actions(AUDIT_ACTIONS)

CODE_PATTERN = re.compile(r"[a-z][a-z0-9_]{1,31}")
SITUATION_FIELDS = ["field", "code", "name", "evidence_required", "approver", "is_active"]


def situations_by_field(*, active_only: bool = True) -> list[tuple[Field, list[TriggerSituation]]]:
    """Each field with its trigger situations, for the form's hint and the statistics page."""
    situations = TriggerSituation.objects.select_related("field").order_by("field__code", "code")
    if active_only:
        situations = situations.filter(is_active=True)
    grouped: dict[int, tuple[Field, list[TriggerSituation]]] = {}
    for situation in situations:
        grouped.setdefault(situation.field_id, (situation.field, []))[1].append(situation)
    return list(grouped.values())


def validate_situation(situation: TriggerSituation) -> list[str]:
    """Everything wrong with a trigger situation, in Chinese; empty when it may be saved."""
    problems = []
    if situation.field_id is None:
        problems.append("请选择执法领域")
    code = (situation.code or "").strip()
    if not CODE_PATTERN.fullmatch(code):
        problems.append("代码须为2至32位小写字母、数字或下划线，并以字母开头，例如 safety_accident")
    elif TriggerSituation.objects.filter(code=code).exclude(pk=situation.pk).exists():
        problems.append(f"代码「{code}」已被其他启动情形使用")
    name = (situation.name or "").strip()
    if not name:
        problems.append("请填写启动情形")
    elif (
        situation.field_id is not None
        and TriggerSituation.objects.filter(field_id=situation.field_id, name=name, is_active=True)
        .exclude(pk=situation.pk)
        .exists()
    ):
        problems.append(f"该执法领域已有名为「{name}」的启用中的启动情形")
    if not (situation.evidence_required or "").strip():
        problems.append("请写明该情形须提供的证据材料")
    if situation.approver not in dict(TRIGGER_APPROVER_CHOICES):
        problems.append("请选择审批人的角色（执法单位负责人）：审批是其在平台上的操作，不能填写姓名")
    return problems


@transaction.atomic
def save_situation(actor, *, situation: TriggerSituation) -> TriggerSituation:
    """Create or change a trigger situation (platform administrator only), validated, with an audit event."""
    if not (actor.is_authenticated and actor.is_platform_admin):
        raise PermissionDenied("只有平台管理员可以设置触发式检查的启动情形")
    for name in ("code", "name", "evidence_required"):
        setattr(situation, name, (getattr(situation, name) or "").strip())
    problems = validate_situation(situation)
    if problems:
        raise DomainError("启动情形未保存：" + "；".join(problems), problems=problems)
    stored = TriggerSituation.objects.filter(pk=situation.pk).first() if situation.pk else None
    before = audit.snapshot(stored, SITUATION_FIELDS) if stored else None
    situation.save()
    audit.record(
        actor=actor,
        action="trigger_situation.changed" if stored else "trigger_situation.created",
        obj=situation,
        before=before,
        after=audit.snapshot(situation, SITUATION_FIELDS),
    )
    return situation


# --- Statistics ---------------------------------------------------------------------------------------


def can_view_trigger_statistics(user) -> bool:
    if not user.is_authenticated:
        return False
    if user.is_platform_admin:
        return True
    if user.role in (Role.BODY_ADMIN, Role.CITY_REVIEWER):
        return user.body_id is not None
    if user.role == Role.SUPERVISOR:
        return user.region_id is not None
    return False


@dataclass
class SituationStat:
    situation: TriggerSituation
    total: int  # triggered inspections in the period
    completed: int  # of which the result is recorded
    with_problems: int  # of which the record found a problem


def trigger_statistics(user, *, start: datetime.date, end: datetime.date) -> list[SituationStat]:
    """Triggered inspections in [start, end] the user may see, by situation (and so by field): how many, how
    many completed, how many found a problem. Every active situation is listed, with none as 0."""
    if not can_view_trigger_statistics(user):
        raise PermissionDenied(
            "只有执法单位管理员、市级执法单位审核人、执法监督人员和平台管理员可以查看触发式检查统计"
        )
    if end < start:
        raise DomainError("统计期间的结束日期不能早于开始日期")
    found = InspectionRecord.Outcome.NO_PROBLEM
    rows = {
        row["trigger_situation"]: row
        for row in counted_tasks(user, start=start, end=end)
        .filter(kind=Task.Kind.TRIGGER, trigger_situation__isnull=False)
        .values("trigger_situation")
        .annotate(
            total=Count("pk"),
            completed=Count("pk", filter=Q(status__in=[Task.Status.RESULT_RECORDED, Task.Status.CLOSED])),
            with_problems=Count("pk", filter=Q(record__isnull=False) & ~Q(record__outcome=found)),
        )
    }
    situations = TriggerSituation.objects.filter(Q(is_active=True) | Q(pk__in=list(rows))).select_related(
        "field"
    )
    stats = [
        SituationStat(
            situation=situation,
            total=rows.get(situation.pk, {}).get("total", 0),
            completed=rows.get(situation.pk, {}).get("completed", 0),
            with_problems=rows.get(situation.pk, {}).get("with_problems", 0),
        )
        for situation in situations.order_by("field__code", "code")
    ]
    return stats
