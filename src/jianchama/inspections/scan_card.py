"""The scan card: what the public scan page shows of a task with a genuine code (F-24) — its bodies, its
inspectors each with the certificate to show, and its items — read in one query.

The query is hand-built SQL on purpose: through the ORM these were four queries whose compiling cost most of a
scan's time (bench/bench_scan.py); it lives here, beside the models it reads, and the portal's view only
renders what `details` returns."""

from __future__ import annotations

import datetime

from django.db import connection

from jianchama.registry import photos
from jianchama.registry.models import Certificate, EnforcementBody, Field, InspectionItem, Inspector

from .models import Task, TaskBody


def details(task: Task, today) -> dict:
    """The task's bodies, its inspectors each with the certificate to show, and its items, in one query
    that is built once: through the ORM these were four queries whose compiling cost most of a scan's time
    (bench/bench_scan.py). Orders as the models do: inspectors by body code and name, certificates newest
    first, items by field code and code; bodies in the order they joined the task."""
    plan = _DETAILS_SQL.get(connection.alias)
    if plan is None:
        plan = _DETAILS_SQL[connection.alias] = _details_sql()
    with connection.cursor() as cursor:
        cursor.execute(plan, [task.pk, task.pk, task.pk])
        rows = cursor.fetchall()
    # Plain dicts for the template (a dict lookup is the first thing the template tries); certificates stay
    # models, for `status_on`.
    bodies, items, inspectors, certificates = [], [], {}, {}
    for part, pk, name, photo, _, _, number, valid_from, valid_until, status in rows:
        if part == 0:
            bodies.append({"name": name})
        elif part == 2:
            items.append({"name": name})
        else:
            if pk not in inspectors:
                inspectors[pk] = {
                    "name": name,
                    "photo": {"url": photos.public_url(pk, photo)} if photo else "",
                }
                certificates[pk] = []
            if number is not None:
                certificates[pk].append(
                    Certificate(
                        number=number,
                        valid_from=_date(valid_from),
                        valid_until=_date(valid_until),
                        status=status,
                    )
                )
    return {
        "bodies": bodies,
        "inspectors": [
            _with_certificate(inspector, _certificate_for(certificates[pk], today), today)
            for pk, inspector in inspectors.items()
        ],
        "items": items,
    }


_DETAILS_SQL: dict[str, str] = {}


def _details_sql() -> str:
    quote = connection.ops.quote_name

    def table(model) -> str:
        return quote(model._meta.db_table)

    def column(model, name: str) -> str:
        return quote(model._meta.get_field(name).column)

    task_inspectors = Task.inspectors.through
    task_items = Task.items.through
    # Columns: part, id, name, photo, sort 1, sort 2, certificate number, valid from, valid until, status.
    return f"""
        SELECT 0, tb.{column(TaskBody, "id")}, b.{column(EnforcementBody, "name")}, NULL, NULL, NULL,
               NULL, NULL, NULL, NULL
        FROM {table(TaskBody)} tb
        INNER JOIN {table(EnforcementBody)} b ON b.{column(EnforcementBody, "id")} = tb.{column(TaskBody, "body")}
        WHERE tb.{column(TaskBody, "task")} = %s
        UNION ALL
        SELECT 1, i.{column(Inspector, "id")}, i.{column(Inspector, "name")}, i.{column(Inspector, "photo")},
               b.{column(EnforcementBody, "code")}, i.{column(Inspector, "name")},
               c.{column(Certificate, "number")}, c.{column(Certificate, "valid_from")},
               c.{column(Certificate, "valid_until")}, c.{column(Certificate, "status")}
        FROM {table(task_inspectors)} ti
        INNER JOIN {table(Inspector)} i ON i.{column(Inspector, "id")} = ti.{column(task_inspectors, "inspector")}
        INNER JOIN {table(EnforcementBody)} b ON b.{column(EnforcementBody, "id")} = i.{column(Inspector, "body")}
        LEFT OUTER JOIN {table(Certificate)} c
            ON c.{column(Certificate, "inspector")} = i.{column(Inspector, "id")}
        WHERE ti.{column(task_inspectors, "task")} = %s
        UNION ALL
        SELECT 2, it.{column(InspectionItem, "id")}, it.{column(InspectionItem, "name")}, NULL,
               f.{column(Field, "code")}, it.{column(InspectionItem, "code")}, NULL, NULL, NULL, NULL
        FROM {table(task_items)} ti
        INNER JOIN {table(InspectionItem)} it
            ON it.{column(InspectionItem, "id")} = ti.{column(task_items, "inspectionitem")}
        INNER JOIN {table(Field)} f ON f.{column(Field, "id")} = it.{column(InspectionItem, "field")}
        WHERE ti.{column(task_items, "task")} = %s
        ORDER BY 1, 5, 6, 2, 9 DESC
    """


def _date(value):
    # SQLite returns dates as text; PostgreSQL as dates.
    return datetime.date.fromisoformat(value) if isinstance(value, str) else value


def _with_certificate(inspector: dict, certificate, day) -> tuple[dict, Certificate | None]:
    """The inspector and the certificate to show; an inspector without a certificate valid today (suspended
    or revoked by a supervision decision, expired) carries the reason, which the page shows plainly."""
    status = certificate.status_on(day) if certificate else None
    if status != Certificate.Status.VALID:
        label = Certificate.Status(status).label if status else "无执法证件记录"
        inspector = {**inspector, "not_valid": label}
    return inspector, certificate


def _certificate_for(certificates, day):
    """The certificate to show: the one valid on `day`, else the newest."""
    for certificate in certificates:
        if certificate.status_on(day) == Certificate.Status.VALID:
            return certificate
    return certificates[0] if certificates else None
