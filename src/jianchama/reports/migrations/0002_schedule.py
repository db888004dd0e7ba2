from django.db import migrations

SCHEDULES = {
    # The periodic reports (F-37): daily at 06:00; the job acts only on the month's first working day.
    "reports-generate-due": {
        "func": "jianchama.reports.jobs.generate_due_reports",
        "schedule_type": "D",  # Schedule.DAILY
        "next_run": "2026-12-01T06:00:00+08:00",
    },
}


def add_schedules(apps, schema_editor):
    import datetime

    Schedule = apps.get_model("django_q", "Schedule")
    for name, spec in SCHEDULES.items():
        Schedule.objects.get_or_create(
            name=name,
            defaults={
                "func": spec["func"],
                "schedule_type": spec["schedule_type"],
                "next_run": datetime.datetime.fromisoformat(spec["next_run"]),
                "repeats": -1,
            },
        )


def remove_schedules(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name__in=list(SCHEDULES)).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("reports", "0001_initial"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(add_schedules, remove_schedules)]
