"""The inspector's field app (F-44): what his phone keeps for the days ahead, the code's tokens prefetched for
the day, and the acts done on site (code shown, check-in, result) sent back once the network returns.

The app works offline: its service worker keeps the visits (`field_visits`) and the tokens (`code_series`); the
phone queues each act with its own UUID and time and sends them in order through `sync_act`, which applies
them with the same services as the online pages (`services.check_in`, `services.record_result`) and their
backfill rule, once: a retried sync finds the act's UUID and changes nothing.
"""

from __future__ import annotations

import datetime
import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import Exists, OuterRef, Prefetch
from django.utils import timezone

from jianchama.core import audit, files
from jianchama.core.errors import DomainError, PermissionDenied, raise_if
from jianchama.core.formats import chinese_date
from jianchama.core.roles import Role

from . import backfill, documents, qr, services, signing, workflow
from .models import FieldAct, InspectionCode, InspectionRecord, OnsiteDocument, Task

AUDIT_ACTIONS = {"field.code_shown": "出示检查码（现场）"}

EARTH_RADIUS_M = 6_371_008.8  # mean radius (IUGG)


def may_use_field_app(user) -> bool:
    return user.is_authenticated and user.role == Role.INSPECTOR and user.body_id is not None


def _require_inspector(user) -> None:
    if not may_use_field_app(user):
        raise PermissionDenied("现场执法应用只供执法人员使用：请用本人的执法人员账号登录")


def distance_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle distance in metres (haversine): exact enough at the scale of a street."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def act_distance(act: FieldAct, enterprise) -> int | None:
    """Metres between where an act was done and the enterprise's registered position, if both are known."""
    if not act.has_position or enterprise.latitude is None or enterprise.longitude is None:
        return None
    return round(
        distance_m(
            float(act.latitude), float(act.longitude), float(enterprise.latitude), float(enterprise.longitude)
        )
    )


# --- What the phone keeps -------------------------------------------------------------------------------


def _my_visits(user, today: datetime.date):
    until = today + datetime.timedelta(days=settings.FIELD_VISIT_DAYS)
    return (
        Task.objects.visible_to(user)
        .filter(
            inspectors__user=user,
            window_end__gte=today,
            window_start__lte=until,
            status__in=[Task.Status.NOTIFIED, Task.Status.IN_PROGRESS, Task.Status.RESULT_RECORDED],
        )
        .select_related("enterprise", "lead_body", "code")
        .order_by("window_start", "pk")
        .distinct()
    )


def field_visits(user, *, now: datetime.datetime | None = None) -> dict[str, Any]:
    """The inspector's visits from today to FIELD_VISIT_DAYS ahead, with what the phone needs to record them
    offline (items and their checklists). Four queries, whatever the number of visits."""
    _require_inspector(user)
    now = now or timezone.now()
    today = timezone.localdate(now)
    signed = OnsiteDocument.objects.filter(task=OuterRef("pk"), kind=OnsiteDocument.Kind.RECORD)
    tasks = list(
        _my_visits(user, today)
        .select_related("record")
        .annotate(record_signed=Exists(signed))
        .prefetch_related(Prefetch("items"), Prefetch("inspectors", to_attr="team"))
    )
    visits = []
    for task in tasks:
        code = getattr(task, "code", None)
        record = getattr(task, "record", None)
        enterprise = task.enterprise
        visits.append(
            {
                "id": task.pk,
                "number": task.number or "",
                "status": task.status,
                "status_label": task.get_status_display(),
                "mode": task.get_mode_display(),
                "kind": task.get_kind_display(),
                "window_start": task.window_start.isoformat(),
                "window_end": task.window_end.isoformat(),
                "today": task.window_start <= today <= task.window_end,
                "lead_body": task.lead_body.name,
                "enterprise": {
                    "name": enterprise.name,
                    "address": enterprise.address,
                    "latitude": float(enterprise.latitude) if enterprise.latitude is not None else None,
                    "longitude": float(enterprise.longitude) if enterprise.longitude is not None else None,
                },
                "team": [inspector.name for inspector in task.team],
                # Who signs the on-site record on this phone: every inspector of the task (F-45).
                "inspectors": [
                    {"id": inspector.pk, "name": inspector.name}
                    for inspector in sorted(task.team, key=lambda inspector: inspector.pk)
                ],
                "record_signed": task.record_signed,
                "onsite_person": record.onsite_person_name if record else "",
                "code_active": bool(code and code.status == InspectionCode.Status.ACTIVE),
                "items": [
                    {
                        "id": item.pk,
                        "name": item.name,
                        "entries": [
                            {"name": f"f_{item.pk}_{index}", "label": entry}
                            for index, entry in enumerate(item.checklist or [item.name])
                        ],
                    }
                    for item in task.items.all()
                ],
            }
        )
    return {
        "fetched_at": now.isoformat(),
        "today": today.isoformat(),
        "days": settings.FIELD_VISIT_DAYS,
        "outcomes": [{"value": v, "label": label} for v, label in InspectionRecord.Outcome.choices],
        "visits": visits,
    }


