from django.db import migrations

DAILY = "supervision-rules-daily"
WEEKLY = "supervision-rules-weekly"


def add_schedules(apps, schema_editor):
    import datetime

    Schedule = apps.get_model("django_q", "Schedule")
    # The data rules (F-30, docs/supervision-rules.md): incremental every night at 01:30 (the tasks changed
    # that day, the visits still without a result, the small tables in full), in full every Sunday at 02:30
    # (whatever was written outside the services); the monthly full run on the 1st stays.
    Schedule.objects.get_or_create(
        name=DAILY,
        defaults={
            "func": "jianchama.supervision.jobs.run_daily_rules",
            "schedule_type": "D",
            "next_run": datetime.datetime.fromisoformat("2026-12-05T01:30:00+08:00"),
            "repeats": -1,
        },
    )
    Schedule.objects.get_or_create(
        name=WEEKLY,
        defaults={
            "func": "jianchama.supervision.jobs.run_monthly_rules",
            "schedule_type": "W",
            "next_run": datetime.datetime.fromisoformat("2026-12-06T02:30:00+08:00"),
            "repeats": -1,
        },
    )


def remove_schedules(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name__in=[DAILY, WEEKLY]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("supervision", "0010_rule_run_incremental"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(add_schedules, remove_schedules)]
