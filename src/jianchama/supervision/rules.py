"""Data supervision (F-30): the data rules, registered in one place, and their run.

Each rule is one function decorated with `@rule(...)`: it asks the database, with set-based queries (no loop
over tasks in Python), for the records that break it and yields one `Hit` per problem: a stable key (the task's
id, or the plan's, the complaint's…), the body answerable, the month the problem belongs to, a description and
the records that prove it. `run_rules` runs them all (or the named ones) and turns the hits into findings;
(rule, key) is unique, so a problem found again by a later run is not found twice.

What a run covers: a full run reads all the data there is; the unique key makes the old problems cost
nothing but the query. An incremental run (`run_rules(..., incremental=True)`, the daily schedule) lets each
rule registered `incremental=True` look only at the tasks changed since the last run that ran it, read from
the audit log (every service that writes a task records an event on it) after that run's `audit_sequence`;
the other rules (plans, complaints, evaluations, emergencies, field acts: small or indexed) read everything
each time. A rule whose reference data changed meanwhile (`full_when`: certificates, bodies' authority, the
standards, the calendar) runs in full. A task can start breaking a rule without changing only by time
passing: `late_record` therefore always looks at every visit still without a result too (a partial index),
and the other time-bound rules are full ones. docs/supervision-rules.md says which rule does what and why
the weekly full run remains. A run is not scoped to the supervisor who asks for it (the rules are objective;
every supervisor then sees the findings of their own region through `Finding.objects.visible_to`).

Visits: tasks whose inspection has begun (in progress, result recorded, closed). Their date is the day the
visit started (`started_at`, local time), and their month the month of that day.
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import math
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import (
    Case,
    Count,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    Max,
    Min,
    OuterRef,
    Q,
    Value,
    When,
)
from django.db.models.fields import DateField
from django.db.models.functions import Abs, Coalesce, TruncDate
from django.utils import timezone

from jianchama.complaints.models import Complaint
from jianchama.core import audit
from jianchama.core.errors import DomainError, InvalidTransition, PermissionDenied
from jianchama.core.formats import chinese_date
from jianchama.core.models import AuditEvent
from jianchama.core.parallel import run_on_connections
from jianchama.core.roles import Role
from jianchama.core.workdays import WorkingCalendar
from jianchama.inspections import scan_log
from jianchama.inspections.models import (
    LACKING_REASON,
    UNPLANNED_KIND,
    Evaluation,
    FieldAct,
    InspectionCode,
    Scan,
    Task,
    TaskBody,
)
from jianchama.inspections.services import evaluation_release_size
from jianchama.plans.models import Plan
from jianchama.plans.services import SPECIAL_PUBLISH_MONTHS, add_months
from jianchama.registry.models import Certificate, EnforcementBody, InspectionItem, Inspector, Region

from .models import Finding, RuleRun, Severity

logger = logging.getLogger(__name__)

__all__ = ["RULES", "Hit", "Rule", "may_run_rules", "rule", "rule_choices", "run_rules"]

S = Task.Status
VISITED = (S.IN_PROGRESS, S.RESULT_RECORDED, S.CLOSED)
FREQUENCY_COUNTED = (*VISITED, S.APPROVED, S.NOTIFIED)  # the tasks frequency_breach reads
FILED = (Plan.Status.FILED, Plan.Status.PUBLISHED)
MIN_INSPECTORS = 2
TASK = "inspections.Task"


def poor_evaluation_threshold() -> int:
    """An overall score at or below this is a poor evaluation (1 to 5; default 2, 不满意)."""
    return int(getattr(settings, "SUPERVISION_POOR_EVALUATION", 2))


def record_working_days() -> int:
    """The result of a visit is to be recorded within this many working days of the visit (default 5)."""
    return int(getattr(settings, "SUPERVISION_RECORD_WORKING_DAYS", 5))


def work_mem() -> str:
    """PostgreSQL's work_mem for each rule's transaction (default 256MB)."""
    return str(getattr(settings, "SUPERVISION_WORK_MEM", "256MB"))


# PostgreSQL, for the queries that read a whole large table joined to another in the order of a unique index
# (the one pass; body_unauthorised's task-body items): merge joins and group aggregates that stream, no hash
# of ten million rows (more than work_mem: it spills to disk in batches) and no parallel workers (each would
# read the whole inner side again). Measured, bench/README.md "data rules".
STREAMING_SETTINGS = {
    "enable_hashjoin": "off",
    "enable_hashagg": "off",
    "max_parallel_workers_per_gather": "0",
}


@contextlib.contextmanager
def streaming():
    """STREAMING_SETTINGS for the queries made inside, within the current transaction (PostgreSQL)."""
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("select " + ", ".join(f"current_setting('{name}')" for name in STREAMING_SETTINGS))
        before = dict(zip(STREAMING_SETTINGS, cursor.fetchone(), strict=True))
        for name, value in STREAMING_SETTINGS.items():
            cursor.execute("select set_config(%s, %s, true)", [name, value])
    yield  # (an error inside leaves them: its transaction is rolled back, with its local settings)
    with connection.cursor() as cursor:
        for name, value in before.items():
            cursor.execute("select set_config(%s, %s, true)", [name, value])


# --- The registry ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Hit:
    """One problem a rule found."""

    key: str
    body_id: int
    period: datetime.date
    description: str
    evidence: list[dict[str, Any]] = field(default_factory=list)
    task_id: int | None = None
    # Set when the description or evidence would single out an evaluating enterprise: what the body reads.
    confidential: bool = False
    body_description: str = ""


def incremental_max_tasks() -> int:
    """Beyond this many changed tasks an incremental rule runs in full (default 20,000: a list of ids in one
    query, and SQLite's limit on a statement's parameters)."""
    return int(getattr(settings, "SUPERVISION_INCREMENTAL_MAX_TASKS", 20_000))


@dataclass
class Context:
    """What every rule may rely on: the day of the run, and (read once, on first use) the first and last day
    of the visits it looks at. `task_ids` is None in a full run; in an incremental one, the tasks changed
    since the rule's last run (and `plan_ids` the plans changed), to which `only` limits a query."""

    today: datetime.date
    now: datetime.datetime
    _span: tuple[datetime.date | None, datetime.date | None] | None = None
    task_ids: frozenset[int] | None = None
    plan_ids: frozenset[int] = frozenset()

    def only(self, queryset, path: str = "pk", extra: Q | None = None):
        """`queryset` limited to the changed tasks (through `path`, the task's id), or to `extra`; as it is
        in a full run."""
        if self.task_ids is None:
            return queryset
        condition = Q(**{f"{path}__in": sorted(self.task_ids)})
        if extra is not None:
            condition |= extra
        return queryset.filter(condition)

    @property
    def visit_span(self) -> tuple[datetime.date | None, datetime.date | None]:
        if self._span is None:
            self._span = span_of(self.only(visits()))
        return self._span


def span_of(queryset) -> tuple[datetime.date | None, datetime.date | None]:
    """The first and last visit day of `queryset`'s tasks (the ends of the index on started_at)."""
    span = queryset.aggregate(first=Min("started_at"), last=Max("started_at"))
    return tuple(timezone.localdate(moment) if moment else None for moment in (span["first"], span["last"]))


@dataclass(frozen=True)
class Rule:
    code: str
    title: str
    severity: str
    find: Callable[[Context], Iterable[Hit]]
    # May look only at the changed tasks (Context.only) in an incremental run.
    incremental: bool = False
    # Audit object types whose change since the last run makes an incremental run of this rule a full one.
    full_when: tuple[str, ...] = ()

    @property
    def description(self) -> str:
        return (self.find.__doc__ or "").strip()

    @property
    def severity_label(self) -> str:
        return Severity(self.severity).label


# The rules in the order they run and are shown.
RULES: dict[str, Rule] = {}


def rule(*, code: str, title: str, severity: str, incremental: bool = False, full_when: tuple[str, ...] = ()):
    """Register a rule function under `code`."""

    def register(function: Callable[[Context], Iterable[Hit]]):
        if code in RULES:
            raise ValueError(f"duplicate data rule {code}")
        RULES[code] = Rule(
            code=code,
            title=title,
            severity=severity,
            find=function,
            incremental=incremental,
            full_when=full_when,
        )
        return function

    return register


def rule_choices() -> list[tuple[str, str]]:
    return [(code, r.title) for code, r in RULES.items()]


# --- Small helpers -----------------------------------------------------------------------------------------


def entry(model: str, pk: int, label: str) -> dict[str, Any]:
    """One evidence link ({"model", "pk", "label"}, as `services.evidence_entry`) without loading the object."""
    return {"model": model, "pk": pk, "label": label}


def month_of(day: datetime.date) -> datetime.date:
    return day.replace(day=1)


def visit_day(row: dict[str, Any]) -> datetime.date:
    started = row.get("started_at")
    return timezone.localdate(started) if started else row["window_start"]


