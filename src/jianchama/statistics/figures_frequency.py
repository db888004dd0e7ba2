"""The frequency control figures of the statistics page (issue 13, F-42), beside the repeated inspections: how
the frequency rules acted (F-21: submissions refused, justified, passed on an exemption, warned) and the visits
avoided by inspecting together (F-13, F-21: a task joined to another body's visit, a joint inspection carrying
out an accepted proposal to merge plans).

Their numbers come from `inspections.counts`, which reads the few raw rows concerned (partial indexes on the
task table, the refusal records), not the facts: their cost grows with those rows, not with the task table.
A district's scope still tests each such row's enterprise and bodies (at 1 M inspections with a few in a hundred
noted: 80–110 ms for a district's year, 20–50 ms for the city's), so like the other heavy figures they are
computed ahead for the standard views and deferred at scale (`snapshots.HEAVY`).

Whose rows: `scope.raw_scope`, the facts' scope on raw rows (the city every task; a district
the tasks at its enterprises and those its bodies take part in elsewhere, its bodies' refusals and those at its
enterprises; a body its own). The filters: the region is the enterprise's, the field one of the task's items',
the body one taking part (for a refusal: the body refused), the kind the task's.
"""

from __future__ import annotations

from jianchama.inspections import counts
from jianchama.inspections.models import Exemption, FrequencyRefusalRecord

from . import figures
from .scope import Filters, Period, Scope, raw_scope

Stage, Reason = FrequencyRefusalRecord.Stage, FrequencyRefusalRecord.Reason


@figures.figure(
    "frequency_control",
    "频次控制",
    "检查频次规则的执行情况。拒绝：超出“不予提交”的规则、或须说明超频次检查理由而未说明，提交审批被拒绝的次数，及批准时"
    "复核未通过的次数（每次被拒绝都计一次，被拒绝的任务按其检查日期计入期间）。通过：说明超频次检查理由后提交的检查、"
    "因豁免情形未被拒绝或无须说明理由的检查（按情形分列，计入其首个豁免情形）、超出“提示”规则的检查（提交审批及以后各状态、不含已取消的"
    "检查，以实际开始检查日、未开始的以计划检查日期起计；一次检查可计入几行）。",
)
def frequency_control(scope: Scope, period: Period, filters: Filters) -> figures.Table:
    whose = raw_scope(scope)
    got = counts.frequency_control(
        tasks=whose.tasks & filters.task_q(),
        refusals=whose.parties & filters.party_q(),
        start=period.start,
        end=period.end,
    )
    refused = got.refusals
    rows = [
        ["拒绝提交：超出频次不予提交", refused.get((Stage.SUBMISSION, Reason.REFUSED), 0)],
        ["拒绝提交：须说明理由而未说明", refused.get((Stage.SUBMISSION, Reason.JUSTIFICATION_MISSING), 0)],
        ["批准时复核未通过", sum(n for (stage, _reason), n in refused.items() if stage == Stage.APPROVAL)],
        ["说明理由后提交", got.justified],
        *([f"依豁免情形提交：{label}", got.exempted[code]] for code, label in Exemption.choices),
        ["超频次提示后提交", got.warned],
    ]
    return figures.Table(["项目", "次数"], rows)


@figures.figure(
    "visits_avoided",
    "减少入企",
    "进一次门、查多项事减少的入企次数。并入联合检查：执法单位把本单位的检查任务并入其他单位对同一企业的检查任务"
    "（原任务随之取消），每并入一次少入企一次，按原任务的计划检查日期起计。计划合并：检查计划重叠的各执法单位接受联合"
    "检查建议后，按建议对重叠企业实施的联合检查（引用建议所涉的检查计划、在建议的期间内），每次少入企的次数为参与的"
    "建议所涉单位数减一（以并入方式加入的单位已计入上一行），按该检查的检查日期计（同「检查次数」）。检查任务数："
    "并入的任务数、按建议实施的联合检查次数。",
)
def visits_avoided(scope: Scope, period: Period, filters: Filters) -> figures.Table:
    whose = raw_scope(scope).tasks & filters.task_q()
    got = counts.visits_avoided(tasks=whose, start=period.start, end=period.end)
    rows = [
        ["并入联合检查", got.joined, got.joined],
        ["计划合并的联合检查", got.merged, got.merged_tasks],
        ["合计", got.total, got.joined + got.merged_tasks],
    ]
    return figures.Table(["方式", "减少入企次数", "检查任务数"], rows)
