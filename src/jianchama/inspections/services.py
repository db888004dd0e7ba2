"""Every change to a task, its code, its record and its evaluation.

Each function takes the acting user first, checks permission and state, changes the data in one
transaction, appends to the audit log and queues side effects after commit.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import secrets
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.db.models import Avg, Count, Exists, Min, OuterRef, prefetch_related_objects
from django.utils import timezone

from jianchama.core import audit, events, files
from jianchama.core import services as core_services
from jianchama.core.errors import DomainError, InvalidTransition, PermissionDenied, raise_if
from jianchama.core.formats import chinese_date, chinese_datetime
from jianchama.core.models import LoginCode
from jianchama.core.roles import Role
from jianchama.core.services import PHONE_RE
from jianchama.core.workdays import add_working_days
from jianchama.registry.guides import guide_url, guides_for_task
from jianchama.registry.models import (
    EnforcementBody,
    Enterprise,
    EnterpriseContact,
    InspectionItem,
    Inspector,
)
from jianchama.registry.qualification import check_qualification

from . import backfill, scan_card, scan_log, signing, workflow
from .frequency import recording_refusals
from .models import (
    CodeReport,
    Evaluation,
    EvaluationRelease,
    Evidence,
    Finding,
    FrequencyRefusalRecord,
    InspectionCode,
    InspectionRecord,
    Scan,
    Statement,
    Task,
    TaskBody,
)

AUDIT_ACTIONS = {
    "task.created": "创建检查任务",
    "task.submitted": "提交审批",
    "task.returned": "退回修改",
    "task.approved": "批准检查",
    "task.notified": "告知企业",
    "task.started": "开始检查",
    "task.emergency_started": "紧急检查先行开始",
    "task.result_recorded": "录入检查结果",
    "task.result_viewed_by_phone": "现场负责人或法定代表人扫码查看结果",
    "task.closed": "办结",
    "task.cancelled": "取消任务",
    "task.qualification_alert": "执法人员资格预警",
    "code.issued": "签发检查码",
    "code.revoked": "作废检查码",
    "code.reported": "举报可疑检查码",
    "evaluation.given": "企业评议",
    "evaluation.released": "发布评议汇总",
    "statement.filed": "企业陈述申辩",
    "statement.replied": "答复陈述申辩",
}

MAX_WINDOW_DAYS = 90
EVIDENCE_MAX_BYTES = 20 * 1024 * 1024
# Extension → (kind allowed, leading bytes the file must start with); the name alone proves nothing.
EVIDENCE_TYPES: dict[str, tuple[str, tuple[bytes, ...]]] = {
    ".jpg": ("photo", (b"\xff\xd8\xff",)),
    ".jpeg": ("photo", (b"\xff\xd8\xff",)),
    ".png": ("photo", (b"\x89PNG\r\n\x1a\n",)),
    ".pdf": ("document", (b"%PDF-",)),
    ".mp3": ("audio", (b"ID3", b"\xff\xfb", b"\xff\xf3", b"\xff\xf2")),
    ".m4a": ("audio", (b"\x00\x00\x00",)),
    ".mp4": ("video", (b"\x00\x00\x00",)),
}
EVALUATION_MIN_GROUP = 5  # F-26: no aggregate a body sees is over fewer ratings, nor differs by fewer


def evaluation_release_size() -> int:
    """New ratings needed for a body's next release (settings.EVALUATION_RELEASE_MIN_RATINGS, at least 5)."""
    return max(EVALUATION_MIN_GROUP, int(getattr(settings, "EVALUATION_RELEASE_MIN_RATINGS", 5)))


# Checks run before approval besides the qualification gate (the frequency rules plug in here). Each takes
# the task and returns the problems, in Chinese; any problem refuses approval.
PRE_APPROVAL_CHECKS: list[Callable[[Task], list[str]]] = []


def register_pre_approval_check(check: Callable[[Task], list[str]]) -> None:
    if check not in PRE_APPROVAL_CHECKS:
        PRE_APPROVAL_CHECKS.append(check)


# --- Who may do what (views use these to show or hide buttons) --------------------------------------


def _inspector_of(user, task: Task) -> Inspector | None:
    if not user.is_authenticated or user.role != Role.INSPECTOR:
        return None
    return task.inspectors.filter(user=user).first()


def can_create_tasks(user) -> bool:
    return (
        user.is_authenticated and user.role in (Role.INSPECTOR, Role.BODY_ADMIN) and user.body_id is not None
    )


def can_submit(user, task: Task) -> bool:
    return task.status == Task.Status.DRAFT and workflow.is_body_member(user, task)


def can_approve(user, task: Task) -> bool:
    if not user.is_authenticated or user.role != Role.BODY_ADMIN:
        return False
    if (
        task.kind == Task.Kind.TRIGGER
        and task.trigger_situation_id
        and user.role != task.trigger_situation.approver
    ):
        return False
    if task.status not in (Task.Status.SUBMITTED, Task.Status.IN_PROGRESS):
        return False
    if task.status == Task.Status.IN_PROGRESS and not task.is_emergency:
        return False
    return task.task_bodies.filter(body_id=user.body_id, approved_at__isnull=True).exists()


def can_start_emergency(user, task: Task) -> bool:
    return (
        task.is_emergency
        and task.status in (Task.Status.DRAFT, Task.Status.SUBMITTED)
        and (
            _inspector_of(user, task) is not None
            or (user.role == Role.BODY_ADMIN and workflow.is_body_member(user, task))
        )
    )


def can_check_in(user, task: Task) -> bool:
    return task.status == Task.Status.NOTIFIED and _inspector_of(user, task) is not None


def can_record(user, task: Task) -> bool:
    return task.status == Task.Status.IN_PROGRESS and _inspector_of(user, task) is not None


def can_close(user, task: Task) -> bool:
    return (
        task.status == Task.Status.RESULT_RECORDED
        and user.role == Role.BODY_ADMIN
        and user.body_id == task.lead_body_id
    )


def can_cancel(user, task: Task) -> bool:
    if task.status in (Task.Status.CLOSED, Task.Status.CANCELLED) or not user.is_authenticated:
        return False
    if user.role == Role.BODY_ADMIN and user.body_id == task.lead_body_id:
        return True
    return task.status == Task.Status.DRAFT and task.created_by_id == user.pk


def scan_again_until(task: Task) -> datetime.datetime | None:
    """Until when the enterprise's code leads to the result and the evaluation (seed 000: 结果录入后，企业法定代表
    人或现场负责人再次扫码，可查看检查结果并进行评价): `SCAN_AGAIN_DAYS` after the result was recorded."""
    if not task.is_completed or task.result_recorded_at is None:
        return None
    return task.result_recorded_at + datetime.timedelta(days=settings.SCAN_AGAIN_DAYS)


def scan_again_open(task: Task, now: datetime.datetime | None = None) -> bool:
    until = scan_again_until(task)
    return until is not None and (now or timezone.now()) < until


def can_show_code(user, task: Task) -> bool:
    """During the visit, and after the result for "scan again" (the on-site person scans to see the result)."""
    return (
        (
            task.status in (Task.Status.NOTIFIED, Task.Status.IN_PROGRESS)
            or (task.status == Task.Status.RESULT_RECORDED and scan_again_open(task))
        )
        and hasattr(task, "code")
        and task.code.status == InspectionCode.Status.ACTIVE
        and _inspector_of(user, task) is not None
    )


def _is_contact_of(user, task: Task) -> bool:
    return (
        user.is_authenticated
        and user.role == Role.ENTERPRISE_CONTACT
        and user.enterprise_id == task.enterprise_id
        and task.notified_at is not None
    )


def can_evaluate(user, task: Task) -> bool:
    return (
        _is_contact_of(user, task) and task.is_completed and not Evaluation.objects.filter(task=task).exists()
    )


def can_file_statement(user, task: Task) -> bool:
    return _is_contact_of(user, task) and task.is_completed


# --- Creating and submitting -----------------------------------------------------------------------


def _validate_task(
    *,
    enterprise: Enterprise,
    bodies: Sequence[EnforcementBody],
    items: Sequence[InspectionItem],
    inspectors: Sequence[Inspector],
    legal_basis: str,
    kind: str,
    mode: str,
    reason: str,
    evidence: str,
    window_start: datetime.date | None,
    window_end: datetime.date | None,
) -> list[str]:
    problems = []
    if kind not in Task.Kind.values:
        problems.append("请选择检查类型")
    if mode not in Task.Mode.values:
        problems.append("请选择检查方式（现场或非现场）")
    if not items:
        problems.append("请至少选择一项检查事项")
    unpublished = [item for item in items if not item.is_published]
    if unpublished:
        names = "、".join(item.name for item in unpublished)
        problems.append(f"检查事项「{names}」不在已公布的检查事项清单中（无事项不检查）")
    if len(set(inspectors)) < 2:
        problems.append("执法人员不得少于两人")
    body_ids = {body.pk for body in bodies}
    outsiders = [inspector.name for inspector in inspectors if inspector.body_id not in body_ids]
    if outsiders:
        problems.append(f"执法人员{'、'.join(outsiders)}不属于参与检查的执法单位")
    if not legal_basis.strip():
        problems.append("请填写检查依据")
    if kind in Task.UNPLANNED_KINDS:
        if not reason.strip():
            problems.append(f"{Task.Kind(kind).label}类无计划检查须写明启动理由")
        if not evidence.strip():
            problems.append(f"{Task.Kind(kind).label}类无计划检查须说明证据材料")
    if window_start is None or window_end is None:
        problems.append("请填写计划检查日期")
    elif window_end < window_start:
        problems.append("计划检查日期止不能早于日期起")
    elif (window_end - window_start).days > MAX_WINDOW_DAYS:
        problems.append(f"计划检查日期跨度不能超过{MAX_WINDOW_DAYS}天")
    if not enterprise:
        problems.append("请选择检查对象")
    return problems


