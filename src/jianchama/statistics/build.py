"""Building the fact tables (models.py) from the raw rows: set-based, no query per row.

Every count starts from a few `CREATE TEMP TABLE … AS SELECT` of some tasks' participations (task × body × field,
with the per-task measures joined once per task: `_count_parts`), each with its own measures
(`_participations_sql`): ParticipationFact's rows. DailyFact's rows are their sums, MonthlyFact's DailyFact's;
InspectorFact's and ItemFact's are their sums per inspector or item and month (each participation keeps its
inspectors, and each of its field rows that field's items with their findings).

`rebuild_all()` is the nightly rebuild: every quarter of days counted afresh, the facts made equal to the count
(`_write_diff`: an unchanged row is not written), in two phases on several connections (`_rebuild_ranges`).

`refresh()` is the incremental step the job queue runs: it reads what changed since its watermark (audit
events of tasks — every task service writes one —, new scans, new evaluations), counts those tasks alone,
replaces their ParticipationFact rows, sums again the DailyFact and MonthlyFact cells their old and new rows
are in, and rebuilds their enterprises' VisitFact rows from those enterprises' participations; their
inspectors' InspectorFact cells change by the difference of their new and old participations. Its cost grows
with the tasks changed, not with the other tasks of their days.

An inspection's day and what counts as one are frequency.py's (`inspection_date`, `COUNTED`).
"""

from __future__ import annotations

import contextlib
import datetime
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from jianchama.core.models import AuditEvent
from jianchama.inspections import scan_log
from jianchama.inspections.frequency import COUNTED, WINDOW_SLACK
from jianchama.inspections.models import (
    Evaluation,
    Finding,
    InspectionCode,
    InspectionRecord,
    Scan,
    Task,
    TaskBody,
)
from jianchama.registry.models import EnforcementBody, Enterprise, InspectionItem, Inspector, Region

from .models import (
    DailyFact,
    InspectorFact,
    ItemFact,
    MonthlyFact,
    ParticipationFact,
    VisitFact,
    Watermark,
)

DIMENSIONS = ("overall", "certificate_shown", "rights_told", "conduct", "efficiency", "integrity")
# A rating at or below this overall score is a poor one (不满意、非常不满意).
POOR_AT_MOST = 2
TEMP = "statistics_parts"
PARTICIPATIONS = "statistics_participations"
CHANGED = "statistics_changed"
OLD = "statistics_old"
DAY_DELTA = "statistics_day_delta"
DAY_STORED = "statistics_day_stored"
MONTH_DELTA = "statistics_month_delta"
MONTH_STORED = "statistics_month_stored"
DATED = "statistics_dated"
GAPPED = "statistics_gapped"
VISITS = "statistics_visits"
LAGGED = "statistics_lagged"
# VisitFact's previous-visit days (models.py) look back this far: the longest gap the repeated inspections
# count (figures.REPEAT_WINDOWS' year).
GAP_LOOK_BACK_DAYS = 366


# The facts' dimensions and measures (models.Facts): each fact table sums the measures of the one below it by
# its period and these.
DIMENSION_COLUMNS = [
    "body_id",
    "body_district_id",
    "enterprise_region_id",
    "enterprise_district_id",
    "field_id",
    "kind",
    "first_all",
    "first_district",
]
MEASURES = [
    f.column for f in MonthlyFact._meta.concrete_fields if f.column not in ("id", "month", *DIMENSION_COLUMNS)
]


@dataclass(frozen=True)
class Members:
    """A monthly fact per member of a participation (InspectorFact: its inspectors; ItemFact: its items): the
    participations exploded by a text column of theirs, summed by month and the dimensions but the two flags,
    made equal to a fresh count nightly and changed by difference on refresh (`_recount_members`)."""

    model: type
    member: str  # the column naming the member
    column: str  # the participation's column listing its members, "12,45" or "12:0,15:2"
    built: str  # the temp tables: the count's cells,
    delta: str  # the refresh's difference,
    stored: str  # and the stored cells it changes

    @property
    def dimensions(self) -> list[str]:
        return [self.member, *MEMBER_DIMENSIONS]

    @property
    def measures(self) -> list[str]:
        skip = ("id", "month", *self.dimensions)
        return [f.column for f in self.model._meta.concrete_fields if f.column not in skip]


# A participation's dimensions but the two flags: what InspectorFact and ItemFact have besides the member.
MEMBER_DIMENSIONS = [
    "body_id",
    "body_district_id",
    "enterprise_region_id",
    "enterprise_district_id",
    "field_id",
    "kind",
]
INSPECTOR_CELLS = Members(
    InspectorFact,
    "inspector_id",
    "inspector_ids",
    "statistics_inspectors",
    "statistics_inspector_delta",
    "statistics_inspector_stored",
)
ITEM_CELLS = Members(
    ItemFact,
    "item_id",
    "item_findings",
    "statistics_items",
    "statistics_item_delta",
    "statistics_item_stored",
)
MEMBERS = (INSPECTOR_CELLS, ITEM_CELLS)


