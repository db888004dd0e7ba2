"""The previous-visit days of the visit facts already built (statistics/0006 added the columns empty): without
this, `repeated` counted no repeated inspection until the nightly rebuild. One pass over VisitFact, as the
nightly rebuild ends with (at 1 M inspections about 280 s on a loaded 2-core machine; nothing on a new
database)."""

from django.db import migrations


def fill(apps, schema_editor):
    # The build's own statement, so that the figure reads exactly what a rebuild would have written.
    from jianchama.statistics.build import update_gaps

    VisitFact = apps.get_model("statistics", "VisitFact")
    days = VisitFact.objects.order_by("day").values_list("day", flat=True)
    first, last = days.first(), days.last()
    if first is not None:
        update_gaps(first, last)


class Migration(migrations.Migration):
    dependencies = [("statistics", "0007_visit_gap_indexes")]

    operations = [migrations.RunPython(fill, migrations.RunPython.noop, elidable=False)]