def _plan_problems(
    kind, plan, lead: EnforcementBody, items, window_start, window_end, bodies=(), partner_plans=()
) -> list[str]:
    """A planned inspection must cite a filed plan of the lead body covering its items and dates; in a joint
    inspection (e.g. from an accepted coordination proposal) the partner bodies' items may come from their
    own filed plans, given as `partner_plans`."""
    from jianchama.plans.models import Plan

    if kind not in Task.PLANNED_KINDS:
        return []
    if plan is None:
        return [f"{Task.Kind(kind).label}属于有计划检查，须引用本单位已备案的检查计划（计划编号）"]
    problems = []
    if plan.status not in (Plan.Status.FILED, Plan.Status.PUBLISHED):
        problems.append(
            f"检查计划「{plan.title}」尚未备案（当前状态：{plan.get_status_display()}），不能据以检查"
        )
    if plan.body_id != lead.pk:
        problems.append(f"检查计划{plan}属于{plan.body.name}，不是本单位的计划")
    if plan.method != kind:
        problems.append(f"检查计划{plan}的检查方式为「{plan.get_method_display()}」，与所选检查类型不符")
    filed = (Plan.Status.FILED, Plan.Status.PUBLISHED)
    body_ids = {body.pk for body in bodies}
    covering = [plan] + [
        p for p in partner_plans if p.status in filed and p.body_id in body_ids and p.body_id != lead.pk
    ]
    planned = set(
        Plan.items.through.objects.filter(
            plan_id__in=[p.pk for p in covering], inspectionitem_id__in=[item.pk for item in items]
        ).values_list("inspectionitem_id", flat=True)
    )
    outside = [item.name for item in items if item.pk not in planned]
    if outside:
        problems.append(f"检查事项{'、'.join(outside)}不在检查计划{plan}中")
    if window_start and window_end and (window_start < plan.period_start or window_end > plan.period_end):
        problems.append(
            f"计划检查日期超出检查计划{plan}的期间（{chinese_date(plan.period_start)}至{chinese_date(plan.period_end)}）"
        )
    return problems


def _carried_out_proposal(enterprise: Enterprise, bodies, plan, window_start, window_end):
    """The accepted proposal to merge plans (F-13) a joint planned inspection carries out, if any: one citing its
    plan, reaching its enterprise, its period meeting the window, another of the task's bodies among its plans'
    (the statistics count the visits it saves: `inspections.counts`)."""
    from jianchama.plans.models import CoordinationProposal

    others = [body.pk for body in bodies if plan is not None and body.pk != plan.body_id]
    if not others or not window_start or not window_end:
        return None
    # Two filters: the plan and the other body's plan are two rows of the proposal's plans.
    return (
        CoordinationProposal.objects.filter(
            status=CoordinationProposal.Status.ACCEPTED,
            plans=plan,
            enterprises=enterprise,
            period_start__lte=window_end,
            period_end__gte=window_start,
        )
        .filter(plans__body_id__in=others)
        .order_by("pk")
        .first()
    )


def _trigger_problems(kind, situation, items) -> list[str]:
    """A triggered inspection must name a defined trigger situation of the field it inspects (F-28)."""
    if kind != Task.Kind.TRIGGER:
        return ["只有触发式检查需要选择触发情形"] if situation is not None else []
    if situation is None:
        return ["触发式检查须选择启动情形（触发情形），并提供该情形要求的证据材料"]
    problems = []
    if not situation.is_active:
        problems.append(f"触发情形「{situation.name}」已停用")
    fields = {item.field_id for item in items}
    if fields and situation.field_id not in fields:
        problems.append(f"触发情形「{situation.name}」不属于所选检查事项的执法领域")
    return problems


def _assign_items(
    bodies: Sequence[EnforcementBody], items: Sequence[InspectionItem]
) -> dict[EnforcementBody, list[InspectionItem]]:
    """Each item goes to the participating bodies allowed to check it; an item none of them may check
    stays with the lead body, so that the qualification gate names it."""
    if len(bodies) == 1:  # one body takes every item, allowed or not: nothing to look up
        return {bodies[0]: list(items)}
    body_ids, item_ids = [body.pk for body in bodies], [item.pk for item in items]
    allowed = set(
        InspectionItem.bodies.through.objects.filter(
            inspectionitem_id__in=item_ids, enforcementbody_id__in=body_ids
        ).values_list("inspectionitem_id", "enforcementbody_id")
    )
    entrusted = [body.pk for body in bodies if body.body_type == EnforcementBody.Type.ENTRUSTED]
    if entrusted:
        allowed |= set(
            EnforcementBody.entrusted_items.through.objects.filter(
                inspectionitem_id__in=item_ids, enforcementbody_id__in=entrusted
            ).values_list("inspectionitem_id", "enforcementbody_id")
        )
    assignment: dict[EnforcementBody, list[InspectionItem]] = {body: [] for body in bodies}
    for item in items:
        takers = [body for body in bodies if (item.pk, body.pk) in allowed]
        for body in takers or [bodies[0]]:
            assignment[body].append(item)
    return assignment


@recording_refusals
@transaction.atomic
def create_task(
    actor,
    *,
    enterprise: Enterprise,
    items: Sequence[InspectionItem],
    inspectors: Sequence[Inspector],
    legal_basis: str,
    kind: str,
    window_start: datetime.date | None,
    window_end: datetime.date | None,
    joint_bodies: Sequence[EnforcementBody] = (),
    mode: str = Task.Mode.ON_SITE,
    reason: str = "",
    evidence: str = "",
    is_emergency: bool = False,
    plan=None,
    draw=None,
    trigger_situation=None,
    partner_plans: Sequence = (),
    submit: bool = False,
    justification: str = "",
    exemption: str = "",
) -> Task:
    """A draft task, led by the actor's body; `joint_bodies` makes it a joint inspection. `submit`: submitted
    for approval in the same transaction, as `submit_task` would (its frequency check, `justification` and
    `exemption`), or not created at all if the submission is refused (the refusal is recorded nonetheless:
    `frequency.recording_refusals`)."""
    if not can_create_tasks(actor):
        raise PermissionDenied("只有执法单位的执法人员或管理员可以创建检查任务")
    if not Enterprise.objects.visible_to(actor).filter(pk=enterprise.pk).exists():
        raise PermissionDenied(f"企业{enterprise.name}不在本单位的检查范围内")
    lead = actor.body
    bodies = [lead] + [body for body in dict.fromkeys(joint_bodies) if body.pk != lead.pk]
    inactive = [body.name for body in bodies if not body.is_active]
    problems = [f"执法单位{'、'.join(inactive)}已停用"] if inactive else []
    problems += _validate_task(
        enterprise=enterprise,
        bodies=bodies,
        items=items,
        inspectors=inspectors,
        legal_basis=legal_basis,
        kind=kind,
        mode=mode,
        reason=reason,
        evidence=evidence,
        window_start=window_start,
        window_end=window_end,
    )
    if window_start and window_start < timezone.localdate() and not is_emergency:
        problems.append("计划检查日期不能早于今天")
    problems += sanctioned_inspector_problems(inspectors)
    problems += _plan_problems(kind, plan, lead, items, window_start, window_end, bodies, partner_plans)
    problems += _trigger_problems(kind, trigger_situation, items)
    raise_if(problems, "检查任务未保存")
    task = Task.objects.create(
        enterprise=enterprise,
        coordination_proposal=_carried_out_proposal(enterprise, bodies, plan, window_start, window_end),
        lead_body=lead,
        legal_basis=legal_basis.strip(),
        kind=kind,
        mode=mode,
        reason=reason.strip(),
        evidence=evidence.strip(),
        plan=plan,
        draw=draw,
        trigger_situation=trigger_situation,
        window_start=window_start,
        window_end=window_end,
        is_emergency=is_emergency,
        created_by=actor,
    )
    task.number = f"JC{timezone.localdate().year}{task.pk:07d}"
    task.save(update_fields=["number"])
    # A new task has no relations yet: each is written in one INSERT, without reading what is there.
    assignment = _assign_items(bodies, items)
    parts = TaskBody.objects.bulk_create(
        TaskBody(task=task, body=body, task_created_at=task.created_at, task_status=task.status)
        for body in assignment
    )
    TaskBody.items.through.objects.bulk_create(
        TaskBody.items.through(taskbody_id=part.pk, inspectionitem_id=item.pk)
        for part, body_items in zip(parts, assignment.values(), strict=True)
        for item in dict.fromkeys(body_items)
    )
    inspector_ids = sorted({inspector.pk for inspector in inspectors})
    item_ids = sorted({item.pk for item in items})
    Task.inspectors.through.objects.bulk_create(
        Task.inspectors.through(task_id=task.pk, inspector_id=pk) for pk in inspector_ids
    )
    Task.items.through.objects.bulk_create(
        Task.items.through(task_id=task.pk, inspectionitem_id=pk) for pk in item_ids
    )
    relations = {"bodies": sorted(body.pk for body in bodies), "inspectors": inspector_ids, "items": item_ids}
    created = workflow.prepare(actor, "task.created", task, None, relations=relations)
    if not submit:
        workflow.append(created)
        return task
    # The actor's body leads the task, so he may submit it; its inspectors are those just checked.
    before = created["after"]
    _submit(task, inspectors=inspectors, justification=justification, exemption=exemption)
    submitted = workflow.prepare(
        actor, "task.submitted", task, before, relations=before, **_audit_extras(task)
    )
    workflow.append(created, submitted)
    return task


