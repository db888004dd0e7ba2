"""Each enterprise's yearly inspection caps and how much of them is used this year (F-21 made public for F-43;
国办发〔2024〕54号 asks that frequency caps be public).

The caps are the active frequency rules counted by calendar year (`FrequencyRule.Period.YEAR`) of the two
scopes that cap visits: one body to one enterprise (`per_body`) and all bodies together (`all_bodies`); a rule
applies to the enterprise when its risk grade is blank or the enterprise's. What counts as an inspection and on
which day is `inspections.frequency`'s definition (submitted or further, not cancelled; the day it started, else
the first day of its window), read with the same index, on (enterprise, window_start).

Who may look: anyone, by the enterprise's USCC *and* its exact name. The platform never tells whether a USCC
alone is registered (the enterprise code page answers every code alike), and valid USCCs can be enumerated;
asking for the name as well lets the enterprise, its partners and the public check a known enterprise without
turning the page into a registry of who is inspected. A lookup is three queries whatever the enterprise's
history: the enterprise by its unique USCC, the rules, and its tasks of the year through the index.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass

from django.utils import timezone

from jianchama.inspections.frequency import COUNTED, WINDOW_SLACK, exemption_label
from jianchama.inspections.models import FrequencyRule, TaskBody
from jianchama.registry import uscc as uscc_codes
from jianchama.registry.models import Enterprise

Scope = FrequencyRule.Scope


def yearly_rules() -> list[FrequencyRule]:
    return list(
        FrequencyRule.objects.filter(
            is_active=True, period=FrequencyRule.Period.YEAR, scope__in=[Scope.PER_BODY, Scope.ALL_BODIES]
        )
        .select_related("field")
        .order_by("scope", "limit", "pk")
    )


def rule_record(rule: FrequencyRule) -> dict:
    return {
        "name": rule.name,
        "scope": rule.get_scope_display(),
        "limit": rule.limit,
        "field": rule.field.name if rule.field_id else "",
        "body_level": rule.get_body_level_display() if rule.body_level else "",
        "risk_grade": rule.risk_grade,
        "action": rule.get_action_display(),
        "exemptions": "；".join(exemption_label(code) for code in rule.exemptions),
    }


def lookup_problems(code: str, name: str) -> list[str]:
    problems = []
    code = uscc_codes.normalise(code or "")
    if not code:
        problems.append("请填写统一社会信用代码")
    else:
        problem = uscc_codes.problem(code)
        if problem:
            problems.append(problem)
    if not (name or "").strip():
        problems.append("请填写企业名称（须与登记的名称完全一致）")
    elif len(name.strip()) > 200:
        problems.append("企业名称不能超过200个字")
    return problems


def find_enterprise(code: str, name: str) -> Enterprise | None:
    """The enterprise whose USCC and name both match, or None (one query on the unique USCC)."""
    return (
        Enterprise.objects.filter(uscc=uscc_codes.normalise(code), name=name.strip())
        .only("pk", "uscc", "name", "risk_grade")
        .first()
    )


@dataclass(frozen=True)
class CapUsage:
    rule: FrequencyRule
    used: int  # all bodies: the visits this year; per body: the most visits by any one body
    conditions: str

    @property
    def limit(self) -> int:
        return self.rule.limit

    @property
    def reached(self) -> bool:
        return self.used >= self.rule.limit

    @property
    def remaining(self) -> int:
        return max(self.rule.limit - self.used, 0)

    def as_json(self) -> dict:
        return {
            **rule_record(self.rule),
            "conditions": self.conditions,
            "used": self.used,
            "remaining": self.remaining,
            "reached": self.reached,
        }


def _conditions(rule: FrequencyRule) -> str:
    parts = []
    if rule.field_id:
        parts.append(f"{rule.field.name}领域的检查")
    if rule.body_level:
        parts.append(f"{rule.get_body_level_display()}执法单位")
    return "，".join(parts) or "全部领域、全部层级"


def usage(enterprise: Enterprise, rules: list[FrequencyRule], year: int | None = None) -> list[CapUsage]:
    """How much of each cap that applies to the enterprise it has used in `year` (this year by default)."""
    year = year or timezone.localdate().year
    first, last = datetime.date(year, 1, 1), datetime.date(year, 12, 31)
    rows = TaskBody.objects.filter(
        task__enterprise_id=enterprise.pk,
        task__window_start__gte=first - WINDOW_SLACK,
        task__window_start__lte=last,
        task__status__in=COUNTED,
    ).values_list(
        "task_id", "task__window_start", "task__started_at", "body_id", "body__level", "items__field_id"
    )
    # task → its day, and per body its level and fields
    days: dict[int, datetime.date] = {}
    parts: dict[int, dict[int, tuple[str, set]]] = defaultdict(dict)
    for task_id, start, started, body_id, level, field_id in rows:
        days[task_id] = timezone.localdate(started) if started else start
        part = parts[task_id].setdefault(body_id, (level, set()))
        if field_id is not None:
            part[1].add(field_id)
    in_year = [t for t, day in days.items() if first <= day <= last]
    found = []
    for rule in rules:
        if rule.risk_grade and rule.risk_grade != enterprise.risk_grade:
            continue

        def matches(level: str, fields: set, rule=rule) -> bool:
            return (not rule.field_id or rule.field_id in fields) and (
                not rule.body_level or rule.body_level == level
            )

        if rule.scope == Scope.ALL_BODIES:
            used = sum(1 for t in in_year if any(matches(level, f) for level, f in parts[t].values()))
        else:
            per_body: dict[int, int] = defaultdict(int)
            for t in in_year:
                for body_id, (level, f) in parts[t].items():
                    if matches(level, f):
                        per_body[body_id] += 1
            used = max(per_body.values(), default=0)
        found.append(CapUsage(rule=rule, used=used, conditions=_conditions(rule)))
    return found
