"""The inspections part of the integration API (F-29): tasks, their code, check-in, result, scans and the
evaluation releases a body may see. Each operation parses, calls the same service the pages call, and
answers; the client acts as its service user (integrations/services.py), so `visible_to` scopes it exactly as
the body's staff. Mounted by jianchama/api.py under /api/v1/."""

from __future__ import annotations

import base64
import binascii
import contextlib
import datetime
import json
from typing import Literal

from django.db import transaction
from django.db.models import Prefetch, Q
from django.http import Http404
from django.utils import timezone
from ninja import File, Form, Query, Router, Schema, Status
from ninja.files import UploadedFile
from pydantic import Field, ValidationError

from jianchama.core import audit
from jianchama.core.errors import PermissionDenied
from jianchama.registry import uscc as uscc_rules
from jianchama.registry.models import Certificate, EnforcementBody, Enterprise, InspectionItem

from . import frequency, qr, services, signing
from .models import (
    EvaluationRelease,
    Evidence,
    Finding,
    InspectionRecord,
    Scan,
    Task,
    TaskBody,
    TriggerSituation,
)

router = Router(tags=["检查任务"])

MAX_PAGE = 100


def require(request, scope: str) -> None:
    if not request.auth.has_scope(scope):
        raise PermissionDenied(f"该接口客户端没有「{scope}」权限，请本单位管理员在接口客户端设置中授予")


def refuse(field: str, message: str):
    from jianchama.integrations.problems import Problem

    raise Problem(422, "refused", message, [{"field": field, "message": message}])


# --- Schemas ----------------------------------------------------------------------------------------------

KindLiteral = Literal[tuple(Task.Kind.values)]  # type: ignore[valid-type]
ModeLiteral = Literal[tuple(Task.Mode.values)]  # type: ignore[valid-type]
StatusLiteral = Literal[tuple(Task.Status.values)]  # type: ignore[valid-type]
OutcomeLiteral = Literal[tuple(InspectionRecord.Outcome.values)]  # type: ignore[valid-type]
ResultLiteral = Literal[tuple(Finding.Result.values)]  # type: ignore[valid-type]
EvidenceKindLiteral = Literal[tuple(Evidence.Kind.values)]  # type: ignore[valid-type]


# The task of the operation's examples: as created, and created and submitted in one request.
_TASK_EXAMPLE = {
    "enterprise_uscc": "91310116MA1JXXXX0X",
    "kind": "routine",
    "mode": "on_site",
    "item_codes": ["SC-001"],
    "inspector_certificates": ["31000000001", "31000000002"],
    "legal_basis": "《中华人民共和国安全生产法》第六十五条",
    "window_start": "2026-12-07",
    "window_end": "2026-12-11",
    "plan_number": "金山检计备〔2026〕3号",
}


class TaskIn(Schema):
    enterprise_uscc: str = Field(
        description="检查对象的统一社会信用代码（18位）", min_length=1, max_length=30
    )
    kind: KindLiteral = Field(
        description="检查类型：random 双随机抽查、special 专项、routine 日常、其余为无计划检查"
    )
    mode: ModeLiteral = Field("on_site", description="检查方式：on_site 现场检查，remote 非现场检查")
    item_codes: list[str] = Field(description="检查事项编码（须在已公布的检查事项清单中）", max_length=50)
    inspector_certificates: list[str] = Field(
        description="执法人员的行政执法证件编号，不少于两人", max_length=20
    )
    legal_basis: str = Field(description="检查依据", max_length=2000)
    window_start: datetime.date = Field(description="计划检查日期起")
    window_end: datetime.date = Field(description="计划检查日期止（跨度不超过90天）")
    joint_body_codes: list[str] = Field([], description="联合检查的其他执法单位编码", max_length=10)
    plan_number: str | None = Field(None, description="有计划检查引用的检查计划备案编号", max_length=40)
    draw_id: int | None = Field(None, description="随机抽取的编号（双随机抽查）", ge=1, le=2**62)
    trigger_situation_code: str | None = Field(None, description="触发式检查的启动情形代码", max_length=32)
    reason: str = Field("", description="无计划检查的启动理由", max_length=2000)
    evidence: str = Field("", description="无计划检查的证据材料说明", max_length=2000)
    is_emergency: bool = Field(False, description="紧急检查（可先行开始，事后一个工作日内补批）")
    submit: bool = Field(
        False,
        description=(
            "创建后随即提交审批（含频次检查），与 POST /tasks/{number}/submit 相同，在同一事务中完成："
            "提交被频次规则拒绝时任务不创建，返回与提交接口相同的 422"
        ),
    )
    justification: str = Field(
        "", description="随即提交时：超频次检查的理由（频次规则要求时必填）", max_length=2000
    )
    exemption: str = Field(
        "", description="随即提交时：主张的频次豁免情形代码（如 complaint）", max_length=20
    )

    model_config = {
        "json_schema_extra": {
            "examples": [_TASK_EXAMPLE, {**_TASK_EXAMPLE, "submit": True, "justification": ""}]
        }
    }


