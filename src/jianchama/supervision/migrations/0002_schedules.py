from django.db import migrations

SCHEDULES = {
    # The monthly data supervision run (F-30): on the 1st at 02:00.
    "supervision-monthly-rules": {
        "func": "jianchama.supervision.jobs.run_monthly_rules",
        "schedule_type": "M",  # Schedule.MONTHLY
        "next_run": "2026-12-01T02:00:00+08:00",
    },
    # Deadline reminders and missed-deadline flags of the three steps (F-32): every day at 08:00.
    "supervision-deadline-reminders": {
        "func": "jianchama.supervision.jobs.send_deadline_reminders",
        "schedule_type": "D",  # Schedule.DAILY
        "next_run": "2026-11-24T08:00:00+08:00",
    },
    # Each district's sampling round of the quarter committed (F-31): the quarter's first day at 01:00.
    "supervision-quarterly-sampling": {
        "func": "jianchama.supervision.jobs.commit_quarterly_sampling",
        "schedule_type": "Q",  # Schedule.QUARTERLY
        "next_run": "2027-01-01T01:00:00+08:00",
    },
    # Complaint deadlines (F-34): every day at 08:05.
    "complaints-deadline-reminders": {
        "func": "jianchama.complaints.jobs.send_deadline_reminders",
        "schedule_type": "D",
        "next_run": "2026-11-24T08:05:00+08:00",
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
        ("supervision", "0001_initial"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(add_schedules, remove_schedules)]
