"""TaskBody.task_created_at: the task's creation time beside each of its bodies, and the index that reads a
body's tasks newest first (issue 16: a body's task list at ten million tasks).

Not atomic: the copy runs in batches of tasks, each committed, so that at ten million tasks no lock is held on
the table for the quarter of an hour one UPDATE of its 11 million rows took on this machine (measured; it
blocked every reader of the table's catalogue meanwhile). Rows written by the application while it runs get
the value from `TaskBody.save`/the services; the last batch's end is read when it starts, and a second pass
fills what is still empty before the column becomes NOT NULL."""

from django.db import migrations, models, transaction

BATCH = 200_000


def fill(apps, schema_editor):
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COALESCE(MIN(task_id), 0), COALESCE(MAX(task_id), 0) FROM inspections_taskbody"
        )
        low, high = cursor.fetchone()
    start = low
    while start <= high:
        with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
            # One statement on both databases (SQLite has UPDATE … FROM since 3.33).
            cursor.execute(
                "UPDATE inspections_taskbody SET task_created_at = inspections_task.created_at "
                "FROM inspections_task WHERE inspections_task.id = inspections_taskbody.task_id "
                "AND inspections_taskbody.task_id >= %s AND inspections_taskbody.task_id < %s "
                "AND inspections_taskbody.task_created_at IS NULL",
                [start, start + BATCH],
            )
        start += BATCH
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE inspections_taskbody SET task_created_at = inspections_task.created_at "
            "FROM inspections_task WHERE inspections_task.id = inspections_taskbody.task_id "
            "AND inspections_taskbody.task_created_at IS NULL"
        )


class Migration(migrations.Migration):
    atomic = False
    dependencies = [("inspections", "0018_flush_scan_log_schedule")]

    operations = [
        migrations.AddField(
            model_name="taskbody",
            name="task_created_at",
            field=models.DateTimeField(editable=False, null=True, verbose_name="任务创建时间"),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop, elidable=False),
        migrations.AlterField(
            model_name="taskbody",
            name="task_created_at",
            field=models.DateTimeField(editable=False, verbose_name="任务创建时间"),
        ),
        migrations.AddIndex(
            model_name="taskbody",
            index=models.Index(fields=["body", "-task_created_at", "-task"], name="taskbody_body_newest"),
        ),
    ]