@recording_refusals
@transaction.atomic
def submit_task(actor, *, task: Task, justification: str = "", exemption: str = "") -> Task:
    """Submit for the head's approval, after the frequency check (F-21): a broken refuse-rule refuses it; a
    broken justify-rule needs `justification`; what was found (warnings too) is kept on the task.
    `exemption` (an `Exemption`) claims an exemption; a complaint or report task has the complaint one.
    A refusal by the frequency rules is a `frequency.FrequencyRefusal`, with what the check found; it is
    recorded after the submission is rolled back (`frequency.recording_refusals`)."""
    task = workflow.locked(task)
    if not workflow.is_body_member(actor, task):
        raise PermissionDenied("只有参与检查的执法单位可以提交该任务")
    before = workflow.snapshot(task)
    _submit(task, inspectors=list(task.inspectors.all()), justification=justification, exemption=exemption)
    workflow.record(actor, "task.submitted", task, before, relations=before, **_audit_extras(task))
    return task


def _audit_extras(task: Task) -> dict[str, Any]:
    from .frequency import audit_extras

    return audit_extras(task)


def _submit(task: Task, *, inspectors: list[Inspector], justification: str, exemption: str) -> None:
    """The submission of a locked draft task (`submit_task`, or `create_task` with `submit`): its rules, the
    frequency check and the change, all but the audit event."""
    from .frequency import FrequencyRefusal, check_frequency, task_field_ids, with_exemptions
    from .models import Exemption

    workflow.transition(task, Task.Status.SUBMITTED)
    raise_if(sanctioned_inspector_problems(inspectors), "该任务不能提交")
    exemption, justification = (exemption or "").strip(), (justification or "").strip()
    if exemption and exemption not in Exemption.values:
        raise DomainError(f"未知的豁免情形「{exemption}」，请从列表中选择")
    # Tasks on one enterprise are submitted one at a time, so two cannot each pass a cap they break together.
    Enterprise.objects.select_for_update().filter(pk=task.enterprise_id).exists()
    task.frequency_exemption = exemption
    check = check_frequency(task)
    if check.refusals:
        problems = [with_exemptions(breach) for breach in check.refusals]
        raise FrequencyRefusal(
            "该任务超出检查频次规则，不予提交：" + "；".join(problems),
            problems=problems,
            check=check,
            justification_required=False,
            task=task,
            breaches=check.refusals,
            field_ids=task_field_ids(task),
        )
    if check.needs_justification and not justification:
        problems = [breach.message for breach in check.justifications]
        raise FrequencyRefusal(
            "该任务超出检查频次规则，须填写超频次检查的理由，经执法单位负责人批准后方可检查："
            + "；".join(problems),
            problems=[*problems, "请填写超频次检查的理由"],
            check=check,
            justification_required=True,
            task=task,
            breaches=check.justifications,
            field_ids=task_field_ids(task),
        )
    task.frequency_findings = check.findings()
    task.frequency_justification = justification if check.needs_justification else ""
    task.submitted_at = timezone.now()
    task.save(
        update_fields=[
            "status",
            "submitted_at",
            "frequency_findings",
            "frequency_justification",
            "frequency_exemption",
        ]
    )


@transaction.atomic
def return_task(actor, *, task: Task, comment: str) -> Task:
    """The head sends a submitted task back for changes."""
    task = workflow.locked(task)
    if actor.role != Role.BODY_ADMIN or not workflow.is_body_member(actor, task):
        raise PermissionDenied("只有参与检查的执法单位负责人可以退回任务")
    if not comment.strip():
        raise DomainError("请写明退回原因")
    before = workflow.snapshot(task)
    workflow.transition(task, Task.Status.DRAFT)
    task.save(update_fields=["status"])
    # Whatever changes before resubmission, every body approves it again.
    task.task_bodies.update(approved_by=None, approved_at=None)
    workflow.record(actor, "task.returned", task, before, relations=before, comment=comment.strip())
    tell_task_team(
        actor,
        task=task,
        event="task.returned",
        subject=f"检查任务{task}被退回修改",
        body=f"{actor.body.name}负责人退回了检查任务{task}（{task.enterprise.name}）。退回原因：{comment.strip()}。"
        "请按意见修改后重新提交审批。",
    )
    return task


# --- Approval, the code and the notice to the enterprise -------------------------------------------


# --- Accountability (F-33): a suspended or revoked certificate takes effect at once ----------------------

UNSTARTED = (Task.Status.SUBMITTED, Task.Status.APPROVED, Task.Status.NOTIFIED)
_SANCTION_VERBS = {"suspended": "暂停使用", "revoked": "收回"}


def sanctioned_inspector_problems(inspectors: Iterable[Inspector]) -> list[str]:
    """Inspectors who may not be put on a task because their certificate was suspended or revoked (by a
    supervision decision or the platform administrator) and they hold no other valid one. Expiry is left to
    the qualification gate at approval, which knows the task's dates."""
    from jianchama.registry.models import Certificate

    today = timezone.localdate()
    problems = []
    inspectors = list(dict.fromkeys(inspectors))
    # Every inspector's certificates in one query (unless the caller prefetched them).
    prefetch_related_objects(
        [i for i in inspectors if "certificates" not in getattr(i, "_prefetched_objects_cache", {})],
        "certificates",
    )
    for inspector in inspectors:
        certificates = list(inspector.certificates.all())
        if any(c.status_on(today) == Certificate.Status.VALID for c in certificates):
            continue
        sanctioned = [
            c for c in certificates if c.status in (Certificate.Status.SUSPENDED, Certificate.Status.REVOKED)
        ]
        if sanctioned:
            c = max(sanctioned, key=lambda c: c.pk)
            reason = f"（{c.status_reason}）" if c.status_reason else ""
            problems.append(
                f"执法人员{inspector.name}的执法证{c.number}已被{_SANCTION_VERBS[c.status]}{reason}，"
                "不能安排检查任务，请更换执法人员"
            )
    return problems


def flag_tasks_of(actor, *, certificate) -> int:
    """Flag every unstarted task (submitted, approved, notified) of the certificate's inspector, when the
    inspector has no other valid certificate, and tell the administrators of the bodies taking part: the
    task needs another inspector before the visit. Returns how many tasks were flagged."""
    from jianchama.core.models import User
    from jianchama.notifications.services import notify_user

    inspector = certificate.inspector
    if not sanctioned_inspector_problems([inspector]):
        return 0
    reason = f"（{certificate.status_reason}）" if certificate.status_reason else ""
    alert = (
        f"执法人员{inspector.name}的执法证{certificate.number}已被{_SANCTION_VERBS[certificate.status]}{reason}，"
        "不能实施本次检查，请更换执法人员后重新提交审批"
    )
    now = timezone.now()
    count = 0
    unstarted = Task.objects.select_for_update().filter(inspectors=inspector, status__in=UNSTARTED)
    for task in unstarted.order_by("pk"):
        if alert in task.qualification_alert:
            continue
        before = audit.snapshot(task, ["qualification_alert", "qualification_alert_at"])
        task.qualification_alert = f"{task.qualification_alert}\n{alert}".strip()
        task.qualification_alert_at = now
        task.save(update_fields=["qualification_alert", "qualification_alert_at"])
        audit.record(
            actor=actor,
            action="task.qualification_alert",
            obj=task,
            before=before,
            after=audit.snapshot(task, ["qualification_alert", "qualification_alert_at"]),
        )
        heads = User.objects.people().filter(role=Role.BODY_ADMIN, is_active=True, body__in=task.bodies.all())
        for head in heads.order_by("pk"):
            notify_user(
                user=head,
                event="task.qualification_alert",
                subject=f"检查任务{task}的执法人员资格预警",
                body=alert,
                related=task,
            )
        count += 1
    return count


def approval_problems(task: Task, *, on: datetime.date | None = None) -> list[str]:
    """Every reason the task may not be approved: the qualification gate (F-05) and the registered checks."""
    assignment = {
        task_body.body: list(task_body.items.all())
        for task_body in task.task_bodies.select_related("body").prefetch_related("items")
    }
    inspectors = list(task.inspectors.select_related("body"))
    today = timezone.localdate()
    problems = []
    if task.window_end < today:
        problems.append(f"计划检查日期已于{chinese_date(task.window_end)}结束，请修改检查日期后重新提交")
    # Checked on the first and the last day the code will be valid: a certificate that lapses in between
    # would otherwise pass and the code stay valid to the end.
    first = on or max(task.window_start, today)
    days = [first] if on or task.window_end <= first else [first, task.window_end]
    for day in days:
        for problem in check_qualification(bodies=assignment, inspectors=inspectors, on=day):
            if str(problem) not in problems:
                problems.append(str(problem))
    for check in PRE_APPROVAL_CHECKS:
        problems += check(task)
    return problems


