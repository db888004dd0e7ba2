"""The frequency control figures at scale (issue 13): `frequency_control` and `visits_avoided` computed with
the city's, a district's and one body's scope for a year, a quarter and a month (median and slowest of N runs,
and the queries each costs), and with `--explain` the plan of each of their queries (EXPLAIN ANALYZE,
BUFFERS), to see the partial indexes read. Reads only; never asserts on timing.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/jc1m .venv/bin/python bench/bench_frequency_figures.py
    DATABASE_URL=… .venv/bin/python bench/bench_frequency_figures.py --explain --runs 5

A database filled by `generate_synthetic` has almost none of the rows these figures count (2 in 10,000 tasks
with a frequency finding; no join, refusal or coordination proposal). `--plant` first writes them at the rates
of a busy year, on a database of your own (a copy; it refuses any other unless `--database-is-mine`):
3 in 100 counted tasks with findings (1 justified, 1 exempted, 1 warned, in turn), a quarter of the cancelled
tasks joined to another task of the same enterprise (about 1 in 100 tasks), 1.5 refusal records per 100 tasks,
and accepted coordination proposals (one per plan cited by 1 in 250 tasks, with another body's plan) carried
out by those tasks, made joint with the other body and linked to the proposal (`Task.coordination_proposal`).
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

CODES = ("frequency_control", "visits_avoided")


def plant() -> None:
    """The events these figures count, at a busy year's rates (see the module's docstring)."""
    from django.db import connection, transaction

    counted = "('submitted', 'approved', 'notified', 'in_progress', 'result_recorded', 'closed')"
    codes = ["complaint", "referred_case", "recheck", "licensing", "enterprise_request", "special_campaign"]
    exempted = " ".join(
        f"""when {n} then '[{{"rule": 1, "name": "同一单位每年至多2次", "action": "refuse", "exempted_by": "{c}",
        "message": "超出检查频次"}}]'"""
        for n, c in enumerate(codes)
    )
    statements = [
        f"""UPDATE inspections_task SET
            frequency_justification = CASE WHEN id % 100 = 0 THEN '企业申请复查' ELSE '' END,
            frequency_findings = (CASE
                WHEN id % 100 = 0 THEN '[{{"rule": 2, "name": "同一单位每年第2次起须说明理由", "action": "justify",
                    "exempted_by": "", "message": "超出检查频次"}}]'
                WHEN id % 100 = 1 THEN CASE (id / 100) % 6 {exempted} END
                ELSE '[{{"rule": 3, "name": "各单位每日超过1次提示", "action": "warn", "exempted_by": "",
                    "message": "超出检查频次"}}]' END)::jsonb
            WHERE status IN {counted} AND id % 100 IN (0, 1, 2)""",
        """UPDATE inspections_task s SET joined_into_id = (
                SELECT t.id FROM inspections_task t WHERE t.enterprise_id = s.enterprise_id AND t.id <> s.id
                ORDER BY abs(t.window_start - s.window_start), t.id LIMIT 1)
            WHERE s.status = 'cancelled' AND s.id % 4 = 0""",
        """INSERT INTO inspections_frequencyrefusalrecord
                (task_id, enterprise_id, body_id, kind, stage, reason, day, breaches, message, refused_by_id,
                 refused_at)
            SELECT id, enterprise_id, lead_body_id, kind,
                   CASE WHEN id % 200 = 51 THEN 'approval' ELSE 'submission' END,
                   CASE WHEN id % 200 = 50 THEN 'justification_missing' ELSE 'refused' END,
                   window_start, '[]', '该任务超出检查频次规则，不予提交', created_by_id, created_at
            FROM inspections_task WHERE id % 200 IN (50, 51, 52)""",
        """INSERT INTO inspections_frequencyrefusalrecord_fields (frequencyrefusalrecord_id, field_id)
            SELECT DISTINCT r.id, i.field_id FROM inspections_frequencyrefusalrecord r
            JOIN inspections_task_items ti ON ti.task_id = r.task_id
            JOIN registry_inspectionitem i ON i.id = ti.inspectionitem_id""",
        # One accepted proposal per plan cited by the sampled tasks, with another body's plan of its year.
        """CREATE TEMP TABLE bench_sample AS
            SELECT t.id, t.enterprise_id, t.plan_id, p.body_id, p.period_start, p.period_end,
                   (SELECT o.id FROM plans_plan o WHERE o.body_id <> p.body_id AND o.period_start = p.period_start
                    ORDER BY o.id LIMIT 1) AS partner_plan
            FROM inspections_task t JOIN plans_plan p ON p.id = t.plan_id
            WHERE t.id % 250 = 7 AND t.status IN """
        + counted,
        """CREATE TEMP TABLE bench_proposal AS
            SELECT plan_id, min(partner_plan) AS partner_plan, min(period_start) AS period_start,
                   max(period_end) AS period_end, nextval(pg_get_serial_sequence('plans_coordinationproposal', 'id'))
                   AS id
            FROM bench_sample WHERE partner_plan IS NOT NULL GROUP BY plan_id""",
        """INSERT INTO plans_coordinationproposal (id, region_id, period_start, period_end, comment, status,
                proposed_by_id, proposed_at, decided_at)
            SELECT b.id, (SELECT region_id FROM registry_enforcementbody e JOIN plans_plan p ON p.body_id = e.id
                          WHERE p.id = b.plan_id), b.period_start, b.period_end, '', 'accepted',
                   (SELECT created_by_id FROM plans_plan WHERE id = b.plan_id), now(), now()
            FROM bench_proposal b""",
        """INSERT INTO plans_coordinationproposal_plans (coordinationproposal_id, plan_id)
            SELECT id, plan_id FROM bench_proposal UNION SELECT id, partner_plan FROM bench_proposal""",
        """INSERT INTO plans_coordinationproposal_enterprises (coordinationproposal_id, enterprise_id)
            SELECT DISTINCT b.id, s.enterprise_id FROM bench_proposal b JOIN bench_sample s ON s.plan_id = b.plan_id""",
        """INSERT INTO inspections_taskbody (task_id, body_id, task_created_at, task_status)
            SELECT s.id, p.body_id, t.created_at, t.status FROM bench_sample s
            JOIN bench_proposal b ON b.plan_id = s.plan_id JOIN plans_plan p ON p.id = b.partner_plan
            JOIN inspections_task t ON t.id = s.id
            WHERE NOT EXISTS (SELECT 1 FROM inspections_taskbody x WHERE x.task_id = s.id AND x.body_id = p.body_id)""",
        # The link create_task writes for a joint inspection carrying out a proposal.
        """UPDATE inspections_task t SET coordination_proposal_id = b.id
            FROM bench_sample s JOIN bench_proposal b ON b.plan_id = s.plan_id WHERE t.id = s.id""",
    ]
    with transaction.atomic(), connection.cursor() as cursor:
        for sql in statements:
            started = time.perf_counter()
            cursor.execute(sql)
            print(
                f"  {sql.split()[0]} {sql.split()[2]:<45} {cursor.rowcount:>8} rows {time.perf_counter() - started:6.1f} s"
            )
    with connection.cursor() as cursor:
        for table in ("inspections_task", "inspections_frequencyrefusalrecord", "inspections_taskbody"):
            cursor.execute(f"ANALYZE {table}")


