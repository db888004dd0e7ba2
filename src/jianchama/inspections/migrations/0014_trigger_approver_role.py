"""A triggered inspection's approver is a role in the body, no longer free text: every stored text becomes the
body's head (the body administrator's account), which is who approved these tasks in the platform anyway."""

from django.db import migrations, models


def to_role(apps, schema_editor):
    apps.get_model("inspections", "TriggerSituation").objects.update(approver="body_admin")


class Migration(migrations.Migration):
    dependencies = [
        ('inspections', '0013_field_acts'),
    ]

    operations = [
        migrations.RunPython(to_role, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="triggersituation",
            name="approver",
            field=models.CharField(
                choices=[("body_admin", "执法单位负责人")],
                default="body_admin",
                max_length=100,
                verbose_name="审批人",
            ),
        ),
    ]
