from django.db import migrations

SCHEDULES = {
    # The incremental refresh of the fact tables (F-42): every minute, cheap when nothing changed.
    "statistics-refresh": {
        "func": "jianchama.statistics.jobs.refresh_statistics",
        "schedule_type": "I",  # Schedule.MINUTES
        "minutes": 1,
        "next_run": "2026-12-01T00:00:00+08:00",
    },
    # The nightly full rebuild: every day at 03:00.
    "statistics-nightly-rebuild": {
        "func": "jianchama.statistics.jobs.rebuild_statistics",
        "schedule_type": "D",  # Schedule.DAILY
        "next_run": "2026-12-01T03:00:00+08:00",
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
                "minutes": spec.get("minutes"),
                "next_run": datetime.datetime.fromisoformat(spec["next_run"]),
                "repeats": -1,
            },
        )


def remove_schedules(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name__in=list(SCHEDULES)).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("statistics", "0001_facts"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(add_schedules, remove_schedules)]
