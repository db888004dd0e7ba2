"""InspectorFact, and the inspectors of each participation. A database whose facts were built before has
neither filled: its watermark is marked as in 0009, and the next refresh rebuilds everything once (at ten
million inspections run `manage.py rebuild_statistics` by hand after migrating, as the job queue's timeout
would stop it)."""

from django.db import migrations, models


def not_built(apps, schema_editor):
    apps.get_model("statistics", "Watermark").objects.update(participations_built=False)



class Migration(migrations.Migration):

    dependencies = [
        ('statistics', '0010_snapshots_of_filtered_views'),
    ]

    operations = [
        migrations.AddField(
            model_name='participationfact',
            name='inspector_ids',
            field=models.TextField(blank=True, default='', verbose_name='本单位执法人员'),
        ),
        migrations.CreateModel(
            name='InspectorFact',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('month', models.DateField(verbose_name='月份（当月1日）')),
                ('inspector_id', models.IntegerField(verbose_name='执法人员')),
                ('body_id', models.IntegerField(verbose_name='执法单位')),
                ('body_district_id', models.IntegerField(verbose_name='执法单位所在区')),
                ('enterprise_region_id', models.IntegerField(verbose_name='企业所在街镇')),
                ('enterprise_district_id', models.IntegerField(verbose_name='企业所在区')),
                ('field_id', models.IntegerField(verbose_name='执法领域（0为全部）')),
                ('kind', models.CharField(max_length=16, verbose_name='检查类型')),
                ('inspections', models.IntegerField(default=0, verbose_name='检查次数')),
                ('with_code', models.IntegerField(default=0, verbose_name='已生成检查码')),
                ('scanned', models.IntegerField(default=0, verbose_name='企业已扫码')),
                ('completed', models.IntegerField(default=0, verbose_name='已录入结果')),
                ('findings', models.IntegerField(default=0, verbose_name='不符合项')),
                ('evaluations', models.IntegerField(default=0, verbose_name='评议数')),
                ('overall_sum', models.IntegerField(default=0, verbose_name='总体评价合计')),
                ('poor', models.IntegerField(default=0, verbose_name='不满意评议')),
            ],
            options={
                'verbose_name': '执法人员统计',
                'verbose_name_plural': '执法人员统计',
                'indexes': [models.Index(fields=['body_id', 'field_id', 'month'], name='inspectorfact_body_field_month'), models.Index(fields=['month'], name='inspectorfact_month'), models.Index(fields=['inspector_id', 'month', 'body_id', 'field_id', 'kind', 'enterprise_region_id'], name='inspectorfact_cell')],
            },
        ),
        migrations.RunPython(not_built, migrations.RunPython.noop, elidable=False),
    ]
