"""The statistics' fact tables (F-42): aggregates derived from the inspections, never written by a user.

Both tables are rebuilt from the raw rows by `build.py` (one INSERT … SELECT … GROUP BY each, a range of days
at a time, DELETE + INSERT in one transaction) and read by `figures.py`; docs/statistics.md argues the grain.

A row's grain includes two flags that make distinct-task counts exact in every scope without keeping the
task: `first_all` marks the participation of the task's lowest-numbered body (of those inspecting the row's
field), `first_district` that of the lowest-numbered body of the row's body's district. Counting the rows with
`first_all` counts each task once; a district's tasks are the `first_all` rows of its enterprises plus the
`first_district` rows of its bodies at other districts' enterprises (see `scope.py`).

`field_id` 0 is "every field": each participation has one such row and one row per field of its items. Region
and body ids are plain integers (no foreign keys): the facts are derived and rebuilt, not related data.
"""

from __future__ import annotations

from django.db import models


class Facts(models.Model):
    """The dimensions and measures both grains share (DailyFact, MonthlyFact)."""

    body_id = models.IntegerField("执法单位")
    body_district_id = models.IntegerField("执法单位所在区")
    enterprise_region_id = models.IntegerField("企业所在街镇")
    enterprise_district_id = models.IntegerField("企业所在区")
    field_id = models.IntegerField("执法领域（0为全部）")
    kind = models.CharField("检查类型", max_length=16)
    first_all = models.BooleanField("任务首个单位")
    first_district = models.BooleanField("任务在本区的首个单位")
    # Participations (a task × one of its bodies) of counted tasks (frequency.COUNTED) and the parts of them:
    inspections = models.IntegerField("检查次数", default=0)
    remote = models.IntegerField("非现场检查", default=0)
    joint = models.IntegerField("联合检查", default=0)
    with_code = models.IntegerField("已生成检查码", default=0)
    scanned = models.IntegerField("企业已扫码", default=0)
    completed = models.IntegerField("已录入结果", default=0)
    no_problem = models.IntegerField("未发现问题", default=0)
    rectify = models.IntegerField("责令限期整改", default=0)
    case_opened = models.IntegerField("立案查处", default=0)
    referred = models.IntegerField("移送处理", default=0)
    findings = models.IntegerField("不符合项", default=0)
    evaluations = models.IntegerField("评议数", default=0)
    overall_sum = models.IntegerField("总体评价合计", default=0)
    certificate_shown_sum = models.IntegerField("出示执法证件合计", default=0)
    rights_told_sum = models.IntegerField("告知权利合计", default=0)
    conduct_sum = models.IntegerField("文明执法合计", default=0)
    efficiency_sum = models.IntegerField("检查效率合计", default=0)
    integrity_sum = models.IntegerField("廉洁自律合计", default=0)
    poor = models.IntegerField("不满意评议", default=0)
    # Tasks cancelled after submission, dated like the others.
    cancelled = models.IntegerField("取消", default=0)

    class Meta:
        abstract = True