class BodyOut(Schema):
    code: str = Field(description="执法单位编码")
    name: str = Field(description="执法单位名称")


class InspectorOut(Schema):
    name: str = Field(description="姓名")
    certificate: str = Field(description="执法证件编号")


class BreachOut(Schema):
    rule: int = Field(description="频次规则编号")
    name: str = Field(description="规则名称")
    action: str = Field(description="规则的处理方式：refuse 不予提交、justify 须说明理由、warn 提示")
    count: int = Field(description="规则计入的此前检查次数")
    limit: int = Field(description="规则上限")
    window: list[str] = Field(description="规则统计的日期窗口")
    earlier: list[dict] = Field(description="计入的此前检查：任务编号、日期、执法单位")
    exempted_by: str = Field(description="豁免该规则的情形（如有）")
    message: str = Field(description="说明")


class TaskOut(Schema):
    number: str = Field(description="任务编号")
    status: StatusLiteral = Field(description="状态")
    status_label: str = Field(description="状态（中文）")
    kind: str = Field(description="检查类型")
    mode: str = Field(description="检查方式")
    enterprise_uscc: str = Field(description="检查对象统一社会信用代码")
    enterprise_name: str = Field(description="检查对象名称")
    lead_body: BodyOut = Field(description="牵头执法单位")
    bodies: list[BodyOut] = Field(description="参与的执法单位")
    inspectors: list[InspectorOut] = Field(description="执法人员")
    item_codes: list[str] = Field(description="检查事项编码")
    legal_basis: str = Field(description="检查依据")
    plan_number: str | None = Field(description="引用的检查计划备案编号")
    window_start: datetime.date = Field(description="计划检查日期起")
    window_end: datetime.date = Field(description="计划检查日期止")
    is_emergency: bool = Field(description="紧急检查")
    created_at: datetime.datetime = Field(description="创建时间")
    submitted_at: datetime.datetime | None = Field(description="提交时间")
    approved_at: datetime.datetime | None = Field(description="批准时间")
    started_at: datetime.datetime | None = Field(description="开始检查时间（现场发生的时间）")
    result_recorded_at: datetime.datetime | None = Field(description="结果录入时间")
    closed_at: datetime.datetime | None = Field(description="办结时间")
    cancelled_at: datetime.datetime | None = Field(description="取消时间")
    cancel_reason: str = Field(description="取消原因")
    frequency: list[BreachOut] = Field(description="提交时频次检查的结果（含提示与被豁免的规则）")
    frequency_justification: str = Field(description="超频次检查的理由")


class TaskPage(Schema):
    items: list[TaskOut] = Field(description="本页任务，按创建时间倒序")
    next_cursor: str | None = Field(description="下一页的游标；为空表示没有更多")


class SubmitIn(Schema):
    justification: str = Field("", description="超频次检查的理由（频次规则要求时必填）", max_length=2000)
    exemption: str = Field("", description="主张的频次豁免情形代码（如 complaint）", max_length=20)

    model_config = {"json_schema_extra": {"examples": [{"justification": "", "exemption": ""}]}}


class CancelIn(Schema):
    reason: str = Field(description="取消原因", min_length=1, max_length=1000)

    model_config = {"json_schema_extra": {"examples": [{"reason": "企业已停业，无需检查"}]}}


class CheckInIn(Schema):
    inspector_certificate: str = Field(
        description="签到的执法人员的执法证件编号（须为本任务的执法人员）", max_length=32
    )
    occurred_at: datetime.datetime | None = Field(
        None, description="现场签到的实际时间（离线补录时填写，带时区；不填为当前时间）"
    )

    model_config = {
        "json_schema_extra": {"examples": [{"inspector_certificate": "31000000001", "occurred_at": None}]}
    }


class FindingIn(Schema):
    item_code: str = Field(description="检查事项编码", max_length=32)
    entry: str = Field(description="检查内容（检查表条目）", min_length=1, max_length=300)
    result: ResultLiteral = Field(description="compliant 符合、not_compliant 不符合、not_applicable 不适用")
    note: str = Field("", description="不符合时写明具体问题", max_length=500)


class ResultIn(Schema):
    inspector_certificate: str = Field(description="录入结果的执法人员的执法证件编号", max_length=32)
    outcome: OutcomeLiteral = Field(description="检查结论")
    summary: str = Field(description="检查情况", min_length=1, max_length=5000)
    findings: list[FindingIn] = Field(description="每项检查内容的结果", max_length=500)
    rectify_working_days: int | None = Field(None, description="责令整改的期限（工作日，1至60）", ge=1, le=60)
    lenient: bool = Field(False, description="适用首违不罚或轻微免罚")
    lenient_note: str = Field("", description="首违不罚的理由和依据", max_length=2000)
    improvement_advice: str = Field("", description="改进建议", max_length=2000)
    onsite_person_name: str = Field("", description="企业现场负责人姓名", max_length=50)
    onsite_person_phone: str = Field("", description="企业现场负责人手机号", max_length=20)
    evidence_kinds: list[EvidenceKindLiteral] = Field(
        [], description="各证据文件的类型，与上传的 evidence 文件一一对应：photo、document、audio、video"
    )
    occurred_at: datetime.datetime | None = Field(
        None, description="结果在现场形成的实际时间（离线补录时填写，带时区）"
    )