@recording_refusals
@transaction.atomic
def approve_task(actor, *, task: Task) -> Task:
    """The head of a participating body approves its part; when every body has, the code is issued and the
    enterprise told. An emergency task already under way is approved without changing its state. The frequency
    check runs again (F-21): see `frequency.recheck_at_approval`; when it refuses, the refusal is a
    `frequency.FrequencyRefusal` (recorded after the rollback, as at submission)."""
    from .frequency import FrequencyRefusal, audit_extras, recheck_at_approval, task_field_ids

    task = workflow.locked(task)
    if actor.role != Role.BODY_ADMIN or not workflow.is_body_member(actor, task):
        raise PermissionDenied("只有参与检查的执法单位负责人可以批准该任务")
    situation = task.trigger_situation if task.kind == Task.Kind.TRIGGER else None
    if situation is not None and actor.role != situation.approver:
        raise PermissionDenied(
            f"触发情形「{situation.name}」的检查由{situation.get_approver_display()}在平台上审批"
        )
    emergency_running = task.is_emergency and task.status == Task.Status.IN_PROGRESS
    if task.status != Task.Status.SUBMITTED and not emergency_running:
        raise InvalidTransition(f"任务{task}当前状态为「{task.get_status_display()}」，不能审批")
    part = task.task_bodies.select_for_update().get(body_id=actor.body_id)
    if part.approved_at is not None:
        raise DomainError(
            f"{part.body.name}已于{timezone.localtime(part.approved_at):%Y-%m-%d %H:%M}批准该任务"
        )
    problems = approval_problems(task)
    recheck = recheck_at_approval(task, emergency_running=emergency_running)
    problems += recheck.problems
    if recheck.problems:
        raise FrequencyRefusal(
            "该任务不能批准：" + "；".join(problems),
            problems=problems,
            check=recheck.check,
            justification_required=recheck.justification_required,
            task=task,
            breaches=recheck.breaches,
            field_ids=task_field_ids(task),
            stage=FrequencyRefusalRecord.Stage.APPROVAL,
        )
    raise_if(problems, "该任务不能批准")
    before = workflow.snapshot(task)
    now = timezone.now()
    part.approved_by, part.approved_at = actor, now
    part.save(update_fields=["approved_by", "approved_at"])
    waiting = task.task_bodies.filter(approved_at__isnull=True).exists()
    if not waiting:
        task.approved_at = now
        if not emergency_running:
            workflow.transition(task, Task.Status.APPROVED)
    task.save(update_fields=["status", "approved_at", "frequency_findings"])
    # An emergency's approval after its deadline is still recorded (the rule emergency_unapproved flags it).
    late = bool(emergency_running and task.approval_due and timezone.localdate(now) > task.approval_due)
    extras = {"approved_after_deadline": True} if late else {}
    if situation is not None:
        extras["trigger_approver"] = situation.get_approver_display()
    workflow.record(
        actor,
        "task.approved",
        task,
        before,
        relations=before,
        approved_body=part.body.name,
        waiting_for_others=waiting,
        **extras,
        **audit_extras(task),
    )
    if not waiting and not emergency_running:
        _issue_code(actor, task)
        _notify(actor, task)
    if not waiting:
        window = f"{chinese_date(task.window_start)}至{chinese_date(task.window_end)}"
        tell_task_team(
            actor,
            task=task,
            event="task.approved",
            subject=f"检查任务{task}已批准",
            body=f"检查任务{task}（{task.enterprise.name}）已经各参与单位负责人批准，检查码已签发，企业已收到告知。"
            f"计划检查日期：{window}。到场后请出示检查码。"
            if not emergency_running
            else f"紧急检查任务{task}（{task.enterprise.name}）已补办批准手续。",
        )
    return task


def _new_public_id() -> int:
    # 48 random bits: unguessable, and no count of tasks leaks through the code.
    while True:
        candidate = secrets.randbits(48)
        if candidate and not InspectionCode.objects.filter(public_id=candidate).exists():
            return candidate


def _issue_code(actor, task: Task) -> InspectionCode:
    code = InspectionCode.objects.create(
        task=task,
        public_id=_new_public_id(),
        enterprise=task.enterprise,
        valid_from=min(task.window_start, timezone.localdate()) if task.is_emergency else task.window_start,
        valid_until=task.window_end,
    )
    audit.record(
        actor=actor,
        action="code.issued",
        obj=code,
        after={"task": task.number, "valid_from": code.valid_from, "valid_until": code.valid_until},
    )
    return code


def _notify(actor, task: Task) -> None:
    before = workflow.snapshot(task)
    workflow.transition(task, Task.Status.NOTIFIED)
    task.notified_at = timezone.now()
    task.save(update_fields=["status", "notified_at"])
    _send_notice(task)
    workflow.record(actor, "task.notified", task, before, relations=before)
    scan_card.refresh_on_commit(task)  # the enterprise's first scan finds the card ready


def _send_notice(task: Task) -> None:
    from jianchama.notifications.services import notify_enterprise

    notice = task_notice(task)
    notify_enterprise(
        enterprise=task.enterprise,
        event="task.notified",
        subject=notice["subject"],
        body=notice["text"],
        payload=notice["data"],
        related=task,
    )


RIGHTS_TEXT = (
    "您依法享有陈述权、申辩权，对检查结果不服的，可依法申请行政复议或提起行政诉讼（救济权）；"
    "认为执法人员与本企业有利害关系、可能影响公正检查的，有权申请其回避。"
    "执法人员少于两人、未出示执法证件或未出示有效检查码的，企业有权拒绝检查。"
)


def task_notice(task: Task) -> dict[str, Any]:
    """What the enterprise is told on approval: the text for people, the data for the government app."""
    bodies = [tb.body for tb in task.task_bodies.select_related("body")]
    inspectors = list(task.inspectors.select_related("body").prefetch_related("certificates"))
    items = list(task.items.all())
    window = f"{chinese_date(task.window_start)}至{chinese_date(task.window_end)}"
    subject = f"检查告知：{'、'.join(b.name for b in bodies)}将于{window}对贵单位开展检查"
    lines = [
        f"任务编号：{task.number}",
        f"执法单位：{'、'.join(b.name for b in bodies)}"
        + ("（联合检查，一次入企）" if len(bodies) > 1 else ""),
        f"检查类型：{task.get_kind_display()}（{task.get_mode_display()}）",
        f"计划检查时间：{window}",
        "执法人员：" + "、".join(f"{i.name}（证号{_certificate_number(i)}）" for i in inspectors),
        "检查事项：" + "；".join(item.name for item in items),
        f"检查依据：{task.legal_basis}",
        "核验方式：检查时请用手机扫描执法人员出示的检查码，核验任务和人员是否真实；检查结束后再次扫码可查看结果并评议。",
        f"您的权利：{RIGHTS_TEXT}",
    ]
    # The compliance guides go with the notice, before the inspection (F-36), for the enterprise to check itself.
    guides = list(guides_for_task(task))
    if guides:
        lines.append(
            "合规指引（检查前可对照自查）：" + "；".join(f"《{g.title}》{guide_url(g)}" for g in guides)
        )
    data = {
        "task_number": task.number,
        "bodies": [{"code": b.code, "name": b.name} for b in bodies],
        "inspectors": [{"name": i.name, "certificate": _certificate_number(i)} for i in inspectors],
        "items": [{"code": item.code, "name": item.name} for item in items],
        "kind": task.kind,
        "mode": task.mode,
        "window_start": task.window_start.isoformat(),
        "window_end": task.window_end.isoformat(),
        "legal_basis": task.legal_basis,
        "rights": RIGHTS_TEXT,
        "guides": [
            {
                "title": g.title,
                "url": guide_url(g),
                "item": g.item.code if g.item else None,
                "body": g.body.name,
            }
            for g in guides
        ],
    }
    return {"subject": subject, "text": "\n".join(lines), "data": data}


def _certificate_number(inspector: Inspector) -> str:
    certificates = sorted(inspector.certificates.all(), key=lambda c: c.valid_until, reverse=True)
    return certificates[0].number if certificates else "无"


# --- Starting the visit ------------------------------------------------------------------------------


