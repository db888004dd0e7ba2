"""The periodic sweep of notification deliveries, as a django-q schedule: `qcluster` runs it every 5 minutes.

Created here, not by hand after deployment, so no installation can forget the safety net that re-queues
deliveries whose job or retry schedule was lost.
"""

from django.db import migrations

SWEEP_NAME = "notifications.retry_due"


def create_schedule(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.get_or_create(
        name=SWEEP_NAME,
        defaults={
            "func": "jianchama.notifications.jobs.retry_due",
            "schedule_type": "I",  # Schedule.MINUTES
            "minutes": 5,
            "repeats": -1,
        },
    )


def delete_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=SWEEP_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0001_initial"),
        ("django_q", "0014_schedule_cluster"),
    ]

    operations = [migrations.RunPython(create_schedule, delete_schedule)]