class CodeOut(Schema):
    token: str = Field(description="当前检查码令牌（数分钟内有效，过期后重新获取）")
    url: str = Field(description="扫码打开的网址")
    qr_content: str = Field(description="二维码内容（大写形式，码更小）")
    svg: str = Field(description="二维码 SVG")
    png_base64: str = Field(description="二维码 PNG（Base64）")
    expires_in: int = Field(description="令牌有效秒数")


class ScanOut(Schema):
    task_number: str = Field(description="任务编号")
    scanned_at: datetime.datetime = Field(description="扫码时间")
    outcome: str = Field(description="扫码结果代码")
    outcome_label: str = Field(description="扫码结果（中文）")


class ScanPage(Schema):
    items: list[ScanOut] = Field(description="扫码记录，按时间倒序")
    next_cursor: str | None = Field(description="下一页的游标")


class ReleaseOut(Schema):
    released_at: datetime.datetime = Field(description="发布时间")
    period_start: datetime.date = Field(description="期间起")
    period_end: datetime.date = Field(description="期间止")
    count: int = Field(description="累计评议数")
    new_count: int = Field(description="本次新增评议数（不少于5条）")
    overall: float = Field(description="总体评价（1至5）")
    certificate_shown: float = Field(description="出示执法证件")
    rights_told: float = Field(description="告知权利")
    conduct: float = Field(description="文明执法")
    efficiency: float = Field(description="检查效率")
    integrity: float = Field(description="廉洁自律")


class TaskFilters(Schema):
    status: StatusLiteral | None = Field(None, description="按状态筛选")
    enterprise_uscc: str | None = Field(None, description="按检查对象统一社会信用代码筛选", max_length=30)
    window_from: datetime.date | None = Field(None, description="计划检查日期止不早于此日")
    window_to: datetime.date | None = Field(None, description="计划检查日期起不晚于此日")
    updated_since: datetime.datetime | None = Field(
        None, description="此时间之后有变化（创建、提交、批准、开始、录入、办结、取消）的任务"
    )
    cursor: str | None = Field(None, description="上一页返回的 next_cursor", max_length=200)
    limit: int = Field(50, description="每页条数（1至100）", ge=1, le=MAX_PAGE)


# --- Helpers ---------------------------------------------------------------------------------------------


def _task_out(task: Task, *, bodies=None, inspectors=None, item_codes=None) -> dict:
    """A task as the API shows it. `bodies` (code and name), `inspectors` (name and certificate) and
    `item_codes`: its relations in the order a read gives them, when the caller has them (`_relations`, or a
    task just created); otherwise they are taken from the task's prefetched relations (`RELATED`)."""
    if bodies is None:
        bodies = [tb.body for tb in task.task_bodies.all()]
    if inspectors is None:
        inspectors = [
            _inspector_out(i.name, [c.number for c in i.certificates.all()]) for i in task.inspectors.all()
        ]
    if item_codes is None:
        item_codes = [item.code for item in task.items.all()]
    return {
        "number": task.number,
        "status": task.status,
        "status_label": task.get_status_display(),
        "kind": task.kind,
        "mode": task.mode,
        "enterprise_uscc": task.enterprise.uscc,
        "enterprise_name": task.enterprise.name,
        "lead_body": task.lead_body,
        "bodies": bodies,
        "inspectors": inspectors,
        "item_codes": item_codes,
        "legal_basis": task.legal_basis,
        "plan_number": task.plan.number if task.plan_id else None,
        "window_start": task.window_start,
        "window_end": task.window_end,
        "is_emergency": task.is_emergency,
        "created_at": task.created_at,
        "submitted_at": task.submitted_at,
        "approved_at": task.approved_at,
        "started_at": task.started_at,
        "result_recorded_at": task.result_recorded_at,
        "closed_at": task.closed_at,
        "cancelled_at": task.cancelled_at,
        "cancel_reason": task.cancel_reason,
        "frequency": task.frequency_findings or [],
        "frequency_justification": task.frequency_justification,
    }


def _inspector_out(name: str, certificates: list[str]) -> dict:
    """An inspector by name and certificate: the latest-numbered of his certificates."""
    numbers = sorted(certificates)
    return {"name": name, "certificate": numbers[-1] if numbers else ""}


# What an answer shows of a list's tasks' relations, read in four queries however many tasks (the bodies in the
# order they joined, the lead first).
RELATED = (
    Prefetch("task_bodies", queryset=TaskBody.objects.select_related("body").order_by("pk")),
    "inspectors__certificates",
    "items",
)


