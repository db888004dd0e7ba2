"""The task worker writes the scan log's waiting scans every minute (inspections/scan_log.py): the safety net
for when the flusher service, which writes them every second, is not running."""

from django.db import migrations

NAME = "inspections-flush-scan-log"


def add_schedule(apps, schema_editor):
    import datetime

    apps.get_model("django_q", "Schedule").objects.get_or_create(
        name=NAME,
        defaults={
            "func": "jianchama.inspections.jobs.flush_scan_log",
            "schedule_type": "I",  # Schedule.MINUTES
            "minutes": 1,
            "next_run": datetime.datetime.fromisoformat("2026-12-01T00:00:00+08:00"),
            "repeats": -1,
        },
    )


def remove_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("inspections", "0017_scan_log_id"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(add_schedule, remove_schedule)]
