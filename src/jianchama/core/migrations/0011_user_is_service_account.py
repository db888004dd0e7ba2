from django.db import migrations, models

import jianchama.core.models


def mark_service_accounts(apps, schema_editor):
    """The users API clients already act as (integrations.ApiClient.service_user) are service accounts."""
    User = apps.get_model("core", "User")
    ApiClient = apps.get_model("integrations", "ApiClient")
    User.objects.filter(pk__in=ApiClient.objects.values("service_user")).update(is_service_account=True)


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0010_audit_partitions"),
        ("integrations", "0001_clients_keys_webhooks"),
    ]

    operations = [
        migrations.AlterModelManagers(
            name="user",
            managers=[
                ("objects", jianchama.core.models.PeopleUserManager()),
            ],
        ),
        migrations.AddField(
            model_name="user",
            name="is_service_account",
            field=models.BooleanField(default=False, editable=False, verbose_name="接口服务账号"),
        ),
        migrations.RunPython(mark_service_accounts, migrations.RunPython.noop),
    ]
