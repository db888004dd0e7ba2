"""inspections/0019 copies each task's creation time beside its bodies, in batches, before the column becomes
NOT NULL: every existing participation gets its own task's time, whatever batch its task falls in."""

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
        executor.migrate([AFTER])

    parts = TaskBody.objects.select_related("task").order_by("pk")
    assert len(parts) == 6
    for part in parts:
        part.task.refresh_from_db()
        assert part.task_created_at == part.task.created_at
    assert {p.task_created_at.month for p in parts if p.task_id == joint.pk} == {3}
