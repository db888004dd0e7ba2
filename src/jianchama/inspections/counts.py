"""Frequency control's numbers (F-21) for the statistics (F-42): the submissions the rules refused, those that
passed on a justification, an exemption or with a warning, and the visits avoided by joining another body's
visit (进一次门、查多项事) or by carrying out an accepted proposal to merge plans (F-13).

The caller says whose rows are counted (a condition on Task, and one on FrequencyRefusalRecord: its scope and
filters) and the period; these functions add the rest and count. They read the raw tables, not the
statistics' facts, because the rows they count are few: each query starts from a partial index that holds
only them (Task's `task_frequency_noted`, `task_joined` and `task_coordinated`; the refusal records are a table
of their own), whatever the size of the task table.

Dates: a task by its inspection date (`frequency.inspected_between`: the day it started, else the first day of
its window), as every statistics figure; a refusal by the inspection date the refused check was about
(`FrequencyRefusalRecord.day`); a task that joined another body's by its own planned day (it never started).
"""

from __future__ import annotations

import datetime
import json
from collections import defaultdict
from dataclasses import dataclass

from django.db import connection
from django.db.models import BooleanField, Count, ExpressionWrapper, Q
from django.db.models.expressions import RawSQL

from .frequency import COUNTED, WINDOW_SLACK, inspected_between
from .models import Exemption, FrequencyRefusalRecord, FrequencyRule, Task, TaskBody

Action = FrequencyRule.Action
# The tasks whose check found something (Task's partial index `task_frequency_noted` holds exactly these).
NOTED = ~Q(frequency_findings=[])
# A breach an exemption let through: without it the task would have been refused or needed a justification
# (a waived warning would have passed anyway).
WAIVED_ACTIONS = (Action.REFUSE, Action.JUSTIFY)


def _findings_column() -> str:
    quote = connection.ops.quote_name
    return f"{quote(Task._meta.db_table)}.{quote('frequency_findings')}"


def _waiver() -> RawSQL:
    """The exemption that let the task through a rule that would have refused it or asked for a justification
    (the first such finding's `exempted_by`), else NULL. PostgreSQL: a JSON path; SQLite: json_each. Both
    read the findings in their order."""
    column = _findings_column()
    if connection.vendor == "postgresql":
        path = '$[*] ? (@.exempted_by != "" && (@.action == "refuse" || @.action == "justify")).exempted_by'
        return RawSQL(f"(jsonb_path_query_first({column}, %s::jsonpath) #>> '{{}}')", [path])
    marks = ", ".join("%s" for _ in WAIVED_ACTIONS)
    return RawSQL(
        f"(SELECT json_extract(f.value, '$.exempted_by') FROM json_each({column}) AS f "
        f"WHERE json_extract(f.value, '$.exempted_by') <> '' AND json_extract(f.value, '$.action') IN ({marks}) "
        "LIMIT 1)",
        list(WAIVED_ACTIONS),
    )


def _warned() -> RawSQL:
    """Whether the task has a warning no exemption waived."""
    column = _findings_column()
    if connection.vendor == "postgresql":
        return RawSQL(
            f"({column} @> %s::jsonb)",
            [json.dumps([{"action": Action.WARN, "exempted_by": ""}])],
            output_field=BooleanField(),
        )
    return RawSQL(
        f"EXISTS (SELECT 1 FROM json_each({column}) AS f WHERE json_extract(f.value, '$.action') = %s "
        "AND json_extract(f.value, '$.exempted_by') = '')",
        [Action.WARN],
        output_field=BooleanField(),
    )


@dataclass
class FrequencyControlCounts:
    # Refused submissions and approvals per (FrequencyRefusalRecord.Stage, .Reason): each attempt counts.
    refusals: dict[tuple[str, str], int]
    justified: int  # inspections submitted with a justification (a justify-rule broken)
    exempted: dict[str, int]  # inspections a rule would have refused or asked to justify, per exemption
    warned: int  # inspections with a warning (a warn-rule broken, not waived)


