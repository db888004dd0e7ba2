from django.db import migrations, models

SCHEDULE = "statistics-snapshots"


def add_schedule(apps, schema_editor):
    import datetime

    from django.conf import settings

    apps.get_model("django_q", "Schedule").objects.get_or_create(
        name=SCHEDULE,
        defaults={
            "func": "jianchama.statistics.jobs.refresh_snapshots",
            "schedule_type": "I",  # Schedule.MINUTES
            "minutes": settings.STATISTICS_SNAPSHOT_MINUTES,
            "next_run": datetime.datetime.fromisoformat("2026-12-01T00:05:00+08:00"),
            "repeats": -1,
        },
    )


def remove_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=SCHEDULE).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("statistics", "0003_monthly_facts"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [
        migrations.CreateModel(
            name="FigureSnapshot",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("scope_key", models.CharField(max_length=32, verbose_name="统计范围")),
                ("code", models.CharField(max_length=32, verbose_name="指标")),
                ("start", models.DateField(verbose_name="期间起")),
                ("end", models.DateField(verbose_name="期间止")),
                ("table", models.JSONField(verbose_name="结果")),
                ("computed_at", models.DateTimeField(verbose_name="计算时间")),
            ],
            options={"verbose_name": "指标快照", "verbose_name_plural": "指标快照"},
        ),
        migrations.AddConstraint(
            model_name="figuresnapshot",
            constraint=models.UniqueConstraint(
                fields=("scope_key", "code", "start", "end"), name="one_snapshot_per_view"
            ),
        ),
        migrations.RunPython(add_schedule, remove_schedule),
    ]