@transaction.atomic
def start_emergency(actor, *, task: Task) -> Task:
    """An emergency task may start before approval; approval must follow within one working day."""
    task = workflow.locked(task)
    if not task.is_emergency:
        raise DomainError(f"任务{task}不是紧急检查，须经批准后方可开始")
    if not (
        _inspector_of(actor, task) or (actor.role == Role.BODY_ADMIN and workflow.is_body_member(actor, task))
    ):
        raise PermissionDenied("只有本任务的执法人员或执法单位负责人可以开始紧急检查")
    if task.status not in (Task.Status.DRAFT, Task.Status.SUBMITTED):
        raise InvalidTransition(
            f"任务{task}当前状态为「{task.get_status_display()}」，不能作为紧急检查先行开始"
        )
    # Approval may follow, but the qualification gate may not: no code for an unqualified team.
    raise_if(approval_problems(task, on=timezone.localdate()), "紧急检查不能开始")
    before = workflow.snapshot(task)
    workflow.transition(task, Task.Status.IN_PROGRESS)
    now = timezone.now()
    task.started_at = now
    task.approval_due = add_working_days(timezone.localdate(now), 1)
    task.notified_at = now
    task.save(update_fields=["status", "started_at", "approval_due", "notified_at"])
    _started_event(task, by="emergency", how="紧急检查先行开始")
    workflow.record(
        actor, "task.emergency_started", task, before, relations=before, approval_due=task.approval_due
    )
    _issue_code(actor, task)
    _send_notice(task)
    scan_card.refresh_on_commit(task)
    return task


def _start(actor, task: Task, how: str, occurred_at: datetime.datetime | None = None, *, by: str) -> None:
    """The visit begins: `by` is "check_in" (the inspector, on the page, the field app or the API) or "scan"
    (the enterprise's first genuine scan); `how` says it in Chinese."""
    before = workflow.snapshot(task)
    workflow.transition(task, Task.Status.IN_PROGRESS)
    now = timezone.now()
    task.started_at = occurred_at or now
    task.started_received_at = now if occurred_at else None
    task.save(update_fields=["status", "started_at", "started_received_at"])
    extra = {"occurred_at": occurred_at, "received_at": now} if occurred_at else {}
    _started_event(task, by=by, how=how, received_at=now if occurred_at else None)
    workflow.record(actor, "task.started", task, before, relations=before, how=how, **extra)
    scan_card.refresh_on_commit(task)


def _started_event(task: Task, *, by: str, how: str, received_at: datetime.datetime | None = None) -> None:
    """task.started for the bodies' systems (F-29): when the visit began on site and how."""
    workflow.emit(
        "task.started",
        task,
        {
            "by": by,
            "how": how,
            "started_at": task.started_at.isoformat(),
            "received_at": received_at.isoformat() if received_at else None,
            "emergency": task.is_emergency,
        },
    )


@transaction.atomic
def check_in(actor, *, task: Task, occurred_at: datetime.datetime | None = None) -> Task:
    """The inspector's own arrival check-in, when the enterprise has not scanned.

    `occurred_at`: when he checked in on site, if this arrives later (offline app, API); see backfill.py.
    """
    task = workflow.locked(task)
    if _inspector_of(actor, task) is None:
        raise PermissionDenied("只有本任务的执法人员可以签到开始检查")
    if task.status != Task.Status.NOTIFIED:
        raise InvalidTransition(
            f"任务{task}当前状态为「{task.get_status_display()}」，经批准并告知企业后方可签到开始检查"
        )
    raise_if(backfill.occurred_problems(occurred_at, now=timezone.now(), what="签到"), "签到未保存")
    code = InspectionCode.objects.get(task=task)
    today = timezone.localdate(occurred_at) if occurred_at else timezone.localdate()
    if not code.valid_from <= today <= code.valid_until:
        day = "签到当天" if occurred_at else "今天"
        raise DomainError(
            f"{day}不在检查码的有效期内（{chinese_date(code.valid_from)}至{chinese_date(code.valid_until)}），不能签到开始检查"
        )
    # A certificate suspended or revoked since approval takes effect at once (F-33): nobody starts the visit.
    raise_if(
        sanctioned_inspector_problems(task.inspectors.prefetch_related("certificates")), "不能签到开始检查"
    )
    _start(actor, task, "执法人员签到", occurred_at, by="check_in")
    return task


def current_token(actor, *, task: Task) -> str:
    """A fresh token for the inspector's phone; each is valid a few minutes, so a screenshot goes stale."""
    task = Task.objects.select_related("code").get(pk=task.pk)
    if not can_show_code(actor, task):
        raise PermissionDenied("只有本任务的执法人员可以在检查期间出示检查码")
    return signing.issue_token(task.code.public_id)


# --- Scanning ----------------------------------------------------------------------------------------


@dataclass
class ScanResult:
    outcome: str
    scan: Scan
    code: InspectionCode | None = None
    task: Task | None = None
    claims: signing.TokenClaims | None = None
    started_task: bool = False
    problems: list[str] = field(default_factory=list)
    logged_later: bool = False  # the scan went to the scan log's stream; its row is written in a batch


def client_hash(address: str) -> str:
    # Keyed, so the log can tell repeat scanners apart without storing anyone's address.
    return hmac.new(settings.SECRET_KEY.encode(), address.encode(), hashlib.sha256).hexdigest()


def _judge(code: InspectionCode, claims: signing.TokenClaims, user, now: datetime.datetime) -> str:
    Outcome = Scan.Outcome
    task = code.task
    if code.status == InspectionCode.Status.REVOKED or task.status == Task.Status.CANCELLED:
        return Outcome.REVOKED
    if (
        user is not None
        and user.is_authenticated
        and user.role == Role.ENTERPRISE_CONTACT
        and user.enterprise_id != code.enterprise_id
    ):
        return Outcome.WRONG_ENTERPRISE
    if task.is_completed:
        return Outcome.COMPLETED
    today = timezone.localdate(now)
    if today > code.valid_until:
        return Outcome.EXPIRED
    if today < code.valid_from:
        return Outcome.NOT_YET_VALID
    if claims.window_status(now) != "current":
        return Outcome.STALE
    return Outcome.GENUINE


_UNREAD: Any = object()

# Outcomes whose page links to nothing signed with the scan's row (a report link, a "scan again" link), so
# that their row may be written later, in a batch (scan_log.py), when the scan changes nothing else.
LOGGED_LATER = (Scan.Outcome.GENUINE, Scan.Outcome.NOT_YET_VALID)


def read_scanned_token(token: str) -> signing.TokenClaims | None:
    """The claims of a scanned token, or None when it is not a genuine code (malformed, altered, unknown key)."""
    try:
        return signing.read_token(token)
    except signing.TokenError:
        return None


def scan_code(
    token: str,
    *,
    user=None,
    client_address: str = "",
    now: datetime.datetime | None = None,
    claims: signing.TokenClaims | None = _UNREAD,
    code: InspectionCode | None = None,
) -> ScanResult:
    """Verify a scanned token, log the scan, and start the task at the enterprise's first genuine scan.

    `claims`: the token as the caller has read it already (`read_scanned_token`; None: not genuine). `code`: the
    scanned code with its task as the scan card holds it (scan_card.py), current by the card's versions;
    otherwise it is read from the database. A scan that changes nothing and whose page links to nothing of its
    row goes to the scan log's stream when there is one (`ScanResult.scan` is then not saved yet)."""
    now = now or timezone.now()
    enterprise_id = (
        user.enterprise_id
        if user is not None and user.is_authenticated and user.role == Role.ENTERPRISE_CONTACT
        else None
    )
    digest = client_hash(client_address)
    if claims is _UNREAD:
        claims = read_scanned_token(token)
    if claims is None:
        scan = Scan.objects.create(
            scanned_at=now, outcome=Scan.Outcome.FORGED, enterprise_id=enterprise_id, client_hash=digest
        )
        return ScanResult(Scan.Outcome.FORGED, scan)
    if code is None:
        code = scan_card.code_with_task(claims.code_id)
    if code is None:
        # Signed by us but unknown: treated as forged, since no task stands behind it.
        scan = Scan.objects.create(
            scanned_at=now, outcome=Scan.Outcome.FORGED, enterprise_id=enterprise_id, client_hash=digest
        )
        return ScanResult(Scan.Outcome.FORGED, scan, claims=claims)
    outcome = _judge(code, claims, user, now)
    starts = (
        outcome == Scan.Outcome.GENUINE
        and enterprise_id == code.enterprise_id
        and code.task.status == Task.Status.NOTIFIED
    )
    if not starts:
        # Nothing else is written, so the log row needs no transaction of its own (most scans: anyone's
        # but the enterprise's, and the enterprise's after the first).
        scan = Scan(
            code=code, scanned_at=now, outcome=outcome, enterprise_id=enterprise_id, client_hash=digest
        )
        if outcome in LOGGED_LATER and settings.SCAN_LOG_STREAM:
            scan.log_id = scan_log.new_key()
            if scan_log.append(
                key=scan.log_id,
                code_id=code.pk,
                scanned_at=now,
                outcome=outcome,
                enterprise_id=enterprise_id,
                client_hash=digest,
            ):
                return ScanResult(outcome, scan, code=code, task=code.task, claims=claims, logged_later=True)
        scan.save(force_insert=True)
        _scan_event(code.task, scan)
        return ScanResult(outcome, scan, code=code, task=code.task, claims=claims)
    started = False
    with transaction.atomic():
        scan = Scan.objects.create(
            code=code, scanned_at=now, outcome=outcome, enterprise_id=enterprise_id, client_hash=digest
        )
        task = workflow.locked(code.task)
        if task.status == Task.Status.NOTIFIED:
            _start(user, task, "企业扫码核验", by="scan")
            code.task = task
            started = True
        _scan_event(code.task, scan)
    return ScanResult(outcome, scan, code=code, task=code.task, claims=claims, started_task=started)