def explain(sql: str, params) -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", params)
        return "\n".join(f"      {row[0]}" for row in cursor.fetchall())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--explain", action="store_true", help="print each query's plan (EXPLAIN ANALYZE)")
    parser.add_argument("--plant", action="store_true", help="write the counted events first (a copy only)")
    parser.add_argument("--database-is-mine", action="store_true")
    parser.add_argument("--today", type=datetime.date.fromisoformat, default=None)
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jianchama.settings")
    import django

    django.setup()
    from django.db import connection
    from django.db.models import Count
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from jianchama.inspections.models import TaskBody
    from jianchama.registry.models import EnforcementBody, Region
    from jianchama.statistics.figures import FIGURES
    from jianchama.statistics.scope import Filters, Period, body_scope, region_scope

    name = connection.settings_dict["NAME"]
    if args.plant:
        if not (args.database_is_mine or name.endswith(("_freq", "_copy", "_bench"))):
            sys.exit(
                f"--plant writes: not on {name} (a copy named *_freq, *_copy or *_bench, or --database-is-mine)"
            )
        print(f"planting on {name}")
        plant()

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*), count(*) FILTER (WHERE frequency_findings <> '[]'::jsonb), "
            "count(*) FILTER (WHERE joined_into_id IS NOT NULL) FROM inspections_task"
        )
        tasks, noted, joined = cursor.fetchone()
        cursor.execute("SELECT count(*) FROM inspections_frequencyrefusalrecord")
        (refusals,) = cursor.fetchone()
        cursor.execute("SELECT count(*) FROM plans_coordinationproposal WHERE status = 'accepted'")
        (proposals,) = cursor.fetchone()
    print(
        f"{name}: {tasks:,} tasks, {noted:,} with frequency findings, {joined:,} joined, {refusals:,} refusal "
        f"records, {proposals:,} accepted proposals"
    )
    today = args.today or timezone.localdate()
    city = Region.objects.filter(level=Region.Level.CITY).order_by("path").first()
    district = Region.objects.filter(level=Region.Level.DISTRICT).order_by("path").first()
    busiest = TaskBody.objects.values("body_id").order_by().annotate(n=Count("id")).order_by("-n").first()
    scopes = [
        ("city", region_scope(city)),
        (f"district {district.name}", region_scope(district)),
        ("body", body_scope(EnforcementBody.objects.get(pk=busiest["body_id"]))),
    ]
    periods = [
        Period.of("year", today),
        Period.of("year", today, year=today.year - 1),
        Period.of("quarter", today),
        Period.of("month", today),
    ]
    print(f"{'figure':<18} {'scope':<16} {'period':<14} {'median ms':>9} {'max ms':>8} {'queries':>7}  rows")
    for code in CODES:
        for label, scope in scopes:
            for period in periods:
                times = []
                for _ in range(args.runs):
                    with CaptureQueriesContext(connection) as queries:
                        started = time.perf_counter()
                        table = FIGURES[code].compute(scope, period, Filters())
                        times.append((time.perf_counter() - started) * 1000)
                numbers = [row[1] for row in table.rows]
                print(
                    f"{code:<18} {label:<16} {period.label:<14} {statistics.median(times):9.1f} "
                    f"{max(times):8.1f} {len(queries):7}  {numbers}"
                )
                if args.explain and period.kind == "year" and period.start.year == today.year:
                    for query in queries:
                        sql = query["sql"]
                        if "inspections_task" in sql or "frequencyrefusal" in sql:
                            print(f"    {query['time']} s: {sql[:160]}…")
                            print(explain(sql, None))


if __name__ == "__main__":
    main()
