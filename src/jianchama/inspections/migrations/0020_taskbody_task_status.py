"""TaskBody.task_status: the task's status beside each of its bodies, and the index that reads a body's tasks of
one status newest first (issue 16: a body's task list filtered by a status at ten million tasks).

Not atomic, as 0019: the copy runs in batches of tasks, each committed, so that no lock is held on the table
for the quarter of an hour one UPDATE of its 11 million rows takes at ten million tasks. A status saved by the
application while it runs is copied by `Task.save` itself; the second pass catches rows a batch missed."""

from django.db import migrations, models, transaction

BATCH = 200_000

COPY = (
    "UPDATE inspections_taskbody SET task_status = inspections_task.status "
    "FROM inspections_task WHERE inspections_task.id = inspections_taskbody.task_id "
    "AND inspections_taskbody.task_status <> inspections_task.status"
)


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
                f"{COPY} AND inspections_taskbody.task_id >= %s AND inspections_taskbody.task_id < %s",
                [start, start + BATCH],
            )
        start += BATCH
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        cursor.execute(COPY)


class Migration(migrations.Migration):
    atomic = False
    dependencies = [("inspections", "0019_taskbody_task_created_at")]

    operations = [
        migrations.AddField(
            model_name="taskbody",
            name="task_status",
            field=models.CharField(
                choices=[
                    ("draft", "草稿"),
                    ("submitted", "待审批"),
                    ("approved", "已批准"),
                    ("notified", "已告知企业"),
                    ("in_progress", "检查中"),
                    ("result_recorded", "已录入结果"),
                    ("closed", "已办结"),
                    ("cancelled", "已取消"),
                ],
                default="",
                editable=False,
                max_length=16,
                verbose_name="任务状态",
            ),
            preserve_default=False,
        ),
        migrations.RunPython(fill, migrations.RunPython.noop, elidable=False),
        migrations.AddIndex(
            model_name="taskbody",
            index=models.Index(
                fields=["body", "task_status", "-task_created_at", "-task"], name="taskbody_body_status_newest"
            ),
        ),
    ]