def _scan_event(task: Task, scan: Scan) -> None:
    if workflow.LISTENERS:
        workflow.emit(
            "scan.recorded", task, {"scanned_at": scan.scanned_at.isoformat(), "outcome": scan.outcome}
        )


@transaction.atomic
def report_code(*, scan: Scan, contact_phone: str = "", description: str = "") -> CodeReport:
    """Anyone who scanned a code that failed verification may report it; the report is registered as a
    complaint (source 扫码举报, category 无码检查或检查码异常)."""
    if scan.outcome == Scan.Outcome.GENUINE:
        raise DomainError("该检查码核验通过，无需举报；如对检查有异议，可登录企业端提出陈述申辩或投诉")
    phone = contact_phone.strip()
    if phone and (not (phone.isascii() and phone.isdigit()) or len(phone) != 11):
        raise DomainError("联系电话请填写11位手机号码，或留空")
    report = CodeReport.objects.create(scan=scan, contact_phone=phone, description=description.strip()[:2000])
    audit.record(
        actor="扫码用户",
        action="code.reported",
        obj=report,
        after={"scan": scan.pk, "outcome": scan.outcome, "description": report.description},
    )
    # Into the complaint ledger in the same transaction: a report is never stored without its complaint.
    from jianchama.complaints.services import register_code_report

    register_code_report(report)
    return report


# --- The record, closing and cancelling --------------------------------------------------------------


@dataclass
class FindingInput:
    item: InspectionItem
    entry: str
    result: str
    note: str = ""


@dataclass
class EvidenceInput:
    kind: str
    file: UploadedFile


def _evidence_problems(files: Iterable[EvidenceInput]) -> list[str]:
    import os

    problems = []
    for evidence in files:
        name = evidence.file.name or ""
        extension = os.path.splitext(name)[1].lower()
        allowed = EVIDENCE_TYPES.get(extension)
        if allowed is None:
            problems.append(f"文件「{name}」类型不支持，请上传 JPG、PNG、PDF、MP3、M4A 或 MP4 文件")
            continue
        if evidence.file.size > EVIDENCE_MAX_BYTES:
            problems.append(f"文件「{name}」超过{EVIDENCE_MAX_BYTES // (1024 * 1024)}MB")
            continue
        if evidence.kind != allowed[0]:
            problems.append(
                f"文件「{name}」是{Evidence.Kind(allowed[0]).label}，与所选类型「{Evidence.Kind(evidence.kind).label if evidence.kind in Evidence.Kind.values else evidence.kind}」不符"
            )
            continue
        head = evidence.file.read(16)
        evidence.file.seek(0)
        if not any(head.startswith(magic) for magic in allowed[1]):
            problems.append(f"文件「{name}」的内容与扩展名不符，可能已损坏或不是所示类型")
    return problems


@files.removed_unless_committed
def record_result(
    actor,
    *,
    task: Task,
    outcome: str,
    summary: str,
    findings: Sequence[FindingInput],
    rectify_working_days: int | None = None,
    lenient: bool = False,
    lenient_note: str = "",
    improvement_advice: str = "",
    evidence: Sequence[EvidenceInput] = (),
    onsite_person_name: str = "",
    onsite_person_phone: str = "",
    occurred_at: datetime.datetime | None = None,
) -> InspectionRecord:
    """`occurred_at`: when the result was made on site, if it arrives later (offline app, API); backfill.py."""
    task = workflow.locked(task)
    if _inspector_of(actor, task) is None:
        raise PermissionDenied("只有本任务的执法人员可以录入检查结果")
    if task.status != Task.Status.IN_PROGRESS:
        raise InvalidTransition(
            f"任务{task}当前状态为「{task.get_status_display()}」，检查开始后方可录入结果"
        )
    now = timezone.now()
    problems = backfill.occurred_problems(occurred_at, now=now, what="检查结果")
    if not problems and occurred_at and task.started_at and occurred_at < task.started_at:
        problems.append(
            f"检查结果的形成时间（{chinese_datetime(occurred_at)}）早于开始检查的时间"
            f"（{chinese_datetime(task.started_at)}），请核对手机时间"
        )
    if outcome not in InspectionRecord.Outcome.values:
        problems.append("请选择检查结论")
    if not summary.strip():
        problems.append("请填写检查情况")
    task_items = set(task.items.all())
    covered = set()
    for finding in findings:
        if finding.item not in task_items:
            problems.append(f"「{finding.item.name}」不是本任务的检查事项")
        if finding.result not in Finding.Result.values:
            problems.append(f"请为「{finding.entry}」选择符合、不符合或不适用")
        if finding.result == Finding.Result.NOT_COMPLIANT and not finding.note.strip():
            problems.append(f"「{finding.entry}」不符合，请写明具体问题")
        covered.add(finding.item)
    missing = [item.name for item in task_items - covered]
    if missing:
        problems.append(f"以下检查事项尚无检查结果：{'、'.join(sorted(missing))}")
    non_compliant = any(f.result == Finding.Result.NOT_COMPLIANT for f in findings)
    if outcome == InspectionRecord.Outcome.NO_PROBLEM and non_compliant:
        problems.append("有不符合项时，检查结论不能为「未发现问题」")
    rectify_by = None
    if outcome == InspectionRecord.Outcome.RECTIFY:
        if not rectify_working_days or rectify_working_days < 1 or rectify_working_days > 60:
            problems.append("责令整改须写明整改期限（1至60个工作日）")
        else:
            rectify_by = add_working_days(
                timezone.localdate(occurred_at) if occurred_at else timezone.localdate(), rectify_working_days
            )
    if lenient and not lenient_note.strip():
        problems.append("适用首违不罚或轻微免罚的，请写明理由和依据")
    if lenient and outcome == InspectionRecord.Outcome.NO_PROBLEM:
        problems.append("未发现问题时不适用首违不罚")
    problems += _evidence_problems(evidence)
    onsite_person_name, onsite_person_phone = onsite_person_name.strip(), onsite_person_phone.strip()
    if onsite_person_phone and not PHONE_RE.fullmatch(onsite_person_phone):
        problems.append("现场负责人手机号请填写11位中国大陆手机号码（以1开头的11位数字）")
    if bool(onsite_person_name) != bool(onsite_person_phone):
        problems.append("现场负责人的姓名和手机号请一并填写（凭该手机号扫码查看结果并评议），或都不填")
    if len(onsite_person_name) > 50:
        problems.append("现场负责人姓名不超过50个字")
    raise_if(problems, "检查结果未保存")
    before = workflow.snapshot(task)
    record = InspectionRecord.objects.create(
        task=task,
        outcome=outcome,
        summary=summary.strip(),
        rectify_working_days=rectify_working_days if rectify_by else None,
        rectify_by=rectify_by,
        lenient=lenient,
        lenient_note=lenient_note.strip(),
        improvement_advice=improvement_advice.strip(),
        onsite_person_name=onsite_person_name,
        onsite_person_phone=onsite_person_phone,
        recorded_by=actor,
        occurred_at=occurred_at,
    )
    Finding.objects.bulk_create(
        Finding(record=record, item=f.item, entry=f.entry[:300], result=f.result, note=f.note.strip()[:500])
        for f in findings
    )
    for item in evidence:
        stored = Evidence.objects.create(
            record=record,
            kind=item.kind,
            file=item.file,
            original_name=(item.file.name or "")[:200],
            size=item.file.size,
        )
        files.track(stored.file)
    workflow.transition(task, Task.Status.RESULT_RECORDED)
    task.result_recorded_at = timezone.now()
    task.save(update_fields=["status", "result_recorded_at"])
    workflow.record(
        actor,
        "task.result_recorded",
        task,
        before,
        relations=before,
        outcome=outcome,
        rectify_by=rectify_by,
        findings=len(findings),
        evidence=len(evidence),
        **({"occurred_at": occurred_at, "received_at": now} if occurred_at else {}),
    )
    _tell_result(task, record)
    workflow.emit(
        "result.recorded",
        task,
        {
            "outcome": outcome,
            "rectify_by": rectify_by.isoformat() if rectify_by else None,
            "findings": len(findings),
        },
    )
    return record


@transaction.atomic
def close_task(actor, *, task: Task) -> Task:
    task = workflow.locked(task)
    if actor.role != Role.BODY_ADMIN or actor.body_id != task.lead_body_id:
        raise PermissionDenied("只有牵头执法单位负责人可以办结任务")
    before = workflow.snapshot(task)
    workflow.transition(task, Task.Status.CLOSED)
    task.closed_at = timezone.now()
    task.save(update_fields=["status", "closed_at"])
    workflow.record(actor, "task.closed", task, before, relations=before)
    return task


