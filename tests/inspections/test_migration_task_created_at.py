"""inspections/0019 copies each task's creation time beside its bodies, in batches, before the column becomes
NOT NULL: every existing participation gets its own task's time, whatever batch its task falls in; 0020 copies
its status the same way. Each test ends with the schema migrated to the latest state again."""

from __future__ import annotations

import importlib

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from jianchama.inspections.models import TaskBody

BEFORE = ("inspections", "0018_flush_scan_log_schedule")
AFTER = ("inspections", "0019_taskbody_task_created_at")


@pytest.mark.django_db(transaction=True)
def test_the_migration_fills_every_participation_with_its_tasks_creation(s, monkeypatch):
    from tests.inspections.test_task_list_scale import add_tasks

    tasks = add_tasks(s, 5)
    joint = tasks[2]
    TaskBody.objects.create(task=joint, body=s.partner)
    with connection.cursor() as cursor:
        for n, task in enumerate(tasks):  # creation times far apart, and not in the order of the ids
            cursor.execute(
                "UPDATE inspections_task SET created_at = %s WHERE id = %s",
                [f"2025-0{5 - n}-0{n + 1} 08:00:00+00:00", task.pk],
            )
    migration = importlib.import_module("jianchama.inspections.migrations.0019_taskbody_task_created_at")
    monkeypatch.setattr(migration, "BATCH", 2)  # several batches over the five tasks' ids

    executor = MigrationExecutor(connection)
    executor.migrate([BEFORE])
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT COUNT(*) FROM inspections_taskbody")
            assert cursor.fetchone()[0] == 6
    finally:
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())

    parts = TaskBody.objects.select_related("task").order_by("pk")
    assert len(parts) == 6
    for part in parts:
        part.task.refresh_from_db()
        assert part.task_created_at == part.task.created_at
    assert {p.task_created_at.month for p in parts if p.task_id == joint.pk} == {3}


@pytest.mark.django_db(transaction=True)
def test_the_migration_copies_every_tasks_status_beside_its_bodies(s, monkeypatch):
    from tests.inspections.test_task_list_scale import add_tasks

    tasks = add_tasks(s, 5)
    TaskBody.objects.create(task=tasks[2], body=s.partner)
    statuses = ["closed", "submitted", "in_progress", "cancelled", "draft"]
    migration = importlib.import_module("jianchama.inspections.migrations.0020_taskbody_task_status")
    monkeypatch.setattr(migration, "BATCH", 2)

    executor = MigrationExecutor(connection)
    executor.migrate([AFTER])  # the column dropped
    try:
        with connection.cursor() as cursor:
            for task, status in zip(tasks, statuses, strict=True):
                cursor.execute("UPDATE inspections_task SET status = %s WHERE id = %s", [status, task.pk])
    finally:
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())

    copies = sorted(TaskBody.objects.values_list("task_id", "body_id", "task_status"))
    expected = sorted(
        [(t.pk, s.body.pk, status) for t, status in zip(tasks, statuses, strict=True)]
        + [(tasks[2].pk, s.partner.pk, "in_progress")]
    )
    assert copies == expected