def prefetch_slots(now: datetime.datetime, day_end: datetime.datetime) -> int:
    """How many slots to prefetch from `now`: FIELD_CODE_PREFETCH_COUNT at most, covering at most
    FIELD_CODE_PREFETCH_HOURS, and never past the end of the visit's last day."""
    slot = slot_seconds()
    start = signing.slot_start(now, slot)
    horizon = min(now + datetime.timedelta(hours=settings.FIELD_CODE_PREFETCH_HOURS), day_end)
    if horizon <= start:
        return 0
    return min(settings.FIELD_CODE_PREFETCH_COUNT, math.ceil((horizon - start).total_seconds() / slot))


def slot_seconds() -> int:
    # Never longer than a token shown online: a prefetched token is no more valuable to a thief.
    return max(1, min(settings.FIELD_CODE_SLOT_SECONDS, settings.CODE_TOKEN_TTL_SECONDS))


def code_series(user, *, now: datetime.datetime | None = None) -> dict[str, Any]:
    """For each visit of today whose code the inspector may show: one token per slot from now on, with its
    QR as an SVG, so the phone shows the slot's code offline without a QR library. Tokens are signed here and
    stored nowhere; the scan page judges the code's state when one is read (revoked or cancelled: refused)."""
    _require_inspector(user)
    now = now or timezone.now()
    today = timezone.localdate(now)
    slot = slot_seconds()
    tomorrow = timezone.make_aware(
        datetime.datetime.combine(today + datetime.timedelta(days=1), datetime.time())
    )
    codes = []
    for task in _my_visits(user, today).filter(window_start__lte=today).prefetch_related("inspectors"):
        if not services.can_show_code(user, task):
            continue
        code = task.code
        day_end = min(
            tomorrow,
            timezone.make_aware(
                datetime.datetime.combine(code.valid_until + datetime.timedelta(days=1), datetime.time())
            ),
        )
        series = signing.slot_tokens(
            code.public_id, start=now, count=prefetch_slots(now, day_end), slot_seconds=slot
        )
        codes.append(
            {
                "task": task.pk,
                "tokens": [
                    {
                        "not_before": int(start.timestamp()),
                        "not_after": int(start.timestamp()) + slot,
                        "url": signing.code_url(token),
                        "svg": qr.qr_svg_image(signing.qr_content(token)),
                    }
                    for start, token in series
                ],
            }
        )
    return {"fetched_at": now.isoformat(), "slot_seconds": slot, "codes": codes}


# --- Acts sent back ---------------------------------------------------------------------------------------


@dataclass
class Position:
    allowed: bool = False
    latitude: Decimal | None = None
    longitude: Decimal | None = None
    accuracy_m: int | None = None


@dataclass
class SyncOutcome:
    act: FieldAct
    duplicate: bool
    message: str


def parse_position(allowed: str, latitude: str, longitude: str, accuracy: str) -> Position:
    """A position as the phone sends it; out of range or half given is refused, not guessed."""
    position = Position(allowed=allowed in ("1", "true", "on"))
    if not (latitude or longitude):
        return position
    try:
        lat, lng = Decimal(latitude), Decimal(longitude)
        acc = round(float(accuracy)) if accuracy else None
    except (ArithmeticError, ValueError) as error:
        raise DomainError("定位数据格式不正确：纬度、经度须为数字") from error
    if not (-90 <= lat <= 90 and -180 <= lng <= 180) or (acc is not None and not 0 <= acc <= 1_000_000):
        raise DomainError("定位数据超出范围：纬度须在-90至90之间，经度在-180至180之间")
    position.latitude = lat.quantize(Decimal("0.000001"))
    position.longitude = lng.quantize(Decimal("0.000001"))
    position.accuracy_m = acc
    return position


def parse_client_id(text: str) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except (ValueError, AttributeError, TypeError) as error:
        raise DomainError("缺少或无效的操作编号（client_id），请更新现场执法应用后重试") from error


def parse_occurred_at(text: str) -> datetime.datetime:
    try:
        when = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, AttributeError) as error:
        raise DomainError("缺少或无效的操作时间（occurred_at）") from error
    if when.tzinfo is None:
        raise DomainError("操作时间须带时区")
    return when