@transaction.atomic
def cancel_task(actor, *, task: Task, reason: str) -> Task:
    """Cancel before closing, with a reason; the code is revoked at once."""
    task = workflow.locked(task)
    if not can_cancel(actor, task):
        if task.status in (Task.Status.CLOSED, Task.Status.CANCELLED):
            raise InvalidTransition(f"任务{task}当前状态为「{task.get_status_display()}」，不能取消")
        raise PermissionDenied("只有牵头执法单位负责人（或草稿的创建人）可以取消任务")
    if not reason.strip():
        raise DomainError("请写明取消原因")
    before = workflow.snapshot(task)
    workflow.transition(task, Task.Status.CANCELLED)
    task.cancelled_at = timezone.now()
    task.cancel_reason = reason.strip()
    task.save(update_fields=["status", "cancelled_at", "cancel_reason"])
    workflow.record(actor, "task.cancelled", task, before, relations=before, reason=task.cancel_reason)
    code = InspectionCode.objects.select_for_update().filter(task=task).first()
    if code and code.status == InspectionCode.Status.ACTIVE:
        code.status = InspectionCode.Status.REVOKED
        code.revoked_at = task.cancelled_at
        code.revoke_reason = f"任务取消：{task.cancel_reason}"[:200]
        code.save(update_fields=["status", "revoked_at", "revoke_reason"])
        audit.record(actor=actor, action="code.revoked", obj=code, after={"reason": code.revoke_reason})
    if task.notified_at is not None:
        from jianchama.notifications.services import notify_enterprise

        notify_enterprise(
            enterprise=task.enterprise,
            event="task.cancelled",
            subject=f"检查取消：{task.lead_body.name}的检查任务{task.number}已取消",
            body=f"任务{task.number}已取消，原检查码作废。取消原因：{task.cancel_reason}。"
            "如有人仍持该检查码要求检查，企业有权拒绝，并可扫码举报。",
            payload={"task_number": task.number, "reason": task.cancel_reason},
            related=task,
        )
    return task


# --- Evaluation and statements -----------------------------------------------------------------------


def evaluate(actor, *, task: Task, scores: dict[str, int], comment: str = "") -> Evaluation:
    """The enterprise rates the inspection once, overall and by dimension."""
    task = Task.objects.get(pk=task.pk)
    if not _is_contact_of(actor, task):
        raise PermissionDenied("只有被检查企业的联系人可以评议本次检查")
    is_representative = bool(actor.phone) and _is_legal_representative(task, actor.phone)
    return _give_evaluation(
        task,
        scores,
        comment,
        audit_actor=actor,
        given_by=actor,
        given_as=Evaluation.GivenAs.LEGAL_REPRESENTATIVE if is_representative else Evaluation.GivenAs.CONTACT,
        giver_name=actor.full_name,
        giver_phone=actor.phone,
    )


def evaluate_by_phone(
    viewer: ResultViewer,
    *,
    task: Task,
    scores: dict[str, int],
    comment: str = "",
    now: datetime.datetime | None = None,
) -> Evaluation:
    """ "Scan again": the on-site person or the legal representative, whose phone an SMS code verified for this
    task (check_result_code), rates it once — without being a contact of the enterprise."""
    task = Task.objects.select_related("record").get(pk=task.pk)
    if viewer.task_id != task.pk:
        raise PermissionDenied("该手机号验证的是另一次检查，只能查看和评议那一次检查")
    if not scan_again_open(task, now):
        raise InvalidTransition("扫码查看和评议的期限已过")
    return _give_evaluation(
        task,
        scores,
        comment,
        audit_actor=f"扫码用户（{Evaluation.GivenAs(viewer.given_as).label}）",
        given_by=None,
        given_as=viewer.given_as,
        giver_name=viewer.name,
        giver_phone=viewer.phone,
    )


def _give_evaluation(task: Task, scores: dict[str, int], comment: str, *, audit_actor, **giver) -> Evaluation:
    if not task.is_completed:
        raise InvalidTransition("检查结果录入后方可评议")
    names = ["overall"] + [name for name, _ in Evaluation.DIMENSIONS]
    labels = dict(Evaluation.DIMENSIONS, overall="总体评价")
    problems = [
        f"请为「{labels[name]}」选择1至5分"
        for name in names
        if type(scores.get(name)) is not int or not 1 <= scores[name] <= 5
    ]
    raise_if(problems, "评议未提交")
    try:
        with transaction.atomic():
            evaluation = Evaluation.objects.create(
                task=task, comment=comment.strip()[:2000], **giver, **{n: scores[n] for n in names}
            )
            audit.record(
                actor=audit_actor,
                action="evaluation.given",
                obj=evaluation,
                after={"task": task.number, "given_as": evaluation.given_as, **scores},
            )
    except IntegrityError:
        raise DomainError("本次检查已评议过，每次检查只能评议一次") from None
    return evaluation


def may_see_evaluation_giver(user) -> bool:
    """Who gave a rating (legal representative, contact, on-site person) is for the supervisors only: never the
    inspected body, whose figures stay anonymous aggregates (F-26, EvaluationRelease)."""
    return user.is_authenticated and user.role == Role.SUPERVISOR


# --- "Scan again": the result and the evaluation by a phone verified by SMS ------------------------------


@dataclass(frozen=True)
class ResultViewer:
    """A phone an SMS code verified for one task's result: the on-site person the inspector named with the
    result, or the enterprise's legal representative. It grants that task's result and one evaluation, and
    nothing else: no account, no portal, no other task."""

    task_id: int
    phone: str
    given_as: str
    name: str


def _is_legal_representative(task: Task, phone: str) -> bool:
    return EnterpriseContact.objects.filter(
        enterprise_id=task.enterprise_id, kind=EnterpriseContact.Kind.LEGAL_REPRESENTATIVE, phone=phone
    ).exists()


def _result_viewer(task: Task, phone: str) -> ResultViewer | None:
    record = InspectionRecord.objects.filter(task=task).first()
    if record is not None and record.onsite_person_phone and record.onsite_person_phone == phone:
        return ResultViewer(task.pk, phone, Evaluation.GivenAs.ONSITE_PERSON, record.onsite_person_name)
    representative = EnterpriseContact.objects.filter(
        enterprise_id=task.enterprise_id, kind=EnterpriseContact.Kind.LEGAL_REPRESENTATIVE, phone=phone
    ).first()
    if representative is not None:
        return ResultViewer(task.pk, phone, Evaluation.GivenAs.LEGAL_REPRESENTATIVE, representative.name)
    return None


def _result_code_subject(task: Task) -> str:
    return f"task:{task.pk}"


def request_result_code(*, task: Task, phone: str, now: datetime.datetime | None = None) -> None:
    """Send an SMS code to the phone of the on-site person or the legal representative, for this task's result.
    Any other phone gets the same answer and no SMS (a code row that never matches), so the page never tells
    whose phone was named; the login codes' limits (cool-down, per hour) apply."""
    phone = (phone or "").strip()
    if not PHONE_RE.fullmatch(phone):
        raise DomainError("请输入11位中国大陆手机号码（以1开头的11位数字）")
    if not scan_again_open(task, now):
        raise InvalidTransition("扫码查看检查结果的期限已过，企业联系人可登录企业端查看")
    number = task.number.replace("{", "{{").replace("}", "}}")
    core_services.request_approval_code(
        phone=phone,
        purpose=LoginCode.Purpose.RESULT_VIEW,
        subject=_result_code_subject(task),
        text=f"【检查码】您正在查看检查任务{number}的结果并评议，验证码为 {{code}}，{{minutes}} 分钟内有效。请勿告诉他人。",
        send=_result_viewer(task, phone) is not None,
    )


def check_result_code(
    *, task: Task, phone: str, code: str, now: datetime.datetime | None = None
) -> ResultViewer:
    """Spend the SMS code; the verified phone may then see this one task's result and evaluate it once. Call
    outside any transaction (a wrong attempt is saved)."""
    phone = (phone or "").strip()
    if not PHONE_RE.fullmatch(phone):
        raise DomainError("请输入11位中国大陆手机号码（以1开头的11位数字）")
    if not scan_again_open(task, now):
        raise InvalidTransition("扫码查看检查结果的期限已过，企业联系人可登录企业端查看")
    core_services.check_approval_code(
        phone=phone, purpose=LoginCode.Purpose.RESULT_VIEW, subject=_result_code_subject(task), code=code
    )
    viewer = _result_viewer(task, phone)
    if viewer is None:  # cannot happen: such a phone's code never matches
        raise DomainError("验证码不正确")
    audit.record(
        actor=f"扫码用户（{Evaluation.GivenAs(viewer.given_as).label}）",
        action="task.result_viewed_by_phone",
        obj=task,
        after={"given_as": viewer.given_as},
    )
    return viewer


EVALUATION_FIGURES = ["overall"] + [name for name, _ in Evaluation.DIMENSIONS]


def _may_see_summary(user, body: EnforcementBody) -> bool:
    return (
        user.is_platform_admin
        or (user.role in (Role.INSPECTOR, Role.BODY_ADMIN) and user.body_id == body.pk)
        or (user.role == Role.CITY_REVIEWER and user.body_id in (body.pk, body.city_counterpart_id))
        or _sees_live_figures(user, body)
    )


def _sees_live_figures(user, body: EnforcementBody) -> bool:
    """The bureau's supervisors of the body's region (and platform administrators) see every rating as it
    comes; anyone else only the releases."""
    return user.is_platform_admin or (
        user.role == Role.SUPERVISOR
        and user.region_id is not None
        and body.region.path.startswith(user.region.path)
    )