def _with_related(queryset):
    return queryset.select_related("enterprise", "lead_body", "plan").prefetch_related(*RELATED)


# One task's relations for its answer in one query, built once per database: the four prefetches of RELATED
# took about 9 ms of CPU to build for a single task, most of a submission's answer. Each row: what it is (0 a
# body, 1 an inspector's certificate, 2 an item), its position (the order the prefetches give: bodies as they
# joined, inspectors in Inspector's order, items in InspectionItem's, ranked by the database so its collation
# decides), an id, and two texts.
_RELATIONS_SQL: dict[tuple[str, str], str] = {}


def _relations_sql(connection) -> str:
    key = (connection.alias, connection.vendor)
    if key not in _RELATIONS_SQL:
        from jianchama.registry.models import Field as ItemField
        from jianchama.registry.models import Inspector

        q = connection.ops.quote_name

        def table(model) -> str:
            return q(model._meta.db_table)

        def column(model, name: str) -> str:
            return q(model._meta.get_field(name).column)

        inspectors, items = Task.inspectors.through, Task.items.through
        _RELATIONS_SQL[key] = (
            f"SELECT 0 AS kind, tb.{column(TaskBody, 'id')} AS position, b.{column(EnforcementBody, 'id')} AS ident, "
            f"b.{column(EnforcementBody, 'code')} AS label, b.{column(EnforcementBody, 'name')} AS extra "
            f"FROM {table(TaskBody)} tb INNER JOIN {table(EnforcementBody)} b "
            f"ON b.{column(EnforcementBody, 'id')} = tb.{column(TaskBody, 'body')} "
            f"WHERE tb.{column(TaskBody, 'task')} = %s "
            "UNION ALL "
            f"SELECT 1, dense_rank() OVER (ORDER BY b.{column(EnforcementBody, 'code')}, "
            f"i.{column(Inspector, 'name')}, i.{column(Inspector, 'id')}), i.{column(Inspector, 'id')}, "
            f"i.{column(Inspector, 'name')}, c.{column(Certificate, 'number')} "
            f"FROM {table(inspectors)} ti INNER JOIN {table(Inspector)} i "
            f"ON i.{column(Inspector, 'id')} = ti.{column(inspectors, 'inspector')} "
            f"INNER JOIN {table(EnforcementBody)} b ON b.{column(EnforcementBody, 'id')} = i.{column(Inspector, 'body')} "
            f"LEFT JOIN {table(Certificate)} c ON c.{column(Certificate, 'inspector')} = i.{column(Inspector, 'id')} "
            f"WHERE ti.{column(inspectors, 'task')} = %s "
            "UNION ALL "
            f"SELECT 2, row_number() OVER (ORDER BY f.{column(ItemField, 'code')}, "
            f"it.{column(InspectionItem, 'code')}, it.{column(InspectionItem, 'id')}), "
            f"it.{column(InspectionItem, 'id')}, it.{column(InspectionItem, 'code')}, NULL "
            f"FROM {table(items)} tt INNER JOIN {table(InspectionItem)} it "
            f"ON it.{column(InspectionItem, 'id')} = tt.{column(items, 'inspectionitem')} "
            f"INNER JOIN {table(ItemField)} f ON f.{column(ItemField, 'id')} = it.{column(InspectionItem, 'field')} "
            f"WHERE tt.{column(items, 'task')} = %s"
        )
    return _RELATIONS_SQL[key]