def _refusal(task: Task) -> str | None:
    """The plain reason a visit no longer takes acts, whatever the act: cancelled, or its code revoked."""
    if task.status == Task.Status.CANCELLED:
        when = chinese_date(timezone.localdate(task.cancelled_at)) if task.cancelled_at else ""
        return (
            f"任务{task.number or task.pk}已取消（{when}，原因：{task.cancel_reason}），检查码已作废，"
            "这条离线记录不能提交；记录仍保存在手机上，可导出交执法单位处理"
        )
    code = getattr(task, "code", None)
    if code is not None and code.status == InspectionCode.Status.REVOKED:
        return (
            f"任务{task.number or task.pk}的检查码已作废（{code.revoke_reason}），这条离线记录不能提交；"
            "记录仍保存在手机上，可导出交执法单位处理"
        )
    return None


def _existing(client_id: uuid.UUID, actor, kind: str, task: Task) -> SyncOutcome | None:
    act = FieldAct.objects.filter(client_id=client_id).first()
    if act is None:
        return None
    if act.user_id != actor.pk or act.task_id != task.pk or act.kind != kind:
        raise DomainError("操作编号与已提交的另一条记录重复，请勿修改手机上的记录后重发")
    return SyncOutcome(act, duplicate=True, message="此前已同步，未重复记录")


def _store(actor, *, client_id, task, kind, occurred_at, position: Position) -> FieldAct:
    return FieldAct.objects.create(
        client_id=client_id,
        task=task,
        kind=kind,
        user=actor,
        occurred_at=occurred_at,
        location_allowed=position.allowed,
        latitude=position.latitude,
        longitude=position.longitude,
        accuracy_m=position.accuracy_m,
    )


@files.removed_unless_committed  # a transaction, and the photos and PDFs it wrote removed if it rolls back
def sync_act(
    actor,
    *,
    client_id: uuid.UUID,
    task: Task,
    kind: str,
    occurred_at: datetime.datetime,
    position: Position,
    result: dict[str, Any] | None = None,
    record_signing: dict[str, Any] | None = None,
) -> SyncOutcome:
    """Apply one act done on the phone, once. The task's row is locked first, so two copies of the same act
    sent at once wait for each other and the second finds the first.

    `result`: the keyword arguments of `services.record_result` for a result; `record_signing`: those of
    `documents.sign_onsite_record` for the on-site record signed on the phone (its time is `occurred_at`)."""
    _require_inspector(actor)
    task = workflow.locked(task)
    if kind not in FieldAct.Kind.values:
        raise DomainError("未知的现场操作类型")
    existing = _existing(client_id, actor, kind, task)
    if existing is not None:
        return existing
    if not task.inspectors.filter(user=actor).exists():
        raise PermissionDenied("只有本任务的执法人员可以提交本任务的现场记录")
    refusal = _refusal(task)
    if refusal:
        raise DomainError(refusal)
    message = "已同步"
    if kind == FieldAct.Kind.CODE_SHOWN:
        # The act itself is the record (亮码即定位); its time passes the same backfill rule as the others.
        raise_if(backfill.occurred_problems(occurred_at, now=timezone.now(), what="出示检查码"), "记录未保存")
    elif kind == FieldAct.Kind.CHECK_IN:
        if task.status == Task.Status.NOTIFIED:
            services.check_in(actor, task=task, occurred_at=occurred_at)
        elif task.status == Task.Status.IN_PROGRESS:
            # The enterprise's scan (or a team-mate's check-in) started the visit already; this check-in is
            # still the inspector's arrival, kept with its time and position.
            message = "检查已开始（企业已扫码或同组执法人员已签到），本次签到已记录"
        else:
            raise DomainError(
                f"任务{task.number or task.pk}当前状态为「{task.get_status_display()}」，不能签到；"
                "记录仍保存在手机上，可导出"
            )
    elif kind == FieldAct.Kind.SIGN_RECORD:
        made = documents.sign_onsite_record(actor, task=task, signed_at=occurred_at, **(record_signing or {}))
        message = "已签署并送达企业：" + "、".join(f"《{d.get_kind_display()}》{d.number}" for d in made)
    else:
        services.record_result(actor, task=task, occurred_at=occurred_at, **(result or {}))
    act = _store(actor, client_id=client_id, task=task, kind=kind, occurred_at=occurred_at, position=position)
    if kind == FieldAct.Kind.CODE_SHOWN:
        audit.record(
            actor=actor,
            action="field.code_shown",
            obj=task,
            after={
                "occurred_at": occurred_at.isoformat(),
                "location_allowed": position.allowed,
                "latitude": str(position.latitude) if position.latitude is not None else None,
                "longitude": str(position.longitude) if position.longitude is not None else None,
                "accuracy_m": position.accuracy_m,
            },
        )
    return SyncOutcome(act, duplicate=False, message=message)


def acts_of(task: Task) -> Sequence[FieldAct]:
    """The task's field acts for its timeline, each with its distance from the enterprise (metres or None)."""
    acts = list(task.field_acts.select_related("user").order_by("occurred_at", "pk"))
    for act in acts:
        act.distance_m = act_distance(act, task.enterprise)
        act.late = backfill.is_late(act.occurred_at, act.received_at)
    return acts
