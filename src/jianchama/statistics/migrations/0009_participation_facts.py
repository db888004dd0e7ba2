"""ParticipationFact, the rows DailyFact sums: the refresh counts the changed tasks alone against them. A
database whose facts were built before has none yet: its watermark is marked so (participations_built false),
and the next refresh or nightly rebuild builds them (a new watermark row is built with them: true)."""

from django.db import migrations, models


def not_built(apps, schema_editor):
    # A watermark here is of facts counted without participations.
    apps.get_model("statistics", "Watermark").objects.update(participations_built=False)


class Migration(migrations.Migration):

    dependencies = [
        ('statistics', '0008_fill_visit_previous_days'),
    ]

    operations = [
        migrations.AddField(
            model_name='watermark',
            name='participations_built',
            field=models.BooleanField(default=True, verbose_name='参与单位统计已建'),
        ),
        migrations.RunPython(not_built, migrations.RunPython.noop, elidable=False),
        migrations.CreateModel(
            name='ParticipationFact',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('body_id', models.IntegerField(verbose_name='执法单位')),
                ('body_district_id', models.IntegerField(verbose_name='执法单位所在区')),
                ('enterprise_region_id', models.IntegerField(verbose_name='企业所在街镇')),
                ('enterprise_district_id', models.IntegerField(verbose_name='企业所在区')),
                ('field_id', models.IntegerField(verbose_name='执法领域（0为全部）')),
                ('kind', models.CharField(max_length=16, verbose_name='检查类型')),
                ('first_all', models.BooleanField(verbose_name='任务首个单位')),
                ('first_district', models.BooleanField(verbose_name='任务在本区的首个单位')),
                ('inspections', models.IntegerField(default=0, verbose_name='检查次数')),
                ('remote', models.IntegerField(default=0, verbose_name='非现场检查')),
                ('joint', models.IntegerField(default=0, verbose_name='联合检查')),
                ('with_code', models.IntegerField(default=0, verbose_name='已生成检查码')),
                ('scanned', models.IntegerField(default=0, verbose_name='企业已扫码')),
                ('completed', models.IntegerField(default=0, verbose_name='已录入结果')),
                ('no_problem', models.IntegerField(default=0, verbose_name='未发现问题')),
                ('rectify', models.IntegerField(default=0, verbose_name='责令限期整改')),
                ('case_opened', models.IntegerField(default=0, verbose_name='立案查处')),
                ('referred', models.IntegerField(default=0, verbose_name='移送处理')),
                ('findings', models.IntegerField(default=0, verbose_name='不符合项')),
                ('evaluations', models.IntegerField(default=0, verbose_name='评议数')),
                ('overall_sum', models.IntegerField(default=0, verbose_name='总体评价合计')),
                ('certificate_shown_sum', models.IntegerField(default=0, verbose_name='出示执法证件合计')),
                ('rights_told_sum', models.IntegerField(default=0, verbose_name='告知权利合计')),
                ('conduct_sum', models.IntegerField(default=0, verbose_name='文明执法合计')),
                ('efficiency_sum', models.IntegerField(default=0, verbose_name='检查效率合计')),
                ('integrity_sum', models.IntegerField(default=0, verbose_name='廉洁自律合计')),
                ('poor', models.IntegerField(default=0, verbose_name='不满意评议')),
                ('cancelled', models.IntegerField(default=0, verbose_name='取消')),
                ('day', models.DateField(verbose_name='日期')),
                ('task_id', models.BigIntegerField(verbose_name='检查任务')),
                ('enterprise_id', models.IntegerField(verbose_name='企业')),
            ],
            options={
                'verbose_name': '参与单位统计',
                'verbose_name_plural': '参与单位统计',
                'indexes': [models.Index(fields=['task_id'], name='participationfact_task'), models.Index(fields=['day', 'body_id', 'field_id', 'enterprise_region_id', 'kind'], name='participationfact_cell'), models.Index(fields=['enterprise_id', 'day'], include=('enterprise_district_id', 'body_id', 'body_district_id', 'field_id', 'first_all', 'first_district', 'inspections'), name='participationfact_enterprise')],
            },
        ),
    ]