TASK_VALUES = ("pk", "number", "lead_body_id", "started_at", "window_start", "enterprise__name")


def task_entry(row: dict[str, Any]) -> dict[str, Any]:
    return entry(TASK, row["pk"], f"检查任务 {row['number'] or row['pk']}（{row['enterprise__name']}）")


def task_hit(row: dict[str, Any], description: str, *extra: dict[str, Any], key: str | None = None) -> Hit:
    day = visit_day(row)
    return Hit(
        key=key or str(row["pk"]),
        body_id=row["lead_body_id"],
        period=month_of(day),
        description=description,
        evidence=[task_entry(row), *extra],
        task_id=row["pk"],
    )


def visits():
    # No ordering: the tasks' default (newest first) would sort millions of rows for nothing.
    return Task.objects.filter(status__in=VISITED).order_by()


def task_name(row: dict[str, Any]) -> str:
    return f"检查任务{row['number'] or row['pk']}（{row['enterprise__name']}）"


def _json_array_has(queryset, column: str, element: dict[str, str]):
    """Rows whose JSON array `column` holds an object with all of `element`'s keys and values. PostgreSQL's
    jsonb containment; SQLite (the default database) has no containment lookup, so json_each there."""
    if connection.vendor == "postgresql":
        return queryset.filter(**{f"{column}__contains": [element]})
    table = queryset.model._meta.db_table
    conditions = " and ".join(f"json_extract(e.value, '$.{key}') = %s" for key in element)
    where = f'exists (select 1 from json_each("{table}"."{column}") e where {conditions})'
    return queryset.extra(where=[where], params=list(element.values()))


# --- The rules ---------------------------------------------------------------------------------------------


@rule(code="no_code", title="无码检查", severity=Severity.HIGH, incremental=True)
def no_code(ctx: Context) -> Iterator[Hit]:
    """已实施的检查（检查中、已录入结果、已办结）没有检查码。"""
    rows = ctx.only(visits()).filter(code__isnull=True).values(*TASK_VALUES)
    for row in rows:
        yield task_hit(
            row, f"{task_name(row)}于{chinese_date(visit_day(row))}实施检查，未生成检查码（无码检查）"
        )


@rule(code="code_not_scanned", title="检查码未被扫码核验", severity=Severity.MEDIUM, incremental=True)
def code_not_scanned(ctx: Context) -> Iterator[Hit]:
    """现场检查的检查码从未被企业扫码核验（非现场检查不计）。"""
    genuine = Scan.objects.filter(code_id=OuterRef("code__pk"), outcome=Scan.Outcome.GENUINE)
    rows = (
        ctx.only(visits())
        .filter(mode=Task.Mode.ON_SITE, code__isnull=False)
        .filter(~Exists(genuine))
        .values(*TASK_VALUES, "code__pk")
    )
    for row in rows:
        code = entry(
            "inspections.InspectionCode", row["code__pk"], f"检查码（任务 {row['number'] or row['pk']}）"
        )
        yield task_hit(
            row, f"{task_name(row)}于{chinese_date(visit_day(row))}现场检查，检查码从未被企业扫码核验", code
        )


@rule(code="outside_plan", title="计划外检查", severity=Severity.HIGH, incremental=True)
def outside_plan(ctx: Context) -> Iterator[Hit]:
    """有计划检查（双随机、专项、日常、其他有计划检查）未依据本单位已备案、覆盖检查日期的检查计划。"""
    filed = Q(plan__status__in=FILED, plan__body_id=F("lead_body_id"))
    inside = Q(window_start__gte=F("plan__period_start"), window_end__lte=F("plan__period_end"))
    # Incremental: the changed tasks, and the tasks citing a plan that changed.
    cited = Q(plan_id__in=sorted(ctx.plan_ids)) if ctx.plan_ids else None
    rows = (
        ctx.only(visits(), extra=cited)
        .filter(kind__in=Task.PLANNED_KINDS)
        .filter(Q(plan__isnull=True) | ~filed | ~inside)
        .values(*TASK_VALUES, "kind", "plan_id", "plan__number", "plan__title", "plan__status")
    )
    for row in rows:
        kind = Task.Kind(row["kind"]).label
        if row["plan_id"] is None:
            yield task_hit(row, f"{task_name(row)}为{kind}，未依据任何检查计划")
            continue
        plan = entry("plans.Plan", row["plan_id"], f"检查计划 {row['plan__number'] or row['plan__title']}")
        if row["plan__status"] not in FILED:
            why = f"所依据的检查计划尚未备案（{Plan.Status(row['plan__status']).label}）"
        else:
            why = "所依据的检查计划不属于牵头执法单位，或检查日期超出计划期间"
        yield task_hit(row, f"{task_name(row)}为{kind}，{why}", plan)


@rule(
    code="unplanned_without_reason",
    title="无计划检查缺少启动理由或证据",
    severity=Severity.MEDIUM,
    incremental=True,
)
def unplanned_without_reason(ctx: Context) -> Iterator[Hit]:
    """无计划检查（投诉、举报、媒体曝光、触发式、上级交办）未写明启动理由或证据材料；触发式检查未选择启动情形。"""
    # Exactly the partial index's condition (task_unplanned_lacking): PostgreSQL reads the few rows from it.
    rows = (
        ctx.only(visits())
        .filter(UNPLANNED_KIND)
        .filter(LACKING_REASON)
        .values(*TASK_VALUES, "kind", "reason", "evidence", "trigger_situation_id")
    )
    for row in rows:
        gaps = [
            label
            for label, lacking in (
                ("启动理由", not row["reason"].strip()),
                ("证据材料说明", not row["evidence"].strip()),
                ("触发情形", row["kind"] == Task.Kind.TRIGGER and row["trigger_situation_id"] is None),
            )
            if lacking
        ]
        yield task_hit(
            row, f"{task_name(row)}为{Task.Kind(row['kind']).label}，缺少{'、'.join(gaps) or '启动理由'}"
        )


@rule(code="frequency_breach", title="违反检查频次规则", severity=Severity.MEDIUM, incremental=True)
def frequency_breach(ctx: Context) -> Iterator[Hit]:
    """检查提交或批准时的频次检查发现超出“不予提交”的规则而未豁免，或超出“须说明理由”的规则而未说明理由。"""
    counted = ctx.only(Task.objects.filter(status__in=FREQUENCY_COUNTED).order_by())
    refused = _json_array_has(counted, "frequency_findings", {"action": "refuse", "exempted_by": ""})
    unjustified = _json_array_has(
        counted.filter(frequency_justification=""),
        "frequency_findings",
        {"action": "justify", "exempted_by": ""},
    )
    found: dict[int, tuple[dict[str, Any], str]] = {}
    for queryset, why in (
        (unjustified, "超出须说明理由的检查频次规则，未说明理由"),
        (refused, "超出不予提交的检查频次规则，未经豁免仍实施"),
    ):
        for row in queryset.values(*TASK_VALUES, "frequency_findings"):
            found[row["pk"]] = (row, why)
    for row, why in found.values():
        names = "、".join(
            breach.get("name", "")
            for breach in row["frequency_findings"]
            if isinstance(breach, dict) and not breach.get("exempted_by")
        )
        yield task_hit(row, f"{task_name(row)}{why}（{names}）")


def _uncovered(
    intervals: list[tuple[datetime.date, datetime.date]], first: datetime.date, last: datetime.date
) -> list[tuple[datetime.date, datetime.date]]:
    """The days of [first, last] that no interval covers, as intervals."""
    gaps, day = [], first
    for start, end in sorted(intervals):
        if end < day:
            continue
        if start > last:
            break
        if start > day:
            gaps.append((day, start - datetime.timedelta(days=1)))
        day = max(day, end + datetime.timedelta(days=1))
        if day > last:
            return gaps
    if day <= last:
        gaps.append((day, last))
    return gaps