def _relations(task: Task) -> dict:
    """`_task_out`'s bodies, inspectors and item codes of one task, as RELATED's prefetches give them."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(_relations_sql(connection), [task.pk] * 3)
        rows = sorted(cursor.fetchall(), key=lambda row: (row[0], row[1]))
    bodies, items = [], []
    inspectors: dict[int, tuple[str, list[str]]] = {}
    for kind, _position, ident, label, extra in rows:
        if kind == 0:
            bodies.append({"code": label, "name": extra})
        elif kind == 1:
            numbers = inspectors.setdefault(ident, (label, []))[1]
            if extra is not None:
                numbers.append(extra)
        else:
            items.append(label)
    return {
        "bodies": bodies,
        "inspectors": [_inspector_out(name, numbers) for name, numbers in inspectors.values()],
        "item_codes": items,
    }


def _task(request, number: str, *, related: bool = False) -> Task:
    """The task by its number if the client may see it, with its enterprise, lead body and plan; `related`:
    with its bodies, inspectors and their certificates and items too (for an act by one of its inspectors)."""
    tasks = Task.objects.visible_to(request.user).select_related("enterprise", "lead_body", "plan")
    if related:
        tasks = tasks.prefetch_related(*RELATED)
    task = tasks.filter(number=number[:20]).first()
    if task is None:
        raise Http404(f"任务{number[:20]}不存在，或不在本单位的范围内")
    return task


def _answer(read: Task, changed: Task | None = None) -> dict:
    """The answer about a task read by `_task`, after a step on it: its row as the service left it
    (`changed`; its enterprise, lead body and plan as read unless the step changed them: setting an id drops
    the related object read before) and its relations read in one query."""
    if changed is not None:
        for field in Task._meta.concrete_fields:
            setattr(read, field.attname, getattr(changed, field.attname))
    return _task_out(read, **_relations(read))


def _with_certificates(certificates: list[Certificate]) -> list:
    """The inspectors of `certificates` (read with their inspector), in their order, each holding his among
    them as `inspector.certificates.all()` (as prefetch_related leaves them)."""
    inspectors: dict[int, object] = {}
    held: dict[int, list[Certificate]] = {}
    for certificate in certificates:
        inspector = inspectors.setdefault(certificate.inspector_id, certificate.inspector)
        certificate.inspector = inspector
        held.setdefault(inspector.pk, []).append(certificate)
    for inspector in inspectors.values():
        cached = Certificate.objects.none()  # never run: its result is set here
        cached._result_cache, cached._prefetch_done = held[inspector.pk], True
        inspector._prefetched_objects_cache = {"certificates": cached}
    return list(inspectors.values())


@contextlib.contextmanager
def _frequency_answer():
    """A submission the frequency rules refuse, as the API answers it: 422 `frequency-refused`, or
    `frequency-justification-required` when a justification is missing, with the rules broken and the earlier
    inspections they counted in `breaches` (waived ones too)."""
    from jianchama.integrations.problems import Problem

    try:
        yield
    except frequency.FrequencyRefusal as error:
        lines = [{"field": "", "message": line} for line in error.problems or [error.message]]
        breaches = [breach.as_json() for breach in error.check.breaches + error.check.exempted]
        if not error.justification_required:
            raise Problem(422, "frequency-refused", error.message, lines, breaches=breaches) from error
        lines[-1]["field"] = "justification"
        raise Problem(
            422, "frequency-justification-required", error.message, lines, breaches=breaches
        ) from error


def _acting_inspector(request, task: Task, certificate: str):
    """The task's inspector holding `certificate`, and his platform account, for an act only he may do."""
    inspector = next(
        (i for i in task.inspectors.all() if any(c.number == certificate for c in i.certificates.all())), None
    )
    if inspector is None:
        refuse("inspector_certificate", f"执法证件编号{certificate[:32]}不属于任务{task.number}的执法人员")
    if inspector.user_id is None or not inspector.user.is_active:
        refuse(
            "inspector_certificate",
            f"执法人员{inspector.name}尚无平台账号，不能由接口代其签到或录入结果；请本单位管理员为其开通账号",
        )
    return inspector


def _relayed(request, task: Task, operation: str, inspector) -> None:
    audit.record(
        actor=request.auth.service_user,
        action="api.relayed",
        obj=task,
        after={"operation": operation, "inspector": inspector.pk, "inspector_name": inspector.name},
    )


def _utc(moment: datetime.datetime | None, field: str) -> datetime.datetime | None:
    """An aware time in UTC (PostgreSQL refuses offsets beyond ±15:59 that Python accepts); naive is refused."""
    if moment is None:
        return None
    if timezone.is_naive(moment):
        refuse(field, f"{field} 须带时区，例如 2026-12-01T09:30:00+08:00")
    try:
        return moment.astimezone(datetime.UTC)
    except (OverflowError, ValueError):
        refuse(field, f"{field} 超出可接受的时间范围")
        raise  # unreachable


