"""The supervision figures of the statistics page (issue 13, F-42): the findings by rule and severity, the three
steps and their deadlines, the quarterly sampling against its 10% target, the complaints by source and category
and their handling time.

Their numbers are the periodic report's (F-37): each figure calls the counting functions the report calls
(`supervision.counts`, `complaints.counts`) on the same rows — a district's supervision is its bodies' (those
registered in the district or its towns), its complaints those about its bodies or its enterprises. They read
the supervision and complaint tables live: thousands of rows, not millions, a few grouped queries a figure
(`snapshots.LIVE`: never stored ahead, never deferred).

Whose rows: the city's supervisors every body's; a district's supervisors and government the district's; a
body's administrator his body's own, as the models' `visible_to` show them to him (the findings once supervision
has warned the body, the steps, the complaints assigned to it); the body's inspectors and a city-level reviewer
none (an empty table saying so). The sampling rounds are public: everyone sees those of the regions whose
bodies are drawn from, a body without the reviews' pass or fail.
"""

from __future__ import annotations

from django.db.models import Q

from jianchama.complaints import counts as complaint_counts
from jianchama.complaints.models import Complaint
from jianchama.registry.models import EnforcementBody, Region
from jianchama.supervision import counts as supervision_counts
from jianchama.supervision.models import Finding, SamplingRound, Severity

from . import figures
from .scope import Filters, Period, Scope

NOT_SHOWN = "监督数据仅供执法监督人员、区政府和执法单位负责人（本单位的）查看。"
NOT_FOLLOWED = "本表不按{}筛选。"


def _supervised_region(scope: Scope) -> Region | None:
    """The region whose supervision a supervisor's scope reads: the city, or the district."""
    if scope.level == "city":
        return Region.objects.filter(level=Region.Level.CITY).order_by("path").first()
    if scope.level == "district":
        return Region.objects.filter(pk=scope.district_id).first()
    return None


def _bodies(scope: Scope, filters: Filters) -> list[int] | None:
    """The bodies whose findings and steps the scope counts, narrowed by the body and region filters (a region:
    the bodies registered in it); None when the reader may see none."""
    if scope.level in ("city", "district"):
        region = _supervised_region(scope)
        ids = supervision_counts.body_ids_in(region) if region else []
    elif scope.level == "bodies" and scope.own_supervision:
        ids = list(scope.body_ids)
    else:
        return None
    if filters.body_id:
        ids = [pk for pk in ids if pk == filters.body_id]
    if filters.region_ids and ids:
        ids = list(
            EnforcementBody.objects.filter(pk__in=ids, region_id__in=filters.region_ids).values_list(
                "pk", flat=True
            )
        )
    return ids


def _hidden(columns: list[str]) -> figures.Table:
    return figures.Table(columns, [], series=[], empty=NOT_SHOWN)


def _not_followed(*names: str) -> str:
    return NOT_FOLLOWED.format("、".join(names))


@figures.figure(
    "supervision_findings",
    "监督发现问题",
    "数据监督规则及抽查、投诉举报、行政复议线索、法治观察员等发现的执法单位问题数，按规则（数据监督规则逐条列出，"
    "其他来源按来源）和严重程度（一般、较重、严重）统计；按问题所属月份计入期间（自定义期间含其起止日所在月份），"
    "经核实不成立的不计。口径同执法监督工作报告：全市、一个区看登记在本区划（含街镇）的执法单位的问题，含待核实的；"
    "执法单位负责人看本单位已预警及以后的问题（待核实的不计），执法人员不显示。",
)
def findings(scope: Scope, period: Period, filters: Filters) -> figures.Table:
    columns = ["规则或来源", "问题数"] + [label for _, label in Severity.choices]
    bodies = _bodies(scope, filters)
    if bodies is None:
        return _hidden(columns)
    rows = supervision_counts.findings_of(period.start, period.end).filter(body_id__in=bodies)
    if scope.level == "bodies":
        # What the body's administrator sees of them (Finding.visible_to): none still being verified.
        rows = rows.exclude(status=Finding.Status.OPEN)
    found = supervision_counts.count_findings(rows)
    table = found.rule_rows()
    for value, label in Finding.Source.choices:
        if value != Finding.Source.DATA_RULE and found.by_source.get(value):
            table.append(
                [f"其他来源：{label}", found.by_source[value]]
                + [found.by_source_severity.get((value, severity), 0) for severity, _ in Severity.choices]
            )
    severities = "、".join(f"{label}{found.by_severity.get(value, 0)}个" for value, label in Severity.choices)
    note = (f"合计{found.total}个（{severities}）。" if found.total else "") + _not_followed(
        "执法领域", "检查类型"
    )
    return figures.Table(columns, table, chart="bar", series=[2, 3, 4], note=note)


@figures.figure(
    "supervision_steps",
    "监督“三步法”",
    "期间内（按预警日期、监督建议书和决定书的制发日期）预警提醒、制发监督建议书、区政府制发监督决定书的件数，及各环节"
    "期限的按期、逾期件数。期限按工作日（法定节假日和调休）计算：预警核实未整改后5个工作日内制发建议书，建议书送达后"
    "15个工作日内整改、报送整改报告后5个工作日内复查，决定书按其规定的期限整改。「逾期」为期限届满仍未完成的（事后"
    "完成的仍计逾期）；「按期」为在期限内完成的，预警一行为未逾期的预警数。口径同执法监督工作报告；执法单位负责人看"
    "本单位的，执法人员不显示。",
)
def steps(scope: Scope, period: Period, filters: Filters) -> figures.Table:
    columns = list(supervision_counts.STEP_COLUMNS)
    bodies = _bodies(scope, filters)
    if bodies is None:
        return _hidden(columns)
    counts = supervision_counts.count_steps(Q(body_id__in=bodies), period.start, period.end)
    return figures.Table(
        columns, counts.rows(), chart="bar", series=[1, 2, 3], note=_not_followed("执法领域", "检查类型")
    )


