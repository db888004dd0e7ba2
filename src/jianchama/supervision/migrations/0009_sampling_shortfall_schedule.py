from django.db import migrations

NAME = "supervision-sampling-shortfalls"


def add_schedule(apps, schema_editor):
    import datetime

    apps.get_model("django_q", "Schedule").objects.get_or_create(
        name=NAME,
        defaults={
            # Sampling that fell short (seed 003 二（一）1): every day at 07:50, before the supervisors' day.
            "func": "jianchama.supervision.jobs.record_sampling_shortfalls",
            "schedule_type": "D",
            "next_run": datetime.datetime.fromisoformat("2026-12-04T07:50:00+08:00"),
            "repeats": -1,
        },
    )


def remove_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ('supervision', '0008_sampling_shortfalls'),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(add_schedule, remove_schedule)]