@rule(
    code="uncertified_inspector",
    title="执法人员无有效执法证件",
    severity=Severity.HIGH,
    incremental=True,
    full_when=("registry.Certificate", "registry.Inspector"),
)
def uncertified_inspector(ctx: Context) -> Iterator[Hit]:
    """检查当日，参加检查的执法人员没有在有效期内的执法证件。

    证件的暂停、收回没有记录生效日期，无法判断在检查当日是否已生效，本规则只按有效期判断；暂停、收回由资格
    审查在其后的任务上拦截（F-05、F-33）。"""
    first, last = ctx.visit_span
    if first is None:
        return
    # The certificates are few (one or two per inspector): the days each inspector was not covered are
    # worked out here, and the database is asked only for those inspectors' visits on those days (through
    # the index on the inspector), not for every inspector of every visit.
    covered: dict[int, list[tuple[datetime.date, datetime.date]]] = defaultdict(list)
    for inspector_id, start, end in Certificate.objects.values_list(
        "inspector_id", "valid_from", "valid_until"
    ):
        covered[inspector_id].append((start, end))
    through = Task.inspectors.through
    uncovered = Q()
    never = [pk for pk in Inspector.objects.exclude(pk__in=list(covered)).values_list("pk", flat=True)]
    if never:
        uncovered |= Q(inspector_id__in=never)
    for inspector_id, intervals in covered.items():
        for start, end in _uncovered(intervals, first, last):
            uncovered |= Q(inspector_id=inspector_id, day__gte=start, day__lte=end)
    if not uncovered:
        return
    pairs = (
        ctx.only(through.objects.filter(task__status__in=VISITED), "task_id")
        .annotate(
            day=Coalesce(TruncDate("task__started_at"), F("task__window_start"), output_field=DateField())
        )
        .filter(uncovered)
        .values(
            "task_id",
            "task__number",
            "task__lead_body_id",
            "task__started_at",
            "task__window_start",
            "task__enterprise__name",
            "inspector_id",
            "inspector__name",
        )
    )
    by_task: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for pair in pairs:
        by_task[pair["task_id"]].append(pair)
    for task_id, rows in by_task.items():
        first_row = rows[0]
        row = {
            "pk": task_id,
            "number": first_row["task__number"],
            "lead_body_id": first_row["task__lead_body_id"],
            "started_at": first_row["task__started_at"],
            "window_start": first_row["task__window_start"],
            "enterprise__name": first_row["task__enterprise__name"],
        }
        names = "、".join(r["inspector__name"] for r in rows)
        people = [
            entry("registry.Inspector", r["inspector_id"], f"执法人员 {r['inspector__name']}") for r in rows
        ]
        yield task_hit(
            row,
            f"{task_name(row)}于{chinese_date(visit_day(row))}实施检查，执法人员{names}当日没有有效期内的执法证件",
            *people,
        )


PAIR = 1 << 32


@rule(
    code="body_unauthorised",
    title="执法单位超越职权检查",
    severity=Severity.HIGH,
    incremental=True,
    full_when=("registry.EnforcementBody", "registry.InspectionItem"),
)
def body_unauthorised(ctx: Context) -> Iterator[Hit]:
    """参加检查的执法单位检查了其无权检查的事项；受委托组织超出委托权限检查，或在委托期限外检查。"""
    through = TaskBody.items.through
    entrusted = {
        pk: (start, end)
        for pk, start, end in EnforcementBody.objects.filter(body_type=EnforcementBody.Type.ENTRUSTED)
        .order_by()
        .values_list("pk", "entrustment_start", "entrustment_end")
    }
    scope = set(
        EnforcementBody.entrusted_items.through.objects.filter(
            enforcementbody_id__in=list(entrusted)
        ).values_list("enforcementbody_id", "inspectionitem_id")
    )
    authority = set(
        InspectionItem.bodies.through.objects.values_list("enforcementbody_id", "inspectionitem_id")
    )
    # The bodies' authority (an entrusted organisation's: within its entrustment too) is a few hundred
    # (body, item) pairs: each row's pair, as one number, is tested against that constant list (a hashed IN),
    # one pass over the task bodies' items instead of an anti-join per row.
    allowed = [
        body_id * PAIR + item_id
        for body_id, item_id in authority
        if body_id not in entrusted or (body_id, item_id) in scope
    ]
    outside: dict[int, list[str]] = defaultdict(list)
    bodies: dict[int, tuple[int, str]] = {}
    outside_rows = (
        ctx.only(through.objects.all(), "taskbody__task_id")
        .annotate(pair=F("taskbody__body_id") * PAIR + F("inspectionitem_id"))
        .exclude(pair__in=allowed)
        .values_list(
            "taskbody_id",
            "taskbody__body_id",
            "taskbody__body__name",
            "inspectionitem_id",
            "inspectionitem__name",
        )
    )
    # In a full run, the items merged with their task bodies in the order of the items' unique index rather
    # than a hash of every task body (STREAMING_SETTINGS).
    with streaming() if ctx.task_ids is None else contextlib.nullcontext():
        outside_rows = list(outside_rows)
    for row in outside_rows:
        taskbody_id, body_id, body_name, item_id, item_name = row
        bodies[taskbody_id] = (body_id, body_name)
        within = body_id in entrusted and (body_id, item_id) in authority
        outside[taskbody_id].append(f"{'委托权限不含' if within else '无权检查'}事项{item_name}")
    # Entrusted organisations are few: their visits against the entrustment's period.
    expired: set[int] = set()
    if entrusted:
        day = Coalesce(TruncDate("task__started_at"), F("task__window_start"), output_field=DateField())
        period = (
            Q(body__entrustment_start__isnull=True)
            | Q(body__entrustment_end__isnull=True)
            | Q(body__entrustment_start__gt=F("day"))
            | Q(body__entrustment_end__lt=F("day"))
        )
        for taskbody_id, body_id, body_name in (
            ctx.only(
                TaskBody.objects.filter(body_id__in=list(entrusted), task__status__in=VISITED), "task_id"
            )
            .annotate(day=day)
            .filter(period)
            .values_list("pk", "body_id", "body__name")
        ):
            expired.add(taskbody_id)
            bodies[taskbody_id] = (body_id, body_name)
    if not bodies:
        return
    for t in (
        TaskBody.objects.filter(pk__in=list(bodies), task__status__in=VISITED)
        .order_by("task_id", "pk")
        .values(
            "pk",
            "task_id",
            "task__number",
            "task__started_at",
            "task__window_start",
            "task__enterprise__name",
        )
    ):
        body_id, body_name = bodies[t["pk"]]
        row = {
            "pk": t["task_id"],
            "number": t["task__number"],
            "lead_body_id": body_id,
            "started_at": t["task__started_at"],
            "window_start": t["task__window_start"],
            "enterprise__name": t["task__enterprise__name"],
        }
        reasons = list(outside.get(t["pk"], []))
        if t["pk"] in expired:
            reasons.append("检查当日不在委托期限内")
        body = entry("registry.EnforcementBody", body_id, f"执法单位 {body_name}")
        yield task_hit(
            row,
            f"{body_name}参加{task_name(row)}（{chinese_date(visit_day(row))}）：" + "；".join(reasons),
            body,
            key=f"{t['task_id']}:{body_id}",
        )


@rule(code="too_few_inspectors", title="执法人员少于两人", severity=Severity.MEDIUM, incremental=True)
def too_few_inspectors(ctx: Context) -> Iterator[Hit]:
    """现场检查的执法人员少于两人。"""
    # One pass: the visits merged with their inspectors in task order and counted; the names of the few
    # found are read afterwards (joining them before the count would carry them through millions of rows).
    counts = dict(
        ctx.only(visits())
        .filter(mode=Task.Mode.ON_SITE)
        .annotate(n=Count("inspectors"))
        .filter(n__lt=MIN_INSPECTORS)
        .values_list("pk", "n")
    )
    if not counts:
        return
    for row in Task.objects.filter(pk__in=list(counts)).order_by().values(*TASK_VALUES):
        n = counts[row["pk"]]
        yield task_hit(row, f"{task_name(row)}为现场检查，执法人员只有{n}人（不得少于{MIN_INSPECTORS}人）")


PLAN_VALUES = (
    "pk",
    "number",
    "title",
    "body_id",
    "period_start",
    "status",
    "method",
    "filed_at",
    "published_at",
)


def plan_entry(row: dict[str, Any]) -> dict[str, Any]:
    return entry("plans.Plan", row["pk"], f"检查计划 {row['number'] or row['title']}")


@rule(code="plan_not_filed", title="检查计划未备案", severity=Severity.MEDIUM)
def plan_not_filed(ctx: Context) -> Iterator[Hit]:
    """检查计划的期间已经开始，计划仍未完成备案（草稿、审核中或退回修改）。"""
    rows = Plan.objects.exclude(status__in=FILED).filter(period_start__lte=ctx.today).values(*PLAN_VALUES)
    for row in rows:
        yield Hit(
            key=str(row["pk"]),
            body_id=row["body_id"],
            period=month_of(row["period_start"]),
            description=f"检查计划「{row['title']}」的期间已于{chinese_date(row['period_start'])}开始，仍未备案"
            f"（当前状态：{Plan.Status(row['status']).label}）",
            evidence=[plan_entry(row)],
        )