def frequency_control(
    *, tasks: Q, refusals: Q, start: datetime.date, end: datetime.date
) -> FrequencyControlCounts:
    """Two queries: the period's noted inspections (counted ones: submitted or further, not cancelled) grouped
    by what their check found (a handful of groups; each row's findings read once), and the period's refusal
    records grouped by stage and reason. An inspection may count in several rows (a justification and a
    warning); in one exemption's row only, the first its findings name."""
    groups = (
        Task.objects.filter(NOTED, inspected_between(start, end), status__in=COUNTED)
        .filter(tasks)
        .annotate(
            waiver=_waiver(),
            warned=_warned(),
            justified=ExpressionWrapper(~Q(frequency_justification=""), output_field=BooleanField()),
        )
        .values("waiver", "warned", "justified")
        .annotate(n=Count("pk"))
        .order_by()
    )
    justified = warned = 0
    exempted = dict.fromkeys(Exemption.values, 0)
    for group in groups:
        justified += group["n"] if group["justified"] else 0
        warned += group["n"] if group["warned"] else 0
        if group["waiver"] in exempted:
            exempted[group["waiver"]] += group["n"]
    refused = (
        FrequencyRefusalRecord.objects.filter(day__range=(start, end))
        .filter(refusals)
        .values("stage", "reason")
        .annotate(n=Count("pk"))
        .order_by()
    )
    return FrequencyControlCounts(
        refusals={(row["stage"], row["reason"]): row["n"] for row in refused},
        justified=justified,
        exempted=exempted,
        warned=warned,
    )


@dataclass
class VisitsAvoided:
    joined: int  # tasks cancelled by joining another body's task on the same enterprise: one visit each
    merged: int  # visits avoided by joint inspections carrying out accepted coordination proposals
    merged_tasks: int  # those joint inspections

    @property
    def total(self) -> int:
        return self.joined + self.merged


def visits_avoided(*, tasks: Q, start: datetime.date, end: datetime.date) -> VisitsAvoided:
    """The joined tasks of the period (their planned day), and the joint inspections of the period (counted
    ones, by their inspection day) that carry out an accepted proposal to merge plans (F-13,
    `Task.coordination_proposal`). Such an inspection saves one visit for each of the proposal's bodies taking
    part but one; a body that came in by joining (`joined_into`) is counted among the joined, not again here."""
    joined = (
        Task.objects.filter(joined_into__isnull=False, window_start__range=(start, end)).filter(tasks).count()
    )
    merged, merged_tasks = _merged(tasks, start, end)
    return VisitsAvoided(joined=joined, merged=merged, merged_tasks=merged_tasks)


def _merged(tasks: Q, start: datetime.date, end: datetime.date) -> tuple[int, int]:
    carrying_out = {
        pk: (proposal, window_start, window_end)
        for pk, proposal, window_start, window_end in Task.objects.filter(
            coordination_proposal__isnull=False, status__in=COUNTED
        )
        .filter(inspected_between(start, end))
        .filter(tasks)
        .order_by()
        .values_list("pk", "coordination_proposal_id", "window_start", "window_end")
    }
    if not carrying_out:
        return 0, 0
    ids = list(carrying_out)
    # The plans app owns the proposals; inspections reads them at run time (docs/architecture.md: "calls").
    from jianchama.plans.models import CoordinationProposal

    proposal_bodies: dict[int, set[int]] = defaultdict(set)
    for proposal, body in CoordinationProposal.plans.through.objects.filter(
        coordinationproposal_id__in={proposal for proposal, *_days in carrying_out.values()}
    ).values_list("coordinationproposal_id", "plan__body_id"):
        proposal_bodies[proposal].add(body)
    taking_part: dict[int, set[int]] = defaultdict(set)
    for task, body in TaskBody.objects.filter(task_id__in=ids).values_list("task_id", "body_id"):
        taking_part[task].add(body)
    # The bodies that came in by joining: the joined tasks' own. A joined task's window met its joint task's
    # (frequency.join_task) and is at most WINDOW_SLACK long, so it is read from `task_joined` by its start.
    first = min(window_start for _proposal, window_start, _end in carrying_out.values())
    last = max(window_end for _proposal, _start, window_end in carrying_out.values())
    for task, body in Task.objects.filter(
        joined_into__isnull=False, window_start__range=(first - WINDOW_SLACK, last), joined_into_id__in=ids
    ).values_list("joined_into_id", "task_bodies__body_id"):
        taking_part[task].discard(body)
    merged = merged_tasks = 0
    for pk, (proposal, _start, _end) in carrying_out.items():
        saved = len(taking_part[pk] & proposal_bodies[proposal]) - 1
        if saved > 0:
            merged += saved
            merged_tasks += 1
    return merged, merged_tasks