def _body_evaluations(body: EnforcementBody):
    # A joint inspection's evaluation counts for every body that took part (a semi-join: no row twice).
    return Evaluation.objects.filter(Exists(TaskBody.objects.filter(task_id=OuterRef("task_id"), body=body)))


def release_evaluations(actor, *, body: EnforcementBody, now: datetime.datetime | None = None):
    """Release the body's figures if at least `evaluation_release_size()` ratings have come since its last
    release; returns the new release, or None. `actor` is "系统": a release is never asked for by anyone, it
    is due or not (checked by the monthly job and whenever the body reads its figures)."""
    size = evaluation_release_size()
    last = EvaluationRelease.objects.filter(body=body).order_by("-count").first()
    # The cheap check, done on every reading without a lock: are there `size` ratings newer than the last
    # release? It reads at most `size` rows (newest first by index), never the body's whole history.
    newer = _body_evaluations(body)
    if last is not None:
        newer = newer.filter(created_at__gt=last.released_at)
    if newer.order_by()[:size].count() < size:
        return None
    with transaction.atomic():
        # One release at a time per body: two made at once could differ by a single rating.
        EnforcementBody.objects.select_for_update().filter(pk=body.pk).first()
        last = EvaluationRelease.objects.filter(body=body).order_by("-count").first()
        figures = _body_evaluations(body).aggregate(
            count=Count("pk"),
            first=Min("created_at"),
            **{name: Avg(name) for name in EVALUATION_FIGURES},
        )
        previous = last.count if last else 0
        if figures["count"] - previous < size:
            return None
        now = now or timezone.now()
        release = EvaluationRelease.objects.create(
            body=body,
            released_at=now,
            # The first release starts at the month of the first rating, not its day.
            period_start=timezone.localdate(last.released_at)
            if last
            else timezone.localdate(figures["first"]).replace(day=1),
            period_end=timezone.localdate(now),
            count=figures["count"],
            new_count=figures["count"] - previous,
            **{name: Decimal(str(round(figures[name], 2))) for name in EVALUATION_FIGURES},
        )
        audit.record(
            actor=actor,
            action="evaluation.released",
            obj=release,
            after={"count": release.count, "new_count": release.new_count},
        )
        # What the body's page shows of a release, and nothing finer (F-26).
        events.emit(
            "evaluation.released",
            body_id=body.pk,
            subject={"type": "evaluation_release", "id": release.pk},
            data={
                "count": release.count,
                "new_count": release.new_count,
                "period_start": release.period_start.isoformat(),
                "period_end": release.period_end.isoformat(),
                **{name: float(getattr(release, name)) for name in EVALUATION_FIGURES},
            },
        )
    return release


def _release_figures(release: EvaluationRelease) -> dict[str, Any]:
    return {name: float(getattr(release, name)) for name in EVALUATION_FIGURES} | {
        "count": release.count,
        "released_at": release.released_at,
        "period_start": release.period_start,
        "period_end": release.period_end,
        "live": False,
    }


def evaluation_summary(user, *, body: EnforcementBody) -> dict[str, Any] | None:
    """A body's evaluations as averages, never over fewer than five ratings. The body (and anyone but the
    region's supervisors) gets its latest release, so that reading the figures before and after one more
    rating shows nothing of it; supervisors get the live figures. None when there is nothing to show."""
    if not user.is_authenticated:
        raise PermissionDenied("请先登录")
    if not _may_see_summary(user, body):
        raise PermissionDenied("只能查看本单位（或本人监督范围内单位）的评议汇总")
    if _sees_live_figures(user, body):
        figures = _body_evaluations(body).aggregate(
            count=Count("pk"), **{name: Avg(name) for name in EVALUATION_FIGURES}
        )
        if figures["count"] < EVALUATION_MIN_GROUP:
            return None
        return {name: round(figures[name], 2) for name in EVALUATION_FIGURES} | {
            "count": figures["count"],
            "live": True,
        }
    release = release_evaluations("系统", body=body) or (
        EvaluationRelease.objects.filter(body=body).order_by("-count").first()
    )
    return _release_figures(release) if release else None


def evaluation_releases(user, *, body: EnforcementBody) -> list[EvaluationRelease]:
    """The body's releases, newest first (the history of what it has been shown)."""
    if not user.is_authenticated:
        raise PermissionDenied("请先登录")
    if not _may_see_summary(user, body):
        raise PermissionDenied("只能查看本单位（或本人监督范围内单位）的评议汇总")
    return list(EvaluationRelease.objects.filter(body=body).order_by("-count"))


@transaction.atomic
def file_statement(actor, *, task: Task, text: str) -> Statement:
    task = Task.objects.get(pk=task.pk)
    if not _is_contact_of(actor, task):
        raise PermissionDenied("只有被检查企业的联系人可以提出陈述申辩")
    if not task.is_completed:
        raise InvalidTransition("检查结果录入后方可对结果提出陈述申辩")
    if not text.strip():
        raise DomainError("请填写陈述申辩的内容")
    statement = Statement.objects.create(task=task, author=actor, text=text.strip()[:5000])
    audit.record(
        actor=actor,
        action="statement.filed",
        obj=statement,
        after={"task": task.number, "text": statement.text},
    )
    _tell_heads_of_statement(task, statement)
    return statement


@transaction.atomic
def reply_statement(actor, *, statement: Statement, reply: str) -> Statement:
    statement = Statement.objects.select_for_update().select_related("task").get(pk=statement.pk)
    if actor.role != Role.BODY_ADMIN or not workflow.is_body_member(actor, statement.task):
        raise PermissionDenied("只有参与检查的执法单位负责人可以答复陈述申辩")
    if statement.replied_at:
        raise DomainError("该陈述申辩已答复")
    if not reply.strip():
        raise DomainError("请填写答复内容")
    statement.reply, statement.replied_by, statement.replied_at = reply.strip(), actor, timezone.now()
    statement.save(update_fields=["reply", "replied_by", "replied_at"])
    audit.record(actor=actor, action="statement.replied", obj=statement, after={"reply": statement.reply})
    return statement


# --- Notices of the workflow (on commit, through the notifications app's channels) ------------------------


def _link(path: str) -> dict[str, str]:
    """The page a notice leads to: the path for the inbox's button, the full address for an SMS or the app."""
    return {"link": path, "url": f"{settings.CODE_BASE_URL.rstrip('/')}{path}"}


def tell_task_team(actor, *, task: Task, event: str, subject: str, body: str) -> int:
    """Tell the task's people (its inspectors with an account, and whoever drafted it) in their inboxes, the
    actor excepted. Returns how many were told."""
    from django.urls import reverse

    from jianchama.core.models import User
    from jianchama.notifications.services import notify_user

    people = User.objects.filter(is_active=True).filter(
        pk__in=[
            task.created_by_id,
            *task.inspectors.filter(user__isnull=False).values_list("user_id", flat=True),
        ]
    )
    link = _link(reverse("inspections:task_detail", args=[task.pk]))
    told = 0
    for user in people.exclude(pk=getattr(actor, "pk", None)).order_by("pk"):
        notify_user(user=user, event=event, subject=subject, body=body, payload=link, related=task)
        told += 1
    return told


def _tell_result(task: Task, record: InspectionRecord) -> None:
    """The enterprise is told its result is recorded, with the way to see it, evaluate and state its case."""
    from django.urls import reverse

    from jianchama.notifications.services import notify_enterprise

    link = _link(reverse("portal:task_detail", args=[task.pk]))
    lines = [
        f"{task.lead_body.name}对贵单位的检查（任务编号{task.number}）已录入检查结果：{record.get_outcome_display()}。",
    ]
    if record.rectify_by:
        lines.append(f"整改期限：{chinese_date(record.rectify_by)}。")
    lines.append(f"请登录企业端查看检查结果并对本次检查进行评议：{link['url']}")
    lines.append("对检查结果有异议的，可在企业端提出陈述申辩，也可依法申请行政复议或提起行政诉讼。")
    notify_enterprise(
        enterprise=task.enterprise,
        event="task.result_recorded",
        subject=f"检查结果：{task.lead_body.name}的检查已录入结果（{record.get_outcome_display()}）",
        body="\n".join(lines),
        payload={
            "task_number": task.number,
            "outcome": record.outcome,
            "rectify_by": record.rectify_by,
            **link,
        },
        related=task,
    )


def _tell_heads_of_statement(task: Task, statement: Statement) -> None:
    """The heads of the bodies taking part are told that the enterprise filed a statement, to answer it."""
    from django.urls import reverse

    from jianchama.core.models import User
    from jianchama.notifications.services import notify_user

    heads = User.objects.people().filter(role=Role.BODY_ADMIN, is_active=True, body__in=task.bodies.all())
    link = _link(reverse("inspections:task_detail", args=[task.pk]) + "#statements")
    excerpt = statement.text if len(statement.text) <= 200 else statement.text[:199] + "…"
    for head in heads.order_by("pk"):
        notify_user(
            user=head,
            event="statement.filed",
            subject=f"{task.enterprise.name}对检查任务{task}提出陈述申辩",
            body=f"{task.enterprise.name}对检查任务{task}的检查结果提出陈述申辩，请及时答复：\n{excerpt}",
            payload=link,
            related=statement,
        )
