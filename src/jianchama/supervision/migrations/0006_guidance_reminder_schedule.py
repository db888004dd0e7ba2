from django.db import migrations

NAME = "supervision-guidance-reminders"


def add_schedule(apps, schema_editor):
    import datetime

    Schedule = apps.get_model("django_q", "Schedule")
    # Guidance opinions due one month after their problem was marked systemic (F-37): every day at 08:10.
    Schedule.objects.get_or_create(
        name=NAME,
        defaults={
            "func": "jianchama.supervision.jobs.send_guidance_reminders",
            "schedule_type": "D",
            "next_run": datetime.datetime.fromisoformat("2026-12-04T08:10:00+08:00"),
            "repeats": -1,
        },
    )


def remove_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("supervision", "0005_guidance_and_bulletins"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(add_schedule, remove_schedule)]