def _encode_cursor(*parts) -> str:
    return base64.urlsafe_b64encode(json.dumps(parts).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime.datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        when, pk = json.loads(raw)
        moment = datetime.datetime.fromisoformat(when)
        if timezone.is_naive(moment) or not isinstance(pk, int) or not 0 < pk < 2**62:
            raise ValueError
        return moment.astimezone(datetime.UTC), pk
    except (ValueError, TypeError, OverflowError, binascii.Error, UnicodeDecodeError, json.JSONDecodeError):
        refuse("cursor", "游标无效：请使用上一页返回的 next_cursor，不要自行构造")
        raise  # unreachable


# --- Operations ------------------------------------------------------------------------------------------


@router.post(
    "/tasks",
    response={201: TaskOut},
    summary="创建检查任务（草稿，或随即提交审批）",
    operation_id="create_task",
)
def create_task(request, payload: TaskIn):
    """按 F-20 的全部字段创建草稿任务；企业按统一社会信用代码、执法人员按执法证号、事项按编码、计划按备案编号指定。
    与页面调用同一服务，校验规则相同。`submit` 为 true 时创建后随即提交审批（一次请求、一个事务），频次检查与
    POST /tasks/{number}/submit 相同：通过时返回已提交的任务（`frequency` 列出提示和被豁免的规则）；违反“不予提交”
    的规则或须说明理由而未填时返回与提交接口相同的 422，任务不创建。"""
    require(request, "tasks:write")
    user = request.user
    code = uscc_rules.normalise(payload.enterprise_uscc)
    enterprise = Enterprise.objects.visible_to(user).filter(uscc=code).first()
    if enterprise is None:
        refuse("enterprise_uscc", f"统一社会信用代码为{code[:18]}的企业不存在，或不在本单位的检查范围内")
    items = list(InspectionItem.objects.visible_to(user).filter(code__in=payload.item_codes))
    missing = sorted(set(payload.item_codes) - {item.code for item in items})
    if missing:
        refuse("item_codes", f"检查事项编码{'、'.join(c[:32] for c in missing)}不在已公布的检查事项清单中")
    joint = list(EnforcementBody.objects.filter(code__in=payload.joint_body_codes))
    missing = sorted(set(payload.joint_body_codes) - {body.code for body in joint})
    if missing:
        refuse("joint_body_codes", f"执法单位编码{'、'.join(c[:32] for c in missing)}不存在")
    bodies = [user.body_id, *(body.pk for body in joint)]
    # Every certificate of the inspectors holding those named, in one query: the named ones say who the
    # inspectors are, all of them what the service's check and the answer need (as a prefetch would give
    # them, without its second query). In the order a task's inspectors are read (Inspector's ordering), so
    # the answer below needs no read.
    named = Certificate.objects.filter(number__in=payload.inspector_certificates).values("inspector_id")
    certificates = list(
        Certificate.objects.filter(inspector_id__in=named, inspector__body_id__in=bodies)
        .select_related("inspector")
        .order_by("inspector__body__code", "inspector__name", "inspector_id", "number")
    )
    missing = sorted(set(payload.inspector_certificates) - {c.number for c in certificates})
    if missing:
        refuse(
            "inspector_certificates",
            f"执法证件编号{'、'.join(c[:32] for c in missing)}不属于本单位或联合检查单位的执法人员",
        )
    plan = draw = situation = None
    if payload.plan_number:
        from jianchama.plans.models import Plan

        plan = Plan.objects.visible_to(user).filter(number=payload.plan_number).first()
        if plan is None:
            refuse("plan_number", f"备案编号为{payload.plan_number}的检查计划不存在，或不是本单位可见的计划")
    if payload.draw_id:
        from jianchama.plans.models import RandomDraw

        draw = RandomDraw.objects.visible_to(user).filter(pk=payload.draw_id).first()
        if draw is None:
            refuse("draw_id", f"随机抽取{payload.draw_id}不存在，或不在本单位的范围内")
    if payload.trigger_situation_code:
        situation = TriggerSituation.objects.filter(code=payload.trigger_situation_code).first()
        if situation is None:
            refuse("trigger_situation_code", f"触发情形代码{payload.trigger_situation_code}不存在")
    inspectors = _with_certificates(certificates)
    with _frequency_answer():
        task = services.create_task(
            user,
            enterprise=enterprise,
            items=items,
            inspectors=inspectors,
            legal_basis=payload.legal_basis,
            kind=payload.kind,
            mode=payload.mode,
            window_start=payload.window_start,
            window_end=payload.window_end,
            joint_bodies=joint,
            plan=plan,
            draw=draw,
            trigger_situation=situation,
            reason=payload.reason,
            evidence=payload.evidence,
            is_emergency=payload.is_emergency,
            submit=payload.submit,
            justification=payload.justification,
            exemption=payload.exemption,
        )
    # Answered from what was written, nothing read again: the new task holds its enterprise, lead body and
    # plan; its bodies are the lead's then the partners' (the order they joined), its items came in their
    # read order (InspectionItem's), its inspectors in theirs (the certificates' query above).
    bodies = [user.body, *(body for body in joint if body.pk != user.body_id)]
    return Status(
        201,
        _task_out(
            task,
            bodies=bodies,
            inspectors=[_inspector_out(i.name, [c.number for c in i.certificates.all()]) for i in inspectors],
            item_codes=[item.code for item in items],
        ),
    )


@router.post(
    "/tasks/{number}/submit", response=TaskOut, summary="提交审批（含频次检查）", operation_id="submit_task"
)
def submit_task(request, number: str, payload: SubmitIn):
    """先做频次检查（F-21），与页面相同：违反“不予提交”的规则返回 422（type 为 frequency-refused），违反须说明
    理由的规则而未填理由返回 422（frequency-justification-required），两者都在 `breaches` 中列出规则与此前的检查；
    通过时返回任务，其 `frequency` 列出提示和被豁免的规则。"""
    require(request, "tasks:write")
    task = _task(request, number)
    with _frequency_answer():
        submitted = services.submit_task(
            request.user, task=task, justification=payload.justification, exemption=payload.exemption
        )
    return _answer(task, submitted)


@router.post(
    "/tasks/{number}/approve", response=TaskOut, summary="批准检查（签发检查码）", operation_id="approve_task"
)
def approve_task(request, number: str):
    """执法单位负责人的批准，由本单位系统在其审批后提交；批准即签发检查码并告知企业。资格审查与频次复核同页面。"""
    require(request, "tasks:write")
    task = _task(request, number)
    return _answer(task, services.approve_task(request.user, task=task))


@router.get("/tasks", response=TaskPage, summary="查询检查任务", operation_id="list_tasks")
def list_tasks(request, filters: Query[TaskFilters]):
    """本单位参与的任务，按创建时间倒序，游标分页（深翻页的代价与第一页相同）。"""
    require(request, "tasks:read")
    tasks = Task.objects.visible_to(request.user)
    if filters.status:
        tasks = tasks.filter(status=filters.status)
    if filters.enterprise_uscc:
        tasks = tasks.filter(enterprise__uscc=uscc_rules.normalise(filters.enterprise_uscc))
    if filters.window_from:
        tasks = tasks.filter(window_end__gte=filters.window_from)
    if filters.window_to:
        tasks = tasks.filter(window_start__lte=filters.window_to)
    if filters.updated_since:
        since = _utc(filters.updated_since, "updated_since")
        moments = (
            "created_at",
            "submitted_at",
            "approved_at",
            "notified_at",
            "started_at",
            "result_recorded_at",
            "closed_at",
            "cancelled_at",
        )
        changed = Q()
        for name in moments:
            changed |= Q(**{f"{name}__gte": since})
        tasks = tasks.filter(changed)
    if filters.cursor:
        when, pk = _decode_cursor(filters.cursor)
        # `created_at <= when` repeats what the OR implies so that PostgreSQL starts the index scan at the cursor;
        # with the OR alone it read the index from the newest task and filtered (at 1,000,000 tasks a page
        # 5,000 tasks deep read 128,000 index entries, 670 ms).
        tasks = tasks.filter(Q(created_at__lt=when) | Q(created_at=when, pk__lt=pk), created_at__lte=when)
    page = list(_with_related(tasks.order_by("-created_at", "-id"))[: filters.limit + 1])
    more = len(page) > filters.limit
    page = page[: filters.limit]
    cursor = _encode_cursor(page[-1].created_at.isoformat(), page[-1].pk) if more else None
    return {"items": [_task_out(task) for task in page], "next_cursor": cursor}


@router.get("/tasks/{number}", response=TaskOut, summary="任务详情", operation_id="get_task")
def get_task(request, number: str):
    require(request, "tasks:read")
    return _answer(_task(request, number))


@router.get("/tasks/{number}/code", response=CodeOut, summary="当前检查码", operation_id="get_code")
def get_code(request, number: str, inspector_certificate: Query[str] = None):
    """出示检查码的执法人员（须为本任务的执法人员）当前的令牌、网址与二维码（SVG 与 PNG）。令牌数分钟内有效，
    本单位的应用应按 expires_in 重新获取，截图因此会过期。"""
    require(request, "tasks:read")
    task = _task(request, number, related=True)
    if not inspector_certificate:
        refuse(
            "inspector_certificate", "请在查询参数 inspector_certificate 中写明出示检查码的执法人员的执法证号"
        )
    inspector = _acting_inspector(request, task, inspector_certificate[:32])
    token = services.current_token(inspector.user, task=task)
    content = signing.qr_content(token)
    from django.conf import settings

    return {
        "token": token,
        "url": signing.code_url(token),
        "qr_content": content,
        "svg": qr.qr_svg(content, title=f"检查码 {task.number}"),
        "png_base64": base64.b64encode(qr.qr_png(content, scale=6)).decode(),
        "expires_in": settings.CODE_TOKEN_TTL_SECONDS,
    }


@router.post("/tasks/{number}/check-in", response=TaskOut, summary="签到开始检查", operation_id="check_in")
def check_in(request, number: str, payload: CheckInIn):
    """企业未扫码时由执法人员签到开始检查；离线后补录时带上现场的实际时间 occurred_at（补录规则见 docs/api.md）。"""
    require(request, "results:write")
    task = _task(request, number, related=True)
    inspector = _acting_inspector(request, task, payload.inspector_certificate)
    with transaction.atomic():
        occurred_at = _utc(payload.occurred_at, "occurred_at") if payload.occurred_at else None
        started = services.check_in(inspector.user, task=task, occurred_at=occurred_at)
        _relayed(request, task, "check_in", inspector)
    return _answer(task, started)


@router.post(
    "/tasks/{number}/result",
    response=TaskOut,
    summary="录入检查结果（含证据文件）",
    operation_id="record_result",
)
def record_result(
    request,
    number: str,
    data: Form[str],
    evidence: File[list[UploadedFile]] = None,
):
    """multipart/form-data：`data` 为 JSON（见 ResultIn 的字段），`evidence` 为证据文件（可多个，类型与大小的
    检查同页面：JPG、PNG、PDF、MP3、M4A、MP4，每个不超过20MB，内容须与扩展名相符），`data.evidence_kinds`
    逐一写明各文件的类型。"""
    require(request, "results:write")
    try:
        payload = ResultIn.model_validate_json(data)
    except ValidationError as error:
        from ninja.errors import ValidationError as NinjaValidationError

        raise NinjaValidationError(
            [{**e, "loc": ("form", "data", *e.get("loc", ()))} for e in error.errors(include_url=False)]
        ) from error
    task = _task(request, number, related=True)
    inspector = _acting_inspector(request, task, payload.inspector_certificate)
    files = list(evidence or [])
    if len(files) != len(payload.evidence_kinds):
        refuse(
            "evidence_kinds",
            f"上传了{len(files)}个证据文件，evidence_kinds 写了{len(payload.evidence_kinds)}个类型，须一一对应",
        )
    items = {item.code: item for item in task.items.all()}
    findings = []
    for finding in payload.findings:
        item = items.get(finding.item_code)
        if item is None:
            refuse("findings", f"检查事项编码{finding.item_code}不是任务{task.number}的检查事项")
        findings.append(
            services.FindingInput(item=item, entry=finding.entry, result=finding.result, note=finding.note)
        )
    with transaction.atomic():
        record = services.record_result(
            inspector.user,
            task=task,
            outcome=payload.outcome,
            summary=payload.summary,
            findings=findings,
            rectify_working_days=payload.rectify_working_days,
            lenient=payload.lenient,
            lenient_note=payload.lenient_note,
            improvement_advice=payload.improvement_advice,
            evidence=[
                services.EvidenceInput(kind=k, file=f)
                for k, f in zip(payload.evidence_kinds, files, strict=True)
            ],
            onsite_person_name=payload.onsite_person_name,
            onsite_person_phone=payload.onsite_person_phone,
            occurred_at=_utc(payload.occurred_at, "occurred_at") if payload.occurred_at else None,
        )
        _relayed(request, task, "record_result", inspector)
    return _answer(task, record.task)


@router.post("/tasks/{number}/close", response=TaskOut, summary="办结", operation_id="close_task")
def close_task(request, number: str):
    require(request, "tasks:write")
    task = _task(request, number)
    return _answer(task, services.close_task(request.user, task=task))


@router.post("/tasks/{number}/cancel", response=TaskOut, summary="取消任务", operation_id="cancel_task")
def cancel_task(request, number: str, payload: CancelIn):
    """取消须写明原因；已签发的检查码随即作废，已告知的企业会收到取消通知。"""
    require(request, "tasks:write")
    task = _task(request, number)
    return _answer(task, services.cancel_task(request.user, task=task, reason=payload.reason))


@router.get("/scans", response=ScanPage, summary="扫码记录", tags=["扫码与评议"], operation_id="list_scans")
def list_scans(
    request,
    task_number: Query[str] = None,
    since: Query[datetime.datetime] = None,
    cursor: Query[str] = None,
    limit: Query[int] = 50,
):
    """本单位参与的任务的扫码记录（时间与结果），按时间倒序，游标分页。不含扫码人的任何信息。

    多数核验通过的扫码批量写入，扫码后通常1秒内（至多约1分钟）才出现：按 since 轮询时请回退1分钟并去重。"""
    require(request, "scans:read")
    if not 1 <= limit <= MAX_PAGE:
        refuse("limit", f"limit 须在1至{MAX_PAGE}之间")
    tasks = Task.objects.visible_to(request.user)
    if task_number:
        tasks = tasks.filter(number=task_number[:20])
    scans = Scan.objects.filter(code__task__in=tasks.values("pk")).select_related("code__task")
    if since:
        since = _utc(since, "since")
        scans = scans.filter(scanned_at__gte=since)
    if cursor:
        when, pk = _decode_cursor(cursor[:200])
        scans = scans.filter(Q(scanned_at__lt=when) | Q(scanned_at=when, pk__lt=pk), scanned_at__lte=when)
    page = list(scans.order_by("-scanned_at", "-id")[: limit + 1])
    more = len(page) > limit
    page = page[:limit]
    return {
        "items": [
            {
                "task_number": scan.code.task.number,
                "scanned_at": scan.scanned_at,
                "outcome": scan.outcome,
                "outcome_label": scan.get_outcome_display(),
            }
            for scan in page
        ],
        "next_cursor": _encode_cursor(page[-1].scanned_at.isoformat(), page[-1].pk) if more else None,
    }


@router.get(
    "/evaluations",
    response=list[ReleaseOut],
    summary="评议汇总",
    tags=["扫码与评议"],
    operation_id="list_evaluations",
)
def list_evaluations(request):
    """本单位的评议汇总发布（每次至少新增5条评议才发布），从不含单条评议或评议企业（F-26 的匿名规则）。"""
    require(request, "scans:read")
    releases: list[EvaluationRelease] = services.evaluation_releases(request.user, body=request.user.body)
    scores = ("overall", "certificate_shown", "rights_told", "conduct", "efficiency", "integrity")
    return [
        {
            "released_at": release.released_at,
            "period_start": release.period_start,
            "period_end": release.period_end,
            "count": release.count,
            "new_count": release.new_count,
            **{name: float(getattr(release, name)) for name in scores},
        }
        for release in releases
    ]
