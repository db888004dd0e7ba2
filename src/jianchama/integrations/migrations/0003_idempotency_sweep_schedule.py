from django.db import migrations

NAME = "integrations-idempotency-sweep"


def add_schedule(apps, schema_editor):
    import datetime

    Schedule = apps.get_model("django_q", "Schedule")
    # Every hour at a quarter past: stored Idempotency-Key answers past API_IDEMPOTENCY_HOURS deleted.
    Schedule.objects.get_or_create(
        name=NAME,
        defaults={
            "func": "jianchama.integrations.jobs.delete_expired_idempotency",
            "schedule_type": "H",  # Schedule.HOURLY
            "next_run": datetime.datetime.fromisoformat("2026-12-01T00:15:00+08:00"),
            "repeats": -1,
        },
    )


def remove_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("integrations", "0002_hotline_client_kind"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(add_schedule, remove_schedule)]