class DailyFact(Facts):
    """Per day × body × enterprise's town × field × kind (× the two flags): what the bodies did."""

    day = models.DateField("日期")

    class Meta:
        verbose_name = "每日统计"
        verbose_name_plural = "每日统计"
        indexes = [
            models.Index(fields=["field_id", "day"], name="dailyfact_field_day"),
            models.Index(fields=["day"], name="dailyfact_day"),
            # A body's (or a reviewer's few bodies') figures read only its own rows; the calendar, its
            # inspections from the index alone. The refresh finds each changed cell by it: with the key's
            # town and kind a lookup reads its one row, not the body's day of a field (37 rows at 10 M).
            models.Index(
                fields=["body_id", "field_id", "day", "enterprise_region_id", "kind"],
                include=["inspections"],
                name="dailyfact_body_cell",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.day} 单位#{self.body_id} 领域#{self.field_id}"


class ParticipationFact(Facts):
    """Per task × body × field (0 and each field of its items): one participation's own measures (each 0 or 1 but
    its findings and its scores) as the last count found them. DailyFact's rows are their sums. The incremental
    refresh replaces a changed task's rows, sums again only the DailyFact cells they were and are in, and
    rebuilds its enterprises' VisitFact rows from theirs: its cost grows with the tasks changed, not with the
    tasks of the days they are on (docs/statistics.md)."""

    day = models.DateField("日期")
    task_id = models.BigIntegerField("检查任务")
    enterprise_id = models.IntegerField("企业")
    # The task's inspectors of this body ("12,45", ascending): what the refresh takes off InspectorFact when the
    # task changes (its inspectors may have changed too).
    inspector_ids = models.TextField("本单位执法人员", blank=True, default="")
    # On a field's row (field_id > 0): the body's items of that field in the task, each with the non-compliant
    # findings recorded against it ("12:0,15:2", ascending); what the refresh takes off ItemFact. Empty on the
    # row of every field (0).
    item_findings = models.TextField("本领域检查事项及不符合项", blank=True, default="")

    class Meta:
        verbose_name = "参与单位统计"
        verbose_name_plural = "参与单位统计"
        indexes = [
            models.Index(fields=["task_id"], name="participationfact_task"),
            # A DailyFact cell's rows (the refresh sums them again), and the nightly rebuild's range of days.
            models.Index(
                fields=["day", "body_id", "field_id", "enterprise_region_id", "kind"],
                name="participationfact_cell",
            ),
            # An enterprise's visits from a day on (the refresh rebuilds them), from the index alone.
            models.Index(
                fields=["enterprise_id", "day"],
                include=[
                    "enterprise_district_id",
                    "body_id",
                    "body_district_id",
                    "field_id",
                    "first_all",
                    "first_district",
                    "inspections",
                ],
                name="participationfact_enterprise",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.day} 任务#{self.task_id} 单位#{self.body_id} 领域#{self.field_id}"


class MonthlyFact(Facts):
    """DailyFact summed by calendar month: what a month, quarter or year reads (a year of a city is some
    60,000 rows here instead of 500,000). Rebuilt from DailyFact for the months a rebuild touches."""

    month = models.DateField("月份（当月1日）")

    class Meta:
        verbose_name = "每月统计"
        verbose_name_plural = "每月统计"
        indexes = [
            models.Index(fields=["field_id", "month"], name="monthlyfact_field_month"),
            # A body's figures; the refresh's lookup of a changed cell (as DailyFact's).
            models.Index(
                fields=["body_id", "field_id", "month", "enterprise_region_id", "kind"],
                name="monthlyfact_body_cell",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} 单位#{self.body_id} 领域#{self.field_id}"


class MonthCells(models.Model):
    """The month and the dimensions of the facts but the two flags: what InspectorFact and ItemFact share (one
    participation counts once for each of its inspectors, or its items: no distinct-task count is kept)."""

    month = models.DateField("月份（当月1日）")
    body_id = models.IntegerField("执法单位")
    body_district_id = models.IntegerField("执法单位所在区")
    enterprise_region_id = models.IntegerField("企业所在街镇")
    enterprise_district_id = models.IntegerField("企业所在区")
    field_id = models.IntegerField("执法领域（0为全部）")
    kind = models.CharField("检查类型", max_length=16)

    class Meta:
        abstract = True


class InspectorFact(MonthCells):
    """Per month × inspector × the facts' dimensions but the two flags: the participations of an inspector's
    body in the counted tasks he is on, summed (one task counts once for each of its inspectors). The
    per-inspector figures read one body's rows; a custom range's days outside its whole months are read from
    ParticipationFact (figures.by_inspector). Kept by the nightly rebuild from a fresh count, and by the
    refresh by difference: a changed task's old participations (with their `inspector_ids`) taken off, its new
    ones added."""

    inspector_id = models.IntegerField("执法人员")
    inspections = models.IntegerField("检查次数", default=0)
    with_code = models.IntegerField("已生成检查码", default=0)
    scanned = models.IntegerField("企业已扫码", default=0)
    completed = models.IntegerField("已录入结果", default=0)
    findings = models.IntegerField("不符合项", default=0)
    evaluations = models.IntegerField("评议数", default=0)
    overall_sum = models.IntegerField("总体评价合计", default=0)
    poor = models.IntegerField("不满意评议", default=0)

    class Meta:
        verbose_name = "执法人员统计"
        verbose_name_plural = "执法人员统计"
        indexes = [
            models.Index(fields=["body_id", "field_id", "month"], name="inspectorfact_body_field_month"),
            models.Index(fields=["month"], name="inspectorfact_month"),
            # The refresh's cells, each found by its key (the districts follow from the body and the town): by
            # inspector, month and body alone a cell was one of some 260 rows, each read from the table (4.5 s
            # for a refresh of 10,000 tasks at 1 M inspections).
            models.Index(
                fields=["inspector_id", "month", "body_id", "field_id", "kind", "enterprise_region_id"],
                name="inspectorfact_cell",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} 执法人员#{self.inspector_id} 单位#{self.body_id}"


class ItemFact(MonthCells):
    """Per month × inspection item × the facts' dimensions but the two flags (`field_id` is the item's field):
    the counted participations whose body's items include the item, and the non-compliant findings recorded
    against it (the field → item drill-down, figures.by_item). A joint task whose bodies both list an item
    counts once for each. Kept like InspectorFact: from a fresh count nightly, by difference on refresh (a
    changed task's old `item_findings` taken off)."""

    item_id = models.IntegerField("检查事项")
    inspections = models.IntegerField("检查次数", default=0)
    completed = models.IntegerField("已录入结果", default=0)
    findings = models.IntegerField("不符合项", default=0)
    failed = models.IntegerField("发现问题的检查", default=0)

    class Meta:
        verbose_name = "检查事项统计"
        verbose_name_plural = "检查事项统计"
        indexes = [
            models.Index(fields=["field_id", "month"], name="itemfact_field_month"),
            models.Index(fields=["body_id", "field_id", "month"], name="itemfact_body_field_month"),
            models.Index(fields=["month"], name="itemfact_month"),
            models.Index(
                fields=["item_id", "month", "body_id", "kind", "enterprise_region_id"], name="itemfact_cell"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} 检查事项#{self.item_id} 单位#{self.body_id}"


class VisitFact(models.Model):
    """Per day × enterprise × body × field (× the two flags): the visits, for the frequency report and the
    repeated inspections."""

    day = models.DateField("日期")
    enterprise_id = models.IntegerField("企业")
    enterprise_district_id = models.IntegerField("企业所在区")
    body_id = models.IntegerField("执法单位")
    body_district_id = models.IntegerField("执法单位所在区")
    field_id = models.IntegerField("执法领域（0为全部）")
    first_all = models.BooleanField("任务首个单位")
    first_district = models.BooleanField("任务在本区的首个单位")
    tasks = models.IntegerField("检查次数")
    # The day of the previous visit within GAP_LOOK_BACK_DAYS (build.py; the row's own day when `tasks` > 1):
    # of the same enterprise by the same body (field), of its `first_all` rows (its tasks, field) and of its
    # `first_district` rows from the same district's bodies. Null: none, or not such a row. The repeated
    # inspections read these instead of window functions over the period's visits.
    prev_body_day = models.DateField("同一单位上次检查日", null=True)
    prev_all_day = models.DateField("上次检查日", null=True)
    prev_district_day = models.DateField("同区单位上次检查日", null=True)

    class Meta:
        verbose_name = "企业检查统计"
        verbose_name_plural = "企业检查统计"
        indexes = [
            # The report reads a period of one field; INCLUDE lets PostgreSQL answer from the index alone.
            models.Index(
                fields=["field_id", "day"],
                include=[
                    "enterprise_id",
                    "body_id",
                    "enterprise_district_id",
                    "body_district_id",
                    "first_all",
                    "first_district",
                    "tasks",
                    # The repeated inspections' previous-visit days, so they too read the index alone.
                    "prev_body_day",
                    "prev_all_day",
                    "prev_district_day",
                ],
                name="visitfact_field_day_gaps",
            ),
            models.Index(fields=["day"], name="visitfact_day"),
            # A body's repeated inspections and most inspected enterprises read only its own visits.
            models.Index(
                fields=["body_id", "field_id", "day"],
                include=["enterprise_id", "tasks", "first_all", "prev_body_day"],
                name="visitfact_body_field_day_gap",
            ),
            # The incremental refresh recomputes the previous-visit days of the enterprises it touched.
            models.Index(fields=["enterprise_id", "day"], name="visitfact_enterprise_day"),
        ]

    def __str__(self) -> str:
        return f"{self.day} 企业#{self.enterprise_id} 单位#{self.body_id}"


class Watermark(models.Model):
    """How far the incremental refresh has read: the last audit event, scan and evaluation it saw. One row."""

    audit_sequence = models.BigIntegerField(default=0)
    scan_id = models.BigIntegerField(default=0)
    evaluation_id = models.BigIntegerField(default=0)
    rebuilt_at = models.DateTimeField("全量重建时间", null=True, blank=True)
    # False on a database whose facts were built before ParticipationFact existed (migration 0009), before
    # InspectorFact and the participations' inspectors (0011), or before ItemFact and their items (0012): the
    # refresh cannot sum a cell again from participations that are not there, and rebuilds everything once.
    participations_built = models.BooleanField("参与单位统计已建", default=True)
    refreshed_at = models.DateTimeField("增量刷新时间", null=True, blank=True)

    class Meta:
        verbose_name = "统计刷新进度"
        verbose_name_plural = "统计刷新进度"

    def __str__(self) -> str:
        return f"审计#{self.audit_sequence} 扫码#{self.scan_id} 评议#{self.evaluation_id}"


class FigureSnapshot(models.Model):
    """A heavy figure (repeated inspections, the most inspected enterprises) computed ahead by the job queue for
    a standard view: the city's or a district's scope, a calendar year, quarter or month, no other filter. The
    page reads it instead of grouping a year of visit facts per request (statistics/snapshots.py)."""

    scope_key = models.CharField("统计范围", max_length=32)  # "city", "district:<region id>" or "body:<id>"
    # A view with filters or a custom period (snapshots.filters_key, e.g. "field=3&kind=planned"): computed by the
    # job queue when a page asks for it at a scale where the request could not (snapshots.defers).
    filters = models.CharField("筛选条件", max_length=100, blank=True, default="")
    code = models.CharField("指标", max_length=32)
    start = models.DateField("期间起")
    end = models.DateField("期间止")
    table = models.JSONField("结果")
    computed_at = models.DateTimeField("计算时间")

    class Meta:
        verbose_name = "指标快照"
        verbose_name_plural = "指标快照"
        constraints = [
            models.UniqueConstraint(
                fields=["scope_key", "filters", "code", "start", "end"], name="one_snapshot_per_filtered_view"
            )
        ]

    def __str__(self) -> str:
        return f"{self.scope_key} {self.filters} {self.code} {self.start}—{self.end}".replace("  ", " ")
