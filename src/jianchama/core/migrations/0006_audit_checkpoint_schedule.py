from django.db import migrations

NAME = "core-audit-checkpoint"


def add_schedule(apps, schema_editor):
    import datetime

    Schedule = apps.get_model("django_q", "Schedule")
    # Every hour on the hour: the audit chain's head signed and appended to the checkpoint file.
    Schedule.objects.get_or_create(
        name=NAME,
        defaults={
            "func": "jianchama.core.jobs.write_audit_checkpoint",
            "schedule_type": "H",  # Schedule.HOURLY
            "next_run": datetime.datetime.fromisoformat("2026-12-01T00:00:00+08:00"),
            "repeats": -1,
        },
    )


def remove_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0005_login_code_purpose"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(add_schedule, remove_schedule)]