@figures.figure(
    "sampling_coverage",
    "季度抽查覆盖率",
    "期间涉及的各季度已抽取并公开的季度抽查：执法单位库的单位数、抽中的单位数、抽查比例（抽中÷单位总数），对照每季度"
    "不低于10%的目标；已评查＝抽中单位的评查次数，评查合格＝其中合格的次数。尚未抽取的季度另列一行。口径同执法监督"
    "工作报告：全市看全市各区的抽查，一个区看本区的；执法单位看抽取其所在区（及全市）执法单位的抽查（抽查结果向社会"
    "公开），不显示评查是否合格。",
)
def sampling(scope: Scope, period: Period, filters: Filters) -> figures.Table:
    columns = [
        "抽查轮次",
        "执法单位总数",
        "抽取单位数",
        "抽查比例（%）",
        "目标比例（%）",
        "对照10%目标",
        "已评查",
        "评查合格",
    ]
    if scope.level in ("city", "district"):
        region = _supervised_region(scope)
        if region is None:
            return _hidden(columns)
        rounds = SamplingRound.objects.filter(region__path__startswith=region.path)
    elif scope.level == "bodies":
        # The rounds drawing from the bodies: those of their regions and of the regions above them.
        paths = set(
            Region.objects.filter(bodies__pk__in=scope.body_ids).values_list("path", flat=True).distinct()
        )
        above = {path[: i + 1] for path in paths for i, char in enumerate(path) if char == "/"}
        rounds = SamplingRound.objects.filter(region__path__in=above)
    else:
        return _hidden(columns)
    if filters.region_ids:
        rounds = rounds.filter(region_id__in=filters.region_ids)
    coverage = supervision_counts.sampling_coverage(rounds, period.start, period.end)
    scores = scope.level != "bodies"
    target = supervision_counts.SAMPLING_TARGET
    rows = [
        [
            r.label,
            r.population,
            r.drawn,
            r.coverage,
            target,
            r.verdict,
            r.reviews,
            r.passed if scores else None,
        ]
        for r in coverage.rounds
    ]
    rows += [
        [f"{quarter}：尚未抽取", None, None, None, target, "未抽取", None, None]
        for quarter in coverage.missing
    ]
    return figures.Table(
        columns, rows, chart="bar", series=[3, 4], note=_not_followed("执法单位", "执法领域", "检查类型")
    )


@figures.figure(
    "complaints",
    "投诉举报",
    "期间内受理（按受理日期）的投诉举报件数，按来源和类别；已办理＝已录入办理结果的；办理用时＝受理日至办理日的工作日数"
    "（法定节假日和调休不计），平均数和中位数只计已办理的；逾期办理＝办理日晚于办理期限的；超期未办理＝已交办、未办理"
    "且办理期限已过的（截至今日）。口径同执法监督工作报告：全市、一个区看涉及本区划（含街镇）的执法单位或企业的投诉"
    "举报；执法单位负责人看交办给本单位的，执法人员不显示。",
)
def complaints(scope: Scope, period: Period, filters: Filters) -> figures.Table:
    columns = [
        "项目",
        "件数",
        "已办理",
        "逾期办理",
        "超期未办理",
        "平均办理用时（工作日）",
        "办理用时中位数（工作日）",
    ]
    rows = complaint_counts.complaints_of(period.start, period.end)
    if scope.level in ("city", "district"):
        region = _supervised_region(scope)
        if region is None:
            return _hidden(columns)
        regions = list(Region.objects.filter(path__startswith=region.path).values_list("pk", flat=True))
        rows = rows.filter(complaint_counts.about(supervision_counts.body_ids_in(region), regions))
    elif scope.level == "bodies" and scope.own_supervision:
        # What the body's administrator sees of them (Complaint.visible_to): those assigned to the body.
        rows = rows.filter(body_id__in=scope.body_ids, assigned_at__isnull=False)
    else:
        return _hidden(columns)
    if filters.body_id:
        rows = rows.filter(body_id=filters.body_id)
    if filters.region_ids:
        bodies = list(
            EnforcementBody.objects.filter(region_id__in=filters.region_ids).values_list("pk", flat=True)
        )
        rows = rows.filter(complaint_counts.about(bodies, list(filters.region_ids)))
    counts = complaint_counts.count_complaints(rows)

    def row(label: str, group: complaint_counts.Handling) -> list:
        return [
            label,
            group.received,
            group.handled,
            group.handled_late,
            group.overdue,
            group.average_days,
            group.median_days,
        ]

    table = [row("合计", counts.total)]
    table += [
        row(f"来源：{label}", counts.by_source[v])
        for v, label in Complaint.Source.choices
        if v in counts.by_source
    ]
    table += [
        row(f"类别：{label}", counts.by_category[v])
        for v, label in Complaint.Category.choices
        if v in counts.by_category
    ]
    return figures.Table(columns, table, chart="bar", series=[1], note=_not_followed("执法领域", "检查类型"))