@rule(code="plan_not_published", title="检查计划未按时公告", severity=Severity.LOW)
def plan_not_published(ctx: Context) -> Iterator[Hit]:
    """已备案的检查计划在计划期间开始后仍未向社会公告；专项检查计划未在备案后一个月内公告（逾期公告的也计）。"""
    # Plans are a few per body and year: the month-after-filing test is done on the candidates here.
    candidates = Plan.objects.filter(status__in=FILED, filed_at__isnull=False).filter(
        Q(status=Plan.Status.FILED, period_start__lte=ctx.today) | Q(method=Plan.Method.SPECIAL)
    )
    for row in candidates.values(*PLAN_VALUES):
        filed = timezone.localdate(row["filed_at"])
        published = timezone.localdate(row["published_at"]) if row["published_at"] else None
        why = ""
        if row["method"] == Plan.Method.SPECIAL:
            due = add_months(filed, SPECIAL_PUBLISH_MONTHS)
            if (published or ctx.today) > due:
                when = f"于{chinese_date(published)}才公告" if published else "至今未公告"
                why = f"专项检查计划于{chinese_date(filed)}备案，应于{chinese_date(due)}前公告，{when}"
        elif published is None:
            why = f"检查计划已备案，期间已于{chinese_date(row['period_start'])}开始，至今未向社会公告"
        if why:
            yield Hit(
                key=str(row["pk"]),
                body_id=row["body_id"],
                period=month_of(row["period_start"]),
                description=f"检查计划「{row['title']}」：{why}",
                evidence=[plan_entry(row)],
            )


def month_name(month: datetime.date) -> str:
    return f"{month.year}年{month.month}月"


def evaluation_month_start(today: datetime.date) -> datetime.datetime:
    """The first moment of `today`'s month, local time: evaluations before it are in months that are over."""
    return timezone.make_aware(datetime.datetime.combine(today.replace(day=1), datetime.time()))