def _day_expression() -> str:
    """The local date of `t.started_at`, else `t.window_start` (frequency.inspection_date), in SQL."""
    if connection.vendor == "postgresql":
        zone = settings.TIME_ZONE.replace("'", "")
        return f"COALESCE(CAST(timezone('{zone}', t.started_at) AS date), t.window_start)"
    # SQLite keeps datetimes as UTC text; the zone's offset is applied (Asia/Shanghai has no daylight saving).
    offset = timezone.localtime(timezone.now()).utcoffset() or datetime.timedelta()
    hours = int(offset.total_seconds() // 3600)
    return f"COALESCE(date(t.started_at, '{hours:+d} hours'), t.window_start)"


def _dated_sql(changed: bool = False) -> str:
    """The tasks counted on the days [lo, hi], with their day: a table of its own, analysed before the parts are
    joined to it, so that PostgreSQL plans those joins for the real number of tasks (estimated from the
    COALESCE of two columns it guessed 0.5% of them, and chose nested loops that took minutes per quarter).
    Two narrow index ranges: the tasks not started whose window starts on those days, and the tasks started
    on them (between their first day's local midnight and the next after the last). Reading the windows of
    the days ± WINDOW_SLACK instead cost 12.8 s of a refresh of 30 days at 10 M inspections (210 days of
    tasks read for 30). When `changed`, the refresh's tasks instead: those listed in CHANGED, whatever day."""
    task = Task._meta.db_table
    counted = ", ".join(f"'{status}'" for status in COUNTED)
    kept = f"(t.status IN ({counted}) OR (t.status = 'cancelled' AND t.submitted_at IS NOT NULL))"

    def columns(day: str) -> str:
        return (
            f"t.id, t.enterprise_id, t.kind, t.mode, {day} AS day, "
            f"CASE WHEN t.status IN ({counted}) THEN 1 ELSE 0 END AS counted, "
            f"CASE WHEN t.status = 'cancelled' THEN 1 ELSE 0 END AS cancelled"
        )

    # Ordered by id: the count then finds their rows in the tables about them in index order (_looked_up).
    if changed:
        return (
            f"CREATE TEMP TABLE {DATED} AS SELECT {columns(_day_expression())} FROM {task} t "
            f"WHERE t.id IN (SELECT id FROM {CHANGED}) AND {kept} ORDER BY t.id"
        )
    return f"""
    CREATE TEMP TABLE {DATED} AS SELECT * FROM (
        SELECT {columns("t.window_start")} FROM {task} t
        WHERE t.started_at IS NULL AND t.window_start BETWEEN %(lo)s AND %(hi)s AND {kept}
        UNION ALL
        SELECT {columns(_day_expression())} FROM {task} t
        WHERE t.started_at >= %(tlo)s AND t.started_at < %(thi)s AND {kept}
    ) x ORDER BY id
    """


# The count's steps before TEMP, each a table of its own analysed before the next joins it (as DATED): within one
# statement PostgreSQL guessed a quarter's participations at 46 M rows instead of 1 M at 10 M inspections, and
# sorted every listed item of every task (16 M rows) to merge them; and it guessed the quarter's tasks a few
# hundred, and looked each up in the inspectors' index (61 s a quarter, the table's pages read at random).
INSPECTED = "statistics_inspected"
FAILED = "statistics_failed"
MEASURED = "statistics_measured"
BODIES = "statistics_bodies"
LISTED = "statistics_listed"


def _tables() -> dict[str, str]:
    return {
        "task": Task._meta.db_table,
        "taskbody": TaskBody._meta.db_table,
        "items": TaskBody.items.through._meta.db_table,
        "item": InspectionItem._meta.db_table,
        "enterprise": Enterprise._meta.db_table,
        "body": EnforcementBody._meta.db_table,
        "region": Region._meta.db_table,
        "code": InspectionCode._meta.db_table,
        "scan": Scan._meta.db_table,
        "record": InspectionRecord._meta.db_table,
        "finding": Finding._meta.db_table,
        "evaluation": Evaluation._meta.db_table,
        "inspectors": Task.inspectors.through._meta.db_table,
        "inspector": Inspector._meta.db_table,
    }


@contextlib.contextmanager
def _looked_up(cursor):
    """PostgreSQL: the statements run meanwhile find the rows of the tasks in DATED (ordered by id) through
    the tables' indexes on the task, code, record or participation, rather than hashing the tasks and reading
    the whole table past them: the cost grows with the tasks counted, not with the table. A quarter at 10 M
    inspections (814,116 tasks): their codes 1.7 s by index against 4.7 s hashed, their genuine scans 2.6 s
    against 11 s, their 1.8 M inspectors 6.4 s against 9.4 s. Only for statements whose other joins are
    small tables found by primary key (the temp tables are joined hashed, outside)."""
    postgres = connection.vendor == "postgresql"
    if postgres:
        cursor.execute("SET LOCAL enable_hashjoin = off")
        cursor.execute("SET LOCAL enable_mergejoin = off")
    try:
        yield
    finally:
        if postgres:
            cursor.execute("SET LOCAL enable_hashjoin = on")
            cursor.execute("SET LOCAL enable_mergejoin = on")


def _count_parts(cursor, params: dict | None = None) -> None:
    """BODIES, the participations of the tasks in DATED with the per-task measures and their inspectors, and
    TEMP, their rows per field (0 and each of its items' fields) with the field's items' findings and the two
    flags, in steps: the tasks' non-compliant findings per record and item (FAILED), on PostgreSQL their
    inspectors per body (INSPECTED), their rows in the tables about them (MEASURED: code, genuine scan, record,
    evaluation, participations), the participations with their enterprise's town, districts and inspectors
    (BODIES), their listed items (LISTED), then their fields (TEMP). The lookups in the large tables run
    `_looked_up`; the temp tables and the enterprises are joined hashed."""
    t = _tables()
    postgres = connection.vendor == "postgresql"
    with _looked_up(cursor):
        cursor.execute(
            f"""
            CREATE TEMP TABLE {FAILED} AS
            SELECT f.record_id, f.item_id, COUNT(*) AS n
            FROM {DATED} d JOIN {t["record"]} r ON r.task_id = d.id JOIN {t["finding"]} f ON f.record_id = r.id
            WHERE f.result = 'not_compliant'
            GROUP BY f.record_id, f.item_id
            """
        )
    cursor.execute(f"ANALYZE {FAILED}")
    # Each participation's inspectors (the task's of its body), "12,45" ascending: grouped once on PostgreSQL;
    # SQLite (no ordered aggregate in 3.40) concatenates an ordered subquery per participation.
    if postgres:
        with _looked_up(cursor):
            cursor.execute(
                f"""
                CREATE TEMP TABLE {INSPECTED} AS
                SELECT ti.task_id, i.body_id,
                       string_agg(CAST(ti.inspector_id AS text), ',' ORDER BY ti.inspector_id) AS inspector_ids
                FROM {DATED} d JOIN {t["inspectors"]} ti ON ti.task_id = d.id
                JOIN {t["inspector"]} i ON i.id = ti.inspector_id
                GROUP BY ti.task_id, i.body_id
                """
            )
        cursor.execute(f"ANALYZE {INSPECTED}")
        inspectors = "COALESCE(ins.inspector_ids, '') AS inspector_ids"
        join_inspectors = f"LEFT JOIN {INSPECTED} ins ON ins.task_id = m.id AND ins.body_id = m.body_id"
    else:
        inspectors = f"""COALESCE((
            SELECT group_concat(o.inspector_id, ',') FROM (
                SELECT ti.inspector_id FROM {t["inspectors"]} ti JOIN {t["inspector"]} i ON i.id = ti.inspector_id
                WHERE ti.task_id = m.id AND i.body_id = m.body_id ORDER BY ti.inspector_id
            ) o
        ), '') AS inspector_ids"""
        join_inspectors = ""
    dims = ", ".join(f"ev.{name}" for name in DIMENSIONS)
    genuine = f"SELECT 1 AS one FROM {t['scan']} s WHERE s.code_id = c.id AND s.outcome = 'genuine'"
    if postgres:
        # A lateral lookup per code: an EXISTS was planned as a hash of every genuine scan (8.4 M, 4.5 s).
        scanned = "CASE WHEN g.one IS NULL THEN 0 ELSE 1 END"
        join_scanned = f"LEFT JOIN LATERAL ({genuine} LIMIT 1) g ON TRUE"
    else:
        scanned, join_scanned = f"CASE WHEN EXISTS ({genuine}) THEN 1 ELSE 0 END", ""
    with _looked_up(cursor):
        cursor.execute(
            f"""
            CREATE TEMP TABLE {MEASURED} AS
            SELECT d.*,
                   CASE WHEN c.id IS NULL THEN 0 ELSE 1 END AS with_code,
                   {scanned} AS scanned,
                   r.id AS record_id, r.outcome,
                   CASE WHEN ev.id IS NULL THEN 0 ELSE 1 END AS evaluated, {dims},
                   tb.id AS taskbody_id, tb.body_id, b.region_id AS body_region_id
            FROM {DATED} d
            LEFT JOIN {t["code"]} c ON c.task_id = d.id
            {join_scanned}
            LEFT JOIN {t["record"]} r ON r.task_id = d.id
            LEFT JOIN {t["evaluation"]} ev ON ev.task_id = d.id
            JOIN {t["taskbody"]} tb ON tb.task_id = d.id
            JOIN {t["body"]} b ON b.id = tb.body_id
            """
        )
    cursor.execute(f"ANALYZE {MEASURED}")
    cursor.execute(
        f"""
        CREATE TEMP TABLE {BODIES} AS
        WITH districts AS (
            SELECT r.id AS region_id, d.id AS district_id
            FROM {t["region"]} r JOIN {t["region"]} d ON d.level = 'district' AND r.path LIKE d.path || '%%'
        ),
        failed AS (SELECT record_id, SUM(n) AS n FROM {FAILED} GROUP BY record_id)
        SELECT m.*, COALESCE(fl.n, 0) AS findings, {inspectors},
               e.region_id AS enterprise_region_id,
               COALESCE(ed.district_id, 0) AS enterprise_district_id,
               COALESCE(bd.district_id, 0) AS body_district_id,
               COUNT(*) OVER (PARTITION BY m.id) AS n_bodies
        FROM {MEASURED} m
        JOIN {t["enterprise"]} e ON e.id = m.enterprise_id
        LEFT JOIN failed fl ON fl.record_id = m.record_id
        LEFT JOIN districts ed ON ed.region_id = e.region_id
        LEFT JOIN districts bd ON bd.region_id = m.body_region_id
        {join_inspectors}
        """,
        params,
    )
    cursor.execute(f"ANALYZE {BODIES}")
    # Each field row's items of its participation with their findings, "12:0,15:2" ascending (ItemFact's).
    pair = "CAST(ti.inspectionitem_id AS text) || ':' || CAST({} AS text)"
    if postgres:
        with _looked_up(cursor):
            cursor.execute(
                f"CREATE TEMP TABLE {LISTED} AS SELECT pp.taskbody_id, pp.record_id, ti.inspectionitem_id "
                f"FROM {BODIES} pp JOIN {t['items']} ti ON ti.taskbody_id = pp.taskbody_id"
            )
        cursor.execute(f"ANALYZE {LISTED}")
        fields = f"""
            SELECT ti.taskbody_id, i.field_id,
                   string_agg({pair.format("COALESCE(fx.n, 0)")}, ',' ORDER BY ti.inspectionitem_id) AS item_findings
            FROM {LISTED} ti JOIN {t["item"]} i ON i.id = ti.inspectionitem_id
            LEFT JOIN {FAILED} fx ON fx.record_id = ti.record_id AND fx.item_id = ti.inspectionitem_id
            GROUP BY ti.taskbody_id, i.field_id"""
        item_findings = "fi.item_findings"
    else:
        fields = f"""
            SELECT DISTINCT ti.taskbody_id, i.field_id
            FROM {t["items"]} ti JOIN {t["item"]} i ON i.id = ti.inspectionitem_id
            WHERE ti.taskbody_id IN (SELECT taskbody_id FROM {BODIES})"""
        found = f"(SELECT fx.n FROM {FAILED} fx WHERE fx.record_id = p.record_id AND fx.item_id = ti.inspectionitem_id)"
        item_findings = f"""COALESCE((
            SELECT group_concat(o.pair, ',') FROM (
                SELECT {pair.format(f"COALESCE({found}, 0)")} AS pair
                FROM {t["items"]} ti JOIN {t["item"]} i ON i.id = ti.inspectionitem_id
                WHERE ti.taskbody_id = p.taskbody_id AND i.field_id = fi.field_id ORDER BY ti.inspectionitem_id
            ) o
        ), '') AS item_findings"""
    # Narrow rows (the participation, the field and its items, the two flags): the windows sort these, and the
    # participations' other columns are joined back once (_participations_sql); sorting the whole wide rows spilled
    # 313 MB to disk a quarter at 10 M inspections.
    narrow = "p.id, p.taskbody_id, p.body_id, p.body_district_id"
    cursor.execute(
        f"""
        CREATE TEMP TABLE {TEMP} AS
        WITH fielded AS (
            SELECT {narrow}, 0 AS field_id, '' AS item_findings FROM {BODIES} p
            UNION ALL
            SELECT {narrow}, fi.field_id, {item_findings} FROM {BODIES} p
            JOIN ({fields}) fi ON fi.taskbody_id = p.taskbody_id
        )
        SELECT f.taskbody_id, f.field_id, f.item_findings,
               CASE WHEN f.body_id = MIN(f.body_id) OVER (PARTITION BY f.id, f.field_id)
                    THEN TRUE ELSE FALSE END AS first_all,
               CASE WHEN f.body_id = MIN(f.body_id) OVER (PARTITION BY f.id, f.field_id, f.body_district_id)
                    THEN TRUE ELSE FALSE END AS first_district
        FROM fielded f
        """
    )
    cursor.execute(f"ANALYZE {TEMP}")


DAILY = "statistics_daily"
MONTHLY = "statistics_monthly"
NEW_VISITS = "statistics_visits_new"


def _participations_sql() -> str:
    """The participations (BODIES) once per field row of theirs (TEMP) as ParticipationFact has them: the
    dimensions, and each measure of the one participation (what DailyFact sums)."""
    scores = ", ".join(
        f"CASE WHEN counted = 1 THEN COALESCE({n}, 0) ELSE 0 END AS {n}_sum" for n in DIMENSIONS
    )
    outcome = "CASE WHEN counted = 1 AND outcome = '{0}' THEN 1 ELSE 0 END AS {0}"
    return f"""
    CREATE TEMP TABLE {PARTICIPATIONS} AS
    SELECT day, id AS task_id, enterprise_id, inspector_ids, item_findings, {", ".join(DIMENSION_COLUMNS)},
           counted AS inspections,
           CASE WHEN counted = 1 AND mode = 'remote' THEN 1 ELSE 0 END AS remote,
           CASE WHEN counted = 1 AND n_bodies > 1 THEN 1 ELSE 0 END AS joint,
           counted * with_code AS with_code,
           counted * scanned AS scanned,
           CASE WHEN counted = 1 AND outcome IS NOT NULL THEN 1 ELSE 0 END AS completed,
           {outcome.format("no_problem")}, {outcome.format("rectify")},
           {outcome.format("case_opened")}, {outcome.format("referred")},
           -- integer as the column (a COUNT(*) is bigint, and the sums of bigints numeric)
           CAST(counted * findings AS integer) AS findings,
           counted * evaluated AS evaluations,
           {scores},
           CASE WHEN counted = 1 AND overall <= {POOR_AT_MOST} THEN 1 ELSE 0 END AS poor,
           cancelled
    FROM {BODIES} p JOIN {TEMP} f ON f.taskbody_id = p.taskbody_id
    """


def _rollup_sql(target: str, source: str, period: str, name: str, alias: str) -> str:
    """A fact table's rows summed by `period` (an expression over `source`'s alias `alias`, named `name`) and the
    dimensions: DailyFact from participations, MonthlyFact from DailyFact. `source` is the FROM clause's rest."""
    dims = ", ".join(f"{alias}.{c}" for c in DIMENSION_COLUMNS)
    sums = ", ".join(f"SUM({alias}.{m}) AS {m}" for m in MEASURES)
    return f"""
    CREATE TEMP TABLE {target} AS
    SELECT {period} AS {name}, {dims}, {sums}
    FROM {source}
    GROUP BY {period}, {dims}
    """


def _member_rows_sql(members: Members, source: str, sign: int) -> str:
    """SQL: the counted participations of `source` (PARTICIPATIONS, OLD) once per member, by month, their
    measures times `sign` (the refresh takes a changed task's old rows off with -1). An item's findings are its
    own (the number after the colon), not the participation's."""
    column = f"p.{members.column}"
    if connection.vendor == "postgresql":
        explode = f"CROSS JOIN LATERAL unnest(string_to_array({column}, ',')) AS x(member)"
        element = "x.member"

        def part(number: int) -> str:
            return f"CAST(split_part({element}, ':', {number}) AS integer)"
    else:
        explode = f"""JOIN json_each('["' || replace({column}, ',', '","') || '"]') x"""
        element = "x.value"

        def part(number: int) -> str:
            colon = f"instr({element} || ':', ':')"
            taken = f"substr({element}, 1, {colon} - 1)" if number == 1 else f"substr({element}, {colon} + 1)"
            return f"CAST({taken} AS integer)"

    values = {m: f"p.{m}" for m in members.measures}
    kept = f"p.inspections = 1 AND {column} <> ''"
    if members is ITEM_CELLS:
        values.update(findings=part(2), failed=f"CASE WHEN {part(2)} > 0 THEN 1 ELSE 0 END")
        kept += " AND p.field_id > 0"
    dims = ", ".join(f"p.{c}" for c in MEMBER_DIMENSIONS)
    measures = ", ".join(f"{sign} * {values[m]} AS {m}" for m in members.measures)
    return (
        f"SELECT {_month_of('p.day')} AS month, {part(1)} AS {members.member}, {dims}, {measures} "
        f"FROM {source} p {explode} WHERE {kept}"
    )


def _members_sql(members: Members, target: str, rows: str) -> str:
    """`rows` (a SELECT of the members' fact's columns) summed by month and dimensions into `target`."""
    key = ", ".join(["month", *members.dimensions])
    sums = ", ".join(f"SUM({m}) AS {m}" for m in members.measures)
    return f"CREATE TEMP TABLE {target} AS SELECT {key}, {sums} FROM ({rows}) x GROUP BY {key}"


def _recount_members(cursor, members: Members) -> None:
    """The refresh's InspectorFact or ItemFact: the changed tasks' new participations (PARTICIPATIONS) added to
    their cells and their old ones (OLD) taken off, by difference: a cell's other tasks are not read (an
    inspector's month holds dozens of them, a body's item's hundreds)."""
    rows = f"{_member_rows_sql(members, PARTICIPATIONS, 1)} UNION ALL {_member_rows_sql(members, OLD, -1)}"
    cursor.execute(_members_sql(members, members.delta, rows))
    _change_cells(
        cursor,
        members.model,
        ["month", *members.dimensions],
        members.measures,
        (members.delta, members.stored, members.built),
        "SUM(inspections) <> 0",
    )


def _change_cells(
    cursor, model, key: list[str], measures: list[str], tables: tuple[str, str, str], kept: str
) -> None:
    """Add the difference in the temp table `tables[0]` (`key` and signed `measures`) to `model`'s cells of the
    same keys: the stored cells are read once (by index on the key) into `tables[1]`, summed with the
    difference into `tables[2]`, keeping the cells where `kept` (an aggregate condition) holds, and written
    as a diff. A cell's other rows are not read."""
    delta, stored, built = tables
    table = model._meta.db_table
    listed = ", ".join(key)
    cursor.execute(f"ANALYZE {delta}")
    cursor.execute(
        f"CREATE TEMP TABLE {stored} AS SELECT t.* FROM {table} t JOIN {delta} d ON {_same('t', 'd', key, [])}"
    )
    both = ", ".join(measures)
    sums = ", ".join(f"SUM({m}) AS {m}" for m in measures)
    cursor.execute(
        f"CREATE TEMP TABLE {built} AS SELECT {listed}, {sums} FROM "
        f"(SELECT {listed}, {both} FROM {stored} UNION ALL SELECT {listed}, {both} FROM {delta}) x "
        f"GROUP BY {listed} HAVING {kept}"
    )
    _write_cells(cursor, model, built, stored)


def _recount_facts(cursor) -> None:
    """The refresh's DailyFact and MonthlyFact: their cells changed by the difference of the changed tasks' new
    participations and their old ones, as the members' (DailyFact sums the participations, MonthlyFact the
    days). Summing each changed cell again read its other participations (0.66 s for the 19,864 day cells of
    10,000 new inspections at 10 M), and each changed body and field's months all their days. A cell is kept
    while it holds a participation (each is counted or cancelled, one of the two)."""
    dims = ", ".join(DIMENSION_COLUMNS)

    def signed(period: str, name: str, source: str, sign: int) -> str:
        values = ", ".join(f"{sign} * {m} AS {m}" for m in MEASURES)
        return f"SELECT {period} AS {name}, {dims}, {values} FROM {source}"

    for model, period, name, tables in (
        (DailyFact, "day", "day", (DAY_DELTA, DAY_STORED, DAILY)),
        (MonthlyFact, _month_of("day"), "month", (MONTH_DELTA, MONTH_STORED, MONTHLY)),
    ):
        rows = f"{signed(period, name, PARTICIPATIONS, 1)} UNION ALL {signed(period, name, OLD, -1)}"
        cursor.execute(_rollup_sql(tables[0], f"({rows}) x", f"x.{name}", name, "x"))
        _change_cells(
            cursor,
            model,
            [name, *DIMENSION_COLUMNS],
            MEASURES,
            tables,
            "SUM(inspections) + SUM(cancelled) <> 0",
        )


VISIT_KEY = [
    "day",
    "enterprise_id",
    "enterprise_district_id",
    "body_id",
    "body_district_id",
    "field_id",
    "first_all",
    "first_district",
]


def _visits_sql(table: str = VISITS, kind: str = "TEMP", source: str = PARTICIPATIONS) -> str:
    """The VisitFact rows of `source`'s participations (the range's; the refresh's enterprises'), numbered, in a
    temp table (or the nightly rebuild's stage table): their previous-visit days are computed before they are
    written, so each is written once."""
    key = ", ".join(VISIT_KEY)
    return f"""
    CREATE {kind} TABLE {table} AS
    SELECT ROW_NUMBER() OVER (ORDER BY {key}) AS vid, {key}, COUNT(*) AS tasks
    FROM {source}
    WHERE inspections = 1
    GROUP BY {key}
    """


# Each visit's previous visits in the window over an enterprise's visit facts: by the same body, by any body
# (first_all), by a body of the same district (first_district). Rows of one day are ordered by body and flags:
# the later one's previous visit is the same day. Shared by the rows to be written (`_seeded_lagged_sql`) and the
# update of stored rows (`_gaps_update`, migration 0008), which must agree.
_GAP_ORDER = "ORDER BY day, body_id, first_all, first_district"
_GAP_LAGS = (
    f"LAG(day) OVER (PARTITION BY enterprise_id, body_id, field_id {_GAP_ORDER}) AS pb, "
    f"LAG(day) OVER (PARTITION BY enterprise_id, field_id, first_all {_GAP_ORDER}) AS pa, "
    f"LAG(day) OVER (PARTITION BY enterprise_id, field_id, body_district_id, first_district {_GAP_ORDER}) AS pd"
)


def _previous_day(lagged: str, flag: str | None) -> str:
    """SQL: the previous-visit day kept for window row `w` from the window's `lagged` day: the same day when
    the row counts several tasks, the lagged day within GAP_LOOK_BACK_DAYS, else null; only for rows with
    `flag` when given."""
    kept = f"CASE WHEN w.tasks > 1 THEN w.day WHEN {_days_between('w.day', lagged)} <= {GAP_LOOK_BACK_DAYS}"
    kept += f" THEN {lagged} END"
    return kept if flag is None else f"CASE WHEN w.{flag} THEN {kept} END"


_SEED_COLUMNS = "enterprise_id, body_id, body_district_id, field_id, first_all, first_district, day"


def _seeded_lagged_sql(stage: str, back: str) -> str:
    """The previous-visit days of the numbered visit rows in `stage`: the window over those rows alone, each
    partition's first row taking the last day of its partition in the look-back (`back`: a SELECT of
    _SEED_COLUMNS, the visits of the same enterprises before theirs, in the look-back year), grouped by hashing
    instead of sorted into the window: the same days as one window over all those rows, at a fraction of the
    sorting (a year's look-back is four quarters)."""
    cols = _SEED_COLUMNS
    return f"""
    CREATE TEMP TABLE {LAGGED} AS
    WITH back AS ({back}),
    sb AS (SELECT enterprise_id, body_id, field_id, MAX(day) AS day FROM back
           GROUP BY enterprise_id, body_id, field_id),
    sa AS (SELECT enterprise_id, field_id, MAX(day) AS day FROM back WHERE first_all
           GROUP BY enterprise_id, field_id),
    sd AS (SELECT enterprise_id, field_id, body_district_id, MAX(day) AS day FROM back WHERE first_district
           GROUP BY enterprise_id, field_id, body_district_id),
    w AS (SELECT vid, {cols}, tasks, {_GAP_LAGS} FROM {stage})
    SELECT w.vid, CAST(NULL AS bigint) AS id,
           {_previous_day("COALESCE(w.pb, sb.day)", None)} AS b,
           {_previous_day("COALESCE(w.pa, sa.day)", "first_all")} AS a,
           {_previous_day("COALESCE(w.pd, sd.day)", "first_district")} AS d
    FROM w
    LEFT JOIN sb ON sb.enterprise_id = w.enterprise_id AND sb.body_id = w.body_id AND sb.field_id = w.field_id
    LEFT JOIN sa ON sa.enterprise_id = w.enterprise_id AND sa.field_id = w.field_id AND w.first_all
    LEFT JOIN sd ON sd.enterprise_id = w.enterprise_id AND sd.field_id = w.field_id
                AND sd.body_district_id = w.body_district_id AND w.first_district
    """


def _same(left: str, right: str, columns: list[str], nullable: list[str]) -> str:
    """SQL: the rows `left` and `right` agree on `columns` (nulls equal in `nullable`)."""
    null_safe = "IS NOT DISTINCT FROM" if connection.vendor == "postgresql" else "IS"
    return " AND ".join(f"{left}.{c} {null_safe if c in nullable else '='} {right}.{c}" for c in columns)


def _fact_columns(model) -> tuple[list[str], list[str]]:
    """A fact table's columns but its id, and those of them that may be null (the previous-visit days)."""
    columns = [f.column for f in model._meta.concrete_fields if f.column != "id"]
    return columns, [f.column for f in model._meta.concrete_fields if f.null]


def _write_diff(
    cursor,
    model,
    new_table: str,
    scope: Callable[[str], str],
    params: dict | None = None,
) -> None:
    """Make the `model`'s rows in `scope` (an SQL condition on the table named by its argument) equal to
    `new_table`'s: delete the rows that are no longer there, insert the new ones, leave the unchanged ones
    alone (an unchanged row is neither rewritten nor loses its page's all-visible bit, and costs no index
    entries: the nightly rebuild of unchanged data writes nothing)."""
    table = model._meta.db_table
    columns, nullable = _fact_columns(model)
    listed = ", ".join(columns)
    cursor.execute(f"ANALYZE {new_table}")
    if connection.vendor != "postgresql":
        cursor.execute(
            f"DELETE FROM {table} WHERE {scope(table)} AND NOT EXISTS "
            f"(SELECT 1 FROM {new_table} n WHERE {_same('n', table, columns, nullable)})",
            params,
        )
        cursor.execute(
            f"INSERT INTO {table} ({listed}) SELECT {listed} FROM {new_table} n WHERE NOT EXISTS "
            f"(SELECT 1 FROM {table} f WHERE {scope('f')} AND {_same('n', 'f', columns, nullable)})",
            params,
        )
        return

    # PostgreSQL: one pass over the stored rows, a hash full join with the new ones, keeps the rows on either
    # side alone (the two anti-joins read the range twice: ParticipationFact's quarter at 10 M, 9.0 + 7.1 s).
    # Hash joins only: PostgreSQL merged on every column, sorting both sides by all thirty of them (DailyFact's
    # quarter at 1 M: 3.5 s for the DELETE). A nullable column (the previous-visit days) is compared through
    # COALESCE: a full join needs plain equalities.
    def same(column: str) -> str:
        if column in nullable:
            return f"COALESCE(o.{column}, DATE '0001-01-01') = COALESCE(n.{column}, DATE '0001-01-01')"
        return f"o.{column} = n.{column}"

    present = next(column for column in columns if column not in nullable)
    cursor.execute("SET LOCAL enable_mergejoin = off")
    cursor.execute("SET LOCAL enable_nestloop = off")
    cursor.execute(f"DROP TABLE IF EXISTS {DIFF}")
    cursor.execute(
        f"CREATE TEMP TABLE {DIFF} AS SELECT o.id AS old_id, {', '.join(f'n.{c}' for c in columns)} "
        f"FROM (SELECT * FROM {table} t WHERE {scope('t')}) o FULL JOIN {new_table} n "
        f"ON {' AND '.join(same(c) for c in columns)} "
        f"WHERE o.id IS NULL OR n.{present} IS NULL",
        params,
    )
    cursor.execute("SET LOCAL enable_mergejoin = on")
    cursor.execute("SET LOCAL enable_nestloop = on")
    cursor.execute(f"DELETE FROM {table} WHERE id IN (SELECT old_id FROM {DIFF} WHERE old_id IS NOT NULL)")
    cursor.execute(f"INSERT INTO {table} ({listed}) SELECT {listed} FROM {DIFF} WHERE old_id IS NULL")
    cursor.execute(f"DROP TABLE {DIFF}")


DIFF = "statistics_diff"
CURRENT = "statistics_current"


def _write_cells(cursor, model, new_table: str, current: str) -> None:
    """The refresh's `_write_diff`: make the `model`'s rows copied into the temp table `current` (the cells
    recounted, read once by index) equal to `new_table`'s; `current` is dropped. Both sides of the diff are
    compared between the temp tables: the two statements of `_write_diff` looked each cell up in the fact table
    again (DailyFact: 360 ms each for 20,000 cells at 1 M inspections)."""
    table = model._meta.db_table
    columns, nullable = _fact_columns(model)
    listed = ", ".join(columns)
    cursor.execute(f"ANALYZE {current}")
    cursor.execute(f"ANALYZE {new_table}")
    cursor.execute(
        f"DELETE FROM {table} WHERE id IN (SELECT c.id FROM {current} c WHERE NOT EXISTS "
        f"(SELECT 1 FROM {new_table} n WHERE {_same('n', 'c', columns, nullable)}))"
    )
    cursor.execute(
        f"INSERT INTO {table} ({listed}) SELECT {listed} FROM {new_table} n WHERE NOT EXISTS "
        f"(SELECT 1 FROM {current} c WHERE {_same('n', 'c', columns, nullable)})"
    )
    cursor.execute(f"DROP TABLE {current}")


def _in_range(column: str) -> Callable[[str], str]:
    """`_write_diff`'s scope of the nightly's range of days: the rows whose `column` is in [lo, hi]."""
    return lambda table: f"{table}.{column} BETWEEN %(lo)s AND %(hi)s"


def _month_of(day: str, following: bool = False) -> str:
    """SQL: the first day of the month of `day` (of the month after it when `following`)."""
    if connection.vendor == "postgresql":
        later = " + interval '1 month'" if following else ""
        return f"CAST(date_trunc('month', {day}){later} AS date)"
    later = ", '+1 month'" if following else ""
    return f"date({day}, 'start of month'{later})"


def _monthly_sql() -> str:
    source = f"{DailyFact._meta.db_table} d WHERE d.day BETWEEN %(lo)s AND %(hi)s"
    return _rollup_sql(MONTHLY, source, _month_of("d.day"), "month", "d")


def _month_bounds(lo: datetime.date, hi: datetime.date) -> tuple[datetime.date, datetime.date]:
    last = (hi.replace(day=1) + datetime.timedelta(days=32)).replace(day=1) - datetime.timedelta(days=1)
    return lo.replace(day=1), last


def _date(value: datetime.date):
    return connection.ops.adapt_datefield_value(value)


def _days_before(day: str, days: int) -> str:
    """SQL: the date `days` days before `day`."""
    if connection.vendor == "postgresql":
        return f"CAST({day} - {int(days)} AS date)"
    return f"date({day}, '-{int(days)} days')"


def _days_between(later: str, earlier: str) -> str:
    if connection.vendor == "postgresql":
        return f"({later} - {earlier})"
    return f"CAST(julianday({later}) - julianday({earlier}) AS INTEGER)"


def _gaps_update(enterprises: bool) -> str:
    """Set VisitFact's previous-visit days of the rows dated [lo, hi] from the rows dated [wlo, hi] (wlo =
    lo - GAP_LOOK_BACK_DAYS), of the enterprises in GAPPED only when `enterprises`. A previous visit further
    back than GAP_LOOK_BACK_DAYS is left out (null). Rows of one day are ordered by body and flags:
    the later one's previous visit is the same day, as the window over the period's rows saw it."""
    table = VisitFact._meta.db_table
    only = f"AND enterprise_id IN (SELECT enterprise_id FROM {GAPPED})" if enterprises else ""

    return f"""
    WITH w AS (
        SELECT id, day, tasks, first_all, first_district, {_GAP_LAGS}
        FROM {table}
        WHERE day BETWEEN %(wlo)s AND %(hi)s {only}
    ), n AS (
        SELECT id, {_previous_day("w.pb", None)} AS b, {_previous_day("w.pa", "first_all")} AS a,
               {_previous_day("w.pd", "first_district")} AS d
        FROM w WHERE w.day BETWEEN %(lo)s AND %(hi)s
    )
    UPDATE {table} SET prev_body_day = n.b, prev_all_day = n.a, prev_district_day = n.d
    FROM n
    WHERE {table}.id = n.id
      -- Only the rows that change: an unchanged row rewritten would cost its page's all-visible bit, and the
      -- figures' index-only scans would read the heap again until the next vacuum.
      AND ({table}.prev_body_day IS DISTINCT FROM n.b OR {table}.prev_all_day IS DISTINCT FROM n.a
           OR {table}.prev_district_day IS DISTINCT FROM n.d)
    """


def update_gaps(lo: datetime.date, hi: datetime.date, *, enterprises: bool = False) -> None:
    """Recompute the previous-visit days of VisitFact's rows dated [lo, hi] (see `_gaps_update`)."""
    params = {
        "lo": _date(lo),
        "hi": _date(hi),
        "wlo": _date(lo - datetime.timedelta(days=GAP_LOOK_BACK_DAYS)),
    }
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL work_mem = '64MB'")
        cursor.execute(_gaps_update(enterprises), params)


def _recount_tasks(cursor) -> dict[str, int]:
    """The refresh's count of the tasks listed in CHANGED (see the module's docstring): their ParticipationFact
    rows replaced, the DailyFact, MonthlyFact, InspectorFact and ItemFact cells of their old and new rows changed
    by the difference, the VisitFact
    rows of their enterprises rebuilt from those enterprises' participations. Returns what it counted."""
    facts = ParticipationFact._meta.db_table
    columns = ", ".join(_fact_columns(ParticipationFact)[0])
    cursor.execute(f"ANALYZE {CHANGED}")
    cursor.execute(_dated_sql(changed=True))
    cursor.execute(f"ANALYZE {DATED}")
    _count_parts(cursor)
    cursor.execute(_participations_sql())
    cursor.execute(
        f"CREATE TEMP TABLE {OLD} AS SELECT * FROM {facts} WHERE task_id IN (SELECT id FROM {CHANGED})"
    )
    cursor.execute(f"DELETE FROM {facts} WHERE task_id IN (SELECT id FROM {CHANGED})")
    cursor.execute(f"INSERT INTO {facts} ({columns}) SELECT {columns} FROM {PARTICIPATIONS}")
    for members in MEMBERS:
        _recount_members(cursor, members)

    # The days' and months' cells they were in and are in now, changed by the difference.
    _recount_facts(cursor)
    # Their enterprises' visits from the first day a task changed on (`since`; the rows before it are as they
    # were), seeded with the last visit of each partition in the look-back year before it.
    cursor.execute(
        f"CREATE TEMP TABLE {GAPPED} AS SELECT enterprise_id, MIN(day) AS since, "
        f"{_days_before('MIN(day)', GAP_LOOK_BACK_DAYS)} AS back_from "
        f"FROM (SELECT enterprise_id, day FROM {OLD} UNION ALL SELECT enterprise_id, day FROM {PARTICIPATIONS}) c "
        f"GROUP BY enterprise_id"
    )
    cursor.execute(f"ANALYZE {GAPPED}")
    source = f"(SELECT p.* FROM {facts} p JOIN {GAPPED} g ON g.enterprise_id = p.enterprise_id AND p.day >= g.since) p"
    cursor.execute(_visits_sql(source=source))
    cursor.execute(f"ANALYZE {VISITS}")
    back = (
        f"SELECT {', '.join(f'v.{c}' for c in _SEED_COLUMNS.split(', '))} FROM {VisitFact._meta.db_table} v "
        f"JOIN {GAPPED} g ON g.enterprise_id = v.enterprise_id AND v.day >= g.back_from AND v.day < g.since"
    )
    cursor.execute(_seeded_lagged_sql(VISITS, back))
    cursor.execute(_new_visits_sql(VISITS))
    cursor.execute(
        f"CREATE TEMP TABLE {CURRENT} AS SELECT t.* FROM {VisitFact._meta.db_table} t JOIN {GAPPED} g "
        f"ON g.enterprise_id = t.enterprise_id AND t.day >= g.since"
    )
    _write_cells(cursor, VisitFact, NEW_VISITS, CURRENT)
    cursor.execute(f"SELECT COUNT(*) FROM {PARTICIPATIONS} WHERE field_id = 0")
    (participations,) = cursor.fetchone()
    cursor.execute(f"SELECT COUNT(*) FROM {GAPPED}")
    (enterprises,) = cursor.fetchone()
    return {"participations": participations, "enterprises": enterprises}


TEMPS = (
    TEMP,
    DATED,
    INSPECTED,
    FAILED,
    MEASURED,
    BODIES,
    LISTED,
    PARTICIPATIONS,
    DAILY,
    VISITS,
    GAPPED,
    LAGGED,
    NEW_VISITS,
    MONTHLY,
    CHANGED,
    OLD,
    DAY_DELTA,
    DAY_STORED,
    MONTH_DELTA,
    MONTH_STORED,
    CURRENT,
    DIFF,
    *(name for members in MEMBERS for name in (members.built, members.delta, members.stored)),
)


def _settle(cursor) -> None:
    """The transaction's settings, and no temp table left from an earlier statement of this connection."""
    if connection.vendor == "postgresql":
        # The window functions' sorts and the hash joins stay in memory (the default 4 MB spills to disk).
        cursor.execute("SET LOCAL work_mem = '64MB'")
        # JIT compiled these statements for seconds on end (the parts' 2.2 of 4.6 s in a refresh of 10,000
        # tasks at 1 M) and the joins run for less; random_page_cost for a database in memory lets a
        # refresh's few tasks find their codes, scans and records by index instead of hashing each table.
        cursor.execute("SET LOCAL jit = off")
        cursor.execute("SET LOCAL random_page_cost = 1.1")
    for name in TEMPS:
        cursor.execute(f"DROP TABLE IF EXISTS {name}")


def _count_days(cursor, params: dict) -> None:
    """The participations of the days [lo, hi] counted afresh (PARTICIPATIONS), and ParticipationFact's and
    DailyFact's rows of those days made equal to them and their sums."""
    cursor.execute(_dated_sql(), params)
    cursor.execute(f"ANALYZE {DATED}")
    _count_parts(cursor, params)
    cursor.execute(_participations_sql())
    _write_diff(cursor, ParticipationFact, PARTICIPATIONS, _in_range("day"), params)
    cursor.execute(_rollup_sql(DAILY, f"{PARTICIPATIONS} p", "p.day", "day", "p"))
    _write_diff(cursor, DailyFact, DAILY, _in_range("day"), params)


def _count_months(cursor, lo: datetime.date, hi: datetime.date) -> int:
    """The months the range touches summed again from their days (the other days are unchanged); the temp
    tables dropped. Returns the participations counted (TEMP's rows of all fields)."""
    first, last = _month_bounds(lo, hi)
    months = {"lo": _date(first), "hi": _date(last)}
    cursor.execute(_monthly_sql(), months)
    _write_diff(cursor, MonthlyFact, MONTHLY, _in_range("month"), months)
    # A month's days are all in one range (the ranges are quarters but the first and last, which hold no task
    # before or after them): the range's participations are its months'.
    for members in MEMBERS:
        cursor.execute(_members_sql(members, members.built, _member_rows_sql(members, PARTICIPATIONS, 1)))
        _write_diff(cursor, members.model, members.built, _in_range("month"), months)
    cursor.execute(f"SELECT COUNT(*) FROM {PARTICIPATIONS} WHERE field_id = 0")
    (rows,) = cursor.fetchone()
    for name in TEMPS:
        cursor.execute(f"DROP TABLE IF EXISTS {name}")
    return rows


# The nightly rebuild's visit rows of its n-th range, kept between its two phases (`rebuild_all`).
STAGE = "statistics_stage_{}"


def _gap_params(lo: datetime.date, hi: datetime.date) -> dict:
    """The previous-visit days' bounds: the range and the look-back year before it (wlo)."""
    look_back = datetime.timedelta(days=GAP_LOOK_BACK_DAYS)
    return {"lo": _date(lo), "hi": _date(hi), "wlo": _date(lo - look_back)}


def _new_visits_sql(visits: str) -> str:
    """The range's VisitFact rows as they are to be written: `visits`' numbered rows with LAGGED's days."""
    return (
        f"CREATE TEMP TABLE {NEW_VISITS} AS SELECT {', '.join(f'v.{c}' for c in VISIT_KEY)}, v.tasks, "
        f"l.b AS prev_body_day, l.a AS prev_all_day, l.d AS prev_district_day "
        f"FROM {visits} v JOIN {LAGGED} l ON l.vid = v.vid"
    )


def _range_params(lo: datetime.date, hi: datetime.date) -> dict:
    def midnight(day: datetime.date):
        moment = datetime.datetime.combine(day, datetime.time(), tzinfo=timezone.get_current_timezone())
        return connection.ops.adapt_datetimefield_value(moment)

    return {
        "lo": _date(lo),
        "hi": _date(hi),
        "tlo": midnight(lo),
        "thi": midnight(hi + datetime.timedelta(days=1)),
    }


@transaction.atomic
def _rebuild_days(lo: datetime.date, hi: datetime.date, stage: str) -> int:
    """The nightly rebuild's first phase for the days [lo, hi], in one transaction: DailyFact and MonthlyFact
    made equal to a fresh count, as `rebuild` does, and the range's visit rows, numbered, without their
    previous-visit days, kept in the table `stage` (unlogged: it lives for one run) for the second phase.
    Returns the participations counted."""
    with connection.cursor() as cursor:
        _settle(cursor)
        if connection.vendor == "postgresql":
            # A quarter's sorts (its 1.8 M task inspectors at 10 M inspections, its participations' windows)
            # spill to disk with the refresh's 64 MB.
            cursor.execute(f"SET LOCAL work_mem = '{settings.STATISTICS_REBUILD_WORK_MEM}'")
        _count_days(cursor, _range_params(lo, hi))
        cursor.execute(f"DROP TABLE IF EXISTS {stage}")
        cursor.execute(_visits_sql(stage, "UNLOGGED" if connection.vendor == "postgresql" else ""))
        cursor.execute(f"ANALYZE {stage}")
        return _count_months(cursor, lo, hi)


@transaction.atomic
def _rebuild_visits(lo: datetime.date, hi: datetime.date, stage: str, earlier: list[str]) -> None:
    """The nightly rebuild's second phase for the days [lo, hi], in one transaction: VisitFact's rows of those
    days made equal to the range's stage rows with their previous-visit days, computed from them and the rows
    of the look-back in the `earlier` ranges' stage tables. Reads no VisitFact row: the ranges' second phases
    are independent of each other, and run at once on several connections."""
    params = _gap_params(lo, hi)
    with connection.cursor() as cursor:
        _settle(cursor)
        if connection.vendor == "postgresql":
            # The look-back's hash aggregates hold a few million groups at 10 M inspections (a quarter's
            # statement 26.5 s with 64 MB, spilling to disk; 23.4 s with 256 MB).
            cursor.execute(f"SET LOCAL work_mem = '{settings.STATISTICS_REBUILD_WORK_MEM}'")
        cursor.execute(f"CREATE TEMP TABLE {GAPPED} AS SELECT DISTINCT enterprise_id FROM {stage}")
        cursor.execute(f"ANALYZE {GAPPED}")
        back = " UNION ALL ".join(
            f"SELECT {_SEED_COLUMNS} FROM {table} WHERE enterprise_id IN (SELECT enterprise_id FROM {GAPPED}) "
            f"AND day >= %(wlo)s AND day < %(lo)s"
            for table in earlier
        )
        cursor.execute(
            _seeded_lagged_sql(stage, back or f"SELECT {_SEED_COLUMNS} FROM {stage} WHERE 1 = 0"), params
        )
        cursor.execute(_new_visits_sql(stage))
        _write_diff(cursor, VisitFact, NEW_VISITS, _in_range("day"), params)
        for name in TEMPS:
            cursor.execute(f"DROP TABLE IF EXISTS {name}")


def _watermark() -> Watermark:
    mark = Watermark.objects.select_for_update().filter(pk=1).first()
    if mark is None:
        Watermark.objects.get_or_create(pk=1)
        mark = Watermark.objects.select_for_update().get(pk=1)
    return mark


def _quarters(lo: datetime.date, hi: datetime.date) -> Iterable[tuple[datetime.date, datetime.date]]:
    """Quarter-long chunks: long enough for PostgreSQL to plan hash joins over whole tables rather than a
    lookup per task, short enough for one transaction (a progress line each)."""
    start = lo
    while start <= hi:
        first = datetime.date(start.year, 3 * ((start.month - 1) // 3) + 1, 1)
        following = (first + datetime.timedelta(days=95)).replace(day=1)
        end = min(hi, following - datetime.timedelta(days=1))
        yield start, end
        start = end + datetime.timedelta(days=1)


def data_range() -> tuple[datetime.date, datetime.date] | None:
    """The first and last day any task can count on."""
    from django.db.models import Max, Min

    bounds = Task.objects.aggregate(lo=Min("window_start"), hi=Max("window_start"))
    if bounds["lo"] is None:
        return None
    return bounds["lo"] - WINDOW_SLACK, bounds["hi"] + WINDOW_SLACK


class RebuildRunning(Exception):
    """Another full rebuild holds the lock (`_alone`)."""


# The advisory lock of the full rebuild (PostgreSQL): its stage tables have fixed names, and two at once would
# write each other's; a second run (the schedule's and a hand-run `rebuild_statistics`) stops at once instead.
REBUILD_LOCK = 7_306_201_312


@contextlib.contextmanager
def _alone():
    if connection.vendor != "postgresql":
        yield  # SQLite: one writer at a time anyway
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [REBUILD_LOCK])
        (got,) = cursor.fetchone()
    if not got:
        raise RebuildRunning("另一次统计全量重建正在进行，本次未执行。")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [REBUILD_LOCK])


def rebuild_all(progress: Callable[[str], None] | None = None) -> int:
    """The nightly full rebuild: every quarter with tasks, one transaction each, then the facts outside that
    range dropped; the watermark moves to what existed when it started, so changes made meanwhile are
    refreshed by the next incremental run. One at a time: RebuildRunning if another is at work."""
    with _alone():
        return _rebuild_all(progress)


def _rebuild_all(progress: Callable[[str], None] | None = None) -> int:
    with transaction.atomic():
        mark = _watermark()
        heads = _heads()
    bounds = data_range()
    total = 0
    if bounds is not None:
        total = _rebuild_ranges(list(_quarters(*bounds)), progress)
        for model in (ParticipationFact, DailyFact, VisitFact):
            model.objects.exclude(day__range=bounds).delete()
        for model in (MonthlyFact, InspectorFact, ItemFact):
            model.objects.exclude(month__range=_month_bounds(*bounds)).delete()
        _vacuum(progress)
    else:
        for model in (ParticipationFact, DailyFact, VisitFact, MonthlyFact, InspectorFact, ItemFact):
            model.objects.all().delete()
    with transaction.atomic():
        mark = _watermark()
        mark.audit_sequence, mark.scan_id, mark.evaluation_id = heads
        mark.rebuilt_at = mark.refreshed_at = timezone.now()
        mark.participations_built = True
        mark.save()
    return total


def rebuild_workers() -> int:
    """How many connections the nightly rebuild uses at once (STATISTICS_REBUILD_WORKERS, default 2;
    PostgreSQL outside a transaction only, core.parallel)."""
    return max(int(getattr(settings, "STATISTICS_REBUILD_WORKERS", 2)), 1)


def _rebuild_ranges(
    chunks: list[tuple[datetime.date, datetime.date]], progress: Callable[[str], None] | None = None
) -> int:
    """Rebuild the facts of each range in two phases: first every range's daily and monthly facts and its visit
    rows kept in a stage table (`_rebuild_days`), then every range's VisitFact rows with their previous-visit
    days read from the stage tables (`_rebuild_visits`). Neither phase's ranges depend on each other, so each
    phase runs on `rebuild_workers()` connections at once, heaviest (latest) range first. The stage tables are
    dropped at the end, whatever happens. Returns the participations counted."""
    from jianchama.core.parallel import can_run_in_parallel, run_on_connections

    stages = [STAGE.format(number) for number in range(len(chunks))]
    workers = rebuild_workers() if can_run_in_parallel() else 1
    # Later quarters hold more tasks (the data grows): started first, so that no long one is left to the end.
    order = sorted(range(len(chunks)), key=lambda n: -n)
    counted = [0] * len(chunks)
    said = threading.Lock()
    done = [0]

    def say(phase: str, number: int, started: float) -> None:
        if not progress:
            return
        with said:
            done[0] += 1
            lo, hi = chunks[number]
            progress(
                f"{phase}：{lo:%Y-%m-%d}至{hi:%Y-%m-%d}（{done[0]}/{2 * len(chunks)}），"
                f"本段{time.perf_counter() - started:.1f}秒"
            )

    def days(number: int) -> None:
        started = time.perf_counter()
        counted[number] = _rebuild_days(*chunks[number], stages[number])
        say("按日汇总", number, started)

    def visits(number: int) -> None:
        started = time.perf_counter()
        lo, hi = chunks[number]
        since = lo - datetime.timedelta(days=GAP_LOOK_BACK_DAYS)
        earlier = [stages[n] for n, (a, b) in enumerate(chunks) if b >= since and a < lo]
        _rebuild_visits(lo, hi, stages[number], earlier)
        say("企业检查间隔", number, started)

    try:
        run_on_connections(lambda: None, [], order, days, workers)
        run_on_connections(lambda: None, [], order, visits, workers)
    finally:
        with connection.cursor() as cursor:
            for stage in stages:
                cursor.execute(f"DROP TABLE IF EXISTS {stage}")
    return sum(counted)


def _vacuum(progress: Callable[[str], None] | None = None) -> None:
    """VACUUM (ANALYZE) the rewritten fact tables on PostgreSQL: until a vacuum sets their pages all-visible,
    the figures' index-only scans read the heap too, and on a freshly rebuilt VisitFact at 1 M inspections the
    city's year of `repeated` took 6,954 ms against 237 ms vacuumed (docs/statistics.md). Not inside a
    transaction (a test's, a caller's), where PostgreSQL refuses it; autovacuum comes later there."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return
    started = time.perf_counter()
    with connection.cursor() as cursor:
        for model in (ParticipationFact, DailyFact, MonthlyFact, VisitFact, InspectorFact, ItemFact):
            cursor.execute(f"VACUUM (ANALYZE) {connection.ops.quote_name(model._meta.db_table)}")
    if progress:
        progress(f"整理汇总表（VACUUM ANALYZE）：{time.perf_counter() - started:.1f}秒")


def _heads() -> tuple[int, int, int]:
    from django.db.models import Max

    # The scan log's batches draw their ids when inserted and show them when they commit: the highest scan id
    # is read while none is under way, else a batch committed later below it would never be counted.
    with scan_log.no_batch_in_flight():
        scan_head = Scan.objects.aggregate(m=Max("pk"))["m"] or 0
    return (
        AuditEvent.objects.aggregate(m=Max("sequence"))["m"] or 0,
        scan_head,
        Evaluation.objects.aggregate(m=Max("pk"))["m"] or 0,
    )


def _changed_sql() -> str:
    """The tasks changed since the watermark, listed in CHANGED: of the task audit events (every task service
    writes one), the new scans of their codes and the new evaluations."""
    if connection.vendor == "postgresql":
        number = "object_id ~ '^[0-9]{1,18}$'"
    else:
        number = "object_id <> '' AND length(object_id) <= 18 AND object_id NOT GLOB '*[^0-9]*'"
    return f"""
    CREATE TEMP TABLE {CHANGED} AS
    SELECT CAST(object_id AS bigint) AS id FROM {AuditEvent._meta.db_table}
    WHERE sequence > %(audit_from)s AND sequence <= %(audit_to)s AND object_type = %(task)s AND {number}
    UNION
    SELECT c.task_id FROM {Scan._meta.db_table} s JOIN {InspectionCode._meta.db_table} c ON c.id = s.code_id
    WHERE s.id > %(scan_from)s AND s.id <= %(scan_to)s
    UNION
    SELECT task_id FROM {Evaluation._meta.db_table} WHERE id > %(evaluation_from)s AND id <= %(evaluation_to)s
    """


def refresh() -> dict[str, int]:
    """Count again the tasks changed since the last run (see the module's docstring). Cheap when nothing
    changed: three index range reads. On facts built before ParticipationFact existed, the nightly rebuild
    instead, once. Returns what it did."""
    with transaction.atomic():
        built = _watermark().participations_built
    if not built:
        return {"tasks": 0, "participations": rebuild_all(), "enterprises": 0, "rebuilt": 1}
    return _refresh()


@transaction.atomic
def _refresh() -> dict[str, int]:
    mark = _watermark()
    heads = _heads()
    params = {
        "audit_from": mark.audit_sequence,
        "audit_to": heads[0],
        "task": Task._meta.label,
        "scan_from": mark.scan_id,
        "scan_to": heads[1],
        "evaluation_from": mark.evaluation_id,
        "evaluation_to": heads[2],
    }
    done = {"tasks": 0, "participations": 0, "enterprises": 0}
    with connection.cursor() as cursor:
        _settle(cursor)
        cursor.execute(_changed_sql(), params)
        cursor.execute(f"SELECT COUNT(*) FROM {CHANGED}")
        (done["tasks"],) = cursor.fetchone()
        if done["tasks"]:
            done.update(_recount_tasks(cursor))
        for name in TEMPS:
            cursor.execute(f"DROP TABLE IF EXISTS {name}")
    mark.audit_sequence, mark.scan_id, mark.evaluation_id = heads
    mark.refreshed_at = timezone.now()
    mark.save()
    return done
