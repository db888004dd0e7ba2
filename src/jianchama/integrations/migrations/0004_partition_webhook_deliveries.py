from django.db import migrations


def partition_deliveries(apps, schema_editor):
    # PostgreSQL: the webhook delivery log becomes a table partitioned by month of created_at
    # (core/partitions.py); no foreign key points at it and it has no unique constraint but its key.
    from jianchama.core.partitions import partition_table

    partition_table(schema_editor, "integrations_webhookdelivery", "created_at")


class Migration(migrations.Migration):
    dependencies = [
        ("integrations", "0003_idempotency_sweep_schedule"),
        ("core", "0010_audit_partitions"),
    ]

    # Not reversed: a partitioned table is left as it is when going back.
    operations = [migrations.RunPython(partition_deliveries, migrations.RunPython.noop)]