@rule(code="poor_evaluation", title="企业评议不满意", severity=Severity.MEDIUM)
def poor_evaluation(ctx: Context) -> Iterator[Hit]:
    """企业对检查的总体评价在阈值及以下（SUPERVISION_POOR_EVALUATION，默认2分“不满意”）：每个执法单位每月一个问题，
    按评议的月份，月份结束后才统计。每条评议的企业、任务、分数和意见只有执法监督人员可见，执法单位只看到月份和评议项目。"""
    # One finding per body and month (F-26): a finding per evaluation would tell the body, by the number of
    # findings and the moment each was found, when each poor rating came; the month's finding, made once the
    # month is over (the monthly run on the 1st), tells it only that the month had some. Its per-evaluation
    # detail is confidential (`Finding.confidential`): the bureau reads it, the body reads body_description.
    threshold = poor_evaluation_threshold()
    label = dict(Evaluation.SCORES).get(threshold, "")
    # Findings made before the rule grouped by month are keyed by the task: their evaluations are found.
    found_one_by_one = set(
        Finding.objects.filter(rule="poor_evaluation")
        .exclude(key__contains=":")
        .values_list("key", flat=True)
    )
    rows = (
        Evaluation.objects.filter(overall__lte=threshold, created_at__lt=evaluation_month_start(ctx.today))
        .order_by("created_at", "pk")
        .values(
            "pk",
            "overall",
            "comment",
            "created_at",
            "task_id",
            "task__number",
            "task__lead_body_id",
            "task__enterprise__name",
        )
    )
    months: dict[tuple[int, datetime.date], list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        if str(r["task_id"]) not in found_one_by_one:
            months[(r["task__lead_body_id"], month_of(timezone.localdate(r["created_at"])))].append(r)
    scores = dict(Evaluation.SCORES)
    for (body_id, month), group in months.items():
        lines, evidence = [], []
        for r in group:
            task = {
                "pk": r["task_id"],
                "number": r["task__number"],
                "enterprise__name": r["task__enterprise__name"],
            }
            comment = f"，意见：{r['comment'][:100]}" if r["comment"] else ""
            given = chinese_date(timezone.localdate(r["created_at"]))
            lines.append(
                f"{task_name(task)}，{given}评议，总体评价{r['overall']}分（{scores.get(r['overall'], '')}）{comment}"
            )
            evidence += [
                task_entry(task),
                entry(
                    "inspections.Evaluation",
                    r["pk"],
                    f"企业评议（{task['enterprise__name']}，{r['overall']}分）",
                ),
            ]
        yield Hit(
            key=f"{body_id}:{month:%Y-%m}",
            body_id=body_id,
            period=month,
            description=f"{month_name(month)}收到的企业评议中，{len(group)}条总体评价在{threshold}分（{label}）及以下：\n"
            + "\n".join(lines),
            evidence=evidence,
            confidential=True,
            body_description=f"{month_name(month)}收到的企业评议中，有总体评价在{threshold}分（{label}）及以下的评议。"
            "为保护评议企业，不显示评议的企业、检查任务、分数和意见；本单位的评议汇总见检查任务列表"
            f"（每新增满{evaluation_release_size()}条评议发布一次）。",
        )


def _allowed_lags(first: datetime.date, last: datetime.date, n: int) -> dict[int, list[datetime.date]]:
    """For each visit day in [first, last], how many calendar days after it the result may still be recorded
    (its deadline, the n-th working day after it, minus the day), grouped: {lag: [days]}. One calendar, read
    once, for the whole range."""
    calendar = WorkingCalendar()
    horizon = last + datetime.timedelta(days=n * 3 + 40)
    working = []
    day = first
    while day <= horizon:
        day += datetime.timedelta(days=1)
        if calendar.is_working_day(day):
            working.append(day)
    groups: dict[int, list[datetime.date]] = defaultdict(list)
    index = 0
    day = first
    while day <= last:
        while index < len(working) and working[index] <= day:
            index += 1
        groups[(working[index + n - 1] - day).days].append(day)
        day += datetime.timedelta(days=1)
    return groups


@rule(
    code="late_record",
    title="检查结果未按时录入",
    severity=Severity.LOW,
    incremental=True,
    full_when=("core.CalendarYear", "core.CalendarDay"),
)
def late_record(ctx: Context) -> Iterator[Hit]:
    """检查结果未在检查之日起规定的工作日内录入（SUPERVISION_RECORD_WORKING_DAYS，默认5个工作日，按官方工作日历）：
    逾期录入的，或至今未录入且已过期限的。"""
    n = record_working_days()
    today = Value(ctx.today, output_field=DateField())
    # Incremental: the changed tasks, and every visit still without a result (time passing makes those
    # late without any change; the partial index task_visit_unrecorded holds them).
    unrecorded = Q(result_recorded_at__isnull=True, started_at__isnull=False)
    candidates = ctx.only(visits(), extra=unrecorded).filter(started_at__isnull=False)
    lagging = (
        candidates.annotate(
            visit=TruncDate("started_at"),
            recorded=Coalesce(TruncDate("result_recorded_at"), today, output_field=DateField()),
        )
        .annotate(lag=ExpressionWrapper(F("recorded") - F("visit"), output_field=DurationField()))
        # n working days are at least n calendar days: only later ones can be late.
        .filter(lag__gt=datetime.timedelta(days=n))
    )
    first, last = ctx.visit_span if ctx.task_ids is None else span_of(candidates)
    if first is None:
        return
    late = Q()
    for allowed, days in _allowed_lags(first, last, n).items():
        if allowed > n:
            late |= Q(visit__in=days, lag__gt=datetime.timedelta(days=allowed))
        else:
            late |= Q(visit__in=days)
    rows = lagging.filter(late).values(*TASK_VALUES, "visit", "result_recorded_at")
    for row in rows:
        recorded = row["result_recorded_at"]
        when = f"于{chinese_date(timezone.localdate(recorded))}才录入" if recorded else "至今未录入"
        yield task_hit(
            row,
            f"{task_name(row)}于{chinese_date(row['visit'])}实施检查，检查结果应在{n}个工作日内录入，{when}",
        )


@rule(code="complaint_overdue", title="投诉举报未按期办理", severity=Severity.MEDIUM)
def complaint_overdue(ctx: Context) -> Iterator[Hit]:
    """涉及执法单位的投诉举报过了办理期限仍未办理，或逾期才办理。"""
    open_statuses = (Complaint.Status.REGISTERED, Complaint.Status.ASSIGNED)
    rows = (
        Complaint.objects.filter(body__isnull=False, handle_by__lt=ctx.today)
        .order_by()
        .filter(Q(status__in=open_statuses) | Q(handled_at__date__gt=F("handle_by")))
        .values(
            "pk", "number", "title", "body_id", "handle_by", "handled_at", "task_id", "task__number", "status"
        )
    )
    for row in rows:
        evidence = [entry("complaints.Complaint", row["pk"], f"投诉举报 {row['number'] or row['pk']}")]
        if row["task_id"]:
            evidence.append(entry(TASK, row["task_id"], f"检查任务 {row['task__number'] or row['task_id']}"))
        handled = row["handled_at"]
        when = f"于{chinese_date(timezone.localdate(handled))}才办理" if handled else "至今未办理"
        yield Hit(
            key=str(row["pk"]),
            body_id=row["body_id"],
            period=month_of(row["handle_by"]),
            description=f"投诉举报「{row['title']}」办理期限为{chinese_date(row['handle_by'])}，{when}",
            evidence=evidence,
            task_id=row["task_id"],
        )


@rule(code="emergency_unapproved", title="紧急检查未按时补批", severity=Severity.HIGH)
def emergency_unapproved(ctx: Context) -> Iterator[Hit]:
    """先行实施的紧急检查过了补批期限（开始后1个工作日）仍未批准，或逾期才批准。"""
    rows = (
        Task.objects.filter(is_emergency=True, approval_due__lt=ctx.today, started_at__isnull=False)
        .order_by()
        .filter(Q(approved_at__isnull=True) | Q(approved_at__date__gt=F("approval_due")))
        .values(*TASK_VALUES, "approval_due", "approved_at")
    )
    for row in rows:
        approved = row["approved_at"]
        when = f"于{chinese_date(timezone.localdate(approved))}才批准" if approved else "至今未批准"
        yield task_hit(
            row, f"{task_name(row)}为紧急检查，应于{chinese_date(row['approval_due'])}前补办批准，{when}"
        )


def field_act_hit(row: dict[str, Any], description: str) -> Hit:
    return Hit(
        key=str(row["pk"]),
        body_id=row["task__lead_body_id"],
        period=month_of(timezone.localdate(row["occurred_at"])),
        description=description,
        evidence=[
            entry(
                TASK,
                row["task_id"],
                f"检查任务 {row['task__number'] or row['task_id']}（{row['task__enterprise__name']}）",
            )
        ],
        task_id=row["task_id"],
    )


FIELD_ACT_VALUES = (
    "pk",
    "task_id",
    "task__number",
    "task__lead_body_id",
    "task__enterprise__name",
    "occurred_at",
    "user__full_name",
)


@rule(code="check_in_far_away", title="签到位置远离企业", severity=Severity.MEDIUM)
def check_in_far_away(ctx: Context) -> Iterator[Hit]:
    """执法人员在现场执法应用签到时的位置，距企业登记位置超过 FIELD_LOCATION_MAX_DISTANCE_METERS（默认1000米）；
    定位精度差于 FIELD_LOCATION_MAX_ACCURACY_METERS 的不计（位置不足为凭）。"""
    from jianchama.inspections.field import distance_m

    limit = settings.FIELD_LOCATION_MAX_DISTANCE_METERS
    # Inside the square inscribed in the circle of `limit` a check-in is surely near: the database leaves
    # those out, and only the rest is measured exactly.
    side = limit / math.sqrt(2)
    dlat = side / 111_320
    rows = (
        FieldAct.objects.filter(
            kind=FieldAct.Kind.CHECK_IN,
            latitude__isnull=False,
            longitude__isnull=False,
            accuracy_m__lte=settings.FIELD_LOCATION_MAX_ACCURACY_METERS,
            task__enterprise__latitude__isnull=False,
            task__enterprise__longitude__isnull=False,
        )
        .annotate(
            dlat=Abs(F("latitude") - F("task__enterprise__latitude")),
            dlng=Abs(F("longitude") - F("task__enterprise__longitude")),
        )
        # a longitude degree is at most a latitude degree long: this keeps every far one, and a few near
        .filter(Q(dlat__gt=dlat) | Q(dlng__gt=dlat))
        .order_by()
        .values(
            *FIELD_ACT_VALUES,
            "latitude",
            "longitude",
            "accuracy_m",
            "task__enterprise__latitude",
            "task__enterprise__longitude",
        )
    )
    for row in rows:
        metres = distance_m(
            float(row["latitude"]),
            float(row["longitude"]),
            float(row["task__enterprise__latitude"]),
            float(row["task__enterprise__longitude"]),
        )
        if metres <= limit:
            continue
        yield field_act_hit(
            row,
            f"检查任务{row['task__number'] or row['task_id']}（{row['task__enterprise__name']}）的执法人员"
            f"{row['user__full_name']}于{chinese_date(timezone.localdate(row['occurred_at']))}签到时距企业登记位置"
            f"约{round(metres)}米（定位精度{row['accuracy_m']}米），超过{limit}米",
        )


@rule(code="code_shown_without_position", title="亮码未定位", severity=Severity.LOW)
def code_shown_without_position(ctx: Context) -> Iterator[Hit]:
    """执法人员已允许现场执法应用定位，出示检查码时却没有位置记录（亮码即定位）。"""
    rows = (
        FieldAct.objects.filter(kind=FieldAct.Kind.CODE_SHOWN, location_allowed=True, latitude__isnull=True)
        .order_by()
        .values(*FIELD_ACT_VALUES)
    )
    for row in rows:
        yield field_act_hit(
            row,
            f"检查任务{row['task__number'] or row['task_id']}（{row['task__enterprise__name']}）的执法人员"
            f"{row['user__full_name']}于{chinese_date(timezone.localdate(row['occurred_at']))}出示检查码时"
            "已允许定位，但没有位置记录",
        )


# --- The city's inspection standard (按照市级行政检查标准开展检查; 行政检查裁量权) --------------------------------
#
# An item follows one version of the city standard (InspectionItem.standard) whose entry for the item
# (StandardItem) lists its checklist points and the range of rectification deadlines. A record is judged
# against the version the item follows at the time of the run, and only for visits on or after that
# version's effective date (a visit before it was not bound by it). Only recorded visits (result recorded,
# closed) have a record to judge. docs/standards.md says the same, with examples.

RECORDED = (S.RESULT_RECORDED, S.CLOSED)
VISIT_DAY = Coalesce(TruncDate("task__started_at"), F("task__window_start"), output_field=DateField())
VISIT_DAY_FINDING = Coalesce(
    TruncDate("record__task__started_at"), F("record__task__window_start"), output_field=DateField()
)


def _standard_entries() -> dict[int, dict[str, Any]]:
    """Per item following a standard: its points, deadline range, effective date and the standard's name. A
    few hundred rows (items × nothing), read once."""
    from jianchama.registry.models import StandardItem

    rows = StandardItem.objects.filter(item__standard_id=F("standard_id")).values(
        "item_id",
        "item__name",
        "checklist",
        "rectify_min_days",
        "rectify_max_days",
        "standard_id",
        "standard__title",
        "standard__version",
        "standard__document_number",
        "standard__effective_date",
    )
    return {row["item_id"]: row for row in rows}


def _in_force(entries: dict[int, dict[str, Any]]) -> Q:
    """(task, item) rows whose item follows a standard in force on the visit's day: one term per version."""
    by_standard: dict[tuple[int, datetime.date], list[int]] = defaultdict(list)
    for item_id, row in entries.items():
        by_standard[(row["standard_id"], row["standard__effective_date"])].append(item_id)
    condition = Q(pk__in=[])
    for (_, effective), item_ids in by_standard.items():
        condition |= Q(inspectionitem_id__in=item_ids, day__gte=effective)
    return condition


def _standard_name(row: dict[str, Any]) -> str:
    return f"《{row['standard__title']}》v{row['standard__version']}（{row['standard__document_number']}）"


def _task_item_rows(pairs: Iterable[tuple[int, int]]) -> dict[int, dict[str, Any]]:
    task_ids = {task_id for task_id, _ in pairs}
    return {row["pk"]: row for row in Task.objects.filter(pk__in=task_ids).order_by().values(*TASK_VALUES)}


STANDARD_DATA = ("registry.InspectionStandard", "registry.StandardItem", "registry.InspectionItem")


@rule(
    code="standard_departure",
    title="未按市级行政检查标准检查",
    severity=Severity.MEDIUM,
    incremental=True,
    full_when=STANDARD_DATA,
)
def standard_departure(ctx: Context) -> Iterator[Hit]:
    """已录入结果的检查，对依据市级行政检查标准的检查事项，检查记录偏离标准的检查要点：标准的检查要点有未逐条记录
    结果的（缺项），或记录了标准检查要点以外的内容（清单外）。以事项当前适用的标准版本为准，只评判该版本施行之日
    及以后实施的检查；一个任务的一个事项为一条问题。"""
    from jianchama.inspections.models import Finding as RecordFinding

    entries = _standard_entries()
    if not entries:
        return
    on_list = Q(pk__in=[])
    expected = []
    for item_id, row in entries.items():
        on_list |= Q(item_id=item_id, entry__in=row["checklist"])
        expected.append(When(item_id=item_id, then=Value(len(row["checklist"]))))
    in_force = _in_force(entries)
    through = Task.items.through
    # (task, item) pairs with results recorded: the points covered and the entries off the list, counted in
    # the database; only the departures come back.
    grouped = (
        ctx.only(
            RecordFinding.objects.filter(
                record__task__status__in=RECORDED, item_id__in=list(entries), item_id__isnull=False
            ),
            "record__task_id",
        )
        .annotate(day=VISIT_DAY_FINDING, inspectionitem_id=F("item_id"))
        .filter(in_force)
        .order_by()
        .values("record__task_id", "item_id")
        .annotate(
            covered=Count("entry", filter=on_list, distinct=True),
            off=Count("pk", filter=~on_list),
            expected=Max(Case(*expected, default=Value(0))),
        )
        .filter(Q(off__gt=0) | Q(covered__lt=F("expected")))
        .values_list("record__task_id", "item_id")
    )
    recorded = RecordFinding.objects.filter(
        record__task_id=OuterRef("task_id"), item_id=OuterRef("inspectionitem_id")
    )
    # (task, item) pairs with no result at all for the item: every point missing.
    empty = (
        ctx.only(through.objects.filter(task__status__in=RECORDED, task__record__isnull=False), "task_id")
        .filter(inspectionitem_id__in=list(entries))
        .annotate(day=VISIT_DAY)
        .filter(in_force)
        .filter(~Exists(recorded))
        .order_by()
        .values_list("task_id", "inspectionitem_id")
    )
    pairs = sorted(set(grouped) | set(empty))
    if not pairs:
        return
    # The few departures: their entries, to name what is missing and what is off the list.
    written: dict[tuple[int, int], list[str]] = defaultdict(list)
    pair_filter = Q(pk__in=[])
    for task_id, item_id in pairs:
        pair_filter |= Q(record__task_id=task_id, item_id=item_id)
    for task_id, item_id, text in (
        RecordFinding.objects.filter(pair_filter)
        .order_by("pk")
        .values_list("record__task_id", "item_id", "entry")
    ):
        written[(task_id, item_id)].append(text)
    tasks = _task_item_rows(pairs)
    for task_id, item_id in pairs:
        row, standard = tasks[task_id], entries[item_id]
        entries_written = written.get((task_id, item_id), [])
        missing = [p for p in standard["checklist"] if p not in entries_written]
        off = list(dict.fromkeys(e for e in entries_written if e not in standard["checklist"]))
        gaps = []
        if missing:
            gaps.append("未记录检查要点" + "、".join(f"「{p}」" for p in missing))
        if off:
            gaps.append("记录了标准以外的检查内容" + "、".join(f"「{e}」" for e in off))
        yield task_hit(
            row,
            f"{task_name(row)}的检查事项“{standard['item__name']}”未按照{_standard_name(standard)}开展检查："
            + "；".join(gaps),
            entry(
                "registry.InspectionStandard", standard["standard_id"], f"检查标准 {_standard_name(standard)}"
            ),
            key=f"{task_id}:{item_id}",
        )


@rule(
    code="rectify_outside_range",
    title="整改期限超出标准裁量范围",
    severity=Severity.MEDIUM,
    incremental=True,
    full_when=STANDARD_DATA,
)
def rectify_outside_range(ctx: Context) -> Iterator[Hit]:
    """责令限期整改的检查，整改期限（工作日）不在所查事项市级行政检查标准规定的范围内（行政检查裁量权）。
    受约束的事项：记录中有“不符合”结果的、依据标准的事项；记录中没有“不符合”结果的，则为任务的全部依据标准的
    事项。以事项当前适用的标准版本为准，只评判该版本施行之日及以后实施的检查；一个任务为一条问题。"""
    from jianchama.inspections.models import Finding as RecordFinding
    from jianchama.inspections.models import InspectionRecord

    entries = _standard_entries()
    if not entries:
        return
    low = [When(inspectionitem_id=i, then=Value(r["rectify_min_days"])) for i, r in entries.items()]
    high = [When(inspectionitem_id=i, then=Value(r["rectify_max_days"])) for i, r in entries.items()]
    failed = RecordFinding.objects.filter(record__task_id=OuterRef("task_id"), result="not_compliant")
    failed_item = failed.filter(item_id=OuterRef("inspectionitem_id"))
    days = F("task__record__rectify_working_days")
    through = Task.items.through
    pairs = list(
        ctx.only(through.objects.all(), "task_id")
        .filter(
            task__status__in=RECORDED,
            task__record__outcome=InspectionRecord.Outcome.RECTIFY,
            task__record__rectify_working_days__isnull=False,
            inspectionitem_id__in=list(entries),
        )
        .annotate(day=VISIT_DAY, low=Case(*low), high=Case(*high))
        .filter(_in_force(entries))
        .filter(Q(low__gt=days) | Q(high__lt=days))
        .filter(Exists(failed_item) | ~Exists(failed))
        .order_by("task_id", "inspectionitem_id")
        .values_list("task_id", "inspectionitem_id", "task__record__rectify_working_days")
    )
    if not pairs:
        return
    tasks = _task_item_rows((t, i) for t, i, _ in pairs)
    by_task: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for task_id, item_id, given in pairs:
        by_task[task_id].append((item_id, given))
    for task_id, found in by_task.items():
        row = tasks[task_id]
        given = found[0][1]
        ranges = "；".join(
            f"“{entries[i]['item__name']}”依{_standard_name(entries[i])}为{entries[i]['rectify_min_days']}至"
            f"{entries[i]['rectify_max_days']}个工作日"
            for i, _ in found
        )
        standards = {entries[i]["standard_id"]: entries[i] for i, _ in found}
        yield task_hit(
            row,
            f"{task_name(row)}责令{given}个工作日内整改，超出市级行政检查标准规定的整改期限范围（{ranges}）",
            *(
                entry("registry.InspectionStandard", pk, f"检查标准 {_standard_name(standard)}")
                for pk, standard in standards.items()
            ),
        )


# --- The one pass ------------------------------------------------------------------------------------------

# The task-level test of the rules that each scanned the whole task table (issue 16): in a full run, one query
# reads the visits once, with their code, their inspector count, their plan and whether the code was ever
# scanned, and flags each visit for every rule it may break; each rule then runs its own query on its flagged
# visits only, as an incremental run does on the changed ones (Context.task_ids). A flag is the rule's
# condition, or looser (an unknown is flagged), never stricter: the rule's own query decides, so its findings,
# their keys and descriptions are what a full scan of its own finds (tests/supervision/test_one_pass.py). A
# rule not listed here, or with more flagged visits than one_pass_max_tasks(), runs its own full query.
ONE_PASS_FLAGS: dict[str, str] = {
    "no_code": "c.id is null",
    "code_not_scanned": "t.mode = 'on_site' and c.id in ({unscanned})",
    "too_few_inspectors": f"t.mode = 'on_site' and coalesce(i.n, 0) < {MIN_INSPECTORS}",
    "outside_plan": (
        "t.kind in ({planned}) and not coalesce(p.status in ({filed}) and p.body_id = t.lead_body_id"
        " and t.window_start >= p.period_start and t.window_end <= p.period_end, false)"
    ),
    # Late only if its result's day is more than n days after the visit's (n working days are at least n
    # calendar days), so more than n - 1 days after it in time whatever the time zone; or not recorded yet
    # (the rule adds those from its partial index anyway). Looser than the rule: it decides with the calendar.
    "late_record": ("t.started_at is not null and (t.result_recorded_at is null or {recorded_late})"),
    # Any frequency finding at all (the rule looks for an unexempted "refuse", or an unjustified "justify").
    "frequency_breach": "t.frequency_findings <> {empty_array}",
}
# The tasks a one-pass rule reads, when not the visits (VISITED): the flag applies to these statuses only.
ONE_PASS_STATUSES: dict[str, tuple[str, ...]] = {"frequency_breach": FREQUENCY_COUNTED}


def _recorded_late_sql() -> str:
    days = max(record_working_days() - 1, 0)
    if connection.vendor == "postgresql":
        return f"t.result_recorded_at > t.started_at + interval '{days} days'"
    return f"julianday(t.result_recorded_at) - julianday(t.started_at) > {days}"


def _quoted(values: Iterable[str]) -> str:
    return ", ".join(f"'{value}'" for value in sorted(values))


def one_pass_sql(codes: Iterable[str]) -> str:
    """The one query: each visit that some of `codes`' rules may find, with a 0/1 flag per rule."""
    codes = [code for code in codes if code in ONE_PASS_FLAGS]
    unscanned = (
        "select c2.id from inspections_inspectioncode c2 where not exists (select 1 from inspections_scan s "
        f"where s.code_id = c2.id and s.outcome = '{Scan.Outcome.GENUINE}')"
    )
    flags = [
        ONE_PASS_FLAGS[code].format(
            planned=_quoted(Task.PLANNED_KINDS),
            filed=_quoted(FILED),
            unscanned=unscanned,
            recorded_late=_recorded_late_sql(),
            empty_array="'[]'::jsonb" if connection.vendor == "postgresql" else "'[]'",
        )
        for code in codes
    ]
    statuses = sorted({status for code in codes for status in ONE_PASS_STATUSES.get(code, VISITED)})
    flags = [
        flag
        if set(ONE_PASS_STATUSES.get(code, VISITED)) == set(statuses)
        else f"t.status in ({_quoted(ONE_PASS_STATUSES.get(code, VISITED))}) and {flag}"
        for code, flag in zip(codes, flags, strict=True)
    ]
    columns = ", ".join(
        f"case when {flag} then 1 else 0 end as {code}" for code, flag in zip(codes, flags, strict=True)
    )
    joins = ["left join inspections_inspectioncode c on c.task_id = t.id"]
    if "too_few_inspectors" in codes:
        joins.append(
            "left join (select task_id, count(*) as n from inspections_task_inspectors group by task_id) i "
            "on i.task_id = t.id"
        )
    if "outside_plan" in codes:
        joins.append("left join plans_plan p on p.id = t.plan_id")
    # The flags are computed once per visit in the inner query (PostgreSQL's "offset 0" keeps it from being
    # merged into the outer one, which would build the never-scanned codes twice), then filtered.
    fence = " offset 0" if connection.vendor == "postgresql" else ""
    inner = (
        f"select t.id, {columns} from inspections_task t {' '.join(joins)} "
        f"where t.status in ({_quoted(statuses)}){fence}"
    )
    return f"select * from ({inner}) flags where {' + '.join(codes)} > 0"


def one_pass_enabled() -> bool:
    """Full runs flag the visits of the task-table rules in one pass (default True)."""
    return bool(getattr(settings, "SUPERVISION_ONE_PASS", True))


def one_pass_max_tasks() -> int:
    """Beyond this many flagged visits a rule runs its own full query rather than a list of ids (default
    100,000 on PostgreSQL; SQLite: incremental_max_tasks(), its limit on a statement's parameters)."""
    default = 100_000 if connection.vendor == "postgresql" else incremental_max_tasks()
    return int(getattr(settings, "SUPERVISION_ONE_PASS_MAX_TASKS", default))


def one_pass(codes: Iterable[str]) -> dict[str, frozenset[int]]:
    """The visits each of `codes`' one-pass rules may find, read in one query ({} when none is listed)."""
    codes = [code for code in codes if code in ONE_PASS_FLAGS]
    if not codes:
        return {}
    flagged: dict[str, set[int]] = {code: set() for code in codes}
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("select set_config('work_mem', %s, true)", [work_mem()])
        with streaming():
            cursor.execute(one_pass_sql(codes))
            while rows := cursor.fetchmany(5000):
                for task_id, *marks in rows:
                    for code, mark in zip(codes, marks, strict=True):
                        if mark:
                            flagged[code].add(task_id)
    return {code: frozenset(ids) for code, ids in flagged.items()}


# --- The run -----------------------------------------------------------------------------------------------


def may_run_rules(user) -> bool:
    return user.is_authenticated and (user.is_platform_admin or user.role == Role.SUPERVISOR)


def _store(code: str, severity: str, title: str, hits: list[Hit], run: RuleRun) -> list[Finding]:
    """Insert the findings of hits not found before; returns the new ones."""
    keys = {hit.key for hit in hits}
    existing = set()
    key_list = list(keys)
    for start in range(0, len(key_list), 5000):
        existing |= set(
            Finding.objects.filter(rule=code, key__in=key_list[start : start + 5000]).values_list(
                "key", flat=True
            )
        )
    new, seen = [], set()
    for hit in hits:
        if hit.key in existing or hit.key in seen:
            continue
        seen.add(hit.key)
        new.append(
            Finding(
                source=Finding.Source.DATA_RULE,
                rule=code,
                key=hit.key,
                body_id=hit.body_id,
                title=title,
                description=hit.description,
                severity=severity,
                period=hit.period,
                evidence=hit.evidence,
                task_id=hit.task_id,
                confidential=hit.confidential,
                body_description=hit.body_description,
                run=run,
            )
        )
    # A run at the same time may have inserted some of them meanwhile: those are skipped, not duplicated.
    Finding.objects.bulk_create(new, batch_size=1000, ignore_conflicts=True)
    return new


def _by_region(hits: list[Hit], new: list[Finding], body_regions: dict[int, int]) -> dict[str, list[int]]:
    """A rule's hits and new findings per region of the body concerned, {region id: [hits, new]}: the run
    page shows a district's supervisor his own district's figures only (scope_figures)."""
    figures: dict[str, list[int]] = {}
    for index, items in ((0, hits), (1, new)):
        for item in items:
            region = str(body_regions.get(item.body_id))
            figures.setdefault(region, [0, 0])[index] += 1
    return figures


def scope_regions(user) -> set[str] | None:
    """The ids (as text, the keys of a run's figures) of the regions `user` supervises; None when he sees
    the whole city (the platform administrator, a city-level supervisor)."""
    if user.is_platform_admin or user.region_id is None:
        return None
    regions = {
        str(pk)
        for pk in Region.objects.filter(path__startswith=user.region.path).values_list("pk", flat=True)
    }
    if len(regions) == Region.objects.count():
        return None
    return regions


WHOLE_CITY = object()


def scope_figures(
    run: RuleRun, user, regions: set[str] | object | None = WHOLE_CITY
) -> tuple[dict[str, dict], int] | None:
    """The run's figures per rule and its new findings within `user`'s scope: None when the user sees the
    whole city (the platform administrator, a city-level supervisor), else ({code: figures}, new). A list
    of runs passes `regions` (`scope_regions(user)`, read once for the page)."""
    if regions is WHOLE_CITY:
        regions = scope_regions(user)
    if regions is None:
        return None
    stats, total = {}, 0
    for code, figures in (run.stats or {}).items():
        scoped = {key: value for key, value in figures.items() if key not in ("hits", "new", "regions")}
        if "regions" in figures:
            pairs = [pair for region, pair in figures["regions"].items() if region in regions]
            scoped["hits"], scoped["new"] = sum(p[0] for p in pairs), sum(p[1] for p in pairs)
            total += scoped["new"]
        elif "error" not in figures:
            scoped["unknown"] = True  # a run from before the figures were kept per region
        stats[code] = scoped
    return stats, total


def audit_head() -> int:
    """The sequence of the last audit event (0 when there is none): the watermark a run keeps."""
    return AuditEvent.objects.aggregate(head=Max("sequence"))["head"] or 0


def start_run(actor, *, rules: Iterable[str] | None = None, incremental: bool = False) -> RuleRun:
    """Check who asks and which rules, and record the run as running, with the head of the audit log: the
    next incremental run looks at what changed after it. `actor` is a supervisor or platform
    administrator, or the text "系统" for the schedules."""
    if isinstance(actor, str):
        user = None
    elif may_run_rules(actor):
        user = actor
    else:
        raise PermissionDenied("只有司法局执法监督人员或平台管理员可以运行数据监督规则")
    codes = list(RULES) if rules is None else list(dict.fromkeys(rules))
    unknown = [code for code in codes if code not in RULES]
    if unknown or not codes:
        raise DomainError(f"没有这些数据监督规则：{'、'.join(unknown)}" if unknown else "请至少选择一条规则")
    return RuleRun.objects.create(
        triggered_by=user, rules=codes, incremental=incremental, audit_sequence=audit_head()
    )


@dataclass
class Changes:
    """What the audit log says changed between two of its sequences: the object types, and the ids of the
    tasks (directly or through their codes) and plans."""

    types: set[str]
    task_ids: set[int]
    plan_ids: set[int]


def changes_between(after: int, upto: int) -> Changes:
    changes = Changes(set(), set(), set())
    code_ids: set[int] = set()
    events = AuditEvent.objects.filter(sequence__gt=after, sequence__lte=upto).values_list(
        "object_type", "object_id"
    )
    wanted = {TASK: changes.task_ids, "plans.Plan": changes.plan_ids, "inspections.InspectionCode": code_ids}
    for object_type, object_id in events.order_by().iterator(chunk_size=5000):
        changes.types.add(object_type)
        if object_type in wanted and object_id.isdigit():
            wanted[object_type].add(int(object_id))
    ids = sorted(code_ids)
    for start in range(0, len(ids), 5000):
        changes.task_ids.update(
            InspectionCode.objects.filter(pk__in=ids[start : start + 5000]).values_list("task_id", flat=True)
        )
    return changes


def _base_sequence(code: str, run: RuleRun) -> int | None:
    """The watermark of rule `code`: the audit head when the last run that ran it (successfully) started."""
    earlier = (
        RuleRun.objects.filter(pk__lt=run.pk, audit_sequence__isnull=False)
        .order_by("-pk")
        .values_list("audit_sequence", "stats")
    )
    for sequence, stats in earlier.iterator(chunk_size=20):
        if "hits" in (stats or {}).get(code, {}):
            return sequence
    return None


def _incremental_context(
    code: str, run: RuleRun, ctx: Context, cache: dict[int, Changes]
) -> tuple[Context, dict[str, Any]]:
    """The context of rule `code` in incremental run `run`, and what the run's figures say of its scope."""
    definition = RULES[code]
    if not definition.incremental:
        return ctx, {"scope": "full"}
    base = _base_sequence(code, run)
    if base is None:
        return ctx, {"scope": "full", "why": "no earlier run"}
    if base not in cache:
        cache[base] = changes_between(base, run.audit_sequence or 0)
    changes = cache[base]
    changed = sorted(changes.types & set(definition.full_when))
    if changed:
        return ctx, {"scope": "full", "why": "changed: " + ", ".join(changed)}
    if len(changes.task_ids) > incremental_max_tasks():
        return ctx, {"scope": "full", "why": f"{len(changes.task_ids)} tasks changed"}
    narrowed = Context(
        today=ctx.today,
        now=ctx.now,
        task_ids=frozenset(changes.task_ids),
        plan_ids=frozenset(changes.plan_ids),
    )
    return narrowed, {"scope": "incremental", "since": base, "tasks": len(changes.task_ids)}


def _write_waiting_scans() -> None:
    """The scans still waiting in the scan log's stream are written before the rules read them: a code scanned
    a moment ago is not "never scanned". Redis or the database failing here does not stop the run (the rules
    then see what is written, as they would have a second earlier)."""
    try:
        scan_log.flush_pending()
    except Exception:
        logger.exception("数据监督规则运行前写入待写扫码记录失败，规则按已写入的扫码记录运行")


def execute_run(run: RuleRun, *, today: datetime.date | None = None) -> RuleRun:
    """Run a started run's rules over all the data and record the new findings. The figures of each rule are
    saved as soon as it finishes, so the run list shows the progress. A rule that raises does not stop the
    others: the run is then marked failed with the error.

    A run whose worker died midway is picked up again by the task queue (the job was never acknowledged): the
    rules it had finished (their figures saved) are not run again, the others are, so the run does its work
    once. A rule cut short between storing its findings and saving its figures runs again and finds them
    already there ((rule, key) is unique)."""
    if run.status != RuleRun.Status.RUNNING:
        raise InvalidTransition(f"数据监督规则运行记录 {run.pk} 已{run.get_status_display()}，不能再次运行")
    finished = set(run.stats)
    actor = run.triggered_by or "系统"
    _write_waiting_scans()
    codes = list(run.rules)
    ctx = Context(today=today or timezone.localdate(), now=timezone.now())
    changes: dict[int, Changes] = {}
    started = time.perf_counter()
    # A full run reads the task table once for the rules that each scanned it (the one pass, above).
    flagged: dict[str, frozenset[int]] = {}
    one_pass_first = [0.0]  # its seconds, counted once, on the first flagged rule
    passing = not run.incremental and one_pass_enabled()

    def first_the_one_pass() -> None:
        if not passing:
            return
        began = time.perf_counter()
        try:
            flagged.update(one_pass(code for code in codes if code not in finished))
        except Exception:  # the rules then scan on their own, as before
            logger.exception("数据监督规则的合并扫描失败，各规则单独扫描")
        one_pass_first[0] = round(time.perf_counter() - began, 3)

    errors: list[str] = []
    pending = [code for code in codes if code not in finished]
    body_regions: dict[int, int] = {}
    if pending:
        body_regions = dict(EnforcementBody.objects.values_list("pk", "region_id"))
    progress = threading.Lock()  # one rule's figures saved at a time, each save holding all so far

    def run_one(code: str) -> None:
        definition = RULES[code]
        began = time.perf_counter()
        scope: dict[str, Any] = {}
        try:
            with transaction.atomic():
                if connection.vendor == "postgresql":
                    # The rules join and group millions of rows: room to hash them in memory, for this
                    # transaction only.
                    with connection.cursor() as cursor:
                        cursor.execute("select set_config('work_mem', %s, true)", [work_mem()])
                rule_ctx = ctx
                if run.incremental:
                    rule_ctx, scope = _incremental_context(code, run, ctx, changes)
                elif code in flagged and len(flagged[code]) <= one_pass_max_tasks():
                    rule_ctx = Context(today=ctx.today, now=ctx.now, task_ids=flagged[code])
                    # Its flagged visits; the one pass's seconds are counted once, on its first rule (a full
                    # run's figures carry no "scope": that is an incremental run's).
                    with progress:
                        scope = {"one_pass": len(flagged[code]), "one_pass_seconds": one_pass_first[0]}
                        one_pass_first[0] = 0.0
                hits = list(definition.find(rule_ctx))
                queried = time.perf_counter() - began
                new_findings = _store(code, definition.severity, definition.title, hits, run)
                new = len(new_findings)
                regions = _by_region(hits, new_findings, body_regions)
        except Exception as error:  # a broken rule is reported on the run, the others still run
            with progress:
                errors.append(f"{definition.title}（{code}）：{type(error).__name__}: {error}")
                run.stats[code] = {"error": str(error), "seconds": round(time.perf_counter() - began, 3)}
                RuleRun.objects.filter(pk=run.pk).update(stats=dict(run.stats), new_findings=run.new_findings)
            return
        with progress:
            run.stats[code] = {
                "hits": len(hits),
                "new": new,
                "seconds": round(time.perf_counter() - began, 3),
                "query_seconds": round(queried, 3),
                "regions": regions,
                **scope,
            }
            run.new_findings += new
            RuleRun.objects.filter(pk=run.pk).update(stats=dict(run.stats), new_findings=run.new_findings)

    workers = rule_workers() if not run.incremental else 1
    if workers > 1 and connection.vendor == "postgresql" and not connection.in_atomic_block and pending:
        # The one pass and its rules on this connection, the other rules meanwhile on the others.
        own = [code for code in pending if passing and code in ONE_PASS_FLAGS]
        shared = sorted(
            (code for code in pending if code not in own),
            key=lambda code: HEAVY.index(code) if code in HEAVY else len(HEAVY),
        )
        _run_on_connections(first_the_one_pass, own, shared, run_one, workers)
    else:
        first_the_one_pass()
        for code in pending:
            run_one(code)
    run.status = RuleRun.Status.FAILED if errors else RuleRun.Status.DONE
    run.error = "\n".join(errors)
    run.finished_at = timezone.now()
    run.seconds = round(time.perf_counter() - started, 3)
    with transaction.atomic():
        run.save(update_fields=["stats", "new_findings", "status", "error", "finished_at", "seconds"])
        audit.record(
            actor=actor,
            action="supervision.rules_run",
            obj=run,
            after={
                "status": run.status,
                "rules": codes,
                "new_findings": run.new_findings,
                "hits": sum(s.get("hits", 0) for s in run.stats.values()),
                "error": run.error,
            },
        )
    return run


def rule_workers() -> int:
    """How many database connections a full run's rules use at once (SUPERVISION_RULE_WORKERS, default 2;
    PostgreSQL only, and not inside a transaction: another connection would not see its rows)."""
    return max(int(getattr(settings, "SUPERVISION_RULE_WORKERS", 2)), 1)


# The rules a parallel full run starts first (the longest at ten million tasks, bench/README.md).
HEAVY = ("body_unauthorised", "check_in_far_away", "uncertified_inspector", "standard_departure")


# Called in a worker thread with its connection before that closes (the benchmark adds up its backend's CPU).
on_worker_done: Callable[[Any], None] | None = None


def _run_on_connections(
    first: Callable[[], None], own: list[str], shared: list[str], run_one: Callable[[str], None], workers: int
) -> None:
    """core.parallel's, with this module's `on_worker_done` as it is when the run starts."""
    run_on_connections(first, own, shared, run_one, workers, on_done=on_worker_done)


def run_rules(
    actor,
    *,
    rules: Iterable[str] | None = None,
    today: datetime.date | None = None,
    incremental: bool = False,
) -> RuleRun:
    """Run every data rule (or the named ones) now, in this process: the schedules, the command, tests.
    `incremental`: the task rules look only at what changed since their last run (module docstring)."""
    return execute_run(start_run(actor, rules=rules, incremental=incremental), today=today)


# A run still marked running after this long is taken for one whose worker died: it no longer blocks.
STALE_RUN = datetime.timedelta(hours=2)


def queue_run(actor, *, rules: Iterable[str] | None = None) -> RuleRun:
    """A supervisor's "run now": the run is recorded at once and done by the task queue's worker (over
    millions of inspections it takes longer than a page may wait); the run list shows its progress. One
    run at a time: asked again while a run is under way, it returns that run (`already_running` set)."""
    from django_q.tasks import async_task

    with transaction.atomic():
        running = (
            RuleRun.objects.select_for_update()
            .filter(status=RuleRun.Status.RUNNING, started_at__gt=timezone.now() - STALE_RUN)
            .order_by("started_at")
            .first()
        )
        if running is not None:
            # A second "run now" (a double click, another supervisor, a retry) is the run under way.
            if not may_run_rules(actor):
                raise PermissionDenied("只有司法局执法监督人员或平台管理员可以运行数据监督规则")
            running.already_running = True
            return running
        run = start_run(actor, rules=rules)
        transaction.on_commit(
            lambda: async_task(
                "jianchama.supervision.jobs.execute_rule_run", run.pk, task_name=f"rules-{run.pk}"
            )
        )
    return run
