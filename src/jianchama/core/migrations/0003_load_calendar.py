"""Seed the working-day calendar with every year the calendar library knows (F-40)."""

from django.db import migrations


def load(apps, schema_editor):
    from jianchama.core.calendar_data import LIBRARY_SOURCE, library_schedule

    CalendarDay = apps.get_model("core", "CalendarDay")
    CalendarYear = apps.get_model("core", "CalendarYear")
    for year, rows in library_schedule().items():
        if CalendarYear.objects.filter(year=year).exists():
            continue
        CalendarDay.objects.bulk_create(CalendarDay(date=d, kind=k, name=n) for d, k, n in rows)
        CalendarYear.objects.create(year=year, source=LIBRARY_SOURCE)


class Migration(migrations.Migration):
    dependencies = [("core", "0002_initial")]
    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
